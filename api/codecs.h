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

/* ---- JSON (json_decode.c / json_encode.c) ---- */
/* One JSON value at s (leading whitespace skipped) as a cJSON tree, parsed
 * by json_parse.c; *end is where parsing stopped (at the fault on NULL).
 * Strict RFC 8259 (plus the bare words NaN, Infinity, -Infinity that
 * Python's json writes); nesting deeper than UP_JSON_MAX_DEPTH fails. */
#define UP_JSON_MAX_DEPTH 1000
cJSON *up_json_parse_value(const char *s, size_t n, const char **end);
/* Parse exactly one JSON value (whitespace around it allowed); NULL on a
 * syntax error or trailing bytes, with *at the offending byte offset. The
 * tree lives in this thread's JSON arena (json_arena.h): free it with
 * up_json_document_free() on the same thread, never cJSON_Delete(). The
 * _max form nests at most max_depth levels and, on NULL, sets *too_deep
 * (may be NULL) when that was the reason. */
cJSON *up_json_parse_document(const char *s, size_t n, size_t *at);
cJSON *up_json_parse_document_max(const char *s, size_t n, int max_depth, size_t *at,
                                  int *too_deep);
void up_json_document_free(cJSON *root); /* NULL is fine */
int up_json_decode_call(up_call *c, const up_http_req *req, const up_limits *lim,
                        up_error *err);
/* A parse failure at byte `at` of body (from up_json_parse_document*) as a
 * 400 on field "body", with a hint for the usual causes (quotes the shell
 * removed, single quotes, a trailing comma, a bare nan/inf). Returns -1. */
int up_json_syntax_error(up_error *err, const char *body, size_t len, size_t at, int too_deep,
                         int limit);
/* One JSON element as a number: numbers (bare NaN and Infinity included),
 * "NaN"/"Infinity"/"-Infinity" (and "nan", "inf", "-inf") strings, null
 * (NaN), true/false (1/0). 0, or -1 when v is none of those. */
int up_json_number(const cJSON *v, double *out);
int up_json_encode_call(up_call *c, up_timing *t, const char *request_id,
                        up_http_resp *resp, up_error *err);
/* One JSON tensor ({dtype, shape, data|data_b64} or nested lists) -> t
 * (owned copy). default_dtype applies to nested lists. field names it. */
int up_json_to_tensor(const cJSON *v, up_dtype default_dtype, const char *field,
                      const up_limits *lim, up_tensor *t, up_error *err);

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

#endif
