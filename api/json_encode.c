/* json_encode.c -- the v1 JSON answer of an op request.
 *
 *   {"op": "max_unpool", "request_id": "...",
 *    "outputs": {"y": {"dtype": "float32", "shape": [1, 1, 2, 2], "data": [0, 0, 0, 4]}},
 *    "timing": {"decode_ms": ..., "queue_ms": ..., "compute_ms": ...,
 *               "encode_ms": ..., "total_ms": ...}}
 *
 * The data arrays are printed element by element straight into the
 * response buffer (numfmt.c: shortest text that reads back to the same
 * value of the output's dtype), never through a cJSON tree: an output may
 * hold millions of numbers. "timing" comes last so encode_ms can cover
 * everything written before it. With out_b64 each output carries data_b64
 * (little-endian bytes, base64) instead of data. With ?output=NAME only
 * that output is written. An output the request put in a shared-memory
 * region ("outputs": {"y": {"shm": {...}}}) is there already; its entry
 * names the region instead of carrying data. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "codecs.h"
#include "json_write.h"
#include "numfmt.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "data_b64 is defined as little-endian bytes; this file assumes a little-endian host"
#endif

/* Elements written between two buffer reservations. */
#define BATCH 1024

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Elements [i, end) of a typed array as "v," text at p; returns the end.
 * One loop per dtype so the inner loop is a formatter call and a comma. */
#define PRINT_LOOP(type, fmt_call)                                                 \
    do {                                                                           \
        const type *a = (const type *)t->data;                                     \
        for (; i < end; i++) {                                                     \
            p += fmt_call;                                                         \
            *p++ = ',';                                                            \
        }                                                                          \
    } while (0)

static char *print_range(const up_tensor *t, int64_t i, int64_t end, char *p)
{
    switch (t->dtype) {
    case UP_F32: PRINT_LOOP(float, up_fmt_f32(a[i], p)); break;
    case UP_F64: PRINT_LOOP(double, up_fmt_f64(a[i], p)); break;
    case UP_F16: PRINT_LOOP(uint16_t, up_fmt_f16(a[i], p)); break;
    case UP_BF16: PRINT_LOOP(uint16_t, up_fmt_bf16(a[i], p)); break;
    case UP_I64: PRINT_LOOP(int64_t, up_fmt_i64(a[i], p)); break;
    case UP_I32: PRINT_LOOP(int32_t, up_fmt_i64(a[i], p)); break;
    case UP_I16: PRINT_LOOP(int16_t, up_fmt_i64(a[i], p)); break;
    case UP_I8: PRINT_LOOP(int8_t, up_fmt_i64(a[i], p)); break;
    case UP_U8: PRINT_LOOP(uint8_t, up_fmt_u64(a[i], p)); break;
    case UP_BOOL:
        PRINT_LOOP(uint8_t, a[i] ? (memcpy(p, "true", 4), 4) : (memcpy(p, "false", 5), 5));
        break;
    default: /* no other dtype reaches an output; keep the array well-formed */
        for (; i < end; i++, p += 5) memcpy(p, "null,", 5);
        break;
    }
    return p;
}

/* [e0,e1,...] (the value of "data", v1 and KServe alike) -- written in batches into reserved room, each
 * batch at its dtype's longest text. up_call_encode has reserved the whole
 * answer at its bound (up_call_answer_bytes), so the buffer never grows
 * here; a caller that did not just gets doubling growth. */
int up_json_put_values(up_buf *b, const up_tensor *t)
{
    int64_t n = up_tensor_numel(t);
    size_t w = (size_t)up_json_elem_max(t->dtype) + 1;
    up_buf_puts(b, "[");
    for (int64_t i = 0; i < n;) {
        int64_t end = n - i > BATCH ? i + BATCH : n;
        if (up_buf_reserve(b, (size_t)(end - i) * w) < 0) return -1;
        char *p = print_range(t, i, end, b->data + b->len);
        b->len = (size_t)(p - b->data);
        i = end;
    }
    if (n > 0) b->len--; /* the last comma */
    return up_buf_append(b, "]", 1);
}

/* "data_b64": "..." -- the tensor's bytes as they are in memory. */
static int put_data_b64(up_buf *b, const up_tensor *t)
{
    size_t nbytes = up_tensor_nbytes(t), enc = up_b64_encoded_len(nbytes);
    up_buf_puts(b, "\"data_b64\":\"");
    if (up_buf_reserve(b, enc + 1) < 0) return -1;
    up_b64_encode(t->data, nbytes, b->data + b->len);
    b->len += enc;
    return up_buf_append(b, "\"", 1);
}

static int put_tensor(up_buf *b, const up_tensor *t, int b64, const up_call *c, int i)
{
    up_buf_puts(b, "{\"dtype\":");
    up_json_put_string(b, up_dtype_name(t->dtype));
    up_buf_puts(b, ",\"shape\":[");
    for (int d = 0; d < t->rank; d++) {
        char num[UP_NUMFMT_MAX];
        size_t n = up_fmt_i64(t->shape[d], num);
        if (d) up_buf_append(b, ",", 1);
        up_buf_append(b, num, n);
    }
    up_buf_puts(b, "],");
    if (c->shm_out[i].name[0]) { /* written into the client's region: metadata only */
        up_buf_puts(b, "\"shm\":{\"region\":");
        up_json_put_string(b, c->shm_out[i].name);
        up_buf_printf(b, ",\"offset\":%llu,\"byte_size\":%llu}}",
                      (unsigned long long)c->shm_out[i].offset,
                      (unsigned long long)c->shm_out[i].byte_size);
        return b->failed ? -1 : 0;
    }
    if (!b64) up_buf_puts(b, "\"data\":");
    if ((b64 ? put_data_b64(b, t) : up_json_put_values(b, t)) < 0) return -1;
    return up_buf_append(b, "}", 1);
}

static void put_timing(up_buf *b, const up_timing *t)
{
    char s[256];
    size_t n = up_fmt_timing(s, sizeof(s), t, 5, "\"", "_ms\":", ",");
    up_buf_puts(b, ",\"timing\":{");
    up_buf_append(b, s, n);
    up_buf_puts(b, "}}");
}

int up_json_encode_call(up_call *c, up_timing *t, const char *request_id, up_http_resp *resp,
                        up_error *err)
{
    const up_plan *p = &c->plan;
    up_buf *b = &resp->body;
    double t0 = now_ms();
    int first = 1;

    if (up_resp_reserve_answer(c, resp, err) < 0) return -1;
    up_buf_puts(b, "{\"op\":");
    up_json_put_string(b, p->op->name);
    up_buf_puts(b, ",\"request_id\":");
    up_json_put_string(b, request_id);
    up_buf_puts(b, ",\"outputs\":{");
    for (int i = 0; i < p->op->n_outputs; i++) {
        if (c->out_select >= 0 && c->out_select != i) continue;
        if (!first) up_buf_append(b, ",", 1);
        first = 0;
        up_json_put_key(b, p->op->outputs[i].name);
        if (put_tensor(b, &p->result[i], c->out_b64, c, i) < 0) break;
    }
    up_buf_append(b, "}", 1);

    double el = now_ms() - t0;
    t->encode_ms += el;
    t->total_ms += el;
    put_timing(b, t);
    if (b->failed)
        return up_errorf(err, UP_E_OVERLOADED, "", "out of memory writing the %zu-byte answer",
                         b->len);
    resp->status = 200;
    resp->content_type = "application/json";
    return 0;
}
