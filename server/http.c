/* http.c -- the libmicrohttpd front end: daemon start/drain/stop, request
 * state, body gathering, and the common shape of every answer.
 *
 * MHD runs one internal thread with epoll and suspend/resume. That thread
 * only parses HTTP, copies bodies into one buffer per request and answers
 * the small GET routes; tensor-sized steps (decode, kernel, encode) run on
 * the worker pool while the connection is suspended (opcall.c).
 *
 * Bodies are charged to the memory budget (budget.c) as their bytes
 * arrive, never from the Content-Length a client announces: the buffer
 * grows geometrically (from 64 KiB, capped at the Content-Length and
 * --max-body-mb) and each growth is charged before it is allocated. A
 * client that announces 256 MiB and sends nothing holds 0 bytes and is cut
 * at --body-timeout-s (conns.c); one that sends them holds what it sent.
 * The price of growing: a realloc may copy (at most the old half of the
 * buffer, transiently, on this one thread).
 *
 * Protection at this layer: connection limits (total, per address) and the
 * per-connection memory are libmicrohttpd options; header size, body size,
 * query strings and the memory budget are checked here before anything is
 * allocated; read deadlines and vanished clients are conns.c's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accesslog.h"
#include "budget.h"
#include "conns.h"
#include "listen.h"
#include "metrics.h"
#include "grpc.h"
#include "request.h"
#include "shm_registry.h"


/* ---- answers ---------------------------------------------------------- */

/* What an answer holds until MHD has sent it: the body, and what the
 * encoder keeps alive for the tail (output tensors sent without a copy). */
typedef struct held_answer {
    char *body;
    void *keep;
    void (*keep_free)(void *);
} held_answer;

static void held_answer_free(void *cls)
{
    held_answer *h = cls;
    up_buf_release(h->body);
    if (h->keep_free) h->keep_free(h->keep);
    free(h);
}

#define UP_READ_BUFFER_KB 32

/* The body and the tail go out as one iovec response (writev, no copy);
 * on success the answer's bytes move into it, on failure resp is left for
 * the caller to free. */
struct MHD_Response *up_req_build(up_req *r, up_http_resp *resp, const up_resp_extra *x)
{
    struct MHD_IoVec iov[1 + UP_RESP_MAX_TAIL];
    unsigned n = 0;
    size_t len = up_http_resp_len(resp);
    held_answer *h = calloc(1, sizeof(*h));
    struct MHD_Response *m;
    if (!h) return NULL;
    iov[n++] = (struct MHD_IoVec){resp->body.data ? resp->body.data : "", resp->body.len};
    for (int i = 0; i < resp->n_tail; i++)
        iov[n++] = (struct MHD_IoVec){resp->tail[i].base, resp->tail[i].len};
    /* A body without a tail goes out as a plain buffer: libmicrohttpd then
     * sends headers and body in one syscall (one TCP segment for a small
     * answer); an iovec response costs a second send, which measured as
     * about a third of the time of a small request. */
    if (n == 1)
        m = MHD_create_response_from_buffer_with_free_callback_cls(
            iov[0].iov_len, (void *)iov[0].iov_base, held_answer_free, h);
    else
        m = MHD_create_response_from_iovec(iov, n, held_answer_free, h);
    if (!m) {
        free(h);
        return NULL;
    }
    h->body = up_buf_steal(&resp->body, NULL);
    h->keep = resp->keep;
    h->keep_free = resp->keep_free;
    resp->keep = NULL;
    resp->keep_free = NULL;
    resp->n_tail = 0;
    r->status = resp->status;
    r->bytes_out = len;
    MHD_add_response_header(m, "X-Request-Id", r->id);
    if (resp->content_type) MHD_add_response_header(m, "Content-Type", resp->content_type);
    if (resp->extra_header_name[0])
        MHD_add_response_header(m, resp->extra_header_name, resp->extra_header_value);
    /* Draining: the last answer on a connection says Connection: close. An
     * answer with a pipelined request already received behind it does not:
     * libmicrohttpd would drop that request with the connection. The
     * request behind gets its own answer (503 while draining), and the
     * drain waits for it (conns.c). */
    if (atomic_load(&r->srv->draining) &&
        !up_conns_more_received(r->link, r->header_size + r->bytes_in))
        MHD_add_response_header(m, "Connection", "close");
    if (x && x->allow) MHD_add_response_header(m, "Allow", x->allow);
    if (x && x->retry_after) MHD_add_response_header(m, "Retry-After", x->retry_after);
    if (x && x->www_authenticate)
        MHD_add_response_header(m, "WWW-Authenticate", "Bearer realm=\"unpoold\"");
    if (x && x->server_timing) {
        char st[192];
        up_fmt_timing(st, sizeof(st), &r->timing, 5, "", ";dur=", ", ");
        MHD_add_response_header(m, "Server-Timing", st);
    }
    return m;
}

enum MHD_Result up_req_send(up_req *r, up_http_resp *resp, const up_resp_extra *x)
{
    struct MHD_Response *m = up_req_build(r, resp, x);
    up_http_resp_free(resp);
    if (!m) return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)r->status, m);
    MHD_destroy_response(m);
    r->queued = 1;
    return rc;
}

enum MHD_Result up_req_send_static(up_req *r, const void *data, size_t len, const char *ctype,
                                   const char *const *headers)
{
    struct MHD_Response *m =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (!m) return MHD_NO;
    MHD_add_response_header(m, "X-Request-Id", r->id);
    MHD_add_response_header(m, "Content-Type", ctype);
    for (; headers && headers[0]; headers += 2) MHD_add_response_header(m, headers[0], headers[1]);
    r->status = 200;
    r->bytes_out = len;
    enum MHD_Result rc = MHD_queue_response(r->conn, 200, m);
    MHD_destroy_response(m);
    r->queued = 1;
    return rc;
}

void up_req_error_body(up_req *r, const up_error *err, up_http_resp *resp)
{
    if (r->route.kserve) up_kserve_error_response(err, resp);
    else up_problem_response(err, r->id, r->path, resp);
    if (!resp->status) resp->status = up_err_status(err);
}

enum MHD_Result up_req_send_error(up_req *r, const up_error *err, const up_resp_extra *x)
{
    up_http_resp resp;
    up_http_resp_init(&resp);
    up_req_error_body(r, err, &resp);
    return up_req_send(r, &resp, x);
}

/* ---- request state ---------------------------------------------------- */

static char *dup_header(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v ? strdup(v) : NULL;
}

/* n bytes at s (NULL: none) as a new NUL-terminated copy, NULs inside
 * kept: the length tells where the text really ends. */
static char *dup_len(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Query parameters, with their decoded lengths: "%00" inside a key or a
 * value would otherwise cut it short ("kernel_size=2%00junk" read as 2).
 * The api judges that (up_kv_holds_nul); the server asks it for every
 * route before reading a body. */
static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                size_t key_size, const char *value, size_t value_size)
{
    up_req *r = cls;
    (void)kind;
    if (r->n_query >= UP_MAX_QUERY) {
        r->query_overflow = 1;
        return MHD_NO;
    }
    up_kv *kv = &r->query[r->n_query];
    kv->key = dup_len(key, key ? key_size : 0);
    kv->value = dup_len(value, value ? value_size : 0);
    kv->key_len = key ? key_size : 0;
    kv->value_len = value ? value_size : 0;
    r->n_query++;
    return (kv->key && kv->value) ? MHD_YES : MHD_NO;
}

/* Does any query pair hold a NUL inside its received length? */
static int query_holds_nul(const up_req *r)
{
    for (int i = 0; i < r->n_query; i++)
        if (up_kv_holds_nul(&r->query[i])) return 1;
    return 0;
}

static void req_free(up_req *r)
{
    if (r->call_inited) up_call_free(&r->call);
    if (r->response) MHD_destroy_response(r->response);
    for (int i = 0; i < r->n_query; i++) {
        free((char *)r->query[i].key);
        free((char *)r->query[i].value);
    }
    free(r->content_type);
    free(r->accept);
    free(r->ihcl);
    free(r->body);
    free(r->path);
    free(r);
}

static up_req *req_new(up_server *s, struct MHD_Connection *c, const char *url,
                       const char *method)
{
    up_req *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->srv = s;
    r->conn = c;
    r->method = method;
    r->t_arrival = up_now_ns();
    r->link = up_conns_of(c);
    r->fd = up_conns_fd(r->link);
    r->path = strndup(url ? url : "", 2048);
    if (!r->path) {
        free(r);
        return NULL;
    }
    up_reqid_make(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id"), r->id);
    up_route_match(r->path, &r->route);
    return r;
}

/* ---- first call: headers only ------------------------------------------ */

/* Record an error answered once the request is complete: answering before
 * the body is read makes libmicrohttpd close the connection, which is right
 * only when the body must not be read at all (413, 401: see reject_now). */
static enum MHD_Result reject(up_req *r, up_err_kind kind, const char *field,
                              const up_resp_extra *x, const char *fmt, const char *arg)
{
    up_error_clear(&r->err);
    up_errorf(&r->err, kind, field, fmt, arg);
    r->rejected = 1;
    if (x) r->reject_extra = *x;
    return MHD_YES;
}

static enum MHD_Result reject_now(up_req *r, up_err_kind kind, const char *field,
                                  const up_resp_extra *x, const char *fmt, const char *arg)
{
    reject(r, kind, field, x, fmt, arg);
    return up_req_send_error(r, &r->err, x);
}

/* A refused budget charge (err from up_budget_charge), answered when the
 * body has been read and dropped: 503 with Retry-After, or 413. */
static enum MHD_Result reject_budget(up_req *r, const up_error *err)
{
    r->err = *err;
    r->rejected = 1;
    if (err->kind == UP_E_OVERLOADED) r->reject_extra = (up_resp_extra){.retry_after = "1"};
    return MHD_YES;
}

/* Content-Length and X-Request-Timeout-Ms, the query. Nothing is
 * allocated or charged for the body yet: that happens as it arrives. */
static enum MHD_Result prepare_post(up_req *r)
{
    const up_config *cfg = &r->srv->cfg;
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    const char *to = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Request-Timeout-Ms");
    char lim[32];
    r->timeout_ms = cfg->timeout_ms;
    r->body_limit = (size_t)cfg->max_body_bytes;
    if (to) {
        char *end;
        errno = 0;
        long long v = strtoll(to, &end, 10);
        if (errno || end == to || *end || v < 1 || v > 86400000)
            return reject(r, UP_E_MALFORMED, "headers.X-Request-Timeout-Ms", NULL,
                          "expected milliseconds in [1, 86400000], got \"%s\"", to);
        r->timeout_ms = v;
        r->timeout_from_header = 1;
    }
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || (long long)n > cfg->max_body_bytes || n > (unsigned long long)cfg->max_body_bytes) {
            up_error e;
            up_error_clear(&e);
            up_errorf(&e, UP_E_TOO_LARGE, "body",
                      "Content-Length %s is over the limit of %lld bytes (--max-body-mb)", cl,
                      (long long)cfg->max_body_bytes);
            return up_req_send_error(r, &e, NULL);
        }
        if ((long long)n > up_budget_cap()) {
            /* (the config keeps --max-inflight-mb >= --max-body-mb, so this
             * is a second line of defence) */
            up_metrics_budget_refused(1);
            snprintf(lim, sizeof(lim), "%lld", (long long)(up_budget_cap() >> 20));
            return reject_now(r, UP_E_TOO_LARGE, "body", NULL,
                              "the body can never fit the memory budget of %s MiB "
                              "(--max-inflight-mb)", lim);
        }
        /* A client that sent "Expect: 100-continue" waits for our word
         * before sending the body: if the budget cannot hold it now, say so
         * at once (503). Any other client is already sending; its body is
         * charged as it arrives. */
        const char *ex = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Expect");
        if (ex && strcasecmp(ex, "100-continue") == 0 && !up_budget_fits_now((int64_t)n)) {
            up_metrics_budget_refused(0);
            return reject_now(r, UP_E_OVERLOADED, "server", &(up_resp_extra){.retry_after = "1"},
                              "the memory budget for requests in flight is full (%s bytes more "
                              "would exceed --max-inflight-mb); retry later", cl);
        }
        r->body_limit = (size_t)n;
    }
    r->content_type = dup_header(r->conn, "Content-Type");
    r->accept = dup_header(r->conn, "Accept");
    r->ihcl = dup_header(r->conn, "Inference-Header-Content-Length");
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, copy_arg, r);
    if (query_holds_nul(r))
        return reject(r, UP_E_MALFORMED, "query", NULL, "%s",
                      "a query parameter's name or value contains a NUL byte (%00)");
    if (r->query_overflow)
        return reject(r, UP_E_MALFORMED, "query", NULL, "more than %s query parameters", "64");
    return MHD_YES;
}

static enum MHD_Result first_call(up_req *r)
{
    up_server *s = r->srv;
    const up_route *rt = &r->route;
    char msg[96];
    const union MHD_ConnectionInfo *hs =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    r->header_size = hs ? hs->header_size : 0;
    r->chunked = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Transfer-Encoding") != NULL;
    if (hs && (int64_t)hs->header_size > s->cfg.max_header_bytes) {
        snprintf(msg, sizeof(msg), "%zu bytes, over the limit of %lld (--max-header-kb)",
                 hs->header_size, (long long)s->cfg.max_header_bytes);
        return reject_now(r, UP_E_TOO_LARGE, "headers", NULL, "request line and headers: %s", msg);
    }
    if (rt->kind == UP_R_NONE)
        return reject(r, UP_E_NOT_FOUND, "path", NULL, "no route %s (see GET /openapi.yaml)",
                      r->path);
    int open = rt->kind == UP_R_METRICS ? (int)s->cfg.open_metrics
                                        : rt->open && s->cfg.open_health;
    if (!open && s->auth &&
        !up_auth_check(s->auth, MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                            "Authorization")))
        return reject_now(r, UP_E_UNAUTHORIZED, "headers.Authorization",
                      &(up_resp_extra){.www_authenticate = 1}, "%s",
                      "missing or unknown API key (Authorization: Bearer KEY)");
    if (!up_route_method_ok(rt, r->method)) {
        snprintf(msg, sizeof(msg), "%s is not allowed here; allowed: %s", r->method,
                 up_route_allow(rt));
        return reject(r, UP_E_METHOD, "method", &(up_resp_extra){.allow = up_route_allow(rt)},
                      "%s", msg);
    }
    if (rt->has_op && !rt->op)
        return reject(r, UP_E_NOT_FOUND, "op", NULL, "unknown op \"%s\" (see GET /v1/ops)",
                      rt->op_name);
    if (!rt->is_post) return MHD_YES; /* answered when complete, keeping the connection */
    if (atomic_load(&s->draining))
        return reject(r, UP_E_OVERLOADED, "server", &(up_resp_extra){.retry_after = "1"}, "%s",
                      "the server is shutting down; retry on another instance");
    return prepare_post(r);
}

/* ---- body ------------------------------------------------------------- */

/* Free the body and give its bytes back (a refused or dropped upload). */
static void body_drop(up_req *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
    up_budget_release(&r->budget_held);
}

/* First size of a body buffer; then it doubles. */
#define BODY_FIRST_CAP ((size_t)64 << 10)

/* The next capacity for `need` bytes: doubling, never past `limit`. */
static size_t body_grow_to(size_t cap, size_t need, size_t limit)
{
    cap = cap ? cap : BODY_FIRST_CAP;
    while (cap < need && cap < limit) cap = cap > limit / 2 ? limit : cap * 2;
    if (cap > limit) cap = limit;
    return cap < need ? need : cap;
}

static enum MHD_Result body_append(up_req *r, const char *data, size_t n)
{
    size_t max = (size_t)r->srv->cfg.max_body_bytes;
    r->bytes_in += n;
    if (n > max - r->body_len) {
        /* libmicrohttpd cannot answer in the middle of an upload: free the
         * buffer, drop the rest and answer 413 when the body ends */
        body_drop(r);
        char lim[32];
        snprintf(lim, sizeof(lim), "%zu", max);
        return reject(r, UP_E_TOO_LARGE, "body", NULL,
                      "the body is over the limit of %s bytes (--max-body-mb)", lim);
    }
    if (r->body_len + n > r->body_cap) {
        size_t cap = body_grow_to(r->body_cap, r->body_len + n, r->body_limit);
        up_error e;
        up_error_clear(&e);
        if (up_budget_charge(&r->budget_held, (int64_t)(cap - r->body_cap), "the body", &e) < 0) {
            body_drop(r);
            return reject_budget(r, &e);
        }
        char *b = realloc(r->body, cap);
        if (!b) {
            body_drop(r);
            return reject(r, UP_E_OVERLOADED, "body", &(up_resp_extra){.retry_after = "1"},
                          "%s", "out of memory for the body; retry later");
        }
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    return MHD_YES;
}

/* ---- MHD callbacks ---------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    up_req *r = *con_cls;
    (void)version;
    if (!r) {
        if (!(r = req_new(cls, conn, url, method))) return MHD_NO;
        *con_cls = r;
        up_metrics_in_flight(+1);
        enum MHD_Result rc = first_call(r);
        up_conns_phase(r->link, r->queued ? UP_CONN_BUSY : UP_CONN_BODY);
        return rc;
    }
    if (r->queued) {
        /* answered early (413, 404 ...): drop whatever body still comes */
        r->bytes_in += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->job_done) {
        /* resumed: the worker left the answer here (NULL: out of memory,
         * close the connection) */
        if (!r->response) return MHD_NO;
        enum MHD_Result rc = MHD_queue_response(conn, (unsigned)r->status, r->response);
        MHD_destroy_response(r->response);
        r->response = NULL;
        r->queued = 1;
        return rc;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->rejected || !r->route.is_post) {
            /* not ours to keep: count and drop; a stream far past the body
             * limit is cut off rather than read forever */
            r->bytes_in += n;
            return r->bytes_in / 4 > (uint64_t)r->srv->cfg.max_body_bytes ? MHD_NO : MHD_YES;
        }
        return body_append(r, upload_data, n);
    }
    up_conns_phase(r->link, UP_CONN_BUSY);
    if (r->rejected) return up_req_send_error(r, &r->err, &r->reject_extra);
    if (r->route.shm) return up_handle_shm(r);
    if (!r->route.is_post) return up_handle_get(r);
    return up_op_begin(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    up_req *r = *con_cls;
    (void)cls;
    (void)toe; /* a request that got no answer (client gone) logs status 0 */
    if (!r) return;
    *con_cls = NULL;
    /* 499 (the client closed first), as nginx logs it */
    int status = r->dropped ? 499 : r->queued ? r->status : 0;
    if (status) up_metrics_request(UP_METRIC_HTTP, r->route.op ? up_op_index(r->route.op) : -1, status,
                                   r->bytes_in, r->queued ? r->bytes_out : 0);
    up_access a = {
        .method = r->method,
        .path = r->path,
        .op = r->route.op ? r->route.op->name : NULL,
        .request_id = r->id,
        .status = status,
        .bytes_in = r->bytes_in,
        .bytes_out = r->queued ? r->bytes_out : 0,
        .timing = r->ran_job ? &r->timing : NULL,
        .total_ms = (double)(up_now_ns() - r->t_arrival) / 1e6,
    };
    up_log_access(&a);
    up_budget_release(&r->budget_held);
    /* this request's share of the byte stream (conns.c: what a pipelined
     * request behind it, or a dripped request line, would add) */
    up_conn *k = up_conns_of(conn);
    up_conns_request_done(k, r->header_size + r->bytes_in, !r->chunked);
    req_free(r);
    up_conns_phase(k, UP_CONN_IDLE);
    up_metrics_in_flight(-1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    up_log_event("warn", "libmicrohttpd: %s", msg);
}

/* ---- life ------------------------------------------------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || n > (1 << 22) || fseek(f, 0, SEEK_SET) < 0)
        goto done;
    if (!(buf = malloc((size_t)n + 1))) goto done;
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
        goto done;
    }
    buf[n] = 0;
done:
    fclose(f);
    return buf;
}

static int load_tls(up_server *s)
{
    if (!s->cfg.tls_cert[0]) return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        up_log_event("error", "--tls-cert: this libmicrohttpd was built without TLS");
        return -1;
    }
    if (!(s->tls_cert_pem = read_file(s->cfg.tls_cert))) {
        up_log_event("error", "--tls-cert %s: cannot read", s->cfg.tls_cert);
        return -1;
    }
    if (!(s->tls_key_pem = read_file(s->cfg.tls_key))) {
        up_log_event("error", "--tls-key %s: cannot read", s->cfg.tls_key);
        return -1;
    }
    return 0;
}

int up_server_start(up_server *s)
{
    int auth_err = 0;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    s->listen_fd = -1;
    s->limits.max_elements = s->cfg.max_elements;
    s->limits.max_request_elements = s->cfg.max_request_elements;
    s->limits.max_json_depth = (int)s->cfg.max_json_depth;
    s->limits.max_inputs = (int)s->cfg.max_inputs;
    s->limits.max_work = s->cfg.max_work;
    up_budget_init(s->cfg.max_inflight_bytes);
    up_shm_init((int)s->cfg.shm, s->cfg.shm_max_regions, s->cfg.shm_max_bytes);
    s->auth = up_auth_load(s->cfg.api_key_file, &auth_err);
    if (auth_err || load_tls(s) < 0) return 2;
    if (s->tls_cert_pem) flags |= MHD_USE_TLS;
    s->listen_fd = up_listen_open(s->cfg.listen_host, s->cfg.listen_port, s->bound,
                                  sizeof(s->bound));
    if (s->listen_fd < 0) return 2;
    if (!(s->pool = up_pool_create(s->cfg.workers, s->cfg.queue))) {
        up_log_event("error", "cannot start %d worker threads", s->cfg.workers);
        return 2;
    }
    if (up_conns_start(s->cfg.conn_timeout_s, s->cfg.header_timeout_s, s->cfg.body_timeout_s,
                       s->tls_cert_pem != NULL) < 0) {
        up_log_event("error", "cannot start the connection reaper thread");
        return 2;
    }
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s},
        {MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)up_conns_notify, s},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)up_conns_uri_seen, s},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->cfg.conn_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)s->cfg.max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)s->cfg.max_connections_per_ip, NULL},
        /* headers plus read buffer per connection: --max-header-kb for
         * headers (checked in first_call, 413) plus UP_READ_BUFFER_KB for
         * reading bodies. libmicrohttpd clears the whole pool for every
         * request on a kept-alive connection, so a bigger buffer (fewer
         * calls for large bodies) taxes every small request: 128 KiB cost
         * 7% of small-request throughput against 16 KiB in `make bench`.
         * Headers larger than the whole pool get libmicrohttpd's own 431. */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT,
         (intptr_t)(s->cfg.max_header_bytes + UP_READ_BUFFER_KB * 1024), NULL},
        {s->tls_cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->tls_cert_pem},
        {s->tls_key_pem ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
                              MHD_OPTION_END);
    if (!s->mhd) {
        up_log_event("error", "libmicrohttpd did not start on %s%s", s->bound,
                     s->tls_cert_pem ? " (check --tls-cert/--tls-key)" : "");
        return 2;
    }
    up_log_event("info", "listening on %s://%s workers=%d queue=%d max_body_mb=%lld",
                 s->tls_cert_pem ? "https" : "http", s->bound, s->cfg.workers, s->cfg.queue,
                 (long long)(s->cfg.max_body_bytes >> 20));
    return up_grpc_start(s);
}

/* Connections the kernel completed but libmicrohttpd has not accepted yet
 * would be reset by closing the listening socket: hand them to MHD
 * instead, so their requests get an answer (a 503 "shutting down" with
 * Retry-After for op requests) rather than a reset. */
static void adopt_backlog(up_server *s, int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return;
    for (int i = 0; i < 4096; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) break;
        MHD_add_connection(s->mhd, c, (struct sockaddr *)&ss, sl); /* closes c on failure */
    }
}

int up_server_drain(up_server *s)
{
    atomic_store(&s->draining, 1);
    up_grpc_drain(s);
    if (s->mhd) {
        MHD_socket fd = MHD_quiesce_daemon(s->mhd);
        if (fd != MHD_INVALID_SOCKET) {
            adopt_backlog(s, fd);
            /* stop listening without closing: libmicrohttpd's thread may
             * still name this descriptor in an epoll_ctl call, and a closed
             * number could be reused meanwhile (ThreadSanitizer found it);
             * up_server_stop closes it after MHD has stopped */
            shutdown(fd, SHUT_RDWR);
            s->listen_fd = fd;
        }
    }
    uint64_t until = up_now_ns() + (uint64_t)s->cfg.drain_timeout_ms * 1000000u;
    struct timespec nap = {0, 2 * 1000 * 1000};
    /* done when nothing is in flight and no connection is mid-request, twice
     * 20 ms apart: a request whose first bytes libmicrohttpd is reading
     * right now is answered too, rather than cut by the stop */
    for (int quiet = 0; quiet < 10;) {
        if (up_now_ns() > until) return -1;
        quiet = up_metrics_in_flight_now() == 0 && up_conns_active() == 0 ? quiet + 1 : 0;
        nanosleep(&nap, NULL);
    }
    return 0;
}

void up_server_stop(up_server *s)
{
    if (s->mhd) MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    if (s->listen_fd >= 0) close(s->listen_fd);
    s->listen_fd = -1;
    up_conns_stop();
    up_grpc_drain(s); /* no new calls while the pool finishes */
    up_pool_destroy(s->pool);
    s->pool = NULL;
    up_grpc_stop(s);
    up_shm_shutdown(); /* no request holds a region any more */
    up_auth_free(s->auth);
    s->auth = NULL;
    free(s->tls_cert_pem);
    free(s->tls_key_pem);
    s->tls_cert_pem = s->tls_key_pem = NULL;
}
