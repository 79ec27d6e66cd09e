/* config.h -- the daemon's settings: command-line flags and UNPOOLD_* env.
 *
 * Every flag has an environment twin (--max-body-mb <-> UNPOOLD_MAX_BODY_MB)
 * so containers can be configured without a wrapper script; a flag given on
 * the command line wins over the environment. Bad values are start-up
 * errors (exit 2) naming the flag, never silently clamped. */
#ifndef UP_SRV_CONFIG_H
#define UP_SRV_CONFIG_H

#include <stdint.h>
#include <stdio.h>

enum { UP_LOG_TEXT = 0, UP_LOG_JSON = 1 };

/* --max-work's default, in element operations: a few seconds of one core
 * for the slowest kernel per operation (README "Running in production"
 * has the measurement). */
#define UP_DEFAULT_MAX_WORK ((int64_t)1000000000)

typedef struct up_config {
    char listen_host[256];
    int listen_port;              /* 0 = ephemeral (the log line names the real one) */
    char grpc_host[256];          /* --grpc-listen; "" = no gRPC */
    int grpc_port;
    int workers;                  /* default: online cores */
    int queue;                    /* jobs waiting to start */
    int64_t max_body_bytes;       /* from --max-body-mb */
    int64_t max_elements;         /* per tensor */
    int64_t max_request_elements; /* all inputs of one request */
    int64_t max_work;             /* a request's work estimate (element ops); 0 = none */
    int64_t timeout_ms;           /* default deadline to start; 0 = none */
    int64_t conn_timeout_s;       /* idle connection timeout */
    int64_t drain_timeout_ms;     /* longest wait for in-flight work on SIGTERM */
    int64_t header_timeout_s;     /* request line + headers must arrive in this */
    int64_t body_timeout_s;       /* the body must arrive in this after the headers */
    int64_t max_connections;      /* open connections in total */
    int64_t max_connections_per_ip;
    int64_t max_header_bytes;     /* from --max-header-kb */
    int64_t max_inflight_bytes;   /* from --max-inflight-mb: bodies + outputs */
    int64_t max_json_depth;
    int64_t max_inputs;
    int64_t open_health;          /* health/readiness routes need no API key */
    int64_t open_metrics;         /* /metrics needs no API key */
    int64_t shm;                  /* the system shared-memory extension is on */
    int64_t shm_max_regions;      /* registered regions at once */
    int64_t shm_max_bytes;        /* from --shm-max-mb: mapped bytes of all regions */
    int log_format;               /* UP_LOG_* */
    char tls_cert[1024];          /* "" = plain HTTP */
    char tls_key[1024];
    char api_key_file[1024];      /* "" = no authentication */
} up_config;

/* Fill cfg from defaults, then env, then argv. Returns 0 to run, 1 when
 * --help/--version was printed (exit 0), 2 on a bad flag (message printed). */
int up_config_load(up_config *cfg, int argc, char **argv);
void up_config_usage(FILE *out);

#endif
