/* call.c -- what every op request shares, whatever its wire format:
 * content negotiation, query options, limits, and handing the plan to the
 * kernels' prepare step. The formats themselves live in json_decode.c,
 * npy.c, safetensors.c and kserve.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codecs.h"

void up_call_init(up_call *c)
{
    memset(c, 0, sizeof(*c));
    c->out_select = -1;
}

void up_call_free(up_call *c)
{
    up_plan_free(&c->plan);
    if (c->codec_state && c->codec_state_free) c->codec_state_free(c->codec_state);
    c->codec_state = NULL;
    /* after the plan: its views into the regions are gone now */
    up_shm_release_all(c);
}

/* "application/json; charset=utf-8" -> does the media type equal `want`? */
static int media_is(const char *value, const char *want)
{
    size_t n = strlen(want);
    if (!value) return 0;
    while (*value == ' ' || *value == '\t') value++;
    if (strncasecmp(value, want, n) != 0) return 0;
    value += n;
    while (*value == ' ' || *value == '\t') value++;
    return *value == '\0' || *value == ';' || *value == ',';
}

static int is_blank(const char *s)
{
    if (!s) return 1;
    while (*s == ' ' || *s == '\t') s++;
    return *s == '\0';
}

int up_body_looks_json(const void *body, size_t n)
{
    const unsigned char *p = body, *e = p + n;
    while (p && p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    return p && p < e && (*p == '{' || *p == '[');
}

int up_call_prepare(up_call *c, const up_limits *lim, up_error *err)
{
    int64_t total = 0;
    int present = 0;
    up_plan *p = &c->plan;
    for (int i = 0; i < p->op->n_inputs; i++) {
        char field[64];
        int64_t n;
        if (!p->raw[i].data) continue;
        present++;
        up_field(field, sizeof(field), "inputs", p->op->inputs[i].name);
        if (up_shape_numel(p->raw[i].shape, p->raw[i].rank, &n) < 0)
            return up_errorf(err, UP_E_TOO_LARGE, field, "shape overflows");
        if (lim->max_elements > 0 && n > lim->max_elements)
            return up_errorf(err, UP_E_TOO_LARGE, field,
                             "%lld elements, over the limit of %lld per tensor", (long long)n,
                             (long long)lim->max_elements);
        if (up_add_i64(total, n, &total) < 0 ||
            (lim->max_request_elements > 0 && total > lim->max_request_elements))
            return up_errorf(err, UP_E_TOO_LARGE, field,
                             "the inputs together exceed the limit of %lld elements per request",
                             (long long)lim->max_request_elements);
    }
    if (lim->max_inputs > 0 && present > lim->max_inputs)
        return up_errorf(err, UP_E_TOO_LARGE, "inputs", "%d inputs, over the limit of %d", present,
                         lim->max_inputs);
    p->max_elements = lim->max_elements;
    p->max_work = lim->max_work;
    if (up_shm_check_overlap(c, err) < 0) return -1;
    return up_plan_prepare(p, err);
}

/* Accept: pick the acceptable type with the highest q (first on ties) among
 * the formats we produce. No header, or a blank one, means JSON. */
int up_call_negotiate(up_call *c, const up_http_req *req, up_error *err)
{
    static const struct {
        const char *type;
        int fmt;
    } known[] = {
        {"application/json", UP_FMT_JSON},
        {"application/x-npy", UP_FMT_NPY},
        {"application/x-safetensors", UP_FMT_SAFETENSORS},
        {"application/*", UP_FMT_JSON},
        {"*/*", UP_FMT_JSON},
    };
    const char *s = req->accept;
    double best_q = 0;
    int best = -1;
    if (is_blank(s)) {
        c->out_format = UP_FMT_JSON;
        return 0;
    }
    while (*s) {
        const char *item = s, *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char buf[128];
        double q = 1.0;
        snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1), item);
        const char *qp = strstr(buf, "q=");
        if (qp) q = strtod(qp + 2, NULL);
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
            if (media_is(buf, known[k].type) && q > best_q) {
                best_q = q;
                best = known[k].fmt;
            }
        }
        s = comma ? comma + 1 : s + len;
    }
    if (best < 0)
        return up_errorf(err, UP_E_NOT_ACCEPTABLE, "headers.accept",
                         "cannot answer with \"%.80s\"; available: application/json, "
                         "application/x-npy, application/x-safetensors",
                         req->accept);
    c->out_format = best;
    return 0;
}

/* Does s hold a NUL byte inside its first len bytes? */
static int holds_nul(const char *s, size_t len)
{
    return s && len && memchr(s, '\0', len) != NULL;
}

int up_kv_holds_nul(const up_kv *kv)
{
    return holds_nul(kv->key, kv->key_len) || holds_nul(kv->value, kv->value_len);
}

/* The query's options and params; own_key (may be NULL) is a key the body
 * format reads itself. */
static int read_query(up_call *c, const up_http_req *req, int params_allowed, const char *own_key,
                      up_error *err)
{
    for (int i = 0; i < req->n_query; i++) {
        const up_kv *kv = &req->query[i];
        const char *k = kv->key, *v = kv->value ? kv->value : "";
        if (up_kv_holds_nul(kv))
            return up_errorf(err, UP_E_MALFORMED, "query",
                             "query parameter \"%.64s\" holds a NUL byte (%%00)", k);
        if (own_key && strcmp(k, own_key) == 0) continue;
        if (strcmp(k, "output_format") == 0) {
            if (strcmp(v, "b64") == 0) c->out_b64 = 1;
            else if (strcmp(v, "json") == 0) c->out_b64 = 0;
            else return up_errorf(err, UP_E_INVALID, "query.output_format",
                                  "output_format must be json or b64, got \"%.64s\"", v);
        } else if (strcmp(k, "output") == 0) {
            int o = up_op_output_index(c->plan.op, v);
            if (o < 0)
                return up_errorf(err, UP_E_INVALID, "query.output", "op %s has no output \"%.64s\"",
                                 c->plan.op->name, v);
            c->out_select = o;
        } else if (params_allowed && up_op_param_index(c->plan.op, k) >= 0) {
            if (up_param_from_text(&c->plan, k, v, "params", err) < 0) return -1;
        } else {
            return up_errorf(err, UP_E_INVALID, "query", "unknown query parameter \"%.64s\"", k);
        }
    }
    return 0;
}

int up_call_query(up_call *c, const up_http_req *req, int params_allowed, up_error *err)
{
    return read_query(c, req, params_allowed, NULL, err);
}

/* The v1 body formats by Content-Type (the first also takes a missing
 * one). The query is read here for every format, so no decoder has to
 * remember it: .npy and safetensors read it before their body (a param in
 * safetensors' __metadata__ that the query set already is then refused as
 * given twice), JSON after its body, as each did before this table. .npy
 * reads its `inputs=` key itself. curl -d sends
 * application/x-www-form-urlencoded: it is read as JSON so `curl -d
 * '{...}'` just works (docs/contract.md). */
static const struct v1_format {
    const char *media[4];
    int (*decode)(up_call *c, const up_http_req *req, const up_limits *lim, up_error *err);
    int query_first;
    const char *own_key;
} v1_formats[] = {
    {{"application/json", "application/x-www-form-urlencoded", "text/json", NULL},
     up_json_decode_call, 0, NULL},
    {{"application/x-npy", NULL}, up_npy_decode_call, 1, "inputs"},
    {{"application/x-safetensors", NULL}, up_safetensors_decode_call, 1, NULL},
};

static const struct v1_format *v1_format_of(const char *ct)
{
    if (is_blank(ct)) return &v1_formats[0];
    for (size_t i = 0; i < sizeof(v1_formats) / sizeof(v1_formats[0]); i++)
        for (const char *const *m = v1_formats[i].media; *m; m++)
            if (media_is(ct, *m)) return &v1_formats[i];
    return NULL;
}

int up_call_decode_v1(up_call *c, const up_op_def *op, const up_http_req *req,
                      const up_limits *lim, up_error *err)
{
    const char *ct = req->content_type;
    const struct v1_format *f;
    up_call_init(c);
    up_plan_init(&c->plan, op);
    c->plan.charge = req->charge; /* decoders and kernels charge the request */
    c->shm = req->shm;
    c->proto = UP_PROTO_V1;
    if (up_call_negotiate(c, req, err) < 0) return -1;
    if (!(f = v1_format_of(ct)))
        return up_errorf(err, UP_E_MEDIA_TYPE, "headers.content-type",
                         "unsupported Content-Type \"%.80s\"; use application/json, "
                         "application/x-npy or application/x-safetensors",
                         ct);
    if (f->query_first && read_query(c, req, 1, f->own_key, err) < 0) return -1;
    if (f->decode(c, req, lim, err) < 0) return -1;
    if (!f->query_first && read_query(c, req, 1, f->own_key, err) < 0) return -1;
    return up_call_prepare(c, lim, err);
}
