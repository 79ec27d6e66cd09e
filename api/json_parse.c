/* json_parse.c -- JSON text into cJSON trees, by hand.
 *
 * cJSON's own parser is correct but slow exactly where requests are heavy:
 * for every number it tries "null", "false" and "true" with strncmp,
 * copies the digits, asks localeconv() for the decimal point and calls
 * strtod. On a small (1,1,4,4) max_unpool request that was 27% of the
 * daemon's user time; for a tensor sent as JSON lists (millions of
 * numbers) it is most of the decode. This parser builds the same trees
 * (the same node types and child/next/prev links, nodes from cJSON_malloc
 * so cJSON_Delete and the JSON arena work unchanged) and reads numbers
 * itself: the decimal digits accumulate in an integer m, and when there
 * are at most 19 of them, m <= 2^53 and the decimal exponent e is within
 * +-22, the double is m * 10^e or m / 10^e: one correctly rounded
 * operation on two exact values (Clinger's fast path), so the result is
 * the one strtod gives. Everything else goes to strtod.
 *
 * The grammar is RFC 8259's, strictly: no leading zeros or bare '.', no
 * raw control characters in strings, lone surrogates (escaped or as UTF-8)
 * and ill-formed UTF-8 rejected, nesting
 * at most max_depth (UP_JSON_MAX_DEPTH unless the caller sets a lower one;
 * counted while parsing, so the stack is bounded and a hostile "[[[[..."
 * costs at most max_depth nodes). One extension: the bare words NaN,
 * Infinity and -Infinity that Python's json writes are numbers.
 * up_json_parse_document* open a JSON
 * arena window (json_arena.h) for the tree; up_json_document_free closes
 * it. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "json_arena.h"

typedef struct jp {
    const char *p, *end;
    int depth, max_depth;
    int too_deep; /* set when a container would pass max_depth */
} jp;

static cJSON *parse_value(jp *j);

static void skip_ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static cJSON *new_item(int type)
{
    cJSON *it = cJSON_malloc(sizeof(cJSON));
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

static int parse_number(jp *j, double *out)
{
    const char *p = j->p, *e = j->end, *start = p;
    uint64_t m = 0;
    int digits = 0, exp10 = 0, inexact = 0, neg = 0;
    if (p < e && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= e || !is_digit(*p)) goto bad;
    if (*p == '0') {
        p++;
    } else {
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
    j->p = p;
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
    return slow_number(start, p, out);
bad:
    j->p = p;
    return -1;
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

/* The string at j->p (on its opening quote), decoded into a new buffer
 * from cJSON_malloc. Decoding never lengthens: an escape of 2 to 12
 * characters becomes 1 to 4 bytes. */
static char *parse_string(jp *j)
{
    const char *p = j->p + 1, *e = j->end, *q = p;
    int escaped = 0;
    char *out, *o;
    for (; q < e && *q != '"'; q++) {
        if ((unsigned char)*q < 0x20) goto bad_at_q;
        if ((unsigned char)*q >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)q, (const unsigned char *)e);
            if (!n) goto bad_at_q;
            q += n - 1;
            continue;
        }
        if (*q == '\\') {
            escaped = 1;
            if (++q >= e) goto bad_at_q;
        }
    }
    if (q >= e) goto bad_at_q;
    if (!(out = cJSON_malloc((size_t)(q - p) + 1))) return NULL;
    if (!escaped) {
        memcpy(out, p, (size_t)(q - p));
        out[q - p] = '\0';
        j->p = q + 1;
        return out;
    }
    for (o = out; p < q;) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        p++;
        int n = unescape(&p, q, o);
        if (n < 0) {
            cJSON_free(out);
            j->p = p;
            return NULL;
        }
        o += n;
    }
    *o = '\0';
    j->p = q + 1;
    return out;
bad_at_q:
    j->p = q;
    return NULL;
}

/* ---- arrays, objects, values ---------------------------------------------- */

/* After an element or member: 1 on ',' (another follows), 0 on the
 * closing bracket, -1 on anything else; consumes what it read. */
static int after_member(jp *j, char close)
{
    skip_ws(j);
    if (j->p < j->end && (*j->p == ',' || *j->p == close)) return *j->p++ == ',';
    return -1;
}

/* An object member's key and its ':'; NULL on a syntax error. */
static char *parse_key(jp *j)
{
    char *key;
    if (j->p >= j->end || *j->p != '"' || !(key = parse_string(j))) return NULL;
    skip_ws(j);
    if (j->p >= j->end || *j->p != ':') {
        cJSON_free(key);
        return NULL;
    }
    j->p++;
    skip_ws(j);
    return key;
}

/* An array or an object (j->p on its opening bracket): the same walk,
 * except that an object reads a key before each value. */
static cJSON *parse_container(jp *j, int type, char close)
{
    cJSON *c = new_item(type), *tail = NULL, *v;
    char *key = NULL;
    int more = 1;
    if (!c) return NULL;
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return c;
    }
    while (more > 0) {
        skip_ws(j);
        if (type == cJSON_Object && !(key = parse_key(j))) goto err;
        if (!(v = parse_value(j))) goto err;
        v->string = key;
        key = NULL;
        link_child(c, &tail, v);
        more = after_member(j, close);
    }
    if (more == 0) return c;
err:
    if (key) cJSON_free(key);
    up_json_arena_delete(c);
    return NULL;
}

static cJSON *parse_literal(jp *j, const char *word, size_t n, int type)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n)) return NULL;
    j->p += n;
    return new_item(type);
}

static cJSON *parse_value(jp *j)
{
    cJSON *v;
    double d;
    if (j->p >= j->end) return NULL;
    switch (*j->p) {
    case '"': {
        char *s = parse_string(j);
        if (!s) return NULL;
        if (!(v = new_item(cJSON_String))) {
            cJSON_free(s);
            return NULL;
        }
        v->valuestring = s;
        return v;
    }
    case '[':
    case '{':
        if (j->depth >= j->max_depth) {
            j->too_deep = 1;
            return NULL;
        }
        j->depth++;
        v = *j->p == '[' ? parse_container(j, cJSON_Array, ']')
                         : parse_container(j, cJSON_Object, '}');
        j->depth--;
        return v;
    case 't': return parse_literal(j, "true", 4, cJSON_True);
    case 'f': return parse_literal(j, "false", 5, cJSON_False);
    case 'n': return parse_literal(j, "null", 4, cJSON_NULL);
    /* The one extension to RFC 8259: NaN, Infinity and -Infinity as bare
     * words, as Python's json module (and so tritonclient's JSON mode)
     * writes them. Every other bare word stays a syntax error. */
    case 'N':
        if (!(v = parse_literal(j, "NaN", 3, cJSON_Number))) return NULL;
        v->valuedouble = NAN;
        return v;
    default:
        if (*j->p == 'I' || (*j->p == '-' && j->end - j->p > 1 && j->p[1] == 'I')) {
            int neg = *j->p == '-';
            j->p += neg;
            if (!(v = parse_literal(j, "Infinity", 8, cJSON_Number))) return NULL;
            v->valuedouble = neg ? -INFINITY : INFINITY;
            v->valueint = neg ? (-2147483647 - 1) : 2147483647;
            return v;
        }
        if (parse_number(j, &d) < 0 || !(v = new_item(cJSON_Number))) return NULL;
        v->valuedouble = d;
        /* cJSON's valueint: the double saturated to int */
        v->valueint = d >= 2147483647.0 ? 2147483647 : d <= -2147483648.0 ? (-2147483647 - 1) : (int)d;
        return v;
    }
}

static cJSON *parse_top(const char *s, size_t n, int max_depth, const char **end, int *too_deep)
{
    jp j = {.p = s, .end = s + n, .depth = 0, .max_depth = max_depth, .too_deep = 0};
    cJSON *v;
    skip_ws(&j);
    v = parse_value(&j);
    *end = j.p;
    if (too_deep) *too_deep = j.too_deep;
    return v;
}

cJSON *up_json_parse_value(const char *s, size_t n, const char **end)
{
    return parse_top(s, n, UP_JSON_MAX_DEPTH, end, NULL);
}

/* ---- documents in the JSON arena ------------------------------------------ */

cJSON *up_json_parse_document_max(const char *s, size_t n, int max_depth, size_t *at,
                                  int *too_deep)
{
    const char *end;
    jp rest;
    cJSON *root;
    up_json_arena_enter();
    root = parse_top(s, n, max_depth, &end, too_deep);
    *at = (size_t)(end - s);
    if (!root) goto err;
    /* one value, then only whitespace: anything else is not one document */
    rest = (jp){.p = end, .end = s + n};
    skip_ws(&rest);
    if (rest.p < rest.end) {
        *at = (size_t)(rest.p - s);
        up_json_arena_delete(root);
        goto err;
    }
    return root;
err:
    up_json_arena_leave();
    return NULL;
}

cJSON *up_json_parse_document(const char *s, size_t n, size_t *at)
{
    return up_json_parse_document_max(s, n, UP_JSON_MAX_DEPTH, at, NULL);
}

void up_json_document_free(cJSON *root)
{
    if (!root) return;
    up_json_arena_delete(root);
    up_json_arena_leave();
}
