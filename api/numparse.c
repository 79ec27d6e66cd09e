/* numparse.c -- m * 10^q to the nearest double (see numparse.h).
 *
 * The Eisel-Lemire method (Michael Eisel's idea, Daniel Lemire's paper
 * "Number Parsing at a Gigabyte per Second", 2021), written here from the
 * paper's description. pow10_tab.h holds, for each q, the 128-bit T with
 * 10^q = (T + f) * 2^r, 0 <= f < 1 (f = 0 for q in [0, 55], where 10^q fits
 * 128 bits exactly). With m shifted left until its top bit is set (w), the
 * 192-bit product P = w * T is the scaled value X = w * (T + f) less an
 * error below w < 2^64: only its lowest 64 bits are uncertain. The double
 * needs the top 54 bits of X (53 and a rounding bit) and whether anything
 * below them is set:
 *   - T exact: X = P, everything is known.
 *   - T short: X > P, so something below is set; the top bits are P's
 *     unless adding the error carries out of the lowest 64 bits through
 *     all of the middle 64, which needs those middle bits all ones. Then
 *     (about 1 in 2^64) the answer is "cannot tell" and strtod decides.
 * A tie (X exactly halfway between two doubles) can only come with an
 * exact X; for a short T it would show as the carry case above and is
 * left to strtod too. Round half to even, as strtod does. Results in the
 * subnormal range also go to strtod (their rounding point moves). */
#include "numparse.h"

#include <string.h>

#include "pow10_tab.h"

int up_decimal_to_double(uint64_t m, int q, double *out)
{
    if (m == 0) return -1;
    if (q < POW10_MIN) { /* below 2^64 * 10^-343 < half the least subnormal */
        *out = 0.0;
        return 0;
    }
    if (q > 308) { /* at least 10^309 */
        *out = __builtin_inf();
        return 0;
    }
    int lz = __builtin_clzll(m);
    uint64_t w = m << lz;
    const uint64_t *t = pow10_tab[q - POW10_MIN];
    unsigned __int128 hi = (unsigned __int128)w * t[0], lo = (unsigned __int128)w * t[1];
    unsigned __int128 mid = (unsigned __int128)(uint64_t)hi + (uint64_t)(lo >> 64);
    uint64_t p0 = (uint64_t)lo, p1 = (uint64_t)mid;
    uint64_t p2 = (uint64_t)(hi >> 64) + (uint64_t)(mid >> 64);
    int exact = q >= 0 && q <= 55;
    if (!exact && p1 == UINT64_MAX) return -1;

    int msb = (int)(p2 >> 63), cut = 9 + msb;
    uint64_t m54 = p2 >> cut;
    int below = exact ? ((p2 & ((UINT64_C(1) << cut) - 1)) | p1 | p0) != 0 : 1;
    uint64_t mant = m54 >> 1;
    if ((m54 & 1) && (below || (mant & 1))) mant++;
    /* value = mant * 2^e: X = m * 10^q * 2^(lz - r), r = floor(log2 10^q) - 127 */
    int e = 11 + msb + ((q * 1741647) >> 19) - lz;
    if (mant == UINT64_C(1) << 53) {
        mant >>= 1;
        e++;
    }
    int biased = e + 1075;
    if (biased < 1 || biased > 2046) return -1;
    uint64_t bits = (uint64_t)biased << 52 | (mant & ((UINT64_C(1) << 52) - 1));
    memcpy(out, &bits, sizeof(*out));
    return 0;
}
