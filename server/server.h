/* server.h -- the daemon as one object: config, worker pool, HTTP front
 * end, auth, and the draining flag that SIGTERM raises.
 *
 * main.c owns the life: up_server_start, wait for a signal,
 * up_server_drain (readiness false, no new connections, wait for in-flight
 * requests), up_server_stop. */
#ifndef UP_SRV_SERVER_H
#define UP_SRV_SERVER_H

#include <stdatomic.h>

#include "../api/api.h"
#include "auth.h"
#include "config.h"
#include "pool.h"

typedef struct up_server {
    up_config cfg;
    up_limits limits;
    up_pool *pool;
    up_auth *auth;
    struct MHD_Daemon *mhd;
    int listen_fd;
    char *tls_cert_pem, *tls_key_pem;
    atomic_int draining;
    char bound[300];       /* "127.0.0.1:8080" as actually bound */
    struct up_grpc *grpc;  /* --grpc-listen (grpc.c); NULL when off */
} up_server;

/* 0 started; otherwise an exit status (2: bad config or cannot bind). */
int up_server_start(up_server *s);
/* Readiness false, stop accepting, wait until no request is in flight.
 * 0 drained; -1 when the drain timeout passed first. */
int up_server_drain(up_server *s);
void up_server_stop(up_server *s);

/* The repo's openapi.yaml, embedded at build time (openapi.S). */
extern const char up_openapi_yaml[];
extern const char up_openapi_yaml_end[];

#endif
