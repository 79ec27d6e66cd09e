/* grpc_call.h -- one gRPC call of the KServe v2 service, shared by the
 * connection loop (grpc_conn.c: HTTP/2, framing, TLS) and the call logic
 * (grpc_call.c: methods, the worker pool, answers). Private to those two
 * files.
 *
 * Ownership: the loop thread owns a call, except while its ModelInfer job
 * is on the worker pool (in_pool): then the workers do, and hand it back
 * through the loop's done queue (up_grpc_call_done). A call whose stream
 * or connection goes away meanwhile is marked gone and freed when it comes
 * back. */
#ifndef UP_SRV_GRPC_CALL_H
#define UP_SRV_GRPC_CALL_H

#include <stdatomic.h>
#include <stdint.h>

#include "../api/kserve_grpc.h"
#include "pool.h"
#include "reqid.h"
#include "server.h"

struct gconn;

typedef struct gcall {
    struct gconn *conn;        /* NULL once the connection is gone */
    int32_t stream;            /* HTTP/2 stream id */
    struct gcall *prev, *next; /* the connection's calls */
    struct gcall *done_next;   /* the loop's done queue */
    up_server *srv;
    char id[UP_REQID_MAX];
    uint64_t t_arrival, t_msg;

    /* the request's headers */
    up_grpc_method method;
    char path[96];
    int post, grpc_content_type, compressed_ok;
    char authorization[300];
    int64_t timeout_ms;        /* grpc-timeout; -1 when absent */
    size_t header_bytes;
    int headers_done;

    /* the message: a 5-byte prefix, then its bytes, charged before the
     * buffer exists */
    unsigned char prefix[5];
    int prefix_got;
    char *msg;
    size_t msg_len, msg_got;
    uint64_t bytes_in;
    atomic_int_fast64_t budget_held;

    /* ModelInfer on the pool */
    int in_pool;               /* a worker owns the call */
    atomic_int gone;           /* its stream closed: nobody waits */
    up_job job;
    up_call call;
    int call_inited, decode_failed, dropped;
    int inline_run;            /* run on the loop, start to finish */
    up_error err;
    up_timing timing;

    /* the answer */
    int answered;              /* a response is submitted */
    int code, status;          /* gRPC code, and the HTTP status it stands for */
    char message[512];         /* grpc-message, before percent-encoding */
    up_grpc_answer answer;     /* ModelInfer */
    up_buf small;              /* the other methods */
    int small_answer;
    size_t out_sent;           /* bytes of prefix + message handed to HTTP/2 */
    size_t frame_at;           /* where the DATA frame being sent without a copy starts */
    uint64_t bytes_out;
    int logged;
} gcall;

/* grpc_call.c */
gcall *up_grpc_call_new(up_server *s);
void up_grpc_call_free(gcall *g);
/* The headers are in: check method, content type, key. 0 to go on, -1
 * when g now holds an error answer. */
int up_grpc_call_headers(gcall *g);
/* The 5-byte prefix is in: charge the message or refuse it. 0 or -1 (an
 * error answer in g). */
int up_grpc_call_prefix(gcall *g);
/* The whole message is in (END_STREAM): answer here (small methods,
 * errors), or hand it to the worker pool (returns 1; the answer comes
 * back through up_grpc_call_done). */
int up_grpc_call_run(gcall *g);
/* Fill g's error answer. */
void up_grpc_call_fail(gcall *g, const up_error *e);
void up_grpc_call_fail_with(gcall *g, up_err_kind kind, const char *field, const char *msg);
/* The answer's bytes after the 5-byte prefix, from offset `at`: copies at
 * most cap into buf, returns the count. */
size_t up_grpc_call_read(gcall *g, size_t at, unsigned char *buf, size_t cap);
/* The answer's bytes from offset `at` as they lie in memory: a pointer,
 * and in *len how many follow it contiguously (0 at the end). */
const unsigned char *up_grpc_call_span(const gcall *g, size_t at, size_t *len);
size_t up_grpc_call_answer_len(const gcall *g);
/* Answers at least this long go out without a copy into HTTP/2's frames
 * (grpc_conn.c, read_answer). */
#define UP_GRPC_NO_COPY_MIN ((size_t)64 << 10)
/* The access-log line and the request metric, once. */
void up_grpc_call_log(gcall *g);

/* grpc_conn.c: a worker hands a finished call back to the loop. */
void up_grpc_call_done(gcall *g);

#endif
