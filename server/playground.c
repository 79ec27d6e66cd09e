/* playground.c -- GET /: the playground page, a browser front end to
 * POST /v1/ops/{op} (server/playground.html, embedded by playground_page.S).
 *
 * The page is one file with its style and script inline. Its
 * Content-Security-Policy allows nothing from outside: no other origin,
 * no plugins, no frames, fetches only to this daemon. Inline code is
 * allowed by the SHA-256 of each <script> and <style> element rather than
 * by 'unsafe-inline', so even if a value the page renders ever reached the
 * DOM as markup, no injected script could run. The hashes are computed
 * once, from the embedded bytes, the first time the page is asked for:
 * they cannot go stale when the page is edited, and the build needs no
 * extra step. SHA-256 is written here (about fifty lines) because nothing
 * the daemon links offers it. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../api/api.h"
#include "playground.h"

/* ---- SHA-256 (FIPS 180-4), for the CSP hash sources ---- */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64], a[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(a, h, sizeof(a));
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = a[7] + (ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25)) +
                      ((a[4] & a[5]) ^ (~a[4] & a[6])) + K[i] + w[i];
        uint32_t t2 = (ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22)) +
                      ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
        memmove(a + 1, a, 7 * sizeof(a[0]));
        a[4] += t1;
        a[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) h[i] += a[i];
}

static void sha256(const unsigned char *p, size_t n, unsigned char out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    unsigned char tail[128] = {0};
    uint64_t bits = (uint64_t)n * 8;
    for (; n >= 64; p += 64, n -= 64) sha256_block(h, p);
    memcpy(tail, p, n);
    tail[n] = 0x80;
    size_t tl = n + 9 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++) tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < tl; off += 64) sha256_block(h, tail + off);
    for (int i = 0; i < 32; i++) out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

/* ---- the policy ---- */

static char csp[1024];
static pthread_once_t csp_once = PTHREAD_ONCE_INIT;

/* Append "'sha256-…'" for the content of every <tag>…</tag> of the page
 * (the bytes between the tags, which is what browsers hash). */
static void add_hashes(char *dst, size_t cap, const char *tag)
{
    const char *p = up_playground_html, *end = up_playground_html_end;
    char open[16], close[16], b64[45];
    unsigned char d[32];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    int any = 0;
    while ((p = memmem(p, (size_t)(end - p), open, strlen(open)))) {
        const char *body = p + strlen(open);
        const char *stop = memmem(body, (size_t)(end - body), close, strlen(close));
        if (!stop) break;
        sha256((const unsigned char *)body, (size_t)(stop - body), d);
        up_b64_encode(d, sizeof(d), b64);
        size_t len = strlen(dst);
        snprintf(dst + len, cap - len, " 'sha256-%s'", b64);
        any = 1;
        p = stop;
    }
    if (!any) {
        size_t len = strlen(dst);
        snprintf(dst + len, cap - len, " 'none'");
    }
}

static void build_csp(void)
{
    snprintf(csp, sizeof(csp), "default-src 'none'; script-src");
    add_hashes(csp, sizeof(csp), "script");
    size_t len = strlen(csp);
    snprintf(csp + len, sizeof(csp) - len, "; style-src");
    add_hashes(csp, sizeof(csp), "style");
    len = strlen(csp);
    snprintf(csp + len, sizeof(csp) - len,
             "; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
             "frame-ancestors 'none'");
}

enum MHD_Result up_playground_send(up_req *r)
{
    pthread_once(&csp_once, build_csp);
    const char *const headers[] = {"Content-Security-Policy", csp,
                                   "X-Content-Type-Options", "nosniff",
                                   "Referrer-Policy", "no-referrer",
                                   "Cache-Control", "no-cache",
                                   NULL};
    return up_req_send_static(r, up_playground_html,
                              (size_t)(up_playground_html_end - up_playground_html),
                              "text/html; charset=utf-8", headers);
}
