/* test_kernels_hostile.c -- the attack review's requests, at the kernel
 * layer: each one is refused by name (kind and field) or answered
 * correctly, quickly, and without undefined behaviour (the ASan+UBSan
 * build of this program is the other half of every case).
 *
 *   - max_pool kernel_size 2e18, padding 1e18 on a 1x1 input (a hang: one
 *     loop step per unit of padding), and its largest legal cousin;
 *   - conv_transpose stride 8e18, dilation 2^62, padding 2^61 (signed
 *     overflow, out-of-bounds write), and its largest legal cousin;
 *   - max_pool kernel [1, 2^62], padding [0, 2^61], stride [1, 8e18];
 *   - empty tensors with huge sizes for every op and the converters;
 *   - fractional_max_pool's float32 window start rounding past the input.
 * Time bounds are generous (a hang shows up as minutes, not milliseconds). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/convert.h"
#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

#define T40 ((int64_t)1 << 40)

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Execute p; expect it refused with kind and field, within a second. */
static void expect_refused(up_plan *p, up_err_kind kind, const char *field, const char *text)
{
    up_error err;
    double t0 = now_s();
    up_error_clear(&err);
    CHECK(up_plan_execute(p, &err) < 0);
    CHECKF(now_s() - t0 < 1.0, "took %.2f s", now_s() - t0);
    CHECKF(err.kind == kind, "kind %d, expected %d", (int)err.kind, (int)kind);
    CHECKF(tb_err_has_field(&err, field), "expected field %s, got %s: %s", field,
           err.n ? err.items[0].field : "(none)", err.n ? err.items[0].message : "");
    if (text && err.n)
        CHECKF(strstr(err.items[0].message, text) != NULL, "message: %s", err.items[0].message);
    up_plan_free(p);
}

/* Execute p; expect success within a second (results left in p). */
static int expect_done(up_plan *p)
{
    up_error err;
    double t0 = now_s();
    up_error_clear(&err);
    int rc = up_plan_execute(p, &err);
    CHECKF(rc == 0, "%s: %s", err.n ? err.items[0].field : "", err.n ? err.items[0].message : "");
    CHECKF(now_s() - t0 < 1.0, "took %.2f s", now_s() - t0);
    return rc == 0;
}

/* ---- max_pool ------------------------------------------------------------ */

static void test_hostile_max_pool_kernel_2e18_padding_1e18(void)
{
    static const int64_t xs[] = {1, 1, 1, 1};
    const float x[] = {1};
    up_plan p;
    up_plan_init(&p, up_op_find("max_pool"));
    tb_input(&p, "x", UP_F32, 4, xs, x);
    tb_int(&p, "kernel_size", 2000000000000000000LL);
    tb_int(&p, "padding", 1000000000000000000LL);
    expect_refused(&p, UP_E_INVALID, "params.kernel_size", "must be <= 2147483647");
}

/* The largest legal kernel and padding: every window covers the whole
 * row; PyTorch's `while (start < 0) start += dilation` would step 2^30
 * times per output, 64 outputs. */
static void test_hostile_max_pool_kernel_int32_max_closed_form(void)
{
    static const int64_t xs[] = {1, 1, 64};
    float x[64];
    up_plan p;
    for (int i = 0; i < 64; i++) x[i] = (float)((i * 37) % 64);
    x[41] = 100;
    up_plan_init(&p, up_op_find("max_pool"));
    tb_input(&p, "x", UP_F32, 3, xs, x);
    tb_int(&p, "kernel_size", INT32_MAX);
    tb_int(&p, "padding", INT32_MAX / 2);
    tb_int(&p, "stride", 1);
    if (expect_done(&p)) {
        CHECK(p.result[0].shape[2] == 64);
        for (int i = 0; i < 64; i++) {
            CHECK(((float *)p.result[0].data)[i] == 100.0f);
            CHECK(((int64_t *)p.result[1].data)[i] == 41);
        }
        CHECKF(p.work < 64 * 64 * 4, "work %lld", (long long)p.work);
    }
    up_plan_free(&p);
}

static void test_hostile_max_pool_kernel_2_62_stride_8e18(void)
{
    static const int64_t xs[] = {1, 1, 1, 1};
    const int64_t k[] = {1, (int64_t)1 << 62}, pad[] = {0, (int64_t)1 << 61},
                  s[] = {1, 8000000000000000000LL};
    up_plan p;
    up_plan_init(&p, up_op_find("max_pool"));
    tb_input(&p, "x", UP_F32, 4, xs, NULL);
    tb_ints(&p, "kernel_size", 2, k);
    tb_ints(&p, "padding", 2, pad);
    tb_ints(&p, "stride", 2, s);
    expect_refused(&p, UP_E_INVALID, "params.kernel_size", "must be <= 2147483647");
}

/* Its legal cousin: (p + s - 1) / s was the overflow; one output. */
static void test_hostile_max_pool_stride_int32_max_one_window(void)
{
    static const int64_t xs[] = {1, 1, 1, 1};
    const float x[] = {7};
    const int64_t k[] = {1, INT32_MAX}, pad[] = {0, INT32_MAX / 2}, s[] = {1, INT32_MAX};
    up_plan p;
    up_plan_init(&p, up_op_find("max_pool"));
    tb_input(&p, "x", UP_F32, 4, xs, x);
    tb_ints(&p, "kernel_size", 2, k);
    tb_ints(&p, "padding", 2, pad);
    tb_ints(&p, "stride", 2, s);
    if (expect_done(&p)) {
        CHECK(up_tensor_numel(&p.result[0]) == 1);
        CHECK(((float *)p.result[0].data)[0] == 7.0f);
        CHECK(((int64_t *)p.result[1].data)[0] == 0);
    }
    up_plan_free(&p);
}

/* ---- conv_transpose ------------------------------------------------------ */

static void conv_plan(up_plan *p, const float *bias)
{
    static const int64_t xs[] = {1, 1, 1}, ws[] = {1, 1, 2}, bs[] = {1};
    const float x[] = {1}, w[] = {1, 1};
    up_plan_init(p, up_op_find("conv_transpose"));
    tb_input(p, "x", UP_F32, 3, xs, x);
    tb_input(p, "weight", UP_F32, 3, ws, w);
    if (bias) tb_input(p, "bias", UP_F32, 1, bs, bias);
}

static void test_hostile_conv_transpose_stride_8e18(void)
{
    up_plan p;
    conv_plan(&p, NULL);
    tb_int(&p, "stride", 8000000000000000000LL);
    tb_int(&p, "dilation", (int64_t)1 << 62);
    tb_int(&p, "padding", (int64_t)1 << 61);
    expect_refused(&p, UP_E_INVALID, "params.stride", "must be <= 2147483647");
}

/* Legal cousin, as PyTorch computes it: output (0 * s) - 2^30 + 2^30 + 1 = 1
 * position, both taps (at -2^29 and 2^29) outside it, so y is the bias. */
static void test_hostile_conv_transpose_huge_legal_params(void)
{
    const float bias[] = {0.5f};
    up_plan p;
    conv_plan(&p, bias);
    tb_int(&p, "stride", INT32_MAX);
    tb_int(&p, "dilation", (int64_t)1 << 30);
    tb_int(&p, "padding", (int64_t)1 << 29);
    if (expect_done(&p)) {
        CHECK(up_tensor_numel(&p.result[0]) == 1);
        CHECK(((float *)p.result[0].data)[0] == 0.5f);
    }
    up_plan_free(&p);
}

/* ---- empty tensors with huge sizes --------------------------------------- */

/* x of shape [0, 1, 2^40, 2^40]: no data, but every plane product wraps. */
static void huge_empty_x(up_plan *p, const char *op)
{
    static const int64_t xs[] = {0, 1, T40, T40};
    up_plan_init(p, up_op_find(op));
    tb_input(p, "x", UP_F32, 4, xs, NULL);
}

static void test_hostile_empty_huge_max_pool(void)
{
    up_plan p;
    huge_empty_x(&p, "max_pool");
    tb_int(&p, "kernel_size", 2);
    expect_refused(&p, UP_E_TOO_LARGE, "inputs.x", "product of its nonzero sizes");
}

static void test_hostile_empty_huge_max_unpool(void)
{
    static const int64_t xs[] = {0, 1, T40, T40};
    up_plan p;
    huge_empty_x(&p, "max_unpool");
    tb_input(&p, "indices", UP_I64, 4, xs, NULL);
    tb_int(&p, "kernel_size", 2);
    expect_refused(&p, UP_E_TOO_LARGE, "inputs.x", "product of its nonzero sizes");
}

static void test_hostile_empty_huge_max_unpool_mask(void)
{
    static const int64_t xs[] = {0, 1, 2, 2}, ms[] = {0, 1, T40, T40};
    up_plan p;
    up_plan_init(&p, up_op_find("max_unpool"));
    tb_input(&p, "x", UP_F32, 4, xs, NULL);
    tb_input(&p, "mask", UP_U8, 4, ms, NULL);
    tb_int(&p, "kernel_size", 2);
    expect_refused(&p, UP_E_TOO_LARGE, "inputs.mask", "product of its nonzero sizes");
}

static void test_hostile_empty_huge_conv_transpose(void)
{
    static const int64_t ws[] = {1, 1, 2, 2};
    up_plan p;
    huge_empty_x(&p, "conv_transpose");
    tb_input(&p, "weight", UP_F32, 4, ws, NULL);
    expect_refused(&p, UP_E_TOO_LARGE, "inputs.x", "product of its nonzero sizes");
}

static void test_hostile_empty_huge_fractional_max_pool(void)
{
    up_plan p;
    huge_empty_x(&p, "fractional_max_pool");
    tb_int(&p, "kernel_size", 2);
    tb_int(&p, "output_size", 4);
    expect_refused(&p, UP_E_TOO_LARGE, "inputs.x", "product of its nonzero sizes");
}

static void test_hostile_empty_huge_nearest_unpool(void)
{
    up_plan p;
    huge_empty_x(&p, "nearest_unpool");
    tb_int(&p, "output_size", 4);
    expect_refused(&p, UP_E_TOO_LARGE, "inputs.x", "product of its nonzero sizes");
}

static void test_hostile_empty_huge_fractional_max_unpool(void)
{
    up_plan p;
    huge_empty_x(&p, "fractional_max_unpool");
    tb_int(&p, "output_size", 4);
    expect_refused(&p, UP_E_TOO_LARGE, "inputs.x", "product of its nonzero sizes");
}

/* An empty batch whose output sizes are huge: the output's shape is what
 * overflows, refused before any table is built. */
static void test_hostile_empty_batch_huge_output_size(void)
{
    static const int64_t xs[] = {0, 1, 2, 2};
    const int64_t os[] = {T40, T40};
    up_plan p;
    up_plan_init(&p, up_op_find("nearest_unpool"));
    tb_input(&p, "x", UP_F32, 4, xs, NULL);
    tb_ints(&p, "output_size", 2, os);
    expect_refused(&p, UP_E_TOO_LARGE, "outputs.y", "product of its nonzero sizes");
}

/* Within the bound an empty batch is a correct (empty) answer, as in
 * PyTorch: max_pool of (0, 1, 2^20, 2^20) is (0, 1, 2^19, 2^19). */
static void test_hostile_empty_batch_large_plane_is_empty_answer(void)
{
    static const int64_t xs[] = {0, 1, 1 << 20, 1 << 20};
    up_plan p;
    up_plan_init(&p, up_op_find("max_pool"));
    tb_input(&p, "x", UP_F32, 4, xs, NULL);
    tb_int(&p, "kernel_size", 2);
    if (expect_done(&p)) {
        CHECK(p.result[0].shape[0] == 0 && p.result[0].shape[2] == 1 << 19);
        CHECK(p.result[1].shape[3] == 1 << 19);
        CHECK(up_tensor_numel(&p.result[0]) == 0);
    }
    up_plan_free(&p);
}

/* Channels-last x with no channels and a large plane: refused for its
 * zero channels before anything is permuted. */
static void test_hostile_empty_channels_last_refused_before_permute(void)
{
    static const int64_t xs[] = {1, 1 << 24, 1 << 24, 0};
    up_plan p;
    up_plan_init(&p, up_op_find("max_pool"));
    tb_input(&p, "x", UP_F16, 4, xs, NULL);
    tb_enum(&p, "layout", "channels_last");
    tb_int(&p, "kernel_size", 2);
    expect_refused(&p, UP_E_INVALID, "inputs.x", "at least one channel");
}

/* The converters themselves on empty tensors with large other sizes: no
 * loop over rows of zero columns, no wrapped products. */
static void test_hostile_converters_empty_large(void)
{
    up_tensor src = {0}, dst = {0};
    char dummy[64];
    const int64_t cl[] = {1, 1 << 24, 1 << 24, 0}, cf[] = {0, 3, T40, 4};
    double t0 = now_s();
    up_tensor_view(&src, UP_F16, 4, cl, dummy);
    CHECK(up_to_channels_first(&src, &dst) == 0);
    CHECK(dst.shape[1] == 0 && dst.shape[2] == 1 << 24 && up_tensor_numel(&dst) == 0);
    up_tensor_free(&dst);
    up_tensor_view(&src, UP_F32, 4, cf, dummy);
    CHECK(up_to_channels_last(&src, &dst) == 0);
    CHECK(dst.shape[3] == 3 && up_tensor_numel(&dst) == 0);
    up_tensor_free(&dst);
    CHECK(up_convert(&src, UP_BF16, &dst) == 0);
    CHECK(up_tensor_nbytes(&dst) == 0);
    up_tensor_free(&dst);
    CHECKF(now_s() - t0 < 1.0, "took %.2f s", now_s() - t0);
}

/* up_tensor_numel with the 0 last: 2^40 * 2^40 must not be formed. */
static void test_hostile_numel_zero_last(void)
{
    up_tensor t = {0};
    const int64_t s[] = {T40, T40, 0};
    char dummy[8];
    up_tensor_view(&t, UP_F32, 3, s, dummy);
    CHECK(up_tensor_numel(&t) == 0);
    CHECK(up_tensor_nbytes(&t) == 0);
}

/* ---- fractional_max_pool float32 window start ---------------------------- */

/* The review's case: W = 12579921, kernel 1, output 12576890, sample
 * 0.5000001192092896 (exact in float32). In float32, (i + u) * alpha for
 * i = out - 2 rounds to 12579921 = W: a window past the plane (PyTorch
 * 1.13 fails an internal assertion there). unpoold clamps the start to
 * W - kernel: every index inside the plane, the clamped output reads the
 * last column, and the values are all x's. */
static void test_hostile_fmp_float32_start_clamped(void)
{
    const int64_t W = 12579921, OW = 12576890;
    const int64_t xs[] = {1, 1, 1, W}, ss[] = {1, 1, 2}, os[] = {1, OW};
    const float smp[] = {0.5000001192092896f, 0.0f};
    float *x = malloc((size_t)W * sizeof(float));
    up_plan p;
    for (int64_t i = 0; i < W; i++) x[i] = -1.0f;
    up_plan_init(&p, up_op_find("fractional_max_pool"));
    tb_input(&p, "x", UP_F32, 4, xs, x);
    tb_input(&p, "samples", UP_F32, 3, ss, smp);
    tb_int(&p, "kernel_size", 1);
    tb_ints(&p, "output_size", 2, os);
    free(x);
    if (expect_done(&p)) {
        const float *y = p.result[0].data;
        const int64_t *ind = p.result[1].data;
        int64_t bad = 0, max = -1;
        for (int64_t i = 0; i < OW; i++) {
            bad += y[i] != -1.0f || ind[i] < 0 || ind[i] >= W;
            if (ind[i] > max) max = ind[i];
        }
        CHECKF(bad == 0, "%lld outputs outside the plane or wrong", (long long)bad);
        CHECK(max == W - 1);
        CHECK(ind[OW - 2] == W - 1 && ind[OW - 1] == W - 1); /* clamped; last */
        CHECK(ind[OW - 3] == W - 1 && ind[OW - 4] == W - 2);  /* as PyTorch */
    }
    up_plan_free(&p);
}

int main(void)
{
    RUN(test_hostile_max_pool_kernel_2e18_padding_1e18);
    RUN(test_hostile_max_pool_kernel_int32_max_closed_form);
    RUN(test_hostile_max_pool_kernel_2_62_stride_8e18);
    RUN(test_hostile_max_pool_stride_int32_max_one_window);
    RUN(test_hostile_conv_transpose_stride_8e18);
    RUN(test_hostile_conv_transpose_huge_legal_params);
    RUN(test_hostile_empty_huge_max_pool);
    RUN(test_hostile_empty_huge_max_unpool);
    RUN(test_hostile_empty_huge_max_unpool_mask);
    RUN(test_hostile_empty_huge_conv_transpose);
    RUN(test_hostile_empty_huge_fractional_max_pool);
    RUN(test_hostile_empty_huge_nearest_unpool);
    RUN(test_hostile_empty_huge_fractional_max_unpool);
    RUN(test_hostile_empty_batch_huge_output_size);
    RUN(test_hostile_empty_batch_large_plane_is_empty_answer);
    RUN(test_hostile_empty_channels_last_refused_before_permute);
    RUN(test_hostile_converters_empty_large);
    RUN(test_hostile_numel_zero_last);
    RUN(test_hostile_fmp_float32_start_clamped);
    return th_summary();
}
