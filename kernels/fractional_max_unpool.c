/* fractional_max_unpool.c -- the seed's "fractional max unpooling" in its
 * two forms.
 *
 * Without indices it is linear/bilinear/trilinear interpolation at
 * fractional source coordinates. Per axis, every output coordinate reads two
 * source coordinates (lo, hi = min(lo + 1, in - 1)) with weights
 * (1 - lambda, lambda), and the source coordinate is
 *
 *   asymmetric     src = dst * scale                      (the seed)
 *   half_pixel     src = max((dst + 0.5) * scale - 0.5, 0) (align_corners=False)
 *   align_corners  src = dst * (in - 1) / (out - 1), 0 when out = 1
 *
 * with scale = 1 / scale_factor or in / out rounded to the compute type. The
 * arithmetic is PyTorch 1.13's CPU kernel for channels-first tensors, which
 * (built for AVX2) fuses multiply-adds: src = fma(scale, dst + 0.5, -0.5) in
 * double, lambda = (T)(src - lo), and each axis combines its two neighbours
 * as fma(a, 1 - lambda, b * lambda), outermost axis last. Calling fma()
 * explicitly reproduces those roundings on every machine, so the goldens
 * can be bit-exact. Like PyTorch, half_pixel and align_corners copy an axis
 * whose output size equals its input size, reading (x[i], x[i]) with
 * weights (1, 0); asymmetric does the same when its step is exactly 1. Per-axis (lo, hi, weights) are computed once in
 * prepare, so the inner loop does no division.
 *
 * With indices (from fractional_max_pool) it is max_unpool's scatter into
 * output_size: zero the (n, c) plane, then write each value of x at its
 * index, walking x in row-major order so the last colliding element wins.
 * A work unit is one output row for interpolation and one (n, c) plane for
 * the scatter (collisions stay inside one unit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "geometry.h"
#include "index_layout.h"
#include "ops.h"

enum { CT_ASYMMETRIC = 0, CT_HALF_PIXEL = 1, CT_ALIGN_CORNERS = 2, FMU_SCATTER = 3 };

/* Per-axis neighbours and weights; weights are float or double (the
 * compute type). */
typedef struct lin_axis {
    const int64_t *lo, *hi;
    const void *wlo, *whi;
} lin_axis;

/* Where the W tables are periodic (see find_fast_w): over columns
 * [i0, i1), column i0 + k*j + m reads source columns lo[i0 + m] + j and that
 * plus one, with the weights of column i0 + m. k = 0: no such run. */
typedef struct lin_fast {
    int k;
    int64_t i0, i1, l0, l1;
} lin_fast;

typedef struct lin_tab {
    lin_axis ax[UP_MAX_SPATIAL];
    lin_fast fast;
    int64_t in_stride[UP_MAX_SPATIAL];
    int64_t in_plane;
    int64_t rows;                /* output rows per plane */
    int64_t buf[];               /* storage behind ax[] (int64 and double) */
} lin_tab;

/* ---- prepare ------------------------------------------------------------ */

static int check_spatial_in(const up_geom *g, up_error *err)
{
    for (int d = 0; d < g->nsp; d++)
        if (g->in[d] < 1)
            return up_errorf(err, UP_E_INVALID, "inputs.x",
                             "every spatial size of x must be >= 1, got %lld in dim %d",
                             (long long)g->in[d], d);
    return 0;
}

/* Source position of output coordinate i (double, >= 0) given the scale
 * already rounded to the compute type. */
static double source_pos(int ct, double scale, int64_t i)
{
    if (ct != CT_HALF_PIXEL) return scale * (double)i;
    double s = fma(scale, (double)i + 0.5, -0.5);
    return s < 0 ? 0 : s;
}

/* Scale of axis d in the compute type, as area_pixel_compute_scale<T>. */
static double axis_scale(const up_plan *p, int d, int has_os)
{
    const up_geom *g = &p->g;
    int64_t in = g->in[d], out = g->out[d];
    int f64 = p->compute == UP_F64;
    if (g->mode == CT_ALIGN_CORNERS) {
        if (out <= 1) return 0;
        return f64 ? (double)(in - 1) / (double)(out - 1)
                   : (double)((float)(in - 1) / (float)(out - 1));
    }
    if (has_os) return f64 ? (double)in / (double)out : (double)((float)in / (float)out);
    return f64 ? g->scale[d] : (double)(float)g->scale[d];
}

static void fill_axis(const up_plan *p, int d, int64_t *lo, int64_t *hi, void *wlo, void *whi)
{
    const up_geom *g = &p->g;
    int64_t in = g->in[d], out = g->out[d];
    double scale = axis_scale(p, d, up_plan_param_set(p, FMU_P_output_size));
    /* PyTorch copies an axis whose size does not change: both neighbours
     * are x[i], weights (1, 0), so x[i + 1] never enters (an inf or NaN
     * there would turn 0 * x[i + 1] into NaN, and -0.0 + 0 into +0.0).
     * asymmetric has no PyTorch counterpart; it copies the same way when
     * its source step is exactly 1 (src = dst), and otherwise follows the
     * seed's formula even when out == in (scale_factor 1.1 on 6 -> 6). */
    int copy = out == in && (g->mode != CT_ASYMMETRIC || scale == 1.0);
    for (int64_t i = 0; i < out; i++) {
        double s = copy ? (double)i : source_pos(g->mode, scale, i);
        int64_t l = (int64_t)s;
        if (l > in - 1) l = in - 1;
        lo[i] = l;
        hi[i] = l < in - 1 && !copy ? l + 1 : l;
        if (p->compute == UP_F64) {
            double lam = copy ? 0 : s - (double)l;
            ((double *)whi)[i] = lam;
            ((double *)wlo)[i] = 1.0 - lam;
        } else {
            float lam = copy ? 0 : (float)(s - (double)l);
            ((float *)whi)[i] = lam;
            ((float *)wlo)[i] = 1.0f - lam;
        }
    }
}

/* Does column i follow the period-k pattern that starts at column i0? */
static int fits_period(const lin_axis *ax, size_t es, int k, int64_t i0, int64_t i)
{
    int64_t m = i0 + (i - i0) % k, j = (i - i0) / k;
    const char *wl = ax->wlo, *wh = ax->whi;
    return ax->lo[i] == ax->lo[m] + j && ax->hi[i] == ax->lo[i] + 1 &&
           memcmp(wl + (size_t)i * es, wl + (size_t)m * es, es) == 0 &&
           memcmp(wh + (size_t)i * es, wh + (size_t)m * es, es) == 0;
}

/* The longest run of W columns whose neighbours and weights repeat with
 * period 1 or 2 (integer scale factors 1 and 2; the run skips the clamped
 * columns at either edge). The kernel reads such a run with contiguous
 * loads; since the pattern is checked against the tables here, it reads
 * exactly the values the tables name. */
static lin_fast find_fast_w(const lin_axis *ax, int64_t out, size_t es)
{
    lin_fast best = {0, 0, 0, 0, 0};
    for (int k = 1; k <= 2; k++)
        for (int64_t i0 = 0; i0 < 4 && i0 + k <= out; i0++) {
            int64_t i = i0;
            while (i < out && fits_period(ax, es, k, i0, i)) i++;
            if (i - i0 >= 16 && i - i0 > best.i1 - best.i0)
                best = (lin_fast){k, i0, i, ax->lo[i0], ax->lo[i0 + k - 1]};
        }
    return best;
}

/* One allocation: the header, then per axis lo[out], hi[out], wlo[out],
 * whi[out] (8 bytes each, enough for either weight type). */
static int table_bytes(const up_geom *g, int64_t *bytes)
{
    int64_t total = 0;
    for (int d = 0; d < g->nsp; d++)
        if (up_add_i64(total, g->out[d], &total) < 0) return -1;
    if (up_mul_i64(total, 4 * (int64_t)sizeof(int64_t), bytes) < 0 ||
        up_add_i64(*bytes, (int64_t)sizeof(lin_tab), bytes) < 0)
        return -1;
    return 0;
}

static int build_table(up_plan *p, up_error *err)
{
    const up_geom *g = &p->g;
    int64_t bytes;
    lin_tab *t;
    if (table_bytes(g, &bytes) < 0) goto too_large;
    t = up_plan_scratch_alloc(p, bytes, "fractional_max_unpool interpolation tables", err);
    if (!t) return -1;
    int64_t *at = t->buf;
    t->rows = 1;
    t->in_plane = 1;
    for (int d = g->nsp - 1; d >= 0; d--) {
        t->in_stride[d] = t->in_plane;
        t->in_plane *= g->in[d];
    }
    for (int d = 0; d < g->nsp; d++) {
        int64_t o = g->out[d];
        fill_axis(p, d, at, at + o, at + 2 * o, at + 3 * o);
        t->ax[d] = (lin_axis){at, at + o, at + 2 * o, at + 3 * o};
        at += 4 * o;
        if (d < g->nsp - 1) t->rows *= o;
    }
    t->fast = find_fast_w(&t->ax[g->nsp - 1], g->out[g->nsp - 1], up_dtype_size(p->compute));
    return 0;
too_large:
    return up_errorf(err, UP_E_TOO_LARGE, "params.output_size", "output too large");
}

static int prepare_interp(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    int64_t numel = 0;
    g->mode = up_param_enum(p, FMU_P_coordinate_transform);
    if (up_param_resize(p, FMU_P_scale_factor, FMU_P_output_size, err) < 0) return -1;
    if (up_plan_set_output(p, FMU_OUT_y, p->compute, g->N, g->C, g->out, err) < 0) return -1;
    numel = up_tensor_numel(&p->out[FMU_OUT_y]);
    p->work_units = 0;
    if (numel == 0) return 0;
    /* cost: 2^nsp source reads per output, 4 table entries per coordinate */
    if (table_bytes(g, &p->mem_bytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "params.output_size", "output too large");
    p->work = up_sat_add(up_sat_mul(numel, (int64_t)1 << g->nsp),
                         (p->mem_bytes - (int64_t)sizeof(lin_tab)) / 8);
    int64_t ow = g->out[g->nsp - 1];
    p->work_units = numel / ow;
    p->unit_cost = (1 + (2 << (g->nsp - 1))) * ow * (int64_t)up_dtype_size(p->compute);
    return 0;
}

static int prepare_scatter(up_plan *p, const up_tensor *idx, up_error *err)
{
    up_geom *g = &p->g;
    const up_tensor *x = &p->in[FMU_IN_x];
    int64_t plane_in = 1, plane_out = 1;
    if (up_plan_param_set(p, FMU_P_scale_factor))
        return up_errorf(err, UP_E_INVALID, "params.scale_factor",
                         "scale_factor does not apply with indices: give output_size");
    int has_os = up_param_output_size(p, FMU_P_output_size, g->N, g->C, g->out, err);
    if (has_os < 0) return -1;
    if (!has_os)
        return up_errorf(err, UP_E_INVALID, "params.output_size",
                         "output_size is required with indices (the fractional_max_pool "
                         "input size)");
    if (idx->rank != x->rank || memcmp(idx->shape, x->shape, sizeof(int64_t) * (size_t)x->rank)) {
        char a[96], b[96];
        up_shape_format(a, sizeof a, idx->shape, idx->rank);
        up_shape_format(b, sizeof b, x->shape, x->rank);
        return up_errorf(err, UP_E_INVALID, "inputs.indices",
                         "indices must have the shape of x %s, got %s", b, a);
    }
    g->mode = FMU_SCATTER;
    g->index_layout = up_param_enum(p, FMU_P_index_layout);
    if (up_plan_set_output(p, FMU_OUT_y, p->compute, g->N, g->C, g->out, err) < 0) return -1;
    for (int d = 0; d < g->nsp; d++) {
        plane_in *= g->in[d];
        plane_out *= g->out[d];
    }
    p->work_units = g->N * g->C;
    p->work = up_sat_mul(plane_in + plane_out, p->work_units); /* zero-fill + scatter */
    p->unit_cost = plane_out * (int64_t)up_dtype_size(p->compute) +
                   plane_in * (int64_t)(up_dtype_size(p->compute) + sizeof(int64_t));
    return 0;
}

int prepare_fractional_max_unpool(up_plan *p, up_error *err)
{
    const up_tensor *idx = &p->in[FMU_IN_indices];
    if (check_spatial_in(&p->g, err) < 0) return -1;
    if (up_tensor_present(idx)) return prepare_scatter(p, idx, err);
    return prepare_interp(p, err);
}

/* The interpolation tables, once the plan is admitted (charged through
 * the plan); the scatter form and an empty output need none. */
int build_fractional_max_unpool(up_plan *p, up_error *err)
{
    return p->g.mode != FMU_SCATTER && p->work_units ? build_table(p, err) : 0;
}

/* ---- kernels ------------------------------------------------------------ */

/* Scatter form: one (n, c) plane per unit. Bad indices are skipped and the
 * first one (lowest flat position in x) is reported. */
#define SCATTER_BODY(T)                                                            \
    do {                                                                           \
        const up_geom *g = &p->g;                                                  \
        const int64_t *ix = p->in[FMU_IN_indices].data;                            \
        const T *x = p->in[FMU_IN_x].data;                                         \
        T *y = p->out[FMU_OUT_y].data;                                             \
        int64_t pin = 1, pout = 1;                                                 \
        for (int d = 0; d < g->nsp; d++) {                                         \
            pin *= g->in[d];                                                       \
            pout *= g->out[d];                                                     \
        }                                                                          \
        for (int64_t u = begin; u < end; u++) {                                    \
            int64_t n = u / g->C, c = u % g->C;                                    \
            T *dst = y + u * pout;                                                 \
            memset(dst, 0, (size_t)pout * sizeof(T));                              \
            for (int64_t e = u * pin; e < (u + 1) * pin; e++) {                    \
                int64_t pos = up_index_to_plane(g->index_layout, ix[e], n, c, g->C, pout); \
                if (pos >= 0) {                                                    \
                    dst[pos] = x[e];                                               \
                } else if (fault->elem < 0 || e < fault->elem) {                   \
                    fault->elem = e;                                               \
                    fault->value = ix[e];                                          \
                    fault->input = FMU_IN_indices;                                 \
                }                                                                  \
            }                                                                      \
        }                                                                          \
    } while (0)

/* Interpolation form. LERP combines two neighbours as PyTorch does:
 * fma(a, w_lo, b * w_hi). Axis 0 is outermost, the innermost axis is the
 * row.
 *
 * Why it is written in passes: the direct form gathers every output
 * through the per-column tables (s0[wl[i]]), which no compiler vectorises,
 * and was 5-7x the memory floor. Instead each output row is cut into tiles
 * of FMU_TILE columns; per tile the needed source rows are first
 * interpolated along W into small stack rows (HPASS), then combined with
 * the row's constant H (and D) weights in straight-line fma loops that
 * vectorise. The arithmetic is the same fma()s on the same values in the
 * same order as the direct form, so the results are bit-identical (the
 * goldens check it). HPASS itself runs with contiguous loads where prepare
 * proved the W tables periodic with period 1 or 2 (integer scale factors 1
 * and 2, any coordinate_transform: see find_fast_w) and through the tables
 * elsewhere. */
#define FMU_TILE 512

#define LERP(FMA, lo, hi, wlo, whi) FMA((lo), (wlo), (hi) * (whi))

/* o[0 .. c1-c0) = W-interpolation of source row s over output columns
 * [c0, c1). */
#define HPASS(T, FMA, s, o, c0, c1)                                                \
    do {                                                                           \
        int64_t i_ = (c0), f0_ = t->fast.i0 > i_ ? t->fast.i0 : i_;                \
        int64_t f1_ = t->fast.i1 < (c1) ? t->fast.i1 : (c1);                       \
        if (t->fast.k == 0 || f1_ <= f0_) f0_ = f1_ = (c1);                        \
        if (t->fast.k == 2 && ((f0_ - t->fast.i0) & 1)) f0_++;                     \
        for (; i_ < f0_; i_++) o[i_ - (c0)] = LERP(FMA, s[wl[i_]], s[wh[i_]], a[i_], b[i_]); \
        if (t->fast.k == 1) {                                                      \
            const T *restrict p_ = s + t->fast.l0 + (f0_ - t->fast.i0);            \
            T *restrict q_ = o + (f0_ - (c0));                                     \
            const T A_ = a[t->fast.i0], B_ = b[t->fast.i0];                        \
            int64_t n_ = f1_ - f0_;                                                \
            for (int64_t j_ = 0; j_ < n_; j_++) q_[j_] = LERP(FMA, p_[j_], p_[j_ + 1], A_, B_); \
            i_ = f1_;                                                              \
        } else if (t->fast.k == 2) {                                               \
            const int64_t h_ = (f0_ - t->fast.i0) >> 1;                            \
            const T *restrict p0_ = s + t->fast.l0 + h_;                           \
            const T *restrict p1_ = s + t->fast.l1 + h_;                           \
            T *restrict q_ = o + (f0_ - (c0));                                     \
            const T A0_ = a[t->fast.i0], B0_ = b[t->fast.i0];                      \
            const T A1_ = a[t->fast.i0 + 1], B1_ = b[t->fast.i0 + 1];              \
            int64_t n_ = (f1_ - f0_) >> 1;                                         \
            for (int64_t j_ = 0; j_ < n_; j_++) {                                  \
                q_[2 * j_] = LERP(FMA, p0_[j_], p0_[j_ + 1], A0_, B0_);            \
                q_[2 * j_ + 1] = LERP(FMA, p1_[j_], p1_[j_ + 1], A1_, B1_);        \
            }                                                                      \
            i_ = f0_ + 2 * n_;                                                     \
        }                                                                          \
        for (; i_ < (c1); i_++) o[i_ - (c0)] = LERP(FMA, s[wl[i_]], s[wh[i_]], a[i_], b[i_]); \
    } while (0)

/* The W-interpolated source row s for this tile, in one of the four stack
 * rows: when the whole output row is one tile, a row computed for an
 * earlier output row of the same chunk is reused (upsampling by 2 reads
 * each source row for about four output rows), else it is computed into
 * the least recently used stack row that this output row does not use yet. */
#define ROW_FOR(T, FMA, s, dst, c0, c1)                                            \
    do {                                                                           \
        int k_ = -1;                                                               \
        for (int q_ = 0; q_ < 4 && one_tile; q_++)                                 \
            if (src[q_] == (s)) k_ = q_;                                           \
        if (k_ < 0) {                                                              \
            for (int q_ = 0; q_ < 4; q_++)                                         \
                if (!(busy >> q_ & 1) && (k_ < 0 || stamp[q_] < stamp[k_])) k_ = q_; \
            T *o_ = rows[k_];                                                      \
            HPASS(T, FMA, (s), o_, c0, c1);                                        \
            src[k_] = one_tile ? (s) : NULL;                                       \
        }                                                                          \
        busy |= 1u << k_;                                                          \
        stamp[k_] = ++clock;                                                       \
        dst = rows[k_];                                                            \
    } while (0)

#define LINEAR_BODY(T, FMA)                                                        \
    do {                                                                           \
        const lin_tab *t = p->scratch;                                             \
        const up_geom *g = &p->g;                                                  \
        const int last = g->nsp - 1;                                               \
        const int64_t ow = g->out[last];                                           \
        const int64_t *wl = t->ax[last].lo, *wh = t->ax[last].hi;                  \
        const T *a = t->ax[last].wlo, *b = t->ax[last].whi;                        \
        const T *x = p->in[FMU_IN_x].data;                                         \
        T *y = p->out[FMU_OUT_y].data;                                             \
        _Alignas(4096) T rows[4][FMU_TILE];                                        \
        const T *src[4] = {NULL, NULL, NULL, NULL};                                \
        uint64_t stamp[4] = {0, 0, 0, 0}, clock = 0;                               \
        const int one_tile = ow <= FMU_TILE;                                       \
        for (int64_t u = begin; u < end; u++) {                                    \
            int64_t r = u % t->rows;                                               \
            const T *base = x + (u / t->rows) * t->in_plane;                       \
            T *row = y + u * ow;                                                   \
            if (g->nsp == 1) {                                                     \
                for (int64_t c0 = 0; c0 < ow; c0 += FMU_TILE) {                    \
                    int64_t c1 = c0 + FMU_TILE < ow ? c0 + FMU_TILE : ow;          \
                    T *o = row + c0;                                               \
                    HPASS(T, FMA, base, o, c0, c1);                                \
                }                                                                  \
                continue;                                                          \
            }                                                                      \
            int64_t oh = r % g->out[last - 1], od = r / g->out[last - 1];          \
            const lin_axis *H = &t->ax[last - 1];                                  \
            const T hl = ((const T *)H->wlo)[oh], hh = ((const T *)H->whi)[oh];    \
            const int64_t h0 = H->lo[oh] * t->in_stride[last - 1];                 \
            const int64_t h1 = H->hi[oh] * t->in_stride[last - 1];                 \
            if (g->nsp == 2) {                                                     \
                const T *s0 = base + h0, *s1 = base + h1;                          \
                for (int64_t c0 = 0; c0 < ow; c0 += FMU_TILE) {                    \
                    int64_t c1 = c0 + FMU_TILE < ow ? c0 + FMU_TILE : ow, n = c1 - c0; \
                    T *restrict o = row + c0;                                      \
                    const T *restrict v0, *restrict v1;                            \
                    unsigned busy = 0;                                             \
                    ROW_FOR(T, FMA, s0, v0, c0, c1);                               \
                    ROW_FOR(T, FMA, s1, v1, c0, c1);                               \
                    for (int64_t i = 0; i < n; i++) o[i] = LERP(FMA, v0[i], v1[i], hl, hh); \
                }                                                                  \
                continue;                                                          \
            }                                                                      \
            const lin_axis *D = &t->ax[0];                                         \
            const T dl = ((const T *)D->wlo)[od], dh = ((const T *)D->whi)[od];    \
            const T *s00 = base + D->lo[od] * t->in_stride[0] + h0;                \
            const T *s01 = base + D->lo[od] * t->in_stride[0] + h1;                \
            const T *s10 = base + D->hi[od] * t->in_stride[0] + h0;                \
            const T *s11 = base + D->hi[od] * t->in_stride[0] + h1;                \
            for (int64_t c0 = 0; c0 < ow; c0 += FMU_TILE) {                        \
                int64_t c1 = c0 + FMU_TILE < ow ? c0 + FMU_TILE : ow, n = c1 - c0; \
                T *restrict o = row + c0;                                          \
                const T *restrict v00, *restrict v01, *restrict v10, *restrict v11; \
                unsigned busy = 0;                                                 \
                ROW_FOR(T, FMA, s00, v00, c0, c1);                                 \
                ROW_FOR(T, FMA, s01, v01, c0, c1);                                 \
                ROW_FOR(T, FMA, s10, v10, c0, c1);                                 \
                ROW_FOR(T, FMA, s11, v11, c0, c1);                                 \
                for (int64_t i = 0; i < n; i++)                                    \
                    o[i] = LERP(FMA, LERP(FMA, v00[i], v01[i], hl, hh),            \
                                LERP(FMA, v10[i], v11[i], hl, hh), dl, dh);        \
            }                                                                      \
        }                                                                          \
    } while (0)

/* fma() is a libm call unless the compiler may use the FMA instructions:
 * the kernels are also built for FMA-capable CPUs (which implies AVX: 8
 * floats per vector) and picked at load time, and at -O3 so the
 * straight-line loops above vectorise (dispatch.h). Both versions round
 * identically: fma() is exact by definition.
 *
 * The stack rows start on a page (_Alignas(4096)): the combining loops
 * load rows[k][i] and store the output row's [i], and when a load's
 * address equals, in its low 12 bits, that of a store just before it, the
 * CPU stalls the load (4K aliasing). Left where the stack put them, a
 * change of frame size elsewhere in the function moved them 64 bytes
 * against the benchmark's page-aligned output rows and cost float64 2d
 * 20%; on a page, a row lines up index for index with an output row
 * that starts on a page boundary.
 *
 * These kernels are still macro bodies. Written as always-inlined
 * functions with the row cache in a struct (the form of the other ops'
 * _impl.h), float32 3d ran 20% slower: the same inner loops, but more
 * spills in the 3d combine. Converting them needs that solved first. */
#define FMU_KERNEL(T, SUFFIX, FMA)                                                 \
    UP_CLONES_FMA void compute_forward_fractional_max_unpool_##SUFFIX(                \
        const up_plan *p, int64_t begin, int64_t end, up_fault *fault)             \
    {                                                                              \
        if (p->g.mode == FMU_SCATTER) {                                            \
            SCATTER_BODY(T);                                                       \
        } else {                                                                   \
            LINEAR_BODY(T, FMA);                                                   \
        }                                                                          \
    }

FMU_KERNEL(float, f32, fmaf)
FMU_KERNEL(double, f64, fma)
