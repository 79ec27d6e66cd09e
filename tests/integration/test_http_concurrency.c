/* test_http_concurrency.c -- many clients at once, split jobs, and a
 * graceful shutdown under load.
 *
 * - 64 client threads on keep-alive connections send every golden case
 *   (mixed ops, dtypes, sizes) plus invalid requests; every answer must be
 *   the right one.
 * - A large request gives the same bytes with --workers 1 (one chunk) and
 *   --workers 2 (split into chunks that both workers take).
 * - SIGTERM while requests are queued and running: all complete with 200
 *   and the daemon exits 0. */
#include <signal.h>

#include "client.h"
#include "tests/support/golden.h"

#define CLIENTS 64

typedef golden_http_case gcase;

static gcase *cases;
static int n_cases;
static th_daemon D;

static void load_cases(void) { n_cases = golden_http_cases(&cases); }

static int answer_ok(const gcase *k, const tc_resp *r)
{
    if (r->status != 200) return 0;
    cJSON *a = cJSON_Parse(r->body), *e;
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(a, "outputs");
    int ok = outs != NULL;
    cJSON_ArrayForEach(e, k->expected)
    {
        tc_tensor got, want;
        char why[128];
        if (!ok || tc_tensor_from_json(cJSON_GetObjectItemCaseSensitive(outs, e->string), &got) < 0) {
            ok = 0;
            break;
        }
        tc_tensor_from_json(e, &want);
        ok = tc_tensor_match(&got, &want, k->atol, k->rtol, why, sizeof(why));
        tc_tensor_free(&got);
        tc_tensor_free(&want);
        if (!ok) break;
    }
    cJSON_Delete(a);
    return ok;
}

typedef struct client {
    pthread_t th;
    int id, sent, wrong;
    char first_wrong[160];
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    static const char *const h[] = {"Content-Type: application/json", NULL};
    static const char bad[] =
        "{\"inputs\":{\"x\":[[[[4]]]],\"indices\":[[[[9]]]]},\"params\":{\"kernel_size\":2}}";
    CURL *handle = curl_easy_init();   /* one keep-alive connection per client */
    tc_resp r;
    char url[256];
    for (int i = c->id; i < n_cases; i += CLIENTS) {
        const gcase *k = &cases[i];
        snprintf(url, sizeof(url), "%s%s", D.base, k->path);
        tc_request_h(handle, "POST", url, h, k->body, strlen(k->body), &r);
        c->sent++;
        if (!answer_ok(k, &r) && !c->wrong++)
            snprintf(c->first_wrong, sizeof(c->first_wrong), "%s: %ld", k->name, r.status);
        tc_free(&r);
        /* an invalid request in between: its own precise answer */
        snprintf(url, sizeof(url), "%s/v1/ops/max_unpool", D.base);
        tc_request_h(handle, "POST", url, h, bad, strlen(bad), &r);
        c->sent++;
        if (r.status != 422 && !c->wrong++)
            snprintf(c->first_wrong, sizeof(c->first_wrong), "invalid request: %ld", r.status);
        tc_free(&r);
    }
    curl_easy_cleanup(handle);
    return NULL;
}

static void clients_64(void)
{
    client cl[CLIENTS];
    int sent = 0, wrong = 0;
    CHECK(n_cases > 100);
    for (int i = 0; i < CLIENTS; i++) {
        memset(&cl[i], 0, sizeof(cl[i]));
        cl[i].id = i;
        pthread_create(&cl[i].th, NULL, client_main, &cl[i]);
    }
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(cl[i].th, NULL);
        sent += cl[i].sent;
        wrong += cl[i].wrong;
        if (cl[i].wrong) printf("    client %d: %d wrong, first %s\n", i, cl[i].wrong, cl[i].first_wrong);
    }
    printf("    %d requests from %d clients, %d wrong\n", sent, CLIENTS, wrong);
    CHECK(wrong == 0 && sent == 2 * n_cases);
}

/* ---- the same bytes whatever the worker count ---- */

static char *b64_of(const void *p, size_t n)
{
    char *s = malloc(up_b64_encoded_len(n) + 1);
    up_b64_encode(p, n, s);
    return s;
}

/* Large requests: max_pool with indices, max_unpool scattering them back,
 * nearest and linear unpooling, conv_transpose. */
static char *big_body(int which, char *path, size_t cap)
{
    enum { N = 2, C = 8, H = 128, W = 128 };
    size_t n = (size_t)N * C * H * W;
    float *x = malloc(n * sizeof(float));
    uint32_t s = 7;
    for (size_t i = 0; i < n; i++) x[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 65536.0f;
    char *bx = b64_of(x, n * sizeof(float)), *body = malloc(strlen(bx) * 2 + 4096);
    const char *xs = "{\"dtype\":\"float32\",\"shape\":[2,8,128,128],\"data_b64\":\"";
    switch (which) {
    case 0:
        snprintf(path, cap, "/v1/ops/max_pool");
        sprintf(body, "{\"inputs\":{\"x\":%s%s\"}},\"params\":{\"kernel_size\":3,\"stride\":2,"
                      "\"padding\":1},\"output_format\":\"b64\"}", xs, bx);
        break;
    case 1: {
        /* indices: a pseudo-random position inside each 2x2 window */
        size_t m = (size_t)N * C * 64 * 64;
        int64_t *idx = malloc(m * sizeof(int64_t));
        for (size_t i = 0; i < m; i++) {
            size_t p = i % (64 * 64), r = p / 64, c = p % 64;
            s = s * 1664525u + 1013904223u;
            idx[i] = (int64_t)((2 * r + ((s >> 20) & 1)) * 128 + 2 * c + ((s >> 21) & 1));
        }
        char *bi = b64_of(idx, m * sizeof(int64_t)), *bv = b64_of(x, m * sizeof(float));
        snprintf(path, cap, "/v1/ops/max_unpool");
        body = realloc(body, strlen(bx) + strlen(bi) + 4096);
        sprintf(body, "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[2,8,64,64],\"data_b64\":\"%s\"},"
                      "\"indices\":{\"dtype\":\"int64\",\"shape\":[2,8,64,64],\"data_b64\":\"%s\"}},"
                      "\"params\":{\"kernel_size\":2},\"output_format\":\"b64\"}",
                bv, bi);
        free(bi);
        free(bv);
        free(idx);
        break;
    }
    case 2:
        snprintf(path, cap, "/v1/ops/nearest_unpool");
        sprintf(body, "{\"inputs\":{\"x\":%s%s\"}},\"params\":{\"scale_factor\":1.5,"
                      "\"mode\":\"nearest_exact\"},\"output_format\":\"b64\"}", xs, bx);
        break;
    case 3:
        snprintf(path, cap, "/v1/ops/fractional_max_unpool");
        sprintf(body, "{\"inputs\":{\"x\":%s%s\"}},\"params\":{\"scale_factor\":2,"
                      "\"coordinate_transform\":\"half_pixel\"},\"output_format\":\"b64\"}", xs, bx);
        break;
    default: {
        float w[8 * 4 * 3 * 3];
        for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) w[i] = (float)((int)(i * 7 % 11) - 5) / 8.0f;
        char *bw = b64_of(w, sizeof(w));
        snprintf(path, cap, "/v1/ops/conv_transpose");
        sprintf(body, "{\"inputs\":{\"x\":%s%s\"},\"weight\":{\"dtype\":\"float32\",\"shape\":[8,4,3,3],"
                      "\"data_b64\":\"%s\"}},\"params\":{\"stride\":2,\"padding\":1,\"output_padding\":1},"
                      "\"output_format\":\"b64\"}", xs, bx, bw);
        free(bw);
    }
    }
    free(x);
    free(bx);
    return body;
}

static void same_bytes_any_workers(void)
{
    th_daemon one, two;
    static const char *const h[] = {"Content-Type: application/json", NULL};
    if (th_daemon_start(&one, (const char *const[]){"--workers", "1", NULL}) != 0) {
        CHECK(0);
        return;
    }
    if (th_daemon_start(&two, (const char *const[]){"--workers", "2", NULL}) != 0) {
        CHECK(0);
        th_daemon_stop(&one);
        return;
    }
    for (int which = 0; which < 5; which++) {
        char path[64];
        char *body = big_body(which, path, sizeof(path));
        double chunks0 = tc_metric(&two, "unpoold_chunks_total");
        tc_resp a, b;
        tc_request("POST", tc_url(&one, path), h, body, strlen(body), &a);
        tc_request("POST", tc_url(&two, path), h, body, strlen(body), &b);
        double chunks = tc_metric(&two, "unpoold_chunks_total") - chunks0;
        CHECKF(a.status == 200 && b.status == 200, "%s: %ld %ld %.200s", path, a.status, b.status, a.body);
        cJSON *ja = cJSON_Parse(a.body), *jb = cJSON_Parse(b.body);
        cJSON *oa = cJSON_GetObjectItemCaseSensitive(ja, "outputs");
        cJSON *ob = cJSON_GetObjectItemCaseSensitive(jb, "outputs");
        char *sa = cJSON_PrintUnformatted(oa), *sb = cJSON_PrintUnformatted(ob);
        CHECKF(sa && sb && strlen(sa) > 100000 && !strcmp(sa, sb), "%s: outputs differ", path);
        /* the two-worker daemon really split it */
        CHECKF(chunks > 1, "%s ran as %.0f chunk(s)", path, chunks);
        printf("    %s: %zu output bytes (JSON), %.0f chunks with 2 workers\n", path,
               sa ? strlen(sa) : 0, chunks);
        free(sa);
        free(sb);
        cJSON_Delete(ja);
        cJSON_Delete(jb);
        tc_free(&a);
        tc_free(&b);
        free(body);
    }
    CHECK(th_daemon_stop(&one) == 0);
    CHECK(th_daemon_stop(&two) == 0);
}

/* ---- SIGTERM under load ---- */

static void sigterm_loses_nothing(void)
{
    enum { K = 6 };
    static const char *const h[] = {"Content-Type: application/json", NULL};
    th_daemon d;
    tc_async a[K];
    if (th_daemon_start(&d, (const char *const[]){"--workers", "1", NULL}) != 0) {
        CHECK(0);
        return;
    }
    char *slow = tc_slow_body(32);
    memset(a, 0, sizeof(a));
    for (int i = 0; i < K; i++)
        tc_async_start(&a[i], &d, "POST", "/v1/ops/conv_transpose", h, slow, strlen(slow));
    /* one running, the rest queued: all of them accepted */
    int queued = tc_wait_metric(&d, "unpoold_queue_depth", K - 1, 10000);
    CHECK(queued);
    CHECK(th_daemon_signal(&d, SIGTERM) == 0);
    int ok = 0;
    for (int i = 0; i < K; i++) {
        tc_async_join(&a[i]);
        ok += a[i].resp.status == 200 && strstr(a[i].resp.body, "\"outputs\"") != NULL;
        tc_free(&a[i].resp);
    }
    CHECKF(ok == K, "%d of %d completed", ok, K);
    int rc = th_daemon_wait(&d, 20000);
    CHECKF(rc == 0, "exit status %d", rc);
    char *log = th_daemon_read_log(&d);
    CHECK(log && strstr(log, "draining") && strstr(log, "drained"));
    free(log);
    if (rc != 0) th_daemon_dump_log(&d);
    th_daemon_stop(&d);
    free(slow);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    load_cases();
    if (th_daemon_start(&D, (const char *const[]){"--workers", "2", NULL}) != 0) {
        th_record("daemon_start", 0);
        return th_summary();
    }
    RUN(clients_64);
    th_record("daemon_exit_0", th_daemon_stop(&D) == 0);
    RUN(same_bytes_any_workers);
    RUN(sigterm_loses_nothing);
    golden_http_cases_free(cases, n_cases);
    curl_global_cleanup();
    return th_summary();
}
