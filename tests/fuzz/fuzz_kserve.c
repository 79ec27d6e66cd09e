/* fuzz_kserve.c -- KServe v2 infer requests: the JSON header alone, or the
 * binary tensor data extension (Inference-Header-Content-Length splitting
 * the body into a JSON header and raw tensor bytes). Byte 1 chooses: even
 * = plain JSON, odd = binary with the header length from bytes 2-3. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    up_call c;
    up_error err;
    up_http_req req = {0};
    fz_budget budget;
    char hlen[32];
    size_t off = 2;
    if (size < 4) return 0;
    up_call_init(&c);
    up_error_clear(&err);
    req.content_type = "application/json";
    if (data[1] & 1) {
        snprintf(hlen, sizeof(hlen), "%u", (unsigned)(data[2] | data[3] << 8));
        req.inference_header_length = hlen;
        req.content_type = "application/octet-stream";
        off = 4;
    }
    req.charge = fz_charge(&budget, size);
    req.body = fz_copy(data + off, size - off);
    req.body_len = size - off;
    fz_finish(&c, up_call_decode_kserve(&c, fz_op(data[0]), &req, &fz_limits, &err), &err);
    free(req.body);
    return 0;
}
