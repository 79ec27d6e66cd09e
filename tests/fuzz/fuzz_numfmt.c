/* fuzz_numfmt.c -- the float32/float64 printers (Schubfach, api/numfmt.c)
 * against the printf/strtod search they replaced (up_fmt_*_ref), and the
 * JSON number reader against strtod on what they print.
 *
 * The input is read as a run of 8-byte float64 and 4-byte float32 bit
 * patterns (both views of the same bytes). Each value's text must be the
 * reference's byte for byte, and read back (through the request parser,
 * so Eisel-Lemire and the 8-digit groups run) to strtod's double of it,
 * which for a finite value is the value itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/codecs.h"
#include "api/numfmt.h"

static void read_back(const char *text, size_t n)
{
    char buf[UP_NUMFMT_MAX + 1];
    const char *end;
    memcpy(buf, text, n);
    buf[n] = '\0';
    if (buf[0] == '"') return; /* NaN and the infinities are JSON strings */
    cJSON *v = up_json_parse_value(buf, n, &end);
    double want = strtod(buf, NULL);
    if (!v || !cJSON_IsNumber(v) || memcmp(&v->valuedouble, &want, sizeof(want))) abort();
    cJSON_Delete(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char a[UP_NUMFMT_MAX], r[UP_NUMFMT_MAX];
    for (size_t i = 0; i + 8 <= size; i += 4) {
        double d;
        float f;
        memcpy(&d, data + i, 8);
        memcpy(&f, data + i, 4);
        size_t na = up_fmt_f64(d, a), nr = up_fmt_f64_ref(d, r);
        if (na != nr || memcmp(a, r, na)) abort();
        read_back(a, na);
        na = up_fmt_f32(f, a), nr = up_fmt_f32_ref(f, r);
        if (na != nr || memcmp(a, r, na)) abort();
        read_back(a, na);
    }
    return 0;
}
