/* test_safetensors.c -- the safetensors codec against files the
 * `safetensors` package wrote.
 *
 * Requests and expected answers in tests/fixtures/binary/ come from
 * safetensors.numpy / safetensors.torch (gen_binary.py) with PyTorch's
 * results, and answers are compared byte for byte with the package's own
 * files: same header JSON, same tensor order, same padding. Malformed
 * inputs are built here, one defect per case, each with its error kind. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codecs.h"
#include "tests/support/fixture.h"
#include "tests/support/budget.h"
#include "tests/support/call.h"
#include "tests/support/harness.h"


static body load(const char *name) { return fixture_load(name); }

static up_charge test_charge; /* the request's accountant, for the charging cases */

static int decode(up_call *c, const char *op, body *b, const char *query, up_error *err)
{
    up_kv kv[8];
    char qbuf[256];
    int nq = th_query_split(query, qbuf, sizeof(qbuf), kv, 8);
    up_http_req req = {0};
    up_limits lim = {.max_elements = 1 << 20, .max_request_elements = 1 << 21, .max_json_depth = 64, .max_inputs = 4};
    req.content_type = "application/x-safetensors";
    req.accept = "application/x-safetensors";
    req.query = kv;
    req.n_query = nq;
    req.body = b->data;
    req.body_len = b->len;
    req.charge = test_charge;
    up_error_clear(err);
    return up_call_decode_v1(c, up_op_find(op), &req, &lim, err);
}

/* Decode, run; then compare the safetensors answer with `expected`
 * (a package-written file) byte for byte. views: every present input must
 * be a view into the body (1) or an owned copy (0). */
static void check_answer(const char *op, body *b, const char *query, const char *expected,
                         int views)
{
    body want = load(expected);
    up_call c;
    up_error err;
    up_http_resp resp;
    up_http_resp_init(&resp);
    CHECK(b->data && want.data);
    int rc = decode(&c, op, b, query, &err);
    CHECKF(rc == 0, "%s: %s", err.n ? err.items[0].field : "", err.n ? err.items[0].message : "");
    if (rc == 0) {
        for (int i = 0; i < c.plan.op->n_inputs; i++) {
            if (!c.plan.raw[i].data) continue;
            CHECKF((c.plan.raw[i].alloc == NULL) == views, "input %d view %d", i, views);
        }
        CHECK(c.out_format == UP_FMT_SAFETENSORS);
        CHECK(th_call_run(&c, &err) == 0);
        CHECK(up_safetensors_encode_call(&c, NULL, &resp, &err) == 0);
        CHECK(up_http_resp_flatten(&resp) == 0);
        CHECK(resp.status == 200);
        CHECK(resp.content_type && strcmp(resp.content_type, "application/x-safetensors") == 0);
        CHECKF(resp.body.len == want.len && memcmp(resp.body.data, want.data, want.len) == 0,
               "answer differs from the package's file (%zu vs %zu bytes): %.*s", resp.body.len,
               want.len, resp.body.len > 8 ? (int)(resp.body.len - 8 < 200 ? resp.body.len - 8 : 200) : 0,
               resp.body.data + 8);
    }
    up_call_free(&c);
    up_http_resp_free(&resp);
    free(want.data);
}

static void check_file(const char *op, const char *file, const char *query, const char *expected)
{
    body b = load(file);
    check_answer(op, &b, query, expected, 1);
    free(b.data);
}

static void check_refused(const char *op, body *b, const char *query, up_err_kind kind,
                          const char *needle)
{
    up_call c;
    up_error err;
    th_expect_refused(decode(&c, op, b, query, &err), &err, kind, needle);
    up_call_free(&c);
}

/* A safetensors body: 8-byte length, the header as given, ndata zero bytes. */
static body make_st(const char *header, size_t ndata)
{
    size_t hl = strlen(header);
    body b;
    b.len = 8 + hl + ndata;
    b.data = calloc(1, b.len + 1);
    for (int k = 0; k < 8; k++) b.data[k] = (char)((uint64_t)hl >> (8 * k));
    memcpy(b.data + 8, header, hl);
    return b;
}

static void check_header_refused(const char *header, size_t ndata, up_err_kind kind,
                                 const char *needle)
{
    body b = make_st(header, ndata);
    check_refused("max_unpool", &b, "kernel_size=2", kind, needle);
    free(b.data);
}

/* ---- what the package wrote ---- */

static void max_unpool_metadata_params(void)
{
    check_file("max_unpool", "st_max_unpool.safetensors", NULL, "exp_max_unpool.safetensors");
}
static void max_unpool_metadata_lists(void)
{
    check_file("max_unpool", "st_max_unpool_meta_list.safetensors", NULL,
               "exp_max_unpool.safetensors");
}
static void max_unpool_query_params(void)
{
    check_file("max_unpool", "st_max_unpool_nometa.safetensors", "kernel_size=2",
               "exp_max_unpool.safetensors");
}
static void max_unpool_mask_u8(void)
{
    check_file("max_unpool", "st_max_unpool_mask.safetensors", NULL, "exp_max_unpool.safetensors");
}
static void max_pool_two_outputs(void)
{
    check_file("max_pool", "st_max_pool.safetensors", NULL, "exp_max_pool.safetensors");
}
static void max_pool_f64_same_width_outputs(void)
{
    check_file("max_pool", "st_max_pool_f64.safetensors", NULL, "exp_max_pool_f64.safetensors");
}
static void nearest_bf16(void)
{
    check_file("nearest_unpool", "st_nearest_bf16.safetensors", NULL, "exp_nearest_bf16.safetensors");
}
static void nearest_f16(void)
{
    check_file("nearest_unpool", "st_nearest_f16.safetensors", NULL, "exp_nearest_f16.safetensors");
}

/* The file says output_size 4,4; the URL says 5,5; the URL wins. */
static void query_overrides_metadata(void)
{
    body b = load("st_max_unpool_meta_list.safetensors"), want = load("exp_max_unpool_5x5.raw");
    up_call c;
    up_error err;
    CHECK(decode(&c, "max_unpool", &b, "output_size=5,5", &err) == 0);
    CHECK(th_call_run(&c, &err) == 0);
    CHECK(c.plan.result[0].shape[2] == 5 && c.plan.result[0].shape[3] == 5);
    CHECK(up_tensor_nbytes(&c.plan.result[0]) == want.len &&
          memcmp(c.plan.result[0].data, want.data, want.len) == 0);
    up_call_free(&c);
    free(b.data);
    free(want.data);
}

static void misaligned_tensors_copied(void)
{
    body b = load("st_max_unpool.safetensors"), s;
    s.data = malloc(b.len + 1);
    memcpy(s.data + 1, b.data, b.len);
    s.len = b.len;
    char *keep = s.data;
    s.data++;
    check_answer("max_unpool", &s, NULL, "exp_max_unpool.safetensors", 0);
    free(keep);
    free(b.data);
}

/* ---- malformed and unsupported ---- */

#define X_OK "\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1],\"data_offsets\":[0,4]}"

static void truncated_length(void)
{
    body b = load("st_max_unpool.safetensors");
    b.len = 5;
    check_refused("max_unpool", &b, NULL, UP_E_MALFORMED, "truncated");
    free(b.data);
}
static void header_length_past_end(void)
{
    body b = load("st_max_unpool.safetensors");
    b.data[1] = 0x10;
    check_refused("max_unpool", &b, NULL, UP_E_MALFORMED, "past the end");
    free(b.data);
}
static void header_length_huge(void)
{
    body b = load("st_max_unpool.safetensors");
    memset(b.data, 0xff, 8);
    check_refused("max_unpool", &b, NULL, UP_E_MALFORMED, "past the end");
    free(b.data);
}
static void truncated_data_region(void)
{
    body b = load("st_max_unpool.safetensors");
    b.len -= 8;
    check_refused("max_unpool", &b, NULL, UP_E_MALFORMED, "not inside");
    free(b.data);
}
static void header_not_json(void) { check_header_refused("{\"x\": [1, 2", 4, UP_E_MALFORMED, "malformed JSON in the safetensors header"); }
static void header_not_object(void) { check_header_refused("[1, 2]  ", 4, UP_E_MALFORMED, "object"); }
static void header_trailing_text(void)
{
    check_header_refused("{" X_OK "} x", 4, UP_E_MALFORMED, "after");
}
static void header_padding_spaces_ok(void)
{
    body b = make_st("{" X_OK ",\"indices\":{\"dtype\":\"I64\",\"shape\":[1,1,1,1],"
                     "\"data_offsets\":[8,16]}}      ", 16);
    up_call c;
    up_error err;
    CHECK(decode(&c, "max_unpool", &b, "kernel_size=2", &err) == 0);
    up_call_free(&c);
    free(b.data);
}
static void unknown_dtype(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[1,1,1,1],\"data_offsets\":[0,1]}}",
                         1, UP_E_INVALID, "F8_E4M3");
}
static void dtype_u16_unsupported(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"U16\",\"shape\":[1,1,1,1],\"data_offsets\":[0,2]}}", 2,
                         UP_E_INVALID, "U16");
}
static void size_mismatch(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,2,1],\"data_offsets\":[0,4]}}", 8,
                         UP_E_MALFORMED, "need 8");
}
static void offsets_out_of_range(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1],\"data_offsets\":[4,8]}}", 4,
                         UP_E_MALFORMED, "not inside");
}
static void offsets_reversed(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,0],\"data_offsets\":[4,0]}}", 8,
                         UP_E_MALFORMED, "not inside");
}
static void offsets_overlap(void)
{
    check_header_refused("{" X_OK ",\"indices\":{\"dtype\":\"I32\",\"shape\":[1,1,1,1],"
                         "\"data_offsets\":[2,6]}}", 8, UP_E_MALFORMED, "overlap");
}
static void offsets_not_pair(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1],\"data_offsets\":[0]}}", 4,
                         UP_E_MALFORMED, "data_offsets");
}
static void offsets_negative(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1],\"data_offsets\":[-4,0]}}", 4,
                         UP_E_MALFORMED, "data_offsets");
}
static void shape_negative(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,-1,1,1],\"data_offsets\":[0,4]}}", 4,
                         UP_E_MALFORMED, "non-negative");
}
static void shape_fractional(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1.5,1,1],\"data_offsets\":[0,4]}}", 4,
                         UP_E_MALFORMED, "non-negative");
}
static void shape_overflow(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],"
                         "\"data_offsets\":[0,4]}}", 4, UP_E_TOO_LARGE, "overflows");
}
static void shape_rank_6(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
                         4, UP_E_INVALID, "more than 5");
}
static void entry_missing_key(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1]}}", 4, UP_E_MALFORMED,
                         "needs dtype");
}
static void entry_extra_key(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1],\"data_offsets\":[0,4],"
                         "\"y\":1}}", 4, UP_E_MALFORMED, "unexpected");
}
static void entry_not_object(void)
{
    check_header_refused("{\"x\":[1]}", 4, UP_E_MALFORMED, "object");
}
static void unknown_tensor_name(void)
{
    check_header_refused("{" X_OK ",\"weight\":{\"dtype\":\"F32\",\"shape\":[1],"
                         "\"data_offsets\":[4,8]}}", 8, UP_E_INVALID, "weight");
}
static void duplicate_tensor_name(void)
{
    check_header_refused("{" X_OK "," X_OK "}", 4, UP_E_MALFORMED, "repeated JSON key \"x\"");
}
static void metadata_not_string(void)
{
    check_header_refused("{\"__metadata__\":{\"kernel_size\":2}," X_OK "}", 4, UP_E_MALFORMED,
                         "strings");
}
static void metadata_unknown_param(void)
{
    body b = make_st("{\"__metadata__\":{\"kernel_sise\":\"2\"}," X_OK "}", 4);
    check_refused("max_unpool", &b, NULL, UP_E_INVALID, "kernel_sise");
    free(b.data);
}
static void metadata_bad_value(void)
{
    body b = make_st("{\"__metadata__\":{\"kernel_size\":\"two\"}," X_OK "}", 4);
    check_refused("max_unpool", &b, NULL, UP_E_MALFORMED, "two");
    free(b.data);
}
static void metadata_not_object(void)
{
    check_header_refused("{\"__metadata__\":[]," X_OK "}", 4, UP_E_MALFORMED, "object");
}
static void missing_required_input(void)
{
    body b = make_st("{\"indices\":{\"dtype\":\"I64\",\"shape\":[1,1,1,1],\"data_offsets\":[0,8]}}", 8);
    check_refused("max_unpool", &b, "kernel_size=2", UP_E_INVALID, "missing");
    free(b.data);
}
static void over_element_limit(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"U8\",\"shape\":[1,1,2048,1024],"
                         "\"data_offsets\":[0,2097152]}}", 2097152, UP_E_TOO_LARGE, "limit");
}

/* Large outputs are not copied: the body is the 8-byte length and the
 * header, and each tensor follows as its own tail piece, widest dtype
 * first, owned by the answer after the call is freed. */
static void large_answer_zero_copy(void)
{
    const char *hdr = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,4,64,64],\"data_offsets\":[0,65536]}}";
    size_t hl = (strlen(hdr) + 7) / 8 * 8, n = 4 * 64 * 64;
    body b;
    b.len = 8 + hl + n * 4;
    b.data = calloc(1, b.len);
    for (int k = 0; k < 8; k++) b.data[k] = (char)(hl >> (8 * k));
    memset(b.data + 8, ' ', hl);
    memcpy(b.data + 8, hdr, strlen(hdr));
    float *x = (float *)(b.data + 8 + hl);
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 7919) % 1000);
    up_call c;
    up_error err;
    up_http_resp resp;
    up_http_resp_init(&resp);
    CHECK(decode(&c, "max_pool", &b, "kernel_size=2", &err) == 0);
    CHECK(th_call_run(&c, &err) == 0);
    void *y = c.plan.out[0].data, *ind = c.plan.out[1].data;
    CHECK(up_safetensors_encode_call(&c, NULL, &resp, &err) == 0);
    CHECK(resp.n_tail == 2);
    CHECK(resp.tail[0].base == ind && resp.tail[0].len == 4 * 32 * 32 * 8);
    CHECK(resp.tail[1].base == y && resp.tail[1].len == 4 * 32 * 32 * 4);
    CHECK(strstr(resp.body.data + 8, "\"indices\":{\"dtype\":\"I64\",\"shape\":[1,4,32,32],"
                                     "\"data_offsets\":[0,32768]}") != NULL);
    up_call_free(&c);
    int ok = resp.n_tail == 2;
    for (int p = 0; ok && p < 4 * 32 * 32; p++) {
        int pl = p / 1024, oh = p % 1024 / 32, ow = p % 32;
        float v, best = -1;
        int64_t at;
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++) {
                float e = x[pl * 4096 + (2 * oh + dy) * 64 + 2 * ow + dx];
                if (e > best) best = e;
            }
        memcpy(&v, (const char *)resp.tail[1].base + 4 * p, 4);
        memcpy(&at, (const char *)resp.tail[0].base + 8 * p, 8);
        ok = v == best && at >= 0 && at < 4096 && x[pl * 4096 + at] == best;
    }
    CHECK(ok);
    CHECK(up_http_resp_flatten(&resp) == 0);
    CHECK(resp.body.len == 8 + (size_t)(resp.body.data[0] & 0xff) + 32768 + 16384);
    up_http_resp_free(&resp);
    free(b.data);
}

/* ---- the header parsed like every request document ---- */

static void header_deeper_than_limit(void)
{
    char h[512];
    size_t n = 0;
    n += (size_t)sprintf(h, "{\"x\":{\"dtype\":\"F32\",\"shape\":");
    for (int i = 0; i < 70; i++) h[n++] = '[';
    h[n++] = '1';
    for (int i = 0; i < 70; i++) h[n++] = ']';
    sprintf(h + n, ",\"data_offsets\":[0,4]}}");
    check_header_refused(h, 4, UP_E_MALFORMED, "deeper than 64 levels");
}

static void nul_in_header_names_refused(void)
{
    check_header_refused("{\"__metadata__\":{\"kernel_size\":\"2\\u0000junk\"}," X_OK "}", 4,
                         UP_E_MALFORMED, "\\u0000");
    check_header_refused("{\"__metadata__\":{\"kernel_size\\u0000x\":\"2\"}," X_OK "}", 4,
                         UP_E_MALFORMED, "\\u0000");
    check_header_refused("{\"x\\u0000junk\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1],"
                         "\"data_offsets\":[0,4]}}", 4, UP_E_MALFORMED, "x\\u0000junk");
    check_header_refused("{\"x\":{\"dtype\":\"F32\\u0000\",\"shape\":[1,1,1,1],"
                         "\"data_offsets\":[0,4]}}", 4, UP_E_MALFORMED, "\\u0000");
}

static void repeated_keys_in_entry_refused(void)
{
    check_header_refused("{\"x\":{\"dtype\":\"F32\",\"dtype\":\"F64\",\"shape\":[1,1,1,1],"
                         "\"data_offsets\":[0,4]}}", 4, UP_E_MALFORMED, "repeated JSON key \"dtype\"");
    check_header_refused("{\"__metadata__\":{\"kernel_size\":\"2\",\"kernel_size\":\"3\"}," X_OK "}", 4,
                         UP_E_MALFORMED, "repeated JSON key \"kernel_size\"");
}

/* A misaligned tensor is copied: the copy is charged first. */
static void misaligned_copy_charged(void)
{
    /* header padded so x's data starts at an odd address */
    const char *h = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,16,16],\"data_offsets\":[1,1025]}} ";
    body b = make_st(h, 1025);
    th_budget bu = {.limit = (int64_t)1 << 30};
    up_call c;
    up_error err;
    test_charge = (up_charge){.take = th_budget_take, .ctx = &bu};
    CHECKF(decode(&c, "max_pool", &b, "kernel_size=2", &err) == 0, "%s",
           err.n ? err.items[0].message : "");
    CHECK(c.plan.raw[0].alloc != NULL && bu.used >= 1024);
    up_call_free(&c);
    bu = (th_budget){.limit = 512};
    CHECK(decode(&c, "max_pool", &b, "kernel_size=2", &err) < 0);
    CHECK(err.kind == UP_E_OVERLOADED && err.n == 1 && strstr(err.items[0].message, "budget:"));
    up_call_free(&c);
    test_charge = (up_charge){0};
    free(b.data);
}

int main(void)
{
    RUN(max_unpool_metadata_params);
    RUN(large_answer_zero_copy);
    RUN(max_unpool_metadata_lists);
    RUN(max_unpool_query_params);
    RUN(max_unpool_mask_u8);
    RUN(max_pool_two_outputs);
    RUN(max_pool_f64_same_width_outputs);
    RUN(nearest_bf16);
    RUN(nearest_f16);
    RUN(query_overrides_metadata);
    RUN(misaligned_tensors_copied);
    RUN(truncated_length);
    RUN(header_length_past_end);
    RUN(header_length_huge);
    RUN(truncated_data_region);
    RUN(header_not_json);
    RUN(header_not_object);
    RUN(header_trailing_text);
    RUN(header_padding_spaces_ok);
    RUN(unknown_dtype);
    RUN(dtype_u16_unsupported);
    RUN(size_mismatch);
    RUN(offsets_out_of_range);
    RUN(offsets_reversed);
    RUN(offsets_overlap);
    RUN(offsets_not_pair);
    RUN(offsets_negative);
    RUN(shape_negative);
    RUN(shape_fractional);
    RUN(shape_overflow);
    RUN(shape_rank_6);
    RUN(entry_missing_key);
    RUN(entry_extra_key);
    RUN(entry_not_object);
    RUN(unknown_tensor_name);
    RUN(duplicate_tensor_name);
    RUN(metadata_not_string);
    RUN(metadata_unknown_param);
    RUN(metadata_bad_value);
    RUN(metadata_not_object);
    RUN(missing_required_input);
    RUN(over_element_limit);
    RUN(header_deeper_than_limit);
    RUN(nul_in_header_names_refused);
    RUN(repeated_keys_in_entry_refused);
    RUN(misaligned_copy_charged);
    return th_summary();
}
