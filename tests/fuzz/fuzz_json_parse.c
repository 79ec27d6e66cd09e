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
 * (bare NaN and infinities included).
 *
 * LAZY (what the v1 decoder uses) passes over runs of numbers: it must
 * fail exactly where spans do (same kind, same byte), or succeed; then
 * up_json_check_spans must find spans' syntax fault at the same byte, or
 * nothing when spans accepted, and then the lazy tree is the same tree,
 * its numbers read in one pass (up_json_list_floats, in th_same_span)
 * before anything else checked them. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/codecs.h"
#include "tests/support/json_spans.h"

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
        if (f.kind == UP_JSON_DUP_KEY ? !th_has_repeat(ours)
            : f.kind == UP_JSON_NUL_KEY || f.kind == UP_JSON_NUL_STRING ? !has_nul_escape(s, size)
                                                                         : 1)
            abort();
    }
    if (!ours && !spans && f.kind == UP_JSON_SYNTAX && s + f.at != end) abort(); /* same stop */
    if (ours && spans && s + f.at != end) abort();
    /* spans against the plain tree, itself checked against cJSON's above */
    if (whole && spans && !th_same_tree_spans(spans, ours)) abort();
    {
        up_json_fault lf;
        size_t at;
        cJSON *lazy = up_json_parse(s, size, 0,
                                    UP_JSON_SPANS | UP_JSON_STRICT | UP_JSON_PREFIX | UP_JSON_LAZY, &lf);
        if (!lazy && (spans || lf.kind != f.kind || lf.at != f.at)) abort();
        if (lazy && whole && spans && !th_same_tree_spans(lazy, ours)) abort();
        up_json_list l;
        double *d;
        /* a document that is one span and is refused: the one-pass read
         * must refuse it too */
        if (lazy && !spans && up_json_list_of(lazy, &l) && l.numbers && l.leaves <= (1 << 16) &&
            (d = malloc(sizeof(double) * (size_t)(l.leaves + 1)))) {
            if (up_json_list_floats(&l, UP_F64, d) == 0) abort();
            free(d);
        }
        if (lazy && up_json_check_spans(lazy, s, &at) < 0) {
            if (spans || f.kind != UP_JSON_SYNTAX || at != f.at) abort();
        } else if (lazy && (!spans || lf.at != f.at)) {
            abort();
        }
        cJSON_Delete(lazy);
    }
    cJSON_Delete(spans);
    cJSON_Delete(theirs);
    cJSON_Delete(ours);
    free(s);
    return 0;
}
