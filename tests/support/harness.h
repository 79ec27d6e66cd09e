/* harness.h -- the smallest test harness that does the job.
 *
 * Each test program runs named cases and prints one line per case
 * ("ok   name" / "FAIL name" with the failed checks above it), then the
 * closing line "N passed, N failed" that tests/run_all.sh adds up. A case
 * passes only if it ran every check and none failed. */
#ifndef UP_TEST_HARNESS_H
#define UP_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

extern int th_passed, th_failed, th_case_failed;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stdout, "    %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, \
                    #cond);                                                      \
            th_case_failed = 1;                                                  \
        }                                                                        \
    } while (0)

#define CHECKF(cond, ...)                                                        \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stdout, "    %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, \
                    #cond);                                                      \
            fprintf(stdout, __VA_ARGS__);                                        \
            fputc('\n', stdout);                                                 \
            th_case_failed = 1;                                                  \
        }                                                                        \
    } while (0)

/* xorshift64: a small deterministic generator, so failures reproduce;
 * each test keeps its own state and seed. */
static inline unsigned long long th_xorshift(unsigned long long *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Run `fn` (void fn(void)) as a case named after it. */
#define RUN(fn) th_run(#fn, fn)

void th_run(const char *name, void (*fn)(void));
/* Record a case whose result was computed by the caller. */
void th_record(const char *name, int ok);
/* Print the closing line; returns the process exit status. */
int th_summary(void);

#endif
