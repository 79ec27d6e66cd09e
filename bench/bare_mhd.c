/* bare_mhd.c -- the smallest libmicrohttpd server: the HTTP ceiling.
 *
 * It answers every request with a fixed small JSON body, using the same
 * threading mode as unpoold (one internal epoll thread), so the wrk rows of
 * bench/run.sh compare unpoold's request path with what libmicrohttpd alone
 * costs on this machine. A POST body is read and dropped, as unpoold must
 * read it. Usage: bare_mhd PORT (runs until SIGTERM/SIGINT). */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char answer[] =
    "{\"op\":\"max_unpool\",\"outputs\":{\"y\":{\"dtype\":\"float32\",\"shape\":[1,1,2,2],"
    "\"data\":[0,0,0,4]}}}";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **state)
{
    static int marker;
    struct MHD_Response *r;
    enum MHD_Result rc;
    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    if (*state == NULL) { /* headers only so far */
        *state = &marker;
        return MHD_YES;
    }
    if (*upload_size) { /* body bytes: drop them */
        *upload_size = 0;
        return MHD_YES;
    }
    r = MHD_create_response_from_buffer(sizeof(answer) - 1, (void *)answer,
                                        MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

int main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    sigset_t set;
    int sig, port = argc > 1 ? atoi(argv[1]) : 8089;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
                         (uint16_t)port, NULL, NULL, on_request, NULL,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bare_mhd: cannot listen on port %d\n", port);
        return 1;
    }
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
