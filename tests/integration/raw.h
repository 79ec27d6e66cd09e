/* raw.h -- HTTP over a plain socket, for requests libcurl will not send:
 * broken framing, lying Content-Length, slow or half-sent requests, and
 * clients that vanish. Header-only like client.h; 127.0.0.1 only.
 *
 * Every read has a timeout (SO_RCVTIMEO), so a test never hangs on a
 * daemon that stops answering: it fails instead. */
#ifndef UP_TEST_RAW_H
#define UP_TEST_RAW_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define RAW_UNUSED __attribute__((unused))

typedef struct raw_resp {
    int status;            /* 0: no status line (closed or timed out) */
    int closed_early;      /* EOF or reset before a full answer */
    char *head;            /* status line + headers, NUL-terminated */
    char *body;            /* NUL-terminated */
    size_t body_len;
} raw_resp;

static RAW_UNUSED uint64_t raw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static RAW_UNUSED void raw_nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A connected socket (-1 on failure) whose reads time out after
 * timeout_ms. */
static RAW_UNUSED int raw_connect(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {0};
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    if (fd < 0) return -1;
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Write everything; -1 when the peer closed or reset first. */
static RAW_UNUSED int raw_send(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Send n bytes one a second (watching the socket between bytes) until the
 * server closes the connection or limit_ms has passed; 1 if it was cut. */
static RAW_UNUSED int raw_drip_until_cut(int fd, const char *p, size_t n, uint64_t limit_ms)
{
    uint64_t t0 = raw_now_ms();
    int cut = 0;
    for (size_t i = 0; fd >= 0 && i < n && !cut && raw_now_ms() - t0 < limit_ms; i++) {
        if (raw_send(fd, p + i, 1) < 0) return 1;
        for (int k = 0; k < 20 && !cut; k++) {
            char b[64];
            ssize_t got = recv(fd, b, sizeof(b), MSG_DONTWAIT);
            cut = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
            if (!cut) raw_nap_ms(50);
        }
    }
    return cut;
}

static RAW_UNUSED void raw_free(raw_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Value of header name in r->head (case-insensitive), copied into buf. */
static RAW_UNUSED const char *raw_header(const raw_resp *r, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = r->head ? strstr(r->head, "\r\n") : NULL; p && p[2];) {
        p += 2;
        const char *e = strstr(p, "\r\n");
        size_t ll = e ? (size_t)(e - p) : strlen(p);
        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            size_t vl = ll - (size_t)(v - p);
            if (vl >= cap) vl = cap - 1;
            memcpy(buf, v, vl);
            buf[vl] = 0;
            return buf;
        }
        if (!e) break;
        p = e;
    }
    return NULL;
}

/* Read one answer: up to the end of the headers, then Content-Length bytes
 * (or to EOF without one). */
static RAW_UNUSED int raw_read(int fd, raw_resp *r)
{
    size_t cap = 1 << 16, len = 0, need = (size_t)-1, hdr_end = 0;
    char *b = malloc(cap + 1);
    memset(r, 0, sizeof(*r));
    if (!b) return -1;
    for (;;) {
        if (hdr_end && len >= hdr_end + need) break;
        if (len == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) break;
            b = nb;
            cap *= 2;
        }
        ssize_t k = recv(fd, b + len, cap - len, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            r->closed_early = !hdr_end || (need != (size_t)-1 && len < hdr_end + need);
            break;
        }
        len += (size_t)k;
        b[len] = 0;
        if (!hdr_end) {
            char *e = strstr(b, "\r\n\r\n");
            if (e) {
                hdr_end = (size_t)(e - b) + 4;
                r->head = strndup(b, hdr_end - 2);
                char cl[32];
                if (raw_header(r, "Content-Length", cl, sizeof(cl))) need = strtoull(cl, NULL, 10);
            }
        }
    }
    b[len] = 0;
    if (hdr_end) {
        size_t blen = len - hdr_end;
        if (need != (size_t)-1 && blen > need) blen = need;
        r->body = strndup(b + hdr_end, blen);
        r->body_len = blen;
        if (!strncmp(b, "HTTP/1.", 7)) r->status = atoi(b + 9);
    } else {
        r->head = strdup("");
        r->body = strdup("");
    }
    free(b);
    return r->status ? 0 : -1;
}

/* Read until the peer closes (or a read times out): every byte, for
 * answers to pipelined requests. *out is malloc'd and NUL-terminated. */
static RAW_UNUSED size_t raw_read_all(int fd, char **out)
{
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        if (len == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) break;
            b = nb;
            cap *= 2;
        }
        ssize_t k = recv(fd, b + len, cap - len, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        len += (size_t)k;
    }
    b[len] = 0;
    *out = b;
    return len;
}

/* The answer that starts at buf + *off (status line, headers,
 * Content-Length bytes of body); *off moves past it. -1 when no complete
 * answer starts there. */
static RAW_UNUSED int raw_parse_next(const char *buf, size_t len, size_t *off, raw_resp *r)
{
    const char *p = buf + *off, *e;
    char cl[32];
    memset(r, 0, sizeof(*r));
    if (*off >= len || strncmp(p, "HTTP/1.", 7) || !(e = strstr(p, "\r\n\r\n"))) return -1;
    size_t hl = (size_t)(e - p) + 4;
    r->head = strndup(p, hl - 2);
    size_t need = raw_header(r, "Content-Length", cl, sizeof(cl)) ? strtoull(cl, NULL, 10) : 0;
    if (*off + hl + need > len) {
        raw_free(r);
        return -1;
    }
    r->status = atoi(p + 9);
    r->body = strndup(p + hl, need);
    r->body_len = need;
    *off += hl + need;
    return 0;
}

/* Send raw bytes on a new connection and read the answer. */
static RAW_UNUSED int raw_exchange(int port, const void *req, size_t n, raw_resp *r, int timeout_ms)
{
    int fd = raw_connect(port, timeout_ms);
    memset(r, 0, sizeof(*r));
    if (fd < 0) {
        r->head = strdup("");
        r->body = strdup("");
        r->closed_early = 1;
        return -1;
    }
    raw_send(fd, req, n); /* the daemon may answer and close before all is sent */
    int rc = raw_read(fd, r);
    close(fd);
    return rc;
}

/* A request with a correct Content-Length (Connection: close) unless
 * extra_headers names its own. extra_headers: "Name: v\r\n..." or "". */
static RAW_UNUSED int raw_request(int port, const char *method, const char *path,
                                  const char *extra_headers, const void *body, size_t n,
                                  raw_resp *r)
{
    char head[8192];
    int has_cl = strcasestr(extra_headers, "Content-Length:") != NULL ||
                 strcasestr(extra_headers, "Transfer-Encoding:") != NULL;
    int hl = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s",
                      method, path, extra_headers);
    if (!has_cl && (body || strcmp(method, "POST") == 0))
        hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "Content-Length: %zu\r\n", n);
    hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "\r\n");
    size_t total = (size_t)hl + n;
    char *all = malloc(total);
    memcpy(all, head, (size_t)hl);
    if (n) memcpy(all + hl, body, n);
    int rc = raw_exchange(port, all, total, r, 15000);
    free(all);
    return rc;
}

#endif
