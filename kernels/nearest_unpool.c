/* nearest_unpool.c -- nearest-neighbour upsampling (and down-sampling),
 * PyTorch's interpolate(mode="nearest" | "nearest-exact").
 *
 * Source coordinates are a per-axis function of the output coordinate, so
 * prepare computes them once per axis (a few KB at most) and the kernel is a
 * gather with no arithmetic in its inner loop. The index arithmetic copies
 * PyTorch 1.13's CPU kernel for channels-first tensors, rounding included:
 *
 *   scale   = 1 / scale_factor, or in / out, in the compute type (for a
 *             bfloat16 tensor in mode nearest, rounded to bfloat16 as
 *             PyTorch 1.13's bfloat16 kernel does: bf16_scale below)
 *   nearest = min(floorf(dst * scale), in - 1)
 *   exact   = min(floorf(max((dst + 0.5) * scale - 0.5, 0) + 0.5), in - 1)
 *
 * where floorf() first rounds its argument to float, also for float64 data.
 * PyTorch's channels-last kernel differs from this in two special cases
 * (out == in copies, out == 2 * in halves the index, even when a
 * scale_factor such as 1.1 or 2.1 says otherwise); unpoold gives the
 * channels-first answer whatever the layout, so a result never depends on
 * how the client laid out memory.
 *
 * A work unit is one output row (the innermost spatial axis of one (n, c)
 * plane): fine enough to split a single large image across workers, coarse
 * enough that the per-unit divisions do not matter. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "dispatch.h"
#include "geometry.h"
#include "ops.h"
#include "template.h"

enum { MODE_NEAREST = 0, MODE_NEAREST_EXACT = 1 };

/* Per-axis source coordinates and the strides to turn them into offsets. */
typedef struct nearest_tab {
    const int64_t *src[UP_MAX_SPATIAL]; /* out[d] entries each */
    int64_t in_stride[UP_MAX_SPATIAL];  /* elements between steps of axis d in x */
    int64_t in_plane;                   /* elements of one (n, c) plane of x */
    int64_t rows;                       /* output rows per plane */
    int dup2;                           /* W column i reads i / 2 for every i */
    int64_t buf[];                      /* storage behind src[] */
} nearest_tab;

/* floorf() of PyTorch's source coordinate, clamped to the last input index.
 * v >= 0 always; the clamp is done in double so a huge v never reaches an
 * out-of-range float -> int64 conversion. */
static int64_t clamp_floorf(double v, int64_t in)
{
    double f = floorf((float)v);
    return f >= (double)(in - 1) ? in - 1 : (int64_t)f;
}

/* Source coordinate of output coordinate i in float32 arithmetic. The
 * separate statements keep every operation rounded on its own (no fused
 * multiply-add), as in PyTorch's float kernel. */
static int64_t src_f32(int mode, float scale, int64_t i, int64_t in)
{
    if (mode == MODE_NEAREST) {
        float v = (float)i * scale;
        return clamp_floorf(v, in);
    }
    float prod = scale * ((float)i + 0.5f);
    float real = prod - 0.5f;
    if (real < 0) real = 0;
    return clamp_floorf((double)real + 0.5, in);
}

/* The same in float64 arithmetic (PyTorch's double kernel keeps the scale
 * in double but still floors through floorf). */
static int64_t src_f64(int mode, double scale, int64_t i, int64_t in)
{
    if (mode == MODE_NEAREST) return clamp_floorf(scale * (double)i, in);
    double prod = scale * ((double)i + 0.5);
    double real = prod - 0.5;
    if (real < 0) real = 0;
    return clamp_floorf(real + 0.5, in);
}

/* PyTorch 1.13 computes the nearest scale of a bfloat16 tensor in
 * bfloat16 (area_pixel_compute_scale<BFloat16>): in and out are rounded to
 * bfloat16, divided in float and the quotient rounded to bfloat16 again
 * (8 / 14 -> 0.5703125, not 0.5714286), or 1 / scale_factor goes double ->
 * float -> bfloat16. The product with the output index is then done in
 * float. Its nearest_exact has no bfloat16 kernel, so that mode keeps the
 * float32 scale. */
static float bf16_scale(const up_geom *g, int d, int has_os)
{
    float b;
    if (has_os) {
        float in = up_bf16_to_f32(up_f32_to_bf16((float)g->in[d]));
        float out = up_bf16_to_f32(up_f32_to_bf16((float)g->out[d]));
        b = in / out;
    } else {
        b = (float)g->scale[d];
    }
    return up_bf16_to_f32(up_f32_to_bf16(b));
}

static void fill_axis(const up_plan *p, int d, int64_t *src)
{
    const up_geom *g = &p->g;
    int64_t in = g->in[d], out = g->out[d];
    int has_os = up_plan_param_set(p, NEAREST_UNPOOL_P_output_size);
    if (p->compute == UP_F64) {
        double s = has_os ? (double)in / (double)out : g->scale[d];
        for (int64_t i = 0; i < out; i++) src[i] = src_f64(g->mode, s, i, in);
    } else {
        /* compute_scales_value<float>: (float)(1.0 / sf) or (float)in / out. */
        float s = has_os ? (float)in / (float)out : (float)g->scale[d];
        if (p->storage == UP_BF16 && g->mode == MODE_NEAREST) s = bf16_scale(g, d, has_os);
        for (int64_t i = 0; i < out; i++) src[i] = src_f32(g->mode, s, i, in);
    }
}

/* Bytes of the tables: the header, then out[d] int64 per axis. */
static int table_bytes(const up_geom *g, int64_t *bytes)
{
    int64_t total = 0;
    for (int d = 0; d < g->nsp; d++)
        if (up_add_i64(total, g->out[d], &total) < 0) return -1;
    if (up_mul_i64(total, (int64_t)sizeof(int64_t), bytes) < 0 ||
        up_add_i64(*bytes, (int64_t)sizeof(nearest_tab), bytes) < 0)
        return -1;
    return 0;
}

static int build_table(up_plan *p, up_error *err)
{
    const up_geom *g = &p->g;
    int64_t bytes;
    nearest_tab *t;
    if (table_bytes(g, &bytes) < 0) goto too_large;
    t = up_plan_scratch_alloc(p, bytes, "nearest_unpool index tables", err);
    if (!t) return -1;
    int64_t *at = t->buf;
    t->rows = 1;
    t->in_plane = 1;
    for (int d = g->nsp - 1; d >= 0; d--) {
        t->in_stride[d] = t->in_plane;
        t->in_plane *= g->in[d];
    }
    for (int d = 0; d < g->nsp; d++) {
        fill_axis(p, d, at);
        t->src[d] = at;
        at += g->out[d];
        if (d < g->nsp - 1) t->rows *= g->out[d];
    }
    /* Upsampling W by exactly 2 (the common case, whatever the mode): each
     * source value is written twice, with contiguous loads instead of a
     * gather through the table. Checked against the table, so the kernel
     * reads exactly what the table names. */
    t->dup2 = g->out[g->nsp - 1] % 2 == 0;
    for (int64_t i = 0; t->dup2 && i < g->out[g->nsp - 1]; i++)
        t->dup2 = t->src[g->nsp - 1][i] == i / 2;
    return 0;
too_large:
    return up_errorf(err, UP_E_TOO_LARGE, "params.output_size", "output too large");
}

int prepare_nearest_unpool(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    int64_t numel = 0;
    for (int d = 0; d < g->nsp; d++)
        if (g->in[d] < 1)
            return up_errorf(err, UP_E_INVALID, "inputs.x",
                             "every spatial size of x must be >= 1, got %lld in dim %d",
                             (long long)g->in[d], d);
    g->mode = up_param_enum(p, NEAREST_UNPOOL_P_mode);
    if (up_param_resize(p, NEAREST_UNPOOL_P_scale_factor, NEAREST_UNPOOL_P_output_size, err) < 0) return -1;
    if (up_plan_set_output(p, NEAREST_UNPOOL_OUT_y, p->compute, g->N, g->C, g->out, err) < 0) return -1;
    numel = up_tensor_numel(&p->out[NEAREST_UNPOOL_OUT_y]);
    p->work_units = 0;
    if (numel == 0) return 0; /* nothing to compute, no tables needed */
    /* cost: one copy per output element, one table entry per coordinate */
    if (table_bytes(g, &p->mem_bytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "params.output_size", "output too large");
    p->work = up_sat_add(numel, (p->mem_bytes - (int64_t)sizeof(nearest_tab)) / 8);
    p->work_units = numel / g->out[g->nsp - 1];
    p->unit_cost = 2 * g->out[g->nsp - 1] * (int64_t)up_dtype_size(p->compute);
    return 0;
}

/* The tables, once the plan is admitted (charged through the plan). */
int build_nearest_unpool(up_plan *p, up_error *err)
{
    return p->work_units ? build_table(p, err) : 0;
}

/* Offset inside an x plane of the source row feeding output row r. */
static int64_t source_row(const nearest_tab *t, const up_geom *g, int64_t r)
{
    int64_t off = 0;
    for (int d = g->nsp - 2; d >= 0; d--) {
        off += t->src[d][r % g->out[d]] * t->in_stride[d];
        r /= g->out[d];
    }
    return off;
}

/* The kernel, once per compute type (template.h). The vectorised copies
 * (the gather, the duplicate-by-2 loop) are built for AVX2 too
 * (dispatch.h); the results are copies either way. */
#define T float
#define SFX f32
#include "nearest_unpool_impl.h"
#define T double
#define SFX f64
#include "nearest_unpool_impl.h"
