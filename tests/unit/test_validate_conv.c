/* test_validate_conv.c -- every combination conv_transpose rejects, one
 * named case each, plus the boundaries it must still accept.
 *
 * Each rejection is checked for its kind (422 = UP_E_INVALID unless noted)
 * and for the field it names, since that is what a client reads to fix its
 * request. */
#include <string.h>

#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

static up_plan P;

static const int64_t X2[] = {1, 4, 3, 3}; /* (N, C_in, H, W) */
static const int64_t W2[] = {4, 2, 3, 3}; /* (C_in, C_out/groups, kH, kW) */

static void start_x(int rank, const int64_t *x, up_dtype dt)
{
    up_plan_init(&P, up_op_find("conv_transpose"));
    tb_input(&P, "x", dt, rank, x, NULL);
}

/* x (1, 4, 3, 3) and weight (4, 2, 3, 3), float32: valid as it is. */
static void start(void)
{
    start_x(4, X2, UP_F32);
    tb_input(&P, "weight", UP_F32, 4, W2, NULL);
}

static up_error run(void)
{
    up_error err;
    up_error_clear(&err);
    if (up_plan_execute(&P, &err) == 0) up_error_clear(&err);
    up_plan_free(&P);
    return err;
}

static void expect_reject_kind(const char *field, up_err_kind kind)
{
    up_error err = run();
    CHECKF(err.kind == kind, "kind %d, expected %d", (int)err.kind, (int)kind);
    CHECKF(tb_err_has_field(&err, field), "expected field %s, got %s: %s", field,
           err.n ? err.items[0].field : "(none)", err.n ? err.items[0].message : "");
}

static void expect_reject(const char *field) { expect_reject_kind(field, UP_E_INVALID); }

static void expect_accept(void)
{
    up_error err = run();
    CHECKF(err.kind == UP_OK, "%s: %s", err.n ? err.items[0].field : "",
           err.n ? err.items[0].message : "");
}

/* ---- inputs ------------------------------------------------------------ */

static void test_conv_rejects_missing_weight(void)
{
    start_x(4, X2, UP_F32);
    expect_reject("inputs.weight");
}

static void test_conv_rejects_weight_c_in_mismatch(void)
{
    static const int64_t w[] = {3, 2, 3, 3};
    start_x(4, X2, UP_F32);
    tb_input(&P, "weight", UP_F32, 4, w, NULL);
    expect_reject("inputs.weight");
}

static void test_conv_rejects_weight_wrong_rank(void)
{
    static const int64_t w[] = {4, 2, 3};
    start_x(4, X2, UP_F32);
    tb_input(&P, "weight", UP_F32, 3, w, NULL);
    expect_reject("inputs.weight");
}

static void test_conv_rejects_weight_zero_kernel_dim(void)
{
    static const int64_t w[] = {4, 2, 0, 3};
    start_x(4, X2, UP_F32);
    tb_input(&P, "weight", UP_F32, 4, w, NULL);
    expect_reject("inputs.weight");
}

static void test_conv_rejects_weight_zero_out_channels(void)
{
    static const int64_t w[] = {4, 0, 3, 3};
    start_x(4, X2, UP_F32);
    tb_input(&P, "weight", UP_F32, 4, w, NULL);
    expect_reject("inputs.weight");
}

static void test_conv_rejects_weight_dtype_differing_from_x(void)
{
    start_x(4, X2, UP_F32);
    tb_input(&P, "weight", UP_F64, 4, W2, NULL);
    expect_reject("inputs.weight");
}

static void test_conv_rejects_half_weight_for_bfloat16_x(void)
{
    start_x(4, X2, UP_BF16);
    tb_input(&P, "weight", UP_F16, 4, W2, NULL);
    expect_reject("inputs.weight");
}

static void test_conv_rejects_bias_wrong_length(void)
{
    static const int64_t b[] = {3};
    start();
    tb_input(&P, "bias", UP_F32, 1, b, NULL);
    expect_reject("inputs.bias");
}

static void test_conv_rejects_bias_wrong_rank(void)
{
    static const int64_t b[] = {1, 2};
    start();
    tb_input(&P, "bias", UP_F32, 2, b, NULL);
    expect_reject("inputs.bias");
}

static void test_conv_rejects_bias_dtype_differing_from_x(void)
{
    static const int64_t b[] = {2};
    start();
    tb_input(&P, "bias", UP_F64, 1, b, NULL);
    expect_reject("inputs.bias");
}

static void test_conv_rejects_bias_length_of_one_group(void)
{
    /* groups 2: C_out = 2 * 2 = 4, a bias of C_out/groups is wrong */
    static const int64_t b[] = {2};
    start();
    tb_int(&P, "groups", 2);
    tb_input(&P, "bias", UP_F32, 1, b, NULL);
    expect_reject("inputs.bias");
}

static void test_conv_rejects_zero_channels(void)
{
    static const int64_t x[] = {1, 0, 3, 3}, w[] = {0, 2, 3, 3};
    start_x(4, x, UP_F32);
    tb_input(&P, "weight", UP_F32, 4, w, NULL);
    expect_reject("inputs.x");
}

static void test_conv_rejects_empty_spatial_dim(void)
{
    static const int64_t x[] = {1, 4, 0, 3};
    start_x(4, x, UP_F32);
    tb_input(&P, "weight", UP_F32, 4, W2, NULL);
    expect_reject("inputs.x");
}

static void test_conv_rejects_rank_2_x(void)
{
    static const int64_t x[] = {1, 4};
    start_x(2, x, UP_F32);
    tb_input(&P, "weight", UP_F32, 4, W2, NULL);
    expect_reject("inputs.x");
}

/* ---- groups ------------------------------------------------------------ */

static void test_conv_rejects_groups_not_dividing_c_in(void)
{
    start();
    tb_int(&P, "groups", 3);
    expect_reject("params.groups");
}

static void test_conv_rejects_groups_zero(void)
{
    start();
    tb_int(&P, "groups", 0);
    expect_reject("params.groups");
}

static void test_conv_rejects_groups_negative(void)
{
    start();
    tb_int(&P, "groups", -2);
    expect_reject("params.groups");
}

static void test_conv_accepts_depthwise_groups(void)
{
    static const int64_t w[] = {4, 1, 3, 3}, b[] = {4};
    start_x(4, X2, UP_F32);
    tb_input(&P, "weight", UP_F32, 4, w, NULL);
    tb_input(&P, "bias", UP_F32, 1, b, NULL);
    tb_int(&P, "groups", 4);
    expect_accept();
}

/* ---- spatial params ---------------------------------------------------- */

static void test_conv_rejects_stride_zero(void)
{
    start();
    tb_int(&P, "stride", 0);
    expect_reject("params.stride");
}

static void test_conv_rejects_stride_count_mismatch(void)
{
    static const int64_t s[] = {1, 2, 1};
    start();
    tb_ints(&P, "stride", 3, s);
    expect_reject("params.stride");
}

static void test_conv_rejects_negative_padding(void)
{
    start();
    tb_int(&P, "padding", -1);
    expect_reject("params.padding");
}

static void test_conv_rejects_dilation_zero(void)
{
    start();
    tb_int(&P, "dilation", 0);
    expect_reject("params.dilation");
}

static void test_conv_rejects_negative_output_padding(void)
{
    start();
    tb_int(&P, "output_padding", -1);
    expect_reject("params.output_padding");
}

static void test_conv_rejects_output_padding_ge_stride_and_dilation(void)
{
    start();
    tb_int(&P, "stride", 2);
    tb_int(&P, "dilation", 2);
    tb_int(&P, "output_padding", 2);
    expect_reject("params.output_padding");
}

static void test_conv_rejects_output_padding_with_default_stride(void)
{
    start();
    tb_int(&P, "output_padding", 1);
    expect_reject("params.output_padding");
}

static void test_conv_accepts_output_padding_below_dilation_only(void)
{
    /* PyTorch: smaller than stride OR dilation */
    start();
    tb_int(&P, "dilation", 3);
    tb_int(&P, "output_padding", 2);
    expect_accept();
}

static void test_conv_rejects_output_too_small(void)
{
    /* (3-1)*1 - 2*3 + 1*(3-1) + 1 = -1 */
    start();
    tb_int(&P, "padding", 3);
    expect_reject("params.padding");
}

static void test_conv_rejects_output_zero(void)
{
    /* (2-1)*1 - 2*1 + 1*(1-1) + 1 = 0 */
    static const int64_t x[] = {1, 4, 2, 2}, w[] = {4, 2, 1, 1};
    start_x(4, x, UP_F32);
    tb_input(&P, "weight", UP_F32, 4, w, NULL);
    tb_int(&P, "padding", 1);
    expect_reject("params.padding");
}

static void test_conv_accepts_output_of_one(void)
{
    static const int64_t x[] = {1, 4, 1, 1}, w[] = {4, 2, 1, 1};
    start_x(4, x, UP_F32);
    tb_input(&P, "weight", UP_F32, 4, w, NULL);
    expect_accept();
}

/* ---- output_size ------------------------------------------------------- */

/* stride 2, kernel 3, in 3: min size (3-1)*2 + 2 + 1 = 7, max 8 */
static void stride2_start(void)
{
    start();
    tb_int(&P, "stride", 2);
}

static void test_conv_rejects_output_size_below_range(void)
{
    stride2_start();
    tb_int(&P, "output_size", 6);
    expect_reject("params.output_size");
}

static void test_conv_rejects_output_size_above_range(void)
{
    stride2_start();
    tb_int(&P, "output_size", 9);
    expect_reject("params.output_size");
}

static void test_conv_accepts_output_size_at_both_ends(void)
{
    stride2_start();
    tb_int(&P, "output_size", 7);
    expect_accept();
    stride2_start();
    tb_int(&P, "output_size", 8);
    expect_accept();
}

static void test_conv_rejects_output_size_above_range_with_stride_1(void)
{
    start();
    tb_int(&P, "output_size", 6); /* min = max = 5 */
    expect_reject("params.output_size");
}

static void test_conv_rejects_output_padding_conflicting_with_output_size(void)
{
    stride2_start();
    tb_int(&P, "output_size", 8); /* needs output_padding 1 */
    tb_int(&P, "output_padding", 0);
    expect_reject("params.output_padding");
}

static void test_conv_accepts_output_padding_agreeing_with_output_size(void)
{
    stride2_start();
    tb_int(&P, "output_size", 8);
    tb_int(&P, "output_padding", 1);
    expect_accept();
}

static void test_conv_rejects_output_size_full_shape_wrong_channels(void)
{
    /* C_out is 2 (weight.shape[1] * groups), not C_in = 4 */
    static const int64_t full[] = {1, 4, 7, 7};
    stride2_start();
    tb_ints(&P, "output_size", 4, full);
    expect_reject("params.output_size");
}

static void test_conv_accepts_output_size_full_shape(void)
{
    static const int64_t full[] = {1, 2, 8, 7};
    stride2_start();
    tb_ints(&P, "output_size", 4, full);
    expect_accept();
}

static void test_conv_rejects_output_size_count_mismatch(void)
{
    static const int64_t sz[] = {7, 7, 7};
    stride2_start();
    tb_ints(&P, "output_size", 3, sz);
    expect_reject("params.output_size");
}

static void test_conv_output_size_sets_the_shape(void)
{
    static const int64_t sz[] = {8, 7};
    up_error err;
    stride2_start();
    tb_ints(&P, "output_size", 2, sz);
    up_error_clear(&err);
    CHECK(up_plan_execute(&P, &err) == 0);
    CHECK(P.result[0].rank == 4);
    CHECK(P.result[0].shape[1] == 2 && P.result[0].shape[2] == 8 && P.result[0].shape[3] == 7);
    CHECK(P.g.out_pad[0] == 1 && P.g.out_pad[1] == 0);
    up_plan_free(&P);
}

/* ---- limits ------------------------------------------------------------ */

static void test_conv_rejects_output_over_element_limit(void)
{
    start();
    P.max_elements = 40; /* output is (1, 2, 5, 5) = 50 */
    expect_reject_kind("outputs.y", UP_E_TOO_LARGE);
}

static void test_conv_rejects_stride_over_int32(void)
{
    /* PyTorch 1.13 reads stride as a 32-bit int (2^31 wraps to a negative
     * stride and is refused); unpoold refuses it by name */
    start();
    tb_int(&P, "stride", INT64_MAX / 2);
    expect_reject("params.stride");
}

static void test_conv_rejects_output_size_overflow_of_empty_batch(void)
{
    /* an empty batch may carry a huge spatial size: (2^40 - 1) * stride
     * overflows int64 and is refused, never computed */
    static const int64_t x[] = {0, 4, (int64_t)1 << 40};
    static const int64_t w[] = {4, 2, 3};
    start_x(3, x, UP_F32);
    tb_input(&P, "weight", UP_F32, 3, w, NULL);
    tb_int(&P, "stride", INT32_MAX);
    expect_reject_kind("inputs.x", UP_E_TOO_LARGE);
}

int main(void)
{
    RUN(test_conv_rejects_missing_weight);
    RUN(test_conv_rejects_weight_c_in_mismatch);
    RUN(test_conv_rejects_weight_wrong_rank);
    RUN(test_conv_rejects_weight_zero_kernel_dim);
    RUN(test_conv_rejects_weight_zero_out_channels);
    RUN(test_conv_rejects_weight_dtype_differing_from_x);
    RUN(test_conv_rejects_half_weight_for_bfloat16_x);
    RUN(test_conv_rejects_bias_wrong_length);
    RUN(test_conv_rejects_bias_wrong_rank);
    RUN(test_conv_rejects_bias_dtype_differing_from_x);
    RUN(test_conv_rejects_bias_length_of_one_group);
    RUN(test_conv_rejects_zero_channels);
    RUN(test_conv_rejects_empty_spatial_dim);
    RUN(test_conv_rejects_rank_2_x);
    RUN(test_conv_rejects_groups_not_dividing_c_in);
    RUN(test_conv_rejects_groups_zero);
    RUN(test_conv_rejects_groups_negative);
    RUN(test_conv_accepts_depthwise_groups);
    RUN(test_conv_rejects_stride_zero);
    RUN(test_conv_rejects_stride_count_mismatch);
    RUN(test_conv_rejects_negative_padding);
    RUN(test_conv_rejects_dilation_zero);
    RUN(test_conv_rejects_negative_output_padding);
    RUN(test_conv_rejects_output_padding_ge_stride_and_dilation);
    RUN(test_conv_rejects_output_padding_with_default_stride);
    RUN(test_conv_accepts_output_padding_below_dilation_only);
    RUN(test_conv_rejects_output_too_small);
    RUN(test_conv_rejects_output_zero);
    RUN(test_conv_accepts_output_of_one);
    RUN(test_conv_rejects_output_size_below_range);
    RUN(test_conv_rejects_output_size_above_range);
    RUN(test_conv_accepts_output_size_at_both_ends);
    RUN(test_conv_rejects_output_size_above_range_with_stride_1);
    RUN(test_conv_rejects_output_padding_conflicting_with_output_size);
    RUN(test_conv_accepts_output_padding_agreeing_with_output_size);
    RUN(test_conv_rejects_output_size_full_shape_wrong_channels);
    RUN(test_conv_accepts_output_size_full_shape);
    RUN(test_conv_rejects_output_size_count_mismatch);
    RUN(test_conv_output_size_sets_the_shape);
    RUN(test_conv_rejects_output_over_element_limit);
    RUN(test_conv_rejects_stride_over_int32);
    RUN(test_conv_rejects_output_size_overflow_of_empty_batch);
    return th_summary();
}
