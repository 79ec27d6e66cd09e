/* pool.h -- one worker pool shared by every request.
 *
 * A job goes through three steps, all on workers so the HTTP event thread
 * never does tensor-sized work:
 *   1. waiting in a bounded FIFO (up_pool_submit fails at once when full:
 *      the caller answers 503);
 *   2. started by one worker: deadline check (expired -> complete without
 *      running, 504), then job->start() decodes the request into a plan;
 *   3. the plan's [0, work_units) is cut into chunks. A small plan runs as
 *      one chunk on the worker that started it; a large one is published on
 *      a "running" list where every idle worker takes chunks from it. Chunk
 *      claims take the pool lock once per chunk (never per element); the
 *      worker that finishes the last chunk calls job->complete().
 * Chunks are disjoint ranges, so results do not depend on the worker count. */
#ifndef UP_SRV_POOL_H
#define UP_SRV_POOL_H

#include <stdatomic.h>
#include <stdint.h>

#include "../kernels/op.h"

typedef struct up_job up_job;

struct up_job {
    /* Set by the owner before up_pool_submit. */
    void (*start)(up_job *j);     /* decode; set j->plan to run, or leave it NULL */
    void (*complete)(up_job *j);  /* encode and answer; the job is the owner's again */
    void *owner;
    uint64_t deadline_ns;         /* monotonic; 0 = none */
    /* NULL, or runs fn(arg) under a guard and returns -1 when a fault cut
     * it short (shm_guard.c: a client's shared memory shrank); chunks then
     * run through it and a cut-short chunk sets cut_short. */
    int (*guard)(void (*fn)(void *), void *arg);

    /* Set by start(). */
    const up_plan *plan;

    /* Results, valid in complete(). */
    int expired;                  /* deadline passed before it started */
    up_fault fault;               /* merged over all chunks */
    atomic_int cut_short;         /* a chunk was cut short by the guard */
    uint64_t t_submit, t_start, t_decoded, t_compute_begin, t_compute_end; /* ns */
    int64_t n_chunks;

    /* Pool-private. */
    int64_t next_chunk;           /* guarded by the pool lock */
    atomic_int_fast64_t remaining;
    up_job *next;
};

typedef struct up_pool up_pool;

up_pool *up_pool_create(int workers, int queue_cap);
/* Admission in two steps, so the caller can suspend its connection between
 * them without a window where a finished job resumes a connection that is
 * not suspended yet: reserve a queue slot (-1 when the queue is full: answer
 * 503 at once), then submit into it (never fails). */
int up_pool_reserve(up_pool *p);
void up_pool_submit(up_pool *p, up_job *j);
/* Waits for every queued and running job, then joins the workers. */
void up_pool_destroy(up_pool *p);

int up_pool_workers(const up_pool *p);
int64_t up_pool_queue_depth(up_pool *p);
int64_t up_pool_busy_workers(up_pool *p);

/* How many chunks a plan is cut into for this pool (exposed for tests of
 * the policy and for metrics). */
int64_t up_pool_chunks_for(const up_pool *p, const up_plan *plan);

uint64_t up_now_ns(void);

/* Is the pool idle (nothing queued, no worker busy)? Only then may a
 * front end run a small job where it arrived (the MHD thread, the gRPC
 * loop) instead of queueing it: under load every request keeps its place
 * in the one queue. */
int up_pool_idle(up_pool *p);

/* Bodies up to this size are decoded on the event thread (the MHD
 * thread, the gRPC loop): a few microseconds of JSON or binary header
 * parsing. */
#define UP_INLINE_MAX_BODY 16384
/* A plan runs on an event thread only below all three (up_plan_is_small).
 * Work: element operations; the kernels run 0.35-4 G of them a second on
 * one core here (README, --max-work), so 2^20 is 0.25-3 ms. Memory:
 * outputs, tables and the answer's bound (a JSON answer is written at
 * about 100-200 MB/s, so 256 KiB is 1-2 ms). Touched: work_units x
 * unit_cost, the pool's measure of a plan too big for one chunk. With
 * these, /healthz waits a few milliseconds at most behind an inline job. */
#define UP_INLINE_MAX_WORK ((int64_t)1 << 20)
#define UP_INLINE_MAX_MEM ((int64_t)256 << 10)
#define UP_INLINE_MAX_TOUCHED ((int64_t)256 << 10)

/* Cheap enough to run on an event thread, by the plan's cost model: its
 * work (0 = not stated: judged by the other two), the memory it and its
 * answer (answer_bytes, the format's bound) need, and the bytes it
 * touches. Independent of the number of workers: with one worker, a big
 * plan must not run there either. */
int up_plan_is_small(const up_plan *p, int64_t answer_bytes);

#endif
