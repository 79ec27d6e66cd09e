/* stream.h -- copies that bypass the cache, for outputs too large to be
 * read back from it.
 *
 * A kernel that builds an output plane in a cache-resident scratch buffer
 * and then streams it out writes each output byte to memory once. Writing
 * the output in place with ordinary stores costs a read of every line
 * first (read-for-ownership): for max_unpool that is 128 MiB more traffic
 * on a 128 MiB output, on a memory bus that two cores already saturate. */
#ifndef UP_STREAM_H
#define UP_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* Outputs at least this large are written with streaming stores: past
 * the last-level cache, nothing reads them back from it anyway. */
#define UP_STREAM_MIN_BYTES ((int64_t)32 << 20)
/* A scratch plane must stay in a core's L2 while it is filled. */
#define UP_STREAM_SCRATCH_MAX ((int64_t)512 << 10)

/* Copy n bytes with non-temporal stores where the target allows (any
 * x86-64: SSE2 is baseline); plain memcpy elsewhere. Call
 * up_stream_fence() before the data is handed to another thread. */
void up_stream_copy(void *dst, const void *src, size_t n);
void up_stream_fence(void);
/* The calling thread's scratch buffer of UP_STREAM_SCRATCH_MAX bytes,
 * 64-byte aligned, made on first use and freed when the thread exits;
 * NULL when out of memory. One per thread rather than per call: a fresh
 * 512 KiB block is a fresh transparent huge page to clear on every call
 * (measured: +1 ms on a 9 ms max_unpool). It is process-wide, not a
 * request's: one fixed-size buffer per thread that ever streamed (the
 * pool's workers), whatever the requests, so it is not charged to any
 * request's memory budget (op.h, up_charge); conv_transpose.c's col
 * buffer is the only other kernel allocation of that kind. */
void *up_stream_scratch(void);

#endif
