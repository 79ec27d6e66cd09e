/* json_parse.c -- JSON text into cJSON trees, by hand, with number arrays
 * kept as text.
 *
 * cJSON's own parser is correct but slow exactly where requests are heavy:
 * for every number it tries "null", "false" and "true" with strncmp,
 * copies the digits, asks localeconv() for the decimal point and calls
 * strtod. This parser builds the same trees (the same node types and
 * child/next/prev links, nodes from cJSON_malloc so cJSON_Delete and the
 * JSON arena work unchanged) and reads numbers itself: the decimal digits
 * accumulate in an integer m, and when there are at most 19 of them,
 * m <= 2^53 and the decimal exponent e is within +-22, the double is
 * m * 10^e or m / 10^e: one correctly rounded operation on two exact values
 * (Clinger's fast path), so the result is the one strtod gives. Longer
 * mantissas with exponents up to +-308 (float64 text has 16-17 digits)
 * take Eisel-Lemire (numparse.c), also exactly strtod's result; the rare
 * rest (over 19 digits, subnormals, a product too close to call) goes to
 * strtod. Digits are taken up to 8 per load (digits_swar).
 *
 * Spans (UP_JSON_SPANS, what request decoders use). A tensor sent as JSON
 * lists is millions of numbers; as cJSON nodes that is 64 bytes and more
 * per number, ~34x the body, before any check could refuse it. So a
 * non-empty array with no object inside (numbers, strings, literals and
 * such arrays, nested) is validated in place and becomes ONE node that
 * records its byte range, its scalar count, its nesting and whether it is
 * a regular tensor of which shape (up_json_list); the decoder converts the
 * bytes straight into the typed tensor once dtype and shape are known
 * (up_json_list_walk), with the same number reader. No memory per number.
 * When an object turns up inside an array being read as a span, the array
 * becomes a plain node after all: the elements before it are read again as
 * nodes (nested arrays among them again as spans), so every byte is read
 * at most twice, whatever the nesting.
 *
 * Lazy spans (UP_JSON_LAZY, the v1 decoder's). Checking a long span's
 * numbers here and reading them again to convert them walked its bytes
 * twice (the check was a third of decoding a list body). With LAZY, once a
 * span is past the numbers it keeps, runs of numbers and commas are passed
 * over (run_end: 16 bytes a step, counting commas) and the span is marked
 * unchecked; its numbers are read once, checked as they are converted into
 * the tensor (up_json_list_floats), and whatever no conversion read is
 * read strictly by up_json_check_spans, which the decoder runs whatever
 * happened. The strict parse's fault stays the document's error, at the
 * same byte: a fault in a run comes before anything after it, so a lazy
 * parse that fails is checked again without nodes (check_value) for an
 * earlier fault, and check_spans' fault replaces any error the decoder
 * found. Passing over a run never changes where the parse goes on from, so
 * the tree of a valid document is the one a strict parse builds. The cost:
 * a document with a fault in a run is parsed (and charged) to its end, as
 * a valid one of its size would be, before the fault is found.
 *
 * Strict (UP_JSON_STRICT): a string or key holding \u0000 is a fault (C
 * strings would cut it short: "x\u0000junk" would be read as "x"), and so
 * is a key repeated in one object (cJSON keeps both and lookups take one
 * silently). Repeats are checked when an object closes: pairwise up to 8
 * keys, by sorting the keys beyond that (n log n, no hash to flood). The
 * fault names the key and its path ("params.kernel_size").
 *
 * The grammar is RFC 8259's, strictly: no leading zeros or bare '.', no
 * raw control characters in strings, lone surrogates (escaped or as UTF-8)
 * and ill-formed UTF-8 rejected (in spans too: a span's strings are checked
 * as a node's would be), nesting at most max_depth (counted while parsing,
 * so the stack is bounded and a hostile "[[[[..." costs at most max_depth
 * frames). One extension: the bare words NaN, Infinity and -Infinity that
 * Python's json writes are numbers, in spans as anywhere else (the number
 * reader takes them, so span checks, walks and conversions all agree). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "codecs.h"
#include "json_arena.h"
#include "numparse.h"

#define SPAN_MAGIC 0x5350414e /* "SPAN" in valueint: a span node */
#define SMALL_OBJECT 8       /* up to this many keys, repeats are checked pairwise */
#define LEAF_STRING 64       /* a walked string leaf is cut to fit this (with its NUL) */
#define SPAN_VALUES 64       /* a span of at most this many numbers keeps them parsed */
#define CHECK_ONLY 0x100     /* private flag: objects in arrays are checked, not built */

typedef struct jp {
    const char *p, *end, *base;
    int depth, max_depth, flags;
    up_json_fault *f;
    /* The numbers of the span being read, while they are few and all
     * numbers: a small span (a shape, a small request's data) then keeps
     * them, so they are not read twice. */
    int nvals, vals_ok;
    double vals[SPAN_VALUES];
    int64_t deferred; /* LAZY: runs of numbers passed over unchecked */
} jp;

/* A span: a cJSON node (type cJSON_Raw, no child, no valuestring, so
 * cJSON_Delete frees it as one block with its key), its list, and for a
 * small all-number span its values. */
typedef struct span_node {
    cJSON node;
    up_json_list list;
    double values[];
} span_node;

static cJSON *parse_value(jp *j);
static int check_value(jp *j);

static void skip_ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

/* ---- faults --------------------------------------------------------------- */

/* Record the first fault; NULL so callers can return it. Syntax faults are
 * not recorded on the way: a NULL with no fault is one, at j->p. */
static void *fault(jp *j, int kind, const char *at)
{
    if (j->f->kind == UP_JSON_OK) {
        j->f->kind = kind;
        j->f->at = (size_t)(at - j->base);
    }
    return NULL;
}

static int named_fault(const jp *j)
{
    int k = j->f->kind;
    return k == UP_JSON_NUL_KEY || k == UP_JSON_NUL_STRING || k == UP_JSON_DUP_KEY;
}

/* The key or string [s, s+n) as written, cut at a UTF-8 boundary. */
static void fault_text(jp *j, const char *s, size_t n)
{
    char *t = j->f->text;
    size_t cap = sizeof(j->f->text) - 4, k = n;
    if (k > cap) {
        k = cap;
        while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80) k--;
    }
    memcpy(t, s, k);
    memcpy(t + k, k < n ? "..." : "", k < n ? 4 : 1);
}

/* While unwinding from a named fault, put seg (a key, or "[i]") in front
 * of its path. */
static void path_prepend(jp *j, const char *seg)
{
    char *path = j->f->path, tmp[UP_ERR_FIELD_LEN];
    size_t cap = sizeof(tmp) - 1, n = 0, k;
    if (!named_fault(j)) return;
    for (k = 0; seg[k] && n < cap; k++) tmp[n++] = seg[k];
    if (path[0] && path[0] != '[' && n < cap) tmp[n++] = '.';
    for (k = 0; path[k] && n < cap; k++) tmp[n++] = path[k];
    tmp[n] = '\0';
    memcpy(path, tmp, n + 1);
}

static void path_prepend_index(jp *j, int64_t i)
{
    char seg[32];
    if (!named_fault(j)) return;
    snprintf(seg, sizeof(seg), "[%lld]", (long long)i);
    path_prepend(j, seg);
}

/* ---- nodes ----------------------------------------------------------------- */

static void *jalloc(jp *j, size_t n)
{
    void *p = cJSON_malloc(n);
    if (!p) fault(j, UP_JSON_NOMEM, j->p);
    return p;
}

static cJSON *new_item(jp *j, int type)
{
    cJSON *it = jalloc(j, sizeof(cJSON));
    if (it) {
        memset(it, 0, sizeof(*it));
        it->type = type;
    }
    return it;
}

/* Append v to parent's children (cJSON keeps the last child in
 * child->prev for its own appends). */
static void link_child(cJSON *parent, cJSON **tail, cJSON *v)
{
    if (*tail) {
        (*tail)->next = v;
        v->prev = *tail;
    } else {
        parent->child = v;
    }
    parent->child->prev = v;
    *tail = v;
}

/* cJSON's valueint: the double saturated to int (NaN: 0) */
static int saturate_int(double d)
{
    if (d != d) return 0;
    return d >= 2147483647.0 ? 2147483647 : d <= -2147483648.0 ? (-2147483647 - 1) : (int)d;
}

/* ---- numbers ------------------------------------------------------------ */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* The text [start, end) is a valid JSON number: strtod on a NUL-terminated
 * copy (the daemon never calls setlocale, so '.' is the decimal point). */
static int slow_number(const char *start, const char *end, double *out)
{
    char small[64], *buf = small;
    size_t len = (size_t)(end - start);
    if (len >= sizeof(small) && !(buf = malloc(len + 1))) return -1;
    memcpy(buf, start, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL);
    if (buf != small) free(buf);
    return 0;
}

/* The one extension to RFC 8259: NaN, Infinity and -Infinity as bare
 * words, as Python's json module (and so tritonclient's JSON mode) writes
 * them. p is past the optional '-' (neg); 1 and *pp past the word when one
 * is there, else 0. Every other bare word stays a syntax error. */
static int number_word(const char **pp, const char *p, const char *e, int neg, double *out)
{
    if (!neg && e - p >= 3 && !memcmp(p, "NaN", 3)) {
        *out = NAN;
        *pp = p + 3;
        return 1;
    }
    if (e - p >= 8 && !memcmp(p, "Infinity", 8)) {
        *out = neg ? -INFINITY : INFINITY;
        *pp = p + 8;
        return 1;
    }
    return 0;
}

static const uint64_t pow10_int[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                       100000000};

/* The digits at p into *m (and *exp10 down by one each, for fraction
 * digits), 8 bytes per load, while they fit the 19 digits m holds; returns
 * where the digit-by-digit loop goes on. A run shorter than 8 is taken in
 * the same load: its bytes are shifted to the top and '0's fill in below,
 * so the branch is on "8 or fewer", not on every digit, and numbers of
 * varied lengths cost no mispredicted loop exit. */
#define INLINE static inline __attribute__((always_inline))

INLINE const char *digits_swar(const char *p, const char *e, uint64_t *m, int *digits, int *exp10)
{
    while (e - p >= 8 && *digits <= 11) {
        uint64_t v;
        memcpy(&v, p, 8);
        int n = up_leading_digits(v);
        if (n == 0) break;
        if (n < 8) v = v << (8 * (8 - n)) | 0x3030303030303030ULL >> (8 * n);
        *m = *m * pow10_int[n] + (uint64_t)up_eight_digits(v);
        *digits += n;
        if (exp10) *exp10 -= n;
        p += n;
        if (n < 8) break;
    }
    return p;
}

/* The number at *pp into *out; *pp ends past it, or at the fault (-1).
 * The digits (19 at most, the rest only counted) make m * 10^exp10:
 * Clinger's exact fast path when both fit a double, else Eisel-Lemire
 * (numparse.c), else (more than 19 digits, subnormal results, a product
 * too close to call) strtod. */
INLINE int number_at(const char **pp, const char *e, double *out)
{
    const char *p = *pp, *start = p;
    uint64_t m = 0;
    int digits = 0, exp10 = 0, inexact = 0, neg = p < e && *p == '-';
    p += neg; /* no branch: signs of random data do not predict */
    if (p < e && (*p == 'N' || *p == 'I') && number_word(pp, p, e, neg, out)) return 0;
    if (p >= e || !is_digit(*p)) goto bad;
    if (*p == '0') {
        p++;
    } else {
        p = digits_swar(p, e, &m, &digits, NULL);
        for (; p < e && is_digit(*p); p++) {
            if (digits < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                digits++;
            } else {
                inexact = 1;
                exp10++;
            }
        }
    }
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_digit(*p)) goto bad;
        if (m != 0 || *p != '0') p = digits_swar(p, e, &m, &digits, &exp10);
        for (; p < e && is_digit(*p); p++) {
            if (m == 0 && *p == '0') { /* leading zeros of 0.000x cost no digit */
                exp10--;
            } else if (digits < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                digits++;
                exp10--;
            } else {
                inexact = 1;
            }
        }
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        int eneg = 0, ev = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= e || !is_digit(*p)) goto bad;
        for (; p < e && is_digit(*p); p++)
            if (ev < 100000) ev = ev * 10 + (*p - '0');
        exp10 += eneg ? -ev : ev;
    }
    *pp = p;
    if (!inexact && m == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (!inexact && m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)m;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        *out = neg ? -d : d;
        return 0;
    }
    if (!inexact && up_decimal_to_double(m, exp10, out) == 0) {
        if (neg) *out = -*out;
        return 0;
    }
    return slow_number(start, p, out);
bad:
    *pp = p;
    return -1;
}

static int read_number(const char **pp, const char *e, double *out)
{
    return number_at(pp, e, out);
}

INLINE const char *skip_digits(const char *p, const char *e)
{
    while (e - p >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        int n = up_leading_digits(v);
        p += n;
        if (n < 8) return p;
    }
    while (p < e && is_digit(*p)) p++;
    return p;
}

/* The same grammar without the value: a span's numbers are read once
 * here to check them and once more when converted. */
static int scan_number(jp *j)
{
    const char *p = j->p, *e = j->end;
    double w;
    int neg = p < e && *p == '-';
    p += neg;
    if (p < e && (*p == 'N' || *p == 'I') && number_word(&j->p, p, e, neg, &w)) return 0;
    if (p >= e || !is_digit(*p)) goto bad;
    if (*p == '0') p++;
    else p = skip_digits(p, e);
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_digit(*p)) goto bad;
        p = skip_digits(p, e);
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || !is_digit(*p)) goto bad;
        while (p < e && is_digit(*p)) p++;
    }
    j->p = p;
    return 0;
bad:
    j->p = p;
    return -1;
}

/* ---- runs of numbers, passed over (UP_JSON_LAZY) ------------------------- */

/* The bytes a run of numbers and commas is made of: digits, + , - . e E.
 * Every byte the number grammar can take, bar the letters of NaN and
 * Infinity, is one of them. */
static const unsigned char in_run[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['+'] = 1, [','] = 1, ['-'] = 1, ['.'] = 1, ['e'] = 1, ['E'] = 1};

static int popcount16(unsigned x)
{
    x = x - ((x >> 1) & 0x5555);
    x = (x & 0x3333) + ((x >> 2) & 0x3333);
    x = (x + (x >> 4)) & 0x0f0f;
    return (int)((x + (x >> 8)) & 0x1f);
}

/* The first byte at or after p that is not in_run, counting the commas
 * before it into *commas: 16 bytes a step where SSE2 is (every x86-64).
 * The set is the bytes 0x2b..0x39 but '/', and 'e' either case. */
static const char *run_end(const char *p, const char *e, int64_t *commas)
{
#ifdef __SSE2__
    const __m128i below = _mm_set1_epi8(0x2a), above = _mm_set1_epi8(0x3a);
    const __m128i slash = _mm_set1_epi8('/'), comma = _mm_set1_epi8(','), ee = _mm_set1_epi8('e');
    const __m128i lower = _mm_set1_epi8(0x20);
    while (e - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed compares: bytes from 0x80 are negative, so not in range */
        __m128i range = _mm_and_si128(_mm_cmpgt_epi8(v, below), _mm_cmplt_epi8(v, above));
        __m128i in = _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, slash), range),
                                  _mm_cmpeq_epi8(_mm_or_si128(v, lower), ee));
        unsigned out = ~(unsigned)_mm_movemask_epi8(in) & 0xffff;
        unsigned c = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma));
        if (out) {
            int k = __builtin_ctz(out);
            *commas += popcount16(c & ((1u << k) - 1));
            return p + k;
        }
        *commas += popcount16(c);
        p += 16;
    }
#endif
    for (; p < e && in_run[(unsigned char)*p]; p++) *commas += *p == ',';
    return p;
}

/* LAZY: the rest of a run of numbers at j->p, passed over without reading
 * them: the caller's loop goes on from j->p exactly where it would have
 * had every number been valid, and *more numbers follow the first. The
 * run stops before a byte that is no part of one, and before a trailing
 * comma (the loop decides what follows it). A word (NaN, Infinity) cuts
 * the run at the comma before it, so the word is read, not passed over.
 * 0 when there is no run here: the caller reads one number. */
static int pass_run(jp *j, int64_t *more)
{
    const char *p = j->p;
    int64_t commas = 0;
    const char *q = run_end(p, j->end, &commas);
    if (q < j->end && (*q == 'N' || *q == 'I'))
        while (q > p && q[-1] != ',') q--;
    if (q > p && q[-1] == ',') {
        q--;
        commas--;
    }
    if (q == p) return 0;
    j->p = q;
    *more = commas;
    j->deferred++;
    return 1;
}

/* ---- strings ------------------------------------------------------------ */

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One escape at p (just after the backslash) into o; returns the bytes
 * written and advances *pp past it, or -1 (with *pp at the fault). */
static int unescape(const char **pp, const char *e, char *o)
{
    const char *p = *pp;
    unsigned cp, lo;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *k = memchr(from, *p, sizeof(from) - 1);
    if (k) {
        *o = to[k - from];
        *pp = p + 1;
        return 1;
    }
    if (*p != 'u' || e - p < 5 || hex4(p + 1, &cp) < 0) return -1;
    p += 5;
    if (cp >= 0xdc00 && cp <= 0xdfff) return -1; /* a low surrogate first */
    if (cp >= 0xd800 && cp <= 0xdbff) {          /* needs its low half */
        if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 || lo < 0xdc00 ||
            lo > 0xdfff)
            return -1;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    }
    *pp = p;
    return (int)put_utf8(o, cp);
}

/* The length of the well-formed UTF-8 sequence at p (lead byte >= 0x80),
 * or 0: RFC 8259 text is UTF-8 (RFC 3629), so overlong forms, UTF-16
 * surrogates (ED A0..BF), code points past U+10FFFF, stray continuation
 * bytes and truncated sequences are rejected, and every string the daemon
 * echoes (a KServe id, a name in an error) stays valid UTF-8. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *e)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) n = 3;
    else if (c >= 0xf0 && c <= 0xf4) n = 4;
    else return 0; /* continuation byte, overlong lead C0/C1, or F5..FF */
    if (c == 0xe0) lo = 0xa0;      /* overlong 3-byte */
    else if (c == 0xed) hi = 0x9f; /* surrogates */
    else if (c == 0xf0) lo = 0x90; /* overlong 4-byte */
    else if (c == 0xf4) hi = 0x8f; /* past U+10FFFF */
    if ((size_t)(e - p) < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t k = 2; k < n; k++)
        if (p[k] < 0x80 || p[k] > 0xbf) return 0;
    return n;
}

/* The string at j->p (on its opening quote): *body and *close bound its
 * text, *escaped says whether it has escapes. -1 with j->p at the fault. */
static int string_bounds(jp *j, const char **body, const char **close, int *escaped)
{
    const char *p = j->p + 1, *e = j->end, *q = p;
    *escaped = 0;
    for (; q < e && *q != '"'; q++) {
        if ((unsigned char)*q < 0x20) goto bad_at_q;
        if ((unsigned char)*q >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)q, (const unsigned char *)e);
            if (!n) goto bad_at_q;
            q += n - 1;
            continue;
        }
        if (*q == '\\') {
            *escaped = 1;
            if (++q >= e) goto bad_at_q;
        }
    }
    if (q >= e) goto bad_at_q;
    *body = p;
    *close = q;
    return 0;
bad_at_q:
    j->p = q;
    return -1;
}

/* Decode the escaped text [p, q) into out (NULL: only check it), setting
 * *nul when it holds \u0000. Decoding never lengthens: an escape of 2 to
 * 12 characters becomes 1 to 4 bytes. -1 with j->p at a bad escape. */
static int decode_escapes(jp *j, const char *p, const char *q, char *out, int *nul)
{
    char tmp[4], *o = out;
    while (p < q) {
        const char *b = memchr(p, '\\', (size_t)(q - p));
        int n;
        if (!b) b = q;
        if (out) {
            memcpy(o, p, (size_t)(b - p));
            o += b - p;
        }
        if ((p = b) == q) break;
        p++;
        n = unescape(&p, q, out ? o : tmp);
        if (n < 0) {
            j->p = p;
            return -1;
        }
        if (n == 1 && (out ? *o : tmp[0]) == '\0') *nul = 1;
        if (out) o += n;
    }
    if (out) *o = '\0';
    return 0;
}

/* The string at j->p decoded into a new buffer from cJSON_malloc (NULL on
 * a fault); *nul says whether it holds \u0000. */
static char *parse_string(jp *j, int *nul)
{
    const char *p, *q;
    int escaped;
    char *out;
    *nul = 0;
    if (string_bounds(j, &p, &q, &escaped) < 0) return NULL;
    if (!(out = jalloc(j, (size_t)(q - p) + 1))) return NULL;
    if (!escaped) {
        memcpy(out, p, (size_t)(q - p));
        out[q - p] = '\0';
    } else if (decode_escapes(j, p, q, out, nul) < 0) {
        cJSON_free(out);
        return NULL;
    }
    j->p = q + 1;
    return out;
}

/* A string inside a span: checked, not kept. */
static int scan_string(jp *j)
{
    const char *p, *q;
    int escaped, nul = 0;
    if (string_bounds(j, &p, &q, &escaped) < 0) return -1;
    if (escaped && decode_escapes(j, p, q, NULL, &nul) < 0) return -1;
    if (nul && (j->flags & UP_JSON_STRICT)) {
        fault(j, UP_JSON_NUL_STRING, j->p);
        fault_text(j, p, (size_t)(q - p));
        return -1;
    }
    j->p = q + 1;
    return 0;
}

/* ---- scalars, arrays, objects ---------------------------------------------- */

/* After an element or member: 1 on ',' (another follows), 0 on the
 * closing bracket, -1 on anything else; consumes what it read. */
static int after_member(jp *j, char close)
{
    skip_ws(j);
    if (j->p < j->end && (*j->p == ',' || *j->p == close)) return *j->p++ == ',';
    return -1;
}

static int enter(jp *j)
{
    if (j->depth >= j->max_depth) {
        fault(j, UP_JSON_TOO_DEEP, j->p);
        return -1;
    }
    j->depth++;
    return 0;
}

static int literal_len(jp *j, const char *word, size_t n)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n)) return -1;
    j->p += n;
    return 0;
}

static cJSON *parse_literal(jp *j, const char *word, size_t n, int type)
{
    return literal_len(j, word, n) < 0 ? NULL : new_item(j, type);
}

/* A scalar inside a span other than a number (those are read in runs). */
static int scan_scalar(jp *j)
{
    if (j->p >= j->end) return -1;
    switch (*j->p) {
    case '"': return scan_string(j);
    case 't': return literal_len(j, "true", 4);
    case 'f': return literal_len(j, "false", 5);
    case 'n': return literal_len(j, "null", 4);
    default: return scan_number(j); /* fails: no number starts here */
    }
}

/* An object member's key and its ':'; NULL on a fault. */
static char *parse_key(jp *j)
{
    const char *at = j->p;
    char *key;
    int nul;
    if (j->p >= j->end || *j->p != '"' || !(key = parse_string(j, &nul))) return NULL;
    if (nul && (j->flags & UP_JSON_STRICT)) {
        fault(j, UP_JSON_NUL_KEY, at);
        fault_text(j, at + 1, (size_t)(j->p - at - 2));
        cJSON_free(key);
        return NULL;
    }
    skip_ws(j);
    if (j->p >= j->end || *j->p != ':') {
        cJSON_free(key);
        return NULL;
    }
    j->p++;
    skip_ws(j);
    return key;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

static int dup_fault(jp *j, const char *key)
{
    fault(j, UP_JSON_DUP_KEY, j->p - 1);
    fault_text(j, key, strlen(key));
    j->f->path[0] = '\0';
    path_prepend(j, key);
    return -1;
}

/* STRICT: does object c (n members) repeat a key? */
static int check_repeats(jp *j, const cJSON *c, int64_t n)
{
    const cJSON *a, *b;
    cJSON **keys;
    int rc = 0;
    if (n <= SMALL_OBJECT) {
        for (a = c->child; a; a = a->next)
            for (b = a->next; b; b = b->next)
                if (a->string[0] == b->string[0] && !strcmp(a->string, b->string))
                    return dup_fault(j, b->string);
        return 0;
    }
    if ((uint64_t)n > SIZE_MAX / sizeof(*keys) || !(keys = jalloc(j, (size_t)n * sizeof(*keys))))
        return -1;
    n = 0;
    for (a = c->child; a; a = a->next) keys[n++] = (cJSON *)a;
    qsort(keys, (size_t)n, sizeof(*keys), cmp_keys);
    for (int64_t i = 1; i < n && !rc; i++)
        if (!strcmp(keys[i - 1]->string, keys[i]->string)) rc = dup_fault(j, keys[i]->string);
    cJSON_free(keys);
    return rc;
}

/* An object, j->p on its '{'. */
static cJSON *parse_object(jp *j)
{
    cJSON *c = new_item(j, cJSON_Object), *tail = NULL, *v;
    char *key = NULL;
    int64_t n = 0;
    int more = 1;
    if (!c) return NULL;
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return c;
    }
    while (more > 0) {
        skip_ws(j);
        if (!(key = parse_key(j))) goto err;
        if (!(v = parse_value(j))) {
            path_prepend(j, key);
            goto err;
        }
        v->string = key;
        key = NULL;
        link_child(c, &tail, v);
        n++;
        more = after_member(j, '}');
    }
    if (more < 0) goto err;
    if ((j->flags & UP_JSON_STRICT) && check_repeats(j, c, n) < 0) goto err;
    return c;
err:
    if (key) cJSON_free(key);
    up_json_arena_delete(c);
    return NULL;
}

/* More elements of array c, j->p just after one: tail is c's last child,
 * idx the next element's index. Deletes c on a fault. */
static cJSON *array_rest(jp *j, cJSON *c, cJSON *tail, int64_t idx)
{
    int more;
    while ((more = after_member(j, ']')) > 0) {
        cJSON *v;
        skip_ws(j);
        if (!(v = parse_value(j))) {
            path_prepend_index(j, idx);
            goto err;
        }
        link_child(c, &tail, v);
        idx++;
    }
    if (more == 0) return c;
err:
    up_json_arena_delete(c);
    return NULL;
}

/* An array as nodes, j->p on its '['. */
static cJSON *parse_array_tree(jp *j)
{
    cJSON *c = new_item(j, cJSON_Array), *tail = NULL, *v;
    if (!c) return NULL;
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return c;
    }
    if (!(v = parse_value(j))) {
        path_prepend_index(j, 0);
        up_json_arena_delete(c);
        return NULL;
    }
    link_child(c, &tail, v);
    return array_rest(j, c, tail, 1);
}

/* Fold element idx of a list into s: a scalar (sub NULL; number says
 * whether it is one) or a nested list. *scalars remembers whether a scalar
 * was met at this level. */
static void list_add(up_json_list *s, const up_json_list *sub, int64_t idx, int *scalars, int number)
{
    if (!sub) {
        s->leaves++;
        s->numbers &= number;
        *scalars = 1;
        if (s->height > 1) s->regular = 0; /* a scalar beside a list */
        return;
    }
    s->leaves += sub->leaves;
    s->numbers &= sub->numbers;
    s->unchecked |= sub->unchecked;
    if (s->height < sub->height + 1) s->height = sub->height + 1;
    if (*scalars || !sub->regular) s->regular = 0;
    if (idx == 0) {
        s->rank = sub->rank + 1;
        for (int d = 0; d < sub->rank && d + 1 < UP_MAX_RANK; d++) s->shape[d + 1] = sub->shape[d];
    } else if (s->regular && (sub->rank + 1 != s->rank ||
                              memcmp(sub->shape, s->shape + 1, sizeof(int64_t) * (size_t)sub->rank))) {
        s->regular = 0;
    }
    if (s->rank > UP_MAX_RANK) s->regular = 0;
}

static void list_start(up_json_list *s)
{
    memset(s, 0, sizeof(*s));
    s->height = 1;
    s->rank = 1;
    s->regular = 1;
    s->numbers = 1;
}

static int starts_number(char c) { return is_digit(c) || c == '-' || c == 'N' || c == 'I'; }

static cJSON *materialize(jp *j, const char *start, int64_t count, const char *at, cJSON *child);

/* An array read as a span, j->p on its '[' (its depth already counted).
 * 1: s describes it and j->p is past its ']'. 0: an object was found in
 * it, so it is the plain node *node. -1: a fault. */
static int scan_array(jp *j, up_json_list *s, cJSON **node)
{
    const char *start = j->p, *elem;
    up_json_list sub;
    cJSON *child;
    int64_t count = 0;
    int scalars = 0, more = 0;
    list_start(s);
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        goto done;
    }
    do {
        skip_ws(j);
        elem = j->p;
        if (j->p < j->end && *j->p == '[') {
            int r;
            if (enter(j) < 0) return -1;
            r = scan_array(j, &sub, &child);
            j->depth--;
            if (r < 0) goto bad;
            if (r == 0) goto tree;
            list_add(s, &sub, count, &scalars, 0);
        } else if (j->p < j->end && *j->p == '{' && (j->flags & CHECK_ONLY)) {
            if (check_value(j) < 0) goto bad;
            list_add(s, NULL, count, &scalars, 0);
        } else if (j->p < j->end && *j->p == '{') {
            if (!(child = parse_value(j))) goto bad;
            goto tree;
        } else if (j->p < j->end && starts_number(*j->p)) {
            /* the common run: numbers and commas, no whitespace */
            for (;;) {
                int64_t more = 0;
                if (j->vals_ok && j->nvals < SPAN_VALUES) {
                    if (read_number(&j->p, j->end, &j->vals[j->nvals++]) < 0) goto bad;
                } else {
                    j->vals_ok = 0;
                    if ((j->flags & UP_JSON_LAZY) && pass_run(j, &more)) {
                        s->unchecked = 1;
                        s->leaves += more;
                        count += more;
                    } else if (scan_number(j) < 0) {
                        goto bad;
                    }
                }
                s->leaves++;
                if (!(j->end - j->p > 1 && j->p[0] == ',' && starts_number(j->p[1]))) break;
                j->p++;
                count++;
            }
            scalars = 1;
            if (s->height > 1) s->regular = 0; /* numbers beside a list */
        } else {
            j->vals_ok = 0;
            if (scan_scalar(j) < 0) goto bad;
            list_add(s, NULL, count, &scalars, 0);
        }
        count++;
        more = after_member(j, ']');
    } while (more > 0);
    if (more < 0) return -1;
done:
    s->shape[0] = count;
    s->text = start;
    s->len = (size_t)(j->p - start);
    return 1;
bad:
    path_prepend_index(j, count);
    return -1;
tree:
    *node = materialize(j, start, count, elem, child);
    return *node ? 0 : -1;
}

/* Array [start ...] as a node after all: its first `count` elements are
 * read again (as nodes; arrays among them as spans again), then `child`,
 * the element at `at` that could not be a span (j->p is past it), then the
 * rest. The first reading checked those elements, unless (LAZY) it passed
 * over runs of numbers: so the reading again is checked too, and must end
 * on the comma before `at` (a fault fails the parse, and up_json_parse
 * finds the first fault with check_value). */
static cJSON *materialize(jp *j, const char *start, int64_t count, const char *at, cJSON *child)
{
    const char *resume = j->p;
    cJSON *c = new_item(j, cJSON_Array), *tail = NULL, *v;
    if (!c) goto err;
    j->p = start + 1;
    for (int64_t i = 0; i < count; i++) {
        skip_ws(j);
        if (!(v = parse_value(j))) goto err;
        link_child(c, &tail, v);
        if (after_member(j, ']') != 1) goto err;
    }
    skip_ws(j);
    if (j->p != at) goto err;
    j->p = resume;
    link_child(c, &tail, child);
    return array_rest(j, c, tail, count + 1);
err:
    up_json_arena_delete(child);
    if (c) up_json_arena_delete(c);
    return NULL;
}

static cJSON *new_span(jp *j, const up_json_list *s)
{
    span_node *sn;
    size_t nv = j->vals_ok && j->nvals == s->leaves ? (size_t)j->nvals : 0;
    if (s->leaves == 0 && s->height == 1) return new_item(j, cJSON_Array); /* [] stays a node */
    if (!(sn = jalloc(j, sizeof(*sn) + nv * sizeof(double)))) return NULL;
    memset(sn, 0, sizeof(*sn));
    sn->node.type = cJSON_Raw;
    sn->node.valueint = SPAN_MAGIC;
    sn->list = *s;
    sn->list.span = &sn->node;
    if (nv) {
        memcpy(sn->values, j->vals, nv * sizeof(double));
        sn->list.values = sn->values;
    }
    return &sn->node;
}

/* An array, j->p on its '[' (depth counted): a span when it can be one. */
static cJSON *parse_array(jp *j)
{
    up_json_list s;
    cJSON *node = NULL;
    int r;
    if (!(j->flags & UP_JSON_SPANS)) return parse_array_tree(j);
    j->nvals = 0; /* nested reads reset these too, but then this array is no span */
    j->vals_ok = 1;
    r = scan_array(j, &s, &node);
    if (r < 0) return NULL;
    return r == 0 ? node : new_span(j, &s);
}

static cJSON *parse_value(jp *j)
{
    cJSON *v;
    double d;
    if (j->p >= j->end) return NULL;
    switch (*j->p) {
    case '"': {
        const char *at = j->p;
        int nul;
        char *s = parse_string(j, &nul);
        if (!s) return NULL;
        if (nul && (j->flags & UP_JSON_STRICT)) {
            fault(j, UP_JSON_NUL_STRING, at);
            fault_text(j, at + 1, (size_t)(j->p - at - 2));
            cJSON_free(s);
            return NULL;
        }
        if (!(v = new_item(j, cJSON_String))) {
            cJSON_free(s);
            return NULL;
        }
        v->valuestring = s;
        return v;
    }
    case '[':
    case '{':
        if (enter(j) < 0) return NULL;
        v = *j->p == '[' ? parse_array(j) : parse_object(j);
        j->depth--;
        return v;
    case 't': return parse_literal(j, "true", 4, cJSON_True);
    case 'f': return parse_literal(j, "false", 5, cJSON_False);
    case 'n': return parse_literal(j, "null", 4, cJSON_NULL);
    default: /* numbers, and the bare words NaN, Infinity, -Infinity */
        if (read_number(&j->p, j->end, &d) < 0 || !(v = new_item(j, cJSON_Number))) return NULL;
        v->valuedouble = d;
        v->valueint = saturate_int(d);
        return v;
    }
}

/* ---- entry points ----------------------------------------------------------- */

static cJSON *parse_once(const char *s, size_t n, int max_depth, int flags, up_json_fault *f,
                         int64_t *deferred)
{
    jp j = {.p = s, .end = s + n, .base = s, .max_depth = max_depth > 0 ? max_depth : UP_JSON_MAX_DEPTH,
            .flags = flags, .f = f};
    cJSON *v;
    memset(f, 0, sizeof(*f));
    skip_ws(&j);
    v = parse_value(&j);
    *deferred = j.deferred;
    if (!v) {
        if (f->kind == UP_JSON_OK) fault(&j, UP_JSON_SYNTAX, j.p);
        return NULL;
    }
    f->at = (size_t)(j.p - s);
    if (!(flags & UP_JSON_PREFIX)) {
        skip_ws(&j);
        if (j.p < j.end) { /* one value, then only whitespace */
            fault(&j, UP_JSON_TRAILING, j.p);
            up_json_arena_delete(v);
            return NULL;
        }
    }
    return v;
}

/* ---- checking without nodes ----------------------------------------------- */

/* An object, j->p on its '{' (depth counted): the grammar parse_object
 * reads, stopping at the same byte on a fault, but nothing is kept (so no
 * repeated-key or \u0000 faults: those need the keys). */
static int check_object(jp *j)
{
    int more;
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    do {
        skip_ws(j);
        if (j->p >= j->end || *j->p != '"' || scan_string(j) < 0) return -1;
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':') return -1;
        j->p++;
        skip_ws(j);
        if (check_value(j) < 0) return -1;
        more = after_member(j, '}');
    } while (more > 0);
    return more;
}

/* Any value, as parse_value reads it, allocating nothing. */
static int check_value(jp *j)
{
    up_json_list s;
    cJSON *node = NULL;
    int r;
    if (j->p >= j->end) return -1;
    if (*j->p != '[' && *j->p != '{') return scan_scalar(j);
    if (enter(j) < 0) return -1;
    r = *j->p == '[' ? scan_array(j, &s, &node) : check_object(j);
    j->depth--;
    return r < 0 ? -1 : 0;
}

/* A LAZY parse that failed after passing over runs may have passed a
 * fault in one, before the one it stopped at. The document is checked
 * again strictly, without nodes (so a failing document costs no more
 * memory than before): a syntax fault before the parse's own is the first
 * fault, as a parse without LAZY would have found it. */
cJSON *up_json_parse(const char *s, size_t n, int max_depth, int flags, up_json_fault *f)
{
    int64_t deferred;
    cJSON *v = parse_once(s, n, max_depth, flags, f, &deferred);
    if (!v && (flags & UP_JSON_LAZY) && deferred) {
        up_json_fault cf;
        jp j = {.p = s, .end = s + n, .base = s,
                .max_depth = max_depth > 0 ? max_depth : UP_JSON_MAX_DEPTH,
                .flags = UP_JSON_SPANS | CHECK_ONLY, .f = &cf};
        memset(&cf, 0, sizeof(cf));
        skip_ws(&j);
        if (check_value(&j) < 0 && cf.kind == UP_JSON_OK && (size_t)(j.p - s) < f->at) {
            memset(f, 0, sizeof(*f));
            f->kind = UP_JSON_SYNTAX;
            f->at = (size_t)(j.p - s);
        }
    }
    return v;
}

cJSON *up_json_parse_value(const char *s, size_t n, const char **end)
{
    up_json_fault f;
    cJSON *v = up_json_parse(s, n, UP_JSON_MAX_DEPTH, UP_JSON_PREFIX, &f);
    *end = s + f.at;
    return v;
}

cJSON *up_json_parse_document(const char *s, size_t n, size_t *at)
{
    up_json_fault f;
    cJSON *root;
    up_json_arena_enter();
    root = up_json_parse(s, n, UP_JSON_MAX_DEPTH, 0, &f);
    *at = f.at;
    if (!root) up_json_arena_leave();
    return root;
}

void up_json_document_free(cJSON *root)
{
    if (!root) return;
    up_json_arena_delete(root);
    up_json_arena_leave();
}

int up_json_depth_limit(const up_limits *lim)
{
    int d = lim && lim->max_json_depth > 0 ? lim->max_json_depth : 64;
    return d < UP_JSON_MAX_DEPTH ? d : UP_JSON_MAX_DEPTH;
}

static void fault_error(const up_json_fault *f, const char *s, size_t n, const up_json_req *rq,
                        int depth, up_error *err)
{
    const char *where = f->path[0] ? f->path : rq->field;
    switch (f->kind) {
    case UP_JSON_TOO_DEEP:
        up_errorf(err, UP_E_MALFORMED, rq->field, "JSON in %s is nested deeper than %d levels",
                  rq->what, depth);
        break;
    case UP_JSON_NUL_KEY:
        up_errorf(err, UP_E_MALFORMED, where,
                  "JSON key \"%s\" holds \\u0000 (NUL), which no key may hold", f->text);
        break;
    case UP_JSON_NUL_STRING:
        up_errorf(err, UP_E_MALFORMED, where,
                  "JSON string \"%s\" holds \\u0000 (NUL), which no name or value may hold",
                  f->text);
        break;
    case UP_JSON_DUP_KEY:
        up_errorf(err, UP_E_MALFORMED, where, "repeated JSON key \"%s\"", f->text);
        break;
    case UP_JSON_TRAILING:
        up_errorf(err, UP_E_MALFORMED, rq->field,
                  "%s is more than one JSON value: bytes follow it at byte %zu", rq->what, f->at);
        break;
    case UP_JSON_NOMEM:
        if (err->kind == UP_OK) /* else the accountant refused and said why */
            up_errorf(err, UP_E_OVERLOADED, rq->field, "out of memory parsing %s", rq->what);
        break;
    default: /* a syntax error: where, what is there, and the likely cause */
        up_json_syntax_error(err, rq->field, rq->what, s, n, f->at);
        break;
    }
}

cJSON *up_json_parse_request(const char *s, size_t n, up_json_req *rq, up_error *err)
{
    up_json_fault f;
    cJSON *root;
    int depth = up_json_depth_limit(rq->lim);
    up_json_arena_enter_charged(rq->charge, err);
    root = up_json_parse(s, n, depth,
                         UP_JSON_SPANS | UP_JSON_STRICT | (rq->prefix ? UP_JSON_PREFIX : 0) |
                             (rq->lazy ? UP_JSON_LAZY : 0),
                         &f);
    rq->end = f.at;
    if (root) return root;
    up_json_arena_leave();
    /* LAZY: a charge refused after a run with a fault in it; the fault is
     * the error, as the strict parse would have stopped there first */
    if (rq->lazy && f.kind != UP_JSON_NOMEM) up_error_clear(err);
    fault_error(&f, s, n, rq, depth, err);
    return NULL;
}

/* ---- lists of scalars -------------------------------------------------------- */

static const up_json_list *span_list(const cJSON *v)
{
    if (!v || (v->type & 0xff) != cJSON_Raw || v->valuestring || v->valueint != SPAN_MAGIC) return NULL;
    return &((const span_node *)v)->list;
}

static int is_scalar(const cJSON *v)
{
    int t = v->type & 0xff;
    return t == cJSON_Number || t == cJSON_String || t == cJSON_True || t == cJSON_False ||
           t == cJSON_NULL;
}

/* A cJSON array's list, walking its nodes; 0 when something inside is
 * neither a scalar nor a list. */
static int tree_list(const cJSON *a, up_json_list *s)
{
    int64_t i = 0;
    int scalars = 0;
    list_start(s);
    s->tree = a;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        const up_json_list *sp = span_list(e);
        up_json_list sub;
        if (sp) {
            list_add(s, sp, i, &scalars, 0);
        } else if (cJSON_IsArray(e)) {
            if (!tree_list(e, &sub)) return 0;
            list_add(s, &sub, i, &scalars, 0);
        } else if (is_scalar(e)) {
            list_add(s, NULL, i, &scalars, cJSON_IsNumber(e));
        } else {
            return 0;
        }
    }
    s->shape[0] = i;
    return 1;
}

int up_json_list_of(const cJSON *v, up_json_list *l)
{
    const up_json_list *sp = span_list(v);
    if (sp) {
        *l = *sp;
        return 1;
    }
    return cJSON_IsArray(v) && tree_list(v, l);
}

/* ---- spans passed over (UP_JSON_LAZY) ---------------------------------------- */

/* Whether span l (its node's own flag, not a copy's) still has runs no
 * one has read. */
static int span_unchecked(const up_json_list *l)
{
    return l->span && ((const span_node *)l->span)->list.unchecked;
}

/* The parse's own node, const to its readers: the flag is the one thing a
 * reader changes, once the span is known good. */
static void span_mark_checked(const up_json_list *l)
{
    if (l->span) ((span_node *)(uintptr_t)l->span)->list.unchecked = 0;
}

/* Span l read strictly, as a parse without LAZY reads it: 0 (and marked
 * checked), or -1 with *at the first fault's offset in its text, the byte
 * the strict parse of the whole document stops at. */
static int check_span(const up_json_list *l, size_t *at)
{
    up_json_fault f;
    up_json_list s;
    cJSON *node = NULL;
    jp j = {.p = l->text, .end = l->text + l->len, .base = l->text, .max_depth = INT32_MAX,
            .flags = UP_JSON_SPANS | UP_JSON_STRICT, .f = &f};
    int r;
    if (!span_unchecked(l)) return 0;
    memset(&f, 0, sizeof(f));
    r = scan_array(&j, &s, &node);
    if (r == 1 && j.p == j.end) {
        span_mark_checked(l);
        return 0;
    }
    if (r == 0) up_json_arena_delete(node); /* cannot happen: the parse found no object */
    *at = f.kind != UP_JSON_OK ? f.at : (size_t)(j.p - l->text);
    return -1;
}

int up_json_check_spans(const cJSON *v, const char *doc, size_t *at)
{
    for (; v; v = v->next) {
        const up_json_list *sp = span_list(v);
        size_t off;
        if (sp && check_span(sp, &off) < 0) {
            *at = (size_t)(sp->text - doc) + off;
            return -1;
        }
        if (!sp && up_json_check_spans(v->child, doc, at) < 0) return -1;
    }
    return 0;
}

/* Bytes between a span's scalars: whitespace, commas and brackets. */
static const unsigned char between[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1,
                                           [','] = 1, ['['] = 1,  [']'] = 1};

/* A checked string at p (on its quote) decoded into buf (LEAF_STRING
 * bytes; longer ones are cut to at most 60 bytes, at a UTF-8 boundary, and
 * "..."); returns the byte after its closing quote. */
static const char *leaf_string(const char *p, const char *e, char *buf)
{
    size_t n = 0;
    int cut = 0;
    char tmp[4];
    for (p++; *p != '"';) {
        int k = 1;
        if (*p == '\\') {
            p++;
            k = unescape(&p, e, tmp);
            if (k < 0) k = 0; /* cannot happen: the span was checked */
        } else {
            tmp[0] = *p++;
        }
        if (!cut && n + (size_t)k < LEAF_STRING) {
            memcpy(buf + n, tmp, (size_t)k);
            n += (size_t)k;
        } else if (!cut) {
            cut = 1;
            size_t had = n; /* >= LEAF_STRING - 4 */
            /* cut where a character starts, so the text stays valid UTF-8 */
            for (n = LEAF_STRING - 4; n > 0 && n < had && ((unsigned char)buf[n] & 0xc0) == 0x80;)
                n--;
            memcpy(buf + n, "...", 3);
            n += 3;
        }
    }
    buf[n] = '\0';
    return p + 1;
}

static int walk_text(const char *p, const char *e, up_json_leaf_fn fn, void *ctx, int64_t *i)
{
    char buf[LEAF_STRING];
    cJSON leaf;
    memset(&leaf, 0, sizeof(leaf));
    for (;;) {
        int r;
        while (p < e && between[(unsigned char)*p]) p++;
        if (p >= e) return 0;
        leaf.valuestring = NULL;
        switch (*p) {
        case '"':
            leaf.type = cJSON_String;
            p = leaf_string(p, e, buf);
            leaf.valuestring = buf;
            break;
        case 't': leaf.type = cJSON_True, p += 4; break;
        case 'f': leaf.type = cJSON_False, p += 5; break;
        case 'n': leaf.type = cJSON_NULL, p += 4; break;
        default:
            leaf.type = cJSON_Number;
            if (read_number(&p, e, &leaf.valuedouble) < 0) return -1; /* checked: cannot happen */
            leaf.valueint = saturate_int(leaf.valuedouble);
            break;
        }
        if ((r = fn(ctx, (*i)++, &leaf)) != 0) return r;
    }
}

/* A span's scalars: its kept numbers, or its text. */
static int walk_span(const up_json_list *sp, up_json_leaf_fn fn, void *ctx, int64_t *i)
{
    cJSON leaf;
    size_t at;
    if (check_span(sp, &at) < 0) return -1; /* a fault in a run passed over */
    if (!sp->values) return walk_text(sp->text, sp->text + sp->len, fn, ctx, i);
    memset(&leaf, 0, sizeof(leaf));
    leaf.type = cJSON_Number;
    for (int64_t k = 0; k < sp->leaves; k++) {
        int r;
        leaf.valuedouble = sp->values[k];
        leaf.valueint = saturate_int(leaf.valuedouble);
        if ((r = fn(ctx, (*i)++, &leaf)) != 0) return r;
    }
    return 0;
}

static int walk_tree(const cJSON *a, up_json_leaf_fn fn, void *ctx, int64_t *i)
{
    for (const cJSON *e = a->child; e; e = e->next) {
        const up_json_list *sp = span_list(e);
        int r = sp ? walk_span(sp, fn, ctx, i)
                : cJSON_IsArray(e) ? walk_tree(e, fn, ctx, i)
                                   : fn(ctx, (*i)++, e);
        if (r) return r;
    }
    return 0;
}

int up_json_list_walk(const up_json_list *l, up_json_leaf_fn fn, void *ctx)
{
    int64_t i = 0;
    return l->text ? walk_span(l, fn, ctx, &i) : walk_tree(l->tree, fn, ctx, &i);
}

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* Numbers in runs, for trees: gathered leaf by leaf, handed on per run. */
typedef struct run {
    up_json_numbers_fn fn;
    void *ctx;
    int64_t i0;
    int n;
    double v[256];
} run;

enum { TO_F32, TO_F64, TO_RUNS };

/* A span's text [p, e) as its n numbers, each read once, its syntax
 * checked as it is converted: an array of numbers and such arrays, RFC
 * 8259 strictly (the parse's own number reader), and exactly n numbers.
 * `to` says where they go: out[0..n) as float (the double cast, as the
 * tree path gives) or double, or (TO_RUNS) runs of 256 for out's fn. So a
 * span whose runs the parse passed over (LAZY) is checked by being
 * converted: -1 on any fault, whose place check_span then finds; fn's own
 * nonzero return stops it too. */
INLINE int read_text(const char *p, const char *e, int to, void *out, int64_t n)
{
    int64_t i = 0, depth = 0;
    run *r = out;
    int rc;
    double d;
    for (;;) { /* a value: after '[' or ',' */
        while (p < e && is_ws(*p)) p++;
        if (p < e && *p == '[') {
            depth++;
            p++;
            while (p < e && is_ws(*p)) p++;
            if (p >= e || *p != ']') continue;
            p++; /* [] */
            depth--;
        } else {
            if (i >= n || number_at(&p, e, &d) < 0) return -1;
            if (to == TO_F32) {
                ((float *)out)[i] = (float)d;
            } else if (to == TO_F64) {
                ((double *)out)[i] = d;
            } else {
                r->v[r->n++] = d;
                if (r->n == 256 && (rc = r->fn(r->ctx, i - 255, r->v, 256)) != 0) return rc;
                r->n &= 255;
            }
            i++;
        }
        for (;;) { /* after a value: ',' for the next, ']' to close, blanks */
            if (p < e && *p == ',') {
                p++;
                break;
            }
            if (p < e && *p == ']') {
                p++;
                if (--depth <= 0) goto end;
            } else if (p < e && is_ws(*p)) {
                p++;
            } else {
                return -1;
            }
        }
    }
end:
    if (depth != 0 || p != e || i != n) return -1;
    return to == TO_RUNS && r->n ? r->fn(r->ctx, i - r->n, r->v, r->n) : 0;
}


static int run_leaf(void *ctx, int64_t i, const cJSON *leaf)
{
    run *r = ctx;
    int rc;
    if (!cJSON_IsNumber(leaf)) return -1;
    if (r->n == 0) r->i0 = i;
    r->v[r->n++] = leaf->valuedouble;
    if (r->n < 256) return 0;
    rc = r->fn(r->ctx, r->i0, r->v, r->n);
    r->n = 0;
    return rc;
}

int up_json_list_numbers(const up_json_list *l, up_json_numbers_fn fn, void *ctx)
{
    run r;
    int rc;
    if (!l->numbers) return -1;
    if (l->values) return l->leaves ? fn(ctx, 0, l->values, (int)l->leaves) : 0;
    r.fn = fn;
    r.ctx = ctx;
    r.n = 0;
    r.i0 = 0;
    if (l->text) { /* read once, checked as it is read (the span may be LAZY's) */
        if ((rc = read_text(l->text, l->text + l->len, TO_RUNS, &r, l->leaves)) == 0)
            span_mark_checked(l);
        return rc;
    }
    if ((rc = up_json_list_walk(l, run_leaf, &r)) != 0) return rc;
    return r.n ? fn(ctx, r.i0, r.v, r.n) : 0;
}

typedef struct numbers {
    double *out;
    int cap;
} numbers;

static int number_leaf(void *ctx, int64_t i, const cJSON *leaf)
{
    numbers *nb = ctx;
    if (i >= nb->cap) return -2;
    if (!cJSON_IsNumber(leaf)) return -1;
    nb->out[i] = leaf->valuedouble;
    return 0;
}

int up_json_numbers(const cJSON *v, double *out, int cap)
{
    up_json_list l;
    numbers nb = {out, cap};
    int r;
    if (!up_json_list_of(v, &l) || l.height != 1) return -1;
    r = up_json_list_walk(&l, number_leaf, &nb);
    return r ? r : (int)l.leaves;
}

/* ---- numbers straight into a typed array ------------------------------------- */

typedef struct cast {
    void *out;
    int f64;
} cast;

static int cast_run(void *ctx, int64_t i0, const double *v, int n)
{
    cast *c = ctx;
    if (c->f64) memcpy((double *)c->out + i0, v, sizeof(double) * (size_t)n);
    else
        for (int k = 0; k < n; k++) ((float *)c->out)[i0 + k] = (float)v[k];
    return 0;
}

int up_json_list_floats(const up_json_list *l, up_dtype dt, void *out)
{
    cast c = {out, dt == UP_F64};
    if (!l->numbers || (dt != UP_F32 && dt != UP_F64)) return -1;
    if (!l->text || l->values) return up_json_list_numbers(l, cast_run, &c) ? -1 : 0;
    if ((c.f64 ? read_text(l->text, l->text + l->len, TO_F64, out, l->leaves)
               : read_text(l->text, l->text + l->len, TO_F32, out, l->leaves)) < 0)
        return -1;
    span_mark_checked(l);
    return 0;
}
