/* numparse.h -- decimal m * 10^q to the nearest double, without strtod.
 *
 * The JSON number reader (json_parse.c) collects a number's digits into a
 * 64-bit m and its decimal exponent q; these turn that into the double
 * strtod would give for the same text, bit for bit, or say they cannot
 * tell (rare) so the caller asks strtod. */
#ifndef UP_NUMPARSE_H
#define UP_NUMPARSE_H

#include <stdint.h>

/* m * 10^q correctly rounded (to nearest, ties to even), m > 0 and exact
 * (all of the number's digits): 0 and *out set, or -1 when the product is
 * too close to a rounding boundary to decide here, or the result is
 * subnormal. */
int up_decimal_to_double(uint64_t m, int q, double *out);

/* How many of the 8 bytes loaded little-endian in v, from the first, are
 * ASCII digits (0..8). A byte is a digit iff its high nibble is 3 and
 * its low nibble plus 6 does not carry into the high one; the low
 * nibbles are added apart from the high ones so no carry crosses bytes. */
static inline int up_leading_digits(uint64_t v)
{
    uint64_t x = v ^ 0x3030303030303030ULL;
    uint64_t bad = (x & 0xf0f0f0f0f0f0f0f0ULL) |
                   (((x & 0x0f0f0f0f0f0f0f0fULL) + 0x0606060606060606ULL) & 0xf0f0f0f0f0f0f0f0ULL);
    return bad ? __builtin_ctzll(bad) >> 3 : 8;
}

/* The value of 8 ASCII digits loaded little-endian (first digit in the
 * low byte), or -1 if any of the 8 bytes is not a digit. */
static inline int64_t up_eight_digits(uint64_t v)
{
    /* a byte is a digit iff its high nibble is 3 and adding 6 keeps it so */
    if ((v & 0xf0f0f0f0f0f0f0f0ULL) != 0x3030303030303030ULL ||
        ((v + 0x0606060606060606ULL) & 0xf0f0f0f0f0f0f0f0ULL) != 0x3030303030303030ULL)
        return -1;
    v -= 0x3030303030303030ULL;
    /* bytes 0, 2, 4, 6 become the two-digit values d0d1, d2d3, d4d5, d6d7 */
    v = v * 10 + (v >> 8);
    /* then d0d1 * 10^6 + d2d3 * 10^4 + d4d5 * 100 + d6d7 lands in the high
     * 32 bits of one product sum (each low half stays below 2^32) */
    uint64_t a = v & 0x000000ff000000ffULL, b = (v >> 16) & 0x000000ff000000ffULL;
    return (int64_t)((a * (100 + (1000000ULL << 32)) + b * (1 + (10000ULL << 32))) >> 32);
}

#endif
