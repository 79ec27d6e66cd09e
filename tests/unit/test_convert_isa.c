/* test_convert_isa.c -- the float16/bfloat16 array converters at every
 * instruction-set level (convert.c, dispatch.h).
 *
 * Each level's up_convert must give the bytes of the scalar functions
 * (up_f16_to_f32 & co.) for every input: all 65536 halves and bfloat16s
 * widened, and float32s narrowed over every high half with the low halves
 * that decide rounding (ties, one either side, signalling and quiet NaN
 * payloads), at every length and misalignment a tail can take. The levels
 * the CPU lacks run capped to the CPU's (up_isa_set), so on this machine
 * the baseline and AVX2 cases are the proof that one binary is right on a
 * CPU without AVX-512. A full sweep of all 2^32 floats is too slow for the
 * suite (20 s a level); the low halves chosen here are the ones where the
 * vector and scalar rules could part. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/convert.h"
#include "kernels/dispatch.h"
#include "kernels/tensor.h"
#include "tests/support/harness.h"

static up_isa_level level; /* the level the current case asked for */

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* up_convert of n elements of src (dtype from) to dtype to; dst freed by
 * the caller. The source is a view, so an odd start address is possible. */
static int convert(const void *src, up_dtype from, up_dtype to, int64_t n, up_tensor *dst)
{
    up_tensor s;
    up_tensor_view(&s, from, 1, &n, (void *)src);
    return up_convert(&s, to, dst);
}

static void halves_widen_exactly(void)
{
    uint16_t *h = malloc(65536 * sizeof(uint16_t));
    CHECK(h != NULL);
    if (!h) return;
    for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    up_isa_set(level);
    for (int k = 0; k < 2; k++) {
        up_tensor d;
        int bad = 0;
        CHECK(convert(h, k ? UP_BF16 : UP_F16, UP_F32, 65536, &d) == 0);
        for (int i = 0; i < 65536 && d.data; i++) {
            uint32_t want = bits(k ? up_bf16_to_f32(h[i]) : up_f16_to_f32(h[i]));
            uint32_t got = ((const uint32_t *)d.data)[i];
            if (got != want && bad++ < 4)
                CHECKF(got == want, "%s %04x: got %08x, want %08x", k ? "bf16" : "f16", i, got,
                       want);
        }
        up_tensor_free(&d);
    }
    free(h);
}

/* Low halves where rounding to float16 (13 bits dropped) and bfloat16
 * (16 dropped) turns: just under, at and over the half-way point, with
 * the kept last bit even and odd, and the NaN payload patterns. */
static const uint16_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x2001,
                                0x2fff, 0x3000, 0x3001, 0x7fff, 0x8000, 0x8001, 0xbfff, 0xc000,
                                0xdfff, 0xe000, 0xefff, 0xf000, 0xf001, 0xffff};
#define NLOWS ((int)(sizeof(lows) / sizeof(lows[0])))

static void floats_narrow_exactly(void)
{
    const int64_t n = (int64_t)65536 * (NLOWS + 2);
    uint32_t *u = malloc((size_t)n * 4);
    unsigned long long rng = 0x51ed2701u;
    int64_t i = 0;
    CHECK(u != NULL);
    if (!u) return;
    for (uint32_t hi = 0; hi < 65536; hi++) {
        for (int l = 0; l < NLOWS; l++) u[i++] = hi << 16 | lows[l];
        for (int r = 0; r < 2; r++) u[i++] = hi << 16 | (uint32_t)(th_xorshift(&rng) & 0xffff);
    }
    up_isa_set(level);
    for (int k = 0; k < 2; k++) {
        up_tensor d;
        int bad = 0;
        CHECK(convert(u, UP_F32, k ? UP_BF16 : UP_F16, n, &d) == 0);
        for (i = 0; i < n && d.data; i++) {
            float f = from_bits(u[i]);
            uint16_t want = k ? up_f32_to_bf16(f) : up_f32_to_f16(f);
            uint16_t got = ((const uint16_t *)d.data)[i];
            if (got != want && bad++ < 4)
                CHECKF(got == want, "%s %08x: got %04x, want %04x", k ? "bf16" : "f16", u[i], got,
                       want);
        }
        up_tensor_free(&d);
    }
    free(u);
}

/* Every length a tail can take past whole vectors (16 lanes and 8), from
 * every misalignment of the source, with specials mixed in. */
static void tails_and_offsets(void)
{
    enum { MAXN = 50 };
    uint32_t u[MAXN + 4];
    uint16_t h[MAXN + 4];
    static const uint32_t special[] = {0x7f800001, 0xffc00000, 0x7f800000, 0x00000001, 0x80000000,
                                       0x477ff000, 0x33000000, 0x3f808000};
    unsigned long long rng = 0x7a11u;
    up_isa_set(level);
    for (int i = 0; i < MAXN + 4; i++) {
        u[i] = i % 3 == 0 ? special[(i / 3) % 8] : (uint32_t)th_xorshift(&rng);
        h[i] = (uint16_t)(i % 5 == 0 ? 0x7c01u + (unsigned)i : th_xorshift(&rng));
    }
    for (int64_t n = 0; n <= MAXN; n++)
        for (int off = 0; off < 4; off++) {
            up_tensor d[4];
            CHECK(convert(u + off, UP_F32, UP_F16, n, &d[0]) == 0);
            CHECK(convert(u + off, UP_F32, UP_BF16, n, &d[1]) == 0);
            CHECK(convert(h + off, UP_F16, UP_F32, n, &d[2]) == 0);
            CHECK(convert(h + off, UP_BF16, UP_F32, n, &d[3]) == 0);
            for (int64_t i = 0; i < n; i++) {
                float f = from_bits(u[off + i]);
                CHECK(((uint16_t *)d[0].data)[i] == up_f32_to_f16(f));
                CHECK(((uint16_t *)d[1].data)[i] == up_f32_to_bf16(f));
                CHECK(((uint32_t *)d[2].data)[i] == bits(up_f16_to_f32(h[off + i])));
                CHECK(((uint32_t *)d[3].data)[i] == bits(up_bf16_to_f32(h[off + i])));
            }
            for (int k = 0; k < 4; k++) up_tensor_free(&d[k]);
            if (th_case_failed) return;
        }
}

static void levels_cap_at_the_cpu(void)
{
    up_isa_level cpu = up_isa_cpu();
    CHECK(up_isa_set(UP_ISA_BASELINE) == UP_ISA_BASELINE);
    CHECK(up_isa() == UP_ISA_BASELINE);
    CHECK(up_isa_set(UP_ISA_AVX2) == (cpu < UP_ISA_AVX2 ? cpu : UP_ISA_AVX2));
    CHECK(up_isa_set(UP_ISA_AVX512) == cpu);
    CHECK(up_isa() == cpu);
    for (int l = UP_ISA_BASELINE; l <= UP_ISA_AVX512; l++)
        CHECK(up_isa_parse(up_isa_name((up_isa_level)l)) == l);
    CHECK(up_isa_parse("sse4") == -1);
    CHECK(up_isa_parse("AVX2") == -1);
    CHECK(up_isa_parse("") == -1);
    CHECK(up_isa_parse(NULL) == -1);
}

/* UNPOOLD_ISA is read on the first up_isa() of a process: each value in a
 * child of its own, forked before the parent has a level (a child inherits
 * it). Exit status: the level the child saw. */
static int level_in_child(const char *value)
{
    pid_t pid = fork();
    int st = 0;
    if (pid == 0) {
        if (value)
            setenv("UNPOOLD_ISA", value, 1);
        else
            unsetenv("UNPOOLD_ISA");
        _exit((int)up_isa());
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

static void env_caps_the_level(void)
{
    up_isa_level cpu = up_isa_cpu();
    CHECK(level_in_child("baseline") == UP_ISA_BASELINE);
    CHECK(level_in_child("avx2") == (cpu < UP_ISA_AVX2 ? (int)cpu : UP_ISA_AVX2));
    CHECK(level_in_child("avx512") == (int)cpu);
    CHECK(level_in_child(NULL) == (int)cpu);
    CHECK(level_in_child("avx1024") == (int)cpu); /* unknown: ignored */
}

int main(void)
{
    RUN(env_caps_the_level); /* first: before this process picks its level */
    RUN(levels_cap_at_the_cpu);
    for (int l = UP_ISA_BASELINE; l <= UP_ISA_AVX512; l++) {
        char name[96];
        level = (up_isa_level)l;
        snprintf(name, sizeof(name), "halves_widen_exactly_%s", up_isa_name(level));
        th_run(name, halves_widen_exactly);
        snprintf(name, sizeof(name), "floats_narrow_exactly_%s", up_isa_name(level));
        th_run(name, floats_narrow_exactly);
        snprintf(name, sizeof(name), "tails_and_offsets_%s", up_isa_name(level));
        th_run(name, tails_and_offsets);
    }
    return th_summary();
}
