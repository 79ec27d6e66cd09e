/* grpc_conn.c -- KServe v2 over gRPC (--grpc-listen): HTTP/2 connections
 * on libnghttp2, gRPC's message framing, TLS on GnuTLS, all in one event
 * loop thread; the calls themselves are grpc_call.c's.
 *
 * The library, by measurement (bench/grpc_transport/README.md): gRPC's
 * own C core against libnghttp2 with the framing written here. The core
 * reads every message whole before the application hears of it, even one
 * over its own size limit, so the budget could only be charged after the
 * bytes were held: 64 concurrent 64 MiB calls against a 512 MiB budget
 * peaked at 4.3 GiB RSS. Here every DATA frame reaches on_data as it is
 * read: the 5-byte prefix in the first one gives the message's length, and
 * the call is charged (or refused with RESOURCE_EXHAUSTED, then
 * RST_STREAM so the client stops sending) before a byte of it is held;
 * the same flood peaked at 449 MiB. nghttp2 also took half the CPU per
 * small call (8 against 15 us) and one copy of a large message instead of
 * two. The price is what the core did for us, written here: gRPC's HTTP/2
 * mapping (trailers, grpc-status, grpc-message percent-encoding,
 * grpc-timeout), TLS with ALPN h2 (GnuTLS, which libmicrohttpd already
 * brings), and handing answers back from the workers (an eventfd).
 *
 * A call: HEADERS (:path = the method, content-type application/grpc,
 * authorization, grpc-timeout), DATA (a 5-byte prefix: flag, big-endian
 * length; then the message), END_STREAM. The answer: HEADERS (:status 200,
 * content-type application/grpc), DATA (prefix + message), trailers
 * (grpc-status 0); an error is one trailers-only HEADERS frame.
 *
 * Bounds: the message by --max-body-mb (charged before it is buffered),
 * headers by --max-header-kb, 256 streams per connection, --max-connections
 * connections; a connection idle past --idle-timeout-s, or a call whose
 * message has not arrived within --body-timeout-s of its headers, is
 * closed (slowloris). Flow control: a 1 MiB stream window and a 4 MiB
 * connection window (measured: 64 KiB was slower for 64 MiB calls, 16 MiB
 * no faster); nghttp2 reopens the window as on_data consumes.
 *
 * Answers: a small one is copied into nghttp2's frames and gathered with
 * other small frames into one write (obuf). A large one (64 KiB and up)
 * goes out without a copy: DATA frames of up to 1 MiB whose payload is
 * written straight from the result tensor (NO_COPY, send_data), the call
 * kept alive until its frame is out even if the stream is reset meanwhile.
 * Measured on a 64 MiB max_unpool (256 MiB answer): the daemon's CPU per
 * call 304 -> 120-130 ms together with up_buf_block for the message
 * (bench/README.md); 4 MiB frames were no faster than 1 MiB, and would
 * hold a small call's answer longer behind a large one. */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accesslog.h"
#include "grpc.h"
#include "grpc_call.h"
#include "listen.h"

#define UP_GRPC_MAX_STREAMS 256
#define UP_GRPC_STREAM_WINDOW (1 << 20)
#define UP_GRPC_CONN_WINDOW (4 << 20)
#define UP_GRPC_READ_CHUNK (256 << 10)
/* Frames are gathered up to this many bytes per write: nghttp2 hands them
 * over one by one, and a write per frame made the kernel's TCP path most
 * of a small call's cost (perf: 64 streams of small calls). */
#define UP_GRPC_OBUF (32 << 10)
#define UP_GRPC_DATA_FRAME (1 << 20) /* the largest DATA frame we send */

typedef struct gconn {
    int fd;
    nghttp2_session *h2;
    gnutls_session_t tls;      /* NULL: plain h2c */
    int handshaking;
    uint8_t *obuf;             /* small frames gathered for one write */
    size_t olen, ooff;
    const uint8_t *pend;       /* a frame too big for obuf, from nghttp2_session_mem_send */
    size_t pend_len;
    const uint8_t *seg;        /* after obuf: a DATA frame's payload, in seg_call's answer */
    size_t seg_len;
    struct gcall *seg_call;    /* kept alive until seg is written */
    int seg_dropped;           /* its stream is over meanwhile: free it then */
    uint32_t events;           /* what epoll waits for now */
    uint64_t t_active, t_open;
    int got_frame, goaway;
    int dead;                  /* to be closed at the end of this loop turn */
    gcall *calls;
    struct gconn *prev, *next;
} gconn;

typedef struct up_grpc {
    up_server *srv;
    int ep, lfd, efd;
    pthread_t loop;
    int loop_started;
    atomic_int draining, stopping;
    int drained;               /* the loop has sent its GOAWAYs */
    gconn *conns;
    int64_t n_conns;
    nghttp2_session_callbacks *cb;
    gnutls_certificate_credentials_t cred;
    pthread_mutex_t mu;        /* the done queue */
    gcall *done;
    char bound[300];
} up_grpc;

static up_grpc the_grpc; /* one per process, like the server */
static int tag_listen, tag_event; /* epoll tags */

/* ---- the done queue: workers hand calls back ------------------------------- */

void up_grpc_call_done(gcall *g)
{
    up_grpc *gs = &the_grpc;
    uint64_t one = 1;
    pthread_mutex_lock(&gs->mu);
    g->done_next = gs->done;
    gs->done = g;
    pthread_mutex_unlock(&gs->mu);
    if (write(gs->efd, &one, sizeof(one)) < 0) { /* the counter is full: the loop is awake */ }
}

/* ---- a call's stream ---------------------------------------------------------- */

static void call_link(gconn *c, gcall *g)
{
    g->conn = c;
    g->next = c->calls;
    if (c->calls) c->calls->prev = g;
    c->calls = g;
}

static void call_unlink(gcall *g)
{
    gconn *c = g->conn;
    if (!c) return;
    if (g->prev) g->prev->next = g->next;
    else c->calls = g->next;
    if (g->next) g->next->prev = g->prev;
    g->prev = g->next = NULL;
    g->conn = NULL;
}

/* The stream is over (answered, reset, or its connection closed): free
 * the call, or leave it to come back from the pool. */
static void call_drop(gcall *g)
{
    gconn *c = g->conn;
    call_unlink(g);
    if (c && c->seg_call == g) {
        c->seg_dropped = 1; /* write_out or conn_close frees it */
        return;
    }
    if (g->in_pool) {
        atomic_store(&g->gone, 1);
        return;
    }
    up_grpc_call_free(g);
}

/* seg is written: let its call go (freed if its stream ended meanwhile). */
static void seg_done(gconn *c)
{
    gcall *g = c->seg_call;
    c->seg = NULL;
    c->seg_len = 0;
    c->seg_call = NULL;
    if (g && c->seg_dropped) up_grpc_call_free(g);
    c->seg_dropped = 0;
}

/* grpc-message: bytes outside printable ASCII, and '%', percent-encoded. */
static void percent_encode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch <= 0x7e && ch != '%') {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    out[n] = 0;
}

#define NV(n, v, vl) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl), NGHTTP2_NV_FLAG_NONE}

/* An error answer: one HEADERS frame with END_STREAM (trailers-only), or
 * HTTP 415 for a request that is not gRPC at all. */
static int send_error(gconn *c, gcall *g)
{
    char code[12], msg[3 * sizeof(g->message) + 1];
    snprintf(code, sizeof(code), "%d", g->code);
    percent_encode(g->message, msg, sizeof(msg));
    if (g->status == 415 && g->code == UP_GRPC_UNKNOWN) {
        nghttp2_nv nv[] = {NV(":status", "415", 3)};
        return nghttp2_submit_response(c->h2, g->stream, nv, 1, NULL);
    }
    nghttp2_nv nv[] = {NV(":status", "200", 3),
                       NV("content-type", "application/grpc", 16),
                       NV("grpc-status", code, strlen(code)),
                       NV("grpc-message", msg, strlen(msg))};
    return nghttp2_submit_response(c->h2, g->stream, nv, 4, NULL);
}

/* Byte i of the 5-byte gRPC prefix of a len-byte message: uncompressed,
 * then the length big-endian. */
static uint8_t prefix_byte(size_t len, size_t i)
{
    return i == 0 ? 0 : (uint8_t)(len >> (8 * (4 - i)));
}

/* A DATA frame of a large answer, sent by send_data without a copy: what
 * is due of the prefix, then at most the rest of one span of the answer
 * (the head or one result tensor), so that send_data has one piece of
 * memory to point at. Returns the frame's length. */
static size_t frame_no_copy(gcall *g, size_t cap)
{
    size_t at = g->out_sent, pre = at < 5 ? 5 - at : 0, k = 0;
    if (pre > cap) pre = cap;
    if (at + pre >= 5) {
        up_grpc_call_span(g, at + pre - 5, &k);
        if (k > cap - pre) k = cap - pre;
    }
    g->frame_at = at;
    g->out_sent += pre + k;
    return pre + k;
}

/* The answer's DATA: the 5-byte prefix, then the message; its end sends
 * the trailers, which carry END_STREAM. A large answer's frames point at
 * the result tensors (NO_COPY, send_data); a small one is copied into
 * nghttp2's frame, which conn_flush gathers with other small frames. */
static ssize_t read_answer(nghttp2_session *s, int32_t id, uint8_t *buf, size_t cap,
                           uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    gcall *g = src->ptr;
    size_t len = up_grpc_call_answer_len(g), n = 0;
    (void)ud;
    if (!g->small_answer && len >= UP_GRPC_NO_COPY_MIN) {
        n = frame_no_copy(g, cap);
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    } else {
        for (; g->out_sent < 5 && n < cap; g->out_sent++) buf[n++] = prefix_byte(len, g->out_sent);
        if (n < cap) {
            size_t k = up_grpc_call_read(g, g->out_sent - 5, buf + n, cap - n);
            g->out_sent += k;
            n += k;
        }
    }
    if (g->out_sent == 5 + len) {
        nghttp2_nv tr[] = {NV("grpc-status", "0", 1)};
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(s, id, tr, 1) != 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

/* A NO_COPY frame of read_answer: its 9-byte header and any prefix bytes
 * go into obuf, its payload stays where it is (seg), and the call is kept
 * until write_out has written it. PAUSE makes nghttp2_session_mem_send
 * return here, so that one frame at a time is out of nghttp2's hands;
 * WOULDBLOCK (obuf full) has it ask again once obuf is written. */
static int send_data(nghttp2_session *s, nghttp2_frame *f, const uint8_t *framehd,
                     size_t length, nghttp2_data_source *src, void *ud)
{
    gconn *c = ud;
    gcall *g = src->ptr;
    size_t at = g->frame_at, len = up_grpc_call_answer_len(g), k = 0;
    (void)s;
    if (f->data.padlen) return NGHTTP2_ERR_CALLBACK_FAILURE; /* we never ask for padding */
    if (UP_GRPC_OBUF - c->olen < 9 + 5) return NGHTTP2_ERR_WOULDBLOCK;
    memcpy(c->obuf + c->olen, framehd, 9);
    c->olen += 9;
    for (; at < 5 && length > 0; at++, length--) c->obuf[c->olen++] = prefix_byte(len, at);
    if (length) {
        const uint8_t *p = up_grpc_call_span(g, at - 5, &k);
        if (!p || k < length) return NGHTTP2_ERR_CALLBACK_FAILURE;
        c->seg = p;
        c->seg_len = length;
        c->seg_call = g;
    }
    return NGHTTP2_ERR_PAUSE;
}

/* DATA frames as large as the peer takes, up to UP_GRPC_DATA_FRAME:
 * nghttp2 would cut them at 16 KiB, and a 256 MiB answer in 16 KiB frames
 * is 16384 frames for both ends to handle (gRPC's own clients take 4 MiB
 * frames). */
static ssize_t data_frame_len(nghttp2_session *s, uint8_t type, int32_t id, int32_t conn_window,
                              int32_t stream_window, uint32_t peer_max, void *ud)
{
    ssize_t n = UP_GRPC_DATA_FRAME;
    (void)s, (void)type, (void)id, (void)ud;
    if ((ssize_t)peer_max < n) n = (ssize_t)peer_max;
    if (conn_window < n) n = conn_window;
    if (stream_window < n) n = stream_window;
    return n > 0 ? n : 1;
}

static int send_answer(gconn *c, gcall *g)
{
    if (g->code != UP_GRPC_OK) return send_error(c, g);
    nghttp2_nv nv[] = {NV(":status", "200", 3), NV("content-type", "application/grpc", 16)};
    nghttp2_data_provider dp = {.source.ptr = g, .read_callback = read_answer};
    return nghttp2_submit_response(c->h2, g->stream, nv, 2, &dp);
}

/* ---- nghttp2's callbacks ----------------------------------------------------------- */

static gcall *stream_call(nghttp2_session *s, int32_t id)
{
    return nghttp2_session_get_stream_user_data(s, id);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    gconn *c = ud;
    gcall *g;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    if (!(g = up_grpc_call_new(the_grpc.srv))) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    g->stream = f->hd.stream_id;
    call_link(c, g);
    if (nghttp2_session_set_stream_user_data(s, g->stream, g) != 0) {
        call_drop(g);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
}

static int is(const uint8_t *name, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(name, lit, n) == 0;
}

/* grpc-timeout: up to 8 digits and a unit (H M S m u n), in ms (rounded
 * up; at least 1). -1 when malformed: the call then has no deadline of its
 * own, as gRPC's servers treat a bad value. */
static int64_t parse_timeout(const uint8_t *v, size_t n)
{
    int64_t x = 0;
    if (n < 2 || n > 9) return -1;
    for (size_t i = 0; i + 1 < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        x = x * 10 + (v[i] - '0');
    }
    switch (v[n - 1]) {
    case 'H': return x * 3600000;
    case 'M': return x * 60000;
    case 'S': return x * 1000;
    case 'm': return x;
    case 'u': return (x + 999) / 1000;
    case 'n': return (x + 999999) / 1000000;
    default: return -1;
    }
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    gcall *g = stream_call(s, f->hd.stream_id);
    (void)flags, (void)ud;
    if (!g || f->hd.type != NGHTTP2_HEADERS || g->headers_done) return 0;
    g->header_bytes += nlen + vlen + 32;
    if ((int64_t)g->header_bytes > the_grpc.srv->cfg.max_header_bytes)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    if (is(name, nlen, ":path")) {
        g->method = up_grpc_method_of((const char *)value, vlen);
        snprintf(g->path, sizeof(g->path), "%.*s", (int)(vlen < 95 ? vlen : 95), value);
    } else if (is(name, nlen, ":method")) {
        g->post = is(value, vlen, "POST");
    } else if (is(name, nlen, "content-type")) {
        g->grpc_content_type = vlen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
                               (vlen == 16 || value[16] == '+' || value[16] == ';');
    } else if (is(name, nlen, "authorization")) {
        snprintf(g->authorization, sizeof(g->authorization), "%.*s",
                 (int)(vlen < sizeof(g->authorization) - 1 ? vlen : sizeof(g->authorization) - 1),
                 value);
    } else if (is(name, nlen, "grpc-timeout")) {
        g->timeout_ms = parse_timeout(value, vlen);
    }
    return 0;
}

/* A call that has its answer: submit it. After an early answer (before
 * the client finished sending), on_frame_sent resets the stream so the
 * client stops. */
static int answer_now(gconn *c, gcall *g)
{
    return send_answer(c, g) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *ud)
{
    gconn *c = ud;
    gcall *g = stream_call(s, id);
    (void)flags;
    if (!g) return 0;
    g->bytes_in += len;
    while (!g->answered && len) {
        if (g->prefix_got < 5) {
            g->prefix[g->prefix_got++] = *data++;
            len--;
            if (g->prefix_got == 5 && up_grpc_call_prefix(g) < 0) return answer_now(c, g);
            continue;
        }
        if (g->msg_got == g->msg_len) {
            up_grpc_call_fail_with(g, UP_E_MALFORMED, "message",
                                   "more than one message on a unary call");
            return answer_now(c, g);
        }
        size_t k = g->msg_len - g->msg_got < len ? g->msg_len - g->msg_got : len;
        memcpy(g->msg + g->msg_got, data, k);
        g->msg_got += k;
        data += k;
        len -= k;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    gconn *c = ud;
    gcall *g = stream_call(s, f->hd.stream_id);
    c->got_frame = 1;
    if (!g || (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)) return 0;
    if (f->hd.type == NGHTTP2_HEADERS && !g->headers_done && up_grpc_call_headers(g) < 0)
        return answer_now(c, g);
    if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM) || g->answered || g->in_pool) return 0;
    if (up_grpc_call_run(g)) return 0; /* on the pool; the answer comes back */
    return answer_now(c, g);
}

static int on_frame_sent(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    int32_t id = f->hd.stream_id;
    (void)ud;
    /* our END_STREAM went out while the client still sends: stop it (gRPC's
     * HTTP/2 mapping allows RST_STREAM NO_ERROR once the server is done) */
    if (f->hd.type != NGHTTP2_HEADERS || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
        nghttp2_session_get_stream_remote_close(s, id))
        return 0;
    return nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR) == 0
               ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    gcall *g = stream_call(s, id);
    (void)code, (void)ud;
    if (!g) return 0;
    nghttp2_session_set_stream_user_data(s, id, NULL);
    call_drop(g);
    return 0;
}

/* ---- connections -------------------------------------------------------------- */

static void watch(gconn *c, uint32_t events)
{
    if (c->events == events) return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(the_grpc.ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

static void conn_close(gconn *c)
{
    up_grpc *gs = &the_grpc;
    while (c->calls) {
        gcall *g = c->calls;
        nghttp2_session_set_stream_user_data(c->h2, g->stream, NULL);
        call_drop(g);
    }
    if (c->seg_call) { /* dropped above or before; its frame is abandoned */
        c->seg_dropped = 1;
        seg_done(c);
    }
    epoll_ctl(gs->ep, EPOLL_CTL_DEL, c->fd, NULL);
    nghttp2_session_del(c->h2);
    if (c->tls) gnutls_deinit(c->tls);
    close(c->fd);
    free(c->obuf);
    if (c->prev) c->prev->next = c->next;
    else gs->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    gs->n_conns--;
    free(c);
}

/* Close c once this turn of the loop is over: later events of the same
 * epoll batch, and answers handed back in it, may still name it. */
static void conn_kill(gconn *c)
{
    c->dead = 1;
}

static void close_dead(up_grpc *gs)
{
    for (gconn *c = gs->conns, *next; c; c = next) {
        next = c->next;
        if (c->dead) conn_close(c);
    }
}

/* The transport: plain TCP or TLS. -1 = error or closed, 0 = would block,
 * else the count. */
static ssize_t io_recv(gconn *c, uint8_t *buf, size_t n)
{
    ssize_t k;
    if (c->tls) {
        do k = gnutls_record_recv(c->tls, buf, n);
        while (k == GNUTLS_E_INTERRUPTED);
        return k == GNUTLS_E_AGAIN ? 0 : k <= 0 ? -1 : k;
    }
    do k = recv(c->fd, buf, n, 0);
    while (k < 0 && errno == EINTR);
    return k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : k <= 0 ? -1 : k;
}

/* more: further bytes follow at once (MSG_MORE: no short packet between
 * a frame header in obuf and its payload). */
static ssize_t io_send(gconn *c, const uint8_t *buf, size_t n, int more)
{
    ssize_t k;
    if (c->tls) {
        do k = gnutls_record_send(c->tls, buf, n);
        while (k == GNUTLS_E_INTERRUPTED);
        return k == GNUTLS_E_AGAIN ? 0 : k < 0 ? -1 : k;
    }
    do k = send(c->fd, buf, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    while (k < 0 && errno == EINTR);
    return k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : k;
}

/* Write *len bytes from *p, moving both on; more: bytes follow after them.
 * 0 when all is out, 1 when the socket is full, -1 on error. */
static int write_span(gconn *c, const uint8_t **p, size_t *len, int more)
{
    while (*len) {
        ssize_t k = io_send(c, *p, *len, more);
        if (k <= 0) return k < 0 ? -1 : 1;
        *p += k;
        *len -= (size_t)k;
        c->t_active = up_now_ns();
    }
    return 0;
}

/* Write everything pending: obuf from ooff, then pend or seg. 0 when all
 * is out, 1 when the socket is full, -1 on error. */
static int write_out(gconn *c)
{
    const uint8_t *o = c->obuf + c->ooff;
    size_t olen = c->olen - c->ooff;
    int rc = write_span(c, &o, &olen, c->pend_len || c->seg_len);
    c->ooff = c->olen - olen;
    if (rc) return rc;
    c->olen = c->ooff = 0;
    if ((rc = write_span(c, &c->pend, &c->pend_len, 0)) != 0) return rc;
    if ((rc = write_span(c, &c->seg, &c->seg_len, 0)) != 0) return rc;
    if (c->seg_call) seg_done(c);
    return 0;
}

/* Write what nghttp2 has to send until it has nothing or the socket is
 * full (then wait for EPOLLOUT): small frames are gathered in obuf and
 * written together; a frame that does not fit goes out on its own after
 * them (mem_send's pointer stays valid until its next call). -1: close the
 * connection. */
static int conn_flush(gconn *c)
{
    for (;;) {
        int rc = write_out(c);
        if (rc < 0) return -1;
        if (rc > 0) {
            watch(c, EPOLLIN | EPOLLOUT);
            return 0;
        }
        for (;;) {
            const uint8_t *p;
            ssize_t n = nghttp2_session_mem_send(c->h2, &p);
            if (n < 0) return -1;
            if (n == 0) break;
            if ((size_t)n > UP_GRPC_OBUF - c->olen) {
                c->pend = p;
                c->pend_len = (size_t)n;
                break;
            }
            memcpy(c->obuf + c->olen, p, (size_t)n);
            c->olen += (size_t)n;
        }
        if (!c->olen && !c->pend_len && !c->seg_len) break;
    }
    watch(c, EPOLLIN);
    return nghttp2_session_want_read(c->h2) || nghttp2_session_want_write(c->h2) ? 0 : -1;
}

static int conn_read(gconn *c)
{
    static uint8_t buf[UP_GRPC_READ_CHUNK]; /* the loop's one thread */
    for (;;) {
        ssize_t n = io_recv(c, buf, sizeof(buf));
        if (n < 0) return -1;
        if (n == 0) return 0;
        c->t_active = up_now_ns();
        if (nghttp2_session_mem_recv(c->h2, buf, (size_t)n) < 0) return -1;
    }
}

/* TLS: the handshake, non-blocking; then ALPN must have chosen h2 (a gRPC
 * client offers nothing else). */
static int conn_handshake(gconn *c)
{
    int rc;
    gnutls_datum_t proto;
    do rc = gnutls_handshake(c->tls);
    while (rc == GNUTLS_E_INTERRUPTED);
    if (rc == GNUTLS_E_AGAIN) {
        watch(c, gnutls_record_get_direction(c->tls) ? EPOLLOUT : EPOLLIN);
        return 0;
    }
    if (rc < 0 || gnutls_alpn_get_selected_protocol(c->tls, &proto) < 0 || proto.size != 2 ||
        memcmp(proto.data, "h2", 2) != 0)
        return -1;
    c->handshaking = 0;
    /* records the client sent with its last handshake message may be
     * buffered already, where epoll does not see them */
    return conn_read(c) < 0 ? -1 : conn_flush(c);
}

static void conn_event(gconn *c, uint32_t ev)
{
    int bad = 0;
    if (c->dead) return;
    if (c->handshaking) bad = conn_handshake(c) < 0;
    else {
        if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) bad = conn_read(c) < 0;
        if (!bad) bad = conn_flush(c) < 0;
    }
    if (bad) conn_kill(c);
}

static int tls_setup(gconn *c)
{
    static const gnutls_datum_t h2 = {(unsigned char *)"h2", 2};
    if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0) return -1;
    if (gnutls_set_default_priority(c->tls) < 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, the_grpc.cred) < 0 ||
        gnutls_alpn_set_protocols(c->tls, &h2, 1, GNUTLS_ALPN_MANDATORY) < 0)
        return -1;
    gnutls_transport_set_int(c->tls, c->fd);
    c->handshaking = 1;
    return 0;
}

static void conn_open(int fd)
{
    up_grpc *gs = &the_grpc;
    int one = 1;
    gconn *c = calloc(1, sizeof(*c));
    nghttp2_settings_entry set[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, UP_GRPC_MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, UP_GRPC_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)gs->srv->cfg.max_header_bytes},
    };
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!c || gs->n_conns >= gs->srv->cfg.max_connections || !(c->obuf = malloc(UP_GRPC_OBUF)))
        goto err;
    c->fd = fd;
    c->t_open = c->t_active = up_now_ns();
    if (nghttp2_session_server_new(&c->h2, gs->cb, c) != 0) goto err;
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, set, 3) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
                                              UP_GRPC_CONN_WINDOW) != 0)
        goto err;
    if (gs->srv->tls_cert_pem && tls_setup(c) < 0) goto err;
    c->events = EPOLLIN;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(gs->ep, EPOLL_CTL_ADD, fd, &ev) != 0) goto err;
    c->next = gs->conns;
    if (gs->conns) gs->conns->prev = c;
    gs->conns = c;
    gs->n_conns++;
    if (!c->handshaking && atomic_load(&gs->draining))
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
    conn_event(c, 0);
    return;
err:
    if (c && c->h2) nghttp2_session_del(c->h2);
    if (c && c->tls) gnutls_deinit(c->tls);
    if (c) free(c->obuf);
    free(c);
    close(fd);
}

/* ---- the loop ---------------------------------------------------------------- */

/* Calls back from the pool: answer those whose stream is still there. */
static void take_done(up_grpc *gs)
{
    uint64_t n;
    gcall *list;
    if (read(gs->efd, &n, sizeof(n)) < 0) { /* nothing was pending */ }
    pthread_mutex_lock(&gs->mu);
    list = gs->done;
    gs->done = NULL;
    pthread_mutex_unlock(&gs->mu);
    while (list) {
        gcall *g = list;
        list = g->done_next;
        g->in_pool = 0;
        if (atomic_load(&g->gone) || !g->conn) {
            up_grpc_call_free(g);
            continue;
        }
        gconn *c = g->conn;
        if (c->dead) continue; /* freed with its connection, at the end of the turn */
        if (send_answer(c, g) != 0 || conn_flush(c) < 0) conn_kill(c);
    }
}

static int has_call_in_pool(const gconn *c)
{
    for (const gcall *g = c->calls; g; g = g->next)
        if (g->in_pool) return 1;
    return 0;
}

/* Once a second: connections that never spoke HTTP/2, connections where
 * no byte moved either way for --idle-timeout-s while no kernel runs for
 * them (idle, or a client that stopped reading its answer: the answer and
 * its budget charge are released, as REST's connection timeout does), and
 * calls whose message is late. */
static void sweep(up_grpc *gs)
{
    const up_config *cfg = &gs->srv->cfg;
    uint64_t now = up_now_ns();
    for (gconn *c = gs->conns; c; c = c->next) {
        uint64_t idle = now - c->t_active;
        if (c->dead) continue;
        if ((!c->got_frame && now - c->t_open > (uint64_t)cfg->header_timeout_s * 1000000000u) ||
            (idle > (uint64_t)cfg->conn_timeout_s * 1000000000u && !has_call_in_pool(c))) {
            conn_kill(c);
            continue;
        }
        for (gcall *g = c->calls; g; g = g->next)
            if (!g->in_pool && !g->answered && /* in_pool first: a worker owns the rest */
                now - g->t_arrival > (uint64_t)cfg->body_timeout_s * 1000000000u) {
                g->status = 408; /* logged as the REST body timeout is */
                nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, g->stream, NGHTTP2_CANCEL);
            }
        if (!c->handshaking && conn_flush(c) < 0) conn_kill(c);
    }
}

static void start_drain(up_grpc *gs)
{
    gs->drained = 1;
    epoll_ctl(gs->ep, EPOLL_CTL_DEL, gs->lfd, NULL);
    close(gs->lfd);
    gs->lfd = -1;
    /* calls already started go on; new streams are refused */
    for (gconn *c = gs->conns; c; c = c->next) {
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(c->h2), NGHTTP2_NO_ERROR,
                              NULL, 0);
        if (!c->dead && !c->handshaking && conn_flush(c) < 0) conn_kill(c);
    }
}

static void *loop_main(void *arg)
{
    up_grpc *gs = arg;
    uint64_t last_sweep = up_now_ns();
    while (!atomic_load(&gs->stopping)) {
        struct epoll_event evs[64];
        int n = epoll_wait(gs->ep, evs, 64, 1000);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &tag_listen) {
                int fd;
                while (gs->lfd >= 0 &&
                       (fd = accept4(gs->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
                    conn_open(fd);
            } else if (p == &tag_event) {
                take_done(gs);
            } else {
                conn_event(p, evs[i].events);
            }
        }
        if (atomic_load(&gs->draining) && !gs->drained) start_drain(gs);
        if (up_now_ns() - last_sweep > 1000000000u) {
            sweep(gs);
            last_sweep = up_now_ns();
        }
        close_dead(gs);
    }
    take_done(gs);
    while (gs->conns) conn_close(gs->conns);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------- */

static int callbacks(up_grpc *gs)
{
    if (nghttp2_session_callbacks_new(&gs->cb) != 0) return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(gs->cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(gs->cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(gs->cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(gs->cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(gs->cb, on_frame_sent);
    nghttp2_session_callbacks_set_on_stream_close_callback(gs->cb, on_stream_close);
    nghttp2_session_callbacks_set_data_source_read_length_callback(gs->cb, data_frame_len);
    nghttp2_session_callbacks_set_send_data_callback(gs->cb, send_data);
    return 0;
}

static int tls_credentials(up_grpc *gs)
{
    up_server *s = gs->srv;
    gnutls_datum_t cert = {(unsigned char *)s->tls_cert_pem, (unsigned)strlen(s->tls_cert_pem)};
    gnutls_datum_t key = {(unsigned char *)s->tls_key_pem, (unsigned)strlen(s->tls_key_pem)};
    if (gnutls_certificate_allocate_credentials(&gs->cred) < 0) return -1;
    return gnutls_certificate_set_x509_key_mem(gs->cred, &cert, &key, GNUTLS_X509_FMT_PEM) < 0
               ? -1 : 0;
}

int up_grpc_start(up_server *s)
{
    up_grpc *gs = &the_grpc;
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &tag_listen};
    struct epoll_event eev = {.events = EPOLLIN, .data.ptr = &tag_event};
    if (!s->cfg.grpc_host[0]) return 0;
    memset(gs, 0, sizeof(*gs));
    gs->srv = s;
    gs->lfd = gs->efd = gs->ep = -1;
    pthread_mutex_init(&gs->mu, NULL);
    if (s->tls_cert_pem && tls_credentials(gs) < 0) {
        up_log_event("error", "--grpc-listen: cannot load --tls-cert/--tls-key for gRPC");
        return 2;
    }
    gs->lfd = up_listen_open(s->cfg.grpc_host, s->cfg.grpc_port, gs->bound, sizeof(gs->bound));
    if (gs->lfd < 0) return 2;
    /* accepted until EAGAIN, so that one wake-up takes a burst */
    if (fcntl(gs->lfd, F_SETFL, fcntl(gs->lfd, F_GETFL) | O_NONBLOCK) < 0 || callbacks(gs) < 0 || (gs->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (gs->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        epoll_ctl(gs->ep, EPOLL_CTL_ADD, gs->lfd, &lev) != 0 ||
        epoll_ctl(gs->ep, EPOLL_CTL_ADD, gs->efd, &eev) != 0 ||
        pthread_create(&gs->loop, NULL, loop_main, gs) != 0) {
        up_log_event("error", "--grpc-listen: cannot start the gRPC loop");
        return 2;
    }
    gs->loop_started = 1;
    s->grpc = gs;
    up_log_event("info", "gRPC serving at %s://%s", s->tls_cert_pem ? "grpcs" : "grpc",
                 gs->bound);
    return 0;
}

void up_grpc_drain(up_server *s)
{
    up_grpc *gs = s->grpc;
    uint64_t one = 1;
    if (!gs || atomic_exchange(&gs->draining, 1)) return;
    if (write(gs->efd, &one, sizeof(one)) < 0) { /* the loop is awake anyway */ }
}

/* After the worker pool has stopped: no call is on it any more. */
void up_grpc_stop(up_server *s)
{
    up_grpc *gs = s->grpc;
    uint64_t one = 1;
    if (!gs) return;
    atomic_store(&gs->stopping, 1);
    if (write(gs->efd, &one, sizeof(one)) < 0) { /* the loop wakes within a second */ }
    if (gs->loop_started) pthread_join(gs->loop, NULL);
    if (gs->lfd >= 0) close(gs->lfd);
    close(gs->efd);
    close(gs->ep);
    nghttp2_session_callbacks_del(gs->cb);
    if (gs->cred) gnutls_certificate_free_credentials(gs->cred);
    pthread_mutex_destroy(&gs->mu);
    s->grpc = NULL;
}
