/* kserve.c -- the KServe Open Inference Protocol v2 (REST), each op a model.
 *
 * Triton, KServe, Seldon/MLServer and OpenVINO Model Server speak this
 * protocol, so their clients (tritonclient.http among them) work against
 * unpoold unchanged:
 *
 *   request  {"id"?, "parameters"?: {op params, binary_data_output},
 *             "inputs": [{"name", "shape", "datatype",
 *                         "data" | "parameters": {"binary_data_size": N}}],
 *             "outputs"?: [{"name", "parameters"?: {"binary_data": bool}}]}
 *   response {"model_name", "model_version": "1", "id"?, "parameters",
 *             "outputs": [{"name", "datatype", "shape",
 *                          "data" | "parameters": {"binary_data_size": N}}]}
 *
 * The binary tensor data extension: with Inference-Header-Content-Length
 * the body is that many bytes of JSON followed by the raw little-endian
 * tensors of the inputs that declare binary_data_size, in input order; the
 * answer is framed the same way. JSON "data" arrays are flat row-major
 * (nested lists are accepted and flattened) and read with /v1's rules
 * (up_json_number): NaN and infinities as bare NaN/Infinity (what
 * tritonclient's JSON mode sends) or as the strings "NaN", "Infinity",
 * "-Infinity" that answers carry, null as NaN. An unknown datatype is a
 * 400 like any other framing error: the bytes cannot be read at all.
 *
 * Op params travel in the request "parameters"; KServe clients often send
 * only scalars, so list params may come as strings ("4,4"). Triton's
 * scheduling params are understood: priority and timeout are accepted and
 * ignored (the daemon's own deadline applies), sequence_* are a 422 because
 * the ops are stateless.
 *
 * Zero copy: a binary input whose bytes are aligned for its dtype becomes
 * a view into the request body. One that is not (the JSON in front has any
 * length) is moved down, inside the same body, to an aligned spot in the
 * JSON header region, which is dead once the header has been read: a
 * memmove instead of a fresh allocation plus copy. Number lists of the
 * header are span nodes that point into those bytes (json_parse.c), so
 * binary inputs are placed only after every input, shape and output of the
 * header has been read. Only when no aligned spot is free below it does
 * the input get its own copy (charged to the request).
 * Binary outputs are sent from the output tensors themselves, behind the
 * JSON header (encode.c: the response tail).
 *
 * The system shared-memory extension: an input or requested output whose
 * parameters name shared_memory_region and shared_memory_byte_size (and
 * shared_memory_offset) lives in a region the client registered with the
 * server: inputs are read in place, outputs written there by the kernel
 * (shm_ref.c), and such an output is answered with its metadata and the
 * region, no data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/convert.h"
#include "codecs.h"
#include "json_write.h"
#include "numfmt.h"

/* Which outputs the request asked for, and in which form. */
typedef struct ks_state {
    int n_req;                  /* outputs listed in "outputs"; 0 = all of them */
    int req[UP_MAX_OUTPUTS];    /* op output indices in request order */
    int binary[UP_MAX_OUTPUTS]; /* by op output index: 1, 0, or -1 = request default */
} ks_state;

/* ---- decoding: request parameters -------------------------------------- */

static int read_parameters(up_call *c, const cJSON *params, up_error *err)
{
    const cJSON *k;
    if (!cJSON_IsObject(params))
        return up_errorf(err, UP_E_MALFORMED, "parameters", "parameters must be an object");
    cJSON_ArrayForEach(k, params) {
        const char *name = k->string;
        if (strcmp(name, "binary_data_output") == 0) {
            if (!cJSON_IsBool(k))
                return up_errorf(err, UP_E_MALFORMED, "parameters.binary_data_output",
                                 "binary_data_output must be true or false");
            c->kserve_binary_out = cJSON_IsTrue(k);
        } else if (strcmp(name, "priority") == 0 || strcmp(name, "timeout") == 0) {
            if (!cJSON_IsNumber(k))
                return up_errorf(err, UP_E_MALFORMED, "parameters", "%s must be a number", name);
        } else if (strncmp(name, "sequence_", 9) == 0) {
            return up_errorf(err, UP_E_INVALID, "parameters", "%.40s: unpoold models are "
                             "stateless; sequences are not supported", name);
        } else if (up_param_from_json(&c->plan, name, k, "parameters", err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- decoding: JSON tensor data ---------------------------------------- */

/* A data list (a span node, nested lists flattened) into t, straight from
 * its bytes; the tensor is charged before it is allocated. */
static int tensor_from_json(up_tensor *t, up_dtype dt, int rank, const int64_t *shape,
                            int64_t numel, const cJSON *data, const up_charge *ch,
                            const char *field, up_error *err)
{
    up_json_list l;
    if (!up_json_list_of(data, &l))
        return up_errorf(err, UP_E_MALFORMED, field, "data must be a list of numbers");
    if (l.height > UP_MAX_RANK) return up_errorf(err, UP_E_MALFORMED, field, "data nested too deeply");
    if (l.leaves != numel) /* well-formed, but not this shape: 422, as on /v1 */
        return up_errorf(err, UP_E_INVALID, field,
                         "data has %lld elements; shape needs %lld", (long long)l.leaves, (long long)numel);
    if (ch && ch->take && numel > 0 &&
        ch->take(ch->ctx, numel * (int64_t)up_dtype_size(dt), "decoded KServe tensor", err) < 0)
        return -1;
    if (up_tensor_alloc(t, dt, rank, shape) < 0)
        return up_errorf(err, UP_E_OVERLOADED, field, "out of memory");
    return up_json_fill_tensor(t, &l, "data element", field, err);
}

/* ---- decoding: binary tensor data -------------------------------------- */

/* A binary input read from the header, placed once the header is dead. */
typedef struct ks_pending {
    int idx, rank;
    up_dtype dt;
    int64_t shape[UP_MAX_RANK];
    size_t nbytes;
    char field[UP_ERR_FIELD_LEN];
} ks_pending;

typedef struct ks_binary {
    char *base;     /* the request body */
    size_t pos;     /* next unread byte of the binary region */
    size_t len;     /* body length */
    size_t floor;   /* bytes below this may be reused (dead JSON, moved data) */
    const up_charge *charge; /* copies are charged here first */
    int n_pending;
    ks_pending pending[UP_MAX_INPUTS];
} ks_binary;

static uintptr_t align_up(uintptr_t v, uintptr_t a) { return (v + a - 1) / a * a; }

int up_tensor_in_place(char *base, size_t *floor, char *src, up_tensor *t, up_dtype dt, int rank,
                       const int64_t *shape, size_t nbytes, const up_charge *charge,
                       const char *field, up_error *err)
{
    size_t es = up_dtype_size(dt);
    if ((uintptr_t)src % es == 0) {
        up_tensor_view(t, dt, rank, shape, src);
        *floor = (size_t)(src - base) + nbytes;
        return 0;
    }
    {
        uintptr_t lo = (uintptr_t)(base + *floor);
        uintptr_t dst = align_up(lo, 64);
        if (dst > (uintptr_t)src) dst = align_up(lo, es);
        if (dst <= (uintptr_t)src) {
            memmove((void *)dst, src, nbytes);
            up_tensor_view(t, dt, rank, shape, (void *)dst);
            *floor = (size_t)((char *)dst - base) + nbytes;
            return 0;
        }
    }
    if (charge && charge->take && nbytes > 0 &&
        charge->take(charge->ctx, (int64_t)nbytes, "a binary input's aligned copy", err) < 0)
        return -1;
    if (up_tensor_alloc(t, dt, rank, shape) < 0)
        return up_errorf(err, UP_E_OVERLOADED, field, "out of memory");
    memcpy(t->data, src, nbytes);
    *floor = (size_t)(src - base) + nbytes;
    return 0;
}

/* The next nbytes of the binary region as tensor t: in place when aligned,
 * else moved down into dead space, else copied. */
static int tensor_from_binary(ks_binary *bin, up_tensor *t, up_dtype dt, int rank,
                              const int64_t *shape, size_t nbytes, const char *field,
                              up_error *err)
{
    char *src = bin->base + bin->pos;
    if (nbytes > bin->len - bin->pos)
        return up_errorf(err, UP_E_MALFORMED, field,
                         "binary_data_size %zu runs past the end of the body (%zu bytes left)",
                         nbytes, bin->len - bin->pos);
    bin->pos += nbytes;
    return up_tensor_in_place(bin->base, &bin->floor, src, t, dt, rank, shape, nbytes,
                              bin->charge, field, err);
}

/* The binary inputs, in input order, once nothing of the header is read
 * any more (spans point into it). */
static int place_binaries(up_call *c, ks_binary *bin, up_error *err)
{
    for (int k = 0; k < bin->n_pending; k++) {
        ks_pending *q = &bin->pending[k];
        if (tensor_from_binary(bin, &c->plan.raw[q->idx], q->dt, q->rank, q->shape, q->nbytes,
                               q->field, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- decoding: one input ----------------------------------------------- */

up_dtype up_kserve_dtype(const char *name, const char *field, up_error *err)
{
    up_dtype dt = up_wire_from_kserve(name);
    if (dt == UP_DT_INVALID) /* framing: the bytes cannot be read at all */
        up_errorf(err, UP_E_MALFORMED, field,
                  "datatype \"%.32s\" is not supported (FP32 FP64 FP16 BF16 INT64 INT32 "
                  "INT16 INT8 UINT8 BOOL are)", name);
    return dt;
}

int up_kserve_tensor_size(up_dtype dt, const int64_t *shape, int rank, const up_limits *lim,
                          const char *field, int64_t *numel, int64_t *nbytes, up_error *err)
{
    if (up_shape_numel(shape, rank, numel) < 0 ||
        up_mul_i64(*numel, (int64_t)up_dtype_size(dt), nbytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, field, "shape overflows");
    if (lim && lim->max_elements > 0 && *numel > lim->max_elements)
        return up_errorf(err, UP_E_TOO_LARGE, field, "%lld elements, the limit is %lld",
                         (long long)*numel, (long long)lim->max_elements);
    return 0;
}

/* Triton's system shared-memory parameters, one at a time: 1 when k was
 * one of them (stored in ref, *seen gains its bit), 0 when it is not,
 * -1 on a bad value. */
static int shm_param(const cJSON *k, up_shm_ref *ref, int *seen, const char *field, up_error *err)
{
    if (strcmp(k->string, "shared_memory_region") == 0) {
        if (!cJSON_IsString(k) || !k->valuestring[0] || strlen(k->valuestring) >= sizeof(ref->region))
            return up_errorf(err, UP_E_MALFORMED, field, "shared_memory_region must be a name of "
                             "1 to %zu bytes", sizeof(ref->region) - 1);
        snprintf(ref->region, sizeof(ref->region), "%s", k->valuestring);
        *seen |= 1;
    } else if (strcmp(k->string, "shared_memory_offset") == 0) {
        if (up_json_u64(k, &ref->offset) < 0)
            return up_errorf(err, UP_E_MALFORMED, field,
                             "shared_memory_offset must be an integer from 0 to 2^53");
        *seen |= 2;
    } else if (strcmp(k->string, "shared_memory_byte_size") == 0) {
        if (up_json_u64(k, &ref->byte_size) < 0)
            return up_errorf(err, UP_E_MALFORMED, field,
                             "shared_memory_byte_size must be an integer from 0 to 2^53");
        *seen |= 4;
    } else {
        return 0;
    }
    return 1;
}

/* A complete shared-memory reference: region and byte size (the offset
 * defaults to 0, as in Triton). 1 when given, 0 when not, -1 when half. */
static int shm_complete(int seen, const char *field, up_error *err)
{
    if (!seen) return 0;
    if ((seen & 5) != 5)
        return up_errorf(err, UP_E_MALFORMED, field, "shared memory needs both "
                         "shared_memory_region and shared_memory_byte_size");
    return 1;
}

/* An input's parameters: binary_data_size (*n) or a shared-memory
 * reference (ref). 1 binary, 2 shared memory, 0 neither, -1 error. */
static int input_params(const cJSON *params, size_t *n, up_shm_ref *ref, const char *field,
                        up_error *err)
{
    const cJSON *k;
    int have = 0, seen = 0, r;
    if (!params) return 0;
    if (!cJSON_IsObject(params))
        return up_errorf(err, UP_E_MALFORMED, field, "parameters must be an object");
    cJSON_ArrayForEach(k, params) {
        if (strcmp(k->string, "binary_data_size") == 0) {
            uint64_t v;
            if (up_json_u64(k, &v) < 0)
                return up_errorf(err, UP_E_MALFORMED, field,
                                 "binary_data_size must be an integer from 0 to 2^53");
            *n = (size_t)v;
            have = 1;
        } else if ((r = shm_param(k, ref, &seen, field, err)) != 0) {
            if (r < 0) return -1;
        } else {
            return up_errorf(err, UP_E_INVALID, field, "unknown input parameter \"%.40s\"",
                             k->string);
        }
    }
    if ((r = shm_complete(seen, field, err)) < 0) return -1;
    if (r && have)
        return up_errorf(err, UP_E_MALFORMED, field,
                         "both binary_data_size and shared memory given");
    return r ? 2 : have;
}

static int read_input(up_call *c, const cJSON *in, ks_binary *bin, const up_limits *lim,
                      up_error *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
    const cJSON *dtj = cJSON_GetObjectItemCaseSensitive(in, "datatype");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
    char field[UP_ERR_FIELD_LEN];
    int64_t shape[UP_MAX_RANK], numel, nbytes;
    int rank, idx, has_bin;
    size_t bsize = 0;
    up_shm_ref ref = {.offset = 0};
    up_dtype dt;

    if (!cJSON_IsObject(in) || !cJSON_IsString(name))
        return up_errorf(err, UP_E_MALFORMED, "inputs", "each input needs a name");
    up_field(field, sizeof(field), "inputs", name->valuestring);
    idx = up_op_input_index(c->plan.op, name->valuestring);
    if (idx < 0)
        return up_errorf(err, UP_E_INVALID, field, "model %s has no input \"%.64s\"",
                         c->plan.op->name, name->valuestring);
    for (int k = 0; k < bin->n_pending; k++)
        if (bin->pending[k].idx == idx) idx = -1;
    if (idx < 0 || c->plan.raw[idx].data)
        return up_errorf(err, UP_E_MALFORMED, field, "input given twice");
    if (!cJSON_IsString(dtj))
        return up_errorf(err, UP_E_MALFORMED, field, "datatype must be a string");
    if ((dt = up_kserve_dtype(dtj->valuestring, field, err)) == UP_DT_INVALID) return -1;
    if (up_json_read_shape(cJSON_GetObjectItemCaseSensitive(in, "shape"), shape, &rank, field, err) < 0 ||
        up_kserve_tensor_size(dt, shape, rank, lim, field, &numel, &nbytes, err) < 0)
        return -1;
    has_bin = input_params(cJSON_GetObjectItemCaseSensitive(in, "parameters"), &bsize, &ref, field,
                           err);
    if (has_bin < 0) return -1;
    if (has_bin && data)
        return up_errorf(err, UP_E_MALFORMED, field, "both data and %s given",
                         has_bin == 2 ? "shared memory" : "binary_data_size");
    if (has_bin == 2) /* read in place from the client's region */
        return up_shm_bind_input(c, idx, &ref, dt, rank, shape, field, err);
    if (has_bin) {
        if (!bin->base)
            return up_errorf(err, UP_E_MALFORMED, field,
                             "binary_data_size without an Inference-Header-Content-Length header");
        if ((uint64_t)nbytes != bsize)
            return up_errorf(err, UP_E_MALFORMED, field,
                             "binary_data_size is %zu; shape and %s need %lld", bsize,
                             dtj->valuestring, (long long)nbytes);
        ks_pending *q = &bin->pending[bin->n_pending++]; /* idx is unique: < UP_MAX_INPUTS */
        *q = (ks_pending){.idx = idx, .rank = rank, .dt = dt, .nbytes = bsize};
        memcpy(q->shape, shape, sizeof(shape[0]) * (size_t)rank);
        snprintf(q->field, sizeof(q->field), "%s", field);
        return 0;
    }
    if (!cJSON_IsArray(data) && !up_json_list_of(data, &(up_json_list){0}))
        return up_errorf(err, UP_E_MALFORMED, field,
                         "input needs a data list or parameters.binary_data_size");
    return tensor_from_json(&c->plan.raw[idx], dt, rank, shape, numel, data, &c->plan.charge,
                            field, err);
}

/* ---- decoding: requested outputs --------------------------------------- */

int up_kserve_request_output(const up_call *c, const char *name, int *req, int *n_req,
                             up_error *err)
{
    int idx = up_op_output_index(c->plan.op, name);
    if (idx < 0)
        return up_errorf(err, UP_E_INVALID, "outputs", "model %s has no output \"%.64s\"",
                         c->plan.op->name, name);
    for (int j = 0; j < *n_req; j++)
        if (req[j] == idx)
            return up_errorf(err, UP_E_MALFORMED, "outputs", "output %.64s requested twice",
                             name);
    req[(*n_req)++] = idx;
    return idx;
}

static int read_outputs(up_call *c, const cJSON *outs, ks_state *st, up_error *err)
{
    const cJSON *o;
    if (!cJSON_IsArray(outs))
        return up_errorf(err, UP_E_MALFORMED, "outputs", "outputs must be a list");
    cJSON_ArrayForEach(o, outs) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "parameters"), *k;
        int idx;
        if (!cJSON_IsObject(o) || !cJSON_IsString(name))
            return up_errorf(err, UP_E_MALFORMED, "outputs", "each output needs a name");
        if ((idx = up_kserve_request_output(c, name->valuestring, st->req, &st->n_req, err)) < 0)
            return -1;
        if (params && !cJSON_IsObject(params))
            return up_errorf(err, UP_E_MALFORMED, "outputs", "parameters must be an object");
        up_shm_ref ref = {.offset = 0};
        int seen = 0, r;
        char field[UP_ERR_FIELD_LEN];
        up_field(field, sizeof(field), "outputs", name->valuestring);
        cJSON_ArrayForEach(k, params) {
            if (strcmp(k->string, "binary_data") == 0 && cJSON_IsBool(k))
                st->binary[idx] = cJSON_IsTrue(k);
            else if ((r = shm_param(k, &ref, &seen, field, err)) < 0)
                return -1;
            else if (r == 0)
                return up_errorf(err, UP_E_INVALID, "outputs",
                                 "output parameter \"%.40s\" is not supported", k->string);
        }
        /* written by the kernel into the region; the answer names it */
        if ((r = shm_complete(seen, field, err)) < 0 ||
            (r && up_shm_bind_output(c, idx, &ref, field, err) < 0))
            return -1;
    }
    return 0;
}

/* ---- decoding: the request --------------------------------------------- */

static int parse_header_length(const char *s, size_t body_len, size_t *out, up_error *err)
{
    uint64_t v = 0;
    const char *p = s;
    while (*p == ' ') p++;
    if (*p < '0' || *p > '9') goto bad;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10) goto bad;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    while (*p == ' ') p++;
    if (*p) goto bad;
    if (v > body_len)
        return up_errorf(err, UP_E_MALFORMED, "headers.inference-header-content-length",
                         "Inference-Header-Content-Length %llu is past the end of the %zu-byte body",
                         (unsigned long long)v, body_len);
    *out = (size_t)v;
    return 0;
bad:
    return up_errorf(err, UP_E_MALFORMED, "headers.inference-header-content-length",
                     "Inference-Header-Content-Length must be a byte count");
}

/* Characters (code points) of valid UTF-8 text: every byte but the
 * continuation bytes starts one. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static int read_request(up_call *c, const cJSON *root, ks_binary *bin, const up_limits *lim,
                        ks_state *st, up_error *err)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs"), *in;
    if (id) {
        /* counted in characters, as JSON Schema's maxLength counts them;
         * the parser has checked the UTF-8, so the echo is valid too */
        if (!cJSON_IsString(id) || utf8_chars(id->valuestring) > UP_KSERVE_ID_CHARS)
            return up_errorf(err, UP_E_MALFORMED, "id", "id must be a string of at most %d "
                             "characters", UP_KSERVE_ID_CHARS);
        snprintf(c->kserve_id, sizeof(c->kserve_id), "%s", id->valuestring);
    }
    if (params && read_parameters(c, params, err) < 0) return -1;
    if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) == 0)
        return up_errorf(err, UP_E_MALFORMED, "inputs", "inputs must be a non-empty list");
    cJSON_ArrayForEach(in, inputs)
        if (read_input(c, in, bin, lim, err) < 0) return -1;
    if (outs && read_outputs(c, outs, st, err) < 0) return -1;
    if (place_binaries(c, bin, err) < 0) return -1;
    if (bin->base && bin->pos != bin->len)
        return up_errorf(err, UP_E_MALFORMED, "body",
                         "%zu bytes after the JSON header are not claimed by any binary_data_size",
                         bin->len - bin->pos);
    return 0;
}

int up_call_decode_kserve(up_call *c, const up_op_def *op, const up_http_req *req,
                          const up_limits *lim, up_error *err)
{
    size_t hlen = req->body_len;
    ks_binary bin = {0};
    ks_state *st;
    cJSON *root = NULL;
    int rc = -1;
    up_json_req rq = {.lim = lim, .field = "body", .what = "the inference request"};

    up_call_init(c);
    up_plan_init(&c->plan, op);
    c->plan.charge = req->charge; /* decoders and kernels charge the request */
    c->shm = req->shm;
    rq.charge = bin.charge = &c->plan.charge;
    c->proto = UP_PROTO_KSERVE;
    c->out_format = UP_FMT_JSON;
    st = calloc(1, sizeof(*st));
    if (!st) return up_errorf(err, UP_E_OVERLOADED, "", "out of memory");
    for (int i = 0; i < UP_MAX_OUTPUTS; i++) st->binary[i] = -1;
    c->codec_state = st;
    c->codec_state_free = free;

    if (req->inference_header_length) {
        if (parse_header_length(req->inference_header_length, req->body_len, &hlen, err) < 0)
            return -1;
        bin.base = req->body;
        bin.pos = hlen;
        bin.len = req->body_len;
        bin.floor = 0; /* the JSON header is dead once parsed */
    }
    if (!req->body || hlen == 0)
        return up_errorf(err, UP_E_MALFORMED, "body", "empty inference request");
    if (!(root = up_json_parse_request(req->body, hlen, &rq, err))) return -1;
    if (!cJSON_IsObject(root)) {
        up_errorf(err, UP_E_MALFORMED, "body", "the inference request must be a JSON object");
        goto err;
    }
    if (read_request(c, root, &bin, lim, st, err) < 0) goto err;
    up_json_document_free(root);
    return up_call_prepare(c, lim, err);
err:
    up_json_document_free(root);
    return rc;
}

/* ---- encoding ----------------------------------------------------------- */

static void put_output(up_buf *b, const up_call *c, int i, int binary)
{
    const up_tensor *r = &c->plan.result[i];
    up_buf_printf(b, "{\"name\":\"%s\",\"datatype\":\"%s\",\"shape\":[", c->plan.op->outputs[i].name,
                  up_wire_kserve(r->dtype));
    for (int d = 0; d < r->rank; d++)
        up_buf_printf(b, "%s%lld", d ? "," : "", (long long)r->shape[d]);
    if (c->shm_out[i].name[0]) { /* in the client's region already: metadata only */
        up_buf_puts(b, "],\"parameters\":{\"shared_memory_region\":");
        up_json_put_string(b, c->shm_out[i].name);
        up_buf_printf(b, ",\"shared_memory_offset\":%llu,\"shared_memory_byte_size\":%llu}}",
                      (unsigned long long)c->shm_out[i].offset,
                      (unsigned long long)c->shm_out[i].byte_size);
    } else if (binary) {
        up_buf_printf(b, "],\"parameters\":{\"binary_data_size\":%zu}}", up_tensor_nbytes(r));
    } else {
        up_buf_puts(b, "],\"data\":");
        up_json_put_values(b, r);
        up_buf_puts(b, "}");
    }
}

int up_kserve_answer_outputs(const up_call *c, int list[UP_MAX_OUTPUTS], int bin[UP_MAX_OUTPUTS])
{
    const ks_state *st = c->codec_state;
    int n = 0;
    if (st && st->n_req) {
        for (int k = 0; k < st->n_req; k++) list[n++] = st->req[k];
    } else {
        for (int i = 0; i < c->plan.op->n_outputs; i++) list[n++] = i;
    }
    for (int k = 0; k < n; k++) {
        int flag = st ? st->binary[list[k]] : -1;
        bin[k] = flag >= 0 ? flag : c->kserve_binary_out;
        if (c->shm_out[list[k]].name[0]) bin[k] = 0; /* in a region: metadata only */
    }
    return n;
}

int up_kserve_encode_call(up_call *c, up_timing *t, up_http_resp *resp, up_error *err)
{
    int list[UP_MAX_OUTPUTS], bin[UP_MAX_OUTPUTS], n = up_kserve_answer_outputs(c, list, bin);
    int any_bin = 0;
    size_t blob_bytes = 0, json_len;
    up_buf *b = &resp->body;

    for (int k = 0; k < n; k++) {
        int i = list[k];
        if (!up_wire_kserve(c->plan.result[i].dtype))
            return up_errorf(err, UP_E_INTERNAL, "", "no KServe datatype for %s",
                             up_dtype_name(c->plan.result[i].dtype));
        if (bin[k]) blob_bytes += up_tensor_nbytes(&c->plan.result[i]);
        any_bin |= bin[k];
    }
    up_buf_reserve(b, 1024 + (blob_bytes < ((size_t)16 << 10) ? blob_bytes : 0));
    up_buf_printf(b, "{\"model_name\":\"%s\",\"model_version\":\"1\"", c->plan.op->name);
    if (c->kserve_id[0]) {
        up_buf_puts(b, ",\"id\":");
        /* escaped, and valid UTF-8 whatever the client sent */
        up_json_put_string(b, c->kserve_id);
    }
    if (t) {
        char s[192];
        size_t ns = up_fmt_timing(s, sizeof(s), t, 3, "\"", "_ms\":", ",");
        up_buf_puts(b, ",\"parameters\":{");
        up_buf_append(b, s, ns);
        up_buf_puts(b, "}");
    }
    up_buf_puts(b, ",\"outputs\":[");
    for (int k = 0; k < n; k++) {
        if (k) up_buf_puts(b, ",");
        put_output(b, c, list[k], bin[k]);
    }
    up_buf_puts(b, "]}");
    json_len = b->len;
    /* binary outputs follow the JSON as tail pieces, without a copy */
    for (int k = 0; k < n; k++)
        if (bin[k] && up_resp_put_output(c, list[k], resp) < 0) b->failed = 1;
    if (b->failed) return up_errorf(err, UP_E_OVERLOADED, "", "out of memory writing the answer");
    resp->status = 200;
    if (any_bin) {
        resp->content_type = "application/octet-stream";
        snprintf(resp->extra_header_name, sizeof(resp->extra_header_name), "%s",
                 "Inference-Header-Content-Length");
        snprintf(resp->extra_header_value, sizeof(resp->extra_header_value), "%zu", json_len);
    } else {
        resp->content_type = "application/json";
    }
    return 0;
}

/* ---- metadata ----------------------------------------------------------- */

int up_kserve_server_metadata(up_http_resp *resp, int shm)
{
    up_buf_printf(&resp->body,
                  "{\"name\":\"unpoold\",\"version\":\"%s\","
                  "\"extensions\":[\"binary_tensor_data\",\"parameters\"%s]}",
                  UP_VERSION, shm ? ",\"system_shared_memory\"" : "");
    if (resp->body.failed) return -1;
    resp->status = 200;
    resp->content_type = "application/json";
    return 0;
}

/* The rank a tensor is shown with: KServe has no variable rank, so the 2d
 * form (N, C, H, W) stands for every op that has one; -1 marks every
 * variable dim. An op that takes x of any rank (UP_OPF_ANY_RANK: resize)
 * has no form to stand for the others, so its x and y are shown as
 * Triton shows a dim it cannot know, a single -1 ([-1]), and the tensor
 * carries "parameters": {"min_rank", "max_rank"} for clients that read
 * further; clients that do not, ignore the extra key. 0 = variable rank. */
int up_kserve_shown_rank(const up_op_def *op, up_io_kind kind)
{
    int nsp = op->min_spatial <= 2 && op->max_spatial >= 2 ? 2 : op->min_spatial;
    if (kind == UP_IO_BIAS) return 1;
    if (kind == UP_IO_SAMPLES) return 3;
    if (kind == UP_IO_VALUES && (op->flags & UP_OPF_ANY_RANK)) return 0;
    return 2 + nsp;
}

const char *up_kserve_shown_dtype(up_io_kind kind)
{
    return kind == UP_IO_INDICES ? "INT64" : kind == UP_IO_MASK ? "UINT8" : "FP32";
}

static void put_io_list(up_buf *b, const up_op_def *op, const up_io_def *io, int n)
{
    up_buf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        int r = up_kserve_shown_rank(op, io[i].kind);
        up_buf_printf(b, "%s{\"name\":\"%s\",\"datatype\":\"%s\",\"shape\":[", i ? "," : "",
                      io[i].name, up_kserve_shown_dtype(io[i].kind));
        if (r == 0)
            up_buf_printf(b, "-1],\"parameters\":{\"min_rank\":1,\"max_rank\":%d}}", UP_MAX_RANK);
        else {
            for (int d = 0; d < r; d++) up_buf_printf(b, "%s-1", d ? "," : "");
            up_buf_puts(b, "]}");
        }
    }
    up_buf_puts(b, "]");
}

int up_kserve_model_metadata(const up_op_def *op, up_http_resp *resp)
{
    up_buf *b = &resp->body;
    up_buf_printf(b, "{\"name\":\"%s\",\"versions\":[\"1\"],\"platform\":\"unpoold\",\"inputs\":",
                  op->name);
    put_io_list(b, op, op->inputs, op->n_inputs);
    up_buf_puts(b, ",\"outputs\":");
    put_io_list(b, op, op->outputs, op->n_outputs);
    up_buf_puts(b, "}");
    if (b->failed) return -1;
    resp->status = 200;
    resp->content_type = "application/json";
    return 0;
}
