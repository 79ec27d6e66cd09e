/* numfmt.c -- shortest round-trip decimal text for tensor elements.
 *
 * The problem: a float must print as the shortest decimal that reads back
 * to the same bits, and an output may hold millions of them. The classic
 * way (printf "%.{1..9}g" until strtof gives the value back) is correct
 * but costs several printf/strtof calls per element.
 *
 * The way taken for float32, float16 and bfloat16 (24, 11 and 8 bit
 * significands): for every value v of such a type, v and the midpoints to
 * its neighbours, lo and hi (any decimal between them reads back as v), are
 * exact doubles. Scaled by a power of ten so v lands in [1e8, 1e10), the
 * interval becomes [slo, shi] with a relative error below 2^-52 -- far
 * inside the interval's own width (2^-25 relative at least). The shortest
 * decimal is a multiple of the largest power of ten q that has a multiple
 * inside [slo, shi], the one nearest v among those; the multiples are known
 * exactly unless an end of the interval sits within a tolerance of one.
 * Whenever that, or the choice of the nearest, is too close to call, the
 * slow exact path decides: printf's correctly rounded digits, checked by
 * reading them back. That is about 2 in 10^6 floats of ordinary magnitude,
 * but most whole numbers above 2^24 (their interval ends are short
 * decimals themselves). About 55 ns per float32 against 100 ns for a single
 * printf("%.9g"), which is not even shortest.
 *
 * float64 has no spare precision in a double, so it always takes the slow
 * path (at most three printf/strtod pairs: 15 significant digits always
 * read back uniquely, so the search starts there). Trade-off accepted:
 * float64 JSON output is several times slower than float32; data_b64 is
 * the fast lossless form for big float64 answers. */
#include "numfmt.h"

#include "api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A positive decimal m * 10^e. */
typedef struct decimal {
    uint64_t m;
    int e;
} decimal;

#define P10_MIN (-40)
#define P10_MAX 60
static const double p10_tab[] = {
    1e-40, 1e-39, 1e-38, 1e-37, 1e-36, 1e-35, 1e-34, 1e-33,
    1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25,
    1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17,
    1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9,
    1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1,
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23,
    1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31,
    1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39,
    1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47,
    1e48, 1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55,
    1e56, 1e57, 1e58, 1e59, 1e60,
};

/* floor/ceil for 0 <= x < 2^63 without a libm call (this is the inner loop
 * of every float printed). */
static inline double floor_pos(double x) { return (double)(int64_t)x; }
static inline double ceil_pos(double x)
{
    double f = floor_pos(x);
    return f < x ? f + 1 : f;
}

static inline int near_integer(double x, double tol)
{
    double f = x - floor_pos(x);
    return f < tol || 1.0 - f < tol;
}

/* 2^e for a normal double exponent, without ldexp's call. */
static inline double pow2(int e)
{
    uint64_t b = (uint64_t)(e + 1023) << 52;
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

/* The fast path (see the top of the file). v is positive, [lo, hi] its
 * rounding interval; a decimal within tol_rel * v (or tol_abs) of an end
 * counts as too close to call. Returns -1 when the answer is too close to
 * call, leaving it to the slow path. */
static int shortest_fast(double v, double lo, double hi, double tol_rel, double tol_abs,
                         decimal *out)
{
    static const double q_tab[] = {1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1};
    static const double rq_tab[] = {1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1};
    uint64_t vb;
    memcpy(&vb, &v, sizeof(vb));
    int e2 = (int)(vb >> 52) - 1022; /* v in [2^(e2-1), 2^e2) */
    /* floor(log10(v)) or one less, so s lands in [1e8, 1e10) */
    int E = (int)floor_pos((e2 - 1) * 0.30102999566398120 + 400.0) - 400 - 8;
    if (-E < P10_MIN || -E > P10_MAX) return -1;
    double P = p10_tab[-E - P10_MIN];
    double s = v * P, slo = lo * P, shi = hi * P;
    double tol = s * tol_rel > tol_abs * P ? s * tol_rel : tol_abs * P;
    /* Across a power of ten, multiples of two grids have the same digit
     * count (9e8 and 1e9): rare, left to the slow path. */
    if ((slo < 1e9 && shi >= 1e9) || (slo < 1e8 && shi >= 1e8) || shi >= 1e10) return -1;

    /* The largest power of ten q with a multiple inside [slo, shi]: those
     * multiples have the fewest significant digits. A level with a
     * multiple has one at every finer level, so start at the largest q not
     * above the interval's width (it surely has one; the interval is at
     * least 2^-25 * s > 2 wide) and climb while the next level has one.
     * Scaling by the rounded 1/q adds 2^-53 relative error, well inside
     * tol. */
    double width = shi - slo, q = 1, rq = 1, first = 0, last = -1;
    int k = 9;
    while (k > 0 && q_tab[k - 1] <= width) k--;
    for (; k >= 0; k--) {
        double a = slo * rq_tab[k], b = shi * rq_tab[k], t = tol * rq_tab[k];
        if (near_integer(a, t) || near_integer(b, t)) return -1;
        double f = ceil_pos(a), l = floor_pos(b);
        if (f > l) break;
        first = f, last = l, q = q_tab[k], rq = rq_tab[k];
    }
    if (first > last) return -1;

    /* Of those multiples, the one nearest s. */
    double sq = s * rq, fl = floor_pos(sq), frac = sq - fl;
    if (fabs(frac - 0.5) < tol * rq) return -1;
    double m = fl + (frac > 0.5);
    if (m < first) m = first;
    if (m > last) m = last;
    out->m = (uint64_t)m * (uint64_t)q;
    out->e = E;
    return 0;
}

/* ---- slow exact path ---------------------------------------------------- */

enum { ACCEPT_F32, ACCEPT_F64, ACCEPT_INTERVAL };

typedef struct target {
    int how;          /* ACCEPT_* */
    float f;          /* ACCEPT_F32: strtof must give this */
    double d;         /* ACCEPT_F64: strtod must give this */
    double lo, hi;    /* ACCEPT_INTERVAL: strtod inside, ends when even */
    int even;
} target;

static int inside(double x, const target *t)
{
    return t->even ? (x >= t->lo && x <= t->hi) : (x > t->lo && x < t->hi);
}

/* Does this decimal text read back as the target? A half-type value is
 * read by clients to double (NumPy) or to float32 (PyTorch's Half) and then
 * rounded to the type: the text must land on the value both ways. */
static int reads_back(const char *text, const target *t)
{
    switch (t->how) {
    case ACCEPT_F32: return strtof(text, NULL) == t->f;
    case ACCEPT_F64: return strtod(text, NULL) == t->d;
    default: {
        double x = strtod(text, NULL), xf = strtof(text, NULL);
        return inside(x, t) && inside(xf, t);
    }
    }
}

/* "1.2345e-07" -> 12345 * 10^-11 */
static void parse_sci(const char *s, decimal *d)
{
    uint64_t m = 0;
    int frac_digits = 0, seen_point = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s == '.') {
            seen_point = 1;
            continue;
        }
        m = m * 10 + (uint64_t)(*s - '0');
        frac_digits += seen_point;
    }
    d->m = m;
    d->e = (*s == 'e' ? atoi(s + 1) : 0) - frac_digits;
}

/* printf gives the correctly rounded p-digit decimal; the first p at which
 * it reads back is the shortest length. Just above a power of two the
 * interval is lopsided (the gap below is half the gap above), so the
 * rounded value may fall out below while its upper neighbour fits: try
 * that one too. */
static void shortest_slow(double v, int pstart, int lopsided, const target *t, decimal *out)
{
    char buf[48];
    for (int p = pstart; p <= 17; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
        parse_sci(buf, out);
        if (reads_back(buf, t)) return;
        if (lopsided) {
            decimal up = {out->m + 1, out->e};
            snprintf(buf, sizeof(buf), "%llue%d", (unsigned long long)up.m, up.e);
            if (reads_back(buf, t)) {
                *out = up;
                return;
            }
        }
    }
    /* 17 digits always read back for every type here; keep the last. */
}

/* ---- text --------------------------------------------------------------- */

size_t up_fmt_u64(uint64_t v, char *out)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

size_t up_fmt_ms(double ms, char *out)
{
    if (!(ms > 0)) ms = 0;
    if (ms >= 1e15) return (size_t)snprintf(out, UP_NUMFMT_MAX, "%.3f", ms);
    uint64_t v = (uint64_t)llround(ms * 1000.0);
    size_t n = up_fmt_u64(v / 1000, out);
    uint64_t f = v % 1000;
    out[n++] = '.';
    out[n++] = (char)('0' + f / 100);
    out[n++] = (char)('0' + f / 10 % 10);
    out[n++] = (char)('0' + f % 10);
    return n;
}

static size_t put_str(char *out, size_t n, size_t cap, const char *s)
{
    size_t k = strlen(s);
    if (n + k >= cap) return cap; /* marks "full": callers stop */
    memcpy(out + n, s, k);
    return n + k;
}

size_t up_fmt_timing(char *out, size_t cap, const up_timing *t, int fields, const char *key_prefix,
                     const char *key_suffix, const char *sep)
{
    static const char *const names[] = {"decode", "queue", "compute", "encode", "total"};
    const double v[] = {t->decode_ms, t->queue_ms, t->compute_ms, t->encode_ms, t->total_ms};
    size_t n = 0;
    for (int i = 0; i < fields && i < 5; i++) {
        char num[UP_NUMFMT_MAX + 1];
        num[up_fmt_ms(v[i], num)] = '\0';
        if (i) n = put_str(out, n, cap, sep);
        n = put_str(out, n, cap, key_prefix);
        n = put_str(out, n, cap, names[i]);
        n = put_str(out, n, cap, key_suffix);
        n = put_str(out, n, cap, num);
        if (n >= cap) return 0; /* too small: write nothing rather than half */
    }
    if (n < cap) out[n] = '\0';
    return n;
}

size_t up_fmt_i64(int64_t v, char *out)
{
    if (v < 0) {
        out[0] = '-';
        return 1 + up_fmt_u64((uint64_t)0 - (uint64_t)v, out + 1);
    }
    return up_fmt_u64((uint64_t)v, out);
}

/* m * 10^e in JavaScript's Number-to-string layout (see numfmt.h). */
static size_t format_decimal(int neg, decimal d, char *out)
{
    char ds[24];
    size_t o = 0;
    while (d.m % 10 == 0) {
        d.m /= 10;
        d.e++;
    }
    int k = (int)up_fmt_u64(d.m, ds);
    int n = d.e + k; /* value = 0.ds * 10^n */
    if (neg) out[o++] = '-';
    if (k <= n && n <= 21) {
        memcpy(out + o, ds, (size_t)k);
        o += (size_t)k;
        for (int i = k; i < n; i++) out[o++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out + o, ds, (size_t)n);
        o += (size_t)n;
        out[o++] = '.';
        memcpy(out + o, ds + n, (size_t)(k - n));
        o += (size_t)(k - n);
    } else if (-6 < n && n <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -n; i++) out[o++] = '0';
        memcpy(out + o, ds, (size_t)k);
        o += (size_t)k;
    } else {
        int x = n - 1;
        out[o++] = ds[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, ds + 1, (size_t)(k - 1));
            o += (size_t)(k - 1);
        }
        out[o++] = 'e';
        out[o++] = x < 0 ? '-' : '+';
        o += up_fmt_u64((uint64_t)(x < 0 ? -x : x), out + o);
    }
    return o;
}

static size_t put(char *out, const char *s)
{
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

static size_t special(int neg, int is_nan, int is_zero, char *out)
{
    if (is_nan) return put(out, "\"NaN\"");
    if (is_zero) return put(out, neg ? "-0.0" : "0");
    return put(out, neg ? "\"-Infinity\"" : "\"Infinity\"");
}

/* A binary value sig * 2^e2 (sig > 0) of a type with `dig` guaranteed
 * decimal digits (FLT_DIG and kin). `lopsided`: sig is the smallest
 * normal significand above a binade boundary, so the gap below is half the
 * gap above. */
static size_t fmt_binary(int neg, uint64_t sig, int e2, int lopsided, int normal, int dig,
                         target *t, char *out)
{
    double ulp = pow2(e2), v = (double)sig * ulp;
    decimal d;
    t->lo = v - (lopsided ? ulp / 4 : ulp / 2);
    t->hi = v + ulp / 2;
    t->even = (sig & 1) == 0;
    /* Half types: the float32 read path rounds by up to 2^-24 relative
     * (2^-150 absolute below float32's normal range), so the fast path
     * leaves anything that near an end to the slow path. */
    int half = t->how == ACCEPT_INTERVAL;
    if (shortest_fast(v, t->lo, t->hi, half ? 0x1p-22 : 0x1p-48, half ? 0x1p-148 : 0, &d) < 0)
        /* Below the normal range fewer digits are guaranteed: start at 1. */
        shortest_slow(v, normal ? dig : 1, lopsided, t, &d);
    return format_decimal(neg, d, out);
}

size_t up_fmt_f32_ref(float f, char *out)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof(bits));
    int neg = (int)(bits >> 31), ex = (int)(bits >> 23 & 0xff);
    uint32_t man = bits & 0x7fffff;
    target t = {.how = ACCEPT_F32, .f = neg ? -f : f};
    if (ex == 0xff) return special(neg, man != 0, 0, out);
    if (ex == 0 && man == 0) return special(neg, 0, 1, out);
    if (ex == 0) return fmt_binary(neg, man, -149, 0, 0, 6, &t, out);
    /* Whole numbers below 2^24 are their own shortest spelling (floats are
     * at most 1 apart there), and tensors are full of them (zeros of an
     * unpooled output, counts, indices stored as floats). */
    if (t.f < 16777216.0f && t.f == (float)(int32_t)t.f)
        return up_fmt_i64(neg ? -(int64_t)t.f : (int64_t)t.f, out);
    return fmt_binary(neg, man | 0x800000u, ex - 150, man == 0 && ex > 1, 1, 6, &t, out);
}

size_t up_fmt_f16(uint16_t bits, char *out)
{
    int neg = bits >> 15, ex = bits >> 10 & 0x1f;
    unsigned man = bits & 0x3ffu;
    target t = {.how = ACCEPT_INTERVAL};
    if (ex == 0x1f) return special(neg, man != 0, 0, out);
    if (ex == 0 && man == 0) return special(neg, 0, 1, out);
    if (ex == 0) return fmt_binary(neg, man, -24, 0, 0, 3, &t, out);
    return fmt_binary(neg, man | 0x400u, ex - 25, man == 0 && ex > 1, 1, 3, &t, out);
}

size_t up_fmt_bf16(uint16_t bits, char *out)
{
    int neg = bits >> 15, ex = bits >> 7 & 0xff;
    unsigned man = bits & 0x7fu;
    target t = {.how = ACCEPT_INTERVAL};
    if (ex == 0xff) return special(neg, man != 0, 0, out);
    if (ex == 0 && man == 0) return special(neg, 0, 1, out);
    if (ex == 0) return fmt_binary(neg, man, -133, 0, 0, 2, &t, out);
    return fmt_binary(neg, man | 0x80u, ex - 134, man == 0 && ex > 1, 1, 2, &t, out);
}

size_t up_fmt_f64_ref(double x, char *out)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    int neg = (int)(bits >> 63), ex = (int)(bits >> 52 & 0x7ff);
    uint64_t man = bits & 0xfffffffffffffULL;
    target t = {.how = ACCEPT_F64, .d = neg ? -x : x};
    decimal d;
    if (ex == 0x7ff) return special(neg, man != 0, 0, out);
    if (ex == 0 && man == 0) return special(neg, 0, 1, out);
    /* whole numbers below 2^53: their own shortest spelling, as for f32 */
    if (t.d < 9007199254740992.0 && t.d == (double)(int64_t)t.d)
        return up_fmt_i64(neg ? -(int64_t)t.d : (int64_t)t.d, out);
    shortest_slow(t.d, ex == 0 ? 1 : 15, man == 0 && ex > 1, &t, &d);
    return format_decimal(neg, d, out);
}

size_t up_fmt_f32(float f, char *out) { return up_fmt_f32_ref(f, out); }
size_t up_fmt_f64(double x, char *out) { return up_fmt_f64_ref(x, out); }
