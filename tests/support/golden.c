/* golden.c -- see golden.h. */
#include "golden.h"

#include "fixture.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/convert.h"


static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int golden_load(golden_set *g, const char *dir)
{
    DIR *d;
    struct dirent *de;
    char *names[256];
    int nn = 0;
    memset(g, 0, sizeof(*g));
    if (!dir) dir = getenv("UNPOOLD_GOLDEN_DIR");
    if (!dir) dir = "tests/golden/cases";
    if (!(d = opendir(dir))) return -1;
    while ((de = readdir(d)) && nn < 256) {
        size_t L = strlen(de->d_name);
        if (L > 5 && !strcmp(de->d_name + L - 5, ".json")) names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof(char *), cmp_str);
    g->files = calloc((size_t)nn + 1, sizeof(cJSON *));
    for (int i = 0; i < nn; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        body text = fixture_read(path);
        cJSON *root = text.data ? cJSON_ParseWithLength(text.data, text.len) : NULL;
        free(text.data);
        if (!root) {
            fprintf(stdout, "    cannot parse %s\n", path);
            free(names[i]);
            continue;
        }
        g->files[g->n_files++] = root;
        cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases"), *c;
        const cJSON *fam = cJSON_GetObjectItemCaseSensitive(root, "family");
        int nc = cJSON_GetArraySize(cases);
        g->cases = realloc(g->cases, sizeof(cJSON *) * (size_t)(g->n_cases + nc));
        g->names = realloc(g->names, sizeof(char *) * (size_t)(g->n_cases + nc));
        cJSON_ArrayForEach(c, cases) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
            char full[256];
            snprintf(full, sizeof(full), "%s/%s", cJSON_IsString(fam) ? fam->valuestring : names[i],
                     cJSON_IsString(nm) ? nm->valuestring : "?");
            g->cases[g->n_cases] = c;
            g->names[g->n_cases++] = strdup(full);
        }
        free(names[i]);
    }
    return g->n_files ? 0 : -1;
}

void golden_free(golden_set *g)
{
    for (int i = 0; i < g->n_files; i++) cJSON_Delete(g->files[i]);
    for (int i = 0; i < g->n_cases; i++) free(g->names[i]);
    free(g->files);
    free(g->cases);
    free(g->names);
    memset(g, 0, sizeof(*g));
}

int golden_http_cases(golden_http_case **out)
{
    golden_set g;
    golden_http_case *cs;
    *out = NULL;
    if (golden_load(&g, NULL) < 0) return 0;
    cs = calloc((size_t)g.n_cases + 1, sizeof(*cs));
    for (int i = 0; cs && i < g.n_cases; i++) {
        const cJSON *c = g.cases[i];
        golden_http_case *k = &cs[i];
        snprintf(k->path, sizeof(k->path), "/v1/ops/%s",
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "op")));
        snprintf(k->name, sizeof(k->name), "%s",
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name")));
        cJSON *req = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c, "request"), 1);
        cJSON_AddStringToObject(req, "output_format", "b64");
        k->body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        k->expected = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(c, "expected"), 1);
        k->atol = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "atol"));
        k->rtol = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "rtol"));
        if (isnan(k->atol)) k->atol = 0;
        if (isnan(k->rtol)) k->rtol = 0;
    }
    int n = cs ? g.n_cases : 0;
    golden_free(&g);
    *out = cs;
    return n;
}

void golden_http_cases_free(golden_http_case *c, int n)
{
    for (int i = 0; c && i < n; i++) {
        free(c[i].body);
        cJSON_Delete(c[i].expected);
    }
    free(c);
}

int golden_compare(const up_tensor *got, const up_tensor *expected, double atol, double rtol,
                   char *why, size_t cap)
{
    int64_t n;
    char a[96], b[96];
    if (got->dtype != expected->dtype) {
        snprintf(why, cap, "dtype %s, expected %s", up_dtype_name(got->dtype),
                 up_dtype_name(expected->dtype));
        return 0;
    }
    if (got->rank != expected->rank ||
        memcmp(got->shape, expected->shape, sizeof(int64_t) * (size_t)got->rank)) {
        up_shape_format(a, sizeof(a), got->shape, got->rank);
        up_shape_format(b, sizeof(b), expected->shape, expected->rank);
        snprintf(why, cap, "shape %s, expected %s", a, b);
        return 0;
    }
    n = up_tensor_numel(got);
    for (int64_t i = 0; i < n; i++) {
        if (up_dtype_is_float(got->dtype)) {
            double x = up_load_f64(got, i), y = up_load_f64(expected, i);
            if (isnan(x) && isnan(y)) continue;
            /* exact cases also tell -0.0 from +0.0 */
            if (x == y && (x != 0 || signbit(x) == signbit(y) || atol != 0 || rtol != 0)) continue;
            if (fabs(x - y) <= atol + rtol * fabs(y)) continue;
            snprintf(why, cap, "element %lld: got %.17g, expected %.17g (atol %g, rtol %g)",
                     (long long)i, x, y, atol, rtol);
            return 0;
        } else {
            int64_t x = up_load_i64(got, i), y = up_load_i64(expected, i);
            if (x == y) continue;
            snprintf(why, cap, "element %lld: got %lld, expected %lld", (long long)i,
                     (long long)x, (long long)y);
            return 0;
        }
    }
    return 1;
}
