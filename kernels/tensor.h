/* tensor.h -- the tensor type every layer of unpoold passes around.
 *
 * A tensor is a dtype, a rank (1..5 here; op inputs are 3..5), a shape and
 * one contiguous row-major buffer in the machine's (little-endian) byte
 * order. Kernels only ever see channels-first tensors in a compute dtype
 * (float32 or float64, int64 indices, uint8 masks); plan.c converts what the
 * client sent into that form and back, so each kernel is written once per
 * compute dtype instead of once per wire format.
 *
 * Every product of sizes goes through up_mul_i64()/up_shape_numel(): shapes
 * come off the wire and a wrapped multiplication would turn a hostile shape
 * into a small allocation followed by a large write. */
#ifndef UP_TENSOR_H
#define UP_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define UP_MAX_RANK 5   /* (N, C, D, H, W) */
#define UP_MAX_SPATIAL 3

typedef enum up_dtype {
    UP_DT_INVALID = 0,
    UP_F32,
    UP_F64,
    UP_F16,
    UP_BF16,
    UP_I64,
    UP_I32,
    UP_I16,
    UP_I8,
    UP_U8,
    UP_BOOL,
    UP_DT_COUNT
} up_dtype;

typedef struct up_tensor {
    up_dtype dtype;
    int rank;
    int64_t shape[UP_MAX_RANK];
    void *data;   /* contiguous row-major; NULL for an absent optional input */
    void *alloc;  /* what up_tensor_free() releases; NULL when data is borrowed */
} up_tensor;

/* dtype facts. Names are NumPy/PyTorch's ("float32", "bfloat16", ...). */
size_t up_dtype_size(up_dtype dt);
const char *up_dtype_name(up_dtype dt);
up_dtype up_dtype_from_name(const char *name); /* UP_DT_INVALID if unknown */
int up_dtype_is_float(up_dtype dt);            /* f32, f64, f16, bf16 */
int up_dtype_is_index(up_dtype dt);            /* i64, i32 */

/* Overflow-checked arithmetic: return 0 and store the result, or -1.
 * Inline: prepare calls them a few dozen times per request. */
static inline int up_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
static inline int up_add_i64(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}
/* Product of rank sizes, each >= 0; -1 on a negative size or overflow. */
int up_shape_numel(const int64_t *shape, int rank, int64_t *out);

int64_t up_tensor_numel(const up_tensor *t);   /* 0 if any size is <= 0; saturates */
size_t up_tensor_nbytes(const up_tensor *t);   /* saturates at SIZE_MAX */
int up_tensor_present(const up_tensor *t);

/* Allocate data for t (64-byte aligned, uninitialised). Sets dtype, rank,
 * shape. Returns -1 on overflow or out of memory. */
int up_tensor_alloc(up_tensor *t, up_dtype dt, int rank, const int64_t *shape);
/* The bytes up_tensor_alloc() takes for that shape (rounded up to 64, at
 * least 64): what a plan charges before allocating. -1 on overflow. */
int64_t up_tensor_alloc_size(up_dtype dt, int rank, const int64_t *shape);
/* Same, zero-filled. */
int up_tensor_alloc_zero(up_tensor *t, up_dtype dt, int rank, const int64_t *shape);
/* A borrowed view: t points at data it does not own. */
void up_tensor_view(up_tensor *t, up_dtype dt, int rank, const int64_t *shape, void *data);
void up_tensor_free(up_tensor *t);

/* Write "[1, 2, 3]" into buf (always NUL-terminated). */
void up_shape_format(char *buf, size_t cap, const int64_t *shape, int rank);

#endif
