/* test_kernels_cost.c -- the plan's cost model and memory charges.
 *
 * For one small plan of every op and form (conversions of dtype and layout
 * included), a counting charge hook checks that:
 *   - the charges add up to p->mem_bytes, the figure prepare stated before
 *     allocating anything;
 *   - the heap grew by those bytes and no more (within malloc's rounding):
 *     nothing the plan allocates escapes the accountant;
 *   - up_plan_free gives all of it back.
 * A refusing hook (failing the 1st, 2nd, ... charge) must end prepare or
 * finish with the hook's own error, unchanged, and leak nothing (the heap
 * is back where it was; LeakSanitizer checks it again in the ASan build).
 * --max-work refuses before the first charge, with the estimate and the
 * limit in the message.
 *
 * Heap in use is malloc's own count (mallinfo2) in the plain build and the
 * sanitizer allocator's under ASan. Tensors are kept small (well below 1
 * MiB, where large buffers would be mapped by bigbuf.c instead). */
#include <stdlib.h>
#include <string.h>

/* Two counters: bytes live on the heap (for leaks) and bytes handed out
 * since start (for "what the plan allocated", whatever it freed again
 * before the end, such as the channels-first copy of an input). */
#if defined(__SANITIZE_ADDRESS__)
#include <stdatomic.h>
/* from the sanitizer runtime (sanitizer/allocator_interface.h, which gcc
 * does not install) */
size_t __sanitizer_get_allocated_size(const volatile void *p);
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
                                              void (*f)(const volatile void *));
/* Live bytes counted from the hooks, as the plain build counts them from
 * its wrappers, and only this test's own thread's: another thread (the
 * dynamic loader's work for a library thread) allocates a few dozen bytes
 * at moments of its own, which made __sanitizer_get_current_allocated_bytes()
 * read -184 to +184 bytes off in about one run in ten. The kernels run on
 * the calling thread, so what a plan allocates and frees is all counted.
 * The free hook runs before the block is released, so its size can still
 * be asked for. */
static _Atomic int64_t handed_out, live_bytes;
static _Thread_local int counting; /* set on the test's thread */
static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    if (!counting) return;
    handed_out += (int64_t)n;
    live_bytes += (int64_t)n;
}
static void on_free(const volatile void *p)
{
    if (counting && p) live_bytes -= (int64_t)__sanitizer_get_allocated_size(p);
}
static void counters_init(void)
{
    counting = 1;
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}
static int64_t heap_in_use(void) { return live_bytes; }
#else
/* glibc's own statistics (mallinfo2) count chunks parked in its per-thread
 * caches as in use, so they drift by a few hundred bytes either way. This
 * program instead counts what it is handed: malloc and friends are
 * wrapped around glibc's __libc_* entry points, adding each block's usable
 * size on allocation and subtracting it on free. */
#include <malloc.h>
#include <stdatomic.h>
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t a, size_t b);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);
static _Atomic int64_t live_bytes, handed_out;
static void *counted(void *p)
{
    if (p) {
        int64_t n = (int64_t)malloc_usable_size(p);
        live_bytes += n;
        handed_out += n;
    }
    return p;
}
void *malloc(size_t n) { return counted(__libc_malloc(n)); }
void *calloc(size_t a, size_t b) { return counted(__libc_calloc(a, b)); }
void *aligned_alloc(size_t align, size_t n) { return counted(__libc_memalign(align, n)); }
void *memalign(size_t align, size_t n) { return counted(__libc_memalign(align, n)); }
int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = counted(__libc_memalign(align, n));
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}
void free(void *p)
{
    if (p) live_bytes -= (int64_t)malloc_usable_size(p);
    __libc_free(p);
}
void *realloc(void *p, size_t n)
{
    int64_t old = p ? (int64_t)malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q || n == 0) live_bytes -= old;
    return counted(q);
}
static void counters_init(void) {}
static int64_t heap_in_use(void) { return live_bytes; }
#endif

#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

/* ---- hooks ----------------------------------------------------------------- */

typedef struct counter {
    int64_t bytes;
    int calls;
    int fail_at;      /* refuse the fail_at-th call (1-based); 0 = never */
    up_err_kind kind; /* what a refusal reports */
} counter;

static int count_take(void *ctx, int64_t bytes, const char *what, up_error *err)
{
    counter *c = ctx;
    if (++c->calls == c->fail_at)
        return up_errorf(err, c->kind, "budget", "refused %lld bytes for %s", (long long)bytes,
                         what);
    c->bytes += bytes;
    return 0;
}

/* ---- the plans ------------------------------------------------------------- */

typedef void (*plan_fn)(up_plan *p);

static void seq(void *buf, up_dtype dt, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = (float)((i * 7919) % 97) / 8.0f;
        if (dt == UP_F32) ((float *)buf)[i] = v;
        else if (dt == UP_F64) ((double *)buf)[i] = v;
        else if (dt == UP_U8 || dt == UP_I8) ((uint8_t *)buf)[i] = (uint8_t)(i * 37);
        else ((uint16_t *)buf)[i] = (uint16_t)(0x3c00 + (i % 64)); /* small halves */
    }
}

static void x_input(up_plan *p, up_dtype dt, int rank, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    void *buf = malloc((size_t)n * 8);
    seq(buf, dt, n);
    tb_input(p, "x", dt, rank, shape, buf);
    free(buf);
}

static void plan_max_pool(up_plan *p)
{
    static const int64_t xs[] = {2, 3, 9, 8};
    up_plan_init(p, up_op_find("max_pool"));
    x_input(p, UP_F32, 4, xs);
    tb_int(p, "kernel_size", 3);
    tb_int(p, "stride", 2);
    tb_int(p, "padding", 1);
}

static void plan_max_pool_f16_channels_last(up_plan *p)
{
    static const int64_t xs[] = {2, 7, 6, 3}; /* (N, H, W, C) */
    up_plan_init(p, up_op_find("max_pool"));
    x_input(p, UP_F16, 4, xs);
    tb_enum(p, "layout", "channels_last");
    tb_int(p, "kernel_size", 2);
}

static void plan_max_unpool_int32_indices_bf16(up_plan *p)
{
    static const int64_t xs[] = {2, 2, 3, 3};
    int32_t idx[36];
    for (int i = 0; i < 36; i++) idx[i] = (i * 5) % 36;
    up_plan_init(p, up_op_find("max_unpool"));
    x_input(p, UP_BF16, 4, xs);
    tb_input(p, "indices", UP_I32, 4, xs, idx);
    tb_int(p, "kernel_size", 2);
}

static void plan_max_unpool_float_mask_channels_last(up_plan *p)
{
    static const int64_t xs[] = {1, 3, 3, 2}, ms[] = {1, 6, 6, 2}; /* (N, H, W, C) */
    float m[72];
    for (int i = 0; i < 72; i++) m[i] = (float)(i % 5 == 0);
    up_plan_init(p, up_op_find("max_unpool"));
    x_input(p, UP_F32, 4, xs);
    tb_input(p, "mask", UP_F32, 4, ms, m);
    tb_enum(p, "layout", "channels_last");
    tb_int(p, "kernel_size", 2);
}

static void plan_nearest_f64(up_plan *p)
{
    static const int64_t xs[] = {1, 2, 5, 7};
    const double sf[] = {2.0};
    up_plan_init(p, up_op_find("nearest_unpool"));
    x_input(p, UP_F64, 4, xs);
    tb_floats(p, "scale_factor", 1, sf);
}

static void plan_fmu_interp_f16(up_plan *p)
{
    static const int64_t xs[] = {1, 2, 4, 5};
    const double sf[] = {1.5};
    up_plan_init(p, up_op_find("fractional_max_unpool"));
    x_input(p, UP_F16, 4, xs);
    tb_floats(p, "scale_factor", 1, sf);
}

static void plan_fmu_scatter(up_plan *p)
{
    static const int64_t xs[] = {1, 2, 2, 3};
    const int64_t os[] = {4, 5}, idx[] = {0, 3, 7, 11, 14, 19, 1, 2, 5, 8, 13, 18};
    up_plan_init(p, up_op_find("fractional_max_unpool"));
    x_input(p, UP_F32, 4, xs);
    tb_input(p, "indices", UP_I64, 4, xs, idx);
    tb_ints(p, "output_size", 2, os);
}

static void plan_conv_bias(up_plan *p)
{
    static const int64_t xs[] = {2, 4, 5, 5}, ws[] = {4, 3, 3, 3}, bs[] = {3};
    float w[108], b[3] = {0.5f, -1, 2};
    for (int i = 0; i < 108; i++) w[i] = (float)(i % 7) - 3;
    up_plan_init(p, up_op_find("conv_transpose"));
    x_input(p, UP_F32, 4, xs);
    tb_input(p, "weight", UP_F32, 4, ws, w);
    tb_input(p, "bias", UP_F32, 1, bs, b);
    tb_int(p, "stride", 2);
    tb_int(p, "padding", 1);
}

static void plan_conv_f16(up_plan *p)
{
    static const int64_t xs[] = {1, 2, 6}, ws[] = {2, 2, 3};
    uint16_t w[12];
    for (int i = 0; i < 12; i++) w[i] = (uint16_t)(0x3c00 + i);
    up_plan_init(p, up_op_find("conv_transpose"));
    x_input(p, UP_F16, 3, xs);
    tb_input(p, "weight", UP_F16, 3, ws, w);
}

static void plan_fmp_seed(up_plan *p)
{
    static const int64_t xs[] = {2, 3, 9, 10};
    up_plan_init(p, up_op_find("fractional_max_pool"));
    x_input(p, UP_F32, 4, xs);
    tb_int(p, "kernel_size", 2);
    tb_int(p, "output_size", 4);
    tb_int(p, "seed", 7);
}

static void plan_fmp_f64_samples(up_plan *p)
{
    static const int64_t xs[] = {1, 2, 6, 6, 6}, ss[] = {1, 2, 3};
    const float smp[] = {0.1f, 0.5f, 0.9f, 0.3f, 0.7f, 0.2f}; /* float32 -> float64 */
    up_plan_init(p, up_op_find("fractional_max_pool"));
    x_input(p, UP_F64, 5, xs);
    tb_input(p, "samples", UP_F32, 3, ss, smp);
    tb_int(p, "kernel_size", 2);
    tb_int(p, "output_size", 3);
}

static void plan_pixel_shuffle_u8_channels_last(up_plan *p)
{
    static const int64_t xs[] = {2, 3, 4, 8}; /* (N, H, W, C) */
    up_plan_init(p, up_op_find("pixel_shuffle"));
    x_input(p, UP_U8, 4, xs);
    tb_enum(p, "layout", "channels_last");
    tb_int(p, "upscale_factor", 2);
}

static void plan_pixel_unshuffle_f16_dcr(up_plan *p)
{
    static const int64_t xs[] = {1, 3, 6, 9};
    up_plan_init(p, up_op_find("pixel_unshuffle"));
    x_input(p, UP_F16, 4, xs);
    tb_enum(p, "mode", "dcr");
    tb_int(p, "downscale_factor", 3);
}

static void plan_max_pool_u8_pads(up_plan *p)
{
    static const int64_t xs[] = {2, 3, 7, 6};
    const int64_t pads[] = {2, 0, 1, 2};
    up_plan_init(p, up_op_find("max_pool"));
    x_input(p, UP_U8, 4, xs);
    tb_int(p, "kernel_size", 3);
    tb_ints(p, "pads", 4, pads);
    tb_int(p, "storage_order", 1);
}

static void plan_max_unpool_i8(up_plan *p)
{
    static const int64_t xs[] = {1, 2, 3, 3};
    int64_t idx[18];
    for (int i = 0; i < 18; i++) idx[i] = (i * 5) % 36;
    up_plan_init(p, up_op_find("max_unpool"));
    x_input(p, UP_I8, 4, xs);
    tb_input(p, "indices", UP_I64, 4, xs, idx);
    tb_int(p, "kernel_size", 2);
}

static const struct {
    const char *name;
    plan_fn make;
} plans[] = {
    {"pixel_shuffle_u8_channels_last", plan_pixel_shuffle_u8_channels_last},
    {"pixel_unshuffle_f16_dcr", plan_pixel_unshuffle_f16_dcr},
    {"max_pool_u8_pads", plan_max_pool_u8_pads},
    {"max_unpool_i8", plan_max_unpool_i8},
    {"max_pool", plan_max_pool},
    {"max_pool_f16_channels_last", plan_max_pool_f16_channels_last},
    {"max_unpool_int32_indices_bf16", plan_max_unpool_int32_indices_bf16},
    {"max_unpool_float_mask_channels_last", plan_max_unpool_float_mask_channels_last},
    {"nearest_f64", plan_nearest_f64},
    {"fmu_interp_f16", plan_fmu_interp_f16},
    {"fmu_scatter", plan_fmu_scatter},
    {"conv_bias", plan_conv_bias},
    {"conv_f16", plan_conv_f16},
    {"fmp_seed", plan_fmp_seed},
    {"fmp_f64_samples", plan_fmp_f64_samples},
};
#define N_PLANS ((int)(sizeof(plans) / sizeof(plans[0])))

/* prepare + run + finish with hook c installed; 0 or -1 (err set). */
static int run_with(up_plan *p, counter *c, up_error *err)
{
    up_fault f;
    p->charge.take = count_take;
    p->charge.ctx = c;
    up_error_clear(err);
    up_fault_init(&f);
    if (up_plan_prepare(p, err) < 0) return -1;
    up_plan_run(p, 0, p->work_units, &f);
    return up_plan_finish(p, &f, err);
}

/* Once per plan before measuring: per-thread buffers (conv_transpose's
 * col chunk), OpenBLAS's first-call state, stdio. */
static void warm_up(void)
{
    for (int i = 0; i < N_PLANS; i++) {
        up_plan p;
        up_error err;
        plans[i].make(&p);
        up_error_clear(&err);
        CHECK(up_plan_execute(&p, &err) == 0);
        up_plan_free(&p);
    }
}

/* Bytes malloc may add to a charge: header and alignment slack (the
 * plain build counts usable sizes; ASan counts requested sizes). */
#define SLACK_PER_CHARGE 64

static void test_charges_equal_bytes_allocated(void)
{
    warm_up();
    for (int i = 0; i < N_PLANS; i++) {
        up_plan p;
        up_error err;
        counter c = {0};
        int64_t base = heap_in_use(), out0, allocated, left;
        plans[i].make(&p);
        out0 = handed_out;
        int rc = run_with(&p, &c, &err);
        allocated = handed_out - out0;
        CHECKF(rc == 0, "%s: %s", plans[i].name, err.n ? err.items[0].message : "");
        CHECKF(c.bytes == p.mem_bytes, "%s: charged %lld, stated %lld", plans[i].name,
               (long long)c.bytes, (long long)p.mem_bytes);
        CHECKF(c.calls > 0, "%s: no charge", plans[i].name);
        CHECKF(allocated >= c.bytes && allocated <= c.bytes + SLACK_PER_CHARGE * c.calls,
               "%s: %lld bytes allocated for %lld charged in %d charges", plans[i].name,
               (long long)allocated, (long long)c.bytes, c.calls);
        CHECKF(p.work > 0, "%s: work %lld", plans[i].name, (long long)p.work);
        up_plan_free(&p);
        left = heap_in_use() - base;
        CHECKF(left == 0, "%s: %lld bytes left after free", plans[i].name, (long long)left);
    }
}

/* Refuse each charge in turn: the hook's error comes back as it was made,
 * and freeing the plan returns the heap to where it was. */
static void test_refused_charge_returns_hook_error_and_leaks_nothing(void)
{
    warm_up();
    for (int i = 0; i < N_PLANS; i++) {
        counter all = {0};
        up_error err;
        up_plan p;
        plans[i].make(&p);
        CHECK(run_with(&p, &all, &err) == 0);
        up_plan_free(&p);
        for (int k = 1; k <= all.calls; k++) {
            counter c = {.fail_at = k, .kind = k % 2 ? UP_E_OVERLOADED : UP_E_TOO_LARGE};
            int64_t before = heap_in_use();
            plans[i].make(&p);
            CHECKF(run_with(&p, &c, &err) < 0, "%s: refusal %d ignored", plans[i].name, k);
            CHECKF(err.kind == c.kind && err.n == 1 && strcmp(err.items[0].field, "budget") == 0 &&
                       strncmp(err.items[0].message, "refused ", 8) == 0,
                   "%s: refusal %d came back as kind %d, %s: %s", plans[i].name, k,
                   (int)err.kind, err.n ? err.items[0].field : "", err.n ? err.items[0].message : "");
            CHECKF(c.calls == k, "%s: %d charges after refusal %d", plans[i].name, c.calls, k);
            up_plan_free(&p);
            CHECKF(heap_in_use() == before, "%s: refusal %d leaked %lld bytes", plans[i].name, k,
                   (long long)(heap_in_use() - before));
        }
    }
}

/* --max-work: refused before the first charge, with the estimate and the
 * limit; exactly at the estimate it runs. */
static void test_max_work_refuses_before_any_charge(void)
{
    for (int i = 0; i < N_PLANS; i++) {
        counter c = {0};
        up_error err;
        up_plan p;
        int64_t work, before;
        char want[160];
        plans[i].make(&p);
        CHECK(run_with(&p, &c, &err) == 0);
        work = p.work;
        up_plan_free(&p);

        c = (counter){0};
        plans[i].make(&p);
        p.max_work = work - 1;
        before = handed_out;
        CHECK(run_with(&p, &c, &err) < 0);
        CHECKF(err.kind == UP_E_TOO_LARGE && tb_err_has_field(&err, "params"), "%s: kind %d %s",
               plans[i].name, (int)err.kind, err.n ? err.items[0].field : "");
        snprintf(want, sizeof(want), "about %lld element operations, over --max-work %lld",
                 (long long)work, (long long)(work - 1));
        CHECKF(err.n && strcmp(err.items[0].message, want) == 0, "%s: message %s", plans[i].name,
               err.n ? err.items[0].message : "");
        CHECKF(c.calls == 0, "%s: %d charges before the refusal", plans[i].name, c.calls);
        CHECKF(handed_out == before, "%s: %lld bytes allocated before the refusal",
               plans[i].name, (long long)(handed_out - before));
        up_plan_free(&p);

        plans[i].make(&p);
        p.max_work = work;
        CHECKF(run_with(&p, &c, &err) == 0, "%s at its own estimate: %s", plans[i].name,
               err.n ? err.items[0].message : "");
        up_plan_free(&p);
    }
}

/* The estimate follows the window actually scanned, not the params: a
 * kernel of 2^31 - 1 over a row of 64 scans at most 64 per output. */
static void test_max_pool_work_bounded_by_input_not_kernel(void)
{
    static const int64_t xs[] = {1, 1, 64};
    up_plan p;
    up_error err;
    up_plan_init(&p, up_op_find("max_pool"));
    tb_input(&p, "x", UP_F32, 3, xs, NULL);
    tb_int(&p, "kernel_size", INT32_MAX);
    tb_int(&p, "padding", INT32_MAX / 2);
    tb_int(&p, "stride", 1);
    up_error_clear(&err);
    CHECKF(up_plan_prepare(&p, &err) == 0, "%s", err.n ? err.items[0].message : "");
    CHECKF(p.work >= 64 * 64 && p.work <= 64 * 65 + 64, "work %lld", (long long)p.work);
    up_plan_free(&p);
}

/* conv_transpose: the GEMM's multiply-adds N * C_out * K * HW_in *
 * C_in/groups, at 1/16 of an element operation each (conv_transpose.c).
 * (2, 4, 5, 5) x (4, 3, 3, 3): 2 * 3 * 9 * 25 * 4 = 5400 -> 337. */
static void test_conv_work_counts_macs(void)
{
    up_plan p;
    up_error err;
    plan_conv_bias(&p);
    up_error_clear(&err);
    CHECKF(up_plan_prepare(&p, &err) == 0, "%s", err.n ? err.items[0].message : "");
    /* + col2im adds (1350) + bias fill of y (2 * 3 * 9 * 9 = 486) */
    CHECKF(p.work == 5400 / 16 + 1350 + 486, "work %lld", (long long)p.work);
    up_plan_free(&p);
}

int main(void)
{
    counters_init();
    RUN(test_charges_equal_bytes_allocated);
    RUN(test_refused_charge_returns_hook_error_and_leaks_nothing);
    RUN(test_max_work_refuses_before_any_charge);
    RUN(test_max_pool_work_bounded_by_input_not_kernel);
    RUN(test_conv_work_counts_macs);
    return th_summary();
}
