/* encode.c -- a run plan becomes the answer, in the negotiated format.
 *
 * Finishing the plan turns a kernel fault (an index outside its plane) into
 * the 422 the client sees and converts the outputs to the client's dtype
 * and layout; that conversion is encoding work, so its time opens
 * t->encode_ms and each format's encoder adds its own share on top. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codecs.h"

/* Below this many bytes an output is copied into the body: one buffer is
 * cheaper than the bookkeeping of a separate piece. */
#define LEND_MIN ((size_t)16 << 10)

/* What an answer keeps alive until it is sent: output tensors moved out
 * of the plan (or made for the answer, such as a widened copy). */
typedef struct kept {
    int n;
    up_tensor t[UP_RESP_MAX_TAIL];
} kept;

static void kept_free(void *p)
{
    kept *k = p;
    if (!k) return;
    for (int i = 0; i < k->n; i++) up_tensor_free(&k->t[i]);
    free(k);
}

up_tensor *up_resp_keep_tensor(up_http_resp *resp)
{
    kept *k = resp->keep;
    if (!k) {
        k = calloc(1, sizeof(*k));
        if (!k) return NULL;
        resp->keep = k;
        resp->keep_free = kept_free;
    }
    if (resp->keep_free != kept_free || k->n >= UP_RESP_MAX_TAIL) return NULL;
    return &k->t[k->n++];
}

int up_resp_add_tail(up_http_resp *resp, const void *data, size_t n)
{
    if (resp->n_tail >= UP_RESP_MAX_TAIL) return -1;
    resp->tail[resp->n_tail++] = (up_iov){data, n};
    return 0;
}

int up_resp_put_output(up_call *c, int i, up_http_resp *resp)
{
    up_tensor *r = &c->plan.result[i], *o = &c->plan.out[i], *own = NULL, *slot;
    size_t n = up_tensor_nbytes(r);
    if (resp->n_tail == 0 && n < LEND_MIN) return up_buf_append(&resp->body, r->data, n);
    /* result[i] owns its bytes after a conversion; else it is a view of
     * out[i]. Moving the owner leaves result[i] a view that stays valid
     * until keep is freed, and up_plan_free finds nothing to free. */
    if (r->alloc) own = r;
    else if (r->data == o->data && o->alloc) own = o;
    slot = up_resp_keep_tensor(resp);
    if (!slot) return -1;
    if (own) {
        *slot = *own;
        memset(own, 0, sizeof(*own));
    } else {
        /* borrowed bytes (not expected of outputs): the answer gets a copy */
        if (up_tensor_alloc(slot, r->dtype, r->rank, r->shape) < 0) return -1;
        memcpy(slot->data, r->data, n);
    }
    return up_resp_add_tail(resp, slot->data, n);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int dispatch(up_call *c, up_timing *t, const char *request_id, up_http_resp *resp,
                    up_error *err)
{
    if (c->proto == UP_PROTO_KSERVE) return up_kserve_encode_call(c, t, resp, err);
    switch (c->out_format) {
    case UP_FMT_NPY: return up_npy_encode_call(c, t, resp, err);
    case UP_FMT_SAFETENSORS: return up_safetensors_encode_call(c, t, resp, err);
    default: return up_json_encode_call(c, t, request_id, resp, err);
    }
}

int up_call_encode(up_call *c, const up_fault *fault, up_timing *t, const char *request_id,
                   up_http_resp *resp, up_error *err)
{
    double t0 = now_ms(), el, before;
    int rc;
    if (up_plan_finish(&c->plan, fault, err) < 0) return -1;
    el = now_ms() - t0;
    t->encode_ms = el;
    t->total_ms += el;
    before = t->encode_ms;
    rc = dispatch(c, t, request_id, resp, err);
    /* Encoders that write the timing into the body (JSON) account for
     * themselves; for the others the whole call is measured here. */
    if (t->encode_ms == before) {
        el = now_ms() - t0 - el;
        t->encode_ms += el;
        t->total_ms += el;
    }
    return rc;
}

/* Bytes per element of an output in a JSON list, at most: the longest
 * shortest-round-trip spelling plus its separator ("-1.7976931348623157e+308,"
 * for float64, "-3.4028235e+38," for float32, "-9223372036854775808,"). */
static int64_t json_elem_bytes(up_dtype dt)
{
    switch (dt) {
    case UP_F64: return 25;
    case UP_I64: return 21;
    default: return 16;
    }
}

int64_t up_call_answer_bytes(const up_call *c)
{
    const up_plan *p = &c->plan;
    int64_t total = 4096; /* envelope: names, shapes, timing, headers */
    for (int i = 0; i < p->op->n_outputs; i++) {
        const up_tensor *o = &p->out[i];
        int64_t n, per, b;
        if (up_shape_numel(o->shape, o->rank, &n) < 0) return INT64_MAX;
        per = (int64_t)up_dtype_size(p->op->outputs[i].kind == UP_IO_VALUES ? p->storage : o->dtype);
        if (c->proto == UP_PROTO_V1 && c->out_format == UP_FMT_JSON)
            per = c->out_b64 ? (per * 4 + 2) / 3 + 1 : json_elem_bytes(o->dtype);
        else if (c->proto == UP_PROTO_KSERVE && !c->kserve_binary_out)
            per = json_elem_bytes(o->dtype);
        if (up_mul_i64(n, per, &b) < 0 || up_add_i64(total, b, &total) < 0) return INT64_MAX;
    }
    return total;
}
