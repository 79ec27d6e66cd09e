/* shm_registry.h -- registered shared-memory regions: the table, their
 * mappings and the references requests hold on them (shm_registry.c), and
 * the guard that turns a SIGBUS from a shrunk region into an error
 * (shm_guard.c). */
#ifndef UP_SRV_SHM_REGISTRY_H
#define UP_SRV_SHM_REGISTRY_H

#include <stdint.h>

#include "../api/api.h"

/* Once, at start: enabled (--shm), at most max_regions regions holding at
 * most max_bytes mapped bytes together. */
void up_shm_init(int enabled, int64_t max_regions, int64_t max_bytes);
int up_shm_enabled(void);
/* Unmap everything (at exit, after the workers have stopped). */
void up_shm_shutdown(void);

/* Map [offset, offset + byte_size) of the POSIX shared-memory object
 * `key` as region `name`. 0, or -1 with err. */
int up_shm_register(const char *name, const up_shm_register_body *b, up_error *err);
/* Drop region `name` (NULL: every region). A region that requests are
 * using is refused (503, retry); an unknown name is not an error. */
int up_shm_unregister(const char *name, up_error *err);
/* Triton's status document: [{"name","key","offset","byte_size"}...],
 * every region or the one named (unknown: -1 with err). */
int up_shm_status(const char *name, up_buf *out, up_error *err);
/* fn for every region (or the one named; unknown: -1 with err), under
 * the table's lock: fn must not call back into the registry. */
typedef void (*up_shm_visit)(void *ctx, const char *name, const char *key, uint64_t offset,
                             uint64_t byte_size);
int up_shm_each(const char *name, up_shm_visit fn, void *ctx, up_error *err);

/* The resolver decoders use (api.h); NULL when --shm is off. */
const up_shm_resolver *up_shm_resolver_get(void);
/* For /metrics: registered regions, those pinned by a request now,
 * mapped bytes and the limits. */
void up_shm_gauges(int64_t *regions, int64_t *in_use, int64_t *bytes, int64_t *max_regions,
                   int64_t *max_bytes);

/* ---- shm_guard.c ---- */

/* Install the SIGBUS handler (once, when --shm is on). */
void up_shm_guard_install(void);
/* Run fn(arg) on this thread with a SIGBUS from touching a mapping
 * caught: 0 when fn returned, -1 when it was cut short by a SIGBUS. */
int up_shm_guarded(void (*fn)(void *), void *arg);

#endif
