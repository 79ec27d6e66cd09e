/* test_kernels_interp.c -- nearest_unpool and fractional_max_unpool at the
 * kernel level: the seed's worked examples, edge cases the golden fixtures
 * cannot express (outputs that start as garbage, collisions, one-element
 * dims), and split independence: running the work units as one chunk or as
 * many uneven chunks in any order must give the same bytes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

/* A plan under construction; params are set with tb_*() before tb_run_poisoned(). */
static up_plan *begin_plan(up_plan *p, const char *op, int rank, const int64_t *shape,
                           const float *x)
{
    up_plan_init(p, up_op_find(op));
    tb_input(p, "x", UP_F32, rank, shape, x);
    return p;
}

static int same_floats(const up_tensor *t, const float *want, int64_t n)
{
    if (up_tensor_numel(t) != n || t->dtype != UP_F32) return 0;
    return memcmp(t->data, want, (size_t)n * sizeof(float)) == 0;
}

static void print_floats(const up_tensor *t)
{
    const float *v = t->data;
    printf("    got:");
    for (int64_t i = 0; i < up_tensor_numel(t) && i < 32; i++) printf(" %g", v[i]);
    printf("\n");
}

#define EXPECT_OUTPUT(p, want)                                                    \
    do {                                                                          \
        int ok_ = same_floats(&(p)->result[0], want, (int64_t)(sizeof(want) / sizeof(float))); \
        if (!ok_) print_floats(&(p)->result[0]);                                  \
        CHECK(ok_);                                                               \
    } while (0)

/* ---- the seed's examples ---- */

static const float seed[4] = {1, 2, 3, 4};
static const int64_t seed_shape[4] = {1, 1, 2, 2};

static void seed_nearest_x2(void)
{
    static const float want[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    up_plan p;
    up_error err;
    begin_plan(&p, "nearest_unpool", 4, seed_shape, seed);
    tb_floats(&p, "scale_factor", 1, (double[]){2});
    CHECK(tb_run_poisoned(&p, 0, &err) == 0);
    CHECK(p.out[0].shape[2] == 4 && p.out[0].shape[3] == 4);
    EXPECT_OUTPUT(&p, want);
    up_plan_free(&p);
}

static void seed_asymmetric_x2(void)
{
    /* src = dst / 2: rows 0, 0.5, 1, 1.5 (upper clamped to row 1) */
    static const float want[16] = {1, 1.5f, 2, 2, 2, 2.5f, 3, 3, 3, 3.5f, 4, 4, 3, 3.5f, 4, 4};
    up_plan p;
    up_error err;
    begin_plan(&p, "fractional_max_unpool", 4, seed_shape, seed);
    tb_floats(&p, "scale_factor", 1, (double[]){2});
    CHECK(tb_run_poisoned(&p, 0, &err) == 0);
    EXPECT_OUTPUT(&p, want);
    up_plan_free(&p);
}

static void half_pixel_and_align_corners_1d(void)
{
    static const float want_hp[4] = {1, 1.25f, 1.75f, 2};
    static const float want_ac[3] = {1, 1.5f, 2};
    up_plan p;
    up_error err;
    begin_plan(&p, "fractional_max_unpool", 3, (int64_t[]){1, 1, 2}, seed);
    tb_ints(&p, "output_size", 1, (int64_t[]){4});
    tb_enum(&p, "coordinate_transform", "half_pixel");
    CHECK(tb_run_poisoned(&p, 0, &err) == 0);
    EXPECT_OUTPUT(&p, want_hp);
    up_plan_free(&p);
    begin_plan(&p, "fractional_max_unpool", 3, (int64_t[]){1, 1, 2}, seed);
    tb_ints(&p, "output_size", 1, (int64_t[]){3});
    tb_enum(&p, "coordinate_transform", "align_corners");
    CHECK(tb_run_poisoned(&p, 0, &err) == 0);
    EXPECT_OUTPUT(&p, want_ac);
    up_plan_free(&p);
}

static void nearest_and_nearest_exact_downsample(void)
{
    /* 3 -> 2, scale 1.5: nearest reads 0, 1; nearest_exact reads 0, 2 */
    static const float x[3] = {10, 20, 30};
    static const float want_n[2] = {10, 20}, want_e[2] = {10, 30};
    up_plan p;
    up_error err;
    begin_plan(&p, "nearest_unpool", 3, (int64_t[]){1, 1, 3}, x);
    tb_ints(&p, "output_size", 1, (int64_t[]){2});
    CHECK(tb_run_poisoned(&p, 0, &err) == 0);
    EXPECT_OUTPUT(&p, want_n);
    up_plan_free(&p);
    begin_plan(&p, "nearest_unpool", 3, (int64_t[]){1, 1, 3}, x);
    tb_ints(&p, "output_size", 1, (int64_t[]){2});
    tb_enum(&p, "mode", "nearest_exact");
    CHECK(tb_run_poisoned(&p, 0, &err) == 0);
    EXPECT_OUTPUT(&p, want_e);
    up_plan_free(&p);
}

/* ---- edge cases ---- */

static void one_element_input_broadcasts(void)
{
    static const float x[2] = {7, -2};
    static const float want[12] = {7, 7, 7, 7, 7, 7, -2, -2, -2, -2, -2, -2};
    const char *ops[2] = {"nearest_unpool", "fractional_max_unpool"};
    for (int k = 0; k < 2; k++) {
        up_plan p;
        up_error err;
        begin_plan(&p, ops[k], 4, (int64_t[]){1, 2, 1, 1}, x);
        tb_ints(&p, "output_size", 2, (int64_t[]){2, 3});
        CHECK(tb_run_poisoned(&p, 1, &err) == 0);
        EXPECT_OUTPUT(&p, want);
        up_plan_free(&p);
    }
}

static void half_pixel_copies_when_size_is_unchanged(void)
{
    /* scale_factor 1.1 keeps 2x3 at 2x3; PyTorch then copies the input
     * instead of sampling at dst / 1.1 */
    static const float x[6] = {1, 2, 3, 4, 5, 6};
    up_plan p;
    up_error err;
    begin_plan(&p, "fractional_max_unpool", 4, (int64_t[]){1, 1, 2, 3}, x);
    tb_floats(&p, "scale_factor", 1, (double[]){1.1});
    tb_enum(&p, "coordinate_transform", "half_pixel");
    CHECK(tb_run_poisoned(&p, 0, &err) == 0);
    EXPECT_OUTPUT(&p, x);
    up_plan_free(&p);
}

static void scatter_zero_fills_and_last_collision_wins(void)
{
    static const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const int64_t idx[8] = {3, 0, 3, 5, 8, 8, 0, 8};
    static const float want[18] = {2, 0, 0, 3, 0, 4, 0, 0, 0,
                                   7, 0, 0, 0, 0, 0, 0, 0, 8};
    for (int chunked = 0; chunked < 2; chunked++) {
        up_plan p;
        up_error err;
        begin_plan(&p, "fractional_max_unpool", 4, (int64_t[]){1, 2, 2, 2}, x);
        tb_input(&p, "indices", UP_I64, 4, (int64_t[]){1, 2, 2, 2}, idx);
        tb_ints(&p, "output_size", 2, (int64_t[]){3, 3});
        CHECK(tb_run_poisoned(&p, chunked, &err) == 0);
        CHECK(p.work_units == 2);
        EXPECT_OUTPUT(&p, want);
        up_plan_free(&p);
    }
}

static void nearest_units_are_output_rows(void)
{
    up_plan p;
    up_error err;
    begin_plan(&p, "nearest_unpool", 5, (int64_t[]){2, 3, 2, 3, 4}, NULL);
    tb_ints(&p, "output_size", 3, (int64_t[]){5, 7, 9});
    up_error_clear(&err);
    CHECK(up_plan_prepare(&p, &err) == 0);
    CHECK(p.work_units == 2 * 3 * 5 * 7);
    CHECK(p.unit_cost > 0);
    up_plan_free(&p);
}

static void channels_last_matches_channels_first(void)
{
    /* (N, C, H, W) = (1, 2, 2, 3) sent as (N, H, W, C) */
    float cf[12], cl[12];
    for (int i = 0; i < 12; i++) cf[i] = (float)(i * i % 7) - 2.5f;
    for (int c = 0; c < 2; c++)
        for (int s = 0; s < 6; s++) cl[s * 2 + c] = cf[c * 6 + s];
    up_plan a, b;
    up_error err;
    begin_plan(&a, "fractional_max_unpool", 4, (int64_t[]){1, 2, 2, 3}, cf);
    tb_floats(&a, "scale_factor", 2, (double[]){2.5, 1.5});
    CHECK(tb_run_poisoned(&a, 0, &err) == 0);
    begin_plan(&b, "fractional_max_unpool", 4, (int64_t[]){1, 2, 3, 2}, cl);
    tb_floats(&b, "scale_factor", 2, (double[]){2.5, 1.5});
    tb_enum(&b, "layout", "channels_last");
    CHECK(tb_run_poisoned(&b, 1, &err) == 0);
    const float *ya = a.result[0].data, *yb = b.result[0].data;
    int64_t hw = a.result[0].shape[2] * a.result[0].shape[3], bad = 0;
    CHECK(b.result[0].shape[3] == 2 && b.result[0].shape[1] == a.result[0].shape[2]);
    for (int c = 0; c < 2; c++)
        for (int64_t s = 0; s < hw; s++) bad += ya[c * hw + s] != yb[s * 2 + c];
    CHECK(bad == 0);
    up_plan_free(&a);
    up_plan_free(&b);
}

/* ---- split independence ---- */

typedef struct split_case {
    const char *op;
    int rank;
    int64_t shape[5];
    int n_size;
    int64_t size[3];
    const char *enum_name, *enum_value;
} split_case;

static const split_case split_cases[] = {
    {"nearest_unpool", 3, {3, 2, 7}, 1, {17}, "mode", "nearest"},
    {"nearest_unpool", 4, {2, 3, 5, 4}, 2, {11, 3}, "mode", "nearest_exact"},
    {"nearest_unpool", 5, {2, 2, 3, 4, 5}, 3, {7, 2, 9}, "mode", "nearest"},
    {"fractional_max_unpool", 3, {2, 3, 6}, 1, {13}, "coordinate_transform", "asymmetric"},
    {"fractional_max_unpool", 4, {2, 2, 5, 6}, 2, {9, 4}, "coordinate_transform", "half_pixel"},
    {"fractional_max_unpool", 5, {1, 3, 3, 4, 5}, 3, {5, 7, 3}, "coordinate_transform",
     "align_corners"},
    {"fractional_max_unpool", 5, {2, 2, 4, 3, 2}, 3, {6, 6, 5}, "coordinate_transform",
     "asymmetric"},
};

static void run_split_case(const split_case *sc, up_plan *p, int chunked, float *x)
{
    up_error err;
    begin_plan(p, sc->op, sc->rank, sc->shape, x);
    tb_ints(p, "output_size", sc->n_size, sc->size);
    tb_enum(p, sc->enum_name, sc->enum_value);
    CHECKF(tb_run_poisoned(p, chunked, &err) == 0, "%s: %s", sc->op, err.n ? err.items[0].message : "");
}

static void split_gives_identical_bytes(void)
{
    for (size_t k = 0; k < sizeof(split_cases) / sizeof(split_cases[0]); k++) {
        const split_case *sc = &split_cases[k];
        int64_t n = 1;
        for (int d = 0; d < sc->rank; d++) n *= sc->shape[d];
        float *x = malloc((size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++) x[i] = (float)sin((double)i * 0.7) * 3.0f;
        up_plan one, many;
        run_split_case(sc, &one, 0, x);
        run_split_case(sc, &many, 1, x);
        size_t bytes = up_tensor_nbytes(&one.result[0]);
        CHECKF(bytes == up_tensor_nbytes(&many.result[0]) &&
                   memcmp(one.result[0].data, many.result[0].data, bytes) == 0,
               "case %zu (%s) differs when split", k, sc->op);
        const float *y = one.result[0].data;
        int64_t nan = 0;
        for (size_t i = 0; i < bytes / sizeof(float); i++) nan += isnan(y[i]);
        CHECKF(nan == 0, "case %zu left %lld elements unwritten", k, (long long)nan);
        up_plan_free(&one);
        up_plan_free(&many);
        free(x);
    }
}

int main(void)
{
    RUN(seed_nearest_x2);
    RUN(seed_asymmetric_x2);
    RUN(half_pixel_and_align_corners_1d);
    RUN(nearest_and_nearest_exact_downsample);
    RUN(one_element_input_broadcasts);
    RUN(half_pixel_copies_when_size_is_unchanged);
    RUN(scatter_zero_fills_and_last_collision_wins);
    RUN(nearest_units_are_output_rows);
    RUN(channels_last_matches_channels_first);
    RUN(split_gives_identical_bytes);
    return th_summary();
}
