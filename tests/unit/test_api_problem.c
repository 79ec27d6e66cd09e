/* test_api_problem.c -- error kinds to HTTP statuses, problem+json bodies
 * (RFC 9457) and KServe error bodies (problem.c). Bodies are parsed back
 * with cJSON: whatever an error message holds, the answer must be valid
 * JSON with the documented members. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "tests/support/harness.h"

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static void test_statuses(void)
{
    static const struct {
        up_err_kind kind;
        int status;
        const char *slug;
    } want[] = {
        {UP_E_MALFORMED, 400, "malformed-request"},
        {UP_E_UNAUTHORIZED, 401, "unauthorized"},
        {UP_E_NOT_FOUND, 404, "not-found"},
        {UP_E_METHOD, 405, "method-not-allowed"},
        {UP_E_NOT_ACCEPTABLE, 406, "not-acceptable"},
        {UP_E_TOO_LARGE, 413, "too-large"},
        {UP_E_MEDIA_TYPE, 415, "unsupported-media-type"},
        {UP_E_INVALID, 422, "invalid-request"},
        {UP_E_OVERLOADED, 503, "overloaded"},
        {UP_E_DEADLINE, 504, "deadline-exceeded"},
        {UP_E_INTERNAL, 500, "internal-error"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        up_error e;
        up_http_resp r;
        char type[128];
        up_error_clear(&e);
        up_errorf(&e, want[i].kind, "f", "m");
        CHECK(up_err_status(&e) == want[i].status);
        up_http_resp_init(&r);
        up_problem_response(&e, "id", "/p", &r);
        CHECK(r.status == want[i].status);
        cJSON *j = cJSON_Parse(r.body.data);
        snprintf(type, sizeof(type), "https://unpoold.dev/problems/%s", want[i].slug);
        CHECKF(j && !strcmp(get(j, "type")->valuestring, type), "kind %d", (int)want[i].kind);
        CHECK(j && get(j, "status")->valuedouble == want[i].status);
        CHECK(j && !strcmp(get(j, "title")->valuestring, up_err_kind_title(want[i].kind)));
        cJSON_Delete(j);
        up_http_resp_free(&r);
    }
    /* no error at all is a bug, not a success */
    up_error none;
    up_error_clear(&none);
    CHECK(up_err_status(&none) == 500);
    CHECK(up_err_status(NULL) == 500);
}

static void test_problem_body(void)
{
    up_error e;
    up_http_resp r;
    up_error_clear(&e);
    up_errorf(&e, UP_E_INVALID, "params.kernel_size", "expected 2 values for a 2d input, got %d", 3);
    up_http_resp_init(&r);
    up_problem_response(&e, "req-42", "/v1/ops/max_unpool", &r);
    CHECK(r.status == 422);
    CHECK(r.content_type && !strcmp(r.content_type, "application/problem+json"));
    cJSON *j = cJSON_Parse(r.body.data);
    CHECK(j != NULL);
    if (j) {
        CHECK(!strcmp(get(j, "title")->valuestring, "Unprocessable Content"));
        CHECK(!strcmp(get(j, "detail")->valuestring, "expected 2 values for a 2d input, got 3"));
        CHECK(!strcmp(get(j, "instance")->valuestring, "req-42"));
        const cJSON *errs = get(j, "errors");
        CHECK(cJSON_GetArraySize(errs) == 1);
        CHECK(!strcmp(get(errs->child, "field")->valuestring, "params.kernel_size"));
        CHECK(!strcmp(get(errs->child, "message")->valuestring,
                      "expected 2 values for a 2d input, got 3"));
        /* exactly the RFC 9457 members plus errors */
        CHECK(cJSON_GetArraySize(j) == 6);
    }
    cJSON_Delete(j);
    up_http_resp_free(&r);
}

static void test_several_errors(void)
{
    up_error e;
    up_http_resp r;
    up_error_clear(&e);
    up_errorf(&e, UP_E_INVALID, "inputs.x", "required input x is missing");
    up_errorf(&e, UP_E_MALFORMED, "inputs.weight", "required input weight is missing");
    up_http_resp_init(&r);
    up_problem_response(&e, "", "/v1/ops/conv_transpose", &r);
    CHECK(r.status == 422); /* the first kind wins */
    cJSON *j = cJSON_Parse(r.body.data);
    CHECK(j != NULL);
    if (j) {
        CHECK(cJSON_GetArraySize(get(j, "errors")) == 2);
        CHECK(strstr(get(j, "detail")->valuestring, "required input x is missing") != NULL);
        CHECK(strstr(get(j, "detail")->valuestring, "1 more") != NULL);
        /* no request id: the path identifies the occurrence */
        CHECK(!strcmp(get(j, "instance")->valuestring, "/v1/ops/conv_transpose"));
    }
    cJSON_Delete(j);
    up_http_resp_free(&r);

    /* no items: detail is the title, errors is empty */
    up_error_clear(&e);
    e.kind = UP_E_NOT_FOUND;
    up_http_resp_init(&r);
    up_problem_response(&e, "x", NULL, &r);
    j = cJSON_Parse(r.body.data);
    CHECK(j && !strcmp(get(j, "detail")->valuestring, "Not Found"));
    CHECK(j && cJSON_GetArraySize(get(j, "errors")) == 0);
    cJSON_Delete(j);
    up_http_resp_free(&r);
}

/* Messages quote client input (unknown param names, dtypes): quotes,
 * control characters and broken UTF-8 must not break the JSON. */
static void test_hostile_text(void)
{
    up_error e;
    up_http_resp r;
    up_error_clear(&e);
    up_errorf(&e, UP_E_INVALID, "params.\"x\"", "unknown param \"%s\"", "a\\b\r\n\t\x02\xc3(\xe2\x82\xac");
    up_http_resp_init(&r);
    up_problem_response(&e, "id\"\x7f", "/", &r);
    cJSON *j = cJSON_Parse(r.body.data);
    CHECKF(j != NULL, "%s", r.body.data);
    if (j) {
        CHECK(!strcmp(get(get(j, "errors")->child, "field")->valuestring, "params.\"x\""));
        CHECK(!strcmp(get(j, "detail")->valuestring,
                      "unknown param \"a\\b\r\n\t\x02\xef\xbf\xbd(\xe2\x82\xac\""));
        CHECK(!strcmp(get(j, "instance")->valuestring, "id\"\x7f"));
    }
    cJSON_Delete(j);
    up_http_resp_free(&r);
}

static void test_kserve_error(void)
{
    up_error e;
    up_http_resp r;
    up_error_clear(&e);
    up_errorf(&e, UP_E_TOO_LARGE, "inputs.x", "too many elements");
    up_errorf(&e, UP_E_TOO_LARGE, "", "and \"more\"");
    up_http_resp_init(&r);
    up_kserve_error_response(&e, &r);
    CHECK(r.status == 413);
    CHECK(r.content_type && !strcmp(r.content_type, "application/json"));
    cJSON *j = cJSON_Parse(r.body.data);
    CHECK(j && cJSON_GetArraySize(j) == 1);
    CHECK(j && !strcmp(get(j, "error")->valuestring, "inputs.x: too many elements; and \"more\""));
    cJSON_Delete(j);
    up_http_resp_free(&r);
}

/* A response reused for an error after a partial success body: the old
 * bytes are dropped. */
static void test_resp_reuse(void)
{
    up_error e;
    up_http_resp r;
    up_http_resp_init(&r);
    CHECK(r.status == 0 && r.body.len == 0 && r.extra_header_name[0] == '\0');
    up_buf_puts(&r.body, "{\"partial\":");
    up_error_clear(&e);
    up_errorf(&e, UP_E_INTERNAL, "", "out of memory");
    up_problem_response(&e, "id", "/", &r);
    cJSON *j = cJSON_Parse(r.body.data);
    CHECK(j && get(j, "partial") == NULL && get(j, "status")->valuedouble == 500);
    cJSON_Delete(j);
    up_http_resp_free(&r);
    CHECK(r.body.data == NULL && r.body.len == 0);
}

int main(void)
{
    RUN(test_statuses);
    RUN(test_problem_body);
    RUN(test_several_errors);
    RUN(test_hostile_text);
    RUN(test_kserve_error);
    RUN(test_resp_reuse);
    return th_summary();
}
