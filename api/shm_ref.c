/* shm_ref.c -- tensors that live in a client's shared-memory region.
 *
 * Both wire formats name a region, an offset and a byte count (KServe in
 * an input's or output's parameters, /v1 as {"shm": {...}}); this file
 * turns such a reference into a tensor view (inputs) or into the plan's
 * output memory (plan.out_dest), through the server's resolver (api.h,
 * up_shm_resolver), and checks what only the request as a whole can show:
 * that no output overlaps an input, or another output, of the same
 * request. An input is read in place: a view into the mapping, converted
 * by the plan only when its dtype or layout is not the kernel's. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codecs.h"

int up_call_uses_shm(const up_call *c)
{
    for (int i = 0; i < UP_MAX_INPUTS; i++)
        if (c->shm_in[i].pin) return 1;
    for (int i = 0; i < UP_MAX_OUTPUTS; i++)
        if (c->shm_out[i].span.pin) return 1;
    return 0;
}

void up_shm_release_all(up_call *c)
{
    for (int i = 0; i < UP_MAX_INPUTS; i++) {
        if (c->shm_in[i].pin && c->shm) c->shm->release(c->shm->ctx, c->shm_in[i].pin);
        c->shm_in[i].pin = NULL;
    }
    for (int i = 0; i < UP_MAX_OUTPUTS; i++) {
        if (c->shm_out[i].span.pin && c->shm)
            c->shm->release(c->shm->ctx, c->shm_out[i].span.pin);
        c->shm_out[i].span.pin = NULL;
    }
}

int up_json_u64(const cJSON *v, uint64_t *out)
{
    /* 2^53: every integer up to it is exact in a double */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble > 9007199254740992.0)
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static int resolve(const up_call *c, const up_shm_ref *ref, up_shm_span *span, const char *field,
                   up_error *err)
{
    if (!c->shm)
        return up_errorf(err, UP_E_INVALID, field, "shared memory is off on this server (--shm)");
    if (!ref->region[0]) return up_errorf(err, UP_E_MALFORMED, field, "the region needs a name");
    return c->shm->acquire(c->shm->ctx, ref->region, ref->offset, ref->byte_size, span, err);
}

int up_shm_bind_input(up_call *c, int idx, const up_shm_ref *ref, up_dtype dt, int rank,
                      const int64_t *shape, const char *field, up_error *err)
{
    int64_t numel, nbytes;
    up_shm_span *s = &c->shm_in[idx];
    if (up_shape_numel(shape, rank, &numel) < 0 ||
        up_mul_i64(numel, (int64_t)up_dtype_size(dt), &nbytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, field, "shape overflows");
    if ((uint64_t)nbytes != ref->byte_size)
        return up_errorf(err, UP_E_INVALID, field,
                         "shared_memory_byte_size is %llu; the shape and %s need %lld",
                         (unsigned long long)ref->byte_size, up_dtype_name(dt), (long long)nbytes);
    if (resolve(c, ref, s, field, err) < 0) return -1;
    /* kernels load whole elements: the region's mapping is page-aligned,
     * so this is the client's offset */
    if ((uintptr_t)s->addr % up_dtype_size(dt))
        return up_errorf(err, UP_E_INVALID, field,
                         "offset %llu is not a multiple of the %s element size (%zu)",
                         (unsigned long long)ref->offset, up_dtype_name(dt), up_dtype_size(dt));
    up_tensor_view(&c->plan.raw[idx], dt, rank, shape, s->addr);
    return 0;
}

int up_shm_bind_output(up_call *c, int idx, const up_shm_ref *ref, const char *field,
                       up_error *err)
{
    up_shm_span *s = &c->shm_out[idx].span;
    if (resolve(c, ref, s, field, err) < 0) return -1;
    snprintf(c->shm_out[idx].name, sizeof(c->shm_out[idx].name), "%s", ref->region);
    c->shm_out[idx].offset = ref->offset;
    c->shm_out[idx].byte_size = ref->byte_size;
    /* its size and alignment are the plan's to check: the output's shape
     * and dtype are known only once the op has prepared (kernels/plan.c) */
    c->plan.out_dest[idx] = s->addr;
    c->plan.out_dest_bytes[idx] = (int64_t)ref->byte_size;
    return 0;
}

static int spans_overlap(const up_shm_span *a, const up_shm_span *b)
{
    return a->pin && b->pin && a->len && b->len && a->obj_dev == b->obj_dev &&
           a->obj_ino == b->obj_ino && a->obj_offset < b->obj_offset + b->len &&
           b->obj_offset < a->obj_offset + a->len;
}

int up_shm_check_overlap(const up_call *c, up_error *err)
{
    const up_plan *p = &c->plan;
    for (int o = 0; o < p->op->n_outputs; o++) {
        const up_shm_span *so = &c->shm_out[o].span;
        char field[64];
        up_field(field, sizeof(field), "outputs", p->op->outputs[o].name);
        for (int i = 0; i < p->op->n_inputs; i++)
            if (spans_overlap(so, &c->shm_in[i]))
                return up_errorf(err, UP_E_INVALID, field,
                                 "its shared memory overlaps input %s of the same request",
                                 p->op->inputs[i].name);
        for (int k = 0; k < o; k++)
            if (spans_overlap(so, &c->shm_out[k].span))
                return up_errorf(err, UP_E_INVALID, field,
                                 "its shared memory overlaps output %s of the same request",
                                 p->op->outputs[k].name);
    }
    return 0;
}

/* ---- POST /v2/systemsharedmemory/region/{name}/register --------------- */

int up_shm_register_request(const char *body, size_t n, const up_limits *lim,
                            const up_charge *charge, up_shm_register_body *out, up_error *err)
{
    up_json_req rq = {.lim = lim, .charge = charge, .field = "body",
                      .what = "the register request"};
    cJSON *root, *key, *off, *size;
    int rc = -1;
    memset(out, 0, sizeof(*out));
    if (!body || !n) return up_errorf(err, UP_E_MALFORMED, "body", "empty register request");
    if (!(root = up_json_parse_request(body, n, &rq, err))) return -1;
    key = cJSON_GetObjectItemCaseSensitive(root, "key");
    off = cJSON_GetObjectItemCaseSensitive(root, "offset");
    size = cJSON_GetObjectItemCaseSensitive(root, "byte_size");
    if (!cJSON_IsObject(root)) {
        up_errorf(err, UP_E_MALFORMED, "body", "the register request must be a JSON object");
    } else if (!cJSON_IsString(key) || strlen(key->valuestring) >= sizeof(out->key)) {
        up_errorf(err, UP_E_MALFORMED, "key", "key must be a string of at most %zu bytes",
                  sizeof(out->key) - 1);
    } else if (off && up_json_u64(off, &out->offset) < 0) {
        up_errorf(err, UP_E_MALFORMED, "offset", "offset must be an integer from 0 to 2^53");
    } else if (up_json_u64(size, &out->byte_size) < 0) {
        up_errorf(err, UP_E_MALFORMED, "byte_size", "byte_size must be an integer from 0 to 2^53");
    } else {
        snprintf(out->key, sizeof(out->key), "%s", key->valuestring);
        rc = 0;
    }
    up_json_document_free(root);
    return rc;
}
