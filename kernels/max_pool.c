/* max_pool.c -- max pooling with argmax indices, as PyTorch's
 * max_pool{1,2,3}d(return_indices=True) computes them on the CPU.
 *
 * Exactness against PyTorch means copying three of its habits, not just the
 * idea of a maximum:
 *   - the output size: floor or ceil of (in + 2p - d(k-1) - 1)/s + 1, and in
 *     ceil mode one window less when the last would start in the right
 *     padding;
 *   - the scan: maxval starts at -inf, the index at the first in-bounds
 *     window position, and an element wins when `val > maxval || isnan(val)`,
 *     so a NaN wins and the LAST NaN of a window is the one reported, and a
 *     window of all -inf reports its first position;
 *   - the first position is computed before the scan from the clamped window
 *     start, exactly as PyTorch does, so a window that lies wholly in the
 *     padding (possible with dilation, e.g. in=1, k=2, p=1, d=2) reports
 *     -inf and the same out-of-plane index PyTorch reports.
 * The 1d and 2d cases run through the 3d loop with leading dims of size 1,
 * which is what PyTorch does for 1d (it unsqueezes to 2d) and gives the same
 * index arithmetic.
 *
 * Work units are (n, c) planes; indices are written in the plan's index
 * layout through a per-plane affine map (pos * mul + add), which is what
 * up_index_from_plane() computes, without a switch per element. */
#include <math.h>
#include <stdint.h>

#include "geometry.h"
#include "index_layout.h"
#include "op.h"
#include "ops.h"

/* The spatial geometry as three dims (D, H, W), leading dims padded with
 * the identity window (size 1, kernel 1, stride 1, no padding). */
typedef struct pool3 {
    int64_t in[3], out[3], k[3], s[3], p[3], d[3];
} pool3;

static void pool3_from_geom(const up_geom *g, pool3 *q)
{
    int lead = 3 - g->nsp;
    for (int i = 0; i < 3; i++) {
        int j = i - lead;
        q->in[i] = j < 0 ? 1 : g->in[j];
        q->out[i] = j < 0 ? 1 : g->out[j];
        q->k[i] = j < 0 ? 1 : g->kernel[j];
        q->s[i] = j < 0 ? 1 : g->stride[j];
        q->p[i] = j < 0 ? 0 : g->pad[j];
        q->d[i] = j < 0 ? 1 : g->dilation[j];
    }
}

/* PyTorch's window of output position o along one dim: [*lo, *hi) stepping
 * by dilation, lo moved to the first position >= 0 on the dilation grid.
 * PyTorch steps there with `while (a < 0) a += dilation`, once per
 * dilation of padding; up_grid_first() is the same position in closed
 * form. Prepare bounded every term (window <= padded input), so no sum
 * here overflows and lo <= in (lo == in: a window wholly in the padding). */
static inline void pool_window(const pool3 *q, int dim, int64_t o, int64_t *lo, int64_t *hi)
{
    int64_t a = o * q->s[dim] - q->p[dim];
    int64_t b = a + (q->k[dim] - 1) * q->d[dim] + 1;
    *hi = b < q->in[dim] ? b : q->in[dim];
    *lo = up_grid_first(a, q->d[dim]);
}

/* Client index = plane position * mul + add, for plane (n, c). */
static void index_affine(int layout, int64_t n, int64_t c, int64_t C, int64_t plane,
                         int64_t *mul, int64_t *add)
{
    *add = up_index_from_plane(layout, 0, n, c, C, plane);
    *mul = up_index_from_plane(layout, 1, n, c, C, plane) - *add;
}

/* Rows along W are processed in blocks of this many outputs: the running
 * maxima and positions of a block stay in L1 while every input row of the
 * window streams past them. */
#define POOL_BLOCK 256

/* Vector code for any x86-64: the hot loops are built for the baseline and
 * for AVX2 and picked at load time (one binary for every machine). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define POOL_CLONES __attribute__((target_clones("avx2", "default"), optimize("O3")))
#else
#define POOL_CLONES
#endif

/* The interior of an output row along W: outputs whose window lies wholly
 * inside the input ([*lo, *hi)); with dilation 1 along W these take the
 * vectorised path. Windows clipped by padding go through the scalar code. */
static void pool_interior(const pool3 *q, int64_t *lo, int64_t *hi)
{
    const int64_t s = q->s[2], p = q->p[2], k = q->k[2], in = q->in[2], out = q->out[2];
    int64_t a = up_div_ceil(p, s);                /* first ow with ow*s - p >= 0 */
    int64_t b = in + p - k >= 0 ? (in + p - k) / s + 1 : 0; /* ow*s - p + k <= in */
    if (q->d[2] != 1) a = b = 0;
    if (a > out) a = out;
    if (b > out) b = out;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* I is an integer type as wide as T (int32 for float when the plane fits in
 * it, int64 for double): running maxima and positions then fill vectors of
 * the same width, and compare/select vectorise without conversions. The
 * update order per output is PyTorch's (rows of the window in order, then
 * along W), so results are bit-identical to the scalar scan. */
#define MAX_POOL_ROW_FAST(SFX, T, I)                                                     \
    static inline __attribute__((always_inline)) void pool_block_##SFX(                  \
        const pool3 *q, const T *x, int64_t d0, int64_t d1, int64_t h0, int64_t h1,       \
        int64_t row0, int64_t n, const int64_t s, const int64_t k, T *restrict m,         \
        I *restrict best)                                                                \
    {                                                                                    \
        const int64_t IH = q->in[1], IW = q->in[2];                                      \
        const I first = (I)((d0 * IH + h0) * IW + row0);                                 \
        for (int64_t i = 0; i < n; i++) {                                                \
            m[i] = (T)-INFINITY;                                                         \
            best[i] = first + (I)(i * s);                                                \
        }                                                                                \
        for (int64_t z = d0; z < d1; z += q->d[0])                                       \
            for (int64_t r = h0; r < h1; r += q->d[1]) {                                 \
                const int64_t row = (z * IH + r) * IW + row0;                            \
                for (int64_t j = 0; j < k; j++) {                                        \
                    const T *restrict xr = x + row + j;                                  \
                    const I pos0 = (I)(row + j);                                         \
                    for (int64_t i = 0; i < n; i++) {                                    \
                        const T v = xr[i * s], mo = m[i];                                \
                        const int c = (v > mo) | (v != v);                               \
                        m[i] = c ? v : mo;                                               \
                        best[i] = c ? pos0 + (I)(i * s) : best[i];                       \
                    }                                                                    \
                }                                                                        \
            }                                                                            \
    }                                                                                    \
                                                                                         \
    POOL_CLONES static void pool_row_fast_##SFX(const pool3 *q, const T *x, int64_t d0,   \
                                                int64_t d1, int64_t h0, int64_t h1,       \
                                                int64_t ow0, int64_t ow1, T *y,           \
                                                int64_t *yi, int64_t mul, int64_t add)    \
    {                                                                                    \
        const int64_t s = q->s[2], k = q->k[2], sp = q->p[2];                            \
        T m[POOL_BLOCK];                                                                 \
        I best[POOL_BLOCK];                                                              \
        for (int64_t b0 = ow0; b0 < ow1; b0 += POOL_BLOCK) {                             \
            const int64_t n = ow1 - b0 < POOL_BLOCK ? ow1 - b0 : POOL_BLOCK;             \
            /* the common 2-wide window with stride 2 gets constant strides */           \
            if (s == 2 && k == 2)                                                        \
                pool_block_##SFX(q, x, d0, d1, h0, h1, b0 * 2 - sp, n, 2, 2, m, best);   \
            else                                                                         \
                pool_block_##SFX(q, x, d0, d1, h0, h1, b0 * s - sp, n, s, k, m, best);   \
            for (int64_t i = 0; i < n; i++) {                                            \
                y[b0 + i] = m[i];                                                        \
                yi[b0 + i] = (int64_t)best[i] * mul + add;                               \
            }                                                                            \
        }                                                                                \
    }

#define MAX_POOL_KERNEL(SFX, T, I)                                                       \
    MAX_POOL_ROW_FAST(SFX, T, I)                                                         \
                                                                                         \
    /* One output position by the plain scan (windows clipped by padding, and     \
     * every position when dilation along W is not 1). */                                \
    static void pool_one_##SFX(const pool3 *q, const T *x, int64_t d0, int64_t d1,       \
                               int64_t h0, int64_t h1, int64_t ow, T *y, int64_t *yi,    \
                               int64_t mul, int64_t add)                                 \
    {                                                                                    \
        const int64_t IH = q->in[1], IW = q->in[2];                                      \
        int64_t w0, w1;                                                                  \
        pool_window(q, 2, ow, &w0, &w1);                                                 \
        int64_t best = (d0 * IH + h0) * IW + w0;                                         \
        T m = (T)-INFINITY;                                                              \
        for (int64_t z = d0; z < d1; z += q->d[0]) {                                     \
            for (int64_t r = h0; r < h1; r += q->d[1]) {                                 \
                const int64_t row = (z * IH + r) * IW;                                   \
                for (int64_t w = w0; w < w1; w += q->d[2]) {                             \
                    T v = x[row + w];                                                    \
                    if (v > m || isnan(v)) {                                             \
                        m = v;                                                           \
                        best = row + w;                                                  \
                    }                                                                    \
                }                                                                        \
            }                                                                            \
        }                                                                                \
        y[ow] = m;                                                                       \
        yi[ow] = best * mul + add;                                                       \
    }                                                                                    \
                                                                                         \
    static void max_pool_plane_##SFX(const pool3 *q, const T *x, T *y, int64_t *yi,      \
                                     int64_t mul, int64_t add, int fast)                 \
    {                                                                                    \
        int64_t lo, hi;                                                                  \
        pool_interior(q, &lo, &hi);                                                      \
        if (!fast) lo = hi = 0;                                                          \
        for (int64_t od = 0; od < q->out[0]; od++) {                                     \
            int64_t d0, d1;                                                              \
            pool_window(q, 0, od, &d0, &d1);                                             \
            for (int64_t oh = 0; oh < q->out[1]; oh++) {                                 \
                int64_t h0, h1;                                                          \
                pool_window(q, 1, oh, &h0, &h1);                                         \
                for (int64_t ow = 0; ow < lo; ow++)                                      \
                    pool_one_##SFX(q, x, d0, d1, h0, h1, ow, y, yi, mul, add);           \
                if (hi > lo)                                                             \
                    pool_row_fast_##SFX(q, x, d0, d1, h0, h1, lo, hi, y, yi, mul, add);  \
                for (int64_t ow = hi; ow < q->out[2]; ow++)                              \
                    pool_one_##SFX(q, x, d0, d1, h0, h1, ow, y, yi, mul, add);           \
                y += q->out[2];                                                          \
                yi += q->out[2];                                                         \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
                                                                                         \
    void compute_forward_max_pool_##SFX(const up_plan *p, int64_t begin, int64_t end,    \
                                        up_fault *fault)                                 \
    {                                                                                    \
        pool3 q;                                                                         \
        int64_t pin, pout;                                                               \
        (void)fault;                                                                     \
        pool3_from_geom(&p->g, &q);                                                      \
        pin = q.in[0] * q.in[1] * q.in[2];                                               \
        pout = q.out[0] * q.out[1] * q.out[2];                                           \
        /* positions must fit the narrow index type of the fast path */                 \
        const int fast = sizeof(I) == 8 || pin <= INT32_MAX;                             \
        const T *x = (const T *)p->in[0].data;                                           \
        T *y = (T *)p->out[0].data;                                                      \
        int64_t *yi = (int64_t *)p->out[1].data;                                         \
        for (int64_t u = begin; u < end; u++) {                                          \
            int64_t mul, add;                                                            \
            index_affine(p->g.index_layout, u / p->g.C, u % p->g.C, p->g.C, pin, &mul,   \
                         &add);                                                          \
            max_pool_plane_##SFX(&q, x + u * pin, y + u * pout, yi + u * pout, mul, add, \
                                 fast);                                                  \
        }                                                                                \
    }

MAX_POOL_KERNEL(f32, float, int32_t)
MAX_POOL_KERNEL(f64, double, int64_t)

/* ---- prepare: PyTorch's checks and output size -------------------------- */

/* Output size along dim i (geometry.h), after the bounds that keep every
 * window position small: PyTorch's padding <= kernel_size / 2, and a
 * window no larger than the padded input. With both, a window's first
 * in-plane position is at most the input size, so the position a kernel
 * reports for a window wholly in the padding (as PyTorch does) stays a
 * small number, and the window ends o * s - p + extent fit. PyTorch
 * accepts a larger window in ceil mode (one output, the window hanging
 * past both ends); unpoold refuses it (422), as nothing inside such a
 * window depends on how far it hangs out. */
static int pool_out_size(up_plan *p, int i, up_error *err)
{
    up_geom *g = &p->g;
    int64_t span, padded, out, end;
    if (g->pad[i] > g->kernel[i] / 2)
        return up_errorf(err, UP_E_INVALID, "params.padding",
                         "padding must be at most half of kernel_size, got padding %lld "
                         "for kernel_size %lld in dim %d",
                         (long long)g->pad[i], (long long)g->kernel[i], i);
    /* params are <= 2^31 - 1 and sizes <= 2^50: these cannot fail, but
     * the check is what says so */
    if (up_geom_window(g->kernel[i], g->dilation[i], &span) < 0 ||
        up_geom_padded(g->in[i], g->pad[i], &padded) < 0)
        return up_errorf(err, UP_E_INVALID, "params.kernel_size",
                         "kernel_size, dilation and padding overflow in dim %d", i);
    if (span > padded)
        return up_errorf(err, UP_E_INVALID, "params.kernel_size",
                         "the window (kernel_size - 1) * dilation + 1 = %lld is larger than the "
                         "padded input, input size %lld + 2 * padding %lld = %lld, in dim %d",
                         (long long)span, (long long)g->in[i], (long long)g->pad[i],
                         (long long)padded, i);
    if (up_geom_pool_out(g->in[i], g->kernel[i], g->stride[i], g->pad[i], g->dilation[i],
                         g->ceil_mode, &out) < 0 ||
        (out >= 1 && (up_mul_i64(out - 1, g->stride[i], &end) < 0 ||
                      up_add_i64(end, span, &end) < 0)))
        return up_errorf(err, UP_E_INVALID, "params.stride",
                         "stride and kernel_size overflow in dim %d", i);
    if (out < 1) /* not reachable with span <= padded; kept as the last word */
        return up_errorf(err, UP_E_INVALID, "params.kernel_size",
                         "output would be empty in dim %d: input size %lld, padding %lld, "
                         "window %lld, stride %lld give %lld; it must be >= 1",
                         i, (long long)g->in[i], (long long)g->pad[i], (long long)span,
                         (long long)g->stride[i], (long long)out);
    g->out[i] = out;
    return 0;
}

static int pool_read_params(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    if (up_param_spatial(p, "kernel_size", -1, 1, g->kernel, err) < 0) return -1;
    if (up_plan_param_set(p, "stride")) {
        if (up_param_spatial(p, "stride", -1, 1, g->stride, err) < 0) return -1;
    } else {
        for (int i = 0; i < g->nsp; i++) g->stride[i] = g->kernel[i];
    }
    if (up_param_spatial(p, "padding", 0, 0, g->pad, err) < 0) return -1;
    if (up_param_spatial(p, "dilation", 1, 1, g->dilation, err) < 0) return -1;
    g->ceil_mode = up_param_int(p, "ceil_mode", 0) != 0;
    g->index_layout = up_param_enum(p, "index_layout");
    return 0;
}

/* Element operations: every output scans at most min(kernel, positions of
 * the dilation grid inside the input) taps per dim. */
static int64_t pool_work(const up_geom *g, int64_t outputs)
{
    int64_t w = outputs;
    for (int i = 0; i < g->nsp; i++) {
        int64_t taps = up_div_ceil(g->in[i], g->dilation[i]);
        w = up_sat_mul(w, taps < g->kernel[i] ? taps : g->kernel[i]);
    }
    return up_sat_add(w, outputs);
}

int prepare_max_pool(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    int64_t pin = 1, pout = 1, cost;
    if (pool_read_params(p, err) < 0) return -1;
    if (g->C < 1)
        return up_errorf(err, UP_E_INVALID, "inputs.x",
                         "expected at least one channel, got C = %lld", (long long)g->C);
    for (int i = 0; i < g->nsp; i++)
        if (g->in[i] < 1)
            return up_errorf(err, UP_E_INVALID, "inputs.x",
                             "expected non-empty spatial dims, got size 0 in dim %d", i);
    for (int i = 0; i < g->nsp; i++)
        if (pool_out_size(p, i, err) < 0) return -1;
    if (up_plan_set_output(p, 0, p->compute, g->N, g->C, g->out, err) < 0 ||
        up_plan_set_output(p, 1, UP_I64, g->N, g->C, g->out, err) < 0)
        return -1;
    for (int i = 0; i < g->nsp; i++) {
        pin *= g->in[i];   /* sub-products of checked shapes (geometry.h) */
        pout *= g->out[i];
    }
    p->work_units = g->N * g->C;
    p->work = pool_work(g, up_tensor_numel(&p->out[0]));
    /* Bytes per plane: read the input plane (windows overlap in cache),
     * write values and int64 indices. */
    cost = pin * (int64_t)up_dtype_size(p->compute) +
           pout * (int64_t)(up_dtype_size(p->compute) + sizeof(int64_t));
    p->unit_cost = cost > 0 ? cost : 1;
    return 0;
}
