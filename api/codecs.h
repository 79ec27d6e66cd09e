/* codecs.h -- the wire formats behind api.h, one file each.
 *
 * call.c decodes the request framing common to every format (Accept,
 * query options, limits) and dispatches on Content-Type to a decoder here;
 * encode.c dispatches on the negotiated output format to an encoder here.
 * Decoders fill c->plan.params and c->plan.raw[] only; call.c then runs
 * up_call_prepare(). Encoders read c->plan.result[] (outputs already in the
 * client's dtype and layout). */
#ifndef UP_CODECS_H
#define UP_CODECS_H

#include <cjson/cJSON.h>

#include "api.h"

/* ---- shared by the decoders (call.c, params_parse.c) ---- */

/* Limits, then up_plan_prepare(). */
int up_call_prepare(up_call *c, const up_limits *lim, up_error *err);
/* Accept -> c->out_format (406 when nothing we can produce is acceptable). */
int up_call_negotiate(up_call *c, const up_http_req *req, up_error *err);
/* Query string: output_format=b64, output=NAME, and (when params_allowed)
 * op params such as kernel_size=2&output_size=4,4. Unknown keys -> 422. */
int up_call_query(up_call *c, const up_http_req *req, int params_allowed, up_error *err);

/* Does the body start (after blanks) with '{' or '['? For a binary
 * Content-Type, that means the Content-Type is probably wrong. */
int up_body_looks_json(const void *body, size_t n);
#define UP_LOOKS_JSON_HINT                                                         \
    "; the body looks like JSON: is the Content-Type right? (JSON goes as "      \
    "application/json)"

/* One op param from a JSON value (number, list, bool, string) or from text
 * ("2", "2,3", "[2,3]", "true", "nearest-exact"). Unknown name -> 422 naming
 * it; wrong type or bad syntax -> 400; field is "params.<name>"
 * unless field_prefix overrides "params". */
int up_param_from_json(up_plan *p, const char *name, const cJSON *v, const char *field_prefix,
                       up_error *err);
int up_param_from_text(up_plan *p, const char *name, const char *text, const char *field_prefix,
                       up_error *err);

/* base64 (base64.c): standard alphabet, padding required on decode. The
 * encoder is declared in api.h (the playground's CSP hashes use it too). */
/* Returns decoded length or -1 on bad input; dst must hold n/4*3 bytes. */
long long up_b64_decode(const char *src, size_t n, unsigned char *dst);
/* The portable scalar code the above falls back to (and is checked
 * against by tests, the fuzzer and the bench): same contracts. */
long long up_b64_decode_scalar(const char *src, size_t n, unsigned char *dst);
void up_b64_encode_scalar(const unsigned char *src, size_t n, char *dst);

/* ---- answers with a tail (encode.c) ---- */

/* Output i's bytes go after everything the answer holds so far: copied
 * into the body when small and nothing is in the tail yet, else sent as a
 * tail piece whose tensor moves out of the plan into resp->keep (zero
 * copy). -1 on out of memory. */
int up_resp_put_output(up_call *c, int i, up_http_resp *resp);
/* A zeroed tensor slot owned by resp->keep (freed with the answer), for
 * bytes made only for the answer; NULL when out of memory or slots. */
up_tensor *up_resp_keep_tensor(up_http_resp *resp);
/* Append a tail piece; -1 when the tail is full. */
int up_resp_add_tail(up_http_resp *resp, const void *data, size_t n);
/* The longest JSON text numfmt.c writes for one element of dt. */
int up_json_elem_max(up_dtype dt);
/* Reserve resp's body at exactly the answer's bound (up_call_answer_bytes):
 * up_call_encode does it before any encoder; an encoder called directly
 * does it itself (a no-op when done). -1 on out of memory. */
int up_resp_reserve_answer(const up_call *c, up_http_resp *resp, up_error *err);

/* ---- JSON parsing (json_parse.c) ---- */

#define UP_JSON_MAX_DEPTH 1000

/* Parse flags. Request documents use SPANS | STRICT. */
#define UP_JSON_SPANS 1  /* a non-empty array with no object inside is one span node */
#define UP_JSON_STRICT 2 /* \u0000 in a string or key, or a key repeated in one object,
                          * is a fault */
#define UP_JSON_PREFIX 4 /* other bytes may follow the value (else only whitespace) */
#define UP_JSON_LAZY 8   /* with SPANS: runs of numbers in a long span are passed over,
                          * not read; the span is checked when its numbers are read
                          * (up_json_list_floats checks as it converts), and
                          * up_json_check_spans checks what no one read */

enum {
    UP_JSON_OK = 0,
    UP_JSON_SYNTAX,     /* not RFC 8259 */
    UP_JSON_TRAILING,   /* bytes after the value (without UP_JSON_PREFIX) */
    UP_JSON_TOO_DEEP,   /* nested past max_depth */
    UP_JSON_NUL_KEY,    /* STRICT: a key holds \u0000 */
    UP_JSON_NUL_STRING, /* STRICT: a string value holds \u0000 */
    UP_JSON_DUP_KEY,    /* STRICT: a key repeated in one object */
    UP_JSON_NOMEM       /* an allocation failed or its charge was refused */
};

/* Why a parse stopped. */
typedef struct up_json_fault {
    int kind;                     /* UP_JSON_* */
    size_t at;                    /* the fault's byte offset; on success, just past the value */
    char path[UP_ERR_FIELD_LEN];  /* where, for NUL/DUP: "params.kernel_size", "inputs[0].name" */
    char text[72];                /* the key or string as written (shortened) */
} up_json_fault;

/* One JSON value at s (leading whitespace skipped) as a cJSON tree. Strict
 * RFC 8259 and UTF-8 (plus the bare words NaN, Infinity, -Infinity that
 * Python's json writes, in spans too); nesting deeper than max_depth
 * (<= 0: UP_JSON_MAX_DEPTH) fails.
 * Nodes come from cJSON_malloc: inside a JSON arena window (json_arena.h)
 * free with up_json_arena_delete, else cJSON_Delete (span nodes too). */
cJSON *up_json_parse(const char *s, size_t n, int max_depth, int flags, up_json_fault *f);
/* The same, plain (cJSON's own trees, no flags, UP_JSON_MAX_DEPTH); *end is
 * where parsing stopped (at the fault on NULL). */
cJSON *up_json_parse_value(const char *s, size_t n, const char **end);
/* Exactly one plain JSON value (whitespace around it allowed) in a new JSON
 * arena window; NULL with *at the offending byte offset. Free with
 * up_json_document_free() on the same thread, never cJSON_Delete(). */
cJSON *up_json_parse_document(const char *s, size_t n, size_t *at);
void up_json_document_free(cJSON *root); /* NULL is fine */

/* A request document (v1 body, KServe header, safetensors header): SPANS |
 * STRICT, nesting at most lim->max_json_depth (up_json_depth_limit), in a
 * JSON arena window charged to `charge`. NULL with err filled: 400 for
 * syntax (up_json_syntax_error: "malformed JSON in <what> at byte N, near
 * ..." and a hint, field `field`), depth, trailing bytes (field `field`),
 * NUL and repeated keys (field: the path); the hook's own error when it
 * refused a charge; 500 out of memory. Free with up_json_document_free. */
typedef struct up_json_req {
    const up_limits *lim;
    const up_charge *charge; /* NULL: nothing charged */
    const char *field;       /* "body", or the document's own field */
    const char *what;        /* "the body", "the inference request", ... */
    int prefix;              /* other bytes may follow the value */
    int lazy;                /* UP_JSON_LAZY: the caller runs up_json_check_spans after
                              * reading the tree, error or not */
    size_t end;              /* out: the offset just past the value */
} up_json_req;
cJSON *up_json_parse_request(const char *s, size_t n, up_json_req *rq, up_error *err);
/* --max-json-depth, capped at UP_JSON_MAX_DEPTH; 64 when unset. */
int up_json_depth_limit(const up_limits *lim);

/* A list of scalars: a span node (its bytes, never converted into nodes),
 * or a cJSON array with no object inside (e.g. from cJSON_Parse). rank and
 * shape follow the first element at each depth (what a regular list's
 * shape is); regular says every list at depth d has shape[d] elements with
 * scalars only at depth rank <= UP_MAX_RANK, i.e. it is a tensor. */
typedef struct up_json_list {
    const char *text;    /* a span's bytes, "[" ... "]"; NULL for a tree */
    size_t len;
    const cJSON *tree;   /* the array, for a tree */
    const double *values; /* a small span of numbers only: them, parsed (else NULL) */
    int64_t leaves;      /* scalars at any depth */
    int height;          /* nesting: [1, 2] is 1, [[1], 2] is 2 */
    int rank;            /* nesting along the first elements */
    int regular;
    int numbers;         /* every scalar is a number */
    int unchecked;       /* LAZY: runs of numbers in it were passed over, not read */
    const cJSON *span;   /* the span node (NULL for a tree) */
    int64_t shape[UP_MAX_RANK]; /* the first min(rank, UP_MAX_RANK) */
} up_json_list;

/* 1 and *l filled when v is a list of scalars, else 0. */
int up_json_list_of(const cJSON *v, up_json_list *l);
/* fn on every scalar of l in document order, i from 0, as a cJSON scalar
 * (number with valuedouble/valueint as parsing gives them, string, true,
 * false, null; a string longer than 63 bytes is cut to at most 60, at a
 * UTF-8 boundary, and "...").
 * Stops at the first nonzero return of fn and returns it; 0 at the end. */
typedef int (*up_json_leaf_fn)(void *ctx, int64_t i, const cJSON *leaf);
int up_json_list_walk(const up_json_list *l, up_json_leaf_fn fn, void *ctx);
/* The fast way for a list of numbers only (l->numbers; else -1): fn on
 * runs of at most 256 of them in order, v[0] being scalar i0, as parsing
 * reads them (bit for bit what up_json_list_walk gives). A span's text is
 * read once, checked as it is read: after a LAZY parse a fault in it stops
 * the reading with -1, after fn had the runs before it. */
typedef int (*up_json_numbers_fn)(void *ctx, int64_t i0, const double *v, int n);
int up_json_list_numbers(const up_json_list *l, up_json_numbers_fn fn, void *ctx);
/* A flat list of numbers into out[0..cap): the count; -1 when v is not a
 * flat list of numbers, -2 when it holds more than cap. */
int up_json_numbers(const cJSON *v, double *out, int cap);
/* The numbers of l (l->numbers) into out, l->leaves of them, as dt
 * (UP_F32 or UP_F64): bit for bit what up_json_list_numbers gives, cast to
 * float for UP_F32 (the double nearest the text, then the float nearest
 * that, as NumPy's float32 of a Python float). A span's text is read once,
 * checked as it is converted. 0, or -1 when l is no list of numbers, dt
 * another type, or (only after a LAZY parse) the text holds a fault:
 * up_json_check_spans then says where. */
int up_json_list_floats(const up_json_list *l, up_dtype dt, void *out);
/* After a LAZY parse and whatever read the tree (error or not): every span
 * under v (and its siblings) with runs no one has read is read strictly.
 * 0, or -1 with *at the byte offset in doc of the first fault, the one a
 * parse without LAZY would have stopped at: the document's real error,
 * which comes before any other the reading found. The walks
 * (up_json_list_walk, up_json_list_numbers, up_json_numbers) check a span
 * first the same way, and fail (-1) on a fault. */
int up_json_check_spans(const cJSON *v, const char *doc, size_t *at);

/* ---- JSON requests and answers (json_decode.c / json_encode.c) ---- */
int up_json_decode_call(up_call *c, const up_http_req *req, const up_limits *lim,
                        up_error *err);
/* A syntax error at byte `at` of the document [doc, doc+len) (what names
 * it: "the body") as a 400 on `field`, quoting a few bytes from there and
 * hinting at the usual causes (quotes the shell removed, single quotes, a
 * trailing comma, a bare nan/inf, cut short, invalid UTF-8). Returns -1. */
int up_json_syntax_error(up_error *err, const char *field, const char *what, const char *doc,
                         size_t len, size_t at);
/* One JSON element as a number: numbers (bare NaN and Infinity included),
 * "NaN"/"Infinity"/"-Infinity" (and "nan", "inf", "-inf") strings, null
 * (NaN), true/false (1/0). 0, or -1 when v is none of those. */
int up_json_number(const cJSON *v, double *out);
/* Shared by the v1 and KServe codecs, so one fault gets one status on
 * both: a "shape" list into shape[]/rank (400 not a list of integers >= 0,
 * 422 rank over UP_MAX_RANK); a list's scalars into the allocated t
 * (400 not a number, 422 an integer out of its dtype's range; t is freed
 * on error); a tensor's values as a JSON array "[e0,e1,...]", each in the
 * shortest text that reads back exactly (numfmt.h). */
int up_json_read_shape(const cJSON *s, int64_t *shape, int *rank, const char *field,
                       up_error *err);
int up_json_fill_tensor(up_tensor *t, const up_json_list *l, const char *what, const char *field,
                        up_error *err);
int up_json_put_values(up_buf *b, const up_tensor *t);
int up_json_encode_call(up_call *c, up_timing *t, const char *request_id,
                        up_http_resp *resp, up_error *err);
/* One JSON tensor ({dtype, shape, data|data_b64} or nested lists, from
 * span nodes or plain cJSON trees) -> t (owned copy). default_dtype applies
 * to nested lists. field names it. Its bytes are charged to `charge` (may
 * be NULL) before they are allocated. */
int up_json_to_tensor(const cJSON *v, up_dtype default_dtype, const char *field,
                      const up_limits *lim, up_tensor *t, up_error *err);
int up_json_to_tensor_charged(const cJSON *v, up_dtype default_dtype, const char *field,
                              const up_limits *lim, const up_charge *charge, up_tensor *t,
                              up_error *err);

/* ---- dtype spellings (wire_dtype.c): one table for every format ---- */
/* KServe v2 ("FP32"), safetensors ("F32") and .npy (descr "<f4" written;
 * kind 'f' and size 4 read) names; UP_DT_INVALID / NULL where the format
 * has none. JSON uses the kernels' names (up_dtype_name). */
up_dtype up_wire_from_kserve(const char *s);
const char *up_wire_kserve(up_dtype dt);
up_dtype up_wire_from_safetensors(const char *s);
const char *up_wire_safetensors(up_dtype dt);
up_dtype up_wire_from_npy(char kind, int size);
const char *up_wire_npy(up_dtype dt);

/* ---- NumPy .npy (npy.c) ---- */
int up_npy_decode_call(up_call *c, const up_http_req *req, const up_limits *lim,
                       up_error *err);
int up_npy_encode_call(up_call *c, up_timing *t, up_http_resp *resp, up_error *err);

/* ---- safetensors (safetensors.c) ---- */
int up_safetensors_decode_call(up_call *c, const up_http_req *req, const up_limits *lim,
                               up_error *err);
int up_safetensors_encode_call(up_call *c, up_timing *t, up_http_resp *resp, up_error *err);

/* ---- KServe v2 (kserve.c): up_call_decode_kserve in api.h, and ---- */
int up_kserve_encode_call(up_call *c, up_timing *t, up_http_resp *resp, up_error *err);
/* The outputs the answer carries, in order (list), and which are sent as
 * binary data (bin); returns how many. */
int up_kserve_answer_outputs(const up_call *c, int list[UP_MAX_OUTPUTS], int bin[UP_MAX_OUTPUTS]);
/* Bytes at src inside a buffer the decoder owns (base), as tensor t
 * without a copy when it can: a view when src is aligned for dt; else
 * moved down to an aligned spot at or above base + *floor (bytes below
 * *floor are in use; everything between it and src is dead: a header
 * already read); else a charged, aligned copy. *floor moves past the
 * tensor's bytes. Binary KServe inputs and gRPC's raw_input_contents. */
int up_tensor_in_place(char *base, size_t *floor, char *src, up_tensor *t, up_dtype dt, int rank,
                       const int64_t *shape, size_t nbytes, const up_charge *charge,
                       const char *field, up_error *err);
/* An input's datatype by its KServe name; UP_DT_INVALID with err (400:
 * the bytes cannot be read at all) for one unpoold does not take. */
up_dtype up_kserve_dtype(const char *name, const char *field, up_error *err);
/* An input's element and byte counts, overflow-checked (413), and
 * --max-elements (413). 0 or -1 with err. */
int up_kserve_tensor_size(up_dtype dt, const int64_t *shape, int rank, const up_limits *lim,
                          const char *field, int64_t *numel, int64_t *nbytes, up_error *err);
/* A requested output by name (KServe REST and gRPC): its index, appended
 * to req[*n_req]; -1 with err for an unknown name (422) or one asked for
 * twice (400). req holds UP_MAX_OUTPUTS. */
int up_kserve_request_output(const up_call *c, const char *name, int *req, int *n_req,
                             up_error *err);
/* How model metadata shows a tensor (REST and gRPC alike): its rank (0 =
 * any rank, shown as [-1]) and datatype. */
int up_kserve_shown_rank(const up_op_def *op, up_io_kind kind);
const char *up_kserve_shown_dtype(up_io_kind kind);

/* ---- shared-memory tensors (shm_ref.c) ---- */

/* A reference to bytes of a registered region, as a request names it. */
typedef struct up_shm_ref {
    char region[64];
    uint64_t offset, byte_size;
} up_shm_ref;

/* A JSON integer in [0, 2^53] (offsets, byte counts). 0 or -1. */
int up_json_u64(const cJSON *v, uint64_t *out);
/* Input idx as a view of the region (byte_size must be shape x dtype). */
int up_shm_bind_input(up_call *c, int idx, const up_shm_ref *ref, up_dtype dt, int rank,
                      const int64_t *shape, const char *field, up_error *err);
/* Output idx written into the region (the plan checks its size). */
int up_shm_bind_output(up_call *c, int idx, const up_shm_ref *ref, const char *field,
                       up_error *err);
/* 422 when an output's bytes overlap an input's or another output's. */
int up_shm_check_overlap(const up_call *c, up_error *err);
void up_shm_release_all(up_call *c);

#endif
