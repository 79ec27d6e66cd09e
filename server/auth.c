/* auth.c -- API key file loading and constant-time checks (see auth.h).
 *
 * Keys are 1 to KEY_MAX bytes. Each is stored in a slot of KEY_MAX + 1
 * bytes (the key and its terminator); a line is read into a buffer that
 * holds KEY_MAX bytes, the newline and the terminator, so a longer key is
 * seen as longer (no newline in the buffer) and refused at start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"
#include "auth.h"

#define KEY_MAX 256

struct up_auth {
    int n;
    char (*keys)[KEY_MAX + 1];
    size_t *lens;
};

up_auth *up_auth_load(const char *path, int *err)
{
    *err = 0;
    if (!path || !*path) return NULL;
    FILE *f = fopen(path, "r");
    up_auth *a = calloc(1, sizeof(*a));
    char line[KEY_MAX + 2];
    if (!f) {
        up_log_event("error", "--api-key-file %s: cannot open", path);
        goto err;
    }
    if (!a) goto err;
    while (fgets(line, sizeof(line), f)) {
        size_t n = strcspn(line, "\r\n");
        if ((line[n] == 0 && !feof(f)) || n > KEY_MAX) {
            up_log_event("error", "--api-key-file %s: a key is longer than %d bytes", path,
                         KEY_MAX);
            goto err;
        }
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\t')) n--;
        line[n] = 0;
        if (n == 0 || line[0] == '#') continue;
        void *k = realloc(a->keys, (size_t)(a->n + 1) * sizeof(*a->keys));
        if (!k) goto err;
        a->keys = k;
        void *l = realloc(a->lens, (size_t)(a->n + 1) * sizeof(size_t));
        if (!l) goto err;
        a->lens = l;
        memcpy(a->keys[a->n], line, n + 1);
        a->lens[a->n++] = n;
    }
    if (a->n == 0) {
        up_log_event("error", "--api-key-file %s: no keys", path);
        goto err;
    }
    fclose(f);
    return a;
err:
    if (f) fclose(f);
    up_auth_free(a);
    *err = 1;
    return NULL;
}

/* Equal lengths and bytes, reading the full key whatever the guess. */
static int ct_equal(const char *key, size_t klen, const char *guess, size_t glen)
{
    unsigned diff = (unsigned)(klen ^ glen);
    for (size_t i = 0; i < klen; i++) diff |= (unsigned char)key[i] ^ (unsigned char)(i < glen ? guess[i] : 0);
    return diff == 0;
}

int up_auth_check(const up_auth *a, const char *h)
{
    if (!a) return 1;
    if (!h || strncmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    while (*h == ' ') h++;
    /* one byte past the longest key: a guess that long matches nothing */
    size_t glen = strnlen(h, KEY_MAX + 1);
    int ok = 0;
    for (int i = 0; i < a->n; i++) ok |= ct_equal(a->keys[i], a->lens[i], h, glen);
    return ok;
}

void up_auth_free(up_auth *a)
{
    if (!a) return;
    /* keys are secrets: do not leave them in freed memory */
    if (a->keys) explicit_bzero(a->keys, (size_t)a->n * sizeof(*a->keys));
    free(a->keys);
    free(a->lens);
    free(a);
}
