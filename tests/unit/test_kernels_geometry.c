/* test_kernels_geometry.c -- kernels/geometry.c: the closed forms against
 * the loops they replace, the output sizes against PyTorch's formulas
 * written the plain way, and every helper at the edges of int64. */
#include <stdint.h>

#include "kernels/geometry.h"
#include "tests/support/harness.h"

static unsigned long long rng_state = 0xbb67ae8584caa73bull;
static int64_t rnd(int64_t n) { return (int64_t)(th_xorshift(&rng_state) % (uint64_t)n); }

/* PyTorch's loop: while (a < 0) a += d. */
static void test_grid_first_matches_loop(void)
{
    int bad = 0;
    for (int i = 0; i < 20000 && bad < 3; i++) {
        int64_t a = rnd(2001) - 1000, d = 1 + rnd(60), want = a;
        while (want < 0) want += d;
        if (up_grid_first(a, d) != want) {
            printf("    a %lld d %lld: got %lld want %lld\n", (long long)a, (long long)d,
                   (long long)up_grid_first(a, d), (long long)want);
            bad++;
        }
    }
    CHECK(bad == 0);
    /* the hang of the review: a = -1e18, d = 1, in one step */
    CHECK(up_grid_first(-1000000000000000000LL, 1) == 0);
    CHECK(up_grid_first(-(int64_t)INT32_MAX, 2) == 1);
    CHECK(up_grid_first(INT64_MIN + 1, INT64_MAX) == 0);
}

static void test_div_ceil_floor_edges(void)
{
    CHECK(up_div_ceil(0, 5) == 0 && up_div_ceil(1, 5) == 1 && up_div_ceil(10, 5) == 2);
    /* (p + s - 1) / s would overflow here */
    CHECK(up_div_ceil((int64_t)1 << 61, 8000000000000000000LL) == 1);
    CHECK(up_div_ceil(INT64_MAX, INT64_MAX) == 1 && up_div_ceil(INT64_MAX, 1) == INT64_MAX);
    CHECK(up_div_floor(-1, 3) == -1 && up_div_floor(-3, 3) == -1 && up_div_floor(-4, 3) == -2);
    CHECK(up_div_floor(7, 3) == 2);
}

/* PyTorch's pooling_output_shape, plainly (small numbers only). */
static int64_t ref_pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int ceil)
{
    int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0), o;
    o = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
    if (ceil && (o - 1) * s >= in + p) o--;
    return o;
}

static void test_pool_out_matches_pytorch_formula(void)
{
    int bad = 0;
    for (int i = 0; i < 20000 && bad < 3; i++) {
        int64_t in = 1 + rnd(30), k = 1 + rnd(8), s = 1 + rnd(5), p = rnd(k / 2 + 1),
                d = 1 + rnd(3), got;
        int ceil = (int)rnd(2);
        CHECK(up_geom_pool_out(in, k, s, p, d, ceil, &got) == 0);
        if (got != ref_pool_out(in, k, s, p, d, ceil)) {
            printf("    in %lld k %lld s %lld p %lld d %lld ceil %d: got %lld want %lld\n",
                   (long long)in, (long long)k, (long long)s, (long long)p, (long long)d, ceil,
                   (long long)got, (long long)ref_pool_out(in, k, s, p, d, ceil));
            bad++;
        }
    }
    CHECK(bad == 0);
}

static void test_checked_derivations_overflow(void)
{
    int64_t v;
    CHECK(up_geom_window(INT64_MAX, 2, &v) < 0);
    CHECK(up_geom_window(((int64_t)1 << 62) + 2, 2, &v) < 0);
    CHECK(up_geom_window(((int64_t)1 << 62), 2, &v) == 0 && v == INT64_MAX);
    CHECK(up_geom_window(INT32_MAX, INT32_MAX, &v) == 0 &&
          v == (int64_t)(INT32_MAX - 1) * INT32_MAX + 1);
    CHECK(up_geom_padded(1, (int64_t)1 << 62, &v) < 0);
    CHECK(up_geom_padded(1, INT32_MAX, &v) == 0 && v == 1 + 2 * (int64_t)INT32_MAX);
    /* the review's max_pool: kernel 2e18 (stride the same), padding 1e18 */
    CHECK(up_geom_pool_out(1, 2000000000000000000LL, 2000000000000000000LL,
                           1000000000000000000LL, 1, 0, &v) == 0 && v == 1);
    CHECK(up_geom_pool_out(1, INT64_MAX, 1, INT64_MAX / 2 + 1, 1, 0, &v) < 0);
    CHECK(up_geom_pool_out(INT64_MAX, 1, 3, 0, 1, 1, &v) < 0); /* ceil: + s - 1 */
    /* conv_transpose: (1 - 1) * 8e18 - 2^62 + 2^62 * 1 + 1 = 1, and the
     * overflowing variants */
    CHECK(up_geom_convt_out(1, 2, 8000000000000000000LL, (int64_t)1 << 61, (int64_t)1 << 62, 0,
                            &v) == 0 && v == 1);
    CHECK(up_geom_convt_out(3, 2, INT64_MAX / 2, 0, 1, 0, &v) < 0);
    CHECK(up_geom_convt_out(2, 2, 1, (int64_t)1 << 62, 1, 0, &v) < 0);
    CHECK(up_geom_unpool_out(2, INT64_MAX, INT64_MAX, 0, &v) < 0);
    CHECK(up_geom_unpool_out(3, 2, 2, 0, &v) == 0 && v == 6);
    CHECK(up_geom_bytes(INT64_MAX / 4, 8, &v) < 0 && up_geom_bytes(3, 8, &v) == 0 && v == 24);
}

static void test_numel_checks_extent_even_when_empty(void)
{
    const int64_t empty_huge[] = {0, 1, (int64_t)1 << 40, (int64_t)1 << 40};
    const int64_t empty_ok[] = {0, 1, 1 << 20, 1 << 20};
    const int64_t zero_last[] = {(int64_t)1 << 40, (int64_t)1 << 40, 0};
    const int64_t at_limit[] = {1 << 25, 1 << 25}, over[] = {1 << 25, 1 << 25, 2};
    const int64_t negative[] = {2, -1, 3};
    int64_t n = -7;
    CHECK(up_geom_numel(empty_huge, 4, &n) < 0);
    CHECK(up_geom_numel(zero_last, 3, &n) < 0);
    CHECK(up_geom_numel(empty_ok, 4, &n) == 0 && n == 0);
    CHECK(up_geom_numel(at_limit, 2, &n) == 0 && n == UP_GEOM_MAX_EXTENT);
    CHECK(up_geom_numel(over, 3, &n) < 0);
    CHECK(up_geom_numel(negative, 3, &n) < 0);
    CHECK(up_geom_numel(NULL, 0, &n) == 0 && n == 1);
}

static void test_saturating_cost(void)
{
    CHECK(up_sat_mul(INT64_MAX / 2, 3) == INT64_MAX);
    CHECK(up_sat_mul(1 << 20, 1 << 20) == (int64_t)1 << 40);
    CHECK(up_sat_add(INT64_MAX, 1) == INT64_MAX && up_sat_add(2, 3) == 5);
}

int main(void)
{
    RUN(test_grid_first_matches_loop);
    RUN(test_div_ceil_floor_edges);
    RUN(test_pool_out_matches_pytorch_formula);
    RUN(test_checked_derivations_overflow);
    RUN(test_numel_checks_extent_even_when_empty);
    RUN(test_saturating_cost);
    return th_summary();
}
