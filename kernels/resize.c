/* resize.c -- ONNX Resize (opset 19) in full: nearest, n-linear and n-cubic
 * interpolation over any axes of a rank 1-5 tensor, every coordinate
 * transformation, nearest rounding mode, antialiasing, exclude_outside,
 * tf_crop_and_resize with its extrapolation value and the aspect-ratio
 * policies of `sizes`.
 *
 * The numbers follow ONNX's reference implementation
 * (onnx/reference/ops/op_resize.py): per axis, output coordinate j maps to
 * a source coordinate x in double, x picks n neighbours (the n integers
 * nearest x, ties to the smaller, as if the axis were edge-padded) and n
 * weights (linear, cubic with coefficient A, their antialiased forms whose
 * support grows as 1 / scale, or one-hot for nearest). Interpolation is
 * separable, so the whole op is described by one small table per resized
 * axis, built once per plan (build_resize, charged): for each output
 * coordinate the first input index and K weights, where the n taps have
 * been folded onto the K = min(n, in) distinct input positions they clamp
 * to. Axes whose table would be the identity (same size, scale 1, no crop)
 * get no table at all.
 *
 * The kernel's work unit is one output row (the last axis, for one
 * position of every other axis). For that row the taps of the other
 * resized axes name a few input rows and their weight products; the kernel
 * first blends those rows over the span of input columns the row needs
 * (on the stack, in blocks), then applies the last axis' table to the
 * blend. Upsampling by 2 in H and W reads each input row about twice and
 * writes each output element once, close to the memory floor; when the
 * blend would cost more than gathering every tap directly (a strong
 * downsample without antialias), the kernel gathers directly. The common
 * case of linear or cubic x2 over the last two axes with half_pixel's
 * taps (the table is checked, not the params: x2_case) has its own path:
 * the weights repeat with period 2 and the taps are neighbours, so there
 * is no table lookup inside the row, and output row
 * pairs are made from one read of their two input rows in straight-line
 * loops the AVX2 and AVX-512 builds vectorise, and outputs past the cache are
 * streamed out (stream.h); same products and sums as the general path, so
 * the same values, bit for bit but for which NaN an add of two NaNs keeps
 * (resize_impl.h; tests/unit/test_kernels_resize.c). Nearest is a
 * pure gather (no arithmetic on the values: exact for every dtype), and an
 * output row that reads the same source row as the one before is a copy.
 *
 * Cost model: the tables cost out * n per axis to build (n is the
 * antialias support, large for a tiny scale, but at most 8 in + 2 since a
 * scale must keep the axis non-empty) and out * (16 + 12 K) + 8 n bytes;
 * the kernel at most one multiply-add per output element per tap product. Both are stated in prepare and charged before allocation, so a
 * huge scale or a tiny antialiased one is refused, not run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "dispatch.h"
#include "geometry.h"
#include "ops.h"
#include "stream.h"
#include "template.h"

enum { M_NEAREST, M_LINEAR, M_CUBIC };
enum { CT_HALF_PIXEL, CT_HALF_PIXEL_SYMMETRIC, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS,
       CT_ASYMMETRIC, CT_TF_CROP };
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL };
enum { KA_STRETCH, KA_NOT_LARGER, KA_NOT_SMALLER };

/* Source coordinates are clamped to this before floor(): far outside the
 * axis every tap clamps to the edge anyway, and int64 stays exact. */
#define RS_COORD_MAX 0x1p52
/* Stack elements for the blended input span of a block of columns. */
#define RS_BLEND 1024
/* Input columns of one chunk of the x2 path's row (its blend on the stack). */
#define RS_X2_CHUNK 512
/* The kernel's helpers, inlined into each of its builds (dispatch.h). */
#define RS_INLINE static inline __attribute__((always_inline))

/* One canonical axis. */
typedef struct rs_axis {
    int64_t in, out;
    double scale;      /* ONNX's scale: given, or out / in (sizes) */
    double roi0, roi1; /* tf_crop_and_resize */
    int resized;       /* has a table (not the identity) */
    int64_t n;         /* taps per coordinate before folding */
    int64_t K;         /* weights per coordinate after folding: min(n, in) */
    /* the table (build_resize) */
    int64_t *start;    /* out: first input index */
    uint8_t *outside;  /* out: 1 = extrapolation_value (tf_crop_and_resize) */
    double *wd;        /* out * K */
    float *wf;         /* out * K */
} rs_axis;

/* A run of output columns of the last axis and the input span they read:
 * blended first when that is cheaper (resize_impl.h), else gathered. */
typedef struct rs_block {
    int64_t j0, j1, lo, span;
    int64_t blend;
} rs_block;

typedef struct rs_tab {
    int rank, mode, ct, nearest_mode, exclude_outside, antialias;
    double cubic_a, extrap;
    rs_axis ax[UP_MAX_RANK];
    int64_t in_stride[UP_MAX_RANK]; /* elements between steps of axis a in x */
    int64_t rows;                   /* output rows: numel / out[rank - 1] */
    int gather;                     /* nearest: every table one-hot */
    int x2;                         /* exact x2 over the last two axes (x2_case) */
    int64_t nblocks;                /* linear/cubic with the last axis resized */
    rs_block *blocks;
    _Alignas(8) unsigned char buf[];
} rs_tab;

/* ---- params -> geometry (prepare, and again in build) -------------------- */

/* The canonical (channels-first) axis of the client's axis a. */
static int canon_axis(const up_plan *p, int r, int a)
{
    if (p->layout != UP_LAYOUT_CHANNELS_LAST || r < 3) return a;
    return a == 0 ? 0 : a == r - 1 ? 1 : a + 1;
}

/* axes -> canonical axis list (no duplicates); all axes when unset. */
static int resolve_axes(const up_plan *p, int r, int axes[UP_MAX_RANK], int *n, up_error *err)
{
    const up_param_value *v = up_plan_param(p, RESIZE_P_axes);
    int seen[UP_MAX_RANK] = {0};
    if (!v->set) {
        for (int a = 0; a < r; a++) axes[a] = canon_axis(p, r, a);
        *n = r;
        return 0;
    }
    if (v->n > r)
        return up_errorf(err, UP_E_INVALID, "params.axes", "%d axes for a rank-%d x", v->n, r);
    for (int i = 0; i < v->n; i++) {
        int64_t a = v->i[i];
        if (a < -r || a >= r)
            return up_errorf(err, UP_E_INVALID, "params.axes",
                             "axis %lld is outside [-%d, %d] for a rank-%d x", (long long)a, r,
                             r - 1, r);
        if (a < 0) a += r;
        if (seen[a]++)
            return up_errorf(err, UP_E_INVALID, "params.axes", "axis %lld appears twice",
                             (long long)v->i[i]);
        axes[i] = canon_axis(p, r, (int)a);
    }
    *n = v->n;
    return 0;
}

/* tf_crop_and_resize's roi: starts then ends, one pair per listed axis. */
static int resolve_roi(const up_plan *p, rs_tab *t, const int *axes, int n, up_error *err)
{
    const up_tensor *roi = &p->raw[RESIZE_IN_roi];
    int64_t len;
    for (int a = 0; a < t->rank; a++) {
        t->ax[a].roi0 = 0.0;
        t->ax[a].roi1 = 1.0;
    }
    if (t->ct != CT_TF_CROP) return 0; /* ONNX reads roi only for this mode */
    if (!roi->data)
        return up_errorf(err, UP_E_INVALID, "inputs.roi",
                         "coordinate_transformation_mode tf_crop_and_resize needs roi");
    len = up_tensor_numel(roi);
    if (roi->rank != 1 || len != 2 * n)
        return up_errorf(err, UP_E_INVALID, "inputs.roi",
                         "roi must be 1-d with %d values (starts, then ends, of the %d resized "
                         "axes), got %lld", 2 * n, n, (long long)len);
    for (int i = 0; i < n; i++) {
        double s = up_load_f64(roi, i), e = up_load_f64(roi, n + i);
        if (!isfinite(s) || !isfinite(e) || fabs(s) > 1e6 || fabs(e) > 1e6)
            return up_errorf(err, UP_E_INVALID, "inputs.roi",
                             "roi values must be finite and within +-1e6");
        t->ax[axes[i]].roi0 = s;
        t->ax[axes[i]].roi1 = e;
    }
    return 0;
}

/* scales or sizes (exactly one) and keep_aspect_ratio_policy -> every
 * axis' out and scale, as the reference: out = floor(in * scale), or the
 * given size with scale = size / in; a policy other than stretch uses one
 * scale for all listed axes and rounds in * scale half up. */
static int resolve_sizes(const up_plan *p, rs_tab *t, const int *axes, int n, up_error *err)
{
    const up_param_value *sc = up_plan_param(p, RESIZE_P_scales);
    const up_param_value *sz = up_plan_param(p, RESIZE_P_sizes);
    const up_param_value *given = sc->set ? sc : sz;
    const char *field = sc->set ? "params.scales" : "params.sizes";
    int policy = up_param_enum(p, RESIZE_P_keep_aspect_ratio_policy);
    if (sc->set == sz->set) {
        const char *m = sc->set ? "give scales or sizes, not both"
                                : "one of scales or sizes is required";
        up_errorf(err, UP_E_INVALID, "params.scales", "%s", m);
        return up_errorf(err, UP_E_INVALID, "params.sizes", "%s", m);
    }
    if (given->n != n)
        return up_errorf(err, UP_E_INVALID, field,
                         "%d values for %d axes (one per axis of x, or per entry of axes)",
                         given->n, n);
    for (int i = 0; i < n; i++) {
        rs_axis *x = &t->ax[axes[i]];
        if (sc->set) {
            double o = floor((double)x->in * sc->f[i]);
            if (!(sc->f[i] > 0))
                return up_errorf(err, UP_E_INVALID, field, "scales must be > 0, got %g",
                                 sc->f[i]);
            if (o >= 0x1p50)
                return up_errorf(err, UP_E_TOO_LARGE, field,
                                 "scale %g makes an axis of %lld too large", sc->f[i],
                                 (long long)x->in);
            if (o < 1 && x->in > 0)
                return up_errorf(err, UP_E_INVALID, field,
                                 "scale %g makes an axis empty: floor(%lld * %g) = 0", sc->f[i],
                                 (long long)x->in, sc->f[i]);
            x->out = (int64_t)o;
            x->scale = sc->f[i];
        } else {
            if (sz->i[i] < 1 || sz->i[i] >= ((int64_t)1 << 50))
                return up_errorf(err, UP_E_INVALID, field, "sizes must be in [1, 2^50), got %lld",
                                 (long long)sz->i[i]);
            if (x->in == 0)
                return up_errorf(err, UP_E_INVALID, field, "an empty axis cannot be resized to %lld",
                                 (long long)sz->i[i]);
            x->out = sz->i[i];
            x->scale = (double)x->out / (double)x->in;
        }
    }
    if (sc->set || policy == KA_STRETCH) return 0;
    double s = t->ax[axes[0]].scale;
    for (int i = 1; i < n; i++) {
        double v = t->ax[axes[i]].scale;
        s = policy == KA_NOT_LARGER ? fmin(s, v) : fmax(s, v);
    }
    for (int i = 0; i < n; i++) {
        rs_axis *x = &t->ax[axes[i]];
        double o = floor(s * (double)x->in + 0.5);
        if (o >= 0x1p50)
            return up_errorf(err, UP_E_TOO_LARGE, field, "keep_aspect_ratio_policy makes an "
                             "axis too large");
        if (o < 1)
            return up_errorf(err, UP_E_INVALID, field,
                             "keep_aspect_ratio_policy makes an axis of %lld empty",
                             (long long)x->in);
        x->scale = s;
        x->out = (int64_t)o;
    }
    return 0;
}

/* Taps per coordinate of a resized axis: 1 (nearest), 2 or 4, or the
 * antialiased support, which grows as 1 / scale when downsampling. */
static int axis_taps(const rs_tab *t, rs_axis *x, up_error *err)
{
    double s = fmin(x->scale, 1.0), reach = t->mode == M_CUBIC ? 2.0 : 1.0;
    if (t->mode == M_NEAREST) {
        x->n = 1;
    } else if (!t->antialias) {
        x->n = t->mode == M_CUBIC ? 4 : 2;
    } else {
        if (reach / s > 0x1p40)
            return up_errorf(err, UP_E_TOO_LARGE, "params.antialias",
                             "antialias at scale %g needs a filter too wide to run", x->scale);
        x->n = -2 * (int64_t)floor(-reach / s); /* 2 - 2 * (floor(-reach / s) + 1) */
    }
    x->K = x->n < x->in ? x->n : x->in;
    return 0;
}

/* Everything prepare decides, into t (no allocation); build repeats it
 * into the scratch header, then fills the tables. */
static int resolve(const up_plan *p, rs_tab *t, up_error *err)
{
    const up_tensor *xin = &p->in[RESIZE_IN_x];
    int axes[UP_MAX_RANK], n;
    memset(t, 0, sizeof(*t));
    t->rank = xin->rank;
    t->mode = up_param_enum(p, RESIZE_P_mode);
    t->ct = up_param_enum(p, RESIZE_P_coordinate_transformation_mode);
    t->nearest_mode = up_param_enum(p, RESIZE_P_nearest_mode);
    t->exclude_outside = (int)up_param_int(p, RESIZE_P_exclude_outside, 0);
    t->antialias = (int)up_param_int(p, RESIZE_P_antialias, 0);
    t->cubic_a = up_plan_param_set(p, RESIZE_P_cubic_coeff_a)
                     ? up_plan_param(p, RESIZE_P_cubic_coeff_a)->f[0] : -0.75;
    t->extrap = up_plan_param_set(p, RESIZE_P_extrapolation_value)
                    ? up_plan_param(p, RESIZE_P_extrapolation_value)->f[0] : 0.0;
    if (p->layout == UP_LAYOUT_CHANNELS_LAST && t->rank < 3)
        return up_errorf(err, UP_E_INVALID, "params.layout",
                         "channels_last needs x of rank 3 or more, got rank %d", t->rank);
    if (t->antialias && t->mode == M_NEAREST)
        return up_errorf(err, UP_E_INVALID, "params.antialias",
                         "antialias applies to modes linear and cubic, not nearest");
    if (p->storage == UP_U8 || p->storage == UP_I8) {
        double lo = p->storage == UP_U8 ? 0 : -128, hi = p->storage == UP_U8 ? 255 : 127;
        if (t->mode != M_NEAREST)
            return up_errorf(err, UP_E_INVALID, "params.mode",
                             "mode %s on %s would need rounding; only nearest is exact for "
                             "integer images (convert x to float32 first)",
                             t->mode == M_LINEAR ? "linear" : "cubic", up_dtype_name(p->storage));
        if (t->extrap != floor(t->extrap) || t->extrap < lo || t->extrap > hi)
            return up_errorf(err, UP_E_INVALID, "params.extrapolation_value",
                             "extrapolation_value %g is not a %s value", t->extrap,
                             up_dtype_name(p->storage));
    }
    for (int a = 0; a < t->rank; a++) {
        t->ax[a].in = t->ax[a].out = xin->shape[a];
        t->ax[a].scale = 1.0;
    }
    if (resolve_axes(p, t->rank, axes, &n, err) < 0 || resolve_roi(p, t, axes, n, err) < 0 ||
        resolve_sizes(p, t, axes, n, err) < 0)
        return -1;
    for (int a = 0; a < t->rank; a++) {
        rs_axis *x = &t->ax[a];
        x->resized = x->out > 0 && !(x->out == x->in && x->scale == 1.0 && t->ct != CT_TF_CROP);
        if (x->resized && axis_taps(t, x, err) < 0) return -1;
    }
    return 0;
}

/* Bytes of the tables behind the header, and the work of building them
 * (one coefficient per tap per coordinate). -1 on overflow. */
static int table_cost(const rs_tab *t, int64_t *bytes, int64_t *work)
{
    int64_t b = (int64_t)sizeof(rs_tab), w = 0;
    for (int a = 0; a < t->rank; a++) {
        const rs_axis *x = &t->ax[a];
        int64_t per, e;
        if (!x->resized) continue;
        /* the coefficient scratch of one coordinate: n doubles (<= 8 in + 2) */
        if (up_mul_i64(x->n, 8, &e) < 0 || up_add_i64(b, e, &b) < 0) return -1;
        /* start (8) + outside (1, padded to 8) + K doubles + K floats, and
         * up to 4 bytes realigning after the floats */
        if (up_mul_i64(x->K, 12, &per) < 0 || up_add_i64(per, 16, &per) < 0 ||
            up_mul_i64(per, x->out, &e) < 0 || up_add_i64(b, e, &b) < 0 ||
            up_add_i64(b, 8, &b) < 0)
            return -1;
        w = up_sat_add(w, up_sat_mul(x->out, x->n));
    }
    /* at most one block per column of the last axis */
    if (t->rank > 0 && t->ax[t->rank - 1].resized) {
        int64_t e;
        if (up_mul_i64(t->ax[t->rank - 1].out, (int64_t)sizeof(rs_block), &e) < 0 ||
            up_add_i64(b, e, &b) < 0)
            return -1;
    }
    *bytes = b;
    *work = w;
    return 0;
}

int prepare_resize(up_plan *p, up_error *err)
{
    rs_tab t;
    int64_t shape[UP_MAX_RANK], numel, bytes, build_work, taps = 1;
    if (resolve(p, &t, err) < 0) return -1;
    for (int a = 0; a < t.rank; a++) shape[a] = t.ax[a].out;
    if (up_geom_numel(shape, t.rank, &numel) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "outputs.y",
                         "output shape is too large: the product of its nonzero sizes must be at "
                         "most 2^50");
    if (p->max_elements > 0 && numel > p->max_elements)
        return up_errorf(err, UP_E_TOO_LARGE, "outputs.y",
                         "output would have %lld elements, over the limit of %lld",
                         (long long)numel, (long long)p->max_elements);
    p->out[RESIZE_OUT_y].dtype = p->compute;
    p->out[RESIZE_OUT_y].rank = t.rank;
    memcpy(p->out[RESIZE_OUT_y].shape, shape, sizeof(int64_t) * (size_t)t.rank);
    p->work_units = 0;
    if (numel == 0) return 0; /* nothing to compute, no tables */
    if (table_cost(&t, &bytes, &build_work) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "params", "interpolation tables too large");
    for (int a = 0; a < t.rank; a++)
        if (t.ax[a].resized) taps = up_sat_mul(taps, t.ax[a].K);
    p->mem_bytes = bytes;
    p->work = up_sat_add(build_work, up_sat_mul(numel, taps));
    p->work_units = numel / shape[t.rank - 1];
    p->unit_cost = 2 * shape[t.rank - 1] * (int64_t)up_dtype_size(p->compute);
    return 0;
}

/* ---- the tables (build) ------------------------------------------------- */

/* ONNX's source coordinate of output coordinate j on axis x. */
static double source_coord(const rs_tab *t, const rs_axis *x, int64_t j)
{
    double in = (double)x->in, s = x->scale, w = s * in; /* w: the real output width */
    double jd = (double)j;
    switch (t->ct) {
    case CT_ALIGN_CORNERS: return w == 1 ? 0.0 : jd * (in - 1) / (w - 1);
    case CT_ASYMMETRIC: return jd / s;
    case CT_TF_CROP: {
        double r = x->roi1 - x->roi0;
        double v = w == 1 ? r * (in - 1) / 2 : jd * r * (in - 1) / (w - 1);
        return v + x->roi0 * (in - 1);
    }
    case CT_PYTORCH_HALF_PIXEL: return w == 1 ? -0.5 : (jd + 0.5) / s - 0.5;
    case CT_HALF_PIXEL_SYMMETRIC: {
        double adjustment = (double)x->out / w, center = in / 2;
        return center * (1 - adjustment) + (jd + 0.5) / s - 0.5;
    }
    default: return (jd + 0.5) / s - 0.5;
    }
}

/* Keys' cubic convolution kernel with coefficient A, at distance d. */
static double cubic_kernel(double d, double A)
{
    d = fabs(d);
    if (d <= 1) return ((A + 2) * d - (A + 3)) * d * d + 1;
    if (d < 2) return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A;
    return 0.0;
}

/* The n coefficients of ratio r in (0, 1] (tap k sits at distance
 * k - n/2 + 1 - r from the source coordinate), as the reference computes
 * them; antialiased ones stretch the kernel by 1 / scale and normalise. */
static void coeffs(const rs_tab *t, const rs_axis *x, double r, double *c)
{
    double A = t->cubic_a, s = fmin(x->scale, 1.0), sum = 0;
    int64_t n = x->n, first = 1 - n / 2;
    if (!t->antialias && t->mode == M_LINEAR) {
        c[0] = 1 - r;
        c[1] = r;
        return;
    }
    if (!t->antialias) { /* op_resize.py's _cubic_coeffs, term by term */
        c[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
        c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
        c[2] = ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1;
        c[3] = ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A;
        return;
    }
    for (int64_t k = 0; k < n; k++) {
        double d = s * ((double)(first + k) - r);
        c[k] = t->mode == M_CUBIC ? cubic_kernel(d, A) : fmin(fmax(1 - fabs(d), 0), 1);
        sum += c[k];
    }
    for (int64_t k = 0; k < n; k++) c[k] /= sum;
}

static int64_t clamp_i64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Nearest: the one input index of source coordinate v. */
static int64_t nearest_index(const rs_tab *t, const rs_axis *x, double v)
{
    double f = floor(v), r = v - f;
    int64_t i = (int64_t)f;
    if (r != 0) {
        switch (t->nearest_mode) {
        case NM_ROUND_PREFER_FLOOR: i += r > 0.5; break;
        case NM_ROUND_PREFER_CEIL: i += r >= 0.5; break;
        case NM_CEIL: i += 1; break;
        default: break;
        }
    }
    return clamp_i64(i, 0, x->in - 1);
}

/* One coordinate's taps folded onto K input positions from *start. c is
 * n doubles of scratch. */
static void fill_coord(const rs_tab *t, const rs_axis *x, double v, double *c, int64_t *start,
                       double *w)
{
    int64_t n = x->n, K = x->K, in = x->in;
    double f = floor(v), r = v - f;
    int64_t xi = (int64_t)f, idx0, lo;
    if (r == 0) { /* the reference's ratio lies in (0, 1] */
        xi -= 1;
        r = 1;
    }
    coeffs(t, x, r, c);
    /* the n integers nearest v, inside the edge padding of n / 2 */
    idx0 = clamp_i64(xi - n / 2 + 1, -(n / 2), in - n / 2);
    if (t->exclude_outside) {
        double sum = 0;
        for (int64_t k = 0; k < n; k++) {
            if (idx0 + k < 0 || idx0 + k >= in) c[k] = 0;
            sum += c[k];
        }
        for (int64_t k = 0; k < n; k++) c[k] = sum != 0 ? c[k] / sum : NAN;
    }
    lo = clamp_i64(idx0, 0, in - 1);
    *start = lo < in - K ? lo : in - K;
    for (int64_t k = 0; k < K; k++) w[k] = 0;
    for (int64_t k = 0; k < n; k++) w[clamp_i64(idx0 + k, 0, in - 1) - *start] += c[k];
}

static void fill_axis(const rs_tab *t, rs_axis *x, double *c)
{
    for (int64_t j = 0; j < x->out; j++) {
        double v = source_coord(t, x, j);
        double *w = x->wd + j * x->K;
        x->outside[j] = t->ct == CT_TF_CROP && (v < 0 || v > (double)(x->in - 1));
        if (x->outside[j]) {
            x->start[j] = 0;
            for (int64_t k = 0; k < x->K; k++) w[k] = 0;
            continue;
        }
        v = fmin(fmax(v, -RS_COORD_MAX), RS_COORD_MAX);
        if (t->mode == M_NEAREST) {
            x->start[j] = nearest_index(t, x, v);
            w[0] = 1;
        } else {
            fill_coord(t, x, v, c, &x->start[j], w);
        }
    }
    for (int64_t i = 0; i < x->out * x->K; i++) x->wf[i] = (float)x->wd[i];
}

/* The last axis' columns in blocks whose input span fits the stack
 * buffer, each blended (span <= columns * K: the blend costs less than
 * gathering every tap) or gathered; once per plan, not per row. */
static void plan_blocks(rs_tab *t)
{
    const rs_axis *l = &t->ax[t->rank - 1];
    const int64_t ow = l->out, K = l->K;
    int64_t j0 = 0;
    t->nblocks = 0;
    while (j0 < ow) {
        int64_t lo = l->start[j0], hi = lo + K, j1 = j0 + 1;
        while (j1 < ow) {
            int64_t nlo = l->start[j1] < lo ? l->start[j1] : lo;
            int64_t nhi = l->start[j1] + K > hi ? l->start[j1] + K : hi;
            if (nhi - nlo > RS_BLEND) break;
            lo = nlo;
            hi = nhi;
            j1++;
        }
        t->blocks[t->nblocks++] = (rs_block){j0, j1, lo, hi - lo,
                                             hi - lo <= RS_BLEND && hi - lo <= (j1 - j0) * K};
        j0 = j1;
    }
}

/* Whether axis x's table is an exact x2 with half_pixel's taps, linear
 * (K = 2) or cubic without antialias or exclude_outside (K = 4); the same
 * tables come from pytorch_half_pixel and half_pixel_symmetric at scale 2.
 * With h = K / 2: out = 2 in, in >= K, and for every m in [h, in - h)
 * output 2m reads inputs m - h .. m + h - 1 with the weights of output 2h,
 * output 2m + 1 inputs m - h + 1 .. m + h with those of output 2h + 1 (the
 * source coordinates m -+ 0.25 have constant fractions). Outputs of m
 * outside that range are the edges, folded onto the edge inputs; the
 * kernel reads them from the table. The table itself is checked, not the
 * params, so the x2 kernel multiplies the very weights the general one
 * would, and rounds the same. */
static int x2_axis(const rs_axis *x)
{
    const int64_t K = x->K, h = K / 2;
    if (!x->resized || (K != 2 && K != 4) || x->n != K || x->in < K || x->out != 2 * x->in)
        return 0;
    for (int64_t j = 0; j < x->out; j++)
        if (x->outside[j]) return 0;
    for (int64_t m = h; m < x->in - h; m++)
        for (int64_t par = 0; par < 2; par++) {
            int64_t j = 2 * m + par, r = 2 * h + par;
            if (x->start[j] != m - h + par ||
                memcmp(x->wd + j * K, x->wd + r * K, (size_t)K * sizeof(double)) ||
                memcmp(x->wf + j * K, x->wf + r * K, (size_t)K * sizeof(float)))
                return 0;
        }
    return 1;
}

/* The x2 kernel's case: linear or cubic, the last two axes x2 (x2_axis)
 * with the same K, no other axis resized. */
static int x2_case(const rs_tab *t)
{
    if (t->mode == M_NEAREST || t->ct == CT_TF_CROP || t->rank < 2) return 0;
    for (int a = 0; a < t->rank - 2; a++)
        if (t->ax[a].resized) return 0;
    return x2_axis(&t->ax[t->rank - 2]) && x2_axis(&t->ax[t->rank - 1]) &&
           t->ax[t->rank - 2].K == t->ax[t->rank - 1].K;
}

int build_resize(up_plan *p, up_error *err)
{
    rs_tab probe, *t;
    int64_t bytes, work;
    double *c = NULL;
    unsigned char *at;
    if (!p->work_units) return 0;
    if (resolve(p, &probe, err) < 0) return -1; /* as prepare decided */
    if (table_cost(&probe, &bytes, &work) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "params", "interpolation tables too large");
    if (!(t = up_plan_scratch_alloc(p, bytes, "resize tables", err))) return -1;
    *t = probe;
    at = t->buf;
    for (int a = 0; a < t->rank; a++) {
        rs_axis *x = &t->ax[a];
        if (!x->resized) continue;
        x->start = (int64_t *)at;
        at += x->out * 8;
        x->wd = (double *)at;
        at += x->out * x->K * 8;
        x->wf = (float *)at;
        at += (x->out * x->K * 4 + 7) & ~(int64_t)7;
        x->outside = at;
        at += x->out * 8; /* keeps what follows 8-aligned */
    }
    t->blocks = (rs_block *)at;
    if (t->ax[t->rank - 1].resized) at += t->ax[t->rank - 1].out * (int64_t)sizeof(rs_block);
    c = (double *)at;
    t->gather = t->mode == M_NEAREST;
    t->in_stride[t->rank - 1] = 1;
    for (int a = t->rank - 2; a >= 0; a--) t->in_stride[a] = t->in_stride[a + 1] * t->ax[a + 1].in;
    t->rows = 1;
    for (int a = 0; a < t->rank - 1; a++) t->rows *= t->ax[a].out;
    for (int a = 0; a < t->rank; a++)
        if (t->ax[a].resized) fill_axis(t, &t->ax[a], c);
    if (!t->gather && t->ax[t->rank - 1].resized) plan_blocks(t);
    t->x2 = x2_case(t);
    return 0;
}

/* ---- the kernel ---------------------------------------------------------- */

/* The taps of one output row over the axes before the last: an odometer
 * over the resized ones, each step an input row offset and a weight. */
typedef struct rs_row {
    int m;                       /* resized axes before the last */
    int ax[UP_MAX_RANK];
    int64_t coord[UP_MAX_RANK];  /* output coordinate on each of them */
    int64_t k[UP_MAX_RANK];      /* current tap on each */
    int64_t base;                /* offset of the non-resized axes */
    int outside;                 /* some axis extrapolates: the row is the value */
} rs_row;

static void row_begin(const rs_tab *t, int64_t u, rs_row *r)
{
    r->m = 0;
    r->base = 0;
    r->outside = 0;
    for (int a = t->rank - 2; a >= 0; a--) {
        const rs_axis *x = &t->ax[a];
        int64_t o = u % x->out;
        u /= x->out;
        if (!x->resized) {
            r->base += o * t->in_stride[a];
            continue;
        }
        r->outside |= x->outside[o];
        r->ax[r->m] = a;
        r->coord[r->m] = o;
        r->k[r->m] = 0;
        r->m++;
    }
}

/* The current tap's input row offset and weight. */
static int64_t row_tap(const rs_tab *t, const rs_row *r, double *w)
{
    int64_t off = r->base;
    double wt = 1;
    for (int i = 0; i < r->m; i++) {
        const rs_axis *x = &t->ax[r->ax[i]];
        off += (x->start[r->coord[i]] + r->k[i]) * t->in_stride[r->ax[i]];
        wt *= x->wd[r->coord[i] * x->K + r->k[i]];
    }
    *w = wt;
    return off;
}

/* Next tap; 0 when every tap has been visited (then the odometer is back
 * at the first). */
static int row_next(const rs_tab *t, rs_row *r)
{
    for (int i = 0; i < r->m; i++) {
        if (++r->k[i] < t->ax[r->ax[i]].K) return 1;
        r->k[i] = 0;
    }
    return 0;
}

#define T float
#define SFX f32
#define WT wf
#include "resize_impl.h"
#define T double
#define SFX f64
#define WT wd
#include "resize_impl.h"
