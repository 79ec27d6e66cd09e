/* harness.c -- case bookkeeping for harness.h. */
#include "harness.h"

int th_passed, th_failed, th_case_failed;

void th_record(const char *name, int ok)
{
    if (ok) {
        th_passed++;
        printf("ok   %s\n", name);
    } else {
        th_failed++;
        printf("FAIL %s\n", name);
    }
    fflush(stdout);
}

void th_run(const char *name, void (*fn)(void))
{
    th_case_failed = 0;
    fn();
    th_record(name, !th_case_failed);
}

int th_summary(void)
{
    printf("%d passed, %d failed\n", th_passed, th_failed);
    return th_failed ? 1 : 0;
}
