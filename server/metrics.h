/* metrics.h -- Prometheus counters, gauges and latency histograms.
 *
 * Everything is a fixed array of relaxed atomics indexed by (op, status) or
 * (phase, bucket): recording is a handful of atomic adds with no lock and no
 * allocation, so the hot path pays nothing measurable; GET /metrics sums and
 * prints them. Label sets are closed (the op table, the contract's statuses),
 * so the series count is bounded whatever clients send. */
#ifndef UP_SRV_METRICS_H
#define UP_SRV_METRICS_H

#include <stdint.h>

#include "../api/api.h"

enum { UP_PHASE_DECODE, UP_PHASE_QUEUE, UP_PHASE_COMPUTE, UP_PHASE_ENCODE, UP_PHASE_TOTAL,
       UP_PHASE_COUNT };

typedef struct up_gauges {
    int64_t queue_depth, busy_workers, workers, in_flight, draining;
    int64_t inflight_bytes, inflight_cap, cache_bytes, connections;
    int64_t shm_regions, shm_in_use, shm_bytes, shm_max_regions, shm_max_bytes;
} up_gauges;

/* The protocol label of unpoold_requests_total. */
enum { UP_METRIC_HTTP = 0, UP_METRIC_GRPC = 1, UP_METRIC_PROTOCOLS = 2 };
/* op_index: index in the op table, or -1 for non-op routes. */
void up_metrics_request(int protocol, int op_index, int status, uint64_t bytes_in,
                        uint64_t bytes_out);
/* Phase durations of an op request that ran through the pool. */
void up_metrics_phases(const up_timing *t);
void up_metrics_chunks(int64_t n);
void up_metrics_in_flight(int delta);
int64_t up_metrics_in_flight_now(void);
/* A queued job dropped because its client had gone. */
void up_metrics_job_dropped(void);
/* A connection closed by a read deadline; phase is UP_CONN_IDLE/HEADERS/BODY. */
void up_metrics_conn_cut(int phase);
/* A memory charge refused: the budget was busy (503), or the request can
 * never fit it (413). */
void up_metrics_budget_refused(int never_fits);
/* The Prometheus text exposition (version 0.0.4). */
int up_metrics_render(up_buf *out, const up_gauges *g);

#endif
