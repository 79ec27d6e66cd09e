/* test_json_parse.c -- the request parser (api/json_parse.c) against cJSON's
 * own parser and strtod.
 *
 * Numbers: for random float32 and float64 values printed in the forms
 * clients send (shortest, %.9g, %.17g, %e, fixed, integers past 2^53,
 * 20+ digits, tiny and huge exponents), the parsed double must have the
 * bits strtod gives. Trees: random documents (nested objects and arrays,
 * escaped and non-ASCII strings, literals) must parse to the same tree as
 * cJSON_Parse builds. Syntax: every malformed form below is rejected, and
 * the stop offset points at the fault. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/codecs.h"
#include "tests/support/harness.h"

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

typedef struct text {
    char *s;
    size_t n, cap;
} text;

static void put(text *t, const char *s)
{
    size_t k = strlen(s);
    if (t->n + k + 1 > t->cap) {
        t->cap = (t->n + k + 1) * 2;
        t->s = realloc(t->s, t->cap);
    }
    memcpy(t->s + t->n, s, k + 1);
    t->n += k;
}

static void gen_string(text *t)
{
    static const char *const pieces[] = {"a", "key", "\\\"", "\\\\", "\\/", "\\n", "\\t",
                                         "\\u00e9", "\\u20ac", "\\ud83d\\ude00", "\xc3\xa9",
                                         " ", "\\b\\f\\r", "x_1"};
    put(t, "\"");
    for (int k = (int)(rng() % 5); k > 0; k--) put(t, pieces[rng() % 14]);
    put(t, "\"");
}

static void gen_value(text *t, int depth)
{
    char num[64];
    int kind = (int)(rng() % (depth > 5 ? 6 : 8));
    switch (kind) {
    case 0: put(t, "true"); break;
    case 1: put(t, "false"); break;
    case 2: put(t, "null"); break;
    case 3: gen_string(t); break;
    case 4:
        snprintf(num, sizeof(num), "%.9g", (double)(int64_t)(rng() % 200000 - 100000) / 7.0);
        put(t, num);
        break;
    case 5:
        snprintf(num, sizeof(num), "%lld", (long long)(rng() % 4000000000ULL) - 2000000000LL);
        put(t, num);
        break;
    case 6:
        put(t, "[ ");
        for (int k = (int)(rng() % 5), first = 1; k > 0; k--, first = 0) {
            if (!first) put(t, rng() % 2 ? "," : " ,\n");
            gen_value(t, depth + 1);
        }
        put(t, "]");
        break;
    default:
        put(t, "{");
        for (int k = (int)(rng() % 5), first = 1; k > 0; k--, first = 0) {
            if (!first) put(t, ", ");
            gen_string(t);
            put(t, rng() % 2 ? ":" : " : ");
            gen_value(t, depth + 1);
        }
        put(t, "}");
        break;
    }
}

static void json_random_documents_match_cjson(void)
{
    int bad = 0;
    for (int i = 0; i < 3000 && bad < 5; i++) {
        text t = {0};
        put(&t, rng() % 2 ? "{\"inputs\":" : "[");
        gen_value(&t, 0);
        put(&t, t.s[0] == '{' ? "}" : "]");
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

int main(void)
{
    RUN(json_numbers_match_strtod_bit_for_bit);
    RUN(json_random_documents_match_cjson);
    RUN(json_malformed_is_rejected_at_the_fault);
    RUN(json_escapes_and_unicode_decode);
    RUN(json_nesting_limit);
    RUN(json_whitespace_and_stop_offset);
    return th_summary();
}
