/* safetensors.c -- the safetensors format in and out
 * (application/x-safetensors).
 *
 * Layout (huggingface/safetensors): an 8-byte little-endian header length
 * N, N bytes of JSON, then the data region. The JSON maps tensor names to
 * {"dtype", "shape", "data_offsets": [begin, end)} relative to the data
 * region, plus an optional "__metadata__" map of strings to strings.
 *
 * Requests: tensor names are the op's inputs (an unknown name is a 422);
 * op params come from the query string and from __metadata__ (list params
 * written "2,3" or "[2,3]"). The query string wins: the file's metadata
 * are its defaults and the URL overrides them, as a command-line flag
 * overrides a config file. The key "format" (written by safetensors.torch
 * and transformers, e.g. "pt") is ignored; every other unknown key is a 422.
 *
 * Validation follows the reference reader: header length inside the body,
 * a JSON object (trailing spaces allowed; parsed like every request
 * document: --max-json-depth, no \u0000, no repeated key, charged to the
 * request), offsets inside the data region,
 * begin <= end, end - begin == numel x dtype size, no two tensors
 * overlapping. Gaps between tensors are tolerated. Error kinds: a broken
 * file is 400; a well-formed one we cannot serve (dtype, rank, names) 422.
 *
 * Zero copy: a tensor whose bytes sit at an address suitable for its dtype
 * becomes a view into the request body, and an answer's tensors are sent
 * from the output tensors themselves, behind the header (encode.c). The writer pads the header with
 * spaces to a multiple of 8, as the format recommends, and lays tensors out
 * widest dtype first so every tensor stays aligned without leaving gaps
 * (the reference reader rejects gaps). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codecs.h"

#define ST_FIELD "body"

static const struct {
    const char *name;
    up_dtype dt;
} st_dtypes[] = {
    {"F32", UP_F32}, {"F64", UP_F64}, {"F16", UP_F16}, {"BF16", UP_BF16},
    {"I64", UP_I64}, {"I32", UP_I32}, {"I16", UP_I16}, {"I8", UP_I8},
    {"U8", UP_U8},   {"BOOL", UP_BOOL},
};

static up_dtype st_dtype_from(const char *s)
{
    for (size_t i = 0; i < sizeof(st_dtypes) / sizeof(st_dtypes[0]); i++)
        if (strcmp(st_dtypes[i].name, s) == 0) return st_dtypes[i].dt;
    return UP_DT_INVALID;
}

static const char *st_dtype_name(up_dtype dt)
{
    for (size_t i = 0; i < sizeof(st_dtypes) / sizeof(st_dtypes[0]); i++)
        if (st_dtypes[i].dt == dt) return st_dtypes[i].name;
    return NULL;
}

/* ---- reading ------------------------------------------------------------ */

/* A JSON number that is an integer in [0, 2^53]. */
static int json_uint(double d, int64_t *out)
{
    if (!(d >= 0) || d > 9007199254740992.0 || d != floor(d)) return -1;
    *out = (int64_t)d;
    return 0;
}

/* A JSON list (a span node, json_parse.c, or an empty array). */
static int is_list(const cJSON *v)
{
    up_json_list l;
    return cJSON_IsArray(v) || up_json_list_of(v, &l);
}

typedef struct st_range {
    int64_t begin, end;
    const char *name;
} st_range;

/* One tensor entry -> plan.raw[idx], a view into the body when aligned. */
static int read_entry(up_call *c, const cJSON *e, int idx, unsigned char *data, size_t dlen,
                      const up_limits *lim, st_range *rg, up_error *err)
{
    const char *name = e->string;
    const cJSON *dt_j = NULL, *shape_j = NULL, *off_j = NULL, *k;
    int64_t shape[UP_MAX_RANK], numel, nbytes;
    double dims[UP_MAX_RANK], offs[2];
    int rank;
    up_dtype dt;
    size_t es;
    char field[UP_ERR_FIELD_LEN];
    snprintf(field, sizeof(field), "inputs.%s", name);

    if (!cJSON_IsObject(e))
        return up_errorf(err, UP_E_MALFORMED, field, "safetensors entry must be an object");
    cJSON_ArrayForEach(k, e) {
        if (strcmp(k->string, "dtype") == 0 && !dt_j) dt_j = k;
        else if (strcmp(k->string, "shape") == 0 && !shape_j) shape_j = k;
        else if (strcmp(k->string, "data_offsets") == 0 && !off_j) off_j = k;
        else
            return up_errorf(err, UP_E_MALFORMED, field,
                             "unexpected or repeated key \"%.40s\" in a safetensors entry", k->string);
    }
    if (!cJSON_IsString(dt_j) || !is_list(shape_j) || !is_list(off_j))
        return up_errorf(err, UP_E_MALFORMED, field,
                         "safetensors entry needs dtype (string), shape and data_offsets (lists)");
    dt = st_dtype_from(dt_j->valuestring);
    if (dt == UP_DT_INVALID)
        return up_errorf(err, UP_E_INVALID, field,
                         "safetensors dtype \"%.32s\" is not supported (F32 F64 F16 BF16 I64 I32 "
                         "I16 I8 U8 BOOL are)", dt_j->valuestring);
    rank = up_json_numbers(shape_j, dims, UP_MAX_RANK);
    if (rank == -2) return up_errorf(err, UP_E_INVALID, field, "more than %d dims", UP_MAX_RANK);
    for (int d = 0; d < rank; d++)
        if (json_uint(dims[d], &shape[d]) < 0) rank = -1;
    if (rank < 0)
        return up_errorf(err, UP_E_MALFORMED, field, "shape entries must be non-negative integers");
    if (up_json_numbers(off_j, offs, 2) != 2 || json_uint(offs[0], &rg->begin) < 0 ||
        json_uint(offs[1], &rg->end) < 0)
        return up_errorf(err, UP_E_MALFORMED, field, "data_offsets must be [begin, end]");
    es = up_dtype_size(dt);
    if (up_shape_numel(shape, rank, &numel) < 0 || up_mul_i64(numel, (int64_t)es, &nbytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, field, "shape overflows");
    if (rg->begin > rg->end || (uint64_t)rg->end > dlen)
        return up_errorf(err, UP_E_MALFORMED, field,
                         "data_offsets [%lld, %lld) are not inside the %zu-byte data region",
                         (long long)rg->begin, (long long)rg->end, dlen);
    if (rg->end - rg->begin != nbytes)
        return up_errorf(err, UP_E_MALFORMED, field,
                         "data_offsets span %lld bytes; shape and %s need %lld",
                         (long long)(rg->end - rg->begin), dt_j->valuestring, (long long)nbytes);
    if (lim && lim->max_elements > 0 && numel > lim->max_elements)
        return up_errorf(err, UP_E_TOO_LARGE, field, "%lld elements, the limit is %lld",
                         (long long)numel, (long long)lim->max_elements);
    rg->name = name;
    if (((uintptr_t)(data + rg->begin) % es) == 0) {
        up_tensor_view(&c->plan.raw[idx], dt, rank, shape, data + rg->begin);
        return 0;
    }
    if (up_plan_charge(&c->plan, nbytes, "safetensors input copy", err) < 0) return -1;
    if (up_tensor_alloc(&c->plan.raw[idx], dt, rank, shape) < 0)
        return up_errorf(err, UP_E_INTERNAL, field, "out of memory");
    memcpy(c->plan.raw[idx].data, data + rg->begin, (size_t)nbytes);
    return 0;
}

static int check_overlaps(const st_range *rg, int n, up_error *err)
{
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) {
            if (rg[a].begin == rg[a].end || rg[b].begin == rg[b].end) continue;
            if (rg[a].begin < rg[b].end && rg[b].begin < rg[a].end)
                return up_errorf(err, UP_E_MALFORMED, ST_FIELD,
                                 "safetensors tensors %s [%lld, %lld) and %s [%lld, %lld) overlap",
                                 rg[a].name, (long long)rg[a].begin, (long long)rg[a].end,
                                 rg[b].name, (long long)rg[b].begin, (long long)rg[b].end);
        }
    return 0;
}

/* __metadata__: string -> string; params the query string set are kept. */
static int read_metadata(up_call *c, const cJSON *meta, up_error *err)
{
    const cJSON *k;
    if (!cJSON_IsObject(meta))
        return up_errorf(err, UP_E_MALFORMED, "__metadata__", "__metadata__ must be an object");
    cJSON_ArrayForEach(k, meta) {
        int pi = up_op_param_index(c->plan.op, k->string);
        if (!cJSON_IsString(k))
            return up_errorf(err, UP_E_MALFORMED, "__metadata__",
                             "__metadata__ values must be strings (\"%.40s\" is not)", k->string);
        if (strcmp(k->string, "format") == 0 && pi < 0) continue;
        if (pi >= 0 && c->plan.params.v[pi].set) continue; /* the query string wins */
        if (up_param_from_text(&c->plan, k->string, k->valuestring, "__metadata__", err) < 0)
            return -1;
    }
    return 0;
}

static int read_header(up_call *c, const cJSON *root, unsigned char *data, size_t dlen,
                       const up_limits *lim, up_error *err)
{
    const cJSON *e, *meta = NULL;
    st_range rg[UP_MAX_INPUTS];
    int n = 0;
    cJSON_ArrayForEach(e, root) {
        int idx;
        if (strcmp(e->string, "__metadata__") == 0) {
            if (meta)
                return up_errorf(err, UP_E_MALFORMED, "__metadata__", "__metadata__ given twice");
            meta = e;
            continue;
        }
        idx = up_op_input_index(c->plan.op, e->string);
        if (idx < 0)
            return up_errorf(err, UP_E_INVALID, "inputs", "%s has no input named \"%.40s\"",
                             c->plan.op->name, e->string);
        if (c->plan.raw[idx].data)
            return up_errorf(err, UP_E_MALFORMED, "inputs", "tensor \"%s\" given twice", e->string);
        if (read_entry(c, e, idx, data, dlen, lim, &rg[n], err) < 0) return -1;
        n++;
    }
    if (check_overlaps(rg, n, err) < 0) return -1;
    return meta ? read_metadata(c, meta, err) : 0;
}

int up_safetensors_decode_call(up_call *c, const up_http_req *req, const up_limits *lim,
                               up_error *err)
{
    unsigned char *b = (unsigned char *)req->body;
    uint64_t hlen = 0;
    const char *end = NULL;
    cJSON *root = NULL;
    int rc = -1;
    up_json_req rq = {.lim = lim, .field = ST_FIELD, .what = "the safetensors header", .prefix = 1};

    if (up_call_query(c, req, 1, err) < 0) return -1;
    if (!b || req->body_len < 8)
        return up_errorf(err, UP_E_MALFORMED, ST_FIELD,
                         "safetensors body truncated: it needs an 8-byte header length");
    for (int k = 7; k >= 0; k--) hlen = hlen << 8 | b[k];
    if (hlen > req->body_len - 8)
        return up_errorf(err, UP_E_MALFORMED, ST_FIELD,
                         "safetensors header length %llu runs past the end of the %zu-byte body%s",
                         (unsigned long long)hlen, req->body_len,
                         up_body_looks_json(b, req->body_len) ? UP_LOOKS_JSON_HINT : "");
    if (hlen < 2 || b[8] != '{')
        return up_errorf(err, UP_E_MALFORMED, ST_FIELD, "safetensors header must be a JSON object");
    rq.charge = &c->plan.charge;
    if (!(root = up_json_parse_request((const char *)b + 8, (size_t)hlen, &rq, err))) return -1;
    if (!cJSON_IsObject(root)) {
        up_errorf(err, UP_E_MALFORMED, ST_FIELD, "safetensors header must be a JSON object");
        goto err;
    }
    for (end = (const char *)b + 8 + rq.end; end < (const char *)b + 8 + hlen; end++)
        if (*end != ' ' && *end != '\0' && *end != '\n' && *end != '\t' && *end != '\r') {
            up_errorf(err, UP_E_MALFORMED, ST_FIELD, "text after the safetensors header JSON");
            goto err;
        }
    if (read_header(c, root, b + 8 + hlen, req->body_len - 8 - (size_t)hlen, lim, err) < 0)
        goto err;
    rc = 0;
err:
    up_json_document_free(root);
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

/* Does output a go before output b in the data region? */
static int before(const up_call *c, int a, int b)
{
    size_t sa = up_dtype_size(c->plan.result[a].dtype), sb = up_dtype_size(c->plan.result[b].dtype);
    if (sa != sb) return sa > sb;
    return strcmp(c->plan.op->outputs[a].name, c->plan.op->outputs[b].name) < 0;
}

int up_safetensors_encode_call(up_call *c, up_timing *t, up_http_resp *resp, up_error *err)
{
    const up_op_def *op = c->plan.op;
    up_buf h;
    int order[UP_MAX_OUTPUTS], n = op->n_outputs;
    int64_t off[UP_MAX_OUTPUTS], pos = 0;
    size_t total = 0, hl;
    unsigned char len8[8];
    (void)t; /* binary answers carry timing in Server-Timing, set by the server */

    /* Widest dtype first, ties by name: the reference writer's order, so
     * its readers see the layout they would have written themselves. */
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && before(c, i, order[j - 1])) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (int k = 0; k < n; k++) {
        off[order[k]] = pos;
        pos += (int64_t)up_tensor_nbytes(&c->plan.result[order[k]]);
    }
    up_buf_init(&h);
    up_buf_puts(&h, "{");
    for (int k = 0; k < n; k++) {
        int i = order[k];
        const up_tensor *r = &c->plan.result[i];
        const char *dn = st_dtype_name(r->dtype);
        if (!dn) {
            up_buf_free(&h);
            return up_errorf(err, UP_E_INTERNAL, "", "no safetensors dtype for %s",
                             up_dtype_name(r->dtype));
        }
        up_buf_printf(&h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", k ? "," : "",
                      op->outputs[i].name, dn);
        for (int d = 0; d < r->rank; d++)
            up_buf_printf(&h, "%s%lld", d ? "," : "", (long long)r->shape[d]);
        up_buf_printf(&h, "],\"data_offsets\":[%lld,%lld]}", (long long)off[i],
                      (long long)(off[i] + (int64_t)up_tensor_nbytes(r)));
    }
    up_buf_puts(&h, "}");
    while (h.len % 8) up_buf_puts(&h, " ");
    if (h.failed) goto oom;
    hl = h.len;
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)hl >> (8 * k));
    total = 8 + hl;
    if (up_buf_reserve(&resp->body, total) < 0) goto oom;
    up_buf_append(&resp->body, len8, 8);
    up_buf_append(&resp->body, h.data, hl);
    up_buf_free(&h);
    /* the tensors follow the header without a copy, one tail piece each
     * (encode.c); the layout has no gaps, so the pieces are the file */
    for (int k = 0; k < n; k++)
        if (up_resp_put_output(c, order[k], resp) < 0) goto oom2;
    if (resp->body.failed) goto oom2;
    resp->status = 200;
    resp->content_type = "application/x-safetensors";
    return 0;
oom:
    up_buf_free(&h);
oom2:
    return up_errorf(err, UP_E_INTERNAL, "", "out of memory writing the safetensors answer");
}
