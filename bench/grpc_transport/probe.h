/* probe.h -- what the two gRPC transport probes (probe_core.c on gRPC's C
 * core, probe_nghttp2.c on libnghttp2) share, so that they differ only in
 * the transport library under them.
 *
 * Both serve one unary method, ModelInfer, with the same rule: a request
 * message shorter than PROBE_ECHO_MIN gets the fixed, pre-encoded
 * ModelInferResponse read from a file (bench/grpc_transport/bodies.py writes
 * it); a longer one is echoed back, from one contiguous copy of it, which is
 * what unpoold needs anyway (its decoders and kernels read contiguous
 * tensors). Both charge that copy to the same toy budget before making it,
 * and count what they answered and what they refused; at SIGTERM they print
 * one line:
 *
 *     stats ok=<n> refused=<n> budget_peak_mib=<n> hwm_mib=<n>
 *
 * hwm_mib is the process's peak RSS (VmHWM): with budget_peak_mib next to
 * it, it tells how much the transport held that the application never saw
 * and so could not charge. */
#ifndef PROBE_H
#define PROBE_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_METHOD "/inference.GRPCInferenceService/ModelInfer"
#define PROBE_ECHO_MIN ((size_t)64 << 10)
#define PROBE_MIB ((size_t)1 << 20)

/* gRPC status codes the probes send (grpc/status.h has the same values,
 * spelt here so that the nghttp2 probe does not need gRPC's headers). */
enum { PROBE_OK = 0, PROBE_INTERNAL = 13, PROBE_UNIMPLEMENTED = 12, PROBE_EXHAUSTED = 8 };

struct probe_budget {
    size_t limit;              /* bytes; 0 = no limit */
    _Atomic size_t used, peak;
    _Atomic unsigned long ok, refused;
};

/* Takes n bytes, or returns -1 and takes nothing. The compare-and-swap
 * loop makes it safe from the gRPC core probe's several polling threads. */
static inline int probe_take(struct probe_budget *b, size_t n)
{
    size_t used = atomic_load(&b->used), next;
    do {
        if (b->limit && (n > b->limit || used > b->limit - n)) return -1;
        next = used + n;
    } while (!atomic_compare_exchange_weak(&b->used, &used, next));
    size_t peak = atomic_load(&b->peak);
    while (next > peak && !atomic_compare_exchange_weak(&b->peak, &peak, next)) {}
    return 0;
}

static inline void probe_give(struct probe_budget *b, size_t n)
{
    atomic_fetch_sub(&b->used, n);
}

/* The whole file in one malloc'd buffer, or NULL. */
static inline uint8_t *probe_load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) goto err;
    if (!(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) goto err;
    fclose(f);
    *len = (size_t)n;
    return buf;
err:
    free(buf);
    fclose(f);
    return NULL;
}

static inline long probe_hwm_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

static inline void probe_print_stats(struct probe_budget *b)
{
    printf("stats ok=%lu refused=%lu budget_peak_mib=%zu hwm_mib=%ld\n",
           atomic_load(&b->ok), atomic_load(&b->refused),
           atomic_load(&b->peak) / PROBE_MIB, probe_hwm_kib() / 1024);
    fflush(stdout);
}

#endif
