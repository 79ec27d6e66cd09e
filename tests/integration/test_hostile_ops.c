/* test_hostile_ops.c -- the op-layer attack review (issue 12), one named
 * test per case, against a live daemon.
 *
 * Every case is a small request that once hung, crashed or bloated the
 * daemon: huge kernel/padding/stride/dilation, empty tensors with huge
 * dims, a float32 window start rounding past the input, tiny bodies with
 * huge answers or window scans, big JSON lists, tables and answers outside
 * the memory budget, bodies that are declared and never sent, SIGTERM with
 * pipelined requests, and the small faults (API key length, request-line
 * drip, JSON depth on every parser, NUL in keys and query values,
 * repeated keys). Each case asserts:
 *   - its status: a 4xx (a 422 names the param) or a correct 200;
 *   - that it is answered within TIME_LIMIT_MS (~2 s; more under ASan,
 *     whose daemon is several times slower);
 *   - that GET /healthz, probed on other connections all along, answers
 *     every time within 100 ms;
 *   - that the daemon is alive and its log holds no sanitizer report
 *     (tests/run_all.sh runs this again with the ASan+UBSan daemon). A
 *     daemon that died or reported is restarted, so the next case is
 *     judged on its own.
 * Cases that need their own limits (--max-inflight-mb 64, a key file,
 * SIGTERM) start their own daemon; the memory cases also bound its peak
 * RSS (VmHWM after clear_refs) by --max-inflight-mb + 100 MiB. */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "client.h"
#include "raw.h"

static th_daemon D;
static const char *const FLAGS[] = {"--workers", "2", "--header-timeout-s", "2",
                                    "--body-timeout-s", "4", "--idle-timeout-s", "10",
                                    "--max-json-depth", "16", NULL};
#define JSON_CT "Content-Type: application/json\r\n"
#define HEALTH_MS 100
#define MIB (1024.0 * 1024.0)

/* The sanitized daemon is several times slower; the bound on /healthz is
 * the same for both. */
static int sanitized(void)
{
    const char *b = getenv("UNPOOLD_BIN");
    return b && strstr(b, "asan") != NULL;
}

static uint64_t time_limit_ms(void) { return sanitized() ? 8000 : 2000; }

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, f);
    if (vasprintf(&s, f, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

static char *b64(const void *p, size_t n)
{
    char *s = malloc(up_b64_encoded_len(n) + 1);
    up_b64_encode(p, n, s);
    return s;
}

/* {"dtype": dt, "shape": [...], "data_b64": "..."} */
static char *tensor_b64(const char *dt, const int64_t *shape, int rank, const void *p, size_t n)
{
    char sh[160];
    size_t k = 0;
    for (int i = 0; i < rank; i++)
        k += (size_t)snprintf(sh + k, sizeof(sh) - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    char *d = b64(p, n), *s = fmt("{\"dtype\":\"%s\",\"shape\":[%s],\"data_b64\":\"%s\"}", dt, sh, d);
    free(d);
    return s;
}

/* ---- the daemon: alive, and no sanitizer report ------------------------- */

static const char *const *D_FLAGS;

static int log_is_clean(const th_daemon *d)
{
    static const char *const marks[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                        "runtime error", "SUMMARY: ", "Sanitizer"};
    char *log = th_daemon_read_log(d);
    int clean = log != NULL;
    for (size_t i = 0; log && i < sizeof(marks) / sizeof(marks[0]); i++)
        if (strstr(log, marks[i])) {
            printf("    daemon log has \"%s\"\n", marks[i]);
            clean = 0;
        }
    free(log);
    return clean;
}

static int is_alive(th_daemon *d)
{
    int st;
    if (d->pid <= 0) return 0;
    if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
        printf("    daemon died (%s %d)\n", WIFSIGNALED(st) ? "signal" : "exit",
               WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        d->pid = 0;
        return 0;
    }
    return 1;
}

/* GET /healthz answers 200 within a second. */
static int answers_health(const th_daemon *d)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    raw_resp r;
    raw_exchange(d->port, req, sizeof(req) - 1, &r, 1000);
    int ok = r.status == 200;
    raw_free(&r);
    if (!ok) printf("    the daemon no longer answers /healthz\n");
    return ok;
}

/* Alive, answering and clean; otherwise the log is shown and the daemon
 * replaced (when flags are given), so a wedged or dead daemon does not
 * fail the cases after it. `overran`: the case's request outlived its
 * time limit and may still be running; the daemon is replaced all the
 * same (the case has failed already). */
static int daemon_ok(th_daemon *d, const char *const *flags, int overran)
{
    int ok = is_alive(d) && answers_health(d);
    ok &= log_is_clean(d);
    if (ok && !overran) return 1;
    if (!ok) th_daemon_dump_log(d);
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
        d->pid = 0;
    }
    th_daemon_stop(d);
    if (flags && th_daemon_start(d, flags) != 0) printf("    could not restart the daemon\n");
    return ok;
}

/* SIGTERM, wait, then judge: exit 0 and a clean log (LeakSanitizer reports
 * come at exit). Removes the log. */
static int stop_clean(th_daemon *d)
{
    int rc = 0;
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        rc = th_daemon_wait(d, 30000);
    }
    int clean = log_is_clean(d);
    if (rc != 0 || !clean) {
        printf("    daemon exit %d\n", rc);
        th_daemon_dump_log(d);
    }
    th_daemon_stop(d);
    return rc == 0 && clean;
}

/* ---- /healthz probed while a request runs ------------------------------- */

typedef struct probe {
    pthread_t th;
    int port;
    atomic_int stop;
    int n, bad, n_slow;
    uint64_t worst_ms, t0;
    uint64_t slow_at[8], slow_ms[8]; /* the first slow probes: when, how long */
} probe;

static void *probe_main(void *arg)
{
    probe *p = arg;
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    do {
        raw_resp r;
        uint64_t t0 = raw_now_ms();
        raw_exchange(p->port, req, sizeof(req) - 1, &r, 3000);
        uint64_t dt = raw_now_ms() - t0;
        p->bad += r.status != 200;
        if (dt > p->worst_ms) p->worst_ms = dt;
        if ((dt > HEALTH_MS || r.status != 200) && p->n_slow < 8) {
            p->slow_at[p->n_slow] = t0 - p->t0;
            p->slow_ms[p->n_slow++] = dt;
        }
        p->n++;
        raw_free(&r);
        raw_nap_ms(5);
    } while (!atomic_load(&p->stop));
    return NULL;
}

static void probe_start(probe *p, int port)
{
    memset(p, 0, sizeof(*p));
    p->port = port;
    p->t0 = raw_now_ms();
    pthread_create(&p->th, NULL, probe_main, p);
}

/* Stop and judge: every probe answered 200 within HEALTH_MS. */
static int probe_finish(probe *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    if (p->bad || p->worst_ms > HEALTH_MS) {
        printf("    /healthz while the request ran: %d of %d probes failed, slowest %llu ms "
               "(limit %d); slow ones (start ms: took ms):", p->bad, p->n,
               (unsigned long long)p->worst_ms, HEALTH_MS);
        for (int i = 0; i < p->n_slow; i++)
            printf(" %llu: %llu", (unsigned long long)p->slow_at[i], (unsigned long long)p->slow_ms[i]);
        printf("\n");
        return 0;
    }
    return 1;
}

/* ---- one request, probed and timed -------------------------------------- */

typedef struct outcome {
    raw_resp r;
    uint64_t ms;
    int health_ok;
} outcome;

/* raw_request's framing (Connection: close, Content-Length), but giving
 * up a few seconds past the time limit: a hung daemon fails the case
 * instead of stalling the run. */
static void probed_request(const th_daemon *d, const char *method, const char *path,
                           const char *headers, const void *body, size_t n, outcome *o)
{
    probe p;
    char *head = fmt("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n", method, path, headers, n);
    size_t hl = strlen(head);
    char *all = malloc(hl + n);
    memcpy(all, head, hl);
    if (n) memcpy(all + hl, body, n);
    probe_start(&p, d->port);
    uint64_t t0 = raw_now_ms();
    raw_exchange(d->port, all, hl + n, &o->r, (int)time_limit_ms() + 3000);
    o->ms = raw_now_ms() - t0;
    o->health_ok = probe_finish(&p);
    free(all);
    free(head);
}

static int in_time(const outcome *o)
{
    if (o->ms <= time_limit_ms()) return 1;
    printf("    answered after %llu ms (limit %llu), status %d\n", (unsigned long long)o->ms,
           (unsigned long long)time_limit_ms(), o->r.status);
    return 0;
}

/* A 4xx problem answer; a 422 must name a params.* field. */
static int is_4xx_naming_param(const raw_resp *r)
{
    if (r->status < 400 || r->status >= 500) return 0;
    if (r->status != 422) return 1;
    cJSON *j = cJSON_Parse(r->body ? r->body : ""), *e;
    int named = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "errors"))
    {
        const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "field"));
        named |= f && !strncmp(f, "params.", 7);
    }
    cJSON_Delete(j);
    if (!named) printf("    422 names no params.* field: %.300s\n", r->body);
    return named;
}

/* outputs.<name> of a v1 JSON answer with list data: its shape and
 * numbers equal the given ones. */
static int output_equals(const raw_resp *r, const char *name, const int64_t *shape, int rank,
                         const double *data, int n)
{
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "outputs"), name);
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(o, "shape"), *d = cJSON_GetObjectItemCaseSensitive(o, "data");
    int ok = cJSON_GetArraySize(sh) == rank && cJSON_GetArraySize(d) == n;
    for (int i = 0; ok && i < rank; i++) ok = cJSON_GetArrayItem(sh, i)->valuedouble == (double)shape[i];
    for (int i = 0; ok && i < n; i++) ok = cJSON_GetArrayItem(d, i)->valuedouble == data[i];
    if (!ok) printf("    outputs.%s is not the expected one: %.300s\n", name, r->body);
    cJSON_Delete(j);
    return ok;
}

/* Run a v1 JSON request on D and judge the common part; the caller judges
 * the status. */
static void v1_case(const char *path, const char *json, outcome *o)
{
    probed_request(&D, "POST", path, JSON_CT, json, strlen(json), o);
    CHECK(in_time(o));
    CHECK(o->health_ok);
    CHECK(daemon_ok(&D, D_FLAGS, o->ms > time_limit_ms()));
}

/* ---- geometry: huge params on tiny tensors ------------------------------ */

/* The window search stepped once per unit of padding (the review's hang).
 * The geometry is valid: one window of 2e18 covering the only element. */
static void max_pool_kernel_2e18_padding_1e18(void)
{
    outcome o;
    v1_case("/v1/ops/max_pool", "{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"kernel_size\":"
                                "2000000000000000000,\"padding\":1000000000000000000}}", &o);
    static const int64_t sh[] = {1, 1, 1, 1};
    if (o.r.status == 200)
        CHECK(output_equals(&o.r, "y", sh, 4, (double[]){1}, 1) &&
              output_equals(&o.r, "indices", sh, 4, (double[]){0}, 1));
    else
        CHECKF(is_4xx_naming_param(&o.r), "status %d: %.200s", o.r.status, o.r.body);
    raw_free(&o.r);
}

/* (in-1)*stride - 2*padding + dilation*(k-1) + 1 = 1: every product here
 * overflows int64 on the way, the answer is one zero. */
static void conv_transpose_stride_8e18_dilation_2e62(void)
{
    outcome o;
    v1_case("/v1/ops/conv_transpose",
            "{\"inputs\":{\"x\":[[[1]]],\"weight\":[[[1,1]]]},\"params\":{\"stride\":"
            "8000000000000000000,\"dilation\":4611686018427387904,\"padding\":2305843009213693952}}",
            &o);
    static const int64_t sh[] = {1, 1, 1};
    if (o.r.status == 200) CHECK(output_equals(&o.r, "y", sh, 3, (double[]){0}, 1));
    else CHECKF(is_4xx_naming_param(&o.r), "status %d: %.200s", o.r.status, o.r.body);
    raw_free(&o.r);
}

static void max_pool_kernel_2e62_stride_8e18(void)
{
    outcome o;
    v1_case("/v1/ops/max_pool",
            "{\"inputs\":{\"x\":[[[[5]]]]},\"params\":{\"kernel_size\":[1,4611686018427387904],"
            "\"padding\":[0,2305843009213693952],\"stride\":[1,8000000000000000000]}}", &o);
    static const int64_t sh[] = {1, 1, 1, 1};
    if (o.r.status == 200)
        CHECK(output_equals(&o.r, "y", sh, 4, (double[]){5}, 1) &&
              output_equals(&o.r, "indices", sh, 4, (double[]){0}, 1));
    else
        CHECKF(is_4xx_naming_param(&o.r), "status %d: %.200s", o.r.status, o.r.body);
    raw_free(&o.r);
}

/* ---- the ONNX padding params and the pixel shuffles ------------------------
 *
 * Each new param at its extremes on a tiny tensor: a 4xx (a 422 naming the
 * param, or 413 when the output could never be allowed), or a 200 whose
 * every loop is bounded by the output, all within the time limit. `want`
 * is the status when only one is right (0: any 4xx, or a 200). */
typedef struct param_case {
    const char *name, *op, *body;
    int want;
} param_case;

static const param_case PARAM_CASES[] = {
    {"pixel_shuffle_upscale_2e9_on_one_element", "pixel_shuffle",
     "{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"upscale_factor\":2147483647}}", 422},
    {"pixel_shuffle_upscale_2e18", "pixel_shuffle",
     "{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"upscale_factor\":2000000000000000000}}", 400},
    {"pixel_shuffle_upscale_2e53", "pixel_shuffle",
     "{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"upscale_factor\":9007199254740991}}", 422},
    {"pixel_shuffle_upscale_0", "pixel_shuffle",
     "{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"upscale_factor\":0}}", 422},
    {"pixel_shuffle_upscale_2e20_empty_2e40", "pixel_shuffle",
     "{\"inputs\":{\"x\":{\"dtype\":\"uint8\",\"shape\":[0,1099511627776,1048576,1048576],"
     "\"data\":[]}},\"params\":{\"upscale_factor\":1048576}}", 0},
    {"pixel_unshuffle_downscale_2e9_on_one_element", "pixel_unshuffle",
     "{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"downscale_factor\":2147483647}}", 422},
    {"pixel_unshuffle_channels_times_r2_overflow", "pixel_unshuffle",
     "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1073741824,0,1048576],"
     "\"data\":[]}},\"params\":{\"downscale_factor\":1048576}}", 413},
    {"max_pool_pads_2e9_both_sides_stride_2e9", "max_pool",
     "{\"inputs\":{\"x\":[[[1,2]]]},\"params\":{\"kernel_size\":1,\"stride\":2147483647,"
     "\"pads\":[2147483647,2147483647]}}", 200},
    {"max_pool_pads_2e9_stride_1", "max_pool",
     "{\"inputs\":{\"x\":[[[1,2]]]},\"params\":{\"kernel_size\":1,"
     "\"pads\":[2147483647,2147483647]}}", 413},
    {"max_pool_pads_2e31", "max_pool",
     "{\"inputs\":{\"x\":[[[1,2]]]},\"params\":{\"kernel_size\":1,\"pads\":[2147483648,0]}}", 422},
    {"max_pool_pads_negative", "max_pool",
     "{\"inputs\":{\"x\":[[[1,2]]]},\"params\":{\"kernel_size\":1,\"pads\":[-1,0]}}", 422},
    {"max_pool_pads_wrong_count", "max_pool",
     "{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"kernel_size\":1,\"pads\":[0,0,0]}}", 422},
    {"max_pool_pads_and_padding", "max_pool",
     "{\"inputs\":{\"x\":[[[1,2]]]},\"params\":{\"kernel_size\":2,\"padding\":1,"
     "\"pads\":[1,1]}}", 422},
    {"max_pool_auto_pad_same_kernel_2e9", "max_pool",
     "{\"inputs\":{\"x\":[[[1,2]]]},\"params\":{\"kernel_size\":2147483647,"
     "\"stride\":2147483647,\"auto_pad\":\"same_lower\"}}", 200},
    {"max_pool_auto_pad_with_pads", "max_pool",
     "{\"inputs\":{\"x\":[[[1,2]]]},\"params\":{\"kernel_size\":2,\"auto_pad\":\"same_upper\","
     "\"pads\":[1,0]}}", 422},
    {"max_pool_storage_order_2e53", "max_pool",
     "{\"inputs\":{\"x\":[[[1,2]]]},\"params\":{\"kernel_size\":1,"
     "\"storage_order\":9007199254740991}}", 422},
    {"max_unpool_pads_2e9", "max_unpool",
     "{\"inputs\":{\"x\":[[[1]]],\"indices\":[[[0]]]},\"params\":{\"kernel_size\":1,"
     "\"pads\":[2147483647,2147483647]}}", 422},
    {"conv_transpose_pads_2e9", "conv_transpose",
     "{\"inputs\":{\"x\":[[[1]]],\"weight\":[[[1]]]},\"params\":{\"pads\":[2147483647,0]}}", 422},
    {"conv_transpose_output_shape_1e15", "conv_transpose",
     "{\"inputs\":{\"x\":[[[1]]],\"weight\":[[[1]]]},\"params\":{\"output_shape\":"
     "1000000000000000}}", 413},
    {"conv_transpose_auto_pad_same_stride_2e9", "conv_transpose",
     "{\"inputs\":{\"x\":[[[1,2]]],\"weight\":[[[1]]]},\"params\":{\"stride\":2147483647,"
     "\"auto_pad\":\"same_upper\"}}", 413},
    {"conv_transpose_output_shape_with_pads", "conv_transpose",
     "{\"inputs\":{\"x\":[[[1]]],\"weight\":[[[1]]]},\"params\":{\"output_shape\":3,"
     "\"pads\":[0,0]}}", 422},
};

static void run_param_case(const param_case *c)
{
    char *path = fmt("/v1/ops/%s", c->op);
    outcome o;
    th_case_failed = 0;
    v1_case(path, c->body, &o);
    if (c->want)
        CHECKF(o.r.status == c->want, "status %d, want %d: %.300s", o.r.status, c->want, o.r.body);
    if (o.r.status != 200)
        CHECKF(is_4xx_naming_param(&o.r) || o.r.status == 413, "status %d: %.300s", o.r.status,
               o.r.body);
    raw_free(&o.r);
    th_record(c->name, !th_case_failed);
    free(path);
}

/* ---- empty tensors with huge dims --------------------------------------- */

/* Every output of a 200 is empty: a zero in its shape, no data. */
static int outputs_empty(const raw_resp *r)
{
    cJSON *j = cJSON_Parse(r->body ? r->body : ""), *o;
    int ok = j != NULL, n = 0;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(j, "outputs"))
    {
        const cJSON *e, *d = cJSON_GetObjectItemCaseSensitive(o, "data");
        int zero = 0;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "shape")) zero |= e->valuedouble == 0;
        ok &= zero && cJSON_IsArray(d) && cJSON_GetArraySize(d) == 0;
        n++;
    }
    if (!ok || !n) printf("    a 200 with non-empty outputs: %.300s\n", r->body);
    cJSON_Delete(j);
    return ok && n;
}

typedef struct empty_case {
    const char *name, *op, *dtype, *layout, *params, *extra_input;
} empty_case;

#define SHAPE_CF "[0,1,1099511627776,1099511627776]"
#define SHAPE_CL "[0,1099511627776,1099511627776,1]"

static const empty_case EMPTY[] = {
    {"max_pool", "max_pool", NULL, NULL, "\"kernel_size\":1", ""},
    {"max_unpool", "max_unpool", NULL, NULL, "\"kernel_size\":2", "indices"},
    {"conv_transpose", "conv_transpose", NULL, NULL, "\"stride\":2", "weight"},
    {"fractional_max_pool", "fractional_max_pool", NULL, NULL, "\"kernel_size\":1,\"output_size\":1", ""},
    {"nearest_unpool", "nearest_unpool", NULL, NULL, "\"scale_factor\":2", ""},
    {"fractional_max_unpool", "fractional_max_unpool", NULL, NULL, "\"scale_factor\":2", ""},
};
static const char *const EMPTY_VARIANTS[][2] = { /* dtype, layout */
    {"float32", "channels_first"}, {"float16", "channels_first"},
    {"bfloat16", "channels_first"}, {"float32", "channels_last"}, {"bfloat16", "channels_last"},
};

static void run_empty_case(const empty_case *c, const char *dtype, const char *layout)
{
    int last = !strcmp(layout, "channels_last");
    char extra[256] = "";
    if (!strcmp(c->extra_input, "indices"))
        snprintf(extra, sizeof(extra), ",\"indices\":{\"dtype\":\"int64\",\"shape\":%s,\"data\":[]}",
                 last ? SHAPE_CL : SHAPE_CF);
    else if (!strcmp(c->extra_input, "weight"))
        snprintf(extra, sizeof(extra), ",\"weight\":{\"dtype\":\"%s\",\"shape\":[1,1,2,2],\"data\":[1,2,3,4]}",
                 dtype);
    char *body = fmt("{\"inputs\":{\"x\":{\"dtype\":\"%s\",\"shape\":%s,\"data\":[]}%s},"
                     "\"params\":{%s,\"layout\":\"%s\"}}",
                     dtype, last ? SHAPE_CL : SHAPE_CF, extra, c->params, layout);
    char *path = fmt("/v1/ops/%s", c->op);
    outcome o;
    th_case_failed = 0;
    v1_case(path, body, &o);
    if (o.r.status == 200) CHECK(outputs_empty(&o.r));
    else CHECKF(o.r.status >= 400 && o.r.status < 500, "status %d: %.200s", o.r.status, o.r.body);
    raw_free(&o.r);
    char *name = fmt("empty_2e40_%s_%s_%s", c->name, dtype, layout);
    th_record(name, !th_case_failed);
    free(name);
    free(path);
    free(body);
}

/* ---- fractional_max_pool: the float32 window start ---------------------- */

/* A safetensors body: header (padded to 8 bytes) then the tensors' bytes. */
typedef struct st_part {
    const char *name, *dtype;
    int64_t shape[5];
    int rank;
    const void *data;
    size_t n;
} st_part;

static char *safetensors_body(const st_part *t, int nt, const char *metadata, size_t *len)
{
    char head[4096];
    size_t k = (size_t)snprintf(head, sizeof(head), "{"), off = 0, total;
    for (int i = 0; i < nt; i++) {
        k += (size_t)snprintf(head + k, sizeof(head) - k, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                              i ? "," : "", t[i].name, t[i].dtype);
        for (int d = 0; d < t[i].rank; d++)
            k += (size_t)snprintf(head + k, sizeof(head) - k, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        k += (size_t)snprintf(head + k, sizeof(head) - k, "],\"data_offsets\":[%zu,%zu]}", off, off + t[i].n);
        off += t[i].n;
    }
    if (metadata) k += (size_t)snprintf(head + k, sizeof(head) - k, ",\"__metadata__\":%s", metadata);
    k += (size_t)snprintf(head + k, sizeof(head) - k, "}");
    while (k % 8) head[k++] = ' ';
    total = 8 + k + off;
    char *b = malloc(total);
    uint64_t hl = k;
    memcpy(b, &hl, 8);
    memcpy(b + 8, head, k);
    off = 8 + k;
    for (int i = 0; i < nt; i++) {
        memcpy(b + off, t[i].data, t[i].n);
        off += t[i].n;
    }
    *len = total;
    return b;
}

/* A body sink that grows geometrically: client.h's grows by each piece,
 * which under ASan (no in-place realloc) copies a 150 MB answer
 * thousands of times. */
typedef struct big_sink {
    char *p;
    size_t len, cap;
} big_sink;

static size_t big_sink_write(char *p, size_t sz, size_t n, void *ud)
{
    big_sink *b = ud;
    size_t add = sz * n;
    if (b->len + add > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        while (cap < b->len + add) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return 0;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, add);
    b->len += add;
    return add;
}

/* POST a binary body, the answer into r (status, body, len). */
static void post_binary(const th_daemon *d, const char *path, const char *const *headers,
                        const void *body, size_t n, tc_resp *r)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    big_sink b = {0};
    for (int i = 0; headers[i]; i++) hl = curl_slist_append(hl, headers[i]);
    memset(r, 0, sizeof(*r));
    curl_easy_setopt(h, CURLOPT_URL, tc_url(d, path));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, big_sink_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    r->curl_rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    r->body = b.p ? b.p : calloc(1, 1);
    r->len = b.len;
    r->headers = calloc(1, 1);
}

/* Tensor `name` of a safetensors answer: its dtype, element count and
 * bytes (pointing into body). */
static const unsigned char *st_find(const tc_resp *r, const char *name, char *dtype, size_t cap,
                                    int64_t *numel)
{
    uint64_t hl;
    if (!r->body || r->len < 8) return NULL;
    memcpy(&hl, r->body, 8);
    if (hl > r->len - 8) return NULL;
    cJSON *j = cJSON_ParseWithLength(r->body + 8, (size_t)hl);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, name), *e;
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    const unsigned char *p = NULL;
    *numel = 1;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(t, "shape")) *numel *= (int64_t)e->valuedouble;
    if (cJSON_GetArraySize(off) == 2 && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "dtype"))) {
        size_t b = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble;
        size_t end = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
        if (b <= end && 8 + hl + end <= r->len) p = (const unsigned char *)r->body + 8 + hl + b;
        snprintf(dtype, cap, "%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "dtype")));
    }
    cJSON_Delete(j);
    return p;
}

/* x (1,1,1,12579921) all -1, samples [0.5000001192092896, 0], kernel 1,
 * output (1, 12576890): in float32, alpha * (i + u) rounds past in - k
 * and the last window started outside the plane. Every index must lie in
 * the plane, and every value be -1. */
static void fractional_max_pool_f32_window_start(void)
{
    enum { W = 12579921, OW = 12576890 };
    float *x = malloc((size_t)W * 4), s[2] = {0.5000001192092896f, 0.0f};
    for (int i = 0; i < W; i++) x[i] = -1.0f;
    const st_part parts[] = {{"x", "F32", {1, 1, 1, W}, 4, x, (size_t)W * 4},
                             {"samples", "F32", {1, 1, 2}, 3, s, sizeof(s)}};
    size_t len;
    char *body = safetensors_body(parts, 2, "{\"kernel_size\":\"1\",\"output_size\":\"1,12576890\"}", &len);
    free(x);
    /* a binary answer: libcurl reads it (raw.h keeps text bodies only) */
    static const char *const h[] = {"Content-Type: application/x-safetensors",
                                    "Accept: application/x-safetensors", NULL};
    outcome o = {0};
    tc_resp r;
    probe p;
    probe_start(&p, D.port);
    uint64_t t0 = raw_now_ms();
    post_binary(&D, "/v1/ops/fractional_max_pool", h, body, len, &r);
    o.ms = raw_now_ms() - t0;
    o.r.status = (int)r.status;
    free(body);
    CHECK(probe_finish(&p));
    CHECK(in_time(&o));
    CHECK(daemon_ok(&D, D_FLAGS, o.ms > time_limit_ms()));
    CHECKF(r.status == 200, "status %ld: %.300s", r.status, r.body);
    if (r.status == 200) {
        char dy[16] = "", di[16] = "";
        int64_t ny = 0, ni = 0, outside = 0, wrong = 0;
        const unsigned char *y = st_find(&r, "y", dy, sizeof(dy), &ny);
        const unsigned char *ix = st_find(&r, "indices", di, sizeof(di), &ni);
        CHECKF(y && ix && !strcmp(dy, "F32") && !strcmp(di, "I64") && ny == OW && ni == OW,
               "y %s %lld, indices %s %lld", dy, (long long)ny, di, (long long)ni);
        for (int64_t i = 0; y && ix && ny == OW && ni == OW && i < OW; i++) {
            int64_t k;
            float v;
            memcpy(&k, ix + i * 8, 8);
            memcpy(&v, y + i * 4, 4);
            outside += k < 0 || k >= W;
            wrong += v != -1.0f;
        }
        CHECKF(outside == 0 && wrong == 0, "%lld indices outside the plane, %lld values not -1",
               (long long)outside, (long long)wrong);
    }
    tc_free(&r);
}

/* ---- resize: every new param off the wire ------------------------------- */

/* One resize request that must be refused with `want` (a 422 naming the
 * params.* field, or the given status), in time, the daemon healthy. */
static void resize_refused(const char *json, int want, const char *field)
{
    outcome o;
    v1_case("/v1/ops/resize", json, &o);
    CHECKF(o.r.status == want, "status %d, expected %d: %.300s", o.r.status, want, o.r.body);
    if (field)
        CHECKF(o.r.body && strstr(o.r.body, field), "no %s in %.300s", field, o.r.body);
    raw_free(&o.r);
}

#define RS_X4 "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,2,2],\"data\":[1,2,3,4]}}"

/* floor(2 * 1e300) is no size: 413 before anything is allocated. */
static void resize_scale_1e300(void)
{
    resize_refused(RS_X4 ",\"params\":{\"scales\":[1,1,1e300,1]}}", 413, "params.scales");
}

/* 2^40 x 2 outputs from 4 numbers: over --max-elements. */
static void resize_sizes_2e40(void)
{
    resize_refused(RS_X4 ",\"params\":{\"sizes\":[1099511627776,2],\"axes\":[2,3]}}", 413,
                   "outputs.y");
}

/* A scale so small the axis is empty: ONNX's floor(in * scale) = 0. */
static void resize_antialias_scale_1e_300(void)
{
    resize_refused(RS_X4 ",\"params\":{\"scales\":[1e-300,1],\"axes\":[2,3],\"mode\":\"linear\","
                   "\"antialias\":1}}", 422, "params.scales");
}

/* The widest antialias filter an input allows (8 inputs to 1 output, a
 * 16-tap cubic support) is one small table: the mean-like answer. */
static void resize_antialias_down_to_1(void)
{
    outcome o;
    v1_case("/v1/ops/resize",
            "{\"inputs\":{\"x\":{\"dtype\":\"float64\",\"shape\":[8],\"data\":[2,2,2,2,2,2,2,2]}},"
            "\"params\":{\"sizes\":[1],\"mode\":\"cubic\",\"antialias\":1}}", &o);
    static const int64_t sh[] = {1};
    CHECKF(o.r.status == 200 && output_equals(&o.r, "y", sh, 1, (double[]){2}, 1),
           "status %d: %.300s", o.r.status, o.r.body);
    raw_free(&o.r);
}

/* NaN and infinity never reach the kernel (text forms: JSON has neither). */
static void resize_nan_scale(void)
{
    resize_refused(RS_X4 ",\"params\":{\"scales\":\"1,1,nan,2\"}}", 400, "params.scales");
}

static void resize_inf_scale(void)
{
    resize_refused(RS_X4 ",\"params\":{\"scales\":\"1,1,inf,2\"}}", 400, "params.scales");
}

static void resize_zero_scale(void)
{
    resize_refused(RS_X4 ",\"params\":{\"scales\":[1,1,0,2]}}", 422, "params.scales");
}

static void resize_negative_scale(void)
{
    resize_refused(RS_X4 ",\"params\":{\"scales\":[1,1,-2,2]}}", 422, "params.scales");
}

static void resize_negative_size(void)
{
    resize_refused(RS_X4 ",\"params\":{\"sizes\":[-4,4],\"axes\":[2,3]}}", 422, "params.sizes");
}

static void resize_axis_out_of_range(void)
{
    resize_refused(RS_X4 ",\"params\":{\"sizes\":[4],\"axes\":[4]}}", 422, "params.axes");
}

static void resize_axis_huge_negative(void)
{
    resize_refused(RS_X4 ",\"params\":{\"sizes\":[4],\"axes\":[-9007199254740991]}}", 422,
                   "params.axes");
}

static void resize_duplicate_axes(void)
{
    resize_refused(RS_X4 ",\"params\":{\"sizes\":[4,4],\"axes\":[2,-2]}}", 422, "params.axes");
}

static void resize_scales_and_sizes(void)
{
    resize_refused(RS_X4 ",\"params\":{\"scales\":[2,2],\"sizes\":[4,4],\"axes\":[2,3]}}", 422,
                   "give scales or sizes, not both");
}

static void resize_neither_scales_nor_sizes(void)
{
    resize_refused(RS_X4 ",\"params\":{\"mode\":\"linear\"}}", 422,
                   "one of scales or sizes is required");
}

static void resize_count_differs_from_axes(void)
{
    resize_refused(RS_X4 ",\"params\":{\"scales\":[2,2,2]}}", 422, "params.scales");
}

static void resize_roi_wrong_length(void)
{
    resize_refused("{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,2,2],\"data\":[1,2,3,4]},"
                   "\"roi\":{\"dtype\":\"float32\",\"shape\":[3],\"data\":[0,0,1]}},"
                   "\"params\":{\"sizes\":[3,3],\"axes\":[2,3],"
                   "\"coordinate_transformation_mode\":\"tf_crop_and_resize\"}}", 422, "inputs.roi");
}

static void resize_roi_missing(void)
{
    resize_refused(RS_X4 ",\"params\":{\"sizes\":[3,3],\"axes\":[2,3],"
                   "\"coordinate_transformation_mode\":\"tf_crop_and_resize\"}}", 422, "inputs.roi");
}

/* A huge roi would put source coordinates past int64; refused. */
static void resize_roi_1e300(void)
{
    resize_refused("{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,2,2],\"data\":[1,2,3,4]},"
                   "\"roi\":{\"dtype\":\"float64\",\"shape\":[4],\"data\":[-1e300,0,1e300,1]}},"
                   "\"params\":{\"sizes\":[3,3],\"axes\":[2,3],"
                   "\"coordinate_transformation_mode\":\"tf_crop_and_resize\"}}", 422, "inputs.roi");
}

/* uint8 linear would need rounding: refused, not silently truncated. */
static void resize_uint8_linear(void)
{
    resize_refused("{\"inputs\":{\"x\":{\"dtype\":\"uint8\",\"shape\":[1,1,2,2],\"data\":[1,2,3,4]}},"
                   "\"params\":{\"scales\":[2,2],\"axes\":[2,3],\"mode\":\"linear\"}}", 422,
                   "params.mode");
}

static void resize_antialias_nearest(void)
{
    resize_refused(RS_X4 ",\"params\":{\"scales\":[0.5,0.5],\"axes\":[2,3],\"antialias\":1}}", 422,
                   "params.antialias");
}

/* ---- tiny bodies, big work ---------------------------------------------- */

/* A 1-element x to 67,108,864 outputs as JSON lists: a 413 from
 * --max-work, or the answer while /healthz keeps answering. */
static void nearest_unpool_1_to_67108864_json(void)
{
    outcome o;
    v1_case("/v1/ops/nearest_unpool",
            "{\"inputs\":{\"x\":[[[1]]]},\"params\":{\"output_size\":67108864}}", &o);
    if (o.r.status == 200)
        CHECKF(strstr(o.r.body, "\"shape\":[1,1,67108864]") && o.r.body_len > 2u * 67108864,
               "a 200 of %zu bytes", o.r.body_len);
    else
        CHECKF(o.r.status == 413, "status %d: %.200s", o.r.status, o.r.body);
    raw_free(&o.r);
}

/* The mask form scanned every window: 400x400 x, all-zero mask of the
 * unpooled size 799x799, kernel 400, stride 1 was 2.6e10 steps. Either
 * the answer (every value dropped: all zeros) or a 413 from --max-work. */
static void max_unpool_mask_400x400_kernel_400(void)
{
    enum { H = 400, O = 799 };
    float *x = malloc(sizeof(float) * H * H);
    unsigned char *m = calloc(1, (size_t)O * O);
    for (int i = 0; i < H * H; i++) x[i] = (float)(i + 1);
    char *tx = tensor_b64("float32", (int64_t[]){1, 1, H, H}, 4, x, sizeof(float) * H * H);
    char *tm = tensor_b64("uint8", (int64_t[]){1, 1, O, O}, 4, m, (size_t)O * O);
    char *body = fmt("{\"inputs\":{\"x\":%s,\"mask\":%s},\"params\":{\"kernel_size\":400,\"stride\":1},"
                     "\"output_format\":\"b64\"}", tx, tm);
    free(x);
    free(m);
    free(tx);
    free(tm);
    outcome o;
    v1_case("/v1/ops/max_unpool", body, &o);
    free(body);
    if (o.r.status == 200) {
        cJSON *j = cJSON_Parse(o.r.body);
        tc_tensor y;
        int ok = tc_tensor_from_json(cJSON_GetObjectItemCaseSensitive(
                                         cJSON_GetObjectItemCaseSensitive(j, "outputs"), "y"), &y) == 0;
        ok = ok && y.rank == 4 && y.shape[2] == O && y.shape[3] == O && y.nbytes == (size_t)O * O * 4;
        for (size_t i = 0; ok && i < y.nbytes; i++) ok = y.bytes[i] == 0;
        CHECKF(ok, "y is not 799x799 zeros");
        if (y.bytes) tc_tensor_free(&y);
        cJSON_Delete(j);
    } else {
        CHECKF(o.r.status == 413, "status %d: %.200s", o.r.status, o.r.body);
    }
    raw_free(&o.r);
}

/* ---- memory: the budget holds every byte -------------------------------- */

static long proc_status_kib(pid_t pid, const char *key)
{
    char path[64], line[256];
    long v = -1;
    size_t kl = strlen(key);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, key, kl)) v = atol(line + kl);
    if (f) fclose(f);
    return v;
}

/* Reset the peak (VmHWM) to the current RSS. */
static void reset_peak(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

/* peak - idle <= budget + 100 MiB. ASan keeps freed blocks in its
 * quarantine (256 MiB by default) and maps shadow memory, so its figures
 * are printed but not bounded. */
static int rss_within(const th_daemon *d, long idle_kib, int budget_mb)
{
    long peak = proc_status_kib(d->pid, "VmHWM:");
    double grew = (double)(peak - idle_kib) / 1024.0;
    printf("    RSS idle %.0f MiB, peak %.0f MiB (+%.0f MiB; bound %d + 100 MiB)%s\n",
           (double)idle_kib / 1024.0, (double)peak / 1024.0, grew, budget_mb,
           sanitized() ? ", not bounded under ASan" : "");
    return sanitized() || (peak > 0 && grew <= budget_mb + 100);
}

static const char *const BUDGET64[] = {"--max-body-mb", "64", "--max-inflight-mb", "64",
                                       "--header-timeout-s", "2", "--body-timeout-s", "10", NULL};

/* A 60 MiB JSON list under --max-inflight-mb 64: its float32 tensor alone
 * (126 MB) can never fit, so 413, and the parse must not cost 34x the
 * body before anything is checked. */
static void json_list_60mib_under_64mib_budget(void)
{
    th_daemon d;
    if (th_daemon_start(&d, BUDGET64) != 0) {
        CHECK(0);
        return;
    }
    const size_t body_bytes = 60u << 20;
    const char *head = "{\"inputs\":{\"x\":[[[", *tail = "1]]]},\"params\":{\"kernel_size\":1024}}";
    size_t hl = strlen(head), tl = strlen(tail), n = (body_bytes - hl - tl) / 2;
    char *body = malloc(hl + 2 * n + tl + 1);
    memcpy(body, head, hl);
    for (size_t i = 0; i < n; i++) memcpy(body + hl + 2 * i, "1,", 2);
    memcpy(body + hl + 2 * n, tail, tl + 1);
    raw_nap_ms(200);
    long idle = proc_status_kib(d.pid, "VmRSS:");
    reset_peak(d.pid);
    outcome o;
    probed_request(&d, "POST", "/v1/ops/max_pool", JSON_CT, body, hl + 2 * n + tl, &o);
    free(body);
    CHECKF(o.r.status == 413, "status %d: %.200s", o.r.status, o.r.body);
    CHECK(in_time(&o));
    CHECK(o.health_ok);
    CHECK(rss_within(&d, idle, 64));
    CHECK(daemon_ok(&d, NULL, 0));
    raw_free(&o.r);
    CHECK(stop_clean(&d));
}

/* 57 bytes asking for 67,000,000 interpolated outputs: tables (32 bytes per
 * output coordinate), the output and its answer must all be charged to the
 * 64 MiB budget before they exist. */
static void fractional_max_unpool_60_bytes_huge_tables(void)
{
    th_daemon d;
    if (th_daemon_start(&d, BUDGET64) != 0) {
        CHECK(0);
        return;
    }
    static const char body[] = "{\"inputs\":{\"x\":[[[1]]]},\"params\":{\"output_size\":67000000}}";
    raw_nap_ms(200);
    long idle = proc_status_kib(d.pid, "VmRSS:");
    reset_peak(d.pid);
    outcome o;
    probed_request(&d, "POST", "/v1/ops/fractional_max_unpool", JSON_CT, body, strlen(body), &o);
    CHECKF(o.r.status == 413 || o.r.status == 503, "status %d: %.200s", o.r.status, o.r.body);
    CHECK(in_time(&o));
    CHECK(o.health_ok);
    CHECK(rss_within(&d, idle, 64));
    CHECK(daemon_ok(&d, NULL, 0));
    raw_free(&o.r);
    CHECK(stop_clean(&d));
}

/* Four connections declare 256 MiB bodies and send nothing: they hold no
 * budget, so another POST is served (not 503); each is cut at
 * --body-timeout-s. */
static void declared_bodies_hold_no_budget(void)
{
    static const char *const flags[] = {"--max-body-mb", "256", "--max-inflight-mb", "1024",
                                        "--body-timeout-s", "3", NULL};
    static const char seed[] = "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2}}";
    th_daemon d;
    int fds[4];
    if (th_daemon_start(&d, flags) != 0) {
        CHECK(0);
        return;
    }
    char head[256];
    int hl = snprintf(head, sizeof(head), "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\n" JSON_CT
                                          "Content-Length: 268435456\r\n\r\n");
    for (int i = 0; i < 4; i++) {
        fds[i] = raw_connect(d.port, 8000);
        CHECK(fds[i] >= 0 && raw_send(fds[i], head, (size_t)hl) == 0);
    }
    raw_nap_ms(300);
    uint64_t t0 = raw_now_ms();
    outcome o;
    probed_request(&d, "POST", "/v1/ops/max_pool", JSON_CT, seed, strlen(seed), &o);
    CHECKF(o.r.status == 200 && strstr(o.r.body, "\"data\":[4]"), "status %d: %.200s", o.r.status,
           o.r.body);
    CHECK(in_time(&o));
    CHECK(o.health_ok);
    raw_free(&o.r);
    /* each silent upload is closed (or answered 408) by --body-timeout-s */
    for (int i = 0; i < 4; i++) {
        raw_resp r;
        if (fds[i] < 0) continue;
        raw_read(fds[i], &r); /* SO_RCVTIMEO 8 s */
        CHECKF(r.closed_early || r.status == 0 || r.status == 408 || r.status == 400,
               "upload %d: status %d", i, r.status);
        raw_free(&r);
        close(fds[i]);
    }
    uint64_t took = raw_now_ms() - t0;
    CHECKF(took < 3000 + 3000, "silent uploads cut after %llu ms", (unsigned long long)took);
    CHECK(daemon_ok(&d, NULL, 0));
    CHECK(stop_clean(&d));
}

/* ---- drain: pipelined requests ------------------------------------------ */

/* Answers in buf, one after another: statuses and Connection: close. */
static int split_answers(const char *buf, size_t len, int *status, int *closes, int max)
{
    int n = 0;
    size_t at = 0;
    while (n < max && at + 12 <= len && !strncmp(buf + at, "HTTP/1.", 7)) {
        const char *end = memmem(buf + at, len - at, "\r\n\r\n", 4);
        if (!end) break;
        size_t hend = (size_t)(end - buf) + 4, cl = 0;
        char *head = strndup(buf + at, hend - at);
        const char *c = strcasestr(head, "\r\nContent-Length:");
        if (c) cl = strtoull(c + 17, NULL, 10);
        status[n] = atoi(buf + at + 9);
        closes[n] = strcasestr(head, "\r\nConnection: close") != NULL;
        free(head);
        n++;
        at = hend + cl;
    }
    return n;
}

/* SIGTERM while the first of three pipelined requests runs: all three are
 * answered (with their result or 503), none dropped; nothing follows an
 * answer that closes the connection. */
static void sigterm_pipelined_all_answered(void)
{
    static const char *const flags[] = {"--workers", "1", "--drain-timeout-ms", "20000", NULL};
    static const char seed[] = "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2}}";
    th_daemon d;
    if (th_daemon_start(&d, flags) != 0) {
        CHECK(0);
        return;
    }
    char *slow = tc_slow_body(40);
    char *req = fmt("POST /v1/ops/conv_transpose HTTP/1.1\r\nHost: t\r\n" JSON_CT
                    "Content-Length: %zu\r\n\r\n%s"
                    "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\n" JSON_CT
                    "Content-Length: %zu\r\n\r\n%s"
                    "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" JSON_CT
                    "Content-Length: %zu\r\n\r\n%s",
                    strlen(slow), slow, strlen(seed), seed, strlen(seed), seed);
    int fd = raw_connect(d.port, 20000);
    CHECK(fd >= 0 && raw_send(fd, req, strlen(req)) == 0);
    raw_nap_ms(100);
    CHECK(th_daemon_signal(&d, SIGTERM) == 0);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (;;) { /* until the daemon closes the connection */
        if (len == cap) buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + len, cap - len, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        len += (size_t)k;
    }
    close(fd);
    int st[4] = {0}, cl[4] = {0}, n = split_answers(buf, len, st, cl, 4);
    printf("    answers: %d (%d %d %d)\n", n, st[0], st[1], st[2]);
    CHECKF(n == 3, "%d of 3 pipelined requests answered", n);
    CHECK(st[0] == 200);
    for (int i = 1; i < n; i++) CHECKF(st[i] == 200 || st[i] == 503, "answer %d: %d", i + 1, st[i]);
    for (int i = 0; i + 1 < n; i++) CHECKF(!cl[i], "answer %d closes, yet more follow", i + 1);
    int rc = th_daemon_wait(&d, 30000);
    CHECKF(rc == 0, "exit %d", rc);
    CHECK(log_is_clean(&d));
    if (rc != 0) th_daemon_dump_log(&d);
    th_daemon_stop(&d);
    free(buf);
    free(req);
    free(slow);
}

/* ---- the small faults ---------------------------------------------------- */

/* A 256-byte key (one past the old buffer) starts and works; the key with
 * a byte more, or a byte less, is refused. */
static void api_key_256_bytes(void)
{
    char path[] = "/tmp/unpoold-keys-XXXXXX", key[257], other[256];
    int fd = mkstemp(path);
    for (int i = 0; i < 256; i++) key[i] = (char)('a' + i % 26);
    key[256] = 0;
    for (int i = 0; i < 255; i++) other[i] = (char)('A' + i % 26);
    other[255] = 0;
    char *file = fmt("%s\n%s\n", key, other);
    CHECK(fd >= 0 && write(fd, file, strlen(file)) == (ssize_t)strlen(file));
    close(fd);
    free(file);
    th_daemon d;
    if (th_daemon_start(&d, (const char *const[]){"--api-key-file", path, NULL}) != 0) {
        CHECK(0);
        unlink(path);
        return;
    }
    const char *guesses[] = {key, other, NULL, NULL};
    char *longer = fmt("%sz", key), *shorter = strndup(key, 255);
    guesses[2] = longer;
    guesses[3] = shorter;
    for (int i = 0; i < 4; i++) {
        char *h = fmt("Authorization: Bearer %s\r\n", guesses[i]);
        outcome o;
        probed_request(&d, "GET", "/v1/ops", h, NULL, 0, &o);
        CHECKF(o.r.status == (i < 2 ? 200 : 401), "key %d (%zu bytes): %d", i, strlen(guesses[i]),
               o.r.status);
        CHECK(in_time(&o));
        CHECK(o.health_ok);
        raw_free(&o.r);
        free(h);
    }
    free(longer);
    free(shorter);
    CHECK(daemon_ok(&d, NULL, 0));
    CHECK(stop_clean(&d));
    unlink(path);
}

/* The request line itself, one byte per second, is cut by
 * --header-timeout-s (2 s), not by --idle-timeout-s (10 s). */
static void request_line_drip_cut_by_header_timeout(void)
{
    static const char line[] = "GET /healthz?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    probe p;
    int fd = raw_connect(D.port, 1000), cut = 0;
    probe_start(&p, D.port);
    uint64_t t0 = raw_now_ms();
    cut = raw_drip_until_cut(fd, line, sizeof(line) - 1, 8000);
    uint64_t took = raw_now_ms() - t0;
    if (fd >= 0) close(fd);
    CHECK(probe_finish(&p));
    printf("    request-line drip cut after %.1f s\n", (double)took / 1000);
    CHECKF(cut && took >= 1500 && took <= 4500, "cut %d after %llu ms", cut, (unsigned long long)took);
    CHECK(daemon_ok(&D, D_FLAGS, 0));
}

/* 400 whose message is about nesting (the limit, not some other fault). */
static int depth_400(const raw_resp *r)
{
    int ok = r->status == 400 && r->body &&
             (strcasestr(r->body, "deep") || strcasestr(r->body, "depth") || strcasestr(r->body, "nest"));
    if (!ok) printf("    want a 400 about nesting, got %d: %.300s\n", r->status, r->body ? r->body : "");
    return ok;
}

static char *nested_object(int depth)
{
    size_t k = 0;
    char *s = malloc((size_t)depth * 6 + 8);
    for (int i = 0; i < depth; i++) k += (size_t)sprintf(s + k, "{\"a\":");
    s[k++] = '1';
    for (int i = 0; i < depth; i++) s[k++] = '}';
    s[k] = 0;
    return s;
}

/* --max-json-depth 16 on /v2: 40 levels in "parameters". */
static void json_depth_limit_on_v2(void)
{
    char *deep = nested_object(40);
    char *body = fmt("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":\"FP32\",\"data\":[5]}],"
                     "\"parameters\":{\"kernel_size\":1,\"deep\":%s}}", deep);
    outcome o;
    v1_case("/v2/models/max_pool/infer", body, &o);
    CHECK(depth_400(&o.r));
    raw_free(&o.r);
    free(body);
    free(deep);
}

/* --max-json-depth 16 in the safetensors header: 40 levels in an entry. */
static void json_depth_limit_in_safetensors_header(void)
{
    float x = 5;
    char *deep = nested_object(40), *meta = fmt("{\"kernel_size\":\"1\"},\"deep\":%s", deep);
    const st_part parts[] = {{"x", "F32", {1, 1, 1, 1}, 4, &x, 4}};
    size_t len;
    char *body = safetensors_body(parts, 1, meta, &len);
    outcome o;
    probed_request(&D, "POST", "/v1/ops/max_pool", "Content-Type: application/x-safetensors\r\n", body,
                   len, &o);
    CHECK(in_time(&o));
    CHECK(o.health_ok);
    CHECK(daemon_ok(&D, D_FLAGS, o.ms > time_limit_ms()));
    CHECK(depth_400(&o.r));
    raw_free(&o.r);
    free(body);
    free(meta);
    free(deep);
}

static void expect_400(const char *path, const char *headers, const char *body, size_t n)
{
    outcome o;
    probed_request(&D, "POST", path, headers, body, n, &o);
    CHECK(in_time(&o));
    CHECK(o.health_ok);
    CHECK(daemon_ok(&D, D_FLAGS, o.ms > time_limit_ms()));
    CHECKF(o.r.status == 400, "status %d: %.300s", o.r.status, o.r.body);
    raw_free(&o.r);
}

#define JSON_400(fn, path, json)                                                          \
    static void fn(void)                                                                  \
    {                                                                                     \
        static const char b[] = json;                                                     \
        expect_400(path, JSON_CT, b, sizeof(b) - 1);                                      \
    }

/* "x\u0000junk" was read as the key "x". */
JSON_400(json_input_key_with_nul, "/v1/ops/max_pool",
         "{\"inputs\":{\"x\\u0000junk\":[[[[1]]]]},\"params\":{\"kernel_size\":1}}")
JSON_400(json_param_key_with_nul, "/v1/ops/max_pool",
         "{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"kernel_size\\u0000junk\":1}}")
JSON_400(json_tensor_key_with_nul, "/v1/ops/max_pool",
         "{\"inputs\":{\"x\":{\"dtype\\u0000\":\"float32\",\"shape\":[1,1,1,1],\"data\":[1]}},"
         "\"params\":{\"kernel_size\":1}}")
/* A repeated key: the last one silently won. */
JSON_400(json_duplicate_param_key, "/v1/ops/max_pool",
         "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":1,\"kernel_size\":2}}")
JSON_400(json_duplicate_top_level_key, "/v1/ops/max_pool",
         "{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"kernel_size\":1},\"params\":{\"kernel_size\":1}}")
JSON_400(json_duplicate_input_key, "/v1/ops/max_pool",
         "{\"inputs\":{\"x\":[[[[1]]]],\"x\":[[[[2]]]]},\"params\":{\"kernel_size\":1}}")
JSON_400(json_duplicate_tensor_field, "/v1/ops/max_pool",
         "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"dtype\":\"float64\",\"shape\":[1,1,1,1],"
         "\"data\":[1]}},\"params\":{\"kernel_size\":1}}")
JSON_400(kserve_duplicate_key, "/v2/models/max_pool/infer",
         "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}],"
         "\"parameters\":{\"kernel_size\":1,\"kernel_size\":2}}")

static const char SEED2[] = "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]}}";

/* ?kernel_size=2%00junk was read as 2. */
static void query_value_with_nul(void)
{
    expect_400("/v1/ops/max_pool?kernel_size=2%00junk", JSON_CT, SEED2, sizeof(SEED2) - 1);
}

static void query_key_with_nul(void)
{
    expect_400("/v1/ops/max_pool?kernel_size%00junk=2", JSON_CT, SEED2, sizeof(SEED2) - 1);
}

/* No answer of the shared daemon was a 500. */
static void no_500_anywhere(void)
{
    tc_resp r;
    tc_request("GET", tc_url(&D, "/metrics"), NULL, NULL, 0, &r);
    CHECK(r.status == 200);
    CHECKF(!strstr(r.body, "status=\"500\""), "a 500 was counted");
    tc_free(&r);
}

/* HOSTILE_OPS_ONLY=word runs only the cases whose name contains it. */
static int selected(const char *name)
{
    const char *only = getenv("HOSTILE_OPS_ONLY");
    return !only || !*only || strstr(name, only) != NULL;
}

#define CASE(fn)                                                                          \
    do {                                                                                  \
        if (selected(#fn)) RUN(fn);                                                       \
    } while (0)

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    D_FLAGS = FLAGS;
    if (th_daemon_start(&D, FLAGS) != 0) {
        th_record("daemon_start", 0);
        return th_summary();
    }
    CASE(max_pool_kernel_2e18_padding_1e18);
    CASE(conv_transpose_stride_8e18_dilation_2e62);
    CASE(max_pool_kernel_2e62_stride_8e18);
    for (size_t i = 0; i < sizeof(EMPTY) / sizeof(EMPTY[0]); i++)
        for (size_t v = 0; v < sizeof(EMPTY_VARIANTS) / sizeof(EMPTY_VARIANTS[0]); v++)
            if (selected("empty_2e40")) run_empty_case(&EMPTY[i], EMPTY_VARIANTS[v][0], EMPTY_VARIANTS[v][1]);
    CASE(resize_scale_1e300);
    CASE(resize_sizes_2e40);
    CASE(resize_antialias_scale_1e_300);
    CASE(resize_antialias_down_to_1);
    CASE(resize_nan_scale);
    CASE(resize_inf_scale);
    CASE(resize_zero_scale);
    CASE(resize_negative_scale);
    CASE(resize_negative_size);
    CASE(resize_axis_out_of_range);
    CASE(resize_axis_huge_negative);
    CASE(resize_duplicate_axes);
    CASE(resize_scales_and_sizes);
    CASE(resize_neither_scales_nor_sizes);
    CASE(resize_count_differs_from_axes);
    CASE(resize_roi_wrong_length);
    CASE(resize_roi_missing);
    CASE(resize_roi_1e300);
    CASE(resize_uint8_linear);
    CASE(resize_antialias_nearest);
    for (size_t i = 0; i < sizeof(PARAM_CASES) / sizeof(PARAM_CASES[0]); i++)
        if (selected(PARAM_CASES[i].name)) run_param_case(&PARAM_CASES[i]);
    CASE(fractional_max_pool_f32_window_start);
    CASE(nearest_unpool_1_to_67108864_json);
    CASE(max_unpool_mask_400x400_kernel_400);
    CASE(request_line_drip_cut_by_header_timeout);
    CASE(json_depth_limit_on_v2);
    CASE(json_depth_limit_in_safetensors_header);
    CASE(json_input_key_with_nul);
    CASE(json_param_key_with_nul);
    CASE(json_tensor_key_with_nul);
    CASE(query_value_with_nul);
    CASE(query_key_with_nul);
    CASE(json_duplicate_param_key);
    CASE(json_duplicate_top_level_key);
    CASE(json_duplicate_input_key);
    CASE(json_duplicate_tensor_field);
    CASE(kserve_duplicate_key);
    CASE(no_500_anywhere);
    th_record("shared_daemon_exit_clean", stop_clean(&D));
    CASE(json_list_60mib_under_64mib_budget);
    CASE(fractional_max_unpool_60_bytes_huge_tables);
    CASE(declared_bodies_hold_no_budget);
    CASE(sigterm_pipelined_all_answered);
    CASE(api_key_256_bytes);
    curl_global_cleanup();
    return th_summary();
}
