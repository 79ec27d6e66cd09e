/* dispatch.h -- runtime dispatch of the hot kernels, in one place.
 *
 * unpoold ships one binary for every x86-64 machine. The few loops that
 * gain from wider vectors (max_pool's running maxima, nearest_unpool's
 * gathers, fractional_max_unpool's fma rows) are compiled several times
 * with GCC's target_clones, and the dynamic loader picks one per process
 * through an ifunc resolver. Each clone is also built at -O3, so its
 * straight-line loops vectorise whatever the build's -O level.
 *
 *   UP_CLONES_AVX2   baseline x86-64 and AVX2
 *   UP_CLONES_FMA    baseline, FMA (implies AVX: 8 floats per vector) and
 *                    x86-64-v3; fma()/fmaf() are a libm call unless the
 *                    compiler may use the FMA instructions. Either way
 *                    they round identically: fma() is exact by definition.
 *   UP_HOT           for the helpers a cloned function calls in its loops:
 *                    they must be inlined into every clone, or they are
 *                    compiled once, for the baseline, and the clone gains
 *                    nothing (a libm fmaf() call per element).
 *
 * One guard decides where the clones exist: GCC on x86-64, with no
 * sanitizer. Why each condition:
 *   - x86-64: the targets named are x86-64's.
 *   - not clang: clang ignores optimize("O3") with a warning (an error
 *     under -Werror) and its target_clones spelling of "arch=" differs.
 *   - no sanitizer: an ifunc resolver runs while the dynamic loader
 *     relocates the binary, before the sanitizer runtime is initialised;
 *     instrumented, it crashes at start-up (ThreadSanitizer does; the
 *     Makefile builds the kernels uninstrumented under TSan for that
 *     reason). ASan's and TSan's runs are also better off on the one
 *     baseline code path, whose lines a report then names, than on
 *     whichever clone the machine picks. The baseline build computes the
 *     same bytes: the clones differ in instructions, not in arithmetic
 *     (compare/select in PyTorch's order, exactly rounded fma()).
 * Elsewhere the macros are empty and the kernels are plain C. */
#ifndef UP_DISPATCH_H
#define UP_DISPATCH_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define UP_HAVE_CLONES 1
#if defined(UP_CLONES_TRY_AVX512)
/* Measurement build only (CFLAGS=-DUP_CLONES_TRY_AVX512): the clones plus
 * an x86-64-v4 (AVX-512) one, to compare against the shipped lists. */
#define UP_CLONES_AVX2                                                                 \
    __attribute__((target_clones("arch=x86-64-v4", "avx2", "default"), optimize("O3")))
#define UP_CLONES_FMA                                                                  \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "fma", "default"),  \
                   optimize("O3")))
#else
#define UP_CLONES_AVX2 __attribute__((target_clones("avx2", "default"), optimize("O3")))
#define UP_CLONES_FMA                                                                  \
    __attribute__((target_clones("arch=x86-64-v3", "fma", "default"), optimize("O3")))
#endif
#else
#define UP_HAVE_CLONES 0
#define UP_CLONES_AVX2
#define UP_CLONES_FMA
#endif

/* ---- instruction-set levels, chosen at run time ---------------------------
 *
 * Code that is written with intrinsics for one instruction set (the
 * float16/bfloat16 converters, convert.c) cannot be a target_clones clone:
 * it needs one function per level and a choice between them. up_isa() is
 * that choice, made once per process from what the CPU (and the OS: the
 * vector registers' state must be saved) supports:
 *   UP_ISA_BASELINE  any x86-64 (SSE2), and every other architecture;
 *   UP_ISA_AVX2      AVX2 + FMA + F16C (x86-64-v3's vector part);
 *   UP_ISA_AVX512    AVX-512 F + BW + VL (16 floats per zmm register, masked
 *                    loads and stores of 16-bit lanes for the tails).
 * UNPOOLD_ISA=baseline|avx2|avx512 caps the level (never raises it past the
 * CPU's): a test forces the lower paths on this machine to prove that one
 * binary is right on a CPU without the upper ones, and a bench compares two
 * levels in one process. Any other value is ignored. The target_clones
 * functions above are chosen by the dynamic loader before main() and do
 * not follow the cap.
 *
 * UP_HAVE_ISA_PATHS: x86-64 with GCC or clang, sanitizers included -- the
 * choice is an ordinary branch at call time, not an ifunc, so ASan and
 * UBSan check the vector paths too. */
#if defined(__x86_64__) && defined(__GNUC__)
#define UP_HAVE_ISA_PATHS 1
#define UP_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define UP_TARGET_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))
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

#endif
