/* main.c -- unpoold's entry point: config, start, wait for a signal, drain.
 *
 * Signals are blocked in every thread and taken synchronously here with
 * sigwait(), so the shutdown sequence runs as ordinary code instead of in
 * a handler: SIGTERM/SIGINT -> readiness false, stop accepting, finish
 * in-flight requests, exit 0 (1 if the drain timeout passed first). SIGHUP
 * is ignored: logs go to stderr, which the supervisor owns and rotates. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "accesslog.h"
#include "reqid.h"
#include "server.h"

int main(int argc, char **argv)
{
    static up_server srv; /* large and process-wide */
    sigset_t set;
    int sig, rc;

    /* The memory budget bounds what requests hold; for RSS to follow it,
     * what they free must leave the process. glibc's default raises its
     * mmap threshold (up to 32 MiB) after each large free, and from then
     * on bodies and buffers of that size come from heaps that keep their
     * freed pages: measured with --max-inflight-mb 64 under a mix of
     * 24 MiB bodies, peak RSS grew 137-210 MiB over idle instead of
     * 96-108. A fixed threshold of 1 MiB (also where kernels/bigbuf.c
     * takes over for tensors) maps and unmaps every large block on its own,
     * at the price of a page fault per page of a fresh body. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    rc = up_config_load(&srv.cfg, argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    up_log_init(srv.cfg.log_format);
    up_reqid_init();

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread */
    signal(SIGPIPE, SIG_IGN);

    if ((rc = up_server_start(&srv)) != 0) {
        up_server_stop(&srv);
        return rc;
    }
    for (;;) {
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            up_log_event("info", "SIGHUP ignored (logs go to stderr; nothing to reopen)");
            continue;
        }
        break;
    }
    up_log_event("info", "%s: draining (readiness false, no new connections)",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (up_server_drain(&srv) < 0) {
        /* workers still hold requests: stopping MHD under them is unsafe */
        up_log_event("error", "drain timeout (%lld ms) passed with requests in flight; exiting",
                     (long long)srv.cfg.drain_timeout_ms);
        _Exit(1);
    }
    up_server_stop(&srv);
    up_log_event("info", "drained; exiting");
    return 0;
}
