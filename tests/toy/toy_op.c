/* toy_op.c -- toy_scale, an op that exists only in the test build
 * (CFLAGS=-DUP_TEST_TOY_OP, tests/toy/run.sh).
 *
 * It is here to show what adding an op takes, and to keep it true: its id
 * (op.h), its slots and declaration (ops.h), one entry in registry.c, and
 * this file, a prepare function and one kernel per compute type. Nothing
 * in api/ or server/ names it, yet the test build routes it, lists it in
 * GET /v1/ops and generates its part of openapi.yaml. y = x * factor. */
#include "kernels/geometry.h"
#include "kernels/ops.h"

int prepare_toy_scale(up_plan *p, up_error *err)
{
    up_geom *g = &p->g;
    int64_t factor = up_param_int(p, TOY_SCALE_P_factor, 2);
    if (factor < -1000 || factor > 1000)
        return up_errorf(err, UP_E_INVALID, "params.factor",
                         "factor must lie in [-1000, 1000], got %lld", (long long)factor);
    if (up_plan_set_output(p, TOY_SCALE_OUT_y, p->compute, g->N, g->C, g->in, err) < 0)
        return -1;
    p->work_units = up_tensor_numel(&p->out[TOY_SCALE_OUT_y]);
    p->work = p->work_units;
    p->unit_cost = 2 * (int64_t)up_dtype_size(p->compute);
    return 0;
}

/* Work units are elements. */
void compute_forward_toy_scale_f32(const up_plan *p, int64_t begin, int64_t end, up_fault *fault)
{
    const float *x = p->in[TOY_SCALE_IN_x].data;
    float *y = p->out[TOY_SCALE_OUT_y].data;
    float f = (float)up_param_int(p, TOY_SCALE_P_factor, 2);
    (void)fault;
    for (int64_t i = begin; i < end; i++) y[i] = x[i] * f;
}

void compute_forward_toy_scale_f64(const up_plan *p, int64_t begin, int64_t end, up_fault *fault)
{
    const double *x = p->in[TOY_SCALE_IN_x].data;
    double *y = p->out[TOY_SCALE_OUT_y].data;
    double f = (double)up_param_int(p, TOY_SCALE_P_factor, 2);
    (void)fault;
    for (int64_t i = begin; i < end; i++) y[i] = x[i] * f;
}
