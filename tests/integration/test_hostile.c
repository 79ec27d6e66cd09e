/* test_hostile.c -- a battery of hostile and malformed requests against a
 * live daemon: truncated and deeply nested JSON, overflowing shapes, bad
 * indices, broken .npy / safetensors / KServe framing, wrong methods and
 * types, oversized bodies and headers, NUL bytes in the query, lying
 * framing, slowloris in the headers and in the request line (while a
 * kept-alive connection that merely waits is left to the idle timeout),
 * and hundreds of half-sent bodies.
 *
 * Every case checks the contract's status and the error body
 * (problem+json on /v1, KServe's {"error"} on /v2), then that the daemon
 * still answers a valid request correctly. At the end no request was
 * answered 500 (from /metrics) and the daemon exits 0 on SIGTERM (under
 * ASan that also means no leak). Requests go over plain sockets (raw.h) so
 * the bytes are exactly the hostile ones. */
#include <pthread.h>
#include <signal.h>

#include "client.h"
#include "raw.h"

static th_daemon D;

/* The flags of the battery's daemon: small limits that are quick to hit. */
static const char *const FLAGS[] = {"--workers", "2", "--queue", "16", "--max-body-mb", "1",
                                    "--max-elements", "100000", "--max-header-kb", "8",
                                    "--max-json-depth", "32", "--header-timeout-s", "2",
                                    "--idle-timeout-s", "3", "--body-timeout-s", "2", NULL};

static const char SEED[] = "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2}}";
#define JSON_CT "Content-Type: application/json\r\n"

/* ---- checks ------------------------------------------------------------ */

/* The answer has status and the right error body for the route; when field
 * is set, problem+json names it in errors[]. Prints why not. */
static int error_ok(const raw_resp *r, int status, int kserve, const char *field)
{
    char ct[128], rid[128];
    int ok = 1;
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
#define EXPECT(c)                                                                         \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            printf("    expected %s (got status %d, body %.200s)\n", #c, r->status,       \
                   r->body ? r->body : "");                                               \
            ok = 0;                                                                       \
        }                                                                                 \
    } while (0)
    EXPECT(r->status == status);
    EXPECT(raw_header(r, "X-Request-Id", rid, sizeof(rid)));
    if (kserve) {
        EXPECT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")));
    } else {
        EXPECT(raw_header(r, "Content-Type", ct, sizeof(ct)) &&
               !strcmp(ct, "application/problem+json"));
        EXPECT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "status")) == status);
        EXPECT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "type")));
        EXPECT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "title")));
        EXPECT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "detail")));
        const cJSON *errs = cJSON_GetObjectItemCaseSensitive(j, "errors"), *e;
        EXPECT(cJSON_GetArraySize(errs) >= 1);
        if (field) {
            int found = 0;
            cJSON_ArrayForEach(e, errs)
            {
                const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "field"));
                found |= f && !strcmp(f, field);
            }
            if (!found) printf("    no errors[].field \"%s\" in %.300s\n", field, r->body);
            ok &= found;
        }
    }
#undef EXPECT
    cJSON_Delete(j);
    return ok;
}

/* A valid request gets the right answer. */
static int still_serving(void)
{
    raw_resp r;
    raw_request(D.port, "POST", "/v1/ops/max_pool", JSON_CT, SEED, strlen(SEED), &r);
    int ok = r.status == 200 && r.body && strstr(r.body, "\"data\":[4]") && strstr(r.body, "\"indices\"");
    if (!ok) printf("    valid request afterwards: %d %.200s\n", r.status, r.body ? r.body : "");
    raw_free(&r);
    return ok;
}

/* ---- bodies ------------------------------------------------------------ */

typedef struct bytes {
    char *p;
    size_t n;
} bytes;

static bytes mk(const void *p, size_t n)
{
    bytes b = {malloc(n + 1), n};
    memcpy(b.p, p, n);
    b.p[n] = 0;
    return b;
}

static bytes str(const char *s) { return mk(s, strlen(s)); }

/* depth levels of "[" ... "]" around a 1, inside a v1 request. */
static bytes nested_arrays(int depth)
{
    size_t n = (size_t)depth * 2 + 64;
    char *s = malloc(n);
    size_t k = (size_t)sprintf(s, "{\"inputs\":{\"x\":");
    for (int i = 0; i < depth; i++) s[k++] = '[';
    s[k++] = '1';
    for (int i = 0; i < depth; i++) s[k++] = ']';
    k += (size_t)sprintf(s + k, "}}");
    bytes b = mk(s, k);
    free(s);
    return b;
}

static bytes nested_objects(int depth)
{
    size_t n = (size_t)depth * 8 + 16;
    char *s = malloc(n);
    size_t k = 0;
    for (int i = 0; i < depth; i++) k += (size_t)sprintf(s + k, "{\"a\":");
    s[k++] = '1';
    for (int i = 0; i < depth; i++) s[k++] = '}';
    bytes b = mk(s, k);
    free(s);
    return b;
}

/* A .npy file: magic, version, header (padded to 64 with a newline), data. */
static bytes npy(const char *magic6, const char *header, size_t data_bytes, int hlen_delta)
{
    char h[512];
    size_t hl = (size_t)snprintf(h, sizeof(h), "%s", header);
    while ((10 + hl + 1) % 64) h[hl++] = ' ';
    h[hl++] = '\n';
    size_t n = 10 + hl + data_bytes;
    char *s = calloc(1, n);
    memcpy(s, magic6, 6);
    s[6] = 1;
    s[7] = 0;
    uint16_t l16 = (uint16_t)((int)hl + hlen_delta);
    memcpy(s + 8, &l16, 2);
    memcpy(s + 10, h, hl);
    for (size_t i = 0; i < data_bytes; i++) s[10 + hl + i] = (char)(i * 37);
    bytes b = mk(s, n);
    free(s);
    return b;
}

/* A safetensors file: 8-byte little-endian header length (given, or the
 * real one when hlen is 0), the header text, data bytes. */
static bytes safet(const char *header, uint64_t hlen, size_t data_bytes)
{
    size_t hl = strlen(header), n = 8 + hl + data_bytes;
    char *s = calloc(1, n);
    uint64_t l = hlen ? hlen : hl;
    memcpy(s, &l, 8);
    memcpy(s + 8, header, hl);
    bytes b = mk(s, n);
    free(s);
    return b;
}

/* A KServe binary-extension body: JSON header then raw bytes. */
static bytes kbin(const char *json, size_t data_bytes, char *ihcl, size_t cap)
{
    size_t jl = strlen(json), n = jl + data_bytes;
    char *s = calloc(1, n + 1);
    memcpy(s, json, jl);
    snprintf(ihcl, cap, "Content-Type: application/octet-stream\r\n"
                        "Inference-Header-Content-Length: %zu\r\n", jl);
    bytes b = mk(s, n);
    free(s);
    return b;
}

/* ---- the table ---------------------------------------------------------- */

typedef struct hcase {
    const char *name;
    const char *method, *path;
    char headers[512];
    bytes body;
    int status;            /* expected */
    const char *field;     /* expected errors[].field, or NULL */
    int raw_bytes;         /* body is the whole request (headers included) */
} hcase;

#define MAX_CASES 128
static hcase C[MAX_CASES];
static int NC;

static hcase *add(const char *name, const char *method, const char *path, const char *headers,
                  bytes body, int status, const char *field)
{
    hcase *c = &C[NC++];
    memset(c, 0, sizeof(*c));
    c->name = name;
    c->method = method;
    c->path = path;
    snprintf(c->headers, sizeof(c->headers), "%s", headers);
    c->body = body;
    c->status = status;
    c->field = field;
    return c;
}

#define V1(name, path, json, st, field) add(name, "POST", path, JSON_CT, str(json), st, field)

static void build_json_cases(void)
{
    const char *mp = "/v1/ops/max_pool", *mu = "/v1/ops/max_unpool", *nu = "/v1/ops/nearest_unpool";
    V1("json_truncated_in_array", mp, "{\"inputs\": {\"x\": [[[1, 2", 400, NULL);
    V1("json_truncated_after_key", mp, "{\"inputs\"", 400, NULL);
    V1("json_truncated_in_string", mp, "{\"inputs\": {\"x\": {\"dtype\": \"flo", 400, NULL);
    V1("json_empty_body", mp, "", 400, NULL);
    V1("json_only_whitespace", mp, "   \n\t ", 400, NULL);
    V1("json_root_array", mp, "[1, 2, 3]", 400, NULL);
    V1("json_root_string", mp, "\"max_pool\"", 400, NULL);
    V1("json_root_null", mp, "null", 400, NULL);
    V1("json_trailing_garbage", mp, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2}} xyz", 400, NULL);
    /* bare NaN is read (Python's json writes it); NumPy's repr nan is not */
    V1("json_nan_literal", mp, "{\"inputs\":{\"x\":[[[[nan,2],[3,4]]]]},\"params\":{\"kernel_size\":2}}", 400, NULL);
    V1("json_nul_byte", mp, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"par\0ams\":{}}", 400, NULL);
    add("json_nested_arrays_40", "POST", mp, JSON_CT, nested_arrays(40), 400, NULL);
    add("json_nested_arrays_200000", "POST", mp, JSON_CT, nested_arrays(200000), 400, NULL);
    add("json_nested_objects_50000", "POST", mp, JSON_CT, nested_objects(50000), 400, NULL);
    V1("json_inputs_not_object", mp, "{\"inputs\": 5, \"params\": {\"kernel_size\": 2}}", 400, "inputs");
    V1("json_params_not_object", mp, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":[2]}", 400, NULL);
    V1("json_ragged_lists", mp, "{\"inputs\":{\"x\":[[[1,2],[3]]]},\"params\":{\"kernel_size\":1}}", 400, "inputs.x");
    V1("json_data_has_string", mp, "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,2,2],\"data\":[1,\"2\",3,4]}},\"params\":{\"kernel_size\":2}}", 400, NULL);
    V1("shape_2e40_overflow", mp,
       "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1099511627776,1099511627776,"
       "1099511627776,1099511627776],\"data\":[1]}},\"params\":{\"kernel_size\":2}}", 413, NULL);
    V1("shape_2e62_product", mp,
       "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[4611686018427387904,2,1,1],\"data\":[1]}},"
       "\"params\":{\"kernel_size\":1}}", 400, "inputs.x");
    V1("shape_negative", mp, "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,-1,2,2],\"data\":[1,2,3,4]}},\"params\":{\"kernel_size\":2}}", 400, "inputs.x");
    V1("shape_fractional", mp, "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1.5,2,2],\"data\":[1,2,3,4]}},\"params\":{\"kernel_size\":2}}", 400, NULL);
    V1("shape_rank_9", mp, "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data\":[1]}},\"params\":{\"kernel_size\":1}}", 422, NULL);
    V1("shape_data_mismatch", mp, "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,2,2],\"data\":[1,2,3]}},\"params\":{\"kernel_size\":2}}", 422, NULL);
    V1("dtype_unknown", mp, "{\"inputs\":{\"x\":{\"dtype\":\"float128\",\"shape\":[1,1,2,2],\"data\":[1,2,3,4]}},\"params\":{\"kernel_size\":2}}", 400, NULL);
    V1("b64_invalid_chars", mp, "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,2,2],\"data_b64\":\"!!!!!!!!!!!!!!!!!!!!!!==\"}},\"params\":{\"kernel_size\":2}}", 400, NULL);
    V1("b64_short", mp, "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,2,2],\"data_b64\":\"AAAAAA==\"}},\"params\":{\"kernel_size\":2}}", 422, NULL);
    V1("tensor_over_max_elements", nu, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"scale_factor\":1000}}", 413, NULL);
    V1("output_size_2e40", nu, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"output_size\":[1099511627776,1099511627776]}}", 413, NULL);
    V1("scale_factor_1e300", nu, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"scale_factor\":1e300}}", 413, NULL);
    V1("index_out_of_plane", mu, "{\"inputs\":{\"x\":[[[[4]]]],\"indices\":[[[[9]]]]},\"params\":{\"kernel_size\":2}}", 422, "inputs.indices");
    V1("index_negative", mu, "{\"inputs\":{\"x\":[[[[4]]]],\"indices\":[[[[-1]]]]},\"params\":{\"kernel_size\":2}}", 422, "inputs.indices");
    V1("index_2e62", mu, "{\"inputs\":{\"x\":[[[[4]]]],\"indices\":[[[[4611686018427387904]]]]},\"params\":{\"kernel_size\":2}}", 422, "inputs.indices");
    V1("index_shape_mismatch", mu, "{\"inputs\":{\"x\":[[[[4,5]]]],\"indices\":[[[[1]]]]},\"params\":{\"kernel_size\":2}}", 422, NULL);
    V1("kernel_size_zero", mp, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":0}}", 422, "params.kernel_size");
    V1("kernel_size_negative", mp, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":-3}}", 422, "params.kernel_size");
    V1("kernel_size_2e40", mp, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":1099511627776}}", 422, NULL);
    V1("stride_zero", mp, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2,\"stride\":0}}", 422, "params.stride");
    V1("param_unknown", mp, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":2,\"bogus\":1}}", 422, "params.bogus");
    V1("param_wrong_type", mp, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]},\"params\":{\"kernel_size\":\"two\"}}", 400, "params.kernel_size");
    V1("input_unknown", mp, "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]],\"z\":[1]},\"params\":{\"kernel_size\":2}}", 422, NULL);
    V1("op_unknown", "/v1/ops/max_poooool", SEED, 404, "op");
    V1("path_unknown", "/v1/opz/max_pool", SEED, 404, "path");
    V1("path_percent_nul", "/v1/ops/%00", SEED, 404, NULL);
    add("accept_unsatisfiable", "POST", mp, JSON_CT "Accept: image/png\r\n", str(SEED), 406, NULL);
    add("content_type_text", "POST", mp, "Content-Type: text/plain\r\n", str(SEED), 415, NULL);
    add("content_type_xml", "POST", mp, "Content-Type: application/xml\r\n", str("<x/>"), 415, NULL);
    add("method_get_on_op", "GET", mp, "", (bytes){0}, 405, "method");
    add("method_put_on_op", "PUT", mp, JSON_CT, str(SEED), 405, "method");
    add("method_delete_health", "DELETE", "/healthz", "", (bytes){0}, 405, "method");
    add("method_post_metrics", "POST", "/metrics", JSON_CT, str("{}"), 405, "method");
    add("method_bogus_token", "BREW", "/v1/ops", "", (bytes){0}, 405, "method");
    add("deadline_header_negative", "POST", mp, JSON_CT "X-Request-Timeout-Ms: -5\r\n", str(SEED), 400,
        "headers.X-Request-Timeout-Ms");
    add("deadline_header_huge", "POST", mp, JSON_CT "X-Request-Timeout-Ms: 99999999999999999999\r\n",
        str(SEED), 400, "headers.X-Request-Timeout-Ms");
}

static void build_binary_cases(void)
{
    static char ks[8][256];
    const char *mp = "/v1/ops/max_pool?kernel_size=2";
    const char *npy_ct = "Content-Type: application/x-npy\r\n";
    const char *st_ct = "Content-Type: application/x-safetensors\r\n";
    add("npy_bad_magic", "POST", mp, npy_ct,
        npy("\x93NUMPZ", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), }", 16, 0), 400, NULL);
    add("npy_truncated_header", "POST", mp, npy_ct, mk("\x93NUMPY\x01\x00\x76\x00{'descr'", 18), 400, NULL);
    add("npy_header_len_past_end", "POST", mp, npy_ct,
        npy("\x93NUMPY", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), }", 0, 4000), 400, NULL);
    add("npy_shape_overflow", "POST", mp, npy_ct,
        npy("\x93NUMPY", "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776, 1099511627776, 2), }", 16, 0),
        413, NULL);
    add("npy_data_short", "POST", mp, npy_ct,
        npy("\x93NUMPY", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 4, 4), }", 16, 0), 400, NULL);
    add("npy_dtype_complex", "POST", mp, npy_ct,
        npy("\x93NUMPY", "{'descr': '<c16', 'fortran_order': False, 'shape': (1, 1, 2, 2), }", 64, 0), 422, NULL);
    add("npy_header_not_dict", "POST", mp, npy_ct, npy("\x93NUMPY", "[1, 2, 3]", 16, 0), 400, NULL);
    add("npy_unknown_param", "POST", "/v1/ops/max_pool?kernel_size=2&frobnicate=1", npy_ct,
        npy("\x93NUMPY", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), }", 16, 0), 422,
        "query");
    add("safetensors_hlen_2e63", "POST", mp, st_ct, safet("{}", (uint64_t)1 << 63, 0), 400, NULL);
    add("safetensors_hlen_past_end", "POST", mp, st_ct, safet("{\"x\":{}}", 100000, 0), 400, NULL);
    add("safetensors_header_not_json", "POST", mp, st_ct, safet("{\"x\": [1, 2", 0, 16), 400, NULL);
    add("safetensors_offsets_past_end", "POST", mp, st_ct,
        safet("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,2,2],\"data_offsets\":[0,4096]}}", 0, 16), 400, NULL);
    add("safetensors_offsets_reversed", "POST", mp, st_ct,
        safet("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,2,2],\"data_offsets\":[16,0]}}", 0, 16), 400, NULL);
    add("safetensors_shape_overflow", "POST", mp, st_ct,
        safet("{\"x\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776,1099511627776,2],"
              "\"data_offsets\":[0,16]}}", 0, 16), 413, "inputs.x");
    add("safetensors_tiny_body", "POST", mp, st_ct, mk("\x05\x00\x00", 3), 400, NULL);

    /* KServe: errors are {"error": ...} */
    const char *inf = "/v2/models/max_pool/infer";
    V1("kserve_not_json", inf, "{\"inputs\": [", 400, NULL);
    V1("kserve_no_inputs", inf, "{\"parameters\":{\"kernel_size\":2}}", 400, NULL);
    V1("kserve_shape_overflow", inf,
       "{\"inputs\":[{\"name\":\"x\",\"shape\":[1099511627776,1099511627776,1099511627776,2],"
       "\"datatype\":\"FP32\",\"data\":[1]}],\"parameters\":{\"kernel_size\":2}}", 413, NULL);
    V1("kserve_datatype_bytes", inf,
       "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"BYTES\",\"data\":[1,2,3,4]}],"
       "\"parameters\":{\"kernel_size\":2}}", 400, NULL);
    add("kserve_ihcl_past_end", "POST", inf, "", str("{}"), 400, NULL);
    snprintf(C[NC - 1].headers, sizeof(C[NC - 1].headers),
             "Content-Type: application/octet-stream\r\nInference-Header-Content-Length: 5000\r\n");
    add("kserve_ihcl_not_number", "POST", inf,
        "Content-Type: application/octet-stream\r\nInference-Header-Content-Length: 12abc\r\n",
        str("{\"inputs\":[]}"), 400, NULL);
    hcase *c = add("kserve_binary_size_past_end", "POST", inf, "",
                   kbin("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\","
                        "\"parameters\":{\"binary_data_size\":4096}}],\"parameters\":{\"kernel_size\":2}}",
                        16, ks[0], sizeof(ks[0])),
                   400, NULL);
    snprintf(c->headers, sizeof(c->headers), "%s", ks[0]);
    c = add("kserve_binary_size_mismatch_shape", "POST", inf, "",
            kbin("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\","
                 "\"parameters\":{\"binary_data_size\":8}}],\"parameters\":{\"kernel_size\":2}}",
                 8, ks[1], sizeof(ks[1])),
            400, NULL);
    snprintf(c->headers, sizeof(c->headers), "%s", ks[1]);
    V1("kserve_unknown_model", "/v2/models/nope/infer", "{\"inputs\":[]}", 404, NULL);
}

/* Framing and header cases: whole requests written byte for byte. */
static void build_framing_cases(void)
{
    static char big_header[20 * 1024 + 256], many_args[8192];
    hcase *c;
#define RAWC(name, text, st, field)                                                  \
    do {                                                                            \
        c = add(name, NULL, NULL, "", str(text), st, field);                        \
        c->raw_bytes = 1;                                                           \
    } while (0)
    /* Content-Length over --max-body-mb 1: 413 before any body byte */
    RAWC("content_length_over_limit",
         "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Content-Length: 1073741824\r\n\r\n", 413, "body");
    /* chunked body that grows over the limit: answered at its end */
    {
        size_t n = 1200 * 1024;
        char *s = malloc(n + 512);
        int k = sprintf(s, "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                           "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (size_t done = 0; done < n; done += 65536) {
            k += sprintf(s + k, "10000\r\n");
            memset(s + k, ' ', 65536);
            k += 65536;
            k += sprintf(s + k, "\r\n");
            s = realloc(s, (size_t)k + 65536 + 512);
        }
        k += sprintf(s + k, "0\r\n\r\n");
        c = add("chunked_over_limit", NULL, NULL, "", mk(s, (size_t)k), 413, "body");
        c->raw_bytes = 1;
        free(s);
    }
    /* headers over --max-header-kb 8 (but inside the connection's memory) */
    {
        int k = sprintf(big_header, "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                                    "X-Padding: ");
        memset(big_header + k, 'a', 20 * 1024);
        k += 20 * 1024;
        sprintf(big_header + k, "\r\n\r\n{}");
        RAWC("headers_over_limit", big_header, 413, "headers");
    }
    /* more than 64 query parameters */
    {
        int k = sprintf(many_args, "POST /v1/ops/max_pool?");
        for (int i = 0; i < 100; i++) k += sprintf(many_args + k, "p%d=%d&", i, i);
        sprintf(many_args + k, " HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\n"
                               "Content-Length: %zu\r\n\r\n%s", strlen(SEED), SEED);
        RAWC("query_100_params", many_args, 400, "query");
    }
    add("query_param_unknown", "POST", "/v1/ops/max_pool?frobnicate=1", JSON_CT, str(SEED), 422, "query");
    /* a decoded NUL would cut the text short: "2%00junk" must not read as 2 */
    add("query_value_nul", "POST", "/v1/ops/max_pool?kernel_size=2%00junk", JSON_CT, str(SEED), 400,
        "query");
    add("query_key_nul", "POST", "/v1/ops/max_pool?kernel_size%00junk=2", JSON_CT, str(SEED), 400,
        "query");
    add("query_nul_kserve", "POST", "/v2/models/max_pool/infer?x=%00", JSON_CT,
        str("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\","
            "\"data\":[1,2,3,4]}],\"parameters\":{\"kernel_size\":2}}"),
        400, NULL);
#undef RAWC
}

/* Cases where libmicrohttpd itself answers (or closes) before the request
 * reaches unpoold's handler: its answers are not problem+json, so these
 * only check that the daemon survives them and serves the next client. */
typedef struct mhd_case {
    const char *name;
    const char *text;
    int allowed[3];        /* acceptable statuses; 0 = closed without an answer */
} mhd_case;

static const mhd_case MHD_CASES[] = {
    {"mhd_garbage_request_line", "FOO\r\n\r\n", {400, 0, -1}},
    {"mhd_tls_hello_on_plain", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", {400, 0, -1}},
    {"mhd_bad_content_length", "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n", {400, 0, -1}},
    {"mhd_content_length_2e64", "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\nContent-Length: 18446744073709551617\r\n\r\n{}", {413, 400, 0}},
    {"mhd_negative_content_length", "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", {400, 0, -1}},
    {"mhd_bad_chunk_size", "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", {400, 0, -1}},
    {"mhd_http_0_9", "GET /healthz\r\n\r\n", {400, 505, 0}},
    {"mhd_http_2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400, 505, 0}},
    {"mhd_no_host_http11", "GET /healthz HTTP/1.1\r\n\r\n", {400, 200, -1}},
};

/* ---- running the table -------------------------------------------------- */

static void run_case(const hcase *c)
{
    raw_resp r;
    if (c->raw_bytes) raw_exchange(D.port, c->body.p, c->body.n, &r, 15000);
    else raw_request(D.port, c->method, c->path, c->headers, c->body.p, c->body.n, &r);
    int kserve = c->path ? !strncmp(c->path, "/v2", 3) : 0;
    int ok = error_ok(&r, c->status, kserve, c->field);
    raw_free(&r);
    ok &= still_serving();
    th_record(c->name, ok);
}

static void run_mhd_case(const mhd_case *m)
{
    raw_resp r;
    raw_exchange(D.port, m->text, strlen(m->text), &r, 15000);
    int ok = 0;
    for (int i = 0; i < 3; i++) ok |= m->allowed[i] >= 0 && r.status == m->allowed[i];
    if (!ok) printf("    %s: status %d\n", m->name, r.status);
    raw_free(&r);
    ok &= still_serving();
    th_record(m->name, ok);
}

/* ---- slow and vanishing clients ----------------------------------------- */

/* A client sending one header byte per second is cut off after
 * --header-timeout-s (2 s), while other clients are served meanwhile. */
static void slowloris_header_cut(void)
{
    static const char hdr[] = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    double cut0 = tc_metric(&D, "unpoold_connections_cut_total{phase=\"headers\"}");
    int fd = raw_connect(D.port, 1000);
    CHECK(fd >= 0);
    CHECK(raw_send(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n", 32) == 0);
    uint64_t t0 = raw_now_ms();
    int cut = 0, served = 0, slow_served = 0;
    for (size_t i = 0; i < sizeof(hdr) - 1 && raw_now_ms() - t0 < 8000; i++) {
        if (raw_send(fd, hdr + i, 1) < 0) {
            cut = 1;
            break;
        }
        /* others are served while it drips */
        for (int k = 0; k < 5; k++) {
            uint64_t s = raw_now_ms();
            served += still_serving() && raw_now_ms() - s < 1000;
        }
        char b[64];
        ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            cut = 1;
            break;
        }
        if (n > 0) slow_served = 1;
        raw_nap_ms(1000 - 5 * 2 > 0 ? 990 : 0);
    }
    uint64_t took = raw_now_ms() - t0;
    close(fd);
    printf("    slow client cut after %.1f s; %d fast requests served meanwhile\n", (double)took / 1000,
           served);
    CHECK(cut && !slow_served);
    CHECK(took >= 1500 && took < 5000);
    CHECK(served >= 10);
    CHECK(tc_metric(&D, "unpoold_connections_cut_total{phase=\"headers\"}") >= cut0 + 1);
    CHECK(still_serving());
}

/* The request line itself dripped a byte a second: libmicrohttpd sees no
 * request until the line is complete, yet the header deadline (2 s) runs
 * from its first byte, not the idle one (3 s), so the cut comes first and
 * is counted as a headers cut. */
static void request_line_drip_cut_by_header_timeout(void)
{
    static const char line[] = "GET /healthz?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    double hdr0 = tc_metric(&D, "unpoold_connections_cut_total{phase=\"headers\"}");
    double idle0 = tc_metric(&D, "unpoold_connections_cut_total{phase=\"idle\"}");
    int fd = raw_connect(D.port, 1000), cut = 0;
    uint64_t t0 = raw_now_ms();
    cut = raw_drip_until_cut(fd, line, sizeof(line) - 1, 9000);
    uint64_t took = raw_now_ms() - t0;
    if (fd >= 0) close(fd);
    printf("    request line at a byte a second cut after %.1f s\n", (double)took / 1000);
    CHECKF(cut && took >= 1500 && took < 2900, "cut %d after %llu ms", cut, (unsigned long long)took);
    CHECK(tc_metric(&D, "unpoold_connections_cut_total{phase=\"headers\"}") == hdr0 + 1);
    CHECK(tc_metric(&D, "unpoold_connections_cut_total{phase=\"idle\"}") == idle0);
    CHECK(still_serving());
}

/* The other side of the request-line deadline: a kept-alive connection
 * that has sent whole requests (a GET, then a POST with a body) and waits
 * is idle, not slow, so only --idle-timeout-s (3 s) closes it, never the
 * header deadline (2 s). The byte counts behind this must be exact. */
static void keepalive_idle_cut_by_idle_timeout_only(void)
{
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                     "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\n" JSON_CT
                     "Content-Length: %zu\r\n\r\n%s", strlen(SEED), SEED);
    double hdr0 = tc_metric(&D, "unpoold_connections_cut_total{phase=\"headers\"}");
    int fd = raw_connect(D.port, 8000);
    CHECK(fd >= 0 && raw_send(fd, req, (size_t)n) == 0);
    uint64_t t0 = 0;
    char *buf;
    /* both answers arrive, then nothing until the daemon closes */
    size_t len = 0, off = 0;
    {
        char *all = NULL;
        size_t cap = 0;
        for (;;) {
            char b[4096];
            ssize_t k = recv(fd, b, sizeof(b), 0);
            if (k <= 0) break;
            all = realloc(all, cap + (size_t)k + 1);
            memcpy(all + cap, b, (size_t)k);
            cap += (size_t)k;
            all[cap] = 0;
            if (!t0 && strstr(all, "\"indices\"")) t0 = raw_now_ms();
        }
        buf = all ? all : strdup("");
        len = cap;
    }
    uint64_t idle_ms = t0 ? raw_now_ms() - t0 : 0;
    close(fd);
    raw_resp a, b;
    int got = raw_parse_next(buf, len, &off, &a) == 0;
    got += got && raw_parse_next(buf, len, &off, &b) == 0;
    printf("    kept-alive connection after 2 answers closed after %.1f s idle\n", (double)idle_ms / 1000);
    CHECKF(got == 2 && a.status == 200 && b.status == 200, "%d answers", got);
    CHECKF(idle_ms >= 2700 && idle_ms < 4500, "closed after %llu ms", (unsigned long long)idle_ms);
    /* (closed by libmicrohttpd's own idle timeout or the reaper, whichever
     * looks first; never counted as a headers cut) */
    CHECK(tc_metric(&D, "unpoold_connections_cut_total{phase=\"headers\"}") == hdr0);
    if (got >= 1) raw_free(&a);
    if (got == 2) raw_free(&b);
    free(buf);
}

typedef struct half_sender {
    pthread_t th;
    int first, count, port;
    int *fds;
} half_sender;

/* Half-sent bodies from hundreds of connections: each announces 4096
 * bytes, sends 100 and stalls. Valid clients are served meanwhile; after
 * --body-timeout-s every stalled connection is closed by the daemon. */
static void half_sent_bodies_300(void)
{
    enum { N = 300 };
    static int fds[N];
    char head[256], part[100];
    double cut0 = tc_metric(&D, "unpoold_connections_cut_total{phase=\"body\"}");
    memset(part, ' ', sizeof(part));
    int hl = snprintf(head, sizeof(head), "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\n"
                                          "Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n");
    int opened = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = raw_connect(D.port, 8000);
        if (fds[i] < 0) continue;
        opened++;
        raw_send(fds[i], head, (size_t)hl);
        raw_send(fds[i], part, sizeof(part));
    }
    CHECKF(opened == N, "%d of %d connected", opened, N);
    raw_nap_ms(200);
    double open_conns = tc_metric(&D, "unpoold_open_connections");
    printf("    %d stalled uploads open, daemon counts %.0f connections\n", opened, open_conns);
    CHECK(open_conns >= N);
    int served = 0;
    for (int k = 0; k < 20; k++) served += still_serving();
    CHECKF(served == 20, "%d of 20 valid requests served while %d uploads stall", served, N);
    /* each stalled connection is closed by the daemon (EOF), with no answer
     * or a problem answer; none is left hanging */
    int closed = 0;
    uint64_t t0 = raw_now_ms();
    for (int i = 0; i < N; i++) {
        if (fds[i] < 0) continue;
        raw_resp r;
        raw_read(fds[i], &r); /* SO_RCVTIMEO 8 s */
        closed += r.closed_early || r.status == 0 || r.status == 400 || r.status == 408;
        raw_free(&r);
        close(fds[i]);
    }
    printf("    %d of %d stalled connections closed by the daemon after %.1f s\n", closed, opened,
           (double)(raw_now_ms() - t0) / 1000);
    CHECK(closed == opened);
    CHECK(tc_metric(&D, "unpoold_connections_cut_total{phase=\"body\"}") >= cut0 + N);
    CHECK(tc_wait_metric(&D, "unpoold_inflight_bytes", 0, 3000));
    CHECK(still_serving());
}

/* Hundreds of clients vanish mid-body (close after half the body). */
static void vanishing_uploads_200(void)
{
    char head[256], part[2048];
    memset(part, '[', sizeof(part));
    int hl = snprintf(head, sizeof(head), "POST /v1/ops/max_pool HTTP/1.1\r\nHost: t\r\n"
                                          "Content-Type: application/json\r\nContent-Length: 65536\r\n\r\n");
    for (int i = 0; i < 200; i++) {
        int fd = raw_connect(D.port, 2000);
        if (fd < 0) continue;
        raw_send(fd, head, (size_t)hl);
        raw_send(fd, part, (size_t)(i * 10) % sizeof(part));
        if (i % 2) {
            struct linger lg = {1, 0}; /* half of them reset instead of closing */
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(fd);
    }
    CHECK(tc_wait_metric(&D, "unpoold_inflight_bytes", 0, 5000));
    CHECK(tc_wait_metric(&D, "unpoold_in_flight_requests", 1, 5000)); /* the scrape itself */
    CHECK(still_serving());
}

/* No answer anywhere was a 500. */
static void no_500_anywhere(void)
{
    tc_resp r;
    tc_request("GET", tc_url(&D, "/metrics"), NULL, NULL, 0, &r);
    CHECK(r.status == 200);
    CHECKF(!strstr(r.body, "status=\"500\""), "a 500 was counted");
    CHECK(strstr(r.body, "status=\"400\"") && strstr(r.body, "status=\"413\"") &&
          strstr(r.body, "status=\"422\""));
    tc_free(&r);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    if (th_daemon_start(&D, FLAGS) != 0) {
        th_record("daemon_start", 0);
        return th_summary();
    }
    build_json_cases();
    build_binary_cases();
    build_framing_cases();
    for (int i = 0; i < NC; i++) run_case(&C[i]);
    for (size_t i = 0; i < sizeof(MHD_CASES) / sizeof(MHD_CASES[0]); i++) run_mhd_case(&MHD_CASES[i]);
    RUN(slowloris_header_cut);
    RUN(request_line_drip_cut_by_header_timeout);
    RUN(keepalive_idle_cut_by_idle_timeout_only);
    RUN(half_sent_bodies_300);
    RUN(vanishing_uploads_200);
    RUN(no_500_anywhere);
    printf("    %d table cases, %zu framing cases handled by libmicrohttpd\n", NC,
           sizeof(MHD_CASES) / sizeof(MHD_CASES[0]));
    th_record("daemon_exit_0", th_daemon_stop(&D) == 0);
    for (int i = 0; i < NC; i++) free(C[i].body.p);
    curl_global_cleanup();
    return th_summary();
}
