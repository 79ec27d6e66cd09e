/* test_golden.c -- every golden case (tests/golden/cases, made by
 * PyTorch through tests/golden/gen_*.py) through the real request decoder
 * and the kernels, twice: as one chunk, and split into uneven chunks the
 * way the worker pool splits a big job. The first run must match PyTorch
 * within the case's tolerance; the second must give the same bytes as the
 * first, whatever the split. Then once more at each instruction-set level
 * (kernels/dispatch.h; the CPU's caps the higher ones): the same bytes
 * again, so the baseline and AVX2 builds are checked on a machine that
 * would pick AVX-512. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/codecs.h"
#include "kernels/dispatch.h"
#include "tests/support/golden.h"
#include "tests/support/harness.h"

static const up_limits limits = {.max_elements = 1 << 26, .max_json_depth = 64};

static int decode_case(const cJSON *c, up_call *call, char *why, size_t cap)
{
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(c, "op");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(c, "request");
    const up_op_def *def = cJSON_IsString(op) ? up_op_find(op->valuestring) : NULL;
    up_http_req hr = {0};
    up_error err;
    int rc;
    up_error_clear(&err);
    if (!def || !req) {
        snprintf(why, cap, "bad case: unknown op or no request");
        return -1;
    }
    hr.content_type = "application/json";
    hr.body = cJSON_PrintUnformatted(req);
    hr.body_len = strlen(hr.body);
    rc = up_call_decode_v1(call, def, &hr, &limits, &err);
    free(hr.body);
    if (rc < 0)
        snprintf(why, cap, "decode: %s: %s", err.n ? err.items[0].field : "",
                 err.n ? err.items[0].message : "?");
    return rc;
}

/* Run units [0, work_units) in chunks of 1, 2, 3, ... units (chunked != 0),
 * or as one chunk. */
static int run_and_finish(up_call *call, int chunked, char *why, size_t cap)
{
    up_plan *p = &call->plan;
    up_fault fault, f;
    up_error err;
    up_fault_init(&fault);
    up_error_clear(&err);
    if (!chunked) {
        up_plan_run(p, 0, p->work_units, &fault);
    } else {
        /* run the chunks out of order too: last first */
        int64_t starts[4096], ns = 0, step = 1;
        for (int64_t b = 0; b < p->work_units && ns < 4096; b += step, step = step % 3 + 1)
            starts[ns++] = b;
        for (int64_t k = ns - 1; k >= 0; k--) {
            int64_t e = k + 1 < ns ? starts[k + 1] : p->work_units;
            up_fault_init(&f);
            up_plan_run(p, starts[k], e, &f);
            up_fault_merge(&fault, &f);
        }
    }
    if (up_plan_finish(p, &fault, &err) < 0) {
        snprintf(why, cap, "finish: %s: %s", err.n ? err.items[0].field : "",
                 err.n ? err.items[0].message : "?");
        return -1;
    }
    return 0;
}

/* Decode and run case c again at every level, from the wire (the
 * float16 converters) to finish; -1 with why set if an output's bytes
 * differ from ref's. The process's level is restored after. */
static int same_at_every_level(const cJSON *c, const up_call *ref, char *why, size_t cap)
{
    const up_isa_level saved = up_isa();
    int rc = 0;
    for (int l = UP_ISA_BASELINE; l <= UP_ISA_AVX512 && rc == 0; l++) {
        up_call at;
        up_call_init(&at);
        up_isa_set((up_isa_level)l);
        if (decode_case(c, &at, why, cap) < 0 || run_and_finish(&at, 1, why, cap) < 0) rc = -1;
        for (int i = 0; rc == 0 && i < ref->plan.op->n_outputs; i++) {
            const up_tensor *a = &ref->plan.result[i], *b = &at.plan.result[i];
            if (up_tensor_nbytes(a) != up_tensor_nbytes(b) ||
                memcmp(a->data, b->data, up_tensor_nbytes(a)) != 0) {
                snprintf(why, cap, "output %s differs at instruction-set level %s",
                         ref->plan.op->outputs[i].name, up_isa_name((up_isa_level)l));
                rc = -1;
            }
        }
        up_call_free(&at);
    }
    up_isa_set(saved);
    return rc;
}

static int check_case(const cJSON *c, char *why, size_t cap)
{
    const cJSON *expected = cJSON_GetObjectItemCaseSensitive(c, "expected"), *e;
    double atol = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "atol"));
    double rtol = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "rtol"));
    up_call one, split;
    int ok = 0;
    up_call_init(&one);
    up_call_init(&split);
    if (isnan(atol)) atol = 0;
    if (isnan(rtol)) rtol = 0;
    if (decode_case(c, &one, why, cap) < 0 || run_and_finish(&one, 0, why, cap) < 0) goto out;
    cJSON_ArrayForEach(e, expected) {
        up_tensor want = {0};
        up_error err;
        int oi = up_op_output_index(one.plan.op, e->string);
        up_error_clear(&err);
        if (oi < 0 || up_json_to_tensor(e, UP_F32, e->string, NULL, &want, &err) < 0) {
            snprintf(why, cap, "bad expected output %s", e->string);
            goto out;
        }
        int eq = golden_compare(&one.plan.result[oi], &want,
                                up_dtype_is_float(want.dtype) ? atol : 0,
                                up_dtype_is_float(want.dtype) ? rtol : 0, why, cap);
        up_tensor_free(&want);
        if (!eq) {
            char tmp[400];
            snprintf(tmp, sizeof(tmp), "output %s: %s", e->string, why);
            snprintf(why, cap, "%s", tmp);
            goto out;
        }
    }
    if (decode_case(c, &split, why, cap) < 0 || run_and_finish(&split, 1, why, cap) < 0) goto out;
    for (int i = 0; i < one.plan.op->n_outputs; i++) {
        const up_tensor *a = &one.plan.result[i], *b = &split.plan.result[i];
        if (up_tensor_nbytes(a) != up_tensor_nbytes(b) ||
            memcmp(a->data, b->data, up_tensor_nbytes(a)) != 0) {
            snprintf(why, cap, "output %s differs when the work is split into chunks",
                     one.plan.op->outputs[i].name);
            goto out;
        }
    }
    if (same_at_every_level(c, &one, why, cap) < 0) goto out;
    ok = 1;
out:
    up_call_free(&one);
    up_call_free(&split);
    return ok;
}

int main(void)
{
    golden_set g;
    if (golden_load(&g, NULL) < 0) {
        th_record("golden_fixtures_present", 0);
        return th_summary();
    }
    for (int i = 0; i < g.n_cases; i++) {
        char why[512] = "";
        int ok = check_case(g.cases[i], why, sizeof(why));
        if (!ok) printf("    %s\n", why);
        th_record(g.names[i], ok);
    }
    golden_free(&g);
    return th_summary();
}
