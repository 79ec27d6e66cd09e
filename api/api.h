/* api.h -- the boundary between the daemon (server/) and the wire formats.
 *
 * The server knows sockets, threads and HTTP framing; the api knows bytes:
 * it turns a request's headers-of-interest, query and body into a ready
 * up_plan (decode + validate), and a finished plan into response bytes
 * (encode). Nothing here touches a socket or a thread, so every codec is
 * unit-testable and fuzzable on plain buffers.
 *
 *   up_call c; up_call_init(&c);
 *   if (up_call_decode_v1(&c, op, &req, &limits, &err) < 0) -> up_problem_response()
 *   ... server runs c.plan over [0, c.plan.work_units) on its workers ...
 *   up_call_encode(&c, &fault, &timing, request_id, &resp, &err)
 *   up_call_free(&c);
 */
#ifndef UP_API_H
#define UP_API_H

#include <stddef.h>
#include <stdint.h>

#include "../kernels/error.h"
#include "../kernels/op.h"

/* The product version: `unpoold --version`, KServe's server metadata
 * (GET /v2) and openapi.yaml's info.version (checked by test_openapi). */
#define UP_VERSION "0.1.0"

/* A growable byte buffer (buf.c). Response bodies are built in one. */
typedef struct up_buf {
    char *data;
    size_t len, cap;
    int failed;      /* an allocation failed; contents are unusable */
    int big;         /* data came from up_bigbuf_alloc (large buffers) */
} up_buf;

void up_buf_init(up_buf *b);
int up_buf_reserve(up_buf *b, size_t extra);
/* Room for exactly `extra` more bytes (and a NUL), not a doubling: for a
 * buffer whose largest size is known (an answer's bound, which the server
 * charged), so that what is allocated is what was charged. */
int up_buf_reserve_exact(up_buf *b, size_t extra);
int up_buf_append(up_buf *b, const void *p, size_t n);
int up_buf_puts(up_buf *b, const char *s);
int up_buf_printf(up_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void up_buf_free(up_buf *b);
/* Hand the bytes over (caller frees with up_buf_release()); b is left
 * empty. */
char *up_buf_steal(up_buf *b, size_t *len);
/* Free what up_buf_steal handed over: large buffers come from the
 * big-buffer allocator (kernels/bigbuf.h), not from malloc. */
void up_buf_release(char *data);
/* n bytes (n > 0) for a caller that knows the size up front, freed with
 * up_buf_release(): a big block when n is large enough, so a message of
 * the same size as the last one lands on pages already faulted in. NULL
 * when out of memory. */
char *up_buf_block(size_t n);

typedef struct up_kv {
    const char *key;
    const char *value;
    /* Their lengths as received: a %00 in a query string decodes to a NUL
     * inside the text, which C strings would silently cut ("2%00junk" read
     * as "2"); a NUL inside the given length makes the request a 400.
     * 0 means "no NUL inside" (strlen). */
    size_t key_len, value_len;
} up_kv;
/* Does the pair hold a NUL inside its received length (a %00)? The api's
 * query reader and the server's request intake both refuse those (400). */
int up_kv_holds_nul(const up_kv *kv);

/* Shared-memory regions (Triton's system shared-memory extension, and
 * /v1's {"shm": ...} tensors). The server owns the regions: the table,
 * their mappings and reference counts (server/shm_registry.c); a decoder
 * only asks it for a byte range of a registered region by name. The api
 * maps nothing and knows no file descriptors.
 *
 * acquire: pin region `name` and give the address of [offset, offset +
 * byte_size) inside its registered range. The server checks that the
 * region is registered, that the range lies inside the registered range,
 * and (fstat, now) that the registered range still lies inside the
 * object. The span's object id and object offset identify the bytes
 * whatever region names them, so that an output overlapping an input is
 * found even through two regions on one object. 0, or -1 with err
 * filled. Every acquired span is released once (release(ctx, pin)), when
 * the call is freed: the mapping stays valid until then. */
typedef struct up_shm_span {
    void *addr;
    void *pin;             /* the server's reference; release() drops it */
    uint64_t obj_dev, obj_ino;
    uint64_t obj_offset;   /* of addr inside the object */
    uint64_t len;
} up_shm_span;

typedef struct up_shm_resolver {
    int (*acquire)(void *ctx, const char *name, uint64_t offset, uint64_t byte_size,
                   up_shm_span *span, up_error *err);
    void (*release)(void *ctx, void *pin);
    void *ctx;
} up_shm_resolver;

/* The body of POST /v2/systemsharedmemory/region/{name}/register:
 * {"key", "offset"?, "byte_size"} (shm_ref.c). The parse is charged to
 * `charge`. 0, or -1 with err (400). */
typedef struct up_shm_register_body {
    char key[256];
    uint64_t offset, byte_size;
} up_shm_register_body;
struct up_limits;
int up_shm_register_request(const char *body, size_t n, const struct up_limits *lim,
                            const up_charge *charge, up_shm_register_body *out, up_error *err);

/* What the api needs of one HTTP request. Strings may be NULL (absent). */
typedef struct up_http_req {
    const char *content_type;
    const char *accept;
    const char *inference_header_length;  /* KServe binary extension */
    const up_kv *query;
    int n_query;
    char *body;          /* owned by the server, alive until the response is sent */
    size_t body_len;
    /* This request's memory accountant: decoders charge every buffer they
     * allocate (parse state, decoded tensors) through it and hand it to
     * the plan (c->plan.charge). Zero = nothing charged. */
    up_charge charge;
    /* Shared-memory regions; NULL when the server runs without --shm
     * (a request naming a region is then a 422). */
    const up_shm_resolver *shm;
} up_http_req;

/* One piece of a response sent without a copy. */
typedef struct up_iov {
    const void *base;
    size_t len;
} up_iov;

#define UP_RESP_MAX_TAIL UP_MAX_OUTPUTS

/* A response the server sends as is: `body`, then the tail pieces in
 * order. Binary encoders write only their header into body and point the
 * tail at the output tensors, whose ownership moves out of the plan into
 * `keep`: the server sends the pieces as they are (writev) and calls
 * keep_free(keep) once they are out. up_http_resp_free releases keep too,
 * so an answer that is never sent leaks nothing. */
typedef struct up_http_resp {
    int status;
    const char *content_type;   /* static string */
    up_buf body;
    char extra_header_name[48]; /* e.g. "Inference-Header-Content-Length"; "" none */
    char extra_header_value[32];
    up_iov tail[UP_RESP_MAX_TAIL];
    int n_tail;
    void *keep;                 /* owns the tail's bytes; NULL when nothing is kept */
    void (*keep_free)(void *);
} up_http_resp;

/* body.len plus every tail piece: the bytes on the wire. */
size_t up_http_resp_len(const up_http_resp *r);
/* Append the tail to body and release keep: one contiguous answer (for
 * callers that want the bytes in one buffer, such as tests). -1 on out of
 * memory (the response is then freed). */
int up_http_resp_flatten(up_http_resp *r);

typedef struct up_limits {
    int64_t max_elements;          /* per tensor (inputs and outputs) */
    int64_t max_request_elements;  /* all inputs of one request together */
    int max_json_depth;
    int max_inputs;
    int64_t max_work;              /* per request work estimate (--max-work); 0 = none */
} up_limits;

typedef struct up_timing {
    double decode_ms, queue_ms, compute_ms, encode_ms, total_ms;
} up_timing;

enum { UP_PROTO_V1 = 0, UP_PROTO_KSERVE = 1 };
enum { UP_FMT_JSON = 0, UP_FMT_NPY = 1, UP_FMT_SAFETENSORS = 2 };

/* A KServe request id may have this many characters (any UTF-8). */
#define UP_KSERVE_ID_CHARS 127

/* One decoded op request. */
typedef struct up_call {
    up_plan plan;
    int proto;                 /* UP_PROTO_* */
    int out_format;            /* UP_FMT_*, from Accept */
    int out_b64;               /* JSON outputs as data_b64 */
    int out_select;            /* output index for .npy answers, -1 = default */
    int kserve_binary_out;     /* KServe: answer with binary output data */
    char kserve_id[4 * UP_KSERVE_ID_CHARS + 1]; /* KServe request "id" (UTF-8), echoed */
    void *codec_state;         /* codec-private, freed by up_call_free */
    void (*codec_state_free)(void *);
    /* Shared memory this call uses (up_shm_resolver): inputs read in
     * place, outputs written in place (plan.out_dest); released by
     * up_call_free. shm_out[i].name[0] != 0: output i goes to a region
     * and its answer is metadata only. */
    const up_shm_resolver *shm;
    up_shm_span shm_in[UP_MAX_INPUTS];
    struct {
        char name[64];
        uint64_t offset, byte_size;
        up_shm_span span;
    } shm_out[UP_MAX_OUTPUTS];
} up_call;

/* Does this call touch shared memory (the server then guards the code
 * that reads or writes it, server/shm_guard.c)? */
int up_call_uses_shm(const up_call *c);

void up_call_init(up_call *c);
void up_call_free(up_call *c);

/* Decode a POST /v1/ops/{op} request (JSON, .npy or safetensors, chosen by
 * Content-Type) and prepare the plan. -1 with err filled on any problem. */
int up_call_decode_v1(up_call *c, const up_op_def *op, const up_http_req *req,
                      const up_limits *lim, up_error *err);
/* Decode a POST /v2/models/{op}/infer request. */
int up_call_decode_kserve(up_call *c, const up_op_def *op, const up_http_req *req,
                          const up_limits *lim, up_error *err);
/* Upper bound of the answer in the negotiated format (JSON lists,
 * data_b64, .npy, safetensors, KServe JSON or binary), known once decode
 * succeeded: at least its encoded length (body and tail) and at least what
 * the encoders allocate for it (the body, reserved once at exactly its
 * bound, and what the answer keeps beside it: a widened copy, a header
 * scratch). Request ids of at most 64 bytes (the server's) are allowed
 * for. Part of the cost model: the server charges it before encoding.
 * INT64_MAX on overflow.
 *
 * Binary answers send large outputs from the plan's own tensors (already
 * in the plan's mem_bytes), without a copy; up_call_answer_alloc_bytes is
 * the bound without those bytes: only what encoding newly allocates. */
int64_t up_call_answer_bytes(const up_call *c);
int64_t up_call_answer_alloc_bytes(const up_call *c);
/* Turn a run plan into the answer (faults become a 422 in err). Sets
 * t->encode_ms itself before writing the timing object. */
int up_call_encode(up_call *c, const up_fault *fault, up_timing *t,
                   const char *request_id, up_http_resp *resp, up_error *err);

/* Errors: v1 answers are application/problem+json (RFC 9457), /v2 answers
 * KServe's {"error": "..."}.
 *
 * The transport's error kinds, numbered after the kernels' own
 * (kernels/error.h): what only a request, not a computation, can get
 * wrong. They are macros of type up_err_kind, since an enum of its own
 * would be a different type. api/problem.c maps
 * every kind to its HTTP status and title, in one table. */
#define UP_E_TRANSPORT_(i) ((up_err_kind)(UP_E_LAYER_BASE + (i)))
#define UP_E_UNAUTHORIZED UP_E_TRANSPORT_(0)   /* missing or wrong API key */
#define UP_E_NOT_FOUND UP_E_TRANSPORT_(1)      /* unknown op or path */
#define UP_E_METHOD UP_E_TRANSPORT_(2)         /* method not allowed on the path */
#define UP_E_NOT_ACCEPTABLE UP_E_TRANSPORT_(3) /* Accept cannot be met */
#define UP_E_MEDIA_TYPE UP_E_TRANSPORT_(4)     /* unsupported Content-Type */
#define UP_E_DEADLINE UP_E_TRANSPORT_(5)       /* deadline passed before the kernel ran */
#define UP_E_KIND_END (UP_E_LAYER_BASE + 6)    /* one past the last kind */
int up_err_status(const up_error *err);
const char *up_err_kind_title(up_err_kind kind); /* "Unprocessable Content" ... */
void up_problem_response(const up_error *err, const char *request_id, const char *path,
                         up_http_resp *resp);
void up_kserve_error_response(const up_error *err, up_http_resp *resp);

/* GET /v1/ops, GET /v2, GET /v2/models/{op}: documents made from the
 * registry. */
int up_ops_document(up_http_resp *resp);
/* GET /v2 lists system_shared_memory among its extensions when `shm` (the
 * server runs with --shm 1). */
int up_kserve_server_metadata(up_http_resp *resp, int shm);
int up_kserve_model_metadata(const up_op_def *op, up_http_resp *resp);

/* base64 (base64.c), standard alphabet with padding: the encoded length
 * of n bytes, and the encoder (writes that many characters and a NUL). */
size_t up_b64_encoded_len(size_t n);
void up_b64_encode(const unsigned char *src, size_t n, char *dst);

/* A duration in milliseconds with exactly three decimals ("0.012"), as
 * "%.3f" would print it for values in [0, 1e15); negative is printed as 0.
 * At most 31 bytes, no NUL; returns the count. Written by hand (numfmt.c)
 * because it is on every answer (body, Server-Timing and access log),
 * where printf's float path was a measurable share of a small request. */
size_t up_fmt_ms(double ms, char *out);
/* The timing as text: "<prefix>decode<suffix>0.012<sep><prefix>queue..."
 * for the first `fields` phases (decode, queue, compute, encode, total),
 * three decimals each; NUL-terminated, returns the length (numfmt.c). */
size_t up_fmt_timing(char *out, size_t cap, const up_timing *t, int fields, const char *key_prefix,
                     const char *key_suffix, const char *sep);

void up_http_resp_init(up_http_resp *r);
void up_http_resp_free(up_http_resp *r);

#endif
