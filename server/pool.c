/* pool.c -- the worker pool: a bounded FIFO of jobs waiting to start and a
 * list of running jobs whose chunks any worker may take (see pool.h).
 *
 * Locking: one mutex guards both lists and every chunk claim, so a chunk
 * costs one lock/unlock; completion is a lock-free countdown on the job
 * (acq_rel, so the last worker sees every other chunk's writes before it
 * encodes). Faults, rare by nature, are merged under the mutex; the merge
 * keeps the lowest element, so the reported fault is split-independent.
 *
 * Policy: running chunks are served before new jobs start, so a big job is
 * not starved by a stream of small ones and its latency stays that of W
 * workers; small jobs behind it wait at most one chunk per worker. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "pool.h"

/* A chunk smaller than this costs more to hand over (a wake-up, cache
 * misses on another core) than it saves; about 20-50 us of streaming work. */
#define CHUNK_MIN_BYTES (256 * 1024)
/* Chunks per worker for a big job: enough to even out unequal cores and
 * concurrent small jobs, few enough that claims stay negligible. */
#define CHUNKS_PER_WORKER 4

struct up_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t *threads;
    int n_workers, n_started, queue_cap;
    up_job *wait_head, *wait_tail;  /* not started yet (bounded) */
    up_job *run_head, *run_tail;    /* started, chunks left to claim */
    int64_t waiting, reserved;
    int stopping;
    atomic_int_fast64_t depth;      /* == waiting, readable without the lock */
    atomic_int_fast64_t busy;
};

uint64_t up_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t up_pool_chunks_for(const up_pool *p, const up_plan *plan)
{
    int64_t units = plan->work_units, cost = plan->unit_cost > 0 ? plan->unit_cost : 1, total;
    if (p->n_workers <= 1 || units <= 1) return 1;
    if (up_mul_i64(units, cost, &total) < 0) total = INT64_MAX;
    int64_t n = total / CHUNK_MIN_BYTES;
    int64_t max = (int64_t)p->n_workers * CHUNKS_PER_WORKER;
    if (n > max) n = max;
    if (n > units) n = units;
    return n < 1 ? 1 : n;
}

typedef struct chunk_call {
    const up_plan *plan;
    int64_t begin, end;
    up_fault *fault;
} chunk_call;

static void chunk_fn(void *arg)
{
    chunk_call *c = arg;
    up_plan_run(c->plan, c->begin, c->end, c->fault);
}

static void run_chunk(up_pool *p, up_job *j, int64_t i)
{
    int64_t units = j->plan->work_units, n = j->n_chunks;
    int64_t base = units / n, rem = units % n;
    int64_t begin = base * i + (i < rem ? i : rem);
    int64_t end = begin + base + (i < rem ? 1 : 0);
    up_fault f;
    up_fault_init(&f);
    if (!j->guard) {
        up_plan_run(j->plan, begin, end, &f);
    } else {
        chunk_call c = {j->plan, begin, end, &f};
        if (j->guard(chunk_fn, &c) < 0) atomic_store(&j->cut_short, 1);
    }
    if (f.elem >= 0) {
        pthread_mutex_lock(&p->mu);
        up_fault_merge(&j->fault, &f);
        pthread_mutex_unlock(&p->mu);
    }
    if (atomic_fetch_sub_explicit(&j->remaining, 1, memory_order_acq_rel) == 1) {
        j->t_compute_end = up_now_ns();
        j->complete(j);
    }
}

/* The worker that takes a job off the waiting queue. */
static void start_job(up_pool *p, up_job *j)
{
    j->t_start = up_now_ns();
    if (j->deadline_ns && j->t_start > j->deadline_ns) {
        j->expired = 1;
        j->complete(j);
        return;
    }
    j->start(j);
    j->t_decoded = j->t_compute_begin = j->t_compute_end = up_now_ns();
    if (!j->plan || j->plan->work_units <= 0) {
        j->complete(j);
        return;
    }
    j->n_chunks = up_pool_chunks_for(p, j->plan);
    atomic_store_explicit(&j->remaining, j->n_chunks, memory_order_relaxed);
    if (j->n_chunks > 1) {
        pthread_mutex_lock(&p->mu);
        j->next_chunk = 1;
        j->next = NULL;
        if (p->run_tail) p->run_tail->next = j;
        else p->run_head = j;
        p->run_tail = j;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    run_chunk(p, j, 0);
}

static void *worker_main(void *arg)
{
    up_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        up_job *j = p->run_head;
        if (j) {
            int64_t i = j->next_chunk++;
            if (j->next_chunk == j->n_chunks) {
                p->run_head = j->next;
                if (!p->run_head) p->run_tail = NULL;
            }
            pthread_mutex_unlock(&p->mu);
            atomic_fetch_add(&p->busy, 1);
            run_chunk(p, j, i);
            atomic_fetch_sub(&p->busy, 1);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if ((j = p->wait_head)) {
            p->wait_head = j->next;
            if (!p->wait_head) p->wait_tail = NULL;
            p->waiting--;
            atomic_store(&p->depth, p->waiting);
            pthread_mutex_unlock(&p->mu);
            atomic_fetch_add(&p->busy, 1);
            start_job(p, j);
            atomic_fetch_sub(&p->busy, 1);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (p->stopping) break;
        pthread_cond_wait(&p->cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int up_pool_reserve(up_pool *p)
{
    int ok;
    pthread_mutex_lock(&p->mu);
    ok = !p->stopping && p->waiting + p->reserved < p->queue_cap;
    if (ok) p->reserved++;
    pthread_mutex_unlock(&p->mu);
    return ok ? 0 : -1;
}

void up_pool_submit(up_pool *p, up_job *j)
{
    j->plan = NULL;
    j->expired = 0;
    j->n_chunks = 0;
    j->next = NULL;
    up_fault_init(&j->fault);
    j->t_submit = up_now_ns();
    j->t_start = j->t_decoded = j->t_compute_begin = j->t_compute_end = j->t_submit;
    pthread_mutex_lock(&p->mu);
    p->reserved--;
    if (p->wait_tail) p->wait_tail->next = j;
    else p->wait_head = j;
    p->wait_tail = j;
    p->waiting++;
    atomic_store(&p->depth, p->waiting);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

up_pool *up_pool_create(int workers, int queue_cap)
{
    up_pool *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->n_workers = workers;
    p->queue_cap = queue_cap;
    p->threads = calloc((size_t)workers, sizeof(pthread_t));
    if (!p->threads) goto err;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (; p->n_started < workers; p->n_started++)
        if (pthread_create(&p->threads[p->n_started], NULL, worker_main, p) != 0) goto err;
    return p;
err:
    if (p->threads) up_pool_destroy(p);
    else free(p);
    return NULL;
}

void up_pool_destroy(up_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int up_pool_workers(const up_pool *p) { return p->n_workers; }
int64_t up_pool_queue_depth(up_pool *p) { return atomic_load(&p->depth); }
int64_t up_pool_busy_workers(up_pool *p) { return atomic_load(&p->busy); }

int up_pool_idle(up_pool *p)
{
    return up_pool_queue_depth(p) == 0 && up_pool_busy_workers(p) == 0;
}

int up_plan_is_small(const up_plan *p, int64_t answer_bytes)
{
    /* mem_bytes, once a plan states it, includes its outputs */
    int64_t mem = p->mem_bytes > 0 ? p->mem_bytes : up_plan_output_bytes(p), touched;
    if (p->work > UP_INLINE_MAX_WORK) return 0;
    if (up_add_i64(mem, answer_bytes, &mem) < 0 || mem > UP_INLINE_MAX_MEM) return 0;
    if (up_mul_i64(p->work_units, p->unit_cost > 0 ? p->unit_cost : 1, &touched) < 0 ||
        touched > UP_INLINE_MAX_TOUCHED)
        return 0;
    return 1;
}
