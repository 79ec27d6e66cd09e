/* test_wire_contract.c -- what the wire formats promise a client beyond
 * "it decodes": the same numbers on /v1 and /v2, errors that name the
 * body and say what usually went wrong, framing faults as 400, UTF-8 in
 * and out, and decimals rounded once into the half types.
 *
 * Each case decodes a request the way the daemon does (up_call_decode_v1
 * or up_call_decode_kserve) and checks the outcome: the error's kind
 * (so its status), field and a phrase of its message, or the decoded
 * tensor's bits. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codecs.h"
#include "kernels/convert.h"
#include "tests/support/harness.h"

static const up_limits limits = {.max_elements = 1 << 20, .max_request_elements = 1 << 21,
                                  .max_json_depth = 64, .max_inputs = 4};

typedef struct outcome {
    int rc;
    up_error err;
    up_call call;
    char *body; /* decoded tensors may borrow from it */
} outcome;

enum { V1 = 0, V2 = 1 };

static void decode(outcome *o, int proto, const char *op, const char *ct, const char *body,
                   size_t len)
{
    up_http_req req = {0};
    o->body = malloc(len + 1);
    memcpy(o->body, body, len);
    o->body[len] = '\0';
    req.content_type = ct;
    req.body = o->body;
    req.body_len = len;
    up_error_clear(&o->err);
    o->rc = proto == V2 ? up_call_decode_kserve(&o->call, up_op_find(op), &req, &limits, &o->err)
                        : up_call_decode_v1(&o->call, up_op_find(op), &req, &limits, &o->err);
}

static void done(outcome *o)
{
    up_call_free(&o->call);
    free(o->body);
}

/* The request fails with this kind, on this field, saying this. */
static void expect_error(int proto, const char *ct, const char *body, size_t len,
                         up_err_kind kind, const char *field, const char *phrase)
{
    outcome o;
    decode(&o, proto, "max_pool", ct, body, len);
    CHECKF(o.rc < 0, "accepted: %.60s", body);
    if (o.rc < 0) {
        CHECKF(o.err.kind == kind, "kind %d, want %d: %s", o.err.kind, kind,
               o.err.items[0].message);
        CHECKF(!strcmp(o.err.items[0].field, field), "field \"%s\", want \"%s\"",
               o.err.items[0].field, field);
        CHECKF(strstr(o.err.items[0].message, phrase), "message \"%s\" lacks \"%s\"",
               o.err.items[0].message, phrase);
    }
    done(&o);
}

#define V1_JSON(body, kind, field, phrase)                                        \
    expect_error(V1, "application/json", body, sizeof(body) - 1, kind, field, phrase)
#define V2_JSON(body, kind, field, phrase)                                        \
    expect_error(V2, "application/json", body, sizeof(body) - 1, kind, field, phrase)

/* ---- malformed JSON: field "body" and a hint ---- */

static void shell_ate_the_quotes(void)
{
    /* curl -d "{inputs: ...}" in sh: the double quotes are gone */
    V1_JSON("{inputs:{x:[[[[1,2],[3,4]]]]},params:{kernel_size:2}}", UP_E_MALFORMED, "body",
            "keys need double quotes");
    V1_JSON("{\"inputs\":{\"x\":[[[[1]]]]},\"params\":{\"layout\":channels_last}}",
            UP_E_MALFORMED, "body", "text values need double quotes");
}

static void single_quotes(void)
{
    V1_JSON("{'inputs': {'x': [[[[1]]]]}}", UP_E_MALFORMED, "body", "not single quotes");
}

static void trailing_comma(void)
{
    V1_JSON("{\"inputs\":{\"x\":[[[[1,2],[3,4],]]]}}", UP_E_MALFORMED, "body",
            "no trailing comma");
    V1_JSON("{\"inputs\":{\"x\":[[[[1]]]]},}", UP_E_MALFORMED, "body", "no trailing comma");
}

static void bare_nan_lowercase(void)
{
    /* NumPy's repr spells them nan and inf: not JSON */
    V1_JSON("{\"inputs\":{\"x\":[[[[1,nan]]]]}}", UP_E_MALFORMED, "body", "\"NaN\"");
    V1_JSON("{\"inputs\":{\"x\":[[[[1,-inf]]]]}}", UP_E_MALFORMED, "body", "\"Infinity\"");
    V2_JSON("{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[inf]}]}",
            UP_E_MALFORMED, "body", "\"Infinity\"");
}

static void cut_short(void)
{
    V1_JSON("{\"inputs\":{\"x\":[[[[1,2", UP_E_MALFORMED, "body", "ends inside the JSON");
}

static void too_deep_names_the_body(void)
{
    char deep[200];
    int k = 0;
    k += sprintf(deep, "{\"inputs\":{\"x\":");
    for (int i = 0; i < 70; i++) deep[k++] = '[';
    deep[k] = '\0';
    expect_error(V1, NULL, deep, (size_t)k, UP_E_MALFORMED, "body", "nested deeper than 64");
}

static void empty_body_names_the_body(void)
{
    expect_error(V1, "application/json", "", 0, UP_E_MALFORMED, "body", "empty body");
    V1_JSON("[1, 2]", UP_E_MALFORMED, "body", "must be a JSON object");
}

/* ---- a KServe body on /v1 points to /v2 ---- */

static void kserve_body_on_v1(void)
{
    V1_JSON("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\","
            "\"data\":[1,2,3,4]}],\"parameters\":{\"kernel_size\":2}}",
            UP_E_INVALID, "parameters", "/v2/models/max_pool/infer");
    V1_JSON("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,2,2],\"datatype\":\"FP32\","
            "\"data\":[1,2,3,4]}]}",
            UP_E_MALFORMED, "inputs", "/v2/models/max_pool/infer");
}

/* ---- binary Content-Types with a JSON body, framing errors ---- */

static void npy_content_type_with_json_body(void)
{
    const char b[] = "{\"inputs\": {\"x\": [[[[1]]]]}}";
    expect_error(V1, "application/x-npy", b, sizeof(b) - 1, UP_E_MALFORMED, "body",
                 "is the Content-Type right?");
    expect_error(V1, "application/x-safetensors", b, sizeof(b) - 1, UP_E_MALFORMED, "body",
                 "is the Content-Type right?");
}

static void npy_unknown_version_is_400(void)
{
    /* a well-formed 1.0 header with the version bytes changed to 4.0 */
    char b[128] = "\x93NUMPY\x04\x00";
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1), }";
    size_t h = strlen(dict), total = 10 + h + 1 + 4;
    b[8] = (char)(h + 1);
    b[9] = 0;
    memcpy(b + 10, dict, h);
    b[10 + h] = '\n';
    memset(b + 11 + h, 0, 4);
    expect_error(V1, "application/x-npy", b, total, UP_E_MALFORMED, "body",
                 "version 4.0 is not supported");
}

static void kserve_unknown_datatype_is_400(void)
{
    V2_JSON("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":\"FP8\","
            "\"data\":[1]}],\"parameters\":{\"kernel_size\":1}}",
            UP_E_MALFORMED, "inputs.x", "\"FP8\" is not supported");
}

/* ---- UTF-8: strict on the way in, valid on the way out ---- */

static void invalid_utf8_is_400(void)
{
    static const char *const bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong, 3 bytes */
        "\xf0\x80\x80\xaf", /* overlong, 4 bytes */
        "\xed\xa0\x80",     /* UTF-16 surrogate D800 */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\x80",             /* stray continuation byte */
        "\xe2\x82",         /* cut short */
        "\xff",             /* never valid */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char b[96];
        int n = snprintf(b, sizeof(b), "{\"inputs\":{\"x\":[[[[1]]]]},\"k%s\":1}", bad[i]);
        expect_error(V1, "application/json", b, (size_t)n, UP_E_MALFORMED, "body", "UTF-8");
        n = snprintf(b, sizeof(b), "{\"id\":\"%s\",\"inputs\":[]}", bad[i]);
        expect_error(V2, "application/json", b, (size_t)n, UP_E_MALFORMED, "body", "UTF-8");
    }
    /* inside a list of numbers too (read as one span, not as nodes) */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char b[160];
        int n = snprintf(b, sizeof(b), "{\"inputs\":{\"x\":[[[[1,\"%s\"]]]]}}", bad[i]);
        expect_error(V1, "application/json", b, (size_t)n, UP_E_MALFORMED, "body", "UTF-8");
        n = snprintf(b, sizeof(b), "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,2],"
                     "\"datatype\":\"FP32\",\"data\":[1,\"%s\"]}]}", bad[i]);
        expect_error(V2, "application/json", b, (size_t)n, UP_E_MALFORMED, "body", "UTF-8");
    }
    /* well-formed non-ASCII text is fine: an unknown key, so a 422 */
    V1_JSON("{\"inputs\":{\"x\":[[[[1]]]]},\"cl\xc3\xa9 \xf0\x9f\x98\x80\":1}", UP_E_INVALID,
            "cl\xc3\xa9 \xf0\x9f\x98\x80", "unknown key");
}

static void kserve_id_echoed_as_utf8(void)
{
    const char b[] = "{\"id\":\"r\\u00e9q \\ud83d\\ude00 \\\"1\\\"\",\"inputs\":[{\"name\":\"x\","
                     "\"shape\":[1,1,1,1],\"datatype\":\"FP32\",\"data\":[2]}],"
                     "\"parameters\":{\"kernel_size\":1}}";
    outcome o;
    up_http_resp resp;
    up_fault f;
    up_timing t = {0};
    up_http_resp_init(&resp);
    decode(&o, V2, "max_pool", "application/json", b, sizeof(b) - 1);
    CHECK(o.rc == 0);
    if (o.rc == 0) {
        up_fault_init(&f);
        up_plan_run(&o.call.plan, 0, o.call.plan.work_units, &f);
        CHECK(up_call_encode(&o.call, &f, &t, "rid", &resp, &o.err) == 0);
        up_http_resp_flatten(&resp);
        CHECKF(resp.body.data &&
                   strstr(resp.body.data, "\"id\":\"r\xc3\xa9q \xf0\x9f\x98\x80 \\\"1\\\"\""),
               "%.200s", resp.body.data ? resp.body.data : "");
    }
    up_http_resp_free(&resp);
    done(&o);
}

/* ---- NaN and infinities: /v2 reads what /v1 reads ---- */

static int decoded_f32(int proto, const char *body, float *out, int n)
{
    outcome o;
    int ok;
    decode(&o, proto, "max_pool", "application/json", body, strlen(body));
    ok = o.rc == 0 && o.call.plan.raw[0].dtype == UP_F32;
    CHECKF(o.rc == 0, "%s", o.err.items[0].message);
    if (ok) memcpy(out, o.call.plan.raw[0].data, sizeof(float) * (size_t)n);
    done(&o);
    return ok;
}

static void same_number_spellings_on_v1_and_v2(void)
{
    /* bare NaN/Infinity as Python's json writes them, the strings the
     * answers carry, and null */
    const char *v1 = "{\"inputs\":{\"x\":{\"dtype\":\"float32\",\"shape\":[1,1,1,6],"
                     "\"data\":[NaN,Infinity,-Infinity,\"NaN\",\"-Infinity\",null]}},"
                     "\"params\":{\"kernel_size\":1}}";
    const char *v2 = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,6],\"datatype\":\"FP32\","
                     "\"data\":[NaN,Infinity,-Infinity,\"NaN\",\"-Infinity\",null]}],"
                     "\"parameters\":{\"kernel_size\":1}}";
    float a[6], b[6];
    if (!decoded_f32(V1, v1, a, 6) || !decoded_f32(V2, v2, b, 6)) return;
    for (int i = 0; i < 6; i++) CHECKF(!memcmp(&a[i], &b[i], 4) || (isnan(a[i]) && isnan(b[i])),
                                       "element %d: %g vs %g", i, a[i], b[i]);
    CHECK(isnan(a[0]) && a[1] == INFINITY && a[2] == -INFINITY && isnan(a[3]) &&
          a[4] == -INFINITY && isnan(a[5]));
}

static void bare_words_other_than_nan_stay_errors(void)
{
    V1_JSON("{\"inputs\":{\"x\":[[[[Nan]]]]}}", UP_E_MALFORMED, "body", "malformed JSON");
    V1_JSON("{\"inputs\":{\"x\":[[[[-Inf]]]]}}", UP_E_MALFORMED, "body", "malformed JSON");
    V1_JSON("{\"inputs\":{\"x\":[[[[Infinityy]]]]}}", UP_E_MALFORMED, "body", "malformed JSON");
}

/* ---- decimals into float16/bfloat16: rounded once ---- */

static uint16_t decoded_half(int proto, const char *dtype, const char *number)
{
    char b[320];
    outcome o;
    uint16_t h = 0xffff;
    if (proto == V1)
        snprintf(b, sizeof(b), "{\"inputs\":{\"x\":{\"dtype\":\"%s\",\"shape\":[1,1,1,1],"
                 "\"data\":[%s]}},\"params\":{\"kernel_size\":1}}", dtype, number);
    else
        snprintf(b, sizeof(b), "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1],\"datatype\":"
                 "\"%s\",\"data\":[%s]}],\"parameters\":{\"kernel_size\":1}}",
                 !strcmp(dtype, "float16") ? "FP16" : "BF16", number);
    decode(&o, proto, "max_pool", "application/json", b, strlen(b));
    CHECKF(o.rc == 0, "%s", o.err.items[0].message);
    if (o.rc == 0) memcpy(&h, o.call.plan.raw[0].data, 2);
    done(&o);
    return h;
}

static void half_decimals_rounded_once(void)
{
    for (int proto = V1; proto <= V2; proto++) {
        /* just above the tie 1 + 2^-11, which float32 rounds onto */
        CHECK(decoded_half(proto, "float16", "1.0004882821813226") == 0x3c01);
        CHECK(decoded_half(proto, "float16", "1.00048828125") == 0x3c00); /* the tie: even */
        /* just above the bfloat16 tie 1 + 2^-8 */
        CHECK(decoded_half(proto, "bfloat16", "1.0039062509313226") == 0x3f81);
        CHECK(decoded_half(proto, "bfloat16", "1.00390625") == 0x3f80);
    }
}

/* Lists long enough that the decoders convert them from the text (not
 * from numbers kept while parsing): the same spellings, the same single
 * rounding, on /v1 (flat with a shape, and nested) and on /v2. */
static void long_lists_read_like_short_ones(void)
{
    static const char *const words[] = {"NaN", "Infinity", "-Infinity", "1.0004882821813226"};
    static const uint16_t want[] = {0x7e00, 0x7c00, 0xfc00, 0x3c01};
    for (int form = 0; form < 3; form++) {
        char *b = malloc(16384);
        int k = 0;
        outcome o;
        if (form == 0)
            k += sprintf(b, "{\"inputs\":{\"x\":{\"dtype\":\"float16\",\"shape\":[1,1,16,16],"
                            "\"data\":[");
        else if (form == 1)
            k += sprintf(b, "{\"inputs\":{\"x\":{\"dtype\":\"float16\",\"data\":[[[");
        else
            k += sprintf(b, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,16,16],"
                            "\"datatype\":\"FP16\",\"data\":[");
        for (int i = 0; i < 256; i++)
            k += sprintf(b + k, "%s%s", i == 0 ? "" : form == 1 && i % 16 == 0 ? "],[" : ",",
                         words[i % 4]);
        k += sprintf(b + k, form == 0   ? "]}},\"params\":{\"kernel_size\":1}}"
                            : form == 1 ? "]]]}},\"params\":{\"kernel_size\":1}}"
                                        : "]}],\"parameters\":{\"kernel_size\":1}}");
        decode(&o, form == 2 ? V2 : V1, "max_pool", "application/json", b, (size_t)k);
        CHECKF(o.rc == 0, "form %d: %s", form, o.err.items[0].message);
        if (o.rc == 0) {
            const uint16_t *h = o.call.plan.raw[0].data;
            int bad = o.call.plan.raw[0].dtype != UP_F16 || up_tensor_numel(&o.call.plan.raw[0]) != 256;
            for (int i = 0; i < 256 && !bad; i++)
                if (i % 4 == 0 ? (h[i] & 0x7c00) != 0x7c00 || !(h[i] & 0x3ff) : h[i] != want[i % 4])
                    bad = 1 + i;
            CHECKF(!bad, "form %d: element %d", form, bad - 1);
        }
        done(&o);
        free(b);
    }
}

static void f64_to_half_edges(void)
{
    CHECK(up_f64_to_f16(65519.99) == 0x7bff);
    CHECK(up_f64_to_f16(65520.0) == 0x7c00);
    CHECK(up_f64_to_f16(1e300) == 0x7c00);
    CHECK(up_f64_to_f16(-1e300) == 0xfc00);
    CHECK(up_f64_to_f16(1e-30) == 0x0000);
    CHECK(up_f64_to_f16(-1e-30) == 0x8000);
    CHECK(up_f64_to_f16(ldexp(1, -25)) == 0x0000);                  /* tie: even */
    CHECK(up_f64_to_f16(ldexp(1, -25) + ldexp(1, -60)) == 0x0001); /* past the tie */
    CHECK((up_f64_to_f16(NAN) & 0x7c00) == 0x7c00 && (up_f64_to_f16(NAN) & 0x3ff));
    CHECK(up_f64_to_f16(-0.0) == 0x8000);
    CHECK(up_f64_to_bf16(1e300) == 0x7f80);
    CHECK(up_f64_to_bf16(3.3895313892515355e38) == 0x7f7f); /* bfloat16's largest */
    CHECK(up_f64_to_bf16(1e-300) == 0x0000);
    CHECK(up_f64_to_bf16(-1.0) == 0xbf80);
    /* every double that is exactly a float32 converts as the float32 did */
    unsigned long long s = 0x9e3779b97f4a7c15ull;
    int same = 1;
    for (int i = 0; i < 100000; i++) {
        uint32_t u = (uint32_t)th_xorshift(&s);
        float f;
        memcpy(&f, &u, 4);
        if (isnan(f)) continue;
        same &= up_f64_to_f16(f) == up_f32_to_f16(f) && up_f64_to_bf16(f) == up_f32_to_bf16(f);
    }
    CHECK(same);
}

int main(void)
{
    RUN(shell_ate_the_quotes);
    RUN(single_quotes);
    RUN(trailing_comma);
    RUN(bare_nan_lowercase);
    RUN(cut_short);
    RUN(too_deep_names_the_body);
    RUN(empty_body_names_the_body);
    RUN(kserve_body_on_v1);
    RUN(npy_content_type_with_json_body);
    RUN(npy_unknown_version_is_400);
    RUN(kserve_unknown_datatype_is_400);
    RUN(invalid_utf8_is_400);
    RUN(kserve_id_echoed_as_utf8);
    RUN(same_number_spellings_on_v1_and_v2);
    RUN(bare_words_other_than_nan_stay_errors);
    RUN(half_decimals_rounded_once);
    RUN(long_lists_read_like_short_ones);
    RUN(f64_to_half_edges);
    return th_summary();
}
