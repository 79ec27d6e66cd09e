/* plan_builder.c -- see plan_builder.h. Aborts on misuse (a test bug). */
#include "plan_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static up_param_value *param(up_plan *p, const char *name)
{
    int i = up_op_param_index(p->op, name);
    if (i < 0) {
        fprintf(stderr, "plan_builder: op %s has no param %s\n", p->op->name, name);
        abort();
    }
    p->params.v[i].set = 1;
    return &p->params.v[i];
}

void tb_ints(up_plan *p, const char *name, int n, const int64_t *v)
{
    up_param_value *pv = param(p, name);
    pv->n = n;
    for (int i = 0; i < n && i < UP_MAX_PARAM_VALUES; i++) pv->i[i] = v[i];
}

void tb_int(up_plan *p, const char *name, int64_t v) { tb_ints(p, name, 1, &v); }

void tb_floats(up_plan *p, const char *name, int n, const double *v)
{
    up_param_value *pv = param(p, name);
    pv->n = n;
    for (int i = 0; i < n && i < UP_MAX_RANK; i++) pv->f[i] = v[i];
}

void tb_enum(up_plan *p, const char *name, const char *choice)
{
    int pi = up_op_param_index(p->op, name);
    up_param_value *pv = param(p, name);
    const char *const *c = pi >= 0 ? p->op->params[pi].choices : NULL;
    for (int k = 0; c && c[k]; k++) {
        if (strcmp(c[k], choice) == 0) {
            pv->choice = k;
            pv->n = 1;
            return;
        }
    }
    fprintf(stderr, "plan_builder: %s is not a choice of %s\n", choice, name);
    abort();
}

void tb_input(up_plan *p, const char *name, up_dtype dt, int rank, const int64_t *shape,
              const void *data)
{
    int i = up_op_input_index(p->op, name);
    if (i < 0 || up_tensor_alloc_zero(&p->raw[i], dt, rank, shape) < 0) {
        fprintf(stderr, "plan_builder: cannot attach input %s\n", name);
        abort();
    }
    if (data) memcpy(p->raw[i].data, data, up_tensor_nbytes(&p->raw[i]));
}

int tb_err_has_field(const up_error *err, const char *field)
{
    for (int i = 0; i < err->n; i++)
        if (strcmp(err->items[i].field, field) == 0) return 1;
    return 0;
}

int tb_run_poisoned(up_plan *p, int chunked, up_error *err)
{
    up_fault all, f;
    up_error_clear(err);
    if (up_plan_prepare(p, err) < 0) return -1;
    memset(p->out[0].data, 0xff, up_tensor_nbytes(&p->out[0]));
    up_fault_init(&all);
    if (!chunked) {
        up_plan_run(p, 0, p->work_units, &all);
    } else {
        int64_t step = 1, b = 0, starts[1 << 12], n = 0;
        for (; b < p->work_units && n < (1 << 12); b += step, step = step % 3 + 1) starts[n++] = b;
        for (int64_t k = n - 1; k >= 0; k--) {
            up_fault_init(&f);
            up_plan_run(p, starts[k], k + 1 < n ? starts[k + 1] : p->work_units, &f);
            up_fault_merge(&all, &f);
        }
    }
    return up_plan_finish(p, &all, err);
}
