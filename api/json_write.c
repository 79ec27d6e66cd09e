/* json_write.c -- escaped JSON strings into an up_buf (see json_write.h). */
#include "json_write.h"

#include <stdint.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    int n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
    else return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int up_json_put_string(up_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    if (!s) return up_buf_puts(b, "null");
    up_buf_append(b, "\"", 1);
    while (*p) {
        const unsigned char *run = p;
        /* copy the longest stretch that needs no escaping in one go */
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        if (p > run) up_buf_append(b, run, (size_t)(p - run));
        if (!*p) break;
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            up_buf_append(b, esc, 2);
            p++;
        } else if (*p < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            if (*p == '\n') up_buf_append(b, "\\n", 2);
            else if (*p == '\t') up_buf_append(b, "\\t", 2);
            else if (*p == '\r') up_buf_append(b, "\\r", 2);
            else up_buf_append(b, esc, 6);
            p++;
        } else {
            int n = utf8_len(p);
            if (n) up_buf_append(b, p, (size_t)n);
            else up_buf_append(b, "\\ufffd", 6);
            p += n ? n : 1;
        }
    }
    return up_buf_append(b, "\"", 1);
}

int up_json_put_key(up_buf *b, const char *key)
{
    up_json_put_string(b, key);
    return up_buf_append(b, ":", 1);
}
