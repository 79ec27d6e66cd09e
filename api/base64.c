/* base64.c -- RFC 4648 base64 for data_b64 tensors.
 *
 * Written by hand because it is on the hot path of every base64 request and
 * the libraries at hand (cJSON, libmicrohttpd) do not offer it; a table
 * lookup per character keeps decoding linear with no branches per bit. */
#include <stdint.h>

#include "codecs.h"

static const char enc_table[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t up_b64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

void up_b64_encode(const unsigned char *src, size_t n, char *dst)
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
static unsigned char dec_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return (unsigned char)(c - 'A');
    if (c >= 'a' && c <= 'z') return (unsigned char)(c - 'a' + 26);
    if (c >= '0' && c <= '9') return (unsigned char)(c - '0' + 52);
    if (c == '+') return 62;
    if (c == '/') return 63;
    if (c == '=') return 64;
    return 255;
}

long long up_b64_decode(const char *src, size_t n, unsigned char *dst)
{
    size_t out = 0;
    if (n % 4) return -1;
    for (size_t i = 0; i < n; i += 4) {
        unsigned char a = dec_value((unsigned char)src[i]), b = dec_value((unsigned char)src[i + 1]),
                      c = dec_value((unsigned char)src[i + 2]), d = dec_value((unsigned char)src[i + 3]);
        int last = i + 4 == n;
        if (a > 63 || b > 63) return -1;
        if (c == 64 || d == 64) {
            /* padding only at the very end, "xx==" or "xxx=" */
            if (!last || (c == 64 && d != 64) || c == 255 || d == 255) return -1;
            dst[out++] = (unsigned char)(a << 2 | b >> 4);
            if (c != 64) dst[out++] = (unsigned char)(b << 4 | c >> 2);
            break;
        }
        if (c > 63 || d > 63) return -1;
        dst[out++] = (unsigned char)(a << 2 | b >> 4);
        dst[out++] = (unsigned char)(b << 4 | c >> 2);
        dst[out++] = (unsigned char)(c << 6 | d);
    }
    return (long long)out;
}
