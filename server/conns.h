/* conns.h -- every open connection: read deadlines (slowloris) and the
 * "has the client gone?" check for queued jobs.
 *
 * libmicrohttpd's connection timeout is an *idle* timeout: a client that
 * sends one header byte per second is never idle and would hold its
 * connection forever. So each connection carries a phase and the time it
 * entered it, and a reaper thread closes (shutdown(2)) connections whose
 * phase lasted too long:
 *   IDLE     waiting for a request line      --idle-timeout-s
 *   HEADERS  request line begun, headers not  --header-timeout-s
 *   BODY     headers done, body not           --body-timeout-s
 *   BUSY     the request is being answered    no deadline (--timeout-ms
 *            and the drain cover the work itself)
 * A connection in BODY whose client has hung up is closed the same way at
 * the next look: libmicrohttpd 0.9.75 would otherwise keep it (and its
 * body buffer) until a timeout.
 *
 * libmicrohttpd reports a request only once its whole request line is in,
 * so a line sent a byte a second would look IDLE. The kernel knows better:
 * TCP_INFO's tcpi_bytes_received counts every byte received, read by
 * libmicrohttpd or not. Each connection counts the wire bytes of the
 * requests it completed (exact for plain HTTP with Content-Length bodies);
 * a byte beyond them while IDLE means the next request has begun, and the
 * header deadline applies from then. Where the count cannot be exact (TLS,
 * chunked bodies) any byte received since the reaper first saw the idle
 * phase counts. The same count tells, on SIGTERM, whether a pipelined
 * request follows the one being answered (up_conns_more_received), so the
 * drain answers it instead of closing the connection under it; where it
 * is not exact, only bytes still in the kernel's buffer are seen.
 * The list is guarded by one mutex that libmicrohttpd's "connection
 * closed" notification also takes, and that notification comes before
 * libmicrohttpd closes the socket, so the reaper never touches a closed or
 * reused descriptor. Phases are atomics written by the MHD thread. */
#ifndef UP_SRV_CONNS_H
#define UP_SRV_CONNS_H

#include <microhttpd.h>
#include <stdint.h>

enum { UP_CONN_IDLE, UP_CONN_HEADERS, UP_CONN_BODY, UP_CONN_BUSY };

typedef struct up_conn up_conn;

/* Deadlines in seconds; tls when connections speak TLS (byte counts are
 * then not exact); starts the reaper. 0 or -1 (thread failed). */
int up_conns_start(int64_t idle_s, int64_t header_s, int64_t body_s, int tls);
void up_conns_stop(void);

/* libmicrohttpd callbacks: MHD_OPTION_NOTIFY_CONNECTION and
 * MHD_OPTION_URI_LOG_CALLBACK (the request line has arrived). */
void up_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);
void *up_conns_uri_seen(void *cls, const char *uri, struct MHD_Connection *c);

up_conn *up_conns_of(struct MHD_Connection *c);
void up_conns_phase(up_conn *k, int phase);
int up_conns_fd(const up_conn *k);
int64_t up_conns_open(void);
/* Connections in the middle of a request (not IDLE, or IDLE with the next
 * request's first bytes received): the drain waits for them, so a request
 * whose bytes were being read is answered too. */
int64_t up_conns_active(void);
/* A request has completed: wire_bytes (request line, headers, body) were
 * its share of the stream; exact 0 when that count is not exact (a
 * chunked body), which turns the connection's accounting off for good. */
void up_conns_request_done(up_conn *k, uint64_t wire_bytes, int exact);
/* 1 when the client has sent more than the completed requests plus
 * this_request: a pipelined request follows. Where the count is not exact
 * (TLS, after a chunked body) only bytes still unread in the kernel's
 * buffer are seen. */
int up_conns_more_received(up_conn *k, uint64_t this_request);

/* 1 when the peer of fd has closed or reset its side: a non-blocking
 * MSG_PEEK reads end-of-file or an error. Only for suspended connections,
 * whose socket libmicrohttpd neither reads nor closes meanwhile. */
int up_conns_peer_gone(int fd);

#endif
