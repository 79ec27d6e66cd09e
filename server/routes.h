/* routes.h -- the URL space of unpoold: which paths exist, which methods
 * each allows, and which op a path names.
 *
 * Matching is separate from handling so that 404 (no such path), 405 (path
 * exists, method does not; with Allow) and "unknown op" are decided in one
 * place, and the route table can be compared with openapi.yaml in tests. */
#ifndef UP_SRV_ROUTES_H
#define UP_SRV_ROUTES_H

#include "../kernels/op.h"

typedef enum up_route_kind {
    UP_R_NONE = 0,      /* no such path */
    UP_R_V1_OP,         /* POST /v1/ops/{op} */
    UP_R_V1_OPS,        /* GET  /v1/ops */
    UP_R_HEALTHZ,       /* GET  /healthz */
    UP_R_READYZ,        /* GET  /readyz */
    UP_R_METRICS,       /* GET  /metrics */
    UP_R_OPENAPI,       /* GET  /openapi.yaml */
    UP_R_V2_SERVER,     /* GET  /v2 */
    UP_R_V2_LIVE,       /* GET  /v2/health/live */
    UP_R_V2_READY,      /* GET  /v2/health/ready */
    UP_R_V2_MODEL,      /* GET  /v2/models/{op} */
    UP_R_V2_MODEL_READY,/* GET  /v2/models/{op}/ready */
    UP_R_PLAYGROUND,    /* GET  / (the playground page, playground.c) */
    UP_R_V2_INFER,      /* POST /v2/models/{op}/infer */
    UP_R_SHM_STATUS,    /* GET  /v2/systemsharedmemory[/region/{name}]/status */
    UP_R_SHM_REGISTER,  /* POST /v2/systemsharedmemory/region/{name}/register */
    UP_R_SHM_UNREGISTER /* POST /v2/systemsharedmemory[/region/{name}]/unregister */
} up_route_kind;

typedef struct up_route {
    up_route_kind kind;
    const up_op_def *op;   /* routes with {op}: NULL when the name is unknown */
    char op_name[64];      /* the {op} segment as sent (truncated) */
    int has_op;            /* the route has an {op} segment */
    int kserve;            /* errors in KServe's {"error"} form */
    int open;              /* no API key needed (health probes) */
    int is_post;           /* the route's method is POST (else GET/HEAD) */
    int shm;               /* a /v2/systemsharedmemory route (shm_http.c) */
    char region[64];       /* its {name}; "" = every region */
} up_route;

/* Fills r; r->kind is UP_R_NONE for an unknown path. */
void up_route_match(const char *path, up_route *r);
/* 1 when method is allowed on the route. */
int up_route_method_ok(const up_route *r, const char *method);
/* "POST" or "GET, HEAD", for the Allow header. */
const char *up_route_allow(const up_route *r);

#endif
