/* numfmt.h -- tensor elements as JSON number text that reads back exactly.
 *
 * Every float is written as the SHORTEST decimal that parses back to the
 * same value of its own type (float32, float64, float16, bfloat16), so a
 * client that reads the JSON into the dtype it was told gets the exact bits
 * the kernel produced, and 0.1f prints as 0.1, not 0.100000001490116.
 *
 * Spelling (JavaScript's Number.prototype.toString rules): integral values
 * without a fraction ("4"), plain decimals for magnitudes in [1e-6, 1e21)
 * ("0.000123", "1234.5"), exponent form outside ("1e-7", "3.4028235e+38").
 * Negative zero is "-0.0" so parsers that turn "-0" into the integer 0
 * (Python's json) keep the sign.
 *
 * JSON has no NaN or infinity. They are written as the JSON strings "NaN",
 * "Infinity" and "-Infinity": valid JSON for every parser, the same words
 * Python's json module, JSON5 and JavaScript use, and accepted by Python's
 * float() and NumPy's astype(float). data_b64 is the lossless alternative
 * (NaN payloads included). */
#ifndef UP_NUMFMT_H
#define UP_NUMFMT_H

#include <stddef.h>
#include <stdint.h>

/* Longest text any printer here writes ("-2.2250738585072014e-308" is 24),
 * plus room for a NUL. */
#define UP_NUMFMT_MAX 32

/* Each writes at most UP_NUMFMT_MAX - 1 bytes, no NUL, and returns the
 * count. */
size_t up_fmt_f32(float f, char *out);
size_t up_fmt_f64(double d, char *out);
size_t up_fmt_f16(uint16_t bits, char *out);
size_t up_fmt_bf16(uint16_t bits, char *out);
size_t up_fmt_i64(int64_t v, char *out);
size_t up_fmt_u64(uint64_t v, char *out);
/* The printf/strtod search the float32 and float64 printers are checked
 * against (tests, fuzzer, bench): the same bytes, several times slower. */
size_t up_fmt_f32_ref(float f, char *out);
size_t up_fmt_f64_ref(double d, char *out);
/* float32 through the float64 Schubfach (128-bit products): what the
 * tests check up_fmt_f32's 64-bit path against. */
size_t up_fmt_f32_wide(float f, char *out);
/* up_fmt_ms (durations) is declared in api.h: the server's access log
 * writes it too. */

#endif
