/* fuzz_grpc.c -- KServe v2 gRPC messages (api/kserve_grpc.c): protobuf
 * bytes as the transport hands them over. Byte 0 chooses the decoder:
 * 0-3 the small messages (ModelReady/ModelMetadata, shared-memory status,
 * unregister, register), anything else ModelInferRequest; the rest of the
 * input is the message. A ModelInferRequest that decodes is run and
 * encoded too, and its answer must stay within the bound the server
 * charges before the kernel runs. */
#include "api/kserve_grpc.h"
#include "fuzz_common.h"

static void small(uint8_t pick, const uint8_t *d, size_t n)
{
    up_error err;
    char name[64];
    up_shm_register_body b;
    up_error_clear(&err);
    switch (pick) {
    case 0:
        if (!up_grpc_model_request(d, n, &err)) fz_no_500(&err);
        break;
    case 1:
    case 2:
        if (up_grpc_shm_name_request(pick == 1 ? UP_GM_SHM_STATUS : UP_GM_SHM_UNREGISTER, d, n,
                                     name, &err) < 0)
            fz_no_500(&err);
        else if (strlen(name) >= 64) abort();
        break;
    default:
        if (up_grpc_shm_register_request(d, n, name, &b, &err) < 0) fz_no_500(&err);
        else if (!name[0] || !b.key[0]) abort();
        break;
    }
}

static void infer(const uint8_t *d, size_t n)
{
    up_call c;
    up_error err;
    fz_budget budget;
    up_grpc_in in = {.charge = fz_charge(&budget, n)};
    char *msg = fz_copy(d, n);
    up_error_clear(&err);
    if (up_grpc_decode_infer(&c, msg, n, &in, &fz_limits, &err) < 0) {
        fz_no_500(&err);
    } else {
        up_fault f;
        up_timing t = {0};
        up_grpc_answer a;
        int64_t bound = up_grpc_answer_bytes(&c);
        up_fault_init(&f);
        up_plan_run(&c.plan, 0, c.plan.work_units, &f);
        up_grpc_answer_init(&a);
        up_error_clear(&err);
        if (up_grpc_encode_infer(&c, &f, &t, &a, &err) < 0) fz_no_500(&err);
        else if ((int64_t)a.head.cap > bound) abort();
        up_grpc_answer_free(&a);
    }
    up_call_free(&c); /* frees msg: the call took it */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] < 4) small(data[0], data + 1, size - 1);
    else infer(data + 1, size - 1);
    return 0;
}
