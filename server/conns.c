/* conns.c -- connection phases, the slowloris reaper and the peer check
 * (see conns.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
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
    int cut;                      /* shut down by the reaper (under mu) */
    up_conn *prev, *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static up_conn *head;
static int64_t n_open;
static uint64_t limit_ns[3];      /* IDLE, HEADERS, BODY */
static pthread_t reaper;
static int reaper_started, stopping;

void up_conns_phase(up_conn *k, int phase)
{
    if (!k) return;
    atomic_store(&k->since, up_now_ns());
    atomic_store(&k->phase, phase);
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
    for (up_conn *k = head; k; k = k->next) n += atomic_load(&k->phase) != UP_CONN_IDLE && !k->cut;
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

int up_conns_start(int64_t idle_s, int64_t header_s, int64_t body_s)
{
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
