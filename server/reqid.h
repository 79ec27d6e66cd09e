/* reqid.h -- request ids for X-Request-Id, problem+json "instance" and logs.
 *
 * A client's id is echoed when it is sane (1-64 chars of [A-Za-z0-9._:-]),
 * so callers can correlate across services; anything else (too long, or
 * bytes that could break a log line or a header) is replaced by a fresh id:
 * 32 hex digits from a per-process random key and a counter. */
#ifndef UP_SRV_REQID_H
#define UP_SRV_REQID_H

#include <stddef.h>

#define UP_REQID_MAX 65

void up_reqid_init(void);
/* out gets the client's id if sane, else a new one. */
void up_reqid_make(const char *client, char out[UP_REQID_MAX]);

#endif
