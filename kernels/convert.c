/* convert.c -- dtype casts and channels-last <-> channels-first permutes.
 *
 * The half conversions are the classic bit-exact ones (round to nearest,
 * ties to even; NaN stays NaN; overflow to infinity), matching PyTorch's
 * c10::Half and c10::BFloat16 casts from float. They run once per element
 * per request at the edge (a float16 request is converted in and out), so
 * the array loops also come as AVX2 and AVX-512 paths, chosen per call by
 * up_isa() (dispatch.h), each bit-identical to the scalar functions for
 * every input (tests/unit/test_convert_isa.c). */
#include "convert.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "dispatch.h"
#if UP_HAVE_ISA_PATHS
#include <immintrin.h>
#endif

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float up_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        /* zero or subnormal: value = man * 2^-24, exact in float */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t up_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t abs = u & 0x7fffffffu;
    if (abs >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 | ((abs >> 13) & 0x3ff) : 0));
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (abs < 0x38800000u) {
        /* result is subnormal or zero: let the FPU round, value * 2^24 */
        float v = bits_f32(abs) * 16777216.0f;
        return (uint16_t)(sign | (uint16_t)lrintf(v));
    }
    uint32_t mant_odd = (abs >> 13) & 1;
    abs += 0xc8000fffu + mant_odd; /* rebias exponent (-112 << 23) and round */
    return (uint16_t)(sign | (abs >> 13));
}

float up_bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

uint16_t up_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* ---- array converters, one set per instruction-set level -----------------
 *
 * The hardware conversions round as the scalar code does; where they part
 * from it, the difference is repaired or the instruction not used:
 *   - vcvtph2ps quiets a signalling NaN (sets the float's bit 22); the
 *     scalar widening keeps the payload as it is, so NaN lanes whose
 *     half had bit 9 clear get bit 22 cleared again. (Measured: 0x7c01 ->
 *     0x7fc02000 in hardware, 0x7f802000 in up_f16_to_f32.)
 *   - vcvtps2ph rounds to nearest-even (immediate 0: the rounding comes
 *     from the instruction, not MXCSR) and turns a NaN into sign | 0x7e00
 *     | payload >> 13, which is what up_f32_to_f16 computes; no repair.
 *   - AVX512_BF16's vcvtneps2bf16 is not used: it flushes float32
 *     subnormals to zero, where PyTorch's bfloat16 cast rounds them. The
 *     bfloat16 store is the scalar integer rounding, 8 or 16 lanes wide.
 * Tails: AVX2 finishes with the scalar functions, AVX-512 with one masked
 * load and store (no access past n). */
typedef struct cvt_set {
    void (*f16_f32)(const uint16_t *restrict s, float *restrict d, int64_t n);
    void (*f32_f16)(const float *restrict s, uint16_t *restrict d, int64_t n);
    void (*bf16_f32)(const uint16_t *restrict s, float *restrict d, int64_t n);
    void (*f32_bf16)(const float *restrict s, uint16_t *restrict d, int64_t n);
} cvt_set;

static void f16_f32_scalar(const uint16_t *restrict s, float *restrict d, int64_t n)
{
    for (int64_t i = 0; i < n; i++) d[i] = up_f16_to_f32(s[i]);
}

static void f32_f16_scalar(const float *restrict s, uint16_t *restrict d, int64_t n)
{
    for (int64_t i = 0; i < n; i++) d[i] = up_f32_to_f16(s[i]);
}

static void bf16_f32_scalar(const uint16_t *restrict s, float *restrict d, int64_t n)
{
    for (int64_t i = 0; i < n; i++) d[i] = up_bf16_to_f32(s[i]);
}

static void f32_bf16_scalar(const float *restrict s, uint16_t *restrict d, int64_t n)
{
    for (int64_t i = 0; i < n; i++) d[i] = up_f32_to_bf16(s[i]);
}

#if UP_HAVE_ISA_PATHS
/* ---- AVX2 + F16C: 8 lanes ---- */

UP_TARGET_AVX2 static void f16_f32_avx2(const uint16_t *restrict s, float *restrict d, int64_t n)
{
    const __m256i abs_mask = _mm256_set1_epi32(0x7fff), inf = _mm256_set1_epi32(0x7c00);
    const __m256i quiet = _mm256_set1_epi32(0x400000);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(s + i));
        __m256i w = _mm256_cvtepu16_epi32(h);
        __m256i f = _mm256_castps_si256(_mm256_cvtph_ps(h));
        __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(w, abs_mask), inf);
        /* bit 22 the hardware set: NaN lanes whose bit 9 (<< 13) was clear */
        __m256i added = _mm256_andnot_si256(_mm256_slli_epi32(w, 13), quiet);
        f = _mm256_andnot_si256(_mm256_and_si256(nan, added), f);
        _mm256_storeu_si256((__m256i *)(d + i), f);
    }
    f16_f32_scalar(s + i, d + i, n - i);
}

UP_TARGET_AVX2 static void f32_f16_avx2(const float *restrict s, uint16_t *restrict d, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(d + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT));
    f32_f16_scalar(s + i, d + i, n - i);
}

UP_TARGET_AVX2 static void bf16_f32_avx2(const uint16_t *restrict s, float *restrict d, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + i)));
        _mm256_storeu_si256((__m256i *)(d + i), _mm256_slli_epi32(w, 16));
    }
    bf16_f32_scalar(s + i, d + i, n - i);
}

/* up_f32_to_bf16 on 8 lanes, result in the low 16 bits of each. */
UP_TARGET_AVX2 static inline __m256i bf16_round_avx2(__m256i u)
{
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
    __m256i hi = _mm256_srli_epi32(u, 16);
    __m256i odd = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd), 16);
    return _mm256_blendv_epi8(r, _mm256_or_si256(hi, _mm256_set1_epi32(0x40)), nan);
}

UP_TARGET_AVX2 static void f32_bf16_avx2(const float *restrict s, uint16_t *restrict d, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a = bf16_round_avx2(_mm256_loadu_si256((const __m256i *)(s + i)));
        __m256i b = bf16_round_avx2(_mm256_loadu_si256((const __m256i *)(s + i + 8)));
        /* packus works per 128-bit lane: a0 b0 a1 b1, put back in order */
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
        _mm256_storeu_si256((__m256i *)(d + i), p);
    }
    f32_bf16_scalar(s + i, d + i, n - i);
}

/* ---- AVX-512 F + BW + VL: 16 lanes, for the two conversions where it
 * measured faster than AVX2 (dispatch.h has the figures) ----
 * Each converts 16 lanes under mask k: all-ones in the loop, the tail's
 * lanes once at the end (masked loads do not touch memory past n). The
 * loop itself stays unmasked: masked stores on every vector cost up to
 * 20% on this machine (cache-resident case). */

static __mmask16 tail_mask(int64_t left) { return (__mmask16)((1u << left) - 1); }

UP_TARGET_AVX512 static inline void f16_f32_16(const uint16_t *s, float *d, __mmask16 k)
{
    const __m512i abs_mask = _mm512_set1_epi32(0x7fff), inf = _mm512_set1_epi32(0x7c00);
    const __m512i quiet = _mm512_set1_epi32(0x400000), bit9 = _mm512_set1_epi32(0x200);
    __m256i h = k == 0xffff ? _mm256_loadu_si256((const __m256i *)s)
                            : _mm256_maskz_loadu_epi16(k, s);
    __m512i w = _mm512_cvtepu16_epi32(h);
    __m512i f = _mm512_castps_si512(_mm512_cvtph_ps(h));
    __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(w, abs_mask), inf);
    __mmask16 fix = _mm512_mask_testn_epi32_mask(nan, w, bit9);
    f = _mm512_mask_andnot_epi32(f, fix, quiet, f);
    if (k == 0xffff)
        _mm512_storeu_si512(d, f);
    else
        _mm512_mask_storeu_epi32(d, k, f);
}

UP_TARGET_AVX512 static inline void f32_bf16_16(const float *s, uint16_t *d, __mmask16 k)
{
    const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    __m512i u = k == 0xffff ? _mm512_loadu_si512(s) : _mm512_maskz_loadu_epi32(k, s);
    __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, abs_mask), inf);
    __m512i hi = _mm512_srli_epi32(u, 16);
    __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)),
                                 _mm512_and_si512(hi, _mm512_set1_epi32(1)));
    r = _mm512_mask_or_epi32(_mm512_srli_epi32(r, 16), nan, hi, _mm512_set1_epi32(0x40));
    __m256i h = _mm512_cvtepi32_epi16(r);
    if (k == 0xffff)
        _mm256_storeu_si256((__m256i *)d, h);
    else
        _mm256_mask_storeu_epi16(d, k, h);
}

#define UP_AVX512_LOOP(name, S, D)                                                          \
    UP_TARGET_AVX512 static void name##_avx512(const S *restrict s, D *restrict d, int64_t n) \
    {                                                                                       \
        int64_t i = 0;                                                                      \
        for (; i + 16 <= n; i += 16) name##_16(s + i, d + i, 0xffff);                       \
        if (i < n) name##_16(s + i, d + i, tail_mask(n - i));                               \
    }
UP_AVX512_LOOP(f16_f32, uint16_t, float)
UP_AVX512_LOOP(f32_bf16, float, uint16_t)
#undef UP_AVX512_LOOP
#endif

static const cvt_set cvt_sets[] = {
    [UP_ISA_BASELINE] = {f16_f32_scalar, f32_f16_scalar, bf16_f32_scalar, f32_bf16_scalar},
#if UP_HAVE_ISA_PATHS
    [UP_ISA_AVX2] = {f16_f32_avx2, f32_f16_avx2, bf16_f32_avx2, f32_bf16_avx2},
    /* float32 -> float16 and bfloat16 -> float32 stay on AVX2: their
     * AVX-512 versions measured no faster (dispatch.h) */
    [UP_ISA_AVX512] = {f16_f32_avx512, f32_f16_avx2, bf16_f32_avx2, f32_bf16_avx512},
#endif
};

/* up_isa() never exceeds the CPU's level, and is UP_ISA_BASELINE where
 * there are no paths (dispatch.h). */
static const cvt_set *cvt_for_isa(void) { return &cvt_sets[up_isa()]; }

/* d rounded to float "to odd": toward zero, with the lowest bit set when
 * inexact. Rounding that result to nearest-even in a format with at least
 * two fewer significand bits gives exactly the rounding of d itself
 * (float32 keeps 13 more bits than float16 and 16 more than bfloat16), so
 * a decimal read as double reaches a half type rounded once:
 * 1.0004882821813226 -> float16 1.0009765625, where (float) first would
 * land on the tie 1.00048828125 and then on 1.0. */
static float f64_to_f32_odd(double d)
{
    float f = (float)d;
    uint32_t u;
    if (isnan(d) || (double)f == d) return f;
    if (isinf(f)) return f > 0 ? FLT_MAX : -FLT_MAX; /* already odd */
    u = f32_bits(f);
    if (fabs((double)f) > fabs(d)) u--; /* toward zero */
    return bits_f32(u | 1);
}

uint16_t up_f64_to_f16(double d) { return up_f32_to_f16(f64_to_f32_odd(d)); }

uint16_t up_f64_to_bf16(double d) { return up_f32_to_bf16(f64_to_f32_odd(d)); }

double up_load_f64(const up_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case UP_F32: return ((const float *)d)[i];
    case UP_F64: return ((const double *)d)[i];
    case UP_F16: return up_f16_to_f32(((const uint16_t *)d)[i]);
    case UP_BF16: return up_bf16_to_f32(((const uint16_t *)d)[i]);
    case UP_I64: return (double)((const int64_t *)d)[i];
    case UP_I32: return ((const int32_t *)d)[i];
    case UP_I16: return ((const int16_t *)d)[i];
    case UP_I8: return ((const int8_t *)d)[i];
    case UP_U8: return ((const uint8_t *)d)[i];
    case UP_BOOL: return ((const uint8_t *)d)[i] != 0;
    default: return 0;
    }
}

int64_t up_load_i64(const up_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case UP_I64: return ((const int64_t *)d)[i];
    case UP_I32: return ((const int32_t *)d)[i];
    case UP_I16: return ((const int16_t *)d)[i];
    case UP_I8: return ((const int8_t *)d)[i];
    case UP_U8: return ((const uint8_t *)d)[i];
    case UP_BOOL: return ((const uint8_t *)d)[i] != 0;
    default: return (int64_t)up_load_f64(t, i);
    }
}

static void store(up_tensor *t, int64_t i, double v, int64_t iv, int is_int)
{
    void *d = t->data;
    switch (t->dtype) {
    case UP_F32: ((float *)d)[i] = (float)v; break;
    case UP_F64: ((double *)d)[i] = v; break;
    case UP_F16: ((uint16_t *)d)[i] = up_f32_to_f16((float)v); break;
    case UP_BF16: ((uint16_t *)d)[i] = up_f32_to_bf16((float)v); break;
    case UP_I64: ((int64_t *)d)[i] = is_int ? iv : (int64_t)v; break;
    case UP_I32: ((int32_t *)d)[i] = (int32_t)(is_int ? iv : (int64_t)v); break;
    case UP_I16: ((int16_t *)d)[i] = (int16_t)(is_int ? iv : (int64_t)v); break;
    case UP_I8: ((int8_t *)d)[i] = (int8_t)(is_int ? iv : (int64_t)v); break;
    case UP_U8: ((uint8_t *)d)[i] = (uint8_t)(is_int ? iv : (int64_t)v); break;
    case UP_BOOL: ((uint8_t *)d)[i] = is_int ? iv != 0 : v != 0; break;
    default: break;
    }
}

/* float32 -> int8 / uint8 for the integer images (op.h, UP_OPF_INT_IMAGES):
 * their kernels compute in float32 and produce values of the input, so
 * the store is exact, except where a kernel produces something no input
 * held: -inf from a max_pool window wholly in ONNX padding saturates to
 * the dtype's lowest value (PyTorch's start value for integer max), and
 * NaN (never produced from integers) becomes 0 rather than undefined. */
static void f32_to_byte(const float *s, void *d, int64_t n, float lo, float hi, int is_signed)
{
    for (int64_t i = 0; i < n; i++) {
        float v = s[i] != s[i] ? 0.0f : s[i] < lo ? lo : s[i] > hi ? hi : s[i];
        if (is_signed)
            ((int8_t *)d)[i] = (int8_t)v;
        else
            ((uint8_t *)d)[i] = (uint8_t)v;
    }
}

int up_convert(const up_tensor *src, up_dtype dt, up_tensor *dst)
{
    int64_t n = up_tensor_numel(src);
    if (up_tensor_alloc(dst, dt, src->rank, src->shape) < 0) return -1;
    if (src->dtype == dt) {
        memcpy(dst->data, src->data, up_tensor_nbytes(src));
        return 0;
    }
    /* The common cases get tight loops; the rest goes through double. A
     * float32 -> half store must round from the float32 value (double
     * rounding through double is exact here since float32 -> double is). */
    const cvt_set *v = cvt_for_isa();
    if (src->dtype == UP_F16 && dt == UP_F32) {
        v->f16_f32(src->data, dst->data, n);
    } else if (src->dtype == UP_BF16 && dt == UP_F32) {
        v->bf16_f32(src->data, dst->data, n);
    } else if (src->dtype == UP_F32 && dt == UP_F16) {
        v->f32_f16(src->data, dst->data, n);
    } else if (src->dtype == UP_F32 && dt == UP_BF16) {
        v->f32_bf16(src->data, dst->data, n);
    } else if (src->dtype == UP_U8 && dt == UP_F32) {
        for (int64_t i = 0; i < n; i++)
            ((float *)dst->data)[i] = ((const uint8_t *)src->data)[i];
    } else if (src->dtype == UP_I8 && dt == UP_F32) {
        for (int64_t i = 0; i < n; i++)
            ((float *)dst->data)[i] = ((const int8_t *)src->data)[i];
    } else if (src->dtype == UP_F32 && (dt == UP_U8 || dt == UP_I8)) {
        f32_to_byte(src->data, dst->data, n, dt == UP_U8 ? 0.0f : -128.0f,
                    dt == UP_U8 ? 255.0f : 127.0f, dt == UP_I8);
    } else if (up_dtype_is_float(src->dtype) || up_dtype_is_float(dt)) {
        /* integers to float: exact for the 8-bit images (and int32) */
        for (int64_t i = 0; i < n; i++) store(dst, i, up_load_f64(src, i), 0, 0);
    } else {
        for (int64_t i = 0; i < n; i++) {
            int64_t iv = up_load_i64(src, i); /* an integer image into a float kernel too */
            store(dst, i, (double)iv, iv, 1);
        }
    }
    return 0;
}

/* Permute between (N, S, C) and (N, C, S) where S is the product of the
 * spatial sizes: a batch of 2-d transposes of (S x C) <-> (C x S). Only
 * called with elements to move (N * rows * cols > 0, fits the tensor). */
static void transpose_batch(const char *src, char *dst, int64_t N, int64_t rows, int64_t cols,
                            size_t es)
{
    const size_t plane = (size_t)rows * (size_t)cols;
    for (int64_t n = 0; n < N; n++) {
        const char *s = src + (size_t)n * plane * es;
        char *d = dst + (size_t)n * plane * es;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                memcpy(d + ((size_t)c * (size_t)rows + (size_t)r) * es,
                       s + ((size_t)r * (size_t)cols + (size_t)c) * es, es);
    }
}

/* Allocate dst with shape `shape` and transpose src's (N, rows, cols)
 * batches into it. An empty tensor moves nothing: its other sizes may be
 * huge (an empty batch of 2^40 x 2^40 planes), and a loop over rows of
 * zero columns would still run once per row. */
static int permute(const up_tensor *src, up_tensor *dst, const int64_t *shape, int64_t rows,
                   int64_t cols)
{
    if (up_tensor_alloc(dst, src->dtype, src->rank, shape) < 0) return -1;
    if (up_tensor_numel(src) == 0) return 0;
    transpose_batch(src->data, dst->data, shape[0], rows, cols, up_dtype_size(src->dtype));
    return 0;
}

/* Product of sizes [from, to) of t; 0 when one of them is 0. */
static int64_t span_numel(const up_tensor *t, int from, int to)
{
    int64_t n = 1;
    for (int i = from; i < to; i++) {
        if (t->shape[i] == 0) return 0;
        if (up_mul_i64(n, t->shape[i], &n) < 0) return -1;
    }
    return n;
}

int up_to_channels_first(const up_tensor *src, up_tensor *dst)
{
    int64_t shape[UP_MAX_RANK], S;
    int r = src->rank;
    if (r < 3 || r > UP_MAX_RANK || (S = span_numel(src, 1, r - 1)) < 0) return -1;
    shape[0] = src->shape[0];
    shape[1] = src->shape[r - 1];
    for (int i = 1; i < r - 1; i++) shape[i + 1] = src->shape[i];
    return permute(src, dst, shape, S, shape[1]);
}

int up_to_channels_last(const up_tensor *src, up_tensor *dst)
{
    int64_t shape[UP_MAX_RANK], S;
    int r = src->rank;
    if (r < 3 || r > UP_MAX_RANK || (S = span_numel(src, 2, r)) < 0) return -1;
    shape[0] = src->shape[0];
    shape[r - 1] = src->shape[1];
    for (int i = 2; i < r; i++) shape[i - 1] = src->shape[i];
    return permute(src, dst, shape, src->shape[1], S);
}
