/* buf.c -- a growable byte buffer for response bodies, and the helpers for
 * responses whose tail is sent without a copy (api.h).
 *
 * Growth doubles, so appending n bytes costs amortised O(n). A failed
 * allocation sets `failed` and later appends do nothing: callers check once
 * at the end instead of after every append.
 *
 * Large buffers (a JSON answer of a big tensor runs to hundreds of MiB)
 * come from the big-buffer allocator (kernels/bigbuf.h): huge pages, and a
 * block freed by the previous answer is taken over with its pages already
 * faulted in, instead of a fresh mmap that faults every 4 KiB. In a fresh
 * process it changes nothing (test_api_encode's 2^20-value answer: 55-64 ms
 * either way); the gain is on later answers of a similar size, whose block
 * is cached (bench/README.md). Such a buffer cannot grow in place (no
 * mremap), so each doubling past the threshold copies; the JSON encoder
 * reserves its estimate up front, so it normally happens once, while the
 * buffer is still empty. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/bigbuf.h"
#include "api.h"

void up_buf_init(up_buf *b) { memset(b, 0, sizeof(*b)); }

void up_buf_release(char *data)
{
    if (!up_bigbuf_free(data)) free(data);
}

char *up_buf_block(size_t n)
{
    char *d = n >= UP_BIGBUF_MIN ? up_bigbuf_alloc(n) : NULL;
    return d ? d : malloc(n);
}

/* A new home of cap bytes for b's contents: a big block when cap is large
 * enough and the allocator has one, else the heap (realloc while the
 * contents are on the heap already). */
static char *regrow(up_buf *b, size_t cap)
{
    char *d = cap >= UP_BIGBUF_MIN ? up_bigbuf_alloc(cap) : NULL;
    int big = d != NULL;
    if (!d && !b->big) return realloc(b->data, cap);
    if (!d) d = malloc(cap);
    if (!d) return NULL;
    if (b->data && b->len) memcpy(d, b->data, b->len);
    up_buf_release(b->data);
    b->big = big;
    return d;
}

/* Room for extra more bytes and a terminating NUL. exact: the capacity
 * becomes just that (the caller knows the final size); else it doubles
 * from 256, so repeated appends cost amortised O(n). */
static int reserve(up_buf *b, size_t extra, int exact)
{
    size_t need, cap;
    char *d;
    if (b->failed) return -1;
    if (extra > SIZE_MAX - b->len - 1) goto fail;
    need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    cap = exact ? need : b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (!(d = regrow(b, cap))) goto fail;
    b->data = d;
    b->cap = cap;
    return 0;
fail:
    b->failed = 1;
    return -1;
}

int up_buf_reserve(up_buf *b, size_t extra) { return reserve(b, extra, 0); }

int up_buf_reserve_exact(up_buf *b, size_t extra) { return reserve(b, extra, 1); }

int up_buf_append(up_buf *b, const void *p, size_t n)
{
    if (up_buf_reserve(b, n) < 0) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int up_buf_puts(up_buf *b, const char *s) { return up_buf_append(b, s, strlen(s)); }

int up_buf_printf(up_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    char small[256];
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n < sizeof(small)) return up_buf_append(b, small, (size_t)n);
    if (up_buf_reserve(b, (size_t)n) < 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void up_buf_free(up_buf *b)
{
    up_buf_release(b->data);
    memset(b, 0, sizeof(*b));
}

char *up_buf_steal(up_buf *b, size_t *len)
{
    char *d = b->data;
    if (len) *len = b->len;
    memset(b, 0, sizeof(*b));
    return d;
}

/* ---- responses with a tail ---------------------------------------------- */

size_t up_http_resp_len(const up_http_resp *r)
{
    size_t n = r->body.len;
    for (int i = 0; i < r->n_tail; i++) n += r->tail[i].len;
    return n;
}

int up_http_resp_flatten(up_http_resp *r)
{
    size_t extra = up_http_resp_len(r) - r->body.len;
    int rc = up_buf_reserve(&r->body, extra);
    for (int i = 0; rc == 0 && i < r->n_tail; i++)
        rc = up_buf_append(&r->body, r->tail[i].base, r->tail[i].len);
    if (r->keep_free) r->keep_free(r->keep);
    r->keep = NULL;
    r->keep_free = NULL;
    r->n_tail = 0;
    if (rc == 0) return 0;
    up_http_resp_free(r);
    return -1;
}
