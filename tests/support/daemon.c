/* daemon.c -- start, probe and stop the daemon under test (see daemon.h). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *bin_path(void)
{
    const char *b = getenv("UNPOOLD_BIN");
    return b && *b ? b : "build/unpoold";
}

static pid_t spawn(const char *const *args, const char *log_path)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = bin_path();
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    for (int i = 0; args && args[i] && n < 62; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid != 0) return pid;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    int nul = open("/dev/null", O_RDWR);
    if (fd >= 0) dup2(fd, 2);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
    }
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

char *th_daemon_read_log(const th_daemon *d)
{
    FILE *f = fopen(d->log_path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    size_t k;
    while (buf && (k = fread(buf + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

/* "listening on http://127.0.0.1:PORT" or https://; *tls set for https. */
static int find_port(const th_daemon *d, int *tls)
{
    char *log = th_daemon_read_log(d);
    int port = -1;
    const char *p = log ? strstr(log, "listening on ") : NULL;
    if (p) *tls = strncmp(p + 13, "https:", 6) == 0;
    if (p && (p = strstr(p, "127.0.0.1:"))) port = atoi(p + 10);
    free(log);
    return port;
}

/* One raw HTTP/1.1 GET /healthz; 1 when the status line says 200. */
static int healthy(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;
    struct sockaddr_in a = {0};
    char buf[256];
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    if (fd < 0) return 0;
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n > 12) {
            buf[n] = 0;
            ok = strncmp(buf + 9, "200", 3) == 0;
        }
    }
    close(fd);
    return ok;
}

int th_daemon_start(th_daemon *d, const char *const *args)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->log_path, sizeof(d->log_path), "/tmp/unpoold-test-XXXXXX");
    int fd = mkstemp(d->log_path);
    if (fd < 0) return -1;
    close(fd);
    d->pid = spawn(args, d->log_path);
    if (d->pid < 0) return -1;
    /* sanitized builds start slowly: allow 20 s */
    for (int i = 0; i < 2000; i++) {
        int st;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            printf("    daemon exited during start-up (status %d)\n", st);
            d->pid = 0;
            th_daemon_dump_log(d);
            return -1;
        }
        int tls = 0;
        if (d->port <= 0) d->port = find_port(d, &tls);
        /* the line is written once libmicrohttpd accepts; the plain-HTTP
         * probe cannot speak TLS, so an HTTPS daemon is taken at its word */
        if (d->port > 0 && (tls || healthy(d->port))) {
            snprintf(d->base, sizeof(d->base), "%s://127.0.0.1:%d", tls ? "https" : "http", d->port);
            return 0;
        }
        nap_ms(10);
    }
    printf("    daemon did not become healthy\n");
    th_daemon_dump_log(d);
    th_daemon_stop(d);
    return -1;
}

int th_daemon_run_expect_exit(const char *const *args, int timeout_ms, char *log, size_t cap)
{
    th_daemon d = {0};
    snprintf(d.log_path, sizeof(d.log_path), "/tmp/unpoold-test-XXXXXX");
    int fd = mkstemp(d.log_path);
    if (fd < 0) return -1;
    close(fd);
    d.pid = spawn(args, d.log_path);
    int rc = th_daemon_wait(&d, timeout_ms);
    if (rc < 0) {
        kill(d.pid, SIGKILL);
        waitpid(d.pid, NULL, 0);
    }
    if (log && cap) {
        char *l = th_daemon_read_log(&d);
        snprintf(log, cap, "%s", l ? l : "");
        free(l);
    }
    unlink(d.log_path);
    return rc;
}

int th_daemon_signal(th_daemon *d, int sig) { return d->pid > 0 ? kill(d->pid, sig) : -1; }

int th_daemon_wait(th_daemon *d, int timeout_ms)
{
    int st;
    if (d->pid <= 0) return -1;
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        pid_t r = waitpid(d->pid, &st, WNOHANG);
        if (r == d->pid) {
            d->pid = 0;
            if (WIFEXITED(st)) return WEXITSTATUS(st);
            return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        }
        if (r < 0) return -1;
        nap_ms(5);
    }
    return -1;
}

int th_daemon_stop(th_daemon *d)
{
    int rc = 0;
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        rc = th_daemon_wait(d, 20000);
        if (rc < 0 && d->pid > 0) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, NULL, 0);
            d->pid = 0;
        }
        if (rc != 0) th_daemon_dump_log(d);
    }
    if (d->log_path[0]) unlink(d->log_path);
    d->log_path[0] = 0;
    return rc;
}

void th_daemon_dump_log(const th_daemon *d)
{
    char *log = th_daemon_read_log(d);
    if (!log) return;
    size_t n = strlen(log);
    const char *p = n > 4000 ? log + n - 4000 : log;
    printf("    --- daemon log (last %zu bytes) ---\n", strlen(p));
    for (const char *line = p; *line;) {
        const char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        printf("    | %.*s\n", len, line);
        line += len + (nl ? 1 : 0);
    }
    free(log);
}

long th_daemon_status_kib(const th_daemon *d, const char *key)
{
    char path[64], line[256];
    long v = -1;
    size_t kl = strlen(key);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)d->pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, key, kl) && line[kl] == ':') v = atol(line + kl + 1);
    if (f) fclose(f);
    return v;
}

long th_daemon_rss_kib(const th_daemon *d) { return th_daemon_status_kib(d, "VmRSS"); }

int th_daemon_reset_peak(const th_daemon *d)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)d->pid);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0; /* "5": reset the peak RSS (Linux 4.0+) */
    return fclose(f) == 0 && ok ? 0 : -1;
}
