/* reqid.c -- sane-id check and id generation (see reqid.h). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "reqid.h"

static uint64_t key0, key1;
static atomic_uint_fast64_t counter;

void up_reqid_init(void)
{
    uint64_t k[2];
    if (getrandom(k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k)) {
        k[0] = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15u;
        k[1] = (uint64_t)getpid() * 0xbf58476d1ce4e5b9u;
    }
    key0 = k[0];
    key1 = k[1];
}

/* splitmix64: a bijection, so distinct counters give distinct ids. */
static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int sane(const char *s)
{
    size_t n = 0;
    if (!s) return 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok || n >= UP_REQID_MAX - 1) return 0;
    }
    return n > 0;
}

void up_reqid_make(const char *client, char out[UP_REQID_MAX])
{
    if (sane(client)) {
        snprintf(out, UP_REQID_MAX, "%s", client);
        return;
    }
    uint64_t c = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
    uint64_t w[2] = {mix(c ^ key0), mix(c + key1)};
    static const char hex[] = "0123456789abcdef";
    /* 32 hex digits, by hand: this runs for every request */
    for (int i = 0; i < 32; i++) out[i] = hex[w[i / 16] >> (60 - 4 * (i % 16)) & 15];
    out[32] = '\0';
}
