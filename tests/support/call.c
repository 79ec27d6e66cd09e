/* call.c -- helpers around one decoded call (call.h). */
#include "call.h"

#include <stdio.h>
#include <string.h>

#include "harness.h"

int th_query_split(const char *query, char *buf, size_t cap, up_kv *kv, int max)
{
    char *save = NULL, *tok;
    int n = 0;
    if (!query || !cap) return 0;
    snprintf(buf, cap, "%s", query);
    for (tok = strtok_r(buf, "&", &save); tok && n < max; tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        if (eq) *eq = '\0';
        kv[n++] = (up_kv){.key = tok, .value = eq ? eq + 1 : ""};
    }
    return n;
}

int th_call_run(up_call *c, up_error *err)
{
    up_fault f;
    up_fault_init(&f);
    up_plan_run(&c->plan, 0, c->plan.work_units, &f);
    return up_plan_finish(&c->plan, &f, err);
}

void th_expect_refused(int rc, const up_error *err, up_err_kind kind, const char *needle)
{
    CHECK(rc < 0);
    CHECKF(err->kind == kind, "kind %d, expected %d (%s)", err->kind, kind,
           err->n ? err->items[0].message : "");
    if (needle && err->n)
        CHECKF(strstr(err->items[0].message, needle) != NULL, "message \"%s\" lacks \"%s\"",
               err->items[0].message, needle);
}
