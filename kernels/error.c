/* error.c -- recording (field, message) error items; see error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void up_error_clear(up_error *e)
{
    e->kind = UP_OK;
    e->n = 0;
}

int up_errorf(up_error *e, up_err_kind kind, const char *field, const char *fmt, ...)
{
    va_list ap;
    if (!e) return -1;
    if (e->kind == UP_OK) e->kind = kind;
    if (e->n >= UP_ERR_MAX_ITEMS) return -1;
    up_err_item *it = &e->items[e->n++];
    snprintf(it->field, sizeof(it->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(it->message, sizeof(it->message), fmt, ap);
    va_end(ap);
    return -1;
}

char *up_field(char *out, size_t cap, const char *prefix, const char *name)
{
    size_t n = 0;
    if (!cap) return out;
    for (const char *s = prefix; s && *s && n + 1 < cap; s++) out[n++] = *s;
    if (n + 1 < cap) out[n++] = '.';
    for (const char *s = name; s && *s && n + 1 < cap; s++) out[n++] = *s;
    out[n] = '\0';
    return out;
}
