/* fuzz_json_parse.c -- the request parser (api/json_parse.c) against
 * cJSON's own parser on the same bytes.
 *
 * Ours is stricter (RFC 8259; cJSON lets through a few forms such as raw
 * control characters in strings or leading zeros), so the oracle runs one
 * way: whatever whole document ours accepts, cJSON must accept too and
 * build the same tree, with the same number bits, strings and keys. The
 * one extension of ours, bare NaN/Infinity/-Infinity, has no cJSON
 * counterpart: documents holding a non-finite number are not compared. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1); /* terminated, for cJSON's run */
    const char *end = NULL, *cend = NULL;
    memcpy(s, data, size);
    s[size] = '\0';
    cJSON *ours = up_json_parse_value(s, size, &end);
    /* a whole document (one value, then only whitespace) that ours accepts
     * must be one that cJSON accepts, as the same tree */
    if (ours && skip_json_ws(end, s + size) == s + size && !memchr(s, '\0', size) &&
        !has_nonfinite(ours)) {
        cJSON *theirs = cJSON_ParseWithLengthOpts(s, size, &cend, 0);
        if (!theirs || !same_tree(ours, theirs) || skip_json_ws(cend, s + size) != s + size)
            abort();
        cJSON_Delete(theirs);
    }
    cJSON_Delete(ours);
    free(s);
    return 0;
}
