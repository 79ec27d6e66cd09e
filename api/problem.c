/* problem.c -- errors as HTTP answers.
 *
 * The only place an up_err_kind becomes an HTTP status. v1 answers are
 * application/problem+json (RFC 9457):
 *
 *   {"type": "https://unpoold.dev/problems/invalid-request",
 *    "title": "Unprocessable Content", "status": 422,
 *    "detail": "<the first error's message>", "instance": "<request id>",
 *    "errors": [{"field": "params.kernel_size", "message": "..."}]}
 *
 * "type" is one stable URI per kind, UP_PROBLEM_BASE + a slug (the table
 * below); clients branch on it, or on "status", never on the wording of
 * "title"/"detail". "instance" is the request id (the X-Request-Id of the
 * answer), or the request path when there is no id. KServe answers on /v2
 * are that protocol's {"error": "..."} with the same status. */
#include <string.h>

#include "api.h"
#include "json_write.h"

#define UP_PROBLEM_BASE "https://unpoold.dev/problems/"

/* Every kind's status, problem slug and title: the only such table. */
static const struct {
    int status;
    const char *slug, *title;
} kinds[] = {
    [UP_OK] = {500, "internal-error", "Internal Server Error"}, /* an error that is none is a bug */
    [UP_E_MALFORMED] = {400, "malformed-request", "Bad Request"},
    [UP_E_UNAUTHORIZED] = {401, "unauthorized", "Unauthorized"},
    [UP_E_NOT_FOUND] = {404, "not-found", "Not Found"},
    [UP_E_METHOD] = {405, "method-not-allowed", "Method Not Allowed"},
    [UP_E_NOT_ACCEPTABLE] = {406, "not-acceptable", "Not Acceptable"},
    [UP_E_TOO_LARGE] = {413, "too-large", "Content Too Large"},
    [UP_E_MEDIA_TYPE] = {415, "unsupported-media-type", "Unsupported Media Type"},
    [UP_E_INVALID] = {422, "invalid-request", "Unprocessable Content"},
    [UP_E_OVERLOADED] = {503, "overloaded", "Service Unavailable"},
    [UP_E_DEADLINE] = {504, "deadline-exceeded", "Gateway Timeout"},
    [UP_E_INTERNAL] = {500, "internal-error", "Internal Server Error"},
};
_Static_assert(sizeof(kinds) / sizeof(kinds[0]) == UP_E_KIND_END,
               "every error kind needs a status, a slug and a title");

static int kind_index(const up_error *err)
{
    int k = err ? (int)err->kind : (int)UP_E_INTERNAL;
    if (k <= UP_OK || k >= (int)(sizeof(kinds) / sizeof(kinds[0]))) return UP_E_INTERNAL;
    return k;
}

int up_err_status(const up_error *err) { return kinds[kind_index(err)].status; }

const char *up_err_kind_title(up_err_kind kind)
{
    if (kind == UP_OK) return "OK";
    if ((int)kind < 0 || (int)kind >= (int)(sizeof(kinds) / sizeof(kinds[0]))) return "Error";
    return kinds[kind].title;
}

void up_http_resp_init(up_http_resp *r)
{
    memset(r, 0, sizeof(*r));
    up_buf_init(&r->body);
}

void up_http_resp_free(up_http_resp *r)
{
    up_buf_free(&r->body);
    if (r->keep_free) r->keep_free(r->keep);
    memset(r, 0, sizeof(*r));
}

/* "detail": the one message, or the first and how many follow. */
static void put_detail(up_buf *b, const up_error *err, int k)
{
    up_json_put_key(b, "detail");
    if (!err || err->n == 0) {
        up_json_put_string(b, up_err_kind_title((up_err_kind)k));
    } else if (err->n == 1) {
        up_json_put_string(b, err->items[0].message);
    } else {
        up_buf b2;
        up_buf_init(&b2);
        up_buf_printf(&b2, "%s (and %d more: see errors)", err->items[0].message, err->n - 1);
        up_json_put_string(b, b2.failed ? err->items[0].message : b2.data);
        up_buf_free(&b2);
    }
}

static void put_items(up_buf *b, const up_error *err)
{
    up_buf_puts(b, ",\"errors\":[");
    for (int i = 0; err && i < err->n && i < UP_ERR_MAX_ITEMS; i++) {
        if (i) up_buf_append(b, ",", 1);
        up_buf_puts(b, "{\"field\":");
        up_json_put_string(b, err->items[i].field);
        up_buf_puts(b, ",\"message\":");
        up_json_put_string(b, err->items[i].message);
        up_buf_append(b, "}", 1);
    }
    up_buf_append(b, "]", 1);
}

void up_problem_response(const up_error *err, const char *request_id, const char *path,
                         up_http_resp *resp)
{
    int k = kind_index(err);
    up_buf *b = &resp->body;
    const char *instance = request_id && *request_id ? request_id : path;

    up_buf_free(b);
    resp->status = kinds[k].status;
    resp->content_type = "application/problem+json";
    up_buf_puts(b, "{\"type\":\"" UP_PROBLEM_BASE);
    up_buf_puts(b, kinds[k].slug);
    up_buf_puts(b, "\",\"title\":");
    up_json_put_string(b, up_err_kind_title((up_err_kind)k));
    up_buf_printf(b, ",\"status\":%d,", kinds[k].status);
    put_detail(b, err, k);
    if (instance) {
        up_buf_puts(b, ",\"instance\":");
        up_json_put_string(b, instance);
    }
    put_items(b, err);
    up_buf_append(b, "}", 1);
}

void up_kserve_error_response(const up_error *err, up_http_resp *resp)
{
    int k = kind_index(err);
    up_buf *b = &resp->body, msg;

    up_buf_free(b);
    up_buf_init(&msg);
    resp->status = kinds[k].status;
    resp->content_type = "application/json";
    if (!err || err->n == 0) up_buf_puts(&msg, up_err_kind_title((up_err_kind)k));
    for (int i = 0; err && i < err->n && i < UP_ERR_MAX_ITEMS; i++) {
        if (i) up_buf_puts(&msg, "; ");
        if (err->items[i].field[0]) up_buf_printf(&msg, "%s: ", err->items[i].field);
        up_buf_puts(&msg, err->items[i].message);
    }
    up_buf_puts(b, "{\"error\":");
    up_json_put_string(b, msg.failed ? up_err_kind_title((up_err_kind)k) : msg.data);
    up_buf_append(b, "}", 1);
    up_buf_free(&msg);
}
