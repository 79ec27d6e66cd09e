/* accesslog.h -- one line per request, and the daemon's few event lines,
 * on stderr, as text (key=value) or JSON (one object per line).
 *
 * Each line is formatted into a stack buffer and written with one write(2),
 * so lines from concurrent threads never interleave. Client-controlled
 * strings (path, request id) are escaped: a crafted URL cannot forge lines. */
#ifndef UP_SRV_ACCESSLOG_H
#define UP_SRV_ACCESSLOG_H

#include <stdint.h>

#include "../api/api.h"

typedef struct up_access {
    const char *method, *path, *op, *request_id;
    int status;
    uint64_t bytes_in, bytes_out;
    const up_timing *timing;   /* NULL for requests that ran no job */
    double total_ms;
} up_access;

void up_log_init(int format);  /* UP_LOG_TEXT / UP_LOG_JSON */
void up_log_access(const up_access *a);
void up_log_event(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
