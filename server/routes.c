/* routes.c -- path -> route (see routes.h). Paths are matched exactly: no
 * trailing-slash or case folding, so every URL has one meaning. */
#include <string.h>

#include "routes.h"

/* Does path start with prefix, followed by one non-empty segment and then
 * exactly suffix? Copies the segment into r. */
static int match_op(const char *path, const char *prefix, const char *suffix, up_route *r)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    if (strncmp(path, prefix, pl) != 0) return 0;
    const char *seg = path + pl, *slash = strchr(seg, '/');
    size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
    if (len == 0 || strcmp(seg + len, suffix) != 0 || (sl == 0 && slash)) return 0;
    size_t n = len < sizeof(r->op_name) - 1 ? len : sizeof(r->op_name) - 1;
    memcpy(r->op_name, seg, n);
    r->op_name[n] = 0;
    r->has_op = 1;
    r->op = len < sizeof(r->op_name) ? up_op_find(r->op_name) : NULL;
    return 1;
}

/* /v2/systemsharedmemory[/region/{name}]/{action}: a region name is one
 * segment of 1 to 63 bytes. */
static int match_shm(const char *path, up_route *r)
{
    static const char base[] = "/v2/systemsharedmemory/";
    static const struct {
        const char *action;
        up_route_kind kind;
        int post, named_only;
    } acts[] = {{"status", UP_R_SHM_STATUS, 0, 0},
                {"unregister", UP_R_SHM_UNREGISTER, 1, 0},
                {"register", UP_R_SHM_REGISTER, 1, 1}};
    const char *rest, *slash;
    size_t len = 0;
    if (strncmp(path, base, sizeof(base) - 1) != 0) return 0;
    rest = path + sizeof(base) - 1;
    if (strncmp(rest, "region/", 7) == 0) {
        rest += 7;
        if (!(slash = strchr(rest, '/')) || slash == rest ||
            (len = (size_t)(slash - rest)) >= sizeof(r->region))
            return 0;
        memcpy(r->region, rest, len);
        r->region[len] = 0;
        rest = slash + 1;
    }
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
        if (strcmp(rest, acts[i].action) == 0 && (len || !acts[i].named_only)) {
            r->kind = acts[i].kind;
            r->is_post = acts[i].post;
            r->shm = 1;
            return 1;
        }
    r->region[0] = 0;
    return 0;
}

void up_route_match(const char *path, up_route *r)
{
    static const struct {
        const char *path;
        up_route_kind kind;
        int open;
    } fixed[] = {
        {"/v1/ops", UP_R_V1_OPS, 0},         {"/healthz", UP_R_HEALTHZ, 1},
        {"/readyz", UP_R_READYZ, 1},         {"/metrics", UP_R_METRICS, 0},
        {"/openapi.yaml", UP_R_OPENAPI, 0},  {"/v2", UP_R_V2_SERVER, 0},
        {"/v2/health/live", UP_R_V2_LIVE, 1}, {"/v2/health/ready", UP_R_V2_READY, 1},
        {"/", UP_R_PLAYGROUND, 1},
    };
    memset(r, 0, sizeof(*r));
    if (!path) return;
    r->kserve = strncmp(path, "/v2", 3) == 0 && (path[3] == 0 || path[3] == '/');
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strcmp(path, fixed[i].path) == 0) {
            r->kind = fixed[i].kind;
            r->open = fixed[i].open;
            return;
        }
    if (match_shm(path, r)) return;
    if (match_op(path, "/v1/ops/", "", r)) r->kind = UP_R_V1_OP, r->is_post = 1;
    else if (match_op(path, "/v2/models/", "/infer", r)) r->kind = UP_R_V2_INFER, r->is_post = 1;
    else if (match_op(path, "/v2/models/", "/ready", r)) r->kind = UP_R_V2_MODEL_READY;
    else if (match_op(path, "/v2/models/", "", r)) r->kind = UP_R_V2_MODEL;
}

int up_route_method_ok(const up_route *r, const char *method)
{
    if (r->is_post) return strcmp(method, "POST") == 0;
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

const char *up_route_allow(const up_route *r) { return r->is_post ? "POST" : "GET, HEAD"; }
