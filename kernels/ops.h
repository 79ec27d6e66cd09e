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

/* max_unpool's mask form has two algorithms with identical results (see
 * max_unpool.c); 0 (the default) picks the cheaper for each plan, 1 forces
 * the window scan, 2 the first-nonzero tables. For tests and benchmarks. */
extern int up_max_unpool_mask_algo;

/* The ops whose prepare needs scratch beyond the outputs (op.h, up_build_fn). */
int build_max_unpool(up_plan *p, up_error *err);
int build_nearest_unpool(up_plan *p, up_error *err);
int build_fractional_max_unpool(up_plan *p, up_error *err);
int build_fractional_max_pool(up_plan *p, up_error *err);

#endif
