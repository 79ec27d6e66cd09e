/* kserve_grpc.h -- KServe v2 over gRPC, the message side: protobuf bytes
 * of inference.GRPCInferenceService (api/proto/kserve_v2.proto) to calls
 * and back. The transport (HTTP/2, framing, threads, metadata) is the
 * server's (server/grpc.c); nothing here knows a socket, so the decoders
 * are unit-tested and fuzzed on plain buffers (tests/fuzz/fuzz_grpc.c).
 *
 *   up_grpc_decode_infer(&c, msg, n, &in, &lim, &err)  -> a prepared plan
 *   ... the server runs c.plan ...
 *   up_grpc_encode_infer(&c, &fault, &timing, &answer, &err)
 *   ... the server sends answer.head, then answer.piece[] in order ...
 *   up_grpc_answer_free(&answer); up_call_free(&c);
 */
#ifndef UP_KSERVE_GRPC_H
#define UP_KSERVE_GRPC_H

#include "api.h"

/* gRPC status codes (the numbers are gRPC's). */
enum {
    UP_GRPC_OK = 0,
    UP_GRPC_CANCELLED = 1,
    UP_GRPC_UNKNOWN = 2,
    UP_GRPC_INVALID_ARGUMENT = 3,
    UP_GRPC_DEADLINE_EXCEEDED = 4,
    UP_GRPC_NOT_FOUND = 5,
    UP_GRPC_RESOURCE_EXHAUSTED = 8,
    UP_GRPC_UNIMPLEMENTED = 12,
    UP_GRPC_INTERNAL = 13,
    UP_GRPC_UNAVAILABLE = 14,
    UP_GRPC_UNAUTHENTICATED = 16
};
/* The code an error gets, from the HTTP status REST gives it (one table,
 * api/problem.c, decides both): 400 and 422 INVALID_ARGUMENT, 401
 * UNAUTHENTICATED, 404 NOT_FOUND, 413 RESOURCE_EXHAUSTED, 503
 * UNAVAILABLE, 504 DEADLINE_EXCEEDED, anything else INTERNAL. */
int up_grpc_code(const up_error *err);
const char *up_grpc_code_name(int code); /* "INVALID_ARGUMENT" */

/* The methods served, by their HTTP/2 path. */
typedef enum up_grpc_method {
    UP_GM_SERVER_LIVE,
    UP_GM_SERVER_READY,
    UP_GM_MODEL_READY,
    UP_GM_SERVER_METADATA,
    UP_GM_MODEL_METADATA,
    UP_GM_MODEL_INFER,
    UP_GM_SHM_STATUS,
    UP_GM_SHM_REGISTER,
    UP_GM_SHM_UNREGISTER,
    UP_GM_COUNT,
    UP_GM_UNKNOWN = -1
} up_grpc_method;
/* "/inference.GRPCInferenceService/ModelInfer" -> UP_GM_MODEL_INFER;
 * n bytes, not NUL-terminated. */
up_grpc_method up_grpc_method_of(const char *path, size_t n);
const char *up_grpc_method_name(up_grpc_method m); /* "ModelInfer" */

/* What a ModelInfer decode needs beside the bytes. */
typedef struct up_grpc_in {
    up_charge charge;             /* every allocation is charged here first */
    const up_shm_resolver *shm;   /* NULL: shared memory is off (422) */
} up_grpc_in;

/* A ModelInferRequest into c: the model (an op; unknown -> 404), op
 * params from `parameters`, inputs from raw_input_contents or typed
 * contents, outputs to answer; then up_call_prepare. -1 with err filled
 * (up_grpc_code maps it). msg (n bytes from up_buf_block or malloc) is
 * the call's from now on, whatever the result: raw inputs are views of it,
 * moved to an aligned spot inside it when needed, and up_call_free frees
 * it with up_buf_release. */
int up_grpc_decode_infer(up_call *c, char *msg, size_t n, const up_grpc_in *in,
                         const up_limits *lim, up_error *err);

/* A ModelInferResponse: head, then the pieces in order. Large outputs are
 * pieces pointing at the call's own result tensors (no copy): the call
 * must outlive the sending. */
typedef struct up_grpc_answer {
    up_buf head;
    struct {
        const void *base;
        size_t len;
    } piece[2 * UP_MAX_OUTPUTS];
    int n_piece;
    unsigned char prefix[UP_MAX_OUTPUTS][16]; /* field tags and lengths between pieces */
} up_grpc_answer;
void up_grpc_answer_init(up_grpc_answer *a);
void up_grpc_answer_free(up_grpc_answer *a);
size_t up_grpc_answer_len(const up_grpc_answer *a);
/* Upper bound of what encoding allocates (the head): charged before the
 * kernel runs. */
int64_t up_grpc_answer_bytes(const up_call *c);
int up_grpc_encode_infer(up_call *c, const up_fault *fault, up_timing *t, up_grpc_answer *a,
                         up_error *err);

/* Messages of every method but ModelInfer are at most this long; the
 * transport refuses longer ones before parsing (RESOURCE_EXHAUSTED). */
#define UP_GRPC_SMALL_MAX 65536

/* The small RPCs. Request decoders fill err (400) on bytes that are not
 * the message; answers are appended to out (-1 out of memory). */
int up_grpc_bool_answer(up_grpc_method m, int value, up_buf *out);
int up_grpc_server_metadata(int shm, up_buf *out);
/* ModelReadyRequest / ModelMetadataRequest: the op it names, NULL with
 * err (404) when no such model or version. */
const up_op_def *up_grpc_model_request(const void *msg, size_t n, up_error *err);
int up_grpc_model_metadata(const up_op_def *op, up_buf *out);

/* Triton's system shared-memory RPCs. */
int up_grpc_shm_name_request(up_grpc_method m, const void *msg, size_t n, char name[64],
                             up_error *err);
int up_grpc_shm_register_request(const void *msg, size_t n, char name[64],
                                 up_shm_register_body *b, up_error *err);
typedef struct up_grpc_region {
    const char *name, *key;
    uint64_t offset, byte_size;
} up_grpc_region;
int up_grpc_shm_status_answer(const up_grpc_region *r, int n, up_buf *out);
/* The empty answers (register, unregister): zero bytes. */

#endif
