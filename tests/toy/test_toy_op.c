/* test_toy_op.c -- the toy op of the test build (toy_op.c) is a whole op.
 *
 * Built only with CFLAGS=-DUP_TEST_TOY_OP (tests/toy/run.sh): the registry
 * check passes with it, the registry finds it at its id, a plan runs it,
 * and GET /v1/ops's document lists it with its param, default and
 * summary, all from its one registry entry. run.sh then generates
 * openapi.yaml with this build and checks the op's paths and schemas
 * appear there. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "kernels/ops.h"
#include "tests/support/harness.h"
#include "tests/support/plan_builder.h"

static void registry_has_toy(void)
{
    char msg[256] = "";
    const up_op_def *op = up_op_find("toy_scale");
    CHECKF(up_registry_check(msg, sizeof(msg)) == 0, "%s", msg);
    CHECK(up_op_count() == UP_OP_COUNT);
    CHECK(op && up_op_index(op) == UP_OP_TOY_SCALE);
}

static void toy_runs(void)
{
    up_plan p;
    up_error err;
    const int64_t shape[] = {1, 2, 3};
    const float x[] = {1, -2, 3.5f, 0, 4, -0.25f};
    up_plan_init(&p, up_op_find("toy_scale"));
    tb_int(&p, "factor", 3);
    tb_input(&p, "x", UP_F32, 3, shape, x);
    up_error_clear(&err);
    CHECKF(up_plan_execute(&p, &err) == 0, "%s", err.n ? err.items[0].message : "");
    if (p.result[0].data) {
        const float *y = p.result[0].data;
        for (int i = 0; i < 6; i++) CHECKF(y[i] == 3 * x[i], "y[%d] = %g", i, y[i]);
    }
    up_plan_free(&p);
}

static void ops_document_lists_toy(void)
{
    up_http_resp doc;
    cJSON *root, *ops, *op;
    int found = 0;
    up_http_resp_init(&doc);
    CHECK(up_ops_document(&doc) == 0);
    root = cJSON_ParseWithLength(doc.body.data, doc.body.len);
    ops = cJSON_GetObjectItemCaseSensitive(root, "ops");
    cJSON_ArrayForEach(op, ops) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(op, "name");
        if (!cJSON_IsString(name) || strcmp(name->valuestring, "toy_scale") != 0) continue;
        char *text = cJSON_PrintUnformatted(op);
        found = 1;
        CHECKF(text && strstr(text, "\"factor\"") && strstr(text, "multiply by an integer"),
               "%s", text ? text : "(null)");
        free(text);
    }
    CHECK(found);
    cJSON_Delete(root);
    up_http_resp_free(&doc);
}

int main(void)
{
    RUN(registry_has_toy);
    RUN(toy_runs);
    RUN(ops_document_lists_toy);
    return th_summary();
}
