/* probe_core.c -- the gRPC transport probe on gRPC's own C core
 * (libgrpc-dev, grpc/grpc.h): the API the unpoold gRPC server is written
 * against, reduced to one unary method so that only the transport is
 * measured (see probe.h for the answer rule and the stats line).
 *
 * One completion queue, T threads polling it (grpc_completion_queue_next):
 * a call is a small state machine driven by its batches, and at most one
 * batch of a call is in flight, so a call is only ever touched by the
 * thread that took its event. PROBE_PENDING calls are requested ahead so
 * that arrivals do not wait for a request_call.
 *
 * Admission, -a or not, is the question the probe asks of the core: the
 * core hands a message over only once it is complete, so the earliest the
 * application learns its length is after the core has buffered all of it.
 * By default the probe charges the real length then (the core's own buffer
 * was never charged); with -a it charges the largest message it accepts
 * (-m) when the call arrives, before any byte of it is read, which bounds
 * memory but refuses calls that would have fit. -q gives the core its own
 * memory bound, a resource quota (GRPC_ARG_RESOURCE_QUOTA), to see what it
 * does with buffered messages under it.
 *
 * Usage: probe_core -p PORT -r RESPONSE.pb [-t THREADS] [-b BUDGET_MIB]
 *                   [-m MAX_MESSAGE_MIB] [-q QUOTA_MIB] [-a] */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "probe.h"

#define PROBE_PENDING 16
#define PROBE_MAX_THREADS 8

enum { ST_NEW, ST_READ, ST_DONE };

struct call {
    int state;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_byte_buffer *in, *out;
    int cancelled;
    size_t charged;
};

static grpc_server *server;
static grpc_completion_queue *cq;
static grpc_slice small_resp;
static struct probe_budget budget;
static size_t max_msg = 128 * PROBE_MIB;
static int admit_at_arrival;
static int shutdown_tag; /* its address tags the server's shutdown event */

static void request_one(void)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c) abort();
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    if (grpc_server_request_call(server, &c->call, &c->details, &c->md, cq, cq, c) != GRPC_CALL_OK)
        abort();
}

static void call_free(struct call *c)
{
    probe_give(&budget, c->charged);
    if (c->in) grpc_byte_buffer_destroy(c->in);
    if (c->out) grpc_byte_buffer_destroy(c->out);
    if (c->call) grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    free(c);
}

/* The last batch: the answer (if any), the status, and the wait for the
 * client's close. ops[0] is the caller's initial metadata or message. */
static void finish(struct call *c, grpc_op *ops, size_t n, grpc_status_code code, const char *why)
{
    grpc_slice details = grpc_slice_from_static_string(why);
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n].data.send_status_from_server.status_details = &details;
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &c->cancelled;
    n++;
    c->state = ST_DONE;
    if (code == GRPC_STATUS_OK) atomic_fetch_add(&budget.ok, 1);
    else if (code == GRPC_STATUS_RESOURCE_EXHAUSTED) atomic_fetch_add(&budget.refused, 1);
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) abort();
}

static void on_arrival(struct call *c)
{
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (!grpc_slice_eq(c->details.method, grpc_slice_from_static_string(PROBE_METHOD))) {
        finish(c, ops, 1, GRPC_STATUS_UNIMPLEMENTED, "no such method");
        return;
    }
    if (admit_at_arrival) {
        if (probe_take(&budget, max_msg) < 0) {
            finish(c, ops, 1, GRPC_STATUS_RESOURCE_EXHAUSTED, "budget full");
            return;
        }
        c->charged = max_msg;
    }
    ops[1].op = GRPC_OP_RECV_MESSAGE;
    ops[1].data.recv_message.recv_message = &c->in;
    c->state = ST_READ;
    if (grpc_call_start_batch(c->call, ops, 2, c, NULL) != GRPC_CALL_OK) abort();
}

/* The whole message is in c->in, held by the core. Small: the fixed
 * answer. Large: charge, then one contiguous copy (readall), echoed. */
static void on_message(struct call *c)
{
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    if (!c->in) {
        finish(c, ops, 0, GRPC_STATUS_INTERNAL, "no message");
        return;
    }
    size_t len = grpc_byte_buffer_length(c->in);
    if (len < PROBE_ECHO_MIN) {
        c->out = grpc_raw_byte_buffer_create(&small_resp, 1);
    } else {
        if (!admit_at_arrival) {
            if (probe_take(&budget, len) < 0) {
                finish(c, ops, 0, GRPC_STATUS_RESOURCE_EXHAUSTED, "budget full");
                return;
            }
            c->charged = len;
        }
        grpc_byte_buffer_reader r;
        if (!grpc_byte_buffer_reader_init(&r, c->in)) abort();
        grpc_slice all = grpc_byte_buffer_reader_readall(&r);
        grpc_byte_buffer_reader_destroy(&r);
        c->out = grpc_raw_byte_buffer_create(&all, 1);
        grpc_slice_unref(all);
    }
    grpc_byte_buffer_destroy(c->in);
    c->in = NULL;
    ops[0].op = GRPC_OP_SEND_MESSAGE;
    ops[0].data.send_message.send_message = c->out;
    finish(c, ops, 1, GRPC_STATUS_OK, "");
}

static void *poll_loop(void *arg)
{
    (void)arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) return NULL;
        if (ev.tag == &shutdown_tag) {
            grpc_completion_queue_shutdown(cq);
            continue;
        }
        struct call *c = ev.tag;
        if (c->state == ST_NEW && !ev.success) { /* server shutting down */
            call_free(c);
            continue;
        }
        if (c->state == ST_NEW) request_one();
        if (!ev.success || c->state == ST_DONE) call_free(c);
        else if (c->state == ST_NEW) on_arrival(c);
        else on_message(c);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: probe_core -p PORT -r RESPONSE.pb [-t THREADS] [-b BUDGET_MIB]"
                    " [-m MAX_MESSAGE_MIB] [-q QUOTA_MIB] [-a]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *port = NULL, *resp = NULL;
    int threads = 1, opt, sig;
    size_t quota = 0;
    while ((opt = getopt(argc, argv, "p:r:t:b:m:q:a")) != -1) {
        if (opt == 'p') port = optarg;
        else if (opt == 'r') resp = optarg;
        else if (opt == 't') threads = atoi(optarg);
        else if (opt == 'b') budget.limit = strtoull(optarg, NULL, 10) * PROBE_MIB;
        else if (opt == 'm') max_msg = strtoull(optarg, NULL, 10) * PROBE_MIB;
        else if (opt == 'q') quota = strtoull(optarg, NULL, 10) * PROBE_MIB;
        else if (opt == 'a') admit_at_arrival = 1;
        else usage();
    }
    if (!port || !resp || threads < 1 || threads > PROBE_MAX_THREADS || !max_msg || max_msg > INT32_MAX)
        usage();
    size_t resp_len;
    uint8_t *resp_buf = probe_load(resp, &resp_len);
    if (!resp_buf) usage();

    /* SIGTERM/SIGINT are taken by sigwait below; every thread the core
     * starts inherits this mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    grpc_init();
    small_resp = grpc_slice_from_copied_buffer((const char *)resp_buf, resp_len);
    free(resp_buf);
    grpc_resource_quota *rq = grpc_resource_quota_create("probe");
    grpc_resource_quota_resize(rq, quota ? quota : SIZE_MAX);
    grpc_arg args[3] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = (int)max_msg}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = -1}},
        {GRPC_ARG_POINTER, GRPC_ARG_RESOURCE_QUOTA, {.pointer = {rq, grpc_resource_quota_arg_vtable()}}},
    };
    grpc_channel_args cargs = {quota ? 3 : 2, args};
    server = grpc_server_create(&cargs, NULL);
    grpc_resource_quota_unref(rq);
    cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(server, cq, NULL);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    if (!grpc_server_add_http2_port(server, addr, creds)) {
        fprintf(stderr, "probe_core: cannot listen on %s\n", addr);
        return 1;
    }
    grpc_server_credentials_release(creds);
    grpc_server_start(server);
    for (int i = 0; i < PROBE_PENDING; i++) request_one();

    pthread_t tid[PROBE_MAX_THREADS];
    for (int i = 0; i < threads; i++) pthread_create(&tid[i], NULL, poll_loop, NULL);
    sigwait(&sigs, &sig);
    probe_print_stats(&budget);
    grpc_server_shutdown_and_notify(server, cq, &shutdown_tag);
    grpc_server_cancel_all_calls(server);
    for (int i = 0; i < threads; i++) pthread_join(tid[i], NULL);
    grpc_server_destroy(server);
    grpc_completion_queue_destroy(cq);
    grpc_slice_unref(small_resp);
    grpc_shutdown();
    return 0;
}
