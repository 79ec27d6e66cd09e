/* client.h -- the libcurl side of the integration tests: one request in,
 * status/headers/body out, plus the JSON and tensor helpers the tests share.
 *
 * Header-only (static functions) because the tests/support sources are linked into
 * the unit tests too, which do not link libcurl. */
#ifndef UP_TEST_CLIENT_H
#define UP_TEST_CLIENT_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/codecs.h"
#include "tests/support/daemon.h"
#include "tests/support/harness.h"

#define TC_UNUSED __attribute__((unused))

typedef struct tc_resp {
    long status;
    char *body;        /* NUL-terminated */
    size_t len;
    char *headers;     /* raw header block(s), NUL-terminated */
    size_t hlen;
    CURLcode curl_rc;
} tc_resp;

typedef struct tc_sinkbuf {
    char *p;
    size_t len;
} tc_sinkbuf;

static size_t tc_sink(char *p, size_t sz, size_t n, void *ud)
{
    tc_sinkbuf *b = ud;
    size_t add = sz * n;
    char *nb = realloc(b->p, b->len + add + 1);
    if (!nb) return 0;
    memcpy(nb + b->len, p, add);
    b->len += add;
    nb[b->len] = 0;
    b->p = nb;
    return add;
}

/* One request on handle h (reused for keep-alive when the caller keeps it).
 * headers: NULL-terminated "Name: value" list or NULL. body NULL = none
 * (method decides). Returns 0 when a response arrived. */
static TC_UNUSED int tc_request_h(CURL *h, const char *method, const char *url,
                                  const char *const *headers, const void *body, size_t len,
                                  tc_resp *out)
{
    struct curl_slist *hl = NULL;
    tc_sinkbuf b = {0}, hb = {0};
    memset(out, 0, sizeof(*out));
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    /* the TLS test's certificate is self-signed */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    hl = curl_slist_append(hl, "Expect:");
    for (int i = 0; headers && headers[i]; i++) hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, tc_sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, tc_sink);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hb);
    out->curl_rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    out->body = b.p ? b.p : calloc(1, 1);
    out->len = b.len;
    out->headers = hb.p ? hb.p : calloc(1, 1);
    out->hlen = hb.len;
    return out->curl_rc == CURLE_OK ? 0 : -1;
}

static TC_UNUSED int tc_request(const char *method, const char *url, const char *const *headers,
                                const void *body, size_t len, tc_resp *out)
{
    CURL *h = curl_easy_init();
    int rc = tc_request_h(h, method, url, headers, body, len, out);
    curl_easy_cleanup(h);
    return rc;
}

static TC_UNUSED void tc_free(tc_resp *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

/* Value of header name (case-insensitive) in the last header block, or
 * NULL. Copied into buf. */
static TC_UNUSED const char *tc_header(const tc_resp *r, const char *name, char *buf, size_t cap)
{
    const char *found = NULL;
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *e = strstr(p, "\r\n");
        size_t ll = e ? (size_t)(e - p) : strlen(p);
        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            size_t vl = ll - (size_t)(v - p);
            if (vl >= cap) vl = cap - 1;
            memcpy(buf, v, vl);
            buf[vl] = 0;
            found = buf;
        }
        p += ll + (e ? 2 : 0);
    }
    return found;
}

static TC_UNUSED char *tc_url(const th_daemon *d, const char *path)
{
    static __thread char u[512];
    snprintf(u, sizeof(u), "%s%s", d->base, path);
    return u;
}

/* POST a JSON text to path. */
static TC_UNUSED int tc_post_json(const th_daemon *d, const char *path, const char *json,
                                  tc_resp *out)
{
    static const char *const h[] = {"Content-Type: application/json", NULL};
    return tc_request("POST", tc_url(d, path), h, json, strlen(json), out);
}

static TC_UNUSED char *tc_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = 0;
    fclose(f);
    if (len) *len = b ? (size_t)n : 0;
    return b;
}

/* ---- tensors in answers ---- */

/* A decoded {dtype, shape, data_b64} tensor. */
typedef struct tc_tensor {
    char dtype[16];
    int rank;
    int64_t shape[8];
    unsigned char *bytes;
    size_t nbytes;
} tc_tensor;

static TC_UNUSED int tc_tensor_from_json(const cJSON *j, tc_tensor *t)
{
    memset(t, 0, sizeof(*t));
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(j, "data_b64");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsString(b64)) return -1;
    snprintf(t->dtype, sizeof(t->dtype), "%s", dt->valuestring);
    const cJSON *e;
    cJSON_ArrayForEach(e, sh)
    {
        if (t->rank >= 8) return -1;
        t->shape[t->rank++] = (int64_t)e->valuedouble;
    }
    size_t n = strlen(b64->valuestring);
    t->bytes = malloc(n / 4 * 3 + 4);
    long long k = up_b64_decode(b64->valuestring, n, t->bytes);
    if (k < 0) {
        free(t->bytes);
        t->bytes = NULL;
        return -1;
    }
    t->nbytes = (size_t)k;
    return 0;
}

static TC_UNUSED void tc_tensor_free(tc_tensor *t)
{
    free(t->bytes);
    t->bytes = NULL;
}

static TC_UNUSED double tc_half_to_double(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 0) v = ldexp(m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexp(m + 1024, e - 25);
    return s ? -v : v;
}

static TC_UNUSED double tc_elem(const tc_tensor *t, size_t i)
{
    if (!strcmp(t->dtype, "float32")) {
        float f;
        memcpy(&f, t->bytes + i * 4, 4);
        return f;
    }
    if (!strcmp(t->dtype, "float64")) {
        double f;
        memcpy(&f, t->bytes + i * 8, 8);
        return f;
    }
    if (!strcmp(t->dtype, "float16")) {
        uint16_t h;
        memcpy(&h, t->bytes + i * 2, 2);
        return tc_half_to_double(h);
    }
    if (!strcmp(t->dtype, "bfloat16")) {
        uint16_t h;
        memcpy(&h, t->bytes + i * 2, 2);
        uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    if (!strcmp(t->dtype, "int64")) {
        int64_t v;
        memcpy(&v, t->bytes + i * 8, 8);
        return (double)v;
    }
    if (!strcmp(t->dtype, "int32")) {
        int32_t v;
        memcpy(&v, t->bytes + i * 4, 4);
        return v;
    }
    return NAN;
}

static TC_UNUSED size_t tc_dtype_size(const char *dt)
{
    if (!strcmp(dt, "float64") || !strcmp(dt, "int64")) return 8;
    if (!strcmp(dt, "float32") || !strcmp(dt, "int32")) return 4;
    if (!strcmp(dt, "float16") || !strcmp(dt, "bfloat16") || !strcmp(dt, "int16")) return 2;
    return 1;
}

/* Compare got with want: same dtype and shape; floats within
 * atol + rtol * |want| (NaN matches NaN), everything else bit-exact.
 * Writes a reason into why on mismatch. */
static TC_UNUSED int tc_tensor_match(const tc_tensor *got, const tc_tensor *want, double atol,
                                     double rtol, char *why, size_t cap)
{
    if (strcmp(got->dtype, want->dtype)) {
        snprintf(why, cap, "dtype %s, want %s", got->dtype, want->dtype);
        return 0;
    }
    if (got->rank != want->rank || memcmp(got->shape, want->shape, sizeof(int64_t) * (size_t)got->rank)) {
        snprintf(why, cap, "shape differs (rank %d vs %d)", got->rank, want->rank);
        return 0;
    }
    if (got->nbytes != want->nbytes) {
        snprintf(why, cap, "%zu bytes, want %zu", got->nbytes, want->nbytes);
        return 0;
    }
    int is_float = !strncmp(want->dtype, "float", 5) || !strcmp(want->dtype, "bfloat16");
    if (!is_float || (atol == 0 && rtol == 0)) {
        if (memcmp(got->bytes, want->bytes, got->nbytes) == 0) return 1;
        if (!is_float) {
            snprintf(why, cap, "bytes differ");
            return 0;
        }
    }
    size_t n = got->nbytes / tc_dtype_size(want->dtype);
    for (size_t i = 0; i < n; i++) {
        double a = tc_elem(got, i), b = tc_elem(want, i);
        if (isnan(a) && isnan(b)) continue;
        if (a == b) continue;
        if (!(fabs(a - b) <= atol + rtol * fabs(b))) {
            snprintf(why, cap, "element %zu: %.9g, want %.9g", i, a, b);
            return 0;
        }
    }
    return 1;
}

/* ---- problem+json ---- */

/* Checks an RFC 9457 answer: the status, Content-Type, type/title/status/
 * detail, instance == X-Request-Id, and (when field is not NULL) an
 * errors[] item naming that field. Returns 1 when all hold; prints why not. */
static TC_UNUSED int tc_problem_ok(const tc_resp *r, long status, const char *field)
{
    char ct[128], rid[128];
    int ok = 1;
    cJSON *j = cJSON_Parse(r->body);
#define TC_EXPECT(c)                                                                 \
    do {                                                                             \
        if (!(c)) {                                                                  \
            printf("    problem check failed: %s (status %ld, body %.300s)\n", #c,   \
                   r->status, r->body);                                              \
            ok = 0;                                                                  \
        }                                                                            \
    } while (0)
    TC_EXPECT(r->status == status);
    TC_EXPECT(tc_header(r, "Content-Type", ct, sizeof(ct)) &&
              !strcmp(ct, "application/problem+json"));
    TC_EXPECT(tc_header(r, "X-Request-Id", rid, sizeof(rid)));
    TC_EXPECT(j && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "type")));
    TC_EXPECT(j && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "title")));
    TC_EXPECT(j && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "detail")));
    TC_EXPECT(j && cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "status")) == status);
    const char *inst = j ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "instance")) : NULL;
    TC_EXPECT(inst && !strcmp(inst, rid));
    const cJSON *errs = j ? cJSON_GetObjectItemCaseSensitive(j, "errors") : NULL, *e;
    TC_EXPECT(cJSON_IsArray(errs) && cJSON_GetArraySize(errs) >= 1);
    int has_field = field == NULL;
    cJSON_ArrayForEach(e, errs)
    {
        const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "field"));
        TC_EXPECT(f != NULL);
        TC_EXPECT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")));
        if (f && field && !strcmp(f, field)) has_field = 1;
    }
    if (!has_field) printf("    no errors[].field == \"%s\"\n", field);
    ok &= has_field;
#undef TC_EXPECT
    cJSON_Delete(j);
    return ok;
}

/* ---- metrics ---- */

/* The value of the first sample whose line starts with series (a name with
 * optional labels, e.g. "unpoold_queue_depth"), or -1. */
static TC_UNUSED double tc_metric(const th_daemon *d, const char *series)
{
    tc_resp r;
    double v = -1;
    size_t n = strlen(series);
    if (tc_request("GET", tc_url(d, "/metrics"), NULL, NULL, 0, &r) == 0 && r.status == 200) {
        for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
            if (!strncmp(p, series, n) && p[n] == ' ') {
                v = strtod(p + n + 1, NULL);
                break;
            }
    }
    tc_free(&r);
    return v;
}

/* Poll until series == want (or timeout_ms passes). 1 when reached. */
static TC_UNUSED int tc_wait_metric(const th_daemon *d, const char *series, double want,
                                    int timeout_ms)
{
    for (int t = 0; t < timeout_ms; t += 2) {
        if (tc_metric(d, series) == want) return 1;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* ---- requests on a thread ---- */

typedef struct tc_async {
    pthread_t th;
    const char *method;
    char url[512];
    const char *const *headers;
    const char *body;
    size_t len;
    tc_resp resp;
} tc_async;

static void *tc_async_main(void *arg)
{
    tc_async *a = arg;
    tc_request(a->method, a->url, a->headers, a->body, a->len, &a->resp);
    return NULL;
}

static TC_UNUSED void tc_async_start(tc_async *a, const th_daemon *d, const char *method,
                                     const char *path, const char *const *headers,
                                     const char *body, size_t len)
{
    a->method = method;
    snprintf(a->url, sizeof(a->url), "%s%s", d->base, path);
    a->headers = headers;
    a->body = body;
    a->len = len;
    pthread_create(&a->th, NULL, tc_async_main, a);
}

static TC_UNUSED void tc_async_join(tc_async *a) { pthread_join(a->th, NULL); }

/* ---- bodies ---- */

/* A conv_transpose request whose kernel takes a while (a 3d input with a
 * 16^3 kernel, C_in = C_out = 1: about 0.1-0.5 s on one core) while its
 * body stays small (side^3 + 4096 floats). Values from a fixed LCG. */
static TC_UNUSED char *tc_slow_body(int side)
{
    int64_t nx = (int64_t)side * side * side, nw = 16 * 16 * 16;
    float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw);
    uint32_t s = 12345;
    for (int64_t i = 0; i < nx; i++) x[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (int64_t i = 0; i < nw; i++) w[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    char *bx = malloc(up_b64_encoded_len((size_t)nx * 4) + 1), *bw = malloc(up_b64_encoded_len((size_t)nw * 4) + 1);
    up_b64_encode((const unsigned char *)x, (size_t)nx * 4, bx);
    up_b64_encode((const unsigned char *)w, (size_t)nw * 4, bw);
    size_t cap = strlen(bx) + strlen(bw) + 512;
    char *body = malloc(cap);
    snprintf(body, cap,
             "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,%d,%d,%d],\"data_b64\":\"%s\"},"
             "\"weight\":{\"dtype\":\"float32\",\"shape\":[1,1,16,16,16],\"data_b64\":\"%s\"}},"
             "\"output_format\":\"b64\"}",
             side, side, side, bx, bw);
    free(x);
    free(w);
    free(bx);
    free(bw);
    return body;
}

#endif
