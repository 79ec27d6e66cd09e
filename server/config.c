/* config.c -- flags and UNPOOLD_* environment variables -> up_config.
 *
 * One table drives parsing, the environment names and --help, so a flag
 * cannot be documented without being parsed or vice versa. Numbers are
 * parsed strictly (whole string, range-checked): "--workers 4x" is an error,
 * not 4. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "../api/api.h"

typedef enum { F_LISTEN, F_GRPC_LISTEN, F_INT, F_LOGFMT, F_PATH } flag_kind;

typedef struct flag_def {
    const char *name;   /* without the leading "--" */
    flag_kind kind;
    int64_t min, max;   /* F_INT */
    size_t offset;      /* into up_config */
    size_t size;        /* of that field: F_INT stores an int or an int64_t */
    const char *arg;    /* metavariable for --help */
    const char *doc;
} flag_def;

/* Where a flag's value goes and how wide the field is: the store follows
 * the field's own size, so a new int or int64_t field needs no other
 * change (a field of any other size is refused at start, see store_int). */
#define OFF(f) offsetof(up_config, f), sizeof(((up_config *)0)->f)
#define MIB (1024 * 1024)

static int store_int(char *field, const struct flag_def *f, int64_t n);

static const flag_def flags[] = {
    {"listen", F_LISTEN, 0, 0, 0, 0, "HOST:PORT",
     "address to listen on (default 127.0.0.1:8080; port 0 picks a free port, "
     "[::1]:8080 for IPv6)"},
    {"grpc-listen", F_GRPC_LISTEN, 0, 0, 0, 0, "HOST:PORT",
     "also serve KServe v2 over gRPC (inference.GRPCInferenceService) on this address, "
     "with the same ops, workers, limits, keys and TLS (default: off; README \"gRPC\")"},
    {"workers", F_INT, 1, 1024, OFF(workers), "N", "worker threads (default: online cores)"},
    {"queue", F_INT, 1, 1000000, OFF(queue), "N",
     "jobs waiting to start before 503 (default 256)"},
    {"max-body-mb", F_INT, 1, 1 << 20, OFF(max_body_bytes), "N",
     "largest request body in MiB, 413 above (default 256)"},
    {"max-elements", F_INT, 1, INT64_MAX / 16, OFF(max_elements), "N",
     "largest tensor (input or output) in elements, 413 above (default 67108864)"},
    {"max-request-elements", F_INT, 1, INT64_MAX / 16, OFF(max_request_elements), "N",
     "all inputs of one request together, 413 above (default 2 x max-elements)"},
    {"max-work", F_INT, 0, INT64_MAX, OFF(max_work), "N",
     "largest work estimate of one request in element operations (elements x window, "
     "multiply-adds for conv_transpose), 413 above with the estimate in the message; the "
     "default, 1000000000, is 0.25-1 s of one core for max_pool windows and at most about "
     "3 s for the slowest kernel measured per operation, 3d fractional_max_pool "
     "(0 = no limit)"},
    {"timeout-ms", F_INT, 0, 86400000, OFF(timeout_ms), "N",
     "default deadline for a job to start, 504 after it; X-Request-Timeout-Ms "
     "overrides per request (default 0 = none)"},
    {"idle-timeout-s", F_INT, 1, 86400, OFF(conn_timeout_s), "N",
     "close connections idle for this long (default 60)"},
    {"header-timeout-s", F_INT, 1, 3600, OFF(header_timeout_s), "N",
     "a request line and its headers must arrive within this many seconds, "
     "else the connection is closed (slowloris; default 10)"},
    {"body-timeout-s", F_INT, 1, 86400, OFF(body_timeout_s), "N",
     "a request body must arrive within this many seconds after its headers, "
     "else the connection is closed (default 120)"},
    {"max-connections", F_INT, 1, 1000000, OFF(max_connections), "N",
     "open connections in total; more wait in the listen backlog (default 1024)"},
    {"max-connections-per-ip", F_INT, 0, 1000000, OFF(max_connections_per_ip), "N",
     "open connections from one client address, more are closed at once "
     "(default 0 = no limit)"},
    {"max-header-kb", F_INT, 1, 1024, OFF(max_header_bytes), "N",
     "request line plus headers in KiB, 413 above (default 32)"},
    {"max-inflight-mb", F_INT, 1, 1 << 22, OFF(max_inflight_bytes), "N",
     "memory budget in MiB for everything requests hold (bodies as they arrive, parse "
     "state, tensors, tables, answers) and the cache of freed buffers; a request that does "
     "not fit now gets 503 with Retry-After, one larger than the whole budget 413 "
     "(default: 1024 or 2 x --max-body-mb, whichever is larger; at least --max-body-mb)"},
    {"max-json-depth", F_INT, 2, 1024, OFF(max_json_depth), "N",
     "deepest JSON nesting accepted, 400 deeper (default 64)"},
    {"max-inputs", F_INT, 1, 64, OFF(max_inputs), "N",
     "named input tensors per request, 413 above (default 16)"},
    {"open-health", F_INT, 0, 1, OFF(open_health), "0|1",
     "with --api-key-file, 1 keeps /healthz, /readyz and /v2/health/* open for probes "
     "(default 1)"},
    {"open-metrics", F_INT, 0, 1, OFF(open_metrics), "0|1",
     "with --api-key-file, 1 lets /metrics be scraped without a key (default 0)"},
    {"shm", F_INT, 0, 1, OFF(shm), "0|1",
     "1 turns on the system shared-memory extension (/v2/systemsharedmemory, shm tensors on "
     "/v1 and /v2) for clients on the same host. Default 0: a client that can register a "
     "region makes the daemon read and write any POSIX shared-memory object its user can "
     "open, so it is for deployments that share /dev/shm with trusted clients on purpose "
     "(README \"Shared memory\")"},
    {"shm-max-regions", F_INT, 1, 1 << 20, OFF(shm_max_regions), "N",
     "registered shared-memory regions at once (default 64)"},
    {"shm-max-mb", F_INT, 1, 1 << 30, OFF(shm_max_bytes), "N",
     "mapped bytes of all registered regions together, in MiB (default 16384); the client's "
     "memory, not part of --max-inflight-mb"},
    {"drain-timeout-ms", F_INT, 0, 3600000, OFF(drain_timeout_ms), "N",
     "on SIGTERM/SIGINT, longest wait for in-flight requests (default 30000)"},
    {"log-format", F_LOGFMT, 0, 0, OFF(log_format), "text|json",
     "access and event log format on stderr (default text)"},
    {"tls-cert", F_PATH, 0, 0, OFF(tls_cert), "FILE",
     "PEM certificate (chain); with --tls-key serves HTTPS"},
    {"tls-key", F_PATH, 0, 0, OFF(tls_key), "FILE", "PEM private key for --tls-cert"},
    {"api-key-file", F_PATH, 0, 0, OFF(api_key_file), "FILE",
     "one API key per line; requests then need \"Authorization: Bearer KEY\" "
     "(health routes stay open, see --open-health)"},
};
#define N_FLAGS ((int)(sizeof(flags) / sizeof(flags[0])))

void up_config_usage(FILE *out)
{
    fprintf(out,
            "usage: unpoold [flags]\n\n"
            "unpoold serves unpooling-family tensor ops over HTTP (see README.md).\n"
            "Every flag may also be set as UNPOOLD_<FLAG> in the environment\n"
            "(--max-body-mb -> UNPOOLD_MAX_BODY_MB); the command line wins.\n\n");
    for (int i = 0; i < N_FLAGS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s %s", flags[i].name, flags[i].arg);
        fprintf(out, "  %-30s %s\n", left, flags[i].doc);
    }
    fprintf(out, "  %-30s %s\n  %-30s %s\n", "--help", "print this help and exit",
            "--version", "print the version and exit");
    fprintf(out, "\nSignals: SIGTERM/SIGINT drain (readiness false, stop accepting,\n"
                 "finish in-flight requests, exit 0); SIGHUP is ignored (logs go to\n"
                 "stderr; nothing to reopen).\n"
                 "Exit status: 0 after a clean drain, 2 on a bad flag or when the\n"
                 "address cannot be bound.\n");
}

static void defaults(up_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
    c->listen_port = 8080;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->workers = n > 0 ? (int)n : 1;
    c->queue = 256;
    c->max_body_bytes = 256;  /* MiB until finalised */
    c->max_elements = 64 * MIB;
    c->max_request_elements = 0;
    c->max_work = UP_DEFAULT_MAX_WORK;
    c->timeout_ms = 0;
    c->conn_timeout_s = 60;
    c->drain_timeout_ms = 30000;
    c->header_timeout_s = 10;
    c->body_timeout_s = 120;
    c->max_connections = 1024;
    c->max_connections_per_ip = 0;
    c->max_header_bytes = 32;      /* KiB until finalised */
    c->max_inflight_bytes = 0;     /* MiB until finalised; 0 = from --max-body-mb */
    c->max_json_depth = 64;
    c->max_inputs = 16;
    c->open_health = 1;
    c->open_metrics = 0;
    c->shm = 0;
    c->shm_max_regions = 64;
    c->shm_max_bytes = 16384; /* MiB until finalised */
    c->log_format = UP_LOG_TEXT;
}

static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    if (!*s) return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* "HOST:PORT", "[v6]:PORT" or ":PORT" (all interfaces) into host (256
 * bytes) and port. */
static int parse_listen(char *host_out, int *port_out, const char *s)
{
    const char *colon;
    char host[256];
    int64_t port;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':') return -1;
        if ((size_t)(rb - s - 1) >= sizeof(host)) return -1;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = 0;
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host)) return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = 0;
    }
    if (parse_i64(colon + 1, 0, 65535, &port) < 0) return -1;
    snprintf(host_out, 256, "%s", host[0] ? host : "0.0.0.0");
    *port_out = (int)port;
    return 0;
}

static int apply(up_config *c, const flag_def *f, const char *v, const char *from)
{
    char *base = (char *)c;
    int64_t n;
    switch (f->kind) {
    case F_LISTEN:
    case F_GRPC_LISTEN:
        if (f->kind == F_LISTEN ? parse_listen(c->listen_host, &c->listen_port, v) == 0
                                : parse_listen(c->grpc_host, &c->grpc_port, v) == 0)
            return 0;
        fprintf(stderr, "unpoold: %s: expected HOST:PORT (port 0-65535), got \"%s\"\n", from, v);
        return -1;
    case F_INT:
        if (parse_i64(v, f->min, f->max, &n) < 0) {
            fprintf(stderr, "unpoold: %s: expected an integer in [%lld, %lld], got \"%s\"\n",
                    from, (long long)f->min, (long long)f->max, v);
            return -1;
        }
        return store_int(base + f->offset, f, n);
    case F_LOGFMT:
        if (strcmp(v, "text") == 0) c->log_format = UP_LOG_TEXT;
        else if (strcmp(v, "json") == 0) c->log_format = UP_LOG_JSON;
        else {
            fprintf(stderr, "unpoold: %s: expected text or json, got \"%s\"\n", from, v);
            return -1;
        }
        return 0;
    case F_PATH:
        if (strlen(v) >= f->size) {
            fprintf(stderr, "unpoold: %s: path too long (at most %zu bytes)\n", from,
                    f->size - 1);
            return -1;
        }
        snprintf(base + f->offset, f->size, "%s", v);
        return 0;
    }
    return -1;
}

/* An F_INT value into its field, by the field's size. The range in the
 * table is checked already; an int field's range must fit an int. */
static int store_int(char *field, const struct flag_def *f, int64_t n)
{
    if (f->size == sizeof(int64_t)) {
        memcpy(field, &n, sizeof(n));
        return 0;
    }
    if (f->size == sizeof(int) && n >= INT_MIN && n <= INT_MAX) {
        int v = (int)n;
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    fprintf(stderr, "unpoold: --%s: config field of %zu bytes cannot hold %lld\n", f->name,
            f->size, (long long)n);
    return -1;
}

/* --max-body-mb -> UNPOOLD_MAX_BODY_MB */
static void env_name(const char *flag, char *out, size_t cap)
{
    size_t j = (size_t)snprintf(out, cap, "UNPOOLD_");
    for (size_t i = 0; flag[i] && j + 1 < cap; i++)
        out[j++] = flag[i] == '-' ? '_' : (char)(flag[i] >= 'a' && flag[i] <= 'z' ? flag[i] - 32 : flag[i]);
    out[j] = 0;
}

static const flag_def *find_flag(const char *name, size_t len)
{
    for (int i = 0; i < N_FLAGS; i++)
        if (strlen(flags[i].name) == len && memcmp(flags[i].name, name, len) == 0) return &flags[i];
    return NULL;
}

static int finalise(up_config *c)
{
    if (!c->max_inflight_bytes)
        c->max_inflight_bytes = 2 * c->max_body_bytes > 1024 ? 2 * c->max_body_bytes : 1024;
    if (c->max_inflight_bytes < c->max_body_bytes) {
        fprintf(stderr, "unpoold: --max-inflight-mb (%lld) must be at least --max-body-mb (%lld)\n",
                (long long)c->max_inflight_bytes, (long long)c->max_body_bytes);
        return 2;
    }
    c->max_body_bytes *= MIB;
    c->max_inflight_bytes *= MIB;
    c->max_header_bytes *= 1024;
    c->shm_max_bytes *= MIB;
    if (!c->max_request_elements) c->max_request_elements = 2 * c->max_elements;
    if (!!c->tls_cert[0] != !!c->tls_key[0]) {
        fprintf(stderr, "unpoold: --tls-cert and --tls-key go together\n");
        return 2;
    }
    return 0;
}

int up_config_load(up_config *c, int argc, char **argv)
{
    char env[64], from[96];
    defaults(c);
    for (int i = 0; i < N_FLAGS; i++) {
        env_name(flags[i].name, env, sizeof(env));
        const char *v = getenv(env);
        if (v && apply(c, &flags[i], v, env) < 0) return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            up_config_usage(stdout);
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            printf("unpoold %s\n", UP_VERSION);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "unpoold: unexpected argument \"%s\" (see --help)\n", a);
            return 2;
        }
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const flag_def *f = find_flag(a + 2, len);
        if (!f) {
            fprintf(stderr, "unpoold: unknown flag \"%.*s\" (see --help)\n", (int)len + 2, a);
            return 2;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(stderr, "unpoold: --%s needs a value (%s)\n", f->name, f->arg);
            return 2;
        }
        snprintf(from, sizeof(from), "--%s", f->name);
        if (apply(c, f, v, from) < 0) return 2;
    }
    return finalise(c);
}
