/* test_kserve_grpc.c -- the KServe v2 gRPC message codec (api/kserve_grpc.c)
 * on messages built here with protobuf-c, one defect per case.
 *
 * Correctness of the numbers against PyTorch is tests/py/
 * test_grpc_tritonclient.py's (tritonclient.grpc on a live daemon); here:
 * raw and typed contents of every datatype give the same tensor, the
 * answer reads back as a ModelInferResponse whatever mix of copied and
 * referenced outputs it has, params of every InferParameter kind, and each
 * malformed message gets its own error kind and gRPC code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codecs.h"
#include "api/kserve_grpc.h"
#include "kernels/convert.h"
#include "kserve_v2.pb-c.h"
#include "tests/support/harness.h"

typedef Inference__ModelInferRequest Req;
typedef Inference__ModelInferRequest__InferInputTensor In;
typedef Inference__ModelInferRequest__ParametersEntry PEntry;

/* A request under construction: everything lives in this struct. */
typedef struct msg {
    Req r;
    In in[4], *inp[4];
    int64_t shape[4][8];
    ProtobufCBinaryData raw[4];
    Inference__InferTensorContents tc[4];
    PEntry pe[8], *pep[8];
    Inference__InferParameter pv[8];
    Inference__ModelInferRequest__InferRequestedOutputTensor out[4], *outp[4];
} msg;

static void msg_init(msg *m, const char *model)
{
    memset(m, 0, sizeof(*m));
    inference__model_infer_request__init(&m->r);
    m->r.model_name = (char *)model;
}

static In *add_input(msg *m, const char *name, const char *dt, int rank, const int64_t *shape)
{
    int k = (int)m->r.n_inputs++;
    In *in = &m->in[k];
    inference__model_infer_request__infer_input_tensor__init(in);
    in->name = (char *)name;
    in->datatype = (char *)dt;
    memcpy(m->shape[k], shape, sizeof(int64_t) * (size_t)rank);
    in->n_shape = (size_t)rank;
    in->shape = m->shape[k];
    m->inp[k] = in;
    m->r.inputs = m->inp;
    return in;
}

static void add_raw(msg *m, const void *p, size_t n)
{
    m->raw[m->r.n_raw_input_contents].data = (uint8_t *)p;
    m->raw[m->r.n_raw_input_contents++].len = n;
    m->r.raw_input_contents = m->raw;
}

static Inference__InferParameter *add_param(msg *m, const char *key)
{
    int k = (int)m->r.n_parameters++;
    inference__model_infer_request__parameters_entry__init(&m->pe[k]);
    inference__infer_parameter__init(&m->pv[k]);
    m->pe[k].key = (char *)key;
    m->pe[k].value = &m->pv[k];
    m->pep[k] = &m->pe[k];
    m->r.parameters = m->pep;
    return &m->pv[k];
}

static void int_param(msg *m, const char *key, int64_t v)
{
    Inference__InferParameter *p = add_param(m, key);
    p->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
    p->int64_param = v;
}

static void str_param(msg *m, const char *key, const char *v)
{
    Inference__InferParameter *p = add_param(m, key);
    p->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
    p->string_param = (char *)v;
}

static void request_output(msg *m, const char *name)
{
    int k = (int)m->r.n_outputs++;
    inference__model_infer_request__infer_requested_output_tensor__init(&m->out[k]);
    m->out[k].name = (char *)name;
    m->outp[k] = &m->out[k];
    m->r.outputs = m->outp;
}

/* Packed bytes of m (caller frees). */
static uint8_t *pack(const msg *m, size_t *n)
{
    *n = protobuf_c_message_get_packed_size(&m->r.base);
    uint8_t *b = malloc(*n ? *n : 1);
    protobuf_c_message_pack(&m->r.base, b);
    return b;
}

static const up_limits lim = {.max_elements = 1 << 20, .max_request_elements = 1 << 21,
                              .max_json_depth = 64, .max_inputs = 4};

typedef struct charge_ctx {
    int64_t used, limit;
} charge_ctx;

static int take(void *ctx, int64_t bytes, const char *what, up_error *err)
{
    charge_ctx *c = ctx;
    if (c->used + bytes > c->limit) return up_errorf(err, UP_E_TOO_LARGE, "", "budget: %s", what);
    c->used += bytes;
    return 0;
}

/* Decode m; returns decode's rc, err filled. */
static int decode(up_call *c, const msg *m, charge_ctx *cc, up_error *err)
{
    size_t n;
    uint8_t *b = pack(m, &n);
    charge_ctx own = {0, INT64_MAX};
    up_grpc_in in = {.charge = {.take = take, .ctx = cc ? cc : &own}};
    up_error_clear(err);
    /* b is the call's now: raw inputs are views of it */
    return up_grpc_decode_infer(c, (char *)b, n, &in, &lim, err);
}

/* Run, encode, and read the answer back as one ModelInferResponse. */
static Inference__ModelInferResponse *run_and_read(up_call *c, up_grpc_answer *a)
{
    up_fault f;
    up_timing t = {0};
    up_error err;
    up_fault_init(&f);
    up_plan_run(&c->plan, 0, c->plan.work_units, &f);
    up_grpc_answer_init(a);
    up_error_clear(&err);
    if (up_grpc_encode_infer(c, &f, &t, a, &err) < 0) return NULL;
    size_t n = up_grpc_answer_len(a), at = a->head.len;
    uint8_t *all = malloc(n);
    memcpy(all, a->head.data, a->head.len);
    for (int i = 0; i < a->n_piece; i++) {
        memcpy(all + at, a->piece[i].base, a->piece[i].len);
        at += a->piece[i].len;
    }
    Inference__ModelInferResponse *r = inference__model_infer_response__unpack(NULL, n, all);
    free(all);
    return r;
}

static void max_pool_2x2(msg *m, const float *x, int64_t h, int64_t w)
{
    int64_t shape[4] = {1, 1, h, w};
    msg_init(m, "max_pool");
    add_input(m, "x", "FP32", 4, shape);
    add_raw(m, x, sizeof(float) * (size_t)(h * w));
    int_param(m, "kernel_size", 2);
}

static void raw_max_pool_answers_both_outputs(void)
{
    float x[16];
    msg m;
    up_call c;
    up_error err;
    up_grpc_answer a;
    for (int i = 0; i < 16; i++) x[i] = (float)((i * 7) % 16);
    max_pool_2x2(&m, x, 4, 4);
    CHECK(decode(&c, &m, NULL, &err) == 0);
    Inference__ModelInferResponse *r = run_and_read(&c, &a);
    CHECK(r && r->n_outputs == 2 && r->n_raw_output_contents == 2);
    if (r && r->n_outputs == 2 && r->n_raw_output_contents == 2) {
        CHECK(strcmp(r->model_name, "max_pool") == 0 && strcmp(r->model_version, "1") == 0);
        CHECK(strcmp(r->outputs[0]->name, "y") == 0 && strcmp(r->outputs[0]->datatype, "FP32") == 0);
        CHECK(strcmp(r->outputs[1]->datatype, "INT64") == 0 && r->outputs[1]->n_shape == 4);
        CHECK(r->raw_output_contents[0].len == 16 && r->raw_output_contents[1].len == 32);
        CHECK(memcmp(r->raw_output_contents[0].data, c.plan.result[0].data, 16) == 0);
        CHECK(r->n_parameters == 3); /* decode_ms, queue_ms, compute_ms */
    }
    inference__model_infer_response__free_unpacked(r, NULL);
    up_grpc_answer_free(&a);
    up_call_free(&c);
}

/* A large output is a piece (the result tensor itself), not a copy; the
 * message still reads back whole. */
static void large_output_is_a_piece(void)
{
    int64_t h = 512, w = 512;
    float *x = malloc(sizeof(float) * (size_t)(h * w));
    msg m;
    up_call c;
    up_error err;
    up_grpc_answer a;
    for (int64_t i = 0; i < h * w; i++) x[i] = (float)(i % 1000) * 0.5f;
    max_pool_2x2(&m, x, h, w);
    CHECK(decode(&c, &m, NULL, &err) == 0);
    Inference__ModelInferResponse *r = run_and_read(&c, &a);
    CHECK(a.n_piece >= 2);
    CHECK(a.piece[a.n_piece - 1].base == c.plan.result[1].data); /* no copy */
    CHECK(r && r->n_raw_output_contents == 2 &&
          r->raw_output_contents[0].len == (size_t)(h * w / 4 * 4) &&
          memcmp(r->raw_output_contents[1].data, c.plan.result[1].data,
                 r->raw_output_contents[1].len) == 0);
    CHECK((int64_t)a.head.cap <= up_grpc_answer_bytes(&c));
    inference__model_infer_response__free_unpacked(r, NULL);
    up_grpc_answer_free(&a);
    up_call_free(&c);
    free(x);
}

/* Typed contents of every datatype decode to the tensor the raw bytes
 * give (float16 and bfloat16 from fp32_contents, rounded to nearest even). */
static void typed_contents_equal_raw_every_dtype(void)
{
    static const char *const dts[] = {"FP32", "FP64", "FP16", "BF16", "INT64", "INT32",
                                      "INT16", "INT8", "UINT8", "BOOL"};
    const double vals[8] = {0, 1, 0, 3, 1, 0, 2, 1};
    for (size_t k = 0; k < sizeof(dts) / sizeof(dts[0]); k++) {
        up_dtype dt = up_wire_from_kserve(dts[k]);
        size_t es = up_dtype_size(dt);
        unsigned char raw[64];
        float f32[8];
        double f64[8];
        int64_t i64[8];
        int32_t i32[8];
        uint32_t u32[8];
        protobuf_c_boolean b[8];
        int64_t shape[4] = {1, 4, 1, 2};
        msg m1, m2;
        up_call c1, c2;
        up_error err;
        for (int i = 0; i < 8; i++) {
            f32[i] = (float)vals[i] + 0.25f * (dt == UP_F32 || dt == UP_F64 || dt == UP_F16);
            f64[i] = f32[i];
            i64[i] = (int64_t)vals[i];
            i32[i] = (int32_t)vals[i];
            u32[i] = (uint32_t)vals[i];
            b[i] = vals[i] != 0;
            switch (dt) {
            case UP_F32: memcpy(raw + 4 * i, &f32[i], 4); break;
            case UP_F64: memcpy(raw + 8 * i, &f64[i], 8); break;
            case UP_F16: { uint16_t h = up_f32_to_f16(f32[i]); memcpy(raw + 2 * i, &h, 2); } break;
            case UP_BF16: { uint16_t h = up_f32_to_bf16(f32[i]); memcpy(raw + 2 * i, &h, 2); } break;
            case UP_I64: memcpy(raw + 8 * i, &i64[i], 8); break;
            case UP_I32: memcpy(raw + 4 * i, &i32[i], 4); break;
            case UP_I16: { int16_t v = (int16_t)i32[i]; memcpy(raw + 2 * i, &v, 2); } break;
            case UP_I8: { int8_t v = (int8_t)i32[i]; memcpy(raw + i, &v, 1); } break;
            default: raw[i] = (unsigned char)(vals[i] != 0 ? (dt == UP_BOOL ? 1 : vals[i]) : 0); break;
            }
        }
        /* the tensor under test: x of pixel_shuffle (floats and bytes, moved
         * as they are), or indices / mask of max_unpool (integers, bool) */
        int as_x = dt == UP_F32 || dt == UP_F64 || dt == UP_F16 || dt == UP_BF16 ||
                   dt == UP_I8 || dt == UP_U8;
        const char *op = as_x ? "pixel_shuffle" : "max_unpool";
        const char *in_name = as_x ? "x" : dt == UP_BOOL ? "mask" : "indices";
        static const float zeros[8] = {0};
        int64_t xshape[4] = {1, 4, 1, 2};
        for (int side = 0; side < 2; side++) {
            msg *m = side ? &m2 : &m1;
            msg_init(m, op);
            if (!as_x) {
                add_input(m, "x", "FP32", 4, xshape);
                add_raw(m, zeros, sizeof(zeros));
                int_param(m, "kernel_size", 2);
            } else {
                int_param(m, "upscale_factor", 2);
            }
            In *in = add_input(m, in_name, dts[k], 4, as_x ? shape : xshape);
            if (!side) {
                add_raw(m, raw, es * 8);
                continue;
            }
            inference__infer_tensor_contents__init(&m->tc[0]);
            in->contents = &m->tc[0];
            switch (dt) {
            case UP_F32: case UP_F16: case UP_BF16: m->tc[0].n_fp32_contents = 8; m->tc[0].fp32_contents = f32; break;
            case UP_F64: m->tc[0].n_fp64_contents = 8; m->tc[0].fp64_contents = f64; break;
            case UP_I64: m->tc[0].n_int64_contents = 8; m->tc[0].int64_contents = i64; break;
            case UP_U8: m->tc[0].n_uint_contents = 8; m->tc[0].uint_contents = u32; break;
            case UP_BOOL: m->tc[0].n_bool_contents = 8; m->tc[0].bool_contents = b; break;
            default: m->tc[0].n_int_contents = 8; m->tc[0].int_contents = i32; break;
            }
        }
        int slot = as_x ? 0 : dt == UP_BOOL ? 2 : 1;
        /* no op takes int16 or a bool of this shape: the decode then
         * fails in the op's validation, after both forms were read into
         * the plan's inputs, which are compared all the same */
        int r1 = decode(&c1, &m1, NULL, &err), r2 = decode(&c2, &m2, NULL, &err);
        int must_run = dt != UP_I16 && dt != UP_BOOL;
        CHECKF(r1 == r2 && (!must_run || r1 == 0), "%s: decode %d %d: %s", dts[k], r1, r2,
               err.n ? err.items[0].message : "");
        CHECKF(c1.plan.raw[slot].data && c2.plan.raw[slot].data &&
                   c1.plan.raw[slot].dtype == dt && c2.plan.raw[slot].dtype == dt &&
                   memcmp(c1.plan.raw[slot].data, c2.plan.raw[slot].data, es * 8) == 0,
               "%s: typed and raw differ", dts[k]);
        up_call_free(&c1);
        up_call_free(&c2);
    }
}

/* One malformed request per case: expected kind and gRPC code. */
static void expect(up_call *c, const msg *m, int code, const char *why)
{
    up_error err;
    int rc = decode(c, m, NULL, &err);
    CHECKF(rc < 0 && up_grpc_code(&err) == code, "%s: rc %d code %d (%s), want %s", why, rc,
           rc < 0 ? up_grpc_code(&err) : 0, rc < 0 ? err.items[0].message : "",
           up_grpc_code_name(code));
    up_call_free(c);
}

static void malformed_requests_get_their_codes(void)
{
    float x[16] = {0};
    int64_t s4[4] = {1, 1, 4, 4}, neg[4] = {1, 1, -4, 4}, big[4] = {1 << 30, 1 << 30, 1 << 30, 4};
    int64_t s6[6] = {1, 1, 1, 1, 4, 4};
    int32_t too_big[16] = {300};
    msg m;
    up_call c;

    msg_init(&m, "no_such_op");
    add_input(&m, "x", "FP32", 4, s4);
    add_raw(&m, x, 64);
    expect(&c, &m, UP_GRPC_NOT_FOUND, "unknown model");

    max_pool_2x2(&m, x, 4, 4);
    m.r.model_version = "2";
    expect(&c, &m, UP_GRPC_NOT_FOUND, "unknown version");

    max_pool_2x2(&m, x, 4, 4);
    m.raw[0].len = 60;
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "raw size mismatch");

    max_pool_2x2(&m, x, 4, 4);
    m.r.n_raw_input_contents = 0;
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "no raw entry");

    max_pool_2x2(&m, x, 4, 4);
    add_raw(&m, x, 64);
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "raw entry left over");

    msg_init(&m, "max_pool");
    add_input(&m, "x", "FP32", 4, neg);
    int_param(&m, "kernel_size", 2);
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "negative dim");

    msg_init(&m, "max_pool");
    add_input(&m, "x", "FP32", 6, s6);
    add_raw(&m, x, 64);
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "rank 6");

    msg_init(&m, "max_pool");
    add_input(&m, "x", "FP32", 4, big);
    int_param(&m, "kernel_size", 2);
    expect(&c, &m, UP_GRPC_RESOURCE_EXHAUSTED, "2^92 elements");

    msg_init(&m, "max_pool");
    add_input(&m, "x", "BYTES", 4, s4);
    add_raw(&m, x, 64);
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "BYTES datatype");

    msg_init(&m, "max_pool");
    add_input(&m, "y", "FP32", 4, s4);
    add_raw(&m, x, 64);
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "unknown input");

    max_pool_2x2(&m, x, 4, 4);
    int_param(&m, "sequence_id", 7);
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "sequence_id");

    max_pool_2x2(&m, x, 4, 4);
    int_param(&m, "no_such_param", 7);
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "unknown param");

    max_pool_2x2(&m, x, 4, 4);
    add_param(&m, "stride"); /* no value set in the oneof */
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "param without a value");

    max_pool_2x2(&m, x, 4, 4);
    request_output(&m, "y");
    request_output(&m, "y");
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "output twice");

    max_pool_2x2(&m, x, 4, 4);
    request_output(&m, "z");
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "unknown output");

    msg_init(&m, "nearest_unpool");
    {
        In *in = add_input(&m, "x", "INT16", 4, s4);
        inference__infer_tensor_contents__init(&m.tc[0]);
        m.tc[0].n_int_contents = 16;
        m.tc[0].int_contents = too_big;
        too_big[0] = 40000;
        in->contents = &m.tc[0];
    }
    int_param(&m, "scale_factor", 2);
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "int_contents past INT16");

    msg_init(&m, "nearest_unpool");
    {
        In *in = add_input(&m, "x", "FP32", 4, s4);
        inference__infer_tensor_contents__init(&m.tc[0]);
        m.tc[0].n_fp32_contents = 15;
        m.tc[0].fp32_contents = x;
        in->contents = &m.tc[0];
    }
    int_param(&m, "scale_factor", 2);
    expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "15 values for 16");

    max_pool_2x2(&m, x, 4, 4);
    {
        /* shared memory named, but the server runs without it */
        Inference__InferParameter pv[2];
        Inference__ModelInferRequest__InferInputTensor__ParametersEntry e[2], *ep[2];
        for (int i = 0; i < 2; i++) {
            inference__infer_parameter__init(&pv[i]);
            inference__model_infer_request__infer_input_tensor__parameters_entry__init(&e[i]);
            e[i].value = &pv[i];
            ep[i] = &e[i];
        }
        e[0].key = "shared_memory_region";
        pv[0].parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
        pv[0].string_param = "r0";
        e[1].key = "shared_memory_byte_size";
        pv[1].parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
        pv[1].int64_param = 64;
        m.in[0].n_parameters = 2;
        m.in[0].parameters = ep;
        m.r.n_raw_input_contents = 0;
        expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "shm without --shm");
        pv[1].int64_param = -1;
        expect(&c, &m, UP_GRPC_INVALID_ARGUMENT, "negative shm byte size");
    }
}

static void garbage_bytes_are_invalid_argument(void)
{
    static const unsigned char bad[][8] = {
        {0x0a, 0x05, 'm', 'a'},           /* a string running past the end */
        {0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f}, /* raw_input_contents of 4 GiB */
        {0x08},                           /* a varint with no value */
        {0x2a, 0x02, 0x1a, 0x80},         /* inputs: a shape varint cut short */
    };
    static const size_t len[] = {4, 6, 1, 4};
    for (size_t i = 0; i < sizeof(len) / sizeof(len[0]); i++) {
        up_call c;
        up_error err;
        up_grpc_in in = {0};
        char *m = malloc(len[i]);
        memcpy(m, bad[i], len[i]);
        up_error_clear(&err);
        int rc = up_grpc_decode_infer(&c, m, len[i], &in, &lim, &err);
        CHECKF(rc < 0 && up_grpc_code(&err) == UP_GRPC_INVALID_ARGUMENT, "case %zu", i);
        up_call_free(&c);
    }
}

/* The unpack is charged before it allocates: a budget too small for the
 * typed values refuses the message with the accountant's own error. */
static void unpack_is_charged_first(void)
{
    float x[1024] = {0};
    msg m;
    up_call c;
    up_error err;
    charge_ctx small = {0, 2048};
    int64_t shape[4] = {1, 1, 32, 32};
    msg_init(&m, "nearest_unpool");
    In *in = add_input(&m, "x", "FP32", 4, shape);
    inference__infer_tensor_contents__init(&m.tc[0]);
    m.tc[0].n_fp32_contents = 1024;
    m.tc[0].fp32_contents = x;
    in->contents = &m.tc[0];
    int_param(&m, "scale_factor", 2);
    CHECK(decode(&c, &m, &small, &err) < 0 && err.kind == UP_E_TOO_LARGE &&
          up_grpc_code(&err) == UP_GRPC_RESOURCE_EXHAUSTED);
    CHECK(small.used <= 2048);
    up_call_free(&c);
}

/* raw_input_contents are read where they are in the message: a view when
 * aligned, else moved down inside it; nothing is charged for them. The
 * message's id field shifts the raw bytes by one byte at a time. */
static void raw_inputs_stay_in_the_message(void)
{
    static float x[4096];
    char id[8] = "";
    for (int i = 0; i < 4096; i++) x[i] = (float)i * 0.25f;
    for (int shift = 0; shift < 8; shift++) {
        msg m;
        up_call c;
        up_error err;
        size_t n;
        charge_ctx cc = {0, 1 << 20};
        int64_t shape[4] = {1, 1, 64, 64};
        msg_init(&m, "nearest_unpool");
        id[shift] = 0;
        if (shift) id[shift - 1] = 'a';
        m.r.id = id;
        add_input(&m, "x", "FP32", 4, shape);
        add_raw(&m, x, sizeof(x));
        int_param(&m, "scale_factor", 2);
        uint8_t *b = pack(&m, &n);
        up_grpc_in in = {.charge = {.take = take, .ctx = &cc}};
        up_error_clear(&err);
        CHECKF(up_grpc_decode_infer(&c, (char *)b, n, &in, &lim, &err) == 0, "shift %d", shift);
        const char *d = c.plan.raw[0].data;
        CHECKF(d >= (char *)b && d + sizeof(x) <= (char *)b + n && (uintptr_t)d % 4 == 0 &&
                   memcmp(d, x, sizeof(x)) == 0,
               "shift %d: not in place", shift);
        /* the output (4 x x) and the parsed fields, not x again */
        CHECKF(cc.used < 4 * (int64_t)sizeof(x) + (int64_t)sizeof(x) / 2, "shift %d: %lld charged",
               shift, (long long)cc.used);
        up_call_free(&c);
    }
}

/* Every InferParameter kind reaches the op as REST's KServe scalars do. */
static void params_of_every_kind(void)
{
    float x[64] = {0};
    msg m;
    up_call c;
    up_error err;
    int64_t shape[4] = {1, 1, 8, 8};
    msg_init(&m, "max_pool");
    add_input(&m, "x", "FP32", 4, shape);
    add_raw(&m, x, sizeof(x));
    str_param(&m, "kernel_size", "2,2");          /* a list as a string */
    Inference__InferParameter *p = add_param(&m, "stride");
    p->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM;
    p->uint64_param = 2;
    p = add_param(&m, "ceil_mode");
    p->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM;
    p->bool_param = 1;
    p = add_param(&m, "dilation");
    p->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_DOUBLE_PARAM;
    p->double_param = 1.0;
    int_param(&m, "priority", 3);                 /* Triton's hint: accepted */
    CHECK(decode(&c, &m, NULL, &err) == 0);
    CHECK(c.plan.out[0].rank == 4 && c.plan.out[0].shape[2] == 4 && c.plan.out[0].shape[3] == 4);
    up_call_free(&c);
    msg_init(&m, "resize");
    add_input(&m, "x", "FP32", 4, shape);
    add_raw(&m, x, sizeof(x));
    p = add_param(&m, "scales");
    p->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
    p->string_param = "1,1,1.5,0.5";
    str_param(&m, "mode", "linear");
    CHECKF(decode(&c, &m, NULL, &err) == 0, "%s", err.n ? err.items[0].message : "");
    CHECK(c.plan.out[0].shape[2] == 12 && c.plan.out[0].shape[3] == 4);
    up_call_free(&c);
}

static void methods_and_codes(void)
{
    const char *p = "/inference.GRPCInferenceService/ModelInfer";
    CHECK(up_grpc_method_of(p, strlen(p)) == UP_GM_MODEL_INFER);
    CHECK(up_grpc_method_of(p, strlen(p) - 1) == UP_GM_UNKNOWN);
    p = "/inference.GRPCInferenceService/ModelConfig";
    CHECK(up_grpc_method_of(p, strlen(p)) == UP_GM_UNKNOWN);
    p = "/other.Service/ModelInfer";
    CHECK(up_grpc_method_of(p, strlen(p)) == UP_GM_UNKNOWN);
    for (int m = 0; m < UP_GM_COUNT; m++) {
        char path[96];
        snprintf(path, sizeof(path), "/inference.GRPCInferenceService/%s",
                 up_grpc_method_name((up_grpc_method)m));
        CHECK(up_grpc_method_of(path, strlen(path)) == m);
    }
    static const struct { up_err_kind kind; int code; } map[] = {
        {UP_E_MALFORMED, UP_GRPC_INVALID_ARGUMENT}, {UP_E_INVALID, UP_GRPC_INVALID_ARGUMENT},
        {UP_E_TOO_LARGE, UP_GRPC_RESOURCE_EXHAUSTED}, {UP_E_OVERLOADED, UP_GRPC_UNAVAILABLE},
        {UP_E_DEADLINE, UP_GRPC_DEADLINE_EXCEEDED}, {UP_E_NOT_FOUND, UP_GRPC_NOT_FOUND},
        {UP_E_UNAUTHORIZED, UP_GRPC_UNAUTHENTICATED}, {UP_E_INTERNAL, UP_GRPC_INTERNAL},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        up_error e;
        up_error_clear(&e);
        up_errorf(&e, map[i].kind, "", "x");
        CHECKF(up_grpc_code(&e) == map[i].code, "kind %d", (int)map[i].kind);
    }
}

static void small_messages(void)
{
    up_buf b;
    up_error err;
    Inference__ModelMetadataRequest rq = INFERENCE__MODEL_METADATA_REQUEST__INIT;
    uint8_t raw[64];
    size_t n;
    rq.name = "max_unpool";
    n = protobuf_c_message_pack(&rq.base, raw);
    up_error_clear(&err);
    const up_op_def *op = up_grpc_model_request(raw, n, &err);
    CHECK(op && strcmp(op->name, "max_unpool") == 0);
    up_buf_init(&b);
    CHECK(op && up_grpc_model_metadata(op, &b) == 0);
    Inference__ModelMetadataResponse *md =
        inference__model_metadata_response__unpack(NULL, b.len, (uint8_t *)b.data);
    CHECK(md && md->n_inputs == 3 && strcmp(md->inputs[1]->datatype, "INT64") == 0 &&
          md->n_outputs == 1 && strcmp(md->platform, "unpoold") == 0);
    inference__model_metadata_response__free_unpacked(md, NULL);
    up_buf_free(&b);
    rq.name = "nope";
    n = protobuf_c_message_pack(&rq.base, raw);
    CHECK(!up_grpc_model_request(raw, n, &err) && up_grpc_code(&err) == UP_GRPC_NOT_FOUND);

    up_buf_init(&b);
    CHECK(up_grpc_server_metadata(1, &b) == 0);
    Inference__ServerMetadataResponse *sm =
        inference__server_metadata_response__unpack(NULL, b.len, (uint8_t *)b.data);
    CHECK(sm && strcmp(sm->name, "unpoold") == 0 && sm->n_extensions == 3 &&
          strcmp(sm->extensions[2], "system_shared_memory") == 0);
    inference__server_metadata_response__free_unpacked(sm, NULL);
    up_buf_free(&b);

    up_buf_init(&b);
    CHECK(up_grpc_bool_answer(UP_GM_SERVER_LIVE, 1, &b) == 0 && b.len == 2 &&
          (unsigned char)b.data[0] == 0x08 && b.data[1] == 1);
    up_buf_free(&b);

    Inference__SystemSharedMemoryRegisterRequest reg = INFERENCE__SYSTEM_SHARED_MEMORY_REGISTER_REQUEST__INIT;
    char name[64];
    up_shm_register_body body;
    reg.name = "r0";
    reg.key = "";
    reg.byte_size = 64;
    n = protobuf_c_message_pack(&reg.base, raw);
    up_error_clear(&err);
    CHECK(up_grpc_shm_register_request(raw, n, name, &body, &err) < 0 &&
          up_grpc_code(&err) == UP_GRPC_INVALID_ARGUMENT);
    reg.key = "/obj";
    n = protobuf_c_message_pack(&reg.base, raw);
    CHECK(up_grpc_shm_register_request(raw, n, name, &body, &err) == 0 &&
          strcmp(name, "r0") == 0 && strcmp(body.key, "/obj") == 0 && body.byte_size == 64);
    up_grpc_region g = {"r0", "/obj", 0, 64};
    up_buf_init(&b);
    CHECK(up_grpc_shm_status_answer(&g, 1, &b) == 0);
    Inference__SystemSharedMemoryStatusResponse *st =
        inference__system_shared_memory_status_response__unpack(NULL, b.len, (uint8_t *)b.data);
    CHECK(st && st->n_regions == 1 && strcmp(st->regions[0]->key, "r0") == 0 &&
          st->regions[0]->value->byte_size == 64);
    inference__system_shared_memory_status_response__free_unpacked(st, NULL);
    up_buf_free(&b);
}

int main(void)
{
    RUN(raw_max_pool_answers_both_outputs);
    RUN(large_output_is_a_piece);
    RUN(typed_contents_equal_raw_every_dtype);
    RUN(malformed_requests_get_their_codes);
    RUN(garbage_bytes_are_invalid_argument);
    RUN(unpack_is_charged_first);
    RUN(raw_inputs_stay_in_the_message);
    RUN(params_of_every_kind);
    RUN(methods_and_codes);
    RUN(small_messages);
    return th_summary();
}
