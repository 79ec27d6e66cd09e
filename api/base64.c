/* base64.c -- RFC 4648 base64 for data_b64 tensors.
 *
 * Written by hand because it is on the hot path of every base64 request and
 * the libraries at hand (cJSON, libmicrohttpd) do not offer it. Two
 * implementations of one contract:
 *
 *   scalar  a table lookup per character, four characters per step; the
 *           reference, and the only path off x86-64. (It used to branch
 *           on the character ranges, which mispredicts on random data:
 *           the table is about 4x faster and refuses the same texts.)
 *   AVX2    32 characters (24 bytes) per step, the lookups done with
 *           vpshufb on the characters' nibbles (see the two blocks below).
 *           Chosen at run time (__builtin_cpu_supports), so one binary runs
 *           on any x86-64; the guard is the same idea as kernels/dispatch.h
 *           but with a function attribute, not target_clones, so it also
 *           runs under the sanitizers and the differential fuzzer
 *           (tests/fuzz/fuzz_base64.c) checks it there.
 *
 * Validation stays the scalar code's: the vector decoder only ever takes
 * whole blocks of 32 alphabet characters that are not the last quad; a
 * block holding anything else ('=', whitespace, any other byte) is left,
 * with everything after it, to the scalar loop, which accepts or refuses it
 * exactly as before. Errors carry no offset (-1), so "same rejections"
 * means the same accept/refuse answer and, when accepted, the same bytes.
 *
 * No AVX-512 path: AVX2 already runs well above the wire's other costs
 * (see bench/codec_bench.c), and a VBMI variant would add a second vector
 * path to keep equal for a gain the service cannot see. */
#include <stdint.h>
#include <string.h>

#include "codecs.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define B64_AVX2 1
#include <immintrin.h>
#else
#define B64_AVX2 0
#endif

static const char enc_table[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t up_b64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

void up_b64_encode_scalar(const unsigned char *src, size_t n, char *dst)
{
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        *dst++ = enc_table[v >> 18];
        *dst++ = enc_table[(v >> 12) & 63];
        *dst++ = enc_table[(v >> 6) & 63];
        *dst++ = enc_table[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)src[i] << 16 | (i + 1 < n ? (uint32_t)src[i + 1] << 8 : 0);
        *dst++ = enc_table[v >> 18];
        *dst++ = enc_table[(v >> 12) & 63];
        *dst++ = i + 1 < n ? enc_table[(v >> 6) & 63] : '=';
        *dst++ = '=';
    }
    *dst = '\0';
}

/* 0..63 for alphabet characters, 64 for '=', 255 for anything else. */
static const unsigned char dec_tab[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255, 255,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255,  64, 255, 255,
    255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255, 255,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

/* A quad is one table lookup per character and one test: any value with
 * bit 6 or 7 set ('=' or a non-alphabet byte) takes the careful path,
 * which applies the padding rules (only in the last quad, "xx==" or
 * "xxx=") or refuses. */
long long up_b64_decode_scalar(const char *src, size_t n, unsigned char *dst)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t out = 0;
    if (n % 4) return -1;
    for (size_t i = 0; i < n; i += 4) {
        unsigned a = dec_tab[s[i]], b = dec_tab[s[i + 1]], c = dec_tab[s[i + 2]],
                 d = dec_tab[s[i + 3]];
        if ((a | b | c | d) & 0xc0) {
            if (a > 63 || b > 63) return -1;
            /* padding only at the very end, "xx==" or "xxx=" */
            if (i + 4 != n || c == 255 || d != 64) return -1;
            dst[out++] = (unsigned char)(a << 2 | b >> 4);
            if (c != 64) dst[out++] = (unsigned char)(b << 4 | c >> 2);
            break;
        }
        dst[out++] = (unsigned char)(a << 2 | b >> 4);
        dst[out++] = (unsigned char)(b << 4 | c >> 2);
        dst[out++] = (unsigned char)(c << 6 | d);
    }
    return (long long)out;
}

#if B64_AVX2

/* ---- AVX2 encode ----------------------------------------------------------
 * Each 128-bit lane takes 12 input bytes (four groups b0 b1 b2). A byte
 * shuffle lays each group out as the 32-bit word [b1 b0 b2 b1] (bytes in
 * memory order), so its low 16 bits are b0:b1 and its high 16 bits b1:b2.
 * The four 6-bit indices then sit at fixed bit positions of those halves:
 *   a = low bits 15..10, b = low bits 9..4, c = high bits 11..6,
 *   d = high bits 5..0.
 * One 16-bit multiply-high moves a and c down to bit 0 of bytes 0 and 2,
 * one multiply-low moves b and d up to bit 0 of bytes 1 and 3 (a multiply
 * by a power of two is a per-lane shift with a different count in each
 * half). Indices become characters by adding a per-range offset, found
 * with one vpshufb on a small range number:
 *   0..25 'A'+i, 26..51 'a'-26+i, 52..61 '0'-52+i, 62 '+', 63 '/'. */
__attribute__((target("avx2"))) static inline __m256i enc_indices(__m256i in)
{
    const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10, 1,
                                            0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    __m256i w = _mm256_shuffle_epi8(in, spread);
    __m256i ac = _mm256_mulhi_epu16(_mm256_and_si256(w, _mm256_set1_epi32(0x0fc0fc00)),
                                    _mm256_set1_epi32(0x04000040));
    __m256i bd = _mm256_mullo_epi16(_mm256_and_si256(w, _mm256_set1_epi32(0x003f03f0)),
                                    _mm256_set1_epi32(0x01000010));
    return _mm256_or_si256(ac, bd);
}

__attribute__((target("avx2"))) static inline __m256i enc_ascii(__m256i idx)
{
    /* range number: 0 for 26..51, 1..12 for 52..63 (idx - 51), 13 for
     * 0..25; the table holds each range's offset */
    const __m256i offs = _mm256_setr_epi8(
        'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
        '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0, 'a' - 26, '0' - 52, '0' - 52, '0' - 52,
        '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63,
        'A', 0, 0);
    __m256i r = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
    __m256i upper = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx);
    r = _mm256_or_si256(r, _mm256_and_si256(upper, _mm256_set1_epi8(13)));
    return _mm256_add_epi8(idx, _mm256_shuffle_epi8(offs, r));
}

/* 24 bytes per step; each 16-byte load reads 4 bytes past its 12, so the
 * loop stops 28 bytes before the end and the scalar code does the rest. */
__attribute__((target("avx2"))) static size_t encode_avx2(const unsigned char *src, size_t n,
                                                            char *dst)
{
    size_t i = 0;
    for (; n - i >= 28; i += 24, dst += 32) {
        __m128i lo = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i hi = _mm_loadu_si128((const __m128i *)(src + i + 12));
        __m256i in = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
        _mm256_storeu_si256((__m256i *)dst, enc_ascii(enc_indices(in)));
    }
    return i;
}

/* ---- AVX2 decode ----------------------------------------------------------
 * Validity from the two nibbles of each character: a character is outside
 * the alphabet iff lo_bad[low nibble] & hi_class[high nibble] != 0, where
 * hi_class gives each high nibble a class bit and lo_bad[l] has that bit
 * set when (high, l) is not an alphabet character:
 *   high 2 (0x01): only 0x2b '+' and 0x2f '/'
 *   high 3 (0x02): only 0x30..0x39
 *   high 4, 6 (0x04): all but 0x40 and 0x60
 *   high 5, 7 (0x08): only 0x50..0x5a, 0x70..0x7a
 *   any other high nibble (0x10): nothing; every lo_bad entry has 0x10
 * Bytes >= 0x80 have high nibble 8..15 and so are refused ('=' is 0x3d:
 * refused too, which hands the padded tail to the scalar code).
 * Values: character + delta[high nibble], with '/' (the one character whose
 * high nibble shares a delta with another, '+') moved to index 1. Packing:
 * vpmaddubsw joins pairs into 12 bits, vpmaddwd pairs of those into 24,
 * and a shuffle plus a cross-lane permute keep 24 of the 32 bytes. */
__attribute__((target("avx2"))) static size_t decode_avx2(const char *src, size_t n,
                                                            unsigned char *dst)
{
    const __m256i lo_bad = _mm256_setr_epi8(
        0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b,
        0x1a, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b,
        0x1b, 0x1a);
    const __m256i hi_class =
        _mm256_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10,
                         0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
                         0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
    const __m256i delta = _mm256_setr_epi8(
        0, 63 - '/', 62 - '+', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0,
        63 - '/', 62 - '+', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a', 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i keep = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2,
                                          1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i nib = _mm256_set1_epi8(0x0f);
    size_t i = 0;
    unsigned char *o = dst;
    /* The 32-byte store writes 8 bytes past the block's 24; stopping 48
     * characters before the end keeps it inside the n/4*3 - 2 bytes the
     * input decodes to at least, and leaves the last quad to scalar. */
    for (; n - i >= 48; i += 32, o += 24) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(src + i));
        __m256i hi = _mm256_and_si256(_mm256_srli_epi32(c, 4), nib);
        __m256i lo = _mm256_and_si256(c, nib);
        __m256i bad = _mm256_and_si256(_mm256_shuffle_epi8(lo_bad, lo),
                                       _mm256_shuffle_epi8(hi_class, hi));
        if (!_mm256_testz_si256(bad, bad)) break;
        __m256i slash = _mm256_cmpeq_epi8(c, _mm256_set1_epi8('/'));
        __m256i v = _mm256_add_epi8(c, _mm256_shuffle_epi8(delta, _mm256_add_epi8(hi, slash)));
        __m256i w = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
        __m256i d = _mm256_madd_epi16(w, _mm256_set1_epi32(0x00011000));
        d = _mm256_shuffle_epi8(d, keep);
        d = _mm256_permutevar8x32_epi32(d, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
        _mm256_storeu_si256((__m256i *)o, d);
    }
    return i;
}

static int have_avx2(void) { return __builtin_cpu_supports("avx2"); }

#endif

void up_b64_encode(const unsigned char *src, size_t n, char *dst)
{
    size_t i = 0;
#if B64_AVX2
    if (n >= 28 && have_avx2()) {
        i = encode_avx2(src, n, dst);
        dst += i / 3 * 4;
    }
#endif
    up_b64_encode_scalar(src + i, n - i, dst);
}

long long up_b64_decode(const char *src, size_t n, unsigned char *dst)
{
    size_t i = 0;
    long long r;
    if (n % 4) return -1;
#if B64_AVX2
    if (n >= 48 && have_avx2()) i = decode_avx2(src, n, dst);
#endif
    r = up_b64_decode_scalar(src + i, n - i, dst + i / 4 * 3);
    return r < 0 ? -1 : (long long)(i / 4 * 3) + r;
}
