/* shm_registry.c -- the system shared-memory extension's region table.
 *
 * A client on the same host puts tensors in a POSIX shared-memory object
 * and registers a range of it once (POST .../register); requests then name
 * the region and an offset instead of carrying the bytes. The range is
 * mapped here, once, at registration (MAP_SHARED, read and write) and
 * reused by every request until it is unregistered: nothing is mapped per
 * request.
 *
 * A request pins each region it uses (acquire, a reference count under
 * the table's lock) for as long as its plan may read or write it: from
 * decode until the call is freed, after the answer is encoded. Unregister
 * refuses a pinned region (503 with Retry-After) rather than wait: it runs
 * on the event thread, and waiting there for a large kernel would stall
 * every connection. So a mapping is never unmapped while a request can
 * touch it.
 *
 * The object belongs to the client, which may shrink it (ftruncate) while
 * the server holds it mapped. Touching a page past the new end raises
 * SIGBUS, which would kill the daemon. Two defences (neither is enough
 * alone): acquire fstat()s the object at every use and refuses a request
 * whose range is no longer inside it (the common case: a client that
 * shrank or recreated its object between requests), and the code that
 * reads or writes a region runs under shm_guard.c's SIGBUS guard, which
 * catches a shrink racing with a running request. MAP_POPULATE or mlock
 * would not help: a truncation drops the pages whatever was faulted in.
 *
 * The memory of a region is the client's, not the server's: it is not
 * charged to the request budget (--max-inflight-mb). Its count and mapped
 * bytes are limited (--shm-max-regions, --shm-max-mb) and shown in
 * /metrics. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../api/json_write.h"
#include "shm_registry.h"

typedef struct shm_region {
    char name[64];
    char key[256];
    uint64_t offset, byte_size;   /* as registered, in the object */
    int fd;                       /* kept open for fstat at every use */
    void *map;                    /* from the page below offset */
    size_t map_len;
    char *base;                   /* the byte at `offset` */
    uint64_t dev, ino;
    int refs;                     /* pins by requests in flight */
    struct shm_region *next;
} shm_region;

static struct {
    pthread_mutex_t mu;
    shm_region *head;
    int enabled;
    int64_t count, bytes;
    int64_t max_regions, max_bytes;
} reg = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int acquire(void *ctx, const char *name, uint64_t offset, uint64_t byte_size,
                   up_shm_span *span, up_error *err);
static void release(void *ctx, void *pin);
static const up_shm_resolver resolver = {acquire, release, NULL};

void up_shm_init(int enabled, int64_t max_regions, int64_t max_bytes)
{
    reg.enabled = enabled;
    reg.max_regions = max_regions;
    reg.max_bytes = max_bytes;
    if (enabled) up_shm_guard_install();
}

int up_shm_enabled(void) { return reg.enabled; }

const up_shm_resolver *up_shm_resolver_get(void) { return reg.enabled ? &resolver : NULL; }

void up_shm_gauges(int64_t *regions, int64_t *in_use, int64_t *bytes, int64_t *max_regions,
                   int64_t *max_bytes)
{
    pthread_mutex_lock(&reg.mu);
    *regions = reg.count;
    *in_use = 0;
    for (const shm_region *r = reg.head; r; r = r->next) *in_use += r->refs > 0;
    *bytes = reg.bytes;
    pthread_mutex_unlock(&reg.mu);
    *max_regions = reg.max_regions;
    *max_bytes = reg.max_bytes;
}

static shm_region *find(const char *name)
{
    for (shm_region *r = reg.head; r; r = r->next)
        if (strcmp(r->name, name) == 0) return r;
    return NULL;
}

static void region_free(shm_region *r)
{
    if (r->map) munmap(r->map, r->map_len);
    if (r->fd >= 0) close(r->fd);
    free(r);
}

/* A POSIX shared-memory name: "/" then 1-254 bytes, no other "/", not
 * "/." or "/..": what shm_open accepts portably, and what keeps the name a
 * file directly inside /dev/shm. glibc's shm_open adds O_NOFOLLOW, so a
 * symbolic link planted there leads nowhere, and map_region takes regular
 * files only. */
static int key_ok(const char *k)
{
    size_t n = strlen(k);
    return n >= 2 && k[0] == '/' && !strchr(k + 1, '/') && strcmp(k, "/.") != 0 &&
           strcmp(k, "/..") != 0;
}

/* Is the registered range inside the object now? */
static int object_holds(int fd, uint64_t end, struct stat *st)
{
    return fstat(fd, st) == 0 && S_ISREG(st->st_mode) && st->st_size >= 0 &&
           (uint64_t)st->st_size >= end;
}

static int map_region(shm_region *r, up_error *err)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t start = r->offset / (uint64_t)page * (uint64_t)page, end = r->offset + r->byte_size;
    struct stat st;
    if ((r->fd = shm_open(r->key, O_RDWR, 0)) < 0)
        return up_errorf(err, UP_E_INVALID, "key", "cannot open shared memory object \"%s\": %s",
                         r->key, strerror(errno));
    if (!object_holds(r->fd, end, &st))
        return up_errorf(err, UP_E_INVALID, "byte_size",
                         "offset + byte_size (%llu) is past the end of \"%s\" (%lld bytes)",
                         (unsigned long long)end, r->key, (long long)st.st_size);
    if (end - start > SIZE_MAX)
        return up_errorf(err, UP_E_TOO_LARGE, "byte_size", "the region is too large to map");
    r->map_len = (size_t)(end - start);
    r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, (off_t)start);
    if (r->map == MAP_FAILED) {
        r->map = NULL;
        return up_errorf(err, UP_E_INVALID, "key", "cannot map \"%s\": %s", r->key,
                         strerror(errno));
    }
    r->base = (char *)r->map + (r->offset - start);
    r->dev = (uint64_t)st.st_dev;
    r->ino = (uint64_t)st.st_ino;
    return 0;
}

/* The limits, for a new region of `bytes` (under the lock). */
static int fits_limits(uint64_t bytes, up_error *err)
{
    if ((int64_t)bytes > reg.max_bytes)
        return up_errorf(err, UP_E_TOO_LARGE, "byte_size",
                         "%llu bytes, over the limit of %lld for mapped regions (--shm-max-mb)",
                         (unsigned long long)bytes, (long long)reg.max_bytes);
    if (reg.count >= reg.max_regions)
        return up_errorf(err, UP_E_OVERLOADED, "name", "%lld regions are registered, the limit "
                         "(--shm-max-regions); unregister one first", (long long)reg.count);
    if ((int64_t)bytes > reg.max_bytes - reg.bytes)
        return up_errorf(err, UP_E_OVERLOADED, "byte_size",
                         "%lld bytes are mapped already; %llu more would pass --shm-max-mb",
                         (long long)reg.bytes, (unsigned long long)bytes);
    return 0;
}

int up_shm_register(const char *name, const up_shm_register_body *b, up_error *err)
{
    shm_region *r;
    if (!key_ok(b->key))
        return up_errorf(err, UP_E_MALFORMED, "key", "key must be a shared memory name: \"/\" "
                         "and at least one more character, no other \"/\"");
    if (b->byte_size == 0 || b->byte_size > (uint64_t)INT64_MAX - b->offset)
        return up_errorf(err, UP_E_MALFORMED, "byte_size", "byte_size must be at least 1, and "
                         "offset + byte_size must fit 63 bits");
    if (!(r = calloc(1, sizeof(*r))))
        return up_errorf(err, UP_E_OVERLOADED, "", "out of memory");
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->key, sizeof(r->key), "%s", b->key);
    r->offset = b->offset;
    r->byte_size = b->byte_size;
    r->fd = -1;
    pthread_mutex_lock(&reg.mu);
    if (find(name)) {
        up_errorf(err, UP_E_INVALID, "name", "a region named \"%s\" is registered already", name);
        goto err;
    }
    /* mapped under the lock: registration is rare, and two registers of
     * one name must not both map */
    if (fits_limits(b->byte_size, err) < 0 || map_region(r, err) < 0) goto err;
    r->next = reg.head;
    reg.head = r;
    reg.count++;
    reg.bytes += (int64_t)r->byte_size;
    pthread_mutex_unlock(&reg.mu);
    return 0;
err:
    pthread_mutex_unlock(&reg.mu);
    region_free(r);
    return -1;
}

int up_shm_unregister(const char *name, up_error *err)
{
    shm_region **pp, *r, *gone = NULL;
    pthread_mutex_lock(&reg.mu);
    for (r = reg.head; r; r = r->next)
        if ((!name || strcmp(r->name, name) == 0) && r->refs > 0) {
            up_errorf(err, UP_E_OVERLOADED, "name",
                      "region \"%s\" is in use by %d request(s); retry when they are answered",
                      r->name, r->refs);
            pthread_mutex_unlock(&reg.mu);
            return -1;
        }
    for (pp = &reg.head; (r = *pp);) {
        if (name && strcmp(r->name, name) != 0) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        reg.count--;
        reg.bytes -= (int64_t)r->byte_size;
        r->next = gone;
        gone = r;
    }
    pthread_mutex_unlock(&reg.mu);
    while ((r = gone)) { /* unmapped outside the lock: nobody can reach them */
        gone = r->next;
        region_free(r);
    }
    return 0;
}

void up_shm_shutdown(void)
{
    up_error e;
    up_error_clear(&e);
    up_shm_unregister(NULL, &e);
}

static void status_entry(up_buf *out, const char *name, const char *key, uint64_t offset,
                         uint64_t byte_size, int first)
{
    up_buf_puts(out, first ? "{\"name\":" : ",{\"name\":");
    up_json_put_string(out, name);
    up_buf_puts(out, ",\"key\":");
    up_json_put_string(out, key);
    up_buf_printf(out, ",\"offset\":%llu,\"byte_size\":%llu}", (unsigned long long)offset,
                  (unsigned long long)byte_size);
}

int up_shm_each(const char *name, up_shm_visit fn, void *ctx, up_error *err)
{
    int n = 0;
    pthread_mutex_lock(&reg.mu);
    for (const shm_region *r = reg.head; r; r = r->next)
        if (!name || strcmp(r->name, name) == 0) {
            fn(ctx, r->name, r->key, r->offset, r->byte_size);
            n++;
        }
    pthread_mutex_unlock(&reg.mu);
    if (name && n == 0)
        return up_errorf(err, UP_E_NOT_FOUND, "name", "no shared memory region \"%s\" is "
                         "registered", name);
    return 0;
}

typedef struct status_doc {
    up_buf *out;
    int n;
} status_doc;

static void status_visit(void *ctx, const char *name, const char *key, uint64_t offset,
                         uint64_t byte_size)
{
    status_doc *d = ctx;
    status_entry(d->out, name, key, offset, byte_size, d->n++ == 0);
}

int up_shm_status(const char *name, up_buf *out, up_error *err)
{
    status_doc d = {out, 0};
    up_buf_puts(out, "[");
    if (up_shm_each(name, status_visit, &d, err) < 0) return -1;
    up_buf_puts(out, "]");
    return out->failed ? up_errorf(err, UP_E_OVERLOADED, "", "out of memory") : 0;
}

/* ---- the resolver (api.h) ------------------------------------------------ */

static int acquire(void *ctx, const char *name, uint64_t offset, uint64_t byte_size,
                   up_shm_span *span, up_error *err)
{
    shm_region *r;
    struct stat st;
    char field[UP_ERR_FIELD_LEN];
    (void)ctx;
    snprintf(field, sizeof(field), "shared_memory_region");
    pthread_mutex_lock(&reg.mu);
    if (!(r = find(name))) {
        up_errorf(err, UP_E_INVALID, field, "shared memory region \"%s\" is not registered "
                  "(POST /v2/systemsharedmemory/region/%s/register first)", name, name);
        goto err;
    }
    if (offset > r->byte_size || byte_size > r->byte_size - offset) {
        up_errorf(err, UP_E_INVALID, field, "offset %llu + byte_size %llu is outside region "
                  "\"%s\" (%llu bytes registered)", (unsigned long long)offset,
                  (unsigned long long)byte_size, name, (unsigned long long)r->byte_size);
        goto err;
    }
    /* the pre-check: has the client shrunk (or replaced) its object? */
    if (!object_holds(r->fd, r->offset + r->byte_size, &st)) {
        up_errorf(err, UP_E_INVALID, field, "the object behind region \"%s\" is smaller than "
                  "its registered range now (truncated?); register it again", name);
        goto err;
    }
    r->refs++;
    pthread_mutex_unlock(&reg.mu);
    *span = (up_shm_span){.addr = r->base + offset, .pin = r, .obj_dev = r->dev,
                          .obj_ino = r->ino, .obj_offset = r->offset + offset, .len = byte_size};
    return 0;
err:
    pthread_mutex_unlock(&reg.mu);
    return -1;
}

static void release(void *ctx, void *pin)
{
    shm_region *r = pin;
    (void)ctx;
    pthread_mutex_lock(&reg.mu);
    r->refs--;
    pthread_mutex_unlock(&reg.mu);
}
