/* budget.c -- the bytes-in-flight counter (see budget.h).
 *
 * The big-buffer cache counts against the budget. The alternative, a fixed
 * small cache, fails one way or the other: `make bench` reuses 64-256 MiB
 * output blocks between requests (without the cache every big request
 * pays its page faults again, several times the kernel's own time), while
 * a cache of that size outside the budget would add 256 MiB to the RSS
 * bound of a daemon configured for 64 MiB. Counted instead, cached plus
 * charged bytes stay within --max-inflight-mb: a large budget keeps the
 * whole cache (the bench is unchanged), a small one gives it up block by
 * block when requests need the room. The eviction (munmap) runs on the
 * thread whose take needed the room, and only when the budget is tight.
 *
 * The check reads the cache size without the cache's lock; a block freed
 * into the cache at the same moment was charged to its request until just
 * before, so the sum can pass the cap only by blocks being handed from a
 * request to the cache, never by new memory. */
#include <stdio.h>

#include "../kernels/bigbuf.h"
#include "budget.h"
#include "metrics.h"

static atomic_int_fast64_t used;
static int64_t cap = INT64_MAX;

/* The cache may hold a quarter of the budget, and never less than its
 * default 256 MiB: a daemon set up for large requests gets a cache that
 * holds one large request's buffers. A 64 MiB max_unpool over gRPC frees a
 * 192 MiB message and a 256 MiB output; a 256 MiB cache keeps only one of
 * them, and the next call zeroes the other's pages afresh (measured: 40% of
 * the daemon's time, bench/README.md). */
void up_budget_init(int64_t cap_bytes)
{
    cap = cap_bytes > 0 ? cap_bytes : INT64_MAX;
    if (cap_bytes > 0 && cap_bytes / 4 > ((int64_t)256 << 20))
        up_bigbuf_set_cache_limit((size_t)(cap_bytes / 4));
}

int up_budget_take(int64_t n, int64_t held)
{
    if (n <= 0) return UP_BUDGET_OK;
    if (held < 0 || held > cap || n > cap - held) return UP_BUDGET_NEVER;
    int_fast64_t cur = atomic_load(&used);
    for (;;) {
        if (cur > cap - n) return UP_BUDGET_BUSY;
        int64_t room = cap - n - cur, cached = (int64_t)up_bigbuf_cached_bytes();
        if (cached > room) {
            /* it fits once cached blocks are dropped: drop them, look again */
            up_bigbuf_trim((size_t)room);
            cur = atomic_load(&used);
            continue;
        }
        if (atomic_compare_exchange_weak(&used, &cur, cur + n)) return UP_BUDGET_OK;
    }
}

int up_budget_fits_now(int64_t n) { return n <= 0 || atomic_load(&used) <= cap - n; }

void up_budget_force(int64_t n)
{
    if (n > 0) atomic_fetch_add(&used, n);
}

void up_budget_give(int64_t n)
{
    if (n > 0) atomic_fetch_sub(&used, n);
}

int64_t up_budget_used(void) { return atomic_load(&used); }
int64_t up_budget_cap(void) { return cap; }

int up_budget_charge(atomic_int_fast64_t *held, int64_t n, const char *what, up_error *err)
{
    int64_t h = atomic_load(held);
    int rc = up_budget_take(n, h);
    if (rc == UP_BUDGET_OK) {
        if (n > 0) atomic_fetch_add(held, n);
        return 0;
    }
    up_metrics_budget_refused(rc == UP_BUDGET_NEVER);
    up_error_clear(err);
    if (rc == UP_BUDGET_NEVER)
        return up_errorf(err, UP_E_TOO_LARGE, "request",
                         "the request needs %lld bytes more for %s (it holds %lld): it can "
                         "never fit the memory budget of %lld MiB (--max-inflight-mb)",
                         (long long)n, what ? what : "its data", (long long)h,
                         (long long)(cap >> 20));
    return up_errorf(err, UP_E_OVERLOADED, "server",
                     "the memory budget for requests in flight is full (%lld bytes more for %s "
                     "do not fit in --max-inflight-mb %lld now); retry later",
                     (long long)n, what ? what : "its data", (long long)(cap >> 20));
}

void up_budget_release(atomic_int_fast64_t *held) { up_budget_give(atomic_exchange(held, 0)); }

void up_budget_hold_exactly(atomic_int_fast64_t *held, int64_t keep)
{
    int64_t h = atomic_exchange(held, keep);
    if (keep > h) up_budget_force(keep - h);
    else up_budget_give(h - keep);
}

int up_budget_admit(int64_t held, int64_t need, up_error *err)
{
    if (need <= up_budget_cap() - held) return 0;
    up_metrics_budget_refused(1);
    up_error_clear(err);
    return up_errorf(err, UP_E_TOO_LARGE, "request",
                     "the request needs about %lld bytes more for its tensors, tables and "
                     "answer (it holds %lld): it can never fit the memory budget of %lld MiB "
                     "(--max-inflight-mb)",
                     (long long)need, (long long)held, (long long)(up_budget_cap() >> 20));
}
