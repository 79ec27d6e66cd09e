/* bigbuf.h -- large tensor buffers that do not pay page faults every time.
 *
 * A fresh 128 MiB output from malloc is a fresh mmap: the first write to
 * each 4 KiB page faults and the kernel zeroes it, which costs several times
 * what the unpooling kernel itself costs (bench/README.md has the figures).
 * Buffers of at least UP_BIGBUF_MIN bytes therefore come from here: mapped
 * with MADV_HUGEPAGE (2 MiB pages, 512x fewer faults when the system allows
 * them) and, when freed, kept in a small cache of recently freed blocks that
 * the next request of a similar size takes over with its pages already
 * faulted in. The cache is bounded (up_bigbuf_set_cache_limit); what does not
 * fit is unmapped at once, so an idle daemon holds at most that many bytes
 * beyond what it uses. The daemon also counts cached bytes against its
 * memory budget and trims the cache when requests need the room
 * (up_bigbuf_trim).
 *
 * Users: up_tensor_alloc() asks here first and up_tensor_free() gives
 * back what came from here; api/buf.c does the same for large answer
 * bodies and received gRPC messages (up_buf_block). Under AddressSanitizer the
 * cache stays on and its blocks are poisoned (bigbuf.c), so a use after free
 * of a large tensor is still caught. */
#ifndef UP_BIGBUF_H
#define UP_BIGBUF_H

#include <stddef.h>

#define UP_BIGBUF_MIN ((size_t)1 << 20)

/* A block of at least `bytes` (>= UP_BIGBUF_MIN), 2 MiB aligned, contents
 * undefined; NULL when the block cannot be had here (the caller falls back
 * to malloc). */
void *up_bigbuf_alloc(size_t bytes);
/* 1 if p came from up_bigbuf_alloc and is now released (cached or
 * unmapped), 0 if p is not ours (the caller frees it). */
int up_bigbuf_free(void *p);
/* Bytes the cache of freed blocks may hold (default 256 MiB; 0 disables
 * caching, blocks are still huge-page mapped). Frees what exceeds it. */
void up_bigbuf_set_cache_limit(size_t bytes);
/* Bytes currently held by the cache (not by live tensors); lock-free. */
size_t up_bigbuf_cached_bytes(void);
/* Drop cached blocks, oldest first, until the cache holds at most `keep`
 * bytes; returns the bytes unmapped. The daemon's memory budget counts
 * cached blocks and calls this when a request needs their room
 * (server/budget.c), so the cache never pushes memory past the budget. */
size_t up_bigbuf_trim(size_t keep);

#endif
