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

/* ---- the linear x2 path (resize_impl.h, rs_x2_*) ----
 * Its answer must be the general path's bits. The reference below is that
 * path's arithmetic written out: per output row the blend of its two input
 * rows with H's weights, then per output column the blend of two blended
 * columns with W's weights, each product and sum rounded to T; the edge
 * outputs take weights 1 and 0, so a NaN or infinity next to an edge
 * poisons it (0 * inf) exactly as the general path does. */
static double x2_w(int64_t j, int64_t in, int64_t *st, double *w1)
{
    int64_t m = j / 2;
    if (j == 0) return *st = 0, *w1 = 0, 1;
    if (j == 2 * in - 1) return *st = in - 2, *w1 = 1, 0;
    if (j % 2 == 0) return *st = m - 1, *w1 = 0.75, 0.25;
    return *st = m, *w1 = 0.25, 0.75;
}

#define X2_REF(T, NAME)                                                                   \
    static void NAME(const T *x, int64_t planes, int64_t H, int64_t W, T *y)                \
    {                                                                                     \
        T *b = malloc((size_t)W * sizeof(T));                                             \
        for (int64_t pl = 0; pl < planes; pl++)                                           \
            for (int64_t oh = 0; oh < 2 * H; oh++) {                                      \
                int64_t sh, sw;                                                           \
                double h1, w1, h0 = x2_w(oh, H, &sh, &h1), w0;                            \
                const T *s0 = x + (pl * H + sh) * W, *s1 = s0 + W;                        \
                for (int64_t i = 0; i < W; i++) {                                         \
                    T p = (T)h0 * s0[i], q = (T)h1 * s1[i];                               \
                    b[i] = p + q;                                                         \
                }                                                                         \
                for (int64_t ow = 0; ow < 2 * W; ow++) {                                  \
                    w0 = x2_w(ow, W, &sw, &w1);                                           \
                    T p = (T)w0 * b[sw], q = (T)w1 * b[sw + 1];                           \
                    y[(pl * 2 * H + oh) * 2 * W + ow] = p + q;                            \
                }                                                                         \
            }                                                                             \
        free(b);                                                                          \
    }
X2_REF(float, x2_ref_f32)
X2_REF(double, x2_ref_f64)

/* x of shape (2, 3, H, W) (or (H, W) when rank 2) resized x2 over the
 * last two axes with ct, in one chunk and in uneven chunks (which split
 * the row pairs the path makes), against the reference. Values are
 * random, with NaN, infinity and -0 at the edges and inside. */
static int x2_case(up_dtype dt, int rank, int64_t H, int64_t W, const char *ct)
{
    int64_t planes = rank == 2 ? 1 : 6, n = planes * H * W, on = 4 * n;
    int64_t sh[4] = {2, 3, H, W}, *shape = rank == 2 ? sh + 2 : sh;
    size_t es = dt == UP_F32 ? 4 : 8;
    void *x = malloc((size_t)n * es), *want = malloc((size_t)on * es);
    int ok = 1;
    srand(7);
    for (int64_t i = 0; i < n; i++) {
        double v = (double)rand() / RAND_MAX * 200 - 100;
        if (i == 1) v = NAN; /* next to the first edge column */
        if (i == W - 2) v = INFINITY;
        if (i == 2 * W + 3) v = -0.0;
        if (i == n / 2) v = -INFINITY;
        if (dt == UP_F32) ((float *)x)[i] = (float)v;
        else ((double *)x)[i] = v;
    }
    if (dt == UP_F32) x2_ref_f32(x, planes, H, W, want);
    else x2_ref_f64(x, planes, H, W, want);
    for (int chunked = 0; chunked <= 1; chunked++) {
        up_plan p;
        up_error err;
        int64_t axes[2] = {rank - 2, rank - 1};
        begin(&p, dt, rank, shape, x);
        tb_floats(&p, "scales", 2, (double[]){2, 2});
        tb_ints(&p, "axes", 2, axes);
        tb_enum(&p, "mode", "linear");
        if (ct) tb_enum(&p, "coordinate_transformation_mode", ct);
        if (tb_run_poisoned(&p, chunked, &err) < 0) {
            printf("    %s\n", err.n ? err.items[0].message : "");
            ok = 0;
        } else if (up_tensor_numel(&p.result[0]) != on) {
            ok = 0;
        } else {
            for (int64_t i = 0, shown = 0; i < on; i++) {
                double g = dt == UP_F32 ? ((float *)p.result[0].data)[i]
                                        : ((double *)p.result[0].data)[i];
                double w = dt == UP_F32 ? ((float *)want)[i] : ((double *)want)[i];
                /* bits, but any NaN for a NaN: which NaN an add of two
                 * returns (0 * inf is the negative default one) is the
                 * compiler's operand order, not the arithmetic */
                if (isnan(g) && isnan(w)) continue;
                if (memcmp((char *)p.result[0].data + i * es, (char *)want + i * es, es)) {
                    ok = 0;
                    if (shown >= 4) continue;
                    printf("    %s %lldx%lld chunked %d: y[%lld] = %.17g, want %.17g\n",
                           up_dtype_name(dt), (long long)H, (long long)W, chunked, (long long)i,
                           g, w);
                    shown++;
                }
            }
        }
        up_plan_free(&p);
    }
    free(x);
    free(want);
    return ok;
}

/* One resize of x over the given axes by 2 (mode, ct), chunked or not;
 * the result stays in *p (caller frees), NULL data on error. */
static const void *resize2(up_plan *p, up_dtype dt, int rank, const int64_t *shape, const void *x,
                           int naxes, const int64_t *axes, const char *mode, const char *ct,
                           int chunked)
{
    up_error err;
    begin(p, dt, rank, shape, x);
    tb_floats(p, "scales", naxes, (double[]){2, 2});
    tb_ints(p, "axes", naxes, axes);
    tb_enum(p, "mode", mode);
    if (ct) tb_enum(p, "coordinate_transformation_mode", ct);
    if (tb_run_poisoned(p, chunked, &err) < 0) {
        printf("    %s\n", err.n ? err.items[0].message : "");
        return NULL;
    }
    return p->result[0].data;
}

/* The x2 path against the general path, through the op itself: resizing
 * H alone, then W alone, takes the general path twice (one resized axis
 * each) and does exactly the x2 path's arithmetic (the single-tap blend
 * multiplies by 1, which changes no bits), so the two must agree bit for
 * bit (any NaN for a NaN, as above). Works for any mode and ct. */
static int x2_vs_two_passes(up_dtype dt, int64_t H, int64_t W, const char *mode, const char *ct)
{
    int64_t sh[4] = {2, 3, H, W}, sh1[4] = {2, 3, 2 * H, W}, n = 6 * H * W, on = 4 * n;
    int64_t ah[1] = {2}, aw[1] = {3}, ahw[2] = {2, 3};
    size_t es = dt == UP_F32 ? 4 : 8;
    void *x = malloc((size_t)n * es);
    int ok = 1;
    srand(11);
    for (int64_t i = 0; i < n; i++) {
        double v = (double)rand() / RAND_MAX * 200 - 100;
        if (i == 2 || i == W - 3 || i == n - 1) v = INFINITY; /* near the edges */
        if (i == W + 1) v = NAN;
        if (i == 3 * W) v = -0.0;
        if (dt == UP_F32) ((float *)x)[i] = (float)v;
        else ((double *)x)[i] = v;
    }
    up_plan ph, pw;
    const void *yh = resize2(&ph, dt, 4, sh, x, 1, ah, mode, ct, 0);
    const void *want = yh ? resize2(&pw, dt, 4, sh1, yh, 1, aw, mode, ct, 0) : NULL;
    for (int chunked = 0; want && chunked <= 1; chunked++) {
        up_plan p;
        const char *got = resize2(&p, dt, 4, sh, x, 2, ahw, mode, ct, chunked);
        for (int64_t i = 0, shown = 0; got && i < on; i++) {
            double g = dt == UP_F32 ? ((const float *)got)[i] : ((const double *)got)[i];
            double w = dt == UP_F32 ? ((const float *)want)[i] : ((const double *)want)[i];
            if ((isnan(g) && isnan(w)) || !memcmp(got + i * es, (const char *)want + i * es, es))
                continue;
            ok = 0;
            if (shown++ < 4)
                printf("    %s %s %lldx%lld chunked %d: y[%lld] = %.17g, want %.17g\n", mode,
                       up_dtype_name(dt), (long long)H, (long long)W, chunked, (long long)i, g, w);
        }
        ok &= got != NULL;
        up_plan_free(&p);
    }
    ok &= want != NULL;
    if (yh) up_plan_free(&pw);
    up_plan_free(&ph);
    free(x);
    return ok;
}

static void cubic_x2_path(void)
{
    CHECK(x2_vs_two_passes(UP_F32, 9, 37, "cubic", NULL));
    CHECK(x2_vs_two_passes(UP_F32, 4, 4, "cubic", NULL)); /* edges only */
    CHECK(x2_vs_two_passes(UP_F32, 5, 6, "cubic", NULL));
    CHECK(x2_vs_two_passes(UP_F32, 6, 1027, "cubic", NULL)); /* chunk seams */
    CHECK(x2_vs_two_passes(UP_F32, 6, 513, "cubic", NULL)); /* a last chunk of one column */
    CHECK(x2_vs_two_passes(UP_F32, 8, 16, "cubic", "pytorch_half_pixel"));
    CHECK(x2_vs_two_passes(UP_F64, 7, 21, "cubic", NULL));
}

/* Tables like x2's but not (align_corners, asymmetric, exclude_outside):
 * the general path, still equal to the two passes. */
static void x2_lookalikes(void)
{
    CHECK(x2_vs_two_passes(UP_F32, 5, 9, "linear", "align_corners"));
    CHECK(x2_vs_two_passes(UP_F32, 5, 9, "cubic", "asymmetric"));
    CHECK(x2_vs_two_passes(UP_F32, 6, 513, "linear", NULL));
    CHECK(x2_vs_two_passes(UP_F32, 3, 2, "linear", "half_pixel_symmetric"));
}

static void linear_x2_path_f32(void)
{
    CHECK(x2_case(UP_F32, 4, 5, 37, NULL));
    CHECK(x2_case(UP_F32, 4, 2, 2, NULL)); /* edges only */
    CHECK(x2_case(UP_F32, 2, 3, 8, NULL));
    CHECK(x2_case(UP_F32, 4, 4, 16, "pytorch_half_pixel"));
    CHECK(x2_case(UP_F32, 4, 4, 16, "half_pixel_symmetric"));
}

/* A row wider than the path's chunk (512 input columns): the chunks'
 * seams need the columns either side. */
static void linear_x2_path_wide_rows(void)
{
    CHECK(x2_case(UP_F32, 2, 3, 1300, NULL));
    CHECK(x2_case(UP_F64, 2, 3, 1025, NULL));
}

static void linear_x2_path_f64(void)
{
    CHECK(x2_case(UP_F64, 4, 5, 37, NULL));
    CHECK(x2_case(UP_F64, 4, 2, 3, NULL));
}

int main(void)
{
    RUN(batch_and_channel_axes_nearest);
    RUN(rank1_linear_half_pixel);
    RUN(unresized_axis_is_copied);
    RUN(int8_tf_crop_extrapolation);
    RUN(uint8_linear_refused);
    RUN(split_independence_antialias_3d);
    RUN(linear_x2_path_f32);
    RUN(linear_x2_path_f64);
    RUN(linear_x2_path_wide_rows);
    RUN(cubic_x2_path);
    RUN(x2_lookalikes);
    return th_summary();
}
