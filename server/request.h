/* request.h -- the state of one HTTP request, from its headers to the
 * access-log line, shared by the front end (http.c), the GET handlers
 * (handlers.c) and the op path (opcall.c).
 *
 * The request owns its body buffer (the decoded plan may borrow from it),
 * the decoded call and the job; it is freed when libmicrohttpd reports the
 * request completed. While its job runs the connection is suspended, so the
 * MHD thread never touches the request at the same time as a worker. */
#ifndef UP_SRV_REQUEST_H
#define UP_SRV_REQUEST_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../api/api.h"
#include "conns.h"
#include "pool.h"
#include "reqid.h"
#include "routes.h"
#include "server.h"

#define UP_MAX_QUERY 64

/* Extra headers of one answer. */
typedef struct up_resp_extra {
    const char *allow;           /* 405 */
    const char *retry_after;     /* 503 */
    int www_authenticate;        /* 401 */
    int server_timing;           /* op answers: from r->timing */
} up_resp_extra;

typedef struct up_req {
    up_server *srv;
    struct MHD_Connection *conn;
    const char *method;           /* MHD's string, alive for the request */
    up_conn *link;                /* the connection's phase record (may be NULL) */
    int fd;                       /* its socket, for the peer check (-1 unknown) */
    /* bytes charged to the memory budget (budget.c); atomic because the
     * plan's accountant may be called from any thread that runs it */
    atomic_int_fast64_t budget_held;
    char *path;                   /* copy, for logs and problem "instance" paths */
    up_route route;
    char id[UP_REQID_MAX];

    /* headers and query the api needs, copied at the first call */
    char *content_type, *accept, *ihcl;
    up_kv query[UP_MAX_QUERY];
    int n_query;
    int query_overflow;

    /* body: grown (and charged) as bytes arrive, never from the length a
     * client merely announces */
    char *body;
    size_t body_len, body_cap;
    size_t body_limit;            /* Content-Length, or --max-body-mb when chunked */
    uint64_t bytes_in;            /* received, including discarded bytes */
    size_t header_size;           /* request line + headers on the wire */
    int chunked;                  /* Transfer-Encoding: wire bytes != body bytes */

    /* timing (monotonic ns) */
    uint64_t t_arrival, t_body;
    int64_t timeout_ms;           /* 0 = none */
    int timeout_from_header;

    /* the op path */
    up_job job;
    up_call call;
    int call_inited, decode_failed, ran_job, job_done;
    int dropped;                  /* client gone before its job started: no answer */
    int overloaded;               /* 503 from the memory budget: add Retry-After */
    int64_t inline_mem_cap;       /* decoding on the event thread: charges past this
                                   * abandon the attempt (0 = no such limit) */
    int inline_too_big;           /* ... and one did: decode again on a worker */
    uint64_t pre_decode_ns;       /* decode done on the MHD thread before queueing */
    up_error err;
    up_timing timing;

    /* an error found in the headers, answered when the request is complete */
    int rejected;
    up_resp_extra reject_extra;

    /* the answer */
    struct MHD_Response *response; /* built, waiting to be queued */
    int status, queued;
    uint64_t bytes_out;
} up_req;


/* Build an MHD response from resp (takes its body) with the standard
 * headers (X-Request-Id, Content-Type, Connection: close while draining)
 * and the extras; sets r->status and r->bytes_out. NULL on OOM. */
struct MHD_Response *up_req_build(up_req *r, up_http_resp *resp, const up_resp_extra *x);
/* Queue a response now (MHD thread only). */
enum MHD_Result up_req_send(up_req *r, up_http_resp *resp, const up_resp_extra *x);
/* 200 with a document embedded in the binary (sent without a copy), its
 * Content-Type and extra headers as NULL-terminated name, value pairs. */
enum MHD_Result up_req_send_static(up_req *r, const void *data, size_t len, const char *ctype,
                                   const char *const *headers);
/* An error answer in the route's format (problem+json, or KServe's). */
void up_req_error_body(up_req *r, const up_error *err, up_http_resp *resp);
enum MHD_Result up_req_send_error(up_req *r, const up_error *err, const up_resp_extra *x);

/* handlers.c: GET routes, answered on the MHD thread (all are small). */
enum MHD_Result up_handle_get(up_req *r);

/* opcall.c: the op path. Called when the body is complete. */
enum MHD_Result up_op_begin(up_req *r);
/* The /v2/systemsharedmemory routes (shm_http.c), on the event thread. */
enum MHD_Result up_handle_shm(up_req *r);

#endif
