/* index_layout.h -- where a flat index points, in each supported layout.
 *
 * Pooling indices come in four conventions (docs/contract.md, "Index layouts"):
 *   plane  (PyTorch)    position inside the (n, c) spatial plane
 *   tensor (ONNX)       row-major position in the whole (N, C, *S) tensor
 *   hwc    (TensorFlow) (pos * C + c), channels-last, batch not included
 *   nhwc   (TensorFlow) ((n * S + pos) * C + c), batch included
 * Kernels work in plane positions; these two inline functions translate at
 * the edge, once per element, so every kernel handles every layout without
 * a copy of the index tensor. `plane` is the product of the spatial sizes of
 * the tensor the indices address (the pooling input, or the unpooled output).
 * All arithmetic is on validated sizes whose products fit in int64; the
 * client's idx is compared before it is used in any arithmetic. */
#ifndef UP_INDEX_LAYOUT_H
#define UP_INDEX_LAYOUT_H

#include <stdint.h>
#include "op.h"

/* Client index -> position in plane (n, c), or -1 when it lands elsewhere. */
static inline int64_t up_index_to_plane(int layout, int64_t idx, int64_t n, int64_t c,
                                        int64_t C, int64_t plane)
{
    int64_t r;
    if (idx < 0) return -1;
    switch (layout) {
    case UP_IDX_PLANE:
        return idx < plane ? idx : -1;
    case UP_IDX_TENSOR: {
        int64_t base = (n * C + c) * plane;
        if (idx < base) return -1;
        r = idx - base;
        return r < plane ? r : -1;
    }
    case UP_IDX_HWC:
        if (idx % C != c) return -1;
        r = idx / C;
        return r < plane ? r : -1;
    case UP_IDX_NHWC:
        if (idx % C != c) return -1;
        r = idx / C;
        if (r / plane != n) return -1;
        return r % plane;
    default:
        return -1;
    }
}

/* Position in plane (n, c) -> client index. */
static inline int64_t up_index_from_plane(int layout, int64_t pos, int64_t n, int64_t c,
                                          int64_t C, int64_t plane)
{
    switch (layout) {
    case UP_IDX_TENSOR: return (n * C + c) * plane + pos;
    case UP_IDX_HWC: return pos * C + c;
    case UP_IDX_NHWC: return (n * plane + pos) * C + c;
    default: return pos;
    }
}

#endif
