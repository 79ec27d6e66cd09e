/* daemon.h -- run the real unpoold binary for an integration test.
 *
 * The binary comes from $UNPOOLD_BIN (tests/run_all.sh sets it to the build
 * under test, plain or sanitized). It listens on 127.0.0.1 port 0; the
 * port is read back from its "listening on" log line, so parallel test
 * programs never collide. Its stderr goes to a temporary file that a
 * failing test can print. No libcurl here: unit tests link this file too. */
#ifndef UP_TEST_DAEMON_H
#define UP_TEST_DAEMON_H

#include <sys/types.h>

typedef struct th_daemon {
    pid_t pid;
    int port;
    char base[64];        /* "http://127.0.0.1:PORT" (https:// with --tls-cert) */
    char log_path[64];
} th_daemon;

/* Start with extra flags (NULL-terminated list, may be NULL); wait until
 * GET /healthz answers 200. 0 on success, -1 (log printed) otherwise. */
int th_daemon_start(th_daemon *d, const char *const *args);
/* Start without waiting for readiness (for start-up error tests); returns
 * the exit status if it exits within timeout_ms, else -1 (left running). */
int th_daemon_run_expect_exit(const char *const *args, int timeout_ms, char *log, size_t cap);
int th_daemon_signal(th_daemon *d, int sig);
/* Wait for exit: exit status, 128+signal if killed, -1 on timeout. */
int th_daemon_wait(th_daemon *d, int timeout_ms);
/* SIGTERM + wait (SIGKILL after 20 s); removes the log. Exit status. */
int th_daemon_stop(th_daemon *d);
/* Print the daemon's log (last bytes) to stdout, indented. */
void th_daemon_dump_log(const th_daemon *d);
/* The whole log in a malloc'd string (NULL on error). */
char *th_daemon_read_log(const th_daemon *d);
/* The daemon's resident set (VmRSS) in KiB, -1 if unknown. */
long th_daemon_rss_kib(const th_daemon *d);
/* Any "Key:" line of /proc/PID/status in KiB (VmRSS, VmHWM ...), -1 if
 * unknown. */
long th_daemon_status_kib(const th_daemon *d, const char *key);
/* Reset the daemon's peak RSS (VmHWM) to its current RSS, so VmHWM read
 * later is the peak since now. 0 done, -1 not supported. */
int th_daemon_reset_peak(const th_daemon *d);

#endif
