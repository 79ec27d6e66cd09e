/* test_http_errors.c -- every status of the contract provoked on purpose
 * (400, 401, 404, 405, 406, 413, 415, 422, 503, 504), each answer's
 * problem+json checked, and the daemon still serving afterwards. */
#include "client.h"

static th_daemon D;   /* --workers 1 --queue 1: easy to fill */

static const char *const JSON_H[] = {"Content-Type: application/json", NULL};
static const char SEED[] = "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2}}";

static tc_resp post(const char *path, const char *const *h, const char *body)
{
    tc_resp r;
    tc_request("POST", tc_url(&D, path), h ? h : JSON_H, body, strlen(body), &r);
    return r;
}

static void status_400(void)
{
    tc_resp r = post("/v1/ops/max_pool", NULL, "{\"inputs\": {\"x\": [[[1, 2]]");
    CHECK(tc_problem_ok(&r, 400, NULL));
    tc_free(&r);
    r = post("/v1/ops/max_pool", NULL, "{\"inputs\": 5, \"params\": {\"kernel_size\": 2}}");
    CHECK(tc_problem_ok(&r, 400, "inputs"));
    tc_free(&r);
    /* ragged nested lists */
    r = post("/v1/ops/max_pool", NULL,
             "{\"inputs\":{\"x\":[[[1,2],[3]]]},\"params\":{\"kernel_size\":1}}");
    CHECK(tc_problem_ok(&r, 400, "inputs.x"));
    tc_free(&r);
    /* a bad deadline header is the server's own 400 */
    static const char *const h[] = {"Content-Type: application/json", "X-Request-Timeout-Ms: soon", NULL};
    r = post("/v1/ops/max_pool", h, SEED);
    CHECK(tc_problem_ok(&r, 400, "headers.X-Request-Timeout-Ms"));
    tc_free(&r);
}

static void status_404(void)
{
    tc_resp r = post("/v1/ops/max_poool", NULL, SEED);
    CHECK(tc_problem_ok(&r, 404, "op"));
    CHECK(strstr(r.body, "max_poool") != NULL);
    tc_free(&r);
    tc_request("GET", tc_url(&D, "/no/such/path"), NULL, NULL, 0, &r);
    CHECK(tc_problem_ok(&r, 404, "path"));
    tc_free(&r);
    tc_request("GET", tc_url(&D, "/v1/ops/"), NULL, NULL, 0, &r);
    CHECK(tc_problem_ok(&r, 404, "path"));
    tc_free(&r);
    /* KServe routes answer in KServe's error form */
    tc_request("GET", tc_url(&D, "/v2/models/nope"), NULL, NULL, 0, &r);
    cJSON *j = cJSON_Parse(r.body);
    CHECKF(r.status == 404 && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")),
           "%ld %s", r.status, r.body);
    cJSON_Delete(j);
    tc_free(&r);
}

static void status_405(void)
{
    char allow[64];
    tc_resp r;
    tc_request("GET", tc_url(&D, "/v1/ops/max_pool"), NULL, NULL, 0, &r);
    CHECK(tc_problem_ok(&r, 405, "method"));
    CHECK(tc_header(&r, "Allow", allow, sizeof(allow)) && !strcmp(allow, "POST"));
    tc_free(&r);
    r = post("/healthz", NULL, "{}");
    CHECK(tc_problem_ok(&r, 405, "method"));
    CHECK(tc_header(&r, "Allow", allow, sizeof(allow)) && !strcmp(allow, "GET, HEAD"));
    tc_free(&r);
    tc_request("DELETE", tc_url(&D, "/metrics"), NULL, NULL, 0, &r);
    CHECK(tc_problem_ok(&r, 405, "method"));
    tc_free(&r);
    tc_request("PUT", tc_url(&D, "/v2/models/max_pool/infer"), NULL, "{}", 2, &r);
    CHECKF(r.status == 405 && tc_header(&r, "Allow", allow, sizeof(allow)), "%ld", r.status);
    tc_free(&r);
}

static void status_406(void)
{
    static const char *const h[] = {"Content-Type: application/json", "Accept: text/csv", NULL};
    tc_resp r = post("/v1/ops/max_pool", h, SEED);
    CHECK(tc_problem_ok(&r, 406, NULL));
    tc_free(&r);
}

static void status_413(void)
{
    /* Content-Length over --max-body-mb 1: refused before the body is read */
    size_t n = 1536 * 1024;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[n] = 0;
    big[0] = '{';
    big[n - 1] = '}';
    tc_resp r = post("/v1/ops/max_pool", NULL, big);
    CHECK(tc_problem_ok(&r, 413, "body"));
    tc_free(&r);
    /* chunked: no Content-Length, the body grows over the limit */
    static const char *const chunked[] = {"Content-Type: application/json",
                                          "Transfer-Encoding: chunked", NULL};
    tc_request("POST", tc_url(&D, "/v1/ops/max_pool"), chunked, big, n, &r);
    CHECK(tc_problem_ok(&r, 413, "body"));
    tc_free(&r);
    free(big);
    /* a tensor over --max-elements 200000 */
    r = post("/v1/ops/nearest_unpool", NULL,
             "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"scale_factor\":1000}}");
    CHECK(tc_problem_ok(&r, 413, NULL));
    tc_free(&r);
}

static void status_415(void)
{
    static const char *const h[] = {"Content-Type: text/csv", NULL};
    tc_resp r = post("/v1/ops/max_pool", h, "1,2\n3,4\n");
    CHECK(tc_problem_ok(&r, 415, NULL));
    tc_free(&r);
}

static void status_422(void)
{
    tc_resp r = post("/v1/ops/max_pool", NULL,
                     "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2,\"bogus\":1}}");
    CHECK(tc_problem_ok(&r, 422, "params.bogus"));
    tc_free(&r);
    /* an index outside its plane: found by the kernel on a worker */
    r = post("/v1/ops/max_unpool", NULL,
             "{\"inputs\":{\"x\":[[[[4]]]],\"indices\":[[[[7]]]]},\"params\":{\"kernel_size\":2}}");
    CHECK(tc_problem_ok(&r, 422, "inputs.indices"));
    CHECK(strstr(r.body, "7") != NULL);
    tc_free(&r);
    /* kernel_size missing */
    r = post("/v1/ops/max_pool", NULL, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]}}");
    CHECK(tc_problem_ok(&r, 422, "params.kernel_size"));
    tc_free(&r);
}

/* Worker busy with a slow job, one job waiting: the next gets 503 at once
 * with Retry-After; the two accepted ones still complete. */
static void status_503(void)
{
    char *slow = tc_slow_body(40);
    tc_async a = {0}, b = {0};
    /* the previous test's worker may still be finishing after its client
     * got the answer: start from an idle pool so the counts below are ours */
    CHECK(tc_wait_metric(&D, "unpoold_busy_workers", 0, 5000));
    CHECK(tc_wait_metric(&D, "unpoold_queue_depth", 0, 5000));
    tc_async_start(&a, &D, "POST", "/v1/ops/conv_transpose", JSON_H, slow, strlen(slow));
    CHECK(tc_wait_metric(&D, "unpoold_busy_workers", 1, 5000));
    tc_async_start(&b, &D, "POST", "/v1/ops/conv_transpose", JSON_H, slow, strlen(slow));
    CHECK(tc_wait_metric(&D, "unpoold_queue_depth", 1, 5000));
    tc_resp r = post("/v1/ops/max_pool", NULL, SEED);
    char ra[32];
    CHECK(tc_problem_ok(&r, 503, "queue"));
    CHECK(tc_header(&r, "Retry-After", ra, sizeof(ra)) && atoi(ra) >= 1);
    tc_free(&r);
    tc_async_join(&a);
    tc_async_join(&b);
    CHECKF(a.resp.status == 200 && b.resp.status == 200, "%ld %ld", a.resp.status, b.resp.status);
    tc_free(&a.resp);
    tc_free(&b.resp);
    free(slow);
}

/* A job whose deadline passes while it waits behind a slow one: 504. */
static void status_504(void)
{
    char *slow = tc_slow_body(40);
    tc_async a = {0};
    /* the previous test's worker may still be finishing after its client
     * got the answer: start from an idle pool so the counts below are ours */
    CHECK(tc_wait_metric(&D, "unpoold_busy_workers", 0, 5000));
    CHECK(tc_wait_metric(&D, "unpoold_queue_depth", 0, 5000));
    tc_async_start(&a, &D, "POST", "/v1/ops/conv_transpose", JSON_H, slow, strlen(slow));
    CHECK(tc_wait_metric(&D, "unpoold_busy_workers", 1, 5000));
    CHECK(tc_wait_metric(&D, "unpoold_queue_depth", 0, 5000));
    static const char *const h[] = {"Content-Type: application/json", "X-Request-Timeout-Ms: 20", NULL};
    tc_resp r = post("/v1/ops/max_pool", h, SEED);
    CHECK(tc_problem_ok(&r, 504, "headers.X-Request-Timeout-Ms"));
    tc_free(&r);
    tc_async_join(&a);
    CHECKF(a.resp.status == 200, "%ld", a.resp.status);
    tc_free(&a.resp);
    free(slow);
}

static void still_serving(void)
{
    tc_resp r = post("/v1/ops/max_pool", NULL, SEED);
    CHECKF(r.status == 200 && strstr(r.body, "\"data\":[4]"), "%ld %s", r.status, r.body);
    tc_free(&r);
    /* and the statuses were counted */
    CHECK(tc_metric(&D, "unpoold_requests_total{op=\"max_pool\",status=\"503\",protocol=\"http\"}") >= 1);
    CHECK(tc_metric(&D, "unpoold_requests_total{op=\"max_pool\",status=\"504\",protocol=\"http\"}") >= 1);
}

/* --api-key-file: 401 with WWW-Authenticate without the key; health open. */
static void status_401(void)
{
    char path[] = "/tmp/unpoold-keys-XXXXXX", v[128];
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, "# keys\nsecret-one\nsecret-two\n", 29) == 29);
    close(fd);
    th_daemon k;
    if (th_daemon_start(&k, (const char *const[]){"--api-key-file", path, NULL}) != 0) {
        CHECK(0);
        unlink(path);
        return;
    }
    tc_resp r;
    tc_request("POST", tc_url(&k, "/v1/ops/max_pool"), JSON_H, SEED, strlen(SEED), &r);
    CHECK(tc_problem_ok(&r, 401, "headers.Authorization"));
    CHECK(tc_header(&r, "WWW-Authenticate", v, sizeof(v)) && !strncmp(v, "Bearer", 6));
    tc_free(&r);
    static const char *const wrong[] = {"Content-Type: application/json", "Authorization: Bearer secret-on", NULL};
    tc_request("POST", tc_url(&k, "/v1/ops/max_pool"), wrong, SEED, strlen(SEED), &r);
    CHECK(tc_problem_ok(&r, 401, NULL));
    tc_free(&r);
    static const char *const right[] = {"Content-Type: application/json", "Authorization: Bearer secret-two", NULL};
    tc_request("POST", tc_url(&k, "/v1/ops/max_pool"), right, SEED, strlen(SEED), &r);
    CHECKF(r.status == 200, "%ld", r.status);
    tc_free(&r);
    tc_request("GET", tc_url(&k, "/healthz"), NULL, NULL, 0, &r);
    CHECK(r.status == 200);
    tc_free(&r);
    char *log = th_daemon_read_log(&k);
    CHECK(log && !strstr(log, "secret-"));
    free(log);
    CHECK(th_daemon_stop(&k) == 0);
    unlink(path);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (th_daemon_start(&D, (const char *const[]){"--workers", "1", "--queue", "1", "--max-body-mb",
                                                  "1", "--max-elements", "200000", NULL}) != 0) {
        th_record("daemon_start", 0);
        return th_summary();
    }
    RUN(status_400);
    RUN(status_404);
    RUN(status_405);
    RUN(status_406);
    RUN(status_413);
    RUN(status_415);
    RUN(status_422);
    RUN(status_503);
    RUN(status_504);
    RUN(still_serving);
    th_record("daemon_exit_0", th_daemon_stop(&D) == 0);
    RUN(status_401);
    curl_global_cleanup();
    return th_summary();
}
