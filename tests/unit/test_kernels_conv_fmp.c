/* test_kernels_conv_fmp.c -- kernel properties of conv_transpose and
 * fractional_max_pool that the golden cases cannot show:
 *
 * - the result does not depend on how [0, work_units) is split: one chunk,
 *   uneven chunks run last-first, and two threads running at once all give
 *   the same bytes;
 * - every output element is written (outputs start out poisoned with NaN);
 * - conv_transpose agrees with a direct double-precision sum on a shape
 *   whose col matrix is cut into several chunks;
 * - fractional_max_pool's server-drawn samples are reproducible, follow the
 *   documented splitmix64 recipe, and default to seed 0. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state = 88172645463325252ull;

static double rnd(void) /* xorshift64, in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1.0p-52 - 1.0;
}

/* Attach a random float input of dtype dt (F32 or F64). */
static void rand_input(up_plan *p, const char *name, up_dtype dt, int rank,
                       const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < rank; d++) n *= shape[d];
    void *buf = malloc((size_t)n * 8);
    for (int64_t i = 0; i < n; i++) {
        if (dt == UP_F64)
            ((double *)buf)[i] = rnd();
        else
            ((float *)buf)[i] = (float)rnd();
    }
    tb_input(p, name, dt, rank, shape, buf);
    free(buf);
}

static int prepare_ok(up_plan *p)
{
    up_error err;
    up_error_clear(&err);
    if (up_plan_prepare(p, &err) < 0) {
        printf("    prepare: %s: %s\n", err.n ? err.items[0].field : "",
               err.n ? err.items[0].message : "");
        return 0;
    }
    return 1;
}

static void poison_outputs(up_plan *p)
{
    for (int i = 0; i < p->op->n_outputs; i++)
        memset(p->out[i].data, 0xff, up_tensor_nbytes(&p->out[i]));
}

/* Copies of every output's bytes after a run. */
typedef struct snap {
    void *data[UP_MAX_OUTPUTS];
    size_t len[UP_MAX_OUTPUTS];
} snap;

static void take(const up_plan *p, snap *s)
{
    for (int i = 0; i < p->op->n_outputs; i++) {
        s->len[i] = up_tensor_nbytes(&p->out[i]);
        s->data[i] = malloc(s->len[i] ? s->len[i] : 1);
        memcpy(s->data[i], p->out[i].data, s->len[i]);
    }
}

static int same(const up_plan *p, const snap *a, const snap *b)
{
    for (int i = 0; i < p->op->n_outputs; i++)
        if (a->len[i] != b->len[i] || memcmp(a->data[i], b->data[i], a->len[i]) != 0) return 0;
    return 1;
}

static void drop(const up_plan *p, snap *s)
{
    for (int i = 0; i < p->op->n_outputs; i++) free(s->data[i]);
}

static void run_all(up_plan *p)
{
    up_fault f;
    up_fault_init(&f);
    poison_outputs(p);
    up_plan_run(p, 0, p->work_units, &f);
}

/* Chunks of 1, 2, 3, 1, 2, ... units, run last chunk first. */
static void run_uneven(up_plan *p)
{
    int64_t starts[1024], ns = 0, step = 1;
    up_fault f;
    up_fault_init(&f);
    poison_outputs(p);
    for (int64_t b = 0; b < p->work_units && ns < 1024; b += step, step = step % 3 + 1)
        starts[ns++] = b;
    for (int64_t k = ns - 1; k >= 0; k--)
        up_plan_run(p, starts[k], k + 1 < ns ? starts[k + 1] : p->work_units, &f);
}

typedef struct range_job {
    up_plan *p;
    int64_t begin, end;
} range_job;

static void *range_thread(void *arg)
{
    range_job *j = arg;
    up_fault f;
    up_fault_init(&f);
    up_plan_run(j->p, j->begin, j->end, &f);
    return NULL;
}

/* Two threads at once, interleaved halves of the units (odd split). */
static void run_two_threads(up_plan *p)
{
    pthread_t t;
    int64_t mid = p->work_units / 3;
    range_job a = {p, 0, mid}, b = {p, mid, p->work_units};
    poison_outputs(p);
    pthread_create(&t, NULL, range_thread, &b);
    range_thread(&a);
    pthread_join(t, NULL);
}

/* Whole-output check: no NaN left from the poison (inputs have none). */
static int all_written(const up_plan *p)
{
    const up_tensor *y = &p->out[0];
    int64_t n = up_tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        double v = y->dtype == UP_F64 ? ((double *)y->data)[i] : ((float *)y->data)[i];
        if (isnan(v)) return 0;
    }
    if (p->op->n_outputs > 1) {
        const int64_t *ind = p->out[1].data;
        for (int64_t i = 0; i < up_tensor_numel(&p->out[1]); i++)
            if (ind[i] < 0) return 0; /* 0xff.. poison is -1 */
    }
    return 1;
}

/* The split checks shared by every op: 1 chunk == uneven == 2 threads. */
static void check_split_independent(up_plan *p)
{
    snap one, uneven, threads;
    CHECKF(p->work_units >= 6, "only %lld units: the split is not exercised",
           (long long)p->work_units);
    run_all(p);
    CHECK(all_written(p));
    take(p, &one);
    run_uneven(p);
    CHECK(all_written(p));
    take(p, &uneven);
    run_two_threads(p);
    CHECK(all_written(p));
    take(p, &threads);
    CHECK(same(p, &one, &uneven));
    CHECK(same(p, &one, &threads));
    drop(p, &one);
    drop(p, &uneven);
    drop(p, &threads);
}

/* ---- conv_transpose ----------------------------------------------------- */

static void conv_plan_2d(up_plan *p, up_dtype dt)
{
    static const int64_t x[] = {3, 6, 9, 11}, w[] = {6, 5, 3, 4}, b[] = {10};
    static const int64_t stride[] = {2, 1}, dil[] = {1, 2};
    up_plan_init(p, up_op_find("conv_transpose"));
    rand_input(p, "x", dt, 4, x);
    rand_input(p, "weight", dt, 4, w);
    rand_input(p, "bias", dt, 1, b);
    tb_int(p, "groups", 2);
    tb_ints(p, "stride", 2, stride);
    tb_ints(p, "dilation", 2, dil);
    tb_int(p, "padding", 1);
}

static void test_conv_split_independent_f32(void)
{
    up_plan p;
    conv_plan_2d(&p, UP_F32);
    if (prepare_ok(&p)) check_split_independent(&p);
    else CHECK(0);
    up_plan_free(&p);
}

static void test_conv_split_independent_f64(void)
{
    up_plan p;
    conv_plan_2d(&p, UP_F64);
    if (prepare_ok(&p)) check_split_independent(&p);
    else CHECK(0);
    up_plan_free(&p);
}

static void test_conv_split_independent_3d_single_image(void)
{
    /* N * groups = 1: the units are blocks of output channels */
    static const int64_t x[] = {1, 3, 4, 5, 6}, w[] = {3, 8, 2, 3, 2};
    up_plan p;
    up_plan_init(&p, up_op_find("conv_transpose"));
    rand_input(&p, "x", UP_F32, 5, x);
    rand_input(&p, "weight", UP_F32, 5, w);
    tb_int(&p, "stride", 2);
    tb_int(&p, "output_padding", 1);
    if (prepare_ok(&p)) check_split_independent(&p);
    else CHECK(0);
    up_plan_free(&p);
}

/* Direct sum in double: y[n, oc, o] = bias + sum x * w over i*s - p + k*d = o. */
static double conv_direct_at(const up_plan *p, int64_t n, int64_t oc, int64_t oh, int64_t ow)
{
    const up_geom *g = &p->g;
    const float *x = p->in[0].data, *w = p->in[1].data, *b = p->in[2].data;
    int64_t cig = g->C / g->groups, cog = g->C_out / g->groups, grp = oc / cog;
    int64_t kh = g->kernel[0], kw = g->kernel[1];
    double acc = b ? b[oc] : 0.0;
    for (int64_t ic = grp * cig; ic < (grp + 1) * cig; ic++)
        for (int64_t ih = 0; ih < g->in[0]; ih++)
            for (int64_t i = 0; i < kh; i++) {
                if (ih * g->stride[0] - g->pad[0] + i * g->dilation[0] != oh) continue;
                for (int64_t iw = 0; iw < g->in[1]; iw++)
                    for (int64_t j = 0; j < kw; j++) {
                        if (iw * g->stride[1] - g->pad[1] + j * g->dilation[1] != ow) continue;
                        acc += (double)x[((n * g->C + ic) * g->in[0] + ih) * g->in[1] + iw] *
                               (double)w[((ic * cog + oc % cog) * kh + i) * kw + j];
                    }
            }
    return acc;
}

static void test_conv_chunked_col_matches_direct_sum(void)
{
    /* one unit's col is 49 x 2800 > 2^17 elements: cut into chunks that end
     * mid-row; checked against a direct sum at a sample of positions */
    static const int64_t x[] = {1, 3, 40, 70}, w[] = {3, 2, 7, 7}, b[] = {2};
    up_plan p;
    int bad = 0;
    up_plan_init(&p, up_op_find("conv_transpose"));
    rand_input(&p, "x", UP_F32, 4, x);
    rand_input(&p, "weight", UP_F32, 4, w);
    rand_input(&p, "bias", UP_F32, 1, b);
    tb_int(&p, "padding", 2);
    tb_int(&p, "stride", 1);
    if (!prepare_ok(&p)) {
        CHECK(0);
        return;
    }
    run_uneven(&p);
    CHECK(all_written(&p));
    const float *y = p.out[0].data;
    int64_t H = p.g.out[0], W = p.g.out[1];
    for (int64_t oc = 0; oc < 2; oc++)
        for (int64_t oh = 0; oh < H; oh += 3)
            for (int64_t ow = 0; ow < W; ow += 5) {
                double want = conv_direct_at(&p, 0, oc, oh, ow);
                double got = y[(oc * H + oh) * W + ow];
                if (fabs(got - want) > 1e-5 * 147 + 1e-5 * fabs(want) && bad++ < 3)
                    printf("    y[0,%lld,%lld,%lld] = %.9g, direct sum %.9g\n", (long long)oc,
                           (long long)oh, (long long)ow, got, want);
            }
    CHECK(bad == 0);
    up_plan_free(&p);
}

/* ---- fractional_max_pool ------------------------------------------------ */

static void fmp_plan(up_plan *p, up_dtype dt, int rank, const int64_t *x, int64_t out)
{
    up_plan_init(p, up_op_find("fractional_max_pool"));
    rand_input(p, "x", dt, rank, x);
    tb_int(p, "kernel_size", 2);
    tb_int(p, "output_size", out);
}

static void test_fmp_split_independent_2d(void)
{
    static const int64_t x[] = {3, 4, 13, 11};
    up_plan p;
    fmp_plan(&p, UP_F32, 4, x, 6);
    tb_enum(&p, "index_layout", "nhwc");
    tb_int(&p, "seed", 5);
    if (prepare_ok(&p)) check_split_independent(&p);
    else CHECK(0);
    up_plan_free(&p);
}

static void test_fmp_split_independent_3d_f64(void)
{
    static const int64_t x[] = {2, 3, 7, 8, 9};
    up_plan p;
    fmp_plan(&p, UP_F64, 5, x, 4);
    tb_enum(&p, "index_layout", "tensor");
    if (prepare_ok(&p)) check_split_independent(&p);
    else CHECK(0);
    up_plan_free(&p);
}

/* Output of a fresh 2d plan over the same x (fixed rng seed) with the
 * given seed param (seed < 0 with samples != NULL: send samples instead;
 * no_seed: send neither). */
static void fmp_seeded(snap *s, int64_t seed, const float *samples, int no_seed)
{
    static const int64_t x[] = {2, 3, 12, 12}, sshape[] = {2, 3, 2};
    up_plan p;
    rng_state = 1234567;
    fmp_plan(&p, UP_F32, 4, x, 5);
    if (samples)
        tb_input(&p, "samples", UP_F32, 3, sshape, samples);
    else if (!no_seed)
        tb_int(&p, "seed", seed);
    if (!prepare_ok(&p)) {
        CHECK(0);
        memset(s, 0, sizeof(*s));
        return;
    }
    run_all(&p);
    take(&p, s);
    up_plan_free(&p);
}

static int snaps_equal(const snap *a, const snap *b)
{
    for (int i = 0; i < 2; i++)
        if (!a->data[i] || !b->data[i] || a->len[i] != b->len[i] ||
            memcmp(a->data[i], b->data[i], a->len[i]) != 0)
            return 0;
    return 1;
}

static void free_snap(snap *s)
{
    free(s->data[0]);
    free(s->data[1]);
}

static void test_fmp_same_seed_same_output(void)
{
    snap a, b, c;
    fmp_seeded(&a, 123, NULL, 0);
    fmp_seeded(&b, 123, NULL, 0);
    fmp_seeded(&c, 124, NULL, 0);
    CHECK(snaps_equal(&a, &b));
    CHECK(!snaps_equal(&a, &c)); /* 6 planes of 5x5 windows: a new seed moves some */
    free_snap(&a);
    free_snap(&b);
    free_snap(&c);
}

/* The documented recipe, written out independently of the kernel: sample k
 * is output k of splitmix64 seeded with `seed`, top 24 bits * 2^-24. */
static void splitmix_samples(uint64_t seed, float *out, int n)
{
    uint64_t state = seed;
    for (int k = 0; k < n; k++) {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        out[k] = (float)(z >> 40) / 16777216.0f;
    }
}

static void test_fmp_seed_follows_documented_splitmix64(void)
{
    float smp[12];
    snap seeded, given;
    splitmix_samples((uint64_t)-99, smp, 12);
    fmp_seeded(&seeded, -99, NULL, 0);
    fmp_seeded(&given, 0, smp, 0);
    CHECK(snaps_equal(&seeded, &given));
    free_snap(&seeded);
    free_snap(&given);
}

static void test_fmp_no_seed_means_seed_zero(void)
{
    snap none, zero;
    fmp_seeded(&none, 0, NULL, 1);
    fmp_seeded(&zero, 0, NULL, 0);
    CHECK(snaps_equal(&none, &zero));
    free_snap(&none);
    free_snap(&zero);
}

static void test_fmp_indices_point_at_their_values(void)
{
    /* property: y == x[plane index], and the index lies in the input plane */
    static const int64_t x[] = {2, 2, 10, 9, 8};
    up_plan p;
    int bad = 0;
    fmp_plan(&p, UP_F32, 5, x, 4);
    tb_int(&p, "seed", 77);
    if (!prepare_ok(&p)) {
        CHECK(0);
        return;
    }
    run_uneven(&p);
    const float *xv = p.in[0].data, *y = p.out[0].data;
    const int64_t *ind = p.out[1].data;
    int64_t plane_in = 10 * 9 * 8, plane_out = 64;
    for (int64_t u = 0; u < 4; u++)
        for (int64_t o = 0; o < plane_out; o++) {
            int64_t i = ind[u * plane_out + o];
            if (i < 0 || i >= plane_in || xv[u * plane_in + i] != y[u * plane_out + o]) bad++;
        }
    CHECK(bad == 0);
    up_plan_free(&p);
}

int main(void)
{
    RUN(test_conv_split_independent_f32);
    RUN(test_conv_split_independent_f64);
    RUN(test_conv_split_independent_3d_single_image);
    RUN(test_conv_chunked_col_matches_direct_sum);
    RUN(test_fmp_split_independent_2d);
    RUN(test_fmp_split_independent_3d_f64);
    RUN(test_fmp_same_seed_same_output);
    RUN(test_fmp_seed_follows_documented_splitmix64);
    RUN(test_fmp_no_seed_means_seed_zero);
    RUN(test_fmp_indices_point_at_their_values);
    return th_summary();
}
