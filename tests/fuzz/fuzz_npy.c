/* fuzz_npy.c -- the application/x-npy body (header parsing, offsets, dtypes,
 * in-place views), with a few params from the query string. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    up_call c;
    up_error err;
    up_http_req req = {0};
    fz_budget budget;
    up_kv kv[8];
    char q[64];
    const up_op_def *op;
    if (size < 2) return 0;
    op = fz_op(data[0]);
    snprintf(q, sizeof(q), "%s", fz_default_query(op, data[1]));
    up_call_init(&c);
    up_error_clear(&err);
    req.content_type = "application/x-npy";
    req.charge = fz_charge(&budget, size);
    req.body = fz_copy(data + 2, size - 2);
    req.body_len = size - 2;
    req.query = kv;
    req.n_query = fz_query(q, kv, 8);
    fz_finish(&c, up_call_decode_v1(&c, op, &req, &fz_limits, &err), &err);
    free(req.body);
    return 0;
}
