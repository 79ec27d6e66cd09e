/* test_json_parse.c -- the request parser (api/json_parse.c) against cJSON's
 * own parser and strtod.
 *
 * Numbers: for random float32 and float64 values printed in the forms
 * clients send (shortest, %.9g, %.17g, %e, fixed, integers past 2^53,
 * 20+ digits, tiny and huge exponents), the parsed double must have the
 * bits strtod gives. Trees: random documents (nested objects and arrays,
 * escaped and non-ASCII strings, literals) must parse to the same tree as
 * cJSON_Parse builds -- plainly, and with spans: every span node, expanded
 * through up_json_list_walk and checked against a summary computed from
 * cJSON's subtree (tests/support/json_spans.c), must be that subtree.
 * Syntax: every malformed form below is rejected, and the stop offset
 * points at the fault, in both modes. Strict mode: \u0000 and repeated keys are faults naming their
 * path. Accounting: a list body costs no memory per number; a refused
 * charge comes back as the hook's own error. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/codecs.h"
#include "tests/support/budget.h"
#include "tests/support/harness.h"
#include "tests/support/text.h"
#include "tests/support/json_spans.h"

static unsigned long long rng_state = 0x2545f4914f6cdd1dULL;
static uint64_t rng(void) { return th_xorshift(&rng_state); }

static cJSON *parse(const char *s, const char **end)
{
    const char *e;
    cJSON *v = up_json_parse_value(s, strlen(s), &e);
    if (end) *end = e;
    return v;
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof(a)) == 0; }

/* ---- numbers ------------------------------------------------------------ */

static int check_number_text(const char *text)
{
    const char *end;
    cJSON *v = parse(text, &end);
    double want = strtod(text, NULL);
    int ok = v && cJSON_IsNumber(v) && same_bits(v->valuedouble, want) && *end == '\0';
    if (!ok)
        printf("    %s: got %.17g, strtod %.17g\n", text, v ? v->valuedouble : NAN, want);
    cJSON_Delete(v);
    return ok;
}

static void json_numbers_match_strtod_bit_for_bit(void)
{
    static const char *const fixed[] = {
        "0", "-0", "0.0", "-0.0", "0e0", "0E+5", "-0e-5", "1", "-1", "9007199254740992",
        "9007199254740993", "18446744073709551615", "18446744073709551616",
        "123456789012345678901234567890", "0.1", "0.2", "0.30000000000000004", "1e22", "1e23",
        "1e-22", "1e-23", "4.9406564584124654e-324", "2.2250738585072014e-308",
        "1.7976931348623157e308", "1e308", "1e309", "-1e400", "1e-400", "3.4028234663852886e38",
        "1.401298464324817e-45", "0.000001", "0.0000000000000000000000123", "1.5e-7",
        "100000000000000000000000", "12345.678e-3", "5e-324", "1.0000000000000002",
        "0.99999999999999989", "123456789012345678e-5", "7.0E+1", "2.5e+0"};
    int bad = 0;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) bad += !check_number_text(fixed[i]);
    static const char *const forms[] = {"%.9g", "%.17g", "%.6e", "%.3f", "%.12g", "%.1f"};
    char buf[512];
    for (int i = 0; i < 200000 && bad < 10; i++) {
        uint64_t bits = rng();
        double d;
        if (i % 2) {
            uint32_t b32 = (uint32_t)bits;
            float f;
            memcpy(&f, &b32, sizeof(f));
            d = f;
        } else {
            memcpy(&d, &bits, sizeof(d));
        }
        if (!isfinite(d)) continue;
        if (i % 7 == 0) d = (double)(int64_t)(rng() % 2000001) - 1000000.0; /* whole numbers */
        if (i % 11 == 0) d = (double)(rng() % 100000) / 1000.0;            /* short decimals */
        snprintf(buf, sizeof(buf), forms[i % 6], d);
        if (strchr(buf, 'n') || strchr(buf, 'i')) continue;
        bad += !check_number_text(buf);
    }
    CHECK(bad == 0);
}


/* The Eisel-Lemire path (numparse.c) and the 8-digit groups: random digit
 * strings of 1..24 digits with the point anywhere and exponents across the
 * whole range, exact halfway cases (an odd 54-bit integer, times 2^j or
 * over 10^k times 5^k), and texts one digit off those ties: each must be
 * strtod's double, bit for bit. Two million texts. */
static void json_long_mantissas_match_strtod(void)
{
    char buf[128];
    int bad = 0;
    for (int i = 0; i < 2000000 && bad < 10; i++) {
        int n = 0;
        if (i % 4 == 3) { /* a tie, or a digit off it */
            uint64_t odd = (rng() >> 11) | 1, m = odd << 1 | 1; /* 54 bits, last set */
            int k = (int)(rng() % 24);
            unsigned __int128 big = m;
            for (int j = 0; j < k && big < ((unsigned __int128)1 << 100); j++) big *= 5;
            /* digits of big, then a point k places from the end */
            char d[48];
            int nd = 0;
            for (unsigned __int128 x = big; x; x /= 10) d[nd++] = (char)('0' + (int)(x % 10));
            if (k >= nd) k = nd - 1;
            for (int j = nd - 1; j >= 0; j--) {
                buf[n++] = d[j];
                if (j == k && k > 0) buf[n++] = '.';
            }
            if (rng() % 2) buf[n - 1] = (char)(buf[n - 1] == '9' ? '8' : buf[n - 1] + 1);
            buf[n] = '\0';
        } else {
            int nd = 1 + (int)(rng() % 24), point = (int)(rng() % (uint64_t)(nd + 1));
            if (rng() % 2) buf[n++] = '-';
            for (int j = 0; j < nd; j++) {
                if (j == point && j > 0) buf[n++] = '.';
                buf[n++] = (char)('0' + (j == 0 ? 1 + rng() % 9 : rng() % 10));
            }
            int ex = i % 4 == 0 ? (int)(rng() % 700) - 350 : (int)(rng() % 60) - 30;
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, "e%d", ex);
        }
        bad += !check_number_text(buf);
    }
    CHECK(bad == 0);
}

/* ---- trees against cJSON ---------------------------------------------------- */

static int same_tree(const cJSON *a, const cJSON *b)
{
    for (; a && b; a = a->next, b = b->next) {
        if ((a->type & 0xff) != (b->type & 0xff)) return 0;
        if (!!a->string != !!b->string || (a->string && strcmp(a->string, b->string))) return 0;
        if (cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring)) return 0;
        if (cJSON_IsNumber(a) && (!same_bits(a->valuedouble, b->valuedouble) ||
                                  a->valueint != b->valueint))
            return 0;
        if (!same_tree(a->child, b->child)) return 0;
        if (a->child && a->child->prev != cJSON_GetArrayItem(a, cJSON_GetArraySize(a) - 1))
            return 0; /* cJSON's invariant: the first child's prev is the last */
    }
    return !a && !b;
}

static void gen_string(th_text *t)
{
    static const char *const pieces[] = {"a", "key", "\\\"", "\\\\", "\\/", "\\n", "\\t",
                                         "\\u00e9", "\\u20ac", "\\ud83d\\ude00", "\xc3\xa9",
                                         " ", "\\b\\f\\r", "x_1"};
    th_put(t, "\"");
    for (int k = (int)(rng() % 5); k > 0; k--) th_put(t, pieces[rng() % 14]);
    th_put(t, "\"");
}

static void gen_value(th_text *t, int depth)
{
    char num[64];
    int kind = (int)(rng() % (depth > 5 ? 6 : 8));
    switch (kind) {
    case 0: th_put(t, "true"); break;
    case 1: th_put(t, "false"); break;
    case 2: th_put(t, "null"); break;
    case 3: gen_string(t); break;
    case 4:
        snprintf(num, sizeof(num), "%.9g", (double)(int64_t)(rng() % 200000 - 100000) / 7.0);
        th_put(t, num);
        break;
    case 5:
        snprintf(num, sizeof(num), "%lld", (long long)(rng() % 4000000000ULL) - 2000000000LL);
        th_put(t, num);
        break;
    case 6:
        th_put(t, "[ ");
        for (int k = (int)(rng() % 5), first = 1; k > 0; k--, first = 0) {
            if (!first) th_put(t, rng() % 2 ? "," : " ,\n");
            gen_value(t, depth + 1);
        }
        th_put(t, "]");
        break;
    default:
        th_put(t, "{");
        for (int k = (int)(rng() % 5), first = 1; k > 0; k--, first = 0) {
            if (!first) th_put(t, ", ");
            gen_string(t);
            th_put(t, rng() % 2 ? ":" : " : ");
            gen_value(t, depth + 1);
        }
        th_put(t, "}");
        break;
    }
}

static void json_random_documents_match_cjson(void)
{
    int bad = 0;
    for (int i = 0; i < 3000 && bad < 5; i++) {
        th_text t = {0};
        th_put(&t, rng() % 2 ? "{\"inputs\":" : "[");
        gen_value(&t, 0);
        th_put(&t, t.s[0] == '{' ? "}" : "]");
        cJSON *ours = parse(t.s, NULL), *theirs = cJSON_Parse(t.s);
        if (!ours || !theirs || !same_tree(ours, theirs)) {
            bad++;
            printf("    differs: %s\n", t.s);
        }
        cJSON_Delete(ours);
        cJSON_Delete(theirs);
        free(t.s);
    }
    CHECK(bad == 0);
}

/* ---- syntax ------------------------------------------------------------------ */

static void json_malformed_is_rejected_at_the_fault(void)
{
    static const struct {
        const char *text;
        int at; /* where parsing stops */
    } bad[] = {
        {"[01]", 2},        {"1.", 2},         {"[.5]", 1},
        {"+1", 0},          {"-", 1},           {"1e", 2},         {"1e+", 3},
        {"[1,]", 3},        {"[1 2]", 3},       {"{,}", 1},        {"{\"a\"}", 4},
        {"{\"a\":}", 5},    {"{\"a\" 1}", 5},   {"{a:1}", 1},      {"[\"abc", 5},
        {"\"a\x01b\"", 2},  {"\"\\x\"", 2},     {"\"\\u12\"", 2},  {"\"\\ud800\"", 2},
        {"\"\\udc00\"", 2}, {"\"\\ud800\\u0041\"", 2}, {"tru", 0}, {"nul", 0},
        {"[", 1},           {"{", 1},           {"", 0},           {"[1}", 2},
        {"nan", 0},         {"[Inf]", 1},       {"'a'", 0},        {"{\"a\":1,}", 7},
        {"[-Infinit]", 2},  {"Na", 0},          {"\"\xc0\xaf\"", 1}, {"\"a\xed\xa0\x80\"", 2},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *end;
        cJSON *v = parse(bad[i].text, &end);
        CHECKF(v == NULL, "accepted %s", bad[i].text);
        CHECKF(end - bad[i].text == bad[i].at, "%s: stopped at %d, want %d", bad[i].text,
               (int)(end - bad[i].text), bad[i].at);
        cJSON_Delete(v);
    }
}

static void json_escapes_and_unicode_decode(void)
{
    cJSON *v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\"", NULL);
    CHECK(v && cJSON_IsString(v));
    if (v) CHECK(!strcmp(v->valuestring, "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    cJSON_Delete(v);
}

static void json_nesting_limit(void)
{
    size_t n = UP_JSON_MAX_DEPTH + 1;
    char *s = malloc(2 * n + 1);
    const char *end;
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    cJSON *v = up_json_parse_value(s, 2 * n, &end);
    CHECK(v == NULL); /* one level too deep */
    cJSON_Delete(v);
    v = up_json_parse_value(s + 1, 2 * n - 2, &end); /* exactly the limit */
    CHECK(v != NULL && end == s + 2 * n - 1);
    cJSON_Delete(v);
    free(s);
}

static void json_whitespace_and_stop_offset(void)
{
    const char *end;
    cJSON *v = parse(" \t\r\n{ \"k\" :\n[ 1 , 2 ] } tail", &end);
    CHECK(v && cJSON_GetArraySize(cJSON_GetObjectItem(v, "k")) == 2);
    CHECK(end && !strcmp(end, " tail"));
    cJSON_Delete(v);
    /* a document is one value: "01" is 0 followed by junk */
    size_t at = 0;
    CHECK(up_json_parse_document("01", 2, &at) == NULL && at == 1);
    v = up_json_parse_document(" [1]\n", 5, &at);
    CHECK(v != NULL);
    up_json_document_free(v);
    /* duplicate keys are kept in order, as cJSON does: decoders report them */
    v = parse("{\"a\":1,\"a\":2}", NULL);
    CHECK(v && cJSON_GetArraySize(v) == 2 && v->child->next->valuedouble == 2);
    cJSON_Delete(v);
}

/* ---- spans ------------------------------------------------------------------ */

static cJSON *parse_spans(const char *s, up_json_fault *f)
{
    return up_json_parse(s, strlen(s), 0, UP_JSON_SPANS | UP_JSON_STRICT, f);
}

static void json_span_documents_match_cjson(void)
{
    int bad = 0, spans = 0;
    for (int i = 0; i < 5000 && bad < 5; i++) {
        th_text t = {0};
        up_json_fault f;
        th_put(&t, rng() % 2 ? "{\"inputs\":" : "[");
        gen_value(&t, 0);
        th_put(&t, t.s[0] == '{' ? "}" : "]");
        cJSON *ours = parse_spans(t.s, &f), *theirs = cJSON_Parse(t.s);
        int repeat = theirs && th_has_repeat(theirs);
        if (!theirs || (repeat ? ours || f.kind != UP_JSON_DUP_KEY : !ours || !th_same_tree_spans(ours, theirs))) {
            bad++;
            printf("    differs (fault %d): %s\n", f.kind, t.s);
        }
        spans += ours && strstr(t.s, "[");
        cJSON_Delete(ours);
        cJSON_Delete(theirs);
        free(t.s);
    }
    CHECK(bad == 0);
    CHECK(spans > 1000);
}

/* Number lists of every shape and spelling, big enough to leave the kept
 * values behind: spans against cJSON, bit for bit. */
static void json_span_number_lists_match_cjson(void)
{
    static const char *const forms[] = {"%.9g", "%.17g", "%.3e", "%.0f", "%g", "%.12g"};
    int bad = 0;
    for (int round = 0; round < 300 && bad < 3; round++) {
        th_text t = {0};
        int d0 = 1 + (int)(rng() % 9), d1 = 1 + (int)(rng() % 40), ragged = round % 5 == 0;
        char num[64];
        up_json_fault f;
        th_put(&t, "[");
        for (int a = 0; a < d0; a++) {
            th_put(&t, a ? (rng() % 2 ? "," : " ,\n ") : "");
            th_put(&t, "[");
            for (int b = 0; b < d1 - (ragged && a == d0 - 1); b++) {
                double d;
                uint64_t bits = rng();
                memcpy(&d, &bits, sizeof(d));
                if (!isfinite(d) || rng() % 2) d = (double)(int64_t)(rng() % 2000001) / 1000.0 - 1000;
                snprintf(num, sizeof(num), forms[rng() % 6], d);
                if (rng() % 50 == 0) snprintf(num, sizeof(num), "%s", rng() % 2 ? "null" : "\"NaN\"");
                th_put(&t, b ? "," : "");
                th_put(&t, num);
            }
            th_put(&t, "]");
        }
        th_put(&t, "]");
        cJSON *ours = parse_spans(t.s, &f), *theirs = cJSON_Parse(t.s);
        if (!ours || !theirs || !th_is_span(ours) || !th_same_span(ours, theirs)) {
            bad++;
            printf("    differs: %.200s\n", t.s);
        }
        cJSON_Delete(ours);
        cJSON_Delete(theirs);
        free(t.s);
    }
    CHECK(bad == 0);
}

static void check_list(const char *text, int64_t leaves, int height, int rank, int regular,
                       int numbers, const int64_t *shape)
{
    up_json_fault f;
    up_json_list l;
    cJSON *v = parse_spans(text, &f);
    CHECKF(v && up_json_list_of(v, &l), "%s", text);
    if (v && up_json_list_of(v, &l)) {
        CHECKF(l.leaves == leaves && l.height == height && l.rank == rank && l.regular == regular &&
                   l.numbers == numbers,
               "%s: leaves %lld height %d rank %d regular %d numbers %d", text, (long long)l.leaves,
               l.height, l.rank, l.regular, l.numbers);
        for (int d = 0; shape && d < rank && d < UP_MAX_RANK; d++)
            CHECKF(l.shape[d] == shape[d], "%s: dim %d is %lld", text, d, (long long)l.shape[d]);
    }
    cJSON_Delete(v);
}

static void json_span_summaries(void)
{
    up_json_fault f;
    cJSON *v;
    check_list("[1, 2, 3]", 3, 1, 1, 1, 1, (int64_t[]){3});
    check_list("[[1,2],[3,4],[5,6]]", 6, 2, 2, 1, 1, (int64_t[]){3, 2});
    check_list("[[]]", 0, 2, 2, 1, 1, (int64_t[]){1, 0});
    check_list("[[],[]]", 0, 2, 2, 1, 1, (int64_t[]){2, 0});
    check_list("[[1,2],[3]]", 3, 2, 2, 0, 1, (int64_t[]){2, 2});
    check_list("[[1,2],3]", 3, 2, 2, 0, 1, (int64_t[]){2, 2});
    check_list("[1,[2]]", 2, 2, 1, 0, 1, (int64_t[]){2});
    check_list("[[[[[[1]]]]]]", 1, 6, 6, 0, 1, NULL); /* rank 6: no tensor */
    check_list("[[[[[1]]]]]", 1, 5, 5, 1, 1, (int64_t[]){1, 1, 1, 1, 1});
    check_list("[\"NaN\", null, true, -0.0]", 4, 1, 1, 1, 0, (int64_t[]){4});
    check_list("[[1,2],[\"a\",\"b\"]]", 4, 2, 2, 1, 0, (int64_t[]){2, 2});
    /* [] stays a plain empty array (lists of objects may be empty) */
    v = parse_spans("[]", &f);
    CHECK(v && cJSON_IsArray(v) && !v->child);
    cJSON_Delete(v);
    /* an object inside: plain nodes, arrays beside it spans again */
    v = parse_spans("[[1,2],{\"a\":[3,4]},5]", &f);
    CHECK(v && cJSON_IsArray(v) && cJSON_GetArraySize(v) == 3);
    if (v && cJSON_GetArraySize(v) == 3) {
        CHECK(th_is_span(v->child) && cJSON_IsObject(v->child->next) &&
              th_is_span(v->child->next->child) && cJSON_IsNumber(v->child->next->next));
    }
    cJSON_Delete(v);
    v = parse_spans("[1,[2,[3,{}]],[4]]", &f);
    CHECK(v && cJSON_IsNumber(v->child) && cJSON_IsArray(v->child->next) &&
          th_is_span(v->child->next->next));
    cJSON_Delete(v);
}

static void json_span_walk_strings_and_literals(void)
{
    up_json_fault f;
    char longs[200];
    memset(longs, 0, sizeof(longs));
    cJSON *v = parse_spans("[\"\\u004eaN\", \"x\\ny\", \"\\ud83d\\ude00\", true, false, null, 1e400, -2147483649, 2147483648]", &f);
    cJSON *w = cJSON_Parse("[\"NaN\", \"x\\ny\", \"\\ud83d\\ude00\", true, false, null, 1e400, -2147483649, 2147483648]");
    CHECK(v && w && th_same_span(v, w));
    cJSON_Delete(v);
    cJSON_Delete(w);
    /* a string past 63 bytes is cut to 60 and "..." */
    snprintf(longs, sizeof(longs), "[\"%0100d\"]", 7);
    v = parse_spans(longs, &f);
    w = cJSON_Parse(longs);
    CHECK(v && w && th_same_span(v, w));
    cJSON_Delete(v);
    cJSON_Delete(w);
}

static void json_numbers_helper(void)
{
    up_json_fault f;
    double out[3];
    cJSON *v = parse_spans("{\"a\":[1,2,3],\"b\":[1,2,3,4],\"c\":[1,\"x\"],\"d\":[[1]],\"e\":[],\"f\":7}", &f);
    CHECK(v != NULL);
    if (!v) return;
    CHECK(up_json_numbers(cJSON_GetObjectItem(v, "a"), out, 3) == 3 && out[2] == 3);
    CHECK(up_json_numbers(cJSON_GetObjectItem(v, "b"), out, 3) == -2);
    CHECK(up_json_numbers(cJSON_GetObjectItem(v, "c"), out, 3) == -1);
    CHECK(up_json_numbers(cJSON_GetObjectItem(v, "d"), out, 3) == -1);
    CHECK(up_json_numbers(cJSON_GetObjectItem(v, "e"), out, 3) == 0);
    CHECK(up_json_numbers(cJSON_GetObjectItem(v, "f"), out, 3) == -1);
    cJSON_Delete(v);
    /* plain cJSON trees read alike */
    v = cJSON_Parse("[4,5]");
    CHECK(up_json_numbers(v, out, 3) == 2 && out[0] == 4 && out[1] == 5);
    cJSON_Delete(v);
}

/* Bare NaN, Infinity and -Infinity inside spans: numbers, kept (a small
 * span), read back from the text (a large one) and walked, the same as the
 * plain parser's nodes. */
static int words_run(void *ctx, int64_t i0, const double *v, int n)
{
    int *bad = ctx;
    for (int k = 0; k < n; k++) {
        int64_t i = i0 + k;
        double want = i % 4 == 0 ? NAN : i % 4 == 1 ? INFINITY : i % 4 == 2 ? -INFINITY : 0.5;
        if (isnan(want) ? !isnan(v[k]) : v[k] != want) *bad = 1;
    }
    return 0;
}

static int words_leaf(void *ctx, int64_t i, const cJSON *leaf)
{
    double x = leaf->valuedouble;
    int *bad = ctx;
    if (!cJSON_IsNumber(leaf)) *bad = 1;
    else words_run(ctx, i, &x, 1);
    if (isnan(x) && leaf->valueint != 0) *bad = 1;
    return 0;
}

static void json_span_number_words(void)
{
    static const int counts[] = {4, 400}; /* values kept, and read from the text */
    for (int c = 0; c < 2; c++) {
        th_text t = {0};
        up_json_fault f;
        up_json_list l;
        const char *end;
        int bad = 0;
        th_put(&t, "[[");
        for (int i = 0; i < counts[c]; i++) {
            static const char *w[] = {"NaN", "Infinity", "-Infinity", "0.5"};
            if (i) th_put(&t, i % 8 == 0 ? "],[" : ",");
            th_put(&t, w[i % 4]);
        }
        th_put(&t, "]]");
        cJSON *v = parse_spans(t.s, &f), *plain = parse(t.s, &end);
        CHECKF(v && th_is_span(v) && up_json_list_of(v, &l), "%d: not a span", counts[c]);
        if (v && up_json_list_of(v, &l)) {
            CHECK(l.numbers && l.leaves == counts[c] && l.height == 2);
            CHECK((l.values != NULL) == (c == 0));
            CHECK(up_json_list_numbers(&l, words_run, &bad) == 0 && !bad);
            CHECK(up_json_list_walk(&l, words_leaf, &bad) == 0 && !bad);
        }
        CHECK(plain && th_same_tree_spans(v, plain));
        cJSON_Delete(v);
        cJSON_Delete(plain);
        free(t.s);
    }
}

/* A span's strings are UTF-8 checked like a node's; a walked string cut
 * to fit is cut where a character starts. */
static int copy_leaf(void *ctx, int64_t i, const cJSON *leaf)
{
    (void)i;
    if (cJSON_IsString(leaf)) snprintf(ctx, 80, "%s", leaf->valuestring);
    return 0;
}

static void json_span_utf8(void)
{
    up_json_fault f;
    up_json_list l;
    char doc[300];
    int k = 0;
    cJSON *v = parse_spans("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", 1]", &f);
    CHECK(v && th_is_span(v));
    cJSON_Delete(v);
    /* "a" and 40 two-byte characters: 81 bytes, cut to fit 60, where
     * byte 60 is the second half of a character */
    k += sprintf(doc, "[\"a");
    for (int i = 0; i < 40; i++) k += sprintf(doc + k, "\xc3\xa9");
    sprintf(doc + k, "\"]");
    v = parse_spans(doc, &f);
    CHECK(v && up_json_list_of(v, &l));
    if (v && up_json_list_of(v, &l)) {
        static char got[80];
        CHECK(up_json_list_walk(&l, copy_leaf, got) == 0);
        size_t n = strlen(got);
        CHECKF(n == 62 && !strcmp(got + n - 3, "...") && got[0] == 'a', "cut to %zu bytes: \"%s\"",
               n, got);
        for (size_t i = 1; i + 3 < n; i++)
            CHECKF((unsigned char)got[i] == (i % 2 ? 0xc3 : 0xa9), "byte %zu", i);
    }
    cJSON_Delete(v);
}

/* The malformed forms stop at the same byte with spans. */
static void json_span_malformed_stop_offsets(void)
{
    static const struct {
        const char *text;
        int at;
    } bad[] = {
        {"[01]", 2}, {"[1,]", 3}, {"[1 2]", 3}, {"[\"abc", 5}, {"[1}", 2}, {"[Inf]", 1},
        {"[-Infinit]", 2}, {"[NaNx]", 4}, {"[-NaN]", 2}, {"[1,nan]", 3},
        /* ill-formed UTF-8 inside a span's strings: overlong, surrogate,
         * past U+10FFFF, stray continuation, truncated */
        {"[1,\"\xc0\xaf\"]", 4}, {"[1,\"a\xed\xa0\x80\"]", 5}, {"[\"\xf4\x90\x80\x80\"]", 2},
        {"[[\"\x80\"]]", 3}, {"[\"\xe2\x82\"]", 2},
        {"[[1,2],[3,", 10}, {"[[1],[2]", 8}, {"[1,\"\\x\"]", 5}, {"[1,\"a\x01\"]", 5},
        {"[[1],{\"a\":}]", 10}, {"[1,2,{},[3,]]", 11}, {"[-]", 2}, {"[1.]", 3}, {"[tru]", 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        up_json_fault f;
        cJSON *v = parse_spans(bad[i].text, &f);
        CHECKF(v == NULL && f.kind == UP_JSON_SYNTAX, "accepted %s", bad[i].text);
        CHECKF((int)f.at == bad[i].at, "%s: stopped at %d, want %d", bad[i].text, (int)f.at, bad[i].at);
        cJSON_Delete(v);
    }
}

static void json_span_depth_limit(void)
{
    up_json_fault f;
    cJSON *v = up_json_parse("[[[[1]]]]", 9, 3, UP_JSON_SPANS, &f);
    CHECK(v == NULL && f.kind == UP_JSON_TOO_DEEP && f.at == 3);
    v = up_json_parse("[[[[1]]]]", 9, 4, UP_JSON_SPANS, &f);
    CHECK(v != NULL && th_is_span(v));
    cJSON_Delete(v);
    v = up_json_parse("{\"a\":[{\"b\":[[1]]}]}", 19, 4, UP_JSON_SPANS, &f);
    CHECK(v == NULL && f.kind == UP_JSON_TOO_DEEP);
}

/* ---- strict mode ------------------------------------------------------------- */

static void check_fault(const char *text, int kind, const char *path, const char *snippet)
{
    up_json_fault f;
    cJSON *v = parse_spans(text, &f), *plain;
    const char *end;
    CHECKF(v == NULL && f.kind == kind, "%s: kind %d", text, f.kind);
    CHECKF(!strcmp(f.path, path), "%s: path \"%s\", want \"%s\"", text, f.path, path);
    CHECKF(strstr(f.text, snippet) != NULL, "%s: text \"%s\" lacks \"%s\"", text, f.text, snippet);
    cJSON_Delete(v);
    /* the plain parser takes them, as cJSON does */
    plain = up_json_parse_value(text, strlen(text), &end);
    CHECKF(plain != NULL, "plain refused %s", text);
    cJSON_Delete(plain);
}

static void json_strict_nul_and_repeats(void)
{
    check_fault("{\"x\\u0000junk\":1}", UP_JSON_NUL_KEY, "", "x\\u0000junk");
    check_fault("{\"params\":{\"mode\":\"nearest\\u0000x\"}}", UP_JSON_NUL_STRING, "params.mode",
                "nearest\\u0000x");
    check_fault("{\"x\":{\"data\":[\"NaN\",\"a\\u0000\"]}}", UP_JSON_NUL_STRING, "x.data[1]", "a\\u0000");
    check_fault("{\"a\":1,\"b\":2,\"a\":3}", UP_JSON_DUP_KEY, "a", "a");
    check_fault("{\"inputs\":[{\"name\":\"x\",\"name\":\"y\"}]}", UP_JSON_DUP_KEY, "inputs[0].name",
                "name");
    check_fault("{\"a\":{\"b\":[1,{\"c\":1,\"c\":2}]}}", UP_JSON_DUP_KEY, "a.b[1].c", "c");
    /* past 8 keys the check sorts */
    check_fault("{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,"
                "\"k9\":9,\"k10\":10,\"k4\":11}",
                UP_JSON_DUP_KEY, "k4", "k4");
    /* distinct keys, \u0000-free: fine */
    up_json_fault f;
    cJSON *v = parse_spans("{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,"
                           "\"k8\":8,\"k9\":9,\"a\":\"\\u0001\"}",
                           &f);
    CHECK(v != NULL);
    cJSON_Delete(v);
}

/* ---- memory ------------------------------------------------------------------ */

static char *number_list(int n, size_t *len)
{
    char *s = malloc((size_t)n * 12 + 64);
    size_t k = 0;
    k += (size_t)sprintf(s, "{\"x\":{\"data\":[");
    for (int i = 0; i < n; i++) k += (size_t)sprintf(s + k, "%s%d.25", i ? "," : "", i % 1000);
    k += (size_t)sprintf(s + k, "]}}");
    *len = k;
    return s;
}

static void json_list_costs_no_memory_per_number(void)
{
    size_t n;
    char *s = number_list(1000000, &n); /* ~7 MB of numbers */
    th_budget b = {.limit = (int64_t)1 << 20};
    up_charge ch = {.take = th_budget_take, .ctx = &b};
    up_limits lim = {.max_json_depth = 64};
    up_json_req rq = {.lim = &lim, .charge = &ch, .field = "", .what = "the body"};
    up_error err;
    up_error_clear(&err);
    cJSON *root = up_json_parse_request(s, n, &rq, &err);
    CHECK(root != NULL);
    CHECKF(b.used <= (int64_t)256 << 10, "charged %lld bytes for a %zu-byte list", (long long)b.used, n);
    if (root) {
        up_json_list l;
        CHECK(up_json_list_of(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "x"), "data"), &l) &&
              l.leaves == 1000000);
    }
    up_json_document_free(root);
    free(s);
}

static void json_refused_charge_is_the_hooks_error(void)
{
    /* objects are nodes: 20k of them need more than 64 KiB */
    th_text t = {0};
    th_budget b = {.limit = (int64_t)64 << 10};
    up_charge ch = {.take = th_budget_take, .ctx = &b};
    up_json_req rq = {.charge = &ch, .field = "", .what = "the body"};
    up_error err;
    up_error_clear(&err);
    th_put(&t, "[");
    for (int i = 0; i < 20000; i++) th_put(&t, i ? ",{\"a\":1}" : "{\"a\":1}");
    th_put(&t, "]");
    cJSON *root = up_json_parse_request(t.s, t.n, &rq, &err);
    CHECK(root == NULL);
    CHECK(err.kind == UP_E_OVERLOADED && err.n == 1 && strstr(err.items[0].message, "budget:"));
    CHECK(b.used <= b.limit);
    up_json_document_free(root);
    /* with room, the same document parses, and every byte was charged */
    b = (th_budget){.limit = (int64_t)1 << 30};
    up_error_clear(&err);
    root = up_json_parse_request(t.s, t.n, &rq, &err);
    CHECK(root != NULL && cJSON_GetArraySize(root) == 20000);
    CHECKF(b.used >= 20000 * 2 * (int64_t)sizeof(cJSON), "charged %lld", (long long)b.used);
    up_json_document_free(root);
    free(t.s);
}

/* A LAZY request parse passes over a bad run and goes on building nodes
 * the strict parse never would, until the budget refuses one: the error is
 * still the syntax fault in the run, at the strict parse's byte. */
static void json_lazy_refused_charge_after_a_bad_run(void)
{
    th_text t = {0};
    th_budget b = {.limit = (int64_t)64 << 10};
    up_charge ch = {.take = th_budget_take, .ctx = &b};
    up_json_req rq = {.charge = &ch, .field = "body", .what = "the body"};
    up_error lazy, strict;
    up_json_fault f;
    th_put(&t, "[[");
    for (int i = 0; i < 100; i++) th_put(&t, i == 90 ? "1.e5," : "0.5,");
    th_put(&t, "1]");
    for (int i = 0; i < 20000; i++) th_put(&t, ",{\"a\":1}");
    th_put(&t, "]");
    CHECK(up_json_parse(t.s, t.n, 0, UP_JSON_SPANS | UP_JSON_STRICT, &f) == NULL &&
          f.kind == UP_JSON_SYNTAX && f.at == 2 + 90 * 4 + 2);
    up_error_clear(&strict);
    CHECK(up_json_parse_request(t.s, t.n, &rq, &strict) == NULL);
    b = (th_budget){.limit = (int64_t)64 << 10};
    rq.lazy = 1;
    up_error_clear(&lazy);
    CHECK(up_json_parse_request(t.s, t.n, &rq, &lazy) == NULL);
    CHECKF(lazy.kind == UP_E_MALFORMED && strict.kind == UP_E_MALFORMED &&
               !strcmp(lazy.items[0].message, strict.items[0].message),
           "lazy \"%s\", strict \"%s\"", lazy.items[0].message, strict.items[0].message);
    CHECK(strstr(lazy.items[0].message, "at byte 364"));
    free(t.s);
}

static void json_request_errors(void)
{
    up_limits lim = {.max_json_depth = 3};
    up_json_req rq = {.lim = &lim, .field = "body", .what = "the header"};
    up_error err;
    up_error_clear(&err);
    CHECK(up_json_parse_request("[[[[1]]]]", 9, &rq, &err) == NULL);
    CHECK(err.kind == UP_E_MALFORMED && strstr(err.items[0].message, "deeper than 3"));
    up_error_clear(&err);
    CHECK(up_json_parse_request("{\"a\":1,\"a\":2}", 13, &rq, &err) == NULL);
    CHECK(err.kind == UP_E_MALFORMED && !strcmp(err.items[0].field, "a") &&
          strstr(err.items[0].message, "repeated JSON key \"a\""));
    up_error_clear(&err);
    CHECK(up_json_parse_request("{\"a\":1} x", 9, &rq, &err) == NULL);
    CHECK(err.kind == UP_E_MALFORMED && !strcmp(err.items[0].field, "body") &&
          strstr(err.items[0].message, "byte 8"));
    up_error_clear(&err);
    rq.prefix = 1;
    cJSON *v = up_json_parse_request("{\"a\":1} x", 9, &rq, &err);
    CHECK(v != NULL && rq.end == 7);
    up_json_document_free(v);
    CHECK(up_json_depth_limit(NULL) == 64);
    CHECK(up_json_depth_limit(&(up_limits){.max_json_depth = 100000}) == UP_JSON_MAX_DEPTH);
}


/* ---- UP_JSON_LAZY ------------------------------------------------------------ */

/* One lazy parse against the strict one on the same bytes: the same fault
 * (kind and byte) when lazy fails; else up_json_check_spans finds the
 * strict syntax fault, or the strict parse accepts and the lazy tree is
 * the plain tree, its numbers read in one pass first (th_same_span). A
 * refused document that is one span of numbers is refused by the one-pass
 * read as well. Returns 1 when they agree. */
static int lazy_agrees(const char *s, size_t n)
{
    up_json_fault sf, lf;
    const char *end;
    size_t at;
    up_json_list l;
    int ok = 1;
    cJSON *strict = up_json_parse(s, n, 0, UP_JSON_SPANS | UP_JSON_STRICT, &sf);
    cJSON *lazy = up_json_parse(s, n, 0, UP_JSON_SPANS | UP_JSON_STRICT | UP_JSON_LAZY, &lf);
    cJSON *plain = strict ? up_json_parse_value(s, n, &end) : NULL;
    if (!lazy) {
        ok = !strict && lf.kind == sf.kind && lf.at == sf.at;
    } else if (!strict) {
        if (up_json_list_of(lazy, &l) && l.numbers && l.leaves < 100000) {
            double *d = malloc(sizeof(double) * (size_t)(l.leaves + 1));
            ok = up_json_list_floats(&l, UP_F64, d) < 0;
            free(d);
        }
        ok = ok && up_json_check_spans(lazy, s, &at) < 0 && sf.kind == UP_JSON_SYNTAX && at == sf.at;
    } else {
        ok = plain && th_same_tree_spans(lazy, plain) && up_json_check_spans(lazy, s, &at) == 0;
    }
    cJSON_Delete(strict);
    cJSON_Delete(lazy);
    cJSON_Delete(plain);
    return ok;
}

/* Long lists of numbers in every spelling (words, exponents, blanks,
 * nesting, the odd string or object), then the same with one byte changed
 * to one a number or a list is made of: lazy and strict agree on every
 * one, valid or not. */
static void json_lazy_agrees_with_strict(void)
{
    static const char *const forms[] = {"%.9g", "%.17g", "%.3e", "%.0f", "%g", "%.2E"};
    static const char *const words[] = {"NaN", "Infinity", "-Infinity", "-0", "0", "1e400",
                                        "null", "\"NaN\"", "{}", "-1e-400"};
    static const char swaps[] = "0123456789.eE+-,[] NaIy\"x\n";
    int bad = 0, invalid = 0;
    for (int round = 0; round < 3000 && bad < 3; round++) {
        th_text t = {0};
        char num[64];
        int rows = 1 + (int)(rng() % 3), per = 60 + (int)(rng() % 100), nest = rows > 1 || rng() % 2;
        th_put(&t, nest ? "[" : "");
        for (int a = 0; a < rows; a++) {
            th_put(&t, a ? (rng() % 4 ? "," : " ,\n") : "");
            th_put(&t, "[");
            for (int b = 0; b < per; b++) {
                double d = (double)(int64_t)(rng() % 2000001) / 1000.0 - 1000;
                if (rng() % 3 == 0) d *= 1e-9;
                snprintf(num, sizeof(num), forms[rng() % 6], d);
                if (rng() % 40 == 0) snprintf(num, sizeof(num), "%s", words[rng() % 10]);
                th_put(&t, b ? (rng() % 30 ? "," : ", ") : "");
                th_put(&t, num);
            }
            th_put(&t, "]");
        }
        th_put(&t, nest ? "]" : "");
        if (round % 4) { /* one byte changed, inserted or dropped */
            size_t at = (size_t)(rng() % t.n);
            char c = swaps[rng() % (sizeof(swaps) - 1)];
            int how = (int)(rng() % 3);
            if (how == 0) t.s[at] = c;
            else if (how == 1) memmove(t.s + at, t.s + at + 1, t.n-- - at);
            else {
                th_put(&t, " ");
                memmove(t.s + at + 1, t.s + at, t.n - at - 1);
                t.s[at] = c;
            }
        }
        if (!lazy_agrees(t.s, t.n)) {
            bad++;
            printf("    differs: %.300s\n", t.s);
        }
        up_json_fault f;
        cJSON *v = up_json_parse(t.s, t.n, 0, UP_JSON_SPANS | UP_JSON_STRICT, &f);
        invalid += !v;
        cJSON_Delete(v);
        free(t.s);
    }
    CHECK(bad == 0);
    CHECKF(invalid > 500, "only %d invalid documents", invalid);
}

/* Pinned cases: a fault in the run passed over, a run cut by the end of
 * the text, a word after a run, a number cut between two 16-byte steps,
 * and runs beside blanks and nesting. */
static void json_lazy_edges(void)
{
    static const char *const tails[] = {
        "1.e5]", "1e]", "1]", "1,]", "1,,2]", "-Infinity,2]", "1,-Infinity]", "NaN,NaN]",
        "-NaN]", "1 ,2]", "1, 2]", "1\n]", "[1],[2]]", "1.5e+07,2E-3]", "1.5", "1.5e", "1,",
        "1-2]", "1.2.3]", "0.5,01]", "1e99999999999,-1e-99999999999]", "-0,-0.0]", "2,[]]"};
    th_text head = {0};
    th_put(&head, "[");
    for (int k = 0; k < 70; k++) th_put(&head, "0.25,"); /* 350 bytes: runs cross 16-byte steps */
    for (size_t i = 0; i < sizeof(tails) / sizeof(*tails); i++)
        for (int shift = 0; shift < 17; shift++) {
            th_text t = {0};
            th_put(&t, head.s);
            for (int k = 0; k < shift; k++) th_put(&t, "7,");
            th_put(&t, tails[i]);
            CHECKF(lazy_agrees(t.s, t.n), "%s after %d", tails[i], shift);
            free(t.s);
        }
    free(head.s);
}

/* One-pass reads of small spans (their kept values) and of plain trees
 * agree with the walk. */
static void json_list_floats_small_and_trees(void)
{
    up_json_fault f;
    up_json_list l;
    const char *end;
    double d[4];
    float g[4];
    cJSON *v = parse_spans("[1.5, -0, 1e-46, 3.4028235677973366e38]", &f);
    CHECK(v && up_json_list_of(v, &l) && l.values);
    CHECK(up_json_list_floats(&l, UP_F64, d) == 0 && d[0] == 1.5 && signbit(d[1]) && d[2] == 1e-46);
    CHECK(up_json_list_floats(&l, UP_F32, g) == 0 && g[0] == 1.5f && signbit(g[1]) && g[2] == 0 &&
          isinf(g[3]));
    CHECK(up_json_list_floats(&l, UP_I32, d) == -1);
    cJSON_Delete(v);
    v = up_json_parse_value("[[1,2],[3,4]]", 13, &end);
    CHECK(v && up_json_list_of(v, &l) && !l.text);
    CHECK(up_json_list_floats(&l, UP_F32, g) == 0 && g[0] == 1 && g[3] == 4);
    cJSON_Delete(v);
    v = parse_spans("[1, null]", &f);
    CHECK(v && up_json_list_of(v, &l) && up_json_list_floats(&l, UP_F32, g) == -1);
    cJSON_Delete(v);
}

/* An object deep inside nested number lists turns every enclosing list
 * into nodes; each byte is still read at most twice, so a deep document
 * costs about what a flat one with the same numbers does (a rescan per
 * level would cost depth times more). */
static double parse_seconds(const char *s, size_t n)
{
    struct timespec a, b;
    up_json_fault f;
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        cJSON *v = up_json_parse(s, n, UP_JSON_MAX_DEPTH, UP_JSON_SPANS | UP_JSON_STRICT, &f);
        clock_gettime(CLOCK_MONOTONIC, &b);
        CHECK(v != NULL);
        cJSON_Delete(v);
        double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
        if (t < best) best = t;
    }
    return best;
}

static void json_span_fallback_reads_bytes_at_most_twice(void)
{
    enum { DEPTH = 300, PER = 1000 };
    th_text deep = {0}, flat = {0};
    char num[32];
    for (int d = 0; d < DEPTH; d++) {
        th_put(&deep, "[");
        for (int i = 0; i < PER; i++) {
            snprintf(num, sizeof(num), "%d.5,", i);
            th_put(&deep, num);
        }
    }
    th_put(&deep, "{}");
    for (int d = 0; d < DEPTH; d++) th_put(&deep, "]");
    th_put(&flat, "[");
    for (int k = 0; k < DEPTH * PER; k++) {
        snprintf(num, sizeof(num), "%d.5,", k % PER);
        th_put(&flat, num);
    }
    th_put(&flat, "{}]");
    double td = parse_seconds(deep.s, deep.n), tf = parse_seconds(flat.s, flat.n);
    CHECKF(td < 8 * tf + 0.05, "deep %.3f s, flat %.3f s", td, tf);
    printf("    deep %.1f ms, flat %.1f ms\n", td * 1e3, tf * 1e3);
    free(deep.s);
    free(flat.s);
}

int main(void)
{
    RUN(json_numbers_match_strtod_bit_for_bit);
    RUN(json_long_mantissas_match_strtod);
    RUN(json_random_documents_match_cjson);
    RUN(json_malformed_is_rejected_at_the_fault);
    RUN(json_escapes_and_unicode_decode);
    RUN(json_nesting_limit);
    RUN(json_whitespace_and_stop_offset);
    RUN(json_span_documents_match_cjson);
    RUN(json_span_number_lists_match_cjson);
    RUN(json_span_summaries);
    RUN(json_span_walk_strings_and_literals);
    RUN(json_numbers_helper);
    RUN(json_span_number_words);
    RUN(json_span_utf8);
    RUN(json_span_malformed_stop_offsets);
    RUN(json_span_depth_limit);
    RUN(json_span_fallback_reads_bytes_at_most_twice);
    RUN(json_strict_nul_and_repeats);
    RUN(json_list_costs_no_memory_per_number);
    RUN(json_refused_charge_is_the_hooks_error);
    RUN(json_request_errors);
    RUN(json_lazy_agrees_with_strict);
    RUN(json_lazy_edges);
    RUN(json_list_floats_small_and_trees);
    RUN(json_lazy_refused_charge_after_a_bad_run);
    return th_summary();
}
