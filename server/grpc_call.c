/* grpc_call.c -- what a gRPC call of inference.GRPCInferenceService does
 * once the connection loop (grpc_conn.c) has its headers and message:
 * check the key, charge the message, answer the small methods on the loop,
 * run ModelInfer on the worker pool, and keep the answer until HTTP/2 has
 * sent it. The messages themselves are api/kserve_grpc.c's.
 *
 * A small ModelInfer on an idle pool runs on the loop itself, start to
 * finish, as REST runs one on its MHD thread (the cost model decides what
 * is small: pool.h); everything else goes to the worker pool. Measured
 * (h2load, 64 streams on 2 connections, (1,1,4,4) max_unpool, alternating
 * runs): 145-151k calls/s run on the loop against 60-70k through the pool,
 * where each call costs two thread wake-ups. (On the first transport,
 * gRPC's C core, whose own threads did the I/O, the loop was the worse
 * place: 22-29k against 27-37k.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"
#include "budget.h"
#include "grpc_call.h"
#include "metrics.h"
#include "shm_registry.h"

static double ms(uint64_t a, uint64_t b) { return b > a ? (double)(b - a) / 1e6 : 0.0; }

gcall *up_grpc_call_new(up_server *s)
{
    gcall *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->srv = s;
    g->timeout_ms = -1;
    g->method = UP_GM_UNKNOWN;
    g->t_arrival = up_now_ns();
    up_reqid_make(NULL, g->id);
    up_buf_init(&g->small);
    up_grpc_answer_init(&g->answer);
    up_metrics_in_flight(1);
    return g;
}

void up_grpc_call_free(gcall *g)
{
    if (!g) return;
    up_grpc_call_log(g);
    if (g->call_inited) up_call_free(&g->call);
    up_grpc_answer_free(&g->answer);
    up_buf_free(&g->small);
    up_buf_release(g->msg);
    up_budget_release(&g->budget_held);
    up_metrics_in_flight(-1);
    free(g);
}

void up_grpc_call_log(gcall *g)
{
    const up_op_def *op = g->call_inited ? g->call.plan.op : NULL;
    if (g->logged) return;
    g->logged = 1;
    if (!g->answered && !g->status) g->status = 499; /* the client went away first */
    up_metrics_request(UP_METRIC_GRPC, op ? up_op_index(op) : -1, g->status, g->bytes_in,
                       g->bytes_out);
    up_access a = {.method = "GRPC", .path = g->path[0] ? g->path : "-",
                   .op = op ? op->name : NULL, .request_id = g->id, .status = g->status,
                   .bytes_in = g->bytes_in, .bytes_out = g->bytes_out,
                   .timing = g->method == UP_GM_MODEL_INFER && g->code == UP_GRPC_OK &&
                                     g->answered ? &g->timing : NULL,
                   .total_ms = ms(g->t_arrival, up_now_ns())};
    up_log_access(&a);
}

/* ---- answers -------------------------------------------------------------- */

void up_grpc_call_fail(gcall *g, const up_error *e)
{
    size_t at = 0;
    g->code = up_grpc_code(e);
    g->status = up_err_status(e);
    g->message[0] = 0;
    /* every item, "field: message; ...", as problem+json lists them */
    for (int i = 0; i < e->n && at < sizeof(g->message) - 1; i++) {
        const up_err_item *it = &e->items[i];
        int k = snprintf(g->message + at, sizeof(g->message) - at, "%s%s%s%s", i ? "; " : "",
                         it->field, it->field[0] ? ": " : "", it->message);
        if (k < 0) break;
        at += (size_t)k;
    }
    g->answered = 1;
}

void up_grpc_call_fail_with(gcall *g, up_err_kind kind, const char *field, const char *msg)
{
    up_error e;
    up_error_clear(&e);
    up_errorf(&e, kind, field, "%s", msg);
    up_grpc_call_fail(g, &e);
}

static void answer_ok(gcall *g)
{
    g->code = UP_GRPC_OK;
    g->status = 200;
    g->answered = 1;
    g->bytes_out = up_grpc_call_answer_len(g);
}

size_t up_grpc_call_answer_len(const gcall *g)
{
    return g->small_answer ? g->small.len : up_grpc_answer_len(&g->answer);
}

const unsigned char *up_grpc_call_span(const gcall *g, size_t at, size_t *len)
{
    *len = 0;
    if (g->small_answer) {
        if (at >= g->small.len) return NULL;
        *len = g->small.len - at;
        return (const unsigned char *)g->small.data + at;
    }
    /* the head, then the pieces (result tensors) in order */
    const up_grpc_answer *a = &g->answer;
    size_t base = 0;
    for (int i = -1; i < a->n_piece; i++) {
        const char *p = i < 0 ? a->head.data : a->piece[i].base;
        size_t n = i < 0 ? a->head.len : a->piece[i].len;
        if (at < base + n) {
            *len = base + n - at;
            return (const unsigned char *)p + (at - base);
        }
        base += n;
    }
    return NULL;
}

size_t up_grpc_call_read(gcall *g, size_t at, unsigned char *buf, size_t cap)
{
    size_t n = 0, k;
    const unsigned char *p;
    while (n < cap && (p = up_grpc_call_span(g, at + n, &k)) != NULL) {
        if (k > cap - n) k = cap - n;
        memcpy(buf + n, p, k);
        n += k;
    }
    return n;
}

/* ---- headers and prefix ----------------------------------------------------- */

/* Health calls stay open with --open-health, as REST's health routes do. */
static int needs_key(const up_server *s, up_grpc_method m)
{
    int health = m == UP_GM_SERVER_LIVE || m == UP_GM_SERVER_READY || m == UP_GM_MODEL_READY;
    return s->auth && !(health && s->cfg.open_health);
}

/* An answer unpoold's error kinds have no word for (HTTP 415, gRPC's
 * UNIMPLEMENTED): the code, the status it is counted under, the text. */
static int answer_plain(gcall *g, int code, int status, const char *msg)
{
    g->code = code;
    g->status = status;
    snprintf(g->message, sizeof(g->message), "%s", msg);
    g->answered = 1;
    return -1;
}

int up_grpc_call_headers(gcall *g)
{
    up_server *s = g->srv;
    g->headers_done = 1;
    if (!g->post || !g->grpc_content_type) /* not gRPC at all: grpc_conn.c sends HTTP 415 */
        return answer_plain(g, UP_GRPC_UNKNOWN, 415,
                            "unpoold's gRPC port takes POST with content-type application/grpc");
    if (g->method == UP_GM_UNKNOWN)
        return answer_plain(g, UP_GRPC_UNIMPLEMENTED, 404,
                            "unpoold serves ServerLive, ServerReady, ModelReady, ServerMetadata, "
                            "ModelMetadata, ModelInfer and SystemSharedMemory{Status,Register,"
                            "Unregister} of inference.GRPCInferenceService");
    if (needs_key(s, g->method) &&
        !up_auth_check(s->auth, g->authorization[0] ? g->authorization : NULL)) {
        up_grpc_call_fail_with(g, UP_E_UNAUTHORIZED, "authorization",
                               "an API key is required: metadata \"authorization: Bearer KEY\"");
        return -1;
    }
    return 0;
}

int up_grpc_call_prefix(gcall *g)
{
    up_error e;
    const unsigned char *p = g->prefix;
    uint64_t n = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 | p[4];
    char text[160];
    up_error_clear(&e);
    if (p[0])
        return answer_plain(g, UP_GRPC_UNIMPLEMENTED, 415,
                            "compressed messages are not supported (grpc-encoding identity only)");
    if (g->method != UP_GM_MODEL_INFER && n > UP_GRPC_SMALL_MAX) {
        snprintf(text, sizeof(text), "a %s message is at most %d bytes, this one has %llu",
                 up_grpc_method_name(g->method), UP_GRPC_SMALL_MAX, (unsigned long long)n);
        up_grpc_call_fail_with(g, UP_E_TOO_LARGE, "message", text);
        return -1;
    }
    if ((int64_t)n > g->srv->cfg.max_body_bytes) {
        snprintf(text, sizeof(text), "the message has %llu bytes; the limit is %lld MiB "
                 "(--max-body-mb)", (unsigned long long)n,
                 (long long)(g->srv->cfg.max_body_bytes >> 20));
        up_grpc_call_fail_with(g, UP_E_TOO_LARGE, "message", text);
        return -1;
    }
    /* charged before a byte of it is held, as REST charges a body */
    if (up_budget_charge(&g->budget_held, (int64_t)n, "the gRPC message", &e) < 0) {
        up_grpc_call_fail(g, &e);
        return -1;
    }
    if (!(g->msg = up_buf_block(n ? n : 1))) {
        up_grpc_call_fail_with(g, UP_E_OVERLOADED, "", "out of memory");
        return -1;
    }
    g->msg_len = n;
    return 0;
}

/* ---- the small methods, answered on the loop ------------------------------- */

typedef struct region_list {
    up_grpc_region r[64];
    char names[64][64], keys[64][256];
    int n;
} region_list;

static void add_region(void *ctx, const char *name, const char *key, uint64_t offset,
                       uint64_t byte_size)
{
    region_list *l = ctx;
    if (l->n >= 64) return;
    snprintf(l->names[l->n], 64, "%s", name);
    snprintf(l->keys[l->n], 256, "%s", key);
    l->r[l->n] = (up_grpc_region){l->names[l->n], l->keys[l->n], offset, byte_size};
    l->n++;
}

static int shm_status(gcall *g, const char *name, up_error *e)
{
    region_list *l = calloc(1, sizeof(*l));
    int rc = -1;
    if (!l) return up_errorf(e, UP_E_OVERLOADED, "", "out of memory");
    if (up_shm_each(name, add_region, l, e) == 0)
        rc = up_grpc_shm_status_answer(l->r, l->n, &g->small) < 0
                 ? up_errorf(e, UP_E_OVERLOADED, "", "out of memory") : 0;
    free(l);
    return rc;
}

static int shm_method(gcall *g, up_error *e)
{
    char name[64];
    up_shm_register_body b;
    if (!up_shm_enabled())
        return up_errorf(e, UP_E_NOT_FOUND, "", "the system shared-memory extension is off on "
                         "this server (--shm 1 turns it on)");
    if (g->method == UP_GM_SHM_REGISTER)
        return up_grpc_shm_register_request(g->msg, g->msg_len, name, &b, e) < 0
                   ? -1 : up_shm_register(name, &b, e);
    if (up_grpc_shm_name_request(g->method, g->msg, g->msg_len, name, e) < 0) return -1;
    if (g->method == UP_GM_SHM_STATUS) return shm_status(g, name[0] ? name : NULL, e);
    return up_shm_unregister(name[0] ? name : NULL, e);
}

static void small_method(gcall *g)
{
    up_server *s = g->srv;
    up_error e;
    const up_op_def *op;
    int rc = 0, ready = !atomic_load(&s->draining);
    up_error_clear(&e);
    switch (g->method) {
    case UP_GM_SERVER_LIVE:
        rc = up_grpc_bool_answer(g->method, 1, &g->small);
        break;
    case UP_GM_SERVER_READY:
        rc = up_grpc_bool_answer(g->method, ready, &g->small);
        break;
    case UP_GM_MODEL_READY:
        if (!(op = up_grpc_model_request(g->msg, g->msg_len, &e))) goto err;
        rc = up_grpc_bool_answer(g->method, ready, &g->small);
        break;
    case UP_GM_SERVER_METADATA:
        rc = up_grpc_server_metadata(up_shm_enabled(), &g->small);
        break;
    case UP_GM_MODEL_METADATA:
        if (!(op = up_grpc_model_request(g->msg, g->msg_len, &e))) goto err;
        rc = up_grpc_model_metadata(op, &g->small);
        break;
    default:
        if (shm_method(g, &e) < 0) goto err;
        break;
    }
    if (rc < 0 || g->small.failed) {
        up_grpc_call_fail_with(g, UP_E_OVERLOADED, "", "out of memory writing the answer");
        return;
    }
    g->small_answer = 1;
    answer_ok(g);
    return;
err:
    up_grpc_call_fail(g, &e);
}

/* ---- ModelInfer on the worker pool ----------------------------------------- */

/* The call's accountant (up_charge): every buffer of the decode and the
 * plan is charged to the budget first, as on REST. */
static int g_take(void *ctx, int64_t bytes, const char *what, up_error *err)
{
    gcall *g = ctx;
    return bytes <= 0 ? 0 : up_budget_charge(&g->budget_held, bytes, what, err);
}

static int g_admit(void *ctx, const up_plan *p, up_error *err)
{
    gcall *g = ctx;
    int64_t need;
    if (up_add_i64(p->mem_bytes, up_grpc_answer_bytes(&g->call), &need) < 0) need = INT64_MAX;
    return up_budget_admit(atomic_load(&g->budget_held), need, err);
}

static void decode_fn(void *arg)
{
    gcall *g = arg;
    up_grpc_in in = {.charge = {.take = g_take, .admit = g_admit, .ctx = g},
                     .shm = up_shm_resolver_get()};
    char *msg = g->msg;
    g->msg = NULL; /* the call's now: raw inputs are views of it */
    if (up_grpc_decode_infer(&g->call, msg, g->msg_len, &in, &g->srv->limits, &g->err) < 0)
        g->decode_failed = 1;
}

static void shm_cut_short(gcall *g, const char *when)
{
    up_error_clear(&g->err);
    up_errorf(&g->err, UP_E_INVALID, "shared_memory_region",
              "a shared-memory region shrank under the request while %s it (the object was "
              "truncated); keep the object at least its registered size", when);
    g->decode_failed = 1;
}

/* Worker: decode and admit (charge outputs and the answer's bound before
 * the kernel runs). */
static void job_start(up_job *j)
{
    gcall *g = j->owner;
    const up_plan *p;
    if (atomic_load(&g->gone)) { /* nobody waits for the answer */
        g->dropped = 1;
        up_metrics_job_dropped();
        return;
    }
    g->call_inited = 1;
    up_error_clear(&g->err);
    /* a request names its regions only in its message: guard the decode
     * whenever the extension is on */
    if (!up_shm_enabled()) decode_fn(g);
    else if (up_shm_guarded(decode_fn, g) < 0) shm_cut_short(g, "reading");
    if (g->decode_failed) return;
    p = &g->call.plan;
    if ((p->mem_bytes <= 0 &&
         g_take(g, up_plan_output_bytes(p), "the outputs", &g->err) < 0) ||
        g_take(g, up_grpc_answer_bytes(&g->call), "the answer", &g->err) < 0) {
        g->decode_failed = 1;
        return;
    }
    j->plan = p;
    if (up_call_uses_shm(&g->call)) j->guard = up_shm_guarded;
}

static void encode_fn(void *arg)
{
    gcall *g = arg;
    if (up_grpc_encode_infer(&g->call, &g->job.fault, &g->timing, &g->answer, &g->err) < 0)
        g->decode_failed = 1;
}

static void deadline_error(gcall *g, const up_job *j)
{
    up_error_clear(&g->err);
    up_errorf(&g->err, UP_E_DEADLINE, "grpc-timeout",
              "the call's deadline passed before the kernel ran (%.1f ms waiting for a worker)",
              ms(j->t_submit, j->t_start));
}

/* Worker that finished the job: encode (or note the error), then hand the
 * call back to the loop, which sends the answer. */
static void job_complete(up_job *j)
{
    gcall *g = j->owner;
    g->timing.queue_ms = ms(j->t_submit, j->t_start);
    g->timing.decode_ms = ms(j->t_start, j->t_decoded);
    g->timing.compute_ms = ms(j->t_compute_begin, j->t_compute_end);
    if (!g->dropped) {
        if (j->expired) deadline_error(g, j);
        else if (atomic_load(&j->cut_short)) shm_cut_short(g, "running the kernel on");
        else if (!g->decode_failed) {
            uint64_t t0 = up_now_ns();
            g->timing.total_ms = ms(g->t_msg, t0);
            if (!up_call_uses_shm(&g->call)) encode_fn(g);
            else if (up_shm_guarded(encode_fn, g) < 0) shm_cut_short(g, "writing");
            g->timing.encode_ms = ms(t0, up_now_ns());
        } else {
            g->decode_failed = 1;
        }
        if (j->expired || atomic_load(&j->cut_short)) g->decode_failed = 1;
        g->timing.total_ms = ms(g->t_arrival, up_now_ns());
        up_metrics_chunks(j->n_chunks);
        up_metrics_phases(&g->timing);
        if (g->decode_failed) {
            up_grpc_call_fail(g, &g->err);
        } else {
            answer_ok(g);
            /* the answer is held at its real size until it is sent */
            up_budget_hold_exactly(&g->budget_held, (int64_t)g->bytes_out);
        }
    }
    if (!g->inline_run) up_grpc_call_done(g); /* inline: the loop answers it now */
}

/* The call's deadline on the pool's monotonic clock: grpc-timeout, else
 * the daemon's --timeout-ms; 0 = none. */
static uint64_t job_deadline(const gcall *g)
{
    int64_t t = g->timeout_ms >= 0 ? g->timeout_ms : g->srv->cfg.timeout_ms;
    if (g->timeout_ms < 0 && t <= 0) return 0;
    return g->t_arrival + (uint64_t)t * 1000000u;
}

static void run_fn(void *arg)
{
    up_job *j = arg;
    up_plan_run(j->plan, 0, j->plan->work_units, &j->fault);
}

/* Worker: the message was decoded and admitted on the loop already. */
static void job_start_decoded(up_job *j)
{
    gcall *g = j->owner;
    if (atomic_load(&g->gone)) {
        g->dropped = 1;
        up_metrics_job_dropped();
        return;
    }
    if (g->decode_failed) return;
    j->plan = &g->call.plan;
    if (up_call_uses_shm(&g->call)) j->guard = up_shm_guarded;
}

/* A small message on an idle pool: decode it here, on the loop, and when
 * its plan is small too (up_plan_is_small) run and encode it here. 1 when
 * answered; 0 when it goes to the pool (decoded). */
static int run_inline(gcall *g)
{
    up_job *j = &g->job;
    j->t_submit = j->t_start = up_now_ns();
    up_fault_init(&j->fault);
    job_start(j);
    j->t_decoded = j->t_compute_begin = j->t_compute_end = up_now_ns();
    if (j->plan && !up_plan_is_small(j->plan, up_grpc_answer_bytes(&g->call))) return 0;
    if (j->plan) {
        j->n_chunks = 1;
        if (!j->guard) run_fn(j);
        else if (j->guard(run_fn, j) < 0) atomic_store(&j->cut_short, 1);
        j->t_compute_end = up_now_ns();
    }
    g->inline_run = 1;
    job_complete(j);
    return 1;
}

int up_grpc_call_run(gcall *g)
{
    up_server *s = g->srv;
    g->t_msg = up_now_ns();
    if (g->msg_got != g->msg_len || g->prefix_got < 5) {
        up_grpc_call_fail_with(g, UP_E_MALFORMED, "message",
                               "the call ended without a complete request message");
        return 0;
    }
    if (g->method != UP_GM_MODEL_INFER) {
        small_method(g);
        return 0;
    }
    memset(&g->job, 0, sizeof(g->job));
    g->job.owner = g;
    if (g->msg_len <= UP_INLINE_MAX_BODY && up_pool_idle(s->pool) && run_inline(g)) return 0;
    if (up_pool_reserve(s->pool) < 0) {
        char text[96];
        snprintf(text, sizeof(text), "the job queue is full (%d waiting); retry later",
                 s->cfg.queue);
        up_grpc_call_fail_with(g, UP_E_OVERLOADED, "queue", text);
        return 0;
    }
    g->job.start = g->call_inited ? job_start_decoded : job_start;
    g->job.complete = job_complete;
    g->job.deadline_ns = job_deadline(g);
    g->in_pool = 1;
    up_pool_submit(s->pool, &g->job);
    return 1;
}
