/* test_kernels_fastpath.c -- the vectorised paths of max_pool against the
 * plain scan, and the large-buffer cache behind up_tensor_alloc.
 *
 * The golden cases are small (a few elements per row), so the vector body
 * of max_pool's interior path and its block boundaries would go untested
 * by them. Here random geometries with rows wider than a vector and than a
 * block (256 outputs), kernels 1..4, strides 1..3, padding, dilation, ceil
 * mode and every index layout are pooled by the kernel and by a scalar
 * reference written from PyTorch's rules (first in-bounds position, -inf
 * start, `v > max || isnan(v)`); values include ties, -inf, +inf and NaN.
 * Results must be bit-identical, float32 and float64. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/bigbuf.h"
#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

static unsigned long long rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rng(void) { return th_xorshift(&rng_state); }

static double value(void)
{
    uint64_t r = rng() % 100;
    if (r == 0) return NAN;
    if (r == 1) return INFINITY;
    if (r < 4) return -INFINITY;
    return (double)(rng() % 9) - 4.0; /* small range: many ties */
}

typedef struct geo {
    int nsp;
    int64_t in[3], k[3], s[3], p[3], d[3], out[3];
    int ceil;
} geo;

static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int ceil)
{
    int64_t span = d * (k - 1) + 1, num = in + 2 * p - span + (ceil ? s - 1 : 0), o;
    /* unpoold refuses a window larger than the padded input, which PyTorch
     * accepts in ceil mode: no such geometry is drawn */
    if (num < 0 || span > in + 2 * p) return 0;
    o = num / s + 1;
    if (ceil && (o - 1) * s >= in + p) o--;
    return o;
}

/* PyTorch's scan of one plane, written the plain way. */
static void ref_pool(const geo *g, const double *x, double *y, int64_t *yi)
{
    int64_t IN[3] = {1, 1, 1}, OUT[3] = {1, 1, 1}, K[3] = {1, 1, 1}, S[3] = {1, 1, 1},
            P[3] = {0, 0, 0}, D[3] = {1, 1, 1};
    int lead = 3 - g->nsp;
    for (int i = 0; i < g->nsp; i++) {
        IN[lead + i] = g->in[i], OUT[lead + i] = g->out[i], K[lead + i] = g->k[i];
        S[lead + i] = g->s[i], P[lead + i] = g->p[i], D[lead + i] = g->d[i];
    }
    for (int64_t a = 0; a < OUT[0]; a++)
        for (int64_t b = 0; b < OUT[1]; b++)
            for (int64_t c = 0; c < OUT[2]; c++) {
                int64_t st[3] = {a * S[0] - P[0], b * S[1] - P[1], c * S[2] - P[2]}, en[3];
                for (int i = 0; i < 3; i++) {
                    en[i] = st[i] + (K[i] - 1) * D[i] + 1;
                    if (en[i] > IN[i]) en[i] = IN[i];
                    while (st[i] < 0) st[i] += D[i];
                }
                int64_t best = (st[0] * IN[1] + st[1]) * IN[2] + st[2];
                double m = -INFINITY;
                for (int64_t z = st[0]; z < en[0]; z += D[0])
                    for (int64_t r = st[1]; r < en[1]; r += D[1])
                        for (int64_t w = st[2]; w < en[2]; w += D[2]) {
                            int64_t pos = (z * IN[1] + r) * IN[2] + w;
                            if (x[pos] > m || isnan(x[pos])) {
                                m = x[pos];
                                best = pos;
                            }
                        }
                *y++ = m;
                *yi++ = best;
            }
}

static void random_geo(geo *g)
{
    do {
        g->nsp = 1 + (int)(rng() % 3);
        g->ceil = (int)(rng() % 2);
        for (int i = 0; i < g->nsp; i++) {
            int last = i == g->nsp - 1;
            g->in[i] = last ? 1 + (int64_t)(rng() % 700) : 1 + (int64_t)(rng() % 5);
            g->k[i] = 1 + (int64_t)(rng() % 4);
            g->s[i] = rng() % 3 == 0 ? g->k[i] : 1 + (int64_t)(rng() % 3);
            g->d[i] = rng() % 4 == 0 ? 2 : 1;
            g->p[i] = (int64_t)(rng() % (uint64_t)(g->k[i] / 2 + 1));
            g->out[i] = out_size(g->in[i], g->k[i], g->s[i], g->p[i], g->d[i], g->ceil);
        }
    } while (g->out[0] < 1 || (g->nsp > 1 && g->out[1] < 1) || (g->nsp > 2 && g->out[2] < 1));
}

static int pool_case(const geo *g, up_dtype dt, int layout)
{
    static const char *const layouts[] = {"plane", "tensor", "hwc", "nhwc"};
    const int64_t N = 2, C = 3;
    int64_t shape[5] = {N, C}, pin = 1, pout = 1, n, ok = 1;
    up_plan p;
    up_error err;
    up_fault f;
    for (int i = 0; i < g->nsp; i++) {
        shape[2 + i] = g->in[i];
        pin *= g->in[i];
        pout *= g->out[i];
    }
    n = N * C * pin;
    double *xd = malloc((size_t)n * sizeof(double)), *yr = malloc((size_t)pout * sizeof(double));
    int64_t *ir = malloc((size_t)pout * sizeof(int64_t));
    void *xs = malloc((size_t)n * up_dtype_size(dt));
    for (int64_t i = 0; i < n; i++) {
        xd[i] = value();
        if (dt == UP_F32) ((float *)xs)[i] = (float)xd[i];
        else ((double *)xs)[i] = xd[i];
    }
    up_plan_init(&p, up_op_find("max_pool"));
    tb_ints(&p, "kernel_size", g->nsp, g->k);
    tb_ints(&p, "stride", g->nsp, g->s);
    tb_ints(&p, "padding", g->nsp, g->p);
    tb_ints(&p, "dilation", g->nsp, g->d);
    tb_int(&p, "ceil_mode", g->ceil);
    tb_enum(&p, "index_layout", layouts[layout]);
    tb_input(&p, "x", dt, 2 + g->nsp, shape, xs);
    up_error_clear(&err);
    up_fault_init(&f);
    if (up_plan_execute(&p, &err) < 0) {
        printf("    execute failed: %s %s\n", err.items[0].field, err.items[0].message);
        ok = 0;
        goto done;
    }
    for (int64_t u = 0; u < N * C && ok; u++) {
        int64_t nn = u / C, c = u % C;
        ref_pool(g, xd + u * pin, yr, ir);
        for (int64_t o = 0; o < pout && ok; o++) {
            double got = dt == UP_F32 ? ((float *)p.result[0].data)[u * pout + o]
                                      : ((double *)p.result[0].data)[u * pout + o];
            int64_t gi = ((int64_t *)p.result[1].data)[u * pout + o], want = ir[o];
            switch (layout) {
            case 1: want = u * pin + ir[o]; break;
            case 2: want = ir[o] * C + c; break;
            case 3: want = (nn * pin + ir[o]) * C + c; break;
            default: break;
            }
            if (!((got == yr[o]) || (isnan(got) && isnan(yr[o]))) || gi != want) {
                printf("    nsp %d in %lld k %lld s %lld p %lld d %lld ceil %d: plane %lld "
                       "out %lld got (%g, %lld) want (%g, %lld)\n",
                       g->nsp, (long long)g->in[g->nsp - 1], (long long)g->k[g->nsp - 1],
                       (long long)g->s[g->nsp - 1], (long long)g->p[g->nsp - 1],
                       (long long)g->d[g->nsp - 1], g->ceil, (long long)u, (long long)o, got,
                       (long long)gi, yr[o], (long long)want);
                ok = 0;
            }
        }
    }
done:
    up_plan_free(&p);
    free(xd);
    free(yr);
    free(ir);
    free(xs);
    return (int)ok;
}

static void test_max_pool_fast_path_matches_scan(void)
{
    int bad = 0;
    for (int i = 0; i < 300 && bad < 3; i++) {
        geo g;
        random_geo(&g);
        bad += !pool_case(&g, i % 2 ? UP_F64 : UP_F32, (int)(rng() % 4));
    }
    CHECK(bad == 0);
}

/* A wide row (several blocks of the interior path) with the common k=2 s=2. */
static void test_max_pool_wide_rows_k2(void)
{
    geo g = {.nsp = 2, .in = {3, 1201}, .k = {2, 2}, .s = {2, 2}, .p = {0, 1}, .d = {1, 1}};
    g.out[0] = out_size(3, 2, 2, 0, 1, 0);
    g.out[1] = out_size(1201, 2, 2, 1, 1, 0);
    CHECK(pool_case(&g, UP_F32, 0));
    CHECK(pool_case(&g, UP_F64, 3));
}

/* Large tensors come back intact through the cache, and a freed block is
 * reused for the next request of the same size (when the cache is on). */
static void test_bigbuf_reuse_and_contents(void)
{
    int64_t shape[1] = {(int64_t)(3 << 20)};
    up_tensor a = {0}, b = {0};
    void *first;
    int cached;
    CHECK(up_tensor_alloc(&a, UP_F32, 1, shape) == 0);
    CHECK(((uintptr_t)a.data & 63) == 0);
    memset(a.data, 0x5a, up_tensor_nbytes(&a));
    first = a.data;
    up_tensor_free(&a);
    CHECK(a.data == NULL && a.alloc == NULL);
    cached = up_bigbuf_cached_bytes() > 0; /* 0 in sanitizer builds */
    CHECK(up_tensor_alloc(&b, UP_F32, 1, shape) == 0);
    ((float *)b.data)[shape[0] - 1] = 1.0f; /* the whole block is usable */
    if (cached) CHECK(b.data == first);
    up_tensor_free(&b);
    up_bigbuf_set_cache_limit(0);
    CHECK(up_bigbuf_cached_bytes() == 0);
    up_bigbuf_set_cache_limit((size_t)256 << 20);
    /* a small tensor is never ours: up_bigbuf_free leaves it to free() */
    int64_t small[1] = {16};
    CHECK(up_tensor_alloc(&a, UP_F32, 1, small) == 0);
    CHECK(up_bigbuf_free(a.alloc) == 0);
    up_tensor_free(&a);
}

int main(void)
{
    RUN(test_max_pool_fast_path_matches_scan);
    RUN(test_max_pool_wide_rows_k2);
    RUN(test_bigbuf_reuse_and_contents);
    return th_summary();
}
