/* conv_transpose.c -- PyTorch's conv_transpose{1,2,3}d as GEMM + col2im.
 *
 * A transposed convolution scatters every input position through the
 * kernel: y[n, oc, i*stride - pad + k*dilation] += x[n, ic, i] * w[ic, oc, k].
 * Per (n, group) that is one matrix product followed by a scatter-add:
 *
 *   col[(oc, k), i] = sum_ic W_g[ic, (oc, k)] * X_g[ic, i]    (W_g^T X_g, BLAS)
 *   y[n, oc, o(i, k)] += col[(oc, k), i]                       (col2im)
 *
 * which is what PyTorch's CPU kernel (slow_conv_transpose) does too. The
 * GEMM carries all the arithmetic (C_in/groups multiply-adds per col
 * element, blocked and vectorised by OpenBLAS); col2im is one add per col
 * element. Two choices differ from PyTorch and make this faster than it:
 *
 * - col is never materialised whole. PyTorch builds the full
 *   (C_out*K) x (H*W) col matrix per image (8 MiB for the benchmark size)
 *   and reads it back from memory; here the GEMM is cut into column (and if
 *   needed row) chunks of at most COL_CAP elements, so col2im reads col
 *   while it is still in L2.
 * - Work is split across OUR worker pool, not OpenBLAS's threads: a work
 *   unit is (n, group, block of output channels) and writes only its own
 *   output channels, so units never race and any split of [begin, end)
 *   gives the same bytes. OpenBLAS is set to one thread once
 *   (openblas_set_num_threads(1)): its own pool would fight ours for the
 *   same cores (W workers x W BLAS threads), and its threading would make
 *   the cost of small requests (which our pool runs side by side) depend
 *   on BLAS start-up. One parallelism, ours, for every op.
 *
 * Determinism: the blocking (channels per unit, chunk sizes) is a function
 * of the shapes only, never of the number of workers or of how [begin, end)
 * is split, so the summation order of every output element is fixed. The
 * col buffer is one per thread (col_buffer()); should its allocation fail
 * the unit still completes with a small stack buffer (smaller chunks: the
 * same values up to rounding, computed in a different order).
 *
 * Precision: float32 (and float16/bfloat16, computed in float32) through
 * sgemm, float64 through dgemm.
 *
 * Why not oneDNN as the backend (measured, `make bench`, 2 workers, x
 * (8,64,64,64), w (64,32,4,4), s2 p1): this path 130.5 GFLOP/s; oneDNN
 * 2.6's deconvolution 101.0 on NCHW tensors with a fresh output, which is
 * what a request gives it, and 126.8 in its own blocked layouts,
 * preallocated, which a request would first have to be reordered into;
 * ONNX Runtime 107.2. So calling oneDNN would cost speed, not gain it; the
 * open question for this kernel is a direct stride-2 kernel, not a
 * library. */
#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#include "geometry.h"
#include "op.h"
#include "ops.h"
#include "template.h"

/* Largest col chunk in elements: 512 KiB of float32 (the L2 of one core on
 * the machines we target), 1 MiB of float64. */
#define COL_CAP ((int64_t)1 << 17)
/* Elements of the stack fallback when the heap chunk cannot be allocated. */
#define COL_STACK 1024
/* Units wanted for one request: enough for every worker of a 2-16 core box
 * to get several, so one big request uses them all. */
#define TARGET_UNITS 16

/* ---- validation --------------------------------------------------------- */

static int check_dtype(const up_plan *p, int i, const char *field, up_error *err)
{
    if (p->raw[i].dtype != p->storage)
        return up_errorf(err, UP_E_INVALID, field, "expected dtype %s (the dtype of x), got %s",
                         up_dtype_name(p->storage), up_dtype_name(p->raw[i].dtype));
    return 0;
}

/* weight (C_in, C_out/groups, *k) and groups -> g->groups, C_out, kernel. */
static int check_weight(up_plan *p, up_error *err)
{
    const up_tensor *w = &p->in[CONV_TRANSPOSE_IN_weight];
    up_geom *g = &p->g;
    int nsp = g->nsp;
    if (check_dtype(p, CONV_TRANSPOSE_IN_weight, "inputs.weight", err) < 0) return -1;
    if (w->rank != nsp + 2)
        return up_errorf(err, UP_E_INVALID, "inputs.weight",
                         "expected rank %d (C_in, C_out/groups, %d kernel dims) for a %dd "
                         "input, got rank %d", nsp + 2, nsp, nsp, w->rank);
    g->groups = up_param_int(p, CONV_TRANSPOSE_P_groups, 1);
    if (g->groups < 1)
        return up_errorf(err, UP_E_INVALID, "params.groups", "groups must be >= 1, got %lld",
                         (long long)g->groups);
    if (g->C < 1)
        return up_errorf(err, UP_E_INVALID, "inputs.x", "x must have at least one channel");
    if (w->shape[0] != g->C)
        return up_errorf(err, UP_E_INVALID, "inputs.weight",
                         "weight.shape[0] must equal the %lld input channels of x, got %lld",
                         (long long)g->C, (long long)w->shape[0]);
    if (g->C % g->groups != 0)
        return up_errorf(err, UP_E_INVALID, "params.groups",
                         "groups %lld must divide the %lld input channels",
                         (long long)g->groups, (long long)g->C);
    for (int d = 1; d < w->rank; d++)
        if (w->shape[d] < 1)
            return up_errorf(err, UP_E_INVALID, "inputs.weight",
                             "weight.shape[%d] must be >= 1, got %lld", d,
                             (long long)w->shape[d]);
    if (up_mul_i64(w->shape[1], g->groups, &g->C_out) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "inputs.weight", "C_out overflows");
    for (int d = 0; d < nsp; d++) g->kernel[d] = w->shape[2 + d];
    return 0;
}

static int check_bias(up_plan *p, up_error *err)
{
    const up_tensor *b = &p->in[CONV_TRANSPOSE_IN_bias];
    if (!up_tensor_present(b)) return 0;
    if (check_dtype(p, CONV_TRANSPOSE_IN_bias, "inputs.bias", err) < 0) return -1;
    if (b->rank != 1 || b->shape[0] != p->g.C_out)
        return up_errorf(err, UP_E_INVALID, "inputs.bias",
                         "expected shape [%lld] (C_out), got rank %d with %lld elements",
                         (long long)p->g.C_out, b->rank, (long long)up_tensor_numel(b));
    return 0;
}

/* (in-1)*stride - 2*pad + dilation*(k-1) + 1: the output size without
 * output_padding (PyTorch's min_size in _output_padding). */
static int min_size(const up_geom *g, int d, int64_t *out)
{
    return up_geom_convt_out(g->in[d], g->kernel[d], g->stride[d], g->pad[d], g->dilation[d], 0,
                             out);
}

/* output_size (if given) -> output_padding, as PyTorch's _output_padding:
 * each size must lie in [min, min + stride - 1]; an explicit
 * output_padding must agree with the derived one. */
static int derive_output_padding(up_plan *p, const int64_t *mins, up_error *err)
{
    up_geom *g = &p->g;
    int64_t size[UP_MAX_SPATIAL];
    int explicit_pad = up_plan_param_set(p, CONV_TRANSPOSE_P_output_padding);
    int has = up_param_output_size(p, CONV_TRANSPOSE_P_output_size, g->N, g->C_out, size, err);
    if (has <= 0) return has;
    for (int d = 0; d < g->nsp; d++) {
        int64_t derived;
        if (size[d] < mins[d] || size[d] - mins[d] > g->stride[d] - 1)
            return up_errorf(err, UP_E_INVALID, "params.output_size",
                             "spatial dim %d: output size must lie in [%lld, %lld] "
                             "(stride %lld), got %lld",
                             d, (long long)mins[d], (long long)(mins[d] + g->stride[d] - 1),
                             (long long)g->stride[d], (long long)size[d]);
        derived = size[d] - mins[d];
        if (explicit_pad && derived != g->out_pad[d])
            return up_errorf(err, UP_E_INVALID, "params.output_padding",
                             "spatial dim %d: output_padding %lld conflicts with output_size "
                             "%lld, which needs output_padding %lld",
                             d, (long long)g->out_pad[d], (long long)size[d],
                             (long long)derived);
        g->out_pad[d] = derived;
    }
    return 1;
}

/* ONNX's padding: `pads` (begins, then ends), or auto_pad, or the total
 * padding output_shape implies. Per ONNX ConvTranspose: the full size
 * (in-1)*stride + output_padding + (kernel-1)*dilation + 1 less the
 * target (output_shape, or in * stride for same_*) is split with the odd
 * one at the end for same_upper and at the start otherwise; Python's
 * floor division, so a target one larger than the full size (a negative
 * total) pads the end by -1: one more output of bias alone. Sets g->pad
 * (begins, the kernel's offset) and g->pad_end. Exclusive with PyTorch's
 * padding and output_size, and pads with output_shape or auto_pad. */
static int onnx_padding(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    int mode = up_param_enum(p, CONV_TRANSPOSE_P_auto_pad), has_pads;
    int64_t shape[UP_MAX_SPATIAL];
    int has_shape = up_param_output_size(p, CONV_TRANSPOSE_P_output_shape, g->N, g->C_out, shape, err);
    if (has_shape < 0) return -1;
    if ((has_pads = up_param_pads(p, CONV_TRANSPOSE_P_pads, CONV_TRANSPOSE_P_padding, err)) < 0)
        return -1;
    if ((has_shape || mode != UP_AUTO_PAD_NOTSET || has_pads) &&
        up_plan_param_set(p, CONV_TRANSPOSE_P_output_size))
        return up_errorf(err, UP_E_INVALID, "params.output_size",
                         "output_size (PyTorch) excludes pads, auto_pad and output_shape (ONNX)");
    if ((has_shape || mode != UP_AUTO_PAD_NOTSET) &&
        (has_pads || up_plan_param_set(p, CONV_TRANSPOSE_P_padding)))
        return up_errorf(err, UP_E_INVALID, "params.pads",
                         "output_shape and auto_pad derive the padding: give neither pads nor "
                         "padding with them");
    if (!has_shape && (mode == UP_AUTO_PAD_NOTSET || mode == UP_AUTO_PAD_VALID)) {
        if (mode == UP_AUTO_PAD_VALID)
            for (int d = 0; d < g->nsp; d++) g->pad[d] = g->pad_end[d] = 0;
        return 0;
    }
    for (int d = 0; d < g->nsp; d++) {
        int64_t full, target, total;
        if (up_geom_convt_out(g->in[d], g->kernel[d], g->stride[d], 0, g->dilation[d],
                              g->out_pad[d], &full) < 0)
            return up_errorf(err, UP_E_TOO_LARGE, "inputs.x", "output size overflows");
        if (has_shape)
            target = shape[d];
        else if (up_mul_i64(g->in[d], g->stride[d], &target) < 0)
            return up_errorf(err, UP_E_TOO_LARGE, "inputs.x", "output size overflows");
        /* both in [1, 2^50 * 2^31]: the difference fits */
        total = full - target;
        g->pad[d] = mode == UP_AUTO_PAD_SAME_UPPER ? up_div_floor(total, 2)
                                                   : total - up_div_floor(total, 2);
        g->pad_end[d] = total - g->pad[d];
    }
    return 0;
}

static int check_spatial(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    int64_t mins[UP_MAX_SPATIAL];
    int onnx_auto = up_param_enum(p, CONV_TRANSPOSE_P_auto_pad) != UP_AUTO_PAD_NOTSET ||
                    up_plan_param_set(p, CONV_TRANSPOSE_P_output_shape);
    if (up_param_spatial(p, CONV_TRANSPOSE_P_stride, 1, 1, g->stride, err) < 0 ||
        up_param_spatial(p, CONV_TRANSPOSE_P_padding, 0, 0, g->pad, err) < 0 ||
        up_param_spatial(p, CONV_TRANSPOSE_P_dilation, 1, 1, g->dilation, err) < 0 ||
        up_param_spatial(p, CONV_TRANSPOSE_P_output_padding, 0, 0, g->out_pad, err) < 0)
        return -1;
    for (int d = 0; d < g->nsp; d++) {
        if (g->in[d] < 1)
            return up_errorf(err, UP_E_INVALID, "inputs.x",
                             "every spatial size must be >= 1, got %lld in dim %d",
                             (long long)g->in[d], d);
        /* PyTorch: output padding must be smaller than either stride or dilation */
        if (g->out_pad[d] >= g->stride[d] && g->out_pad[d] >= g->dilation[d])
            return up_errorf(err, UP_E_INVALID, "params.output_padding",
                             "spatial dim %d: output_padding %lld must be smaller than stride "
                             "%lld or dilation %lld",
                             d, (long long)g->out_pad[d], (long long)g->stride[d],
                             (long long)g->dilation[d]);
        if (min_size(g, d, &mins[d]) < 0)
            return up_errorf(err, UP_E_TOO_LARGE, "inputs.x", "output size overflows");
    }
    if (onnx_padding(p, err) < 0) return -1;
    if (up_plan_param_set(p, CONV_TRANSPOSE_P_pads) || onnx_auto) {
        /* ONNX's sizes: (in-1)*stride + output_padding + span - pads */
        for (int d = 0; d < g->nsp; d++) {
            if (up_geom_convt_out(g->in[d], g->kernel[d], g->stride[d], 0, g->dilation[d],
                                  g->out_pad[d], &mins[d]) < 0)
                return up_errorf(err, UP_E_TOO_LARGE, "inputs.x", "output size overflows");
            mins[d] -= g->pad[d] + g->pad_end[d];
            g->out[d] = mins[d];
            if (g->out[d] < 1)
                return up_errorf(err, UP_E_INVALID, "params.pads",
                                 "spatial dim %d: output size (in-1)*stride + output_padding + "
                                 "dilation*(kernel-1) + 1 - pads = %lld, must be >= 1",
                                 d, (long long)g->out[d]);
        }
        return 0;
    }
    if (derive_output_padding(p, mins, err) < 0) return -1;
    for (int d = 0; d < g->nsp; d++) {
        if (up_add_i64(mins[d], g->out_pad[d], &g->out[d]) < 0 || g->out[d] < 1)
            return up_errorf(err, UP_E_INVALID, "params.padding",
                             "spatial dim %d: output size (in-1)*stride - 2*padding + "
                             "dilation*(kernel-1) + output_padding + 1 = %lld, must be >= 1",
                             d, (long long)g->out[d]);
    }
    return 0;
}

/* ---- blocking ----------------------------------------------------------- */

typedef struct conv_blocking {
    int64_t cig, cog;     /* channels per group, in and out */
    int64_t K;            /* kernel volume */
    int64_t hw_in;        /* input spatial volume */
    int64_t hw_out;       /* output spatial volume */
    int64_t blk, nblk;    /* output channels per unit, units per (n, group) */
} conv_blocking;

/* A function of the shapes only: see "Determinism" above. */
static void conv_blocking_of(const up_geom *g, conv_blocking *b)
{
    int64_t pairs = g->N * g->groups; /* <= N * C_in: x's size bounds it */
    b->cig = g->C / g->groups;
    b->cog = g->C_out / g->groups;
    b->K = b->hw_in = b->hw_out = 1;
    for (int d = 0; d < g->nsp; d++) {
        b->K *= g->kernel[d];
        b->hw_in *= g->in[d];
        b->hw_out *= g->out[d];
    }
    b->nblk = 1;
    if (pairs < TARGET_UNITS) {
        b->nblk = (TARGET_UNITS + pairs - 1) / (pairs ? pairs : 1);
        if (b->nblk > b->cog) b->nblk = b->cog;
    }
    b->blk = (b->cog + b->nblk - 1) / b->nblk;
    b->nblk = (b->cog + b->blk - 1) / b->blk;
}

/* The work in the unit --max-work counts (one scalar element operation of
 * the pooling kernels, about 0.3 ns here): col2im's adds (one per col
 * element), the bias fill of y, and the GEMMs' multiply-adds (C_in/groups
 * per col element) at 1/CONV_MACS_PER_OP each. OpenBLAS's packed, vectorised
 * GEMM runs about 43 G multiply-adds/s on one core of this machine against
 * 3-4 G element operations/s for max_pool's scans (bench/README.md), so a
 * multiply-add counted as a whole operation would refuse a 6 ms
 * conv_transpose (the bench's case, 1.07e9 multiply-adds) under the
 * default limit that lets a 3 s pooling request through. */
#define CONV_MACS_PER_OP 16
static int64_t conv_work(const up_geom *g, const conv_blocking *b)
{
    int64_t col = up_sat_mul(up_sat_mul(g->N, g->C_out), up_sat_mul(b->K, b->hw_in));
    int64_t fill = up_sat_mul(up_sat_mul(g->N, g->C_out), b->hw_out);
    int64_t macs = up_sat_mul(col, b->cig) / CONV_MACS_PER_OP;
    return up_sat_add(up_sat_add(macs, col), fill);
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

int prepare_conv_transpose(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    conv_blocking b;
    int64_t units, es = (int64_t)up_dtype_size(p->compute);
    if (check_weight(p, err) < 0 || check_bias(p, err) < 0 || check_spatial(p, err) < 0)
        return -1;
    if (up_plan_set_output(p, CONV_TRANSPOSE_OUT_y, p->compute, g->N, g->C_out, g->out, err) < 0) return -1;
    conv_blocking_of(g, &b);
    /* BLAS takes int sizes and leading dimensions */
    if (b.cig > INT_MAX || b.cog * b.K > INT_MAX || b.hw_in > INT_MAX)
        return up_errorf(err, UP_E_TOO_LARGE, "inputs.x",
                         "C_in/groups, C_out/groups * kernel volume and the input's spatial "
                         "size must each be below 2^31");
    if (up_mul_i64(g->N * g->groups, b.nblk, &units) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "inputs.x", "too many work units");
    p->work_units = units;
    p->work = conv_work(g, &b);
    /* a unit reads X_g and a weight slice, writes blk output planes and
     * streams blk*K*hw_in col elements through cache */
    p->unit_cost = (b.cig * b.hw_in + b.cig * b.blk * b.K + b.blk * b.hw_out) * es;
    pthread_once(&blas_once, blas_single_thread);
    return 0;
}

/* ---- kernels ------------------------------------------------------------ */

/* Geometry padded to 3 dims (T, H, W) with size-1 dims in front. */
typedef struct conv_geo {
    int64_t in[3], out[3], k[3], s[3], off0[3], dil[3];
} conv_geo;

static void conv_geo_of(const up_geom *g, conv_geo *c)
{
    int lead = 3 - g->nsp;
    for (int d = 0; d < 3; d++) {
        c->in[d] = c->out[d] = c->k[d] = c->s[d] = c->dil[d] = 1;
        c->off0[d] = 0;
    }
    for (int d = 0; d < g->nsp; d++) {
        c->in[lead + d] = g->in[d];
        c->out[lead + d] = g->out[d];
        c->k[lead + d] = g->kernel[d];
        c->s[lead + d] = g->stride[d];
        c->dil[lead + d] = g->dilation[d];
        c->off0[lead + d] = -g->pad[d];
    }
}

/* First and last input index along W whose output i*s + off lies in
 * [0, out); hi < lo when none does. Closed forms that never add s to a
 * padding-sized number (off >= -padding, so -off cannot overflow). */
static void w_range(int64_t off, int64_t s, int64_t out, int64_t *lo, int64_t *hi)
{
    int64_t top = out - 1 - off;
    *lo = off >= 0 ? 0 : up_div_ceil(-off, s);
    *hi = top < 0 ? -1 : top / s;
}

/* Elements of the col chunk: COL_CAP, or less when a whole unit's col
 * (blk*K x hw_in) is smaller -- which yields the very same chunking, since
 * such a unit is one chunk either way, and keeps a small request's col in
 * the first, warm, part of the thread's buffer. */
static int64_t col_cap(const conv_blocking *b)
{
    int64_t whole;
    if (up_mul_i64(b->blk * b->K, b->hw_in, &whole) < 0 || whole > COL_CAP) return COL_CAP;
    return whole;
}

/* The col chunk buffer of the calling thread: COL_CAP elements of the
 * widest compute type, made on first use and freed when the thread exits.
 * It is process-wide state, not a request's: its size does not depend on
 * any request (COL_CAP bounds every chunk) and there is one per thread that
 * ever ran this kernel (the pool's workers, the event thread), so it is
 * not charged to a request's memory budget -- like stream.c's scratch. A
 * buffer per call was a request-driven allocation on every kernel call
 * that nothing could charge (kernels cannot fail). NULL when out of
 * memory. */
static pthread_key_t col_key;
static pthread_once_t col_once = PTHREAD_ONCE_INIT;
static int col_key_ok;

static void col_key_make(void) { col_key_ok = pthread_key_create(&col_key, free) == 0; }

static void *col_buffer(void)
{
    void *c;
    pthread_once(&col_once, col_key_make);
    if (!col_key_ok) return NULL;
    if ((c = pthread_getspecific(col_key))) return c;
    if (!(c = aligned_alloc(64, (size_t)COL_CAP * sizeof(double)))) return NULL;
    if (pthread_setspecific(col_key, c) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

static void blas_gemm_f32(int m, int n, int k, const float *a, int lda, const float *b,
                          int ldb, float *c)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f,
                c, n);
}

static void blas_gemm_f64(int m, int n, int k, const double *a, int lda, const double *b,
                          int ldb, double *c)
{
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, k, 1.0, a, lda, b, ldb, 0.0, c,
                n);
}

/* The kernels, once per compute type (template.h). */
#define T float
#define SFX f32
#include "conv_transpose_impl.h"
#define T double
#define SFX f64
#include "conv_transpose_impl.h"
