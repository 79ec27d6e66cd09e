/* fuzz_shm.c -- requests that name shared-memory regions: KServe inputs and
 * outputs with shared_memory_* parameters, /v1 {"shm": ...} tensors and
 * "outputs", and the register body. Byte 1 chooses the decoder (even:
 * KServe, odd: /v1 JSON); every fourth input is also read as a register
 * body.
 *
 * The resolver is the server's contract in miniature: two regions, "r"
 * and "s", on one 64 KiB heap block (s is its second half, so the overlap
 * check across regions is reached), ranges checked as the server checks
 * them; the kernel then really reads and writes the block, so ASan sees
 * any access outside the range a decoder was given. Every pin must be
 * released by up_call_free: a leak or a double release aborts. */
#include "fuzz_common.h"

#define FZ_SHM_BYTES 65536

static unsigned char *fz_block;
static int fz_pins;

typedef struct fz_region {
    const char *name;
    uint64_t offset, size;
} fz_region;

static const fz_region fz_regions[] = {{"r", 0, FZ_SHM_BYTES}, {"s", FZ_SHM_BYTES / 2, FZ_SHM_BYTES / 2}};

static int fz_acquire(void *ctx, const char *name, uint64_t offset, uint64_t byte_size,
                      up_shm_span *span, up_error *err)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof(fz_regions) / sizeof(fz_regions[0]); i++) {
        const fz_region *r = &fz_regions[i];
        if (strcmp(name, r->name) != 0) continue;
        if (offset > r->size || byte_size > r->size - offset)
            return up_errorf(err, UP_E_INVALID, "shared_memory_region", "outside region");
        fz_pins++;
        *span = (up_shm_span){.addr = fz_block + r->offset + offset, .pin = (void *)r,
                              .obj_dev = 1, .obj_ino = 1, .obj_offset = r->offset + offset,
                              .len = byte_size};
        return 0;
    }
    return up_errorf(err, UP_E_INVALID, "shared_memory_region", "not registered");
}

static void fz_release(void *ctx, void *pin)
{
    (void)ctx;
    if (!pin || --fz_pins < 0) abort();
}

static const up_shm_resolver fz_resolver = {fz_acquire, fz_release, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    up_call c;
    up_error err;
    up_http_req req = {0};
    fz_budget budget;
    if (size < 3) return 0;
    if (!fz_block) fz_block = calloc(1, FZ_SHM_BYTES);
    up_call_init(&c);
    up_error_clear(&err);
    req.content_type = "application/json";
    req.charge = fz_charge(&budget, size);
    req.shm = &fz_resolver;
    req.body = fz_copy(data + 2, size - 2);
    req.body_len = size - 2;
    if (data[1] & 1)
        fz_finish(&c, up_call_decode_v1(&c, fz_op(data[0]), &req, &fz_limits, &err), &err);
    else
        fz_finish(&c, up_call_decode_kserve(&c, fz_op(data[0]), &req, &fz_limits, &err), &err);
    if (fz_pins != 0) abort(); /* every pin released by up_call_free */
    if (size % 4 == 0) {
        up_shm_register_body b;
        up_error_clear(&err);
        if (up_shm_register_request(req.body, req.body_len, &fz_limits, &req.charge, &b, &err) < 0)
            fz_no_500(&err);
        else if (strlen(b.key) >= sizeof(b.key))
            abort();
    }
    free(req.body);
    return 0;
}
