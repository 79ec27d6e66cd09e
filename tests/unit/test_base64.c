/* test_base64.c -- api/base64.c: the run-time chosen codec (AVX2 where the
 * CPU has it) against the scalar reference, byte for byte.
 *
 * The vector decoder must accept exactly what the scalar one accepts and
 * give the same bytes; these cases put every byte value at every position
 * of short texts (where the vector blocks end and the scalar tail begins)
 * and check lengths 0..200 both ways. Destination buffers are malloc'd to
 * the exact documented size, so an ASan build catches any store past it. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/codecs.h"
#include "tests/support/harness.h"

static void test_rfc4648_vectors(void)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char e[16];
        unsigned char d[16];
        size_t n = strlen(plain[i]);
        up_b64_encode((const unsigned char *)plain[i], n, e);
        CHECKF(!strcmp(e, coded[i]), "%s -> %s", plain[i], e);
        CHECK(up_b64_encoded_len(n) == strlen(coded[i]));
        CHECK(up_b64_decode(coded[i], strlen(coded[i]), d) == (long long)n);
        CHECK(!memcmp(d, plain[i], n));
    }
}

/* Every length 0..200 (and a few long ones, many vector blocks): encode
 * equals the scalar encoder, decode gives the input back into a buffer of
 * exactly n/4*3 bytes. */
static void round_trip(size_t n, unsigned long long *rng)
{
    unsigned char *src = malloc(n + 1), *dst;
    char *e = malloc(up_b64_encoded_len(n) + 1), *es = malloc(up_b64_encoded_len(n) + 1);
    size_t m = up_b64_encoded_len(n);
    for (size_t i = 0; i < n; i++) src[i] = (unsigned char)th_xorshift(rng);
    up_b64_encode(src, n, e);
    up_b64_encode_scalar(src, n, es);
    CHECKF(strlen(e) == m && !strcmp(e, es), "encode n=%zu", n);
    dst = malloc(m / 4 * 3 + 1); /* +1: malloc(0) may be NULL */
    CHECKF(up_b64_decode(e, m, dst) == (long long)n, "decode n=%zu", n);
    CHECKF(!memcmp(dst, src, n), "bytes n=%zu", n);
    free(src), free(dst), free(e), free(es);
}

static void test_lengths_0_to_200(void)
{
    unsigned long long rng = 0x9e3779b97f4a7c15ULL;
    for (size_t n = 0; n <= 200; n++) round_trip(n, &rng);
    for (size_t n = 4000; n < 4100; n += 7) round_trip(n, &rng);
}

/* One text with byte c at position p: the dispatching decoder and the
 * scalar one agree on accept/refuse and on the bytes. */
static int same_verdict(char *text, size_t m, size_t p, int c)
{
    unsigned char *a = malloc(m / 4 * 3 + 1), *b = malloc(m / 4 * 3 + 1);
    char keep = text[p];
    text[p] = (char)c;
    long long ra = up_b64_decode(text, m, a), rb = up_b64_decode_scalar(text, m, b);
    int ok = ra == rb && (ra < 0 || !memcmp(a, b, (size_t)ra));
    text[p] = keep;
    free(a), free(b);
    return ok;
}

/* Every byte value at every position, for texts of 0..200 bytes. The
 * alphabet characters keep the text valid; everything else must be
 * refused by both (a bare '=' only where padding may go). */
static void test_every_byte_every_position(void)
{
    unsigned long long rng = 12345;
    int bad = 0;
    for (size_t n = 1; n <= 200 && bad < 5; n++) {
        unsigned char src[200];
        char e[272];
        size_t m = up_b64_encoded_len(n);
        for (size_t i = 0; i < n; i++) src[i] = (unsigned char)th_xorshift(&rng);
        up_b64_encode_scalar(src, n, e);
        for (size_t p = 0; p < m; p++)
            for (int c = 0; c < 256; c++)
                if (!same_verdict(e, m, p, c) && bad++ < 5)
                    CHECKF(0, "n=%zu position %zu byte 0x%02x", n, p, c);
    }
}

/* The scalar rules themselves, as the vector path must keep them. */
static void test_rejections(void)
{
    static const char *const bad[] = {
        "Zg=",  "Zg",   "Z===", "Zg=a", "=Zg=", "Zm9v\n", "Zm 9v", "Zg==Zg==", "Zm-v", "Zm_v",
        /* a bad byte inside long texts, where the vector loop runs */
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3OD*5",
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w=XJzdHV2d3h5ejAxMjM0NTY3ODk5",
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3OD\x80" "5",
    };
    unsigned char d[128];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECKF(up_b64_decode(bad[i], strlen(bad[i]), d) == -1, "accepted \"%s\"", bad[i]);
    const char *good = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk5";
    CHECK(up_b64_decode(good, strlen(good), d) == 63);
    CHECK(!memcmp(d, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 62));
}

int main(void)
{
    RUN(test_rfc4648_vectors);
    RUN(test_lengths_0_to_200);
    RUN(test_every_byte_every_position);
    RUN(test_rejections);
    return th_summary();
}
