/* ops.h -- the prepare function and per-dtype kernels of every op.
 *
 * One file per op family implements these (max_unpool.c, max_pool.c, ...);
 * registry.c puts them in the op table. prepare_<op> validates and states
 * the cost without allocating; build_<op>, where there is one, allocates
 * the op's scratch once the plan is admitted (op.h). Kernels follow ggml's
 * naming: compute_forward_<op>_<dtype>, each doing the share [begin, end)
 * of the plan's work units. */
#ifndef UP_OPS_H
#define UP_OPS_H

#include "op.h"

#define UP_DECLARE_OP(name)                                                        \
    int prepare_##name(up_plan *p, up_error *err);                                 \
    void compute_forward_##name##_f32(const up_plan *p, int64_t begin, int64_t end, \
                                      up_fault *fault);                            \
    void compute_forward_##name##_f64(const up_plan *p, int64_t begin, int64_t end, \
                                      up_fault *fault);

UP_DECLARE_OP(max_unpool)
UP_DECLARE_OP(nearest_unpool)
UP_DECLARE_OP(fractional_max_unpool)
UP_DECLARE_OP(conv_transpose)
UP_DECLARE_OP(max_pool)
UP_DECLARE_OP(fractional_max_pool)
UP_DECLARE_OP(resize)
UP_DECLARE_OP(pixel_shuffle)
UP_DECLARE_OP(pixel_unshuffle)

/* ---- slots --------------------------------------------------------------
 *
 * Where each op's inputs (p->in[], p->raw[]), outputs (p->out[]) and params
 * (the up_param_* accessors) are: <OP>_IN_<name>, <OP>_OUT_<name>,
 * <OP>_P_<name>, in the order of registry.c's tables, and <OP>_N_IN,
 * <OP>_N_OUT, <OP>_N_P. registry.c builds each table entry from the same
 * tokens ([MAX_UNPOOL_IN_mask] = {"mask", ...}), so a slot and its name
 * cannot disagree, and checks every count at compile time. Kernels never
 * look an input or a param up by a string. Every op's input 0 is x and
 * output 0 is y (UP_IN_X, UP_OUT_Y; up_registry_check). */

enum { MAX_UNPOOL_IN_x, MAX_UNPOOL_IN_indices, MAX_UNPOOL_IN_mask, MAX_UNPOOL_N_IN };
enum { MAX_UNPOOL_OUT_y, MAX_UNPOOL_N_OUT };
enum {
    MAX_UNPOOL_P_kernel_size, MAX_UNPOOL_P_stride, MAX_UNPOOL_P_padding,
    MAX_UNPOOL_P_output_size, MAX_UNPOOL_P_index_layout, MAX_UNPOOL_P_layout,
    MAX_UNPOOL_P_pads, MAX_UNPOOL_N_P
};

enum { NEAREST_UNPOOL_IN_x, NEAREST_UNPOOL_N_IN };
enum { NEAREST_UNPOOL_OUT_y, NEAREST_UNPOOL_N_OUT };
enum {
    NEAREST_UNPOOL_P_scale_factor, NEAREST_UNPOOL_P_output_size, NEAREST_UNPOOL_P_mode,
    NEAREST_UNPOOL_P_layout, NEAREST_UNPOOL_N_P
};

enum { FMU_IN_x, FMU_IN_indices, FMU_N_IN };
enum { FMU_OUT_y, FMU_N_OUT };
enum {
    FMU_P_scale_factor, FMU_P_output_size, FMU_P_coordinate_transform, FMU_P_index_layout,
    FMU_P_layout, FMU_N_P
};

enum { CONV_TRANSPOSE_IN_x, CONV_TRANSPOSE_IN_weight, CONV_TRANSPOSE_IN_bias, CONV_TRANSPOSE_N_IN };
enum { CONV_TRANSPOSE_OUT_y, CONV_TRANSPOSE_N_OUT };
enum {
    CONV_TRANSPOSE_P_stride, CONV_TRANSPOSE_P_padding, CONV_TRANSPOSE_P_output_padding,
    CONV_TRANSPOSE_P_dilation, CONV_TRANSPOSE_P_groups, CONV_TRANSPOSE_P_output_size,
    CONV_TRANSPOSE_P_layout, CONV_TRANSPOSE_P_pads, CONV_TRANSPOSE_P_auto_pad,
    CONV_TRANSPOSE_P_output_shape, CONV_TRANSPOSE_N_P
};

enum { MAX_POOL_IN_x, MAX_POOL_N_IN };
enum { MAX_POOL_OUT_y, MAX_POOL_OUT_indices, MAX_POOL_N_OUT };
enum {
    MAX_POOL_P_kernel_size, MAX_POOL_P_stride, MAX_POOL_P_padding, MAX_POOL_P_dilation,
    MAX_POOL_P_ceil_mode, MAX_POOL_P_index_layout, MAX_POOL_P_layout, MAX_POOL_P_pads,
    MAX_POOL_P_auto_pad, MAX_POOL_P_storage_order, MAX_POOL_N_P
};

enum { FMP_IN_x, FMP_IN_samples, FMP_N_IN };
enum { FMP_OUT_y, FMP_OUT_indices, FMP_N_OUT };
enum {
    FMP_P_kernel_size, FMP_P_output_size, FMP_P_output_ratio, FMP_P_seed, FMP_P_index_layout,
    FMP_P_layout, FMP_N_P
};

enum { RESIZE_IN_x, RESIZE_IN_roi, RESIZE_N_IN };
enum { RESIZE_OUT_y, RESIZE_N_OUT };
enum {
    RESIZE_P_scales, RESIZE_P_sizes, RESIZE_P_axes, RESIZE_P_mode,
    RESIZE_P_coordinate_transformation_mode, RESIZE_P_nearest_mode, RESIZE_P_cubic_coeff_a,
    RESIZE_P_exclude_outside, RESIZE_P_extrapolation_value, RESIZE_P_antialias,
    RESIZE_P_keep_aspect_ratio_policy, RESIZE_P_layout, RESIZE_N_P
};

/* pixel_shuffle and pixel_unshuffle share one kernel file (pixel_shuffle.c). */
enum { PIXEL_SHUFFLE_IN_x, PIXEL_SHUFFLE_N_IN };
enum { PIXEL_SHUFFLE_OUT_y, PIXEL_SHUFFLE_N_OUT };
enum {
    PIXEL_SHUFFLE_P_upscale_factor, PIXEL_SHUFFLE_P_mode, PIXEL_SHUFFLE_P_layout,
    PIXEL_SHUFFLE_N_P
};
enum { PIXEL_UNSHUFFLE_IN_x, PIXEL_UNSHUFFLE_N_IN };
enum { PIXEL_UNSHUFFLE_OUT_y, PIXEL_UNSHUFFLE_N_OUT };
enum {
    PIXEL_UNSHUFFLE_P_downscale_factor, PIXEL_UNSHUFFLE_P_mode, PIXEL_UNSHUFFLE_P_layout,
    PIXEL_UNSHUFFLE_N_P
};

#ifdef UP_TEST_TOY_OP
/* The toy op of the test build (tests/toy/): proof that an op is its
 * slots here, one registry entry and one kernel file. */
UP_DECLARE_OP(toy_scale)
enum { TOY_SCALE_IN_x, TOY_SCALE_N_IN };
enum { TOY_SCALE_OUT_y, TOY_SCALE_N_OUT };
enum { TOY_SCALE_P_factor, TOY_SCALE_P_layout, TOY_SCALE_N_P };
#endif

/* max_unpool's mask form has two algorithms with identical results (see
 * max_unpool.c); 0 (the default) picks the cheaper for each plan, 1 forces
 * the window scan, 2 the first-nonzero tables. For tests and benchmarks. */
extern int up_max_unpool_mask_algo;

/* The ops whose prepare needs scratch beyond the outputs (op.h, up_build_fn). */
int build_max_unpool(up_plan *p, up_error *err);
int build_nearest_unpool(up_plan *p, up_error *err);
int build_fractional_max_unpool(up_plan *p, up_error *err);
int build_fractional_max_pool(up_plan *p, up_error *err);
int build_resize(up_plan *p, up_error *err);

#endif
