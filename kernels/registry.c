/* registry.c -- the op table: every op unpoold serves, as data.
 *
 * Routing, GET /v1/ops, KServe model metadata and the docs read this table
 * and nothing else, so an op's name, inputs, params and defaults are written
 * exactly once. Adding an op: its id (op.h) and slots (ops.h), one entry
 * here, and its kernel file. The compiler checks that every table has
 * exactly its slots and fits the plan's arrays; up_registry_check() the
 * rest, on first use. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"
#include "ops.h"

static const char *const layout_choices[] = {"channels_first", "channels_last", NULL};
static const char *const index_layout_choices[] = {"plane", "tensor", "hwc", "nhwc", NULL};
static const char *const nearest_modes[] = {"nearest", "nearest_exact", NULL};
static const char *const coord_transforms[] = {"asymmetric", "half_pixel", "align_corners", NULL};
/* resize.c's enums follow these orders */
static const char *const resize_modes[] = {"nearest", "linear", "cubic", NULL};
static const char *const resize_transforms[] = {
    "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
    "tf_crop_and_resize", NULL};
static const char *const resize_nearest_modes[] = {"round_prefer_floor", "round_prefer_ceil",
                                                   "floor", "ceil", NULL};
static const char *const resize_aspect[] = {"stretch", "not_larger", "not_smaller", NULL};
/* In the order of UP_AUTO_PAD_* (op.h). */
static const char *const auto_pad_choices[] = {"notset", "same_upper", "same_lower", "valid", NULL};
static const char *const shuffle_modes[] = {"crd", "dcr", NULL};

/* A table entry from its slot's tokens (ops.h): [MAX_UNPOOL_IN_mask] =
 * {"mask", ...}. The name is spelt once, and a slot with no entry is an
 * empty name that up_registry_check() reports. */
#define IN(OP, NAME, ...) [OP##_IN_##NAME] = {#NAME, __VA_ARGS__}
#define OUT(OP, NAME, ...) [OP##_OUT_##NAME] = {#NAME, __VA_ARGS__}
#define PARAM(OP, NAME, ...) [OP##_P_##NAME] = {#NAME, __VA_ARGS__}

/* Shared by every op (layout) or by the ops that read or write indices. */
#define P_LAYOUT(OP)                                                               \
    PARAM(OP, layout, UP_P_ENUM, "channels_first", layout_choices,                 \
          "memory layout of x and the outputs: (N, C, *spatial) or (N, *spatial, C)")
#define P_INDEX_LAYOUT(OP)                                                         \
    PARAM(OP, index_layout, UP_P_ENUM, "plane", index_layout_choices,              \
          "plane: PyTorch, flat inside each (n, c) plane; tensor: ONNX, flat in the " \
          "whole tensor; hwc/nhwc: TensorFlow max_pool_with_argmax without/with batch")
#define O_Y(OP) OUT(OP, y, UP_IO_VALUES, 1, "result")
/* ONNX's padding, for the window ops. */
#define P_PADS(OP)                                                                 \
    PARAM(OP, pads, UP_P_PADS, NULL, NULL,                                         \
          "ONNX pads: 2 * spatial ints, every begin then every end (may differ); "   \
          "exclusive with padding")
#define P_AUTO_PAD(OP, DOC) PARAM(OP, auto_pad, UP_P_ENUM, "notset", auto_pad_choices, DOC)

/* ---- max_unpool ---- */
static const up_io_def max_unpool_inputs[] = {
    IN(MAX_UNPOOL, x, UP_IO_VALUES, 1, "pooled values (N, C, *spatial)"),
    IN(MAX_UNPOOL, indices, UP_IO_INDICES, 0, "argmax positions from max_pool, same shape as x"),
    IN(MAX_UNPOOL, mask, UP_IO_MASK, 0,
       "0/1 tensor of the unpooled shape; the value goes to the first nonzero position of its "
       "window"),
};
static const up_io_def max_unpool_outputs[] = {O_Y(MAX_UNPOOL)};
static const up_param_def max_unpool_params[] = {
    PARAM(MAX_UNPOOL, kernel_size, UP_P_SPATIAL_INT, NULL, NULL, "pooling window (required)"),
    PARAM(MAX_UNPOOL, stride, UP_P_SPATIAL_INT, "kernel_size", NULL, "pooling stride"),
    PARAM(MAX_UNPOOL, padding, UP_P_SPATIAL_INT, "0", NULL, "pooling padding"),
    PARAM(MAX_UNPOOL, output_size, UP_P_SIZE, NULL, NULL,
          "unpooled spatial size (or full shape); default (in-1)*stride - 2*padding + "
          "kernel_size"),
    P_INDEX_LAYOUT(MAX_UNPOOL),
    P_LAYOUT(MAX_UNPOOL),
    P_PADS(MAX_UNPOOL),
};

/* ---- nearest_unpool ---- */
static const up_io_def nearest_unpool_inputs[] = {
    IN(NEAREST_UNPOOL, x, UP_IO_VALUES, 1, "input (N, C, *spatial)"),
};
static const up_io_def nearest_unpool_outputs[] = {O_Y(NEAREST_UNPOOL)};
static const up_param_def nearest_unpool_params[] = {
    PARAM(NEAREST_UNPOOL, scale_factor, UP_P_SPATIAL_FLOAT, NULL, NULL,
          "multiplier per spatial dim (may be fractional); output = floor(in * scale_factor)"),
    PARAM(NEAREST_UNPOOL, output_size, UP_P_SIZE, NULL, NULL,
          "output spatial size (or full shape)"),
    PARAM(NEAREST_UNPOOL, mode, UP_P_ENUM, "nearest", nearest_modes,
          "nearest: src = floor(dst * scale); nearest_exact: src = floor((dst + 0.5) * scale)"),
    P_LAYOUT(NEAREST_UNPOOL),
};

/* ---- fractional_max_unpool ---- */
static const up_io_def fmu_inputs[] = {
    IN(FMU, x, UP_IO_VALUES, 1, "pooled values (N, C, *spatial)"),
    IN(FMU, indices, UP_IO_INDICES, 0,
       "argmax positions from fractional_max_pool; with them the values are scattered"),
};
static const up_io_def fmu_outputs[] = {O_Y(FMU)};
static const up_param_def fmu_params[] = {
    PARAM(FMU, scale_factor, UP_P_SPATIAL_FLOAT, NULL, NULL,
          "interpolation: multiplier per spatial dim (may be fractional)"),
    PARAM(FMU, output_size, UP_P_SIZE, NULL, NULL,
          "output spatial size (or full shape); required with indices"),
    PARAM(FMU, coordinate_transform, UP_P_ENUM, "asymmetric", coord_transforms,
          "asymmetric: src = dst / scale (the seed); half_pixel: PyTorch align_corners=False; "
          "align_corners: PyTorch align_corners=True"),
    P_INDEX_LAYOUT(FMU),
    P_LAYOUT(FMU),
};

/* ---- conv_transpose ---- */
static const up_io_def conv_inputs[] = {
    IN(CONV_TRANSPOSE, x, UP_IO_VALUES, 1, "input (N, C_in, *spatial)"),
    IN(CONV_TRANSPOSE, weight, UP_IO_WEIGHT, 1, "(C_in, C_out / groups, *kernel)"),
    IN(CONV_TRANSPOSE, bias, UP_IO_BIAS, 0, "(C_out)"),
};
static const up_io_def conv_outputs[] = {O_Y(CONV_TRANSPOSE)};
static const up_param_def conv_params[] = {
    PARAM(CONV_TRANSPOSE, stride, UP_P_SPATIAL_INT, "1", NULL, "stride"),
    PARAM(CONV_TRANSPOSE, padding, UP_P_SPATIAL_INT, "0", NULL,
          "dilation * (kernel - 1) - padding zeros pad the input"),
    PARAM(CONV_TRANSPOSE, output_padding, UP_P_SPATIAL_INT, "0", NULL,
          "extra size on one side of the output"),
    PARAM(CONV_TRANSPOSE, dilation, UP_P_SPATIAL_INT, "1", NULL, "kernel dilation"),
    PARAM(CONV_TRANSPOSE, groups, UP_P_INT, "1", NULL,
          "blocked connections from input to output channels"),
    PARAM(CONV_TRANSPOSE, output_size, UP_P_SIZE, NULL, NULL,
          "derives output_padding (spatial sizes or full shape)"),
    P_LAYOUT(CONV_TRANSPOSE),
    P_PADS(CONV_TRANSPOSE),
    P_AUTO_PAD(CONV_TRANSPOSE,
               "ONNX: same_upper / same_lower pad to output = in * stride (or output_shape), "
               "the odd one at the end / start; valid: no padding"),
    PARAM(CONV_TRANSPOSE, output_shape, UP_P_SIZE, NULL, NULL,
          "ONNX's rule: the total padding is derived from it and split per auto_pad "
          "(notset and same_lower put the odd one at the start)"),
};

/* ---- max_pool ---- */
static const up_io_def max_pool_inputs[] = {
    IN(MAX_POOL, x, UP_IO_VALUES, 1, "input (N, C, *spatial)"),
};
static const up_io_def max_pool_outputs[] = {
    OUT(MAX_POOL, y, UP_IO_VALUES, 1, "pooled values"),
    OUT(MAX_POOL, indices, UP_IO_INDICES, 1, "argmax positions in the pooling input (int64)"),
};
static const up_param_def max_pool_params[] = {
    PARAM(MAX_POOL, kernel_size, UP_P_SPATIAL_INT, NULL, NULL, "pooling window (required)"),
    PARAM(MAX_POOL, stride, UP_P_SPATIAL_INT, "kernel_size", NULL, "pooling stride"),
    PARAM(MAX_POOL, padding, UP_P_SPATIAL_INT, "0", NULL,
          "implicit -inf padding, at most kernel_size / 2"),
    PARAM(MAX_POOL, dilation, UP_P_SPATIAL_INT, "1", NULL, "spacing of window elements"),
    PARAM(MAX_POOL, ceil_mode, UP_P_BOOL, "false", NULL,
          "ceil instead of floor for the output size"),
    P_INDEX_LAYOUT(MAX_POOL),
    P_LAYOUT(MAX_POOL),
    P_PADS(MAX_POOL),
    P_AUTO_PAD(MAX_POOL,
               "ONNX: same_upper / same_lower pad to output = ceil(in / stride), the odd one "
               "at the end / start; valid: no padding"),
    PARAM(MAX_POOL, storage_order, UP_P_INT, "0", NULL,
          "ONNX: 0 row-major indices, 1 column-major over the spatial dims"),
};

/* ---- fractional_max_pool ---- */
static const up_io_def fmp_inputs[] = {
    IN(FMP, x, UP_IO_VALUES, 1, "input (N, C, *spatial), 2 or 3 spatial dims"),
    IN(FMP, samples, UP_IO_SAMPLES, 0, "(N, C, dims) in [0, 1), PyTorch's _random_samples"),
};
static const up_io_def fmp_outputs[] = {
    OUT(FMP, y, UP_IO_VALUES, 1, "pooled values"),
    OUT(FMP, indices, UP_IO_INDICES, 1, "argmax positions in the pooling input (int64)"),
};
static const up_param_def fmp_params[] = {
    PARAM(FMP, kernel_size, UP_P_SPATIAL_INT, NULL, NULL, "pooling window (required)"),
    PARAM(FMP, output_size, UP_P_SIZE, NULL, NULL, "output spatial size (or full shape)"),
    PARAM(FMP, output_ratio, UP_P_SPATIAL_FLOAT, NULL, NULL,
          "output = floor(in * ratio), ratio in (0, 1)"),
    PARAM(FMP, seed, UP_P_INT, NULL, NULL,
          "draw the samples on the server from this seed (splitmix64; reproducible); "
          "without samples or seed, seed 0 is used"),
    P_INDEX_LAYOUT(FMP),
    P_LAYOUT(FMP),
};

/* ---- resize ---- */
static const up_io_def resize_inputs[] = {
    IN(RESIZE, x, UP_IO_VALUES, 1,
       "input of rank 1 to 5 (any axis may be resized); uint8 and int8 with mode nearest"),
    IN(RESIZE, roi, UP_IO_BIAS, 0,
       "tf_crop_and_resize only: starts then ends, normalised, one pair per resized axis"),
};
static const up_io_def resize_outputs[] = {O_Y(RESIZE)};
static const up_param_def resize_params[] = {
    PARAM(RESIZE, scales, UP_P_FLOATS, NULL, NULL,
          "one per axis (or per entry of axes), > 0; output = floor(in * scale)"),
    PARAM(RESIZE, sizes, UP_P_INTS, NULL, NULL,
          "output size, one per axis (or per entry of axes); exactly one of scales and sizes"),
    PARAM(RESIZE, axes, UP_P_INTS, NULL, NULL,
          "the axes scales, sizes and roi cover (negative counts from the end); default all"),
    PARAM(RESIZE, mode, UP_P_ENUM, "nearest", resize_modes,
          "nearest, n-linear or n-cubic interpolation over the resized axes"),
    PARAM(RESIZE, coordinate_transformation_mode, UP_P_ENUM, "half_pixel", resize_transforms,
          "how an output coordinate maps to the input (ONNX Resize)"),
    PARAM(RESIZE, nearest_mode, UP_P_ENUM, "round_prefer_floor", resize_nearest_modes,
          "mode nearest: how a fractional source coordinate is rounded"),
    PARAM(RESIZE, cubic_coeff_a, UP_P_FLOAT, "-0.75", NULL,
          "mode cubic: the kernel's coefficient A (PyTorch bicubic: -0.75)"),
    PARAM(RESIZE, exclude_outside, UP_P_BOOL, "0", NULL,
          "weights of taps outside the input set to 0 and the rest renormalised"),
    PARAM(RESIZE, extrapolation_value, UP_P_FLOAT, "0", NULL,
          "tf_crop_and_resize: the value where the source coordinate leaves the input"),
    PARAM(RESIZE, antialias, UP_P_BOOL, "0", NULL,
          "linear and cubic: when downsampling, widen the filter by 1 / scale"),
    PARAM(RESIZE, keep_aspect_ratio_policy, UP_P_ENUM, "stretch", resize_aspect,
          "with sizes: stretch each axis, or one scale for all (not_larger: the smallest, "
          "not_smaller: the largest) with the size rounded half up"),
    P_LAYOUT(RESIZE),
};

/* ---- pixel_shuffle, pixel_unshuffle ---- */
static const up_io_def pixel_shuffle_inputs[] = {
    IN(PIXEL_SHUFFLE, x, UP_IO_VALUES, 1, "input (N, C * r^2, H, W)"),
};
static const up_io_def pixel_shuffle_outputs[] = {O_Y(PIXEL_SHUFFLE)};
static const up_param_def pixel_shuffle_params[] = {
    PARAM(PIXEL_SHUFFLE, upscale_factor, UP_P_INT, NULL, NULL, "r (required, >= 1)"),
    PARAM(PIXEL_SHUFFLE, mode, UP_P_ENUM, "crd", shuffle_modes,
          "crd: channel c * r^2 + i * r + j (PyTorch, ONNX DepthToSpace CRD); dcr: channel "
          "(i * r + j) * C + c (ONNX DepthToSpace default, TensorFlow depth_to_space)"),
    P_LAYOUT(PIXEL_SHUFFLE),
};
static const up_io_def pixel_unshuffle_inputs[] = {
    IN(PIXEL_UNSHUFFLE, x, UP_IO_VALUES, 1, "input (N, C, H * r, W * r)"),
};
static const up_io_def pixel_unshuffle_outputs[] = {O_Y(PIXEL_UNSHUFFLE)};
static const up_param_def pixel_unshuffle_params[] = {
    PARAM(PIXEL_UNSHUFFLE, downscale_factor, UP_P_INT, NULL, NULL, "r (required, >= 1)"),
    PARAM(PIXEL_UNSHUFFLE, mode, UP_P_ENUM, "crd", shuffle_modes,
          "crd: channel c * r^2 + i * r + j (PyTorch); dcr: channel (i * r + j) * C + c "
          "(ONNX SpaceToDepth, TensorFlow space_to_depth)"),
    P_LAYOUT(PIXEL_UNSHUFFLE),
};

#ifdef UP_TEST_TOY_OP
/* ---- toy_scale (test build only: tests/toy/) ---- */
static const up_io_def toy_inputs[] = {IN(TOY_SCALE, x, UP_IO_VALUES, 1, "input (N, C, *spatial)")};
static const up_io_def toy_outputs[] = {O_Y(TOY_SCALE)};
static const up_param_def toy_params[] = {
    PARAM(TOY_SCALE, factor, UP_P_INT, "2", NULL, "integer multiplier"),
    P_LAYOUT(TOY_SCALE),
};
#endif

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Every table has exactly its op's slots (a missing last entry would
 * shorten it), and fits the plan's fixed arrays. */
#define CHECK_SLOTS(OP, ins, outs, pars)                                          \
    _Static_assert(N_OF(ins) == OP##_N_IN && OP##_N_IN <= UP_MAX_INPUTS,           \
                   #OP ": inputs and their slots differ, or over UP_MAX_INPUTS");  \
    _Static_assert(N_OF(outs) == OP##_N_OUT && OP##_N_OUT <= UP_MAX_OUTPUTS,       \
                   #OP ": outputs and their slots differ, or over UP_MAX_OUTPUTS"); \
    _Static_assert(N_OF(pars) == OP##_N_P && OP##_N_P <= UP_MAX_PARAMS,            \
                   #OP ": params and their slots differ, or over UP_MAX_PARAMS")

CHECK_SLOTS(MAX_UNPOOL, max_unpool_inputs, max_unpool_outputs, max_unpool_params);
CHECK_SLOTS(NEAREST_UNPOOL, nearest_unpool_inputs, nearest_unpool_outputs, nearest_unpool_params);
CHECK_SLOTS(FMU, fmu_inputs, fmu_outputs, fmu_params);
CHECK_SLOTS(CONV_TRANSPOSE, conv_inputs, conv_outputs, conv_params);
CHECK_SLOTS(MAX_POOL, max_pool_inputs, max_pool_outputs, max_pool_params);
CHECK_SLOTS(FMP, fmp_inputs, fmp_outputs, fmp_params);
CHECK_SLOTS(RESIZE, resize_inputs, resize_outputs, resize_params);
CHECK_SLOTS(PIXEL_SHUFFLE, pixel_shuffle_inputs, pixel_shuffle_outputs, pixel_shuffle_params);
CHECK_SLOTS(PIXEL_UNSHUFFLE, pixel_unshuffle_inputs, pixel_unshuffle_outputs,
            pixel_unshuffle_params);
#ifdef UP_TEST_TOY_OP
CHECK_SLOTS(TOY_SCALE, toy_inputs, toy_outputs, toy_params);
#endif

#define OP_ENTRY_F(ID, opname, summ, sem, mins, maxs, ins, outs, pars, build, flags) \
    [UP_OP_##ID] = {#opname, summ, sem, mins, maxs, ins, N_OF(ins), outs,       \
                        N_OF(outs), pars, N_OF(pars), prepare_##opname,            \
                        compute_forward_##opname##_f32, compute_forward_##opname##_f64, \
                        build, flags}
#define OP_ENTRY_B(ID, opname, summ, sem, mins, maxs, ins, outs, pars, build)       \
    OP_ENTRY_F(ID, opname, summ, sem, mins, maxs, ins, outs, pars, build, 0)
/* An op whose prepare allocates nothing beyond its outputs. */
#define OP_ENTRY(ID, opname, summ, sem, mins, maxs, ins, outs, pars)               \
    OP_ENTRY_B(ID, opname, summ, sem, mins, maxs, ins, outs, pars, NULL)
static const up_op_def op_table[] = {
    OP_ENTRY_F(MAX_UNPOOL, max_unpool,
               "scatter pooled values back to the positions max pooling chose",
               "PyTorch max_unpool{1,2,3}d; ONNX MaxUnpool with pads", 1, 3, max_unpool_inputs,
               max_unpool_outputs, max_unpool_params, build_max_unpool, UP_OPF_INT_IMAGES),
    OP_ENTRY_F(NEAREST_UNPOOL, nearest_unpool, "nearest-neighbour upsampling",
               "PyTorch interpolate(mode=\"nearest\" | \"nearest-exact\")", 1, 3,
               nearest_unpool_inputs, nearest_unpool_outputs, nearest_unpool_params,
               build_nearest_unpool, UP_OPF_INT_IMAGES),
    OP_ENTRY_B(FRACTIONAL_MAX_UNPOOL, fractional_max_unpool,
               "linear interpolation at fractional source coordinates, or scatter by indices",
               "PyTorch interpolate(mode=\"linear\"|\"bilinear\"|\"trilinear\"), the seed's "
               "asymmetric transform; max_unpool scatter with indices",
               1, 3, fmu_inputs, fmu_outputs, fmu_params, build_fractional_max_unpool),
    OP_ENTRY(CONV_TRANSPOSE, conv_transpose, "transposed convolution",
             "PyTorch conv_transpose{1,2,3}d; ONNX ConvTranspose with pads, auto_pad and "
             "output_shape", 1, 3, conv_inputs, conv_outputs, conv_params),
    OP_ENTRY_F(MAX_POOL, max_pool, "max pooling with argmax indices",
               "PyTorch max_pool{1,2,3}d(return_indices=True); ONNX MaxPool with pads, "
               "auto_pad and storage_order", 1, 3, max_pool_inputs, max_pool_outputs,
               max_pool_params, NULL, UP_OPF_INT_IMAGES | UP_OPF_INT_NATIVE),
    OP_ENTRY_B(FRACTIONAL_MAX_POOL, fractional_max_pool,
               "fractional max pooling with argmax indices",
               "PyTorch fractional_max_pool{2,3}d(return_indices=True)", 2, 3, fmp_inputs,
               fmp_outputs, fmp_params, build_fractional_max_pool),
    [UP_OP_RESIZE] = {"resize", "resize any axes: nearest, n-linear or n-cubic (ONNX Resize)",
                      "ONNX Resize opset 19; PyTorch interpolate(nearest, nearest-exact, "
                      "linear, bilinear, trilinear, bicubic) where it has the mode",
                      1, 3, resize_inputs, N_OF(resize_inputs), resize_outputs,
                      N_OF(resize_outputs), resize_params, N_OF(resize_params), prepare_resize,
                      compute_forward_resize_f32, compute_forward_resize_f64, build_resize,
                      UP_OPF_ANY_RANK | UP_OPF_INT_IMAGES},
    OP_ENTRY_F(PIXEL_SHUFFLE, pixel_shuffle,
               "sub-pixel up-sampling: (N, C * r^2, H, W) -> (N, C, H * r, W * r)",
               "PyTorch pixel_shuffle (crd); ONNX DepthToSpace (crd, dcr); TensorFlow "
               "depth_to_space (dcr)", 2, 2, pixel_shuffle_inputs, pixel_shuffle_outputs,
               pixel_shuffle_params, NULL, UP_OPF_INT_IMAGES | UP_OPF_MOVES_BYTES),
    OP_ENTRY_F(PIXEL_UNSHUFFLE, pixel_unshuffle,
               "the inverse of pixel_shuffle: (N, C, H * r, W * r) -> (N, C * r^2, H, W)",
               "PyTorch pixel_unshuffle (crd); ONNX SpaceToDepth (dcr); TensorFlow "
               "space_to_depth (dcr)", 2, 2, pixel_unshuffle_inputs, pixel_unshuffle_outputs,
               pixel_unshuffle_params, NULL, UP_OPF_INT_IMAGES | UP_OPF_MOVES_BYTES),
#ifdef UP_TEST_TOY_OP
    OP_ENTRY(TOY_SCALE, toy_scale, "multiply by an integer (test build only)",
             "x * factor", 1, 3, toy_inputs, toy_outputs, toy_params),
#endif
};
_Static_assert(N_OF(op_table) == UP_OP_COUNT, "op_table and up_op_id (op.h) differ");

/* ---- checks ------------------------------------------------------------- */

static int check_failf(char *msg, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int check_failf(char *msg, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (msg && n) vsnprintf(msg, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Names present (no slot left empty) and none twice, in one table whose
 * rows are `stride` bytes apart with the name first. */
static int check_names(const up_op_def *op, const char *what, const void *rows, size_t stride,
                       int count, char *msg, size_t n)
{
    for (int i = 0; i < count; i++) {
        const char *a = *(const char *const *)((const char *)rows + (size_t)i * stride);
        if (!a || !*a) return check_failf(msg, n, "%s: %s slot %d has no entry", op->name, what, i);
        for (int j = 0; j < i; j++) {
            const char *b = *(const char *const *)((const char *)rows + (size_t)j * stride);
            if (strcmp(a, b) == 0)
                return check_failf(msg, n, "%s: %s \"%s\" twice", op->name, what, a);
        }
    }
    return 0;
}

/* A shared enum param that plan.c reads by name must exist where
 * `required`, be an enum, and list exactly the choices whose positions
 * are plan.c's constants (UP_LAYOUT_*, UP_IDX_*). */
static int check_shared(const up_op_def *op, const char *name, const char *const *want,
                        int required, char *msg, size_t n)
{
    int i = up_op_param_index(op, name);
    if (i < 0)
        return required ? check_failf(msg, n, "%s: no \"%s\" param", op->name, name) : 0;
    if (op->params[i].type != UP_P_ENUM || op->params[i].choices != want)
        return check_failf(msg, n, "%s: \"%s\" must be the shared enum", op->name, name);
    return 0;
}

static int check_op(const up_op_def *op, char *msg, size_t n)
{
    if (!op->name || !op->prepare || !op->kernel_f32 || !op->kernel_f64)
        return check_failf(msg, n, "op %s: name, prepare or a kernel missing",
                           op->name ? op->name : "(unnamed)");
    if (op->min_spatial < 1 || op->max_spatial > UP_MAX_SPATIAL ||
        op->min_spatial > op->max_spatial)
        return check_failf(msg, n, "%s: spatial dims [%d, %d] outside [1, %d]", op->name,
                           op->min_spatial, op->max_spatial, UP_MAX_SPATIAL);
    if (check_names(op, "input", op->inputs, sizeof(up_io_def), op->n_inputs, msg, n) < 0 ||
        check_names(op, "output", op->outputs, sizeof(up_io_def), op->n_outputs, msg, n) < 0 ||
        check_names(op, "param", op->params, sizeof(up_param_def), op->n_params, msg, n) < 0)
        return -1;
    if (op->n_inputs < 1 || strcmp(op->inputs[UP_IN_X].name, "x") != 0 ||
        op->inputs[UP_IN_X].kind != UP_IO_VALUES || !op->inputs[UP_IN_X].required)
        return check_failf(msg, n, "%s: input 0 must be the required values x", op->name);
    if (op->n_outputs < 1 || strcmp(op->outputs[UP_OUT_Y].name, "y") != 0 ||
        op->outputs[UP_OUT_Y].kind != UP_IO_VALUES)
        return check_failf(msg, n, "%s: output 0 must be the values y", op->name);
    for (int i = 0; i < op->n_params; i++) {
        const up_param_def *d = &op->params[i];
        if ((d->type == UP_P_ENUM) != (d->choices != NULL) ||
            (d->choices && (!d->choices[0] || !d->choices[1])))
            return check_failf(msg, n, "%s: param %s: an enum needs two or more choices, "
                               "nothing else has any", op->name, d->name);
    }
    if (check_shared(op, "layout", layout_choices, 1, msg, n) < 0 ||
        check_shared(op, "index_layout", index_layout_choices, 0, msg, n) < 0)
        return -1;
    return 0;
}

int up_registry_check(char *msg, size_t n)
{
    for (int i = 0; i < N_OF(op_table); i++) {
        if (check_op(&op_table[i], msg, n) < 0) return -1;
        for (int j = 0; j < i; j++)
            if (strcmp(op_table[i].name, op_table[j].name) == 0)
                return check_failf(msg, n, "op %s twice", op_table[i].name);
    }
    return 0;
}

_Noreturn void up_registry_bug(const up_op_def *op, const char *what, int slot)
{
    fprintf(stderr, "unpoold: registry misuse in op %s: %s %d\n", op ? op->name : "?", what,
            slot);
    abort();
}

#ifndef NDEBUG
static pthread_once_t check_once = PTHREAD_ONCE_INIT;
static void check_at_start(void)
{
    char msg[256];
    if (up_registry_check(msg, sizeof(msg)) < 0) {
        fprintf(stderr, "unpoold: op registry: %s\n", msg);
        abort();
    }
}
/* Every way into the table passes here: the first one checks it. */
#define CHECKED() pthread_once(&check_once, check_at_start)
#else
#define CHECKED() ((void)0)
#endif

/* ---- lookups ------------------------------------------------------------ */

int up_op_count(void) { return N_OF(op_table); }

const up_op_def *up_op_at(int i)
{
    CHECKED();
    return (i >= 0 && i < N_OF(op_table)) ? &op_table[i] : NULL;
}

const up_op_def *up_op_find(const char *name)
{
    CHECKED();
    if (!name) return NULL;
    for (int i = 0; i < N_OF(op_table); i++)
        if (strcmp(op_table[i].name, name) == 0) return &op_table[i];
    return NULL;
}

int up_op_index(const up_op_def *op)
{
    return (op >= op_table && op < op_table + N_OF(op_table)) ? (int)(op - op_table) : -1;
}

int up_op_param_index(const up_op_def *op, const char *name)
{
    for (int i = 0; i < op->n_params; i++)
        if (strcmp(op->params[i].name, name) == 0) return i;
    return -1;
}

int up_op_input_index(const up_op_def *op, const char *name)
{
    for (int i = 0; i < op->n_inputs; i++)
        if (strcmp(op->inputs[i].name, name) == 0) return i;
    return -1;
}

int up_op_output_index(const up_op_def *op, const char *name)
{
    for (int i = 0; i < op->n_outputs; i++)
        if (strcmp(op->outputs[i].name, name) == 0) return i;
    return -1;
}
