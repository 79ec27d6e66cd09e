/* soak.c -- a long mixed load against one daemon, then the health checks
 * that only a long run can make.
 *
 *   soak [REQUESTS] [CLIENTS]      (defaults 50000 and 8)
 *
 * The daemon is $UNPOOLD_BIN (make soak builds it with ASan + LeakSanitizer).
 * CLIENTS threads share REQUESTS between them, each on its own keep-alive
 * connection, and pick every request from a fixed mix (seeded, so a run can
 * be repeated):
 *   45% a golden case (every op, dtype and layout) whose answer is compared
 *       with PyTorch's, 15% a malformed or invalid request with its exact
 *       status, 10% .npy in and out, 5% safetensors, 5% KServe v2 JSON,
 *       5% GET routes, 10% clients that vanish mid-body, 5% clients that send
 *       a whole request and hang up before the answer.
 * Checks: no 5xx at all, every valid answer correct, every invalid one the
 * expected status; after the load the daemon's RSS is within 10% of where it
 * stood after the warm-up (the first 20% of the requests, at least 1000,
 * which fill the allocator's caches and ASan's quarantine); then SIGTERM:
 * exit 0 with no LeakSanitizer report.
 * Ends with "N passed, N failed", one case per check (the per-request
 * results are one case, "every answer correct", with their counts printed).
 * Bounded: it stops sending after SOAK_MAX_SECONDS (default 600). */
#include <signal.h>
#include <stdatomic.h>

#include "tests/integration/client.h"
#include "tests/support/golden.h"
#include "tests/integration/raw.h"

static th_daemon D;
static int total_requests = 50000, n_clients = 8, max_seconds = 600;
static atomic_int next_req, passed, failed, n5xx, kinds[8];
static uint64_t t_start;

typedef golden_http_case gcase;
static gcase *cases;
static int n_cases;

static void load_cases(void) { n_cases = golden_http_cases(&cases); }

static int golden_ok(const gcase *k, const tc_resp *r, char *why, size_t cap)
{
    if (r->status != 200) {
        snprintf(why, cap, "%.60s: status %ld %.100s", k->name, r->status, r->body);
        return 0;
    }
    cJSON *a = cJSON_Parse(r->body), *e;
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(a, "outputs");
    int ok = outs != NULL;
    cJSON_ArrayForEach(e, k->expected)
    {
        tc_tensor got, want;
        if (!ok || tc_tensor_from_json(cJSON_GetObjectItemCaseSensitive(outs, e->string), &got) < 0) {
            ok = 0;
            snprintf(why, cap, "%s: output %s missing", k->name, e->string);
            break;
        }
        tc_tensor_from_json(e, &want);
        ok = tc_tensor_match(&got, &want, k->atol, k->rtol, why, cap);
        tc_tensor_free(&got);
        tc_tensor_free(&want);
        if (!ok) break;
    }
    cJSON_Delete(a);
    return ok;
}

/* ---- the fixed requests -------------------------------------------------- */

static const char SEED[] = "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2}}";

typedef struct bad_req {
    const char *path, *ctype, *body;
    long status;
    size_t len;            /* 0: strlen(body) */
} bad_req;

static const bad_req BAD[] = {
    {"/v1/ops/max_pool", "application/json", "{\"inputs\": {\"x\": [[[1, 2", 400, 0},
    {"/v1/ops/max_pool", "application/json", "{\"inputs\":{\"x\":[[[1,2],[3]]]},\"params\":{\"kernel_size\":1}}", 400, 0},
    {"/v1/ops/max_pool", "application/json", "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2,\"bogus\":1}}", 422, 0},
    {"/v1/ops/max_unpool", "application/json", "{\"inputs\":{\"x\":[[[[4]]]],\"indices\":[[[[9]]]]},\"params\":{\"kernel_size\":2}}", 422, 0},
    {"/v1/ops/nearest_unpool", "application/json", "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1099511627776,1099511627776,1099511627776,1099511627776],\"data\":[1]}},\"params\":{\"scale_factor\":2}}", 413, 0},
    {"/v1/ops/max_poool", "application/json", SEED, 404, 0},
    {"/v1/ops/max_pool", "text/csv", "1,2", 415, 0},
    {"/v1/ops/max_pool", "application/x-npy", "\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'", 400, 25},
    {"/v1/ops/max_pool", "application/x-safetensors", "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 400, 0},
    {"/v2/models/max_pool/infer", "application/json", "{\"inputs\": 3}", 400, 0},
};
#define N_BAD ((int)(sizeof(BAD) / sizeof(BAD[0])))

/* x = [1,2,3,4] as (1,1,2,2) float32 .npy */
static char npy_x[256];
static size_t npy_len;
/* the same as a safetensors file */
static char st_x[256];
static size_t st_len;

static void make_binary_inputs(void)
{
    char h[128];
    float x[4] = {1, 2, 3, 4};
    int hl = snprintf(h, sizeof(h), "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), }");
    while ((10 + hl + 1) % 64) h[hl++] = ' ';
    h[hl++] = '\n';
    memcpy(npy_x, "\x93NUMPY\x01\x00", 8);
    uint16_t l16 = (uint16_t)hl;
    memcpy(npy_x + 8, &l16, 2);
    memcpy(npy_x + 10, h, (size_t)hl);
    memcpy(npy_x + 10 + hl, x, 16);
    npy_len = 10 + (size_t)hl + 16;
    const char *sh = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,2,2],\"data_offsets\":[0,16]}}";
    uint64_t sl = strlen(sh);
    memcpy(st_x, &sl, 8);
    memcpy(st_x + 8, sh, sl);
    memcpy(st_x + 8 + sl, x, 16);
    st_len = 8 + sl + 16;
}

/* ---- one client ---------------------------------------------------------- */

typedef struct client {
    pthread_t th;
    int id;
    uint32_t rng;
    CURL *h;
    int fails_printed;
} client;

static uint32_t rnd(client *c) { return (c->rng = c->rng * 1664525u + 1013904223u) >> 8; }

static void record(client *c, int ok, long status, const char *why)
{
    if (status >= 500) atomic_fetch_add(&n5xx, 1);
    if (ok && status < 500) {
        atomic_fetch_add(&passed, 1);
        return;
    }
    atomic_fetch_add(&failed, 1);
    if (c->fails_printed++ < 5) printf("    client %d: %s (status %ld)\n", c->id, why, status);
}

static void post(client *c, const char *path, const char *const *h, const void *body, size_t len, tc_resp *r)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", D.base, path);
    tc_request_h(c->h, "POST", url, h, body, len, r);
}

static void do_golden(client *c)
{
    static const char *const h[] = {"Content-Type: application/json", NULL};
    const gcase *k = &cases[rnd(c) % (uint32_t)n_cases];
    tc_resp r;
    char why[256] = "";
    post(c, k->path, h, k->body, strlen(k->body), &r);
    record(c, golden_ok(k, &r, why, sizeof(why)), r.status, why);
    tc_free(&r);
}

static void do_bad(client *c)
{
    const bad_req *b = &BAD[rnd(c) % N_BAD];
    char ct[96], why[256];
    const char *h[] = {ct, NULL};
    snprintf(ct, sizeof(ct), "Content-Type: %s", b->ctype);
    tc_resp r;
    size_t len = b->len ? b->len : strlen(b->body);
    post(c, b->path, h, b->body, len, &r);
    snprintf(why, sizeof(why), "%s %.40s: want %ld, got %ld %.100s", b->path, b->body, b->status, r.status, r.body);
    record(c, r.status == b->status && strstr(r.body, b->path[2] == '2' ? "\"error\"" : "\"status\""), r.status, why);
    tc_free(&r);
}

static void do_npy(client *c)
{
    static const char *const h[] = {"Content-Type: application/x-npy", "Accept: application/x-npy", NULL};
    tc_resp r;
    float y = 0;
    post(c, "/v1/ops/max_pool?kernel_size=2", h, npy_x, npy_len, &r);
    if (r.status == 200 && r.len >= 4) memcpy(&y, r.body + r.len - 4, 4);
    int ok = r.status == 200 && !memcmp(r.body, "\x93NUMPY", 6) && strstr(r.body + 10, "(1, 1, 1, 1)") && y == 4.0f;
    record(c, ok, r.status, "npy answer wrong");
    tc_free(&r);
}

static void do_safetensors(client *c)
{
    static const char *const h[] = {"Content-Type: application/x-safetensors", NULL};
    tc_resp r;
    post(c, "/v1/ops/max_pool?kernel_size=2", h, st_x, st_len, &r);
    record(c, r.status == 200 && strstr(r.body, "\"data\":[4]") != NULL, r.status, "safetensors answer wrong");
    tc_free(&r);
}

static void do_kserve(client *c)
{
    static const char *const h[] = {"Content-Type: application/json", NULL};
    static const char body[] = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\","
                               "\"data\":[1,2,3,4]}],\"parameters\":{\"kernel_size\":2}}";
    tc_resp r;
    post(c, "/v2/models/max_pool/infer", h, body, strlen(body), &r);
    cJSON *j = cJSON_Parse(r.body);
    int ok = r.status == 200 && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "outputs")) == 2 &&
             strstr(r.body, "[4]") != NULL;
    cJSON_Delete(j);
    record(c, ok, r.status, "kserve answer wrong");
    tc_free(&r);
}

static void do_get(client *c)
{
    static const char *const paths[] = {"/healthz", "/readyz", "/v1/ops", "/metrics", "/v2/models/max_pool"};
    const char *p = paths[rnd(c) % 5];
    char url[256];
    snprintf(url, sizeof(url), "%s%s", D.base, p);
    tc_resp r;
    tc_request_h(c->h, "GET", url, NULL, NULL, 0, &r);
    record(c, r.status == 200 && r.len > 0, r.status, p);
    tc_free(&r);
}

/* A client that goes away: mid-body (whole==0) or after the whole request
 * but before reading the answer (whole==1). Nothing comes back to check;
 * the checks are the daemon's health after the run. */
static void do_vanish(client *c, int whole)
{
    char head[256];
    int fd = raw_connect(D.port, 2000);
    if (fd < 0) {
        record(c, 0, 0, "connect failed");
        return;
    }
    int hl = snprintf(head, sizeof(head), "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\n"
                                          "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      strlen(SEED) + (whole ? 0 : 100));
    raw_send(fd, head, (size_t)hl);
    raw_send(fd, SEED, whole ? strlen(SEED) : rnd(c) % strlen(SEED));
    if (rnd(c) & 1) {
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(fd);
    record(c, 1, 0, "");
}

static void *client_main(void *arg)
{
    client *c = arg;
    c->h = curl_easy_init();
    for (;;) {
        int i = atomic_fetch_add(&next_req, 1);
        if (i >= total_requests) break;
        if ((int)((raw_now_ms() - t_start) / 1000) > max_seconds) break;
        uint32_t pick = rnd(c) % 100;
        int kind = pick < 45 ? 0 : pick < 60 ? 1 : pick < 70 ? 2 : pick < 75 ? 3 : pick < 80 ? 4 : pick < 85 ? 5 : pick < 95 ? 6 : 7;
        atomic_fetch_add(&kinds[kind], 1);
        switch (kind) {
        case 0: do_golden(c); break;
        case 1: do_bad(c); break;
        case 2: do_npy(c); break;
        case 3: do_safetensors(c); break;
        case 4: do_kserve(c); break;
        case 5: do_get(c); break;
        case 6: do_vanish(c, 0); break;
        default: do_vanish(c, 1); break;
        }
    }
    curl_easy_cleanup(c->h);
    return NULL;
}

/* Run clients until next_req reaches until. */
static void run_phase(int until)
{
    int saved = total_requests;
    total_requests = until;
    client *cl = calloc((size_t)n_clients, sizeof(client));
    for (int i = 0; i < n_clients; i++) {
        cl[i].id = i;
        cl[i].rng = 0x9e3779b9u * (uint32_t)(i + 1) + (uint32_t)until;
        pthread_create(&cl[i].th, NULL, client_main, &cl[i]);
    }
    for (int i = 0; i < n_clients; i++) pthread_join(cl[i].th, NULL);
    free(cl);
    total_requests = saved;
}

/* Quiescent RSS: wait until in-flight work is gone, then sample. */
static long settled_rss(void)
{
    tc_wait_metric(&D, "unpoold_inflight_bytes", 0, 5000);
    raw_nap_ms(1500);
    return th_daemon_rss_kib(&D);
}

int main(int argc, char **argv)
{
    if (argc > 1) total_requests = atoi(argv[1]);
    if (argc > 2) n_clients = atoi(argv[2]);
    if (getenv("SOAK_MAX_SECONDS")) max_seconds = atoi(getenv("SOAK_MAX_SECONDS"));
    if (total_requests < 100 || n_clients < 1 || n_clients > 64) {
        fprintf(stderr, "usage: soak [REQUESTS>=100] [CLIENTS 1-64]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    load_cases();
    make_binary_inputs();
    if (n_cases < 10 || th_daemon_start(&D, (const char *const[]){"--workers", "2", "--queue", "1024", NULL}) != 0) {
        th_record("daemon_start", 0);
        return th_summary();
    }
    t_start = raw_now_ms();
    long rss_start = th_daemon_rss_kib(&D);
    int warm = total_requests / 5 > 1000 ? total_requests / 5 : 1000;
    if (warm > total_requests / 2) warm = total_requests / 2;
    run_phase(warm);
    long rss_warm = settled_rss();
    run_phase(total_requests);
    double secs = (double)(raw_now_ms() - t_start) / 1000;
    long rss_end = settled_rss();
    int sent = atomic_load(&next_req) < total_requests ? atomic_load(&next_req) : total_requests;
    printf("    %d requests in %.1f s (%.0f/s) from %d clients: golden %d, invalid %d, npy %d, "
           "safetensors %d, kserve %d, get %d, vanish mid-body %d, vanish before answer %d\n",
           sent, secs, sent / secs, n_clients, kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5],
           kinds[6], kinds[7]);
    printf("    RSS: %ld KiB at start, %ld KiB after warm-up (%d requests), %ld KiB after the load "
           "(%+.1f%%)\n",
           rss_start, rss_warm, warm, rss_end, 100.0 * (double)(rss_end - rss_warm) / (double)rss_warm);
    printf("    5xx answers: %d; jobs dropped for vanished clients: %.0f\n", atomic_load(&n5xx),
           tc_metric(&D, "unpoold_jobs_dropped_total"));
    int all_sent = sent == total_requests;
    th_record("soak_all_requests_sent", all_sent);
    tc_resp m;
    tc_request("GET", tc_url(&D, "/metrics"), NULL, NULL, 0, &m);
    /* the daemon's own count too: answers to vanished clients included */
    th_record("soak_no_5xx", atomic_load(&n5xx) == 0 && m.status == 200 && !strstr(m.body, "status=\"5"));
    th_record("soak_rss_within_10_percent", rss_end <= rss_warm + rss_warm / 10);
    double answered = 0;
    for (const char *p = m.body; p && (p = strstr(p, "unpoold_requests_total{")); p++) {
        const char *sp = strchr(p, ' ');
        if (sp) answered += strtod(sp + 1, NULL);
    }
    printf("    the daemon counted %.0f answers (scrapes included)\n", answered);
    printf("    before SIGTERM: %.0f requests in flight, %.0f connections open\n",
           tc_metric(&D, "unpoold_in_flight_requests") - 1, tc_metric(&D, "unpoold_open_connections") - 1);
    tc_free(&m);
    int rc = th_daemon_stop(&D); /* dumps the log (with any leak report) on failure */
    th_record("soak_daemon_exit_0_no_leak", rc == 0);
    golden_http_cases_free(cases, n_cases);
    curl_global_cleanup();
    printf("    answers checked: %d correct, %d wrong\n", atomic_load(&passed), atomic_load(&failed));
    th_record("soak_every_answer_correct", atomic_load(&failed) == 0 && atomic_load(&passed) > 0);
    return th_summary();
}
