/* json_spans.c -- span nodes against plain cJSON trees (json_spans.h).
 *
 * A span's leaves are compared with cJSON's by walking both in order (a
 * cursor over cJSON's subtree), so a list of any length is checked without
 * a copy of its leaves. */
#include "json_spans.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int th_is_span(const cJSON *v) { return v && (v->type & 0xff) == cJSON_Raw; }

int th_expect_list(const cJSON *a, up_json_list *s)
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
            if (!th_expect_list(e, &c)) return 0;
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
        size_t k = strlen(a->valuestring) - 3;
        if (strlen(b->valuestring) < 64) return !strcmp(a->valuestring, b->valuestring);
        /* cut to at most 60 bytes where a character starts, then "...":
         * 60 unless byte 60 continues a character */
        return k + 3 >= 60 && k <= 60 && !strncmp(a->valuestring, b->valuestring, k) &&
               ((unsigned char)b->valuestring[k] & 0xc0) != 0x80 &&
               (k == 60 || ((unsigned char)b->valuestring[60] & 0xc0) == 0x80) &&
               !strcmp(a->valuestring + k, "...");
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

int th_same_span(const cJSON *a, const cJSON *b)
{
    up_json_list got, want;
    static cursor c;
    if (!cJSON_IsArray(b) || !up_json_list_of(a, &got) || !th_expect_list(b, &want)) return 0;
    if (got.leaves != want.leaves || got.height != want.height || got.rank != want.rank ||
        got.regular != want.regular || got.numbers != want.numbers)
        return 0;
    for (int d = 0; d < got.rank && d < UP_MAX_RANK; d++)
        if (got.shape[d] != want.shape[d]) return 0;
    /* the one-pass typed read, first (so on a span no walk has checked
     * yet): cJSON's numbers as doubles, and their float casts */
    if (got.numbers && got.leaves > 0 && got.leaves <= (1 << 20)) {
        double *d = malloc(sizeof(double) * (size_t)got.leaves);
        float *f = malloc(sizeof(float) * (size_t)got.leaves);
        int ok = d && f && up_json_list_floats(&got, UP_F32, f) == 0 &&
                 up_json_list_floats(&got, UP_F64, d) == 0;
        for (int64_t k = 0; ok && k < got.leaves; k++) {
            float g = (float)d[k];
            ok = !memcmp(&g, &f[k], sizeof(g));
        }
        if (ok) {
            c.depth = 1;
            c.stack[0] = b->child;
            c.bad = 0;
            c.numbers_seen = 0;
            for (int64_t k = 0; k < got.leaves; k += 256)
                run_cmp(&c, k, d + k, (int)(got.leaves - k < 256 ? got.leaves - k : 256));
            ok = !c.bad && !next_leaf(&c);
        }
        free(d);
        free(f);
        if (!ok) return 0;
    }
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

int th_same_tree_spans(const cJSON *a, const cJSON *b)
{
    for (; a && b; a = a->next, b = b->next) {
        up_json_list l;
        int spannable = cJSON_IsArray(b) && b->child && th_expect_list(b, &l);
        if (!!a->string != !!b->string || (a->string && strcmp(a->string, b->string))) return 0;
        if (spannable != th_is_span(a)) return 0;
        if (spannable) {
            if (!th_same_span(a, b)) return 0;
            continue;
        }
        if ((a->type & 0xff) != (b->type & 0xff)) return 0;
        if (cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring)) return 0;
        if (cJSON_IsNumber(a) &&
            (memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) || a->valueint != b->valueint))
            return 0;
        if (!th_same_tree_spans(a->child, b->child)) return 0;
    }
    return !a && !b;
}

int th_has_repeat(const cJSON *v)
{
    for (; v; v = v->next) {
        if (cJSON_IsObject(v))
            for (const cJSON *a = v->child; a; a = a->next)
                for (const cJSON *b = a->next; b; b = b->next)
                    if (!strcmp(a->string, b->string)) return 1;
        if (th_has_repeat(v->child)) return 1;
    }
    return 0;
}
