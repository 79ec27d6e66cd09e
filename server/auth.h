/* auth.h -- API keys: "Authorization: Bearer KEY" against --api-key-file.
 *
 * Keys are compared in constant time (no early exit on the first differing
 * byte, every key checked), so response timing does not reveal how much of
 * a guess was right. Keys are never logged. */
#ifndef UP_SRV_AUTH_H
#define UP_SRV_AUTH_H

typedef struct up_auth up_auth;

/* NULL path or "": authentication off (returns NULL, *err = 0). */
up_auth *up_auth_load(const char *path, int *err);
/* 1 when authorization (the header value, may be NULL) carries a key. */
int up_auth_check(const up_auth *a, const char *authorization);
void up_auth_free(up_auth *a);

#endif
