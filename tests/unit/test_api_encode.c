/* test_api_encode.c -- the v1 JSON answer (encode.c, json_encode.c) and
 * the GET /v1/ops document (ops_doc.c).
 *
 * Answers are read back with cJSON and checked field by field; float data
 * is read back with strtof from the raw text (not through a double) so a
 * value that does not round-trip exactly is caught. One case encodes a
 * 1M-element float32 output and prints the throughput. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "api/codecs.h"
#include "api/numfmt.h"
#include "kernels/convert.h"
#include "tests/support/harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define BIG_N (1 << 16)
#else
#define BIG_N (1 << 20)
#endif

static const up_limits limits = {.max_elements = 1 << 26, .max_json_depth = 64};

/* POST /v1/ops/{op} with a JSON body, run on this thread, encode. */
static int run_json(const char *op, const char *body, const char *query_key, const char *query_val,
                    const char *request_id, up_http_resp *resp, up_error *err)
{
    up_call c;
    up_kv q = {.key = query_key, .value = query_val};
    up_http_req req = {.content_type = "application/json", .query = &q, .n_query = query_key ? 1 : 0};
    up_timing t = {.decode_ms = 1, .queue_ms = 2, .compute_ms = 3, .total_ms = 6};
    up_fault f;
    int rc = -1;
    req.body = strdup(body);
    req.body_len = strlen(body);
    up_http_resp_init(resp);
    up_error_clear(err);
    up_fault_init(&f);
    if (up_call_decode_v1(&c, up_op_find(op), &req, &limits, err) < 0) goto out;
    if (query_key && up_call_query(&c, &req, 1, err) < 0) goto out;
    up_plan_run(&c.plan, 0, c.plan.work_units, &f);
    rc = up_call_encode(&c, &f, &t, request_id, resp, err);
out:
    up_call_free(&c);
    free(req.body);
    return rc;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* The raw text of the "data" array of output `name`, from the answer. */
static const char *raw_data(const char *body, const char *name)
{
    char key[64];
    const char *p;
    snprintf(key, sizeof(key), "\"%s\":{", name);
    p = strstr(body, key);
    p = p ? strstr(p, "\"data\":[") : NULL;
    return p ? p + 8 : NULL;
}

static int shape_is(const cJSON *shape, int rank, const int64_t *want)
{
    if (cJSON_GetArraySize(shape) != rank) return 0;
    for (int i = 0; i < rank; i++)
        if (cJSON_GetArrayItem(shape, i)->valuedouble != (double)want[i]) return 0;
    return 1;
}

static void test_design_example(void)
{
    up_http_resp r;
    up_error err;
    const char *body = "{\"inputs\": {\"x\": {\"dtype\": \"float32\", \"shape\": [1, 1, 1, 1], "
                       "\"data\": [4]}, \"indices\": [[[[3]]]]}, "
                       "\"params\": {\"kernel_size\": 2, \"stride\": 2}}";
    CHECK(run_json("max_unpool", body, NULL, NULL, "req-1", &r, &err) == 0);
    CHECK(r.status == 200);
    CHECK(r.content_type && strcmp(r.content_type, "application/json") == 0);
    const char *want = "{\"op\":\"max_unpool\",\"request_id\":\"req-1\",\"outputs\":"
                       "{\"y\":{\"dtype\":\"float32\",\"shape\":[1,1,2,2],"
                       "\"data\":[0,0,0,4]}},\"timing\":{";
    CHECKF(r.body.data && strncmp(r.body.data, want, strlen(want)) == 0, "got %s",
           r.body.data ? r.body.data : "(null)");
    cJSON *j = cJSON_Parse(r.body.data);
    CHECK(j != NULL);
    const cJSON *t = get(j, "timing");
    CHECK(cJSON_IsObject(t));
    const char *names[] = {"decode_ms", "queue_ms", "compute_ms", "encode_ms", "total_ms"};
    for (int i = 0; i < 5; i++) CHECK(cJSON_IsNumber(get(t, names[i])));
    /* the caller's phases are kept; encode is added to the total */
    CHECK(get(t, "decode_ms")->valuedouble == 1 && get(t, "compute_ms")->valuedouble == 3);
    CHECK(get(t, "encode_ms")->valuedouble >= 0);
    CHECK(fabs(get(t, "total_ms")->valuedouble - 6 - get(t, "encode_ms")->valuedouble) < 0.0015);
    /* timing is the last member */
    CHECK(j && j->child && j->child->next && !strcmp(cJSON_GetArrayItem(j, 3)->string, "timing"));
    cJSON_Delete(j);
    up_http_resp_free(&r);
}

static void test_pool_two_outputs(void)
{
    up_http_resp r;
    up_error err;
    const char *body = "{\"inputs\": {\"x\": [[[[1, 2], [3, 4]]]]}, \"params\": {\"kernel_size\": 2}}";
    CHECK(run_json("max_pool", body, NULL, NULL, "a", &r, &err) == 0);
    cJSON *j = cJSON_Parse(r.body.data);
    const cJSON *o = get(j, "outputs");
    CHECK(cJSON_GetArraySize(o) == 2);
    CHECK(!strcmp(get(get(o, "indices"), "dtype")->valuestring, "int64"));
    CHECK(get(get(o, "indices"), "data")->child->valuedouble == 3);
    CHECK(get(get(o, "y"), "data")->child->valuedouble == 4);
    cJSON_Delete(j);
    up_http_resp_free(&r);

    /* ?output=indices: only that one */
    CHECK(run_json("max_pool", body, "output", "indices", "a", &r, &err) == 0);
    j = cJSON_Parse(r.body.data);
    o = get(j, "outputs");
    CHECK(cJSON_GetArraySize(o) == 1 && get(o, "indices") && !get(o, "y"));
    cJSON_Delete(j);
    up_http_resp_free(&r);
}

static void test_fault_is_422(void)
{
    up_http_resp r;
    up_error err;
    const char *body = "{\"inputs\": {\"x\": [[[[4]]]], \"indices\": [[[[7]]]]}, "
                       "\"params\": {\"kernel_size\": 2}}";
    CHECK(run_json("max_unpool", body, NULL, NULL, "a", &r, &err) < 0);
    CHECK(err.kind == UP_E_INVALID);
    CHECK(up_err_status(&err) == 422);
    CHECK(err.n >= 1 && !strcmp(err.items[0].field, "inputs.indices"));
    CHECK(err.n >= 1 && strstr(err.items[0].message, "7") != NULL);
    up_http_resp_free(&r);
}

static void test_b64_output(void)
{
    up_http_resp r;
    up_error err;
    const char *body = "{\"inputs\": {\"x\": {\"dtype\": \"float64\", \"shape\": [1, 1, 2], "
                       "\"data\": [0.1, -2.5]}}, \"params\": {\"scale_factor\": 2}}";
    CHECK(run_json("nearest_unpool", body, "output_format", "b64", "a", &r, &err) == 0);
    cJSON *j = cJSON_Parse(r.body.data);
    const cJSON *y = get(get(j, "outputs"), "y");
    CHECK(!strcmp(get(y, "dtype")->valuestring, "float64"));
    CHECK(get(y, "data") == NULL);
    const cJSON *b = get(y, "data_b64");
    CHECK(cJSON_IsString(b));
    if (cJSON_IsString(b)) {
        double v[4];
        size_t n = strlen(b->valuestring);
        CHECK(n == 44);
        CHECK(up_b64_decode(b->valuestring, n, (unsigned char *)v) == 32);
        CHECK(v[0] == 0.1 && v[1] == 0.1 && v[2] == -2.5 && v[3] == -2.5);
    }
    cJSON_Delete(j);
    up_http_resp_free(&r);
}

/* NaN and infinities are JSON strings; half types print their own
 * shortest text. */
static void test_specials_and_halves(void)
{
    up_http_resp r;
    up_error err;
    const char *body = "{\"inputs\": {\"x\": {\"dtype\": \"float32\", \"shape\": [1, 1, 4], "
                       "\"data\": [\"NaN\", \"Infinity\", \"-Infinity\", -0.0]}}, "
                       "\"params\": {\"scale_factor\": 1}}";
    CHECK(run_json("nearest_unpool", body, NULL, NULL, "a", &r, &err) == 0);
    CHECK(r.body.data && strstr(r.body.data, "\"data\":[\"NaN\",\"Infinity\",\"-Infinity\",-0.0]"));
    up_http_resp_free(&r);

    /* float16(0.1) and bfloat16(0.1) print as 0.1, not as their float32 value */
    uint16_t h = up_f32_to_f16(0.1f), bf = up_f32_to_bf16(0.1f);
    char b64[16], req[256];
    up_b64_encode((const unsigned char *)&h, 2, b64);
    snprintf(req, sizeof(req),
             "{\"inputs\": {\"x\": {\"dtype\": \"float16\", \"shape\": [1, 1, 1], \"data_b64\": \"%s\"}}, "
             "\"params\": {\"scale_factor\": 2}}", b64);
    CHECK(run_json("nearest_unpool", req, NULL, NULL, "a", &r, &err) == 0);
    CHECK(r.body.data && strstr(r.body.data, "\"dtype\":\"float16\",\"shape\":[1,1,2],\"data\":[0.1,0.1]"));
    up_http_resp_free(&r);
    up_b64_encode((const unsigned char *)&bf, 2, b64);
    snprintf(req, sizeof(req),
             "{\"inputs\": {\"x\": {\"dtype\": \"bfloat16\", \"shape\": [1, 1, 1], \"data_b64\": \"%s\"}}, "
             "\"params\": {\"scale_factor\": 1}}", b64);
    CHECK(run_json("nearest_unpool", req, NULL, NULL, "a", &r, &err) == 0);
    CHECK(r.body.data && strstr(r.body.data, "\"dtype\":\"bfloat16\",\"shape\":[1,1,1],\"data\":[0.1]"));
    up_http_resp_free(&r);
}

static void test_channels_last(void)
{
    up_http_resp r;
    up_error err;
    /* (N, W, C) = (1, 2, 2): channel 0 = [1, 2], channel 1 = [10, 20] */
    const char *body = "{\"inputs\": {\"x\": [[[1, 10], [2, 20]]]}, "
                       "\"params\": {\"scale_factor\": 2, \"layout\": \"channels_last\"}}";
    const int64_t shape[] = {1, 4, 2};
    CHECK(run_json("nearest_unpool", body, NULL, NULL, "a", &r, &err) == 0);
    cJSON *j = cJSON_Parse(r.body.data);
    const cJSON *y = get(get(j, "outputs"), "y");
    CHECK(shape_is(get(y, "shape"), 3, shape));
    CHECK(r.body.data && strstr(r.body.data, "\"data\":[1,10,1,10,2,20,2,20]"));
    cJSON_Delete(j);
    up_http_resp_free(&r);
}

/* A request id may hold anything the client sent: the answer stays valid
 * JSON. */
static void test_request_id_escaped(void)
{
    up_http_resp r;
    up_error err;
    const char *body = "{\"inputs\": {\"x\": [[[1]]]}, \"params\": {\"scale_factor\": 1}}";
    CHECK(run_json("nearest_unpool", body, NULL, NULL, "a\"b\\c\n\x01\xff\xc3\xa9", &r, &err) == 0);
    cJSON *j = cJSON_Parse(r.body.data);
    CHECK(j != NULL);
    CHECK(j && !strcmp(get(j, "request_id")->valuestring, "a\"b\\c\n\x01\xef\xbf\xbd\xc3\xa9"));
    cJSON_Delete(j);
    up_http_resp_free(&r);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A big float32 output straight through up_json_encode_call: every value
 * reads back exactly with strtof, and the throughput is printed. */
static void test_big_output(void)
{
    up_call c;
    up_http_resp r;
    up_error err;
    up_timing t = {0};
    const int64_t shape[] = {1, 4, BIG_N / 4};
    uint64_t s = 12345;
    up_call_init(&c);
    up_plan_init(&c.plan, up_op_find("nearest_unpool"));
    up_http_resp_init(&r);
    up_error_clear(&err);
    CHECK(up_tensor_alloc(&c.plan.result[0], UP_F32, 3, shape) == 0);
    float *v = c.plan.result[0].data;
    for (int i = 0; i < BIG_N; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        v[i] = (float)((double)(int64_t)s / 9.2e18 * (i % 3 ? 1.0 : 1e4));
    }
    double t0 = now_s();
    CHECK(up_json_encode_call(&c, &t, "big", &r, &err) == 0);
    double el = now_s() - t0;
    printf("    json encode: %d float32 in %.1f ms: %.0f MB/s of JSON, %.1f ns/value\n", BIG_N,
           el * 1e3, (double)r.body.len / el / 1e6, el * 1e9 / BIG_N);
    CHECK(t.encode_ms > 0 && fabs(t.encode_ms - t.total_ms) < 1e-9);
    const char *p = raw_data(r.body.data, "y");
    int bad = 0;
    for (int i = 0; p && i < BIG_N; i++) {
        char *end;
        float f = strtof(p, &end);
        if (memcmp(&f, &v[i], 4) != 0 && bad++ < 3)
            printf("    value %d: text \"%.20s\" != %.9g\n", i, p, (double)v[i]);
        p = end + 1; /* the comma (or the closing bracket) */
    }
    CHECK(p != NULL);
    CHECK(bad == 0);
    up_http_resp_free(&r);
    up_call_free(&c);
}

static void test_empty_output(void)
{
    up_call c;
    up_http_resp r;
    up_error err;
    up_timing t = {0};
    const int64_t shape[] = {0, 1, 3};
    up_call_init(&c);
    up_plan_init(&c.plan, up_op_find("nearest_unpool"));
    up_http_resp_init(&r);
    CHECK(up_tensor_alloc(&c.plan.result[0], UP_F32, 3, shape) == 0);
    CHECK(up_json_encode_call(&c, &t, NULL, &r, &err) == 0);
    CHECK(r.body.data && strstr(r.body.data, "\"request_id\":null,") != NULL);
    CHECK(r.body.data && strstr(r.body.data, "\"shape\":[0,1,3],\"data\":[]}") != NULL);
    up_http_resp_free(&r);
    up_call_free(&c);
}

/* ---- GET /v1/ops ---- */

static const cJSON *find_named(const cJSON *arr, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        const cJSON *n = get(e, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name)) return e;
    }
    return NULL;
}

static void test_ops_document(void)
{
    up_http_resp r;
    up_http_resp_init(&r);
    CHECK(up_ops_document(&r) == 0);
    CHECK(r.status == 200 && r.content_type && !strcmp(r.content_type, "application/json"));
    cJSON *j = cJSON_Parse(r.body.data);
    const cJSON *ops = get(j, "ops");
    CHECK(cJSON_GetArraySize(ops) == up_op_count());
    /* every op of the registry, with every input, output and param */
    for (int i = 0; i < up_op_count(); i++) {
        const up_op_def *def = up_op_at(i);
        const cJSON *o = find_named(ops, def->name);
        CHECKF(o != NULL, "op %s missing", def->name);
        if (!o) continue;
        CHECK(cJSON_GetArraySize(get(o, "inputs")) == def->n_inputs);
        CHECK(cJSON_GetArraySize(get(o, "outputs")) == def->n_outputs);
        CHECK(cJSON_GetArraySize(get(o, "params")) == def->n_params);
        CHECK(cJSON_GetArraySize(get(o, "spatial_dims")) == def->max_spatial - def->min_spatial + 1);
        for (int k = 0; k < def->n_params; k++)
            CHECK(find_named(get(o, "params"), def->params[k].name) != NULL);
        CHECK(cJSON_IsString(get(o, "summary")) && cJSON_IsString(get(o, "semantics")));
    }
    const cJSON *mu = find_named(ops, "max_unpool");
    const cJSON *stride = find_named(get(mu, "params"), "stride");
    CHECK(cJSON_IsNull(get(stride, "default")) && !strcmp(get(stride, "default_from")->valuestring, "kernel_size"));
    CHECK(!strcmp(get(find_named(get(mu, "params"), "kernel_size"), "type")->valuestring, "spatial_int"));
    CHECK(get(find_named(get(mu, "params"), "padding"), "default")->valuedouble == 0);
    const cJSON *il = find_named(get(mu, "params"), "index_layout");
    CHECK(cJSON_GetArraySize(get(il, "choices")) == 4 && !strcmp(get(il, "default")->valuestring, "plane"));
    const cJSON *ind = find_named(get(mu, "inputs"), "indices");
    CHECK(cJSON_IsFalse(get(ind, "required")) && !strcmp(get(ind, "kind")->valuestring, "indices"));
    CHECK(!strcmp(get(ind, "dtypes")->child->valuestring, "int64"));
    const cJSON *mp = find_named(ops, "max_pool");
    CHECK(cJSON_IsFalse(get(find_named(get(mp, "params"), "ceil_mode"), "default")));
    CHECK(!strcmp(get(find_named(get(mp, "outputs"), "indices"), "dtypes")->child->valuestring, "int64"));
    const cJSON *fmp = find_named(ops, "fractional_max_pool");
    CHECK(cJSON_GetArraySize(get(fmp, "spatial_dims")) == 2 && get(fmp, "spatial_dims")->child->valuedouble == 2);
    cJSON_Delete(j);
    up_http_resp_free(&r);
}

/* ---- the answer's bound (up_call_answer_bytes) ---------------------------- */

static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void) { return th_xorshift(&rng_state); }

/* Element k of a random tensor of dt: random bits, or an extreme. */
static void random_element(up_dtype dt, unsigned char *at)
{
    static const double extremes[] = {0.0, -0.0, 1.0, -1.0, INFINITY, -INFINITY, NAN,
                                      3.4028234663852886e38, -3.4028234663852886e38,
                                      1.401298464324817e-45, -1.1754943508222875e-38,
                                      1.7976931348623157e308, -2.2250738585072014e-308,
                                      4.9406564584124654e-324, 65504.0, -5.960464477539063e-8,
                                      -9.9999996e20, 1.2345679e20, -1.2345678901234567e-6,
                                      -1.2345678e-6, 1e-7, 123456789012345678.0};
    uint64_t r = rng();
    size_t es = up_dtype_size(dt);
    if (dt == UP_BOOL) {
        at[0] = (unsigned char)(r & 1);
        return;
    }
    if (up_dtype_is_float(dt) && r % 3 == 0) {
        double d = extremes[(r >> 8) % (sizeof(extremes) / sizeof(extremes[0]))];
        float f = (float)d;
        uint16_t h = dt == UP_F16 ? up_f32_to_f16(f) : up_f32_to_bf16(f);
        if (dt == UP_F64) memcpy(at, &d, 8);
        else if (dt == UP_F32) memcpy(at, &f, 4);
        else memcpy(at, &h, 2);
        return;
    }
    if (!up_dtype_is_float(dt) && r % 3 == 0) { /* the most negative or the largest */
        memset(at, (r >> 8) & 1 ? 0xff : 0x00, es);
        at[es - 1] = (r >> 8) & 1 ? (dt == UP_U8 ? 0xff : 0x7f) : 0x80;
        return;
    }
    r = rng();
    memcpy(at, &r, es);
}

/* The element of each dtype with the longest JSON text, as bytes. */
static unsigned char widest[UP_DT_COUNT][8];

static size_t fmt_any(up_dtype dt, const unsigned char *at, char *buf)
{
    float f;
    double d;
    uint16_t h;
    int64_t v = 0;
    switch (dt) {
    case UP_F32: memcpy(&f, at, 4); return up_fmt_f32(f, buf);
    case UP_F64: memcpy(&d, at, 8); return up_fmt_f64(d, buf);
    case UP_F16: memcpy(&h, at, 2); return up_fmt_f16(h, buf);
    case UP_BF16: memcpy(&h, at, 2); return up_fmt_bf16(h, buf);
    case UP_U8: return up_fmt_u64(at[0], buf);
    case UP_BOOL: return 5;
    default:
        memcpy(&v, at, up_dtype_size(dt));
        if (up_dtype_size(dt) < 8) v = (int64_t)((uint64_t)v << (64 - 8 * up_dtype_size(dt))) >> (64 - 8 * up_dtype_size(dt));
        return up_fmt_i64(v, buf);
    }
}

static void widest_init(void)
{
    static int done;
    char buf[64];
    if (done) return;
    done = 1;
    for (up_dtype dt = 0; dt < UP_DT_COUNT; dt++) {
        size_t best = 0, es = up_dtype_size(dt);
        unsigned char cand[8];
        if (dt == UP_DT_INVALID) continue;
        for (int k = 0; k < 200000; k++) {
            memset(cand, 0, sizeof(cand));
            random_element(dt, cand);
            if (dt == UP_F32 && k % 2) { /* the 21-digit plain range */
                float f = -9.9999998e20f * (float)(k % 100000) / 100000.0f;
                memcpy(cand, &f, 4);
            }
            if (dt == UP_F64 && k % 2) {
                double d = -1e-6 * (1.0 + (double)(rng() % 1000000007) / 100000000.0);
                memcpy(cand, &d, 8);
            }
            if (es == 2 && up_dtype_is_float(dt)) { uint16_t h = (uint16_t)k; memcpy(cand, &h, 2); }
            size_t n = fmt_any(dt, cand, buf);
            if (n > best) {
                best = n;
                memcpy(widest[dt], cand, es);
            }
        }
    }
}

/* A tensor of dt filled with its widest element, or random ones. */
static void fill_tensor_for_bound(up_tensor *o, up_dtype shown, int worst)
{
    size_t es = up_dtype_size(o->dtype);
    for (int64_t k = 0; k < up_tensor_numel(o); k++) {
        unsigned char *at = (unsigned char *)o->data + (size_t)k * es;
        if (!worst) {
            random_element(o->dtype, at);
        } else if (shown == o->dtype) {
            memcpy(at, widest[shown], es);
        } else { /* float16/bfloat16 storage, float32 compute: exact */
            uint16_t h;
            float f;
            memcpy(&h, widest[shown], 2);
            f = shown == UP_F16 ? up_f16_to_f32(h) : up_bf16_to_f32(h);
            memcpy(at, &f, 4);
        }
    }
}

static void random_shape(up_tensor *t, up_dtype dt, int big)
{
    int64_t shape[UP_MAX_RANK];
    int rank = 1 + (int)(rng() % UP_MAX_RANK);
    for (int d = 0; d < rank; d++) shape[d] = (int64_t)(rng() % 5);
    if (rng() % 4) /* mostly non-empty */
        for (int d = 0; d < rank; d++) shape[d] += 1;
    if (big) shape[0] = 5000; /* past the 16 KiB copied into the body */
    up_tensor_alloc(t, dt, rank, shape);
}

/* A finished max_pool plan whose outputs are random tensors: y reaches
 * the client as `vdt` (float storage, converted from the compute dtype by
 * up_plan_finish), indices as `idt` (any dtype). Then c is encoded; the
 * answer must stay inside up_call_answer_bytes, and its allocations inside
 * up_call_answer_alloc_bytes. */
static int bound_case(up_call *c, up_dtype vdt, up_dtype idt, int big, char *why, size_t cap)
{
    up_plan *p = &c->plan;
    up_http_resp r;
    up_error err;
    up_fault f;
    up_timing t = {.decode_ms = 123456.789, .queue_ms = 1e9, .compute_ms = 3, .total_ms = 1e12};
    int64_t est, alloc, len, widened = 0;
    int ok = 1;
    p->storage = vdt;
    p->compute = vdt == UP_F64 ? UP_F64 : UP_F32;
    random_shape(&p->out[0], p->compute, big && rng() % 2);
    random_shape(&p->out[1], idt, big && rng() % 2);
    widest_init();
    fill_tensor_for_bound(&p->out[0], vdt, rng() % 3 == 0);
    fill_tensor_for_bound(&p->out[1], idt, rng() % 3 == 0);
    est = up_call_answer_bytes(c);
    alloc = up_call_answer_alloc_bytes(c);
    if (c->proto == UP_PROTO_V1 && c->out_format == UP_FMT_NPY && vdt == UP_BF16 && c->out_select <= 0)
        widened = 4 * up_tensor_numel(&p->out[0]);
    up_http_resp_init(&r);
    up_error_clear(&err);
    up_fault_init(&f);
    if (up_call_encode(c, &f, &t, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
                       &r, &err) < 0) {
        snprintf(why, cap, "encode failed: %s", err.n ? err.items[0].message : "?");
        ok = 0;
    } else {
        len = (int64_t)up_http_resp_len(&r);
        if (len > est || alloc > est || (int64_t)r.body.cap + widened > alloc) {
            snprintf(why, cap,
                     "proto %d format %d b64 %d: %s/%s: encoded %lld, body cap %zu (+%lld widened); "
                     "bound %lld, alloc bound %lld",
                     c->proto, c->out_format, c->out_b64, up_dtype_name(vdt), up_dtype_name(idt),
                     (long long)len, r.body.cap, (long long)widened, (long long)est, (long long)alloc);
            ok = 0;
        }
    }
    up_http_resp_free(&r);
    return ok;
}

/* A call in the given form, with max_pool's plan and no inputs. */
static void form_call(up_call *c, int form)
{
    up_call_init(c);
    up_plan_init(&c->plan, up_op_find("max_pool"));
    c->proto = form >= 6 ? UP_PROTO_KSERVE : UP_PROTO_V1;
    switch (form) {
    case 1: c->out_b64 = 1; break;                         /* JSON data_b64 */
    case 2: c->out_select = 1; break;                      /* JSON, ?output=indices */
    case 3: c->out_format = UP_FMT_NPY; break;             /* .npy of y */
    case 4: c->out_format = UP_FMT_NPY, c->out_select = 1; break;
    case 5: c->out_format = UP_FMT_SAFETENSORS; break;
    case 7: c->kserve_binary_out = 1; break;               /* KServe binary */
    default: break;                                        /* JSON lists; KServe JSON */
    }
}

static void test_answer_within_bound(void)
{
    static const up_dtype vdts[] = {UP_F32, UP_F64, UP_F16, UP_BF16};
    char why[400] = "";
    int bad = 0, cases = 0;
    for (int round = 0; round < 300 && bad < 3; round++) {
        for (int form = 0; form <= 7 && bad < 3; form++) {
            for (up_dtype idt = 0; idt < UP_DT_COUNT && bad < 3; idt++) {
                up_call c;
                if (idt == UP_DT_INVALID) continue;
                form_call(&c, form);
                if (!bound_case(&c, vdts[(round + idt) % 4], idt, round % 10 == 0, why, sizeof(why))) {
                    printf("    %s\n", why);
                    bad++;
                }
                up_call_free(&c);
                cases++;
            }
        }
    }
    CHECKF(bad == 0, "%d of %d answers past their bound", bad, cases);
}

/* KServe with a per-output choice: indices binary, y as JSON. */
static void test_answer_within_bound_kserve_mixed(void)
{
    const char *body = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\","
                       "\"data\":[1,2,3,4]}],\"parameters\":{\"kernel_size\":2},"
                       "\"outputs\":[{\"name\":\"indices\",\"parameters\":{\"binary_data\":true}},"
                       "{\"name\":\"y\"}]}";
    up_http_req req = {.content_type = "application/json"};
    char why[400] = "";
    int bad = 0;
    for (int round = 0; round < 200 && bad < 3; round++) {
        up_call c;
        up_error err;
        up_error_clear(&err);
        req.body = strdup(body);
        req.body_len = strlen(body);
        CHECK(up_call_decode_kserve(&c, up_op_find("max_pool"), &req, &limits, &err) == 0);
        for (int i = 0; i < UP_MAX_OUTPUTS; i++) up_tensor_free(&c.plan.out[i]);
        if (!bound_case(&c, round % 2 ? UP_F32 : UP_F16, (up_dtype)(round % UP_DT_COUNT) == UP_DT_INVALID ? UP_I64 : (up_dtype)(round % UP_DT_COUNT), round % 7 == 0, why, sizeof(why))) {
            printf("    %s\n", why);
            bad++;
        }
        up_call_free(&c);
        free(req.body);
    }
    CHECK(bad == 0);
}

/* The per-element widths the bound uses, against the formatters over
 * every float16 and bfloat16 value and float32/float64 extremes. */
static void test_element_width_table(void)
{
    char buf[64];
    size_t w16 = 0, wb16 = 0, w32 = 0, w64 = 0;
    static const double f64s[] = {-0.0000012345678901234567, -1.2345678901234567e-7,
                                  -123456789012345678901.0, -9.9999999999999991e20,
                                  -2.2250738585072014e-308, -1.7976931348623157e308, NAN, -INFINITY,
                                  -4.9406564584124654e-324};
    static const float f32s[] = {-1.23456791e-6f, -9.99999949e-6f, -9.99999979e20f, -1.17549435e-38f,
                                 -3.40282347e38f, -1.40129846e-45f, NAN, -INFINITY, -1.00000002e20f};
    for (uint32_t h = 0; h < 65536; h++) {
        size_t a = up_fmt_f16((uint16_t)h, buf), b = up_fmt_bf16((uint16_t)h, buf);
        if (a > w16) w16 = a;
        if (b > wb16) wb16 = b;
    }
    for (size_t k = 0; k < sizeof(f32s) / sizeof(f32s[0]); k++) {
        size_t a = up_fmt_f32(f32s[k], buf);
        if (a > w32) w32 = a;
    }
    for (int k = 0; k < 1000000; k++) { /* random bits, and the 21-digit plain range */
        uint32_t u = (uint32_t)rng();
        float f;
        memcpy(&f, &u, 4);
        if (k % 2) f = -9.9999998e20f * (float)(u % 100000) / 100000.0f;
        size_t a = up_fmt_f32(f, buf);
        if (a > w32) w32 = a;
    }
    for (size_t k = 0; k < sizeof(f64s) / sizeof(f64s[0]); k++) {
        size_t a = up_fmt_f64(f64s[k], buf);
        if (a > w64) w64 = a;
    }
    for (int k = 0; k < 100000; k++) {
        uint64_t u = rng();
        double d;
        memcpy(&d, &u, 8);
        if (k % 2) d = -1e-6 * (1.0 + (double)(u % 1000000007) / 100000000.0);
        size_t a = up_fmt_f64(d, buf);
        if (a > w64) w64 = a;
    }
    CHECKF(w16 <= (size_t)up_json_elem_max(UP_F16), "float16 %zu", w16);
    CHECKF(wb16 <= (size_t)up_json_elem_max(UP_BF16), "bfloat16 %zu", wb16);
    CHECKF(w32 <= (size_t)up_json_elem_max(UP_F32), "float32 %zu", w32);
    CHECKF(w64 <= (size_t)up_json_elem_max(UP_F64), "float64 %zu", w64);
    CHECK(up_fmt_i64(INT64_MIN, buf) <= (size_t)up_json_elem_max(UP_I64));
    CHECK(up_fmt_i64(INT32_MIN, buf) <= (size_t)up_json_elem_max(UP_I32));
    CHECK(up_fmt_i64(INT16_MIN, buf) <= (size_t)up_json_elem_max(UP_I16));
    CHECK(up_fmt_i64(INT8_MIN, buf) <= (size_t)up_json_elem_max(UP_I8));
    CHECK(up_fmt_u64(UINT8_MAX, buf) <= (size_t)up_json_elem_max(UP_U8));
    /* the table is tight where it was measured */
    CHECK(w16 == (size_t)up_json_elem_max(UP_F16) && wb16 == (size_t)up_json_elem_max(UP_BF16));
}

int main(void)
{
    RUN(test_design_example);
    RUN(test_pool_two_outputs);
    RUN(test_fault_is_422);
    RUN(test_b64_output);
    RUN(test_specials_and_halves);
    RUN(test_channels_last);
    RUN(test_request_id_escaped);
    RUN(test_big_output);
    RUN(test_empty_output);
    RUN(test_ops_document);
    RUN(test_element_width_table);
    RUN(test_answer_within_bound);
    RUN(test_answer_within_bound_kserve_mixed);
    return th_summary();
}
