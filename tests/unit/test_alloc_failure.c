/* test_alloc_failure.c -- every allocation of a request may fail, and the
 * request then ends in a clean error, never a crash, a 500 or a leak.
 *
 * SQLite's fault simulation is the model: the test binary is linked with
 * malloc, calloc, realloc, aligned_alloc and posix_memalign wrapped
 * (-Wl,--wrap=..., see the Makefile), and an armed countdown makes the Nth
 * allocation after arming return NULL. Each case (every op through JSON,
 * and every decoder and encoder: .npy, safetensors, KServe JSON and binary,
 * data_b64) runs decode -> kernel -> encode with N = 1, 2, 3, ... until a
 * run succeeds with no failure injected. Every failed run must report
 * UP_E_OVERLOADED (503, "out of memory; retry later") and free all it
 * took: the ASan build's LeakSanitizer (and bigbuf.c's check of large
 * blocks at exit) turn a leak into a failed run of this program.
 *
 * Only allocations made by unpoold's own objects go through the wraps;
 * memory that libc or libcjson take for themselves is not failed here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "tests/support/harness.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);

/* 0: off; else the allocation that count reaches 0 on fails (once). */
static long countdown;
static long injected;

static int fail_now(void)
{
    if (countdown <= 0) return 0;
    if (--countdown == 0) {
        injected++;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { return fail_now() ? NULL : __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n)
{
    return fail_now() ? NULL : __real_aligned_alloc(a, n);
}
int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
    return fail_now() ? 12 /* ENOMEM */ : __real_posix_memalign(p, a, n);
}

typedef struct alloc_case {
    const char *name, *op, *content_type, *accept, *query_key, *query_value;
    int kserve;
    const char *body;
    size_t body_len; /* 0: strlen(body) */
} alloc_case;

static const up_limits limits = {.max_elements = 1 << 20,
                                 .max_request_elements = 1 << 21,
                                 .max_json_depth = 64,
                                 .max_inputs = 8};

/* One request start to finish; 0 on success, else the error's kind. */
static int run_once(const alloc_case *k, up_error *err)
{
    up_call c;
    up_kv q = {.key = k->query_key, .value = k->query_value};
    up_http_req req = {.content_type = k->content_type,
                       .accept = k->accept,
                       .query = &q,
                       .n_query = k->query_key ? 1 : 0};
    up_timing t = {0};
    up_http_resp resp;
    up_fault f;
    const up_op_def *op = up_op_find(k->op);
    int rc;
    size_t n = k->body_len ? k->body_len : strlen(k->body);
    up_error_clear(err);
    up_http_resp_init(&resp);
    up_fault_init(&f);
    req.body = __real_malloc(n + 1);
    memcpy(req.body, k->body, n);
    req.body[n] = 0;
    req.body_len = n;
    if (k->kserve) {
        rc = up_call_decode_kserve(&c, op, &req, &limits, err);
    } else {
        rc = up_call_decode_v1(&c, op, &req, &limits, err);
    }
    if (rc == 0) {
        up_plan_run(&c.plan, 0, c.plan.work_units, &f);
        rc = up_call_encode(&c, &f, &t, "req", &resp, err);
    }
    up_http_resp_free(&resp);
    up_call_free(&c);
    free(req.body);
    return rc < 0 ? (err->kind ? (int)err->kind : -1) : 0;
}

/* Fail allocation 1, 2, ... until the run succeeds untouched. */
static void every_allocation_may_fail(const alloc_case *k)
{
    up_error err;
    int clean = run_once(k, &err);
    th_case_failed = 0;
    CHECKF(clean == 0, "%s: the request itself fails (kind %d: %s)", k->name, clean,
           err.n ? err.items[0].message : "");
    if (clean) goto done;
    for (long nth = 1; nth < 100000; nth++) {
        long before = injected;
        countdown = nth;
        int kind = run_once(k, &err);
        countdown = 0;
        if (injected == before) {
            CHECKF(kind == 0, "%s: kind %d with no failure injected", k->name, kind);
            break; /* every allocation of the request has been failed once */
        }
        if (kind == 0) continue; /* that allocation had a fallback */
        CHECKF(kind == UP_E_OVERLOADED, "%s: allocation %ld failed -> kind %d (%s: %s), "
               "want a 503", k->name, nth, kind, err.n ? err.items[0].field : "",
               err.n ? err.items[0].message : "");
        if (kind != UP_E_OVERLOADED) break;
    }
done:
    th_record(k->name, !th_case_failed);
}

static alloc_case cases[] = {
    {"max_unpool_json", "max_unpool", "application/json", NULL, NULL, NULL, 0,
     "{\"inputs\":{\"x\":[[[[4,5]]]],\"indices\":[[[[3,1]]]]},\"params\":{\"kernel_size\":2}}", 0},
    {"max_unpool_mask_f16", "max_unpool", "application/json", NULL, NULL, NULL, 0,
     "{\"inputs\":{\"x\":{\"dtype\":\"float16\",\"shape\":[1,1,1,2],\"data\":[4,5]},"
     "\"mask\":[[[[0,1,1,0],[0,0,0,0]]]]},\"params\":{\"kernel_size\":2}}", 0},
    {"nearest_unpool_channels_last", "nearest_unpool", "application/json", NULL, NULL, NULL, 0,
     "{\"inputs\":{\"x\":{\"dtype\":\"bfloat16\",\"shape\":[1,2,2,1],\"data\":[1,2,3,4]}},"
     "\"params\":{\"scale_factor\":2,\"layout\":\"channels_last\"}}", 0},
    {"fmu_interp_b64_answer", "fractional_max_unpool", "application/json", NULL, NULL, NULL, 0,
     "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"output_size\":[3,3]},"
     "\"output_format\":\"b64\"}", 0},
    {"fmu_scatter", "fractional_max_unpool", "application/json", NULL, NULL, NULL, 0,
     "{\"inputs\":{\"x\":[[[[1,2]]]],\"indices\":[[[[0,3]]]]},\"params\":{\"output_size\":[2,2]}}", 0},
    {"conv_transpose_bias", "conv_transpose", "application/json", NULL, NULL, NULL, 0,
     "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]],\"weight\":[[[[1,0],[0,1]]]],\"bias\":[0.5]},"
     "\"params\":{\"stride\":2}}", 0},
    {"max_pool_npy_answer", "max_pool", "application/json", "application/x-npy", "output",
     "indices", 0,
     "{\"inputs\":{\"x\":{\"dtype\":\"float64\",\"shape\":[1,1,2,2],\"data\":[1,5,3,2]}},"
     "\"params\":{\"kernel_size\":2}}", 0},
    {"fractional_max_pool_seed", "fractional_max_pool", "application/json",
     "application/x-safetensors", NULL, NULL, 0,
     "{\"inputs\":{\"x\":[[[[1,2,3,4],[5,6,7,8],[9,10,11,12],[13,14,15,16]]]]},"
     "\"params\":{\"kernel_size\":2,\"output_size\":2,\"seed\":7}}", 0},
    {"kserve_json", "max_pool", NULL, NULL, NULL, NULL, 1,
     "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}],"
     "\"parameters\":{\"kernel_size\":2}}", 0},
    {"max_pool_npy_body", "max_pool", "application/x-npy", NULL, "kernel_size", "2", 0, NULL, 0},
    {"max_pool_safetensors_body", "max_pool", "application/x-safetensors", NULL, NULL, NULL, 0,
     NULL, 0},
};

static const float four[4] = {1, 2, 3, 4};

/* A version 1.0 .npy of `four` as float32 (1, 1, 2, 2): magic, header
 * padded with spaces to a multiple of 64 bytes and ended by a newline. */
static size_t make_npy(char *out)
{
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), }";
    size_t hl = 64 - 10, dl = strlen(dict);
    while (hl < dl + 1) hl += 64;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (char)(hl & 0xff);
    out[9] = (char)(hl >> 8);
    memset(out + 10, ' ', hl);
    memcpy(out + 10, dict, dl);
    out[10 + hl - 1] = '\n';
    memcpy(out + 10 + hl, four, sizeof(four));
    return 10 + hl + sizeof(four);
}

/* A safetensors file with x = `four` and kernel_size in __metadata__. */
static size_t make_safetensors(char *out)
{
    const char *hdr = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,2,2],\"data_offsets\":[0,16]},"
                      "\"__metadata__\":{\"kernel_size\":\"2\"}}";
    uint64_t n = strlen(hdr);
    for (int i = 0; i < 8; i++) out[i] = (char)(n >> (8 * i));
    memcpy(out + 8, hdr, n);
    memcpy(out + 8 + n, four, sizeof(four));
    return 8 + n + sizeof(four);
}

int main(void)
{
    static char npy[256], st[256];
    size_t ncase = sizeof(cases) / sizeof(cases[0]);
    cases[ncase - 2].body = npy;
    cases[ncase - 2].body_len = make_npy(npy);
    cases[ncase - 1].body = st;
    cases[ncase - 1].body_len = make_safetensors(st);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        every_allocation_may_fail(&cases[i]);
    printf("    %ld allocations failed on purpose\n", injected);
    return th_summary();
}
