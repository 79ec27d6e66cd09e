/* test_http_service.c -- the service routes (/healthz, /readyz, /metrics,
 * /openapi.yaml, /v1/ops, KServe metadata), openapi.yaml against the routes
 * the daemon really has, keep-alive, logs, start-up errors, and readiness
 * while draining. */
#include <signal.h>

#include "client.h"

static th_daemon D;
static const char SEED[] = "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2}}";
static const char *const JSON_H[] = {"Content-Type: application/json", NULL};

static void health_and_ready(void)
{
    tc_resp r;
    char ct[64];
    tc_request("GET", tc_url(&D, "/healthz"), NULL, NULL, 0, &r);
    CHECK(r.status == 200 && strstr(r.body, "\"ok\""));
    CHECK(tc_header(&r, "Content-Type", ct, sizeof(ct)) && !strcmp(ct, "application/json"));
    tc_free(&r);
    tc_request("GET", tc_url(&D, "/readyz"), NULL, NULL, 0, &r);
    CHECK(r.status == 200 && strstr(r.body, "ready"));
    tc_free(&r);
    tc_request("HEAD", tc_url(&D, "/healthz"), NULL, NULL, 0, &r);
    CHECK(r.status == 200 && r.len == 0);
    tc_free(&r);
    tc_request("GET", tc_url(&D, "/v2/health/live"), NULL, NULL, 0, &r);
    CHECK(r.status == 200 && strstr(r.body, "true"));
    tc_free(&r);
    tc_request("GET", tc_url(&D, "/v2/health/ready"), NULL, NULL, 0, &r);
    CHECK(r.status == 200 && strstr(r.body, "true"));
    tc_free(&r);
}

static void metrics(void)
{
    tc_resp r;
    tc_request("POST", tc_url(&D, "/v1/ops/max_pool"), JSON_H, SEED, strlen(SEED), &r);
    CHECK(r.status == 200);
    tc_free(&r);
    tc_request("GET", tc_url(&D, "/metrics"), NULL, NULL, 0, &r);
    char ct[96];
    CHECK(r.status == 200 && tc_header(&r, "Content-Type", ct, sizeof(ct)) && !strncmp(ct, "text/plain", 10));
    CHECK(strstr(r.body, "# TYPE unpoold_requests_total counter"));
    CHECK(strstr(r.body, "# TYPE unpoold_phase_seconds histogram"));
    tc_free(&r);
    CHECK(tc_metric(&D, "unpoold_requests_total{op=\"max_pool\",status=\"200\",protocol=\"http\"}") >= 1);
    CHECK(tc_metric(&D, "unpoold_requests_total{op=\"none\",status=\"200\",protocol=\"http\"}") >= 1);
    double count = tc_metric(&D, "unpoold_phase_seconds_count{phase=\"compute\"}");
    CHECK(count >= 1);
    CHECK(tc_metric(&D, "unpoold_phase_seconds_bucket{phase=\"compute\",le=\"+Inf\"}") == count);
    CHECK(tc_metric(&D, "unpoold_phase_seconds_sum{phase=\"total\"}") > 0);
    CHECK(tc_metric(&D, "unpoold_workers") == 2);
    CHECK(tc_metric(&D, "unpoold_queue_depth") == 0);
    /* the scrape itself is in flight */
    CHECK(tc_metric(&D, "unpoold_in_flight_requests") >= 1);
    CHECK(tc_metric(&D, "unpoold_received_bytes_total") >= (double)strlen(SEED));
    CHECK(tc_metric(&D, "unpoold_sent_bytes_total") > 0);
    CHECK(tc_metric(&D, "unpoold_draining") == 0);
}

static char *repo_openapi(size_t *len) { return tc_read_file("openapi.yaml", len); }

static void openapi_served(void)
{
    size_t len;
    char *want = repo_openapi(&len), ct[64];
    tc_resp r;
    tc_request("GET", tc_url(&D, "/openapi.yaml"), NULL, NULL, 0, &r);
    CHECK(r.status == 200 && tc_header(&r, "Content-Type", ct, sizeof(ct)) &&
          !strcmp(ct, "application/yaml"));
    CHECK(want && r.len == len && memcmp(r.body, want, len) == 0);
    CHECK(want && strncmp(want, "openapi: 3.1", 12) == 0);
    tc_free(&r);
    free(want);
}

/* The documented paths: "  /path:" under "paths:", methods "    get:". */
typedef struct doc_route {
    char path[96];
    char method[8];
} doc_route;

static int documented(doc_route *out, int cap)
{
    char *y = repo_openapi(NULL), *save = NULL;
    int n = 0, in_paths = 0;
    char cur[96] = "";
    for (char *line = strtok_r(y, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "paths:", 6)) { in_paths = 1; continue; }
        if (in_paths && line[0] != ' ' && line[0] != '#') break;
        if (!in_paths) continue;
        if (!strncmp(line, "  /", 3)) {
            snprintf(cur, sizeof(cur), "%.*s", (int)(strchr(line, ':') - line - 2), line + 2);
            continue;
        }
        if (!strncmp(line, "    get:", 8) || !strncmp(line, "    post:", 9)) {
            if (n < cap) {
                snprintf(out[n].path, sizeof(out[n].path), "%s", cur);
                snprintf(out[n].method, sizeof(out[n].method), "%s", line[4] == 'g' ? "GET" : "POST");
                n++;
            }
        }
    }
    free(y);
    return n;
}

static void openapi_matches_routes(void)
{
    doc_route doc[96];
    int n = documented(doc, 96);
    CHECK(n >= 12);
    for (int i = 0; i < n; i++) {
        char path[128] = "", *op = strstr(doc[i].path, "{op}");
        if (op) {
            *op = 0;
            strcat(path, doc[i].path);
            strcat(path, "max_pool");
            strcat(path, op + 4);
            *op = '{';
        } else {
            strcat(path, doc[i].path);
        }
        const char *body = NULL;
        /* the shared-memory routes answer 404 while --shm is off (this
         * daemon); test_shm runs them */
        if (!strncmp(path, "/v2/systemsharedmemory/", 23)) continue;
        if (!strcmp(doc[i].method, "POST"))
            body = strstr(path, "/infer")
                       ? "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\","
                         "\"data\":[1,2,3,4]}],\"parameters\":{\"kernel_size\":2}}"
                       : SEED;
        tc_resp r;
        tc_request(doc[i].method, tc_url(&D, path), JSON_H, body, body ? strlen(body) : 0, &r);
        /* the body is max_pool's: the other ops' paths exist (not 404 or
         * 405) and answer it with 422 */
        if (!body || strstr(path, "/max_pool"))
            CHECKF(r.status == 200, "%s %s -> %ld", doc[i].method, path, r.status);
        else
            CHECKF(r.status == 422, "%s %s -> %ld", doc[i].method, path, r.status);
        tc_free(&r);
    }
    /* vice versa: every route of the contract is documented, the op
     * routes once per op of the registry (generated by tools/gen_openapi) */
    static const char *const contract[][2] = {
        {"GET", "/v1/ops"}, {"GET", "/v2"},
        {"GET", "/v2/health/live"}, {"GET", "/v2/health/ready"}, {"GET", "/v2/models/{op}"},
        {"GET", "/v2/models/{op}/ready"}, {"GET", "/healthz"},
        {"GET", "/readyz"}, {"GET", "/metrics"}, {"GET", "/openapi.yaml"},
        {"GET", "/"},
        {"GET", "/v2/systemsharedmemory/status"},
        {"POST", "/v2/systemsharedmemory/unregister"},
        {"GET", "/v2/systemsharedmemory/region/{name}/status"},
        {"POST", "/v2/systemsharedmemory/region/{name}/register"},
        {"POST", "/v2/systemsharedmemory/region/{name}/unregister"},
    };
    int want = (int)(sizeof(contract) / sizeof(contract[0]));
    for (size_t k = 0; k < sizeof(contract) / sizeof(contract[0]); k++) {
        int found = 0;
        for (int i = 0; i < n; i++)
            found |= !strcmp(doc[i].method, contract[k][0]) && !strcmp(doc[i].path, contract[k][1]);
        CHECKF(found, "%s %s is not in openapi.yaml", contract[k][0], contract[k][1]);
    }
    for (int o = 0; o < up_op_count(); o++) {
        char v1[96], v2[96];
        int f1 = 0, f2 = 0;
        snprintf(v1, sizeof(v1), "/v1/ops/%s", up_op_at(o)->name);
        snprintf(v2, sizeof(v2), "/v2/models/%s/infer", up_op_at(o)->name);
        for (int i = 0; i < n; i++) {
            f1 |= !strcmp(doc[i].method, "POST") && !strcmp(doc[i].path, v1);
            f2 |= !strcmp(doc[i].method, "POST") && !strcmp(doc[i].path, v2);
        }
        CHECKF(f1 && f2, "POST %s or %s is not in openapi.yaml", v1, v2);
        want += 2;
    }
    CHECKF(n == want, "%d documented operations, want %d", n, want);
    /* and something undocumented is a 404 */
    tc_resp r;
    tc_request("GET", tc_url(&D, "/v1/opz"), NULL, NULL, 0, &r);
    CHECK(r.status == 404);
    tc_free(&r);
}

/* GET /v1/ops lists exactly the ops of openapi.yaml's {op} enum. */
static void ops_document(void)
{
    tc_resp r;
    char *y = repo_openapi(NULL);
    tc_request("GET", tc_url(&D, "/v1/ops"), NULL, NULL, 0, &r);
    CHECK(r.status == 200);
    cJSON *j = cJSON_Parse(r.body), *o;
    int n = 0;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(j, "ops"))
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "name"));
        CHECKF(name && y && strstr(y, name), "op %s not in openapi.yaml", name ? name : "?");
        CHECK(up_op_find(name) != NULL);
        n++;
    }
    CHECK(n == up_op_count());
    cJSON_Delete(j);
    tc_free(&r);
    free(y);
    /* KServe metadata */
    tc_request("GET", tc_url(&D, "/v2/models/conv_transpose"), NULL, NULL, 0, &r);
    CHECK(r.status == 200 && strstr(r.body, "conv_transpose"));
    tc_free(&r);
    tc_request("GET", tc_url(&D, "/v2"), NULL, NULL, 0, &r);
    CHECK(r.status == 200 && strstr(r.body, "unpoold"));
    tc_free(&r);
}

static void keep_alive(void)
{
    CURL *h = curl_easy_init();
    tc_resp r;
    long connects = -1;
    tc_request_h(h, "POST", tc_url(&D, "/v1/ops/max_pool"), JSON_H, SEED, strlen(SEED), &r);
    CHECK(r.status == 200);
    tc_free(&r);
    for (int i = 0; i < 3; i++) {
        tc_request_h(h, i == 1 ? "GET" : "POST", tc_url(&D, i == 1 ? "/healthz" : "/v1/ops/max_pool"),
                     JSON_H, i == 1 ? NULL : SEED, i == 1 ? 0 : strlen(SEED), &r);
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
        CHECKF(r.status == 200 && connects == 0, "request %d: %ld, %ld new connections", i, r.status, connects);
        tc_free(&r);
    }
    curl_easy_cleanup(h);
}

static void startup_errors(void)
{
    char log[4096], port[32];
    snprintf(port, sizeof(port), "127.0.0.1:%d", D.port);
    int rc = th_daemon_run_expect_exit((const char *const[]){"--listen", port, NULL}, 10000, log, sizeof(log));
    CHECKF(rc == 2 && strstr(log, "Address already in use"), "port in use: %d %s", rc, log);
    rc = th_daemon_run_expect_exit((const char *const[]){"--workers", "0", NULL}, 10000, log, sizeof(log));
    CHECKF(rc == 2 && strstr(log, "--workers"), "bad value: %d %s", rc, log);
    rc = th_daemon_run_expect_exit((const char *const[]){"--log-format", "xml", NULL}, 10000, log, sizeof(log));
    CHECKF(rc == 2 && strstr(log, "--log-format"), "bad enum: %d %s", rc, log);
    rc = th_daemon_run_expect_exit((const char *const[]){"--no-such-flag", NULL}, 10000, log, sizeof(log));
    CHECKF(rc == 2 && strstr(log, "unknown flag"), "unknown flag: %d %s", rc, log);
    rc = th_daemon_run_expect_exit((const char *const[]){"--listen", "nowhere", NULL}, 10000, log, sizeof(log));
    CHECKF(rc == 2 && strstr(log, "--listen"), "bad listen: %d %s", rc, log);
    setenv("UNPOOLD_QUEUE", "lots", 1);
    rc = th_daemon_run_expect_exit(NULL, 10000, log, sizeof(log));
    CHECKF(rc == 2 && strstr(log, "UNPOOLD_QUEUE"), "bad env: %d %s", rc, log);
    unsetenv("UNPOOLD_QUEUE");
    /* --help documents every flag and exits 0 */
    char cmd[600], out[8192];
    snprintf(cmd, sizeof(cmd), "%s --help", getenv("UNPOOLD_BIN") ? getenv("UNPOOLD_BIN") : "build/unpoold");
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
    out[n] = 0;
    int st = p ? pclose(p) : -1;
    CHECK(st == 0);
    static const char *const flags[] = {"--listen", "--workers", "--queue", "--max-body-mb",
                                        "--max-elements", "--timeout-ms", "--log-format",
                                        "--tls-cert", "--tls-key", "--api-key-file", "UNPOOLD_"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        CHECKF(strstr(out, flags[i]), "--help does not mention %s", flags[i]);
}

/* JSON access log: one object per line with the request's facts. */
static void json_log(void)
{
    th_daemon j;
    if (th_daemon_start(&j, (const char *const[]){"--log-format", "json", NULL}) != 0) {
        CHECK(0);
        return;
    }
    static const char *const h[] = {"Content-Type: application/json", "X-Request-Id: log-check-1", NULL};
    tc_resp r;
    tc_request("POST", tc_url(&j, "/v1/ops/max_pool"), h, SEED, strlen(SEED), &r);
    CHECK(r.status == 200);
    tc_free(&r);
    th_daemon_signal(&j, SIGTERM);
    CHECK(th_daemon_wait(&j, 20000) == 0);
    char *log = th_daemon_read_log(&j), *save = NULL;
    int lines = 0, access = 0;
    for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(l);
        CHECKF(cJSON_IsObject(o), "not JSON: %s", l);
        lines++;
        const char *rid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "request_id"));
        if (rid && !strcmp(rid, "log-check-1")) {
            access++;
            CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "method")) ?: "", "POST"));
            CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "path")) ?: "", "/v1/ops/max_pool"));
            CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "op")) ?: "", "max_pool"));
            CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "status")) == 200);
            CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "bytes_in")) == (double)strlen(SEED));
            CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "bytes_out")) > 0);
            CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "compute_ms")));
            CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "total_ms")));
        }
        cJSON_Delete(o);
    }
    CHECK(lines >= 3 && access == 1);
    free(log);
    th_daemon_stop(&j);
}

/* Readiness turns false while draining; an open keep-alive connection
 * still sees it, and the in-flight job still completes. */
static void ready_false_while_draining(void)
{
    th_daemon d;
    if (th_daemon_start(&d, (const char *const[]){"--workers", "1", NULL}) != 0) {
        CHECK(0);
        return;
    }
    CURL *h = curl_easy_init();
    tc_resp r;
    char url[128];
    snprintf(url, sizeof(url), "%s/readyz", d.base);
    tc_request_h(h, "GET", url, NULL, NULL, 0, &r);
    CHECK(r.status == 200);
    tc_free(&r);
    char *slow = tc_slow_body(40);
    tc_async a = {0};
    tc_async_start(&a, &d, "POST", "/v1/ops/conv_transpose", JSON_H, slow, strlen(slow));
    CHECK(tc_wait_metric(&d, "unpoold_busy_workers", 1, 5000));
    th_daemon_signal(&d, SIGTERM);
    int saw = 0;
    for (int i = 0; i < 200 && !saw; i++) {
        tc_request_h(h, "GET", url, NULL, NULL, 0, &r);
        saw = r.status == 503;
        tc_free(&r);
    }
    CHECK(saw);
    curl_easy_cleanup(h);
    tc_async_join(&a);
    CHECKF(a.resp.status == 200, "%ld", a.resp.status);
    tc_free(&a.resp);
    CHECK(th_daemon_wait(&d, 20000) == 0);
    th_daemon_stop(&d);
    free(slow);
}

/* --tls-cert/--tls-key: HTTPS with a self-signed certificate from openssl. */
static void tls(void)
{
    char dir[] = "/tmp/unpoold-tls-XXXXXX", cmd[512], cert[64], key[64];
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
             "-subj /CN=localhost >/dev/null 2>&1", key, cert);
    if (system(cmd) != 0) {
        printf("    openssl is not available: TLS not tested\n");
        CHECK(0);
        return;
    }
    th_daemon t;
    if (th_daemon_start(&t, (const char *const[]){"--tls-cert", cert, "--tls-key", key, NULL}) != 0) {
        CHECK(0);
    } else {
        tc_resp r;
        CHECK(!strncmp(t.base, "https://", 8));
        tc_request("POST", tc_url(&t, "/v1/ops/max_pool"), JSON_H, SEED, strlen(SEED), &r);
        CHECKF(r.status == 200 && strstr(r.body, "\"data\":[4]"), "%ld %d", r.status, r.curl_rc);
        tc_free(&r);
        CHECK(th_daemon_stop(&t) == 0);
    }
    char log[2048];
    int rc = th_daemon_run_expect_exit((const char *const[]){"--tls-cert", cert, NULL}, 10000, log, sizeof(log));
    CHECKF(rc == 2 && strstr(log, "--tls-key"), "cert without key: %d %s", rc, log);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (th_daemon_start(&D, (const char *const[]){"--workers", "2", NULL}) != 0) {
        th_record("daemon_start", 0);
        return th_summary();
    }
    RUN(health_and_ready);
    RUN(metrics);
    RUN(openapi_served);
    RUN(openapi_matches_routes);
    RUN(ops_document);
    RUN(keep_alive);
    RUN(startup_errors);
    th_record("daemon_exit_0", th_daemon_stop(&D) == 0);
    RUN(json_log);
    RUN(ready_false_while_draining);
    RUN(tls);
    curl_global_cleanup();
    return th_summary();
}
