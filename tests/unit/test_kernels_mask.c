/* test_kernels_mask.c -- the mask form of max_unpool against the seed's
 * pseudocode.
 *
 * The kernel has two algorithms with identical results (max_unpool.c): the
 * window scan for small windows and first-nonzero tables, whose cost does
 * not grow with the window; prepare picks the cheaper. Every random case
 * runs three times: forced scan, forced tables, and the plan's own pick.
 * The reference is the plain scan: for each element of x in row-major
 * order, walk its clipped
 * window in row-major order, put the value at the first nonzero, later
 * elements overwriting earlier ones. Random geometries cover 1d/2d/3d,
 * overlapping windows (stride < kernel), gaps (stride > kernel), padding
 * up to past the kernel, output sizes anywhere in PyTorch's
 * (default - stride, default + stride) range, and masks from empty to full;
 * both compute dtypes. Then the case: a 400x400 x, kernel 400,
 * stride 1, all-zero mask, which the scan took 8 s for. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/ops.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

static unsigned long long rng_state = 0x6a09e667f3bcc909ull;
static uint64_t rng(void) { return th_xorshift(&rng_state); }
static int64_t rnd(int64_t n) { return (int64_t)(rng() % (uint64_t)n); }

typedef struct mgeo {
    int nsp;
    int64_t N, C, in[3], out[3], k[3], s[3], p[3];
} mgeo;

/* The seed's scan, one (n, c) plane at a time, in double. */
static void ref_mask(const mgeo *g, const double *x, const uint8_t *m, double *y)
{
    int64_t IN[3] = {1, 1, 1}, OUT[3] = {1, 1, 1}, K[3] = {1, 1, 1}, S[3] = {1, 1, 1},
            P[3] = {0, 0, 0};
    int lead = 3 - g->nsp;
    for (int i = 0; i < g->nsp; i++) {
        IN[lead + i] = g->in[i], OUT[lead + i] = g->out[i], K[lead + i] = g->k[i];
        S[lead + i] = g->s[i], P[lead + i] = g->p[i];
    }
    int64_t pin = IN[0] * IN[1] * IN[2], pout = OUT[0] * OUT[1] * OUT[2];
    for (int64_t u = 0; u < g->N * g->C; u++) {
        const double *xp = x + u * pin;
        const uint8_t *mp = m + u * pout;
        double *yp = y + u * pout;
        for (int64_t i = 0; i < pout; i++) yp[i] = 0;
        for (int64_t a = 0; a < IN[0]; a++)
            for (int64_t b = 0; b < IN[1]; b++)
                for (int64_t c = 0; c < IN[2]; c++, xp++) {
                    int64_t lo[3], hi[3], o[3] = {a, b, c}, pos = -1;
                    for (int d = 0; d < 3; d++) {
                        lo[d] = o[d] * S[d] - P[d];
                        hi[d] = lo[d] + K[d];
                        if (lo[d] < 0) lo[d] = 0;
                        if (hi[d] > OUT[d]) hi[d] = OUT[d];
                    }
                    for (int64_t z = lo[0]; z < hi[0] && pos < 0; z++)
                        for (int64_t r = lo[1]; r < hi[1] && pos < 0; r++)
                            for (int64_t w = lo[2]; w < hi[2] && pos < 0; w++)
                                if (mp[(z * OUT[1] + r) * OUT[2] + w]) pos = (z * OUT[1] + r) * OUT[2] + w;
                    if (pos >= 0) yp[pos] = *xp;
                }
    }
}

/* A random geometry whose output size PyTorch accepts. */
static void random_mgeo(mgeo *g)
{
    for (;;) {
        int ok = 1;
        g->nsp = 1 + (int)rnd(3);
        g->N = 1 + rnd(2);
        g->C = 1 + rnd(2);
        for (int i = 0; i < g->nsp; i++) {
            int64_t def, lo;
            int last = i == g->nsp - 1;
            g->in[i] = 1 + rnd(last ? 12 : 5);
            g->k[i] = 1 + rnd(5);
            g->s[i] = 1 + rnd(g->k[i] + 1);              /* overlap, tile, or gaps */
            g->p[i] = rnd(4) == 0 ? rnd(g->k[i] + 2) : 0; /* sometimes past the kernel */
            def = (g->in[i] - 1) * g->s[i] - 2 * g->p[i] + g->k[i];
            lo = def - g->s[i] + 1;
            if (lo < 1) lo = 1;
            if (def + g->s[i] - 1 < lo) {
                ok = 0;
                break;
            }
            g->out[i] = lo + rnd(def + g->s[i] - lo);
        }
        if (ok) return;
    }
}

static double value(void) { return (double)(rnd(2000) - 1000) / 8.0; }

/* One random case through the plan, compared element by element. */
static int mask_case(const mgeo *g, up_dtype dt, int density_pct)
{
    int64_t xs[5] = {g->N, g->C}, ms[5] = {g->N, g->C}, nx = g->N * g->C, nm = g->N * g->C;
    int rank = 2 + g->nsp, ok = 1;
    for (int i = 0; i < g->nsp; i++) {
        xs[2 + i] = g->in[i];
        ms[2 + i] = g->out[i];
        nx *= g->in[i];
        nm *= g->out[i];
    }
    double *xd = malloc((size_t)nx * sizeof(double)), *yr = malloc((size_t)nm * sizeof(double));
    uint8_t *m = malloc((size_t)nm);
    void *xv = malloc((size_t)nx * 8);
    for (int64_t i = 0; i < nx; i++) {
        xd[i] = value();
        if (dt == UP_F32) ((float *)xv)[i] = (float)xd[i];
        else ((double *)xv)[i] = xd[i];
    }
    for (int64_t i = 0; i < nm; i++) m[i] = rnd(100) < density_pct;
    ref_mask(g, xd, m, yr);

    for (int algo = 0; algo <= 2 && ok; algo++) {
        up_plan p;
        up_error err;
        up_max_unpool_mask_algo = algo;
        up_plan_init(&p, up_op_find("max_unpool"));
        tb_input(&p, "x", dt, rank, xs, xv);
        tb_input(&p, "mask", UP_U8, rank, ms, m);
        tb_ints(&p, "kernel_size", g->nsp, g->k);
        tb_ints(&p, "stride", g->nsp, g->s);
        tb_ints(&p, "padding", g->nsp, g->p);
        up_error_clear(&err);
        if (up_plan_execute(&p, &err) < 0) {
            printf("    execute failed: %s %s\n", err.items[0].field, err.items[0].message);
            ok = 0;
        }
        for (int64_t i = 0; ok && i < nm; i++) {
            double got = dt == UP_F32 ? ((float *)p.result[0].data)[i]
                                      : ((double *)p.result[0].data)[i];
            if (got != yr[i]) {
                printf("    algo %d nsp %d in %lld out %lld k %lld s %lld p %lld density %d: "
                       "y[%lld] = %g, want %g\n",
                       algo, g->nsp, (long long)g->in[g->nsp - 1], (long long)g->out[g->nsp - 1],
                       (long long)g->k[g->nsp - 1], (long long)g->s[g->nsp - 1],
                       (long long)g->p[g->nsp - 1], density_pct, (long long)i, got, yr[i]);
                ok = 0;
            }
        }
        up_plan_free(&p);
    }
    up_max_unpool_mask_algo = 0;
    free(xd);
    free(yr);
    free(m);
    free(xv);
    return ok;
}

static void test_max_unpool_mask_matches_scan_random(void)
{
    static const int densities[] = {0, 2, 10, 40, 100};
    int bad = 0;
    for (int i = 0; i < 600 && bad < 3; i++) {
        mgeo g;
        random_mgeo(&g);
        bad += !mask_case(&g, i % 2 ? UP_F64 : UP_F32, densities[i % 5]);
    }
    CHECK(bad == 0);
}

/* Heavy overlap in every dim (stride 1) with padding: many elements of x
 * race for the same first nonzero, the last one must win. */
static void test_max_unpool_mask_overlap_and_padding_3d(void)
{
    int bad = 0;
    for (int i = 0; i < 40 && bad < 3; i++) {
        mgeo g = {.nsp = 3, .N = 1, .C = 2};
        for (int d = 0; d < 3; d++) {
            g.in[d] = 3 + rnd(4);
            g.k[d] = 3 + rnd(3);
            g.s[d] = 1;
            g.p[d] = rnd(g.k[d]);
            g.out[d] = (g.in[d] - 1) * g.s[d] - 2 * g.p[d] + g.k[d];
            if (g.out[d] < 1) {
                g.p[d] = 0;
                g.out[d] = g.in[d] - 1 + g.k[d];
            }
        }
        bad += !mask_case(&g, i % 2 ? UP_F64 : UP_F32, (int)(1 + rnd(30)));
    }
    CHECK(bad == 0);
}

/* The case: x 400x400, kernel 400, stride 1, an all-zero mask
 * (799x799). The scan costs input x window = 2.6e10 steps (8 s); the
 * kernel's cost must not grow with the window: it is stated in p->work
 * (bounded by a small multiple of output + input) and the run is quick.
 * One nonzero at the centre then collects the last element of x. */
static void test_max_unpool_mask_400x400_kernel_400(void)
{
    static const int64_t xs[] = {1, 1, 400, 400}, ms[] = {1, 1, 799, 799};
    float *x = malloc(400 * 400 * sizeof(float));
    uint8_t *m = calloc(799 * 799, 1);
    up_plan p;
    up_error err;
    struct timespec t0, t1;
    for (int i = 0; i < 400 * 400; i++) x[i] = (float)i;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) m[399 * 799 + 399] = 1;
        up_plan_init(&p, up_op_find("max_unpool"));
        tb_input(&p, "x", UP_F32, 4, xs, x);
        tb_input(&p, "mask", UP_U8, 4, ms, m);
        tb_int(&p, "kernel_size", 400);
        tb_int(&p, "stride", 1);
        up_error_clear(&err);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK(up_plan_execute(&p, &err) == 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        CHECKF(s < 2.0, "took %.3f s", s);
        CHECKF(p.work < 20 * (799 * 799 + 400 * 400), "work %lld", (long long)p.work);
        if (p.result[0].data) {
            const float *y = p.result[0].data;
            int64_t nonzero = 0;
            for (int64_t i = 0; i < 799 * 799; i++) nonzero += y[i] != 0;
            if (pass == 0) CHECK(nonzero == 0);
            /* every window holds the centre: the last element of x wins */
            if (pass == 1) CHECK(nonzero == 1 && y[399 * 799 + 399] == (float)(400 * 400 - 1));
        }
        up_plan_free(&p);
    }
    free(x);
    free(m);
}

/* Padding and kernel large enough that runs of windows clip to the same
 * interval, along W and along H: the kernel does each run once, for its
 * last element; compared with the scan. */
static void test_max_unpool_mask_clipped_runs(void)
{
    int bad = 0;
    for (int i = 0; i < 60 && bad < 3; i++) {
        mgeo g = {.nsp = 2, .N = 1, .C = 2};
        for (int d = 0; d < 2; d++) {
            g.in[d] = 5 + rnd(30);
            g.k[d] = 2 + rnd(g.in[d] + 4);
            g.s[d] = 1 + rnd(2);
            g.p[d] = rnd(g.k[d]);
            g.out[d] = (g.in[d] - 1) * g.s[d] - 2 * g.p[d] + g.k[d];
            if (g.out[d] < 1) {
                g.p[d] = ((g.in[d] - 1) * g.s[d] + g.k[d] - 1) / 2;
                g.out[d] = (g.in[d] - 1) * g.s[d] - 2 * g.p[d] + g.k[d];
            }
        }
        bad += !mask_case(&g, i % 2 ? UP_F64 : UP_F32, (int)(1 + rnd(20)));
    }
    CHECK(bad == 0);
}

/* The adversarial shape for a per-window pass: every W-window clips to the
 * one column of the mask (W = 1) and D is large, so a pass over D per
 * pooled (oh, ow) would cost in_w * in_h * D = 8e9 steps. x (1, 1, 1, 2000,
 * 2000), kernel (2000, 1, 2000), padding (0, 0, 1999): mask (2000, 2000, 1).
 * The one nonzero sits at depth 1999 of row 1999: only oh = 1999 sees it,
 * for every ow, and the last of them (x's last element) wins. */
static void test_max_unpool_mask_same_column_large_depth(void)
{
    static const int64_t xs[] = {1, 1, 1, 2000, 2000}, ms[] = {1, 1, 2000, 2000, 1};
    const int64_t k[] = {2000, 1, 2000}, s[] = {1, 1, 1}, pad[] = {0, 0, 1999};
    float *x = malloc(2000 * 2000 * sizeof(float));
    uint8_t *m = calloc(2000 * 2000, 1);
    up_plan p;
    up_error err;
    struct timespec t0, t1;
    for (int i = 0; i < 2000 * 2000; i++) x[i] = (float)i;
    m[1999 * 2000 + 1999] = 1;
    up_plan_init(&p, up_op_find("max_unpool"));
    tb_input(&p, "x", UP_F32, 5, xs, x);
    tb_input(&p, "mask", UP_U8, 5, ms, m);
    tb_ints(&p, "kernel_size", 3, k);
    tb_ints(&p, "stride", 3, s);
    tb_ints(&p, "padding", 3, pad);
    up_error_clear(&err);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECKF(up_plan_execute(&p, &err) == 0, "%s", err.n ? err.items[0].message : "");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    CHECKF(sec < 2.0, "took %.3f s", sec);
    CHECKF(p.work < 40 * 4000000LL, "work %lld", (long long)p.work);
    if (p.result[0].data) {
        const float *y = p.result[0].data;
        int64_t nonzero = 0;
        for (int64_t i = 0; i < 2000 * 2000; i++) nonzero += y[i] != 0;
        CHECK(nonzero == 1 && y[1999 * 2000 + 1999] == (float)(2000 * 2000 - 1));
    }
    up_plan_free(&p);
    free(x);
    free(m);
}

/* The plan picks the scan for max_pool's usual kernel 2, stride 2, and the
 * tables for a large overlapping window. */
static void test_max_unpool_mask_picks_by_cost(void)
{
    static const int64_t xs[] = {1, 2, 8, 8}, m2[] = {1, 2, 16, 16}, m5[] = {1, 2, 13, 13};
    up_plan p;
    up_error err;
    up_plan_init(&p, up_op_find("max_unpool"));
    tb_input(&p, "x", UP_F32, 4, xs, NULL);
    tb_input(&p, "mask", UP_U8, 4, m2, NULL);
    tb_int(&p, "kernel_size", 2);
    up_error_clear(&err);
    CHECK(up_plan_prepare(&p, &err) == 0);
    /* the output and the 0/1 copy of the mask, no state */
    CHECKF(p.mem_bytes == 2 * 16 * 16 * 4 + 2 * 16 * 16 && p.scratch == NULL, "scan: mem %lld",
           (long long)p.mem_bytes);
    up_plan_free(&p);
    up_plan_init(&p, up_op_find("max_unpool"));
    tb_input(&p, "x", UP_F32, 4, xs, NULL);
    tb_input(&p, "mask", UP_U8, 4, m5, NULL);
    tb_int(&p, "kernel_size", 6);
    tb_int(&p, "stride", 1);
    up_error_clear(&err);
    CHECK(up_plan_prepare(&p, &err) == 0);
    CHECKF(p.scratch != NULL, "tables: mem %lld", (long long)p.mem_bytes);
    up_plan_free(&p);
}

/* The cost model does not grow with the window: kernel 4 and kernel 400
 * of the same output and input sizes state work within a small factor. */
static void test_max_unpool_mask_work_independent_of_kernel(void)
{
    static const int64_t xs[] = {1, 1, 400};
    int64_t work[2];
    const int64_t ks[2] = {4, 400};
    for (int i = 0; i < 2; i++) {
        int64_t ms[] = {1, 1, 399 + ks[i]};
        up_plan p;
        up_error err;
        up_plan_init(&p, up_op_find("max_unpool"));
        tb_input(&p, "x", UP_F32, 3, xs, NULL);
        tb_input(&p, "mask", UP_U8, 3, ms, NULL);
        tb_int(&p, "kernel_size", ks[i]);
        tb_int(&p, "stride", 1);
        up_error_clear(&err);
        CHECK(up_plan_prepare(&p, &err) == 0);
        work[i] = p.work;
        up_plan_free(&p);
    }
    CHECKF(work[1] < 4 * work[0], "kernel 4: %lld, kernel 400: %lld", (long long)work[0],
           (long long)work[1]);
}

int main(void)
{
    RUN(test_max_unpool_mask_matches_scan_random);
    RUN(test_max_unpool_mask_overlap_and_padding_3d);
    RUN(test_max_unpool_mask_clipped_runs);
    RUN(test_max_unpool_mask_400x400_kernel_400);
    RUN(test_max_unpool_mask_same_column_large_depth);
    RUN(test_max_unpool_mask_picks_by_cost);
    RUN(test_max_unpool_mask_work_independent_of_kernel);
    return th_summary();
}
