/* test_plan_out_dest.c -- outputs written into caller-provided memory
 * (up_plan.out_dest, the shared-memory path): the kernel writes there
 * directly when no conversion is needed, nothing is charged or allocated
 * for that output, a converted result is copied there once, and the
 * memory must be exactly the result's size and aligned for its dtype. */
#include <stdlib.h>
#include <string.h>

#include "kernels/convert.h"
#include "kernels/op.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

typedef struct counter {
    int64_t charged;
    int outputs; /* charges named "y" */
} counter;

static int count_take(void *ctx, int64_t bytes, const char *what, up_error *err)
{
    counter *c = ctx;
    (void)err;
    c->charged += bytes;
    c->outputs += strcmp(what, "y") == 0;
    return 0;
}

/* nearest_unpool x2 of a 1x1x2x2 x in dtype dt (values 1..4) */
static void nearest_plan(up_plan *p, counter *c, up_dtype dt)
{
    static const int64_t shape[] = {1, 1, 2, 2};
    static const float v32[] = {1, 2, 3, 4};
    uint16_t v16[4];
    for (int i = 0; i < 4; i++) v16[i] = up_f32_to_f16(v32[i]);
    up_plan_init(p, up_op_find("nearest_unpool"));
    tb_floats(p, "scale_factor", 1, (const double[]){2});
    tb_input(p, "x", dt, 4, shape, dt == UP_F16 ? (const void *)v16 : (const void *)v32);
    p->charge = (up_charge){.take = count_take, .ctx = c};
}

static int nearest_ok_f32(const float *y)
{
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (y[i * 4 + j] != (float)((i / 2) * 2 + j / 2 + 1)) return 0;
    return 1;
}

static void kernel_writes_the_callers_memory(void)
{
    up_plan p;
    up_error err;
    counter c = {0};
    float *dest = aligned_alloc(64, 64);
    up_error_clear(&err);
    nearest_plan(&p, &c, UP_F32);
    p.out_dest[0] = dest;
    p.out_dest_bytes[0] = 64;
    CHECKF(up_plan_execute(&p, &err) == 0, "%s", err.n ? err.items[0].message : "");
    CHECK(p.out[0].data == dest && p.out[0].alloc == NULL); /* no output buffer */
    CHECK(p.result[0].data == dest);
    CHECK(nearest_ok_f32(dest));
    CHECK(c.outputs == 0);          /* nothing charged for y */
    CHECK(p.mem_bytes == c.charged); /* and the cost model says so */
    up_plan_free(&p);
    CHECK(nearest_ok_f32(dest)); /* the plan does not own it */
    free(dest);
}

static void converted_result_copied_once(void)
{
    up_plan p;
    up_error err;
    counter c = {0};
    uint16_t *dest = aligned_alloc(64, 64);
    up_error_clear(&err);
    nearest_plan(&p, &c, UP_F16);
    p.out_dest[0] = dest;
    p.out_dest_bytes[0] = 32; /* 16 float16 */
    CHECKF(up_plan_execute(&p, &err) == 0, "%s", err.n ? err.items[0].message : "");
    CHECK(p.out[0].data != dest);   /* computed in float32 ... */
    CHECK(p.result[0].data == dest && p.result[0].dtype == UP_F16); /* ... and handed over */
    int ok = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) ok &= up_f16_to_f32(dest[i * 4 + j]) == (float)((i / 2) * 2 + j / 2 + 1);
    CHECK(ok);
    CHECK(p.mem_bytes == c.charged);
    up_plan_free(&p);
    free(dest);
}

static void wrong_size_refused(void)
{
    up_plan p;
    up_error err;
    counter c = {0};
    float *dest = aligned_alloc(64, 128);
    for (int64_t bytes = 60; bytes <= 68; bytes += 8) {
        up_error_clear(&err);
        c = (counter){0};
        nearest_plan(&p, &c, UP_F32);
        p.out_dest[0] = dest;
        p.out_dest_bytes[0] = bytes;
        CHECK(up_plan_prepare(&p, &err) < 0 && err.kind == UP_E_INVALID);
        CHECK(tb_err_has_field(&err, "outputs.y"));
        CHECK(c.charged == 0); /* refused before anything was allocated */
        up_plan_free(&p);
    }
    free(dest);
}

static void misaligned_refused(void)
{
    up_plan p;
    up_error err;
    counter c = {0};
    char *dest = aligned_alloc(64, 128);
    up_error_clear(&err);
    nearest_plan(&p, &c, UP_F32);
    p.out_dest[0] = dest + 2;
    p.out_dest_bytes[0] = 64;
    CHECK(up_plan_prepare(&p, &err) < 0 && err.kind == UP_E_INVALID);
    CHECK(err.n && strstr(err.items[0].message, "aligned"));
    up_plan_free(&p);
    free(dest);
}

int main(void)
{
    RUN(kernel_writes_the_callers_memory);
    RUN(converted_result_copied_once);
    RUN(wrong_size_refused);
    RUN(misaligned_refused);
    return th_summary();
}
