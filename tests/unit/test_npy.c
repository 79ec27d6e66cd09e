/* test_npy.c -- the .npy codec against files NumPy wrote.
 *
 * Fixtures (tests/fixtures/binary/, made by gen_binary.py) come from
 * np.save and np.lib.format.write_array; expected answers are .npy files
 * NumPy wrote from PyTorch's results, so an answer is checked byte for byte
 * against NumPy's own writer. Malformed inputs are NumPy files with one
 * defect each, or headers built here; every one has its own case and its
 * expected error kind. Multi-input bodies are several arrays written by
 * repeated np.save() to one file. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codecs.h"
#include "kernels/convert.h"
#include "tests/support/fixture.h"
#include "tests/support/budget.h"
#include "tests/support/call.h"
#include "tests/support/harness.h"


static body load(const char *name) { return fixture_load(name); }

static up_limits limits(void)
{
    up_limits l = {.max_elements = 1 << 24, .max_request_elements = 1 << 25, .max_json_depth = 64, .max_inputs = 4};
    return l;
}

/* Decode a .npy body for op with a query string ("k=v&k=v" or NULL). */
static int decode(up_call *c, const char *op, body *b, const char *query, up_error *err)
{
    up_kv kv[8];
    char qbuf[256];
    int nq = th_query_split(query, qbuf, sizeof(qbuf), kv, 8);
    up_http_req req = {0};
    up_limits lim = limits();
    req.content_type = "application/x-npy";
    req.query = kv;
    req.n_query = nq;
    req.body = b->data;
    req.body_len = b->len;
    up_error_clear(err);
    return up_call_decode_v1(c, up_op_find(op), &req, &lim, err);
}

static int same_bytes(const up_buf *got, const body *want)
{
    if (got->len != want->len) {
        printf("    length %zu, expected %zu\n", got->len, want->len);
        return 0;
    }
    return memcmp(got->data, want->data, want->len) == 0;
}

/* op(file?query) answered as .npy equals the NumPy-written expected file.
 * in_place: whether x must be a view into the body. */
static void check_answer(const char *op, const char *file, const char *query, const char *expected,
                         int in_place)
{
    body b = load(file), want = load(expected);
    up_call c;
    up_error err;
    up_http_resp resp;
    up_http_resp_init(&resp);
    CHECK(b.data && want.data);
    int rc = decode(&c, op, &b, query, &err);
    CHECKF(rc == 0, "%s: %s", err.n ? err.items[0].field : "", err.n ? err.items[0].message : "");
    if (rc == 0) {
        CHECK((c.plan.raw[0].alloc == NULL) == in_place);
        if (in_place) {
            CHECK((char *)c.plan.raw[0].data >= b.data &&
                  (char *)c.plan.raw[0].data < b.data + b.len);
        }
        CHECK(th_call_run(&c, &err) == 0);
        CHECK(up_npy_encode_call(&c, NULL, &resp, &err) == 0);
        CHECK(resp.status == 200);
        CHECK(resp.content_type && strcmp(resp.content_type, "application/x-npy") == 0);
        CHECK(up_http_resp_flatten(&resp) == 0);
        CHECK(same_bytes(&resp.body, &want));
    }
    up_call_free(&c);
    up_http_resp_free(&resp);
    free(b.data);
    free(want.data);
}

/* The body must be refused with this error kind; the message must
 * contain `needle` when given. */
static void check_refused(const char *op, body *b, const char *query, up_err_kind kind,
                          const char *needle)
{
    up_call c;
    up_error err;
    th_expect_refused(decode(&c, op, b, query, &err), &err, kind, needle);
    up_call_free(&c);
}

static void check_file_refused(const char *file, up_err_kind kind, const char *needle)
{
    body b = load(file);
    CHECK(b.data != NULL);
    check_refused("nearest_unpool", &b, "scale_factor=2", kind, needle);
    free(b.data);
}

/* A .npy body with a hand-written header dict (padded as NumPy pads) and
 * nbytes of data. */
static body make_npy(int major, const char *dict, size_t nbytes)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hlen = total - pre;
    body b;
    b.len = total + nbytes;
    b.data = calloc(1, b.len + 1);
    memcpy(b.data, "\x93NUMPY", 6);
    b.data[6] = (char)major;
    b.data[7] = 0;
    for (size_t k = 0; k < pre - 8; k++) b.data[8 + k] = (char)(hlen >> (8 * k));
    memset(b.data + pre, ' ', hlen);
    memcpy(b.data + pre, dict, dl);
    b.data[total - 1] = '\n';
    return b;
}

static void check_dict_refused(const char *dict, size_t nbytes, up_err_kind kind, const char *needle)
{
    body b = make_npy(1, dict, nbytes);
    check_refused("nearest_unpool", &b, "scale_factor=2", kind, needle);
    free(b.data);
}

/* ---- reading what NumPy wrote ---- */

static void f32_c_order_in_place(void)
{
    check_answer("nearest_unpool", "npy_f32.npy", "scale_factor=2", "exp_nearest_x2_f32.npy", 1);
}
static void f32_big_endian_swapped(void)
{
    check_answer("nearest_unpool", "npy_f32_be.npy", "scale_factor=2", "exp_nearest_x2_f32.npy", 0);
}
static void f32_fortran_order_converted(void)
{
    check_answer("nearest_unpool", "npy_f32_fortran.npy", "scale_factor=2",
                 "exp_nearest_x2_f32.npy", 0);
}
static void f32_big_endian_fortran(void)
{
    check_answer("nearest_unpool", "npy_f32_be_fortran.npy", "scale_factor=2",
                 "exp_nearest_x2_f32.npy", 0);
}
static void f64_in_place(void)
{
    check_answer("nearest_unpool", "npy_f64.npy", "scale_factor=2", "exp_nearest_x2_f64.npy", 1);
}
static void f64_big_endian(void)
{
    check_answer("nearest_unpool", "npy_f64_be.npy", "scale_factor=2", "exp_nearest_x2_f64.npy", 0);
}
static void f16_in_place(void)
{
    check_answer("nearest_unpool", "npy_f16.npy", "scale_factor=2", "exp_nearest_x2_f16.npy", 1);
}
static void f16_big_endian(void)
{
    check_answer("nearest_unpool", "npy_f16_be.npy", "scale_factor=2", "exp_nearest_x2_f16.npy", 0);
}
static void version_2_0(void)
{
    check_answer("nearest_unpool", "npy_v2.npy", "scale_factor=2", "exp_nearest_x2_f32.npy", 1);
}
static void version_3_0(void)
{
    check_answer("nearest_unpool", "npy_v3.npy", "scale_factor=2", "exp_nearest_x2_f32.npy", 1);
}
static void params_list_from_query(void)
{
    check_answer("nearest_unpool", "npy_f32.npy", "output_size=8,8", "exp_nearest_x2_f32.npy", 1);
}
static void max_pool_first_output_is_y(void)
{
    check_answer("max_pool", "npy_f32.npy", "kernel_size=2", "exp_max_pool_y.npy", 1);
}
static void max_pool_output_indices(void)
{
    check_answer("max_pool", "npy_f32.npy", "kernel_size=2&output=indices",
                 "exp_max_pool_indices.npy", 1);
}

/* A payload at an odd address cannot be a float view: it is copied, and
 * the answer is the same. */
static void misaligned_payload_copied(void)
{
    body b = load("npy_f32.npy"), want = load("exp_nearest_x2_f32.npy"), shifted;
    up_call c;
    up_error err;
    up_http_resp resp;
    up_http_resp_init(&resp);
    shifted.data = malloc(b.len + 1);
    memcpy(shifted.data + 1, b.data, b.len);
    shifted.len = b.len;
    char *keep = shifted.data;
    shifted.data += 1;
    CHECK(decode(&c, "nearest_unpool", &shifted, "scale_factor=2", &err) == 0);
    CHECK(c.plan.raw[0].alloc != NULL);
    CHECK(th_call_run(&c, &err) == 0);
    CHECK(up_npy_encode_call(&c, NULL, &resp, &err) == 0);
    CHECK(up_http_resp_flatten(&resp) == 0);
    CHECK(same_bytes(&resp.body, &want));
    up_call_free(&c);
    up_http_resp_free(&resp);
    free(keep);
    free(b.data);
    free(want.data);
}

/* Python 2 era and hand-written headers: double quotes, no trailing comma,
 * keys in another order. */
static void header_variants_accepted(void)
{
    body b = make_npy(1, "{\"shape\": (1, 1, 2), \"fortran_order\": False, \"descr\": \"<f4\"}", 8);
    up_call c;
    up_error err;
    CHECK(decode(&c, "nearest_unpool", &b, "scale_factor=2", &err) == 0);
    CHECK(c.plan.raw[0].rank == 3 && c.plan.raw[0].shape[2] == 2);
    up_call_free(&c);
    free(b.data);
}

/* ---- answers ---- */

/* bfloat16 has no NumPy descr: the answer is '<f4' holding the exact
 * widened values. */
static void bfloat16_answer_widened_to_f32(void)
{
    body b = load("st_nearest_bf16.safetensors"), want = load("exp_nearest_bf16.safetensors");
    up_call c;
    up_error err;
    up_http_resp resp;
    up_http_req req = {0};
    up_limits lim = limits();
    up_http_resp_init(&resp);
    req.content_type = "application/x-safetensors";
    req.body = b.data;
    req.body_len = b.len;
    up_error_clear(&err);
    CHECK(up_call_decode_v1(&c, up_op_find("nearest_unpool"), &req, &lim, &err) == 0);
    CHECK(th_call_run(&c, &err) == 0);
    CHECK(c.plan.result[0].dtype == UP_BF16);
    CHECK(up_npy_encode_call(&c, NULL, &resp, &err) == 0);
    up_call_free(&c); /* the answer owns the widened copy */
    CHECK(up_http_resp_flatten(&resp) == 0);
    CHECK(resp.body.len == 128 + 128 * 4);
    CHECK(strstr(resp.body.data + 10, "'descr': '<f4'") != NULL);
    CHECK(strstr(resp.body.data + 10, "'shape': (1, 2, 8, 8)") != NULL);
    if (resp.body.len == 128 + 128 * 4 && want.len > 256) {
        /* expected bf16 data sits at the end of the safetensors file */
        const unsigned char *w = (const unsigned char *)want.data + want.len - 256;
        int ok = 1;
        for (int i = 0; i < 128; i++) {
            uint16_t h = (uint16_t)(w[2 * i] | w[2 * i + 1] << 8);
            float f = up_bf16_to_f32(h), g;
            memcpy(&g, resp.body.data + 128 + 4 * i, 4);
            ok &= memcmp(&f, &g, 4) == 0;
        }
        CHECK(ok);
    }
    up_call_free(&c);
    up_http_resp_free(&resp);
    free(b.data);
    free(want.data);
}

/* ---- several arrays back to back (repeated np.save) ---- */

/* x then indices, in registry order, as one NumPy-written file. */
static void multi_max_unpool(void)
{
    check_answer("max_unpool", "npy_multi_max_unpool.npy", "kernel_size=2",
                 "exp_npy_multi_max_unpool.npy", 1);
}
/* ?inputs= names the inputs: x and the uint8 mask give the same answer. */
static void multi_named_mask(void)
{
    check_answer("max_unpool", "npy_multi_mask.npy", "kernel_size=2&inputs=x,mask",
                 "exp_npy_multi_max_unpool.npy", 1);
}
/* Three arrays: x, weight, bias of conv_transpose. The header must be
 * NumPy's byte for byte; the values are PyTorch's within the tolerance the
 * conv goldens use (summation order differs from PyTorch's GEMM). */
static void multi_conv_transpose(void)
{
    body b = load("npy_multi_conv.npy"), want = load("exp_npy_multi_conv.npy");
    up_call c;
    up_error err;
    up_http_resp resp;
    up_http_resp_init(&resp);
    CHECK(b.data && want.data);
    CHECK(decode(&c, "conv_transpose", &b, "stride=2&padding=1", &err) == 0);
    CHECK(up_tensor_present(&c.plan.raw[2]));
    CHECK(th_call_run(&c, &err) == 0);
    CHECK(up_npy_encode_call(&c, NULL, &resp, &err) == 0);
    CHECK(up_http_resp_flatten(&resp) == 0);
    CHECK(resp.body.len == want.len && want.len > 128);
    if (resp.body.len == want.len && want.len > 128) {
        int ok = memcmp(resp.body.data, want.data, 128) == 0;
        for (size_t i = 128; i + 4 <= want.len; i += 4) {
            float g, w;
            memcpy(&g, resp.body.data + i, 4);
            memcpy(&w, want.data + i, 4);
            ok &= fabsf(g - w) <= 1e-5f + 1e-5f * fabsf(w);
        }
        CHECK(ok);
    }
    up_call_free(&c);
    up_http_resp_free(&resp);
    free(b.data);
    free(want.data);
}
static void multi_every_array_in_place(void)
{
    body b = load("npy_multi_max_unpool.npy");
    up_call c;
    up_error err;
    CHECK(decode(&c, "max_unpool", &b, "kernel_size=2", &err) == 0);
    for (int i = 0; i < 2; i++) {
        CHECK(c.plan.raw[i].alloc == NULL);
        CHECK((char *)c.plan.raw[i].data > b.data && (char *)c.plan.raw[i].data < b.data + b.len);
    }
    CHECK(c.plan.raw[1].dtype == UP_I64 && c.plan.raw[1].rank == 4);
    up_call_free(&c);
    free(b.data);
}
static void multi_more_arrays_than_inputs(void)
{
    body b = load("npy_multi_too_many.npy");
    check_refused("max_unpool", &b, "kernel_size=2", UP_E_INVALID, "more arrays than the 3 inputs");
    free(b.data);
}
static void multi_more_arrays_than_named(void)
{
    body b = load("npy_multi_max_unpool.npy");
    check_refused("max_unpool", &b, "kernel_size=2&inputs=x", UP_E_INVALID, "from ?inputs=");
    free(b.data);
}
static void multi_fewer_arrays_than_named(void)
{
    body b = load("npy_f32.npy");
    check_refused("max_unpool", &b, "kernel_size=2&inputs=x,indices", UP_E_INVALID,
                  "body holds 1 .npy array");
    free(b.data);
}
static void multi_inputs_unknown_name(void)
{
    body b = load("npy_multi_max_unpool.npy");
    check_refused("max_unpool", &b, "kernel_size=2&inputs=x,weight", UP_E_INVALID, "\"weight\"");
    free(b.data);
}
static void multi_inputs_named_twice(void)
{
    body b = load("npy_multi_max_unpool.npy");
    check_refused("max_unpool", &b, "kernel_size=2&inputs=x,x", UP_E_INVALID, "named twice");
    free(b.data);
}
/* indices and mask both given (x, indices, mask in registry order): the
 * op refuses the combination. */
static void multi_indices_and_mask(void)
{
    body b = load("npy_multi_too_many.npy");
    b.len = 352 + 160; /* x, indices, then one mask: three arrays */
    check_refused("max_unpool", &b, "kernel_size=2", UP_E_INVALID, NULL);
    free(b.data);
}
static void multi_trailing_bytes(void)
{
    body b = load("npy_multi_max_unpool.npy");
    b.data = realloc(b.data, b.len + 16);
    memcpy(b.data + b.len, "garbage!", 8);
    b.len += 8;
    check_refused("max_unpool", &b, "kernel_size=2", UP_E_MALFORMED, "8 bytes after its last array");
    free(b.data);
}
static void multi_second_truncated(void)
{
    body b = load("npy_multi_max_unpool.npy");
    b.len -= 8;
    check_refused("max_unpool", &b, "kernel_size=2", UP_E_MALFORMED, "need 64");
    free(b.data);
}
static void multi_second_header_broken(void)
{
    body b = load("npy_multi_max_unpool.npy");
    char *second = b.data + 160; /* x: 128-byte header + 32 bytes of data */
    CHECK(memcmp(second, "\x93NUMPY", 6) == 0);
    char *d = strstr(second + 10, "'descr'");
    CHECK(d != NULL);
    if (d) d[1] = 'x'; /* 'xescr' */
    check_refused("max_unpool", &b, "kernel_size=2", UP_E_MALFORMED, "'xescr'");
    free(b.data);
}

/* A large answer is not copied: the body holds the header and the tail is
 * the output tensor itself, which the answer keeps alive after the call is
 * freed (ASan would see a use after free otherwise). */
static void large_answer_zero_copy(void)
{
    body b = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 64, 64), }",
                      64 * 64 * 4);
    size_t hdr = b.len - 64 * 64 * 4;
    float *x = (float *)(b.data + hdr);
    up_call c;
    up_error err;
    up_http_resp resp;
    up_http_resp_init(&resp);
    for (int i = 0; i < 64 * 64; i++) x[i] = (float)i * 0.5f;
    CHECK(decode(&c, "nearest_unpool", &b, "scale_factor=2", &err) == 0);
    CHECK(th_call_run(&c, &err) == 0);
    void *out = c.plan.out[0].data;
    CHECK(up_npy_encode_call(&c, NULL, &resp, &err) == 0);
    CHECK(resp.body.len == 128);
    CHECK(resp.n_tail == 1 && resp.tail[0].base == out && resp.tail[0].len == 128 * 128 * 4);
    CHECK(up_http_resp_len(&resp) == 128 + 128 * 128 * 4);
    up_call_free(&c);
    free(b.data);
    int ok = resp.n_tail == 1;
    for (int i = 0; ok && i < 128 * 128; i++) {
        float v;
        memcpy(&v, (const char *)resp.tail[0].base + 4 * i, 4);
        ok = v == (float)((i / 128 / 2) * 64 + (i % 128) / 2) * 0.5f;
    }
    CHECK(ok);
    up_http_resp_free(&resp);
}

/* ---- malformed and unsupported ---- */

static void bad_magic(void)
{
    body b = load("npy_f32.npy");
    b.data[1] = 'X';
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_MALFORMED, "\\x93NUMPY");
    free(b.data);
}
static void empty_body(void)
{
    body b = {malloc(1), 0};
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_MALFORMED, NULL);
    free(b.data);
}
static void truncated_preamble(void)
{
    body b = load("npy_f32.npy");
    b.len = 9;
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_MALFORMED, "truncated");
    free(b.data);
}
static void header_length_past_end(void)
{
    body b = load("npy_f32.npy");
    b.data[8] = (char)0xff;
    b.data[9] = (char)0x7f;
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_MALFORMED, "past the end");
    free(b.data);
}
static void header_cut_in_the_middle(void)
{
    body b = load("npy_f32.npy");
    b.len = 40;
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_MALFORMED, "past the end");
    free(b.data);
}
static void truncated_data(void)
{
    body b = load("npy_f32.npy");
    b.len -= 4;
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_MALFORMED, "need 128");
    free(b.data);
}
static void trailing_data(void)
{
    body b = load("npy_f32.npy");
    b.data = realloc(b.data, b.len + 8);
    b.len += 4;
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_MALFORMED,
                  "4 bytes after its last array");
    free(b.data);
}
static void bad_version_4_0(void)
{
    body b = load("npy_f32.npy");
    b.data[6] = 4;
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_MALFORMED, "version 4.0");
    free(b.data);
}
static void bad_version_1_1(void)
{
    body b = load("npy_f32.npy");
    b.data[7] = 1;
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_MALFORMED, "version 1.1");
    free(b.data);
}
static void bad_version_0_0(void)
{
    body b = load("npy_f32.npy");
    b.data[6] = 0;
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_MALFORMED, "version 0.0");
    free(b.data);
}
static void dtype_void_bfloat16(void) { check_file_refused("npy_void2.npy", UP_E_INVALID, "'|V2'"); }
static void dtype_object(void) { check_file_refused("npy_object.npy", UP_E_INVALID, "'|O'"); }
static void dtype_structured(void) { check_file_refused("npy_structured.npy", UP_E_INVALID, "structured"); }
static void dtype_complex(void)
{
    check_dict_refused("{'descr': '<c8', 'fortran_order': False, 'shape': (1, 1, 1), }", 8,
                       UP_E_INVALID, "'<c8'");
}
static void dtype_unaligned_pipe_f4(void)
{
    check_dict_refused("{'descr': '|f4', 'fortran_order': False, 'shape': (1, 1, 1), }", 4,
                       UP_E_INVALID, "'|f4'");
}
static void dtype_int_x_refused_by_op(void)
{
    check_file_refused("npy_i64.npy", UP_E_INVALID, "int64");
}
static void rank_6(void) { check_file_refused("npy_rank6.npy", UP_E_INVALID, "more than 5"); }
static void rank_0_scalar(void) { check_file_refused("npy_scalar.npy", UP_E_INVALID, "rank"); }
static void dict_missing_key(void)
{
    check_dict_refused("{'descr': '<f4', 'shape': (1, 1, 1), }", 4, UP_E_MALFORMED, "needs the keys");
}
static void dict_extra_key(void)
{
    check_dict_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1), 'x': 1}", 4,
                       UP_E_MALFORMED, "'x'");
}
static void dict_repeated_key(void)
{
    check_dict_refused("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1)}",
                       4, UP_E_MALFORMED, "repeated");
}
static void dict_shape_is_list(void)
{
    check_dict_refused("{'descr': '<f4', 'fortran_order': False, 'shape': [1, 1, 1], }", 4,
                       UP_E_MALFORMED, "tuple");
}
static void dict_shape_one_without_comma(void)
{
    check_dict_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", 16,
                       UP_E_MALFORMED, "(n,)");
}
static void dict_shape_negative(void)
{
    check_dict_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (1, -1, 1), }", 4,
                       UP_E_MALFORMED, "non-negative");
}
static void dict_shape_entry_overflow(void)
{
    check_dict_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
                       4, UP_E_MALFORMED, "overflows");
}
static void dict_shape_numel_overflow(void)
{
    check_dict_refused("{'descr': '<f4', 'fortran_order': False, "
                       "'shape': (4294967296, 4294967296, 2), }", 4, UP_E_TOO_LARGE, "overflows");
}
static void dict_fortran_not_bool(void)
{
    check_dict_refused("{'descr': '<f4', 'fortran_order': 0, 'shape': (1, 1, 1), }", 4,
                       UP_E_MALFORMED, "True or False");
}
static void dict_unterminated(void)
{
    check_dict_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1), ", 4,
                       UP_E_MALFORMED, NULL);
}
static void dict_text_after(void)
{
    check_dict_refused("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1)} junk", 4,
                       UP_E_MALFORMED, "after the dict");
}
static void dict_nul_byte(void)
{
    body b = load("npy_f32.npy");
    b.data[20] = '\0';
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_MALFORMED, "ASCII");
    free(b.data);
}
static void over_element_limit(void)
{
    body b = make_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 33554432), }",
                      33554432);
    check_refused("nearest_unpool", &b, "scale_factor=2", UP_E_TOO_LARGE, "limit");
    free(b.data);
}
static void unknown_query_param(void)
{
    body b = load("npy_f32.npy");
    check_refused("nearest_unpool", &b, "scale_factor=2&kernel_size=2", UP_E_INVALID, NULL);
    free(b.data);
}

/* ---- query pairs with a NUL, and the copy charged ---- */

static int decode_kv(up_call *c, body *b, const up_kv *kv, int nq, up_charge ch, up_error *err)
{
    up_http_req req = {.content_type = "application/x-npy", .query = kv, .n_query = nq,
                       .body = b->data, .body_len = b->len, .charge = ch};
    up_limits lim = limits();
    up_error_clear(err);
    return up_call_decode_v1(c, up_op_find("nearest_unpool"), &req, &lim, err);
}

static void query_nul_refused(void)
{
    body b = load("npy_f32.npy");
    up_kv kv[2] = {{.key = "scale_factor", .value = "2"},
                   {.key = "inputs", .value = "x\0junk", .value_len = 6}};
    up_call c;
    up_error err;
    CHECK(decode_kv(&c, &b, kv, 2, (up_charge){0}, &err) < 0);
    CHECK(err.kind == UP_E_MALFORMED && strstr(err.items[0].message, "NUL"));
    up_call_free(&c);
    kv[1] = (up_kv){.key = "scale_factor", .value = "2\0", .value_len = 2};
    CHECK(decode_kv(&c, &b, kv + 1, 1, (up_charge){0}, &err) < 0 && err.kind == UP_E_MALFORMED);
    up_call_free(&c);
    free(b.data);
}

static void rewritten_payload_charged(void)
{
    body b = load("npy_f32_be.npy");
    up_kv kv[1] = {{.key = "scale_factor", .value = "2"}};
    th_budget bu = {.limit = (int64_t)1 << 30};
    up_call c;
    up_error err;
    CHECKF(decode_kv(&c, &b, kv, 1, (up_charge){.take = th_budget_take, .ctx = &bu}, &err) == 0, "%s",
           err.n ? err.items[0].message : "");
    CHECK(c.plan.raw[0].alloc && bu.used >= (int64_t)up_tensor_nbytes(&c.plan.raw[0]));
    up_call_free(&c);
    bu = (th_budget){.limit = 16};
    CHECK(decode_kv(&c, &b, kv, 1, (up_charge){.take = th_budget_take, .ctx = &bu}, &err) < 0);
    CHECK(err.kind == UP_E_OVERLOADED && strstr(err.items[0].message, "budget:"));
    up_call_free(&c);
    free(b.data);
}

int main(void)
{
    RUN(f32_c_order_in_place);
    RUN(query_nul_refused);
    RUN(rewritten_payload_charged);
    RUN(f32_big_endian_swapped);
    RUN(f32_fortran_order_converted);
    RUN(f32_big_endian_fortran);
    RUN(f64_in_place);
    RUN(f64_big_endian);
    RUN(f16_in_place);
    RUN(f16_big_endian);
    RUN(version_2_0);
    RUN(version_3_0);
    RUN(params_list_from_query);
    RUN(max_pool_first_output_is_y);
    RUN(max_pool_output_indices);
    RUN(misaligned_payload_copied);
    RUN(header_variants_accepted);
    RUN(bfloat16_answer_widened_to_f32);
    RUN(multi_max_unpool);
    RUN(multi_named_mask);
    RUN(multi_conv_transpose);
    RUN(multi_every_array_in_place);
    RUN(multi_more_arrays_than_inputs);
    RUN(multi_more_arrays_than_named);
    RUN(multi_fewer_arrays_than_named);
    RUN(multi_inputs_unknown_name);
    RUN(multi_inputs_named_twice);
    RUN(multi_indices_and_mask);
    RUN(multi_trailing_bytes);
    RUN(multi_second_truncated);
    RUN(multi_second_header_broken);
    RUN(large_answer_zero_copy);
    RUN(bad_magic);
    RUN(empty_body);
    RUN(truncated_preamble);
    RUN(header_length_past_end);
    RUN(header_cut_in_the_middle);
    RUN(truncated_data);
    RUN(trailing_data);
    RUN(bad_version_4_0);
    RUN(bad_version_1_1);
    RUN(bad_version_0_0);
    RUN(dtype_void_bfloat16);
    RUN(dtype_object);
    RUN(dtype_structured);
    RUN(dtype_complex);
    RUN(dtype_unaligned_pipe_f4);
    RUN(dtype_int_x_refused_by_op);
    RUN(rank_6);
    RUN(rank_0_scalar);
    RUN(dict_missing_key);
    RUN(dict_extra_key);
    RUN(dict_repeated_key);
    RUN(dict_shape_is_list);
    RUN(dict_shape_one_without_comma);
    RUN(dict_shape_negative);
    RUN(dict_shape_entry_overflow);
    RUN(dict_shape_numel_overflow);
    RUN(dict_fortran_not_bool);
    RUN(dict_unterminated);
    RUN(dict_text_after);
    RUN(dict_nul_byte);
    RUN(over_element_limit);
    RUN(unknown_query_param);
    return th_summary();
}
