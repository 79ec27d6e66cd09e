/* accesslog.c -- access and event lines in text or JSON (see accesslog.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "config.h"

static int log_format = UP_LOG_TEXT;

void up_log_init(int format) { log_format = format; }

typedef struct line {
    char b[4096];
    size_t n;
} line;

static void put(line *l, const char *s, size_t n)
{
    if (n > sizeof(l->b) - 2 - l->n) n = sizeof(l->b) - 2 - l->n;
    memcpy(l->b + l->n, s, n);
    l->n += n;
}

static void putf(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof(l->b) - 2 - l->n;
    int k = vsnprintf(l->b + l->n, room + 1, fmt, ap);
    va_end(ap);
    if (k > 0) l->n += (size_t)k < room ? (size_t)k : room;
}

/* Printable ASCII passes; quotes, backslashes and everything else become
 * escapes valid both in JSON strings and in our text format. */
static void put_escaped(line *l, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') put(l, (const char *)&c, 1);
        else putf(l, "\\u%04x", c);
    }
}

static void put_str(line *l, const char *s) { put(l, s, strlen(s)); }

/* Decimal digits by hand: one of these runs per number per request, and
 * the vsnprintf it replaces was 7% of a small request's user time. */
static void put_u64(line *l, const char *label, uint64_t v)
{
    char d[20];
    int n = 0;
    put_str(l, label);
    do d[n++] = (char)('0' + v % 10); while ((v /= 10) && n < 20);
    while (n) put(l, &d[--n], 1);
}

static void put_ms(line *l, double ms)
{
    char num[32]; /* up_fmt_ms writes at most 31 bytes (api.h) */
    put(l, num, up_fmt_ms(ms, num));
}

/* <lead>, then the four phases as "<prefix>name<suffix>value", <sep> between. */
static void put_timing(line *l, const up_timing *t, const char *lead, const char *prefix,
                       const char *suffix, const char *sep)
{
    char s[192];
    put_str(l, lead);
    put(l, s, up_fmt_timing(s, sizeof(s), t, 4, prefix, suffix, sep));
}

static void put_time(line *l)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    /* "2026-11-25T09:53:28.915Z", by hand: this runs for every request */
    const int v[] = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000)};
    static const int width[] = {4, 2, 2, 2, 2, 2, 3};
    static const char after[] = "--T::.Z";
    char b[32];
    size_t n = 0;
    for (int i = 0; i < 7; i++) {
        for (int k = width[i] - 1, x = v[i]; k >= 0; k--, x /= 10) b[n + (size_t)k] = (char)('0' + x % 10);
        n += (size_t)width[i];
        b[n++] = after[i];
    }
    put(l, b, n);
}

static void emit(line *l)
{
    l->b[l->n++] = '\n';
    ssize_t w = write(STDERR_FILENO, l->b, l->n);
    (void)w; /* nowhere to report a failing stderr */
}

/* The fields of an access line, in order; the two formats differ only in
 * the text around each value. */
typedef struct access_style {
    const char *ts, *method, *path, *op, *no_op, *status, *in, *out;
    const char *timing_lead, *timing_prefix, *timing_suffix, *timing_sep;
    const char *total, *rid, *end;
} access_style;

static const access_style styles[] = {
    [UP_LOG_TEXT] = {"", " ", " ", " op=", "-", " status=", " in=", " out=", " ", "", "_ms=", " ",
                     " total_ms=", " rid=", ""},
    [UP_LOG_JSON] = {"{\"ts\":\"", "\",\"method\":\"", "\",\"path\":\"", "\",\"op\":\"", "",
                     "\",\"status\":", ",\"bytes_in\":", ",\"bytes_out\":", ",", "\"", "_ms\":", ",",
                     ",\"total_ms\":", ",\"request_id\":\"", "\"}"},
};

void up_log_access(const up_access *a)
{
    line l = {.n = 0};
    const access_style *st = &styles[log_format == UP_LOG_JSON ? UP_LOG_JSON : UP_LOG_TEXT];
    put_str(&l, st->ts);
    put_time(&l);
    put_str(&l, st->method);
    put_escaped(&l, a->method);
    put_str(&l, st->path);
    put_escaped(&l, a->path);
    put_str(&l, st->op);
    put_escaped(&l, a->op ? a->op : st->no_op);
    put_u64(&l, st->status, (uint64_t)(a->status > 0 ? a->status : 0));
    put_u64(&l, st->in, (uint64_t)a->bytes_in);
    put_u64(&l, st->out, (uint64_t)a->bytes_out);
    if (a->timing)
        put_timing(&l, a->timing, st->timing_lead, st->timing_prefix, st->timing_suffix,
                   st->timing_sep);
    put_str(&l, st->total);
    put_ms(&l, a->total_ms);
    put_str(&l, st->rid);
    put_escaped(&l, a->request_id);
    put_str(&l, st->end);
    emit(&l);
}

void up_log_event(const char *level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    line l = {.n = 0};
    if (log_format == UP_LOG_JSON) {
        put(&l, "{\"ts\":\"", 7);
        put_time(&l);
        putf(&l, "\",\"level\":\"%s\",\"msg\":\"", level);
        put_escaped(&l, msg);
        put(&l, "\"}", 2);
    } else {
        put_time(&l);
        putf(&l, " unpoold %s: ", level);
        put_escaped(&l, msg);
    }
    emit(&l);
}
