/* grpc.h -- KServe v2 over gRPC (--grpc-listen): the transport beside the
 * HTTP front end, serving the same ops through the same worker pool,
 * budget, keys, TLS, metrics and drain. */
#ifndef UP_SRV_GRPC_H
#define UP_SRV_GRPC_H

#include "server.h"

/* Start serving when --grpc-listen is set (a no-op otherwise). 0, or an
 * exit status (2: bad address, cannot bind, no TLS material). */
int up_grpc_start(up_server *s);
/* Stop taking new calls; calls in flight go on (they count in
 * unpoold_in_flight_requests, which the drain waits for). */
void up_grpc_drain(up_server *s);
/* Cancel what is left, wait for the poller, free everything. */
void up_grpc_stop(up_server *s);

#endif
