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

static int answer_bound(const up_call *c, int64_t *body, int64_t *side, int64_t *moved);

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int up_resp_reserve_answer(const up_call *c, up_http_resp *resp, up_error *err)
{
    int64_t body, side, moved;
    if (answer_bound(c, &body, &side, &moved) < 0 || (uint64_t)body >= SIZE_MAX) return 0;
    if (up_buf_reserve_exact(&resp->body, (size_t)body - 1) < 0)
        return up_errorf(err, UP_E_OVERLOADED, "", "out of memory for the %lld-byte answer",
                         (long long)body);
    return 0;
}

static int dispatch(up_call *c, up_timing *t, const char *request_id, up_http_resp *resp,
                    up_error *err)
{
    /* the body at exactly its bound, once: what the server charged is what
     * is allocated, and the encoders never regrow (copy) it */
    if (up_resp_reserve_answer(c, resp, err) < 0) return -1;
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
    double t0 = now_ms(), el;
    /* The v1 JSON answer writes the timing into its own body, so its
     * encoder adds its share to encode_ms itself, just before writing it;
     * for every other format the whole call is measured here. */
    int self_timed = c->proto == UP_PROTO_V1 && c->out_format == UP_FMT_JSON;
    int rc;
    if (up_plan_finish(&c->plan, fault, err) < 0) return -1;
    el = now_ms() - t0;
    t->encode_ms = el;
    t->total_ms += el;
    rc = dispatch(c, t, request_id, resp, err);
    if (!self_timed) {
        el = now_ms() - t0 - el;
        t->encode_ms += el;
        t->total_ms += el;
    }
    return rc;
}

/* ---- the answer's size, before it is made ------------------------------ */

/* Longest text numfmt.c writes for one element of dt: every float16 and
 * bfloat16 value was tried, float32/float64 by their forms (9 or 17
 * digits: "-0.00000" + digits below 1e-5, 21 digits up to 1e21, exponent
 * forms shorter); test_api_encode checks extremes and random values. */
int up_json_elem_max(up_dtype dt)
{
    switch (dt) {
    case UP_F64: return 25;  /* -0.0000012345678901234567 */
    case UP_F32:             /* -123456790000000000000 */
    case UP_BF16: return 22; /* -100000000000000000000 */
    case UP_F16: return 11;  /* -0.00000113, "-Infinity" */
    case UP_I64: return 20;
    case UP_I32: return 11;
    case UP_I16: return 6;
    case UP_I8: return 4;
    case UP_U8: return 3;
    case UP_BOOL: return 5;
    default: return 4; /* null */
    }
}

/* Envelopes, generously: names of at most 32 bytes, request ids of 64
 * (6 bytes each escaped), a KServe id of 127 (escaped), timing objects of
 * at most 256 bytes, shapes of rank 5 with 20-digit sizes. */
#define ENVELOPE_V1 1024
#define ENVELOPE_KSERVE 2048
#define ENVELOPE_BINARY 512
#define PER_OUTPUT 384

/* Output i as it reaches the client: result[i] once up_plan_finish made
 * it, else out[i]'s shape in the dtype finish will give it. */
static const up_tensor *answer_tensor(const up_plan *p, int i, up_dtype *dt)
{
    if (p->result[i].rank > 0) {
        *dt = p->result[i].dtype;
        return &p->result[i];
    }
    *dt = p->op->outputs[i].kind == UP_IO_VALUES ? p->storage : p->out[i].dtype;
    return &p->out[i];
}

static int add(int64_t *total, int64_t a, int64_t b) /* *total += a * b */
{
    int64_t ab;
    return up_mul_i64(a, b, &ab) < 0 || up_add_i64(*total, ab, total) < 0 ? -1 : 0;
}

/* Text of n elements of dt in a JSON list, separators included. */
static int64_t list_bytes(up_dtype dt, int64_t n, int at_least)
{
    int64_t w = up_json_elem_max(dt) + 1, b = 0;
    if (w < at_least) w = at_least;
    return add(&b, n, w) < 0 ? -1 : b;
}

/* The outputs the answer carries (list) and which of them go as bytes
 * (bin); returns how many. */
static int answer_outputs(const up_call *c, int *list, int *bin)
{
    int n = 0, npy_out = c->out_select >= 0 ? c->out_select : 0;
    if (c->proto == UP_PROTO_KSERVE) return up_kserve_answer_outputs(c, list, bin);
    for (int i = 0; i < c->plan.op->n_outputs; i++) {
        int chosen = c->out_format == UP_FMT_JSON  ? c->out_select < 0 || i == c->out_select
                     : c->out_format == UP_FMT_NPY ? i == npy_out
                                                   : 1; /* safetensors: every output */
        if (chosen) {
            list[n] = i;
            bin[n++] = c->out_format != UP_FMT_JSON;
        }
    }
    return n;
}

/* body: the bytes the response body is reserved at; side: what the answer
 * allocates beside it; moved: output bytes sent as they are, from the
 * plan's own tensors (the response tail). -1 on overflow. */
static int answer_bound(const up_call *c, int64_t *body, int64_t *side, int64_t *moved)
{
    const up_plan *p = &c->plan;
    int list[UP_MAX_OUTPUTS], bin[UP_MAX_OUTPUTS], n = answer_outputs(c, list, bin);
    int64_t b = c->proto == UP_PROTO_KSERVE   ? ENVELOPE_KSERVE
                : c->out_format == UP_FMT_JSON ? ENVELOPE_V1
                                               : ENVELOPE_BINARY;
    int64_t s = (int64_t)sizeof(kept) + 4096 /* small scratch (printf, headers) */, m = 0;
    for (int k = 0; k < n; k++) {
        up_dtype dt;
        const up_tensor *o = answer_tensor(p, list[k], &dt);
        int64_t numel, nbytes, text;
        if (up_shape_numel(o->shape, o->rank, &numel) < 0 ||
            up_mul_i64(numel, (int64_t)up_dtype_size(dt), &nbytes) < 0 ||
            up_add_i64(b, PER_OUTPUT, &b) < 0)
            return -1;
        if (c->shm_out[list[k]].name[0]) { /* metadata: the region's name, escaped */
            if (up_add_i64(b, 6 * (int64_t)sizeof(c->shm_out[0].name) + 128, &b) < 0) return -1;
            continue;
        }
        if (bin[k]) {
            /* .npy sends bfloat16 widened to float32, a kept copy; small
             * outputs are copied into the body (up_resp_put_output), the
             * others are sent from the plan's tensor */
            if (c->proto == UP_PROTO_V1 && c->out_format == UP_FMT_NPY && dt == UP_BF16) {
                if (add(&s, numel, 4) < 0) return -1;
            } else if (nbytes < (int64_t)LEND_MIN) {
                if (up_add_i64(b, nbytes, &b) < 0) return -1;
            } else if (up_add_i64(m, nbytes, &m) < 0) {
                return -1;
            }
            continue;
        }
        if (c->proto == UP_PROTO_V1 && c->out_b64)
            text = nbytes / 3 * 4 + 4;
        else /* KServe reserves 12 bytes per element up front (kserve.c) */
            text = list_bytes(dt, numel, c->proto == UP_PROTO_KSERVE ? 12 : 0);
        if (text < 0 || up_add_i64(b, text, &b) < 0) return -1;
    }
    /* safetensors builds its header in a scratch buffer first (doubling) */
    if (c->proto == UP_PROTO_V1 && c->out_format == UP_FMT_SAFETENSORS &&
        add(&s, (int64_t)n * PER_OUTPUT + 16, 2) < 0)
        return -1;
    *body = b;
    *side = s;
    *moved = m;
    return 0;
}

int64_t up_call_answer_bytes(const up_call *c)
{
    int64_t body, side, moved, total;
    if (answer_bound(c, &body, &side, &moved) < 0 || up_add_i64(body, side, &total) < 0 ||
        up_add_i64(total, moved, &total) < 0)
        return INT64_MAX;
    return total;
}

int64_t up_call_answer_alloc_bytes(const up_call *c)
{
    int64_t body, side, moved, total;
    if (answer_bound(c, &body, &side, &moved) < 0 || up_add_i64(body, side, &total) < 0)
        return INT64_MAX;
    return total;
}
