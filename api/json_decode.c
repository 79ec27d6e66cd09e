/* json_decode.c -- the v1 JSON request: {"inputs": {...}, "params": {...},
 * "output_format": "json" | "b64"} into a plan.
 *
 * A tensor is {"dtype", "shape", "data"} (flat row-major numbers),
 * {"dtype", "shape", "data_b64"} (little-endian bytes), or plain nested
 * lists (float32 for values, int64 for indices; shape inferred, ragged
 * lists rejected with 400). Nesting past --max-json-depth, a repeated key
 * and \u0000 in a string are 400s from the parser itself (json_parse.c).
 *
 * Number lists arrive as span nodes (json_parse.c): their bytes, scalar
 * count and shape, never one node per number. A tensor is checked against
 * its shape from that summary, charged to the request, allocated, and
 * filled straight from the bytes (up_json_list_floats for float32 and
 * float64, each number read once; up_json_list_walk otherwise), so a list
 * body costs its typed tensor and nothing per number. The body is parsed
 * LAZY: long runs of numbers are checked only as they are converted, so
 * up_json_decode_call ends with up_json_check_spans, whose fault (the one
 * a strict parse stops at) is the error, before any the decoding found.
 * Plain cJSON trees (the golden test's fixtures) go through the same code.
 *
 * Shared memory: a tensor may be {"shm": {"region", "offset", "byte_size"},
 * "dtype", "shape"}, read in place from a registered region, and
 * "outputs": {"y": {"shm": {...}}} has the kernel write y into a region
 * (shm_ref.c; the answer then names the region instead of carrying data). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../kernels/convert.h"
#include "codecs.h"

/* A JSON number (or NaN/Infinity spelled as a string, null for NaN,
 * true/false); KServe's decoder reads its data with the same rules. */
int up_json_number(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return 0;
    }
    if (cJSON_IsNull(v)) {
        *out = NAN;
        return 0;
    }
    if (cJSON_IsBool(v)) { /* NumPy's tolist() of a bool tensor */
        *out = cJSON_IsTrue(v);
        return 0;
    }
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (!strcmp(s, "NaN") || !strcmp(s, "nan")) *out = NAN;
        else if (!strcmp(s, "Infinity") || !strcmp(s, "inf")) *out = INFINITY;
        else if (!strcmp(s, "-Infinity") || !strcmp(s, "-inf")) *out = -INFINITY;
        else return -1;
        return 0;
    }
    return -1;
}

/* Store number v as element i of t, checking that integers are integral
 * and fit their dtype. */
static int store_number(up_tensor *t, int64_t i, double v, const char *field, up_error *err)
{
    void *d = t->data;
    switch (t->dtype) {
    case UP_F32: ((float *)d)[i] = (float)v; return 0;
    case UP_F64: ((double *)d)[i] = v; return 0;
    case UP_F16: ((uint16_t *)d)[i] = up_f64_to_f16(v); return 0;
    case UP_BF16: ((uint16_t *)d)[i] = up_f64_to_bf16(v); return 0;
    default: break;
    }
    static const double lo[UP_DT_COUNT] = {[UP_I64] = -9223372036854775808.0, [UP_I32] = -2147483648.0,
                                           [UP_I16] = -32768.0, [UP_I8] = -128.0};
    static const double hi[UP_DT_COUNT] = {[UP_I64] = 9223372036854775807.0, [UP_I32] = 2147483647.0,
                                           [UP_I16] = 32767.0, [UP_I8] = 127.0, [UP_U8] = 255.0,
                                           [UP_BOOL] = 1.0};
    if (!isfinite(v) || v != floor(v) || v < lo[t->dtype] || v >= hi[t->dtype] + 1.0 ||
        (t->dtype == UP_I64 && v >= 9223372036854775807.0))
        return up_errorf(err, UP_E_INVALID, field, "element %lld is %g, not a valid %s",
                         (long long)i, v, up_dtype_name(t->dtype));
    switch (t->dtype) {
    case UP_I64: ((int64_t *)d)[i] = (int64_t)v; break;
    case UP_I32: ((int32_t *)d)[i] = (int32_t)v; break;
    case UP_I16: ((int16_t *)d)[i] = (int16_t)v; break;
    case UP_I8: ((int8_t *)d)[i] = (int8_t)v; break;
    default: ((uint8_t *)d)[i] = (uint8_t)v; break;
    }
    return 0;
}

static int check_numel(const int64_t *shape, int rank, const char *field, const up_limits *lim,
                       up_error *err)
{
    int64_t n;
    if (up_shape_numel(shape, rank, &n) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, field, "shape overflows");
    if (lim && lim->max_elements > 0 && n > lim->max_elements)
        return up_errorf(err, UP_E_TOO_LARGE, field, "%lld elements, over the limit of %lld",
                         (long long)n, (long long)lim->max_elements);
    return 0;
}

/* Charge a tensor's bytes, then allocate it. A refusal is the hook's own
 * error (503 busy, 413 never fits). */
static int alloc_charged(up_tensor *t, up_dtype dt, int rank, const int64_t *shape,
                         const up_charge *ch, const char *field, up_error *err)
{
    int64_t n, bytes;
    if (up_shape_numel(shape, rank, &n) < 0 || up_mul_i64(n, (int64_t)up_dtype_size(dt), &bytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, field, "shape overflows");
    if (ch && ch->take && bytes > 0 && ch->take(ch->ctx, bytes, "decoded JSON tensor", err) < 0)
        return -1;
    if (up_tensor_alloc(t, dt, rank, shape) < 0)
        return up_errorf(err, UP_E_OVERLOADED, field, "out of memory");
    return 0;
}

/* ---- lists of numbers into a tensor ---- */

typedef struct fill {
    up_tensor *t;
    const char *field;
    const char *what; /* "data element" or "element" (nested lists) */
    up_error *err;
} fill;

static int fill_leaf(void *ctx, int64_t i, const cJSON *leaf)
{
    fill *f = ctx;
    double x;
    if (up_json_number(leaf, &x) < 0)
        return up_errorf(f->err, UP_E_MALFORMED, f->field, "%s %lld is not a number", f->what,
                         (long long)i);
    return store_number(f->t, i, x, f->field, f->err);
}

/* A run of numbers into elements [i0, i0 + n): one loop per float dtype,
 * integers checked one by one. */
static int fill_run(void *ctx, int64_t i0, const double *v, int n)
{
    fill *f = ctx;
    switch (f->t->dtype) {
    case UP_F32: {
        float *d = (float *)f->t->data + i0;
        for (int k = 0; k < n; k++) d[k] = (float)v[k];
        return 0;
    }
    case UP_F64: memcpy((double *)f->t->data + i0, v, sizeof(double) * (size_t)n); return 0;
    default:
        for (int k = 0; k < n; k++)
            if (store_number(f->t, i0 + k, v[k], f->field, f->err) < 0) return -1;
        return 0;
    }
}

/* t (allocated, numel == l->leaves) from the list's scalars in order:
 * runs of parsed numbers when they are all numbers, else scalar by scalar
 * (null, true, "NaN" and the like). */
int up_json_fill_tensor(up_tensor *t, const up_json_list *l, const char *what, const char *field,
                        up_error *err)
{
    fill f = {t, field, what, err};
    int rc;
    if (l->numbers && (t->dtype == UP_F32 || t->dtype == UP_F64) && l->leaves == up_tensor_numel(t))
        rc = up_json_list_floats(l, t->dtype, t->data);
    else
        rc = l->numbers ? up_json_list_numbers(l, fill_run, &f) : up_json_list_walk(l, fill_leaf, &f);
    if (rc == 0) return 0;
    /* a fault in text a LAZY parse passed over (the caller's
     * up_json_check_spans names it) */
    if (err->kind == UP_OK) up_errorf(err, UP_E_MALFORMED, field, "%s is not valid JSON", field);
    up_tensor_free(t);
    return -1;
}

static int nested_to_tensor(const cJSON *v, up_dtype dt, const char *field, const up_limits *lim,
                            const up_charge *ch, up_tensor *t, up_error *err)
{
    up_json_list l;
    if (!up_json_list_of(v, &l))
        return up_errorf(err, UP_E_MALFORMED, field, "expected nested lists of numbers");
    if (l.rank > UP_MAX_RANK)
        return up_errorf(err, UP_E_MALFORMED, field, "nested deeper than rank %d", UP_MAX_RANK);
    if (check_numel(l.shape, l.rank, field, lim, err) < 0) return -1;
    if (!l.regular)
        return up_errorf(err, UP_E_MALFORMED, field,
                         "ragged nested lists: the lists at one depth differ in length, or "
                         "numbers and lists are mixed");
    if (alloc_charged(t, dt, l.rank, l.shape, ch, field, err) < 0) return -1;
    return up_json_fill_tensor(t, &l, "element", field, err);
}

/* ---- {dtype, shape, data | data_b64} ---- */

int up_json_read_shape(const cJSON *s, int64_t *shape, int *rank, const char *field, up_error *err)
{
    double v[UP_MAX_RANK];
    int n = up_json_numbers(s, v, UP_MAX_RANK);
    up_json_list l;
    *rank = 0;
    if (n == -2) return up_errorf(err, UP_E_INVALID, field, "rank over %d", UP_MAX_RANK);
    if (n < 0 && !up_json_list_of(s, &l))
        return up_errorf(err, UP_E_MALFORMED, field, "shape must be a list of sizes");
    for (int d = 0; d < n; d++)
        if (v[d] != floor(v[d]) || v[d] < 0 || v[d] > 4.0e18) n = -1;
    if (n < 0) return up_errorf(err, UP_E_MALFORMED, field, "shape entries must be integers >= 0");
    for (int d = 0; d < n; d++) shape[d] = (int64_t)v[d];
    *rank = n;
    return 0;
}

static int b64_to_tensor(const cJSON *b64, up_dtype dtype, int rank, const int64_t *dims,
                         const char *dt_name, const char *field, const up_charge *ch,
                         up_tensor *t, up_error *err)
{
    size_t len, want, got_max;
    int64_t n;
    unsigned char *tmp;
    long long got;
    if (!cJSON_IsString(b64)) goto bad;
    up_shape_numel(dims, rank, &n);
    want = (size_t)n * up_dtype_size(dtype);
    len = strlen(b64->valuestring); /* the parser refuses \u0000, so this is all of it */
    got_max = len / 4 * 3;
    /* decode straight into the tensor when the size is right; a size
     * mismatch is reported without decoding more than fits */
    if (len % 4 || got_max < want || got_max > want + 2)
        return up_errorf(err, UP_E_INVALID, field, "data_b64 holds %zu bytes, shape %s needs %zu",
                         got_max, dt_name, want);
    if (alloc_charged(t, dtype, rank, dims, ch, field, err) < 0) return -1;
    if (want == got_max) {
        tmp = t->data;
    } else {
        if (ch && ch->take && ch->take(ch->ctx, (int64_t)got_max + 1, "base64 bytes", err) < 0)
            goto fail;
        tmp = malloc(got_max + 1);
    }
    got = tmp ? up_b64_decode(b64->valuestring, len, tmp) : -1;
    if (tmp && tmp != t->data) {
        if (got == (long long)want) memcpy(t->data, tmp, want);
        free(tmp);
    }
    if (got < 0) {
        up_tensor_free(t);
        goto bad;
    }
    if (got != (long long)want) {
        up_tensor_free(t);
        return up_errorf(err, UP_E_INVALID, field, "data_b64 holds %lld bytes, shape needs %zu", got,
                         want);
    }
    return 0;
fail:
    up_tensor_free(t);
    return -1;
bad:
    return up_errorf(err, UP_E_MALFORMED, field, "data_b64 is not valid base64");
}

/* data with an explicit shape: a flat list of numel numbers, or nested
 * lists of exactly that shape. */
static int data_to_tensor(const cJSON *data, up_dtype dtype, int rank, const int64_t *dims,
                          const char *field, const up_charge *ch, up_tensor *t, up_error *err)
{
    up_json_list l;
    int64_t n;
    up_shape_numel(dims, rank, &n);
    if (!up_json_list_of(data, &l)) {
        if (cJSON_IsArray(data))
            return up_errorf(err, UP_E_MALFORMED, field, "data must be a list of numbers");
        return up_errorf(err, UP_E_INVALID, field, "data has 0 values, shape needs %lld",
                         (long long)n);
    }
    if (l.shape[0] == n && l.height == 1) goto fill;
    if (l.regular && l.rank == rank && !memcmp(l.shape, dims, sizeof(int64_t) * (size_t)rank))
        goto fill;
    if (l.shape[0] == n)
        return up_errorf(err, UP_E_MALFORMED, field,
                         "data must be %lld numbers, or nested lists of the shape", (long long)n);
    if (l.rank == rank && !memcmp(l.shape, dims, sizeof(int64_t) * (size_t)rank))
        return up_errorf(err, UP_E_MALFORMED, field,
                         "ragged nested lists: the lists at one depth differ in length, or "
                         "numbers and lists are mixed");
    return up_errorf(err, UP_E_INVALID, field, "data has %lld values, shape needs %lld",
                     (long long)l.shape[0], (long long)n);
fill:
    if (alloc_charged(t, dtype, rank, dims, ch, field, err) < 0) return -1;
    return up_json_fill_tensor(t, &l, "data element", field, err);
}

static int object_to_tensor(const cJSON *v, up_dtype default_dtype, const char *field,
                            const up_limits *lim, const up_charge *ch, up_tensor *t,
                            up_error *err)
{
    const cJSON *dt = NULL, *shape = NULL, *data = NULL, *b64 = NULL, *e;
    int64_t dims[UP_MAX_RANK];
    int rank = 0;
    up_dtype dtype = default_dtype;
    cJSON_ArrayForEach(e, v) {
        if (!strcmp(e->string, "dtype")) dt = e;
        else if (!strcmp(e->string, "shape")) shape = e;
        else if (!strcmp(e->string, "data")) data = e;
        else if (!strcmp(e->string, "data_b64")) b64 = e;
        else return up_errorf(err, UP_E_MALFORMED, field, "unknown tensor key \"%.40s\"", e->string);
    }
    if (dt) {
        if (!cJSON_IsString(dt) || (dtype = up_dtype_from_name(dt->valuestring)) == UP_DT_INVALID)
            return up_errorf(err, UP_E_MALFORMED, field,
                             "unknown dtype; use float32, float64, float16, bfloat16, int64, "
                             "int32, int16, int8, uint8 or bool");
    }
    if (!!data == !!b64)
        return up_errorf(err, UP_E_MALFORMED, field, "a tensor needs exactly one of data and data_b64");
    if (!shape) {
        if (!data) return up_errorf(err, UP_E_MALFORMED, field, "data_b64 needs a shape");
        return nested_to_tensor(data, dtype, field, lim, ch, t, err);
    }
    if (up_json_read_shape(shape, dims, &rank, field, err) < 0) return -1;
    if (check_numel(dims, rank, field, lim, err) < 0) return -1;
    if (b64)
        return b64_to_tensor(b64, dtype, rank, dims, dt ? up_dtype_name(dtype) : "", field, ch, t,
                             err);
    return data_to_tensor(data, dtype, rank, dims, field, ch, t, err);
}

int up_json_to_tensor_charged(const cJSON *v, up_dtype default_dtype, const char *field,
                              const up_limits *lim, const up_charge *charge, up_tensor *t,
                              up_error *err)
{
    up_json_list l;
    if (cJSON_IsObject(v)) return object_to_tensor(v, default_dtype, field, lim, charge, t, err);
    if (cJSON_IsArray(v) || up_json_list_of(v, &l))
        return nested_to_tensor(v, default_dtype, field, lim, charge, t, err);
    return up_errorf(err, UP_E_MALFORMED, field,
                     "a tensor is {\"dtype\", \"shape\", \"data\"} or nested lists");
}

int up_json_to_tensor(const cJSON *v, up_dtype default_dtype, const char *field,
                      const up_limits *lim, up_tensor *t, up_error *err)
{
    return up_json_to_tensor_charged(v, default_dtype, field, lim, NULL, t, err);
}

static up_dtype default_dtype_for(up_io_kind k)
{
    return k == UP_IO_INDICES ? UP_I64 : UP_F32;
}

/* ---- {"shm": {"region", "offset"?, "byte_size"}} (shm_ref.c) ---- */

static int read_shm_ref(const cJSON *v, up_shm_ref *ref, const char *field, up_error *err)
{
    const cJSON *e;
    int seen = 0;
    memset(ref, 0, sizeof(*ref));
    if (!cJSON_IsObject(v))
        return up_errorf(err, UP_E_MALFORMED, field,
                         "shm must be {\"region\", \"offset\", \"byte_size\"}");
    cJSON_ArrayForEach(e, v) {
        if (!strcmp(e->string, "region")) {
            if (!cJSON_IsString(e) || !e->valuestring[0] ||
                strlen(e->valuestring) >= sizeof(ref->region))
                return up_errorf(err, UP_E_MALFORMED, field, "shm.region must be a name of 1 to "
                                 "%zu bytes", sizeof(ref->region) - 1);
            snprintf(ref->region, sizeof(ref->region), "%s", e->valuestring);
            seen |= 1;
        } else if (!strcmp(e->string, "offset")) {
            if (up_json_u64(e, &ref->offset) < 0)
                return up_errorf(err, UP_E_MALFORMED, field, "shm.offset must be an integer from 0 to 2^53");
        } else if (!strcmp(e->string, "byte_size")) {
            if (up_json_u64(e, &ref->byte_size) < 0)
                return up_errorf(err, UP_E_MALFORMED, field,
                                 "shm.byte_size must be an integer from 0 to 2^53");
            seen |= 2;
        } else {
            return up_errorf(err, UP_E_MALFORMED, field, "unknown shm key \"%.40s\"", e->string);
        }
    }
    if (seen != 3)
        return up_errorf(err, UP_E_MALFORMED, field, "shm needs region and byte_size");
    return 0;
}

/* An input {"shm", "dtype"?, "shape"}: a view of the client's region. */
static int shm_input(up_call *c, int i, const cJSON *v, const char *field, up_error *err)
{
    const cJSON *e, *dt = NULL, *shape = NULL, *ref_json = NULL;
    up_dtype dtype = default_dtype_for(c->plan.op->inputs[i].kind);
    int64_t dims[UP_MAX_RANK];
    int rank;
    up_shm_ref ref;
    cJSON_ArrayForEach(e, v) {
        if (!strcmp(e->string, "dtype")) dt = e;
        else if (!strcmp(e->string, "shape")) shape = e;
        else if (!strcmp(e->string, "shm")) ref_json = e;
        else return up_errorf(err, UP_E_MALFORMED, field, "a shm tensor has shm, dtype and "
                              "shape; unknown key \"%.40s\"", e->string);
    }
    if (dt && (!cJSON_IsString(dt) || (dtype = up_dtype_from_name(dt->valuestring)) == UP_DT_INVALID))
        return up_errorf(err, UP_E_MALFORMED, field,
                         "unknown dtype; use float32, float64, float16, bfloat16, int64, "
                         "int32, int16, int8, uint8 or bool");
    if (!shape) return up_errorf(err, UP_E_MALFORMED, field, "a shm tensor needs a shape");
    if (up_json_read_shape(shape, dims, &rank, field, err) < 0 ||
        read_shm_ref(ref_json, &ref, field, err) < 0)
        return -1;
    return up_shm_bind_input(c, i, &ref, dtype, rank, dims, field, err);
}

/* "outputs": {"y": {"shm": {...}}}: outputs written into regions. */
static int decode_outputs(up_call *c, const cJSON *outs, up_error *err)
{
    const cJSON *e;
    if (!cJSON_IsObject(outs))
        return up_errorf(err, UP_E_MALFORMED, "outputs", "outputs must be an object: "
                         "{\"y\": {\"shm\": {\"region\", \"offset\", \"byte_size\"}}}");
    cJSON_ArrayForEach(e, outs) {
        char field[UP_ERR_FIELD_LEN];
        const cJSON *ref_json = cJSON_GetObjectItemCaseSensitive(e, "shm");
        int i = up_op_output_index(c->plan.op, e->string);
        up_shm_ref ref;
        up_field(field, sizeof(field), "outputs", e->string);
        if (i < 0)
            return up_errorf(err, UP_E_INVALID, field, "op %s has no output \"%.60s\"",
                             c->plan.op->name, e->string);
        if (!cJSON_IsObject(e) || !ref_json || cJSON_GetArraySize(e) != 1)
            return up_errorf(err, UP_E_MALFORMED, field, "an output entry is {\"shm\": {...}}");
        if (c->shm_out[i].span.pin)
            return up_errorf(err, UP_E_MALFORMED, field, "output given twice");
        if (read_shm_ref(ref_json, &ref, field, err) < 0 ||
            up_shm_bind_output(c, i, &ref, field, err) < 0)
            return -1;
    }
    /* an output in a region is answered as metadata in a JSON answer */
    if (c->out_format != UP_FMT_JSON && up_call_uses_shm(c))
        for (int i = 0; i < c->plan.op->n_outputs; i++)
            if (c->shm_out[i].span.pin)
                return up_errorf(err, UP_E_NOT_ACCEPTABLE, "headers.accept", "an answer with "
                                 "outputs in shared memory is JSON (Accept: application/json)");
    return 0;
}

static int decode_inputs(up_call *c, const cJSON *inputs, const up_limits *lim, up_error *err)
{
    const cJSON *e;
    if (cJSON_IsArray(inputs) && cJSON_IsObject(inputs->child) &&
        cJSON_GetObjectItemCaseSensitive(inputs->child, "datatype"))
        return up_errorf(err, UP_E_MALFORMED, "inputs",
                         "inputs must be an object of named tensors; a list of "
                         "{name, shape, datatype, data} is a KServe v2 request: send it to "
                         "/v2/models/%s/infer", c->plan.op->name);
    if (!cJSON_IsObject(inputs))
        return up_errorf(err, UP_E_MALFORMED, "inputs", "inputs must be an object of named tensors");
    cJSON_ArrayForEach(e, inputs) {
        char field[UP_ERR_FIELD_LEN];
        int i = up_op_input_index(c->plan.op, e->string);
        up_field(field, sizeof(field), "inputs", e->string);
        if (i < 0)
            return up_errorf(err, UP_E_INVALID, field, "op %s has no input \"%.60s\"",
                             c->plan.op->name, e->string);
        if (c->plan.raw[i].data)
            return up_errorf(err, UP_E_MALFORMED, field, "input given twice");
        if (cJSON_IsObject(e) && cJSON_GetObjectItemCaseSensitive(e, "shm")) {
            if (shm_input(c, i, e, field, err) < 0) return -1;
            continue;
        }
        if (up_json_to_tensor_charged(e, default_dtype_for(c->plan.op->inputs[i].kind), field,
                                      lim, &c->plan.charge, &c->plan.raw[i], err) < 0)
            return -1;
    }
    return 0;
}

/* Top-level keys of a KServe v2 inference request that /v1 does not have
 * (/v1's "outputs" is an object; KServe's is a list). */
static int looks_kserve(const cJSON *e)
{
    return !strcmp(e->string, "parameters") || !strcmp(e->string, "id") ||
           (!strcmp(e->string, "outputs") && cJSON_IsArray(e));
}

static int decode_root(up_call *c, const cJSON *root, const up_limits *lim, up_error *err)
{
    const cJSON *e, *inputs = NULL, *outputs = NULL;
    if (!cJSON_IsObject(root))
        return up_errorf(err, UP_E_MALFORMED, "body", "the body must be a JSON object");
    cJSON_ArrayForEach(e, root) {
        if (!strcmp(e->string, "inputs")) {
            inputs = e;
        } else if (!strcmp(e->string, "params")) {
            const cJSON *p;
            if (!cJSON_IsObject(e)) return up_errorf(err, UP_E_MALFORMED, "params", "params must be an object");
            cJSON_ArrayForEach(p, e) {
                if (up_param_from_json(&c->plan, p->string, p, "params", err) < 0) {
                    /* report every unknown param, not just the first */
                    if (err->kind != UP_E_INVALID) return -1;
                }
            }
        } else if (!strcmp(e->string, "output_format")) {
            if (!cJSON_IsString(e) || (strcmp(e->valuestring, "b64") && strcmp(e->valuestring, "json")))
                return up_errorf(err, UP_E_INVALID, "output_format", "output_format must be \"json\" or \"b64\"");
            c->out_b64 = !strcmp(e->valuestring, "b64");
        } else if (!strcmp(e->string, "outputs")) {
            outputs = e;
        } else if (looks_kserve(e)) {
            return up_errorf(err, UP_E_INVALID, e->string,
                             "unknown key \"%s\": this looks like a KServe v2 request; send it "
                             "to /v2/models/%s/infer (a /v1 request has inputs, params, "
                             "output_format)", e->string, c->plan.op->name);
        } else {
            return up_errorf(err, UP_E_INVALID, e->string,
                             "unknown key \"%.60s\"; a request has inputs, params, output_format, outputs",
                             e->string);
        }
    }
    if (err->n) return -1;
    if (!inputs) return up_errorf(err, UP_E_MALFORMED, "inputs", "the request has no inputs");
    if (decode_inputs(c, inputs, lim, err) < 0) return -1;
    return outputs ? decode_outputs(c, outputs, err) : 0;
}

/* ---- syntax errors, explained ---- */

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Do the n bytes at s start with word, ignoring case? (s need not be
 * NUL-terminated.) */
static int starts_ci(const char *s, size_t n, const char *word)
{
    size_t k = strlen(word);
    return n >= k && strncasecmp(s, word, k) == 0;
}

/* The last non-blank byte before `at`, or 0. */
static char byte_before(const char *s, size_t at)
{
    while (at > 0) {
        char c = s[--at];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return c;
    }
    return 0;
}

/* What usually causes a syntax error at s[at], for people who type JSON
 * into a shell: "" when nothing fits. */
static const char *syntax_hint(const char *s, size_t len, size_t at)
{
    char c = at < len ? s[at] : 0, before = byte_before(s, at);
    if (at >= len) return "; the body ends inside the JSON (cut short, or a bracket or quote "
                          "left open)";
    if (c == '\'')
        return "; JSON strings and keys take double quotes, not single quotes";
    if ((unsigned char)c >= 0x80)
        return "; JSON text must be UTF-8, and this byte starts no valid UTF-8 character";
    if ((c == '}' || c == ']') && before == ',')
        return "; JSON allows no trailing comma before a closing bracket";
    if (starts_ci(s + at, len - at, "nan") || starts_ci(s + at, len - at, "inf") ||
        starts_ci(s + at, len - at, "-inf"))
        return "; write NaN and infinities as \"NaN\", \"Infinity\", \"-Infinity\" (or null "
               "for NaN)";
    if (is_word_char(c) && (before == '{' || before == ','))
        return "; keys need double quotes ({\"inputs\": ...}): if you typed them, the shell "
               "removed them, so wrap the body in single quotes (curl -d '{...}') or send a "
               "file (curl -d @body.json)";
    if (is_word_char(c))
        return "; text values need double quotes: if you typed them, the shell removed them, "
               "so wrap the body in single quotes (curl -d '{...}') or send a file "
               "(curl -d @body.json)";
    return "";
}

int up_json_syntax_error(up_error *err, const char *field, const char *what, const char *doc,
                         size_t len, size_t at)
{
    char near[24];
    size_t k = 0;
    /* a few bytes from the fault, printable ASCII only */
    for (size_t i = at; i < len && k < 16; i++)
        near[k++] = doc[i] >= 0x20 && doc[i] < 0x7f ? doc[i] : '?';
    near[k] = '\0';
    if (k)
        return up_errorf(err, UP_E_MALFORMED, field, "malformed JSON in %s at byte %zu, near \"%s\"%s",
                         what, at, near, syntax_hint(doc, len, at));
    return up_errorf(err, UP_E_MALFORMED, field, "malformed JSON in %s at byte %zu%s", what, at,
                     syntax_hint(doc, len, at));
}

int up_json_decode_call(up_call *c, const up_http_req *req, const up_limits *lim, up_error *err)
{
    up_json_req rq = {.lim = lim, .charge = &c->plan.charge, .field = "body", .what = "the body",
                      .lazy = 1};
    cJSON *root;
    size_t at;
    int rc;
    if (req->body_len == 0) return up_errorf(err, UP_E_MALFORMED, "body", "empty body; expected a JSON object");
    if (!(root = up_json_parse_request(req->body, req->body_len, &rq, err))) return -1;
    rc = decode_root(c, root, lim, err);
    /* the parse passed over long runs of numbers, read (and checked) as
     * they were converted; a fault in one is the body's error, before any
     * the decoding found, as if the parse had stopped there */
    if (up_json_check_spans(root, req->body, &at) < 0) {
        up_error_clear(err);
        rc = up_json_syntax_error(err, rq.field, rq.what, req->body, req->body_len, at);
    }
    up_json_document_free(root);
    return rc;
}
