/* registry.c -- the op table: every op unpoold serves, as data.
 *
 * Routing, GET /v1/ops, KServe model metadata and the docs read this table
 * and nothing else, so an op's name, inputs, params and defaults are written
 * exactly once. Adding an op: one entry here plus its kernel file. */
#include <string.h>

#include "op.h"
#include "ops.h"

static const char *const layout_choices[] = {"channels_first", "channels_last", NULL};
static const char *const index_layout_choices[] = {"plane", "tensor", "hwc", "nhwc", NULL};
static const char *const nearest_modes[] = {"nearest", "nearest_exact", NULL};
static const char *const coord_transforms[] = {"asymmetric", "half_pixel", "align_corners", NULL};

#define P_LAYOUT                                                                   \
    {"layout", UP_P_ENUM, "channels_first", layout_choices,                        \
     "memory layout of x and the outputs: (N, C, *spatial) or (N, *spatial, C)"}
#define P_INDEX_LAYOUT                                                             \
    {"index_layout", UP_P_ENUM, "plane", index_layout_choices,                     \
     "plane: PyTorch, flat inside each (n, c) plane; tensor: ONNX, flat in the "   \
     "whole tensor; hwc/nhwc: TensorFlow max_pool_with_argmax without/with batch"}

/* ---- max_unpool ---- */
static const up_io_def max_unpool_inputs[] = {
    {"x", UP_IO_VALUES, 1, "pooled values (N, C, *spatial)"},
    {"indices", UP_IO_INDICES, 0, "argmax positions from max_pool, same shape as x"},
    {"mask", UP_IO_MASK, 0, "0/1 tensor of the unpooled shape; the value goes to the "
                            "first nonzero position of its window"},
};
static const up_io_def y_only[] = {{"y", UP_IO_VALUES, 1, "result"}};
static const up_param_def max_unpool_params[] = {
    {"kernel_size", UP_P_SPATIAL_INT, NULL, NULL, "pooling window (required)"},
    {"stride", UP_P_SPATIAL_INT, "kernel_size", NULL, "pooling stride"},
    {"padding", UP_P_SPATIAL_INT, "0", NULL, "pooling padding"},
    {"output_size", UP_P_SIZE, NULL, NULL,
     "unpooled spatial size (or full shape); default (in-1)*stride - 2*padding + kernel_size"},
    P_INDEX_LAYOUT,
    P_LAYOUT,
};

/* ---- nearest_unpool ---- */
static const up_io_def values_x[] = {{"x", UP_IO_VALUES, 1, "input (N, C, *spatial)"}};
static const up_param_def nearest_unpool_params[] = {
    {"scale_factor", UP_P_SPATIAL_FLOAT, NULL, NULL,
     "multiplier per spatial dim (may be fractional); output = floor(in * scale_factor)"},
    {"output_size", UP_P_SIZE, NULL, NULL, "output spatial size (or full shape)"},
    {"mode", UP_P_ENUM, "nearest", nearest_modes,
     "nearest: src = floor(dst * scale); nearest_exact: src = floor((dst + 0.5) * scale)"},
    P_LAYOUT,
};

/* ---- fractional_max_unpool ---- */
static const up_io_def fmu_inputs[] = {
    {"x", UP_IO_VALUES, 1, "pooled values (N, C, *spatial)"},
    {"indices", UP_IO_INDICES, 0,
     "argmax positions from fractional_max_pool; with them the values are scattered"},
};
static const up_param_def fmu_params[] = {
    {"scale_factor", UP_P_SPATIAL_FLOAT, NULL, NULL,
     "interpolation: multiplier per spatial dim (may be fractional)"},
    {"output_size", UP_P_SIZE, NULL, NULL,
     "output spatial size (or full shape); required with indices"},
    {"coordinate_transform", UP_P_ENUM, "asymmetric", coord_transforms,
     "asymmetric: src = dst / scale (the seed); half_pixel: PyTorch align_corners=False; "
     "align_corners: PyTorch align_corners=True"},
    P_INDEX_LAYOUT,
    P_LAYOUT,
};

/* ---- conv_transpose ---- */
static const up_io_def conv_inputs[] = {
    {"x", UP_IO_VALUES, 1, "input (N, C_in, *spatial)"},
    {"weight", UP_IO_WEIGHT, 1, "(C_in, C_out / groups, *kernel)"},
    {"bias", UP_IO_BIAS, 0, "(C_out)"},
};
static const up_param_def conv_params[] = {
    {"stride", UP_P_SPATIAL_INT, "1", NULL, "stride"},
    {"padding", UP_P_SPATIAL_INT, "0", NULL, "dilation * (kernel - 1) - padding zeros pad the input"},
    {"output_padding", UP_P_SPATIAL_INT, "0", NULL, "extra size on one side of the output"},
    {"dilation", UP_P_SPATIAL_INT, "1", NULL, "kernel dilation"},
    {"groups", UP_P_INT, "1", NULL, "blocked connections from input to output channels"},
    {"output_size", UP_P_SIZE, NULL, NULL, "derives output_padding (spatial sizes or full shape)"},
    P_LAYOUT,
};

/* ---- max_pool ---- */
static const up_io_def pool_outputs[] = {
    {"y", UP_IO_VALUES, 1, "pooled values"},
    {"indices", UP_IO_INDICES, 1, "argmax positions in the pooling input (int64)"},
};
static const up_param_def max_pool_params[] = {
    {"kernel_size", UP_P_SPATIAL_INT, NULL, NULL, "pooling window (required)"},
    {"stride", UP_P_SPATIAL_INT, "kernel_size", NULL, "pooling stride"},
    {"padding", UP_P_SPATIAL_INT, "0", NULL, "implicit -inf padding, at most kernel_size / 2"},
    {"dilation", UP_P_SPATIAL_INT, "1", NULL, "spacing of window elements"},
    {"ceil_mode", UP_P_BOOL, "false", NULL, "ceil instead of floor for the output size"},
    P_INDEX_LAYOUT,
    P_LAYOUT,
};

/* ---- fractional_max_pool ---- */
static const up_io_def fmp_inputs[] = {
    {"x", UP_IO_VALUES, 1, "input (N, C, *spatial), 2 or 3 spatial dims"},
    {"samples", UP_IO_SAMPLES, 0, "(N, C, dims) in [0, 1), PyTorch's _random_samples"},
};
static const up_param_def fmp_params[] = {
    {"kernel_size", UP_P_SPATIAL_INT, NULL, NULL, "pooling window (required)"},
    {"output_size", UP_P_SIZE, NULL, NULL, "output spatial size (or full shape)"},
    {"output_ratio", UP_P_SPATIAL_FLOAT, NULL, NULL, "output = floor(in * ratio), ratio in (0, 1)"},
    {"seed", UP_P_INT, NULL, NULL,
     "draw the samples on the server from this seed (splitmix64; reproducible); "
     "without samples or seed, seed 0 is used"},
    P_INDEX_LAYOUT,
    P_LAYOUT,
};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define OP_ENTRY_B(opname, summ, sem, mins, maxs, ins, outs, pars, build)           \
    {#opname, summ, sem, mins, maxs, ins, N_OF(ins), outs, N_OF(outs), pars,       \
     N_OF(pars), prepare_##opname, compute_forward_##opname##_f32,                 \
     compute_forward_##opname##_f64, build}
/* An op whose prepare allocates nothing beyond its outputs. */
#define OP_ENTRY(opname, summ, sem, mins, maxs, ins, outs, pars)                   \
    OP_ENTRY_B(opname, summ, sem, mins, maxs, ins, outs, pars, NULL)

static const up_op_def op_table[] = {
    OP_ENTRY_B(max_unpool, "scatter pooled values back to the positions max pooling chose",
               "PyTorch max_unpool{1,2,3}d", 1, 3, max_unpool_inputs, y_only, max_unpool_params,
               build_max_unpool),
    OP_ENTRY_B(nearest_unpool, "nearest-neighbour upsampling",
               "PyTorch interpolate(mode=\"nearest\" | \"nearest-exact\")", 1, 3, values_x, y_only,
               nearest_unpool_params, build_nearest_unpool),
    OP_ENTRY_B(fractional_max_unpool,
             "linear interpolation at fractional source coordinates, or scatter by indices",
             "PyTorch interpolate(mode=\"linear\"|\"bilinear\"|\"trilinear\"), the seed's "
             "asymmetric transform; max_unpool scatter with indices",
             1, 3, fmu_inputs, y_only, fmu_params, build_fractional_max_unpool),
    OP_ENTRY(conv_transpose, "transposed convolution",
             "PyTorch conv_transpose{1,2,3}d", 1, 3, conv_inputs, y_only, conv_params),
    OP_ENTRY(max_pool, "max pooling with argmax indices",
             "PyTorch max_pool{1,2,3}d(return_indices=True)", 1, 3, values_x, pool_outputs,
             max_pool_params),
    OP_ENTRY_B(fractional_max_pool, "fractional max pooling with argmax indices",
               "PyTorch fractional_max_pool{2,3}d(return_indices=True)", 2, 3, fmp_inputs,
               pool_outputs, fmp_params, build_fractional_max_pool),
};

int up_op_count(void) { return N_OF(op_table); }

const up_op_def *up_op_at(int i)
{
    return (i >= 0 && i < N_OF(op_table)) ? &op_table[i] : NULL;
}

const up_op_def *up_op_find(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; i < N_OF(op_table); i++)
        if (strcmp(op_table[i].name, name) == 0) return &op_table[i];
    return NULL;
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
