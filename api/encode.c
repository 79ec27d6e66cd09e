/* encode.c -- a run plan becomes the answer, in the negotiated format.
 *
 * Finishing the plan turns a kernel fault (an index outside its plane) into
 * the 422 the client sees and converts the outputs to the client's dtype
 * and layout; that conversion is encoding work, so its time opens
 * t->encode_ms and each format's encoder adds its own share on top. */
#include <time.h>

#include "codecs.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int dispatch(up_call *c, up_timing *t, const char *request_id, up_http_resp *resp,
                    up_error *err)
{
    if (c->proto == UP_PROTO_KSERVE) return up_kserve_encode_call(c, t, resp, err);
    switch (c->out_format) {
    case UP_FMT_NPY: return up_npy_encode_call(c, t, resp, err);
    case UP_FMT_SAFETENSORS: return up_safetensors_encode_call(c, t, resp, err);
    default: return up_json_encode_call(c, t, request_id, resp, err);
    }
}

int up_call_encode(up_call *c, const up_fault *fault, up_timing *t, const char *request_id,
                   up_http_resp *resp, up_error *err)
{
    double t0 = now_ms(), el, before;
    int rc;
    if (up_plan_finish(&c->plan, fault, err) < 0) return -1;
    el = now_ms() - t0;
    t->encode_ms = el;
    t->total_ms += el;
    before = t->encode_ms;
    rc = dispatch(c, t, request_id, resp, err);
    /* Encoders that write the timing into the body (JSON) account for
     * themselves; for the others the whole call is measured here. */
    if (t->encode_ms == before) {
        el = now_ms() - t0 - el;
        t->encode_ms += el;
        t->total_ms += el;
    }
    return rc;
}
