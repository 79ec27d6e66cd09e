/* fuzz_json.c -- the v1 JSON body: tensors (data, data_b64, nested lists),
 * params and options, then the kernel and the encoder. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    up_call c;
    up_error err;
    up_http_req req = {0};
    fz_budget budget;
    if (size < 1) return 0;
    up_call_init(&c);
    up_error_clear(&err);
    req.content_type = "application/json";
    req.charge = fz_charge(&budget, size);
    req.body = fz_copy(data + 1, size - 1);
    req.body_len = size - 1;
    fz_finish(&c, up_call_decode_v1(&c, fz_op(data[0]), &req, &fz_limits, &err), &err);
    free(req.body);
    return 0;
}
