/* max_unpool.c -- scatter pooled values back to the positions max pooling
 * chose: PyTorch's max_unpool{1,2,3}d, and the seed's mask form.
 *
 * Indices form: each element of x goes to the position its index names in
 * its own (n, c) plane of the output; everything else is zero. Indices are
 * read in the plan's index layout (index_layout.h); one that does not land
 * inside its own plane is reported through up_fault and becomes a 422
 * naming the element, where PyTorch raises "Found an invalid max index".
 *
 * Mask form: the mask has the output's shape. Each element of x owns the
 * pooling window that kernel_size/stride/padding give it, clipped to the
 * output; the window is scanned in row-major order and the value goes to
 * its first nonzero mask position. A window without a nonzero drops its
 * value. This is the seed's pseudocode, and for a mask built from max_pool's
 * argmax it reproduces the indices form.
 *
 * Both forms: work units are (n, c) planes; a unit zero-fills its output
 * plane and then walks its plane of x in row-major order, so when several
 * elements target one position the last one in row-major order wins, and
 * the result does not depend on how the planes are split among workers.
 *
 * Output size (PyTorch's _unpool_output_size): by default
 * (in - 1) * stride - 2 * padding + kernel_size; a given output_size (or the
 * mask's shape) must lie strictly between default - stride and
 * default + stride. Unlike PyTorch, an empty output is rejected: PyTorch
 * returns an empty tensor and silently drops every value. */
#include <stdio.h>
#include <string.h>

#include "geometry.h"
#include "index_layout.h"
#include "op.h"
#include "ops.h"
#include "stream.h"

enum { IN_X = 0, IN_INDICES = 1, IN_MASK = 2 }; /* order of registry.c */

/* ---- kernels ------------------------------------------------------------ */

static void note_fault(up_fault *fault, int64_t elem, int64_t value, int input)
{
    if (fault && (fault->elem < 0 || elem < fault->elem)) {
        fault->elem = elem;
        fault->value = value;
        fault->input = input;
    }
}

/* Spatial geometry as three dims (D, H, W), leading dims of size 1. */
typedef struct unpool3 {
    int64_t in[3], out[3], k[3], s[3], p[3];
} unpool3;

static void unpool3_from_geom(const up_geom *g, unpool3 *q)
{
    int lead = 3 - g->nsp;
    for (int i = 0; i < 3; i++) {
        int j = i - lead;
        q->in[i] = j < 0 ? 1 : g->in[j];
        q->out[i] = j < 0 ? 1 : g->out[j];
        q->k[i] = j < 0 ? 1 : g->kernel[j];
        q->s[i] = j < 0 ? 1 : g->stride[j];
        q->p[i] = j < 0 ? 0 : g->pad[j];
    }
}

/* Window of pooled position o along one dim, clipped to the output:
 * [*lo, *hi), possibly empty. */
static inline void unpool_window(const unpool3 *q, int dim, int64_t o, int64_t *lo,
                                 int64_t *hi)
{
    int64_t a = o * q->s[dim] - q->p[dim];
    int64_t b = a + q->k[dim];
    *lo = a > 0 ? a : 0;
    *hi = b < q->out[dim] ? b : q->out[dim];
}

/* First nonzero of the window of pooled position (od, oh, ow) in mask plane
 * m, or -1. */
static int64_t mask_first(const unpool3 *q, const uint8_t *m, int64_t od, int64_t oh,
                          int64_t ow)
{
    int64_t d0, d1, h0, h1, w0, w1;
    unpool_window(q, 0, od, &d0, &d1);
    unpool_window(q, 1, oh, &h0, &h1);
    unpool_window(q, 2, ow, &w0, &w1);
    for (int64_t z = d0; z < d1; z++)
        for (int64_t r = h0; r < h1; r++) {
            const int64_t row = (z * q->out[1] + r) * q->out[2];
            for (int64_t w = w0; w < w1; w++)
                if (m[row + w]) return row + w;
        }
    return -1;
}

/* For an output past the last-level cache whose planes fit in L2, each
 * plane is zeroed and scattered in the worker's scratch buffer and then
 * streamed out (stream.h): the output is written once and never read.
 * NULL means in place: small outputs stay in cache for the encoder, and a
 * missing scratch buffer only costs speed. */
static void *scratch_plane(const up_plan *p, int64_t pout, size_t elem)
{
    const int64_t bytes = pout * (int64_t)elem;
    if (bytes > UP_STREAM_SCRATCH_MAX || (int64_t)up_tensor_nbytes(&p->out[0]) < UP_STREAM_MIN_BYTES)
        return NULL;
    return up_stream_scratch();
}

/* The scatter of one plane. For the plane and tensor layouts an index is
 * the plane position plus a per-plane offset, so the translation is hoisted
 * out of the loop and one unsigned compare checks both bounds; hwc/nhwc need
 * a division per element and go through up_index_to_plane(). The plane was
 * just zeroed and is still in cache when the scatter writes into it. */
#define MAX_UNPOOL_KERNEL(SFX, T)                                                         \
    static void scatter_plane_##SFX(const T *xp, const int64_t *ip, T *yp, int64_t pin,  \
                                    int64_t pout, int64_t base, int64_t u,               \
                                    up_fault *fault)                                     \
    {                                                                                     \
        for (int64_t i = 0; i < pin; i++) {                                               \
            const uint64_t pos = (uint64_t)ip[i] - (uint64_t)base;                        \
            if (pos >= (uint64_t)pout || ip[i] < 0) {                                     \
                note_fault(fault, u * pin + i, ip[i], IN_INDICES);                        \
                continue;                                                                 \
            }                                                                             \
            yp[pos] = xp[i];                                                              \
        }                                                                                 \
    }                                                                                     \
                                                                                          \
    static void unpool_indices_##SFX(const up_plan *p, int64_t begin, int64_t end,       \
                                     int64_t pin, int64_t pout, up_fault *fault)         \
    {                                                                                     \
        const T *x = (const T *)p->in[IN_X].data;                                         \
        const int64_t *ind = (const int64_t *)p->in[IN_INDICES].data;                     \
        T *y = (T *)p->out[0].data;                                                       \
        const int64_t C = p->g.C;                                                         \
        const int layout = p->g.index_layout;                                             \
        const int hoisted = layout == UP_IDX_PLANE || layout == UP_IDX_TENSOR;            \
        T *scratch = hoisted ? scratch_plane(p, pout, sizeof(T)) : NULL;                  \
        for (int64_t u = begin; u < end; u++) {                                           \
            const int64_t n = u / C, c = u % C;                                           \
            const T *xp = x + u * pin;                                                    \
            const int64_t *ip = ind + u * pin;                                            \
            T *yp = y + u * pout;                                                         \
            if (hoisted) {                                                                \
                T *dst = scratch ? scratch : yp;                                          \
                memset(dst, 0, (size_t)pout * sizeof(T));                                 \
                scatter_plane_##SFX(xp, ip, dst, pin, pout,                               \
                                    layout == UP_IDX_TENSOR ? u * pout : 0, u, fault);    \
                if (scratch) up_stream_copy(yp, scratch, (size_t)pout * sizeof(T));       \
                continue;                                                                 \
            }                                                                             \
            memset(yp, 0, (size_t)pout * sizeof(T));                                      \
            for (int64_t i = 0; i < pin; i++) {                                           \
                int64_t pos = up_index_to_plane(layout, ip[i], n, c, C, pout);            \
                if (pos < 0) {                                                            \
                    note_fault(fault, u * pin + i, ip[i], IN_INDICES);                    \
                    continue;                                                             \
                }                                                                         \
                yp[pos] = xp[i];                                                          \
            }                                                                             \
        }                                                                                 \
        if (scratch) up_stream_fence();                                                   \
    }                                                                                     \
                                                                                          \
    static void unpool_mask_##SFX(const up_plan *p, int64_t begin, int64_t end,          \
                                  const unpool3 *q, int64_t pin, int64_t pout)            \
    {                                                                                     \
        const T *x = (const T *)p->in[IN_X].data;                                            \
        const uint8_t *mask = (const uint8_t *)p->in[IN_MASK].data;                             \
        T *y = (T *)p->out[0].data;                                                       \
        for (int64_t u = begin; u < end; u++) {                                           \
            const T *xp = x + u * pin;                                                    \
            const uint8_t *mp = mask + u * pout;                                          \
            T *yp = y + u * pout;                                                         \
            memset(yp, 0, (size_t)pout * sizeof(T));                                      \
            for (int64_t od = 0; od < q->in[0]; od++)                                     \
                for (int64_t oh = 0; oh < q->in[1]; oh++)                                 \
                    for (int64_t ow = 0; ow < q->in[2]; ow++, xp++) {                     \
                        int64_t pos = mask_first(q, mp, od, oh, ow);                      \
                        if (pos >= 0) yp[pos] = *xp;                                      \
                    }                                                                     \
        }                                                                                 \
    }                                                                                     \
                                                                                          \
    void compute_forward_max_unpool_##SFX(const up_plan *p, int64_t begin, int64_t end,  \
                                          up_fault *fault)                                \
    {                                                                                     \
        unpool3 q;                                                                        \
        unpool3_from_geom(&p->g, &q);                                                     \
        const int64_t pin = q.in[0] * q.in[1] * q.in[2];                                  \
        const int64_t pout = q.out[0] * q.out[1] * q.out[2];                              \
        if (up_tensor_present(&p->in[IN_INDICES]))                                                 \
            unpool_indices_##SFX(p, begin, end, pin, pout, fault);                        \
        else                                                                              \
            unpool_mask_##SFX(p, begin, end, &q, pin, pout);                              \
    }

MAX_UNPOOL_KERNEL(f32, float)
MAX_UNPOOL_KERNEL(f64, double)

/* ---- prepare ------------------------------------------------------------ */

static int unpool_read_params(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    if (up_param_spatial(p, "kernel_size", -1, 1, g->kernel, err) < 0) return -1;
    if (up_plan_param_set(p, "stride")) {
        if (up_param_spatial(p, "stride", -1, 1, g->stride, err) < 0) return -1;
    } else {
        for (int i = 0; i < g->nsp; i++) g->stride[i] = g->kernel[i];
    }
    if (up_param_spatial(p, "padding", 0, 0, g->pad, err) < 0) return -1;
    g->index_layout = up_param_enum(p, "index_layout");
    return 0;
}

/* Exactly one of indices and mask; indices have x's shape, the mask has
 * x's rank, N and C (its spatial sizes are checked as an output size). */
static int unpool_check_inputs(up_plan *p, up_error *err)
{
    const up_tensor *x = &p->in[IN_X], *ind = &p->in[IN_INDICES], *m = &p->in[IN_MASK];
    char want[96], got[96];
    int has_ind = up_tensor_present(ind), has_mask = up_tensor_present(m);
    if (has_ind && has_mask)
        return up_errorf(err, UP_E_INVALID, "inputs.mask",
                         "give either indices or mask, not both");
    if (!has_ind && !has_mask)
        return up_errorf(err, UP_E_INVALID, "inputs.indices",
                         "one of indices or mask is required");
    if (p->g.C < 1)
        return up_errorf(err, UP_E_INVALID, "inputs.x",
                         "expected at least one channel, got C = %lld", (long long)p->g.C);
    for (int i = 0; i < p->g.nsp; i++)
        if (p->g.in[i] < 1)
            return up_errorf(err, UP_E_INVALID, "inputs.x",
                             "expected non-empty spatial dims, got size 0 in dim %d", i);
    if (has_ind) {
        int same = ind->rank == x->rank;
        for (int d = 0; same && d < x->rank; d++) same = ind->shape[d] == x->shape[d];
        if (!same) {
            up_shape_format(want, sizeof(want), x->shape, x->rank);
            up_shape_format(got, sizeof(got), ind->shape, ind->rank);
            return up_errorf(err, UP_E_INVALID, "inputs.indices",
                             "expected the shape of x %s, got %s", want, got);
        }
        return 0;
    }
    if (m->rank != x->rank || m->shape[0] != x->shape[0] || m->shape[1] != x->shape[1]) {
        up_shape_format(got, sizeof(got), m->shape, m->rank);
        return up_errorf(err, UP_E_INVALID, "inputs.mask",
                         "expected rank %d with (N, C) = (%lld, %lld) like x, got %s", x->rank,
                         (long long)x->shape[0], (long long)x->shape[1], got);
    }
    return 0;
}

/* PyTorch's default unpooled size (in - 1) * stride - 2 * padding + kernel.
 * Also checks that the last window's end (in - 1) * stride - padding +
 * kernel fits, since the mask kernel computes window ends unchecked. */
static int unpool_default_size(const up_geom *g, int i, int64_t *out)
{
    int64_t v, end;
    if (up_mul_i64(g->in[i] - 1, g->stride[i], &v) < 0 ||
        up_add_i64(v, -g->pad[i], &v) < 0 || up_add_i64(v, g->kernel[i], &end) < 0 ||
        up_add_i64(end, -g->pad[i], &v) < 0)
        return -1;
    *out = v;
    return 0;
}

/* A requested size must lie strictly within a stride of the default. */
static int unpool_check_size(const up_geom *g, int i, int64_t def, int64_t size,
                             const char *field, up_error *err)
{
    int64_t lo, hi;
    if (up_add_i64(def, -g->stride[i], &lo) < 0 || up_add_i64(def, g->stride[i], &hi) < 0)
        return up_errorf(err, UP_E_INVALID, field, "size overflows in dim %d", i);
    if (size <= lo || size >= hi)
        return up_errorf(err, UP_E_INVALID, field,
                         "size %lld in dim %d must be strictly between %lld and %lld "
                         "(default %lld = (in - 1) * stride - 2 * padding + kernel_size, "
                         "plus or minus stride)",
                         (long long)size, i, (long long)lo, (long long)hi, (long long)def);
    if (size < 1)
        return up_errorf(err, UP_E_INVALID, field, "size in dim %d must be >= 1, got %lld", i,
                         (long long)size);
    return 0;
}

/* Fill g->out from the default, output_size and/or the mask's shape. */
static int unpool_output_size(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    const up_tensor *m = &p->in[IN_MASK];
    int64_t def[UP_MAX_SPATIAL], req[UP_MAX_SPATIAL];
    int has_req, has_mask = up_tensor_present(m);
    for (int i = 0; i < g->nsp; i++)
        if (unpool_default_size(g, i, &def[i]) < 0)
            return up_errorf(err, UP_E_INVALID, "params.kernel_size",
                             "unpooled size overflows in dim %d", i);
    has_req = up_param_output_size(p, "output_size", g->N, g->C, req, err);
    if (has_req < 0) return -1;
    for (int i = 0; i < g->nsp; i++) {
        if (has_mask) {
            int64_t ms = m->shape[2 + i];
            if (unpool_check_size(g, i, def[i], ms, "inputs.mask", err) < 0) return -1;
            if (has_req && req[i] != ms)
                return up_errorf(err, UP_E_INVALID, "params.output_size",
                                 "output_size %lld in dim %d differs from the mask's size %lld",
                                 (long long)req[i], i, (long long)ms);
            g->out[i] = ms;
        } else if (has_req) {
            if (unpool_check_size(g, i, def[i], req[i], "params.output_size", err) < 0)
                return -1;
            g->out[i] = req[i];
        } else {
            if (def[i] < 1)
                return up_errorf(err, UP_E_INVALID, "params.padding",
                                 "unpooled size (in - 1) * stride - 2 * padding + kernel_size "
                                 "= %lld in dim %d; it must be >= 1",
                                 (long long)def[i], i);
            g->out[i] = def[i];
        }
    }
    return 0;
}

/* Element operations of the mask form per plane: zero the output, then
 * at most the window (clipped to the output) per element of x. */
static int64_t mask_scan_work(const unpool3 *q, int64_t pin, int64_t pout)
{
    int64_t w = pin;
    for (int d = 0; d < 3; d++) w = up_sat_mul(w, q->k[d] < q->out[d] ? q->k[d] : q->out[d]);
    return up_sat_add(w, pout);
}

int prepare_max_unpool(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    unpool3 q;
    int64_t pin = 1, pout = 1, cost;
    if (unpool_read_params(p, err) < 0 || unpool_check_inputs(p, err) < 0 ||
        unpool_output_size(p, err) < 0)
        return -1;
    if (up_plan_set_output(p, 0, p->compute, g->N, g->C, g->out, err) < 0) return -1;
    for (int i = 0; i < g->nsp; i++) {
        pin *= g->in[i];   /* sub-products of checked shapes (geometry.h) */
        pout *= g->out[i];
    }
    p->work_units = g->N * g->C;
    unpool3_from_geom(g, &q);
    p->work = up_sat_mul(up_tensor_present(&p->in[IN_MASK]) ? mask_scan_work(&q, pin, pout)
                                                            : pout + pin,
                         p->work_units);
    /* Bytes per plane: zero-fill and scatter into the output plane, read x
     * and its indices (int64) or the mask plane (uint8). */
    cost = pout * (int64_t)up_dtype_size(p->compute) +
           pin * (int64_t)(up_dtype_size(p->compute) + sizeof(int64_t));
    if (up_tensor_present(&p->in[IN_MASK])) cost += pout;
    p->unit_cost = cost > 0 ? cost : 1;
    return 0;
}
