/* test_kserve.c -- the KServe v2 codec against request bodies that
 * tritonclient wrote.
 *
 * tests/fixtures/binary/ks_*.bin are the exact bytes
 * InferenceServerClient.infer() sends (made by its generate_request_body(),
 * see gen_binary.py), ks_cases.json holds their Inference-Header-Content-
 * Length, and exp_ks_*.raw PyTorch's results. Each case decodes, runs and
 * encodes, then reads the answer back the way tritonclient does (JSON
 * header, then binary blobs in output order) and compares every output with
 * PyTorch's bytes. Malformed requests are built here, one defect per case,
 * each with its expected error kind. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/codecs.h"
#include "kernels/convert.h"
#include "tests/support/fixture.h"
#include "tests/support/budget.h"
#include "tests/support/call.h"
#include "tests/support/harness.h"


static body load(const char *name) { return fixture_load(name); }

static up_limits limits(void)
{
    up_limits l = {.max_elements = 1 << 20, .max_request_elements = 1 << 21, .max_json_depth = 64, .max_inputs = 4};
    return l;
}

static int decode(up_call *c, const char *op, body *b, const char *header_len, up_error *err)
{
    up_http_req req = {0};
    up_limits lim = limits();
    req.content_type = header_len ? "application/octet-stream" : "application/json";
    req.inference_header_length = header_len;
    req.body = b->data;
    req.body_len = b->len;
    up_error_clear(err);
    return up_call_decode_kserve(c, up_op_find(op), &req, &lim, err);
}

/* Header length of a fixture from ks_cases.json; "" when it has none. */
static void case_header_length(const char *name, char *out, size_t cap)
{
    body j = load("ks_cases.json");
    cJSON *root = cJSON_Parse(j.data ? j.data : "");
    const cJSON *hl = cJSON_GetObjectItem(cJSON_GetObjectItem(root, name), "header_length");
    out[0] = '\0';
    if (cJSON_IsNumber(hl)) snprintf(out, cap, "%d", hl->valueint);
    cJSON_Delete(root);
    free(j.data);
}

/* JSON "data" numbers -> bytes of datatype dt, as tritonclient's
 * np.array(data, dtype) would make them. */
static size_t json_to_bytes(const cJSON *data, const char *dt, unsigned char *out, size_t cap)
{
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, data) {
        double v = e->valuedouble;
        if (strcmp(dt, "FP32") == 0 && n + 4 <= cap) {
            float f = (float)v;
            memcpy(out + n, &f, 4);
            n += 4;
        } else if (strcmp(dt, "FP64") == 0 && n + 8 <= cap) {
            memcpy(out + n, &v, 8);
            n += 8;
        } else if (strcmp(dt, "INT64") == 0 && n + 8 <= cap) {
            int64_t i = (int64_t)v;
            memcpy(out + n, &i, 8);
            n += 8;
        } else if ((strcmp(dt, "FP16") == 0 || strcmp(dt, "BF16") == 0) && n + 2 <= cap) {
            uint16_t h = dt[0] == 'F' ? up_f32_to_f16((float)v) : up_f32_to_bf16((float)v);
            memcpy(out + n, &h, 2);
            n += 2;
        } else {
            return 0;
        }
    }
    return n;
}

typedef struct expect {
    const char *name, *datatype, *raw_file;
    int binary;
} expect;

/* Read the answer as tritonclient does and compare each output. */
static void check_response(const up_http_resp *resp, const char *op, const char *id,
                           const expect *ex, int n)
{
    size_t json_len = resp->body.len, pos;
    int any_bin = 0;
    for (int k = 0; k < n; k++) any_bin |= ex[k].binary;
    CHECK(resp->status == 200);
    if (any_bin) {
        CHECK(strcmp(resp->extra_header_name, "Inference-Header-Content-Length") == 0);
        CHECK(strcmp(resp->content_type, "application/octet-stream") == 0);
        json_len = (size_t)strtoull(resp->extra_header_value, NULL, 10);
        CHECK(json_len <= resp->body.len);
        if (json_len > resp->body.len) return;
    } else {
        CHECK(resp->extra_header_name[0] == '\0');
        CHECK(strcmp(resp->content_type, "application/json") == 0);
    }
    pos = json_len;
    cJSON *root = cJSON_ParseWithLength(resp->body.data, json_len);
    CHECK(root != NULL);
    if (!root) return;
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(root, "model_name")), op) == 0);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(root, "model_version")), "1") == 0);
    if (id) CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(root, "id")), id) == 0);
    const cJSON *outs = cJSON_GetObjectItem(root, "outputs");
    CHECK(cJSON_GetArraySize(outs) == n);
    for (int k = 0; k < n && k < cJSON_GetArraySize(outs); k++) {
        const cJSON *o = cJSON_GetArrayItem(outs, k);
        const cJSON *bs = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "parameters"), "binary_data_size");
        body want = load(ex[k].raw_file);
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "name")), ex[k].name) == 0);
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "datatype")), ex[k].datatype) == 0);
        CHECK((bs != NULL) == ex[k].binary);
        if (bs) {
            size_t sz = (size_t)bs->valuedouble;
            CHECK(sz == want.len && pos + sz <= resp->body.len);
            if (sz == want.len && pos + sz <= resp->body.len)
                CHECK(memcmp(resp->body.data + pos, want.data, sz) == 0);
            pos += sz;
        } else {
            unsigned char buf[4096];
            size_t got = json_to_bytes(cJSON_GetObjectItem(o, "data"), ex[k].datatype, buf, sizeof(buf));
            CHECKF(got == want.len && memcmp(buf, want.data, got) == 0, "%s data differs", ex[k].name);
        }
        free(want.data);
    }
    CHECK(pos == resp->body.len);
    cJSON_Delete(root);
}

/* Decode a fixture, run, encode, compare. Returns the call for extra
 * checks through *views (inputs that are views into the body). */
static void check_case(const char *name, const char *op, const expect *ex, int n, int want_views)
{
    char file[64], hl[32], id[64];
    body b;
    up_call c;
    up_error err;
    up_http_resp resp;
    up_timing t = {0.1, 0.2, 0.3, 0, 0};
    snprintf(file, sizeof(file), "ks_%s.bin", name);
    snprintf(id, sizeof(id), "req-%s", name);
    b = load(file);
    case_header_length(name, hl, sizeof(hl));
    up_http_resp_init(&resp);
    CHECK(b.data != NULL);
    int rc = decode(&c, op, &b, hl[0] ? hl : NULL, &err);
    CHECKF(rc == 0, "%s: %s", err.n ? err.items[0].field : "", err.n ? err.items[0].message : "");
    if (rc == 0) {
        for (int i = 0; i < c.plan.op->n_inputs; i++) {
            const up_tensor *r = &c.plan.raw[i];
            if (!r->data) continue;
            CHECKF((r->alloc == NULL) == want_views, "input %d: view %d expected", i, want_views);
            if (!r->alloc) {
                CHECK((char *)r->data >= b.data && (char *)r->data + up_tensor_nbytes(r) <= b.data + b.len);
                CHECK((uintptr_t)r->data % up_dtype_size(r->dtype) == 0);
            }
        }
        CHECK(th_call_run(&c, &err) == 0);
        CHECK(up_kserve_encode_call(&c, &t, &resp, &err) == 0);
        CHECK(up_http_resp_flatten(&resp) == 0);
        check_response(&resp, op, id, ex, n);
    }
    up_call_free(&c);
    up_http_resp_free(&resp);
    free(b.data);
}

/* ---- what tritonclient sent ---- */

static void max_unpool_json_inputs(void)
{
    expect ex[] = {{"y", "FP32", "exp_ks_max_unpool.raw", 1}};
    check_case("max_unpool_json", "max_unpool", ex, 1, 0);
}
/* x starts at byte 277: misaligned for float, so it is moved down into the
 * dead JSON region and used there (views, no allocation). */
static void max_unpool_binary_inputs_realigned(void)
{
    expect ex[] = {{"y", "FP32", "exp_ks_max_unpool.raw", 1}};
    check_case("max_unpool_binary", "max_unpool", ex, 1, 1);
}
static void max_unpool_fp64_binary(void)
{
    expect ex[] = {{"y", "FP64", "exp_ks_max_unpool_f64.raw", 1}};
    check_case("max_unpool_f64_binary", "max_unpool", ex, 1, 1);
}
static void max_pool_string_list_params_mixed_outputs(void)
{
    expect ex[] = {{"indices", "INT64", "exp_ks_max_pool_indices.raw", 1},
                   {"y", "FP32", "exp_ks_max_pool_y.raw", 0}};
    check_case("max_pool_strparam", "max_pool", ex, 2, 1);
}
static void nearest_bf16_binary(void)
{
    expect ex[] = {{"y", "BF16", "exp_ks_nearest_bf16.raw", 1}};
    check_case("nearest_bf16", "nearest_unpool", ex, 1, 1);
}
static void nearest_fp16_json_inputs(void)
{
    expect ex[] = {{"y", "FP16", "exp_ks_nearest_f16.raw", 1}};
    check_case("nearest_f16_json", "nearest_unpool", ex, 1, 0);
}

/* ---- hand-built requests ---- */

static int decode_text(up_call *c, const char *op, const char *json, up_error *err)
{
    body b = {strdup(json), strlen(json)};
    int rc = decode(c, op, &b, NULL, err);
    /* JSON-only requests never borrow from the body */
    free(b.data);
    return rc;
}

static void json_in_json_out(void)
{
    up_call c;
    up_error err;
    up_http_resp resp;
    up_http_resp_init(&resp);
    int rc = decode_text(&c, "max_unpool",
                         "{\"id\":\"a\\\"b\",\"parameters\":{\"kernel_size\":[2,2],\"binary_data_output\":false},"
                         "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":\"FP32\",\"data\":[[[[4]]]]},"
                         "{\"name\":\"indices\",\"shape\":[1,1,1,1],\"datatype\":\"INT32\",\"data\":[3]}]}",
                         &err);
    CHECKF(rc == 0, "%s", err.n ? err.items[0].message : "");
    if (rc == 0) {
        CHECK(th_call_run(&c, &err) == 0);
        CHECK(up_kserve_encode_call(&c, NULL, &resp, &err) == 0);
        CHECK(strcmp(resp.content_type, "application/json") == 0);
        CHECK(resp.extra_header_name[0] == '\0');
        CHECKF(strcmp(resp.body.data,
                      "{\"model_name\":\"max_unpool\",\"model_version\":\"1\",\"id\":\"a\\\"b\","
                      "\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[1,1,2,2],"
                      "\"data\":[0,0,0,4]}]}") == 0, "%s", resp.body.data);
    }
    up_call_free(&c);
    up_http_resp_free(&resp);
}

/* A mask may be UINT8 or BOOL, the values JSON numbers or booleans. */
static void bool_mask_json(void)
{
    up_call c;
    up_error err;
    int rc = decode_text(&c, "max_unpool",
                         "{\"parameters\":{\"kernel_size\":\"2\"},\"inputs\":["
                         "{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":\"FP32\",\"data\":[4]},"
                         "{\"name\":\"mask\",\"shape\":[1,1,2,2],\"datatype\":\"BOOL\","
                         "\"data\":[false,false,true,false]}]}", &err);
    CHECKF(rc == 0, "%s", err.n ? err.items[0].message : "");
    if (rc == 0) {
        CHECK(th_call_run(&c, &err) == 0);
        const float *y = c.plan.result[0].data;
        CHECK(y[0] == 0 && y[1] == 0 && y[2] == 4 && y[3] == 0);
    }
    up_call_free(&c);
}

static void check_text_refused(const char *op, const char *json, up_err_kind kind, const char *needle)
{
    up_call c;
    up_error err;
    int rc = decode_text(&c, op, json, &err);
    CHECK(rc < 0);
    CHECKF(err.kind == kind, "kind %d, expected %d (%s)", err.kind, kind,
           err.n ? err.items[0].message : "");
    if (needle && err.n)
        CHECKF(strstr(err.items[0].message, needle) != NULL, "message \"%s\" lacks \"%s\"",
               err.items[0].message, needle);
    up_call_free(&c);
}

/* A binary request: JSON header then `blob` (n bytes). */
static void check_binary_refused(const char *json, size_t nblob, const char *header_len,
                                 up_err_kind kind, const char *needle)
{
    size_t jl = strlen(json);
    body b = {calloc(1, jl + nblob + 1), jl + nblob};
    char hl[32];
    up_call c;
    up_error err;
    memcpy(b.data, json, jl);
    snprintf(hl, sizeof(hl), "%zu", jl);
    int rc = decode(&c, "max_unpool", &b, header_len ? header_len : hl, &err);
    CHECK(rc < 0);
    CHECKF(err.kind == kind, "kind %d, expected %d (%s)", err.kind, kind,
           err.n ? err.items[0].message : "");
    if (needle && err.n)
        CHECKF(strstr(err.items[0].message, needle) != NULL, "message \"%s\" lacks \"%s\"",
               err.items[0].message, needle);
    up_call_free(&c);
    free(b.data);
}

#define P "\"parameters\":{\"kernel_size\":2},"
#define X_JSON "{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":\"FP32\",\"data\":[4]}"
#define I_JSON "{\"name\":\"indices\",\"shape\":[1,1,1,1],\"datatype\":\"INT64\",\"data\":[3]}"
#define X_BIN(n) "{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":" #n "}}"

static void not_json(void) { check_text_refused("max_unpool", "{\"inputs\": [", UP_E_MALFORMED, "JSON"); }
static void not_object(void) { check_text_refused("max_unpool", "[1]", UP_E_MALFORMED, "JSON object"); }
static void inputs_missing(void) { check_text_refused("max_unpool", "{" P "\"x\":1}", UP_E_MALFORMED, "inputs"); }
static void inputs_empty(void) { check_text_refused("max_unpool", "{\"inputs\":[]}", UP_E_MALFORMED, "non-empty"); }
static void unknown_input_name(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[" X_JSON ",{\"name\":\"weight\",\"shape\":[1],"
                       "\"datatype\":\"FP32\",\"data\":[1]}]}", UP_E_INVALID, "weight");
}
static void duplicate_input(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[" X_JSON "," X_JSON "]}", UP_E_MALFORMED, "twice");
}
static void unknown_datatype_bytes(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":"
                       "\"BYTES\",\"data\":[\"a\"]}]}", UP_E_MALFORMED, "BYTES");
}
static void unknown_datatype_uint32(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":"
                       "\"UINT32\",\"data\":[1]}]}", UP_E_MALFORMED, "UINT32");
}
static void data_count_mismatch(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,1],"
                       "\"datatype\":\"FP32\",\"data\":[4]}," I_JSON "]}", UP_E_INVALID, "shape needs 2");
}
/* A size past 2^53 (schemathesis found 3e35) is refused by name and range,
 * as openapi.yaml's maximum says. */
static void binary_data_size_past_2_53(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],"
                       "\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":"
                       "3.0e35}}]}", UP_E_MALFORMED, "binary_data_size must be an integer from 0 to 2^53");
}
static void data_not_number(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],"
                       "\"datatype\":\"FP32\",\"data\":[\"4\"]}," I_JSON "]}", UP_E_MALFORMED, "not a number");
}
static void data_int_out_of_range(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[" X_JSON ",{\"name\":\"mask\",\"shape\":[1,1,2,2],"
                       "\"datatype\":\"INT8\",\"data\":[0,0,300,0]}]}", UP_E_INVALID, "int8");
}
static void data_int_fractional(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[" X_JSON ",{\"name\":\"indices\",\"shape\":[1,1,1,1],"
                       "\"datatype\":\"INT64\",\"data\":[1.5]}]}", UP_E_INVALID, "int64");
}
/* The same fault gets the same status on /v1 and /v2: both codecs read
 * shapes and data through json_decode.c's one reader. */
static up_err_kind v1_kind(const char *op, const char *json)
{
    up_call c;
    up_error err;
    up_http_req req = {.content_type = "application/json"};
    up_limits lim = limits();
    req.body = strdup(json);
    req.body_len = strlen(json);
    up_error_clear(&err);
    int rc = up_call_decode_v1(&c, up_op_find(op), &req, &lim, &err);
    up_call_free(&c);
    free(req.body);
    return rc < 0 ? err.kind : UP_OK;
}
static up_err_kind v2_kind(const char *op, const char *json)
{
    up_call c;
    up_error err;
    int rc = decode_text(&c, op, json, &err);
    up_call_free(&c);
    return rc < 0 ? err.kind : UP_OK;
}
static void v1_and_v2_agree_on_faults(void)
{
    static const struct { const char *v1, *v2; up_err_kind kind; } cases[] = {
        {"{\"inputs\":{\"x\":[[[[4]]]],\"indices\":{\"dtype\":\"int64\",\"shape\":[1,1,1,1],"
         "\"data\":[9223372036854775808.0]}},\"params\":{\"kernel_size\":2}}",
         "{" P "\"inputs\":[" X_JSON ",{\"name\":\"indices\",\"shape\":[1,1,1,1],"
         "\"datatype\":\"INT64\",\"data\":[9223372036854775808.0]}]}", UP_E_INVALID},
        {"{\"inputs\":{\"x\":[[[[4]]]],\"indices\":{\"dtype\":\"int64\",\"shape\":[1,1,1,1],"
         "\"data\":[0.5]}},\"params\":{\"kernel_size\":2}}",
         "{" P "\"inputs\":[" X_JSON ",{\"name\":\"indices\",\"shape\":[1,1,1,1],"
         "\"datatype\":\"INT64\",\"data\":[0.5]}]}", UP_E_INVALID},
        {"{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,-1,1,1],\"data\":[]},"
         "\"indices\":[[[[3]]]]},\"params\":{\"kernel_size\":2}}",
         "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,-1,1,1],\"datatype\":\"FP32\","
         "\"data\":[]}," I_JSON "]}", UP_E_MALFORMED},
        {"{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,1,1],\"data\":[\"four\"]},"
         "\"indices\":[[[[3]]]]},\"params\":{\"kernel_size\":2}}",
         "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":\"FP32\","
         "\"data\":[\"four\"]}," I_JSON "]}", UP_E_MALFORMED},
        {"{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,1,1],\"data\":[\"NaN\"]},"
         "\"indices\":[[[[3]]]]},\"params\":{\"kernel_size\":2}}",
         "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":\"FP32\","
         "\"data\":[\"NaN\"]}," I_JSON "]}", UP_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        up_err_kind a = v1_kind("max_unpool", cases[i].v1), b = v2_kind("max_unpool", cases[i].v2);
        CHECKF(a == cases[i].kind && b == cases[i].kind, "case %zu: /v1 kind %d, /v2 kind %d, want %d",
               i, a, b, cases[i].kind);
    }
}
static void data_nested_too_deep(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],"
                       "\"datatype\":\"FP32\",\"data\":[[[[[[4]]]]]]}," I_JSON "]}", UP_E_MALFORMED, "deeply");
}
static void data_missing(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],"
                       "\"datatype\":\"FP32\"}]}", UP_E_MALFORMED, "data list");
}
static void shape_negative(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,-1,1,1],"
                       "\"datatype\":\"FP32\",\"data\":[]}]}", UP_E_MALFORMED, ">= 0");
}
/* one JSON object, then garbage inside the declared length */
static void trailing_bytes_after_header(void)
{
    check_text_refused("max_pool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],"
                       "\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]} xyz", UP_E_MALFORMED,
                       "more than one JSON value");
}
static void shape_overflow(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[4294967296,4294967296,8],"
                       "\"datatype\":\"FP32\",\"data\":[]}]}", UP_E_TOO_LARGE, "overflows");
}
static void over_element_limit(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2048,1024],"
                       "\"datatype\":\"FP32\",\"data\":[]}]}", UP_E_TOO_LARGE, "limit");
}
static void sequence_params_refused(void)
{
    check_text_refused("max_unpool", "{\"parameters\":{\"kernel_size\":2,\"sequence_id\":7},\"inputs\":["
                       X_JSON "," I_JSON "]}", UP_E_INVALID, "sequence_id");
}
static void unknown_op_param(void)
{
    check_text_refused("max_unpool", "{\"parameters\":{\"kernel_size\":2,\"scale\":2},\"inputs\":["
                       X_JSON "," I_JSON "]}", UP_E_INVALID, "scale");
}
static void binary_data_output_not_bool(void)
{
    check_text_refused("max_unpool", "{\"parameters\":{\"kernel_size\":2,\"binary_data_output\":1},"
                       "\"inputs\":[" X_JSON "," I_JSON "]}", UP_E_MALFORMED, "true or false");
}
static void unknown_output_name(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[" X_JSON "," I_JSON "],\"outputs\":[{\"name\":\"z\"}]}",
                       UP_E_INVALID, "\"z\"");
}
static void output_classification_refused(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[" X_JSON "," I_JSON "],\"outputs\":[{\"name\":\"y\","
                       "\"parameters\":{\"classification\":3}}]}", UP_E_INVALID, "classification");
}
/* Without a server resolver (the daemon without --shm) a region is a
 * 422; a reference without its byte size is malformed either way. */
static void shared_memory_refused(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":"
                       "\"FP32\",\"parameters\":{\"shared_memory_region\":\"r\","
                       "\"shared_memory_byte_size\":4}}]}", UP_E_INVALID, "--shm");
    check_text_refused("max_unpool", "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":"
                       "\"FP32\",\"parameters\":{\"shared_memory_region\":\"r\"}}]}", UP_E_MALFORMED,
                       "shared_memory_byte_size");
}
static void id_too_long(void)
{
    char json[512];
    char id[200];
    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    snprintf(json, sizeof(json), "{\"id\":\"%s\",\"inputs\":[" X_JSON "]}", id);
    check_text_refused("max_unpool", json, UP_E_MALFORMED, "id");
}
static void binary_without_header(void)
{
    check_text_refused("max_unpool", "{" P "\"inputs\":[" X_BIN(4) "]}", UP_E_MALFORMED,
                       "Inference-Header-Content-Length");
}
static void binary_size_past_end(void)
{
    check_binary_refused("{" P "\"inputs\":[" X_BIN(4) "]}", 2, NULL, UP_E_MALFORMED, "past the end");
}
static void binary_size_mismatch(void)
{
    check_binary_refused("{" P "\"inputs\":[" X_BIN(8) "]}", 8, NULL, UP_E_MALFORMED, "need 4");
}
static void binary_leftover_bytes(void)
{
    check_binary_refused("{" P "\"inputs\":[" X_BIN(4) "," I_JSON "]}", 12, NULL, UP_E_MALFORMED,
                         "not claimed");
}
static void binary_and_data_both(void)
{
    check_binary_refused("{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":\"FP32\","
                         "\"data\":[1],\"parameters\":{\"binary_data_size\":4}}]}", 4, NULL,
                         UP_E_MALFORMED, "both");
}
static void header_length_past_end(void)
{
    check_binary_refused("{" P "\"inputs\":[" X_BIN(4) "]}", 4, "100000", UP_E_MALFORMED, "past the end");
}
static void header_length_not_a_number(void)
{
    check_binary_refused("{" P "\"inputs\":[" X_BIN(4) "]}", 4, "12x", UP_E_MALFORMED, "byte count");
}
static void header_length_cuts_json(void)
{
    check_binary_refused("{" P "\"inputs\":[" X_BIN(4) "]}", 4, "10", UP_E_MALFORMED, "JSON");
}

/* ---- metadata ---- */

static void server_metadata(void)
{
    for (int shm = 0; shm <= 1; shm++) {
        up_http_resp resp;
        up_http_resp_init(&resp);
        CHECK(up_kserve_server_metadata(&resp, shm) == 0);
        cJSON *root = cJSON_Parse(resp.body.data);
        CHECK(root && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(root, "name")), "unpoold") == 0);
        CHECK(cJSON_IsString(cJSON_GetObjectItem(root, "version")));
        const cJSON *ext = cJSON_GetObjectItem(root, "extensions"), *e;
        int found = 0, found_shm = 0;
        cJSON_ArrayForEach(e, ext) {
            found |= strcmp(cJSON_GetStringValue(e), "binary_tensor_data") == 0;
            found_shm |= strcmp(cJSON_GetStringValue(e), "system_shared_memory") == 0;
        }
        CHECK(found);
        CHECK(found_shm == shm); /* listed only when --shm is on */
        cJSON_Delete(root);
        up_http_resp_free(&resp);
    }
}

static void model_metadata_every_op(void)
{
    for (int i = 0; i < up_op_count(); i++) {
        const up_op_def *op = up_op_at(i);
        up_http_resp resp;
        up_http_resp_init(&resp);
        CHECK(up_kserve_model_metadata(op, &resp) == 0);
        cJSON *root = cJSON_Parse(resp.body.data);
        CHECKF(root != NULL, "%s", op->name);
        if (!root) continue;
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(root, "name")), op->name) == 0);
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "versions"), 0)), "1") == 0);
        const cJSON *ins = cJSON_GetObjectItem(root, "inputs"), *outs = cJSON_GetObjectItem(root, "outputs");
        CHECK(cJSON_GetArraySize(ins) == op->n_inputs && cJSON_GetArraySize(outs) == op->n_outputs);
        for (int k = 0; k < op->n_inputs && k < cJSON_GetArraySize(ins); k++) {
            const cJSON *in = cJSON_GetArrayItem(ins, k), *d;
            CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(in, "name")), op->inputs[k].name) == 0);
            CHECK(cJSON_IsString(cJSON_GetObjectItem(in, "datatype")));
            cJSON_ArrayForEach(d, cJSON_GetObjectItem(in, "shape")) CHECK(d->valuedouble == -1);
        }
        cJSON_Delete(root);
        up_http_resp_free(&resp);
    }
}

/* resize takes x of any rank 1-5: its x and y show [-1] with the ranks in
 * "parameters"; roi stays [-1] without them; every fixed-rank op keeps its
 * 2d form (N, C, H, W) and no parameters. */
static void model_metadata_variable_rank(void)
{
    for (int i = 0; i < up_op_count(); i++) {
        const up_op_def *op = up_op_at(i);
        int any = (op->flags & UP_OPF_ANY_RANK) != 0;
        up_http_resp resp;
        up_http_resp_init(&resp);
        CHECK(up_kserve_model_metadata(op, &resp) == 0);
        cJSON *root = cJSON_Parse(resp.body.data);
        CHECKF(root != NULL, "%s", op->name);
        if (!root) continue;
        const char *lists[] = {"inputs", "outputs"};
        for (int l = 0; l < 2; l++) {
            const cJSON *t;
            cJSON_ArrayForEach(t, cJSON_GetObjectItem(root, lists[l])) {
                const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(t, "name"));
                const cJSON *par = cJSON_GetObjectItem(t, "parameters");
                int n = cJSON_GetArraySize(cJSON_GetObjectItem(t, "shape"));
                int is_xy = strcmp(name, "x") == 0 || strcmp(name, "y") == 0;
                if (any && is_xy) {
                    CHECKF(n == 1, "%s.%s shape has %d dims", op->name, name, n);
                    CHECKF(par && cJSON_GetNumberValue(cJSON_GetObjectItem(par, "min_rank")) == 1 &&
                               cJSON_GetNumberValue(cJSON_GetObjectItem(par, "max_rank")) == UP_MAX_RANK,
                           "%s.%s", op->name, name);
                } else {
                    CHECKF(par == NULL, "%s.%s has parameters", op->name, name);
                    if (is_xy) CHECKF(n >= 3 && n <= 5, "%s.%s shape has %d dims", op->name, name, n);
                }
            }
        }
        cJSON_Delete(root);
        up_http_resp_free(&resp);
    }
    CHECK(up_op_find("resize") && (up_op_find("resize")->flags & UP_OPF_ANY_RANK));
}

/* A large binary output is not copied: the body is the JSON header and
 * the tensor follows as the tail, owned by the answer after the call is
 * freed. */
static void large_binary_output_zero_copy(void)
{
    const char *json = "{\"parameters\":{\"binary_data_output\":true,\"scale_factor\":2},"
                       "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,64,64],\"datatype\":\"FP32\","
                       "\"parameters\":{\"binary_data_size\":16384}}]}";
    size_t jl = strlen(json);
    char hl[32];
    body b;
    b.len = jl + 16384;
    b.data = malloc(b.len);
    memcpy(b.data, json, jl);
    for (int i = 0; i < 4096; i++) {
        float v = (float)i;
        memcpy(b.data + jl + 4 * i, &v, 4);
    }
    snprintf(hl, sizeof(hl), "%zu", jl);
    up_call c;
    up_error err;
    up_http_resp resp;
    up_http_resp_init(&resp);
    CHECK(decode(&c, "nearest_unpool", &b, hl, &err) == 0);
    CHECK(th_call_run(&c, &err) == 0);
    void *y = c.plan.out[0].data;
    CHECK(up_kserve_encode_call(&c, NULL, &resp, &err) == 0);
    CHECK(resp.n_tail == 1 && resp.tail[0].base == y && resp.tail[0].len == 65536);
    CHECK((size_t)strtoull(resp.extra_header_value, NULL, 10) == resp.body.len);
    CHECK(strstr(resp.body.data, "\"binary_data_size\":65536") != NULL);
    up_call_free(&c);
    int ok = resp.n_tail == 1;
    for (int i = 0; ok && i < 128 * 128; i++) {
        float v;
        memcpy(&v, (const char *)resp.tail[0].base + 4 * i, 4);
        ok = v == (float)((i / 128 / 2) * 64 + (i % 128) / 2);
    }
    CHECK(ok);
    up_http_resp_free(&resp);
    free(b.data);
}

/* ---- parsing limits, strict keys, memory ---- */

static int decode_text_lim(up_call *c, const char *op, const char *json, const up_limits *lim,
                           up_charge charge, up_error *err)
{
    up_http_req req = {.content_type = "application/json", .body = strdup(json),
                       .body_len = strlen(json), .charge = charge};
    int rc;
    up_error_clear(err);
    rc = up_call_decode_kserve(c, up_op_find(op), &req, lim, err);
    free(req.body);
    return rc;
}

static void json_depth_limit_applies(void)
{
    const char *json = "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\","
                       "\"data\":[[[[1,2],[3,4]]]]}]}";
    up_limits lim = limits();
    up_call c;
    up_error err;
    lim.max_json_depth = 6; /* the data's innermost list is at depth 7 */
    CHECK(decode_text_lim(&c, "max_pool", json, &lim, (up_charge){0}, &err) < 0);
    CHECK(err.kind == UP_E_MALFORMED && err.n && strstr(err.items[0].message, "deeper than 6 levels"));
    up_call_free(&c);
    lim.max_json_depth = 7;
    CHECKF(decode_text_lim(&c, "max_pool", json, &lim, (up_charge){0}, &err) == 0, "%s",
           err.n ? err.items[0].message : "");
    up_call_free(&c);
}

static void check_refused_field(const char *json, const char *field, const char *needle)
{
    up_limits lim = limits();
    up_call c;
    up_error err;
    CHECK(decode_text_lim(&c, "max_unpool", json, &lim, (up_charge){0}, &err) < 0);
    CHECKF(err.kind == UP_E_MALFORMED && err.n && !strcmp(err.items[0].field, field) &&
               strstr(err.items[0].message, needle),
           "kind %d field \"%s\" message \"%s\"", err.kind, err.n ? err.items[0].field : "",
           err.n ? err.items[0].message : "");
    up_call_free(&c);
}

static void nul_in_keys_and_names_refused(void)
{
    check_refused_field("{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":\"FP32\","
                        "\"data\":[4],\"data\\u0000junk\":[5]}]}",
                        "inputs[0]", "\\u0000");
    check_refused_field("{" P "\"inputs\":[{\"name\":\"x\\u0000junk\",\"shape\":[1,1,1,1],"
                        "\"datatype\":\"FP32\",\"data\":[4]}]}",
                        "inputs[0].name", "x\\u0000junk");
    check_refused_field("{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],"
                        "\"datatype\":\"FP32\\u0000\",\"data\":[4]}]}",
                        "inputs[0].datatype", "\\u0000");
    check_refused_field("{\"parameters\":{\"kernel_size\":2,\"kernel_size\\u0000x\":3},\"inputs\":[" X_JSON "]}",
                        "parameters", "kernel_size\\u0000x");
}

static void repeated_keys_refused(void)
{
    check_refused_field("{" P "\"inputs\":[{\"name\":\"x\",\"name\":\"indices\",\"shape\":[1,1,1,1],"
                        "\"datatype\":\"FP32\",\"data\":[4]}]}",
                        "inputs[0].name", "repeated JSON key \"name\"");
    check_refused_field("{\"parameters\":{\"kernel_size\":2,\"kernel_size\":3},\"inputs\":[" X_JSON "]}",
                        "parameters.kernel_size", "repeated JSON key \"kernel_size\"");
    check_refused_field("{" P "\"inputs\":[" X_JSON "]," P "\"id\":\"a\"}", "parameters",
                        "repeated JSON key \"parameters\"");
}

/* The header's number lists point into the body; a binary input moved down
 * into the dead header must not overwrite a later input's list before it
 * is read. x (1600 bytes, misaligned) is binary and moved over the whole
 * start of the header, where indices' shape and data lists are. */
static void binary_input_moved_after_header_is_read(void)
{
    char *json = malloc(8192);
    size_t n = 0, jl;
    float x[400];
    char hl[32];
    up_call c;
    up_error err;
    body b;
    n += (size_t)sprintf(json, "{\"parameters\":{\"kernel_size\":2},\"inputs\":["
                               "{\"name\":\"x\",\"shape\":[1,1,20,20],\"datatype\":\"FP32\","
                               "\"parameters\":{\"binary_data_size\":1600}},"
                               "{\"name\":\"indices\",\"shape\":[1,1,20,20],\"datatype\":\"INT64\",\"data\":[");
    for (int i = 0; i < 400; i++) n += (size_t)sprintf(json + n, "%s%d", i ? "," : "", (i / 20) * 80 + (i % 20) * 2);
    n += (size_t)sprintf(json + n, "]}]}");
    jl = n | 1; /* odd: x is misaligned, so it is moved */
    for (int i = 0; i < 400; i++) x[i] = (float)i + 0.5f;
    b.len = jl + sizeof(x);
    b.data = calloc(1, b.len + 1);
    memset(b.data, ' ', jl);
    memcpy(b.data, json, n);
    memcpy(b.data + jl, x, sizeof(x));
    snprintf(hl, sizeof(hl), "%zu", jl);
    CHECKF(decode(&c, "max_unpool", &b, hl, &err) == 0, "%s", err.n ? err.items[0].message : "");
    if (c.plan.raw[0].data && c.plan.raw[1].data) {
        const float *xd = c.plan.raw[0].data;
        const int64_t *id = c.plan.raw[1].data;
        CHECK(xd[0] == 0.5f && xd[399] == 399.5f);
        CHECK(id[0] == 0 && id[1] == 2 && id[21] == 82 && id[399] == 19 * 80 + 38);
        CHECK(c.plan.raw[1].shape[3] == 20);
        CHECK((char *)xd >= b.data && (char *)xd < b.data + jl); /* moved, not copied */
    }
    up_call_free(&c);
    free(b.data);
    free(json);
}

static void decoded_tensors_are_charged(void)
{
    char *json = malloc(1 << 20);
    size_t n = 0;
    up_limits lim = limits();
    th_budget bu = {.limit = (int64_t)1 << 30};
    up_call c;
    up_error err;
    n += (size_t)sprintf(json, "{" P "\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,100,100],"
                               "\"datatype\":\"FP64\",\"data\":[");
    for (int i = 0; i < 10000; i++) n += (size_t)sprintf(json + n, "%s%d.5", i ? "," : "", i);
    sprintf(json + n, "]}]}");
    CHECKF(decode_text_lim(&c, "max_pool", json, &lim, (up_charge){.take = th_budget_take, .ctx = &bu}, &err) == 0, "%s",
           err.n ? err.items[0].message : "");
    CHECKF(bu.used >= 80000, "charged %lld", (long long)bu.used);
    CHECK(c.plan.charge.take == th_budget_take && c.plan.charge.ctx == &bu);
    CHECK(c.plan.raw[0].data && ((double *)c.plan.raw[0].data)[9999] == 9999.5);
    up_call_free(&c);
    /* refused: the hook's own error, unchanged */
    bu = (th_budget){.limit = 70000};
    CHECK(decode_text_lim(&c, "max_pool", json, &lim, (up_charge){.take = th_budget_take, .ctx = &bu}, &err) < 0);
    CHECK(err.kind == UP_E_OVERLOADED && err.n == 1 && strstr(err.items[0].message, "budget:"));
    CHECK(bu.used <= bu.limit && !c.plan.raw[0].data);
    up_call_free(&c);
    free(json);
}

int main(void)
{
    RUN(max_unpool_json_inputs);
    RUN(large_binary_output_zero_copy);
    RUN(max_unpool_binary_inputs_realigned);
    RUN(max_unpool_fp64_binary);
    RUN(max_pool_string_list_params_mixed_outputs);
    RUN(nearest_bf16_binary);
    RUN(nearest_fp16_json_inputs);
    RUN(json_in_json_out);
    RUN(bool_mask_json);
    RUN(not_json);
    RUN(not_object);
    RUN(inputs_missing);
    RUN(inputs_empty);
    RUN(unknown_input_name);
    RUN(duplicate_input);
    RUN(unknown_datatype_bytes);
    RUN(unknown_datatype_uint32);
    RUN(data_count_mismatch);
    RUN(binary_data_size_past_2_53);
    RUN(data_not_number);
    RUN(data_int_out_of_range);
    RUN(data_int_fractional);
    RUN(v1_and_v2_agree_on_faults);
    RUN(data_nested_too_deep);
    RUN(data_missing);
    RUN(shape_negative);
    RUN(trailing_bytes_after_header);
    RUN(shape_overflow);
    RUN(over_element_limit);
    RUN(sequence_params_refused);
    RUN(unknown_op_param);
    RUN(binary_data_output_not_bool);
    RUN(unknown_output_name);
    RUN(output_classification_refused);
    RUN(shared_memory_refused);
    RUN(id_too_long);
    RUN(binary_without_header);
    RUN(binary_size_past_end);
    RUN(binary_size_mismatch);
    RUN(binary_leftover_bytes);
    RUN(binary_and_data_both);
    RUN(header_length_past_end);
    RUN(header_length_not_a_number);
    RUN(header_length_cuts_json);
    RUN(server_metadata);
    RUN(model_metadata_every_op);
    RUN(model_metadata_variable_rank);
    RUN(json_depth_limit_applies);
    RUN(nul_in_keys_and_names_refused);
    RUN(repeated_keys_refused);
    RUN(binary_input_moved_after_header_is_read);
    RUN(decoded_tensors_are_charged);
    return th_summary();
}
