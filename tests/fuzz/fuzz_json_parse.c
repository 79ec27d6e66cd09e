/* fuzz_json_parse.c -- the request parser (api/json_parse.c) against
 * cJSON's own parser on the same bytes, plainly and with spans.
 *
 * Ours is stricter (RFC 8259; cJSON lets through a few forms such as raw
 * control characters in strings or leading zeros), so the oracle runs one
 * way: whatever whole document ours accepts, cJSON must accept too and
 * build the same tree, with the same number bits, strings and keys. The
 * one extension of ours, bare NaN/Infinity/-Infinity, has no cJSON
 * counterpart: documents holding a non-finite number are not compared
 * with cJSON.
 *
 * Spans (UP_JSON_SPANS | UP_JSON_STRICT, what decoders use) must accept
 * exactly what the plain parser accepts, less documents with a repeated
 * key or a \u0000, and stop at the same byte on a syntax fault. An
 * accepted document must be the plain tree (cJSON's, when it could be
 * compared) with every non-empty array that holds no object as a span
 * node, whose summary (scalars, nesting, shape, regularity) matches the
 * plain subtree and whose scalars, walked, are its leaves bit for bit
 * (bare NaN and infinities included). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/codecs.h"

static int same_tree(const cJSON *a, const cJSON *b)
{
    for (; a && b; a = a->next, b = b->next) {
        if ((a->type & 0xff) != (b->type & 0xff)) return 0;
        if (!!a->string != !!b->string || (a->string && strcmp(a->string, b->string))) return 0;
        if (cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring)) return 0;
        if (cJSON_IsNumber(a) &&
            (memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) || a->valueint != b->valueint))
            return 0;
        if (!same_tree(a->child, b->child)) return 0;
    }
    return !a && !b;
}

static int has_nonfinite(const cJSON *a)
{
    for (; a; a = a->next)
        if ((cJSON_IsNumber(a) && !isfinite(a->valuedouble)) || has_nonfinite(a->child)) return 1;
    return 0;
}

static const char *skip_json_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* ---- spans against cJSON's subtrees ---- */

static int is_span(const cJSON *v) { return v && (v->type & 0xff) == cJSON_Raw; }

/* The summary of a plain array with no object inside, by recursion. */
static int expect_list(const cJSON *a, up_json_list *s)
{
    const cJSON *e;
    int64_t n = 0;
    int arrays = 0, scalars = 0;
    memset(s, 0, sizeof(*s));
    s->height = s->rank = s->regular = s->numbers = 1;
    cJSON_ArrayForEach(e, a) {
        if (cJSON_IsObject(e)) return 0;
        if (cJSON_IsArray(e)) {
            up_json_list c;
            if (!expect_list(e, &c)) return 0;
            s->leaves += c.leaves;
            s->numbers &= c.numbers;
            if (c.height + 1 > s->height) s->height = c.height + 1;
            if (n == 0) {
                s->rank = c.rank + 1;
                for (int d = 0; d < c.rank && d + 1 < UP_MAX_RANK; d++) s->shape[d + 1] = c.shape[d];
                s->regular = c.regular;
            } else if (!c.regular || c.rank + 1 != s->rank ||
                       (c.rank < UP_MAX_RANK &&
                        memcmp(c.shape, s->shape + 1, sizeof(int64_t) * (size_t)c.rank))) {
                s->regular = 0;
            }
            arrays = 1;
        } else {
            s->leaves++;
            s->numbers &= cJSON_IsNumber(e);
            scalars = 1;
        }
        n++;
    }
    s->shape[0] = n;
    if ((arrays && scalars) || s->rank > UP_MAX_RANK) s->regular = 0;
    return 1;
}

/* cJSON's leaves in order, walked alongside ours. */
typedef struct cursor {
    const cJSON *stack[UP_JSON_MAX_DEPTH + 2];
    int depth;
    int64_t numbers_seen;
    int bad;
} cursor;

static const cJSON *next_leaf(cursor *c)
{
    while (c->depth > 0) {
        const cJSON *e = c->stack[c->depth - 1];
        if (!e) {
            c->depth--;
            continue;
        }
        c->stack[c->depth - 1] = e->next;
        if (!cJSON_IsArray(e)) return e;
        c->stack[c->depth++] = e->child;
    }
    return NULL;
}

static int same_scalar(const cJSON *a, const cJSON *b)
{
    if (!b || (a->type & 0xff) != (b->type & 0xff)) return 0;
    if (cJSON_IsNumber(a))
        return !memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) && a->valueint == b->valueint;
    if (cJSON_IsString(a)) {
        if (strlen(b->valuestring) < 64) return !strcmp(a->valuestring, b->valuestring);
        return strlen(a->valuestring) == 63 && !strncmp(a->valuestring, b->valuestring, 60);
    }
    return 1;
}

static int leaf_cmp(void *ctx, int64_t i, const cJSON *leaf)
{
    cursor *c = ctx;
    (void)i;
    if (!same_scalar(leaf, next_leaf(c))) c->bad = 1;
    return 0;
}

static int run_cmp(void *ctx, int64_t i0, const double *v, int n)
{
    cursor *c = ctx;
    if (i0 != c->numbers_seen) c->bad = 1;
    for (int k = 0; k < n; k++) {
        const cJSON *b = next_leaf(c);
        if (!b || !cJSON_IsNumber(b) || memcmp(&v[k], &b->valuedouble, sizeof(double))) c->bad = 1;
    }
    c->numbers_seen += n;
    return 0;
}

static int same_span(const cJSON *a, const cJSON *b)
{
    up_json_list got, want;
    static cursor c;
    if (!up_json_list_of(a, &got) || !expect_list(b, &want)) return 0;
    if (got.leaves != want.leaves || got.height != want.height || got.rank != want.rank ||
        got.regular != want.regular || got.numbers != want.numbers)
        return 0;
    for (int d = 0; d < got.rank && d < UP_MAX_RANK; d++)
        if (got.shape[d] != want.shape[d]) return 0;
    c.depth = 1;
    c.stack[0] = b->child;
    c.bad = 0;
    c.numbers_seen = 0;
    if (up_json_list_walk(&got, leaf_cmp, &c) != 0 || c.bad || next_leaf(&c)) return 0;
    if (got.numbers) {
        c.depth = 1;
        c.stack[0] = b->child;
        if (up_json_list_numbers(&got, run_cmp, &c) != 0 || c.bad || c.numbers_seen != got.leaves)
            return 0;
    }
    return 1;
}

static int same_tree_spans(const cJSON *a, const cJSON *b)
{
    for (; a && b; a = a->next, b = b->next) {
        up_json_list l;
        int spannable = cJSON_IsArray(b) && b->child && expect_list(b, &l);
        if (!!a->string != !!b->string || (a->string && strcmp(a->string, b->string))) return 0;
        if (spannable != is_span(a)) return 0;
        if (spannable) {
            if (!same_span(a, b)) return 0;
            continue;
        }
        if ((a->type & 0xff) != (b->type & 0xff)) return 0;
        if (cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring)) return 0;
        if (cJSON_IsNumber(a) &&
            (memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) || a->valueint != b->valueint))
            return 0;
        if (!same_tree_spans(a->child, b->child)) return 0;
    }
    return !a && !b;
}

static int has_repeat(const cJSON *v)
{
    for (; v; v = v->next) {
        if (cJSON_IsObject(v))
            for (const cJSON *a = v->child; a; a = a->next)
                for (const cJSON *b = a->next; b; b = b->next)
                    if (!strcmp(a->string, b->string)) return 1;
        if (has_repeat(v->child)) return 1;
    }
    return 0;
}

/* A "\u0000" escape somewhere (hex digits in any case). */
static int has_nul_escape(const char *s, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i++)
        if (s[i] == '\\' && s[i + 1] == 'u' && !memcmp(s + i + 2, "0000", 4)) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1); /* terminated, for cJSON's run */
    const char *end = NULL, *cend = NULL;
    up_json_fault f;
    cJSON *theirs = NULL, *spans;
    int whole;
    memcpy(s, data, size);
    s[size] = '\0';
    cJSON *ours = up_json_parse_value(s, size, &end);
    whole = ours && skip_json_ws(end, s + size) == s + size && !memchr(s, '\0', size);
    /* a whole document (one value, then only whitespace) that ours accepts
     * must be one that cJSON accepts, as the same tree */
    if (whole && !has_nonfinite(ours)) {
        theirs = cJSON_ParseWithLengthOpts(s, size, &cend, 0);
        if (!theirs || !same_tree(ours, theirs) || skip_json_ws(cend, s + size) != s + size)
            abort();
    }
    spans = up_json_parse(s, size, 0, UP_JSON_SPANS | UP_JSON_STRICT | UP_JSON_PREFIX, &f);
    if (!ours && spans) abort(); /* spans accept nothing more */
    if (ours && !spans) {        /* less only what strict mode refuses */
        if (f.kind == UP_JSON_DUP_KEY ? !has_repeat(ours)
            : f.kind == UP_JSON_NUL_KEY || f.kind == UP_JSON_NUL_STRING ? !has_nul_escape(s, size)
                                                                         : 1)
            abort();
    }
    if (!ours && !spans && f.kind == UP_JSON_SYNTAX && s + f.at != end) abort(); /* same stop */
    if (ours && spans && s + f.at != end) abort();
    /* spans against the plain tree, itself checked against cJSON's above */
    if (whole && spans && !same_tree_spans(spans, ours)) abort();
    cJSON_Delete(spans);
    cJSON_Delete(theirs);
    cJSON_Delete(ours);
    free(s);
    return 0;
}
