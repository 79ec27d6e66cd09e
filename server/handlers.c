/* handlers.c -- the GET routes: documents, health, metrics, the spec.
 *
 * All of them are small and answered on the MHD thread directly; only op
 * requests go through the worker pool. Readiness (/readyz,
 * /v2/health/ready) turns false as soon as draining starts so load
 * balancers stop sending traffic while in-flight requests finish. */
#include <stdio.h>
#include <string.h>

#include "../kernels/bigbuf.h"
#include "budget.h"
#include "conns.h"
#include "metrics.h"
#include "playground.h"
#include "request.h"
#include "shm_registry.h"

static enum MHD_Result send_json(up_req *r, int status, const char *json)
{
    up_http_resp resp;
    up_http_resp_init(&resp);
    resp.status = status;
    resp.content_type = "application/json";
    up_buf_puts(&resp.body, json);
    return up_req_send(r, &resp, NULL);
}

/* A document made by an api function; its failure is an internal error. */
static enum MHD_Result send_doc(up_req *r, int rc, up_http_resp *resp)
{
    if (rc < 0 || resp->body.failed) {
        up_error e;
        up_error_clear(&e);
        up_errorf(&e, UP_E_INTERNAL, "", "cannot build the document");
        up_http_resp_free(resp);
        return up_req_send_error(r, &e, NULL);
    }
    if (!resp->status) resp->status = 200;
    return up_req_send(r, resp, NULL);
}

static enum MHD_Result send_metrics(up_req *r)
{
    up_server *s = r->srv;
    up_http_resp resp;
    up_gauges g = {
        .queue_depth = up_pool_queue_depth(s->pool),
        .busy_workers = up_pool_busy_workers(s->pool),
        .workers = up_pool_workers(s->pool),
        .in_flight = up_metrics_in_flight_now(),
        .draining = atomic_load(&s->draining),
        .inflight_bytes = up_budget_used(),
        .inflight_cap = up_budget_cap(),
        .cache_bytes = (int64_t)up_bigbuf_cached_bytes(),
        .connections = up_conns_open(),
    };
    up_shm_gauges(&g.shm_regions, &g.shm_in_use, &g.shm_bytes, &g.shm_max_regions, &g.shm_max_bytes);
    up_http_resp_init(&resp);
    resp.status = 200;
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return send_doc(r, up_metrics_render(&resp.body, &g), &resp);
}

static enum MHD_Result send_openapi(up_req *r)
{
    return up_req_send_static(r, up_openapi_yaml, (size_t)(up_openapi_yaml_end - up_openapi_yaml),
                              "application/yaml", NULL);
}

enum MHD_Result up_handle_get(up_req *r)
{
    int ready = !atomic_load(&r->srv->draining);
    up_http_resp resp;
    up_http_resp_init(&resp);
    switch (r->route.kind) {
    case UP_R_V1_OPS:
        return send_doc(r, up_ops_document(&resp), &resp);
    case UP_R_HEALTHZ:
        return send_json(r, 200, "{\"status\":\"ok\"}");
    case UP_R_READYZ:
        return send_json(r, ready ? 200 : 503,
                         ready ? "{\"status\":\"ready\"}" : "{\"status\":\"draining\"}");
    case UP_R_METRICS:
        return send_metrics(r);
    case UP_R_OPENAPI:
        return send_openapi(r);
    case UP_R_PLAYGROUND:
        return up_playground_send(r);
    case UP_R_V2_SERVER:
        return send_doc(r, up_kserve_server_metadata(&resp, up_shm_enabled()), &resp);
    case UP_R_V2_LIVE:
        return send_json(r, 200, "{\"live\":true}");
    case UP_R_V2_READY:
        return send_json(r, ready ? 200 : 503, ready ? "{\"ready\":true}" : "{\"ready\":false}");
    case UP_R_V2_MODEL:
        return send_doc(r, up_kserve_model_metadata(r->route.op, &resp), &resp);
    case UP_R_V2_MODEL_READY: {
        char b[128];
        snprintf(b, sizeof(b), "{\"name\":\"%s\",\"ready\":%s}", r->route.op->name,
                 ready ? "true" : "false");
        return send_json(r, ready ? 200 : 503, b);
    }
    default:
        break;
    }
    up_error e;
    up_error_clear(&e);
    up_errorf(&e, UP_E_NOT_FOUND, "path", "no route %s", r->path);
    return up_req_send_error(r, &e, NULL);
}
