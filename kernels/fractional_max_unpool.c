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
#include "template.h"

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
    return up_resize_table_bytes(g, 4 * (int64_t)sizeof(int64_t), (int64_t)sizeof(lin_tab), bytes);
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
    up_resize_strides(g, t->in_stride, &t->in_plane, &t->rows);
    for (int d = 0; d < g->nsp; d++) {
        int64_t o = g->out[d];
        fill_axis(p, d, at, at + o, at + 2 * o, at + 3 * o);
        t->ax[d] = (lin_axis){at, at + o, at + 2 * o, at + 3 * o};
        at += 4 * o;
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

/* Interpolation form: axis 0 is outermost, the innermost axis is the row.
 *
 * Why it is written in passes: the direct form gathers every output
 * through the per-column tables (s0[wl[i]]), which no compiler vectorises,
 * and was 5-7x the memory floor. Instead each output row is cut into tiles
 * of FMU_TILE columns; per tile the needed source rows are first
 * interpolated along W into small stack rows (fmu_hpass), then combined
 * with the row's constant H (and D) weights in straight-line fma loops that
 * vectorise. The arithmetic is the same fma()s on the same values in the
 * same order as the direct form, so the results are bit-identical (the
 * goldens check it). fmu_hpass itself runs with contiguous loads where
 * prepare proved the W tables periodic with period 1 or 2 (integer scale
 * factors 1 and 2, any coordinate_transform: see find_fast_w) and through
 * the tables elsewhere.
 *
 * fma() is a libm call unless the compiler may use the FMA instructions:
 * the kernels are also built for FMA-capable CPUs (which implies AVX: 8
 * floats per vector) and picked at load time, and at -O3 so the
 * straight-line loops vectorise (dispatch.h). Both versions round
 * identically: fma() is exact by definition.
 *
 * The stack rows start on a page (_Alignas(4096)): the combining loops
 * load rows[k][i] and store the output row's [i], and when a load's
 * address equals, in its low 12 bits, that of a store just before it, the
 * CPU stalls the load (4K aliasing). Left where the stack put them, a
 * change of frame size elsewhere in the function moved them 64 bytes
 * against the benchmark's page-aligned output rows and cost float64 2d
 * 20%; on a page, a row lines up index for index with an output row
 * that starts on a page boundary. */
#define FMU_TILE 512

/* The kernels, once per compute type (template.h). The 3d rows get an
 * AVX-512 build in float32 only: in float64 it measured no faster than
 * AVX2 (dispatch.h). */
#define T float
#define SFX f32
#define TFMA fmaf
#define FMU_LINEAR3_DISPATCH UP_ISA_DISPATCH
#include "fractional_max_unpool_impl.h"
#define T double
#define SFX f64
#define TFMA fma
#define FMU_LINEAR3_DISPATCH UP_ISA_DISPATCH_AVX2
#include "fractional_max_unpool_impl.h"
