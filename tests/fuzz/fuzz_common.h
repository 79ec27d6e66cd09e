/* fuzz_common.h -- what every decoder fuzz target shares.
 *
 * A target picks an op from the first input byte, hands the rest to one
 * decoder exactly as the server would, and when decoding succeeds runs the
 * kernel and the encoder too: a hostile request that gets past validation
 * must not make a kernel read or write out of bounds. Limits are small so
 * each run is quick. A status of 500 is a bug (docs/contract.md), so it aborts and
 * libFuzzer reports the input. */
#ifndef UP_FUZZ_COMMON_H
#define UP_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static const up_limits fz_limits = {
    .max_elements = 1 << 14,
    .max_request_elements = 1 << 15,
    .max_json_depth = 32,
    .max_inputs = 4,
};

static inline const up_op_def *fz_op(uint8_t b) { return up_op_at(b % up_op_count()); }

/* A heap copy of the bytes, so ASan sees any read past the end. */
static inline char *fz_copy(const uint8_t *d, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (n) memcpy(p, d, n);
    return p;
}

static inline void fz_no_500(const up_error *err)
{
    if (up_err_status(err) >= 500) {
        fprintf(stderr, "status %d: %s: %s\n", up_err_status(err),
                err->n ? err->items[0].field : "", err->n ? err->items[0].message : "");
        abort();
    }
}

/* Decode result rc for call c: on success run everything after decode. */
static inline void fz_finish(up_call *c, int rc, up_error *err)
{
    if (rc < 0) {
        fz_no_500(err);
        up_call_free(c);
        return;
    }
    up_fault f;
    up_timing t = {0};
    up_http_resp r;
    int64_t bound;
    up_fault_init(&f);
    up_plan_run(&c->plan, 0, c->plan.work_units, &f);
    bound = up_call_answer_bytes(c);
    up_http_resp_init(&r);
    up_error_clear(err);
    if (up_call_encode(c, &f, &t, "fuzz", &r, err) < 0) fz_no_500(err);
    else if ((int64_t)up_http_resp_len(&r) > bound || (int64_t)r.body.cap > bound) abort();
    up_http_resp_free(&r);
    up_call_free(c);
}

/* A memory budget for the request (up_http_req.charge): every decoder
 * charge goes through it; a refusal is a 413, which the decoders must
 * hand back unchanged. Small for some inputs so refusals are reached. */
typedef struct fz_budget {
    int64_t used, limit;
} fz_budget;

static inline int fz_take(void *ctx, int64_t bytes, const char *what, up_error *err)
{
    fz_budget *b = ctx;
    if (bytes < 0 || b->used + bytes > b->limit)
        return up_errorf(err, UP_E_TOO_LARGE, "", "fuzz budget: %s", what);
    b->used += bytes;
    return 0;
}

static inline up_charge fz_charge(fz_budget *b, size_t size)
{
    b->used = 0;
    b->limit = size % 4 == 0 ? 4096 + (int64_t)size : (int64_t)1 << 30;
    return (up_charge){fz_take, b};
}

/* Split "a=1&b=2" (modified in place) into at most max pairs. */
static inline int fz_query(char *s, up_kv *kv, int max)
{
    int n = 0;
    while (s && *s && n < max) {
        char *amp = strchr(s, '&'), *eq;
        if (amp) *amp = '\0';
        eq = strchr(s, '=');
        if (eq) *eq = '\0';
        kv[n++] = (up_kv){.key = s, .value = eq ? eq + 1 : ""};
        s = amp ? amp + 1 : NULL;
    }
    return n;
}

/* Params that make each op's small inputs valid, as query strings. */
static inline const char *fz_default_query(const up_op_def *op, uint8_t pick)
{
    static const char *const q[] = {
        "kernel_size=2", "kernel_size=2&stride=1", "scale_factor=2", "output_size=3,3",
        "kernel_size=2&output_size=2,2", "", "stride=2", "kernel_size=3&padding=1",
    };
    (void)op;
    return q[pick % (sizeof(q) / sizeof(q[0]))];
}

#endif
