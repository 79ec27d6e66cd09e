/* fractional_max_pool.c -- PyTorch's fractional_max_pool{2,3}d with indices.
 *
 * Each (n, c) plane gets one random sample u in [0, 1) per spatial dim, and
 * the windows of that dim start at PyTorch's pseudo-random interval sequence
 * (aten/src/ATen/native/FractionalMaxPooling.h, generate_intervals):
 *
 *   alpha  = (in - pool) / (out - 1)                in the compute dtype
 *   seq[i] = (int)((i + u) * alpha) - (int)(u * alpha)     i < out - 1
 *   seq[out - 1] = in - pool
 *
 * The arithmetic is done in the compute dtype (float for float32/16/bf16,
 * double for float64) exactly as PyTorch does it, so the windows, and hence
 * values and indices, are bit-identical to PyTorch given the same samples.
 * Sample order is PyTorch's: 2d samples[..., 0] drives W and [..., 1]
 * drives H; 3d samples[..., 0..2] drive T, H, W.
 *
 * Inside a window the maximum wins on `v > max || isnan(v)` in row-major
 * window order, so the last NaN of a window wins, and a window whose values
 * are all -inf reports its first position -- both as PyTorch's CPU kernel
 * does.
 *
 * Samples come from the `samples` input, or are drawn here from `seed` with
 * splitmix64 (see draw_samples). Neither given means seed 0: PyTorch draws
 * fresh random samples in that case, but a service answer that changes from
 * call to call for the same request is worse than a fixed default, and a
 * client who wants randomness can send its own seed.
 *
 * Validity: output + kernel - 1 <= input per dim. PyTorch checks exactly
 * that for 2d; its 3d check is strict (<), which rejects the case where the
 * windows tile the input with stride 1, although the formula is well
 * defined there. We accept it in 3d as in 2d.
 *
 * Work units are (n, c) planes; a unit writes its own plane of y and of
 * indices and nothing else. */
#include <math.h>
#include <stdlib.h>

#include "convert.h"
#include "geometry.h"
#include "index_layout.h"
#include "op.h"
#include "ops.h"
#include "template.h"

/* ---- samples ------------------------------------------------------------ */

/* Output k (0-based) of splitmix64 started at state `seed`: the generator
 * adds the golden gamma, then mixes. Counter-based, so sample k does not
 * depend on how many were drawn before it. */
static uint64_t splitmix64_at(uint64_t seed, uint64_t k)
{
    uint64_t z = seed + (k + 1) * UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Server-drawn samples, (N, C, nsp) row-major, sample k from output k of
 * splitmix64(seed): float32 takes the top 24 bits * 2^-24, float64 the top
 * 53 bits * 2^-53, so every value is exact in its dtype and lies in [0, 1). */
static void draw_samples(void *buf, up_dtype compute, int64_t count, int64_t seed)
{
    for (int64_t k = 0; k < count; k++) {
        uint64_t z = splitmix64_at((uint64_t)seed, (uint64_t)k);
        if (compute == UP_F64)
            ((double *)buf)[k] = (double)(z >> 11) * 0x1.0p-53;
        else
            ((float *)buf)[k] = (float)(z >> 40) * 0x1.0p-24f;
    }
}

/* The client's samples, read from what it sent (prepare allocates
 * nothing, so the converted copy does not exist yet) and rounded to the
 * compute dtype as the conversion will round them. */
static int check_samples(up_plan *p, up_error *err)
{
    const up_tensor *s = &p->in[FMP_IN_samples], *raw = &p->raw[FMP_IN_samples];
    int nsp = p->g.nsp;
    int64_t count;
    if (s->rank != 3 || s->shape[0] != p->g.N || s->shape[1] != p->g.C || s->shape[2] != nsp)
        return up_errorf(err, UP_E_INVALID, "inputs.samples",
                         "expected shape [%lld, %lld, %d] (N, C, spatial dims), got rank %d "
                         "[%lld, %lld, %lld]",
                         (long long)p->g.N, (long long)p->g.C, nsp, s->rank,
                         (long long)(s->rank > 0 ? s->shape[0] : 0),
                         (long long)(s->rank > 1 ? s->shape[1] : 0),
                         (long long)(s->rank > 2 ? s->shape[2] : 0));
    count = up_tensor_numel(s);
    for (int64_t k = 0; k < count; k++) {
        double v = up_load_f64(raw, k);
        if (p->compute != UP_F64) v = (double)(float)v;
        if (!(v >= 0.0 && v < 1.0))
            return up_errorf(err, UP_E_INVALID, "inputs.samples",
                             "every sample must lie in [0, 1); element %lld is %g",
                             (long long)k, v);
    }
    return 0;
}

/* Samples drawn on the server when the client sent none: their bytes
 * (0 when the client sent samples), for the cost model and for build. */
static int drawn_samples_bytes(const up_plan *p, int64_t *bytes)
{
    int64_t count;
    if (up_tensor_present(&p->in[FMP_IN_samples])) {
        *bytes = 0;
        return 0;
    }
    if (up_mul_i64(p->g.N, p->g.C, &count) < 0 || up_mul_i64(count, p->g.nsp, &count) < 0)
        return -1;
    return up_geom_bytes(count, up_dtype_size(p->compute), bytes);
}

static int resolve_samples(up_plan *p, up_error *err)
{
    int has_samples = up_tensor_present(&p->in[FMP_IN_samples]);
    int has_seed = up_plan_param_set(p, FMP_P_seed);
    if (has_samples && has_seed)
        return up_errorf(err, UP_E_INVALID, "params.seed",
                         "give the samples input or the seed param, not both");
    if (has_samples) return check_samples(p, err);
    return 0;
}

/* Point p->scratch at server-drawn samples when the client sent none. */
int build_fractional_max_pool(up_plan *p, up_error *err)
{
    int64_t bytes;
    void *buf;
    if (up_tensor_present(&p->in[FMP_IN_samples]) || p->work_units == 0) return 0;
    if (drawn_samples_bytes(p, &bytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "inputs.x", "N * C overflows");
    if (!(buf = up_plan_scratch_alloc(p, bytes, "fractional_max_pool samples", err))) return -1;
    draw_samples(buf, p->compute, bytes / (int64_t)up_dtype_size(p->compute),
                 up_param_int(p, FMP_P_seed, 0));
    return 0;
}

/* ---- geometry ----------------------------------------------------------- */

static int resolve_output_size(up_plan *p, int64_t out[UP_MAX_SPATIAL], up_error *err)
{
    double ratio[UP_MAX_SPATIAL];
    int nsp = p->g.nsp;
    int has_size = up_param_output_size(p, FMP_P_output_size, p->g.N, p->g.C, out, err);
    int has_ratio;
    if (has_size < 0) return -1;
    has_ratio = up_param_spatial_f(p, FMP_P_output_ratio, ratio, err);
    if (has_ratio < 0) return -1;
    if (has_size && has_ratio)
        return up_errorf(err, UP_E_INVALID, "params.output_ratio",
                         "give output_size or output_ratio, not both");
    if (!has_size && !has_ratio)
        return up_errorf(err, UP_E_INVALID, "params.output_size",
                         "one of output_size and output_ratio is required");
    if (has_size) return 0;
    for (int d = 0; d < nsp; d++) {
        if (ratio[d] >= 1.0)
            return up_errorf(err, UP_E_INVALID, "params.output_ratio",
                             "every ratio must lie in (0, 1), got %g", ratio[d]);
        /* PyTorch's wrapper: int(input_size * ratio), in double */
        out[d] = (int64_t)((double)p->g.in[d] * ratio[d]);
        if (out[d] < 1)
            return up_errorf(err, UP_E_INVALID, "params.output_ratio",
                             "ratio %g of input size %lld gives an output size of 0",
                             ratio[d], (long long)p->g.in[d]);
    }
    return 0;
}

int prepare_fractional_max_pool(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    int64_t plane_in = 1, plane_out = 1, units, window;
    if (g->C < 1)
        return up_errorf(err, UP_E_INVALID, "inputs.x",
                         "expected at least one channel, got C = %lld", (long long)g->C);
    if (up_param_spatial(p, FMP_P_kernel_size, -1, 1, g->kernel, err) < 0) return -1;
    if (resolve_output_size(p, g->out, err) < 0) return -1;
    for (int d = 0; d < g->nsp; d++) {
        /* out + kernel - 1 <= in, written without overflow: both >= 1 */
        if (g->kernel[d] > g->in[d] || g->out[d] > g->in[d] - g->kernel[d] + 1)
            return up_errorf(err, UP_E_INVALID, "params.kernel_size",
                             "spatial dim %d: output size %lld + kernel_size %lld - 1 must be "
                             "<= input size %lld",
                             d, (long long)g->out[d], (long long)g->kernel[d],
                             (long long)g->in[d]);
        plane_in *= g->in[d];   /* products of sizes of validated tensors */
        plane_out *= g->out[d]; /* out <= in: no overflow */
    }
    if (resolve_samples(p, err) < 0) return -1;
    if (up_plan_set_output(p, FMP_OUT_y, p->compute, g->N, g->C, g->out, err) < 0 ||
        up_plan_set_output(p, FMP_OUT_indices, UP_I64, g->N, g->C, g->out, err) < 0)
        return -1;
    if (up_mul_i64(g->N, g->C, &units) < 0 || drawn_samples_bytes(p, &p->mem_bytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "inputs.x", "N * C overflows");
    p->work_units = units;
    /* every output scans its kernel window */
    window = 1;
    for (int d = 0; d < g->nsp; d++) window = up_sat_mul(window, g->kernel[d]);
    p->work = up_sat_add(up_sat_mul(up_tensor_numel(&p->out[FMP_OUT_y]), window),
                         p->mem_bytes / (int64_t)up_dtype_size(p->compute));
    /* reads up to the whole input plane, writes y and int64 indices */
    p->unit_cost = plane_in * (int64_t)up_dtype_size(p->compute) +
                   plane_out * (int64_t)(up_dtype_size(p->compute) + 8);
    return 0;
}

/* ---- kernels ------------------------------------------------------------ */

/* One plane's geometry, padded to 3 dims (T, H, W) with size-1 dims in
 * front for 2d, and the sample that drives each dim. */
typedef struct fmp_plane {
    int64_t in[3], out[3], k[3];
    int sample_of[3]; /* which of the plane's samples drives dim d; -1: none */
} fmp_plane;

static void plane_geometry(const up_plan *p, fmp_plane *pl)
{
    const up_geom *g = &p->g;
    int lead = 3 - g->nsp;
    for (int d = 0; d < 3; d++) {
        pl->in[d] = pl->out[d] = pl->k[d] = 1;
        pl->sample_of[d] = -1;
    }
    for (int d = 0; d < g->nsp; d++) {
        pl->in[lead + d] = g->in[d];
        pl->out[lead + d] = g->out[d];
        pl->k[lead + d] = g->kernel[d];
    }
    if (g->nsp == 2) { /* PyTorch 2d: sample 0 drives W, sample 1 drives H */
        pl->sample_of[1] = 1;
        pl->sample_of[2] = 0;
    } else {           /* PyTorch 3d: samples 0, 1, 2 drive T, H, W */
        pl->sample_of[0] = 0;
        pl->sample_of[1] = 1;
        pl->sample_of[2] = 2;
    }
}

/* The kernels, once per compute type (template.h). */
#define T float
#define SFX f32
#include "fractional_max_pool_impl.h"
#define T double
#define SFX f64
#include "fractional_max_pool_impl.h"
