/* golden.h -- reading the golden fixtures (tests/golden/cases, one JSON file per family) and
 * comparing tensors with a case's tolerance. Shared by the kernel-level
 * golden test and the HTTP integration tests. */
#ifndef UP_TEST_GOLDEN_H
#define UP_TEST_GOLDEN_H

#include <cjson/cJSON.h>

#include "kernels/tensor.h"

typedef struct golden_set {
    cJSON **files;   /* parsed fixture files */
    int n_files;
    cJSON **cases;   /* every case of every file */
    char **names;    /* "family/name" */
    int n_cases;
} golden_set;

/* Load every *.json under dir (default tests/golden/cases, or env
 * UNPOOLD_GOLDEN_DIR). Returns -1 if nothing could be read. */
int golden_load(golden_set *g, const char *dir);
void golden_free(golden_set *g);

/* A golden case as an HTTP request: POST `path` with `body` (the case's
 * request, answers asked for as data_b64), the expected outputs and the
 * case's tolerances. */
typedef struct golden_http_case {
    char path[96], name[128];
    char *body;
    cJSON *expected;
    double atol, rtol;
} golden_http_case;

/* Every golden case as an HTTP request; returns how many (0 if none). */
int golden_http_cases(golden_http_case **out);
void golden_http_cases_free(golden_http_case *c, int n);

/* Compare got with expected: same dtype and shape; floats within
 * atol + rtol * |expected| (NaN equals NaN), everything else exact. On a
 * mismatch writes a description into why. Returns 1 if equal. */
int golden_compare(const up_tensor *got, const up_tensor *expected, double atol, double rtol,
                   char *why, size_t cap);

#endif
