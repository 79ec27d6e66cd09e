/* opcall.c -- the op path: body complete -> queued job -> decode, chunks,
 * encode on workers -> answer, with the connection suspended in between.
 *
 * Decode runs on a worker, not on the MHD thread. Measured (README
 * "Decisions"): decoding a large JSON or .npy body takes milliseconds to
 * seconds, and MHD's single event thread would stall every other
 * connection for that long; on a worker it costs nothing extra for small
 * requests (the job needs a worker anyway) and large bodies decode in
 * parallel. The price: a full queue answers 503 even to a malformed body.
 *
 * Small requests on an idle pool are the exception: a body of a few KiB
 * is decoded on the MHD thread, and when its plan is cheap by the cost
 * model it runs there too, start to finish. For such a request the
 * hand-off to a worker and back (two thread wake-ups and a suspend/resume)
 * costs more than decode, kernel and encode together; `make bench`
 * measures the difference against a bare libmicrohttpd server. "Cheap" is
 * the plan's own estimate, not the body's size: a 60-byte body can ask for
 * a 671 MB answer. A job runs inline only when its work (the plan's
 * element operations), its memory (what the plan allocates plus the
 * answer's bound) and the bytes it touches are all small (plan_is_small),
 * whatever the number of workers; everything else is queued, already
 * decoded. A decode on the MHD thread that charges more than the inline
 * memory limit is abandoned and starts again on a worker.
 *
 * Memory: the request's accountant (req_take) is handed to the decoders
 * and the plan, which charge every buffer before allocating it; the answer
 * is charged from its bound before the kernel runs, then held at its real
 * size until sent (README "Running in production").
 *
 * Ordering that keeps suspend/resume race-free: reserve a queue slot,
 * suspend the connection, then submit. The worker resumes only after the
 * answer is stored in the request, and touches nothing after resuming. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"
#include "budget.h"
#include "conns.h"
#include "metrics.h"
#include "request.h"
#include "shm_registry.h"

static double ms(uint64_t a, uint64_t b) { return b > a ? (double)(b - a) / 1e6 : 0.0; }

/* The request's memory accountant (up_charge): decoders and the plan
 * charge every buffer here before allocating it. While the request is
 * decoded on the MHD thread, a charge past inline_mem_cap stops the
 * attempt (inline_too_big): the request is too big for that thread, and
 * is decoded again on a worker. */
static int req_take(void *ctx, int64_t bytes, const char *what, up_error *err)
{
    up_req *r = ctx;
    if (bytes <= 0) return 0;
    if (r->inline_mem_cap && bytes > r->inline_mem_cap - atomic_load(&r->budget_held)) {
        r->inline_too_big = 1;
        up_error_clear(err);
        return up_errorf(err, UP_E_OVERLOADED, "server", "%s",
                         "too big to decode on the event thread");
    }
    if (up_budget_charge(&r->budget_held, bytes, what, err) == 0) return 0;
    if (err->kind == UP_E_OVERLOADED) r->overloaded = 1;
    return -1;
}

/* The plan's cost model is known and nothing of it is allocated yet
 * (up_charge.admit): a plan whose memory and answer together can never fit
 * the budget is refused now with 413, before its tables and outputs are
 * built only to be freed (a 60-byte nearest_unpool body asking for 67M
 * outputs used to build a 512 MiB table and a 256 MiB output first); one
 * too big for the event thread stops its inline attempt here too. The
 * charges themselves still come one by one, before each allocation. */
static int req_admit(void *ctx, const up_plan *p, up_error *err)
{
    up_req *r = ctx;
    int64_t held = atomic_load(&r->budget_held), need;
    if (up_add_i64(p->mem_bytes, up_call_answer_bytes(&r->call), &need) < 0) need = INT64_MAX;
    if (r->inline_mem_cap && need > r->inline_mem_cap - held) {
        r->inline_too_big = 1;
        up_error_clear(err);
        return up_errorf(err, UP_E_OVERLOADED, "server", "%s",
                         "too big to decode on the event thread");
    }
    return up_budget_admit(held, need, err);
}

/* After decode, before the kernel: charge what the plan will need beyond
 * what it charged itself, and the answer.
 *  - Outputs: a plan that charges its own allocations states them in
 *    mem_bytes (kernels/op.h); one that states nothing is charged its
 *    outputs here. Charging twice would only be conservative; never
 *    charging would break the bound.
 *  - The answer, from its bound in the negotiated format (a binary answer
 *    sends the outputs without a copy, so there the bound counts them a
 *    second time until the answer is encoded; job_answer then holds the
 *    real size). Charging it now refuses a request whose answer cannot fit
 *    before its kernel has run. */
static int admit(up_req *r)
{
    const up_plan *p = &r->call.plan;
    up_error_clear(&r->err);
    if (p->mem_bytes <= 0 && req_take(r, up_plan_output_bytes(p), "the outputs", &r->err) < 0) return -1;
    return req_take(r, up_call_answer_bytes(&r->call), "the answer", &r->err);
}

/* A dropped job: free everything and resume with no answer, so the
 * handler closes the connection. */
static void job_drop(up_req *r)
{
    free(r->body);
    r->body = NULL;
    up_budget_release(&r->budget_held);
    r->response = NULL;
    r->job_done = 1;
    MHD_resume_connection(r->conn);
}

/* Decode the request into r->call (on a worker, or on the MHD thread for
 * a small body). -1 when it failed (r->err), or was abandoned as too big
 * for the MHD thread (r->inline_too_big). */
static int decode(up_req *r)
{
    up_http_req hr = {
        .content_type = r->content_type,
        .accept = r->accept,
        .inference_header_length = r->ihcl,
        .query = r->query,
        .n_query = r->n_query,
        .body = r->body,
        .body_len = r->body_len,
        .charge = {.take = req_take, .admit = req_admit, .ctx = r},
        .shm = up_shm_resolver_get(),
    };
    up_call_init(&r->call);
    r->call_inited = 1;
    up_error_clear(&r->err);
    if (r->route.kind == UP_R_V2_INFER)
        return up_call_decode_kserve(&r->call, r->route.op, &hr, &r->srv->limits, &r->err);
    return up_call_decode_v1(&r->call, r->route.op, &hr, &r->srv->limits, &r->err);
}

/* ---- shared memory: the code that touches a client's region runs under
 * the SIGBUS guard (shm_guard.c) ---- */

static void shm_cut_short(up_req *r, const char *when)
{
    up_error_clear(&r->err);
    up_errorf(&r->err, UP_E_INVALID, "shared_memory_region",
              "a shared-memory region shrank under the request while %s it (the object was "
              "truncated); keep the object at least its registered size", when);
}

typedef struct guarded_call {
    up_req *r;
    up_job *j;
    int rc;
    up_http_resp *resp;
} guarded_call;

static void decode_fn(void *arg)
{
    guarded_call *g = arg;
    g->rc = decode(g->r);
}

/* decode() (which may convert an input from a region), guarded when the
 * extension is on: a request names its regions only in its body. */
static int decode_guarded(up_req *r)
{
    guarded_call g = {r, NULL, -1, NULL};
    if (!up_shm_enabled()) return decode(r);
    if (up_shm_guarded(decode_fn, &g) == 0) return g.rc;
    shm_cut_short(r, "reading");
    return -1;
}

static void run_fn(void *arg)
{
    guarded_call *g = arg;
    up_plan_run(g->j->plan, 0, g->j->plan->work_units, &g->j->fault);
}

/* The whole plan on this thread (a small job on the event thread). */
static void run_here(up_req *r, up_job *j)
{
    guarded_call g = {r, j, 0, NULL};
    if (!up_call_uses_shm(&r->call)) up_plan_run(j->plan, 0, j->plan->work_units, &j->fault);
    else if (up_shm_guarded(run_fn, &g) < 0) atomic_store(&j->cut_short, 1);
}

static void encode_fn(void *arg)
{
    guarded_call *g = arg;
    up_req *r = g->r;
    g->rc = up_call_encode(&r->call, &g->j->fault, &r->timing, r->id, g->resp, &r->err);
}

/* Worker: the job was taken off the queue in time; decode the request. */
static void job_start(up_job *j)
{
    up_req *r = j->owner;
    if (up_conns_peer_gone(r->fd)) {
        /* nobody is waiting for the answer: do not decode or run it */
        r->dropped = 1;
        up_metrics_job_dropped();
        return;
    }
    if (decode_guarded(r) < 0 || admit(r) < 0) {
        r->decode_failed = 1;
        return;
    }
    j->plan = &r->call.plan;
    if (up_call_uses_shm(&r->call)) j->guard = up_shm_guarded;
}

/* Worker: the request was decoded on the MHD thread already. */
static void job_start_decoded(up_job *j)
{
    up_req *r = j->owner;
    if (!r->decode_failed && admit(r) < 0) r->decode_failed = 1;
    j->plan = r->decode_failed ? NULL : &r->call.plan;
    if (j->plan && up_call_uses_shm(&r->call)) j->guard = up_shm_guarded;
}

static void deadline_error(up_req *r, const up_job *j)
{
    up_error_clear(&r->err);
    up_errorf(&r->err, UP_E_DEADLINE, r->timeout_from_header ? "headers.X-Request-Timeout-Ms" : "timeout",
              "the deadline of %lld ms passed before the kernel ran (%.1f ms waiting for a "
              "worker)",
              (long long)r->timeout_ms, ms(j->t_submit, j->t_start));
}

/* The job is over (run, expired, or its decode failed): encode and store
 * the answer in r->response. */
static void job_answer(up_job *j)
{
    up_req *r = j->owner;
    up_http_resp resp;
    up_resp_extra x = {.server_timing = 1};
    int failed = 1;

    up_http_resp_init(&resp);
    r->timing.queue_ms = ms(j->t_submit, j->t_start);
    r->timing.decode_ms = ms(j->t_start, j->t_decoded) + (double)r->pre_decode_ns / 1e6;
    r->timing.compute_ms = ms(j->t_compute_begin, j->t_compute_end);
    r->ran_job = 1;
    if (j->expired) deadline_error(r, j);
    else if (atomic_load(&j->cut_short)) shm_cut_short(r, "running the kernel on");
    else if (!r->decode_failed) {
        uint64_t t0 = up_now_ns();
        /* the time so far; up_call_encode adds its own share to it */
        r->timing.total_ms = ms(r->t_body, t0);
        if (!up_call_uses_shm(&r->call)) {
            failed = up_call_encode(&r->call, &j->fault, &r->timing, r->id, &resp, &r->err) < 0;
        } else { /* a converted result is copied into its region here */
            guarded_call g = {r, j, -1, &resp};
            if (up_shm_guarded(encode_fn, &g) < 0) shm_cut_short(r, "writing");
            failed = g.rc < 0;
        }
        if (!r->timing.encode_ms) r->timing.encode_ms = ms(t0, up_now_ns());
    }
    if (failed) {
        up_http_resp_free(&resp);
        up_http_resp_init(&resp);
        up_req_error_body(r, &r->err, &resp);
    }
    if (failed) r->timing.total_ms = ms(r->t_body, up_now_ns());
    if (failed && r->overloaded) x.retry_after = "1";
    if (!resp.status) resp.status = 200;
    up_metrics_chunks(j->n_chunks);
    up_metrics_phases(&r->timing);

    /* the plan and the body are not needed any more: free them before the
     * answer goes out, so peak memory is input + output, not more */
    if (r->call_inited) up_call_free(&r->call);
    r->call_inited = 0;
    free(r->body);
    r->body = NULL;
    /* from here on only the answer is held, at its real size, until it is
     * sent (its bound was charged before the kernel ran) */
    up_budget_hold_exactly(&r->budget_held, (int64_t)up_http_resp_len(&resp));

    r->response = up_req_build(r, &resp, &x);
    up_http_resp_free(&resp);
    if (!r->response) {
        /* out of memory for the response object itself: the connection
         * is closed by MHD when the handler finds no answer */
        up_log_event("error", "request %s: cannot build the response", r->id);
    }
    r->job_done = 1;
}

/* Worker that finished the job's last chunk (or found it expired, or saw
 * its decode fail): answer, then resume the connection as the last step. */
static void job_complete(up_job *j)
{
    up_req *r = j->owner;
    if (r->dropped) {
        job_drop(r);
        return;
    }
    job_answer(j);
    MHD_resume_connection(r->conn);
}

/* Queue the stored answer now (MHD thread, connection not suspended). */
static enum MHD_Result queue_answer(up_req *r)
{
    if (!r->response) return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)r->status, r->response);
    MHD_destroy_response(r->response);
    r->response = NULL;
    r->queued = 1;
    return rc;
}

/* Cheap enough to run on the MHD thread, by the plan's cost model: its
 * work (0 = not stated: judged by the other two), the memory it and its
 * answer need, and the bytes it touches. Independent of the number of
 * workers: with one worker, a big plan must not run here either. */
static int plan_is_small(const up_req *r)
{
    return up_plan_is_small(&r->call.plan, up_call_answer_bytes(&r->call));
}

/* Decode a small body here; run it here too when its plan is small.
 * Returns 1 when the request was answered (rc set), 0 when the job is to
 * be queued (decoded if r->call_inited). */
static int run_inline(up_req *r, enum MHD_Result *rc)
{
    up_job *j = &r->job;
    uint64_t t0 = up_now_ns();
    int64_t body_held = atomic_load(&r->budget_held);
    memset(j, 0, sizeof(*j));
    j->owner = r;
    up_fault_init(&j->fault);
    j->t_submit = j->t_start = t0;
    r->inline_mem_cap = body_held + UP_INLINE_MAX_MEM;
    int failed = decode_guarded(r) < 0;
    r->inline_mem_cap = 0;
    if (r->inline_too_big) {
        /* start again on a worker, holding only the body */
        up_call_free(&r->call);
        r->call_inited = 0;
        r->inline_too_big = 0;
        up_budget_hold_exactly(&r->budget_held, body_held);
        return 0;
    }
    j->t_decoded = j->t_compute_begin = j->t_compute_end = up_now_ns();
    r->pre_decode_ns = j->t_decoded - t0;
    if (failed) r->decode_failed = 1;
    else if (!plan_is_small(r)) return 0; /* queued decoded; admitted there */
    else if (admit(r) < 0) r->decode_failed = 1;
    else {
        j->plan = &r->call.plan;
        j->n_chunks = 1;
        run_here(r, j);
        j->t_compute_end = up_now_ns();
    }
    r->pre_decode_ns = 0; /* answered here: decode_ms is the job's own */
    job_answer(j);
    *rc = queue_answer(r);
    return 1;
}

enum MHD_Result up_op_begin(up_req *r)
{
    up_server *s = r->srv;
    enum MHD_Result rc;
    r->t_body = up_now_ns();
    /* only while the pool is idle: then the request would not wait anyway,
     * and under load every request keeps its place in the one FIFO queue
     * (503 when full, 504 past its deadline, dropped when its client goes) */
    if (r->body_len <= UP_INLINE_MAX_BODY && up_pool_idle(s->pool) && run_inline(r, &rc))
        return rc;
    if (up_pool_reserve(s->pool) < 0) {
        up_error e;
        up_error_clear(&e);
        up_errorf(&e, UP_E_OVERLOADED, "queue",
                  "the job queue is full (%d waiting); retry later", s->cfg.queue);
        return up_req_send_error(r, &e, &(up_resp_extra){.retry_after = "1"});
    }
    r->job.start = r->call_inited ? job_start_decoded : job_start;
    r->job.complete = job_complete;
    r->job.owner = r;
    r->job.deadline_ns = r->timeout_ms > 0 ? r->t_arrival + (uint64_t)r->timeout_ms * 1000000u : 0;
    MHD_suspend_connection(r->conn);
    up_pool_submit(s->pool, &r->job);
    return MHD_YES;
}
