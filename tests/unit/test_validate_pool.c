/* test_validate_pool.c -- every combination max_pool and max_unpool reject,
 * one named case each, plus the boundaries they must still accept.
 *
 * Each rejection is checked for its kind (422 = UP_E_INVALID) and for the
 * field it names, since that is what a client reads to fix its request.
 * Index faults go through up_plan_execute: the kernel finds the bad element
 * and the plan turns it into an error naming the element and its value. */
#include <stdint.h>
#include <string.h>

#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

static up_plan P;

static void start(const char *op, int rank, const int64_t *xshape)
{
    up_plan_init(&P, up_op_find(op));
    tb_input(&P, "x", UP_F32, rank, xshape, NULL);
}

/* Execute P, expect a 422 naming `field`; returns the error for more checks. */
static up_error expect_reject(const char *field)
{
    up_error err;
    up_error_clear(&err);
    int rc = up_plan_execute(&P, &err);
    CHECK(rc < 0);
    CHECKF(err.kind == UP_E_INVALID, "kind %d", (int)err.kind);
    CHECKF(tb_err_has_field(&err, field), "expected field %s, got %s: %s", field,
           err.n ? err.items[0].field : "(none)", err.n ? err.items[0].message : "");
    up_plan_free(&P);
    return err;
}

static void expect_accept(void)
{
    up_error err;
    up_error_clear(&err);
    int rc = up_plan_execute(&P, &err);
    CHECKF(rc == 0, "%s: %s", err.n ? err.items[0].field : "", err.n ? err.items[0].message : "");
    up_plan_free(&P);
}

static const int64_t X2[] = {1, 2, 2, 2};   /* (N, C, H, W): pooled 2x2 */
static const int64_t Y2[] = {1, 2, 4, 4};   /* its default unpooled shape, kernel 2 */

/* Unpool of X2 with kernel 2 and zero indices (valid). */
static void unpool_start(void)
{
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "indices", UP_I64, 4, X2, NULL);
}

/* ---- max_unpool: inputs ------------------------------------------------ */

static void test_max_unpool_rejects_both_indices_and_mask(void)
{
    unpool_start();
    tb_input(&P, "mask", UP_U8, 4, Y2, NULL);
    expect_reject("inputs.mask");
}

static void test_max_unpool_rejects_neither_indices_nor_mask(void)
{
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    expect_reject("inputs.indices");
}

static void test_max_unpool_rejects_indices_shape_mismatch(void)
{
    static const int64_t bad[] = {1, 2, 2, 3};
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "indices", UP_I64, 4, bad, NULL);
    expect_reject("inputs.indices");
}

static void test_max_unpool_rejects_float_indices(void)
{
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "indices", UP_F32, 4, X2, NULL);
    expect_reject("inputs.indices");
}

static void test_max_unpool_rejects_rank_2_x(void)
{
    static const int64_t x[] = {2, 2};
    start("max_unpool", 2, x);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "indices", UP_I64, 2, x, NULL);
    expect_reject("inputs.x");
}

static void test_max_unpool_rejects_zero_channels(void)
{
    static const int64_t x[] = {1, 0, 2, 2};
    start("max_unpool", 4, x);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "indices", UP_I64, 4, x, NULL);
    expect_reject("inputs.x");
}

static void test_max_unpool_rejects_empty_spatial_dim(void)
{
    static const int64_t x[] = {1, 1, 0, 2};
    start("max_unpool", 4, x);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "indices", UP_I64, 4, x, NULL);
    expect_reject("inputs.x");
}

static void test_max_unpool_rejects_mask_wrong_rank(void)
{
    static const int64_t m[] = {1, 2, 16};
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "mask", UP_U8, 3, m, NULL);
    expect_reject("inputs.mask");
}

static void test_max_unpool_rejects_mask_wrong_channels(void)
{
    static const int64_t m[] = {1, 3, 4, 4};
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "mask", UP_U8, 4, m, NULL);
    expect_reject("inputs.mask");
}

static void test_max_unpool_rejects_mask_too_large(void)
{
    static const int64_t m[] = {1, 2, 6, 4}; /* default 4, stride 2: 6 is out */
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "mask", UP_U8, 4, m, NULL);
    expect_reject("inputs.mask");
}

static void test_max_unpool_rejects_mask_too_small(void)
{
    static const int64_t m[] = {1, 2, 4, 2}; /* default 4, stride 2: 2 is out */
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "mask", UP_U8, 4, m, NULL);
    expect_reject("inputs.mask");
}

static void test_max_unpool_rejects_output_size_differing_from_mask(void)
{
    static const int64_t m[] = {1, 2, 5, 4}, os[] = {4, 4};
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "mask", UP_U8, 4, m, NULL);
    tb_ints(&P, "output_size", 2, os);
    expect_reject("params.output_size");
}

/* ---- max_unpool: params ------------------------------------------------ */

static void test_max_unpool_rejects_kernel_size_missing(void)
{
    start("max_unpool", 4, X2);
    tb_input(&P, "indices", UP_I64, 4, X2, NULL);
    expect_reject("params.kernel_size");
}

static void test_max_unpool_rejects_kernel_size_zero(void)
{
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 0);
    tb_input(&P, "indices", UP_I64, 4, X2, NULL);
    expect_reject("params.kernel_size");
}

static void test_max_unpool_rejects_kernel_size_count_mismatch(void)
{
    static const int64_t k[] = {2, 2, 2};
    start("max_unpool", 4, X2);
    tb_ints(&P, "kernel_size", 3, k);
    tb_input(&P, "indices", UP_I64, 4, X2, NULL);
    expect_reject("params.kernel_size");
}

static void test_max_unpool_rejects_stride_count_mismatch(void)
{
    static const int64_t s[] = {2, 2, 2};
    unpool_start();
    tb_ints(&P, "stride", 3, s);
    expect_reject("params.stride");
}

static void test_max_unpool_rejects_stride_zero(void)
{
    unpool_start();
    tb_int(&P, "stride", 0);
    expect_reject("params.stride");
}

static void test_max_unpool_rejects_negative_padding(void)
{
    unpool_start();
    tb_int(&P, "padding", -1);
    expect_reject("params.padding");
}

static void test_max_unpool_rejects_empty_default_output(void)
{
    /* (2 - 1) * 2 - 2 * 2 + 2 = 0: PyTorch returns an empty tensor and
     * drops every value; unpoold refuses. */
    unpool_start();
    tb_int(&P, "padding", 2);
    expect_reject("params.padding");
}

static void test_max_unpool_rejects_output_size_too_small(void)
{
    static const int64_t os[] = {2, 4}; /* default 4, stride 2: must be > 2 */
    unpool_start();
    tb_ints(&P, "output_size", 2, os);
    expect_reject("params.output_size");
}

static void test_max_unpool_rejects_output_size_too_large(void)
{
    static const int64_t os[] = {4, 6}; /* must be < 6 */
    unpool_start();
    tb_ints(&P, "output_size", 2, os);
    expect_reject("params.output_size");
}

static void test_max_unpool_rejects_output_size_count_mismatch(void)
{
    static const int64_t os[] = {4, 4, 4};
    unpool_start();
    tb_ints(&P, "output_size", 3, os);
    expect_reject("params.output_size");
}

static void test_max_unpool_rejects_output_size_full_shape_wrong_batch(void)
{
    static const int64_t os[] = {2, 2, 4, 4};
    unpool_start();
    tb_ints(&P, "output_size", 4, os);
    expect_reject("params.output_size");
}

static void test_max_unpool_rejects_overflowing_geometry(void)
{
    /* (2 - 1) * INT64_MAX + INT64_MAX overflows int64 */
    unpool_start();
    tb_int(&P, "kernel_size", INT64_MAX);
    tb_int(&P, "stride", INT64_MAX);
    expect_reject("params.kernel_size");
}

static void test_max_unpool_accepts_output_size_at_both_ends(void)
{
    static const int64_t lo[] = {3, 3}, hi[] = {5, 5};
    unpool_start();
    tb_ints(&P, "output_size", 2, lo);
    expect_accept();
    unpool_start();
    tb_ints(&P, "output_size", 2, hi);
    expect_accept();
}

/* ---- max_unpool: index faults (found by the kernel) -------------------- */

/* Indices for X2 (1, 2, 2, 2), with idx[bad] = value, others valid. */
static void unpool_with_index(const char *layout, int64_t bad, int64_t value)
{
    int64_t idx[8] = {0, 1, 4, 5, 0, 1, 4, 5};
    if (strcmp(layout, "plane") != 0) {
        /* valid indices in the given layout: (n=0, c, pos) */
        for (int e = 0; e < 8; e++) {
            int64_t c = e / 4, pos = idx[e];
            if (!strcmp(layout, "tensor")) idx[e] = c * 16 + pos;
            else idx[e] = pos * 2 + c; /* hwc and nhwc agree for n = 0 */
        }
        tb_enum(&P, "index_layout", layout);
    }
    idx[bad] = value;
    tb_input(&P, "indices", UP_I64, 4, X2, idx);
}

static void check_names_element(const up_error *e, const char *coords, const char *value)
{
    CHECK(e->n > 0);
    if (e->n == 0) return;
    CHECKF(strstr(e->items[0].message, coords) != NULL, "message: %s", e->items[0].message);
    CHECKF(strstr(e->items[0].message, value) != NULL, "message: %s", e->items[0].message);
}

static void test_max_unpool_rejects_index_out_of_plane(void)
{
    up_error e;
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    unpool_with_index("plane", 3, 16); /* plane has 16 positions */
    e = expect_reject("inputs.indices");
    check_names_element(&e, "[0, 0, 1, 1]", "value 16");
}

static void test_max_unpool_rejects_negative_index(void)
{
    up_error e;
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    unpool_with_index("plane", 6, -1);
    e = expect_reject("inputs.indices");
    check_names_element(&e, "[0, 1, 1, 0]", "value -1");
}

static void test_max_unpool_rejects_index_beyond_output_size(void)
{
    /* 9 fits the default 4x4 plane but not the requested 3x3 one */
    static const int64_t os[] = {3, 3};
    up_error e;
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_ints(&P, "output_size", 2, os);
    unpool_with_index("plane", 2, 9);
    e = expect_reject("inputs.indices");
    check_names_element(&e, "[0, 0, 1, 0]", "value 9");
}

static void test_max_unpool_rejects_tensor_layout_index_in_other_plane(void)
{
    /* element of channel 0 pointing into channel 1's plane (16..31) */
    up_error e;
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    unpool_with_index("tensor", 1, 17);
    e = expect_reject("inputs.indices");
    check_names_element(&e, "[0, 0, 0, 1]", "value 17");
}

static void test_max_unpool_rejects_hwc_index_of_other_channel(void)
{
    /* hwc: pos * C + c; 2 * 2 + 1 is channel 1, given to a channel-0 element */
    up_error e;
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    unpool_with_index("hwc", 0, 5);
    e = expect_reject("inputs.indices");
    check_names_element(&e, "[0, 0, 0, 0]", "value 5");
}

static void test_max_unpool_rejects_nhwc_index_of_other_batch(void)
{
    /* N = 2: nhwc (n * 16 + pos) * 2 + c; batch 1's index given in batch 0 */
    static const int64_t x[] = {2, 1, 1, 1};
    int64_t idx[2] = {(1 * 4 + 0) * 1 + 0, (1 * 4 + 3) * 1 + 0};
    up_error e;
    start("max_unpool", 4, x);
    tb_int(&P, "kernel_size", 2);
    tb_enum(&P, "index_layout", "nhwc");
    tb_input(&P, "indices", UP_I64, 4, x, idx);
    e = expect_reject("inputs.indices");
    check_names_element(&e, "[0, 0, 0, 0]", "value 4");
}

static void test_max_unpool_rejects_int32_index_out_of_plane(void)
{
    int32_t idx[8] = {0, 1, 4, 5, 0, 1, 4, 99};
    up_error e;
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_input(&P, "indices", UP_I32, 4, X2, idx);
    e = expect_reject("inputs.indices");
    check_names_element(&e, "[0, 1, 1, 1]", "value 99");
}

static void test_max_unpool_fault_names_element_in_channels_last(void)
{
    /* channels-last (N, H, W, C) = (1, 2, 2, 2): element [0, 1, 0, 1] of the
     * client's tensor is logical (n=0, c=1, h=1, w=0) */
    int64_t idx[8] = {0, 0, 1, 1, 4, 99, 5, 5};
    up_error e;
    start("max_unpool", 4, X2);
    tb_int(&P, "kernel_size", 2);
    tb_enum(&P, "layout", "channels_last");
    tb_input(&P, "indices", UP_I64, 4, X2, idx);
    e = expect_reject("inputs.indices");
    check_names_element(&e, "[0, 1, 0, 1]", "value 99");
}

/* ---- max_pool ------------------------------------------------------------ */

static const int64_t XP[] = {1, 1, 5, 5};

static void pool_start(int64_t k)
{
    start("max_pool", 4, XP);
    tb_int(&P, "kernel_size", k);
}

static void test_max_pool_rejects_kernel_size_missing(void)
{
    start("max_pool", 4, XP);
    expect_reject("params.kernel_size");
}

static void test_max_pool_rejects_kernel_size_zero(void)
{
    pool_start(0);
    expect_reject("params.kernel_size");
}

static void test_max_pool_rejects_kernel_size_count_mismatch(void)
{
    static const int64_t k[] = {2, 2, 2};
    start("max_pool", 4, XP);
    tb_ints(&P, "kernel_size", 3, k);
    expect_reject("params.kernel_size");
}

static void test_max_pool_rejects_stride_zero(void)
{
    pool_start(2);
    tb_int(&P, "stride", 0);
    expect_reject("params.stride");
}

static void test_max_pool_rejects_stride_count_mismatch(void)
{
    static const int64_t s[] = {1, 1, 1, 1};
    pool_start(2);
    tb_ints(&P, "stride", 4, s);
    expect_reject("params.stride");
}

static void test_max_pool_rejects_dilation_zero(void)
{
    pool_start(2);
    tb_int(&P, "dilation", 0);
    expect_reject("params.dilation");
}

static void test_max_pool_rejects_negative_padding(void)
{
    pool_start(2);
    tb_int(&P, "padding", -1);
    expect_reject("params.padding");
}

static void test_max_pool_rejects_pad_over_half_kernel(void)
{
    static const int64_t pad[] = {1, 2};
    pool_start(3);
    tb_ints(&P, "padding", 2, pad);
    expect_reject("params.padding");
}

static void test_max_pool_accepts_pad_half_kernel(void)
{
    pool_start(2);
    tb_int(&P, "padding", 1);
    expect_accept();
}

static void test_max_pool_rejects_output_empty(void)
{
    pool_start(6); /* 5 - 6 + 1 = 0 windows */
    expect_reject("params.kernel_size");
}

static void test_max_pool_rejects_output_empty_with_dilation(void)
{
    pool_start(3);
    tb_int(&P, "dilation", 3); /* dilated kernel 7 > 5 + 2 * 0 */
    expect_reject("params.kernel_size");
}

static void test_max_pool_rejects_overflowing_dilation(void)
{
    pool_start(3);
    tb_int(&P, "dilation", INT64_MAX); /* over PyTorch's 32-bit limit */
    expect_reject("params.dilation");
}

static void test_max_pool_accepts_huge_stride(void)
{
    pool_start(1);
    tb_int(&P, "stride", INT32_MAX); /* one window per dim, as in PyTorch */
    expect_accept();
}

static void test_max_pool_rejects_stride_over_int32(void)
{
    /* PyTorch 1.13: "integer out of range" */
    pool_start(1);
    tb_int(&P, "stride", (int64_t)INT32_MAX + 1);
    up_error e = expect_reject("params.stride");
    CHECK(strstr(e.items[0].message, "must be <= 2147483647") != NULL);
}

static void test_max_pool_rejects_window_over_padded_input_dilated(void)
{
    /* (3 - 1) * 2 + 1 = 5 > 4 + 2 * 0: the field is kernel_size, the
     * message names the dilated window */
    static const int64_t x[] = {1, 1, 4};
    start("max_pool", 3, x);
    tb_int(&P, "kernel_size", 3);
    tb_int(&P, "dilation", 2);
    tb_int(&P, "ceil_mode", 1);
    up_error e = expect_reject("params.kernel_size");
    CHECK(strstr(e.items[0].message, "larger than the padded input") != NULL);
}

static void test_max_pool_rejects_output_empty_1d(void)
{
    /* floor((2 - 2 - 1) / 3) + 1 = 0 */
    static const int64_t x[] = {2, 3, 2};
    start("max_pool", 3, x);
    tb_int(&P, "kernel_size", 3);
    expect_reject("params.kernel_size");
}

static void test_max_pool_ceil_mode_rejects_window_over_padded_input(void)
{
    /* the same with ceil_mode: ceil((2 - 3) / 3) + 1 = 1 and PyTorch gives
     * one output from a window that hangs past both ends of the input;
     * unpoold refuses any window larger than the padded input (422) */
    static const int64_t x[] = {2, 3, 2};
    start("max_pool", 3, x);
    tb_int(&P, "kernel_size", 3);
    tb_int(&P, "ceil_mode", 1);
    expect_reject("params.kernel_size");
}

static void test_max_pool_ceil_mode_accepts_partial_window(void)
{
    /* in 5, kernel 3, stride 3: ceil gives 2 windows, the second one [3, 6)
     * partly past the input, as in PyTorch */
    static const int64_t x[] = {2, 3, 5};
    start("max_pool", 3, x);
    tb_int(&P, "kernel_size", 3);
    tb_int(&P, "ceil_mode", 1);
    expect_accept();
}

static void test_max_pool_rejects_empty_spatial_dim(void)
{
    static const int64_t x[] = {1, 1, 0, 4};
    start("max_pool", 4, x);
    tb_int(&P, "kernel_size", 1);
    expect_reject("inputs.x");
}

static void test_max_pool_rejects_zero_channels(void)
{
    static const int64_t x[] = {1, 0, 4, 4};
    start("max_pool", 4, x);
    tb_int(&P, "kernel_size", 2);
    expect_reject("inputs.x");
}

static void test_max_pool_rejects_rank_2_x(void)
{
    static const int64_t x[] = {4, 4};
    start("max_pool", 2, x);
    tb_int(&P, "kernel_size", 2);
    expect_reject("inputs.x");
}

static void test_max_pool_rejects_int_x(void)
{
    up_plan_init(&P, up_op_find("max_pool"));
    tb_input(&P, "x", UP_I64, 4, XP, NULL);
    tb_int(&P, "kernel_size", 2);
    expect_reject("inputs.x");
}

int main(void)
{
    RUN(test_max_unpool_rejects_both_indices_and_mask);
    RUN(test_max_unpool_rejects_neither_indices_nor_mask);
    RUN(test_max_unpool_rejects_indices_shape_mismatch);
    RUN(test_max_unpool_rejects_float_indices);
    RUN(test_max_unpool_rejects_rank_2_x);
    RUN(test_max_unpool_rejects_zero_channels);
    RUN(test_max_unpool_rejects_empty_spatial_dim);
    RUN(test_max_unpool_rejects_mask_wrong_rank);
    RUN(test_max_unpool_rejects_mask_wrong_channels);
    RUN(test_max_unpool_rejects_mask_too_large);
    RUN(test_max_unpool_rejects_mask_too_small);
    RUN(test_max_unpool_rejects_output_size_differing_from_mask);
    RUN(test_max_unpool_rejects_kernel_size_missing);
    RUN(test_max_unpool_rejects_kernel_size_zero);
    RUN(test_max_unpool_rejects_kernel_size_count_mismatch);
    RUN(test_max_unpool_rejects_stride_count_mismatch);
    RUN(test_max_unpool_rejects_stride_zero);
    RUN(test_max_unpool_rejects_negative_padding);
    RUN(test_max_unpool_rejects_empty_default_output);
    RUN(test_max_unpool_rejects_output_size_too_small);
    RUN(test_max_unpool_rejects_output_size_too_large);
    RUN(test_max_unpool_rejects_output_size_count_mismatch);
    RUN(test_max_unpool_rejects_output_size_full_shape_wrong_batch);
    RUN(test_max_unpool_rejects_overflowing_geometry);
    RUN(test_max_unpool_accepts_output_size_at_both_ends);
    RUN(test_max_unpool_rejects_index_out_of_plane);
    RUN(test_max_unpool_rejects_negative_index);
    RUN(test_max_unpool_rejects_index_beyond_output_size);
    RUN(test_max_unpool_rejects_tensor_layout_index_in_other_plane);
    RUN(test_max_unpool_rejects_hwc_index_of_other_channel);
    RUN(test_max_unpool_rejects_nhwc_index_of_other_batch);
    RUN(test_max_unpool_rejects_int32_index_out_of_plane);
    RUN(test_max_unpool_fault_names_element_in_channels_last);
    RUN(test_max_pool_rejects_kernel_size_missing);
    RUN(test_max_pool_rejects_kernel_size_zero);
    RUN(test_max_pool_rejects_kernel_size_count_mismatch);
    RUN(test_max_pool_rejects_stride_zero);
    RUN(test_max_pool_rejects_stride_count_mismatch);
    RUN(test_max_pool_rejects_dilation_zero);
    RUN(test_max_pool_rejects_negative_padding);
    RUN(test_max_pool_rejects_pad_over_half_kernel);
    RUN(test_max_pool_accepts_pad_half_kernel);
    RUN(test_max_pool_rejects_output_empty);
    RUN(test_max_pool_rejects_output_empty_with_dilation);
    RUN(test_max_pool_rejects_overflowing_dilation);
    RUN(test_max_pool_accepts_huge_stride);
    RUN(test_max_pool_rejects_stride_over_int32);
    RUN(test_max_pool_rejects_window_over_padded_input_dilated);
    RUN(test_max_pool_rejects_output_empty_1d);
    RUN(test_max_pool_ceil_mode_rejects_window_over_padded_input);
    RUN(test_max_pool_ceil_mode_accepts_partial_window);
    RUN(test_max_pool_rejects_empty_spatial_dim);
    RUN(test_max_pool_rejects_zero_channels);
    RUN(test_max_pool_rejects_rank_2_x);
    RUN(test_max_pool_rejects_int_x);
    return th_summary();
}
