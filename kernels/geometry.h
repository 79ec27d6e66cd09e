/* geometry.h -- every size an op derives from params and shapes, computed
 * with overflow checks, in one place.
 *
 * Params and shapes come off the wire. An op's prepare derives window
 * extents, padded sizes, output sizes, element and byte counts from them,
 * and its kernel then runs loops and indexes memory with those numbers, so
 * one wrapped multiplication becomes a hang, a short allocation followed by
 * a long write, or a wrong index. Every such derivation goes through the
 * helpers below: each returns 0 and stores the result, or -1 when a step
 * overflows int64 (prepare then answers 422 or 413 naming the param). The
 * window helpers also give kernels closed forms (first position of a
 * dilated window at or after 0, ceiling division), so that no loop runs
 * once per unit of a param's value.
 *
 * Two bounds make everything downstream small enough to add and multiply a
 * few times without care:
 *   - UP_GEOM_MAX_EXTENT: the product of a tensor's nonzero sizes. A tensor
 *     with real data cannot come near it; an empty one (a size 0) could
 *     otherwise carry sizes whose product, or whose plane, wraps int64.
 *   - UP_GEOM_MAX_PARAM: kernel_size, stride, padding, dilation and
 *     output_padding, which PyTorch 1.13 reads as 32-bit ints (max_pool
 *     raises "integer out of range" above it; conv_transpose silently wraps
 *     them modulo 2^32).
 *
 * Cost estimates (up_sat_*) saturate instead of failing: a plan whose
 * estimate saturates is refused by --max-work like any other large one. */
#ifndef UP_GEOMETRY_H
#define UP_GEOMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

#define UP_GEOM_MAX_EXTENT ((int64_t)1 << 50)
#define UP_GEOM_MAX_PARAM ((int64_t)INT32_MAX)

/* ---- closed forms for kernels (no overflow for the documented ranges) --- */

/* ceil(a / b) for a >= 0, b >= 1; never forms a + b - 1. */
static inline int64_t up_div_ceil(int64_t a, int64_t b) { return a / b + (a % b != 0); }

/* floor(a / b) for any a, b >= 1 (PyTorch's div_rtn). */
static inline int64_t up_div_floor(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* The first a + m*d >= 0 over m >= 0 (d >= 1): where a dilated window that
 * starts at a enters the input. PyTorch writes it `while (a < 0) a += d`,
 * which runs padding / dilation times. */
static inline int64_t up_grid_first(int64_t a, int64_t d)
{
    int64_t r;
    if (a >= 0) return a;
    r = -(a % d); /* in [0, d) */
    return r ? d - r : 0;
}

/* ---- checked derivations ------------------------------------------------ */

/* (k - 1) * d + 1: the extent of a window of k taps d apart (k, d >= 1). */
int up_geom_window(int64_t k, int64_t d, int64_t *out);
/* in + 2 * p. */
int up_geom_padded(int64_t in, int64_t p, int64_t *out);
/* PyTorch's pooling_output_shape: floor or ceil of
 * (in + 2p - window) / s + 1, and in ceil mode one less when the last window
 * would start in the right padding. May store a value < 1 (the caller names
 * the param); -1 only on overflow. */
int up_geom_pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int ceil_mode,
                     int64_t *out);
/* conv_transpose: (in - 1) * s - 2p + d * (k - 1) + output_padding + 1. */
int up_geom_convt_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int64_t op,
                      int64_t *out);
/* max_unpool's default size (in - 1) * s - 2p + k, and the end of the last
 * window (in - 1) * s - p + k, both checked. */
int up_geom_unpool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t *out);

/* Elements of a shape: 0 when a size is 0. -1 when a size is negative or
 * the product of the nonzero sizes exceeds UP_GEOM_MAX_EXTENT, so that
 * every sub-product (a plane, N * C, a row count) of an accepted shape fits
 * int64 with room to spare, empty or not. */
int up_geom_numel(const int64_t *shape, int rank, int64_t *numel);
/* n elements of es bytes each. */
int up_geom_bytes(int64_t n, size_t es, int64_t *bytes);

/* ---- cost estimates ----------------------------------------------------- */

/* a + b and a * b for a, b >= 0, saturating at INT64_MAX. */
int64_t up_sat_add(int64_t a, int64_t b);
int64_t up_sat_mul(int64_t a, int64_t b);

#endif
