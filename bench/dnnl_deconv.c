/* dnnl_deconv.c -- oneDNN's deconvolution, the conv_transpose reference of
 * `make bench`.
 *
 * oneDNN is the library CPU runtimes (PyTorch, ONNX Runtime's DNNL provider,
 * OpenVINO) call for deconvolution, so it is the strongest fair peer for
 * conv_transpose. It runs the bench's conv_transpose cases (same shapes as
 * bench/kbench.c: x (8, 64, *spatial), weight (64, 32, 4, ...), stride 2,
 * padding 1, bias) two ways, and prints one row per way for report.py:
 *
 *   dnnl <case> nchw    ...  plain NCHW tensors, a fresh output every call:
 *                            what a client handing oneDNN its own tensors
 *                            gets, and what unpoold is judged against;
 *   dnnl <case> blocked ...  oneDNN's preferred (blocked) layouts for src,
 *                            weights and dst, reordered once outside the
 *                            timing, output preallocated: oneDNN's best case.
 *
 * Row: dnnl <case> <way> <median_ms> <min_ms> <median_ms> <gflops>.
 * Threads: oneDNN here is built on OpenMP; run.sh sets OMP_NUM_THREADS=W.
 * Usage: dnnl_deconv REPS [case-substring] */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call)                                                                  \
    do {                                                                             \
        dnnl_status_t s_ = (call);                                                   \
        if (s_ != dnnl_success) {                                                    \
            fprintf(stderr, "dnnl_deconv: %s failed (%d) at line %d\n", #call, s_,   \
                    __LINE__);                                                       \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

typedef struct dcase {
    const char *name;
    int ndims;         /* 3, 4 or 5 */
    dnnl_dim_t sp;     /* input spatial size, each dim */
} dcase;

/* The shapes of bench/kbench.c and bench/torch_ref.py. */
static const dcase cases[] = {
    {"conv_transpose1d_f32", 3, 4096},
    {"conv_transpose2d_f32", 4, 64},
    {"conv_transpose3d_f32", 5, 16},
};

enum { N = 8, CIN = 64, COUT = 32, K = 4, STRIDE = 2, PAD = 1 };

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fill(float *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / (float)(1u << 24) - 0.5f;
    }
}

/* Dims of src, weights (oneDNN's logical order: OC, IC, k...), bias, dst. */
typedef struct shapes {
    int nd;
    dnnl_dims_t src, wei, bias, dst, strides, pad;
    size_t n_src, n_wei, n_dst;
} shapes;

static size_t count(int nd, const dnnl_dims_t d)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)d[i];
    return n;
}

static void shapes_of(const dcase *c, shapes *s)
{
    int nsp = c->ndims - 2;
    memset(s, 0, sizeof(*s));
    s->nd = c->ndims;
    s->src[0] = N, s->src[1] = CIN;
    s->wei[0] = COUT, s->wei[1] = CIN;
    s->dst[0] = N, s->dst[1] = COUT;
    s->bias[0] = COUT;
    for (int i = 0; i < nsp; i++) {
        s->src[2 + i] = c->sp;
        s->wei[2 + i] = K;
        s->dst[2 + i] = (c->sp - 1) * STRIDE - 2 * PAD + K;
        s->strides[i] = STRIDE;
        s->pad[i] = PAD;
    }
    s->n_src = count(s->nd, s->src);
    s->n_wei = count(s->nd, s->wei);
    s->n_dst = count(s->nd, s->dst);
}

/* Plain tags: NCW/NCHW/NCDHW tensors, PyTorch's (IC, OC, k...) weights
 * (bac = iow: oneDNN 2.6 has no named 1d tag for it). */
static dnnl_format_tag_t act_tag(int nd)
{
    return nd == 3 ? dnnl_ncw : nd == 4 ? dnnl_nchw : dnnl_ncdhw;
}

static dnnl_format_tag_t wei_tag(int nd)
{
    return nd == 3 ? dnnl_bac : nd == 4 ? dnnl_iohw : dnnl_iodhw;
}

static dnnl_primitive_desc_t make_pd(dnnl_engine_t eng, const shapes *s, int blocked)
{
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_format_tag_t any = dnnl_format_tag_any;
    CHECK(dnnl_memory_desc_init_by_tag(&src, s->nd, s->src, dnnl_f32,
                                       blocked ? any : act_tag(s->nd)));
    CHECK(dnnl_memory_desc_init_by_tag(&wei, s->nd, s->wei, dnnl_f32,
                                       blocked ? any : wei_tag(s->nd)));
    CHECK(dnnl_memory_desc_init_by_tag(&bias, 1, s->bias, dnnl_f32, dnnl_a));
    CHECK(dnnl_memory_desc_init_by_tag(&dst, s->nd, s->dst, dnnl_f32,
                                       blocked ? any : act_tag(s->nd)));
    dnnl_deconvolution_desc_t d;
    CHECK(dnnl_deconvolution_forward_desc_init(&d, dnnl_forward_inference,
                                               dnnl_deconvolution_direct, &src, &wei, &bias,
                                               &dst, s->strides, s->pad, s->pad));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, eng, NULL));
    return pd;
}

/* A memory object of the pd's own layout for `what`, filled from a plain
 * buffer by a reorder (done once, outside the timing). */
static dnnl_memory_t placed(dnnl_engine_t eng, dnnl_stream_t st, const dnnl_memory_desc_t *want,
                            int nd, const dnnl_dims_t dims, dnnl_format_tag_t tag, float *plain)
{
    dnnl_memory_desc_t pmd;
    dnnl_memory_t pm, m;
    CHECK(dnnl_memory_desc_init_by_tag(&pmd, nd, dims, dnnl_f32, tag));
    CHECK(dnnl_memory_create(&pm, &pmd, eng, plain));
    CHECK(dnnl_memory_create(&m, want, eng, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t r;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, &pmd, eng, want, eng, NULL));
    CHECK(dnnl_primitive_create(&r, rpd));
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, pm}, {DNNL_ARG_TO, m}};
    CHECK(dnnl_primitive_execute(r, st, 2, a));
    CHECK(dnnl_stream_wait(st));
    dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(pm);
    return m;
}

static void run_case(dnnl_engine_t eng, dnnl_stream_t st, const dcase *c, int reps, int blocked)
{
    shapes s;
    shapes_of(c, &s);
    float *x = malloc(s.n_src * 4), *w = malloc(s.n_wei * 4), *b = malloc(COUT * 4);
    if (!x || !w || !b) exit(1);
    fill(x, s.n_src, 1), fill(w, s.n_wei, 2), fill(b, COUT, 3);

    dnnl_primitive_desc_t pd = make_pd(eng, &s, blocked);
    dnnl_primitive_t prim;
    CHECK(dnnl_primitive_create(&prim, pd));
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wei_md =
        dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *bias_md =
        dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    dnnl_memory_t ms = placed(eng, st, src_md, s.nd, s.src, act_tag(s.nd), x);
    dnnl_memory_t mw = placed(eng, st, wei_md, s.nd, s.wei, wei_tag(s.nd), w);
    dnnl_memory_t mb = placed(eng, st, bias_md, 1, s.bias, dnnl_a, b);
    dnnl_memory_t md = NULL;
    if (blocked) CHECK(dnnl_memory_create(&md, dst_md, eng, DNNL_MEMORY_ALLOCATE));

    double *t = calloc((size_t)reps + 1, sizeof(double));
    if (!t) exit(1);
    for (int r = 0; r <= reps; r++) {
        double t0 = now_ms();
        /* nchw: a fresh output each call, as ONNX Runtime, PyTorch and
         * unpoold's own answers get; its page faults are part of the cost. */
        float *y = NULL;
        if (!blocked) {
            y = malloc(s.n_dst * 4);
            if (!y) exit(1);
            CHECK(dnnl_memory_create(&md, dst_md, eng, y));
        }
        dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, ms},
                                {DNNL_ARG_WEIGHTS, mw},
                                {DNNL_ARG_BIAS, mb},
                                {DNNL_ARG_DST, md}};
        CHECK(dnnl_primitive_execute(prim, st, 4, a));
        CHECK(dnnl_stream_wait(st));
        if (!blocked) {
            dnnl_memory_destroy(md);
            free(y);
        }
        t[r] = now_ms() - t0;
    }
    qsort(t + 1, (size_t)reps, sizeof(double), cmp_double); /* t[0]: warm-up */
    double med = t[1 + reps / 2], flops = 2.0 * (double)s.n_src * COUT;
    for (int i = 2; i < s.nd; i++) flops *= K;
    printf("dnnl\t%s\t%s\t%.4f\t%.4f\t%.4f\t%.2f\n", c->name, blocked ? "blocked" : "nchw", med,
           t[1], med, flops / med * 1e-6);
    fflush(stdout);

    free(t);
    if (blocked) dnnl_memory_destroy(md);
    dnnl_memory_destroy(ms), dnnl_memory_destroy(mw), dnnl_memory_destroy(mb);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    free(x), free(w), free(b);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    const char *only = argc > 2 ? argv[2] : "";
    if (reps < 1) reps = 1;
    dnnl_engine_t eng;
    dnnl_stream_t st;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!strstr(cases[i].name, only)) continue;
        run_case(eng, st, &cases[i], reps, 0);
        run_case(eng, st, &cases[i], reps, 1);
    }
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return 0;
}
