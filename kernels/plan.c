/* plan.c -- one op invocation from raw inputs to client-ready outputs.
 *
 * The trade-off taken: kernels are written for one canonical form only
 * (channels-first, float32/float64, int64 indices, 0/1 uint8 masks), and
 * this file converts at the edges. That costs a copy when a client sends
 * channels-last or half-precision data, and saves writing (and testing)
 * every kernel for every layout and storage dtype. See op.h for the life of
 * a plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "op.h"

void up_plan_init(up_plan *p, const up_op_def *op)
{
    memset(p, 0, sizeof(*p));
    p->op = op;
}

void up_fault_init(up_fault *f)
{
    f->elem = -1;
    f->value = 0;
    f->input = 0;
}

void up_fault_merge(up_fault *into, const up_fault *from)
{
    if (from->elem < 0) return;
    if (into->elem < 0 || from->elem < into->elem) *into = *from;
}

int up_plan_charge(up_plan *p, int64_t bytes, const char *what, up_error *err)
{
    if (!p->charge.take || bytes <= 0) return 0;
    return p->charge.take(p->charge.ctx, bytes, what, err);
}

static int is_spatial_kind(up_io_kind k)
{
    return k == UP_IO_VALUES || k == UP_IO_INDICES || k == UP_IO_MASK;
}

/* Any numeric dtype -> uint8 0/1 ("any nonzero counts", NaN included). */
static int mask_to_u8(const up_tensor *src, up_tensor *dst)
{
    int64_t n = up_tensor_numel(src);
    size_t es = up_dtype_size(src->dtype);
    static const unsigned char zero[8];
    if (up_tensor_alloc(dst, UP_U8, src->rank, src->shape) < 0) return -1;
    uint8_t *d = dst->data;
    const unsigned char *s = src->data;
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *e = s + (size_t)i * es;
        /* -0.0 is zero too: compare the value, not the bytes, for floats */
        if (up_dtype_is_float(src->dtype))
            d[i] = up_load_f64(src, i) != 0.0;
        else
            d[i] = memcmp(e, zero, es) != 0;
    }
    return 0;
}

/* raw[i] -> in[i]: permute to channels-first, then to the kernel's dtype. */
static int canonicalise_input(up_plan *p, int i, int xrank, up_error *err)
{
    const up_io_def *def = &p->op->inputs[i];
    up_tensor *raw = &p->raw[i], tmp = {0}, *cur = raw;
    up_dtype want;
    char field[64];
    up_field(field, sizeof(field), "inputs", def->name);

    switch (def->kind) {
    case UP_IO_INDICES:
        if (!up_dtype_is_index(raw->dtype))
            return up_errorf(err, UP_E_INVALID, field, "indices must be int64 or int32, got %s",
                             up_dtype_name(raw->dtype));
        want = UP_I64;
        break;
    case UP_IO_MASK:
        want = UP_U8;
        break;
    default:
        if (!up_dtype_is_float(raw->dtype))
            return up_errorf(err, UP_E_INVALID, field,
                             "must be float32, float64, float16 or bfloat16, got %s",
                             up_dtype_name(raw->dtype));
        want = p->compute;
        break;
    }
    if (p->layout == UP_LAYOUT_CHANNELS_LAST && is_spatial_kind(def->kind) && raw->rank == xrank) {
        if (up_to_channels_first(raw, &tmp) < 0) goto oom;
        cur = &tmp;
    }
    if (def->kind == UP_IO_MASK) {
        if (mask_to_u8(cur, &p->in[i]) < 0) goto oom;
        up_tensor_free(&tmp);
    } else if (cur->dtype == want) {
        if (cur == &tmp)
            p->in[i] = tmp; /* take ownership */
        else
            up_tensor_view(&p->in[i], cur->dtype, cur->rank, cur->shape, cur->data);
    } else {
        if (up_convert(cur, want, &p->in[i]) < 0) goto oom;
        up_tensor_free(&tmp);
    }
    return 0;
oom:
    up_tensor_free(&tmp);
    return up_errorf(err, UP_E_INTERNAL, field, "out of memory converting the input");
}

static int check_inputs_present(up_plan *p, up_error *err)
{
    for (int i = 0; i < p->op->n_inputs; i++) {
        if (p->op->inputs[i].required && !p->raw[i].data) {
            char field[64];
            up_field(field, sizeof(field), "inputs", p->op->inputs[i].name);
            up_errorf(err, UP_E_INVALID, field, "required input %s is missing",
                      p->op->inputs[i].name);
        }
    }
    return err->n ? -1 : 0;
}

static int check_x(up_plan *p, up_error *err)
{
    const up_tensor *x = &p->raw[0];
    int nsp = x->rank - 2;
    if (x->rank < 3 || x->rank > 5 || nsp < p->op->min_spatial || nsp > p->op->max_spatial) {
        if (p->op->min_spatial == p->op->max_spatial)
            return up_errorf(err, UP_E_INVALID, "inputs.x", "%s takes rank %d (N, C, %d spatial), got rank %d",
                             p->op->name, 2 + p->op->min_spatial, p->op->min_spatial, x->rank);
        return up_errorf(err, UP_E_INVALID, "inputs.x",
                         "%s takes rank %d to %d (N, C and %d to %d spatial dims), got rank %d",
                         p->op->name, 2 + p->op->min_spatial, 2 + p->op->max_spatial,
                         p->op->min_spatial, p->op->max_spatial, x->rank);
    }
    if (!up_dtype_is_float(x->dtype))
        return up_errorf(err, UP_E_INVALID, "inputs.x",
                         "x must be float32, float64, float16 or bfloat16, got %s",
                         up_dtype_name(x->dtype));
    return 0;
}

int up_plan_prepare(up_plan *p, up_error *err)
{
    int xrank;
    if (check_inputs_present(p, err) < 0 || check_x(p, err) < 0) return -1;
    xrank = p->raw[0].rank;
    p->storage = p->raw[0].dtype;
    p->compute = p->storage == UP_F64 ? UP_F64 : UP_F32;
    p->layout = up_param_enum(p, "layout");
    for (int i = 0; i < p->op->n_inputs; i++) {
        if (!p->raw[i].data) continue;
        if (canonicalise_input(p, i, xrank, err) < 0) return -1;
    }
    p->g.nsp = xrank - 2;
    p->g.N = p->in[0].shape[0];
    p->g.C = p->in[0].shape[1];
    for (int d = 0; d < p->g.nsp; d++) p->g.in[d] = p->in[0].shape[2 + d];
    p->g.index_layout = up_op_param_index(p->op, "index_layout") >= 0
                            ? up_param_enum(p, "index_layout") : UP_IDX_PLANE;
    if (p->op->prepare(p, err) < 0) return -1;
    for (int i = 0; i < p->op->n_outputs; i++) {
        up_tensor *o = &p->out[i];
        if (o->rank == 0 || up_tensor_alloc(o, o->dtype, o->rank, o->shape) < 0)
            return up_errorf(err, UP_E_INTERNAL, "", "out of memory for output %s",
                             p->op->outputs[i].name);
    }
    return 0;
}

void up_plan_run(const up_plan *p, int64_t begin, int64_t end, up_fault *fault)
{
    up_kernel_fn k = p->compute == UP_F64 ? p->op->kernel_f64 : p->op->kernel_f32;
    if (begin < end) k(p, begin, end, fault);
}

/* "[n, c, h, w]" of flat position `elem` of a canonical tensor, written in
 * the client's layout so the client can find the element it sent. */
static void format_coords(const up_plan *p, const up_tensor *t, int64_t elem, char *buf,
                          size_t cap)
{
    int64_t co[UP_MAX_RANK], shown[UP_MAX_RANK];
    int r = t->rank;
    for (int d = r - 1; d >= 0; d--) {
        co[d] = t->shape[d] ? elem % t->shape[d] : 0;
        elem = t->shape[d] ? elem / t->shape[d] : 0;
    }
    memcpy(shown, co, sizeof(co));
    if (p->layout == UP_LAYOUT_CHANNELS_LAST && r >= 3) {
        shown[r - 1] = co[1];
        for (int d = 2; d < r; d++) shown[d - 1] = co[d];
    }
    up_shape_format(buf, cap, shown, r);
}

static int fault_error(up_plan *p, const up_fault *f, up_error *err)
{
    static const char *const layouts[] = {"plane", "tensor", "hwc", "nhwc"};
    const char *name = p->op->inputs[f->input].name;
    char field[64], where[96];
    int64_t plane = 1;
    const up_tensor *target = &p->out[0];
    for (int d = 2; d < target->rank; d++) plane *= target->shape[d];
    format_coords(p, &p->in[f->input], f->elem, where, sizeof(where));
    up_field(field, sizeof(field), "inputs", name);
    return up_errorf(err, UP_E_INVALID, field,
                     "element %s of %s has value %lld, which is not a position in its own "
                     "(n, c) plane of the output (%lld positions, index_layout %s)",
                     where, name, (long long)f->value, (long long)plane,
                     layouts[p->g.index_layout & 3]);
}

static int finish_output(up_plan *p, int i)
{
    up_tensor *o = &p->out[i], tmp = {0}, *cur = o;
    int is_values = p->op->outputs[i].kind == UP_IO_VALUES;
    if (is_values && p->storage != p->compute) {
        if (up_convert(o, p->storage, &tmp) < 0) return -1;
        cur = &tmp;
    }
    if (p->layout == UP_LAYOUT_CHANNELS_LAST && o->rank >= 3) {
        if (up_to_channels_last(cur, &p->result[i]) < 0) {
            up_tensor_free(&tmp);
            return -1;
        }
        up_tensor_free(&tmp);
        return 0;
    }
    if (cur == &tmp)
        p->result[i] = tmp;
    else
        up_tensor_view(&p->result[i], o->dtype, o->rank, o->shape, o->data);
    return 0;
}

int up_plan_finish(up_plan *p, const up_fault *fault, up_error *err)
{
    if (fault && fault->elem >= 0) return fault_error(p, fault, err);
    for (int i = 0; i < p->op->n_outputs; i++)
        if (finish_output(p, i) < 0)
            return up_errorf(err, UP_E_INTERNAL, "", "out of memory converting outputs");
    return 0;
}

void up_plan_free(up_plan *p)
{
    for (int i = 0; i < UP_MAX_INPUTS; i++) {
        up_tensor_free(&p->in[i]);
        up_tensor_free(&p->raw[i]);
    }
    for (int i = 0; i < UP_MAX_OUTPUTS; i++) {
        up_tensor_free(&p->result[i]);
        up_tensor_free(&p->out[i]);
    }
    if (p->scratch && p->scratch_free) p->scratch_free(p->scratch);
    p->scratch = NULL;
}

int up_plan_execute(up_plan *p, up_error *err)
{
    up_fault f;
    up_fault_init(&f);
    if (up_plan_prepare(p, err) < 0) return -1;
    up_plan_run(p, 0, p->work_units, &f);
    return up_plan_finish(p, &f, err);
}
