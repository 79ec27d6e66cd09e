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

#include "dispatch.h"
#include "geometry.h"
#include "index_layout.h"
#include "op.h"
#include "ops.h"
#include "template.h"

/* The spatial geometry as three dims (geometry.h). */
typedef up_geom3 pool3;


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

/* ONNX storage_order 1: a row-major plane position (z, r, w) becomes
 * z + r * D + w * D * H, column-major over the spatial dims, then the
 * layout's affine map. Positions of windows wholly in the padding can lie
 * outside the plane; they are re-spelt by the same arithmetic (reads
 * nothing). 1d and 2d run as 3d with leading sizes 1, where it reduces to
 * h + w * H and the identity. */
static void column_major(const pool3 *q, int64_t *yi, int64_t n, int64_t mul, int64_t add)
{
    const int64_t D = q->in[0], H = q->in[1], W = q->in[2];
    for (int64_t k = 0; k < n; k++) {
        int64_t pos = yi[k], w = pos % W, r = (pos / W) % H, z = pos / W / H;
        yi[k] = (z + r * D + w * D * H) * mul + add;
    }
}

/* Rows along W are processed in blocks of this many outputs: the running
 * maxima and positions of a block stay in L1 while every input row of the
 * window streams past them. */
#define POOL_BLOCK 256

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

/* The kernels, once per compute type (template.h): I is the position type
 * of the vectorised path, T_LOWEST the running maximum's start, T_ISNAN
 * the test that lets a NaN win (v != v: isnan() without a libm call, and
 * vectorisable). uint8 and
 * int8 images run natively (the op is flagged UP_OPF_INT_NATIVE): their
 * lowest value plays -inf's part, and gives the same answer the float32
 * path would after its saturating store (a window wholly in the padding
 * reports the lowest value; ties keep the first position either way, since
 * the first in-bound element beats -inf exactly when it is not the lowest
 * value, and the index starts at that position). */
#define T float
#define I int32_t
#define SFX f32
#define T_LOWEST (-INFINITY)
#define T_ISNAN(v) ((v) != (v))
#include "max_pool_impl.h"
#define T double
#define I int64_t
#define SFX f64
#define T_LOWEST (-(double)INFINITY)
#define T_ISNAN(v) ((v) != (v))
#include "max_pool_impl.h"
#define T uint8_t
#define I int32_t
#define SFX u8
#define T_LOWEST ((uint8_t)0)
#define T_ISNAN(v) 0
#include "max_pool_impl.h"
#define T int8_t
#define I int32_t
#define SFX i8
#define T_LOWEST ((int8_t)INT8_MIN)
#define T_ISNAN(v) 0
#include "max_pool_impl.h"

/* The registry's two kernel slots: float64, and everything else by the
 * compute dtype (float32, or uint8 / int8 as sent). */
void compute_forward_max_pool_f32(const up_plan *p, int64_t begin, int64_t end, up_fault *f)
{
    if (p->compute == UP_U8)
        max_pool_units_u8(p, begin, end, f);
    else if (p->compute == UP_I8)
        max_pool_units_i8(p, begin, end, f);
    else
        max_pool_units_f32(p, begin, end, f);
}

void compute_forward_max_pool_f64(const up_plan *p, int64_t begin, int64_t end, up_fault *f)
{
    max_pool_units_f64(p, begin, end, f);
}

/* ---- prepare: PyTorch's checks and output size -------------------------- */

/* Output size along dim i (geometry.h), after the bounds that keep every
 * window position small: PyTorch's padding <= kernel_size / 2, and a
 * window no larger than the padded input. With both, a window's first
 * in-plane position is at most the input size, so the position a kernel
 * reports for a window wholly in the padding (as PyTorch does) stays a
 * small number, and the window ends o * s - p + extent fit. PyTorch
 * accepts a larger window in ceil mode (one output, the window hanging
 * past both ends); unpoold refuses it (422), as nothing inside such a
 * window depends on how far it hangs out. ONNX pads (begin and end apart,
 * `onnx_pads`) may exceed half the kernel, as ONNX allows: a window may
 * then lie wholly in the padding, which reports -inf (the dtype's lowest
 * value for integer images) as PyTorch's scan does, and the sizes stay
 * bounded by the padded input (pads <= 2^31 - 1 each). */
static int pool_out_size(up_plan *p, int i, int onnx_pads, up_error *err)
{
    up_geom *g = &p->g;
    int64_t span, padded, out, end;
    if (!onnx_pads && g->pad[i] > g->kernel[i] / 2)
        return up_errorf(err, UP_E_INVALID, "params.padding",
                         "padding must be at most half of kernel_size, got padding %lld "
                         "for kernel_size %lld in dim %d",
                         (long long)g->pad[i], (long long)g->kernel[i], i);
    /* params are <= 2^31 - 1 and sizes <= 2^50: these cannot fail, but
     * the check is what says so */
    if (up_geom_window(g->kernel[i], g->dilation[i], &span) < 0 ||
        up_add_i64(g->in[i], g->pad[i], &padded) < 0 ||
        up_add_i64(padded, g->pad_end[i], &padded) < 0)
        return up_errorf(err, UP_E_INVALID, "params.kernel_size",
                         "kernel_size, dilation and padding overflow in dim %d", i);
    if (span > padded)
        return up_errorf(err, UP_E_INVALID, "params.kernel_size",
                         "the window (kernel_size - 1) * dilation + 1 = %lld is larger than the "
                         "padded input, input size %lld + padding %lld + %lld = %lld, in dim %d",
                         (long long)span, (long long)g->in[i], (long long)g->pad[i],
                         (long long)g->pad_end[i], (long long)padded, i);
    /* PyTorch's pooling_output_shape with the two sides apart (ONNX's
     * rule, which is the same when they are equal): floor or ceil of
     * (padded - span) / stride, + 1, and in ceil mode one less when the
     * last window would start in the end padding */
    out = (padded - span) / g->stride[i] + 1;
    if (g->ceil_mode) {
        out += (padded - span) % g->stride[i] != 0;
        if ((out - 1) * g->stride[i] >= g->in[i] + g->pad[i]) out--;
    }
    if (up_mul_i64(out - 1, g->stride[i], &end) < 0 || up_add_i64(end, span, &end) < 0)
        return up_errorf(err, UP_E_INVALID, "params.stride",
                         "stride and kernel_size overflow in dim %d", i);
    g->out[i] = out;
    return 0;
}

/* ONNX auto_pad same_upper / same_lower: output ceil(in / stride), the
 * total padding that gives it split with the odd one at the end / start;
 * valid: no padding (the general rule then gives ONNX's
 * ceil((in - span + 1) / stride)). Exclusive with pads and padding. */
static int pool_auto_pad(up_plan *p, int mode, up_error *err)
{
    up_geom *g = &p->g;
    if (mode == UP_AUTO_PAD_NOTSET) return 0;
    if (up_plan_param_set(p, MAX_POOL_P_pads) || up_plan_param_set(p, MAX_POOL_P_padding))
        return up_errorf(err, UP_E_INVALID, "params.auto_pad",
                         "auto_pad other than notset excludes pads and padding");
    for (int i = 0; i < g->nsp; i++) {
        int64_t span, out, total;
        g->pad[i] = g->pad_end[i] = 0;
        if (mode == UP_AUTO_PAD_VALID) continue;
        if (up_geom_window(g->kernel[i], g->dilation[i], &span) < 0)
            return up_errorf(err, UP_E_INVALID, "params.kernel_size", "window overflows");
        out = up_div_ceil(g->in[i], g->stride[i]);
        /* (out - 1) * stride < in, so this is < in + span: no overflow */
        total = (out - 1) * g->stride[i] + span - g->in[i];
        if (total < 0) total = 0;
        up_pad_split(total, mode == UP_AUTO_PAD_SAME_LOWER, &g->pad[i], &g->pad_end[i]);
    }
    return 0;
}

static int pool_read_params(up_plan *p, int *onnx_pads, up_error *err)
{
    up_geom *g = &p->g;
    int64_t so;
    if (up_param_window(p, MAX_POOL_P_kernel_size, MAX_POOL_P_stride, MAX_POOL_P_padding, err) < 0)
        return -1;
    if (up_param_spatial(p, MAX_POOL_P_dilation, 1, 1, g->dilation, err) < 0) return -1;
    g->ceil_mode = up_param_int(p, MAX_POOL_P_ceil_mode, 0) != 0;
    g->index_layout = up_param_enum(p, MAX_POOL_P_index_layout);
    so = up_param_int(p, MAX_POOL_P_storage_order, 0);
    if (so != 0 && so != 1)
        return up_errorf(err, UP_E_INVALID, "params.storage_order",
                         "storage_order must be 0 (row-major) or 1 (column-major), got %lld",
                         (long long)so);
    g->storage_order = (int)so;
    if ((*onnx_pads = up_param_pads(p, MAX_POOL_P_pads, MAX_POOL_P_padding, err)) < 0) return -1;
    if (up_param_enum(p, MAX_POOL_P_auto_pad) != UP_AUTO_PAD_NOTSET) *onnx_pads = 1;
    return pool_auto_pad(p, up_param_enum(p, MAX_POOL_P_auto_pad), err);
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
    int onnx_pads = 0;
    if (pool_read_params(p, &onnx_pads, err) < 0) return -1;
    if (g->C < 1)
        return up_errorf(err, UP_E_INVALID, "inputs.x",
                         "expected at least one channel, got C = %lld", (long long)g->C);
    for (int i = 0; i < g->nsp; i++)
        if (g->in[i] < 1)
            return up_errorf(err, UP_E_INVALID, "inputs.x",
                             "expected non-empty spatial dims, got size 0 in dim %d", i);
    for (int i = 0; i < g->nsp; i++)
        if (pool_out_size(p, i, onnx_pads, err) < 0) return -1;
    if (up_plan_set_output(p, MAX_POOL_OUT_y, p->compute, g->N, g->C, g->out, err) < 0 ||
        up_plan_set_output(p, MAX_POOL_OUT_indices, UP_I64, g->N, g->C, g->out, err) < 0)
        return -1;
    for (int i = 0; i < g->nsp; i++) {
        pin *= g->in[i];   /* sub-products of checked shapes (geometry.h) */
        pout *= g->out[i];
    }
    p->work_units = g->N * g->C;
    p->work = pool_work(g, up_tensor_numel(&p->out[MAX_POOL_OUT_y]));
    /* Bytes per plane: read the input plane (windows overlap in cache),
     * write values and int64 indices. */
    cost = pin * (int64_t)up_dtype_size(p->compute) +
           pout * (int64_t)(up_dtype_size(p->compute) + sizeof(int64_t));
    p->unit_cost = cost > 0 ? cost : 1;
    return 0;
}
