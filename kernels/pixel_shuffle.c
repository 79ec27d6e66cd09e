/* pixel_shuffle.c -- sub-pixel up-sampling and its inverse: PyTorch's
 * pixel_shuffle / pixel_unshuffle, ONNX DepthToSpace / SpaceToDepth,
 * TensorFlow's depth_to_space / space_to_depth.
 *
 *   pixel_shuffle:   y[n, c, h * r + i, w * r + j] = x[n, ch(c, i, j), h, w]
 *   pixel_unshuffle: y[n, ch(c, i, j), h, w] = x[n, c, h * r + i, w * r + j]
 *
 * with r the factor, C the channels of the large side and ch(c, i, j) =
 *   crd: c * r^2 + i * r + j    (PyTorch; ONNX DepthToSpace mode CRD)
 *   dcr: (i * r + j) * C + c    (ONNX DepthToSpace default and SpaceToDepth;
 *                                TensorFlow, whose NHWC channel order it is)
 *
 * Both are pure permutations, so they run on the dtype as sent (the op is
 * flagged UP_OPF_MOVES_BYTES): elements move as 1, 2, 4 or 8-byte words and
 * no conversion happens on the way in or out. The cost is one read and one
 * write of the tensor; a work unit is one row of the large side (W * r
 * contiguous elements) and its r partner rows of the small side, which are
 * consecutive channels (crd) or C channels apart (dcr), so every access
 * streams through whole rows. channels_last goes through the plan's usual
 * permutes (plan.c), which cost two more passes. */
#include <stdint.h>

#include "dispatch.h"
#include "geometry.h"
#include "ops.h"
#include "template.h"

enum { MODE_CRD = 0, MODE_DCR = 1 };

/* Above this factor the interleaves walk one partner row at a time, so
 * their inner loop is as long as a row whatever r is. */
#define SHUFFLE_SMALL_R 8

typedef struct shuffle_geom {
    int64_t r, H, W;   /* factor; spatial size of the small side */
    int64_t HR, WR;    /* H * r, W * r: the large side */
    int64_t CL, CS;    /* channels of the large side (C), of the small side (C * r^2) */
    int64_t js;        /* elements between partner rows j and j + 1 */
    int mode, up;      /* up: pixel_shuffle (small side is x) */
} shuffle_geom;

static inline int64_t shuffle_channel(const shuffle_geom *s, int64_t c, int64_t i, int64_t j)
{
    return s->mode == MODE_CRD ? c * s->r * s->r + i * s->r + j : (i * s->r + j) * s->CL + c;
}

#define T uint8_t
#define SFX b1
#include "pixel_shuffle_impl.h"
#define T uint16_t
#define SFX b2
#include "pixel_shuffle_impl.h"
#define T uint32_t
#define SFX b4
#include "pixel_shuffle_impl.h"
#define T uint64_t
#define SFX b8
#include "pixel_shuffle_impl.h"

/* The geometry from the plan (prepare checked every size). */
static void shuffle_geom_of(const up_plan *p, shuffle_geom *s)
{
    const up_geom *g = &p->g;
    int up = p->op == up_op_at(UP_OP_PIXEL_SHUFFLE);
    s->up = up;
    s->r = g->kernel[0];
    s->mode = g->mode;
    s->H = up ? g->in[0] : g->out[0];
    s->W = up ? g->in[1] : g->out[1];
    s->HR = s->H * s->r;
    s->WR = s->W * s->r;
    s->CL = up ? g->C_out : g->C;
    s->CS = up ? g->C : g->C_out;
    s->js = (s->mode == MODE_CRD ? 1 : s->CL) * s->H * s->W;
}

/* Shared prepare: the factor, mode and shapes of either direction. */
static int prepare_shuffle(up_plan *p, int up, int factor_slot, int mode_slot, up_error *err)
{
    up_geom *g = &p->g;
    const char *field = up ? "params.upscale_factor" : "params.downscale_factor";
    int64_t r = up_param_int(p, factor_slot, -1), r2, es = (int64_t)up_dtype_size(p->compute);
    int64_t numel, large_row;
    if (!up_plan_param_set(p, factor_slot))
        return up_errorf(err, UP_E_INVALID, field, "%s is required", field + 7);
    if (r < 1 || r > UP_GEOM_MAX_PARAM)
        return up_errorf(err, UP_E_INVALID, field, "must lie in [1, %lld], got %lld",
                         (long long)UP_GEOM_MAX_PARAM, (long long)r);
    g->mode = up_param_enum(p, mode_slot);
    g->kernel[0] = g->kernel[1] = r;
    r2 = r * r; /* r < 2^31: fits */
    if (up) {
        if (g->C % r2 != 0)
            return up_errorf(err, UP_E_INVALID, field,
                             "the channels of x, %lld, must be divisible by upscale_factor^2 "
                             "= %lld",
                             (long long)g->C, (long long)r2);
        g->C_out = g->C / r2;
        for (int d = 0; d < 2; d++)
            if (up_mul_i64(g->in[d], r, &g->out[d]) < 0)
                return up_errorf(err, UP_E_TOO_LARGE, field, "output size overflows");
    } else {
        for (int d = 0; d < 2; d++) {
            if (g->in[d] % r != 0)
                return up_errorf(err, UP_E_INVALID, field,
                                 "spatial size %lld of x in dim %d must be divisible by "
                                 "downscale_factor %lld",
                                 (long long)g->in[d], d, (long long)r);
            g->out[d] = g->in[d] / r;
        }
        if (up_mul_i64(g->C, r2, &g->C_out) < 0)
            return up_errorf(err, UP_E_TOO_LARGE, field, "output channels overflow");
    }
    if (up_plan_set_output(p, UP_OUT_Y, p->compute, g->N, g->C_out, g->out, err) < 0) return -1;
    numel = up_tensor_numel(&p->out[UP_OUT_Y]);
    large_row = up ? g->out[1] : g->in[1];
    p->work_units = numel ? numel / large_row : 0;
    p->work = numel;
    p->unit_cost = 2 * (numel ? large_row : 1) * es;
    return 0;
}

int prepare_pixel_shuffle(up_plan *p, up_error *err)
{
    return prepare_shuffle(p, 1, PIXEL_SHUFFLE_P_upscale_factor, PIXEL_SHUFFLE_P_mode, err);
}

int prepare_pixel_unshuffle(up_plan *p, up_error *err)
{
    return prepare_shuffle(p, 0, PIXEL_UNSHUFFLE_P_downscale_factor, PIXEL_UNSHUFFLE_P_mode, err);
}

/* One kernel for every dtype, by element size: the registry's f32 and f64
 * slots both point here (up_plan_run picks by compute dtype, which for
 * these ops is the dtype as sent). */
static void shuffle_run(const up_plan *p, int64_t begin, int64_t end, up_fault *fault)
{
    shuffle_geom s;
    (void)fault;
    shuffle_geom_of(p, &s);
    switch (up_dtype_size(p->compute)) {
    case 1: shuffle_rows_b1(p, &s, begin, end); break;
    case 2: shuffle_rows_b2(p, &s, begin, end); break;
    case 4: shuffle_rows_b4(p, &s, begin, end); break;
    default: shuffle_rows_b8(p, &s, begin, end); break;
    }
}

void compute_forward_pixel_shuffle_f32(const up_plan *p, int64_t b, int64_t e, up_fault *f)
{
    shuffle_run(p, b, e, f);
}
void compute_forward_pixel_shuffle_f64(const up_plan *p, int64_t b, int64_t e, up_fault *f)
{
    shuffle_run(p, b, e, f);
}
void compute_forward_pixel_unshuffle_f32(const up_plan *p, int64_t b, int64_t e, up_fault *f)
{
    shuffle_run(p, b, e, f);
}
void compute_forward_pixel_unshuffle_f64(const up_plan *p, int64_t b, int64_t e, up_fault *f)
{
    shuffle_run(p, b, e, f);
}
