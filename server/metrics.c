/* metrics.c -- lock-free metric storage and the Prometheus text format.
 *
 * Histogram buckets are stored non-cumulative (one atomic add per
 * observation) and made cumulative when rendered. Sums are kept in
 * nanoseconds as integers, so no floating-point atomics are needed. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

/* One row per op of the registry (UP_OP_COUNT, op.h), plus "none" for a
 * request that named no op. */
#define MAX_OPS UP_OP_COUNT
static const int statuses[] = {200, 400, 401, 404, 405, 406, 408, 413, 415, 422, 431,
                              499, 500, 503, 504};
#define N_STATUS ((int)(sizeof(statuses) / sizeof(statuses[0])))
/* +1: any other status, labelled "other" */

static const double bucket_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
#define N_BUCKET ((int)(sizeof(bucket_s) / sizeof(bucket_s[0])))
static const char *const phase_names[UP_PHASE_COUNT] = {"decode", "queue", "compute", "encode",
                                                        "total"};

static atomic_uint_fast64_t requests[UP_METRIC_PROTOCOLS][MAX_OPS + 1][N_STATUS + 1];
static const char *const protocol_names[UP_METRIC_PROTOCOLS] = {"http", "grpc"};
static atomic_uint_fast64_t hist[UP_PHASE_COUNT][N_BUCKET + 1];
static atomic_uint_fast64_t hist_sum_ns[UP_PHASE_COUNT];
static atomic_uint_fast64_t bytes_in, bytes_out, chunks;
static atomic_int_fast64_t in_flight;
static atomic_uint_fast64_t jobs_dropped;
static atomic_uint_fast64_t budget_refused[2]; /* busy (503), never fits (413) */
static atomic_uint_fast64_t conn_cut[3]; /* idle, headers, body */
static const char *const cut_names[3] = {"idle", "headers", "body"};

static int status_index(int status)
{
    for (int i = 0; i < N_STATUS; i++)
        if (statuses[i] == status) return i;
    return N_STATUS;
}

void up_metrics_request(int protocol, int op_index, int status, uint64_t in, uint64_t out)
{
    int o = (op_index >= 0 && op_index < MAX_OPS) ? op_index : MAX_OPS;
    int pr = protocol == UP_METRIC_GRPC ? UP_METRIC_GRPC : UP_METRIC_HTTP;
    atomic_fetch_add_explicit(&requests[pr][o][status_index(status)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&bytes_in, in, memory_order_relaxed);
    atomic_fetch_add_explicit(&bytes_out, out, memory_order_relaxed);
}

static void observe(int phase, double ms)
{
    if (!(ms >= 0)) ms = 0;
    double s = ms / 1000.0;
    int b = 0;
    while (b < N_BUCKET && s > bucket_s[b]) b++;
    atomic_fetch_add_explicit(&hist[phase][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hist_sum_ns[phase], (uint64_t)(ms * 1e6), memory_order_relaxed);
}

void up_metrics_phases(const up_timing *t)
{
    observe(UP_PHASE_DECODE, t->decode_ms);
    observe(UP_PHASE_QUEUE, t->queue_ms);
    observe(UP_PHASE_COMPUTE, t->compute_ms);
    observe(UP_PHASE_ENCODE, t->encode_ms);
    observe(UP_PHASE_TOTAL, t->total_ms);
}

void up_metrics_chunks(int64_t n)
{
    if (n > 0) atomic_fetch_add_explicit(&chunks, (uint64_t)n, memory_order_relaxed);
}

void up_metrics_in_flight(int delta) { atomic_fetch_add(&in_flight, delta); }
int64_t up_metrics_in_flight_now(void) { return atomic_load(&in_flight); }

void up_metrics_job_dropped(void) { atomic_fetch_add(&jobs_dropped, 1); }
void up_metrics_budget_refused(int never_fits)
{
    atomic_fetch_add(&budget_refused[!!never_fits], 1);
}

void up_metrics_conn_cut(int phase)
{
    if (phase >= 0 && phase < 3) atomic_fetch_add(&conn_cut[phase], 1);
}

static uint64_t ld(atomic_uint_fast64_t *a) { return atomic_load_explicit(a, memory_order_relaxed); }

static void render_requests(up_buf *o)
{
    up_buf_puts(o, "# HELP unpoold_requests_total Requests answered, by op, status and protocol "
                   "(http, grpc; a gRPC call counts under the HTTP status its error has on "
                   "REST).\n"
                   "# TYPE unpoold_requests_total counter\n");
    for (int pr = 0; pr < UP_METRIC_PROTOCOLS; pr++)
    for (int op = 0; op <= MAX_OPS; op++) {
        const up_op_def *d = op < MAX_OPS ? up_op_at(op) : NULL;
        if (op < MAX_OPS && !d) continue;
        for (int s = 0; s <= N_STATUS; s++) {
            uint64_t v = ld(&requests[pr][op][s]);
            if (!v) continue;
            char st[8];
            if (s < N_STATUS) snprintf(st, sizeof(st), "%d", statuses[s]);
            else snprintf(st, sizeof(st), "other");
            up_buf_printf(o,
                          "unpoold_requests_total{op=\"%s\",status=\"%s\",protocol=\"%s\"} %llu\n",
                          d ? d->name : "none", st, protocol_names[pr], (unsigned long long)v);
        }
    }
}

static void render_hist(up_buf *o)
{
    up_buf_puts(o, "# HELP unpoold_phase_seconds Latency of op requests by phase "
                   "(decode, queue, compute, encode, total).\n"
                   "# TYPE unpoold_phase_seconds histogram\n");
    for (int ph = 0; ph < UP_PHASE_COUNT; ph++) {
        uint64_t cum = 0;
        for (int b = 0; b <= N_BUCKET; b++) {
            cum += ld(&hist[ph][b]);
            if (b < N_BUCKET)
                up_buf_printf(o, "unpoold_phase_seconds_bucket{phase=\"%s\",le=\"%g\"} %llu\n",
                              phase_names[ph], bucket_s[b], (unsigned long long)cum);
            else
                up_buf_printf(o, "unpoold_phase_seconds_bucket{phase=\"%s\",le=\"+Inf\"} %llu\n",
                              phase_names[ph], (unsigned long long)cum);
        }
        up_buf_printf(o, "unpoold_phase_seconds_sum{phase=\"%s\"} %.9f\n", phase_names[ph],
                      (double)ld(&hist_sum_ns[ph]) / 1e9);
        up_buf_printf(o, "unpoold_phase_seconds_count{phase=\"%s\"} %llu\n", phase_names[ph],
                      (unsigned long long)cum);
    }
}

static void gauge(up_buf *o, const char *name, const char *help, int64_t v)
{
    up_buf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name,
                  (long long)v);
}

static void counter(up_buf *o, const char *name, const char *help, uint64_t v)
{
    up_buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                  (unsigned long long)v);
}

int up_metrics_render(up_buf *o, const up_gauges *g)
{
    render_requests(o);
    render_hist(o);
    gauge(o, "unpoold_queue_depth", "Jobs waiting for a worker.", g->queue_depth);
    gauge(o, "unpoold_in_flight_requests", "Requests received and not yet answered.",
          g->in_flight);
    gauge(o, "unpoold_workers", "Worker threads in the pool.", g->workers);
    gauge(o, "unpoold_busy_workers", "Workers running a job or chunk right now.",
          g->busy_workers);
    gauge(o, "unpoold_draining", "1 after SIGTERM/SIGINT while in-flight requests finish.",
          g->draining);
    counter(o, "unpoold_received_bytes_total", "Request body bytes received.", ld(&bytes_in));
    counter(o, "unpoold_sent_bytes_total", "Response body bytes sent.", ld(&bytes_out));
    counter(o, "unpoold_chunks_total", "Kernel chunks run by the workers.", ld(&chunks));
    gauge(o, "unpoold_inflight_bytes",
          "Bytes of request bodies, outputs and answers held now (the memory budget in use).",
          g->inflight_bytes);
    gauge(o, "unpoold_inflight_bytes_limit", "The memory budget (--max-inflight-mb) in bytes.",
          g->inflight_cap);
    gauge(o, "unpoold_buffer_cache_bytes",
          "Freed tensor buffers kept mapped for reuse; they count against the memory budget "
          "and are dropped when requests need the room.",
          g->cache_bytes);
    gauge(o, "unpoold_open_connections", "Client connections open now.", g->connections);
    gauge(o, "unpoold_shm_regions", "Registered shared-memory regions (--shm).", g->shm_regions);
    gauge(o, "unpoold_shm_regions_in_use",
          "Registered regions a request is reading or writing now (they cannot be unregistered).",
          g->shm_in_use);
    gauge(o, "unpoold_shm_regions_limit", "Most registered regions at once (--shm-max-regions).",
          g->shm_max_regions);
    gauge(o, "unpoold_shm_mapped_bytes",
          "Bytes of clients' shared-memory objects mapped by registered regions (not part of "
          "the memory budget).",
          g->shm_bytes);
    gauge(o, "unpoold_shm_mapped_bytes_limit", "Most mapped region bytes (--shm-max-mb).",
          g->shm_max_bytes);
    counter(o, "unpoold_jobs_dropped_total",
            "Queued jobs dropped unrun because their client had disconnected.", ld(&jobs_dropped));
    up_buf_puts(o, "# HELP unpoold_budget_refused_total Memory charges refused, by reason: "
                   "busy (503, the budget is held by other requests) or never_fits (413, the "
                   "request alone is larger than --max-inflight-mb).\n"
                   "# TYPE unpoold_budget_refused_total counter\n");
    up_buf_printf(o, "unpoold_budget_refused_total{reason=\"busy\"} %llu\n",
                  (unsigned long long)ld(&budget_refused[0]));
    up_buf_printf(o, "unpoold_budget_refused_total{reason=\"never_fits\"} %llu\n",
                  (unsigned long long)ld(&budget_refused[1]));
    up_buf_puts(o, "# HELP unpoold_connections_cut_total Connections closed by a read deadline, "
                   "by phase (idle, headers, body).\n"
                   "# TYPE unpoold_connections_cut_total counter\n");
    for (int i = 0; i < 3; i++)
        up_buf_printf(o, "unpoold_connections_cut_total{phase=\"%s\"} %llu\n", cut_names[i],
                      (unsigned long long)ld(&conn_cut[i]));
    return o->failed ? -1 : 0;
}
