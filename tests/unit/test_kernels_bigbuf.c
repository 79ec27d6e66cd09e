/* test_kernels_bigbuf.c -- the large-buffer cache, as production runs it.
 *
 * The cache of freed large blocks is on in every build, sanitizers
 * included, so what the ASan run tests is what the daemon runs:
 *   - a freed block is reused by the next request of a similar size, and a
 *     trim or a zero limit gives it back;
 *   - under AddressSanitizer, a read of a freed (cached) tensor and a read
 *     just past the bytes a live tensor asked for are reported: each runs
 *     in a child process, which must die with ASan's report. Those two
 *     cases exist only in the ASan build (there is nothing to detect
 *     without it), so the plain build counts two cases fewer. */
#include <stdlib.h>
#include <string.h>

#include "kernels/bigbuf.h"
#include "kernels/tensor.h"
#include "tests/support/child.h"
#include "tests/support/harness.h"

#define BLOCK ((size_t)4 << 20)

static void freed_block_is_reused_and_trimmed(void)
{
    up_bigbuf_set_cache_limit((size_t)64 << 20);
    char *a = up_bigbuf_alloc(BLOCK);
    CHECK(a != NULL);
    if (!a) return;
    memset(a, 7, BLOCK);
    CHECK(up_bigbuf_free(a) == 1);
    CHECK(up_bigbuf_cached_bytes() >= BLOCK);
    char *b = up_bigbuf_alloc(BLOCK - 4096);
    CHECK(b == a); /* the cached block, pages already in */
    if (b) memset(b, 1, BLOCK - 4096); /* writable again after its poison */
    CHECK(up_bigbuf_cached_bytes() == 0);
    CHECK(up_bigbuf_free(b) == 1);
    CHECK(up_bigbuf_trim(0) >= BLOCK);
    CHECK(up_bigbuf_cached_bytes() == 0);
    int x;
    CHECK(up_bigbuf_free(&x) == 0); /* not ours: the caller frees it */
}

static void large_tensor_round_trip(void)
{
    up_tensor t;
    int64_t shape[1] = {(int64_t)(BLOCK / sizeof(float))};
    CHECK(up_tensor_alloc_zero(&t, UP_F32, 1, shape) == 0);
    float *f = t.data;
    CHECK(f[0] == 0 && f[shape[0] - 1] == 0);
    up_tensor_free(&t);
    CHECK(t.data == NULL);
}

#if defined(__SANITIZE_ADDRESS__)
static volatile char sink;

static void read_after_free(void)
{
    char *a = up_bigbuf_alloc(BLOCK);
    a[100] = 1;
    up_bigbuf_free(a); /* cached, poisoned */
    sink = a[100];
}

static void read_past_the_end(void)
{
    char *a = up_bigbuf_alloc(BLOCK + 64); /* the mapping is 6 MiB */
    sink = a[BLOCK + 64];
}

static void asan_reports_use_of_a_cached_block(void)
{
    up_bigbuf_set_cache_limit((size_t)64 << 20);
    CHECK(th_child_reports(read_after_free, "use-after-poison"));
}

static void asan_reports_read_past_a_live_block(void)
{
    CHECK(th_child_reports(read_past_the_end, "use-after-poison"));
}
#endif

int main(void)
{
    RUN(freed_block_is_reused_and_trimmed);
    RUN(large_tensor_round_trip);
#if defined(__SANITIZE_ADDRESS__)
    RUN(asan_reports_use_of_a_cached_block);
    RUN(asan_reports_read_past_a_live_block);
#endif
    return th_summary();
}
