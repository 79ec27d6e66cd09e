/* tensor.c -- dtype facts, overflow-checked shape arithmetic, allocation.
 * See tensor.h for why every product of sizes is checked. */
#include "tensor.h"

#include "bigbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtype_info[UP_DT_COUNT] = {
    [UP_DT_INVALID] = {"invalid", 0}, [UP_F32] = {"float32", 4},  [UP_F64] = {"float64", 8},
    [UP_F16] = {"float16", 2},        [UP_BF16] = {"bfloat16", 2}, [UP_I64] = {"int64", 8},
    [UP_I32] = {"int32", 4},          [UP_I16] = {"int16", 2},    [UP_I8] = {"int8", 1},
    [UP_U8] = {"uint8", 1},           [UP_BOOL] = {"bool", 1},
};

size_t up_dtype_size(up_dtype dt)
{
    return (dt > UP_DT_INVALID && dt < UP_DT_COUNT) ? dtype_info[dt].size : 0;
}

const char *up_dtype_name(up_dtype dt)
{
    return (dt > UP_DT_INVALID && dt < UP_DT_COUNT) ? dtype_info[dt].name : "invalid";
}

up_dtype up_dtype_from_name(const char *name)
{
    if (!name) return UP_DT_INVALID;
    for (int i = 1; i < UP_DT_COUNT; i++)
        if (strcmp(dtype_info[i].name, name) == 0) return (up_dtype)i;
    return UP_DT_INVALID;
}

int up_dtype_is_float(up_dtype dt)
{
    return dt == UP_F32 || dt == UP_F64 || dt == UP_F16 || dt == UP_BF16;
}

int up_dtype_is_index(up_dtype dt) { return dt == UP_I64 || dt == UP_I32; }

int up_shape_numel(const int64_t *shape, int rank, int64_t *out)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0 || up_mul_i64(n, shape[i], &n) < 0) return -1;
    }
    *out = n;
    return 0;
}

/* Callers hold validated shapes, but an empty tensor may still carry sizes
 * whose product wraps (0 x 2^40 x 2^40 is 0 only if the 0 comes first), so
 * a 0 anywhere gives 0, and a product that cannot be a real tensor
 * saturates instead of wrapping. */
int64_t up_tensor_numel(const up_tensor *t)
{
    int64_t n = 1;
    int wrapped = 0;
    for (int i = 0; i < t->rank; i++) {
        if (t->shape[i] <= 0) return 0;
        wrapped |= up_mul_i64(n, t->shape[i], &n) < 0;
    }
    return wrapped ? INT64_MAX : n;
}

size_t up_tensor_nbytes(const up_tensor *t)
{
    int64_t b;
    if (up_mul_i64(up_tensor_numel(t), (int64_t)up_dtype_size(t->dtype), &b) < 0) return SIZE_MAX;
    return (size_t)b;
}

int64_t up_tensor_alloc_size(up_dtype dt, int rank, const int64_t *shape)
{
    int64_t n, b;
    if (rank < 0 || rank > UP_MAX_RANK || up_dtype_size(dt) == 0 ||
        up_shape_numel(shape, rank, &n) < 0 || up_mul_i64(n, (int64_t)up_dtype_size(dt), &b) < 0 ||
        b > INT64_MAX - 63)
        return -1;
    b = (b + 63) & ~(int64_t)63;
    return b ? b : 64;
}

int up_tensor_present(const up_tensor *t) { return t->data != NULL || t->rank > 0; }

static int set_shape(up_tensor *t, up_dtype dt, int rank, const int64_t *shape, size_t *bytes)
{
    int64_t n, b, s[UP_MAX_RANK];
    if (rank < 0 || rank > UP_MAX_RANK || up_dtype_size(dt) == 0) return -1;
    if (up_shape_numel(shape, rank, &n) < 0) return -1;
    if (up_mul_i64(n, (int64_t)up_dtype_size(dt), &b) < 0) return -1;
    /* shape may point into t itself (up_tensor_alloc(o, o->dtype, o->rank,
     * o->shape)): copy it before t is cleared. */
    for (int i = 0; i < rank; i++) s[i] = shape[i];
    memset(t, 0, sizeof(*t));
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->shape[i] = s[i];
    *bytes = (size_t)b;
    return 0;
}

int up_tensor_alloc(up_tensor *t, up_dtype dt, int rank, const int64_t *shape)
{
    size_t bytes, rounded;
    if (set_shape(t, dt, rank, shape, &bytes) < 0) return -1;
    /* aligned_alloc wants a multiple of the alignment; 64 suits AVX-512 and
     * cache lines. A zero-sized tensor still gets a valid pointer. The
     * same rounding as up_tensor_alloc_size(), which is what gets charged. */
    rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return -1;
    /* Large buffers (outputs, converted inputs) come from bigbuf.c: huge
     * pages and reuse of freed blocks, so a request does not pay a page
     * fault per 4 KiB of output (bench/README.md has the figures). */
    t->alloc = rounded >= UP_BIGBUF_MIN ? up_bigbuf_alloc(rounded) : NULL;
    if (!t->alloc) t->alloc = aligned_alloc(64, rounded ? rounded : 64);
    if (!t->alloc) return -1;
    t->data = t->alloc;
    return 0;
}

int up_tensor_alloc_zero(up_tensor *t, up_dtype dt, int rank, const int64_t *shape)
{
    if (up_tensor_alloc(t, dt, rank, shape) < 0) return -1;
    memset(t->data, 0, up_tensor_nbytes(t));
    return 0;
}

void up_tensor_view(up_tensor *t, up_dtype dt, int rank, const int64_t *shape, void *data)
{
    int64_t s[UP_MAX_RANK];
    for (int i = 0; i < rank && i < UP_MAX_RANK; i++) s[i] = shape[i]; /* shape may alias t */
    memset(t, 0, sizeof(*t));
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank && i < UP_MAX_RANK; i++) t->shape[i] = s[i];
    t->data = data;
}

void up_tensor_free(up_tensor *t)
{
    if (!up_bigbuf_free(t->alloc)) free(t->alloc);
    memset(t, 0, sizeof(*t));
}

void up_shape_format(char *buf, size_t cap, const int64_t *shape, int rank)
{
    size_t len = 0;
    if (cap == 0) return;
    buf[0] = '\0';
    len += (size_t)snprintf(buf + len, cap - len, "[");
    for (int i = 0; i < rank && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "",
                                (long long)shape[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}
