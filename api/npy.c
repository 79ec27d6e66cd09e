/* npy.c -- NumPy's .npy format in and out (application/x-npy).
 *
 * A request body is one array, read as input x, or several arrays back to
 * back (what repeated np.save() to one file writes) filling the op's inputs
 * in registry order or in the order ?inputs=x,mask names; op params come
 * from the query string. The reader follows numpy/lib/format.py: magic "\x93NUMPY",
 * version 1.0 (2-byte header length), 2.0 or 3.0 (4-byte length; 3.0 only
 * allows a UTF-8 header), then a Python dict literal with exactly the keys
 * 'descr', 'fortran_order' and 'shape', then the raw data.
 *
 * Zero copy is the point of a binary format: a little-endian, C-order
 * payload whose address suits its dtype becomes a view into the request
 * body (which the server keeps alive until the plan is freed). Only
 * big-endian, Fortran-order or misaligned arrays are rewritten, into an
 * owned copy. The answer is the header in the body and the output tensor
 * itself as the response tail (encode.c), so a large answer is never
 * copied either.
 *
 * Error kinds: a file that cannot be read (bad magic, a format version
 * other than 1.0-3.0, truncated, header past the end, dict syntax, data
 * size != shape x itemsize) is 400; a well-formed file we do not serve
 * (object/structured/unknown dtype, rank over 5) is 422 naming what it met.
 *
 * Writing: numpy has no bfloat16 descr ('<V2' would come back as opaque
 * void bytes), so a bfloat16 output is written as '<f4'. Widening is exact:
 * every bfloat16 value is a float32 value, and np.load gets the numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/convert.h"
#include "codecs.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64 /* numpy >= 1.14 pads header so data starts at a multiple of 64 */

/* ---- header dict parsing ------------------------------------------------ */

typedef struct npy_header {
    char descr[32];
    int fortran;
    int rank;
    int64_t shape[UP_MAX_RANK];
    int have_descr, have_fortran, have_shape;
} npy_header;

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static int bad_header(up_error *err, const char *what)
{
    return up_errorf(err, UP_E_MALFORMED, "body", ".npy header: %s", what);
}

/* A Python string literal without escapes ('...' or "..."). */
static int parse_str(cursor *c, char *out, size_t cap, up_error *err)
{
    char q;
    size_t n = 0;
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return bad_header(err, "expected a quoted string");
    q = *c->p++;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\') return bad_header(err, "escapes in strings are not supported");
        if (n + 1 >= cap) return bad_header(err, "string too long");
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return bad_header(err, "unterminated string");
    c->p++;
    out[n] = '\0';
    return 0;
}

static int parse_bool(cursor *c, int *out, up_error *err)
{
    skip_ws(c);
    if ((size_t)(c->end - c->p) >= 4 && memcmp(c->p, "True", 4) == 0) {
        c->p += 4;
        *out = 1;
        return 0;
    }
    if ((size_t)(c->end - c->p) >= 5 && memcmp(c->p, "False", 5) == 0) {
        c->p += 5;
        *out = 0;
        return 0;
    }
    return bad_header(err, "fortran_order must be True or False");
}

/* A tuple of non-negative Python ints: (), (3,), (2, 3), (2, 3,). */
static int parse_shape(cursor *c, npy_header *h, up_error *err)
{
    if (!eat(c, '(')) return bad_header(err, "shape must be a tuple");
    h->rank = 0;
    for (;;) {
        int64_t v = 0;
        int digits = 0;
        if (eat(c, ')')) return 0;
        skip_ws(c);
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (up_mul_i64(v, 10, &v) < 0 || up_add_i64(v, *c->p - '0', &v) < 0)
                return bad_header(err, "shape entry overflows int64");
            c->p++;
            digits++;
        }
        if (!digits) return bad_header(err, "shape entries must be non-negative integers");
        if (h->rank >= UP_MAX_RANK)
            return up_errorf(err, UP_E_INVALID, "body", ".npy array has more than %d dims",
                             UP_MAX_RANK);
        h->shape[h->rank++] = v;
        if (eat(c, ',')) continue;
        if (eat(c, ')')) break;
        return bad_header(err, "expected ',' or ')' in shape");
    }
    /* Only reached without a trailing comma: Python needs one for a
     * 1-tuple, "(3)" is the int 3. */
    if (h->rank == 1) return bad_header(err, "shape (n) is not a tuple; write (n,)");
    return 0;
}

static int parse_dict(const char *text, size_t len, npy_header *h, up_error *err)
{
    cursor c = {text, text + len};
    char key[32];
    memset(h, 0, sizeof(*h));
    if (!eat(&c, '{')) return bad_header(err, "expected a dict");
    while (!eat(&c, '}')) {
        if (parse_str(&c, key, sizeof(key), err) < 0) return -1;
        if (!eat(&c, ':')) return bad_header(err, "expected ':' after a key");
        if (strcmp(key, "descr") == 0 && !h->have_descr) {
            skip_ws(&c);
            if (c.p < c.end && (*c.p == '[' || *c.p == '{'))
                return up_errorf(err, UP_E_INVALID, "body",
                                 ".npy structured dtypes are not supported");
            if (parse_str(&c, h->descr, sizeof(h->descr), err) < 0) return -1;
            h->have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !h->have_fortran) {
            if (parse_bool(&c, &h->fortran, err) < 0) return -1;
            h->have_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !h->have_shape) {
            if (parse_shape(&c, h, err) < 0) return -1;
            h->have_shape = 1;
        } else {
            return up_errorf(err, UP_E_MALFORMED, "body", ".npy header: unexpected or repeated key '%s'",
                             key);
        }
        if (eat(&c, ',')) continue;
        if (eat(&c, '}')) break;
        return bad_header(err, "expected ',' or '}'");
    }
    skip_ws(&c);
    if (c.p != c.end) return bad_header(err, "text after the dict");
    if (!h->have_descr || !h->have_fortran || !h->have_shape)
        return bad_header(err, "needs the keys 'descr', 'fortran_order' and 'shape'");
    return 0;
}

/* '<f4' -> UP_F32 and whether bytes must be swapped. 422 for the rest. */
static int parse_descr(const char *d, up_dtype *dt, int *swap, up_error *err)
{
    static const struct {
        char kind;
        int size;
        up_dtype dt;
    } map[] = {{'f', 2, UP_F16}, {'f', 4, UP_F32}, {'f', 8, UP_F64}, {'i', 1, UP_I8},
               {'i', 2, UP_I16}, {'i', 4, UP_I32}, {'i', 8, UP_I64}, {'u', 1, UP_U8},
               {'b', 1, UP_BOOL}};
    char order = d[0], kind = order ? d[1] : 0;
    int size = 0;
    const char *s = order && kind ? d + 2 : d;
    if (order && kind && *s >= '1' && *s <= '9' && s[1] == '\0') size = *s - '0';
    for (size_t i = 0; size && i < sizeof(map) / sizeof(map[0]); i++) {
        if (map[i].kind != kind || map[i].size != size) continue;
        if (order == '<' || order == '=' || (order == '|' && size == 1)) {
            *swap = 0;
        } else if (order == '>') {
            *swap = size > 1;
        } else {
            break;
        }
        *dt = map[i].dt;
        return 0;
    }
    if (strcmp(d, "<V2") == 0 || strcmp(d, "|V2") == 0)
        return up_errorf(err, UP_E_INVALID, "body",
                         ".npy dtype '%s' is not supported (numpy has no bfloat16; send float32, or "
                         "bfloat16 as safetensors BF16)", d);
    return up_errorf(err, UP_E_INVALID, "body",
                     ".npy dtype '%s' is not supported (use <f4, <f8, <f2, <i8, <i4, <i2, |i1, "
                     "|u1 or |b1)", d);
}

/* ---- reading ------------------------------------------------------------ */

static void swap_bytes(unsigned char *dst, const unsigned char *src, size_t es)
{
    for (size_t k = 0; k < es; k++) dst[k] = src[es - 1 - k];
}

/* n contiguous big-endian elements: the compiler turns these loops into
 * bswap/vector shuffles, several times faster than swap_bytes per element. */
static void swap_run(unsigned char *dst, const unsigned char *src, int64_t n, size_t es)
{
    for (int64_t i = 0; i < n; i++, dst += es, src += es) {
        if (es == 2) {
            uint16_t v;
            memcpy(&v, src, 2);
            v = __builtin_bswap16(v);
            memcpy(dst, &v, 2);
        } else if (es == 4) {
            uint32_t v;
            memcpy(&v, src, 4);
            v = __builtin_bswap32(v);
            memcpy(dst, &v, 4);
        } else if (es == 8) {
            uint64_t v;
            memcpy(&v, src, 8);
            v = __builtin_bswap64(v);
            memcpy(dst, &v, 8);
        } else {
            swap_bytes(dst, src, es);
        }
    }
}

/* Owned C-order, little-endian copy of a Fortran-order and/or big-endian
 * payload. Walks the destination in C order and finds each source element
 * through the Fortran strides (first dim fastest). */
static int rewrite_payload(up_tensor *t, const unsigned char *src, const npy_header *h,
                           up_dtype dt, int swap)
{
    size_t es = up_dtype_size(dt);
    int64_t n, idx[UP_MAX_RANK] = {0}, fstride[UP_MAX_RANK];
    unsigned char *dst;
    if (up_tensor_alloc(t, dt, h->rank, h->shape) < 0) return -1;
    dst = t->data;
    n = up_tensor_numel(t);
    if (!h->fortran) {
        if (swap)
            swap_run(dst, src, n, es);
        else
            memcpy(dst, src, (size_t)n * es);
        return 0;
    }
    for (int d = 0; d < h->rank; d++) fstride[d] = d ? fstride[d - 1] * h->shape[d - 1] : 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t off = i;
        if (h->fortran) {
            off = 0;
            for (int d = 0; d < h->rank; d++) off += idx[d] * fstride[d];
            for (int d = h->rank - 1; d >= 0; d--) {
                if (++idx[d] < h->shape[d]) break;
                idx[d] = 0;
            }
        }
        if (swap)
            swap_bytes(dst + (size_t)i * es, src + (size_t)off * es, es);
        else
            memcpy(dst + (size_t)i * es, src + (size_t)off * es, es);
    }
    return 0;
}

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p)
{
    return le16(p) | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The framing: magic, version, header length. Sets *hdr and *hlen. */
static int read_preamble(const unsigned char *b, size_t len, size_t *hdr, size_t *hlen,
                         up_error *err)
{
    int major, minor;
    size_t prefix;
    if (memcmp(b, NPY_MAGIC, len < NPY_MAGIC_LEN ? len : NPY_MAGIC_LEN) != 0)
        return up_errorf(err, UP_E_MALFORMED, "body",
                         "not a .npy file: it must start with \\x93NUMPY%s",
                         up_body_looks_json(b, len) ? UP_LOOKS_JSON_HINT : "");
    if (len < NPY_MAGIC_LEN + 2)
        return up_errorf(err, UP_E_MALFORMED, "body", ".npy file truncated in its preamble");
    major = b[6];
    minor = b[7];
    if (major < 1 || major > 3 || minor != 0) /* framing: nothing after it can be read */
        return up_errorf(err, UP_E_MALFORMED, "body",
                         ".npy format version %d.%d is not supported (1.0, 2.0 and 3.0 are)", major,
                         minor);
    prefix = major == 1 ? 10 : 12;
    if (len < prefix) return up_errorf(err, UP_E_MALFORMED, "body", ".npy file truncated in its preamble");
    *hlen = major == 1 ? le16(b + 8) : le32(b + 8);
    if (*hlen > len - prefix)
        return up_errorf(err, UP_E_MALFORMED, "body",
                         ".npy header length %zu runs past the end of the %zu-byte body", *hlen, len);
    *hdr = prefix;
    return 0;
}

/* One array starting at b[0] (n bytes left in the body) into *t, a view
 * when it can be. *used is how many bytes the array took. */
static int read_array(const unsigned char *b, size_t n, const char *field, const up_limits *lim,
                      const up_charge *ch, up_tensor *t, size_t *used, up_error *err)
{
    size_t hdr = 0, hlen = 0, off, es;
    npy_header h;
    up_dtype dt = UP_DT_INVALID;
    int swap = 0;
    int64_t numel, nbytes;

    if (read_preamble(b, n, &hdr, &hlen, err) < 0) return -1;
    for (size_t i = 0; i < hlen; i++)
        if (b[hdr + i] == '\0' || b[hdr + i] >= 0x80)
            return bad_header(err, "only ASCII text is supported");
    if (parse_dict((const char *)b + hdr, hlen, &h, err) < 0) return -1;
    if (parse_descr(h.descr, &dt, &swap, err) < 0) return -1;
    es = up_dtype_size(dt);
    if (up_shape_numel(h.shape, h.rank, &numel) < 0 || up_mul_i64(numel, (int64_t)es, &nbytes) < 0)
        return up_errorf(err, UP_E_TOO_LARGE, "body", ".npy shape overflows");
    if (lim && lim->max_elements > 0 && numel > lim->max_elements)
        return up_errorf(err, UP_E_TOO_LARGE, field, "%s has %lld elements, the limit is %lld",
                         field + 7, (long long)numel, (long long)lim->max_elements);
    off = hdr + hlen;
    if ((uint64_t)nbytes > n - off)
        return up_errorf(err, UP_E_MALFORMED, "body",
                         ".npy data is %zu bytes; shape and dtype '%s' need %lld", n - off, h.descr,
                         (long long)nbytes);
    *used = off + (size_t)nbytes;
    up_tensor_free(t);
    /* Fortran order of rank <= 1 is the same bytes as C order. */
    if (h.rank <= 1) h.fortran = 0;
    if (!swap && !h.fortran && ((uintptr_t)(b + off) % es) == 0) {
        up_tensor_view(t, dt, h.rank, h.shape, (void *)(b + off));
        return 0;
    }
    /* the copy is charged to the request before it is made */
    if (ch && ch->take && nbytes > 0 && ch->take(ch->ctx, nbytes, ".npy input copy", err) < 0)
        return -1;
    if (rewrite_payload(t, b + off, &h, dt, swap) < 0)
        return up_errorf(err, UP_E_INTERNAL, field, "out of memory copying the .npy data");
    return 0;
}

/* ?inputs=x,mask -> the op input each array fills, in body order. */
static int parse_inputs(const up_op_def *op, const char *list, int *targets, int *n,
                        up_error *err)
{
    char buf[256];
    char *save = NULL, *tok;
    *n = 0;
    snprintf(buf, sizeof(buf), "%s", list);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        for (char *e = tok + strlen(tok); e > tok && e[-1] == ' ';) *--e = '\0';
        int idx = up_op_input_index(op, tok);
        if (idx < 0)
            return up_errorf(err, UP_E_INVALID, "query.inputs", "%s has no input named \"%.40s\"",
                             op->name, tok);
        for (int k = 0; k < *n; k++)
            if (targets[k] == idx)
                return up_errorf(err, UP_E_INVALID, "query.inputs", "input \"%.40s\" named twice",
                                 tok);
        targets[(*n)++] = idx;
    }
    if (*n == 0)
        return up_errorf(err, UP_E_INVALID, "query.inputs", "inputs must name at least one input");
    return 0;
}

/* The query without its `inputs` key (up_call_query does not know it);
 * targets[] from it, or every op input in registry order. */
static int split_query(up_call *c, const up_http_req *req, up_http_req *rest, up_kv *kv,
                       int *targets, int *n_targets, up_error *err)
{
    const up_op_def *op = c->plan.op;
    int named = 0;
    *rest = *req;
    rest->query = kv;
    rest->n_query = 0;
    for (int i = 0; i < req->n_query; i++) {
        if (up_kv_holds_nul(&req->query[i]))
            return up_errorf(err, UP_E_MALFORMED, "query",
                             "query parameter \"%.64s\" holds a NUL byte (%%00)", req->query[i].key);
        if (strcmp(req->query[i].key, "inputs") != 0) {
            kv[rest->n_query++] = req->query[i];
            continue;
        }
        if (named++)
            return up_errorf(err, UP_E_INVALID, "query.inputs", "inputs given twice");
        if (parse_inputs(op, req->query[i].value ? req->query[i].value : "", targets, n_targets,
                         err) < 0)
            return -1;
    }
    if (!named) {
        *n_targets = op->n_inputs;
        for (int k = 0; k < op->n_inputs; k++) targets[k] = k;
    }
    return 0;
}

/* A body is one array or several back to back (what repeated np.save()
 * to one file writes and repeated np.load() reads); array k fills
 * targets[k]. Every header is checked; bytes after the last array that do
 * not start another one are a 400, more arrays than inputs a 422. */
static int read_arrays(up_call *c, const up_http_req *req, const int *targets, int n_targets,
                       const up_limits *lim, up_error *err)
{
    const up_op_def *op = c->plan.op;
    const unsigned char *b = (const unsigned char *)req->body;
    size_t pos = 0, used = 0;
    int k = 0;
    char field[UP_ERR_FIELD_LEN];
    if (!b || req->body_len == 0) return up_errorf(err, UP_E_MALFORMED, "body", "empty .npy body");
    while (pos < req->body_len) {
        if (k > 0 && (req->body_len - pos < NPY_MAGIC_LEN ||
                      memcmp(b + pos, NPY_MAGIC, NPY_MAGIC_LEN) != 0))
            return up_errorf(err, UP_E_MALFORMED, "body",
                             ".npy body has %zu bytes after its last array (array %d ends at byte "
                             "%zu) that are not another .npy array",
                             req->body_len - pos, k, pos);
        if (k >= n_targets) {
            char names[128] = "";
            for (int q = 0; q < n_targets; q++)
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", q ? ", " : "",
                         op->inputs[targets[q]].name);
            return up_errorf(err, UP_E_INVALID, "body",
                             ".npy body holds more arrays than the %d input%s it can fill (%s%s)",
                             n_targets, n_targets == 1 ? "" : "s", names,
                             n_targets < op->n_inputs ? ", from ?inputs=" : "");
        }
        snprintf(field, sizeof(field), "inputs.%s", op->inputs[targets[k]].name);
        if (read_array(b + pos, req->body_len - pos, field, lim, &c->plan.charge,
                       &c->plan.raw[targets[k]], &used, err) < 0)
            return -1;
        pos += used;
        k++;
    }
    if (k < n_targets && n_targets < op->n_inputs)
        return up_errorf(err, UP_E_INVALID, "query.inputs",
                         "inputs names %d inputs but the body holds %d .npy array%s", n_targets, k,
                         k == 1 ? "" : "s");
    return 0;
}

int up_npy_decode_call(up_call *c, const up_http_req *req, const up_limits *lim, up_error *err)
{
    up_http_req rest;
    size_t kv_bytes = sizeof(up_kv) * (size_t)(req->n_query > 0 ? req->n_query : 1);
    up_kv *kv;
    int targets[UP_MAX_INPUTS], n_targets = 0, rc = -1;
    if (up_plan_charge(&c->plan, (int64_t)kv_bytes, ".npy query copy", err) < 0) return -1;
    if (!(kv = malloc(kv_bytes))) return up_errorf(err, UP_E_INTERNAL, "", "out of memory");
    if (split_query(c, req, &rest, kv, targets, &n_targets, err) < 0) goto err;
    if (up_call_query(c, &rest, 1, err) < 0) goto err;
    if (read_arrays(c, req, targets, n_targets, lim, err) < 0) goto err;
    rc = 0;
err:
    free(kv);
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

static const char *descr_of(up_dtype dt)
{
    switch (dt) {
    case UP_F32: return "<f4";
    case UP_BF16: return "<f4"; /* widened, see the top of the file */
    case UP_F64: return "<f8";
    case UP_F16: return "<f2";
    case UP_I64: return "<i8";
    case UP_I32: return "<i4";
    case UP_I16: return "<i2";
    case UP_I8: return "|i1";
    case UP_U8: return "|u1";
    case UP_BOOL: return "|b1";
    default: return NULL;
    }
}

/* The dict, padded with spaces and a final '\n' so the data starts at a
 * multiple of NPY_ALIGN, behind the magic and version 1.0 (2.0 when the
 * header does not fit 16 bits). */
static int write_header(up_buf *o, const up_tensor *t, const char *descr)
{
    char dict[256];
    int n = snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int d = 0; d < t->rank; d++)
        n += snprintf(dict + n, sizeof(dict) - (size_t)n, "%s%lld", d ? ", " : "",
                      (long long)t->shape[d]);
    n += snprintf(dict + n, sizeof(dict) - (size_t)n, "%s), }", t->rank == 1 ? "," : "");
    size_t prefix = 10, total = prefix + (size_t)n + 1;
    size_t padded = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    size_t hlen = padded - prefix;
    unsigned char pre[12];
    int major = 1;
    if (hlen > 0xffff) {
        major = 2;
        prefix = 12;
        padded = (prefix + (size_t)n + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
        hlen = padded - prefix;
    }
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[6] = (unsigned char)major;
    pre[7] = 0;
    for (size_t k = 0; k < prefix - 8; k++) pre[8 + k] = (unsigned char)(hlen >> (8 * k));
    up_buf_append(o, pre, prefix);
    up_buf_append(o, dict, (size_t)n);
    for (size_t k = (size_t)n + 1; k < hlen; k++) up_buf_append(o, " ", 1);
    return up_buf_append(o, "\n", 1);
}

/* bfloat16 -> float32 (exact) into a tensor the answer keeps. */
static int widen_bf16(const up_tensor *r, up_http_resp *resp)
{
    up_tensor *w = up_resp_keep_tensor(resp);
    const uint16_t *s = r->data;
    float *d;
    int64_t n = up_tensor_numel(r);
    if (!w || up_tensor_alloc(w, UP_F32, r->rank, r->shape) < 0) return -1;
    d = w->data;
    for (int64_t k = 0; k < n; k++) d[k] = up_bf16_to_f32(s[k]);
    return up_resp_add_tail(resp, w->data, up_tensor_nbytes(w));
}

/* The body holds the header; the data follows as the answer's tail,
 * straight from the output tensor (encode.c: no copy of a large output). */
int up_npy_encode_call(up_call *c, up_timing *t, up_http_resp *resp, up_error *err)
{
    int i = c->out_select >= 0 ? c->out_select : 0;
    const up_tensor *r;
    const char *descr;
    (void)t; /* binary answers carry timing in Server-Timing, set by the server */
    if (i >= c->plan.op->n_outputs)
        return up_errorf(err, UP_E_INTERNAL, "output", "output %d out of range", i);
    r = &c->plan.result[i];
    descr = descr_of(r->dtype);
    if (!descr)
        return up_errorf(err, UP_E_INTERNAL, "output", "no .npy descr for %s",
                         up_dtype_name(r->dtype));
    write_header(&resp->body, r, descr);
    if (resp->body.failed) goto oom;
    if (r->dtype == UP_BF16 ? widen_bf16(r, resp) < 0 : up_resp_put_output(c, i, resp) < 0)
        goto oom;
    if (resp->body.failed) goto oom;
    resp->status = 200;
    resp->content_type = "application/x-npy";
    return 0;
oom:
    return up_errorf(err, UP_E_INTERNAL, "", "out of memory writing the .npy answer");
}
