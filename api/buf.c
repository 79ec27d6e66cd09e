/* buf.c -- a growable byte buffer for response bodies.
 *
 * Growth doubles, so appending n bytes costs amortised O(n). A failed
 * allocation sets `failed` and later appends do nothing: callers check once
 * at the end instead of after every append. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

void up_buf_init(up_buf *b) { memset(b, 0, sizeof(*b)); }

int up_buf_reserve(up_buf *b, size_t extra)
{
    size_t need, cap;
    char *d;
    if (b->failed) return -1;
    if (extra > SIZE_MAX - b->len - 1) goto fail;
    need = b->len + extra + 1; /* room for a terminating NUL */
    if (need <= b->cap) return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    d = realloc(b->data, cap);
    if (!d) goto fail;
    b->data = d;
    b->cap = cap;
    return 0;
fail:
    b->failed = 1;
    return -1;
}

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
    free(b->data);
    memset(b, 0, sizeof(*b));
}

char *up_buf_steal(up_buf *b, size_t *len)
{
    char *d = b->data;
    if (len) *len = b->len;
    memset(b, 0, sizeof(*b));
    return d;
}
