/* kserve_grpc.c -- KServe v2 over gRPC: ModelInferRequest bytes -> a
 * prepared call, a run call -> ModelInferResponse bytes, and the small
 * messages (health, metadata, shared memory). The same ops, params,
 * limits and errors as the REST side (kserve.c); only the encoding
 * differs.
 *
 * protobuf-c (Debian libprotobuf-c) parses and packs the messages, from
 * code generated at build time from api/proto/kserve_v2.proto. Its
 * allocator is ours: every byte an unpack allocates (strings, arrays,
 * the raw_input_contents copies) is charged to the request before it is
 * allocated, so a hostile message costs what the budget allows and no
 * more. A raw input becomes a view of its unpacked bytes (malloc's
 * alignment suits every dtype): one copy out of the transport's buffer,
 * none after.
 *
 * The answer is written by protobuf-c without raw_output_contents, then
 * each output's field tag and length are appended by hand and its bytes
 * follow as a piece of its own: the transport sends the result tensor
 * itself. Protobuf allows fields in any order, and raw_output_contents is
 * the last field number anyway. Outputs are always answered as
 * raw_output_contents, as Triton does and tritonclient expects.
 *
 * Op params come in `parameters` as InferParameter values and are read as
 * the REST side reads KServe's scalars (up_param_from_text): int64 "2",
 * bool "true", double printed exactly ("%.17g"), string "2,2" for lists. */
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/convert.h"
#include "codecs.h"
#include "kserve_grpc.h"
#include "kserve_v2.pb-c.h"

/* ---- status codes and methods ------------------------------------------ */

int up_grpc_code(const up_error *err)
{
    switch (up_err_status(err)) {
    case 200: return UP_GRPC_OK;
    case 400: case 405: case 406: case 415: case 422: return UP_GRPC_INVALID_ARGUMENT;
    case 401: return UP_GRPC_UNAUTHENTICATED;
    case 404: return UP_GRPC_NOT_FOUND;
    /* Triton answers INVALID_ARGUMENT for a message over its size limit;
     * RESOURCE_EXHAUSTED says what happened (a limit, not a bad field)
     * and is what gRPC itself uses for messages over the limit. */
    case 413: return UP_GRPC_RESOURCE_EXHAUSTED;
    case 503: return UP_GRPC_UNAVAILABLE;
    case 504: return UP_GRPC_DEADLINE_EXCEEDED;
    default: return UP_GRPC_INTERNAL;
    }
}

const char *up_grpc_code_name(int code)
{
    switch (code) {
    case UP_GRPC_OK: return "OK";
    case UP_GRPC_CANCELLED: return "CANCELLED";
    case UP_GRPC_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case UP_GRPC_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case UP_GRPC_NOT_FOUND: return "NOT_FOUND";
    case UP_GRPC_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case UP_GRPC_UNIMPLEMENTED: return "UNIMPLEMENTED";
    case UP_GRPC_INTERNAL: return "INTERNAL";
    case UP_GRPC_UNAVAILABLE: return "UNAVAILABLE";
    case UP_GRPC_UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
    }
}

#define UP_GRPC_SERVICE "/inference.GRPCInferenceService/"
static const char *const method_names[UP_GM_COUNT] = {
    [UP_GM_SERVER_LIVE] = "ServerLive",
    [UP_GM_SERVER_READY] = "ServerReady",
    [UP_GM_MODEL_READY] = "ModelReady",
    [UP_GM_SERVER_METADATA] = "ServerMetadata",
    [UP_GM_MODEL_METADATA] = "ModelMetadata",
    [UP_GM_MODEL_INFER] = "ModelInfer",
    [UP_GM_SHM_STATUS] = "SystemSharedMemoryStatus",
    [UP_GM_SHM_REGISTER] = "SystemSharedMemoryRegister",
    [UP_GM_SHM_UNREGISTER] = "SystemSharedMemoryUnregister",
};

up_grpc_method up_grpc_method_of(const char *path, size_t n)
{
    size_t pre = sizeof(UP_GRPC_SERVICE) - 1;
    if (n <= pre || memcmp(path, UP_GRPC_SERVICE, pre) != 0) return UP_GM_UNKNOWN;
    for (int m = 0; m < UP_GM_COUNT; m++)
        if (strlen(method_names[m]) == n - pre && memcmp(path + pre, method_names[m], n - pre) == 0)
            return (up_grpc_method)m;
    return UP_GM_UNKNOWN;
}

const char *up_grpc_method_name(up_grpc_method m)
{
    return m >= 0 && m < UP_GM_COUNT ? method_names[m] : "unknown";
}

/* ---- the charged allocator ---------------------------------------------- */

/* protobuf-c's allocator, charging the request first. A refused charge
 * makes the unpack fail; the error is the accountant's (503 or 413). */
typedef struct pb_charged {
    ProtobufCAllocator alloc;
    const up_charge *charge;
    up_error err;
    int refused;
} pb_charged;

static void *pb_alloc(void *ctx, size_t n)
{
    pb_charged *a = ctx;
    if (a->refused) return NULL;
    if (a->charge && a->charge->take && n > 0 &&
        a->charge->take(a->charge->ctx, (int64_t)n, "the gRPC message", &a->err) < 0) {
        a->refused = 1;
        return NULL;
    }
    return malloc(n ? n : 1);
}

static void pb_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static void pb_charged_init(pb_charged *a, const up_charge *charge)
{
    memset(a, 0, sizeof(*a));
    a->alloc = (ProtobufCAllocator){.alloc = pb_alloc, .free = pb_free, .allocator_data = a};
    a->charge = charge;
    up_error_clear(&a->err);
}

/* Unpack msg as desc, charged; NULL with err filled. */
static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *desc, pb_charged *a,
                                const void *msg, size_t n, up_error *err)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &a->alloc, n, msg);
    if (m) return m;
    if (a->refused) {
        *err = a->err;
        return NULL;
    }
    return up_errorf(err, UP_E_MALFORMED, "message", "the %s message is not valid protobuf",
                     desc->short_name), NULL;
}

/* ---- decoding: parameters ----------------------------------------------- */

/* An InferParameter as the text REST's KServe scalars are read from. */
static int param_text(const Inference__InferParameter *v, char *out, size_t cap)
{
    switch (v ? v->parameter_choice_case : 0) {
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM:
        snprintf(out, cap, "%s", v->bool_param ? "true" : "false");
        return 0;
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM:
        snprintf(out, cap, "%lld", (long long)v->int64_param);
        return 0;
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM:
        snprintf(out, cap, "%llu", (unsigned long long)v->uint64_param);
        return 0;
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_DOUBLE_PARAM:
        snprintf(out, cap, "%.17g", v->double_param); /* round-trips exactly */
        return 0;
    default:
        return -1; /* string params are read in place; no value at all is an error */
    }
}

static int set_param(up_call *c, const char *name, const Inference__InferParameter *v,
                     up_error *err)
{
    char text[40];
    if (v && v->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM)
        return up_param_from_text(&c->plan, name, v->string_param, "parameters", err);
    if (param_text(v, text, sizeof(text)) < 0)
        return up_errorf(err, UP_E_MALFORMED, "parameters", "parameter %.40s has no value", name);
    return up_param_from_text(&c->plan, name, text, "parameters", err);
}

static int read_parameters(up_call *c, const Inference__ModelInferRequest *rq, up_error *err)
{
    for (size_t i = 0; i < rq->n_parameters; i++) {
        const char *name = rq->parameters[i]->key;
        const Inference__InferParameter *v = rq->parameters[i]->value;
        /* outputs are always raw bytes here; Triton's scheduling hints
         * are accepted and the daemon's own deadline applies (as on REST) */
        if (strcmp(name, "binary_data_output") == 0 || strcmp(name, "priority") == 0 ||
            strcmp(name, "timeout") == 0)
            continue;
        if (strncmp(name, "sequence_", 9) == 0)
            return up_errorf(err, UP_E_INVALID, "parameters", "%.40s: unpoold models are "
                             "stateless; sequences are not supported", name);
        if (set_param(c, name, v, err) < 0) return -1;
    }
    return 0;
}

/* A non-negative integer InferParameter (offsets, byte sizes). */
static int param_u64(const Inference__InferParameter *v, uint64_t *out)
{
    if (!v) return -1;
    if (v->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM &&
        v->int64_param >= 0) {
        *out = (uint64_t)v->int64_param;
        return 0;
    }
    if (v->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM) {
        *out = v->uint64_param;
        return 0;
    }
    return -1;
}

/* A tensor's parameters: Triton's shared-memory reference (1 when one is
 * given, 0 when none), binary_data and binary_data_size accepted and
 * ignored (gRPC carries bytes natively); anything else is a 422. */
/* Triton's tensor parameters are a handful; more is not a request. */
#define UP_GRPC_MAX_TENSOR_PARAMS 16
typedef struct pb_entry {
    const char *key;
    const Inference__InferParameter *value;
} pb_entry;

static int tensor_params(const pb_entry *p, size_t n, up_shm_ref *ref, const char *field,
                         up_error *err)
{
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = p[i].key;
        const Inference__InferParameter *v = p[i].value;
        if (strcmp(k, "shared_memory_region") == 0) {
            if (!v || v->parameter_choice_case !=
                          INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM ||
                strlen(v->string_param) >= sizeof(ref->region) || !v->string_param[0])
                return up_errorf(err, UP_E_MALFORMED, field, "shared_memory_region must be a "
                                 "name of 1-%zu bytes", sizeof(ref->region) - 1);
            snprintf(ref->region, sizeof(ref->region), "%s", v->string_param);
            seen |= 1;
        } else if (strcmp(k, "shared_memory_byte_size") == 0) {
            if (param_u64(v, &ref->byte_size) < 0)
                return up_errorf(err, UP_E_MALFORMED, field,
                                 "shared_memory_byte_size must be a non-negative integer");
            seen |= 2;
        } else if (strcmp(k, "shared_memory_offset") == 0) {
            if (param_u64(v, &ref->offset) < 0)
                return up_errorf(err, UP_E_MALFORMED, field,
                                 "shared_memory_offset must be a non-negative integer");
        } else if (strcmp(k, "binary_data") != 0 && strcmp(k, "binary_data_size") != 0) {
            return up_errorf(err, UP_E_INVALID, field, "tensor parameter \"%.40s\" is not "
                             "supported", k);
        }
    }
    if (seen && seen != 3)
        return up_errorf(err, UP_E_MALFORMED, field, "shared memory needs both "
                         "shared_memory_region and shared_memory_byte_size");
    return seen ? 1 : 0;
}

/* ---- decoding: typed contents ------------------------------------------- */

/* The typed field a datatype is read from, and how many values it holds. */
static size_t contents_count(const Inference__InferTensorContents *t, up_dtype dt)
{
    switch (dt) {
    case UP_F32: case UP_F16: case UP_BF16: return t->n_fp32_contents;
    case UP_F64: return t->n_fp64_contents;
    case UP_I64: return t->n_int64_contents;
    case UP_I32: case UP_I16: case UP_I8: return t->n_int_contents;
    case UP_U8: return t->n_uint_contents;
    case UP_BOOL: return t->n_bool_contents;
    default: return 0;
    }
}

static const char *contents_field(up_dtype dt)
{
    switch (dt) {
    case UP_F32: case UP_F16: case UP_BF16: return "fp32_contents";
    case UP_F64: return "fp64_contents";
    case UP_I64: return "int64_contents";
    case UP_I32: case UP_I16: case UP_I8: return "int_contents";
    case UP_U8: return "uint_contents";
    default: return "bool_contents";
    }
}

/* Values of the narrow integer types must fit them. */
static int fits(up_dtype dt, int64_t v)
{
    switch (dt) {
    case UP_I16: return v >= INT16_MIN && v <= INT16_MAX;
    case UP_I8: return v >= INT8_MIN && v <= INT8_MAX;
    case UP_U8: return v >= 0 && v <= UINT8_MAX;
    default: return 1;
    }
}

static int fill_contents(up_tensor *t, const Inference__InferTensorContents *tc, int64_t n,
                         const char *field, up_error *err)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t v = 0;
        switch (t->dtype) {
        case UP_F32: ((float *)t->data)[i] = tc->fp32_contents[i]; continue;
        case UP_F16: ((uint16_t *)t->data)[i] = up_f32_to_f16(tc->fp32_contents[i]); continue;
        case UP_BF16: ((uint16_t *)t->data)[i] = up_f32_to_bf16(tc->fp32_contents[i]); continue;
        case UP_F64: ((double *)t->data)[i] = tc->fp64_contents[i]; continue;
        case UP_I64: ((int64_t *)t->data)[i] = tc->int64_contents[i]; continue;
        case UP_BOOL: ((uint8_t *)t->data)[i] = tc->bool_contents[i] != 0; continue;
        case UP_U8: v = tc->uint_contents[i]; break;
        default: v = tc->int_contents[i]; break;
        }
        if (!fits(t->dtype, v))
            return up_errorf(err, UP_E_INVALID, field, "element %lld (%lld) does not fit %s",
                             (long long)i, (long long)v, up_dtype_name(t->dtype));
        switch (t->dtype) {
        case UP_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
        case UP_I16: ((int16_t *)t->data)[i] = (int16_t)v; break;
        case UP_I8: ((int8_t *)t->data)[i] = (int8_t)v; break;
        default: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
        }
    }
    return 0;
}

static int tensor_from_contents(up_tensor *t, up_dtype dt, int rank, const int64_t *shape,
                                int64_t numel, const Inference__InferTensorContents *tc,
                                const up_charge *ch, const char *field, up_error *err)
{
    size_t got = contents_count(tc, dt);
    if ((uint64_t)got != (uint64_t)numel)
        return up_errorf(err, UP_E_INVALID, field, "contents.%s has %zu values; the shape "
                         "needs %lld", contents_field(dt), got, (long long)numel);
    if (ch && ch->take && numel > 0 &&
        ch->take(ch->ctx, numel * (int64_t)up_dtype_size(dt), "decoded gRPC tensor", err) < 0)
        return -1;
    if (up_tensor_alloc(t, dt, rank, shape) < 0)
        return up_errorf(err, UP_E_OVERLOADED, field, "out of memory");
    return fill_contents(t, tc, numel, field, err);
}

/* ---- decoding: the request ---------------------------------------------- */

/* What a decoded gRPC call keeps: the unpacked message (raw inputs are
 * views of it) and the outputs asked for. */
/* Where a raw_input_contents entry (field 7) sits in the message: the
 * field from its tag (start), its bytes at off. */
typedef struct raw_span {
    size_t start, off, len;
} raw_span;

typedef struct grpc_state {
    pb_charged alloc;
    Inference__ModelInferRequest *rq; /* the message without its raw entries */
    char *msg;                 /* the message as received: raw inputs are views of it */
    size_t floor;              /* bytes of msg below this hold placed inputs */
    raw_span raw[UP_MAX_INPUTS];
    int n_raw;
    int n_req;                 /* outputs listed; 0 = every output */
    int req[UP_MAX_OUTPUTS];
} grpc_state;

static void grpc_state_free(void *p)
{
    grpc_state *st = p;
    if (st->rq) protobuf_c_message_free_unpacked(&st->rq->base, &st->alloc.alloc);
    up_buf_release(st->msg);
    free(st);
}

/* ---- decoding: raw_input_contents in place ---------------------------------- */

static int read_varint(const uint8_t *p, size_t n, size_t *at, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *at < n; shift += 7) {
        uint8_t b = p[(*at)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Find the raw_input_contents entries among the message's top-level
 * fields, checking the wire format of every field on the way; the other
 * fields are what protobuf-c unpacks. Written by hand (the rest is
 * protobuf-c's) because protobuf-c copies every bytes field: a 64 MiB
 * input would be held twice. */
static int find_raw(const uint8_t *m, size_t n, grpc_state *st, up_error *err)
{
    size_t at = 0;
    while (at < n) {
        size_t start = at;
        uint64_t key, len;
        if (read_varint(m, n, &at, &key) < 0 || key >> 3 == 0) goto bad;
        switch (key & 7) {
        case 0:
            if (read_varint(m, n, &at, &len) < 0) goto bad;
            break;
        case 1:
            if (n - at < 8) goto bad;
            at += 8;
            break;
        case 5:
            if (n - at < 4) goto bad;
            at += 4;
            break;
        case 2:
            if (read_varint(m, n, &at, &len) < 0 || len > n - at) goto bad;
            if (key >> 3 == 7) {
                if (st->n_raw == UP_MAX_INPUTS)
                    return up_errorf(err, UP_E_MALFORMED, "raw_input_contents",
                                     "more than %d raw_input_contents entries", UP_MAX_INPUTS);
                st->raw[st->n_raw++] = (raw_span){start, at, (size_t)len};
            }
            at += len;
            break;
        default:
            goto bad;
        }
    }
    return 0;
bad:
    return up_errorf(err, UP_E_MALFORMED, "message",
                     "the ModelInferRequest message is not valid protobuf");
}

/* The message's other fields, unpacked by protobuf-c from a charged copy
 * of them (the raw entries left out). */
static int unpack_rest(const char *m, size_t n, grpc_state *st, up_error *err)
{
    size_t rest = n, at = 0, out = 0;
    char *buf;
    for (int i = 0; i < st->n_raw; i++) rest -= st->raw[i].off + st->raw[i].len - st->raw[i].start;
    if (!(buf = pb_alloc(&st->alloc, rest))) {
        if (st->alloc.refused) *err = st->alloc.err;
        else up_errorf(err, UP_E_OVERLOADED, "", "out of memory");
        return -1;
    }
    for (int i = 0; i <= st->n_raw; i++) {
        size_t end = i < st->n_raw ? st->raw[i].start : n;
        memcpy(buf + out, m + at, end - at);
        out += end - at;
        if (i < st->n_raw) at = st->raw[i].off + st->raw[i].len;
    }
    st->rq = (Inference__ModelInferRequest *)unpack(&inference__model_infer_request__descriptor,
                                                    &st->alloc, buf, out, err);
    pb_free(&st->alloc, buf);
    return st->rq ? 0 : -1;
}

static int read_shape(const Inference__ModelInferRequest__InferInputTensor *in, int64_t *shape,
                      int *rank, const char *field, up_error *err)
{
    if (in->n_shape > UP_MAX_RANK)
        return up_errorf(err, UP_E_MALFORMED, field, "rank %zu; at most %d", in->n_shape,
                         UP_MAX_RANK);
    for (size_t d = 0; d < in->n_shape; d++) {
        if (in->shape[d] < 0)
            return up_errorf(err, UP_E_MALFORMED, field, "shape[%zu] is negative", d);
        shape[d] = in->shape[d];
    }
    *rank = (int)in->n_shape;
    return 0;
}

static int read_input(up_call *c, const Inference__ModelInferRequest__InferInputTensor *in,
                      grpc_state *st, int *next_raw, const up_limits *lim, up_error *err)
{
    char field[UP_ERR_FIELD_LEN];
    int64_t shape[UP_MAX_RANK], numel, nbytes;
    int rank = 0, idx, shm;
    up_shm_ref ref = {.offset = 0};
    up_dtype dt;

    up_field(field, sizeof(field), "inputs", in->name);
    idx = up_op_input_index(c->plan.op, in->name);
    if (idx < 0)
        return up_errorf(err, UP_E_INVALID, field, "model %s has no input \"%.64s\"",
                         c->plan.op->name, in->name);
    if (c->plan.raw[idx].data || c->shm_in[idx].pin)
        return up_errorf(err, UP_E_MALFORMED, field, "input given twice");
    if ((dt = up_kserve_dtype(in->datatype, field, err)) == UP_DT_INVALID) return -1;
    if (read_shape(in, shape, &rank, field, err) < 0 ||
        up_kserve_tensor_size(dt, shape, rank, lim, field, &numel, &nbytes, err) < 0)
        return -1;
    {
        pb_entry e[UP_GRPC_MAX_TENSOR_PARAMS];
        if (in->n_parameters > UP_GRPC_MAX_TENSOR_PARAMS)
            return up_errorf(err, UP_E_MALFORMED, field, "at most %d tensor parameters",
                             UP_GRPC_MAX_TENSOR_PARAMS);
        for (size_t i = 0; i < in->n_parameters; i++)
            e[i] = (pb_entry){in->parameters[i]->key, in->parameters[i]->value};
        if ((shm = tensor_params(e, in->n_parameters, &ref, field, err)) < 0) return -1;
    }
    if (shm && in->contents)
        return up_errorf(err, UP_E_MALFORMED, field, "both contents and shared memory given");
    if (shm) return up_shm_bind_input(c, idx, &ref, dt, rank, shape, field, err);
    if (in->contents)
        return tensor_from_contents(&c->plan.raw[idx], dt, rank, shape, numel, in->contents,
                                    &c->plan.charge, field, err);
    if (*next_raw >= st->n_raw)
        return up_errorf(err, UP_E_MALFORMED, field, "input has no data: neither contents nor "
                         "a raw_input_contents entry (%d given)", st->n_raw);
    {
        const raw_span *raw = &st->raw[(*next_raw)++];
        if ((uint64_t)raw->len != (uint64_t)nbytes)
            return up_errorf(err, UP_E_INVALID, field, "raw_input_contents has %zu bytes; "
                             "shape and %s need %lld", raw->len, in->datatype, (long long)nbytes);
        /* in place: the message lives as long as the call */
        return up_tensor_in_place(st->msg, &st->floor, st->msg + raw->off, &c->plan.raw[idx], dt,
                                  rank, shape, raw->len, &c->plan.charge, field, err);
    }
}

static int read_outputs(up_call *c, const Inference__ModelInferRequest *rq, grpc_state *st,
                        up_error *err)
{
    for (size_t k = 0; k < rq->n_outputs; k++) {
        const Inference__ModelInferRequest__InferRequestedOutputTensor *o = rq->outputs[k];
        char field[UP_ERR_FIELD_LEN];
        up_shm_ref ref = {.offset = 0};
        pb_entry e[UP_GRPC_MAX_TENSOR_PARAMS];
        int idx, shm;
        if ((idx = up_kserve_request_output(c, o->name, st->req, &st->n_req, err)) < 0)
            return -1;
        up_field(field, sizeof(field), "outputs", o->name);
        if (o->n_parameters > UP_GRPC_MAX_TENSOR_PARAMS)
            return up_errorf(err, UP_E_MALFORMED, field, "at most %d tensor parameters",
                             UP_GRPC_MAX_TENSOR_PARAMS);
        for (size_t i = 0; i < o->n_parameters; i++)
            e[i] = (pb_entry){o->parameters[i]->key, o->parameters[i]->value};
        if ((shm = tensor_params(e, o->n_parameters, &ref, field, err)) < 0) return -1;
        if (shm && up_shm_bind_output(c, idx, &ref, field, err) < 0) return -1;
    }
    return 0;
}

static int read_request(up_call *c, const Inference__ModelInferRequest *rq, grpc_state *st,
                        const up_limits *lim, up_error *err)
{
    int next_raw = 0;
    if (strlen(rq->id) > UP_KSERVE_ID_CHARS * 4)
        return up_errorf(err, UP_E_MALFORMED, "id", "id must be at most %d characters",
                         UP_KSERVE_ID_CHARS);
    snprintf(c->kserve_id, sizeof(c->kserve_id), "%s", rq->id);
    if (read_parameters(c, rq, err) < 0) return -1;
    if (rq->n_inputs == 0)
        return up_errorf(err, UP_E_MALFORMED, "inputs", "inputs must be a non-empty list");
    if (lim && lim->max_inputs > 0 && rq->n_inputs > (size_t)lim->max_inputs)
        return up_errorf(err, UP_E_TOO_LARGE, "inputs", "%zu inputs, the limit is %d",
                         rq->n_inputs, lim->max_inputs);
    for (size_t i = 0; i < rq->n_inputs; i++)
        if (read_input(c, rq->inputs[i], st, &next_raw, lim, err) < 0) return -1;
    if (next_raw != st->n_raw)
        return up_errorf(err, UP_E_MALFORMED, "raw_input_contents", "%d raw_input_contents "
                         "entries, but %d inputs read theirs from it", st->n_raw, next_raw);
    if (rq->n_outputs > UP_MAX_OUTPUTS)
        return up_errorf(err, UP_E_INVALID, "outputs", "model %s has %d outputs",
                         c->plan.op->name, c->plan.op->n_outputs);
    return read_outputs(c, rq, st, err);
}

/* The model a request names: an op of the registry, version "" or "1". */
static const up_op_def *find_model(const char *name, const char *version, up_error *err)
{
    const up_op_def *op = up_op_find(name);
    if (!op)
        return up_errorf(err, UP_E_NOT_FOUND, "model_name", "no model named \"%.64s\" (GET "
                         "/v1/ops lists them)", name), NULL;
    if (version[0] && strcmp(version, "1") != 0)
        return up_errorf(err, UP_E_NOT_FOUND, "model_version", "model %s has only version 1",
                         name), NULL;
    return op;
}

int up_grpc_decode_infer(up_call *c, char *msg, size_t n, const up_grpc_in *in,
                         const up_limits *lim, up_error *err)
{
    grpc_state *st;
    const up_op_def *op;
    up_call_init(c);
    up_plan_init(&c->plan, NULL);
    c->proto = UP_PROTO_KSERVE;
    c->shm = in->shm;
    if (!(st = calloc(1, sizeof(*st)))) {
        up_buf_release(msg);
        return up_errorf(err, UP_E_OVERLOADED, "", "out of memory");
    }
    st->msg = msg;
    c->codec_state = st;
    c->codec_state_free = grpc_state_free;
    pb_charged_init(&st->alloc, &in->charge);
    if (find_raw((const uint8_t *)msg, n, st, err) < 0 || unpack_rest(msg, n, st, err) < 0)
        return -1;
    if (!(op = find_model(st->rq->model_name, st->rq->model_version, err))) return -1;
    up_plan_init(&c->plan, op);
    c->plan.charge = in->charge;
    if (read_request(c, st->rq, st, lim, err) < 0) return -1;
    return up_call_prepare(c, lim, err);
}

/* ---- encoding ----------------------------------------------------------- */

void up_grpc_answer_init(up_grpc_answer *a)
{
    memset(a, 0, sizeof(*a));
    up_buf_init(&a->head);
}

void up_grpc_answer_free(up_grpc_answer *a)
{
    up_buf_free(&a->head);
    a->n_piece = 0;
}

size_t up_grpc_answer_len(const up_grpc_answer *a)
{
    size_t n = a->head.len;
    for (int i = 0; i < a->n_piece; i++) n += a->piece[i].len;
    return n;
}

/* Outputs up to this size are copied into the head (one piece is cheaper
 * than a reference for small tensors). */
#define UP_GRPC_COPY_MAX ((size_t)64 << 10)
/* The head without copied outputs: names (op tables, at most 32 bytes),
 * datatypes, shapes, the id, the timing and shared-memory parameters. */
#define UP_GRPC_HEAD_PER_OUTPUT 1024
#define UP_GRPC_HEAD_FIXED (2048 + 4 * UP_KSERVE_ID_CHARS)

int64_t up_grpc_answer_bytes(const up_call *c)
{
    int n = c->plan.op ? c->plan.op->n_outputs : 0;
    return UP_GRPC_HEAD_FIXED + (int64_t)n * (UP_GRPC_HEAD_PER_OUTPUT + (int64_t)UP_GRPC_COPY_MAX);
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* The outputs answered, in order. */
static int answer_list(const up_call *c, int *list)
{
    const grpc_state *st = c->codec_state;
    int n = 0;
    if (st && st->n_req)
        for (int k = 0; k < st->n_req; k++) list[n++] = st->req[k];
    else
        for (int i = 0; i < c->plan.op->n_outputs; i++) list[n++] = i;
    return n;
}

/* The response without raw_output_contents, packed into a->head. All its
 * parts live on this stack frame: protobuf-c only reads them. */
static int pack_head(const up_call *c, const up_timing *t, const int *list, int n,
                     size_t copied, up_grpc_answer *a)
{
    Inference__ModelInferResponse r = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    Inference__ModelInferResponse__InferOutputTensor ot[UP_MAX_OUTPUTS], *otp[UP_MAX_OUTPUTS];
    int64_t shapes[UP_MAX_OUTPUTS][UP_MAX_RANK];
    Inference__InferParameter pv[3 + 3 * UP_MAX_OUTPUTS];
    Inference__ModelInferResponse__ParametersEntry re[3], *rep[3];
    Inference__ModelInferResponse__InferOutputTensor__ParametersEntry oe[UP_MAX_OUTPUTS][3],
        *oep[UP_MAX_OUTPUTS][3];
    static const char *const tkeys[3] = {"decode_ms", "queue_ms", "compute_ms"};
    int np = 0;
    size_t len;

    r.model_name = (char *)c->plan.op->name;
    r.model_version = "1";
    r.id = (char *)c->kserve_id;
    if (t) {
        const double tv[3] = {t->decode_ms, t->queue_ms, t->compute_ms};
        for (int k = 0; k < 3; k++) {
            inference__infer_parameter__init(&pv[np]);
            pv[np].parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_DOUBLE_PARAM;
            pv[np].double_param = tv[k];
            inference__model_infer_response__parameters_entry__init(&re[k]);
            re[k].key = (char *)tkeys[k];
            re[k].value = &pv[np++];
            rep[k] = &re[k];
        }
        r.n_parameters = 3;
        r.parameters = rep;
    }
    for (int k = 0; k < n; k++) {
        const up_tensor *res = &c->plan.result[list[k]];
        Inference__ModelInferResponse__InferOutputTensor *o = &ot[k];
        inference__model_infer_response__infer_output_tensor__init(o);
        o->name = (char *)c->plan.op->outputs[list[k]].name;
        o->datatype = (char *)up_wire_kserve(res->dtype);
        for (int d = 0; d < res->rank; d++) shapes[k][d] = res->shape[d];
        o->n_shape = (size_t)res->rank;
        o->shape = shapes[k];
        if (c->shm_out[list[k]].name[0]) { /* in the client's region: metadata only */
            const char *keys[3] = {"shared_memory_region", "shared_memory_offset",
                                   "shared_memory_byte_size"};
            for (int j = 0; j < 3; j++) {
                inference__infer_parameter__init(&pv[np]);
                if (j == 0) {
                    pv[np].parameter_choice_case =
                        INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
                    pv[np].string_param = (char *)c->shm_out[list[k]].name;
                } else {
                    pv[np].parameter_choice_case =
                        INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
                    pv[np].int64_param = (int64_t)(j == 1 ? c->shm_out[list[k]].offset
                                                          : c->shm_out[list[k]].byte_size);
                }
                inference__model_infer_response__infer_output_tensor__parameters_entry__init(
                    &oe[k][j]);
                oe[k][j].key = (char *)keys[j];
                oe[k][j].value = &pv[np++];
                oep[k][j] = &oe[k][j];
            }
            o->n_parameters = 3;
            o->parameters = oep[k];
        }
        otp[k] = o;
    }
    r.n_outputs = (size_t)n;
    r.outputs = otp;
    /* one reservation for the whole head: the packed fields, then the
     * outputs copied behind them (their tags and bytes), so what is
     * allocated is what up_grpc_answer_bytes bounds */
    len = protobuf_c_message_get_packed_size(&r.base);
    if (up_buf_reserve_exact(&a->head, len + copied) < 0) return -1;
    a->head.len += protobuf_c_message_pack(&r.base, (uint8_t *)a->head.data + a->head.len);
    return 0;
}

/* Output k's bytes in the answer (none for one in a region). */
static size_t out_bytes(const up_call *c, int i)
{
    return c->shm_out[i].name[0] ? 0 : up_tensor_nbytes(&c->plan.result[i]);
}

int up_grpc_encode_infer(up_call *c, const up_fault *fault, up_timing *t, up_grpc_answer *a,
                         up_error *err)
{
    int list[UP_MAX_OUTPUTS] = {0}, n, n_copied = 0;
    size_t pl[UP_MAX_OUTPUTS], copied = 0;
    if (up_plan_finish(&c->plan, fault, err) < 0) return -1;
    n = answer_list(c, list);
    for (int k = 0; k < n; k++)
        if (!up_wire_kserve(c->plan.result[list[k]].dtype))
            return up_errorf(err, UP_E_INTERNAL, "", "no KServe datatype for %s",
                             up_dtype_name(c->plan.result[list[k]].dtype));
    /* raw_output_contents (field 6, length-delimited), one entry per
     * output; an output in a region has an empty one, so that indices
     * match the outputs list. Small outputs up to the first large one are
     * copied into the head; the rest are pieces. */
    for (int k = 0; k < n; k++) {
        size_t bytes = out_bytes(c, list[k]);
        pl[k] = put_varint(a->prefix[k], (6u << 3) | 2u);
        pl[k] += put_varint(a->prefix[k] + pl[k], bytes);
        if (n_copied == k && bytes <= UP_GRPC_COPY_MAX) {
            n_copied++;
            copied += pl[k] + bytes;
        } else if (n_copied == k) {
            copied += pl[k]; /* the first piece's tag goes in the head */
        }
    }
    if (pack_head(c, t, list, n, copied, a) < 0) goto oom;
    for (int k = 0; k < n; k++) {
        size_t bytes = out_bytes(c, list[k]);
        if (k < n_copied || k == n_copied) {
            memcpy(a->head.data + a->head.len, a->prefix[k], pl[k]);
            a->head.len += pl[k];
        } else {
            a->piece[a->n_piece].base = a->prefix[k];
            a->piece[a->n_piece++].len = pl[k];
        }
        if (k < n_copied) {
            memcpy(a->head.data + a->head.len, c->plan.result[list[k]].data, bytes);
            a->head.len += bytes;
        } else {
            a->piece[a->n_piece].base = c->plan.result[list[k]].data;
            a->piece[a->n_piece++].len = bytes;
        }
    }
    return 0;
oom:
    return up_errorf(err, UP_E_OVERLOADED, "", "out of memory writing the answer");
}

/* ---- the small RPCs ----------------------------------------------------- */

static int pack_into(const ProtobufCMessage *m, up_buf *out)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    if (up_buf_reserve(out, len) < 0) return -1;
    out->len += protobuf_c_message_pack(m, (uint8_t *)out->data + out->len);
    return 0;
}

int up_grpc_bool_answer(up_grpc_method m, int value, up_buf *out)
{
    Inference__ServerLiveResponse live = INFERENCE__SERVER_LIVE_RESPONSE__INIT;
    Inference__ServerReadyResponse ready = INFERENCE__SERVER_READY_RESPONSE__INIT;
    Inference__ModelReadyResponse model = INFERENCE__MODEL_READY_RESPONSE__INIT;
    live.live = ready.ready = model.ready = !!value;
    if (m == UP_GM_SERVER_LIVE) return pack_into(&live.base, out);
    if (m == UP_GM_SERVER_READY) return pack_into(&ready.base, out);
    return pack_into(&model.base, out);
}

int up_grpc_server_metadata(int shm, up_buf *out)
{
    Inference__ServerMetadataResponse r = INFERENCE__SERVER_METADATA_RESPONSE__INIT;
    char *ext[3] = {"binary_tensor_data", "parameters", "system_shared_memory"};
    r.name = "unpoold";
    r.version = UP_VERSION;
    r.n_extensions = shm ? 3 : 2;
    r.extensions = ext;
    return pack_into(&r.base, out);
}

/* Small request messages are unpacked uncharged: the transport bounds
 * them (server/grpc.c refuses these methods' messages past
 * UP_GRPC_SMALL_MAX bytes before they are parsed). */
const up_op_def *up_grpc_model_request(const void *msg, size_t n, up_error *err)
{
    pb_charged a;
    Inference__ModelMetadataRequest *r; /* ModelReadyRequest has the same fields */
    const up_op_def *op;
    pb_charged_init(&a, NULL);
    r = (Inference__ModelMetadataRequest *)unpack(&inference__model_metadata_request__descriptor,
                                                  &a, msg, n, err);
    if (!r) return NULL;
    op = find_model(r->name, r->version, err);
    protobuf_c_message_free_unpacked(&r->base, &a.alloc);
    return op;
}

int up_grpc_model_metadata(const up_op_def *op, up_buf *out)
{
    Inference__ModelMetadataResponse r = INFERENCE__MODEL_METADATA_RESPONSE__INIT;
    Inference__ModelMetadataResponse__TensorMetadata tm[UP_MAX_INPUTS + UP_MAX_OUTPUTS];
    Inference__ModelMetadataResponse__TensorMetadata *in[UP_MAX_INPUTS], *outp[UP_MAX_OUTPUTS];
    int64_t minus1[UP_MAX_RANK];
    char *versions[1] = {"1"};
    int k = 0;
    for (int d = 0; d < UP_MAX_RANK; d++) minus1[d] = -1;
    r.name = (char *)op->name;
    r.n_versions = 1;
    r.versions = versions;
    r.platform = "unpoold";
    for (int side = 0; side < 2; side++) {
        const up_io_def *io = side ? op->outputs : op->inputs;
        int n = side ? op->n_outputs : op->n_inputs;
        for (int i = 0; i < n; i++, k++) {
            int rank = up_kserve_shown_rank(op, io[i].kind);
            inference__model_metadata_response__tensor_metadata__init(&tm[k]);
            tm[k].name = (char *)io[i].name;
            tm[k].datatype = (char *)up_kserve_shown_dtype(io[i].kind);
            tm[k].n_shape = rank ? (size_t)rank : 1; /* variable rank: [-1] */
            tm[k].shape = minus1;
            (side ? outp : in)[i] = &tm[k];
        }
    }
    r.n_inputs = (size_t)op->n_inputs;
    r.inputs = in;
    r.n_outputs = (size_t)op->n_outputs;
    r.outputs = outp;
    return pack_into(&r.base, out);
}

int up_grpc_shm_name_request(up_grpc_method m, const void *msg, size_t n, char name[64],
                             up_error *err)
{
    pb_charged a;
    /* SystemSharedMemoryStatusRequest and ...UnregisterRequest: name = 1 */
    Inference__SystemSharedMemoryStatusRequest *r;
    (void)m;
    pb_charged_init(&a, NULL);
    r = (Inference__SystemSharedMemoryStatusRequest *)unpack(
        &inference__system_shared_memory_status_request__descriptor, &a, msg, n, err);
    if (!r) return -1;
    int rc = 0;
    if (strlen(r->name) >= 64)
        rc = up_errorf(err, UP_E_MALFORMED, "name", "a region name is at most 63 bytes");
    else
        snprintf(name, 64, "%s", r->name);
    protobuf_c_message_free_unpacked(&r->base, &a.alloc);
    return rc;
}

int up_grpc_shm_register_request(const void *msg, size_t n, char name[64],
                                 up_shm_register_body *b, up_error *err)
{
    pb_charged a;
    Inference__SystemSharedMemoryRegisterRequest *r;
    int rc = -1;
    pb_charged_init(&a, NULL);
    r = (Inference__SystemSharedMemoryRegisterRequest *)unpack(
        &inference__system_shared_memory_register_request__descriptor, &a, msg, n, err);
    if (!r) return -1;
    if (!r->name[0] || strlen(r->name) >= 64)
        up_errorf(err, UP_E_MALFORMED, "name", "a region name is 1-63 bytes");
    else if (!r->key[0] || strlen(r->key) >= sizeof(b->key))
        up_errorf(err, UP_E_MALFORMED, "key", "key must name a shared-memory object "
                  "(1-%zu bytes)", sizeof(b->key) - 1);
    else {
        snprintf(name, 64, "%s", r->name);
        snprintf(b->key, sizeof(b->key), "%s", r->key);
        b->offset = r->offset;
        b->byte_size = r->byte_size;
        rc = 0;
    }
    protobuf_c_message_free_unpacked(&r->base, &a.alloc);
    return rc;
}

int up_grpc_shm_status_answer(const up_grpc_region *g, int n, up_buf *out)
{
    Inference__SystemSharedMemoryStatusResponse r = INFERENCE__SYSTEM_SHARED_MEMORY_STATUS_RESPONSE__INIT;
    Inference__SystemSharedMemoryStatusResponse__RegionsEntry *e = NULL, **ep = NULL;
    Inference__SystemSharedMemoryStatusResponse__RegionStatus *s = NULL;
    int rc = -1;
    if (n > 0) {
        e = calloc((size_t)n, sizeof(*e));
        ep = calloc((size_t)n, sizeof(*ep));
        s = calloc((size_t)n, sizeof(*s));
        if (!e || !ep || !s) goto err;
    }
    for (int i = 0; i < n; i++) {
        inference__system_shared_memory_status_response__region_status__init(&s[i]);
        s[i].name = (char *)g[i].name;
        s[i].key = (char *)g[i].key;
        s[i].offset = g[i].offset;
        s[i].byte_size = g[i].byte_size;
        inference__system_shared_memory_status_response__regions_entry__init(&e[i]);
        e[i].key = (char *)g[i].name;
        e[i].value = &s[i];
        ep[i] = &e[i];
    }
    r.n_regions = (size_t)n;
    r.regions = ep;
    rc = pack_into(&r.base, out);
err:
    free(e);
    free(ep);
    free(s);
    return rc;
}
