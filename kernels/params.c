/* params.c -- typed access to an op's params for its prepare function.
 *
 * The wire layer has already parsed every param into an up_param_value
 * according to its declared type; what is left here is the part every op
 * shares: broadcasting "one number for every spatial dim", checking counts
 * and ranges, and reading output_size in either of its spellings. */
#include <math.h>
#include <stdio.h>

#include "geometry.h"
#include "op.h"

const up_param_value *up_plan_param(const up_plan *p, int slot)
{
    if (slot < 0 || slot >= p->op->n_params) up_registry_bug(p->op, "param slot", slot);
    return &p->params.v[slot];
}

int up_plan_param_set(const up_plan *p, int slot) { return up_plan_param(p, slot)->set; }

/* The param in `slot`, which must have type t (or t2): an accessor of
 * another type would read the wrong field of up_param_value. */
static const up_param_value *typed(const up_plan *p, int slot, up_param_type t, up_param_type t2)
{
    const up_param_value *v = up_plan_param(p, slot);
    up_param_type have = p->op->params[slot].type;
    if (have != t && have != t2) up_registry_bug(p->op, "param read as another type", slot);
    return v;
}

static const char *param_name(const up_plan *p, int slot) { return p->op->params[slot].name; }

static int count_ok(const up_param_value *v, int nsp)
{
    return v->n == 1 || v->n == nsp;
}

int up_param_spatial(const up_plan *p, int slot, int64_t def, int64_t min,
                     int64_t out[UP_MAX_SPATIAL], up_error *err)
{
    char field[64];
    const up_param_value *v = typed(p, slot, UP_P_SPATIAL_INT, UP_P_SPATIAL_INT);
    const char *name = param_name(p, slot);
    int nsp = p->g.nsp;
    up_field(field, sizeof(field), "params", name);
    if (!v->set) {
        if (def < 0) return up_errorf(err, UP_E_INVALID, field, "%s is required", name);
        for (int d = 0; d < nsp; d++) out[d] = def;
        return 0;
    }
    if (!count_ok(v, nsp))
        return up_errorf(err, UP_E_INVALID, field,
                         "expected 1 or %d values for a %dd input, got %d", nsp, nsp, v->n);
    for (int d = 0; d < nsp; d++) {
        out[d] = v->i[v->n == 1 ? 0 : d];
        if (out[d] < min)
            return up_errorf(err, UP_E_INVALID, field, "every value must be >= %lld, got %lld",
                             (long long)min, (long long)out[d]);
        /* PyTorch's own limit for these (geometry.h); it also keeps every
         * product of two of them, and of one with a size, far from int64's */
        if (out[d] > UP_GEOM_MAX_PARAM)
            return up_errorf(err, UP_E_INVALID, field, "every value must be <= %lld, got %lld",
                             (long long)UP_GEOM_MAX_PARAM, (long long)out[d]);
    }
    return 0;
}

int up_param_spatial_f(const up_plan *p, int slot, double out[UP_MAX_SPATIAL], up_error *err)
{
    char field[64];
    const up_param_value *v = typed(p, slot, UP_P_SPATIAL_FLOAT, UP_P_SPATIAL_FLOAT);
    const char *name = param_name(p, slot);
    int nsp = p->g.nsp;
    up_field(field, sizeof(field), "params", name);
    if (!v->set) return 0;
    if (!count_ok(v, nsp))
        return up_errorf(err, UP_E_INVALID, field,
                         "expected 1 or %d values for a %dd input, got %d", nsp, nsp, v->n);
    for (int d = 0; d < nsp; d++) {
        out[d] = v->f[v->n == 1 ? 0 : d];
        if (!isfinite(out[d]) || out[d] <= 0)
            return up_errorf(err, UP_E_INVALID, field,
                             "every value must be a finite number > 0, got %g", out[d]);
    }
    return 1;
}

int up_param_output_size(const up_plan *p, int slot, int64_t N, int64_t C,
                         int64_t out[UP_MAX_SPATIAL], up_error *err)
{
    char field[64];
    const up_param_value *v = typed(p, slot, UP_P_SIZE, UP_P_SIZE);
    const char *name = param_name(p, slot);
    int nsp = p->g.nsp, off = 0;
    up_field(field, sizeof(field), "params", name);
    if (!v->set) return 0;
    if (v->n == nsp + 2) {
        if (v->i[0] != N || v->i[1] != C)
            return up_errorf(err, UP_E_INVALID, field,
                             "a full shape must start with (N, C) = (%lld, %lld), got (%lld, %lld)",
                             (long long)N, (long long)C, (long long)v->i[0], (long long)v->i[1]);
        off = 2;
    } else if (!count_ok(v, nsp)) {
        return up_errorf(err, UP_E_INVALID, field,
                         "expected 1 or %d spatial sizes, or the full shape of %d, got %d values",
                         nsp, nsp + 2, v->n);
    }
    for (int d = 0; d < nsp; d++) {
        out[d] = v->i[v->n == 1 ? 0 : off + d];
        if (out[d] < 1)
            return up_errorf(err, UP_E_INVALID, field, "every size must be >= 1, got %lld",
                             (long long)out[d]);
    }
    return 1;
}

int up_param_enum(const up_plan *p, int slot)
{
    const up_param_value *v = typed(p, slot, UP_P_ENUM, UP_P_ENUM);
    return v->set ? v->choice : 0;
}

int64_t up_param_int(const up_plan *p, int slot, int64_t def)
{
    const up_param_value *v = typed(p, slot, UP_P_INT, UP_P_BOOL);
    return v->set ? v->i[0] : def;
}

/* The resize ops (nearest_unpool, fractional_max_unpool's interpolation):
 * exactly one of scale_factor and output_size. Output size from a scale
 * factor is floor(in * scale_factor) in double, as PyTorch computes it. */
int up_param_resize(up_plan *p, int scale_factor, int output_size, up_error *err)
{
    up_geom *g = &p->g;
    double sf[UP_MAX_SPATIAL];
    int has_sf = up_param_spatial_f(p, scale_factor, sf, err);
    int has_os = has_sf < 0 ? -1 : up_param_output_size(p, output_size, g->N, g->C, g->out, err);
    if (has_sf < 0 || has_os < 0) return -1;
    if (has_sf == has_os) {
        const char *m = has_sf ? "give scale_factor or output_size, not both"
                               : "one of scale_factor or output_size is required";
        up_errorf(err, UP_E_INVALID, "params.scale_factor", "%s", m);
        return up_errorf(err, UP_E_INVALID, "params.output_size", "%s", m);
    }
    for (int d = 0; d < g->nsp; d++) {
        if (has_os) {
            g->scale[d] = (double)g->in[d] / (double)g->out[d];
            continue;
        }
        /* PyTorch: floor(in * scale_factor) in double. */
        double o = floor((double)g->in[d] * sf[d]);
        if (o >= 0x1p50)
            return up_errorf(err, UP_E_TOO_LARGE, "params.scale_factor",
                             "scale_factor %g makes spatial dim %d too large", sf[d], d);
        if (o < 1)
            return up_errorf(err, UP_E_INVALID, "params.scale_factor",
                             "scale_factor %g makes spatial dim %d empty: floor(%lld * %g) = 0",
                             sf[d], d, (long long)g->in[d], sf[d]);
        g->out[d] = (int64_t)o;
        g->scale[d] = 1.0 / sf[d];
    }
    return 0;
}

int up_plan_set_output(up_plan *p, int i, up_dtype dt, int64_t N, int64_t C,
                       const int64_t *spatial, up_error *err)
{
    int64_t shape[UP_MAX_RANK], n;
    int rank = 2 + p->g.nsp;
    char field[64];
    up_field(field, sizeof(field), "outputs", p->op->outputs[i].name);
    shape[0] = N;
    shape[1] = C;
    for (int d = 0; d < p->g.nsp; d++) shape[2 + d] = spatial[d];
    if (up_geom_numel(shape, rank, &n) < 0) {
        char sh[160];
        up_shape_format(sh, sizeof(sh), shape, rank);
        return up_errorf(err, UP_E_TOO_LARGE, field,
                         "output shape %s is too large: the product of its nonzero sizes must "
                         "be at most 2^50", sh);
    }
    if (p->max_elements > 0 && n > p->max_elements)
        return up_errorf(err, UP_E_TOO_LARGE, field,
                         "output would have %lld elements, over the limit of %lld",
                         (long long)n, (long long)p->max_elements);
    p->out[i].dtype = dt;
    p->out[i].rank = rank;
    for (int d = 0; d < rank; d++) p->out[i].shape[d] = shape[d];
    return 0;
}

int up_param_window(up_plan *p, int kernel_slot, int stride_slot, int pad_slot, up_error *err)
{
    up_geom *g = &p->g;
    if (up_param_spatial(p, kernel_slot, -1, 1, g->kernel, err) < 0) return -1;
    if (up_plan_param_set(p, stride_slot)) {
        if (up_param_spatial(p, stride_slot, -1, 1, g->stride, err) < 0) return -1;
    } else {
        for (int i = 0; i < g->nsp; i++) g->stride[i] = g->kernel[i];
    }
    return up_param_spatial(p, pad_slot, 0, 0, g->pad, err);
}

int up_param_pads(up_plan *p, int pads_slot, int padding_slot, up_error *err)
{
    up_geom *g = &p->g;
    const up_param_value *v = typed(p, pads_slot, UP_P_PADS, UP_P_PADS);
    int nsp = g->nsp;
    if (!v->set) {
        for (int d = 0; d < nsp; d++) g->pad_end[d] = g->pad[d];
        return 0;
    }
    if (padding_slot >= 0 && up_plan_param_set(p, padding_slot)) {
        const char *m = "give padding (PyTorch, both sides) or pads (ONNX), not both";
        up_errorf(err, UP_E_INVALID, "params.padding", "%s", m);
        return up_errorf(err, UP_E_INVALID, "params.pads", "%s", m);
    }
    if (v->n != 2 * nsp)
        return up_errorf(err, UP_E_INVALID, "params.pads",
                         "expected %d values (every begin, then every end) for a %dd input, "
                         "got %d", 2 * nsp, nsp, v->n);
    for (int k = 0; k < 2 * nsp; k++)
        if (v->i[k] < 0 || v->i[k] > UP_GEOM_MAX_PARAM)
            return up_errorf(err, UP_E_INVALID, "params.pads",
                             "every value must lie in [0, %lld], got %lld",
                             (long long)UP_GEOM_MAX_PARAM, (long long)v->i[k]);
    for (int d = 0; d < nsp; d++) {
        g->pad[d] = v->i[d];
        g->pad_end[d] = v->i[nsp + d];
    }
    return 1;
}

void up_pad_split(int64_t total, int extra_at_start, int64_t *begin, int64_t *end)
{
    int64_t half = total / 2;
    *begin = extra_at_start ? total - half : half;
    *end = total - *begin;
}
