/* test_validate_interp.c -- every combination of params and inputs that
 * nearest_unpool and fractional_max_unpool reject, one named test each,
 * checking the error kind and the field it names (what a client sees as
 * the problem+json "errors" entry). Bad indices are found by the kernel, so
 * those tests run the plan and check the error that finishing it gives. */
#include <math.h>
#include <string.h>

#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

static up_plan p;
static up_error err;

static void start(const char *op, int rank, const int64_t *shape)
{
    up_plan_init(&p, up_op_find(op));
    up_error_clear(&err);
    tb_input(&p, "x", UP_F32, rank, shape, NULL);
}

/* Prepare must fail with kind and name field; the plan is freed. */
static void expect_reject(up_err_kind kind, const char *field)
{
    int rc = up_plan_prepare(&p, &err);
    CHECKF(rc < 0, "prepare accepted the plan");
    CHECKF(err.kind == kind, "kind %d, expected %d", err.kind, kind);
    CHECKF(tb_err_has_field(&err, field), "no error names %s (first: %s: %s)", field,
           err.n ? err.items[0].field : "-", err.n ? err.items[0].message : "-");
    up_plan_free(&p);
}

static const int64_t x2d[4] = {2, 3, 4, 5};

/* ---- nearest_unpool ---- */

static void nearest_rejects_scale_factor_and_output_size(void)
{
    start("nearest_unpool", 4, x2d);
    tb_floats(&p, "scale_factor", 1, (double[]){2});
    tb_ints(&p, "output_size", 2, (int64_t[]){8, 10});
    int rc = up_plan_prepare(&p, &err);
    CHECK(rc < 0 && err.kind == UP_E_INVALID);
    CHECK(tb_err_has_field(&err, "params.scale_factor"));
    CHECK(tb_err_has_field(&err, "params.output_size"));
    up_plan_free(&p);
}

static void nearest_rejects_neither_scale_nor_size(void)
{
    start("nearest_unpool", 4, x2d);
    expect_reject(UP_E_INVALID, "params.scale_factor");
}

static void nearest_rejects_zero_scale_factor(void)
{
    start("nearest_unpool", 4, x2d);
    tb_floats(&p, "scale_factor", 1, (double[]){0});
    expect_reject(UP_E_INVALID, "params.scale_factor");
}

static void nearest_rejects_negative_scale_factor(void)
{
    start("nearest_unpool", 4, x2d);
    tb_floats(&p, "scale_factor", 2, (double[]){2, -1.5});
    expect_reject(UP_E_INVALID, "params.scale_factor");
}

static void nearest_rejects_infinite_scale_factor(void)
{
    start("nearest_unpool", 4, x2d);
    tb_floats(&p, "scale_factor", 1, (double[]){INFINITY});
    expect_reject(UP_E_INVALID, "params.scale_factor");
}

static void nearest_rejects_scale_factor_emptying_a_dim(void)
{
    /* floor(4 * 0.2) = 0 */
    start("nearest_unpool", 4, x2d);
    tb_floats(&p, "scale_factor", 1, (double[]){0.2});
    expect_reject(UP_E_INVALID, "params.scale_factor");
}

static void nearest_rejects_wrong_scale_factor_count(void)
{
    start("nearest_unpool", 4, x2d);
    tb_floats(&p, "scale_factor", 3, (double[]){2, 2, 2});
    expect_reject(UP_E_INVALID, "params.scale_factor");
}

static void nearest_rejects_output_size_zero(void)
{
    start("nearest_unpool", 4, x2d);
    tb_ints(&p, "output_size", 2, (int64_t[]){0, 3});
    expect_reject(UP_E_INVALID, "params.output_size");
}

static void nearest_rejects_wrong_output_size_count(void)
{
    start("nearest_unpool", 4, x2d);
    tb_ints(&p, "output_size", 3, (int64_t[]){4, 4, 4});
    expect_reject(UP_E_INVALID, "params.output_size");
}

static void nearest_rejects_full_shape_with_other_channels(void)
{
    start("nearest_unpool", 4, x2d);
    tb_ints(&p, "output_size", 4, (int64_t[]){2, 4, 8, 10});
    expect_reject(UP_E_INVALID, "params.output_size");
}

static void nearest_rejects_huge_scale_factor(void)
{
    start("nearest_unpool", 4, x2d);
    tb_floats(&p, "scale_factor", 1, (double[]){1e300});
    expect_reject(UP_E_TOO_LARGE, "params.scale_factor");
}

static void nearest_rejects_output_over_element_limit(void)
{
    start("nearest_unpool", 4, x2d);
    p.max_elements = 1000;
    tb_floats(&p, "scale_factor", 1, (double[]){4}); /* 2*3*16*20 = 1920 */
    expect_reject(UP_E_TOO_LARGE, "outputs.y");
}

static void nearest_rejects_empty_spatial_dim(void)
{
    start("nearest_unpool", 4, (int64_t[]){2, 3, 0, 5});
    tb_ints(&p, "output_size", 1, (int64_t[]){4});
    expect_reject(UP_E_INVALID, "inputs.x");
    CHECK(err.n && strstr(err.items[0].message, "spatial size"));
}

/* ---- fractional_max_unpool, interpolation form ---- */

static void fmu_rejects_scale_factor_and_output_size(void)
{
    start("fractional_max_unpool", 3, (int64_t[]){1, 2, 5});
    tb_floats(&p, "scale_factor", 1, (double[]){1.5});
    tb_ints(&p, "output_size", 1, (int64_t[]){7});
    expect_reject(UP_E_INVALID, "params.output_size");
}

static void fmu_rejects_neither_scale_nor_size(void)
{
    start("fractional_max_unpool", 5, (int64_t[]){1, 2, 3, 3, 3});
    expect_reject(UP_E_INVALID, "params.scale_factor");
}

static void fmu_rejects_zero_scale_factor(void)
{
    start("fractional_max_unpool", 4, x2d);
    tb_floats(&p, "scale_factor", 2, (double[]){1.5, 0});
    expect_reject(UP_E_INVALID, "params.scale_factor");
}

static void fmu_rejects_scale_factor_emptying_a_dim(void)
{
    start("fractional_max_unpool", 4, (int64_t[]){1, 1, 1, 5});
    tb_floats(&p, "scale_factor", 1, (double[]){0.5}); /* floor(1 * 0.5) = 0 */
    expect_reject(UP_E_INVALID, "params.scale_factor");
}

static void fmu_rejects_wrong_output_size_count(void)
{
    start("fractional_max_unpool", 5, (int64_t[]){1, 2, 3, 3, 3});
    tb_ints(&p, "output_size", 2, (int64_t[]){6, 6});
    expect_reject(UP_E_INVALID, "params.output_size");
}

/* ---- fractional_max_unpool, indices form ---- */

static void start_indices(const int64_t *idx_shape, const int64_t *idx)
{
    static const int64_t xs[4] = {1, 2, 2, 2};
    static const float xv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    up_plan_init(&p, up_op_find("fractional_max_unpool"));
    up_error_clear(&err);
    tb_input(&p, "x", UP_F32, 4, xs, xv);
    tb_input(&p, "indices", UP_I64, 4, idx_shape, idx);
}

static const int64_t idx_shape[4] = {1, 2, 2, 2};
static const int64_t good_idx[8] = {0, 5, 10, 15, 1, 4, 11, 14};

static void fmu_indices_require_output_size(void)
{
    start_indices(idx_shape, good_idx);
    expect_reject(UP_E_INVALID, "params.output_size");
}

static void fmu_indices_reject_scale_factor(void)
{
    start_indices(idx_shape, good_idx);
    tb_floats(&p, "scale_factor", 1, (double[]){2});
    tb_ints(&p, "output_size", 2, (int64_t[]){4, 4});
    expect_reject(UP_E_INVALID, "params.scale_factor");
}

static void fmu_indices_reject_other_shape(void)
{
    start_indices((int64_t[]){1, 2, 2, 1}, good_idx);
    tb_ints(&p, "output_size", 2, (int64_t[]){4, 4});
    expect_reject(UP_E_INVALID, "inputs.indices");
}

static void fmu_indices_reject_float_dtype(void)
{
    up_plan_init(&p, up_op_find("fractional_max_unpool"));
    up_error_clear(&err);
    tb_input(&p, "x", UP_F32, 4, idx_shape, NULL);
    tb_input(&p, "indices", UP_F32, 4, idx_shape, NULL);
    tb_ints(&p, "output_size", 2, (int64_t[]){4, 4});
    expect_reject(UP_E_INVALID, "inputs.indices");
}

/* Prepare succeeds; running must fault and finishing must name the
 * indices input, the element (in x's coordinates) and its value. Runs the
 * units one at a time, last first, so the first bad element is reported
 * whatever the order the chunks finish in. */
static void expect_bad_index(const char *where, const char *value)
{
    up_fault all, f;
    CHECKF(up_plan_prepare(&p, &err) == 0, "prepare: %s", err.n ? err.items[0].message : "");
    up_fault_init(&all);
    for (int64_t u = p.work_units - 1; u >= 0; u--) {
        up_fault_init(&f);
        up_plan_run(&p, u, u + 1, &f);
        up_fault_merge(&all, &f);
    }
    CHECK(up_plan_finish(&p, &all, &err) < 0);
    CHECK(err.kind == UP_E_INVALID);
    CHECK(tb_err_has_field(&err, "inputs.indices"));
    CHECKF(err.n && strstr(err.items[0].message, where), "message lacks %s: %s", where,
           err.n ? err.items[0].message : "");
    CHECKF(err.n && strstr(err.items[0].message, value), "message lacks %s: %s", value,
           err.n ? err.items[0].message : "");
    up_plan_free(&p);
}

static void fmu_index_past_plane_names_element(void)
{
    int64_t idx[8] = {0, 5, 10, 15, 1, 16, 11, 99};
    start_indices(idx_shape, idx);
    tb_ints(&p, "output_size", 2, (int64_t[]){4, 4});
    expect_bad_index("[0, 1, 0, 1]", "value 16,");
}

static void fmu_index_negative_names_element(void)
{
    int64_t idx[8] = {0, 5, -3, 15, 1, 4, 11, 14};
    start_indices(idx_shape, idx);
    tb_ints(&p, "output_size", 2, (int64_t[]){4, 4});
    expect_bad_index("[0, 0, 1, 0]", "value -3,");
}

static void fmu_index_smaller_output_size_faults(void)
{
    /* 15 is fine in 4x4, not in 3x3 */
    start_indices(idx_shape, good_idx);
    tb_ints(&p, "output_size", 2, (int64_t[]){3, 3});
    expect_bad_index("[0, 0, 1, 0]", "value 10,");
}

static void fmu_tensor_index_in_other_plane_faults(void)
{
    /* tensor layout: channel 1 owns [16, 32); 3 points into channel 0 */
    int64_t idx[8] = {0, 5, 10, 15, 17, 3, 27, 30};
    start_indices(idx_shape, idx);
    tb_ints(&p, "output_size", 2, (int64_t[]){4, 4});
    tb_enum(&p, "index_layout", "tensor");
    expect_bad_index("[0, 1, 0, 1]", "value 3,");
}

static void fmu_hwc_index_of_other_channel_faults(void)
{
    /* hwc with C = 2: channel 0 uses even indices */
    int64_t idx[8] = {0, 2, 7, 30, 1, 3, 5, 7};
    start_indices(idx_shape, idx);
    tb_ints(&p, "output_size", 2, (int64_t[]){4, 4});
    tb_enum(&p, "index_layout", "hwc");
    expect_bad_index("[0, 0, 1, 0]", "value 7,");
}

int main(void)
{
    RUN(nearest_rejects_scale_factor_and_output_size);
    RUN(nearest_rejects_neither_scale_nor_size);
    RUN(nearest_rejects_zero_scale_factor);
    RUN(nearest_rejects_negative_scale_factor);
    RUN(nearest_rejects_infinite_scale_factor);
    RUN(nearest_rejects_scale_factor_emptying_a_dim);
    RUN(nearest_rejects_wrong_scale_factor_count);
    RUN(nearest_rejects_output_size_zero);
    RUN(nearest_rejects_wrong_output_size_count);
    RUN(nearest_rejects_full_shape_with_other_channels);
    RUN(nearest_rejects_huge_scale_factor);
    RUN(nearest_rejects_output_over_element_limit);
    RUN(nearest_rejects_empty_spatial_dim);
    RUN(fmu_rejects_scale_factor_and_output_size);
    RUN(fmu_rejects_neither_scale_nor_size);
    RUN(fmu_rejects_zero_scale_factor);
    RUN(fmu_rejects_scale_factor_emptying_a_dim);
    RUN(fmu_rejects_wrong_output_size_count);
    RUN(fmu_indices_require_output_size);
    RUN(fmu_indices_reject_scale_factor);
    RUN(fmu_indices_reject_other_shape);
    RUN(fmu_indices_reject_float_dtype);
    RUN(fmu_index_past_plane_names_element);
    RUN(fmu_index_negative_names_element);
    RUN(fmu_index_smaller_output_size_faults);
    RUN(fmu_tensor_index_in_other_plane_faults);
    RUN(fmu_hwc_index_of_other_channel_faults);
    return th_summary();
}
