/* json_decode.c -- the v1 JSON request: {"inputs": {...}, "params": {...},
 * "output_format": "json" | "b64"} into a plan.
 *
 * A tensor is {"dtype", "shape", "data"} (flat row-major numbers),
 * {"dtype", "shape", "data_b64"} (little-endian bytes), or plain nested
 * lists (float32 for values, int64 for indices; shape inferred, ragged
 * lists rejected with 400). Nesting past --max-json-depth is a 400 from
 * the parser itself (json_parse.c), which stops at the first level too
 * deep. */
#include <math.h>
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

/* ---- nested lists ---- */

static int infer_shape(const cJSON *v, int64_t *shape, int *rank, const char *field,
                       up_error *err)
{
    *rank = 0;
    while (cJSON_IsArray(v)) {
        if (*rank >= UP_MAX_RANK)
            return up_errorf(err, UP_E_MALFORMED, field, "nested deeper than rank %d", UP_MAX_RANK);
        shape[(*rank)++] = cJSON_GetArraySize(v);
        v = v->child;
    }
    return 0;
}

/* Walk the lists in row-major order, checking every list has the length
 * the shape says (ragged -> 400) and filling t. */
static int fill_nested(const cJSON *v, int depth, up_tensor *t, int64_t *pos, const char *field,
                       up_error *err)
{
    if (depth == t->rank) {
        double x;
        if (up_json_number(v, &x) < 0)
            return up_errorf(err, UP_E_MALFORMED, field, "expected a number at element %lld",
                             (long long)*pos);
        return store_number(t, (*pos)++, x, field, err);
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != t->shape[depth])
        return up_errorf(err, UP_E_MALFORMED, field,
                         "ragged nested lists: a list at depth %d does not have %lld elements",
                         depth, (long long)t->shape[depth]);
    for (const cJSON *e = v->child; e; e = e->next)
        if (fill_nested(e, depth + 1, t, pos, field, err) < 0) return -1;
    return 0;
}

static int nested_to_tensor(const cJSON *v, up_dtype dt, const char *field, const up_limits *lim,
                            up_tensor *t, up_error *err)
{
    int64_t shape[UP_MAX_RANK], pos = 0;
    int rank;
    if (infer_shape(v, shape, &rank, field, err) < 0) return -1;
    if (check_numel(shape, rank, field, lim, err) < 0) return -1;
    if (up_tensor_alloc(t, dt, rank, shape) < 0)
        return up_errorf(err, UP_E_INTERNAL, field, "out of memory");
    if (fill_nested(v, 0, t, &pos, field, err) < 0) goto err;
    return 0;
err:
    up_tensor_free(t);
    return -1;
}

/* ---- {dtype, shape, data | data_b64} ---- */

static int read_shape(const cJSON *s, int64_t *shape, int *rank, const char *field, up_error *err)
{
    const cJSON *e;
    *rank = 0;
    if (!cJSON_IsArray(s)) return up_errorf(err, UP_E_MALFORMED, field, "shape must be a list of sizes");
    cJSON_ArrayForEach(e, s) {
        if (*rank >= UP_MAX_RANK)
            return up_errorf(err, UP_E_INVALID, field, "rank over %d", UP_MAX_RANK);
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 ||
            e->valuedouble > 4.0e18)
            return up_errorf(err, UP_E_MALFORMED, field, "shape entries must be integers >= 0");
        shape[(*rank)++] = (int64_t)e->valuedouble;
    }
    return 0;
}

static int object_to_tensor(const cJSON *v, up_dtype default_dtype, const char *field,
                            const up_limits *lim, up_tensor *t, up_error *err)
{
    const cJSON *dt = NULL, *shape = NULL, *data = NULL, *b64 = NULL, *e;
    int64_t dims[UP_MAX_RANK], n;
    int rank;
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
        return nested_to_tensor(data, dtype, field, lim, t, err);
    }
    if (read_shape(shape, dims, &rank, field, err) < 0) return -1;
    if (check_numel(dims, rank, field, lim, err) < 0) return -1;
    up_shape_numel(dims, rank, &n);
    if (up_tensor_alloc(t, dtype, rank, dims) < 0)
        return up_errorf(err, UP_E_INTERNAL, field, "out of memory");
    if (b64) {
        size_t len, want = up_tensor_nbytes(t);
        if (!cJSON_IsString(b64)) goto bad_b64;
        len = strlen(b64->valuestring);
        /* decode straight into the tensor when the size is right; a size
         * mismatch is reported without decoding more than fits */
        if (len % 4 || len / 4 * 3 < want || len / 4 * 3 > want + 2) {
            up_tensor_free(t);
            return up_errorf(err, UP_E_INVALID, field,
                             "data_b64 holds %zu bytes, shape %s needs %zu", len / 4 * 3,
                             dt ? up_dtype_name(dtype) : "", want);
        }
        unsigned char *tmp = want == len / 4 * 3 ? t->data : malloc(len / 4 * 3 + 1);
        long long got = tmp ? up_b64_decode(b64->valuestring, len, tmp) : -1;
        if (tmp && tmp != t->data) {
            if (got == (long long)want) memcpy(t->data, tmp, want);
            free(tmp);
        }
        if (got < 0) goto bad_b64;
        if (got != (long long)want) {
            up_tensor_free(t);
            return up_errorf(err, UP_E_INVALID, field, "data_b64 holds %lld bytes, shape needs %zu",
                             got, want);
        }
        return 0;
    }
    if (!cJSON_IsArray(data) || cJSON_GetArraySize(data) != n) {
        /* nested lists with an explicit shape are fine if they match it */
        int64_t got[UP_MAX_RANK];
        int grank;
        up_tensor_free(t);
        if (cJSON_IsArray(data) && data->child && cJSON_IsArray(data->child) &&
            infer_shape(data, got, &grank, field, err) == 0 && grank == rank &&
            !memcmp(got, dims, sizeof(int64_t) * (size_t)rank))
            return nested_to_tensor(data, dtype, field, lim, t, err);
        return up_errorf(err, UP_E_INVALID, field, "data has %d values, shape needs %lld",
                         cJSON_IsArray(data) ? cJSON_GetArraySize(data) : 0, (long long)n);
    }
    int64_t i = 0;
    for (e = data->child; e; e = e->next, i++) {
        double x;
        if (up_json_number(e, &x) < 0) {
            up_tensor_free(t);
            return up_errorf(err, UP_E_MALFORMED, field, "data element %lld is not a number", (long long)i);
        }
        if (store_number(t, i, x, field, err) < 0) {
            up_tensor_free(t);
            return -1;
        }
    }
    return 0;
bad_b64:
    up_tensor_free(t);
    return up_errorf(err, UP_E_MALFORMED, field, "data_b64 is not valid base64");
}

int up_json_to_tensor(const cJSON *v, up_dtype default_dtype, const char *field,
                      const up_limits *lim, up_tensor *t, up_error *err)
{
    if (cJSON_IsObject(v)) return object_to_tensor(v, default_dtype, field, lim, t, err);
    if (cJSON_IsArray(v)) return nested_to_tensor(v, default_dtype, field, lim, t, err);
    return up_errorf(err, UP_E_MALFORMED, field,
                     "a tensor is {\"dtype\", \"shape\", \"data\"} or nested lists");
}

static up_dtype default_dtype_for(up_io_kind k)
{
    return k == UP_IO_INDICES ? UP_I64 : UP_F32;
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
        if (up_json_to_tensor(e, default_dtype_for(c->plan.op->inputs[i].kind), field, lim,
                              &c->plan.raw[i], err) < 0)
            return -1;
    }
    return 0;
}

/* Top-level keys of a KServe v2 inference request that /v1 does not have. */
static int looks_kserve(const char *key)
{
    return !strcmp(key, "parameters") || !strcmp(key, "id") || !strcmp(key, "outputs");
}

static int decode_root(up_call *c, const cJSON *root, const up_limits *lim, up_error *err)
{
    const cJSON *e, *inputs = NULL;
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
        } else if (looks_kserve(e->string)) {
            return up_errorf(err, UP_E_INVALID, e->string,
                             "unknown key \"%s\": this looks like a KServe v2 request; send it "
                             "to /v2/models/%s/infer (a /v1 request has inputs, params, "
                             "output_format)", e->string, c->plan.op->name);
        } else {
            return up_errorf(err, UP_E_INVALID, e->string,
                             "unknown key \"%.60s\"; a request has inputs, params, output_format",
                             e->string);
        }
    }
    if (err->n) return -1;
    if (!inputs) return up_errorf(err, UP_E_MALFORMED, "inputs", "the request has no inputs");
    return decode_inputs(c, inputs, lim, err);
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

int up_json_syntax_error(up_error *err, const char *body, size_t len, size_t at, int too_deep,
                         int limit)
{
    char near[24];
    size_t k = 0;
    if (too_deep)
        return up_errorf(err, UP_E_MALFORMED, "body", "JSON nested deeper than %d levels", limit);
    /* a few bytes from the fault, printable ASCII only */
    for (size_t i = at; i < len && k < 16; i++)
        near[k++] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : '?';
    near[k] = '\0';
    if (k) return up_errorf(err, UP_E_MALFORMED, "body", "malformed JSON at byte %zu, near \"%s\"%s",
                            at, near, syntax_hint(body, len, at));
    return up_errorf(err, UP_E_MALFORMED, "body", "malformed JSON at byte %zu%s", at,
                     syntax_hint(body, len, at));
}

int up_json_decode_call(up_call *c, const up_http_req *req, const up_limits *lim, up_error *err)
{
    size_t at;
    cJSON *root;
    int rc, too_deep, limit = lim->max_json_depth > 0 ? lim->max_json_depth : 64;
    if (req->body_len == 0) return up_errorf(err, UP_E_MALFORMED, "body", "empty body; expected a JSON object");
    root = up_json_parse_document_max(req->body, req->body_len, limit, &at, &too_deep);
    if (!root) return up_json_syntax_error(err, req->body, req->body_len, at, too_deep, limit);
    rc = decode_root(c, root, lim, err);
    up_json_document_free(root);
    if (rc < 0) return -1;
    return up_call_query(c, req, 1, err);
}
