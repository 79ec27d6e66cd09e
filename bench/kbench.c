/* kbench.c -- kernel benchmarks timed the way the server runs a request.
 *
 * Each measurement submits one job to the daemon's own worker pool
 * (server/pool.c): the job's start() runs up_plan_prepare (validation,
 * output allocation), then the pool cuts the plan into chunks that every
 * worker takes, exactly as for an HTTP request. "total" is submit -> last
 * chunk done; "kernel" is the compute phase alone. Wire decode/encode are not
 * in these rows (the HTTP rows of run.sh cover them).
 *
 * The floor rows run a plain zero-and-scatter loop over the same bytes as
 * max_unpool2d (read x and int64 indices, write the output), through the same
 * pool, into an output that is already faulted in: what memory bandwidth
 * allows. Three variants, since which one wins depends on the machine:
 *   memset   memset the plane, scatter into it (the plane stays in cache);
 *   ntzero   streaming-store zeros, then scatter (reads the lines back);
 *   scratch  zero + scatter in a cache-resident scratch plane, then stream
 *            it out with non-temporal stores (no read-for-ownership).
 *
 * Output: one tab-separated line per row for bench/report.py:
 *   unpoold <case> <variant> <median_ms> <min_ms> <kernel_median_ms> <gflops>
 * Usage: kbench [-w workers] [-r reps] [-c case-substring] [-C cache-MiB] [-s]
 *               [-i isa,isa] [-l]
 * (-C sets bigbuf.c's cache limit; -C 0 shows what huge pages alone give;
 * -s times each case with 1 worker and with -w workers, alternating
 * repetition by repetition, for the scaling rows "w1" / "wpair" and
 * "wratio", the median of the per-repetition speedups; -i avx2,avx512
 * does the same between two instruction-set levels (dispatch.h, up_isa):
 * rows named after the levels and "isaratio", first level's time over
 * the second's. max_unpool and conv_transpose have a single build, so
 * their isaratio is the noise floor of the comparison; the floor rows
 * are skipped.)
 *
 * The convert rows time the dtype converters (convert.c) alone, on the
 * calling thread as a request's preparation runs them: convert_<from>_<to>
 * over the 2-d cases' 8M elements, and convert_small_* over 64K elements
 * (256 KiB of float32: the cache-resident case, where the vector width
 * rather than the memory bus sets the speed). */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/bigbuf.h"
#include "kernels/convert.h"
#include "kernels/dispatch.h"
#include "kernels/op.h"
#include "server/pool.h"

/* ---- inputs ------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double rng_unit(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); }

static void *xmalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!p) {
        fprintf(stderr, "kbench: out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

/* The dtype in a case's name: max_pool2d_f32, max_pool2d_u8. */
static const char *dt_suffix(up_dtype dt)
{
    return dt == UP_F64 ? "f64" : dt == UP_U8 ? "u8" : dt == UP_F16 ? "f16" : dt == UP_BF16 ? "bf16"
                                                                                     : "f32";
}

static void fill_values(void *data, up_dtype dt, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double v = rng_unit() * 2.0 - 1.0;
        if (dt == UP_F64) ((double *)data)[i] = v;
        else if (dt == UP_F16) ((uint16_t *)data)[i] = up_f32_to_f16((float)v);
        else if (dt == UP_BF16) ((uint16_t *)data)[i] = up_f32_to_bf16((float)v);
        else if (dt == UP_U8) ((uint8_t *)data)[i] = (uint8_t)(v * 127.0 + 128.0);
        else ((float *)data)[i] = (float)v;
    }
}

/* Indices that max_pool with kernel = stride = k could have produced: for
 * each pooled position, a random position inside its window. */
static void fill_unpool_indices(int64_t *ind, int nsp, const int64_t *in, int64_t planes, int k)
{
    int64_t pin = 1, ow[3] = {1, 1, 1}, iw[3] = {1, 1, 1};
    for (int d = 0; d < nsp; d++) {
        pin *= in[d];
        iw[3 - nsp + d] = in[d];
        ow[3 - nsp + d] = in[d] * k;
    }
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t *ip = ind + pl * pin, i = 0;
        for (int64_t a = 0; a < iw[0]; a++)
            for (int64_t b = 0; b < iw[1]; b++)
                for (int64_t c = 0; c < iw[2]; c++, i++) {
                    uint64_t r = rng_next();
                    int64_t z = iw[0] > 1 || nsp == 3 ? a * k + (int64_t)(r % k) : a;
                    int64_t y = nsp >= 2 ? b * k + (int64_t)((r >> 8) % k) : b;
                    int64_t x = c * k + (int64_t)((r >> 16) % k);
                    ip[i] = (z * ow[1] + y) * ow[2] + x;
                }
    }
}

/* ---- cases -------------------------------------------------------------- */

typedef enum {
    OP_UNPOOL, OP_NEAREST, OP_FMU, OP_POOL, OP_CONVT, OP_RESIZE, OP_SHUFFLE, OP_UNSHUFFLE,
    OP_CONVERT
} bop;

typedef struct bcase {
    const char *name;
    bop op;
    up_dtype dt;
    int rank;
    int64_t shape[5];   /* x */
    int64_t cout, k;    /* conv: output channels, kernel; pools: kernel;
                           convert: the destination dtype (dt is the source) */
} bcase;

#define X2D {8, 64, 128, 128}
#define X1D {8, 64, 16384}
#define X3D {8, 64, 16, 32, 32}
static const bcase cases[] = {
    {"max_unpool2d", OP_UNPOOL, UP_F32, 4, X2D, 0, 2},
    {"max_unpool2d", OP_UNPOOL, UP_F64, 4, X2D, 0, 2},
    {"max_unpool1d", OP_UNPOOL, UP_F32, 3, X1D, 0, 2},
    {"max_unpool3d", OP_UNPOOL, UP_F32, 5, X3D, 0, 2},
    {"max_unpool2d_small", OP_UNPOOL, UP_F32, 4, {1, 1, 4, 4}, 0, 2},
    {"nearest2d", OP_NEAREST, UP_F32, 4, X2D, 0, 2},
    {"nearest2d", OP_NEAREST, UP_F64, 4, X2D, 0, 2},
    {"nearest1d", OP_NEAREST, UP_F32, 3, X1D, 0, 2},
    {"nearest3d", OP_NEAREST, UP_F32, 5, X3D, 0, 2},
    {"nearest2d_small", OP_NEAREST, UP_F32, 4, {1, 1, 4, 4}, 0, 2},
    {"fmu2d", OP_FMU, UP_F32, 4, X2D, 0, 2},
    {"fmu2d", OP_FMU, UP_F64, 4, X2D, 0, 2},
    {"fmu1d", OP_FMU, UP_F32, 3, X1D, 0, 2},
    {"fmu1d", OP_FMU, UP_F64, 3, X1D, 0, 2},
    {"fmu3d", OP_FMU, UP_F32, 5, X3D, 0, 2},
    {"fmu3d", OP_FMU, UP_F64, 5, X3D, 0, 2},
    {"max_pool2d", OP_POOL, UP_F32, 4, {8, 64, 256, 256}, 0, 2},
    {"max_pool2d", OP_POOL, UP_F64, 4, {8, 64, 256, 256}, 0, 2},
    {"max_pool1d", OP_POOL, UP_F32, 3, {8, 64, 65536}, 0, 2},
    {"max_pool3d", OP_POOL, UP_F32, 5, {8, 64, 16, 64, 64}, 0, 2},
    {"max_pool2d_small", OP_POOL, UP_F32, 4, {1, 1, 4, 4}, 0, 2},
    {"max_pool2d", OP_POOL, UP_U8, 4, {8, 64, 256, 256}, 0, 2},
    {"conv_transpose2d", OP_CONVT, UP_F32, 4, {8, 64, 64, 64}, 32, 4},
    {"conv_transpose2d", OP_CONVT, UP_F64, 4, {8, 64, 64, 64}, 32, 4},
    {"conv_transpose1d", OP_CONVT, UP_F32, 3, {8, 64, 4096}, 32, 4},
    {"conv_transpose3d", OP_CONVT, UP_F32, 5, {8, 64, 16, 16, 16}, 32, 4},
    /* resize x2 over H and W; k = mode (1 linear, 2 cubic) */
    {"resize_linear2d", OP_RESIZE, UP_F32, 4, X2D, 0, 1},
    {"resize_cubic2d", OP_RESIZE, UP_F32, 4, X2D, 0, 2},
    {"pixel_shuffle2d", OP_SHUFFLE, UP_F32, 4, {8, 256, 64, 64}, 0, 2},
    {"pixel_shuffle2d", OP_SHUFFLE, UP_U8, 4, {8, 256, 64, 64}, 0, 2},
    /* its inverse over the same 32 MiB (the copy floor applies as is) */
    {"pixel_unshuffle2d", OP_UNSHUFFLE, UP_F32, 4, {8, 64, 128, 128}, 0, 2},
    {"convert", OP_CONVERT, UP_F16, 4, X2D, 0, UP_F32},
    {"convert", OP_CONVERT, UP_F32, 4, X2D, 0, UP_F16},
    {"convert", OP_CONVERT, UP_BF16, 4, X2D, 0, UP_F32},
    {"convert", OP_CONVERT, UP_F32, 4, X2D, 0, UP_BF16},
    {"convert_small", OP_CONVERT, UP_F16, 4, {1, 1, 256, 256}, 0, UP_F32},
    {"convert_small", OP_CONVERT, UP_F32, 4, {1, 1, 256, 256}, 0, UP_F16},
    {"convert_small", OP_CONVERT, UP_BF16, 4, {1, 1, 256, 256}, 0, UP_F32},
    {"convert_small", OP_CONVERT, UP_F32, 4, {1, 1, 256, 256}, 0, UP_BF16},
};
#define N_CASES ((int)(sizeof(cases) / sizeof(cases[0])))

/* Inputs of one case, built once and lent to every plan as views. */
typedef struct bdata {
    void *x, *ind, *w, *bias;
    int64_t wshape[5];
    int wrank;
} bdata;

static int64_t numel(const int64_t *s, int r)
{
    int64_t n = 1;
    for (int i = 0; i < r; i++) n *= s[i];
    return n;
}

static void data_make(const bcase *c, bdata *d)
{
    int64_t n = numel(c->shape, c->rank);
    size_t es = up_dtype_size(c->dt);
    memset(d, 0, sizeof(*d));
    d->x = xmalloc((size_t)n * es);
    fill_values(d->x, c->dt, n);
    if (c->op == OP_UNPOOL) {
        d->ind = xmalloc((size_t)n * sizeof(int64_t));
        fill_unpool_indices(d->ind, c->rank - 2, c->shape + 2, c->shape[0] * c->shape[1],
                            (int)c->k);
    }
    if (c->op == OP_CONVT) {
        d->wrank = c->rank;
        d->wshape[0] = c->shape[1];
        d->wshape[1] = c->cout;
        for (int i = 2; i < c->rank; i++) d->wshape[i] = c->k;
        d->w = xmalloc((size_t)numel(d->wshape, d->wrank) * es);
        fill_values(d->w, c->dt, numel(d->wshape, d->wrank));
        d->bias = xmalloc((size_t)c->cout * es);
        fill_values(d->bias, c->dt, c->cout);
    }
}

static void data_free(bdata *d)
{
    free(d->x);
    free(d->ind);
    free(d->w);
    free(d->bias);
}

static up_param_value *param(up_plan *p, const char *name)
{
    int i = up_op_param_index(p->op, name);
    if (i < 0) {
        fprintf(stderr, "kbench: op %s has no param %s\n", p->op->name, name);
        exit(2);
    }
    p->params.v[i].set = 1;
    p->params.v[i].n = 1;
    return &p->params.v[i];
}

static void view_input(up_plan *p, const char *name, up_dtype dt, int rank, const int64_t *s,
                       void *data)
{
    up_tensor_view(&p->raw[up_op_input_index(p->op, name)], dt, rank, s, data);
}

static const char *const op_names[] = {"max_unpool", "nearest_unpool", "fractional_max_unpool",
                                       "max_pool", "conv_transpose", "resize", "pixel_shuffle",
                                       "pixel_unshuffle", "convert (no plan: run_convert)"};

/* A fresh plan for case c over the case's inputs (nothing allocated). */
static void plan_setup(up_plan *p, const bcase *c, const bdata *d)
{
    up_plan_init(p, up_op_find(op_names[c->op]));
    view_input(p, "x", c->dt, c->rank, c->shape, d->x);
    switch (c->op) {
    case OP_UNPOOL:
        param(p, "kernel_size")->i[0] = c->k;
        view_input(p, "indices", UP_I64, c->rank, c->shape, d->ind);
        break;
    case OP_NEAREST:
    case OP_FMU:
        param(p, "scale_factor")->f[0] = (double)c->k;
        break;
    case OP_POOL:
        param(p, "kernel_size")->i[0] = c->k;
        break;
    case OP_RESIZE: {
        up_param_value *sc = param(p, "scales"), *ax = param(p, "axes");
        sc->f[0] = sc->f[1] = 2;
        ax->i[0] = 2;
        ax->i[1] = 3;
        sc->n = ax->n = 2;
        param(p, "mode")->choice = (int)c->k;
        break;
    }
    case OP_CONVERT: /* timed without a plan (run_convert) */
        break;
    case OP_SHUFFLE:
        param(p, "upscale_factor")->i[0] = c->k;
        break;
    case OP_UNSHUFFLE:
        param(p, "downscale_factor")->i[0] = c->k;
        break;
    case OP_CONVT: {
        int64_t bs[1] = {c->cout};
        param(p, "stride")->i[0] = 2;
        param(p, "padding")->i[0] = 1;
        view_input(p, "weight", c->dt, d->wrank, d->wshape, d->w);
        view_input(p, "bias", c->dt, 1, bs, d->bias);
        break;
    }
    }
}

/* 2 * multiply-adds of a transposed convolution: every input element meets
 * every weight of its group once. */
static double conv_flops(const bcase *c)
{
    double f = 2.0 * (double)numel(c->shape, c->rank) * (double)c->cout;
    for (int i = 2; i < c->rank; i++) f *= (double)c->k;
    return f;
}

static double now_s(void);

/* ---- one job through the pool ------------------------------------------ */

typedef struct bjob {
    up_job job;
    up_plan *plan;
    int prepare;          /* run up_plan_prepare in start() */
    int failed;
    up_error err;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} bjob;

static void bjob_start(up_job *j)
{
    bjob *b = (bjob *)j;
    if (b->prepare && up_plan_prepare(b->plan, &b->err) < 0) {
        b->failed = 1;
        return;
    }
    j->plan = b->plan;
}

static void bjob_complete(up_job *j)
{
    bjob *b = (bjob *)j;
    pthread_mutex_lock(&b->mu);
    b->done = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Runs plan on pool; returns total and kernel seconds through t, k. */
static int run_job(up_pool *pool, up_plan *plan, int prepare, double *t, double *k)
{
    static bjob b; /* one job at a time */
    memset(&b, 0, sizeof(b));
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    b.plan = plan;
    b.prepare = prepare;
    b.job.start = bjob_start;
    b.job.complete = bjob_complete;
    while (up_pool_reserve(pool) < 0) usleep(100);
    up_pool_submit(pool, &b.job);
    pthread_mutex_lock(&b.mu);
    while (!b.done) pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
    if (b.failed || b.job.fault.elem >= 0) {
        fprintf(stderr, "kbench: %s failed: %s %s\n", plan->op ? plan->op->name : "?",
                b.err.n ? b.err.items[0].field : "", b.err.n ? b.err.items[0].message : "fault");
        return -1;
    }
    *t = (double)(b.job.t_compute_end - b.job.t_submit) * 1e-9;
    *k = (double)(b.job.t_compute_end - b.job.t_compute_begin) * 1e-9;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void emit(const char *name, up_dtype dt, const char *variant, double *t, double *k,
                 int n, double flops)
{
    double tmin, tmed, kmed;
    tmed = median(t, n);
    tmin = t[0];
    kmed = median(k, n);
    printf("unpoold\t%s_%s\t%s\t%.4f\t%.4f\t%.4f\t%.2f\n", name, dt_suffix(dt),
           variant, tmed * 1e3, tmin * 1e3, kmed * 1e3, flops > 0 ? flops / tmed * 1e-9 : 0.0);
    fflush(stdout);
}

/* A case's row name without its last dtype: "nearest2d", "convert_f16". */
static const char *case_stem(const bcase *c, char *buf, size_t n)
{
    if (c->op != OP_CONVERT) return c->name;
    snprintf(buf, n, "%s_%s", c->name, dt_suffix(c->dt));
    return buf;
}

/* The median over repetitions of a[r] / b[r]: each pair was timed back to
 * back, so load that comes and goes cancels out of every ratio. Printed in
 * the median column of a row of its own. */
static void emit_ratio(const char *name, up_dtype dt, const char *variant, const double *a,
                       const double *b, int n)
{
    double q[64];
    for (int r = 0; r < n; r++) q[r] = a[r] / b[r];
    double m = median(q, n);
    printf("unpoold\t%s_%s\t%s\t%.4f\t%.4f\t%.4f\t0\n", name, dt_suffix(dt),
           variant, m, q[0], m);
    fflush(stdout);
}

/* One conversion of a convert case, timed on the calling thread. */
static void run_convert(const bcase *c, const bdata *d, double *t)
{
    up_tensor src, dst;
    double a = now_s();
    up_tensor_view(&src, c->dt, c->rank, c->shape, d->x);
    if (up_convert(&src, (up_dtype)c->k, &dst) < 0) {
        fprintf(stderr, "kbench: convert failed\n");
        exit(1);
    }
    *t = now_s() - a;
    up_tensor_free(&dst);
}

/* Small requests are timed in batches: one job is a few microseconds.
 * With several pools (kbench -s) every repetition runs on each pool in
 * turn, so a burst of load on this shared machine hits every side of a
 * ratio alike; variant[i] names pool i's row. With -i both sides are one
 * pool, and side_isa[i] is the level side i runs at. */
static int side_isa[2] = {-1, -1};

static void bench_case(up_pool *const *pools, const char *const *variant, int npools,
                       const bcase *c, int reps)
{
    bdata d;
    double t[2][64], k[2][64];
    char stem[64];
    const char *name = case_stem(c, stem, sizeof(stem));
    up_dtype last = c->op == OP_CONVERT ? (up_dtype)c->k : c->dt;
    int small = numel(c->shape, c->rank) < 4096, inner = small ? 200 : 1;
    if (c->op == OP_CONVERT && numel(c->shape, c->rank) < (1 << 20)) inner = 200;
    if (reps > 64) reps = 64;
    data_make(c, &d);
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up, not recorded */
        for (int qq = 0; qq < npools; qq++) {
            int q = r % 2 ? npools - 1 - qq : qq; /* ABBA: neither side always goes first */
            double ts = 0, ks = 0;
            if (side_isa[q] >= 0) up_isa_set((up_isa_level)side_isa[q]);
            for (int i = 0; i < inner; i++) {
                if (c->op == OP_CONVERT) {
                    double a;
                    run_convert(c, &d, &a);
                    ts += a;
                    ks += a;
                    continue;
                }
                up_plan p;
                double a, b;
                up_error err;
                up_fault f;
                plan_setup(&p, c, &d);
                if (run_job(pools[q], &p, 1, &a, &b) < 0) exit(1);
                up_fault_init(&f);
                up_error_clear(&err);
                up_plan_finish(&p, &f, &err);
                up_plan_free(&p);
                ts += a;
                ks += b;
            }
            if (r >= 0) {
                t[q][r] = ts / inner;
                k[q][r] = ks / inner;
            }
        }
    }
    if (npools == 2)
        emit_ratio(name, last, side_isa[0] >= 0 ? "isaratio" : "wratio", t[0], t[1], reps);
    for (int q = 0; q < npools; q++)
        emit(name, last, variant[q], t[q], k[q], reps, c->op == OP_CONVT ? conv_flops(c) : 0.0);
    data_free(&d);
}

/* ---- the floor ---------------------------------------------------------- */

enum { FLOOR_MEMSET, FLOOR_NTZERO, FLOOR_SCRATCH };
static int floor_variant;

__attribute__((target("avx2"))) static void nt_zero(float *y, int64_t n)
{
    __m256 z = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 8) _mm256_stream_ps(y + i, z);
}

__attribute__((target("avx2"))) static void nt_copy(float *y, const float *s, int64_t n)
{
    for (int64_t i = 0; i < n; i += 8) _mm256_stream_ps(y + i, _mm256_load_ps(s + i));
}

static void floor_kernel(const up_plan *p, int64_t begin, int64_t end, up_fault *f)
{
    static _Thread_local float *scratch;
    const int64_t pin = p->in[0].shape[2] * p->in[0].shape[3];
    const int64_t pout = p->out[0].shape[2] * p->out[0].shape[3];
    const float *x = p->in[0].data;
    const int64_t *ind = p->in[1].data;
    float *y = p->out[0].data;
    (void)f;
    if (floor_variant == FLOOR_SCRATCH && !scratch) scratch = xmalloc((size_t)pout * 4);
    for (int64_t u = begin; u < end; u++) {
        const float *xp = x + u * pin;
        const int64_t *ip = ind + u * pin;
        float *yp = y + u * pout, *dst = floor_variant == FLOOR_SCRATCH ? scratch : yp;
        if (floor_variant == FLOOR_NTZERO) {
            nt_zero(yp, pout);
            _mm_sfence();
        } else {
            memset(dst, 0, (size_t)pout * 4);
        }
        for (int64_t i = 0; i < pin; i++) dst[ip[i]] = xp[i];
        if (floor_variant == FLOOR_SCRATCH) nt_copy(yp, scratch, pout);
    }
    if (floor_variant != FLOOR_MEMSET) _mm_sfence();
}

static const up_op_def floor_op = {.name = "floor", .kernel_f32 = floor_kernel};

/* prefix "" or "w1"/"wp" (kbench -s) goes before each variant's name. */
static void bench_floor(up_pool *const *pools, const char *const *prefix, int npools, int reps)
{
    const bcase *c = &cases[0]; /* max_unpool2d f32 */
    static const char *const names[] = {"floor_memset", "floor_ntzero", "floor_scratch"};
    bdata d;
    up_plan p;
    int64_t os[4] = {c->shape[0], c->shape[1], c->shape[2] * 2, c->shape[3] * 2};
    double t[2][64];
    if (reps > 64) reps = 64;
    data_make(c, &d);
    up_plan_init(&p, &floor_op);
    p.compute = UP_F32;
    up_tensor_view(&p.in[0], UP_F32, 4, c->shape, d.x);
    up_tensor_view(&p.in[1], UP_I64, 4, c->shape, d.ind);
    up_tensor_view(&p.out[0], UP_F32, 4, os, xmalloc((size_t)numel(os, 4) * 4));
    memset(p.out[0].data, 1, (size_t)numel(os, 4) * 4); /* fault it in once */
    p.work_units = c->shape[0] * c->shape[1];
    p.unit_cost = os[2] * os[3] * 4 + c->shape[2] * c->shape[3] * 12;
    for (int v = 0; v < 3; v++) {
        floor_variant = v;
        for (int r = -1; r < reps; r++)
            for (int qq = 0; qq < npools; qq++) {
                int q = r % 2 ? npools - 1 - qq : qq;
                double a, b;
                if (run_job(pools[q], &p, 0, &a, &b) < 0) exit(1);
                if (r >= 0) t[q][r] = b;
            }
        if (npools == 2) {
            char name[64];
            snprintf(name, sizeof(name), "wratio_%s", names[v]);
            emit_ratio("max_unpool2d", UP_F32, name, t[0], t[1], reps);
        }
        for (int q = 0; q < npools; q++) {
            char name[64];
            snprintf(name, sizeof(name), "%s%s", prefix[q], names[v]);
            emit("max_unpool2d", UP_F32, name, t[q], t[q], reps, 0);
        }
    }
    free(p.out[0].data);
    data_free(&d);
}

/* ---- the copy floor ------------------------------------------------------
 *
 * What a pure permutation cannot beat: a plain copy of the same bytes
 * (read x once, write y once) through the same pool, plane by plane, into
 * a pre-faulted output. pixel_shuffle's k/floor is against this. */
static void copy_kernel(const up_plan *p, int64_t begin, int64_t end, up_fault *f)
{
    const int64_t plane = p->in[0].shape[2] * p->in[0].shape[3];
    (void)f;
    memcpy((float *)p->out[0].data + begin * plane, (const float *)p->in[0].data + begin * plane,
           (size_t)((end - begin) * plane) * sizeof(float));
}

static const up_op_def copy_op = {.name = "copyfloor", .kernel_f32 = copy_kernel};

static void bench_copy_floor(up_pool *pool, int reps)
{
    const bcase *c = NULL;
    bdata d;
    up_plan p;
    double t[64];
    for (int i = 0; i < N_CASES && !c; i++) /* the float32 one: the copy reads floats */
        if (cases[i].op == OP_SHUFFLE && cases[i].dt == UP_F32) c = &cases[i];
    if (!c) return;
    if (reps > 64) reps = 64;
    data_make(c, &d);
    up_plan_init(&p, &copy_op);
    p.compute = UP_F32;
    up_tensor_view(&p.in[0], UP_F32, 4, c->shape, d.x);
    up_tensor_view(&p.out[0], UP_F32, 4, c->shape, xmalloc((size_t)numel(c->shape, 4) * 4));
    memset(p.out[0].data, 1, (size_t)numel(c->shape, 4) * 4); /* fault it in once */
    p.work_units = c->shape[0] * c->shape[1];
    p.unit_cost = c->shape[2] * c->shape[3] * 8;
    for (int r = -1; r < reps; r++) {
        double a, b;
        if (run_job(pool, &p, 0, &a, &b) < 0) exit(1);
        if (r >= 0) t[r] = b;
    }
    emit(c->name, UP_F32, "copyfloor", t, t, reps, 0);
    free(p.out[0].data);
    data_free(&d);
}

/* ---- page faults: what a fresh 128 MiB output costs --------------------- */

static double now_s(void) { return (double)up_now_ns() * 1e-9; }

static void bench_alloc(int reps)
{
    const size_t n = (size_t)128 << 20;
    double t[3][64];
    void *keep = NULL;
    if (reps > 64) reps = 64;
    for (int r = -1; r < reps; r++) {
        double a;
        void *m;
        a = now_s(); /* glibc malloc: a fresh mmap, 4 KiB faults */
        m = aligned_alloc(64, n);
        memset(m, 0, n);
        __asm__ volatile("" : : "r"(m) : "memory"); /* keep the stores */
        free(m);
        if (r >= 0) t[0][r] = now_s() - a;
        a = now_s(); /* mmap + MADV_HUGEPAGE: 2 MiB faults */
        m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        madvise(m, n, MADV_HUGEPAGE);
        memset(m, 0, n);
        __asm__ volatile("" : : "r"(m) : "memory");
        munmap(m, n);
        if (r >= 0) t[1][r] = now_s() - a;
        if (!keep) {
            keep = xmalloc(n);
            memset(keep, 1, n);
        }
        a = now_s(); /* a reused buffer: no faults at all */
        memset(keep, 0, n);
        if (r >= 0) t[2][r] = now_s() - a;
    }
    free(keep);
    emit("alloc128m_memset", UP_F32, "malloc_4k", t[0], t[0], reps, 0);
    emit("alloc128m_memset", UP_F32, "mmap_hugepage", t[1], t[1], reps, 0);
    emit("alloc128m_memset", UP_F32, "reused", t[2], t[2], reps, 0);
}

int main(int argc, char **argv)
{
    int workers = 2, reps = 7, opt, cache_mb = -1, paired = 0, isa_pair = 0;
    const char *only = NULL;
    up_pool *pools[2];
    while ((opt = getopt(argc, argv, "w:r:c:C:lsi:")) != -1) {
        switch (opt) {
        case 'w': workers = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 'c': only = optarg; break;
        case 'C': cache_mb = atoi(optarg); break;
        case 's': paired = 1; break;
        case 'i': {
            char a[32] = "", *comma;
            snprintf(a, sizeof(a), "%s", optarg);
            if (!(comma = strchr(a, ','))) return 2;
            *comma = 0;
            side_isa[0] = up_isa_parse(a);
            side_isa[1] = up_isa_parse(comma + 1);
            if (side_isa[0] < 0 || side_isa[1] < 0) {
                fprintf(stderr, "kbench: -i wants two of baseline, avx2, avx512\n");
                return 2;
            }
            isa_pair = 1;
            break;
        }
        case 'l':
            for (int i = 0; i < N_CASES; i++) {
                char stem[64];
                printf("%s_%s\n", case_stem(&cases[i], stem, sizeof(stem)),
                       dt_suffix(cases[i].op == OP_CONVERT ? (up_dtype)cases[i].k : cases[i].dt));
            }
            return 0;
        default:
            fprintf(stderr, "usage: kbench [-w workers] [-r reps] [-c case] [-C cache-MiB] [-s] "
                            "[-i isa,isa] [-l]\n"
                            "  -s  scaling: 1 worker and -w workers, alternating per repetition\n"
                            "  -i  two instruction-set levels (baseline, avx2, avx512), "
                            "alternating per repetition\n");
            return 2;
        }
    }
    if (workers < 1 || reps < 1 || (paired && isa_pair)) return 2;
    if (cache_mb >= 0) up_bigbuf_set_cache_limit((size_t)cache_mb << 20);
    /* -s: rows "w1" and "wpair" (cases), "w1floor_*" and "wpfloor_*" */
    static const char *const case_variant[2][2] = {{"pool", NULL}, {"w1", "wpair"}};
    static const char *const floor_prefix[2][2] = {{"", NULL}, {"w1", "wp"}};
    int npools = paired || isa_pair ? 2 : 1;
    pools[0] = up_pool_create(paired ? 1 : workers, 16);
    pools[1] = paired ? up_pool_create(workers, 16) : isa_pair ? pools[0] : NULL;
    if (!pools[0] || (paired && !pools[1])) return 1;
    static const char *const nocache[] = {"nocache"}, *const w1[] = {"w1"};
    const char *isa_variant[2];
    const char *const *variant = case_variant[paired];
    if (isa_pair) { /* rows named after the levels in effect on this CPU */
        for (int q = 0; q < 2; q++) {
            side_isa[q] = (int)up_isa_set((up_isa_level)side_isa[q]);
            isa_variant[q] = up_isa_name((up_isa_level)side_isa[q]);
        }
        variant = isa_variant;
    }
    if (!paired && !isa_pair && cache_mb == 0) variant = nocache;
    else if (!paired && !isa_pair && workers == 1) variant = w1;
    for (int i = 0; i < N_CASES; i++) {
        char full[96], stem[64];
        const bcase *c = &cases[i];
        snprintf(full, sizeof(full), "%s_%s", case_stem(c, stem, sizeof(stem)),
                 dt_suffix(c->op == OP_CONVERT ? (up_dtype)c->k : c->dt));
        if (only && !strstr(full, only)) continue;
        if (paired && c->op == OP_CONVERT) continue; /* one thread: nothing to scale */
        bench_case(pools, variant, npools, c, reps);
    }
    if (isa_pair) goto done; /* the floors do not dispatch */
    if (!only || strstr("floor", only)) bench_floor(pools, floor_prefix[paired], npools, reps);
    if (!paired && cache_mb != 0 && (!only || strstr("copyfloor", only) || strstr("pixel", only)))
        bench_copy_floor(pools[0], reps);
    if (!paired && (!only || strstr("alloc", only))) bench_alloc(reps);
done:
    for (int q = 0; q < (paired ? 2 : 1); q++) up_pool_destroy(pools[q]);
    return 0;
}
