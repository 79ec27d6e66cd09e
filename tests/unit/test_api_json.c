/* test_api_json.c -- the v1 JSON request decoder (api/json_decode.c) on
 * number lists parsed as spans.
 *
 * Numbers: random float32/float64 values printed as clients print them
 * (shortest, %.9g, %.17g, exponent forms), sent as flat data with a shape
 * and as nested lists, must decode to the bits strtod gives, converted to
 * the tensor's dtype; integers keep their range checks (422). The special
 * spellings keep their meaning (NaN/Infinity strings, null, booleans).
 * Structure: shapes inferred from nested lists, ragged lists 400. Strict
 * documents: \u0000 in a key or a name, and repeated keys, are 400s naming
 * the path; --max-json-depth holds. Memory: tensors are charged to the
 * request before they are allocated, a refusal is the hook's own error,
 * and a list body costs its tensor, not a node per number. Query pairs
 * whose received length runs past a NUL (%00) are 400s. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codecs.h"
#include "kernels/convert.h"
#include "tests/support/budget.h"
#include "tests/support/harness.h"
#include "tests/support/text.h"

static unsigned long long rng_state = 0x1234567887654321ULL;
static uint64_t rng(void) { return th_xorshift(&rng_state); }

static up_limits limits(void)
{
    return (up_limits){.max_elements = 1 << 24, .max_request_elements = 1 << 25,
                       .max_json_depth = 64, .max_inputs = 4};
}

/* Decode body for op; the call is left for the caller to inspect/free. */
static int decode(up_call *c, const char *op, const char *body, const up_kv *q, int nq,
                  th_budget *b, up_error *err)
{
    up_http_req req = {.content_type = "application/json", .query = q, .n_query = nq};
    up_limits lim = limits();
    int rc;
    req.body = strdup(body);
    req.body_len = strlen(body);
    if (b) req.charge = (up_charge){.take = th_budget_take, .ctx = b};
    up_error_clear(err);
    rc = up_call_decode_v1(c, up_op_find(op), &req, &lim, err);
    free(req.body);
    return rc;
}

static void check_refused(const char *op, const char *body, up_err_kind kind, const char *field,
                          const char *needle)
{
    up_call c;
    up_error err;
    CHECK(decode(&c, op, body, NULL, 0, NULL, &err) < 0);
    CHECKF(err.kind == kind, "kind %d, want %d (%s)", err.kind, kind, err.n ? err.items[0].message : "");
    if (field) CHECKF(err.n && !strcmp(err.items[0].field, field), "field \"%s\", want \"%s\"",
                      err.n ? err.items[0].field : "", field);
    if (needle)
        CHECKF(err.n && strstr(err.items[0].message, needle), "message \"%s\" lacks \"%s\"",
               err.n ? err.items[0].message : "", needle);
    up_call_free(&c);
}

/* ---- numbers --------------------------------------------------------------- */

/* x as {dtype, shape, data} (nested: nested lists of the shape) with n
 * random values in the given printf forms; want[] gets strtod's doubles. */
static char *random_x(const char *dtype, int nested, int64_t h, int64_t w, double *want)
{
    static const char *const forms[] = {"%.9g", "%.17g", "%.6e", "%.3f", "%.12g", "%g"};
    th_text t = {0};
    char num[512], head[160];
    snprintf(head, sizeof(head),
             "{\"params\":{\"scale_factor\":1},\"inputs\":{\"x\":{\"dtype\":\"%s\",\"shape\":[1,1,%lld,%lld],\"data\":",
             dtype, (long long)h, (long long)w);
    th_put(&t, head);
    th_put(&t, nested ? "[[[" : "[");
    for (int64_t i = 0; i < h * w; i++) {
        uint64_t bits = rng();
        double d;
        if (i % 2) {
            uint32_t b32 = (uint32_t)bits;
            float f;
            memcpy(&f, &b32, 4);
            d = f;
        } else {
            memcpy(&d, &bits, 8);
        }
        if (!isfinite(d) || i % 5 == 0) d = (double)(int64_t)(rng() % 2000001) / 1000.0 - 1000.0;
        snprintf(num, sizeof(num), forms[rng() % 6], d);
        want[i] = strtod(num, NULL);
        if (nested) th_put(&t, i == 0 ? "[" : i % w == 0 ? "],[" : ",");
        else if (i) th_put(&t, ",");
        th_put(&t, num);
    }
    th_put(&t, nested ? "]]]]}}}" : "]}}}");
    return t.s;
}

static void json_numbers_decode_exactly(void)
{
    static const char *const dtypes[] = {"float32", "float64", "float16", "bfloat16"};
    static const up_dtype dts[] = {UP_F32, UP_F64, UP_F16, UP_BF16};
    int bad = 0;
    for (int round = 0; round < 80 && bad < 3; round++) {
        int k = round % 4, nested = round / 4 % 2;
        int64_t h = 1 + (int64_t)(rng() % 30), w = 1 + (int64_t)(rng() % 70); /* past 64: text runs */
        double *want = malloc(sizeof(double) * (size_t)(h * w));
        char *body = random_x(dtypes[k], nested, h, w, want);
        up_call c;
        up_error err;
        if (decode(&c, "nearest_unpool", body, NULL, 0, NULL, &err) < 0) {
            const char *at = err.n ? strstr(err.items[0].message, "byte ") : NULL;
            long off = at ? atol(at + 5) : 0;
            printf("    %s: %s: ...%.40s\n", dtypes[k], err.n ? err.items[0].message : "",
                   body + (off > 20 ? off - 20 : 0));
            bad++;
        } else {
            const up_tensor *x = &c.plan.raw[0];
            CHECK(x->dtype == dts[k] && x->rank == 4 && x->shape[2] == h && x->shape[3] == w);
            for (int64_t i = 0; i < h * w; i++) {
                int same;
                if (dts[k] == UP_F32) {
                    float f = (float)want[i];
                    same = !memcmp((float *)x->data + i, &f, 4);
                } else if (dts[k] == UP_F64) {
                    same = !memcmp((double *)x->data + i, &want[i], 8);
                } else {
                    uint16_t e = dts[k] == UP_F16 ? up_f32_to_f16((float)want[i])
                                                  : up_f32_to_bf16((float)want[i]);
                    same = ((uint16_t *)x->data)[i] == e;
                }
                if (!same) {
                    printf("    %s element %lld differs\n", dtypes[k], (long long)i);
                    bad++;
                    break;
                }
            }
        }
        up_call_free(&c);
        free(body);
        free(want);
    }
    CHECK(bad == 0);
}

static void json_special_spellings(void)
{
    up_call c;
    up_error err;
    const char *body = "{\"params\":{\"scale_factor\":1},\"inputs\":{\"x\":{\"dtype\":\"float32\","
                       "\"shape\":[1,1,1,10],\"data\":[\"NaN\",\"nan\",\"Infinity\",\"inf\","
                       "\"-Infinity\",\"-inf\",null,true,false,\"\\u004eaN\"]}}}";
    CHECKF(decode(&c, "nearest_unpool", body, NULL, 0, NULL, &err) == 0, "%s",
           err.n ? err.items[0].message : "");
    if (c.plan.raw[0].data) {
        const float *x = c.plan.raw[0].data;
        CHECK(isnan(x[0]) && isnan(x[1]) && x[2] == INFINITY && x[3] == INFINITY);
        CHECK(x[4] == -INFINITY && x[5] == -INFINITY && isnan(x[6]) && x[7] == 1 && x[8] == 0);
        CHECK(isnan(x[9]));
    }
    up_call_free(&c);
    check_refused("nearest_unpool", "{\"params\":{\"scale_factor\":1},\"inputs\":{\"x\":{\"dtype\":"
                  "\"float32\",\"shape\":[1,1,1,2],\"data\":[1,\"one\"]}}}",
                  UP_E_MALFORMED, "inputs.x", "data element 1 is not a number");
    check_refused("nearest_unpool", "{\"params\":{\"scale_factor\":1},\"inputs\":{\"x\":"
                  "[[[1,\"one\"]]]}}", UP_E_MALFORMED, "inputs.x", "element 1 is not a number");
}

static void json_integer_range_checks(void)
{
    static const struct {
        const char *dtype, *data;
        up_err_kind kind;
    } cases[] = {
        {"int64", "[1,2,3,9223372036854775807]", UP_E_INVALID},  /* 2^63 after rounding */
        {"int64", "[1,2,3,-9223372036854775808]", UP_OK},
        {"int64", "[1,2,3,1.5]", UP_E_INVALID},
        {"int64", "[1,2,3,\"NaN\"]", UP_E_INVALID},
        {"int32", "[1,2,3,2147483648]", UP_E_INVALID},
        {"int32", "[1,2,3,-2147483648]", UP_OK},
        {"int64", "[1,2,3,true]", UP_OK},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char body[512];
        up_call c;
        up_error err;
        snprintf(body, sizeof(body),
                 "{\"params\":{\"kernel_size\":2},\"inputs\":{\"x\":[[[[1,2],[3,4]]]],"
                 "\"indices\":{\"dtype\":\"%s\",\"shape\":[1,1,2,2],\"data\":%s}}}",
                 cases[k].dtype, cases[k].data);
        int rc = decode(&c, "max_unpool", body, NULL, 0, NULL, &err);
        if (cases[k].kind == UP_OK)
            CHECKF(rc == 0 || err.kind == UP_E_INVALID /* kernel-side index checks come later */,
                   "%s %s: %s", cases[k].dtype, cases[k].data, err.n ? err.items[0].message : "");
        if (cases[k].kind != UP_OK)
            CHECKF(rc < 0 && err.kind == cases[k].kind && !strcmp(err.items[0].field, "inputs.indices"),
                   "%s %s: kind %d %s", cases[k].dtype, cases[k].data, err.kind,
                   err.n ? err.items[0].message : "");
        up_call_free(&c);
    }
}

/* ---- structure -------------------------------------------------------------- */

static void json_nested_lists_and_shapes(void)
{
    up_call c;
    up_error err;
    CHECK(decode(&c, "max_pool", "{\"params\":{\"kernel_size\":2},\"inputs\":{\"x\":[[[[1,2],[3,4]]]]}}",
                 NULL, 0, NULL, &err) == 0);
    CHECK(c.plan.raw[0].rank == 4 && c.plan.raw[0].shape[2] == 2 && c.plan.raw[0].dtype == UP_F32);
    up_call_free(&c);
    /* nested lists with a shape that matches them */
    CHECK(decode(&c, "max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":{\"shape\":[1,1,2,1],"
                 "\"data\":[[[[1],[2]]]]}}}", NULL, 0, NULL, &err) == 0);
    up_call_free(&c);
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":[[[[1,2],[3]]]]}}",
                  UP_E_MALFORMED, "inputs.x", "ragged");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":[[[[1,2],3]]]}}",
                  UP_E_MALFORMED, "inputs.x", "ragged");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":[[[[[[1]]]]]]}}",
                  UP_E_MALFORMED, "inputs.x", "rank 5");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":{\"shape\":[1,1,2,2],"
                  "\"data\":[1,2,3]}}}", UP_E_INVALID, "inputs.x", "data has 3 values, shape needs 4");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":{\"shape\":[1,1,2,2],"
                  "\"data\":[[[[1,2],[3]]]]}}}", UP_E_MALFORMED, "inputs.x", "ragged");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":{\"shape\":[1,1,2,2],"
                  "\"data\":[1,2,{},4]}}}", UP_E_MALFORMED, "inputs.x", "list of numbers");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":{\"shape\":[1,1,1,1,1,1],"
                  "\"data\":[1]}}}", UP_E_INVALID, "inputs.x", "rank over 5");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":[1,[1]]},\"inputs\":{\"x\":[[[[1]]]]}}",
                  UP_E_MALFORMED, "params.kernel_size", "list of numbers");
}

static void json_params_lists(void)
{
    up_call c;
    up_error err;
    CHECK(decode(&c, "max_pool", "{\"params\":{\"kernel_size\":[1,2],\"stride\":[1,1]},"
                 "\"inputs\":{\"x\":[[[[1,2],[3,4]]]]}}", NULL, 0, NULL, &err) == 0);
    const up_param_value *k = up_plan_param(&c.plan, up_op_param_index(c.plan.op, "kernel_size"));
    CHECK(k && k->n == 2 && k->i[0] == 1 && k->i[1] == 2);
    up_call_free(&c);
    check_refused("max_pool", "{\"params\":{\"kernel_size\":[1,2,3,4]},\"inputs\":{\"x\":[[[[1]]]]}}",
                  UP_E_MALFORMED, "params.kernel_size", "at most 3");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":[]},\"inputs\":{\"x\":[[[[1]]]]}}",
                  UP_E_MALFORMED, "params.kernel_size", "empty list");
}

/* ---- strict documents ----------------------------------------------------------- */

static void json_nul_refused(void)
{
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\\u0000junk\":[[[[1]]]]}}",
                  UP_E_MALFORMED, "inputs", "\"x\\u0000junk\"");
    check_refused("max_pool", "{\"params\\u0000\":{},\"inputs\":{\"x\":[[[[1]]]]}}", UP_E_MALFORMED,
                  "body", "\\u0000");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":{\"dtype\":"
                  "\"float32\\u0000junk\",\"data\":[[[[1]]]]}}}",
                  UP_E_MALFORMED, "inputs.x.dtype", "float32\\u0000junk");
    check_refused("nearest_unpool", "{\"params\":{\"scale_factor\":2,\"mode\":\"nearest\\u0000x\"},"
                  "\"inputs\":{\"x\":[[[[1]]]]}}", UP_E_MALFORMED, "params.mode", "\\u0000");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":\"2\\u00003\"},\"inputs\":{\"x\":[[[[1]]]]}}",
                  UP_E_MALFORMED, "params.kernel_size", "\\u0000");
}

static void json_repeated_keys_refused(void)
{
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":[[[[1]]]],"
                  "\"x\":[[[[2]]]]}}", UP_E_MALFORMED, "inputs.x", "repeated JSON key \"x\"");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1,\"kernel_size\":2},\"inputs\":{\"x\":"
                  "[[[[1]]]]}}", UP_E_MALFORMED, "params.kernel_size",
                  "repeated JSON key \"kernel_size\"");
    check_refused("max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":{\"data\":[[[[1]]]],"
                  "\"data\":[[[[2]]]]}}}", UP_E_MALFORMED, "inputs.x.data", "repeated JSON key \"data\"");
    check_refused("max_pool", "{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"kernel_size\":1},"
                  "\"inputs\":{}}", UP_E_MALFORMED, "inputs", "repeated JSON key \"inputs\"");
}

static void json_depth_limit(void)
{
    th_text t = {0};
    up_call c;
    up_error err;
    th_put(&t, "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":");
    for (int i = 0; i < 63; i++) th_put(&t, "[");
    th_put(&t, "1");
    for (int i = 0; i < 63; i++) th_put(&t, "]");
    th_put(&t, "}}");
    CHECK(decode(&c, "max_pool", t.s, NULL, 0, NULL, &err) < 0);
    CHECK(err.kind == UP_E_MALFORMED && strstr(err.items[0].message, "deeper than 64 levels"));
    up_call_free(&c);
    free(t.s);
}

/* ---- memory --------------------------------------------------------------------- */

static char *big_list(int64_t n, int64_t *h)
{
    th_text t = {0};
    char head[160], num[32];
    *h = n / 1000;
    snprintf(head, sizeof(head), "{\"params\":{\"scale_factor\":1},\"inputs\":{\"x\":{\"dtype\":"
             "\"float32\",\"shape\":[1,1,%lld,1000],\"data\":[", (long long)*h);
    th_put(&t, head);
    for (int64_t i = 0; i < *h * 1000; i++) {
        snprintf(num, sizeof(num), "%s%lld.125", i ? "," : "", (long long)(i % 997));
        th_put(&t, num);
    }
    th_put(&t, "]}}}");
    return t.s;
}

static void json_tensor_charged_list_costs_its_tensor(void)
{
    int64_t h;
    char *body = big_list(1000000, &h); /* ~8 MB of text, a 4 MB tensor */
    /* the 4 MB input, the 4 MB output the plan charges once it is ready
     * (scale 1), and a little: nothing per number */
    th_budget b = {.limit = (8 << 20) + (256 << 10)};
    up_call c;
    up_error err;
    CHECKF(decode(&c, "nearest_unpool", body, NULL, 0, &b, &err) == 0 || err.kind != UP_E_OVERLOADED,
           "%s", err.n ? err.items[0].message : "");
    CHECKF(b.refusals == 0, "refused within the tensors' size + 256 KiB (used %lld)", (long long)b.used);
    CHECK(b.used >= 8000000);
    CHECK(c.plan.charge.take == th_budget_take && c.plan.charge.ctx == &b);
    CHECK(c.plan.raw[0].data && ((float *)c.plan.raw[0].data)[999999] == (float)(999999 % 997) + 0.125f);
    up_call_free(&c);
    /* refused: the hook's error comes back unchanged, nothing allocated */
    b = (th_budget){.limit = 1 << 20};
    CHECK(decode(&c, "nearest_unpool", body, NULL, 0, &b, &err) < 0);
    CHECK(err.kind == UP_E_OVERLOADED && err.n == 1 && strstr(err.items[0].message, "budget:"));
    CHECK(!c.plan.raw[0].data);
    up_call_free(&c);
    free(body);
}

static void json_b64_charged(void)
{
    th_budget b = {.limit = 1 << 30};
    up_call c;
    up_error err;
    /* 2 float32 = 8 bytes = 12 base64 chars; "AAAA" padding variants decode into a scratch */
    CHECK(decode(&c, "max_pool", "{\"params\":{\"kernel_size\":1},\"inputs\":{\"x\":{\"shape\":[1,1,1,2],"
                 "\"data_b64\":\"AACAPwAAAEA=\"}}}", NULL, 0, &b, &err) == 0);
    CHECK(b.used >= 8);
    CHECK(c.plan.raw[0].data && ((float *)c.plan.raw[0].data)[1] == 2.0f);
    up_call_free(&c);
}

/* ---- query ---------------------------------------------------------------------- */

static void query_nul_refused(void)
{
    const char *body = "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]]}}";
    up_kv q[1];
    up_call c;
    up_error err;
    q[0] = (up_kv){.key = "kernel_size", .value = "2\0junk", .value_len = 6};
    CHECK(decode(&c, "max_pool", body, q, 1, NULL, &err) < 0);
    CHECK(err.kind == UP_E_MALFORMED && !strcmp(err.items[0].field, "query") &&
          strstr(err.items[0].message, "NUL"));
    up_call_free(&c);
    q[0] = (up_kv){.key = "kernel_size\0junk", .value = "2", .key_len = 16, .value_len = 1};
    CHECK(decode(&c, "max_pool", body, q, 1, NULL, &err) < 0 && err.kind == UP_E_MALFORMED);
    up_call_free(&c);
    q[0] = (up_kv){.key = "kernel_size", .value = "", .value_len = 1}; /* "%00" alone */
    CHECK(decode(&c, "max_pool", body, q, 1, NULL, &err) < 0 && err.kind == UP_E_MALFORMED);
    up_call_free(&c);
    /* the same pair with its true length, or none given, is fine */
    q[0] = (up_kv){.key = "kernel_size", .value = "2", .key_len = 11, .value_len = 1};
    CHECK(decode(&c, "max_pool", body, q, 1, NULL, &err) == 0);
    up_call_free(&c);
    q[0] = (up_kv){.key = "kernel_size", .value = "2junk"}; /* trailing junk: 400 */
    CHECK(decode(&c, "max_pool", body, q, 1, NULL, &err) < 0 && err.kind == UP_E_MALFORMED);
    up_call_free(&c);
}

int main(void)
{
    RUN(json_numbers_decode_exactly);
    RUN(json_special_spellings);
    RUN(json_integer_range_checks);
    RUN(json_nested_lists_and_shapes);
    RUN(json_params_lists);
    RUN(json_nul_refused);
    RUN(json_repeated_keys_refused);
    RUN(json_depth_limit);
    RUN(json_tensor_charged_list_costs_its_tensor);
    RUN(json_b64_charged);
    RUN(query_nul_refused);
    return th_summary();
}
