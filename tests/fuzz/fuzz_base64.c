/* fuzz_base64.c -- the run-time chosen base64 codec (AVX2 where the CPU
 * has it) against the scalar reference (api/base64.c), both ways.
 *
 * The first byte picks the mode; the rest is the data:
 *   0  decode the raw bytes as text (mostly refused: any byte counts)
 *   1  decode text made of alphabet characters only, from the data's low 6
 *      bits, with the data's bytes 0xc0.. kept raw (so '=', bad bytes and
 *      padding land at random places of otherwise valid long texts, which
 *      is where the vector loop hands over to the scalar one)
 *   2  encode the raw bytes; then decode that text back
 * Decoders must agree on accept/refuse and on every decoded byte; encoders
 * on every character. Buffers are heap copies of the exact documented
 * sizes, so ASan sees any access past them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/codecs.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void check_decode(const char *text, size_t n)
{
    unsigned char *a = malloc(n / 4 * 3 + 1), *b = malloc(n / 4 * 3 + 1);
    long long ra = up_b64_decode(text, n, a), rb = up_b64_decode_scalar(text, n, b);
    if (ra != rb || (ra > 0 && memcmp(a, b, (size_t)ra))) abort();
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0] % 3;
    data++, size--;
    if (mode == 2) {
        size_t m = up_b64_encoded_len(size);
        unsigned char *src = malloc(size + 1), *back = malloc(m / 4 * 3 + 1);
        char *e = malloc(m + 1), *es = malloc(m + 1);
        memcpy(src, data, size);
        up_b64_encode(src, size, e);
        up_b64_encode_scalar(src, size, es);
        if (memcmp(e, es, m + 1)) abort();
        if (up_b64_decode(e, m, back) != (long long)size || memcmp(back, src, size)) abort();
        free(src), free(back), free(e), free(es);
        return 0;
    }
    char *text = malloc(size + 1);
    for (size_t i = 0; i < size; i++)
        text[i] = mode == 0 || data[i] >= 0xc0 ? (char)data[i] : alphabet[data[i] & 63];
    check_decode(text, size);
    free(text);
    return 0;
}
