/* stream.c -- non-temporal copies (see stream.h for why). SSE2's 16-byte
 * streaming store is part of the x86-64 baseline, so this needs no
 * runtime dispatch; a wider store would not move more bytes per second
 * once the memory bus is the limit. */
#include "stream.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_key_make(void) { scratch_key_ok = pthread_key_create(&scratch_key, free) == 0; }

void *up_stream_scratch(void)
{
    void *p;
    pthread_once(&scratch_once, scratch_key_make);
    if (!scratch_key_ok) return NULL;
    if ((p = pthread_getspecific(scratch_key))) return p;
    if (!(p = aligned_alloc(64, (size_t)UP_STREAM_SCRATCH_MAX))) return NULL;
    if (pthread_setspecific(scratch_key, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

#if defined(__x86_64__) || defined(__SSE2__)
#include <emmintrin.h>

void up_stream_copy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    size_t head = (16 - ((uintptr_t)d & 15)) & 15;
    if (n < 64) {
        memcpy(d, s, n);
        return;
    }
    memcpy(d, s, head); /* reach a 16-byte boundary with plain stores */
    d += head;
    s += head;
    n -= head;
    for (; n >= 64; n -= 64, d += 64, s += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)s);
        __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + 48));
        _mm_stream_si128((__m128i *)d, a);
        _mm_stream_si128((__m128i *)(d + 16), b);
        _mm_stream_si128((__m128i *)(d + 32), c);
        _mm_stream_si128((__m128i *)(d + 48), e);
    }
    memcpy(d, s, n);
}

void up_stream_fence(void) { _mm_sfence(); }
#else
void up_stream_copy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }
void up_stream_fence(void) {}
#endif
