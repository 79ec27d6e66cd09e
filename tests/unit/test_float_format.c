/* test_float_format.c -- the shortest round-trip printers of numfmt.c.
 *
 * For each printed value three things are checked against the C library
 * (printf's correctly rounded digits, strtof/strtod): the text reads back
 * to the same bits; no decimal with fewer significant digits reads back
 * (shortest); and when the correctly rounded decimal of that length reads
 * back, the text is that one (nearest). Values: edge cases, a few hundred
 * thousand random float32 and float64 bit patterns, and every float16 and
 * bfloat16 pattern. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/numfmt.h"
#include "tests/support/harness.h"

static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void) { return th_xorshift(&rng_state); }

static float f32_of(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof(f));
    return f;
}
static uint32_t bits_of_f32(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof(b));
    return b;
}
static uint64_t bits_of_f64(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

/* Significant digits of a decimal text ("-1.25e-7" -> 3, "1200" -> 2) and
 * its normalised (m, e) with m free of trailing zeros. */
typedef struct dec {
    uint64_t m;
    int e, k;
} dec;

static int parse_dec(const char *s, dec *d)
{
    uint64_t m = 0;
    int e = 0, frac = 0, point = 0, any = 0, zeros = 0;
    if (*s == '-') s++;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s == '.') {
            point = 1;
            continue;
        }
        if (*s < '0' || *s > '9') return -1;
        frac += point;
        any = 1;
        if (*s == '0') { /* held back: only significant if a digit follows */
            zeros++;
            continue;
        }
        for (; zeros; zeros--) {
            if (m > UINT64_MAX / 10) return -1;
            m *= 10;
        }
        if (m > UINT64_MAX / 10) return -1;
        m = m * 10 + (uint64_t)(*s - '0');
    }
    if (!any) return -1;
    if (*s) e = atoi(s + 1);
    e += zeros - frac; /* value = m * 10^zeros * 10^(e - frac) */
    if (m == 0) {
        d->m = 0, d->e = 0, d->k = 1;
        return 0;
    }
    int k = 0;
    for (uint64_t t = m; t; t /= 10) k++;
    d->m = m, d->e = e, d->k = k;
    return 0;
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_json_number(const char *s)
{
    if (*s == '-') s++;
    if (*s == '0') s++;
    else if (*s >= '1' && *s <= '9') while (*s >= '0' && *s <= '9') s++;
    else return 0;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!(*s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    return *s == '\0';
}

typedef int (*reads_fn)(const char *text, const void *want);

static int reads_f32(const char *text, const void *want)
{
    return bits_of_f32(strtof(text, NULL)) == bits_of_f32(*(const float *)want);
}
static int reads_f64(const char *text, const void *want)
{
    return bits_of_f64(strtod(text, NULL)) == bits_of_f64(*(const double *)want);
}

/* The reference: the smallest p whose correctly rounded p-digit decimal,
 * or one of its two neighbours in the last digit, reads back. *nearest_ok
 * tells whether the rounded one itself did, and *ref is it. */
static int ref_shortest(double v, int maxp, reads_fn reads, const void *want, dec *ref,
                        int *nearest_ok)
{
    char buf[64];
    for (int p = 1; p <= maxp; p++) {
        dec d;
        snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
        parse_dec(buf, &d);
        uint64_t m0;
        int e0;
        {
            /* undo normalisation so neighbours are in the last printed digit */
            const char *q = buf;
            uint64_t m = 0;
            int frac = 0, point = 0;
            if (*q == '-') q++;
            for (; *q != 'e'; q++) {
                if (*q == '.') {
                    point = 1;
                    continue;
                }
                m = m * 10 + (uint64_t)(*q - '0');
                frac += point;
            }
            m0 = m;
            e0 = atoi(q + 1) - frac;
        }
        if (reads(buf, want)) {
            *ref = d;
            *nearest_ok = 1;
            return p;
        }
        for (int delta = -1; delta <= 1; delta += 2) {
            char nb[64];
            snprintf(nb, sizeof(nb), "%s%llue%d", v < 0 ? "-" : "",
                     (unsigned long long)(m0 + (uint64_t)(int64_t)delta), e0);
            if (reads(nb, want)) {
                *nearest_ok = 0;
                return p;
            }
        }
    }
    return -1;
}

static int check_one(const char *what, double v, const char *text, int maxp, reads_fn reads,
                     const void *want)
{
    dec got, ref;
    int nearest_ok = 0, p;
    if (!is_json_number(text)) {
        printf("    %s %.17g: \"%s\" is not a JSON number\n", what, v, text);
        return 0;
    }
    if (!reads(text, want)) {
        printf("    %s %.17g: \"%s\" does not read back\n", what, v, text);
        return 0;
    }
    parse_dec(text, &got);
    p = ref_shortest(v, maxp, reads, want, &ref, &nearest_ok);
    if (p < 0 || got.k != p) {
        printf("    %s %.17g: \"%s\" has %d digits, shortest is %d\n", what, v, text, got.k, p);
        return 0;
    }
    if (nearest_ok && (got.m != ref.m || got.e != ref.e)) {
        printf("    %s %.17g: \"%s\" is not the nearest %d-digit decimal (%llue%d)\n", what, v,
               text, p, (unsigned long long)ref.m, ref.e);
        return 0;
    }
    return 1;
}

static int check_f32(float f)
{
    char out[UP_NUMFMT_MAX + 1];
    size_t n = up_fmt_f32(f, out);
    out[n] = '\0';
    if (n >= UP_NUMFMT_MAX) return 0;
    return check_one("float32", f, out, 9, reads_f32, &f);
}

static int check_f64(double d)
{
    char out[UP_NUMFMT_MAX + 1];
    size_t n = up_fmt_f64(d, out);
    out[n] = '\0';
    if (n >= UP_NUMFMT_MAX) return 0;
    return check_one("float64", d, out, 17, reads_f64, &d);
}

static const char *fmt32(float f)
{
    static char out[UP_NUMFMT_MAX + 1];
    out[up_fmt_f32(f, out)] = '\0';
    return out;
}

static void test_f32_spellings(void)
{
    struct {
        float f;
        const char *want;
    } cases[] = {
        {0.0f, "0"},
        {-0.0f, "-0.0"},
        {1.0f, "1"},
        {4.0f, "4"},
        {-2.5f, "-2.5"},
        {0.1f, "0.1"},
        {1.0f / 3.0f, "0.33333334"},
        {100.0f, "100"},
        {123456789.0f, "123456790"},
        {1e-7f, "1e-7"},
        {1e-6f, "0.000001"},
        {1.5e-6f, "0.0000015"},
        {1e21f, "1e+21"},
        {1e20f, "100000000000000000000"},
        {FLT_MAX, "3.4028235e+38"},
        {-FLT_MAX, "-3.4028235e+38"},
        {FLT_MIN, "1.1754944e-38"},
        {1.4e-45f, "1e-45"},
        {16777216.0f, "16777216"},
        {0.3f, "0.3"},
        {2.0e-3f, "0.002"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = fmt32(cases[i].f);
        CHECKF(strcmp(got, cases[i].want) == 0, "%.9g: got \"%s\", want \"%s\"",
               (double)cases[i].f, got, cases[i].want);
    }
    CHECK(strcmp(fmt32(NAN), "\"NaN\"") == 0);
    CHECK(strcmp(fmt32(-NAN), "\"NaN\"") == 0);
    CHECK(strcmp(fmt32(INFINITY), "\"Infinity\"") == 0);
    CHECK(strcmp(fmt32(-INFINITY), "\"-Infinity\"") == 0);
}

static void test_f32_edges(void)
{
    float edges[] = {FLT_MAX, FLT_MIN, FLT_TRUE_MIN, nextafterf(FLT_MIN, 0),
                     nextafterf(FLT_MAX, 0), 0.1f, 0.2f, 0.7f, 1e-45f, 3e-45f,
                     1.17549421e-38f, 9.999999e-39f, 1e38f, 65504.0f, 1e10f};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        CHECK(check_f32(edges[i]));
        CHECK(check_f32(-edges[i]));
    }
    /* every power of two (lopsided intervals) and its neighbours */
    for (int e = -149; e <= 127; e++) {
        float p = ldexpf(1.0f, e);
        CHECK(check_f32(p));
        CHECK(check_f32(nextafterf(p, INFINITY)));
        if (e > -149) CHECK(check_f32(nextafterf(p, 0)));
    }
    /* around every power of ten, where two digit grids meet */
    for (int j = -45; j <= 38; j++) {
        float t;
        char buf[16];
        snprintf(buf, sizeof(buf), "1e%d", j);
        t = strtof(buf, NULL);
        float u = t, d = t;
        for (int k = 0; k < 4; k++) {
            CHECK(check_f32(u));
            CHECK(check_f32(d));
            u = nextafterf(u, INFINITY);
            d = nextafterf(d, 0);
        }
    }
    /* the first 20000 float32 denormals */
    for (uint32_t b = 1; b < 20000; b++) CHECK(check_f32(f32_of(b)));
    /* integers and decimals people type */
    for (int i = -2000; i <= 2000; i++) {
        CHECK(check_f32((float)i));
        CHECK(check_f32((float)i / 100.0f));
        CHECK(check_f32((float)i * 1e-5f));
    }
}

static void test_f32_random(void)
{
    int bad = 0;
    for (int i = 0; i < 300000; i++) {
        uint32_t b = (uint32_t)rng();
        float f = f32_of(b);
        if (isnan(f) || isinf(f)) continue;
        if (!check_f32(f) && ++bad > 10) break;
    }
    /* values of ordinary magnitude, where kernels' outputs live */
    for (int i = 0; i < 100000; i++) {
        float f = (float)((double)(int64_t)rng() / 9.2e18 * 1000.0);
        if (!check_f32(f) && ++bad > 10) break;
    }
    CHECK(bad == 0);
}

static void test_f64(void)
{
    double edges[] = {0.1, 0.2, 0.3, 1.0 / 3.0, DBL_MAX, DBL_MIN, 4.9e-324, 2.2250738585072009e-308,
                      1e21, 1e-7, 123456789012345678.0, 9007199254740993.0, 5e-324, 1.7976931348623157e308};
    int bad = 0;
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        CHECK(check_f64(edges[i]));
        CHECK(check_f64(-edges[i]));
    }
    for (int e = -1074; e <= 1023; e += 7) CHECK(check_f64(ldexp(1.0, e)));
    for (int i = 0; i < 20000; i++) {
        uint64_t b = rng();
        double d;
        memcpy(&d, &b, sizeof(d));
        if (isnan(d) || isinf(d)) continue;
        if (!check_f64(d) && ++bad > 10) break;
    }
    CHECK(bad == 0);
    char out[UP_NUMFMT_MAX + 1];
    out[up_fmt_f64(0.1, out)] = '\0';
    CHECK(strcmp(out, "0.1") == 0);
    out[up_fmt_f64(-0.0, out)] = '\0';
    CHECK(strcmp(out, "-0.0") == 0);
    out[up_fmt_f64(-INFINITY, out)] = '\0';
    CHECK(strcmp(out, "\"-Infinity\"") == 0);
}

/* ---- half types: an independent decoder and a double -> half rounding,
 * written here from the formats' definitions. ---- */

static double half_value(uint16_t b, int is_bf16)
{
    int neg = b >> 15;
    int mbits = is_bf16 ? 7 : 10, ebits = is_bf16 ? 8 : 5, bias = is_bf16 ? 127 : 15;
    int ex = (b >> mbits) & ((1 << ebits) - 1);
    int man = b & ((1 << mbits) - 1);
    double v;
    if (ex == (1 << ebits) - 1) return man ? NAN : (neg ? -INFINITY : INFINITY);
    if (ex == 0) v = ldexp(man, 1 - bias - mbits);
    else v = ldexp(man + (1 << mbits), ex - bias - mbits);
    return neg ? -v : v;
}

/* Round x to the nearest value of the half type (ties to even), by
 * searching the neighbouring patterns: slow, obviously right. */
static uint16_t round_to_half(double x, int is_bf16)
{
    uint16_t sign = x < 0 ? 0x8000 : 0;
    double ax = fabs(x);
    uint16_t maxfin = is_bf16 ? 0x7f7f : 0x7bff, inf = is_bf16 ? 0x7f80 : 0x7c00;
    uint16_t lo = 0, hi = maxfin;
    if (ax >= half_value(maxfin, is_bf16)) {
        double top = half_value(maxfin, is_bf16);
        double ulp = top - half_value(maxfin - 1, is_bf16);
        /* at or past max + ulp/2 overflows (the tie goes to the even inf) */
        return sign | (ax >= top + ulp / 2 ? inf : maxfin);
    }
    while (hi - lo > 1) { /* largest pattern with value <= ax */
        uint16_t mid = (uint16_t)((lo + hi) / 2);
        if (half_value(mid, is_bf16) <= ax) lo = mid;
        else hi = mid;
    }
    double a = half_value(lo, is_bf16), b = half_value(hi, is_bf16);
    uint16_t pick;
    if (half_value(hi, is_bf16) <= ax) pick = hi;
    else if (ax - a < b - ax) pick = lo;
    else if (ax - a > b - ax) pick = hi;
    else pick = (lo & 1) ? hi : lo;
    return sign | pick;
}

static int reads_half_common(const char *text, uint16_t want, int is_bf16)
{
    double x = strtod(text, NULL);
    float xf = strtof(text, NULL);
    /* read to double and to float32 first: both must land on the value */
    return round_to_half(x, is_bf16) == want && round_to_half((double)xf, is_bf16) == want;
}
static int reads_f16(const char *text, const void *want)
{
    return reads_half_common(text, *(const uint16_t *)want, 0);
}
static int reads_bf16(const char *text, const void *want)
{
    return reads_half_common(text, *(const uint16_t *)want, 1);
}

static void check_all_halves(int is_bf16)
{
    int bad = 0;
    for (uint32_t b = 0; b < 0x10000; b++) {
        uint16_t h = (uint16_t)b;
        char out[UP_NUMFMT_MAX + 1];
        size_t n = is_bf16 ? up_fmt_bf16(h, out) : up_fmt_f16(h, out);
        double v = half_value(h, is_bf16);
        out[n] = '\0';
        if (isnan(v)) {
            bad += strcmp(out, "\"NaN\"") != 0;
            continue;
        }
        if (isinf(v)) {
            bad += strcmp(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"") != 0;
            continue;
        }
        if (v == 0) {
            bad += strcmp(out, (h & 0x8000) ? "-0.0" : "0") != 0;
            continue;
        }
        if (!is_json_number(out) || !(is_bf16 ? reads_bf16 : reads_f16)(out, &h)) {
            if (bad++ < 5) printf("    %s 0x%04x (%.9g): \"%s\" does not read back\n",
                                  is_bf16 ? "bfloat16" : "float16", (unsigned)b, v, out);
            continue;
        }
        if (!check_one(is_bf16 ? "bfloat16" : "float16", v, out, 9,
                       is_bf16 ? reads_bf16 : reads_f16, &h) && bad++ > 5)
            break;
    }
    CHECKF(bad == 0, "%d bad patterns", bad);
}


/* ---- Schubfach against the printf search ---------------------------------
 * up_fmt_f32/up_fmt_f64 compute the shortest decimal directly (Schubfach);
 * up_fmt_*_ref is the printf/strtod search they replaced. The bytes must be
 * identical: every float32 subnormal, every float32 and float64 binade's
 * first and last significands (the lopsided intervals and the ends of the
 * exponent range), a million random float32 and 300000 random float64
 * patterns (the float64 reference is slow). */
static int same_f32(uint32_t b)
{
    char a[UP_NUMFMT_MAX], r[UP_NUMFMT_MAX];
    size_t na = up_fmt_f32(f32_of(b), a), nr = up_fmt_f32_ref(f32_of(b), r);
    if (na == nr && !memcmp(a, r, na)) return 1;
    printf("    f32 0x%08x: \"%.*s\" ref \"%.*s\"\n", (unsigned)b, (int)na, a, (int)nr, r);
    return 0;
}

static int same_f64(uint64_t b)
{
    char a[UP_NUMFMT_MAX], r[UP_NUMFMT_MAX];
    double d;
    memcpy(&d, &b, sizeof(d));
    size_t na = up_fmt_f64(d, a), nr = up_fmt_f64_ref(d, r);
    if (na == nr && !memcmp(a, r, na)) return 1;
    printf("    f64 0x%016llx: \"%.*s\" ref \"%.*s\"\n", (unsigned long long)b, (int)na, a, (int)nr,
           r);
    return 0;
}

static void test_f32_schubfach_vs_ref(void)
{
    int bad = 0;
    for (uint32_t b = 1; b < 0x800000u && bad < 5; b++) bad += !same_f32(b);
    for (uint32_t e = 1; e < 0xff && bad < 5; e++)
        for (uint32_t k = 0; k < 64; k++) {
            bad += !same_f32(e << 23 | k);
            bad += !same_f32(e << 23 | (0x7fffffu - k));
            bad += !same_f32(0x80000000u | e << 23 | k);
        }
    for (int i = 0; i < 1000000 && bad < 5; i++) bad += !same_f32((uint32_t)rng());
    CHECK(bad == 0);
}

/* up_fmt_f32 runs Schubfach with 64-bit products and writes the digits
 * eight at a time; the 128-bit float64 path on the same float32
 * (up_fmt_f32_wide) must give the same bytes. Every 61st pattern over all
 * finite floats of both signs (about 70 million values: every exponent,
 * every digit count and layout), and every pattern whose shortest decimal
 * has nine digits and a leading 1 or 2 near the top of a decade. */
static int same_f32_wide(uint32_t b)
{
    char a[UP_NUMFMT_MAX], r[UP_NUMFMT_MAX];
    size_t na = up_fmt_f32(f32_of(b), a), nr = up_fmt_f32_wide(f32_of(b), r);
    if (na == nr && !memcmp(a, r, na)) return 1;
    printf("    f32 0x%08x: \"%.*s\" wide \"%.*s\"\n", (unsigned)b, (int)na, a, (int)nr, r);
    return 0;
}

static void test_f32_narrow_vs_wide(void)
{
    int bad = 0;
    for (uint64_t b = 1; b < 0xff800000u && bad < 5; b += 61)
        if ((b & 0x7f800000u) != 0x7f800000u) bad += !same_f32_wide((uint32_t)b);
    /* [1e8, 1.7e8) and [1, 1.7): nine-digit significands, hi digit 1 */
    for (uint32_t b = 0x4cbebc20u; b < 0x4d222222u && bad < 5; b += 3) bad += !same_f32_wide(b);
    for (uint32_t b = 0x3f800000u; b < 0x3fd9999au && bad < 5; b += 7) bad += !same_f32_wide(b);
    CHECK(bad == 0);
}

static void test_f64_schubfach_vs_ref(void)
{
    int bad = 0;
    for (uint64_t e = 0; e < 0x7ff && bad < 5; e++)
        for (uint64_t k = 0; k < 16; k++) {
            bad += !same_f64(e << 52 | k);
            bad += !same_f64(e << 52 | ((UINT64_C(1) << 52) - 1 - k));
        }
    for (int i = 0; i < 300000 && bad < 5; i++) {
        uint64_t b = rng();
        bad += !same_f64(i % 8 ? b : b & ((UINT64_C(1) << 52) - 1)); /* every 8th subnormal */
    }
    CHECK(bad == 0);
}

static void test_f16_all(void) { check_all_halves(0); }
static void test_bf16_all(void) { check_all_halves(1); }

static void test_half_spellings(void)
{
    char out[UP_NUMFMT_MAX + 1];
    out[up_fmt_f16(0x3c00, out)] = '\0'; /* 1.0 */
    CHECK(strcmp(out, "1") == 0);
    out[up_fmt_f16(0x2e66, out)] = '\0'; /* float16(0.1) */
    CHECK(strcmp(out, "0.1") == 0);
    out[up_fmt_f16(0x7bff, out)] = '\0'; /* 65504, and 65500 reads back to it */
    CHECK(strcmp(out, "65500") == 0);
    out[up_fmt_f16(0x0001, out)] = '\0'; /* 2^-24 */
    CHECK(strcmp(out, "6e-8") == 0);
    out[up_fmt_bf16(0x3dcd, out)] = '\0'; /* bfloat16(0.1) */
    CHECK(strcmp(out, "0.1") == 0);
    out[up_fmt_bf16(0x4049, out)] = '\0'; /* bfloat16(3.14159) = 3.140625 */
    CHECK(strcmp(out, "3.14") == 0);
}

static void test_integers(void)
{
    char out[UP_NUMFMT_MAX + 1];
    out[up_fmt_i64(0, out)] = '\0';
    CHECK(strcmp(out, "0") == 0);
    out[up_fmt_i64(-1, out)] = '\0';
    CHECK(strcmp(out, "-1") == 0);
    out[up_fmt_i64(INT64_MAX, out)] = '\0';
    CHECK(strcmp(out, "9223372036854775807") == 0);
    out[up_fmt_i64(INT64_MIN, out)] = '\0';
    CHECK(strcmp(out, "-9223372036854775808") == 0);
    out[up_fmt_u64(UINT64_MAX, out)] = '\0';
    CHECK(strcmp(out, "18446744073709551615") == 0);
}

int main(void)
{
    RUN(test_f32_spellings);
    RUN(test_f32_edges);
    RUN(test_f32_random);
    RUN(test_f64);
    RUN(test_f32_schubfach_vs_ref);
    RUN(test_f32_narrow_vs_wide);
    RUN(test_f64_schubfach_vs_ref);
    RUN(test_half_spellings);
    RUN(test_f16_all);
    RUN(test_bf16_all);
    RUN(test_integers);
    return th_summary();
}
