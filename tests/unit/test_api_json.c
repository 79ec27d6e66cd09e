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


/* ---- long runs: read once, checked as converted ------------------------------- */

/* A span past the kept values (64 numbers) is passed over by the parse and
 * read once as it is converted; these pin what the one pass gives. */
enum { RUN_N = 100 };

/* x (RUN_N numbers of dtype, shape [1,1,10,10]) with tok at index at, the
 * other numbers k + 0.5; *body owned by the caller. */
static char *run_body(const char *dtype, const char *tok, int at, const char *tail)
{
    th_text t = {0};
    char num[64];
    snprintf(num, sizeof(num), "{\"inputs\":{\"x\":{\"dtype\":\"%s\",\"shape\":[1,1,10,10],\"data\":[",
             dtype);
    th_put(&t, num);
    for (int k = 0; k < RUN_N; k++) {
        if (k) th_put(&t, ",");
        if (k == at) {
            th_put(&t, tok);
        } else {
            snprintf(num, sizeof(num), "%d.5", k);
            th_put(&t, num);
        }
    }
    th_put(&t, "]}}");
    th_put(&t, tail ? tail : ",\"params\":{\"scale_factor\":1}}");
    return t.s;
}

/* Edge values anywhere in a long run (first, the last of the kept ones,
 * the first passed over, the middle, the last): float64 gets strtod's
 * double; float32 that double's float cast, the old two-step rounding
 * (NumPy's np.float32(float(text))), not the decimal's own nearest float:
 * 1.00000005960464477550 lies just above 1 + 2^-24, so its nearest float
 * is 1 + 2^-23, but its double is 1 + 2^-24 exactly, a tie that goes to
 * 1.0; and 3.4028235677973366e38 (below FLT_MAX's upper midpoint) has that
 * midpoint as its double, which goes to infinity. */
static void json_long_run_edge_values(void)
{
    static const char *const toks[] = {
        "-0", "0", "-0.0e5", "1e-46", "1e-45", "7.006492321624085e-46", "3.4028235677973366e38",
        "3.4028235e38", "1e39", "1.00000005960464477550", "1e99999999999", "-1e-99999999999",
        "1E+2", "123456789012345678901234567890", "1.2345678901234567890123e-5",
        "4.9e-324", "2.2250738585072011e-308", "1.7976931348623157e308", "1.8e308",
        "NaN", "Infinity", "-Infinity", "0.000000000000000000000000000001",
        "9007199254740993", "-1.5e-7", "2e22", "2e23", "1e-22", "1e-23"};
    static const int spots[] = {0, 63, 64, 65, 50, RUN_N - 1};
    static const char *const dts[] = {"float32", "float64", "float16"};
    for (size_t ti = 0; ti < sizeof(toks) / sizeof(*toks); ti++)
        for (size_t si = 0; si < sizeof(spots) / sizeof(*spots); si++)
            for (int di = 0; di < 3; di++) {
                up_call c;
                up_error err;
                char *body = run_body(dts[di], toks[ti], spots[si], NULL);
                double want = strtod(toks[ti], NULL);
                int rc = decode(&c, "nearest_unpool", body, NULL, 0, NULL, &err);
                CHECKF(rc == 0, "%s at %d as %s: %s", toks[ti], spots[si], dts[di],
                       err.n ? err.items[0].message : "");
                if (rc == 0) {
                    const void *d = c.plan.raw[0].data;
                    int at = spots[si], ok;
                    if (di == 0) {
                        float w = (float)want;
                        ok = !memcmp((const float *)d + at, &w, 4) && ((const float *)d)[at ? 0 : 1] ==
                                                                          (at ? 0.5f : 1.5f);
                    } else if (di == 1) {
                        ok = !memcmp((const double *)d + at, &want, 8);
                    } else {
                        ok = ((const uint16_t *)d)[at] == up_f64_to_f16(want);
                    }
                    CHECKF(ok, "%s at %d as %s", toks[ti], at, dts[di]);
                }
                up_call_free(&c);
                free(body);
            }
}

/* The same body's error as a parse without UP_JSON_LAZY gives it: a
 * syntax error at the byte that parse stops at, in the same words. */
static void check_as_strict(const char *op, const char *body, th_budget *b)
{
    up_call c;
    up_error err, want;
    up_json_fault f;
    size_t n = strlen(body);
    cJSON *v = up_json_parse(body, n, 64, UP_JSON_SPANS | UP_JSON_STRICT, &f);
    CHECKF(!v && f.kind == UP_JSON_SYNTAX, "strict parse accepts %.80s", body);
    cJSON_Delete(v);
    up_error_clear(&want);
    up_json_syntax_error(&want, "body", "the body", body, n, f.at);
    CHECK(decode(&c, op, body, NULL, 0, b, &err) < 0);
    CHECKF(err.kind == UP_E_MALFORMED && err.n == 1 && !strcmp(err.items[0].field, "body") &&
               !strcmp(err.items[0].message, want.items[0].message),
           "got \"%s\", want \"%s\"", err.n ? err.items[0].message : "", want.items[0].message);
    up_call_free(&c);
}

/* Every malformed number, anywhere in a long run, is refused at the byte
 * the strict parse names: a fault the parse passed over is found when the
 * number is converted (float32, float64) or read (other dtypes). */
static void json_long_run_faults_at_same_byte(void)
{
    static const char *const bad[] = {
        "1.e5", "1e", "1e+", "-", "--1", "01", "-01", "1-2", "1..2", ".5", "+1", "1,,2", "1 2",
        "1e5.5", "0x10", "1.5E", "1e+-5", "NaNa", "-NaN", "Inf", "Infinit", "-Infinityx", "1.5.",
        "1,", "5e-", "1ee5", "1.5e+5e", "2-", ",", "00", "0.0.0", "-.5", "1E", "-e5", "1-"};
    static const int spots[] = {0, 63, 64, 65, 50, RUN_N - 1};
    static const char *const dts[] = {"float32", "float64", "int32"};
    for (size_t bi = 0; bi < sizeof(bad) / sizeof(*bad); bi++)
        for (size_t si = 0; si < sizeof(spots) / sizeof(*spots); si++)
            for (int di = 0; di < 3; di++) {
                char *body = run_body(dts[di], bad[bi], spots[si], NULL);
                check_as_strict("nearest_unpool", body, NULL);
                free(body);
            }
}

/* A body cut short inside a long run, a byte at a time: each cut is the
 * strict parse's error (the body ends inside the JSON). */
static void json_long_run_cut_short(void)
{
    char *body = run_body("float32", "1.5e-7", 80, NULL);
    const char *data = strstr(body, "[0.5");
    size_t from = (size_t)(data - body) + 500, to = strlen(body) - 40;
    for (size_t n = from; n < to; n++) {
        char *cut = strndup(body, n);
        check_as_strict("nearest_unpool", cut, NULL);
        free(cut);
    }
    free(body);
}

/* A fault in a run comes first, before whatever the decoding would
 * refuse after it: unknown keys, a bad dtype, a count that does not fit
 * the shape, a long bad params list, a repeated key, a refused charge. */
static void json_long_run_fault_comes_first(void)
{
    static const char *const tails[] = {
        ",\"params\":{\"scale_factor\":1},\"bogus\":1}",
        ",\"params\":{\"scale_factor\":1},\"params\":{}}",
        ",\"params\":{\"scale_factor\":1,\"scale_factor\":2}}",
        ",\"params\":{\"nope\":1}}",
        "}"};
    char *body;
    for (size_t k = 0; k < sizeof(tails) / sizeof(*tails); k++) {
        body = run_body("float32", "1.e5", 70, tails[k]);
        check_as_strict("nearest_unpool", body, NULL);
        free(body);
    }
    body = run_body("nope", "1.e5", 70, NULL);
    check_as_strict("nearest_unpool", body, NULL);
    free(body);
    body = run_body("float32", "1,2", 70, NULL); /* 101 numbers for a shape of 100 */
    char *bad = strstr(body, "0.5,1.5");
    bad[1] = 'x'; /* "0x5": the fault, after the count would have failed */
    check_as_strict("nearest_unpool", body, NULL);
    free(body);
    /* the fault in a long list that is a param, not a tensor */
    th_text t = {0};
    th_put(&t, "{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"scale_factor\":[");
    for (int k = 0; k < RUN_N; k++) th_put(&t, k == 80 ? "1.e5," : "1,");
    th_put(&t, "1]}}");
    check_as_strict("nearest_unpool", t.s, NULL);
    free(t.s);
    /* a charge refused (413/503 otherwise): the syntax error still */
    th_budget b = {.limit = 64};
    body = run_body("float32", "1.e5", 70, NULL);
    check_as_strict("nearest_unpool", body, &b);
    free(body);
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
    RUN(json_long_run_edge_values);
    RUN(json_long_run_faults_at_same_byte);
    RUN(json_long_run_cut_short);
    RUN(json_long_run_fault_comes_first);
    RUN(json_tensor_charged_list_costs_its_tensor);
    RUN(json_b64_charged);
    RUN(query_nul_refused);
    return th_summary();
}
