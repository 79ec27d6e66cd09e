/* dispatch.c -- the instruction-set level (dispatch.h), chosen once per
 * process from the CPU's features and the UNPOOLD_ISA cap.
 *
 * The level is computed on first use rather than in a constructor so that
 * a test or bench can cap it before anything runs. The computation is
 * idempotent, so two threads racing on the first call store the same
 * value; a relaxed atomic is enough. */
#include "dispatch.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if UP_HAVE_ISA_PATHS
#include <cpuid.h>
#endif

static _Atomic int isa_level = -1;

static const char *const isa_names[] = {"baseline", "avx2", "avx512"};

#if UP_HAVE_ISA_PATHS
/* F16C straight from CPUID: clang's __builtin_cpu_supports does not know
 * the name. Its register state is AVX's, which the "avx2" test below
 * already requires the OS to save. */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
#endif

up_isa_level up_isa_cpu(void)
{
#if UP_HAVE_ISA_PATHS
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return UP_ISA_AVX512;
    if (avx2) return UP_ISA_AVX2;
#endif
    return UP_ISA_BASELINE;
}

const char *up_isa_name(up_isa_level l)
{
    return l >= UP_ISA_BASELINE && l <= UP_ISA_AVX512 ? isa_names[l] : "?";
}

int up_isa_parse(const char *name)
{
    for (int i = 0; name && i <= UP_ISA_AVX512; i++)
        if (strcmp(name, isa_names[i]) == 0) return i;
    return -1;
}

up_isa_level up_isa_set(up_isa_level want)
{
    up_isa_level cpu = up_isa_cpu(), l = want < cpu ? want : cpu;
    if (l < UP_ISA_BASELINE) l = UP_ISA_BASELINE;
    atomic_store_explicit(&isa_level, (int)l, memory_order_relaxed);
    return l;
}

up_isa_level up_isa(void)
{
    int l = atomic_load_explicit(&isa_level, memory_order_relaxed);
    if (l >= 0) return (up_isa_level)l;
    int cap = up_isa_parse(getenv("UNPOOLD_ISA"));
    return up_isa_set(cap >= 0 ? (up_isa_level)cap : UP_ISA_AVX512);
}
