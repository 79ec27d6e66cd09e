/* grpc.c -- KServe v2 over gRPC (--grpc-listen): calls of
 * inference.GRPCInferenceService carried by gRPC's C core, run by the same
 * worker pool, budget, API keys, TLS, metrics and drain as HTTP.
 *
 * The library: gRPC's own C core (Debian libgrpc-dev), measured against
 * libnghttp2 + protobuf-c with the 5-byte framing by hand
 * (bench/grpc_transport/README.md has the figures). The C core is what
 * every gRPC language wrapper runs on: HTTP/2 flow control, keepalive,
 * deadlines, cancellation, message limits and TLS with ALPN are its own,
 * already hardened against hostile peers and fuzzed upstream; with
 * nghttp2 all of that would be ours to write and keep. The price is
 * control over the receive path: the core buffers a whole message before
 * the application sees it, so bytes still arriving cannot be charged to
 * the budget as REST charges a body. That is bounded instead by the
 * message limit (--max-body-mb, RESOURCE_EXHAUSTED above it) and by a
 * gRPC resource quota of --max-inflight-mb for the transport's own
 * buffers; a complete message is charged to the budget before it is
 * copied out of the transport, and everything after that (parse,
 * tensors, outputs, answer) is charged as on REST.
 *
 * One poller thread takes completions from one completion queue; a call
 * is a small state machine (gcall) moved by its tags:
 *   new      -> the call arrived: check the key, ask for its message, and
 *               for its close (which reports a client's cancellation)
 *   recv     -> the message is here: charge and copy it; small methods
 *               answer on the poller, ModelInfer goes to the worker pool
 *   (worker) -> decode, admit, run (pool chunks), encode; start the send
 *   send     -> status sent: metrics and the access log
 *   close    -> the call is over on the wire
 * A call is freed when its last reference goes: one per outstanding tag,
 * one per answer slice that points into its tensors (gRPC may hold those
 * after the send completes). */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/kserve_grpc.h"
#include "accesslog.h"
#include "budget.h"
#include "grpc.h"
#include "metrics.h"
#include "reqid.h"
#include "shm_registry.h"

/* Calls asked for ahead, so that a burst of new calls does not wait for
 * the poller to ask again one by one. */
#define UP_GRPC_PENDING_CALLS 32
/* Streams one client connection may have open at once. */
#define UP_GRPC_MAX_STREAMS 256

typedef struct up_grpc up_grpc;

enum { TAG_NEW, TAG_RECV, TAG_SEND, TAG_CLOSE };
typedef struct gtag {
    struct gcall *g;
    int kind;
} gtag;

typedef struct gcall {
    up_grpc *gs;
    grpc_call *gc;
    grpc_call_details details;
    grpc_metadata_array md;
    gtag tag[4];
    atomic_int refs;
    int close_cancelled;       /* from RECV_CLOSE_ON_SERVER */
    atomic_int gone;           /* the close came in before the answer */
    up_grpc_method method;
    char id[UP_REQID_MAX];
    uint64_t t_arrival, t_msg;

    grpc_byte_buffer *recv;
    char *msg;                 /* the message, copied out of the transport */
    size_t msg_len;
    atomic_int_fast64_t budget_held;

    up_job job;
    up_call call;
    int call_inited, decode_failed, dropped;
    up_error err;
    up_timing timing;

    up_grpc_answer answer;
    up_buf small;              /* the answer of a small method */
    grpc_byte_buffer *send;
    grpc_slice status_details;
    int code, status;          /* gRPC code, and the HTTP status it stands for */
    int counted;               /* in unpoold_in_flight_requests until freed */
    uint64_t bytes_out;
} gcall;

struct up_grpc {
    up_server *srv;
    grpc_server *server;
    grpc_completion_queue *cq;
    grpc_resource_quota *quota;
    pthread_t poller;
    int poller_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int shutdown_done;         /* the server's shutdown tag came back */
    atomic_int shutting_down;
    gtag shutdown_tag;
    char bound[300];
};

static up_grpc the_grpc; /* one per process, like the server */

static double ms(uint64_t a, uint64_t b) { return b > a ? (double)(b - a) / 1e6 : 0.0; }

/* ---- the call's life ----------------------------------------------------- */

static void gcall_unref(gcall *g)
{
    if (atomic_fetch_sub(&g->refs, 1) != 1) return;
    if (g->call_inited) up_call_free(&g->call);
    up_grpc_answer_free(&g->answer);
    up_buf_free(&g->small);
    free(g->msg);
    if (g->recv) grpc_byte_buffer_destroy(g->recv);
    grpc_slice_unref(g->status_details);
    if (g->gc) grpc_call_unref(g->gc);
    grpc_call_details_destroy(&g->details);
    grpc_metadata_array_destroy(&g->md);
    up_budget_release(&g->budget_held);
    if (g->counted) up_metrics_in_flight(-1);
    free(g);
}

static void slice_unref_cb(void *p) { gcall_unref(p); }

/* Ask the core for the next call. */
static void request_call(up_grpc *gs)
{
    gcall *g = calloc(1, sizeof(*g));
    if (!g) return; /* the next completed call asks again */
    g->gs = gs;
    for (int i = 0; i < 4; i++) g->tag[i] = (gtag){g, i};
    grpc_call_details_init(&g->details);
    grpc_metadata_array_init(&g->md);
    up_buf_init(&g->small);
    up_grpc_answer_init(&g->answer);
    g->status_details = grpc_empty_slice();
    atomic_init(&g->refs, 1); /* the TAG_NEW */
    if (grpc_server_request_call(gs->server, &g->gc, &g->details, &g->md, gs->cq, gs->cq,
                                 &g->tag[TAG_NEW]) != GRPC_CALL_OK)
        gcall_unref(g);
}

/* Start a batch under one of the call's tags (a reference while it is
 * outstanding). */
static void start_batch(gcall *g, const grpc_op *ops, size_t n, int kind)
{
    atomic_fetch_add(&g->refs, 1);
    if (grpc_call_start_batch(g->gc, ops, n, &g->tag[kind], NULL) != GRPC_CALL_OK)
        gcall_unref(g);
}

/* The answer: the message (when g->code is OK) and the status. */
static void finish(gcall *g)
{
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (g->code == UP_GRPC_OK && g->send) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = g->send;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)g->code;
    ops[n++].data.send_status_from_server.status_details =
        g->code == UP_GRPC_OK ? NULL : &g->status_details;
    start_batch(g, ops, n, TAG_SEND);
}

static void fail(gcall *g, const up_error *e)
{
    char text[1024];
    size_t at = 0;
    g->code = up_grpc_code(e);
    g->status = up_err_status(e);
    text[0] = 0;
    /* every item, "field: message; ...", as the problem+json lists them */
    for (int i = 0; i < e->n && at < sizeof(text) - 1; i++) {
        const up_err_item *it = &e->items[i];
        int k = snprintf(text + at, sizeof(text) - at, "%s%s%s%s", i ? "; " : "", it->field,
                         it->field[0] ? ": " : "", it->message);
        if (k < 0) break;
        at += (size_t)k;
    }
    grpc_slice_unref(g->status_details);
    g->status_details = grpc_slice_from_copied_string(text);
    finish(g);
}

static void fail_with(gcall *g, up_err_kind kind, const char *field, const char *msg)
{
    up_error e;
    up_error_clear(&e);
    up_errorf(&e, kind, field, "%s", msg);
    fail(g, &e);
}

/* A small answer from g->small, copied into one slice. */
static void answer_small(gcall *g)
{
    grpc_slice s = grpc_slice_from_copied_buffer(g->small.data ? g->small.data : "", g->small.len);
    if (g->small.failed) {
        grpc_slice_unref(s);
        fail_with(g, UP_E_OVERLOADED, "", "out of memory writing the answer");
        return;
    }
    g->send = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    g->bytes_out = g->small.len;
    g->code = UP_GRPC_OK;
    g->status = 200;
    finish(g);
}

/* ---- the incoming call ---------------------------------------------------- */

static const char *metadata_value(const grpc_metadata_array *md, const char *key, char *buf,
                                  size_t cap)
{
    for (size_t i = 0; i < md->count; i++) {
        const grpc_slice k = md->metadata[i].key, v = md->metadata[i].value;
        if (GRPC_SLICE_LENGTH(k) == strlen(key) &&
            memcmp(GRPC_SLICE_START_PTR(k), key, strlen(key)) == 0) {
            size_t n = GRPC_SLICE_LENGTH(v) < cap - 1 ? GRPC_SLICE_LENGTH(v) : cap - 1;
            memcpy(buf, GRPC_SLICE_START_PTR(v), n);
            buf[n] = 0;
            return buf;
        }
    }
    return NULL;
}

/* Health calls stay open with --open-health, as REST's health routes do. */
static int needs_key(const up_server *s, up_grpc_method m)
{
    int health = m == UP_GM_SERVER_LIVE || m == UP_GM_SERVER_READY || m == UP_GM_MODEL_READY;
    return s->auth && !(health && s->cfg.open_health);
}

static void on_new(gcall *g, int ok)
{
    up_grpc *gs = g->gs;
    up_server *s = gs->srv;
    char auth[512];
    grpc_op op;
    if (!ok) { /* the server is shutting down */
        gcall_unref(g);
        return;
    }
    if (!atomic_load(&gs->shutting_down)) request_call(gs);
    g->t_arrival = up_now_ns();
    up_reqid_make(NULL, g->id);
    up_metrics_in_flight(1);
    g->counted = 1;
    g->method = up_grpc_method_of((const char *)GRPC_SLICE_START_PTR(g->details.method),
                                  GRPC_SLICE_LENGTH(g->details.method));
    /* the close: reports a client that cancels or goes away */
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &g->close_cancelled;
    start_batch(g, &op, 1, TAG_CLOSE);

    if (g->method == UP_GM_UNKNOWN) {
        g->code = UP_GRPC_UNIMPLEMENTED;
        g->status = 404;
        g->status_details = grpc_slice_from_static_string(
            "unpoold serves ServerLive, ServerReady, ModelReady, ServerMetadata, "
            "ModelMetadata, ModelInfer and SystemSharedMemory{Status,Register,Unregister} of "
            "inference.GRPCInferenceService");
        finish(g);
    } else if (needs_key(s, g->method) &&
               !up_auth_check(s->auth, metadata_value(&g->md, "authorization", auth,
                                                      sizeof(auth)))) {
        fail_with(g, UP_E_UNAUTHORIZED, "authorization",
                  "an API key is required: metadata \"authorization: Bearer KEY\"");
    } else {
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &g->recv;
        start_batch(g, &op, 1, TAG_RECV);
    }
    gcall_unref(g); /* the TAG_NEW */
}

/* The message out of the transport into one charged buffer. */
static int take_message(gcall *g, up_error *e)
{
    grpc_byte_buffer_reader rd;
    grpc_slice sl;
    size_t n = grpc_byte_buffer_length(g->recv), at = 0;
    if (g->method != UP_GM_MODEL_INFER && n > UP_GRPC_SMALL_MAX)
        return up_errorf(e, UP_E_TOO_LARGE, "message", "a %s message is at most %d bytes",
                         up_grpc_method_name(g->method), UP_GRPC_SMALL_MAX);
    if (up_budget_charge(&g->budget_held, (int64_t)n, "the gRPC message", e) < 0) return -1;
    if (!(g->msg = malloc(n ? n : 1)) || !grpc_byte_buffer_reader_init(&rd, g->recv))
        return up_errorf(e, UP_E_OVERLOADED, "", "out of memory");
    while (grpc_byte_buffer_reader_next(&rd, &sl)) {
        size_t k = GRPC_SLICE_LENGTH(sl);
        if (k > n - at) k = n - at;
        memcpy(g->msg + at, GRPC_SLICE_START_PTR(sl), k);
        at += k;
        grpc_slice_unref(sl);
    }
    grpc_byte_buffer_reader_destroy(&rd);
    grpc_byte_buffer_destroy(g->recv);
    g->recv = NULL;
    g->msg_len = at;
    return 0;
}

static void small_method(gcall *g);
static void infer_submit(gcall *g);

static void on_recv(gcall *g, int ok)
{
    up_error e;
    up_error_clear(&e);
    if (!ok) return; /* cancelled; the close reports it */
    g->t_msg = up_now_ns();
    if (!g->recv) fail_with(g, UP_E_MALFORMED, "message", "the call carried no request message");
    else if (take_message(g, &e) < 0) fail(g, &e);
    else if (g->method == UP_GM_MODEL_INFER) infer_submit(g);
    else small_method(g);
}

/* ---- the small methods, answered on the poller ---------------------------- */

static void shm_status_answer(gcall *g, const char *name, up_error *e);

static void small_method(gcall *g)
{
    up_server *s = g->gs->srv;
    up_error e;
    const up_op_def *op;
    char name[64];
    up_shm_register_body b;
    int rc = 0;
    up_error_clear(&e);
    switch (g->method) {
    case UP_GM_SERVER_LIVE:
        rc = up_grpc_bool_answer(g->method, 1, &g->small);
        break;
    case UP_GM_SERVER_READY:
        rc = up_grpc_bool_answer(g->method, !atomic_load(&s->draining), &g->small);
        break;
    case UP_GM_MODEL_READY:
        if (!(op = up_grpc_model_request(g->msg, g->msg_len, &e))) goto err;
        rc = up_grpc_bool_answer(g->method, !atomic_load(&s->draining), &g->small);
        break;
    case UP_GM_SERVER_METADATA:
        rc = up_grpc_server_metadata(up_shm_enabled(), &g->small);
        break;
    case UP_GM_MODEL_METADATA:
        if (!(op = up_grpc_model_request(g->msg, g->msg_len, &e))) goto err;
        rc = up_grpc_model_metadata(op, &g->small);
        break;
    default: /* the shared-memory methods */
        if (!up_shm_enabled()) {
            up_errorf(&e, UP_E_NOT_FOUND, "", "the system shared-memory extension is off on "
                      "this server (--shm 1 turns it on)");
            goto err;
        }
        if (g->method == UP_GM_SHM_REGISTER) {
            if (up_grpc_shm_register_request(g->msg, g->msg_len, name, &b, &e) < 0 ||
                up_shm_register(name, &b, &e) < 0)
                goto err;
        } else {
            if (up_grpc_shm_name_request(g->method, g->msg, g->msg_len, name, &e) < 0) goto err;
            if (g->method == UP_GM_SHM_STATUS) {
                shm_status_answer(g, name[0] ? name : NULL, &e);
                if (e.kind != UP_OK) goto err;
            } else if (up_shm_unregister(name[0] ? name : NULL, &e) < 0) {
                goto err;
            }
        }
        break;
    }
    if (rc < 0) g->small.failed = 1;
    answer_small(g);
    return;
err:
    fail(g, &e);
}

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

static void shm_status_answer(gcall *g, const char *name, up_error *e)
{
    region_list *l = calloc(1, sizeof(*l));
    if (!l) {
        up_errorf(e, UP_E_OVERLOADED, "", "out of memory");
        return;
    }
    if (up_shm_each(name, add_region, l, e) == 0 &&
        up_grpc_shm_status_answer(l->r, l->n, &g->small) < 0)
        g->small.failed = 1;
    free(l);
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
    if (up_grpc_decode_infer(&g->call, g->msg, g->msg_len, &in, &g->gs->srv->limits,
                             &g->err) < 0)
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
    /* parsed: raw inputs are views of the unpacked copy, not of msg */
    free(g->msg);
    g->msg = NULL;
    atomic_fetch_sub(&g->budget_held, (int64_t)g->msg_len);
    up_budget_give((int64_t)g->msg_len);
    p = &g->call.plan;
    if ((p->mem_bytes <= 0 &&
         g_take(g, up_budget_plan_outputs(p), "the outputs", &g->err) < 0) ||
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

/* The answer as slices: the head copied, the pieces pointing into the
 * call's tensors (each holds a reference on the call until gRPC lets it
 * go). */
static int make_send(gcall *g)
{
    grpc_slice sl[1 + 2 * UP_MAX_OUTPUTS];
    size_t n = 0;
    up_grpc_answer *a = &g->answer;
    sl[n++] = grpc_slice_from_copied_buffer(a->head.data ? a->head.data : "", a->head.len);
    for (int i = 0; i < a->n_piece; i++) {
        if (a->piece[i].len == 0) continue;
        atomic_fetch_add(&g->refs, 1);
        sl[n++] = grpc_slice_new_with_user_data((void *)a->piece[i].base, a->piece[i].len,
                                                slice_unref_cb, g);
    }
    g->send = grpc_raw_byte_buffer_create(sl, n);
    for (size_t i = 0; i < n; i++) grpc_slice_unref(sl[i]);
    g->bytes_out = up_grpc_answer_len(a);
    return g->send ? 0 : -1;
}

static void deadline_error(gcall *g, const up_job *j)
{
    up_error_clear(&g->err);
    up_errorf(&g->err, UP_E_DEADLINE, "deadline",
              "the call's deadline passed before the kernel ran (%.1f ms waiting for a worker)",
              ms(j->t_submit, j->t_start));
}

/* Worker that finished the job: encode and send (or send the error). */
static void job_complete(up_job *j)
{
    gcall *g = j->owner;
    int failed = 1;
    g->timing.queue_ms = ms(j->t_submit, j->t_start);
    g->timing.decode_ms = ms(j->t_start, j->t_decoded);
    g->timing.compute_ms = ms(j->t_compute_begin, j->t_compute_end);
    if (g->dropped) {
        g->code = UP_GRPC_CANCELLED;
        g->status = 499;
        finish(g);
        return;
    }
    if (j->expired) deadline_error(g, j);
    else if (atomic_load(&j->cut_short)) shm_cut_short(g, "running the kernel on");
    else if (!g->decode_failed) {
        uint64_t t0 = up_now_ns();
        g->timing.total_ms = ms(g->t_msg, t0);
        if (!up_call_uses_shm(&g->call)) encode_fn(g);
        else if (up_shm_guarded(encode_fn, g) < 0) shm_cut_short(g, "writing");
        g->timing.encode_ms = ms(t0, up_now_ns());
        failed = g->decode_failed || make_send(g) < 0;
    }
    g->timing.total_ms = ms(g->t_arrival, up_now_ns());
    up_metrics_chunks(j->n_chunks);
    up_metrics_phases(&g->timing);
    if (failed) {
        fail(g, &g->err);
        return;
    }
    /* the answer is held at its real size until it is sent */
    up_budget_hold_exactly(&g->budget_held, (int64_t)g->bytes_out);
    g->code = UP_GRPC_OK;
    g->status = 200;
    finish(g);
}

/* gRPC's deadline, as the pool's monotonic deadline; the daemon's own
 * --timeout-ms when the client set none. */
static uint64_t job_deadline(const gcall *g, int64_t default_ms)
{
    gpr_timespec d = gpr_convert_clock_type(g->details.deadline, GPR_CLOCK_MONOTONIC);
    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    if (gpr_time_cmp(d, gpr_inf_future(GPR_CLOCK_MONOTONIC)) == 0)
        return default_ms > 0 ? g->t_arrival + (uint64_t)default_ms * 1000000u : 0;
    if (gpr_time_cmp(d, now) <= 0) return g->t_arrival; /* already past */
    gpr_timespec left = gpr_time_sub(d, now);
    uint64_t ns = (uint64_t)left.tv_sec * 1000000000u + (uint64_t)left.tv_nsec;
    return up_now_ns() + ns;
}

/* Every ModelInfer goes through the pool, small ones too. Running small
 * calls on the poller when the pool is idle (as REST does on its MHD
 * thread) was measured and dropped: h2load, 64 streams on 2 connections,
 * (1,1,4,4) max_unpool, alternating runs: 22-29k calls/s inline against
 * 27-37k through the pool. gRPC's own threads do the I/O here, so a job
 * on the poller serializes the completions behind it, while the pool's
 * workers run beside the transport. */
static void infer_submit(gcall *g)
{
    up_server *s = g->gs->srv;
    if (up_pool_reserve(s->pool) < 0) {
        char text[96];
        snprintf(text, sizeof(text), "the job queue is full (%d waiting); retry later",
                 s->cfg.queue);
        fail_with(g, UP_E_OVERLOADED, "queue", text);
        return;
    }
    memset(&g->job, 0, sizeof(g->job));
    g->job.start = job_start;
    g->job.complete = job_complete;
    g->job.owner = g;
    g->job.deadline_ns = job_deadline(g, s->cfg.timeout_ms);
    up_pool_submit(s->pool, &g->job);
}

/* ---- answered: metrics, log ----------------------------------------------- */

static void on_send(gcall *g)
{
    const up_op_def *op = g->call_inited ? g->call.plan.op : NULL;
    char path[128];
    size_t pl = GRPC_SLICE_LENGTH(g->details.method);
    if (pl >= sizeof(path)) pl = sizeof(path) - 1;
    memcpy(path, GRPC_SLICE_START_PTR(g->details.method), pl);
    path[pl] = 0;
    if (g->send) grpc_byte_buffer_destroy(g->send);
    g->send = NULL;
    up_metrics_request(UP_METRIC_GRPC, op ? up_op_index(op) : -1, g->status, g->msg_len,
                       g->bytes_out);
    up_access a = {.method = "GRPC", .path = path, .op = op ? op->name : NULL,
                   .request_id = g->id, .status = g->status, .bytes_in = g->msg_len,
                   .bytes_out = g->bytes_out,
                   .timing = g->method == UP_GM_MODEL_INFER && g->code == UP_GRPC_OK
                                 ? &g->timing : NULL,
                   .total_ms = ms(g->t_arrival, up_now_ns())};
    up_log_access(&a);
}

static void on_close(gcall *g)
{
    atomic_store(&g->gone, 1);
}

/* ---- the poller ------------------------------------------------------------- */

static void *poll_loop(void *arg)
{
    up_grpc *gs = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(gs->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        gtag *t = ev.tag;
        if (t == &gs->shutdown_tag) {
            pthread_mutex_lock(&gs->mu);
            gs->shutdown_done = 1;
            pthread_cond_signal(&gs->cv);
            pthread_mutex_unlock(&gs->mu);
            continue;
        }
        gcall *g = t->g;
        switch (t->kind) {
        case TAG_NEW: on_new(g, ev.success); continue; /* drops its own reference */
        case TAG_RECV: on_recv(g, ev.success); break;
        case TAG_SEND: on_send(g); break;
        case TAG_CLOSE: on_close(g); break;
        }
        gcall_unref(g);
    }
    return NULL;
}

/* ---- start and stop ------------------------------------------------------- */

static grpc_server_credentials *credentials(up_server *s)
{
    if (!s->tls_cert_pem) return grpc_insecure_server_credentials_create();
    grpc_ssl_pem_key_cert_pair pair = {.private_key = s->tls_key_pem,
                                       .cert_chain = s->tls_cert_pem};
    return grpc_ssl_server_credentials_create_ex(NULL, &pair, 1,
                                                 GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
}

int up_grpc_start(up_server *s)
{
    up_grpc *gs = &the_grpc;
    char addr[300];
    int port;
    if (!s->cfg.grpc_host[0]) return 0;
    memset(gs, 0, sizeof(*gs));
    gs->srv = s;
    pthread_mutex_init(&gs->mu, NULL);
    pthread_cond_init(&gs->cv, NULL);
    grpc_init();
    gs->quota = grpc_resource_quota_create("unpoold");
    grpc_resource_quota_resize(gs->quota, (size_t)s->cfg.max_inflight_bytes);
    grpc_arg args[] = {
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
         .value.integer = s->cfg.max_body_bytes < INT32_MAX ? (int)s->cfg.max_body_bytes
                                                             : INT32_MAX},
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, .value.integer = -1},
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_CONCURRENT_STREAMS,
         .value.integer = UP_GRPC_MAX_STREAMS},
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_METADATA_SIZE,
         .value.integer = (int)s->cfg.max_header_bytes},
        {.type = GRPC_ARG_POINTER, .key = GRPC_ARG_RESOURCE_QUOTA,
         .value.pointer = {gs->quota, grpc_resource_quota_arg_vtable()}},
    };
    grpc_channel_args ca = {sizeof(args) / sizeof(args[0]), args};
    gs->cq = grpc_completion_queue_create_for_next(NULL);
    gs->server = grpc_server_create(&ca, NULL);
    grpc_server_register_completion_queue(gs->server, gs->cq, NULL);
    snprintf(addr, sizeof(addr), strchr(s->cfg.grpc_host, ':') ? "[%s]:%d" : "%s:%d",
             s->cfg.grpc_host, s->cfg.grpc_port);
    grpc_server_credentials *cr = credentials(s);
    port = grpc_server_add_http2_port(gs->server, addr, cr);
    grpc_server_credentials_release(cr);
    if (port <= 0) {
        up_log_event("error", "--grpc-listen %s: cannot bind", addr);
        return 2;
    }
    snprintf(gs->bound, sizeof(gs->bound), strchr(s->cfg.grpc_host, ':') ? "[%s]:%d" : "%s:%d",
             s->cfg.grpc_host, port);
    grpc_server_start(gs->server);
    for (int i = 0; i < UP_GRPC_PENDING_CALLS; i++) request_call(gs);
    if (pthread_create(&gs->poller, NULL, poll_loop, gs) != 0) {
        up_log_event("error", "cannot start the gRPC poller thread");
        return 2;
    }
    gs->poller_started = 1;
    s->grpc = gs;
    up_log_event("info", "gRPC serving at %s://%s", s->tls_cert_pem ? "grpcs" : "grpc",
                 gs->bound);
    return 0;
}

void up_grpc_drain(up_server *s)
{
    up_grpc *gs = s->grpc;
    if (!gs || atomic_exchange(&gs->shutting_down, 1)) return;
    /* no new calls; those in flight go on and are answered */
    grpc_server_shutdown_and_notify(gs->server, gs->cq, &gs->shutdown_tag);
}

/* After the worker pool has stopped: no job will start a batch any more. */
void up_grpc_stop(up_server *s)
{
    up_grpc *gs = s->grpc;
    if (!gs) return;
    up_grpc_drain(s);
    grpc_server_cancel_all_calls(gs->server);
    if (gs->poller_started) {
        pthread_mutex_lock(&gs->mu);
        while (!gs->shutdown_done) pthread_cond_wait(&gs->cv, &gs->mu);
        pthread_mutex_unlock(&gs->mu);
    }
    grpc_server_destroy(gs->server);
    grpc_completion_queue_shutdown(gs->cq);
    if (gs->poller_started) pthread_join(gs->poller, NULL);
    grpc_completion_queue_destroy(gs->cq);
    grpc_resource_quota_unref(gs->quota);
    grpc_shutdown_blocking();
    s->grpc = NULL;
}
