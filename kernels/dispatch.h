/* dispatch.h -- runtime dispatch of the hot code, in one place.
 *
 * unpoold ships one binary for every x86-64 machine. The few loops that
 * gain from wider vectors (max_pool's running maxima, nearest_unpool's
 * gathers, fractional_max_unpool's fma rows, resize's and pixel_shuffle's
 * rows, the float16/bfloat16 converters) are compiled once per
 * instruction-set level, and up_isa() (below) picks one build per call.
 *
 *   UP_ISA_DISPATCH(storage, name, params, args)
 *                    defines `storage void name params`, which calls one of
 *                    three builds of the UP_HOT function name##_body: for
 *                    every x86-64, for AVX2 (+ FMA + F16C) and for AVX-512;
 *   UP_ISA_DISPATCH_AVX2(...)
 *                    the same with two builds: at the AVX-512 level the AVX2
 *                    one runs. For the loops where AVX-512 measured no
 *                    faster (the record is below).
 *   UP_HOT           for the body and the helpers it calls in its loops:
 *                    they must be inlined into every build, or they are
 *                    compiled once, for the baseline, and the build gains
 *                    nothing (a libm fmaf() call per element where the
 *                    target has FMA).
 * Every build is also compiled at -O3, so its straight-line loops
 * vectorise whatever the build's -O level. fma()/fmaf() are a libm call
 * unless the compiler may use the FMA instructions; either way they round
 * identically: fma() is exact by definition. The builds differ in
 * instructions, not in arithmetic (compare/select in PyTorch's order,
 * exactly rounded fma(), and -std=c11 leaves no a * b + c contracted), so
 * every level gives the same bytes: test_golden runs every case at each
 * level and compares the bytes, test_convert_isa checks the converters
 * input by input. A CPU with FMA but not AVX2 (AMD's 2012-2014 FX/Opteron
 * line, which the old "fma" clone served) now runs the baseline build:
 * right, with fma() a libm call.
 *
 * Why a branch per call and not GCC's target_clones (which the kernels
 * used up to AVX2): a target_clones function is chosen once, by an ifunc
 * resolver, while the dynamic loader relocates the binary. Nothing can
 * then force a lower level: no test could prove the fallback right on a
 * machine that has the upper one, and no bench could compare two levels
 * in one process. The resolver also ran before the sanitizer runtime
 * existed, so ASan builds had to skip the clones; a plain branch runs
 * under every sanitizer, and the ASan run checks each level too. The cost
 * is one relaxed atomic load and a switch per call, and the calls are per
 * chunk or per output row.
 *
 * The builds exist with GCC on x86-64 (clang ignores optimize("O3") with
 * a warning, an error under -Werror); elsewhere name calls name##_body.
 *
 * ---- AVX-512: measured, kept where it paid ------------------------------
 * Rule: a loop keeps its AVX-512 build only if it is >= 5% faster than
 * the AVX2 build in the median, consistently over rounds. Measured with
 * `kbench -i avx2,avx512 -r N` (both levels in one process, alternating
 * A B B A per repetition; "isaratio" = AVX2 time / AVX-512 time, > 1: the
 * AVX-512 build is faster), on an AMD EPYC with AVX-512 (Zen 4: 512-bit
 * operations run as two 256-bit halves) shared with other work, so each
 * figure is the median of several runs' median ratios.
 *
 * Six runs of 11 repetitions, load average 5-9 on the 2 cores; per case
 * the median of the six isaratios, their range, and the AVX2 / AVX-512
 * kernel medians. max_unpool (one build, no dispatch) is the control: its
 * isaratio is what noise alone gives. For the kept ones, then, runs of 15
 * repetitions: four at the same load, and nine at load 2.5 (median and
 * range).
 *                                                six busy runs      4 busy  9 at load 2.5
 *   control  max_unpool2d f32                   1.00 (0.95-1.04)   1.00    1.00 (1.00-1.01)
 *   kept     fractional_max_unpool 2d f32       1.16 (0.98-1.41)   1.17    1.16 (1.15-1.20)
 *              27.5 / 21.1 ms
 *            fractional_max_unpool 2d f64       1.15 (1.06-1.19)   1.13    1.08 (1.00-1.28)
 *              42.7 / 38.4 ms
 *            fractional_max_unpool 3d f32       1.09 (1.07-1.17)   1.07    1.08 (1.07-1.09)
 *              92.6 / 78.6 ms
 *            float32 -> bfloat16, 8M elements   1.08 (0.85-1.78)   1.08    1.06 (1.02-1.08)
 *            float32 -> bfloat16, 64K (cache)   1.05 (1.01-1.08)   1.05    1.05 (1.04-1.07)
 *            float16 -> float32, 64K (cache)    1.13 (1.07-1.50)   1.16    1.14 (1.09-1.15),
 *                                                                          three runs
 *   dropped  (busy: six runs at load 5-9; quiet: five runs of 11 repetitions
 *            at load 2.5-3 with every AVX-512 build put back, control 1.01
 *            (0.99-1.01))                        busy    quiet
 *            fractional_max_unpool 3d f64       1.01    1.02 (1.01-1.13): no gain
 *            fractional_max_unpool 1d f32/f64   0.97 / 0.88    0.99 / 0.97: slower
 *            max_pool 2d f32                    0.91    0.92 (0.90-0.94): slower
 *            max_pool 2d f64 / u8               0.73 / 0.77    0.76 / 0.78: slower
 *            max_pool 3d f32                    0.71    0.67 (0.66-0.71): slower
 *            max_pool 1d f32                    1.07    1.10 (1.03-1.15): faster,
 *                                               but it is the same function
 *                                               as 2d and 3d (one row per
 *                                               window instead of 2)
 *            nearest_unpool 1d/2d/3d f32        0.99 / 0.98 / 0.99   1.02 / 0.99 / 1.00
 *            nearest_unpool 2d f64              0.95    1.02
 *            resize linear / cubic x2           0.99 / 0.99    0.98 / 1.04 (1.00-1.07)
 *            pixel_shuffle f32 / u8             1.00 / 0.97    1.01 / 0.97
 *            pixel_unshuffle f32                0.99    1.01
 *            float32 -> float16                 0.98 (8M), 1.00 (64K)
 *            bfloat16 -> float32                0.97 (8M), 1.00 (64K)
 * The memory-bound loops (nearest, resize, pixel_shuffle, the converters
 * past the cache) sit at the bandwidth floor with AVX2 already: a wider
 * register moves no more bytes per second. max_pool's AVX-512 build is
 * slower as soon as a window has two rows or more; why was not chased
 * (its running maxima become mask compares and blends per element, the
 * likely cost). max_pool 1d, one row per window, gains 10%: a build
 * chosen by window shape could take that; not done. fractional_max_unpool's
 * 2d/3d rows are fma-bound on cache-resident tiles, where 16 lanes per
 * instruction pay. float16 ->
 * float32 of 8M elements is kept for its gain in cache (a request's input
 * of up to some 100K elements): past the cache it measured 0.94
 * (0.24-1.16), but A/A runs (`-i avx2,avx2`, `-i avx512,avx512`) spread
 * as widely (0.95-1.02 medians), so no difference shows there.
 * Leaving target_clones did not change the AVX2 code: nearest_unpool's
 * AVX2 build is instruction for instruction the old AVX2 clone, resize's
 * differs in 4 of 3866 lines, max_pool's in register choice; the old
 * binary against this one at UNPOOLD_ISA=avx2 (8 alternating rounds, one
 * process each; nearest, max_pool, fmu 1d/2d, resize, pixel_shuffle 2d
 * f32) measured medians of 0.89-1.15 at load 5-7 and 0.98-1.03 at load
 * 2.5 (resize 1.13, its rounds 0.95-1.84), the control 1.00 both times:
 * process-to-process noise, not a change.
 * AVX512_BF16's vcvtneps2bf16 was not tried for float32 -> bfloat16: it
 * flushes subnormal inputs to zero, which PyTorch's cast does not.
 */
#ifndef UP_DISPATCH_H
#define UP_DISPATCH_H

/* ---- instruction-set levels, chosen at run time ---------------------------
 *
 * up_isa() is the choice between the builds, made once per process from
 * what the CPU (and the OS: the vector registers' state must be saved)
 * supports:
 *   UP_ISA_BASELINE  any x86-64 (SSE2), and every other architecture;
 *   UP_ISA_AVX2      AVX2 + FMA + F16C (x86-64-v3's vector part);
 *   UP_ISA_AVX512    AVX-512 F + BW + DQ + VL (16 floats per zmm register,
 *                    masked loads and stores of 16-bit lanes for the tails).
 * UNPOOLD_ISA=baseline|avx2|avx512 caps the level (never raises it past the
 * CPU's): a test forces the lower paths on this machine to prove that one
 * binary is right on a CPU without the upper ones, and a bench compares two
 * levels in one process. Any other value is ignored.
 *
 * UP_HAVE_ISA_PATHS: x86-64 with GCC or clang, sanitizers included; the
 * intrinsics paths (convert.c) exist wherever it is set. */
#if defined(__x86_64__) && defined(__GNUC__)
#define UP_HAVE_ISA_PATHS 1
#define UP_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define UP_TARGET_AVX512                                                                   \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")))
#else
#define UP_HAVE_ISA_PATHS 0
#endif

typedef enum { UP_ISA_BASELINE = 0, UP_ISA_AVX2 = 1, UP_ISA_AVX512 = 2 } up_isa_level;

/* The level in use: the CPU's, capped by UNPOOLD_ISA (read on first call). */
up_isa_level up_isa(void);
/* The highest level this CPU supports. */
up_isa_level up_isa_cpu(void);
/* Cap the level from now on (tests, kbench); returns the level in effect,
 * min(want, up_isa_cpu()). Call between requests, not during one. */
up_isa_level up_isa_set(up_isa_level want);
/* "baseline", "avx2", "avx512"; up_isa_parse returns -1 for other names. */
const char *up_isa_name(up_isa_level l);
int up_isa_parse(const char *name);

#if defined(__GNUC__)
#define UP_HOT static inline __attribute__((always_inline))
#else
#define UP_HOT static inline
#endif

#if UP_HAVE_ISA_PATHS && !defined(__clang__)
#define UP_ISA_O3 __attribute__((optimize("O3")))
#define UP_ISA_BUILD_(name, sfx, target, params, args)                                     \
    UP_ISA_O3 target static void TFN(name##_##sfx) params { TFN(name##_body) args; }
#define UP_ISA_DISPATCH(storage, name, params, args)                                       \
    UP_ISA_BUILD_(name, baseline, , params, args)                                          \
    UP_ISA_BUILD_(name, avx2, UP_TARGET_AVX2, params, args)                                \
    UP_ISA_BUILD_(name, avx512, UP_TARGET_AVX512, params, args)                            \
    storage void TFN(name) params                                                          \
    {                                                                                      \
        switch (up_isa()) {                                                                \
        case UP_ISA_AVX512: TFN(name##_avx512) args; break;                                \
        case UP_ISA_AVX2: TFN(name##_avx2) args; break;                                    \
        default: TFN(name##_baseline) args; break;                                         \
        }                                                                                  \
    }
#define UP_ISA_DISPATCH_AVX2(storage, name, params, args)                                  \
    UP_ISA_BUILD_(name, baseline, , params, args)                                          \
    UP_ISA_BUILD_(name, avx2, UP_TARGET_AVX2, params, args)                                \
    storage void TFN(name) params                                                          \
    {                                                                                      \
        if (up_isa() >= UP_ISA_AVX2)                                                       \
            TFN(name##_avx2) args;                                                         \
        else                                                                               \
            TFN(name##_baseline) args;                                                     \
    }
#else
#define UP_ISA_DISPATCH(storage, name, params, args)                                       \
    storage void TFN(name) params { TFN(name##_body) args; }
#define UP_ISA_DISPATCH_AVX2 UP_ISA_DISPATCH
#endif

#endif
