/* bigbuf.c -- large buffers: huge-page mappings plus a small cache of freed
 * blocks (see bigbuf.h for why).
 *
 * Two small tables under one mutex: the live blocks handed out (so a free
 * can tell ours from malloc's without reading memory around the pointer) and
 * the cached free blocks. A few large tensors per request means a few table
 * scans per request; frees of small tensors skip the lock while no large
 * block is live. Unmapping (milliseconds for a big block) happens after the
 * lock is dropped.
 *
 * Reuse policy: the smallest cached block that holds the request and is at
 * most twice its size (a small tensor must not pin a huge block); on free,
 * the oldest blocks are evicted until the new one fits the limit. */
#include "bigbuf.h"
#include "poison.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

/* Under AddressSanitizer the cache stays on, so sanitizer runs test what
 * production runs; its blocks are poisoned instead: a cached block whole,
 * a live one past the bytes asked for. A read of a freed (cached) tensor,
 * or past the end of a live one, is then reported like a heap error. A
 * block is unpoisoned before it is unmapped, since the next mapping at
 * that address would otherwise inherit the poison (poison.h). */
#define HUGE_2M ((size_t)2 << 20)
#define MAX_LIVE 64   /* more live big tensors than this fall back to malloc */
#define MAX_CACHED 8

typedef struct block {
    void *p;
    size_t size;      /* mapped bytes, a multiple of 2 MiB */
    uint64_t age;     /* cache: when it was freed (higher = newer) */
} block;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static block live[MAX_LIVE];
static block cached[MAX_CACHED];
static int n_cached;
static atomic_int n_live;
/* written under mu, read without it by up_bigbuf_cached_bytes (the
 * daemon's budget looks at it on every charge) */
static atomic_size_t cached_bytes;
static size_t cache_limit = (size_t)256 << 20;
static uint64_t clock_tick;

/* A fresh 2 MiB-aligned mapping, so every full 2 MiB of it can be one huge
 * page. */
static void *map_aligned(size_t size)
{
    size_t span = size + HUGE_2M;
    char *raw, *p;
    if (span < size) return NULL;
    raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    p = (char *)(((uintptr_t)raw + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    if (p + size < raw + span) munmap(p + size, (size_t)(raw + span - (p + size)));
    madvise(p, size, MADV_HUGEPAGE); /* a hint: without THP we get 4 KiB pages */
    return p;
}

/* Under mu: take the best cached block for size, or return 0. */
static int cache_take(size_t size, block *out)
{
    int best = -1;
    for (int i = 0; i < n_cached; i++) {
        size_t s = cached[i].size;
        if (s < size || s / 2 > size) continue;
        if (best < 0 || s < cached[best].size) best = i;
    }
    if (best < 0) return 0;
    *out = cached[best];
    atomic_fetch_sub(&cached_bytes, out->size);
    cached[best] = cached[--n_cached];
    return 1;
}

/* Under mu: drop cached blocks (oldest first) until `room` more bytes (and
 * one more slot, if `slot`) fit within `limit`; the dropped blocks go to
 * victims[] for unmapping. */
static int cache_evict(size_t limit, size_t room, int slot, block *victims)
{
    int nv = 0;
    while (n_cached > 0 && (atomic_load(&cached_bytes) + room > limit ||
                            (slot && n_cached >= MAX_CACHED))) {
        int old = 0;
        for (int i = 1; i < n_cached; i++)
            if (cached[i].age < cached[old].age) old = i;
        victims[nv++] = cached[old];
        atomic_fetch_sub(&cached_bytes, cached[old].size);
        cached[old] = cached[--n_cached];
    }
    return nv;
}

static void unmap_all(const block *v, int n)
{
    for (int i = 0; i < n; i++) {
        UP_UNPOISON(v[i].p, v[i].size);
        munmap(v[i].p, v[i].size);
    }
}

void *up_bigbuf_alloc(size_t bytes)
{
    block b = {0};
    int slot = -1;
    if (bytes < UP_BIGBUF_MIN) return NULL;
    size_t size = (bytes + HUGE_2M - 1) & ~(HUGE_2M - 1);
    if (size < bytes) return NULL;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < MAX_LIVE && slot < 0; i++)
        if (!live[i].p) slot = i;
    if (slot < 0) {
        pthread_mutex_unlock(&mu);
        return NULL;
    }
    if (!cache_take(size, &b)) {
        live[slot].p = (void *)1; /* reserve the slot while mapping unlocked */
        pthread_mutex_unlock(&mu);
        b.p = map_aligned(size);
        b.size = size;
        pthread_mutex_lock(&mu);
        if (!b.p) {
            live[slot].p = NULL;
            pthread_mutex_unlock(&mu);
            return NULL;
        }
    }
    live[slot] = b;
    atomic_fetch_add(&n_live, 1);
    pthread_mutex_unlock(&mu);
    UP_UNPOISON(b.p, bytes);
    UP_POISON((char *)b.p + bytes, b.size - bytes);
    return b.p;
}

int up_bigbuf_free(void *p)
{
    block b, victims[MAX_CACHED + 1];
    int nv = 0, found = -1;
    if (!p || atomic_load(&n_live) == 0) return 0;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < MAX_LIVE && found < 0; i++)
        if (live[i].p == p) found = i;
    if (found < 0) {
        pthread_mutex_unlock(&mu);
        return 0;
    }
    b = live[found];
    live[found].p = NULL;
    atomic_fetch_sub(&n_live, 1);
    if (b.size <= cache_limit) {
        UP_POISON(b.p, b.size);
        nv = cache_evict(cache_limit, b.size, 1, victims);
        b.age = ++clock_tick;
        cached[n_cached++] = b;
        atomic_fetch_add(&cached_bytes, b.size);
    } else {
        victims[nv++] = b;
    }
    pthread_mutex_unlock(&mu);
    unmap_all(victims, nv);
    return 1;
}

void up_bigbuf_set_cache_limit(size_t bytes)
{
    block victims[MAX_CACHED + 1];
    int nv;
    pthread_mutex_lock(&mu);
    cache_limit = bytes;
    nv = cache_evict(cache_limit, 0, 0, victims);
    pthread_mutex_unlock(&mu);
    unmap_all(victims, nv);
}

size_t up_bigbuf_trim(size_t keep)
{
    block victims[MAX_CACHED + 1];
    size_t freed = 0;
    int nv;
    if (atomic_load(&cached_bytes) <= keep) return 0;
    pthread_mutex_lock(&mu);
    nv = cache_evict(keep, 0, 0, victims);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < nv; i++) freed += victims[i].size;
    unmap_all(victims, nv);
    return freed;
}

size_t up_bigbuf_cached_bytes(void) { return atomic_load(&cached_bytes); }

#if UP_ASAN
/* LeakSanitizer does not see these mappings (it scans malloc's chunks), so
 * a large tensor that is never freed would go unreported in the sanitizer
 * runs that used to give it to malloc. Report it here instead, at exit,
 * with the same consequence: a failed run. */
__attribute__((destructor)) static void report_live_blocks(void)
{
    int n = atomic_load(&n_live);
    if (n == 0) return;
    fprintf(stderr, "ERROR: bigbuf: %d large buffer(s) still live at exit (a leaked tensor "
                    "or answer buffer)\n", n);
    abort();
}
#endif
