/* shm_http.c -- the /v2/systemsharedmemory routes of Triton's system
 * shared-memory extension: register, unregister, status.
 *
 * Answered on the event thread: each is a table operation, and register
 * one shm_open + fstat + mmap (the mapping is made once here, never per
 * request). A register body is a few dozen bytes; bodies past
 * SHM_MAX_BODY are refused before parsing, which bounds the parse. Errors
 * take KServe's {"error"} form, like every /v2 route; 503 (a region in
 * use, the region limit reached) carries Retry-After. */
#include <stdio.h>

#include "request.h"
#include "shm_registry.h"

#define SHM_MAX_BODY 4096

static enum MHD_Result send_ok(up_req *r, up_http_resp *resp)
{
    resp->status = 200;
    resp->content_type = "application/json";
    if (!resp->body.len) up_buf_puts(&resp->body, "{}");
    return up_req_send(r, resp, NULL);
}

static enum MHD_Result send_err(up_req *r, up_http_resp *resp, const up_error *e)
{
    up_http_resp_free(resp);
    return up_req_send_error(r, e, e->kind == UP_E_OVERLOADED
                                       ? &(up_resp_extra){.retry_after = "1"} : NULL);
}

static int do_register(up_req *r, up_error *e)
{
    up_shm_register_body b;
    if (r->body_len > SHM_MAX_BODY)
        return up_errorf(e, UP_E_TOO_LARGE, "body", "a register request is at most %d bytes",
                         SHM_MAX_BODY);
    if (up_shm_register_request(r->body, r->body_len, &r->srv->limits, NULL, &b, e) < 0)
        return -1;
    return up_shm_register(r->route.region, &b, e);
}

enum MHD_Result up_handle_shm(up_req *r)
{
    const char *name = r->route.region[0] ? r->route.region : NULL;
    up_http_resp resp;
    up_error e;
    int rc = -1;
    up_http_resp_init(&resp);
    up_error_clear(&e);
    if (!up_shm_enabled()) {
        up_errorf(&e, UP_E_NOT_FOUND, "path", "the system shared-memory extension is off on "
                  "this server (--shm 1 turns it on)");
        return send_err(r, &resp, &e);
    }
    switch (r->route.kind) {
    case UP_R_SHM_STATUS:
        rc = up_shm_status(name, &resp.body, &e);
        break;
    case UP_R_SHM_REGISTER:
        rc = do_register(r, &e);
        break;
    case UP_R_SHM_UNREGISTER:
        rc = up_shm_unregister(name, &e);
        break;
    default:
        up_errorf(&e, UP_E_INTERNAL, "", "not a shared-memory route");
        break;
    }
    return rc < 0 ? send_err(r, &resp, &e) : send_ok(r, &resp);
}
