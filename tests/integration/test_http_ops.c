/* test_http_ops.c -- every op end to end over HTTP against the golden
 * fixtures (PyTorch results), the seed's illustration, and max_pool ->
 * max_unpool round trips, against a live daemon. */
#include <glob.h>

#include "client.h"

static th_daemon D;

/* POST one golden case with output_format b64 and compare every output. */
static int run_case(const cJSON *c, char *why, size_t cap)
{
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(c, "op");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(c, "request");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(c, "expected");
    double atol = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "atol"));
    double rtol = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "rtol"));
    char path[128], hb[256];
    tc_resp r;
    int ok = 0;
    if (isnan(atol)) atol = 0;
    if (isnan(rtol)) rtol = 0;
    cJSON *body = cJSON_Duplicate(req, 1);
    cJSON_AddStringToObject(body, "output_format", "b64");
    char *text = cJSON_PrintUnformatted(body);
    snprintf(path, sizeof(path), "/v1/ops/%s", op->valuestring);
    tc_post_json(&D, path, text, &r);
    cJSON *ans = cJSON_Parse(r.body);
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(ans, "outputs");
    const cJSON *e;
    if (r.status != 200 || !outs) {
        snprintf(why, cap, "status %ld: %.300s", r.status, r.body);
        goto done;
    }
    if (!tc_header(&r, "X-Request-Id", hb, sizeof(hb)) || !tc_header(&r, "Server-Timing", hb, sizeof(hb))) {
        snprintf(why, cap, "X-Request-Id or Server-Timing missing");
        goto done;
    }
    ok = 1;
    cJSON_ArrayForEach(e, exp)
    {
        tc_tensor got, want;
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(outs, e->string);
        if (!g || tc_tensor_from_json(g, &got) < 0) {
            snprintf(why, cap, "output %s missing or not data_b64", e->string);
            ok = 0;
            break;
        }
        tc_tensor_from_json(e, &want);
        char w[200];
        if (!tc_tensor_match(&got, &want, atol, rtol, w, sizeof(w))) {
            snprintf(why, cap, "output %s: %s", e->string, w);
            ok = 0;
        }
        tc_tensor_free(&got);
        tc_tensor_free(&want);
        if (!ok) break;
    }
done:
    cJSON_Delete(ans);
    cJSON_Delete(body);
    free(text);
    tc_free(&r);
    return ok;
}

static void golden_all(void)
{
    glob_t g;
    int files = 0, cases = 0, failed = 0;
    if (glob("tests/golden/cases/*.json", 0, NULL, &g) != 0) {
        th_record("golden_fixtures_present", 0);
        return;
    }
    for (size_t f = 0; f < g.gl_pathc; f++) {
        char *text = tc_read_file(g.gl_pathv[f], NULL);
        cJSON *doc = cJSON_Parse(text);
        const cJSON *c;
        files++;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases"))
        {
            char why[512] = "", name[160];
            int ok = run_case(c, why, sizeof(why));
            cases++;
            snprintf(name, sizeof(name), "golden/%s",
                     cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name")));
            if (!ok) {
                failed++;
                printf("    %s: %s\n", name, why);
            }
            th_record(name, ok);
        }
        cJSON_Delete(doc);
        free(text);
    }
    globfree(&g);
    printf("    golden: %d files, %d cases, %d failed\n", files, cases, failed);
    th_record("golden_fixtures_present", files >= 4 && cases > 100);
}

/* Flat "data" of output name in a JSON answer, as doubles. */
static int out_data(const cJSON *ans, const char *name, double *v, int cap, int64_t *shape,
                    int *rank)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(ans, "outputs"), name);
    const cJSON *e;
    int n = 0;
    *rank = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(t, "shape")) shape[(*rank)++] =
        (int64_t)e->valuedouble;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(t, "data"))
    {
        if (n < cap) v[n] = e->valuedouble;
        n++;
    }
    return n;
}

/* The seed: 2x2 max pool of [[1,2],[3,4]] is [[4]] (argmax 3), and max
 * unpooling [[4]] at 3 gives [[0,0],[0,4]]. */
static void seed_illustration(void)
{
    tc_resp r;
    double v[8];
    int64_t shape[5];
    int rank, n;
    tc_post_json(&D, "/v1/ops/max_pool",
                 "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2}}", &r);
    CHECKF(r.status == 200, "%ld %s", r.status, r.body);
    cJSON *a = cJSON_Parse(r.body);
    n = out_data(a, "y", v, 8, shape, &rank);
    CHECK(n == 1 && v[0] == 4 && rank == 4 && shape[2] == 1 && shape[3] == 1);
    n = out_data(a, "indices", v, 8, shape, &rank);
    CHECK(n == 1 && v[0] == 3);
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "op")), "max_pool"));
    CHECK(cJSON_GetObjectItemCaseSensitive(a, "timing") != NULL);
    cJSON_Delete(a);
    tc_free(&r);

    tc_post_json(&D, "/v1/ops/max_unpool",
                 "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,1,1],\"data\":[4]},"
                 "\"indices\":[[[[3]]]]},\"params\":{\"kernel_size\":2,\"stride\":2}}",
                 &r);
    CHECKF(r.status == 200, "%ld %s", r.status, r.body);
    a = cJSON_Parse(r.body);
    n = out_data(a, "y", v, 8, shape, &rank);
    CHECK(n == 4 && v[0] == 0 && v[1] == 0 && v[2] == 0 && v[3] == 4);
    CHECK(rank == 4 && shape[2] == 2 && shape[3] == 2);
    cJSON_Delete(a);
    tc_free(&r);
}

/* max_pool then max_unpool of its own answer: every window keeps its
 * maximum in place and zeros elsewhere (x has distinct values). */
static void roundtrip(int nsp)
{
    enum { N = 2, C = 3 };
    int side = nsp == 1 ? 16 : nsp == 2 ? 8 : 4, numel = N * C;
    for (int i = 0; i < nsp; i++) numel *= side;
    float *x = malloc(sizeof(float) * (size_t)numel);
    /* a permutation of 0..numel-1: distinct values, fixed order */
    for (int i = 0; i < numel; i++) x[i] = (float)((i * 37) % numel);
    cJSON *req = cJSON_CreateObject(), *in = cJSON_AddObjectToObject(req, "inputs");
    cJSON *xt = cJSON_AddObjectToObject(in, "x");
    cJSON_AddStringToObject(xt, "dtype", "float32");
    int shp[5] = {N, C, side, side, side};
    cJSON_AddItemToObject(xt, "shape", cJSON_CreateIntArray(shp, 2 + nsp));
    cJSON_AddItemToObject(xt, "data", cJSON_CreateFloatArray(x, numel));
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(req, "params"), "kernel_size", 2);
    char *text = cJSON_PrintUnformatted(req);
    tc_resp r;
    tc_post_json(&D, "/v1/ops/max_pool", text, &r);
    CHECKF(r.status == 200, "max_pool %ld %.200s", r.status, r.body);
    cJSON *a = cJSON_Parse(r.body);
    cJSON *outs = cJSON_GetObjectItemCaseSensitive(a, "outputs");
    /* feed the answer's tensors back as they came */
    cJSON *req2 = cJSON_CreateObject(), *in2 = cJSON_AddObjectToObject(req2, "inputs");
    cJSON_AddItemToObject(in2, "x", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(outs, "y"), 1));
    cJSON_AddItemToObject(in2, "indices",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(outs, "indices"), 1));
    cJSON *p2 = cJSON_AddObjectToObject(req2, "params");
    cJSON_AddNumberToObject(p2, "kernel_size", 2);
    cJSON_AddItemToObject(p2, "output_size", cJSON_CreateIntArray(shp + 2, nsp));
    char *text2 = cJSON_PrintUnformatted(req2);
    tc_resp r2;
    tc_post_json(&D, "/v1/ops/max_unpool", text2, &r2);
    CHECKF(r2.status == 200, "max_unpool %ld %.200s", r2.status, r2.body);
    cJSON *a2 = cJSON_Parse(r2.body);
    double *y = malloc(sizeof(double) * (size_t)numel);
    int64_t shape[5];
    int rank, n = out_data(a2, "y", y, numel, shape, &rank);
    CHECK(n == numel && rank == 2 + nsp);
    /* expected: keep x where it is its window's max */
    int bad = 0;
    for (int i = 0; n == numel && i < numel; i++) {
        int c[3] = {0, 0, 0}, rem = i % (numel / (N * C)), plane = i - rem;
        for (int d = nsp - 1; d >= 0; d--) {
            c[d] = rem % side;
            rem /= side;
        }
        float m = -1;
        for (int w = 0; w < (1 << nsp); w++) {
            int off = 0;
            for (int d = 0; d < nsp; d++) off = off * side + (c[d] & ~1) + ((w >> d) & 1);
            if (x[plane + off] > m) m = x[plane + off];
        }
        double want = x[i] == m ? x[i] : 0;
        if (y[i] != want) bad++;
    }
    CHECKF(bad == 0, "%d elements differ", bad);
    free(y);
    free(x);
    free(text);
    free(text2);
    cJSON_Delete(req);
    cJSON_Delete(req2);
    cJSON_Delete(a);
    cJSON_Delete(a2);
    tc_free(&r);
    tc_free(&r2);
}
static void roundtrip_1d(void) { roundtrip(1); }
static void roundtrip_2d(void) { roundtrip(2); }
static void roundtrip_3d(void) { roundtrip(3); }

/* X-Request-Id echoed, Server-Timing carries every phase, and the JSON
 * answer's request_id is the same id. */
static void request_id_and_timing(void)
{
    static const char *const h[] = {"Content-Type: application/json", "X-Request-Id: abc-123.x", NULL};
    static const char body[] = "{\"inputs\":{\"x\":[[[1,2,3,4]]]},\"params\":{\"scale_factor\":2}}";
    tc_resp r;
    char v[256];
    tc_request("POST", tc_url(&D, "/v1/ops/nearest_unpool"), h, body, strlen(body), &r);
    CHECKF(r.status == 200, "%ld %s", r.status, r.body);
    CHECK(tc_header(&r, "X-Request-Id", v, sizeof(v)) && !strcmp(v, "abc-123.x"));
    CHECK(tc_header(&r, "Server-Timing", v, sizeof(v)) && strstr(v, "decode;dur=") &&
          strstr(v, "queue;dur=") && strstr(v, "compute;dur=") && strstr(v, "encode;dur="));
    cJSON *a = cJSON_Parse(r.body);
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "request_id")) ?: "",
                  "abc-123.x"));
    cJSON_Delete(a);
    tc_free(&r);
    /* an insane id (spaces, too long) is replaced, not echoed */
    static const char *const h2[] = {"X-Request-Id: bad id with spaces", NULL};
    tc_request("GET", tc_url(&D, "/healthz"), h2, NULL, 0, &r);
    CHECK(tc_header(&r, "X-Request-Id", v, sizeof(v)) && strlen(v) == 32);
    tc_free(&r);
}

/* curl -d sends application/x-www-form-urlencoded: read as JSON. */
static void curl_default_content_type(void)
{
    static const char *const h[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    static const char body[] = "{\"inputs\":{\"x\":[[[1,2,3,4]]]},\"params\":{\"kernel_size\":2}}";
    tc_resp r;
    tc_request("POST", tc_url(&D, "/v1/ops/max_pool"), h, body, strlen(body), &r);
    CHECKF(r.status == 200, "%ld %s", r.status, r.body);
    tc_free(&r);
}

/* The same op through KServe v2 JSON. */
static void kserve_infer(void)
{
    static const char body[] =
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\","
        "\"data\":[1,2,3,4]}],\"parameters\":{\"kernel_size\":2}}";
    tc_resp r;
    tc_post_json(&D, "/v2/models/max_pool/infer", body, &r);
    CHECKF(r.status == 200, "%ld %s", r.status, r.body);
    cJSON *a = cJSON_Parse(r.body);
    const cJSON *o, *found = NULL;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(a, "outputs"))
    {
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "name")) ?: "", "y"))
            found = o;
    }
    const cJSON *d = found ? cJSON_GetObjectItemCaseSensitive(found, "data") : NULL;
    CHECK(d && cJSON_GetArraySize(d) == 1 && cJSON_GetArrayItem(d, 0)->valuedouble == 4);
    cJSON_Delete(a);
    tc_free(&r);
}

/* A .npy body in, a .npy answer out. */
static void npy_in_out(void)
{
    /* float32 (1,1,2,2) = 1 2 3 4 */
    unsigned char npy[128 + 16];
    const char *hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), }";
    size_t hl = strlen(hdr), total = 10 + hl + 1;
    size_t pad = (64 - total % 64) % 64;
    memcpy(npy, "\x93NUMPY\x01\x00", 8);
    uint16_t hlen = (uint16_t)(hl + pad + 1);
    memcpy(npy + 8, &hlen, 2);
    memcpy(npy + 10, hdr, hl);
    memset(npy + 10 + hl, ' ', pad);
    npy[10 + hl + pad] = '\n';
    size_t off = 10 + hl + pad + 1;
    float v[4] = {1, 2, 3, 4};
    memcpy(npy + off, v, 16);
    static const char *const h[] = {"Content-Type: application/x-npy", "Accept: application/x-npy", NULL};
    tc_resp r;
    tc_request("POST", tc_url(&D, "/v1/ops/nearest_unpool?scale_factor=2"), h, npy, off + 16, &r);
    CHECKF(r.status == 200, "%ld %.200s", r.status, r.body);
    CHECK(r.len >= 64 + 64 && !memcmp(r.body, "\x93NUMPY", 6));
    if (r.status == 200 && r.len >= 64) {
        float got[16];
        memcpy(got, r.body + r.len - 64, 64);
        static const float want[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
        CHECK(memcmp(got, want, 64) == 0);
    }
    tc_free(&r);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (th_daemon_start(&D, (const char *const[]){"--workers", "2", NULL}) != 0) {
        th_record("daemon_start", 0);
        return th_summary();
    }
    RUN(seed_illustration);
    RUN(roundtrip_1d);
    RUN(roundtrip_2d);
    RUN(roundtrip_3d);
    RUN(request_id_and_timing);
    RUN(curl_default_content_type);
    RUN(kserve_infer);
    RUN(npy_in_out);
    golden_all();
    th_record("daemon_exit_0", th_daemon_stop(&D) == 0);
    curl_global_cleanup();
    return th_summary();
}
