/* plan.c -- one op invocation from raw inputs to client-ready outputs.
 *
 * The trade-off taken: kernels are written for one canonical form only
 * (channels-first, float32/float64, int64 indices, 0/1 uint8 masks), and
 * this file converts at the edges. That costs a copy when a client sends
 * channels-last or half-precision data, and saves writing (and testing)
 * every kernel for every layout and storage dtype. See op.h for the life of
 * a plan, and for why prepare is split in two halves: everything that can
 * refuse a request (shapes, params, geometry, the --max-work estimate) runs
 * before the first byte is allocated, and every allocation after that is
 * charged to the request's memory accountant first. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "geometry.h"
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
    if (from->elem >= 0) up_fault_note(into, from->elem, from->value, from->input);
}

int up_plan_charge(up_plan *p, int64_t bytes, const char *what, up_error *err)
{
    if (!p->charge.take || bytes <= 0) return 0;
    return p->charge.take(p->charge.ctx, bytes, what, err);
}

void *up_plan_scratch_alloc(up_plan *p, int64_t bytes, const char *what, up_error *err)
{
    void *s;
    if (bytes < 1) { /* builds skip empty plans; nothing to charge or allocate */
        up_errorf(err, UP_E_INTERNAL, "", "empty scratch requested for %s", what);
        return NULL;
    }
    if (up_plan_charge(p, bytes, what, err) < 0) return NULL;
    if (!(s = malloc((size_t)bytes))) {
        up_errorf(err, UP_E_OVERLOADED, "", "out of memory for %s", what);
        return NULL;
    }
    if (p->scratch && p->scratch_free) p->scratch_free(p->scratch); /* one per plan */
    p->scratch = s;
    p->scratch_free = free;
    return s;
}

/* Charge what up_tensor_alloc() will take for (dt, rank, shape); `what`
 * is the input's or output's name, for the hook's messages. */
static int charge_tensor(up_plan *p, up_dtype dt, int rank, const int64_t *shape,
                         const char *what, up_error *err)
{
    int64_t bytes = up_tensor_alloc_size(dt, rank, shape);
    if (bytes < 0) return up_errorf(err, UP_E_TOO_LARGE, "", "%s is too large", what);
    return up_plan_charge(p, bytes, what, err);
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

/* May a values tensor (x, y-like inputs) have dtype dt? The float types
 * always; int8 and uint8 for the ops flagged UP_OPF_INT_IMAGES (op.h). */
static int value_dtype_ok(const up_plan *p, up_dtype dt)
{
    if (up_dtype_is_float(dt)) return 1;
    return (p->op->flags & UP_OPF_INT_IMAGES) && (dt == UP_I8 || dt == UP_U8);
}

static const char *value_dtypes_text(const up_plan *p)
{
    return (p->op->flags & UP_OPF_INT_IMAGES)
               ? "float32, float64, float16, bfloat16, int8 or uint8"
               : "float32, float64, float16 or bfloat16";
}

/* The kernel's dtype for x of dtype `storage`: float64 stays, the rest
 * computes in float32 (exact for half types and 8-bit integers), except
 * that an op that only moves elements, or has integer kernels of its own,
 * runs on the dtype as sent. */
static up_dtype compute_dtype(const up_plan *p, up_dtype storage)
{
    if (p->op->flags & UP_OPF_MOVES_BYTES) return storage;
    if ((p->op->flags & UP_OPF_INT_NATIVE) && (storage == UP_U8 || storage == UP_I8))
        return storage;
    return storage == UP_F64 ? UP_F64 : UP_F32;
}

/* Is raw[i] permuted from channels-last? (Inputs in the layout of x.) */
static int input_permutes(const up_plan *p, int i, int xrank)
{
    return p->layout == UP_LAYOUT_CHANNELS_LAST && is_spatial_kind(p->op->inputs[i].kind) &&
           p->raw[i].rank == xrank;
}

/* How raw[i] becomes in[i]: the kernel's dtype (*want) and whether it is
 * permuted from channels-last (*permute). Checks the dtype. */
static int input_form(const up_plan *p, int i, int xrank, up_dtype *want, int *permute,
                      up_error *err)
{
    const up_io_def *def = &p->op->inputs[i];
    const up_tensor *raw = &p->raw[i];
    char field[64];
    switch (def->kind) {
    case UP_IO_INDICES:
        if (!up_dtype_is_index(raw->dtype))
            return up_errorf(err, UP_E_INVALID, up_field(field, sizeof(field), "inputs", def->name),
                             "indices must be int64 or int32, got %s", up_dtype_name(raw->dtype));
        *want = UP_I64;
        break;
    case UP_IO_MASK:
        *want = UP_U8;
        break;
    case UP_IO_VALUES:
        if (!value_dtype_ok(p, raw->dtype))
            return up_errorf(err, UP_E_INVALID, up_field(field, sizeof(field), "inputs", def->name),
                             "must be %s, got %s", value_dtypes_text(p), up_dtype_name(raw->dtype));
        *want = p->compute;
        break;
    default:
        if (!up_dtype_is_float(raw->dtype))
            return up_errorf(err, UP_E_INVALID, up_field(field, sizeof(field), "inputs", def->name),
                             "must be float32, float64, float16 or bfloat16, got %s",
                             up_dtype_name(raw->dtype));
        *want = p->compute;
        break;
    }
    *permute = input_permutes(p, i, xrank);
    return 0;
}

/* raw's shape in channels-first order, (N, *S, C) -> (N, C, *S). */
static void channels_first_shape(const up_tensor *raw, int permute, int64_t *shape)
{
    int r = raw->rank;
    for (int d = 0; d < r; d++) shape[d] = raw->shape[d];
    if (!permute) return;
    shape[1] = raw->shape[r - 1];
    for (int d = 1; d < r - 1; d++) shape[d + 1] = raw->shape[d];
}

static int needs_copy(const up_plan *p, int i, up_dtype want, int permute)
{
    return permute || p->op->inputs[i].kind == UP_IO_MASK || p->raw[i].dtype != want;
}

/* First half of prepare: in[i] describes the canonical input (dtype, rank,
 * channels-first shape) and borrows raw[i]'s data when no conversion is
 * needed; otherwise its data stays NULL until convert_input(). */
static int describe_inputs(up_plan *p, int xrank, up_error *err)
{
    for (int i = 0; i < p->op->n_inputs; i++) {
        const up_tensor *raw = &p->raw[i];
        int64_t shape[UP_MAX_RANK];
        up_dtype want;
        int permute;
        if (!raw->data) continue;
        if (input_form(p, i, xrank, &want, &permute, err) < 0) return -1;
        channels_first_shape(raw, permute, shape);
        up_tensor_view(&p->in[i], want, raw->rank, shape,
                       needs_copy(p, i, want, permute) ? NULL : raw->data);
    }
    return 0;
}

/* Bytes and elements converting raw[i] will allocate and touch: the
 * channels-first copy, then the mask or dtype conversion. */
static void input_cost(const up_plan *p, int i, int xrank, int64_t *bytes, int64_t *elems)
{
    const up_tensor *raw = &p->raw[i], *in = &p->in[i];
    up_dtype want = in->dtype;
    int permute = input_permutes(p, i, xrank);
    int64_t n = up_tensor_numel(raw), b = 0;
    if (permute) b = up_sat_add(b, up_tensor_alloc_size(raw->dtype, in->rank, in->shape));
    if (p->op->inputs[i].kind == UP_IO_MASK || raw->dtype != want)
        b = up_sat_add(b, up_tensor_alloc_size(want, in->rank, in->shape));
    *bytes = b;
    *elems = needs_copy(p, i, want, permute) ? n : 0;
}

/* Second half: raw[i] -> in[i], permuted to channels-first, then to the
 * kernel's dtype; every buffer charged before it is allocated. The first
 * step reads raw[i] straight into in[i], a tensor the plan owns: raw[i]
 * may be a client's shared-memory region, and the server's guard against
 * a region that shrinks under it (server/shm_guard.c) may jump out of the
 * middle of that read; whatever was allocated by then is the plan's and
 * freed with it. A second step (permute, then convert) reads our own
 * copy. */
static int convert_input(up_plan *p, int i, int xrank, up_error *err)
{
    const up_io_def *def = &p->op->inputs[i];
    up_tensor *raw = &p->raw[i], tmp = {0};
    up_dtype want;
    int permute, convert;
    char field[64];
    if (input_form(p, i, xrank, &want, &permute, err) < 0) return -1;
    if (!needs_copy(p, i, want, permute)) return 0; /* in[i] already borrows raw */
    convert = def->kind == UP_IO_MASK || raw->dtype != want;
    if (permute) {
        if (charge_tensor(p, raw->dtype, p->in[i].rank, p->in[i].shape, def->name, err) < 0)
            return -1;
        if (up_to_channels_first(raw, &p->in[i]) < 0) goto oom;
        if (!convert) return 0; /* the permuted copy is the input */
        raw = &p->in[i];
    }
    if (charge_tensor(p, want, raw->rank, raw->shape, def->name, err) < 0) return -1;
    if (def->kind == UP_IO_MASK ? mask_to_u8(raw, &tmp) < 0 : up_convert(raw, want, &tmp) < 0)
        goto oom;
    up_tensor_free(&p->in[i]); /* the permuted copy, if any */
    p->in[i] = tmp;
    return 0;
oom:
    up_tensor_free(&tmp);
    return up_errorf(err, UP_E_OVERLOADED, up_field(field, sizeof(field), "inputs", def->name),
                     "out of memory converting the input");
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

/* Every input's shape through geometry.h: sizes >= 0 and a product of
 * nonzero sizes that every later sub-product fits in. An empty tensor
 * with huge sizes stops here. */
static int check_shapes(up_plan *p, up_error *err)
{
    for (int i = 0; i < p->op->n_inputs; i++) {
        const up_tensor *t = &p->raw[i];
        char field[64], sh[160];
        int64_t n;
        int negative = 0;
        if (!t->data || up_geom_numel(t->shape, t->rank, &n) == 0) continue;
        up_field(field, sizeof(field), "inputs", p->op->inputs[i].name);
        up_shape_format(sh, sizeof(sh), t->shape, t->rank);
        for (int d = 0; d < t->rank; d++) negative |= t->shape[d] < 0;
        if (negative)
            return up_errorf(err, UP_E_INVALID, field, "shape %s has a negative size", sh);
        return up_errorf(err, UP_E_TOO_LARGE, field,
                         "shape %s is too large: the product of its nonzero sizes must be at "
                         "most 2^50", sh);
    }
    return 0;
}

static int check_x(up_plan *p, up_error *err)
{
    const up_tensor *x = &p->raw[UP_IN_X];
    int nsp = x->rank - 2;
    if (p->op->flags & UP_OPF_ANY_RANK) {
        if (x->rank < 1 || x->rank > UP_MAX_RANK)
            return up_errorf(err, UP_E_INVALID, "inputs.x", "%s takes rank 1 to %d, got rank %d",
                             p->op->name, UP_MAX_RANK, x->rank);
    } else if (x->rank < 3 || x->rank > 5 || nsp < p->op->min_spatial || nsp > p->op->max_spatial) {
        if (p->op->min_spatial == p->op->max_spatial)
            return up_errorf(err, UP_E_INVALID, "inputs.x", "%s takes rank %d (N, C, %d spatial), got rank %d",
                             p->op->name, 2 + p->op->min_spatial, p->op->min_spatial, x->rank);
        return up_errorf(err, UP_E_INVALID, "inputs.x",
                         "%s takes rank %d to %d (N, C and %d to %d spatial dims), got rank %d",
                         p->op->name, 2 + p->op->min_spatial, 2 + p->op->max_spatial,
                         p->op->min_spatial, p->op->max_spatial, x->rank);
    }
    if (!value_dtype_ok(p, x->dtype))
        return up_errorf(err, UP_E_INVALID, "inputs.x", "x must be %s, got %s",
                         value_dtypes_text(p), up_dtype_name(x->dtype));
    return 0;
}

/* Does output i go back to the client converted: to the storage dtype
 * (values only), and/or to channels-last? */
static int result_converts_dtype(const up_plan *p, int i)
{
    return p->op->outputs[i].kind == UP_IO_VALUES && p->storage != p->compute;
}

static int result_permutes(const up_plan *p, int i)
{
    return p->layout == UP_LAYOUT_CHANNELS_LAST && p->out[i].rank >= 3;
}

/* Is out[i] the caller's memory itself (op.h, out_dest)? */
static int result_direct(const up_plan *p, int i)
{
    return p->out_dest[i] && !result_converts_dtype(p, i) && !result_permutes(p, i);
}

/* Caller-provided output memory must be exactly the result's size, known
 * only now that op->prepare has set the output shapes, and aligned for its
 * dtype (kernels store whole elements). */
static int check_out_dest(const up_plan *p, up_error *err)
{
    for (int i = 0; i < p->op->n_outputs; i++) {
        const up_tensor *o = &p->out[i];
        up_dtype dt = result_converts_dtype(p, i) ? p->storage : o->dtype;
        int64_t numel, bytes;
        char field[64], sh[160];
        if (!p->out_dest[i]) continue;
        up_field(field, sizeof(field), "outputs", p->op->outputs[i].name);
        if (up_shape_numel(o->shape, o->rank, &numel) < 0 ||
            up_mul_i64(numel, (int64_t)up_dtype_size(dt), &bytes) < 0)
            return up_errorf(err, UP_E_TOO_LARGE, field, "the output is too large");
        if ((uintptr_t)p->out_dest[i] % up_dtype_size(dt))
            return up_errorf(err, UP_E_INVALID, field, "the output's memory is not aligned for "
                             "%s (%zu bytes)", up_dtype_name(dt), up_dtype_size(dt));
        if (bytes != p->out_dest_bytes[i]) {
            up_shape_format(sh, sizeof(sh), o->shape, o->rank);
            return up_errorf(err, UP_E_INVALID, field,
                             "the output's memory holds %lld bytes; %s %s needs %lld",
                             (long long)p->out_dest_bytes[i], up_dtype_name(dt), sh,
                             (long long)bytes);
        }
    }
    return 0;
}

/* The plan's share of the cost model, added to what op->prepare stated
 * for its kernel and its build step: input conversions, outputs, result
 * conversions (bytes as up_tensor_alloc takes them, elements touched). */
static void plan_cost(up_plan *p, int xrank)
{
    int64_t mem = p->mem_bytes, work = p->work;
    for (int i = 0; i < p->op->n_inputs; i++) {
        int64_t b, e;
        if (!p->raw[i].data) continue;
        input_cost(p, i, xrank, &b, &e);
        mem = up_sat_add(mem, b);
        work = up_sat_add(work, e);
    }
    for (int i = 0; i < p->op->n_outputs; i++) {
        const up_tensor *o = &p->out[i];
        int64_t n = up_tensor_numel(o);
        if (!result_direct(p, i)) /* else the client's memory: not ours to count */
            mem = up_sat_add(mem, up_tensor_alloc_size(o->dtype, o->rank, o->shape));
        if (result_converts_dtype(p, i)) {
            mem = up_sat_add(mem, up_tensor_alloc_size(p->storage, o->rank, o->shape));
            work = up_sat_add(work, n);
        }
        if (result_permutes(p, i)) {
            up_dtype dt = result_converts_dtype(p, i) ? p->storage : o->dtype;
            mem = up_sat_add(mem, up_tensor_alloc_size(dt, o->rank, o->shape));
            work = up_sat_add(work, n);
        }
    }
    p->mem_bytes = mem;
    p->work = work;
}

int up_plan_prepare(up_plan *p, up_error *err)
{
    int xrank, il;
    /* 1. validate, geometry, cost: nothing allocated */
    if (check_inputs_present(p, err) < 0 || check_x(p, err) < 0 || check_shapes(p, err) < 0)
        return -1;
    xrank = p->raw[UP_IN_X].rank;
    p->storage = p->raw[UP_IN_X].dtype;
    p->compute = compute_dtype(p, p->storage);
    /* the shared params, by name: up_registry_check() made sure every op
     * has layout and that both are the shared enums */
    p->layout = up_param_enum(p, up_op_param_index(p->op, "layout"));
    if (describe_inputs(p, xrank, err) < 0) return -1;
    p->g.nsp = xrank >= 2 ? xrank - 2 : 0; /* UP_OPF_ANY_RANK ops read in[x]'s shape */
    p->g.N = p->in[UP_IN_X].shape[0];
    p->g.C = xrank >= 2 ? p->in[UP_IN_X].shape[1] : 1;
    for (int d = 0; d < p->g.nsp; d++) p->g.in[d] = p->in[UP_IN_X].shape[2 + d];
    il = up_op_param_index(p->op, "index_layout");
    p->g.index_layout = il >= 0 ? up_param_enum(p, il) : UP_IDX_PLANE;
    p->work = p->mem_bytes = 0;
    if (p->op->prepare(p, err) < 0) return -1;
    for (int i = 0; i < p->op->n_outputs; i++)
        if (p->out[i].rank == 0)
            return up_errorf(err, UP_E_INTERNAL, "", "op %s set no shape for output %s",
                             p->op->name, p->op->outputs[i].name);
    if (check_out_dest(p, err) < 0) return -1;
    plan_cost(p, xrank);
    /* 2. admission */
    if (p->max_work > 0 && p->work > p->max_work)
        return up_errorf(err, UP_E_TOO_LARGE, "params",
                         "about %lld element operations, over --max-work %lld",
                         (long long)p->work, (long long)p->max_work);
    if (p->charge.admit && p->charge.admit(p->charge.ctx, p, err) < 0) return -1;
    /* 3. charge, then allocate */
    for (int i = 0; i < p->op->n_inputs; i++)
        if (p->raw[i].data && convert_input(p, i, xrank, err) < 0) return -1;
    if (p->op->build && p->op->build(p, err) < 0) return -1;
    for (int i = 0; i < p->op->n_outputs; i++) {
        up_tensor *o = &p->out[i];
        if (result_direct(p, i)) { /* the kernel writes into the client's memory */
            up_tensor_view(o, o->dtype, o->rank, o->shape, p->out_dest[i]);
            continue;
        }
        if (charge_tensor(p, o->dtype, o->rank, o->shape, p->op->outputs[i].name, err) < 0)
            return -1;
        if (up_tensor_alloc(o, o->dtype, o->rank, o->shape) < 0)
            return up_errorf(err, UP_E_OVERLOADED, "", "out of memory for output %s",
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
    const up_tensor *target = &p->out[UP_OUT_Y];
    for (int d = 2; d < target->rank; d++) plane *= target->shape[d];
    format_coords(p, &p->in[f->input], f->elem, where, sizeof(where));
    up_field(field, sizeof(field), "inputs", name);
    return up_errorf(err, UP_E_INVALID, field,
                     "element %s of %s has value %lld, which is not a position in its own "
                     "(n, c) plane of the output (%lld positions, index_layout %s)",
                     where, name, (long long)f->value, (long long)plane,
                     layouts[p->g.index_layout & 3]);
}

/* out[i] -> result[i]: to the storage dtype, then to channels-last, each
 * copy charged first (the charges prepare counted in mem_bytes). */
static int finish_output(up_plan *p, int i, up_error *err)
{
    up_tensor *o = &p->out[i], tmp = {0}, *cur = o;
    const char *what = p->op->outputs[i].name;
    if (result_converts_dtype(p, i)) {
        if (charge_tensor(p, p->storage, o->rank, o->shape, what, err) < 0) return -1;
        if (up_convert(o, p->storage, &tmp) < 0) goto oom;
        cur = &tmp;
    }
    if (result_permutes(p, i)) {
        if (charge_tensor(p, cur->dtype, cur->rank, cur->shape, what, err) < 0) goto fail;
        if (up_to_channels_last(cur, &p->result[i]) < 0) goto oom;
        up_tensor_free(&tmp);
        return 0;
    }
    if (cur == &tmp)
        p->result[i] = tmp;
    else
        up_tensor_view(&p->result[i], o->dtype, o->rank, o->shape, o->data);
    return 0;
oom:
    up_errorf(err, UP_E_OVERLOADED, "", "out of memory converting outputs");
fail:
    up_tensor_free(&tmp);
    return -1;
}

/* A converted result goes to the caller's memory (op.h, out_dest): one
 * copy from result[i], which the plan owns until then, so a guard that
 * jumps out of the copy (a shrunk shared-memory region) leaks nothing. */
static void result_to_dest(up_plan *p, int i)
{
    up_tensor *r = &p->result[i];
    up_tensor v;
    if (!p->out_dest[i] || r->data == p->out_dest[i]) return;
    memcpy(p->out_dest[i], r->data, up_tensor_nbytes(r));
    up_tensor_view(&v, r->dtype, r->rank, r->shape, p->out_dest[i]);
    up_tensor_free(r);
    *r = v;
}

int up_plan_finish(up_plan *p, const up_fault *fault, up_error *err)
{
    if (fault && fault->elem >= 0) return fault_error(p, fault, err);
    for (int i = 0; i < p->op->n_outputs; i++) {
        if (finish_output(p, i, err) < 0) return -1;
        result_to_dest(p, i);
    }
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

int64_t up_plan_output_bytes(const up_plan *p)
{
    int64_t n = 0;
    for (int i = 0; i < p->op->n_outputs; i++) {
        if (p->out[i].data != p->out_dest[i] &&
            up_add_i64(n, (int64_t)up_tensor_nbytes(&p->out[i]), &n) < 0)
            return INT64_MAX;
        if (p->result[i].data && p->result[i].data != p->out[i].data &&
            up_add_i64(n, (int64_t)up_tensor_nbytes(&p->result[i]), &n) < 0)
            return INT64_MAX;
    }
    return n;
}
