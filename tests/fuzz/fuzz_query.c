/* fuzz_query.c -- op params and options from the query string, on a small
 * valid body, so every param combination reaches validation and, when it
 * passes, the kernel. */
#include "fuzz_common.h"

static const char body_x[] = "{\"inputs\":{\"x\":[[[[1,2,3],[4,5,6],[7,8,9]]]]}}";
static const char body_conv[] =
    "{\"inputs\":{\"x\":[[[[1,2],[3,4]]]],\"weight\":[[[[1,2],[3,4]]]]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    up_call c;
    up_error err;
    up_http_req req = {0};
    up_kv kv[16];
    const up_op_def *op;
    if (size < 1) return 0;
    op = fz_op(data[0]);
    char *q = fz_copy(data + 1, size - 1);
    q = realloc(q, size);
    q[size - 1] = '\0';
    up_call_init(&c);
    up_error_clear(&err);
    req.content_type = "application/json";
    req.body = strdup(strcmp(op->name, "conv_transpose") ? body_x : body_conv);
    req.body_len = strlen(req.body);
    req.query = kv;
    req.n_query = fz_query(q, kv, 16);
    fz_finish(&c, up_call_decode_v1(&c, op, &req, &fz_limits, &err), &err);
    free(req.body);
    free(q);
    return 0;
}
