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
 * output; the value goes to the window's first nonzero mask position in
 * row-major order. A window without a nonzero drops its value. This is the
 * seed's pseudocode, and for a mask built from max_pool's argmax it
 * reproduces the indices form. Scanning each window, as the pseudocode
 * does, costs input x window (a 400x400 x with kernel 400 and stride 1 is
 * 2.6e10 steps); mask_plane() below finds the same positions in time that
 * does not depend on the window, O(output + input) per plane, but with a
 * larger constant. Prepare states both costs and runs the cheaper: the
 * scan for small windows (kernel 2, stride 2: 1.8x fewer instructions),
 * the tables as soon as windows grow.
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
#include "template.h"

/* The mask form's two algorithms, in g.mode (see up_max_unpool_mask_algo). */
enum { MASK_SCAN = 1, MASK_TABLES = 2 };

int up_max_unpool_mask_algo;

/* ---- kernels ------------------------------------------------------------ */

/* Spatial geometry as three dims (geometry.h; no dilation here). */
typedef up_geom3 unpool3;


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
 * m, or -1: the seed's scan, for windows small enough that it is cheapest. */
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

/* ---- mask form: first nonzero of every window, without scanning windows --
 *
 * Rows are the (z, r) lines along W of the mask plane (D x H of them, W
 * long). Windows are products of one interval per dim, and their clipped
 * intervals never move left as the pooled position grows (stride >= 1),
 * so per plane:
 *
 *   for each pooled ow, W-interval [w0, w1):
 *     every row keeps ptr = its first nonzero at or after w0; ptr only
 *     moves right, so advancing all of them costs one pass over the plane
 *     in total. nrow[z][r] = the first row r' >= r of plane z with
 *     ptr < w1 (a nonzero inside [w0, w1)), by one backward pass over the
 *     rows, redone only when [w0, w1) changes (at most 2W + 1 times);
 *     for each pooled oh, H-interval [h0, h1):
 *       nz[z] = the first z' >= z whose nrow[z'][h0] < h1, by one backward
 *       pass over D, redone only when [h0, h1) or [w0, w1) changes;
 *       for each pooled od, D-interval [d0, d1): z = nz[d0] < d1 is the
 *       window's first plane with a nonzero, r = nrow[z][h0] its first
 *       row there, ptr[z][r] its first column: the row-major first.
 *
 * The pooled positions are visited with ow outermost, not in row-major
 * order, so "the last element of x wins a collision" is kept by recording,
 * per output position, the largest flat position of x that chose it
 * (winners, in the output plane's own memory: a uint32 per float32
 * element, prepare checks the x plane fits, or a uint64 per float64
 * element), then gathering x through them. That also lets a run of pooled
 * positions whose clipped interval is the same (large padding or kernel
 * clip many windows to the same one) be done once, for its last position:
 * same window, same first nonzero, and the last one's x position is the
 * largest. So only distinct intervals cost anything, nW <= 2W + 1 along W
 * and nH <= 2H + 1 along H (both ends never move left and lie in
 * [0, out]), and a plane costs O(D*H*W + nW*D*H + nW*nH*D + input): no
 * term grows with kernel_size, stride or padding (mask_work() states it
 * for the cost model). ptr, nrow and nz are the unit's slice of the
 * plan's scratch (charged in build_max_unpool). */

/* Elements of mask state per plane: ptr and nrow (D*H each), nz (D). */
static int64_t mask_state_elems(const unpool3 *q)
{
    return 2 * q->out[0] * q->out[1] + q->out[0];
}

#define WIN_NONE32 UINT32_MAX
#define WIN_NONE64 UINT64_MAX

/* Keep the larger position of x as the winner of output position pos. */
static inline void win_keep(unsigned char *win, size_t ws, int64_t pos, uint64_t e)
{
    if (ws == 4) {
        uint32_t w;
        memcpy(&w, win + (size_t)pos * 4, 4);
        if (w == WIN_NONE32 || e > w) {
            w = (uint32_t)e;
            memcpy(win + (size_t)pos * 4, &w, 4);
        }
    } else {
        uint64_t w;
        memcpy(&w, win + (size_t)pos * 8, 8);
        if (w == WIN_NONE64 || e > w) memcpy(win + (size_t)pos * 8, &e, 8);
    }
}

/* Advance every row's ptr to its first nonzero >= w0 and rebuild nrow for
 * the W-interval [w0, w1). */
static void mask_rows(const unpool3 *q, const uint8_t *m, int64_t w0, int64_t w1, int64_t *ptr,
                      int64_t *nrow)
{
    const int64_t D = q->out[0], H = q->out[1], W = q->out[2];
    for (int64_t z = 0; z < D; z++) {
        int64_t next = H;
        for (int64_t r = H - 1; r >= 0; r--) {
            const int64_t row = z * H + r;
            const uint8_t *mr = m + row * W;
            int64_t c = ptr[row] > w0 ? ptr[row] : w0;
            while (c < W && !mr[c]) c++;
            ptr[row] = c;
            if (c < w1) next = r;
            nrow[row] = next;
        }
    }
}

/* Does pooled position o + 1 along dim have the same clipped interval as
 * o, [lo, hi)? Then o's windows are the later one's, which wins. */
static inline int same_as_next(const unpool3 *q, int dim, int64_t o, int64_t lo, int64_t hi)
{
    int64_t a, b;
    if (o + 1 >= q->in[dim]) return 0;
    unpool_window(q, dim, o + 1, &a, &b);
    return a == lo && b == hi;
}

/* The winners of one plane: win (pout slots of ws bytes) gets, for every
 * output position, the largest flat position of x whose window's first
 * nonzero it is, or NONE. st: the unit's mask state. */
static void mask_plane(const unpool3 *q, const uint8_t *m, unsigned char *win, size_t ws,
                       int64_t *st)
{
    const int64_t D = q->out[0], H = q->out[1], W = q->out[2];
    int64_t *ptr = st, *nrow = st + D * H, *nz = st + 2 * D * H;
    int64_t pw0 = -1, pw1 = -1;
    memset(win, 0xff, (size_t)(D * H * W) * ws);
    memset(ptr, 0, (size_t)(D * H) * sizeof(int64_t));
    for (int64_t ow = 0; ow < q->in[2]; ow++) {
        int64_t w0, w1, ph0 = -1, ph1 = -1;
        unpool_window(q, 2, ow, &w0, &w1);
        if (w0 >= w1 || same_as_next(q, 2, ow, w0, w1)) continue;
        if (w0 != pw0 || w1 != pw1) {
            mask_rows(q, m, w0, w1, ptr, nrow);
            pw0 = w0;
            pw1 = w1;
        }
        for (int64_t oh = 0; oh < q->in[1]; oh++) {
            int64_t h0, h1;
            unpool_window(q, 1, oh, &h0, &h1);
            if (h0 >= h1 || same_as_next(q, 1, oh, h0, h1)) continue;
            if (h0 != ph0 || h1 != ph1) {
                int64_t next = D;
                for (int64_t z = D - 1; z >= 0; z--) {
                    if (nrow[z * H + h0] < h1) next = z;
                    nz[z] = next;
                }
                ph0 = h0;
                ph1 = h1;
            }
            for (int64_t od = 0; od < q->in[0]; od++) {
                int64_t d0, d1, z, r;
                unpool_window(q, 0, od, &d0, &d1);
                if (d0 >= d1 || (z = nz[d0]) >= d1) continue;
                r = nrow[z * H + h0];
                win_keep(win, ws, (z * H + r) * W + ptr[z * H + r],
                         (uint64_t)((od * q->in[1] + oh) * q->in[2] + ow));
            }
        }
    }
}

/* For an output past the last-level cache whose planes fit in L2, each
 * plane is zeroed and scattered in the worker's scratch buffer and then
 * streamed out (stream.h): the output is written once and never read.
 * NULL means in place: small outputs stay in cache for the encoder, and a
 * missing scratch buffer only costs speed. */
static void *scratch_plane(const up_plan *p, int64_t pout, size_t elem)
{
    const int64_t bytes = pout * (int64_t)elem;
    if (bytes > UP_STREAM_SCRATCH_MAX || (int64_t)up_tensor_nbytes(&p->out[MAX_UNPOOL_OUT_y]) < UP_STREAM_MIN_BYTES)
        return NULL;
    return up_stream_scratch();
}

/* The kernels, once per compute type (template.h). */
#define T float
#define SFX f32
#include "max_unpool_impl.h"
#define T double
#define SFX f64
#include "max_unpool_impl.h"

/* ---- prepare ------------------------------------------------------------ */

static int unpool_read_params(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    if (up_param_window(p, MAX_UNPOOL_P_kernel_size, MAX_UNPOOL_P_stride, MAX_UNPOOL_P_padding, err) < 0)
        return -1;
    g->index_layout = up_param_enum(p, MAX_UNPOOL_P_index_layout);
    /* ONNX pads: begins (the windows' offset) and ends apart */
    return up_param_pads(p, MAX_UNPOOL_P_pads, MAX_UNPOOL_P_padding, err) < 0 ? -1 : 0;
}

/* Exactly one of indices and mask; indices have x's shape, the mask has
 * x's rank, N and C (its spatial sizes are checked as an output size). */
static int unpool_check_inputs(up_plan *p, up_error *err)
{
    const up_tensor *x = &p->in[MAX_UNPOOL_IN_x], *ind = &p->in[MAX_UNPOOL_IN_indices], *m = &p->in[MAX_UNPOOL_IN_mask];
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

/* PyTorch's default unpooled size (in - 1) * stride - 2 * padding + kernel
 * (geometry.h also checks the last window's end, (in - 1) * stride -
 * padding + kernel, which the mask kernel computes). */
static int unpool_default_size(const up_geom *g, int i, int64_t *out)
{
    /* with ONNX pads, (in - 1) * stride - begin - end + kernel: both pads
     * are <= 2^31 - 1, so moving from 2 * begin to begin + end fits */
    if (up_geom_unpool_out(g->in[i], g->kernel[i], g->stride[i], g->pad[i], out) < 0) return -1;
    *out += g->pad[i] - g->pad_end[i];
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
    const up_tensor *m = &p->in[MAX_UNPOOL_IN_mask];
    int64_t def[UP_MAX_SPATIAL], req[UP_MAX_SPATIAL];
    int has_req, has_mask = up_tensor_present(m);
    for (int i = 0; i < g->nsp; i++)
        if (unpool_default_size(g, i, &def[i]) < 0)
            return up_errorf(err, UP_E_INVALID, "params.kernel_size",
                             "unpooled size overflows in dim %d", i);
    has_req = up_param_output_size(p, MAX_UNPOOL_P_output_size, g->N, g->C, req, err);
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

/* Distinct clipped intervals the windows of one dim give: both ends
 * never move left and lie in [0, out], so at most 2 * out + 1 of them, and
 * never more than there are windows. */
static int64_t distinct_windows(int64_t in, int64_t out)
{
    return in < 2 * out + 1 ? in : 2 * out + 1;
}

/* Element operations of the mask form's scan per plane: zero the output,
 * then at most the window (clipped to the output) per element of x. */
static int64_t mask_scan_work(const unpool3 *q, int64_t pin, int64_t pout)
{
    int64_t w = pin;
    for (int d = 0; d < 3; d++) w = up_sat_mul(w, q->k[d] < q->out[d] ? q->k[d] : q->out[d]);
    return up_sat_add(w, pout);
}

/* Element operations of the mask form's tables per plane (see mask_plane):
 * fill and gather the output, advance the row pointers over the mask, one
 * pass over the rows per distinct W-interval, one pass over D per distinct
 * (W, H) pair, at most one step per element of x. */
static int64_t mask_work(const unpool3 *q, int64_t pin, int64_t pout)
{
    int64_t rows = q->out[0] * q->out[1];
    int64_t nw = distinct_windows(q->in[2], q->out[2]), nh = distinct_windows(q->in[1], q->out[1]);
    int64_t w = up_sat_mul(3, pout);
    w = up_sat_add(w, up_sat_mul(nw, rows));
    w = up_sat_add(w, up_sat_mul(up_sat_mul(nw, nh), q->out[0]));
    return up_sat_add(w, pin);
}

/* Bytes of the mask form's state: one slice per unit. */
static int mask_state_bytes(const up_plan *p, int64_t *bytes)
{
    unpool3 q;
    int64_t n;
    up_geom3_from(&p->g, &q);
    if (up_mul_i64(mask_state_elems(&q), p->g.N * p->g.C, &n) < 0) return -1;
    return up_geom_bytes(n, sizeof(int64_t), bytes);
}

int prepare_max_unpool(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    unpool3 q;
    int64_t pin = 1, pout = 1, cost, per_plane;
    int has_mask = up_tensor_present(&p->in[MAX_UNPOOL_IN_mask]);
    if (unpool_read_params(p, err) < 0 || unpool_check_inputs(p, err) < 0 ||
        unpool_output_size(p, err) < 0)
        return -1;
    if (up_plan_set_output(p, MAX_UNPOOL_OUT_y, p->compute, g->N, g->C, g->out, err) < 0) return -1;
    for (int i = 0; i < g->nsp; i++) {
        pin *= g->in[i];   /* sub-products of checked shapes (geometry.h) */
        pout *= g->out[i];
    }
    p->work_units = g->N * g->C;
    up_geom3_from(g, &q);
    /* the mask form's winners are positions of x in float32 slots */
    if (has_mask && p->compute == UP_F32 && pin >= (int64_t)WIN_NONE32)
        return up_errorf(err, UP_E_TOO_LARGE, "inputs.x",
                         "with a mask, a float32 x takes at most %lld elements per (n, c) "
                         "plane, got %lld", (long long)WIN_NONE32 - 1, (long long)pin);
    per_plane = pout + pin;
    if (has_mask) {
        /* the cheaper of the two, never more than the tables' bound */
        int64_t scan = mask_scan_work(&q, pin, pout), tables = mask_work(&q, pin, pout);
        g->mode = up_max_unpool_mask_algo ? up_max_unpool_mask_algo
                                          : scan <= tables ? MASK_SCAN : MASK_TABLES;
        per_plane = g->mode == MASK_SCAN ? scan : tables;
        if (g->mode == MASK_TABLES && mask_state_bytes(p, &p->mem_bytes) < 0)
            return up_errorf(err, UP_E_TOO_LARGE, "inputs.mask", "mask state overflows");
    }
    p->work = up_sat_mul(per_plane, p->work_units);
    /* Bytes per plane: zero-fill and scatter into the output plane, read x
     * and its indices (int64) or the mask plane (uint8) and its state. */
    cost = pout * (int64_t)up_dtype_size(p->compute) +
           pin * (int64_t)(up_dtype_size(p->compute) + sizeof(int64_t));
    if (has_mask) cost += pout;
    if (g->mode == MASK_TABLES) cost += mask_state_elems(&q) * (int64_t)sizeof(int64_t);
    p->unit_cost = cost > 0 ? cost : 1;
    return 0;
}

/* The mask form's per-plane state (mask_plane), one slice per unit so
 * that units on different workers never share one. */
int build_max_unpool(up_plan *p, up_error *err)
{
    int64_t bytes;
    if (p->g.mode != MASK_TABLES || p->work_units == 0) return 0;
    if (mask_state_bytes(p, &bytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "inputs.mask", "mask state overflows");
    return up_plan_scratch_alloc(p, bytes, "max_unpool mask state", err) ? 0 : -1;
}
