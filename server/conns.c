/* conns.c -- connection phases, the slowloris reaper and the peer check
 * (see conns.h). */
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "accesslog.h"
#include "conns.h"
#include "metrics.h"
#include "pool.h"

/* How often the reaper looks: a deadline is kept to within this. */
#define REAP_EVERY_MS 200

struct up_conn {
    int fd;
    atomic_int phase;
    atomic_uint_fast64_t since;   /* up_now_ns() when the phase began */
    atomic_uint gen;              /* counts phase changes */
    /* wire bytes of the requests completed on this connection, and whether
     * that count is exact (plain HTTP, Content-Length bodies only) */
    atomic_uint_fast64_t consumed;
    atomic_int exact;
    int cut;                      /* shut down by the reaper (under mu) */
    /* the reaper's view of an IDLE phase (under mu): the generation it
     * looked at, the bytes received when it first looked, and when it first
     * saw a new request begin (0: not yet) */
    unsigned seen_gen;
    uint64_t idle_rx, started_ns;
    up_conn *prev, *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static up_conn *head;
static int64_t n_open;
static uint64_t limit_ns[3];      /* IDLE, HEADERS, BODY */
static pthread_t reaper;
static int reaper_started, stopping, tls;

void up_conns_phase(up_conn *k, int phase)
{
    if (!k) return;
    atomic_store(&k->since, up_now_ns());
    atomic_store(&k->phase, phase);
    atomic_fetch_add(&k->gen, 1);
}

/* Bytes the kernel has received on fd since the connection opened,
 * whether or not libmicrohttpd has read them yet. */
static int rx_bytes(int fd, uint64_t *out)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
        return -1;
    *out = ti.tcpi_bytes_received;
    return 0;
}

void up_conns_request_done(up_conn *k, uint64_t wire_bytes, int exact)
{
    if (!k) return;
    atomic_fetch_add(&k->consumed, wire_bytes);
    if (!exact) atomic_store(&k->exact, 0);
}

int up_conns_more_received(up_conn *k, uint64_t this_request)
{
    uint64_t rx;
    int unread = 0;
    if (!k) return 0;
    if (atomic_load(&k->exact) && rx_bytes(k->fd, &rx) == 0)
        return rx > atomic_load(&k->consumed) + this_request;
    /* not exact: only bytes the kernel still holds can be seen (what
     * libmicrohttpd or TLS has buffered cannot) */
    return ioctl(k->fd, FIONREAD, &unread) == 0 && unread > 0;
}

/* Under mu, for an IDLE connection: has the next request begun arriving?
 * With exact accounting any byte past the completed requests says so;
 * otherwise (TLS records, chunked framing) any byte since the reaper first
 * looked at this idle phase. */
static int idle_request_begun(up_conn *k, uint64_t now)
{
    uint64_t rx;
    unsigned g = atomic_load(&k->gen);
    if (rx_bytes(k->fd, &rx) < 0) return 0; /* unknown: the idle deadline applies */
    if (g != k->seen_gen) {
        k->seen_gen = g;
        k->idle_rx = rx;
        k->started_ns = 0;
    }
    uint64_t before = atomic_load(&k->exact) ? atomic_load(&k->consumed) : k->idle_rx;
    if (!k->started_ns && rx > before) k->started_ns = now;
    return k->started_ns != 0;
}

int up_conns_fd(const up_conn *k) { return k ? k->fd : -1; }

up_conn *up_conns_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

int64_t up_conns_open(void)
{
    pthread_mutex_lock(&mu);
    int64_t n = n_open;
    pthread_mutex_unlock(&mu);
    return n;
}

int64_t up_conns_active(void)
{
    int64_t n = 0;
    pthread_mutex_lock(&mu);
    uint64_t now = up_now_ns();
    for (up_conn *k = head; k; k = k->next)
        n += !k->cut && (atomic_load(&k->phase) != UP_CONN_IDLE || idle_request_begun(k, now));
    pthread_mutex_unlock(&mu);
    return n;
}

void up_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    up_conn *k = *socket_context;
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(k = calloc(1, sizeof(*k)))) return; /* untracked: MHD's idle timeout only */
        k->fd = ci->connect_fd;
        atomic_store(&k->exact, !tls);
        k->seen_gen = ~0u;
        up_conns_phase(k, UP_CONN_IDLE);
        pthread_mutex_lock(&mu);
        k->next = head;
        if (head) head->prev = k;
        head = k;
        n_open++;
        pthread_mutex_unlock(&mu);
        *socket_context = k;
        return;
    }
    if (!k) return;
    pthread_mutex_lock(&mu);
    if (k->prev) k->prev->next = k->next;
    else head = k->next;
    if (k->next) k->next->prev = k->prev;
    n_open--;
    pthread_mutex_unlock(&mu);
    *socket_context = NULL;
    free(k);
}

void *up_conns_uri_seen(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)uri;
    up_conns_phase(up_conns_of(c), UP_CONN_HEADERS);
    return NULL; /* the access handler makes the request state itself */
}

static void reap_once(void)
{
    uint64_t now = up_now_ns();
    pthread_mutex_lock(&mu);
    for (up_conn *k = head; k; k = k->next) {
        int ph = atomic_load(&k->phase);
        uint64_t since = atomic_load(&k->since);
        if (k->cut || ph == UP_CONN_BUSY) continue;
        /* a request line arrives while the phase is still IDLE (the phase
         * turns HEADERS only once the whole line is in): once its first
         * byte is seen, the header deadline runs from then, so a line sent
         * a byte a second is cut like dripped headers are */
        if (ph == UP_CONN_IDLE && idle_request_begun(k, now)) {
            ph = UP_CONN_HEADERS;
            since = k->started_ns;
        }
        /* a client that hangs up in the middle of its body is not noticed
         * by libmicrohttpd (it waits for the rest until a timeout), so
         * look for the end-of-file ourselves */
        int gone = ph == UP_CONN_BODY && up_conns_peer_gone(k->fd);
        if (!gone && (now < since || now - since <= limit_ns[ph])) continue;
        /* libmicrohttpd then sees end-of-file or an error on its next read
         * and closes the connection the ordinary way */
        shutdown(k->fd, SHUT_RDWR);
        k->cut = 1;
        up_metrics_conn_cut(ph);
    }
    pthread_mutex_unlock(&mu);
}

static void *reaper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += REAP_EVERY_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&cv, &mu, &ts);
        if (stopping) break;
        pthread_mutex_unlock(&mu);
        reap_once();
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int up_conns_start(int64_t idle_s, int64_t header_s, int64_t body_s, int tls_on)
{
    tls = tls_on;
    limit_ns[UP_CONN_IDLE] = (uint64_t)idle_s * 1000000000u;
    limit_ns[UP_CONN_HEADERS] = (uint64_t)header_s * 1000000000u;
    limit_ns[UP_CONN_BODY] = (uint64_t)body_s * 1000000000u;
    stopping = 0;
    if (pthread_create(&reaper, NULL, reaper_main, NULL) != 0) return -1;
    reaper_started = 1;
    return 0;
}

void up_conns_stop(void)
{
    if (!reaper_started) return;
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(reaper, NULL);
    reaper_started = 0;
}

int up_conns_peer_gone(int fd)
{
    char c;
    if (fd < 0) return 0;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return 1;
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}
