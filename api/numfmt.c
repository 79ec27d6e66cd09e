/* numfmt.c -- shortest round-trip decimal text for tensor elements.
 *
 * The problem: a float must print as the shortest decimal that reads back
 * to the same bits (the nearest such when several have that length, ties
 * to an even last digit), and an output may hold millions of them.
 *
 * float32 and float64: Schubfach (see the blocks at the end of the file),
 * which computes that decimal directly with three 64x128-bit products per
 * value (64x64-bit for float32, which then writes its digits eight per
 * word and picks its candidate without a branch) and no loop. It replaced
 * a printf/strtod search that is kept, as up_fmt_f32_ref/up_fmt_f64_ref,
 * only as the oracle the tests, the fuzzer and bench/codec_bench.c check
 * it against, byte for byte.
 *
 * The reference search for float32, and the printers of float16 and
 * bfloat16 (24, 11 and 8 bit significands): for every value v of such a
 * type, v and the midpoints to
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
 * decimals themselves). The half types must read back both through double
 * and through float32 (see reads_back), a rule Schubfach does not express,
 * so they keep this path.
 *
 * The float64 reference has no spare precision in a double, so it always
 * takes the slow path (at most three printf/strtod pairs: at most one
 * 15-digit decimal fits a float64's interval, so the search starts there). */
#include "numfmt.h"

#include "api.h"
#include "pow10_tab.h"

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

/* "00" "01" ... "99": digits are written two at a time from the end, so a
 * 17-digit float64 costs 9 multiply-shift divisions, not 17 plus a reversal. */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const uint64_t pow10_u64[20] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
    100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
    10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
    100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL};

/* Decimal digits of v: from its bit length (log10 2 ~ 1233 / 4096), then
 * one comparison to correct the estimate. */
static inline int digit_count(uint64_t v)
{
    v |= 1; /* 0 has one digit too; no decade starts at an odd number */
    int bits = 64 - __builtin_clzll(v);
    int n = (bits * 1233) >> 12;
    return n + (v >= pow10_u64[n]);
}

/* v's k digits into p[0..k), from the end, two at a time */
static inline void put_digits(char *p, uint64_t v, int k)
{
    p += k;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) memcpy(p - 2, digit_pairs + 2 * v, 2);
    else p[-1] = (char)('0' + v);
}

size_t up_fmt_u64(uint64_t v, char *out)
{
    int n = digit_count(v);
    put_digits(out, v, n);
    return (size_t)n;
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

/* m * 10^e in JavaScript's Number-to-string layout (see numfmt.h). The
 * digits are written once, in place; a decimal point inside them is made
 * by writing them one byte to the right and moving the integer part back. */
static size_t format_decimal(int neg, decimal d, char *out)
{
    char *o = out + neg;
    out[0] = '-';
    while (d.m % 100 == 0) {
        d.m /= 100;
        d.e += 2;
    }
    if (d.m % 10 == 0) {
        d.m /= 10;
        d.e++;
    }
    int k = digit_count(d.m);
    int n = d.e + k; /* value = 0.digits * 10^n */
    if (k <= n && n <= 21) {
        put_digits(o, d.m, k);
        memset(o + k, '0', (size_t)(n - k));
        return (size_t)(neg + n);
    }
    if (0 < n && n <= 21) {
        put_digits(o + 1, d.m, k);
        for (int i = 0; i < n; i++) o[i] = o[i + 1];
        o[n] = '.';
        return (size_t)(neg + k + 1);
    }
    if (-6 < n && n <= 0) {
        o[0] = '0';
        o[1] = '.';
        memset(o + 2, '0', (size_t)-n);
        put_digits(o + 2 - n, d.m, k);
        return (size_t)(neg + 2 - n + k);
    }
    int x = n - 1;
    put_digits(o + 1, d.m, k);
    o[0] = o[1];
    if (k > 1) {
        o[1] = '.';
        o += k + 1;
    } else {
        o += 1;
    }
    *o++ = 'e';
    *o++ = x < 0 ? '-' : '+';
    o += up_fmt_u64((uint64_t)(x < 0 ? -x : x), o);
    return (size_t)(o - out);
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

/* ---- Schubfach: shortest decimals for float32 and float64 ---------------
 *
 * Raffaello Giulietti's algorithm ("The Schubfach way to render doubles",
 * 2020), written here from the paper. v = c * 2^q with its rounding
 * interval R = [v - ulp/2, v + ulp/2] (lopsided: the gap below is ulp/4
 * when c is the smallest significand of a binade), bounds included when c
 * is even (round-half-even reads them back as v). With k = floor(log10 of
 * 2^q) (of 3/4 * 2^q when lopsided), 10^-k * 2^q lies in [1, 10), so
 * scaled by 10^-k, R is between 1 and 10 units wide and holds at most one
 * multiple of 10 but always one integer: the shortest decimal is that
 * multiple of 10 if R has one, else the integer nearest v (ties to even).
 * The scaled v and bounds are computed, times 4 for two fraction bits, as
 * floor(x) | sticky ("round to odd") from a 128-bit upper approximation
 * of 10^-k (pow10_tab.h, plus one); the paper proves those rounded values
 * order exactly as the exact ones against the candidates, which is all the
 * comparisons below need. No loop, no division by a variable, no libc.
 *
 * The same code serves float32 (c < 2^24): a wider approximation than
 * float32 needs only makes the products more exact. Both are checked
 * against the printf search (up_fmt_*_ref): every float32 subnormal, the
 * binade ends and a million random ones, and random float64s, in
 * tests/unit/test_float_format.c and the fuzzer; once, by hand, every
 * positive finite float32 (2^31 values, minutes of CPU: not in the suite). The result is then the
 * same decimal the old search found: shortest, nearest v, ties to even. */

/* floor(x) | (x has a fraction), x = cp * g / 2^129, g = hi:lo the upper
 * approximation. g exceeds the exact scale by less than 1, so cp * g
 * exceeds the exact product by less than cp < 2^62: that excess lives in
 * the product's lowest 64 bits, which are dropped, so an exact integer x
 * gets no false fraction. A true fraction is far larger than 2^-65 (the
 * paper bounds how near an integer these products come), so the 65
 * fraction bits kept see it. */
static inline uint64_t round_odd(uint64_t hi, uint64_t lo, uint64_t cp)
{
    unsigned __int128 a = (unsigned __int128)cp * lo, b = (unsigned __int128)cp * hi;
    unsigned __int128 mid = (unsigned __int128)(uint64_t)b + (uint64_t)(a >> 64);
    unsigned __int128 top = (b >> 64) + (mid >> 64);
    uint64_t frac = ((uint64_t)top & 1) | (uint64_t)mid;
    return (uint64_t)(top >> 1) | (frac != 0);
}

/* The shortest decimal of c * 2^q (c > 0), lopsided as above, into *d. */
static void schubfach(uint64_t c, int q, int lopsided, decimal *d)
{
    uint64_t cb = c << 2, cbr = cb + 2, cbl = lopsided ? cb - 1 : cb - 2;
    int k = lopsided ? (q * 1262611 - 524031) >> 22 : (q * 1262611) >> 22;
    int h = q + ((-k * 1741647) >> 19) + 2; /* 1..7: cb << h stays below 2^62 */
    const uint64_t *g = pow10_tab[-k - POW10_MIN];
    uint64_t ghi = g[0], glo = g[1] + 1;
    if (glo == 0) ghi++; /* never overflows: 10^-k is not 2^128 - 1 */
    uint64_t vb = round_odd(ghi, glo, cb << h), vbl = round_odd(ghi, glo, cbl << h),
             vbr = round_odd(ghi, glo, cbr << h);
    uint64_t out = c & 1; /* odd c: the bounds are not in R */
    uint64_t s = vb >> 2;
    /* R is under 10 units wide: at most one multiple of 10 in it, and
     * when there is one it is the shorter candidate (s >= 10: 0 is not) */
    if (s >= 10) {
        uint64_t sp10 = s / 10 * 10, tp10 = sp10 + 10;
        int upin = vbl + out <= sp10 << 2, wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin) {
            d->m = upin ? sp10 : tp10;
            d->e = k;
            return;
        }
    }
    uint64_t t = s + 1;
    int uin = vbl + out <= s << 2, win = (t << 2) + out <= vbr;
    d->e = k;
    if (uin != win) {
        d->m = uin ? s : t;
        return;
    }
    /* both in: the nearer one; vb - 4s - 2 is v's distance past the midpoint */
    int64_t cmp = (int64_t)(vb - ((s + t) << 1));
    d->m = cmp < 0 || (cmp == 0 && (s & 1) == 0) ? s : t;
}

/* ---- float32: a 64-bit Schubfach and digits eight at a time -------------
 *
 * float32 has c < 2^24, so the products above need far less than 128 bits
 * of 10^-k: the top 63 bits of the table entry plus one (g, an upper
 * approximation, g - 1 <= 10^-k * 2^-r < g) times c << (h + 31) fit one
 * 64x64-bit multiply, and floor | sticky is taken from the product's high
 * word, keeping 31 fraction bits (the low word, where g's excess lives, is
 * dropped). This is the paper's own binary32 variant (same k, h larger by
 * 31); it was checked against the 128-bit path above on every positive
 * finite float32 once, by hand, and the tests compare it with the printf
 * search on all subnormals, the binade ends and a million random values.
 *
 * The digits (m < 2^28, so at most 9) are made without a division loop:
 * the low eight as one 64-bit word, one byte per digit, by splitting into
 * two 4-digit halves (one division by 10^4), each half into two 2-digit
 * quarters (multiply by 10486 >> 20 = floor(x / 100) for x < 10^4) and
 * each quarter into two digits (103 >> 10 = floor(x / 10) for x < 100),
 * all lanes at once. The most significant digit lands in the lowest byte,
 * so the leading zeros are the trailing zero bytes (ctz) and the trailing
 * zeros of m, which the shortest form drops, the leading zero bytes (clz):
 * no % 10 loop. The plain layouts ("1.2345678", "0.00012345") are stored
 * as whole words; integers and exponent forms are rare here and go through
 * format_decimal. */

static inline uint64_t round_odd32(uint64_t g, uint64_t cp)
{
    uint64_t x = (uint64_t)(((unsigned __int128)g * cp) >> 64);
    return x >> 31 | ((x & 0xffffffffu) + 0xffffffffu) >> 32;
}

/* schubfach() for c < 2^24, with round_odd32; t = s + 1 and cmp as there */
static inline void schubfach32(uint64_t c, int q, int lopsided, decimal *d)
{
    uint64_t cb = c << 2, cbr = cb + 2, cbl = lopsided ? cb - 1 : cb - 2;
    int k = lopsided ? (q * 1262611 - 524031) >> 22 : (q * 1262611) >> 22;
    int h = q + ((-k * 1741647) >> 19) + 33;
    uint64_t g = (pow10_tab[-k - POW10_MIN][0] >> 1) + 1;
    uint64_t vb = round_odd32(g, cb << h), vbl = round_odd32(g, cbl << h),
             vbr = round_odd32(g, cbr << h);
    uint64_t out = c & 1, s = vb >> 2, sp10 = s / 10 * 10;
    /* every test is made and the winner picked by arithmetic: which one
     * wins is data, and a branch on it mispredicts often */
    int upin = vbl + out <= sp10 << 2, wpin = ((sp10 + 10) << 2) + out <= vbr;
    int uin = vbl + out <= s << 2, win = ((s + 1) << 2) + out <= vbr;
    int64_t cmp = (int64_t)(vb - ((2 * s + 1) << 1));
    int below = (cmp < 0) | ((cmp == 0) & (((int)s & 1) == 0));
    uint64_t one = s + (uint64_t)(uin != win ? !uin : !below);
    uint64_t ten = sp10 + 10 * (uint64_t)!upin;
    uint64_t use_ten = (uint64_t)0 - (uint64_t)((s >= 10) & (upin != wpin));
    d->m = (ten & use_ten) | (one & ~use_ten);
    d->e = k;
}

/* v < 10^8 as eight digit values 0..9, the most significant in byte 0 */
static inline uint64_t eight_digits(uint32_t v)
{
    uint64_t x = v / 10000 | (uint64_t)(v % 10000) << 32;
    uint64_t y = (x * 10486 >> 20) & 0x0000007f0000007fULL;
    x = y | (x - y * 100) << 16;
    y = (x * 103 >> 10) & 0x000f000f000f000fULL;
    return y | (x - y * 10) << 8;
}

static inline void store8(char *p, uint64_t v) { memcpy(p, &v, 8); }

/* The plain layouts are written as whole 8-byte words straight into out,
 * overlapping where a '.' or the digits after it go: stores only, never a
 * read of bytes just written (a load spanning several recent stores waits
 * for them all, which cost a fifth of the time). Bytes past the text may
 * be written, but never past out + 18, inside up_json_elem_max(UP_F32).
 * (Building both layouts in one 128-bit word without a branch was tried:
 * the variable 128-bit shifts cost more than the mispredictions saved.) */
static size_t format_decimal32(int neg, decimal d, char *out)
{
    const uint64_t zeros = 0x3030303030303030ULL;
    uint32_t m = (uint32_t)d.m, hi = m / 100000000u;
    uint64_t x = eight_digits(m - hi * 100000000u), w0, w1;
    int k, tz = x ? __builtin_clzll(x) >> 3 : 8;
    if (hi) { /* nine digits: w0 the first eight, w1 the ninth and '0's */
        w0 = ('0' + hi) | (x | zeros) << 8;
        w1 = (x | zeros) >> 56 | zeros << 8;
        k = 9;
    } else {
        int lz = __builtin_ctzll(x) >> 3; /* x != 0: m >= 1 */
        w0 = x >> 8 * lz | zeros;
        w1 = zeros;
        k = 8 - lz;
    }
    k -= tz;
    int n = d.e + tz + k; /* value = 0.digits * 10^n */
    char *o = out + neg;
    out[0] = '-';
    if (0 < n && n < k) { /* n < k <= 9: the point inside the digits */
        unsigned __int128 all = (unsigned __int128)w1 << 64 | w0;
        store8(o, w0);
        o[n] = '.';
        store8(o + n + 1, (uint64_t)(all >> 8 * n));
        return (size_t)(neg + k + 1);
    }
    if (-6 < n && n <= 0) {
        store8(o, 0x3030303030302e30ULL); /* "0.000000" */
        store8(o + 2 - n, w0);
        if (k == 9) o[10 - n] = (char)w1;
        return (size_t)(neg + 2 - n + k);
    }
    return format_decimal(neg, d, out); /* it strips the zeros itself */
}

size_t up_fmt_f32(float f, char *out)
{
    uint32_t bits;
    decimal d;
    memcpy(&bits, &f, sizeof(bits));
    int neg = (int)(bits >> 31), ex = (int)(bits >> 23 & 0xff);
    uint32_t man = bits & 0x7fffff;
    float a = neg ? -f : f;
    if (ex == 0xff) return special(neg, man != 0, 0, out);
    if (ex == 0 && man == 0) return special(neg, 0, 1, out);
    /* whole numbers below 2^24 are their own shortest spelling (see the
     * reference printer above) and print faster as integers */
    if (ex != 0 && a < 16777216.0f && a == (float)(int32_t)a)
        return up_fmt_i64(neg ? -(int64_t)a : (int64_t)a, out);
    if (ex == 0) schubfach32(man, -149, 0, &d);
    else schubfach32(man | 0x800000u, ex - 150, man == 0 && ex > 1, &d);
    return format_decimal32(neg, d, out);
}

/* The 128-bit path on a float32, for the tests' cross-check of schubfach32. */
size_t up_fmt_f32_wide(float f, char *out)
{
    uint32_t bits;
    decimal d;
    memcpy(&bits, &f, sizeof(bits));
    int neg = (int)(bits >> 31), ex = (int)(bits >> 23 & 0xff);
    uint32_t man = bits & 0x7fffff;
    if (ex == 0xff) return special(neg, man != 0, 0, out);
    if (ex == 0 && man == 0) return special(neg, 0, 1, out);
    if (ex == 0) schubfach(man, -149, 0, &d);
    else schubfach(man | 0x800000u, ex - 150, man == 0 && ex > 1, &d);
    return format_decimal(neg, d, out);
}

size_t up_fmt_f64(double x, char *out)
{
    uint64_t bits;
    decimal d;
    memcpy(&bits, &x, sizeof(bits));
    int neg = (int)(bits >> 63), ex = (int)(bits >> 52 & 0x7ff);
    uint64_t man = bits & 0xfffffffffffffULL;
    double a = neg ? -x : x;
    if (ex == 0x7ff) return special(neg, man != 0, 0, out);
    if (ex == 0 && man == 0) return special(neg, 0, 1, out);
    if (a < 9007199254740992.0 && a == (double)(int64_t)a)
        return up_fmt_i64(neg ? -(int64_t)a : (int64_t)a, out);
    if (ex == 0) schubfach(man, -1074, 0, &d);
    else schubfach(man | (UINT64_C(1) << 52), ex - 1075, man == 0 && ex > 1, &d);
    return format_decimal(neg, d, out);
}
