/* test_kernels_pool.c -- max_pool and max_unpool kernels: the seed's
 * illustration, last-wins collisions, the mask form's rules, and results
 * that do not depend on how the work is split.
 *
 * Split independence is checked the way the worker pool uses a plan: the
 * outputs are filled with a garbage pattern after prepare (they are
 * allocated uninitialised, so a kernel that misses an element shows up as
 * a byte difference), then run as one chunk, and again as uneven chunks in
 * reverse order, and the bytes must match. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) { return th_xorshift(&rng_state); }

/* Prepare p, fill outputs with `fill`, run as one chunk (chunked = 0) or as
 * chunks of 1, 2, 3, 1, ... units from the last to the first, finish.
 * Returns 0 or -1 (err set). */
static int run_plan(up_plan *p, int chunked, int fill, up_error *err)
{
    up_fault fault, f;
    up_error_clear(err);
    up_fault_init(&fault);
    if (up_plan_prepare(p, err) < 0) return -1;
    for (int i = 0; i < p->op->n_outputs; i++)
        memset(p->out[i].data, fill, up_tensor_nbytes(&p->out[i]));
    if (!chunked) {
        up_plan_run(p, 0, p->work_units, &fault);
    } else {
        int64_t starts[256], ns = 0, step = 1;
        for (int64_t b = 0; b < p->work_units && ns < 256; b += step, step = step % 3 + 1)
            starts[ns++] = b;
        for (int64_t k = ns - 1; k >= 0; k--) {
            up_fault_init(&f);
            up_plan_run(p, starts[k], k + 1 < ns ? starts[k + 1] : p->work_units, &f);
            up_fault_merge(&fault, &f);
        }
    }
    return up_plan_finish(p, &fault, err);
}

static int same_bytes(const up_tensor *a, const up_tensor *b)
{
    return a->rank == b->rank && up_tensor_nbytes(a) == up_tensor_nbytes(b) &&
           memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->rank) == 0 &&
           memcmp(a->data, b->data, up_tensor_nbytes(a)) == 0;
}

/* A max_unpool plan: x of dtype dt and shape xs, int64 indices of the same
 * shape, kernel_size k. */
static void unpool_indices_plan(up_plan *p, up_dtype dt, int rank, const int64_t *xs, const void *x,
                                const int64_t *idx, int64_t k)
{
    up_plan_init(p, up_op_find("max_unpool"));
    tb_input(p, "x", dt, rank, xs, x);
    tb_input(p, "indices", UP_I64, rank, xs, idx);
    tb_int(p, "kernel_size", k);
}

/* ---- the seed's illustration --------------------------------------------- */

static void test_seed_max_pool_2x2(void)
{
    static const int64_t xs[] = {1, 1, 2, 2};
    const float x[] = {1, 2, 3, 4};
    up_plan p;
    up_error err;
    up_plan_init(&p, up_op_find("max_pool"));
    tb_input(&p, "x", UP_F32, 4, xs, x);
    tb_int(&p, "kernel_size", 2);
    CHECK(run_plan(&p, 0, 0x5a, &err) == 0);
    CHECK(p.result[0].shape[2] == 1 && p.result[0].shape[3] == 1);
    CHECK(((float *)p.result[0].data)[0] == 4.0f);
    CHECK(((int64_t *)p.result[1].data)[0] == 3);
    up_plan_free(&p);
}

static void test_seed_max_unpool_back(void)
{
    static const int64_t xs[] = {1, 1, 1, 1};
    const float x[] = {4};
    const int64_t idx[] = {3};
    const float want[] = {0, 0, 0, 4};
    up_plan p;
    up_error err;
    unpool_indices_plan(&p, UP_F32, 4, xs, x, idx, 2);
    tb_int(&p, "stride", 2);
    CHECK(run_plan(&p, 0, 0x7f, &err) == 0);
    CHECK(p.result[0].shape[2] == 2 && p.result[0].shape[3] == 2);
    CHECK(memcmp(p.result[0].data, want, sizeof(want)) == 0);
    up_plan_free(&p);
}

static void test_seed_max_unpool_mask_form(void)
{
    static const int64_t xs[] = {1, 1, 1, 1}, ms[] = {1, 1, 2, 2};
    const float x[] = {4};
    const uint8_t mask[] = {0, 0, 0, 1};
    const float want[] = {0, 0, 0, 4};
    up_plan p;
    up_error err;
    up_plan_init(&p, up_op_find("max_unpool"));
    tb_input(&p, "x", UP_F32, 4, xs, x);
    tb_input(&p, "mask", UP_U8, 4, ms, mask);
    tb_int(&p, "kernel_size", 2);
    CHECK(run_plan(&p, 0, 0x7f, &err) == 0);
    CHECK(memcmp(p.result[0].data, want, sizeof(want)) == 0);
    up_plan_free(&p);
}

/* ---- collisions and the mask form's rules -------------------------------- */

static void test_max_unpool_collisions_last_wins(void)
{
    /* 1d, two planes; plane 0 sends 1, 2, 4 to position 2 and 3 to 0 */
    static const int64_t xs[] = {1, 2, 4};
    const double x[] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int64_t idx[] = {2, 2, 0, 2, 7, 7, 7, 1};
    const double want[] = {3, 0, 4, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 7};
    for (int chunked = 0; chunked < 2; chunked++) {
        up_plan p;
        up_error err;
        unpool_indices_plan(&p, UP_F64, 3, xs, x, idx, 2);
        CHECK(run_plan(&p, chunked, 0xff, &err) == 0);
        CHECK(memcmp(p.result[0].data, want, sizeof(want)) == 0);
        up_plan_free(&p);
    }
}

static void test_max_unpool_mask_overlapping_windows_last_wins(void)
{
    /* kernel 3, stride 1: windows [0, 3) and [1, 4) share their first
     * nonzero (position 1), so the second element of x wins it */
    static const int64_t xs[] = {1, 1, 2}, ms[] = {1, 1, 4};
    const float x[] = {10, 20};
    const uint8_t mask[] = {0, 1, 0, 1};
    const float want[] = {0, 20, 0, 0};
    up_plan p;
    up_error err;
    up_plan_init(&p, up_op_find("max_unpool"));
    tb_input(&p, "x", UP_F32, 3, xs, x);
    tb_input(&p, "mask", UP_U8, 3, ms, mask);
    tb_int(&p, "kernel_size", 3);
    tb_int(&p, "stride", 1);
    CHECK(run_plan(&p, 0, 0x7f, &err) == 0);
    CHECK(memcmp(p.result[0].data, want, sizeof(want)) == 0);
    up_plan_free(&p);
}

static void test_max_unpool_mask_first_nonzero_and_empty_window(void)
{
    /* 2d kernel 2: window 0 has nonzeros at (0,1) and (1,0): row-major
     * first is (0,1); window 1 has none: its value is dropped. Any numeric
     * mask dtype counts nonzero, here float with -0.5. */
    static const int64_t xs[] = {1, 1, 1, 2}, ms[] = {1, 1, 2, 4};
    const float x[] = {7, 9};
    const float mask[] = {0, -0.5f, 0, 0, 1, 0, 0, 0};
    const float want[] = {0, 7, 0, 0, 0, 0, 0, 0};
    up_plan p;
    up_error err;
    up_plan_init(&p, up_op_find("max_unpool"));
    tb_input(&p, "x", UP_F32, 4, xs, x);
    tb_input(&p, "mask", UP_F32, 4, ms, mask);
    tb_int(&p, "kernel_size", 2);
    CHECK(run_plan(&p, 0, 0x7f, &err) == 0);
    CHECK(memcmp(p.result[0].data, want, sizeof(want)) == 0);
    up_plan_free(&p);
}

/* ---- max_pool details ----------------------------------------------------- */

static void test_max_pool_last_nan_of_window_wins(void)
{
    static const int64_t xs[] = {1, 1, 5};
    const float x[] = {1, NAN, 3, NAN, 2};
    up_plan p;
    up_error err;
    up_plan_init(&p, up_op_find("max_pool"));
    tb_input(&p, "x", UP_F32, 3, xs, x);
    tb_int(&p, "kernel_size", 5);
    CHECK(run_plan(&p, 0, 0, &err) == 0);
    CHECK(isnan(((float *)p.result[0].data)[0]));
    CHECK(((int64_t *)p.result[1].data)[0] == 3);
    up_plan_free(&p);
}

static void test_max_pool_window_in_padding_matches_pytorch(void)
{
    /* in = 1, kernel 2, padding 1, dilation 2: the window covers -1 and 1,
     * never the input. PyTorch reports -inf and index 1 (its clamped
     * window start); so do we. */
    static const int64_t xs[] = {1, 1, 1};
    const float x[] = {5};
    up_plan p;
    up_error err;
    up_plan_init(&p, up_op_find("max_pool"));
    tb_input(&p, "x", UP_F32, 3, xs, x);
    tb_int(&p, "kernel_size", 2);
    tb_int(&p, "stride", 1);
    tb_int(&p, "padding", 1);
    tb_int(&p, "dilation", 2);
    CHECK(run_plan(&p, 0, 0, &err) == 0);
    CHECK(p.result[0].shape[2] == 1);
    CHECK(isinf(((float *)p.result[0].data)[0]) && ((float *)p.result[0].data)[0] < 0);
    CHECK(((int64_t *)p.result[1].data)[0] == 1);
    up_plan_free(&p);
}

/* ---- split independence ---------------------------------------------------- */

static float *random_floats(int64_t n, int ties)
{
    float *v = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        v[i] = ties ? (float)(int)(rng() % 5) : (float)(int64_t)(rng() % 2001) / 8.0f - 125.0f;
    return v;
}

typedef void (*plan_setup)(up_plan *p, const void *ctx);

/* Build the plan twice, run it as one chunk over zeroed outputs and as
 * reversed uneven chunks over 0xff outputs, and compare every output. */
static void check_split_independent(const char *op, plan_setup setup, const void *ctx)
{
    up_plan a, b;
    up_error ea, eb;
    up_plan_init(&a, up_op_find(op));
    up_plan_init(&b, up_op_find(op));
    setup(&a, ctx);
    setup(&b, ctx);
    CHECKF(run_plan(&a, 0, 0x00, &ea) == 0, "%s", ea.n ? ea.items[0].message : "");
    CHECKF(run_plan(&b, 1, 0xff, &eb) == 0, "%s", eb.n ? eb.items[0].message : "");
    CHECK(a.work_units > 8);
    for (int i = 0; i < a.op->n_outputs; i++)
        CHECKF(same_bytes(&a.result[i], &b.result[i]), "output %d differs", i);
    up_plan_free(&a);
    up_plan_free(&b);
}

static const int64_t SPLIT_X[] = {3, 5, 9, 11};

static void setup_pool(up_plan *p, const void *ctx)
{
    const float *x = ctx;
    static const int64_t pad[] = {1, 0};
    tb_input(p, "x", UP_F32, 4, SPLIT_X, x);
    tb_int(p, "kernel_size", 3);
    tb_int(p, "stride", 2);
    tb_ints(p, "padding", 2, pad);
    tb_int(p, "ceil_mode", 1);
    tb_enum(p, "index_layout", "nhwc");
}

static void test_max_pool_split_independent(void)
{
    float *x = random_floats(3 * 5 * 9 * 11, 1);
    check_split_independent("max_pool", setup_pool, x);
    free(x);
}

typedef struct unpool_ctx {
    const float *x;
    const int64_t *idx;
    const uint8_t *mask;
} unpool_ctx;

static const int64_t SPLIT_Y[] = {3, 5, 19, 23}; /* (9-1)*2+3, (11-1)*2+3 */

static void setup_unpool(up_plan *p, const void *ctx)
{
    const unpool_ctx *u = ctx;
    tb_input(p, "x", UP_F32, 4, SPLIT_X, u->x);
    if (u->idx) tb_input(p, "indices", UP_I64, 4, SPLIT_X, u->idx);
    if (u->mask) tb_input(p, "mask", UP_U8, 4, SPLIT_Y, u->mask);
    tb_int(p, "kernel_size", 3);
    tb_int(p, "stride", 2);
}

static void test_max_unpool_split_independent_with_collisions(void)
{
    /* 99 elements per plane into 437 positions, a third of them into the
     * first 8, so most planes have collisions */
    int64_t n = 3 * 5 * 9 * 11, *idx = malloc((size_t)n * sizeof(int64_t));
    float *x = random_floats(n, 0);
    for (int64_t i = 0; i < n; i++) idx[i] = (int64_t)(rng() % 3 ? rng() % 437 : rng() % 8);
    unpool_ctx u = {x, idx, NULL};
    check_split_independent("max_unpool", setup_unpool, &u);
    free(idx);
    free(x);
}

static void test_max_unpool_mask_split_independent(void)
{
    int64_t n = 3 * 5 * 9 * 11, nm = 3 * 5 * 19 * 23;
    float *x = random_floats(n, 0);
    uint8_t *mask = malloc((size_t)nm);
    for (int64_t i = 0; i < nm; i++) mask[i] = rng() % 4 == 0;
    unpool_ctx u = {x, NULL, mask};
    check_split_independent("max_unpool", setup_unpool, &u);
    free(mask);
    free(x);
}

static void test_max_unpool_fault_is_first_bad_element_whatever_the_split(void)
{
    /* bad elements in planes 1 (elem 4) and 0 (elem 3): the first in
     * row-major order is plane 0's, though reversed chunks meet plane 1 first */
    static const int64_t xs[] = {1, 4, 4};
    const float x[16] = {0};
    int64_t idx[16] = {0};
    idx[3] = 8;
    idx[4] = -5;
    idx[9] = 100;
    for (int chunked = 0; chunked < 2; chunked++) {
        up_plan p;
        up_error err;
        unpool_indices_plan(&p, UP_F32, 3, xs, x, idx, 2);
        CHECK(run_plan(&p, chunked, 0, &err) < 0);
        CHECK(err.kind == UP_E_INVALID && tb_err_has_field(&err, "inputs.indices"));
        CHECKF(err.n && strstr(err.items[0].message, "[0, 0, 3]") &&
                   strstr(err.items[0].message, "value 8"),
               "%s", err.n ? err.items[0].message : "");
        up_plan_free(&p);
    }
}

/* ---- round trips through every index layout -------------------------------- */

/* max_pool then max_unpool with the same params and index layout must give
 * the same y in every layout (3d, float64, batch 2, overlapping windows). */
static void test_pool_unpool_round_trip_every_index_layout(void)
{
    static const char *const layouts[] = {"plane", "tensor", "hwc", "nhwc"};
    static const int64_t xs[] = {2, 3, 5, 6, 7};
    const int64_t n = 2 * 3 * 5 * 6 * 7;
    double *x = malloc((size_t)n * sizeof(double));
    up_tensor first = {0};
    for (int64_t i = 0; i < n; i++) x[i] = (double)(int64_t)(rng() % 1000) - 500.0;
    for (int l = 0; l < 4; l++) {
        up_plan pool, unpool;
        up_error err;
        up_plan_init(&pool, up_op_find("max_pool"));
        tb_input(&pool, "x", UP_F64, 5, xs, x);
        tb_int(&pool, "kernel_size", 3);
        tb_int(&pool, "stride", 2);
        tb_enum(&pool, "index_layout", layouts[l]);
        CHECK(run_plan(&pool, 1, 0xff, &err) == 0);
        up_plan_init(&unpool, up_op_find("max_unpool"));
        tb_input(&unpool, "x", UP_F64, 5, pool.result[0].shape, pool.result[0].data);
        tb_input(&unpool, "indices", UP_I64, 5, pool.result[1].shape, pool.result[1].data);
        tb_int(&unpool, "kernel_size", 3);
        tb_int(&unpool, "stride", 2);
        tb_enum(&unpool, "index_layout", layouts[l]);
        tb_ints(&unpool, "output_size", 3, xs + 2);
        CHECKF(run_plan(&unpool, 1, 0xff, &err) == 0, "%s: %s", layouts[l],
               err.n ? err.items[0].message : "");
        if (l == 0) {
            up_tensor_alloc(&first, UP_F64, 5, unpool.result[0].shape);
            memcpy(first.data, unpool.result[0].data, up_tensor_nbytes(&first));
        } else {
            CHECKF(same_bytes(&first, &unpool.result[0]), "layout %s differs from plane",
                   layouts[l]);
        }
        up_plan_free(&pool);
        up_plan_free(&unpool);
    }
    up_tensor_free(&first);
    free(x);
}


/* ---- outputs past the last-level cache (kernels/stream.h) ------------------ */

/* An output of 32 MiB or more is built plane by plane in a scratch buffer
 * and streamed out; the bytes must be those of a plain scatter, in the
 * plane and tensor layouts, as one chunk and as uneven chunks, and a bad
 * index is still reported as the first one in row-major order. */
static void test_max_unpool_streamed_output_matches_plain_scatter(void)
{
    enum { C = 128 }; /* 128 planes of 256 x 256 float32: 32 MiB, 256 KiB a plane */
    static const int64_t xs[] = {1, C, 128, 128};
    const int64_t pin = 128 * 128, pout = 256 * 256, n = C * pin;
    static const char *const layouts[] = {"plane", "tensor"};
    float *x = random_floats(n, 0), *want = calloc((size_t)(C * pout), sizeof(float));
    int64_t *idx = malloc((size_t)n * sizeof(int64_t));
    CHECK(x && want && idx);
    if (!x || !want || !idx) goto out;
    for (int64_t i = 0; i < n; i++) { /* plane positions, a quarter colliding */
        idx[i] = (int64_t)(rng() % 4 ? rng() % (uint64_t)pout : rng() % 64);
        want[i / pin * pout + idx[i]] = x[i];
    }
    for (int l = 0; l < 2; l++) {
        if (l == 1) /* tensor layout: the plane's offset added */
            for (int64_t i = 0; i < n; i++) idx[i] += i / pin * pout;
        for (int chunked = 0; chunked < 2; chunked++) {
            up_plan p;
            up_error err;
            unpool_indices_plan(&p, UP_F32, 4, xs, x, idx, 2);
            tb_enum(&p, "index_layout", layouts[l]);
            CHECK(run_plan(&p, chunked, 0xff, &err) == 0);
            CHECKF(up_tensor_nbytes(&p.result[0]) == (size_t)(C * pout) * sizeof(float) &&
                       !memcmp(p.result[0].data, want, (size_t)(C * pout) * sizeof(float)),
                   "layout %s, chunked %d", layouts[l], chunked);
            up_plan_free(&p);
        }
    }
    /* bad indices in planes 5 and 2: plane 2's is reported */
    for (int64_t i = 0; i < n; i++) idx[i] = i % pin;
    idx[5 * pin + 7] = pout;
    idx[2 * pin + 9] = -1;
    {
        up_plan p;
        up_error err;
        unpool_indices_plan(&p, UP_F32, 4, xs, x, idx, 2);
        CHECK(run_plan(&p, 1, 0, &err) < 0);
        CHECKF(err.n && strstr(err.items[0].message, "[0, 2, 0, 9]"), "%s",
               err.n ? err.items[0].message : "");
        up_plan_free(&p);
    }
out:
    free(x);
    free(want);
    free(idx);
}

int main(void)
{
    RUN(test_seed_max_pool_2x2);
    RUN(test_seed_max_unpool_back);
    RUN(test_seed_max_unpool_mask_form);
    RUN(test_max_unpool_collisions_last_wins);
    RUN(test_max_unpool_mask_overlapping_windows_last_wins);
    RUN(test_max_unpool_mask_first_nonzero_and_empty_window);
    RUN(test_max_pool_last_nan_of_window_wins);
    RUN(test_max_pool_window_in_padding_matches_pytorch);
    RUN(test_max_pool_split_independent);
    RUN(test_max_unpool_split_independent_with_collisions);
    RUN(test_max_unpool_mask_split_independent);
    RUN(test_max_unpool_fault_is_first_bad_element_whatever_the_split);
    RUN(test_pool_unpool_round_trip_every_index_layout);
    RUN(test_max_unpool_streamed_output_matches_plain_scatter);
    return th_summary();
}
