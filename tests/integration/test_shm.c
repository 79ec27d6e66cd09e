/* test_shm.c -- the system shared-memory extension against a live daemon:
 * each safety rule of the registry (server/shm_registry.c) as its own
 * case, plus /v1 and /v2 round trips that read inputs from a region and
 * write outputs into one.
 *
 * The test plays the client: it creates POSIX shared-memory objects of its
 * own (names carry the pid), fills them, registers them, and reads the
 * outputs back from its own mapping. */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "client.h"

static th_daemon D;
static const char *const JSON_H[] = {"Content-Type: application/json", NULL};

/* A client object: name, fd, mapping. */
typedef struct obj {
    char key[64];
    int fd;
    unsigned char *p;
    size_t len;
} obj;

static int obj_make(obj *o, const char *tag, size_t len)
{
    snprintf(o->key, sizeof(o->key), "/unpoold-test-%d-%s", (int)getpid(), tag);
    shm_unlink(o->key);
    o->len = len;
    o->fd = shm_open(o->key, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (o->fd < 0 || ftruncate(o->fd, (off_t)len) < 0) return -1;
    o->p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, o->fd, 0);
    return o->p == MAP_FAILED ? -1 : 0;
}

static void obj_free(obj *o)
{
    if (o->p && o->p != MAP_FAILED) munmap(o->p, o->len);
    if (o->fd >= 0) close(o->fd);
    shm_unlink(o->key);
    memset(o, 0, sizeof(*o));
    o->fd = -1;
}

static long post_status(const th_daemon *d, const char *path, const char *json, tc_resp *r,
                        const char *const *h)
{
    tc_request("POST", tc_url(d, path), h ? h : JSON_H, json, json ? strlen(json) : 0, r);
    return r->status;
}

static long reg(const th_daemon *d, const char *name, const char *key, uint64_t off,
                uint64_t size, tc_resp *r)
{
    char path[160], body[256];
    snprintf(path, sizeof(path), "/v2/systemsharedmemory/region/%s/register", name);
    snprintf(body, sizeof(body), "{\"key\":\"%s\",\"offset\":%llu,\"byte_size\":%llu}", key,
             (unsigned long long)off, (unsigned long long)size);
    return post_status(d, path, body, r, NULL);
}

static long reg_ok(const char *name, const obj *o, uint64_t off, uint64_t size)
{
    tc_resp r;
    long s = reg(&D, name, o->key, off, size, &r);
    if (s != 200) fprintf(stderr, "    register %s: %ld %s\n", name, s, r.body);
    tc_free(&r);
    return s;
}

static long unreg(const th_daemon *d, const char *name)
{
    char path[160];
    tc_resp r;
    long s;
    if (name) snprintf(path, sizeof(path), "/v2/systemsharedmemory/region/%s/unregister", name);
    else snprintf(path, sizeof(path), "/v2/systemsharedmemory/unregister");
    s = post_status(d, path, NULL, &r, NULL);
    tc_free(&r);
    return s;
}

/* nearest x2 of a 1x1x4x4 x in region `in` (offset in_off), y (1x1x8x8)
 * into region `out` (offset out_off): a KServe request. */
static long kserve_nearest(const char *in, uint64_t in_off, uint64_t in_size, const char *out,
                           uint64_t out_off, uint64_t out_size, tc_resp *r)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"parameters\":{\"scale_factor\":2},\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,4,4],"
             "\"datatype\":\"FP32\",\"parameters\":{\"shared_memory_region\":\"%s\","
             "\"shared_memory_offset\":%llu,\"shared_memory_byte_size\":%llu}}],"
             "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"shared_memory_region\":\"%s\","
             "\"shared_memory_offset\":%llu,\"shared_memory_byte_size\":%llu}}]}",
             in, (unsigned long long)in_off, (unsigned long long)in_size, out,
             (unsigned long long)out_off, (unsigned long long)out_size);
    return post_status(&D, "/v2/models/nearest_unpool/infer", body, r, NULL);
}

static int nearest_ok(const float *x, const float *y)
{
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            if (y[i * 8 + j] != x[(i / 2) * 4 + j / 2]) return 0;
    return 1;
}

/* ---- round trips ---- */

static void kserve_round_trip(void)
{
    obj a, b;
    tc_resp r;
    tc_request("GET", tc_url(&D, "/v2"), NULL, NULL, 0, &r);
    CHECK(r.status == 200 && strstr(r.body, "\"system_shared_memory\""));
    tc_free(&r);
    CHECK(obj_make(&a, "kin", 4096) == 0 && obj_make(&b, "kout", 4096) == 0);
    float *x = (float *)a.p, *y = (float *)(b.p + 256);
    for (int i = 0; i < 16; i++) x[i] = (float)i + 0.5f;
    CHECK(reg_ok("kin", &a, 0, 4096) == 200 && reg_ok("kout", &b, 0, 4096) == 200);
    CHECKF(kserve_nearest("kin", 0, 64, "kout", 256, 256, &r) == 200, "%ld %s", r.status, r.body);
    CHECK(nearest_ok(x, y));
    /* metadata only: the region, no data */
    CHECK(strstr(r.body, "\"shared_memory_region\":\"kout\"") && !strstr(r.body, "\"data\""));
    CHECK(strstr(r.body, "\"shape\":[1,1,8,8]"));
    tc_free(&r);
    /* the same mapping serves the next request: new values, same regions */
    for (int i = 0; i < 16; i++) x[i] = -(float)i;
    CHECK(kserve_nearest("kin", 0, 64, "kout", 256, 256, &r) == 200 && nearest_ok(x, y));
    tc_free(&r);
    CHECK(unreg(&D, "kin") == 200 && unreg(&D, "kout") == 200);
    obj_free(&a);
    obj_free(&b);
}

static void v1_round_trip(void)
{
    obj a;
    tc_resp r;
    char body[1024];
    CHECK(obj_make(&a, "v1", 8192) == 0);
    float *x = (float *)a.p, *y = (float *)(a.p + 4096);
    for (int i = 0; i < 16; i++) x[i] = (float)(i * 3 % 7);
    CHECK(reg_ok("v1", &a, 0, 8192) == 200);
    snprintf(body, sizeof(body),
             "{\"inputs\":{\"x\":{\"shm\":{\"region\":\"v1\",\"offset\":0,\"byte_size\":64},"
             "\"dtype\":\"float32\",\"shape\":[1,1,4,4]}},\"params\":{\"scale_factor\":2},"
             "\"outputs\":{\"y\":{\"shm\":{\"region\":\"v1\",\"offset\":4096,\"byte_size\":256}}}}");
    CHECKF(post_status(&D, "/v1/ops/nearest_unpool", body, &r, NULL) == 200, "%ld %s", r.status,
           r.body);
    CHECK(nearest_ok(x, y));
    CHECK(strstr(r.body, "\"shm\":{\"region\":\"v1\",\"offset\":4096,\"byte_size\":256}") &&
          !strstr(r.body, "\"data\""));
    tc_free(&r);
    /* .npy or safetensors answers cannot name a region */
    static const char *const npy_h[] = {"Content-Type: application/json",
                                         "Accept: application/x-npy", NULL};
    CHECK(post_status(&D, "/v1/ops/nearest_unpool", body, &r, npy_h) == 406);
    tc_free(&r);
    CHECK(unreg(&D, "v1") == 200);
    obj_free(&a);
}

/* float16 x: converted to float32 from the region, y converted back into
 * the region (the conversion path rather than in place). */
static void v1_float16_converted(void)
{
    obj a;
    tc_resp r;
    char body[1024];
    CHECK(obj_make(&a, "f16", 4096) == 0);
    uint16_t *x = (uint16_t *)a.p, *y = (uint16_t *)(a.p + 1024);
    for (int i = 0; i < 16; i++) x[i] = (uint16_t)(0x3c00 + i * 0x100); /* 1.0, 2.0, ... */
    CHECK(reg_ok("f16", &a, 0, 4096) == 200);
    snprintf(body, sizeof(body),
             "{\"inputs\":{\"x\":{\"shm\":{\"region\":\"f16\",\"byte_size\":32},"
             "\"dtype\":\"float16\",\"shape\":[1,1,4,4]}},\"params\":{\"scale_factor\":2},"
             "\"outputs\":{\"y\":{\"shm\":{\"region\":\"f16\",\"offset\":1024,\"byte_size\":128}}}}");
    CHECKF(post_status(&D, "/v1/ops/nearest_unpool", body, &r, NULL) == 200, "%ld %s", r.status,
           r.body);
    int ok = 1;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) ok &= y[i * 8 + j] == x[(i / 2) * 4 + j / 2];
    CHECK(ok);
    tc_free(&r);
    CHECK(unreg(&D, "f16") == 200);
    obj_free(&a);
}

/* ---- safety: one case per rule ---- */

static void unregistered_region_refused(void)
{
    tc_resp r;
    CHECK(kserve_nearest("nobody", 0, 64, "nobody2", 0, 256, &r) == 422);
    CHECK(strstr(r.body, "not registered"));
    tc_free(&r);
}

static void range_outside_registered_refused(void)
{
    obj a;
    tc_resp r;
    CHECK(obj_make(&a, "range", 8192) == 0);
    CHECK(reg_ok("range", &a, 4096, 1024) == 200);
    CHECK(kserve_nearest("range", 1000, 64, "range", 0, 256, &r) == 422);
    CHECK(strstr(r.body, "outside region"));
    tc_free(&r);
    /* offsets count from the registered offset: 960 + 64 fits exactly */
    float *x = (float *)(a.p + 4096 + 960);
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    CHECKF(kserve_nearest("range", 960, 64, "range", 0, 256, &r) == 200, "%s", r.body);
    CHECK(nearest_ok(x, (float *)(a.p + 4096)));
    tc_free(&r);
    /* a huge offset must not wrap around */
    CHECK(kserve_nearest("range", 9007199254740992ull, 64, "range", 0, 256, &r) == 422);
    tc_free(&r);
    CHECK(unreg(&D, "range") == 200);
    obj_free(&a);
}

static void registered_range_past_object_refused(void)
{
    obj a;
    tc_resp r;
    CHECK(obj_make(&a, "past", 4096) == 0);
    CHECK(reg(&D, "past", a.key, 0, 4097, &r) == 422 && strstr(r.body, "past the end"));
    tc_free(&r);
    CHECK(reg(&D, "past", a.key, 4096, 1, &r) == 422);
    tc_free(&r);
    obj_free(&a);
}

static void byte_size_must_match_shape(void)
{
    obj a;
    tc_resp r;
    CHECK(obj_make(&a, "size", 4096) == 0);
    CHECK(reg_ok("size", &a, 0, 4096) == 200);
    CHECK(kserve_nearest("size", 0, 60, "size", 1024, 256, &r) == 422); /* input */
    CHECK(strstr(r.body, "need 64"));
    tc_free(&r);
    CHECK(kserve_nearest("size", 0, 64, "size", 1024, 252, &r) == 422); /* output */
    CHECK(strstr(r.body, "needs 256"));
    tc_free(&r);
    CHECK(unreg(&D, "size") == 200);
    obj_free(&a);
}

static void misaligned_offset_refused(void)
{
    obj a;
    tc_resp r;
    CHECK(obj_make(&a, "align", 4096) == 0);
    CHECK(reg_ok("align", &a, 0, 4096) == 200);
    CHECK(kserve_nearest("align", 2, 64, "align", 1024, 256, &r) == 422);
    CHECK(strstr(r.body, "multiple"));
    tc_free(&r);
    CHECK(kserve_nearest("align", 0, 64, "align", 1026, 256, &r) == 422); /* output */
    CHECK(strstr(r.body, "aligned"));
    tc_free(&r);
    CHECK(unreg(&D, "align") == 200);
    obj_free(&a);
}

static void output_overlapping_input_refused(void)
{
    obj a;
    tc_resp r;
    CHECK(obj_make(&a, "lap", 8192) == 0);
    CHECK(reg_ok("lap", &a, 0, 8192) == 200);
    CHECK(kserve_nearest("lap", 0, 64, "lap", 32, 256, &r) == 422);
    CHECK(strstr(r.body, "overlaps input x"));
    tc_free(&r);
    /* two regions on one object: the overlap is found through both */
    CHECK(reg_ok("lap2", &a, 4096, 4096) == 200);
    CHECK(kserve_nearest("lap2", 0, 64, "lap", 4096 - 128, 256, &r) == 422);
    CHECK(strstr(r.body, "overlaps input x"));
    tc_free(&r);
    /* adjacent is fine */
    CHECK(kserve_nearest("lap2", 0, 64, "lap", 4096 - 256, 256, &r) == 200);
    tc_free(&r);
    CHECK(unreg(&D, NULL) == 200);
    obj_free(&a);
}

/* A client that shrinks its object between requests: the fstat at use
 * refuses, and the daemon lives on. */
static void truncated_object_refused_at_use(void)
{
    obj a;
    tc_resp r;
    CHECK(obj_make(&a, "trunc", 8192) == 0);
    CHECK(reg_ok("trunc", &a, 0, 8192) == 200);
    CHECK(ftruncate(a.fd, 100) == 0);
    CHECK(kserve_nearest("trunc", 0, 64, "trunc", 4096, 256, &r) == 422);
    CHECK(strstr(r.body, "truncated"));
    tc_free(&r);
    CHECK(unreg(&D, "trunc") == 200);
    obj_free(&a);
    tc_request("GET", tc_url(&D, "/healthz"), NULL, NULL, 0, &r);
    CHECK(r.status == 200);
    tc_free(&r);
}

/* A client that shrinks its objects while the kernel reads and writes
 * them: the SIGBUS guard turns the fault into a 422 naming the shrink,
 * every request is answered and the daemon keeps serving. The shrink is
 * made once the one worker is busy (the plan was decoded on the event
 * thread, so the worker runs the kernel: 256 MiB of output); a round whose
 * shrink still missed the kernel (a 200, or the fstat pre-check's 422) is
 * repeated, and at least one round must hit it. */
static void truncated_during_request_no_sigbus(void)
{
    const size_t in_bytes = (size_t)64 << 20, out_bytes = (size_t)256 << 20;
    int hit = 0, answered = 0, rounds = 0;
    for (; rounds < 6 && !hit; rounds++) {
        obj in, out;
        tc_async a;
        char body[1024];
        CHECK(obj_make(&in, "tin", in_bytes) == 0 && obj_make(&out, "tout", out_bytes) == 0);
        CHECK(reg_ok("tin", &in, 0, in_bytes) == 200 && reg_ok("tout", &out, 0, out_bytes) == 200);
        snprintf(body, sizeof(body),
                 "{\"parameters\":{\"scale_factor\":2},\"inputs\":[{\"name\":\"x\",\"shape\":"
                 "[1,1,4096,4096],\"datatype\":\"FP32\",\"parameters\":{\"shared_memory_region\":"
                 "\"tin\",\"shared_memory_byte_size\":%zu}}],\"outputs\":[{\"name\":\"y\","
                 "\"parameters\":{\"shared_memory_region\":\"tout\",\"shared_memory_byte_size\":"
                 "%zu}}]}", in_bytes, out_bytes);
        tc_async_start(&a, &D, "POST", "/v2/models/nearest_unpool/infer", JSON_H, body,
                       strlen(body));
        tc_wait_metric(&D, "unpoold_busy_workers", 1, 5000);
        CHECK(ftruncate(out.fd, 0) == 0 && ftruncate(in.fd, 0) == 0);
        tc_async_join(&a);
        answered += a.resp.status == 200 || a.resp.status == 422;
        hit |= a.resp.status == 422 && strstr(a.resp.body, "shrank") != NULL;
        if (a.resp.status != 200 && a.resp.status != 422)
            fprintf(stderr, "    round %d: %ld %s\n", rounds, a.resp.status, a.resp.body);
        tc_free(&a.resp);
        CHECK(unreg(&D, NULL) == 200);
        obj_free(&in);
        obj_free(&out);
    }
    CHECKF(hit, "no round shrank the objects while the kernel ran");
    CHECKF(answered == rounds, "%d of %d rounds answered 200 or 422", answered, rounds);
    tc_resp r;
    tc_request("GET", tc_url(&D, "/healthz"), NULL, NULL, 0, &r);
    CHECK(r.status == 200);
    tc_free(&r);
}

/* A region in use cannot be unregistered (its mapping would go away under
 * the kernel): 503 with Retry-After while the request runs, 200 after. */
static void unregister_in_use_refused(void)
{
    const int side = 40;
    size_t nx = (size_t)side * side * side * 4, nw = 16 * 16 * 16 * 4;
    obj a;
    tc_async q;
    tc_resp r;
    char body[1024], ra[16];
    CHECK(obj_make(&a, "busy", nx + nw) == 0);
    for (size_t i = 0; i < (nx + nw) / 4; i++) ((float *)a.p)[i] = (float)(i % 13) * 0.25f;
    CHECK(reg_ok("busy", &a, 0, nx + nw) == 200);
    snprintf(body, sizeof(body),
             "{\"inputs\":{\"x\":{\"shm\":{\"region\":\"busy\",\"byte_size\":%zu},\"shape\":"
             "[1,1,%d,%d,%d]},\"weight\":{\"shm\":{\"region\":\"busy\",\"offset\":%zu,"
             "\"byte_size\":%zu},\"shape\":[1,1,16,16,16]}},\"output_format\":\"b64\"}",
             nx, side, side, side, nx, nw);
    tc_async_start(&q, &D, "POST", "/v1/ops/conv_transpose", JSON_H, body, strlen(body));
    /* wait until the request holds the region: a busy worker alone may
     * still be decoding, before it pins the region */
    CHECK(tc_wait_metric(&D, "unpoold_shm_regions_in_use", 1, 5000));
    tc_request("POST", tc_url(&D, "/v2/systemsharedmemory/region/busy/unregister"), NULL, NULL,
               0, &r);
    CHECKF(r.status == 503 && strstr(r.body, "in use"), "%ld %s", r.status, r.body);
    CHECK(tc_header(&r, "Retry-After", ra, sizeof(ra)) != NULL);
    tc_free(&r);
    tc_async_join(&q);
    CHECKF(q.resp.status == 200, "%ld", q.resp.status);
    tc_free(&q.resp);
    CHECK(unreg(&D, "busy") == 200);
    obj_free(&a);
}

static void register_validation(void)
{
    tc_resp r;
    obj a;
    CHECK(obj_make(&a, "valid", 4096) == 0);
    CHECK(reg(&D, "v", "../../etc/passwd", 0, 64, &r) == 400); /* not a shm name */
    tc_free(&r);
    CHECK(reg(&D, "v", "/a/b", 0, 64, &r) == 400);
    tc_free(&r);
    CHECK(reg(&D, "v", "/..", 0, 64, &r) == 400);
    tc_free(&r);
    /* a symbolic link in /dev/shm is not followed (to a file the client
     * could not open itself, say) */
    char link_key[64], link_path[96], target[] = "/tmp/unpoold-shm-target-XXXXXX";
    int tfd = mkstemp(target);
    CHECK(tfd >= 0 && ftruncate(tfd, 4096) == 0);
    close(tfd);
    snprintf(link_key, sizeof(link_key), "/unpoold-test-%d-link", (int)getpid());
    snprintf(link_path, sizeof(link_path), "/dev/shm%s", link_key);
    unlink(link_path);
    if (symlink(target, link_path) == 0) {
        CHECK(reg(&D, "v", link_key, 0, 64, &r) == 422);
        tc_free(&r);
        unlink(link_path);
    } else {
        CHECKF(0, "symlink in /dev/shm");
    }
    unlink(target);
    CHECK(reg(&D, "v", "/unpoold-test-no-such-object", 0, 64, &r) == 422);
    tc_free(&r);
    CHECK(reg(&D, "v", a.key, 0, 0, &r) == 400); /* empty */
    tc_free(&r);
    CHECK(post_status(&D, "/v2/systemsharedmemory/region/v/register", "{\"key\":1}", &r, NULL) == 400);
    tc_free(&r);
    CHECK(reg_ok("v", &a, 0, 64) == 200);
    CHECK(reg(&D, "v", a.key, 0, 64, &r) == 422 && strstr(r.body, "registered already"));
    tc_free(&r);
    /* status: all, one, unknown */
    tc_request("GET", tc_url(&D, "/v2/systemsharedmemory/region/v/status"), NULL, NULL, 0, &r);
    CHECKF(r.status == 200 && strstr(r.body, "\"name\":\"v\"") && strstr(r.body, "\"byte_size\":64"),
           "%s", r.body);
    tc_free(&r);
    tc_request("GET", tc_url(&D, "/v2/systemsharedmemory/region/nope/status"), NULL, NULL, 0, &r);
    CHECK(r.status == 404);
    tc_free(&r);
    CHECK(unreg(&D, "nope") == 200); /* unknown: nothing to do */
    CHECK(unreg(&D, "v") == 200);
    tc_request("GET", tc_url(&D, "/v2/systemsharedmemory/status"), NULL, NULL, 0, &r);
    CHECK(r.status == 200 && !strcmp(r.body, "[]"));
    tc_free(&r);
    obj_free(&a);
}

/* --shm-max-regions and --shm-max-mb, and the gauges in /metrics. */
static void limits_and_metrics(void)
{
    th_daemon d;
    obj a;
    tc_resp r;
    CHECK(obj_make(&a, "lim", (size_t)3 << 20) == 0);
    if (th_daemon_start(&d, (const char *const[]){"--shm", "1", "--shm-max-regions", "2",
                                                  "--shm-max-mb", "2", NULL}) != 0) {
        CHECK(0);
        obj_free(&a);
        return;
    }
    CHECK(reg(&d, "big", a.key, 0, (size_t)3 << 20, &r) == 413);
    tc_free(&r);
    CHECK(reg(&d, "r1", a.key, 0, (size_t)1 << 20, &r) == 200);
    tc_free(&r);
    CHECK(reg(&d, "r2", a.key, 0, (size_t)1 << 20, &r) == 200);
    tc_free(&r);
    CHECK(reg(&d, "r3", a.key, 0, 4096, &r) == 503);
    tc_free(&r);
    CHECK(tc_metric(&d, "unpoold_shm_regions") == 2);
    CHECK(tc_metric(&d, "unpoold_shm_regions_limit") == 2);
    CHECK(tc_metric(&d, "unpoold_shm_mapped_bytes") == (double)(2 << 20));
    CHECK(tc_metric(&d, "unpoold_shm_mapped_bytes_limit") == (double)(2 << 20));
    CHECK(unreg(&d, "r1") == 200);
    CHECK(tc_metric(&d, "unpoold_shm_regions") == 1);
    CHECK(reg(&d, "r3", a.key, 4096, 4096, &r) == 200);
    tc_free(&r);
    CHECK(th_daemon_stop(&d) == 0);
    obj_free(&a);
}

/* Without --shm (the default) the routes and references are refused. */
static void shm_off_by_default(void)
{
    th_daemon d;
    obj a;
    tc_resp r;
    char body[512];
    CHECK(obj_make(&a, "off", 4096) == 0);
    if (th_daemon_start(&d, NULL) != 0) {
        CHECK(0);
        obj_free(&a);
        return;
    }
    CHECK(reg(&d, "off", a.key, 0, 64, &r) == 404 && strstr(r.body, "--shm"));
    tc_free(&r);
    tc_request("GET", tc_url(&d, "/v2"), NULL, NULL, 0, &r);
    CHECK(r.status == 200 && !strstr(r.body, "system_shared_memory"));
    tc_free(&r);
    snprintf(body, sizeof(body),
             "{\"inputs\":{\"x\":{\"shm\":{\"region\":\"off\",\"byte_size\":64},"
             "\"shape\":[1,1,4,4]}},\"params\":{\"scale_factor\":2}}");
    CHECK(post_status(&d, "/v1/ops/nearest_unpool", body, &r, NULL) == 422 && strstr(r.body, "--shm"));
    tc_free(&r);
    CHECK(th_daemon_stop(&d) == 0);
    obj_free(&a);
}

/* UNPOOLD_SHM=1 turns it on like the flag (th_daemon passes the env on). */
static void shm_env_twin(void)
{
    th_daemon d;
    tc_resp r;
    setenv("UNPOOLD_SHM", "1", 1);
    int rc = th_daemon_start(&d, NULL);
    unsetenv("UNPOOLD_SHM");
    if (rc != 0) {
        CHECK(0);
        return;
    }
    tc_request("GET", tc_url(&d, "/v2/systemsharedmemory/status"), NULL, NULL, 0, &r);
    CHECK(r.status == 200);
    tc_free(&r);
    CHECK(th_daemon_stop(&d) == 0);
}

static void api_key_required(void)
{
    char path[] = "/tmp/unpoold-keys-XXXXXX";
    int fd = mkstemp(path);
    th_daemon d;
    obj a;
    tc_resp r;
    char body[256];
    static const char *const key_h[] = {"Content-Type: application/json",
                                         "Authorization: Bearer k-shm", NULL};
    CHECK(fd >= 0 && write(fd, "k-shm\n", 6) == 6);
    close(fd);
    CHECK(obj_make(&a, "auth", 4096) == 0);
    if (th_daemon_start(&d, (const char *const[]){"--shm", "1", "--api-key-file", path, NULL}) != 0) {
        CHECK(0);
    } else {
        snprintf(body, sizeof(body), "{\"key\":\"%s\",\"byte_size\":64}", a.key);
        CHECK(post_status(&d, "/v2/systemsharedmemory/region/a/register", body, &r, NULL) == 401);
        tc_free(&r);
        tc_request("GET", tc_url(&d, "/v2/systemsharedmemory/status"), NULL, NULL, 0, &r);
        CHECK(r.status == 401);
        tc_free(&r);
        CHECK(post_status(&d, "/v2/systemsharedmemory/unregister", NULL, &r, NULL) == 401);
        tc_free(&r);
        CHECK(post_status(&d, "/v2/systemsharedmemory/region/a/register", body, &r, key_h) == 200);
        tc_free(&r);
        tc_request("GET", tc_url(&d, "/v2/systemsharedmemory/status"), key_h, NULL, 0, &r);
        CHECK(r.status == 200 && strstr(r.body, "\"name\":\"a\""));
        tc_free(&r);
        CHECK(th_daemon_stop(&d) == 0);
    }
    obj_free(&a);
    unlink(path);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (th_daemon_start(&D, (const char *const[]){"--workers", "1", "--shm", "1", NULL}) != 0) {
        th_record("daemon_start", 0);
        return th_summary();
    }
    RUN(kserve_round_trip);
    RUN(v1_round_trip);
    RUN(v1_float16_converted);
    RUN(unregistered_region_refused);
    RUN(range_outside_registered_refused);
    RUN(registered_range_past_object_refused);
    RUN(byte_size_must_match_shape);
    RUN(misaligned_offset_refused);
    RUN(output_overlapping_input_refused);
    RUN(truncated_object_refused_at_use);
    RUN(truncated_during_request_no_sigbus);
    RUN(unregister_in_use_refused);
    RUN(register_validation);
    th_record("daemon_exit_0", th_daemon_stop(&D) == 0);
    RUN(limits_and_metrics);
    RUN(shm_off_by_default);
    RUN(shm_env_twin);
    RUN(api_key_required);
    curl_global_cleanup();
    return th_summary();
}
