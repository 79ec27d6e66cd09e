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

enum { IN_X = 0, IN_SAMPLES = 1 };
enum { OUT_Y = 0, OUT_INDICES = 1 };

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
    const up_tensor *s = &p->in[IN_SAMPLES], *raw = &p->raw[IN_SAMPLES];
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
    if (up_tensor_present(&p->in[IN_SAMPLES])) {
        *bytes = 0;
        return 0;
    }
    if (up_mul_i64(p->g.N, p->g.C, &count) < 0 || up_mul_i64(count, p->g.nsp, &count) < 0)
        return -1;
    return up_geom_bytes(count, up_dtype_size(p->compute), bytes);
}

static int resolve_samples(up_plan *p, up_error *err)
{
    int has_samples = up_tensor_present(&p->in[IN_SAMPLES]);
    int has_seed = up_plan_param_set(p, "seed");
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
    if (up_tensor_present(&p->in[IN_SAMPLES]) || p->work_units == 0) return 0;
    if (drawn_samples_bytes(p, &bytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "inputs.x", "N * C overflows");
    if (!(buf = up_plan_scratch_alloc(p, bytes, "fractional_max_pool samples", err))) return -1;
    draw_samples(buf, p->compute, bytes / (int64_t)up_dtype_size(p->compute),
                 up_param_int(p, "seed", 0));
    return 0;
}

/* ---- geometry ----------------------------------------------------------- */

static int resolve_output_size(up_plan *p, int64_t out[UP_MAX_SPATIAL], up_error *err)
{
    double ratio[UP_MAX_SPATIAL];
    int nsp = p->g.nsp;
    int has_size = up_param_output_size(p, "output_size", p->g.N, p->g.C, out, err);
    int has_ratio;
    if (has_size < 0) return -1;
    has_ratio = up_param_spatial_f(p, "output_ratio", ratio, err);
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
    if (up_param_spatial(p, "kernel_size", -1, 1, g->kernel, err) < 0) return -1;
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
    if (up_plan_set_output(p, OUT_Y, p->compute, g->N, g->C, g->out, err) < 0 ||
        up_plan_set_output(p, OUT_INDICES, UP_I64, g->N, g->C, g->out, err) < 0)
        return -1;
    if (up_mul_i64(g->N, g->C, &units) < 0 || drawn_samples_bytes(p, &p->mem_bytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "inputs.x", "N * C overflows");
    p->work_units = units;
    /* every output scans its kernel window */
    window = 1;
    for (int d = 0; d < g->nsp; d++) window = up_sat_mul(window, g->kernel[d]);
    p->work = up_sat_add(up_sat_mul(up_tensor_numel(&p->out[OUT_Y]), window),
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

/* Window starts of one dim, as PyTorch's generate_intervals, in type T. A
 * unit computes each start once per output index, so there is no
 * per-plane allocation.
 *
 * In float32, (i + u) * alpha can round past in - pool, the last start
 * that fits: x of width 12579921, kernel 1, output 12576890 and
 * u = 0.5000001192092896 give 12579921 for i = out - 2, a window wholly
 * outside the plane. PyTorch 1.13 stops there with an internal assertion
 * ("w2 >= 0 && w2 < inputW INTERNAL ASSERT FAILED"); unpoold clamps the
 * start to in - pool, the window PyTorch's own last output uses, so every
 * read stays in the plane. Wherever PyTorch's window fits, the clamp does
 * not change it. */
#define FMP_DEFINE_START(T, SUF)                                               \
    static inline int64_t fmp_start_##SUF(T u, T alpha, int64_t i, int64_t in, \
                                          int64_t out, int64_t pool)           \
    {                                                                          \
        int64_t s;                                                             \
        if (i == out - 1) return in - pool;                                    \
        s = (int64_t)(((T)i + u) * alpha) - (int64_t)(u * alpha);              \
        return s < in - pool ? s : in - pool;                                  \
    }

FMP_DEFINE_START(float, f32)
FMP_DEFINE_START(double, f64)

/* One (n, c) plane: every output position of unit u. */
#define FMP_DEFINE_PLANE(T, SUF)                                                        \
    static void fmp_plane_##SUF(const up_plan *p, const fmp_plane *pl, int64_t u,         \
                                const T *samples)                                         \
    {                                                                                     \
        const up_geom *g = &p->g;                                                         \
        int64_t n = u / g->C, c = u % g->C;                                               \
        int64_t plane_in = pl->in[0] * pl->in[1] * pl->in[2];                             \
        int64_t plane_out = pl->out[0] * pl->out[1] * pl->out[2];                         \
        const T *x = (const T *)p->in[IN_X].data + u * plane_in;                          \
        T *y = (T *)p->out[OUT_Y].data + u * plane_out;                                   \
        int64_t *ind = (int64_t *)p->out[OUT_INDICES].data + u * plane_out;               \
        T smp[3], alpha[3];                                                               \
        for (int d = 0; d < 3; d++) {                                                     \
            smp[d] = pl->sample_of[d] < 0 ? (T)0 : samples[u * g->nsp + pl->sample_of[d]]; \
            alpha[d] = pl->out[d] > 1 ? (T)(pl->in[d] - pl->k[d]) / (T)(pl->out[d] - 1)   \
                                      : (T)0;                                             \
        }                                                                                 \
        for (int64_t ot = 0; ot < pl->out[0]; ot++) {                                     \
            int64_t t0 = fmp_start_##SUF(smp[0], alpha[0], ot, pl->in[0], pl->out[0],     \
                                         pl->k[0]);                                       \
            for (int64_t oh = 0; oh < pl->out[1]; oh++) {                                 \
                int64_t h0 = fmp_start_##SUF(smp[1], alpha[1], oh, pl->in[1], pl->out[1], \
                                             pl->k[1]);                                   \
                int64_t o = (ot * pl->out[1] + oh) * pl->out[2];                          \
                for (int64_t ow = 0; ow < pl->out[2]; ow++, o++) {                        \
                    int64_t w0 = fmp_start_##SUF(smp[2], alpha[2], ow, pl->in[2],         \
                                                 pl->out[2], pl->k[2]);                   \
                    int64_t best_pos = (t0 * pl->in[1] + h0) * pl->in[2] + w0;            \
                    T best = (T)-INFINITY;                                                \
                    for (int64_t t = t0; t < t0 + pl->k[0]; t++)                          \
                        for (int64_t h = h0; h < h0 + pl->k[1]; h++) {                    \
                            int64_t row = (t * pl->in[1] + h) * pl->in[2];                \
                            for (int64_t w = w0; w < w0 + pl->k[2]; w++) {                \
                                T v = x[row + w];                                         \
                                if (v > best || isnan(v)) {                               \
                                    best = v;                                             \
                                    best_pos = row + w;                                   \
                                }                                                         \
                            }                                                             \
                        }                                                                 \
                    y[o] = best;                                                          \
                    ind[o] = up_index_from_plane(g->index_layout, best_pos, n, c, g->C,   \
                                                 plane_in);                               \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
                                                                                          \
    void compute_forward_fractional_max_pool_##SUF(const up_plan *p, int64_t begin,       \
                                                   int64_t end, up_fault *fault)          \
    {                                                                                     \
        const T *samples = p->scratch ? (const T *)p->scratch                             \
                                      : (const T *)p->in[IN_SAMPLES].data;                \
        fmp_plane pl;                                                                     \
        (void)fault; /* every input is valid once prepare accepted it */                  \
        plane_geometry(p, &pl);                                                           \
        for (int64_t u = begin; u < end; u++) fmp_plane_##SUF(p, &pl, u, samples);        \
    }

FMP_DEFINE_PLANE(float, f32)
FMP_DEFINE_PLANE(double, f64)
