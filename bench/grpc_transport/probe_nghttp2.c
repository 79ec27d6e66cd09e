/* probe_nghttp2.c -- the gRPC transport probe on libnghttp2: HTTP/2 in
 * cleartext (h2c, prior knowledge, as gRPC clients speak it without TLS),
 * one thread, one epoll loop, and gRPC's framing written by hand: a
 * request is HEADERS (:path = the method) then DATA carrying one message
 * behind a 5-byte prefix (flag, big-endian length); the answer is HEADERS
 * (:status 200, content-type application/grpc), DATA (prefix + message) and
 * trailers (grpc-status, grpc-message), or, for an error before any
 * message, one trailers-only HEADERS frame. See probe.h for the answer rule
 * and the stats line.
 *
 * What this probe shows against probe_core.c: nghttp2 buffers no request
 * body. Every DATA frame goes to on_data() as it is read, so the message
 * length is known from the prefix in the first frame, and the call is
 * charged (or refused with RESOURCE_EXHAUSTED and an RST_STREAM that stops
 * the sender) before anything but the socket's read buffer holds its bytes.
 * The price is that all of HTTP/2's gRPC mapping, and TLS, are ours.
 *
 * Flow control: nghttp2 sends WINDOW_UPDATE as on_data() consumes bytes; the
 * stream window is -w KiB (SETTINGS_INITIAL_WINDOW_SIZE) and the connection
 * window 4x that, which bounds what a client may have in flight to us.
 *
 * Usage: probe_nghttp2 -p PORT -r RESPONSE.pb [-b BUDGET_MIB]
 *                      [-m MAX_MESSAGE_MIB] [-w WINDOW_KIB] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

#define READ_CHUNK (256 << 10)

struct stream {
    int32_t id;
    int bad_path, answered;
    uint8_t prefix[5];
    size_t prefix_got;
    uint8_t *msg;               /* the request's message, then the answer */
    size_t len, got, charged;
    const uint8_t *out;         /* answer: prefix + out, sent from sent */
    size_t out_len, sent;
};

struct conn {
    int fd;
    nghttp2_session *s;
    const uint8_t *pend;        /* bytes from nghttp2_session_mem_send not yet written */
    size_t pend_len;
    int polling_out;
};

static struct probe_budget budget;
static size_t max_msg = 128 * PROBE_MIB;
static uint32_t window = 1 << 20;
static uint8_t *small_resp;
static size_t small_len;
static int ep;

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

/* One HEADERS frame with END_STREAM, the answer's status in it; once it is
 * sent, on_sent() adds RST_STREAM(NO_ERROR) if the client is still sending,
 * so that it stops (gRPC's HTTP/2 mapping allows it once the server has
 * closed its side; before the trailers, a client reports INTERNAL). */
static int refuse(nghttp2_session *s, struct stream *st, int code, const char *why)
{
    char num[12];
    snprintf(num, sizeof num, "%d", code);
    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                       NV("grpc-status", num), NV("grpc-message", why)};
    st->answered = 1;
    if (code == PROBE_EXHAUSTED) atomic_fetch_add(&budget.refused, 1);
    return nghttp2_submit_response(s, st->id, nv, 4, NULL) ? -1 : 0;
}

static int on_sent(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    int32_t id = f->hd.stream_id;
    if (f->hd.type != NGHTTP2_HEADERS || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
        nghttp2_session_get_stream_remote_close(s, id))
        return 0;
    return nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

/* The answer's DATA: the 5-byte prefix, then the message; at its end the
 * trailers go out, which carry END_STREAM. */
static ssize_t read_answer(nghttp2_session *s, int32_t id, uint8_t *buf, size_t cap,
                           uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)ud;
    struct stream *st = src->ptr;
    size_t n = 0;
    while (n < cap && st->sent < 5 + st->out_len) {
        if (st->sent < 5) {
            uint8_t pre[5] = {0, (uint8_t)(st->out_len >> 24), (uint8_t)(st->out_len >> 16),
                              (uint8_t)(st->out_len >> 8), (uint8_t)st->out_len};
            buf[n++] = pre[st->sent++];
            continue;
        }
        size_t k = 5 + st->out_len - st->sent;
        if (k > cap - n) k = cap - n;
        memcpy(buf + n, st->out + st->sent - 5, k);
        n += k;
        st->sent += k;
    }
    if (st->sent == 5 + st->out_len) {
        nghttp2_nv tr[] = {NV("grpc-status", "0")};
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(s, id, tr, 1)) return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

static int answer(nghttp2_session *s, struct stream *st)
{
    if (st->bad_path) return refuse(s, st, PROBE_UNIMPLEMENTED, "no such method");
    if (st->prefix_got < 5 || st->got < st->len) return refuse(s, st, PROBE_INTERNAL, "no message");
    if (st->len < PROBE_ECHO_MIN) st->out = small_resp, st->out_len = small_len;
    else st->out = st->msg, st->out_len = st->len;
    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_answer};
    st->answered = 1;
    atomic_fetch_add(&budget.ok, 1);
    return nghttp2_submit_response(s, st->id, nv, 2, &dp) ? -1 : 0;
}

/* The message header is complete: refuse now, before buffering, or charge
 * and allocate the contiguous copy the body goes into. */
static int on_prefix(nghttp2_session *s, struct stream *st)
{
    st->len = (size_t)st->prefix[1] << 24 | (size_t)st->prefix[2] << 16 |
              (size_t)st->prefix[3] << 8 | st->prefix[4];
    if (st->prefix[0]) return refuse(s, st, PROBE_UNIMPLEMENTED, "compressed message");
    if (st->len > max_msg) return refuse(s, st, PROBE_EXHAUSTED, "message too large");
    if (st->len < PROBE_ECHO_MIN) st->charged = 0;
    else if (probe_take(&budget, st->len) < 0) return refuse(s, st, PROBE_EXHAUSTED, "budget full");
    else st->charged = st->len;
    st->msg = malloc(st->len ? st->len : 1);
    return st->msg ? 0 : refuse(s, st, PROBE_INTERNAL, "out of memory");
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *ud)
{
    (void)flags, (void)ud;
    struct stream *st = nghttp2_session_get_stream_user_data(s, id);
    while (st && !st->answered && len) {
        if (st->prefix_got < 5) {
            st->prefix[st->prefix_got++] = *data++;
            len--;
            if (st->prefix_got == 5 && on_prefix(s, st)) return NGHTTP2_ERR_CALLBACK_FAILURE;
            continue;
        }
        if (st->got == st->len) /* a second message on a unary call */
            return refuse(s, st, PROBE_INTERNAL, "more than one message") ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
        size_t k = st->len - st->got < len ? st->len - st->got : len;
        memcpy(st->msg + st->got, data, k);
        st->got += k, data += k, len -= k;
    }
    return 0;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    struct stream *st = calloc(1, sizeof *st);
    if (!st) return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->id = f->hd.stream_id;
    return nghttp2_session_set_stream_user_data(s, st->id, st) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)flags, (void)ud;
    struct stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (st && nlen == 5 && !memcmp(name, ":path", 5))
        st->bad_path = vlen != strlen(PROBE_METHOD) || memcmp(value, PROBE_METHOD, vlen);
    return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    if ((f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st || st->answered) return 0;
    return answer(s, st) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)code, (void)ud;
    struct stream *st = nghttp2_session_get_stream_user_data(s, id);
    if (!st) return 0;
    probe_give(&budget, st->charged);
    free(st->msg);
    free(st);
    return 0;
}

static void conn_close(struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    nghttp2_session_del(c->s);
    free(c);
}

/* Writes what nghttp2 has to send until it has nothing or the socket is
 * full; then waits for EPOLLOUT. The pointer mem_send returns stays valid
 * until its next call, so a partial write just keeps it. */
static int conn_flush(struct conn *c)
{
    for (;;) {
        while (c->pend_len) {
            ssize_t k = send(c->fd, c->pend, c->pend_len, MSG_NOSIGNAL);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0 && errno != EAGAIN) return -1;
            if (k < 0) {
                if (!c->polling_out) {
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    c->polling_out = 1;
                }
                return 0;
            }
            c->pend += k, c->pend_len -= (size_t)k;
        }
        ssize_t n = nghttp2_session_mem_send(c->s, &c->pend);
        if (n < 0) return -1;
        if (n == 0) break;
        c->pend_len = (size_t)n;
    }
    if (c->polling_out) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->polling_out = 0;
    }
    return nghttp2_session_want_read(c->s) || nghttp2_session_want_write(c->s) ? 0 : -1;
}

static int conn_read(struct conn *c)
{
    static uint8_t buf[READ_CHUNK];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        if (n <= 0) return -1;
        if (nghttp2_session_mem_recv(c->s, buf, (size_t)n) < 0) return -1;
    }
}

static void conn_open(int lfd, nghttp2_session_callbacks *cb, nghttp2_option *opt)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
    if (fd < 0) return;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) goto err;
    c->fd = fd;
    if (nghttp2_session_server_new2(&c->s, cb, c, opt)) goto err;
    nghttp2_settings_entry set[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1024},
                                    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    if (nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, set, 2) ||
        nghttp2_session_set_local_window_size(c->s, NGHTTP2_FLAG_NONE, 0, (int32_t)(4 * window)))
        goto err;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) || conn_flush(c)) goto err;
    return;
err:
    if (c && c->s) nghttp2_session_del(c->s);
    free(c);
    close(fd);
}

static int listen_on(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 128)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: probe_nghttp2 -p PORT -r RESPONSE.pb [-b BUDGET_MIB]"
                    " [-m MAX_MESSAGE_MIB] [-w WINDOW_KIB]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 0, opt;
    const char *resp = NULL;
    while ((opt = getopt(argc, argv, "p:r:b:m:w:")) != -1) {
        if (opt == 'p') port = atoi(optarg);
        else if (opt == 'r') resp = optarg;
        else if (opt == 'b') budget.limit = strtoull(optarg, NULL, 10) * PROBE_MIB;
        else if (opt == 'm') max_msg = strtoull(optarg, NULL, 10) * PROBE_MIB;
        else if (opt == 'w') window = (uint32_t)strtoul(optarg, NULL, 10) << 10;
        else usage();
    }
    /* 4 x window is the connection window: it must fit HTTP/2's 2^31 - 1. */
    if (port <= 0 || !resp || window < 65535 || window > (1u << 28) || max_msg > UINT32_MAX) usage();
    if (!(small_resp = probe_load(resp, &small_len))) usage();

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC), lfd = listen_on(port);
    if (sfd < 0 || lfd < 0 || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        fprintf(stderr, "probe_nghttp2: cannot listen on port %d\n", port);
        return 1;
    }
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &lfd}, sev = {.events = EPOLLIN, .data.ptr = &sfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev);

    nghttp2_session_callbacks *cb;
    nghttp2_option *nopt;
    if (nghttp2_session_callbacks_new(&cb) || nghttp2_option_new(&nopt)) return 1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_sent);

    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &sfd) {
                probe_print_stats(&budget);
                nghttp2_session_callbacks_del(cb);
                nghttp2_option_del(nopt);
                return 0;
            }
            if (p == &lfd) {
                conn_open(lfd, cb, nopt);
                continue;
            }
            struct conn *c = p;
            if (((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && conn_read(c)) || conn_flush(c))
                conn_close(c);
        }
    }
}
