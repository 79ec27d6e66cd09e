/* test_validate_fmp.c -- every combination fractional_max_pool rejects, one
 * named case each, plus the boundaries it must still accept.
 *
 * Each rejection is checked for its kind (422 = UP_E_INVALID) and for the
 * field it names, since that is what a client reads to fix its request. */
#include <math.h>
#include <string.h>

#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

static up_plan P;

static const int64_t X2[] = {2, 3, 7, 8}; /* (N, C, H, W) */
static const int64_t S2[] = {2, 3, 2};    /* samples (N, C, 2) */

static void start_x(int rank, const int64_t *x)
{
    up_plan_init(&P, up_op_find("fractional_max_pool"));
    tb_input(&P, "x", UP_F32, rank, x, NULL);
}

/* x (2, 3, 7, 8), kernel 2, output_size 4: valid as it is (samples from
 * the default seed). */
static void start(void)
{
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_int(&P, "output_size", 4);
}

static up_error run(void)
{
    up_error err;
    up_error_clear(&err);
    if (up_plan_execute(&P, &err) == 0) up_error_clear(&err);
    up_plan_free(&P);
    return err;
}

static void expect_reject(const char *field)
{
    up_error err = run();
    CHECKF(err.kind == UP_E_INVALID, "kind %d", (int)err.kind);
    CHECKF(tb_err_has_field(&err, field), "expected field %s, got %s: %s", field,
           err.n ? err.items[0].field : "(none)", err.n ? err.items[0].message : "");
}

static void expect_accept(void)
{
    up_error err = run();
    CHECKF(err.kind == UP_OK, "%s: %s", err.n ? err.items[0].field : "",
           err.n ? err.items[0].message : "");
}

static void samples_f32(const int64_t *shape, int rank, float fill)
{
    float v[64];
    for (int i = 0; i < 64; i++) v[i] = fill;
    tb_input(&P, "samples", UP_F32, rank, shape, v);
}

/* ---- x ------------------------------------------------------------------ */

static void test_fmp_rejects_1d_input(void)
{
    static const int64_t x[] = {1, 2, 8};
    start_x(3, x);
    tb_int(&P, "kernel_size", 2);
    tb_int(&P, "output_size", 4);
    expect_reject("inputs.x");
}

static void test_fmp_rejects_zero_channels(void)
{
    static const int64_t x[] = {1, 0, 7, 8};
    start_x(4, x);
    tb_int(&P, "kernel_size", 2);
    tb_int(&P, "output_size", 4);
    expect_reject("inputs.x");
}

static void test_fmp_rejects_int_x(void)
{
    up_plan_init(&P, up_op_find("fractional_max_pool"));
    tb_input(&P, "x", UP_I32, 4, X2, NULL);
    tb_int(&P, "kernel_size", 2);
    tb_int(&P, "output_size", 4);
    expect_reject("inputs.x");
}

/* ---- kernel_size and output size ---------------------------------------- */

static void test_fmp_rejects_kernel_size_missing(void)
{
    start_x(4, X2);
    tb_int(&P, "output_size", 4);
    expect_reject("params.kernel_size");
}

static void test_fmp_rejects_kernel_size_zero(void)
{
    start_x(4, X2);
    tb_int(&P, "kernel_size", 0);
    tb_int(&P, "output_size", 4);
    expect_reject("params.kernel_size");
}

static void test_fmp_rejects_kernel_size_count_mismatch(void)
{
    static const int64_t k[] = {2, 2, 2};
    start_x(4, X2);
    tb_ints(&P, "kernel_size", 3, k);
    tb_int(&P, "output_size", 4);
    expect_reject("params.kernel_size");
}

static void test_fmp_rejects_output_plus_kernel_over_input(void)
{
    /* H: 7 + 2 - 1 = 8 > 7 */
    static const int64_t o[] = {7, 4};
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_ints(&P, "output_size", 2, o);
    expect_reject("params.kernel_size");
}

static void test_fmp_rejects_kernel_larger_than_input(void)
{
    start_x(4, X2);
    tb_int(&P, "kernel_size", 9);
    tb_int(&P, "output_size", 1);
    expect_reject("params.kernel_size");
}

static void test_fmp_accepts_output_plus_kernel_equal_input(void)
{
    static const int64_t o[] = {6, 7};
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_ints(&P, "output_size", 2, o);
    expect_accept();
}

static void test_fmp_accepts_output_plus_kernel_equal_input_3d(void)
{
    /* PyTorch 1.13's 3d check rejects this; the formula is well defined */
    static const int64_t x[] = {1, 1, 4, 5, 6}, o[] = {3, 4, 5};
    start_x(5, x);
    tb_int(&P, "kernel_size", 2);
    tb_ints(&P, "output_size", 3, o);
    expect_accept();
}

static void test_fmp_rejects_neither_output_size_nor_ratio(void)
{
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    expect_reject("params.output_size");
}

static void test_fmp_rejects_both_output_size_and_ratio(void)
{
    static const double r[] = {0.5};
    start();
    tb_floats(&P, "output_ratio", 1, r);
    expect_reject("params.output_ratio");
}

static void test_fmp_rejects_output_ratio_one(void)
{
    static const double r[] = {1.0};
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_floats(&P, "output_ratio", 1, r);
    expect_reject("params.output_ratio");
}

static void test_fmp_rejects_output_ratio_above_one(void)
{
    static const double r[] = {0.5, 1.5};
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_floats(&P, "output_ratio", 2, r);
    expect_reject("params.output_ratio");
}

static void test_fmp_rejects_output_ratio_zero(void)
{
    static const double r[] = {0.0};
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_floats(&P, "output_ratio", 1, r);
    expect_reject("params.output_ratio");
}

static void test_fmp_rejects_output_ratio_nan(void)
{
    const double r[] = {NAN};
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_floats(&P, "output_ratio", 1, r);
    expect_reject("params.output_ratio");
}

static void test_fmp_rejects_output_ratio_giving_zero(void)
{
    /* int(7 * 0.1) = 0 */
    static const double r[] = {0.1};
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_floats(&P, "output_ratio", 1, r);
    expect_reject("params.output_ratio");
}

static void test_fmp_rejects_output_ratio_count_mismatch(void)
{
    static const double r[] = {0.5, 0.5, 0.5};
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_floats(&P, "output_ratio", 3, r);
    expect_reject("params.output_ratio");
}

static void test_fmp_output_ratio_truncates_like_pytorch(void)
{
    /* int(7 * 0.75) = 5, int(8 * 0.75) = 6 */
    static const double r[] = {0.75};
    up_error err;
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_floats(&P, "output_ratio", 1, r);
    up_error_clear(&err);
    CHECK(up_plan_execute(&P, &err) == 0);
    CHECK(P.result[0].shape[2] == 5 && P.result[0].shape[3] == 6);
    CHECK(P.result[1].dtype == UP_I64);
    up_plan_free(&P);
}

static void test_fmp_rejects_output_size_zero(void)
{
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_int(&P, "output_size", 0);
    expect_reject("params.output_size");
}

static void test_fmp_rejects_output_size_full_shape_wrong_batch(void)
{
    static const int64_t full[] = {1, 3, 4, 4};
    start_x(4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_ints(&P, "output_size", 4, full);
    expect_reject("params.output_size");
}

/* ---- samples and seed --------------------------------------------------- */

static void test_fmp_rejects_samples_and_seed(void)
{
    start();
    samples_f32(S2, 3, 0.5f);
    tb_int(&P, "seed", 1);
    expect_reject("params.seed");
}

static void test_fmp_rejects_samples_wrong_batch(void)
{
    static const int64_t s[] = {1, 3, 2};
    start();
    samples_f32(s, 3, 0.5f);
    expect_reject("inputs.samples");
}

static void test_fmp_rejects_samples_wrong_channels(void)
{
    static const int64_t s[] = {2, 2, 2};
    start();
    samples_f32(s, 3, 0.5f);
    expect_reject("inputs.samples");
}

static void test_fmp_rejects_samples_wrong_dims(void)
{
    static const int64_t s[] = {2, 3, 3};
    start();
    samples_f32(s, 3, 0.5f);
    expect_reject("inputs.samples");
}

static void test_fmp_rejects_samples_wrong_rank(void)
{
    static const int64_t s[] = {2, 3, 2, 1};
    start();
    samples_f32(s, 4, 0.5f);
    expect_reject("inputs.samples");
}

static void test_fmp_rejects_sample_one(void)
{
    start();
    samples_f32(S2, 3, 1.0f);
    expect_reject("inputs.samples");
}

static void test_fmp_rejects_negative_sample(void)
{
    start();
    samples_f32(S2, 3, -0.25f);
    expect_reject("inputs.samples");
}

static void test_fmp_rejects_nan_sample(void)
{
    start();
    samples_f32(S2, 3, NAN);
    expect_reject("inputs.samples");
}

static void test_fmp_rejects_int_samples(void)
{
    start();
    tb_input(&P, "samples", UP_I64, 3, S2, NULL);
    expect_reject("inputs.samples");
}

static void test_fmp_rejects_float64_sample_rounding_to_one(void)
{
    /* below 1 in float64, 1.0f once converted to the float32 compute type */
    double v[12];
    start();
    for (int i = 0; i < 12; i++) v[i] = 0.99999999;
    tb_input(&P, "samples", UP_F64, 3, S2, v);
    expect_reject("inputs.samples");
}

static void test_fmp_accepts_sample_zero_and_just_below_one(void)
{
    float v[12];
    start();
    for (int i = 0; i < 12; i++) v[i] = (i & 1) ? 0.99999994f : 0.0f;
    tb_input(&P, "samples", UP_F32, 3, S2, v);
    expect_accept();
}

int main(void)
{
    RUN(test_fmp_rejects_1d_input);
    RUN(test_fmp_rejects_zero_channels);
    RUN(test_fmp_rejects_int_x);
    RUN(test_fmp_rejects_kernel_size_missing);
    RUN(test_fmp_rejects_kernel_size_zero);
    RUN(test_fmp_rejects_kernel_size_count_mismatch);
    RUN(test_fmp_rejects_output_plus_kernel_over_input);
    RUN(test_fmp_rejects_kernel_larger_than_input);
    RUN(test_fmp_accepts_output_plus_kernel_equal_input);
    RUN(test_fmp_accepts_output_plus_kernel_equal_input_3d);
    RUN(test_fmp_rejects_neither_output_size_nor_ratio);
    RUN(test_fmp_rejects_both_output_size_and_ratio);
    RUN(test_fmp_rejects_output_ratio_one);
    RUN(test_fmp_rejects_output_ratio_above_one);
    RUN(test_fmp_rejects_output_ratio_zero);
    RUN(test_fmp_rejects_output_ratio_nan);
    RUN(test_fmp_rejects_output_ratio_giving_zero);
    RUN(test_fmp_rejects_output_ratio_count_mismatch);
    RUN(test_fmp_output_ratio_truncates_like_pytorch);
    RUN(test_fmp_rejects_output_size_zero);
    RUN(test_fmp_rejects_output_size_full_shape_wrong_batch);
    RUN(test_fmp_rejects_samples_and_seed);
    RUN(test_fmp_rejects_samples_wrong_batch);
    RUN(test_fmp_rejects_samples_wrong_channels);
    RUN(test_fmp_rejects_samples_wrong_dims);
    RUN(test_fmp_rejects_samples_wrong_rank);
    RUN(test_fmp_rejects_sample_one);
    RUN(test_fmp_rejects_negative_sample);
    RUN(test_fmp_rejects_nan_sample);
    RUN(test_fmp_rejects_int_samples);
    RUN(test_fmp_rejects_float64_sample_rounding_to_one);
    RUN(test_fmp_accepts_sample_zero_and_just_below_one);
    return th_summary();
}
