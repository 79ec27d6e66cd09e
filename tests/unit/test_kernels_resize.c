/* test_kernels_resize.c -- resize at the kernel level: what neither
 * ONNX's conformance cases nor the PyTorch goldens exercise. Resizing N and
 * C, rank 1, an axis left alone while another is interpolated (it must be
 * copied, not recomputed), int8 with tf_crop_and_resize's extrapolation,
 * the integer refusal, and split independence: the work units run as one
 * chunk or as many uneven chunks in any order give the same bytes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

static up_plan *begin(up_plan *p, up_dtype dt, int rank, const int64_t *shape, const void *x)
{
    up_plan_init(p, up_op_find("resize"));
    tb_input(p, "x", dt, rank, shape, x);
    return p;
}

static int same_floats(const up_tensor *t, const float *want, int64_t n)
{
    int ok = up_tensor_numel(t) == n && t->dtype == UP_F32 &&
             memcmp(t->data, want, (size_t)n * sizeof(float)) == 0;
    if (!ok)
        for (int64_t i = 0; i < up_tensor_numel(t) && i < 24; i++)
            printf("    y[%lld] = %g\n", (long long)i, ((const float *)t->data)[i]);
    return ok;
}

/* (2, 3, 1) -> (4, 6, 1) over axes 0 and 1: y[n][c] = x[n / 2][c / 2]. */
static void batch_and_channel_axes_nearest(void)
{
    up_plan p;
    up_error err;
    static const int64_t sh[] = {2, 3, 1}, sizes[] = {4, 6}, axes[] = {0, 1};
    static const float x[] = {0, 1, 2, 3, 4, 5};
    float want[24];
    begin(&p, UP_F32, 3, sh, x);
    tb_ints(&p, "sizes", 2, sizes);
    tb_ints(&p, "axes", 2, axes);
    tb_enum(&p, "coordinate_transformation_mode", "asymmetric");
    tb_enum(&p, "nearest_mode", "floor");
    for (int n = 0; n < 4; n++)
        for (int c = 0; c < 6; c++) want[n * 6 + c] = x[(n / 2) * 3 + c / 2];
    CHECKF(tb_run_poisoned(&p, 1, &err) == 0, "%s", err.n ? err.items[0].message : "");
    CHECK(p.result[0].rank == 3 && p.result[0].shape[0] == 4 && p.result[0].shape[1] == 6);
    CHECK(same_floats(&p.result[0], want, 24));
    up_plan_free(&p);
}

/* Rank 1, linear, half_pixel x2: the edges clamp, the rest interpolate. */
static void rank1_linear_half_pixel(void)
{
    up_plan p;
    up_error err;
    static const int64_t sh[] = {4};
    static const float x[] = {1, 2, 3, 4}, want[] = {1, 1.25f, 1.75f, 2.25f, 2.75f, 3.25f, 3.75f, 4};
    begin(&p, UP_F32, 1, sh, x);
    tb_floats(&p, "scales", 1, (double[]){2});
    tb_enum(&p, "mode", "linear");
    CHECKF(tb_run_poisoned(&p, 0, &err) == 0, "%s", err.n ? err.items[0].message : "");
    CHECK(same_floats(&p.result[0], want, 8));
    up_plan_free(&p);
}

/* Cubic over axis 1 of (3, 5) only: each row must equal that row resized
 * alone as a rank-1 tensor; axis 0 is copied, not interpolated (an inf in
 * row 0 stays out of rows 1 and 2). */
static void unresized_axis_is_copied(void)
{
    up_plan p, q;
    up_error err;
    static const int64_t sh[] = {3, 5}, sizes[] = {9}, axes[] = {-1}, sh1[] = {5};
    static const float x[] = {1, INFINITY, 3, 4, 5, -2, 0.5f, 7, 1, 3, 8, 6, -1, 2, 2};
    begin(&p, UP_F32, 2, sh, x);
    tb_ints(&p, "sizes", 1, sizes);
    tb_ints(&p, "axes", 1, axes);
    tb_enum(&p, "mode", "cubic");
    CHECKF(tb_run_poisoned(&p, 1, &err) == 0, "%s", err.n ? err.items[0].message : "");
    for (int r = 0; r < 3; r++) {
        begin(&q, UP_F32, 1, sh1, x + 5 * r);
        tb_ints(&q, "sizes", 1, sizes);
        tb_enum(&q, "mode", "cubic");
        CHECKF(tb_run_poisoned(&q, 0, &err) == 0, "%s", err.n ? err.items[0].message : "");
        CHECKF(memcmp((const float *)p.result[0].data + 9 * r, q.result[0].data,
                      9 * sizeof(float)) == 0, "row %d differs", r);
        up_plan_free(&q);
    }
    for (int j = 9; j < 27; j++) CHECK(isfinite(((const float *)p.result[0].data)[j]));
    up_plan_free(&p);
}

/* int8 through tf_crop_and_resize: roi [0, 1.5] on axis 1 of (1, 4) to 4:
 * source 0, 1.5 (round_prefer_floor: 1), 3, 4.5 (past the input: the
 * extrapolation value), answered as int8. */
static void int8_tf_crop_extrapolation(void)
{
    up_plan p;
    up_error err;
    static const int64_t sh[] = {1, 4}, sizes[] = {4}, axes[] = {1}, rsh[] = {2};
    static const int8_t x[] = {-128, -1, 0, 127}, want[] = {-128, -1, 127, -5};
    static const float roi[] = {0, 1.5f};
    begin(&p, UP_I8, 2, sh, x);
    tb_input(&p, "roi", UP_F32, 1, rsh, roi);
    tb_ints(&p, "sizes", 1, sizes);
    tb_ints(&p, "axes", 1, axes);
    tb_enum(&p, "coordinate_transformation_mode", "tf_crop_and_resize");
    tb_floats(&p, "extrapolation_value", 1, (double[]){-5});
    CHECKF(tb_run_poisoned(&p, 0, &err) == 0, "%s", err.n ? err.items[0].message : "");
    CHECK(p.result[0].dtype == UP_I8 && up_tensor_numel(&p.result[0]) == 4);
    CHECK(p.result[0].data && memcmp(p.result[0].data, want, 4) == 0);
    up_plan_free(&p);
}

/* uint8 linear needs rounding: a 422 on params.mode, nothing allocated. */
static void uint8_linear_refused(void)
{
    up_plan p;
    up_error err;
    static const int64_t sh[] = {1, 1, 2, 2};
    static const uint8_t x[] = {1, 2, 3, 4};
    begin(&p, UP_U8, 4, sh, x);
    tb_floats(&p, "scales", 4, (double[]){1, 1, 2, 2});
    tb_enum(&p, "mode", "linear");
    CHECK(tb_run_poisoned(&p, 0, &err) < 0 && tb_err_has_field(&err, "params.mode"));
    CHECK(p.out[0].data == NULL);
    up_plan_free(&p);
}

/* Antialiased cubic over a 3d volume, downsampling one axis and
 * upsampling another: one chunk and many give the same bytes. */
static void split_independence_antialias_3d(void)
{
    up_plan a, b;
    up_error err;
    static const int64_t sh[] = {1, 2, 5, 9, 7}, sizes[] = {3, 4, 11}, axes[] = {2, 3, 4};
    float x[2 * 5 * 9 * 7];
    for (int i = 0; i < (int)(sizeof(x) / sizeof(x[0])); i++) x[i] = (float)((i * 37) % 23) - 11;
    for (int k = 0; k < 2; k++) {
        up_plan *p = k ? &b : &a;
        begin(p, UP_F32, 5, sh, x);
        tb_ints(p, "sizes", 3, sizes);
        tb_ints(p, "axes", 3, axes);
        tb_enum(p, "mode", "cubic");
        tb_int(p, "antialias", 1);
        tb_int(p, "exclude_outside", 1);
        CHECKF(tb_run_poisoned(p, k, &err) == 0, "%s", err.n ? err.items[0].message : "");
    }
    CHECK(up_tensor_numel(&a.result[0]) == 2 * 3 * 4 * 11 &&
          memcmp(a.result[0].data, b.result[0].data, up_tensor_nbytes(&a.result[0])) == 0);
    up_plan_free(&a);
    up_plan_free(&b);
}

int main(void)
{
    RUN(batch_and_channel_axes_nearest);
    RUN(rank1_linear_half_pixel);
    RUN(unresized_axis_is_copied);
    RUN(int8_tf_crop_extrapolation);
    RUN(uint8_linear_refused);
    RUN(split_independence_antialias_3d);
    return th_summary();
}
