/* convert.h -- dtype and memory-layout conversions between the wire and the
 * kernels.
 *
 * float16 and bfloat16 are stored as IEEE binary16 / the top half of a
 * binary32 and computed in float32; the store back rounds to nearest-even,
 * as PyTorch's casts do. Layout conversion permutes (N, *S, C) <-> (N, C, *S)
 * so kernels only ever see channels-first data. */
#ifndef UP_CONVERT_H
#define UP_CONVERT_H

#include <stdint.h>
#include "tensor.h"

float up_f16_to_f32(uint16_t h);
uint16_t up_f32_to_f16(float f);
float up_bf16_to_f32(uint16_t b);
uint16_t up_f32_to_bf16(float f);
/* From double, rounded once (not through a float32 rounding first). */
uint16_t up_f64_to_f16(double d);
uint16_t up_f64_to_bf16(double d);

/* Element i of t as double / int64 (any dtype). */
double up_load_f64(const up_tensor *t, int64_t i);
int64_t up_load_i64(const up_tensor *t, int64_t i);

/* dst = src converted to dtype dt (same shape; dst allocated here). Float to
 * float rounds to nearest-even; int to int must fit (returns -1 otherwise is
 * not checked: callers only widen). */
int up_convert(const up_tensor *src, up_dtype dt, up_tensor *dst);

/* Permutations of a rank-r tensor between channels-last (N, *S, C) and
 * channels-first (N, C, *S); dst allocated here, same dtype. */
int up_to_channels_first(const up_tensor *src, up_tensor *dst);
int up_to_channels_last(const up_tensor *src, up_tensor *dst);

#endif
