/* listen.h -- the listening socket, bound before libmicrohttpd starts.
 *
 * Binding ourselves (instead of letting MHD do it) gives precise start-up
 * errors ("127.0.0.1:8080: Address already in use") and the real port when
 * port 0 asks for an ephemeral one, which the tests rely on. */
#ifndef UP_SRV_LISTEN_H
#define UP_SRV_LISTEN_H

#include <stddef.h>

/* Returns the listening fd, or -1 with a message on stderr. bound gets
 * "HOST:PORT" as bound ("[::1]:8080" for IPv6). */
int up_listen_open(const char *host, int port, char *bound, size_t cap);

#endif
