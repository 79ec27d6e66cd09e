/* fuzz_ops.c -- the op layer itself: prepare, kernels, finish and encode,
 * on structured inputs rather than on wire bytes.
 *
 * The decoder targets reach the kernels only through a valid request, so
 * they rarely get past validation with extreme geometry. This target builds
 * the call directly: it draws an op, a dtype, a rank, shapes (small ones
 * with real data, or a zero dim next to huge dims such as 2^40 or
 * INT64_MAX) and params from a dictionary of extremes (0, +-1, 2^31, 2^53,
 * 2^62, INT64_MAX, INT64_MIN, NaN, +-Inf, 1e-300, 1e300) plus small values
 * and literal text. Params go through up_param_from_text, the parse every
 * wire format uses, and the limits through up_call_prepare, so what runs
 * here is what a client can reach.
 *
 * Checked on every input, beyond what ASan and UBSan catch:
 *   - no error is a 500 (DESIGN.md: a 500 is a bug);
 *   - an accepted plan's work estimate is within the daemon's --max-work;
 *   - memory: every plan charges an accountant capped at FZ_BUDGET bytes,
 *     and the bytes the call allocates (malloc hooks, peak live) never
 *     exceed what it charged, so the cost model keeps the process inside
 *     -rss_limit_mb; a plan that skips charging is found here;
 *   - output shapes agree with x (N, C or C_out, rank, layout, dtype);
 *   - fractional_max_pool's indices lie inside their plane and name the
 *     value returned;
 *   - the encoded answer is no longer than up_call_answer_bytes() said.
 * The kernel runs over every work unit in a random number of chunks, as
 * the worker pool splits them. tests/fuzz/run.sh runs it with -timeout=2:
 * no plan the cost model accepts may take longer.
 *
 * Triage: FUZZ_OPS_VERBOSE=1 prints what an input means (op, tensors,
 * params, outcome), FUZZ_OPS_TRACE_ALLOC=N the stack of every metered
 * allocation of N bytes or more.
 *
 * Input layout (bytes past the end read as 0; tests/fuzz/make_ops_seeds.py
 * writes seeds in it):
 *   op      index into the registry (mod up_op_count())
 *   flags   bits 0-1 x dtype (f32, f64, f16, bf16; see x_dtype for int8
 *           and uint8); bits 2-4 answer format;
 *           bits 5-7 chunks - 1
 *   rank    spatial dims = min + b % (max - min + 1); b >= 0xf8 draws any
 *           rank 1..5 instead (the rank check itself)
 *   seed    8 bytes, for tensor contents
 *   x dims  one byte per dim (see dim_of)
 *   params  per op param, in registry order: a mode byte (see set_param)
 *   inputs  per other input, in registry order: a byte (see draw_input)
 */
#include <math.h>
#include <sanitizer/allocator_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/codecs.h"
#include "fuzz_common.h"
#include "kernels/stream.h"
#include "server/config.h"

/* The daemon's defaults: --max-elements, 2 x that per request, --max-work
 * (server/config.c). */
#define FZ_MAX_ELEMENTS ((int64_t)67108864)
#define FZ_MAX_WORK UP_DEFAULT_MAX_WORK
/* The accountant's cap. Inputs hold at most FZ_MAX_NUMEL elements, so an
 * op's work beyond ~3e7 element operations can only come from the size of
 * its outputs, which this cap bounds: at 16 MiB, no output has more than
 * 4M float32 elements, and the slowest kernel (3d interpolation, ~100 ns
 * an element under ASan at -O1 against ~3 ns at -O2) finishes well inside
 * -timeout=2. A timeout therefore means work the cost model did not see,
 * and -rss_limit_mb 2048 is far above anything the budget allows. */
#define FZ_BUDGET ((int64_t)16 << 20)
/* Small allocations nobody needs to charge (error text, tiny tables). */
#define FZ_SLACK ((int64_t)64 << 10)
/* Real tensors stay small; only a zero-numel tensor keeps huge dims. */
#define FZ_MAX_NUMEL 4096

/* ---- the input ---------------------------------------------------------- */

typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

static unsigned fz_byte(fz_in *in)
{
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static uint64_t fz_u64(fz_in *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | fz_byte(in);
    return v;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Dims: b < 224 is itself; above, the huge ones. */
static const int64_t HUGE_DIMS[] = {
    (int64_t)1 << 31, ((int64_t)1 << 31) - 1, (int64_t)1 << 32, (int64_t)1 << 40,
    (int64_t)1 << 53, (int64_t)1 << 62, ((int64_t)1 << 62) + 1, INT64_MAX, INT64_MAX - 1,
    1000000000000000000, 3037000500, 65536, 12579921, 67108864, (int64_t)1 << 20, 1 << 24,
};
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int64_t dim_of(unsigned b)
{
    return b < 224 ? (int64_t)b : HUGE_DIMS[(b - 224) % N_OF(HUGE_DIMS)];
}

/* Param values as the wire spells them. */
static const char *const DICT[] = {
    "0", "1", "-1", "2", "3", "4", "-2", "5", "7", "8", "16", "100", "400",
    "2147483648", "-2147483648", "2147483647", "4294967296", "1099511627776",
    "9007199254740992", "9007199254740993", "2305843009213693952", "4611686018427387904",
    "8000000000000000000", "9100000000000000000", "9223372036854775807",
    "-9223372036854775808", "1000000000000000000", "2000000000000000000", "67108864",
    "12576890", "nan", "-nan", "inf", "-inf", "1e-300", "1e300", "-1e300", "0.5",
    "0.5000001192092896", "0.9999999", "1.0000001", "1.5", "2.5", "1e-7", "4.9e-324",
    "1.7976931348623157e308", "-0", "0.25", "3.0000000001",
};

/* ---- the memory accountant and the allocation meter --------------------- */

typedef struct fz_acct {
    int64_t charged;
    int64_t cap;
} fz_acct;

static int ops_take(void *ctx, int64_t bytes, const char *what, up_error *err)
{
    fz_acct *a = ctx;
    if (bytes < 0) {
        fprintf(stderr, "negative charge %lld for %s\n", (long long)bytes, what);
        abort();
    }
    if (bytes > a->cap - a->charged)
        return up_errorf(err, UP_E_TOO_LARGE, "", "%s: %lld bytes over the fuzz budget",
                         what ? what : "?", (long long)bytes);
    a->charged += bytes;
    return 0;
}

/* Peak live bytes allocated on this thread since metering started. The
 * hooks see every ASan allocation (bigbuf.c falls back to malloc under
 * ASan), so nothing a plan allocates escapes them. */
static __thread int meter_on;
static __thread int64_t meter_live, meter_peak;
/* FUZZ_OPS_TRACE_ALLOC=N prints the stack of every metered allocation of
 * N bytes or more: where an uncharged block comes from. */
static size_t trace_alloc;

static void meter_malloc(const volatile void *ptr, size_t size)
{
    (void)ptr;
    if (!meter_on) return;
    if (trace_alloc && size >= trace_alloc) {
        meter_on = 0; /* the report allocates */
        fprintf(stderr, "allocation of %zu bytes:\n", size);
        __sanitizer_print_stack_trace();
        meter_on = 1;
    }
    meter_live += (int64_t)size;
    if (meter_live > meter_peak) meter_peak = meter_live;
}

static void meter_free(const volatile void *ptr)
{
    if (meter_on && ptr) meter_live -= (int64_t)__sanitizer_get_allocated_size((const void *)ptr);
}

static void meter_start(void)
{
    meter_live = meter_peak = 0;
    meter_on = 1;
}

static void fail(const char *what, const up_call *c)
{
    fprintf(stderr, "fuzz_ops: %s (op %s)\n", what, c->plan.op->name);
    abort();
}

static int verbose; /* FUZZ_OPS_VERBOSE=1, see LLVMFuzzerInitialize */

/* ---- params ------------------------------------------------------------- */

static void put_num(char *buf, size_t cap, size_t *len, fz_in *in, int dict)
{
    unsigned b = fz_byte(in);
    int w;
    if (dict) w = snprintf(buf + *len, cap - *len, "%s", DICT[b % N_OF(DICT)]);
    else if (b >= 250) w = snprintf(buf + *len, cap - *len, "%d", -(int)(b - 249));
    else w = snprintf(buf + *len, cap - *len, "%u", b % 12);
    if (w > 0) *len += (size_t)w < cap - *len ? (size_t)w : cap - *len - 1;
}

/* One param from its mode byte m:
 *   m % 4 == 0  not given
 *   1           numbers from DICT     (count byte, then one byte each)
 *   2           small numbers 0..11, or -1..-6
 *   3           literal text          (length byte, then the bytes)
 * count byte c: 1 value, nsp values, or (c % 4 == 3) 2 + nsp values, the
 * full shape of output_size (N and C taken from x), or 2 * nsp for
 * pads (every begin and end); enums and bools take a
 * choice byte instead. */
static int set_param(up_call *c, int i, int nsp, const int64_t *xshape, fz_in *in,
                     up_error *err)
{
    const up_param_def *d = &c->plan.op->params[i];
    char text[256];
    size_t len = 0;
    unsigned m = fz_byte(in) % 4;
    if (m == 0) return 0;
    if (m == 3) {
        unsigned n = fz_byte(in) % 32;
        for (unsigned k = 0; k < n; k++) {
            unsigned ch = fz_byte(in);
            if (ch) text[len++] = (char)ch;
        }
        text[len] = '\0';
    } else if (d->type == UP_P_ENUM) {
        int nc = 0;
        while (d->choices[nc]) nc++;
        snprintf(text, sizeof(text), "%s", d->choices[fz_byte(in) % (unsigned)nc]);
    } else if (d->type == UP_P_BOOL) {
        snprintf(text, sizeof(text), "%s", fz_byte(in) & 1 ? "true" : "false");
    } else {
        unsigned cb = fz_byte(in);
        int n = cb % 4 == 0 ? 1 : cb % 4 == 3 ? (d->type == UP_P_PADS ? 2 * nsp : 2 + nsp)
                : cb % 4 == 2 ? nsp + 1 : nsp;
        int brackets = cb & 0x10;
        if (brackets) text[len++] = '[';
        for (int k = 0; k < n; k++) {
            if (k) text[len++] = ',';
            if (n == 2 + nsp && k < 2 && d->type == UP_P_SIZE) /* full shape: N and C of x */
                len += (size_t)snprintf(text + len, 24, "%lld", (long long)xshape[k]);
            else
                put_num(text, sizeof(text) - 2, &len, in, m == 1);
        }
        if (brackets) text[len++] = ']';
        text[len] = '\0';
    }
    if (verbose) fprintf(stderr, "  params.%s = \"%s\"\n", d->name, text);
    return up_param_from_text(&c->plan, d->name, text, "params", err);
}

/* A param as parsed, by name (NULL when the op has none). Read as plain
 * data: the plan's typed accessors take the kernels' slots. */
static const up_param_value *param_value(const up_plan *p, const char *name)
{
    int i = up_op_param_index(p->op, name);
    return i < 0 ? NULL : &p->params.v[i];
}

/* The parsed first value of an int param, when small and positive. */
static int64_t param_small(const up_plan *p, const char *name, int64_t def)
{
    const up_param_value *v = param_value(p, name);
    if (!v || !v->set || v->i[0] < 1 || v->i[0] > 64) return def;
    return v->i[0];
}

static int channels_last(const up_plan *p)
{
    const up_param_value *v = param_value(p, "layout");
    return v && v->set && v->choice == UP_LAYOUT_CHANNELS_LAST;
}

/* ---- tensors ------------------------------------------------------------ */

static const up_dtype FLOATS[] = {UP_F32, UP_F64, UP_F16, UP_BF16};
static const up_dtype ANY[] = {UP_F32, UP_F64, UP_F16, UP_BF16, UP_I64,
                               UP_I32, UP_I16, UP_I8,  UP_U8,   UP_BOOL};

/* x's dtype: flags bits 0-1 pick a float; for an op that takes integer
 * images (UP_OPF_INT_IMAGES), one seed in four makes it int8 or uint8
 * instead (the layout has no spare flag bit; the seed is the input's own). */
static up_dtype x_dtype(const up_op_def *op, unsigned flags, uint64_t seed)
{
    if ((op->flags & UP_OPF_INT_IMAGES) && (seed >> 1) % 4 == 0)
        return (seed >> 3) & 1 ? UP_U8 : UP_I8;
    return FLOATS[flags & 3];
}

/* numel of shape, treating a zero dim as zero whatever the others are;
 * -1 when the dims overflow with no zero among them. */
static int64_t numel_of(const int64_t *shape, int rank)
{
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        if (shape[d] == 0) return 0;
    for (int d = 0; d < rank; d++)
        if (up_mul_i64(n, shape[d], &n) < 0) return -1;
    return n;
}

/* Keep real data small: halve the largest dim until the tensor has at most
 * FZ_MAX_NUMEL elements. A tensor with a zero dim keeps its huge dims. */
static void shrink(int64_t *shape, int rank)
{
    int64_t n;
    while ((n = numel_of(shape, rank)) < 0 || n > FZ_MAX_NUMEL) {
        int big = 0;
        for (int d = 1; d < rank; d++)
            if (shape[d] > shape[big]) big = d;
        shape[big] = shape[big] > FZ_MAX_NUMEL ? FZ_MAX_NUMEL : shape[big] / 2;
    }
}

typedef struct fz_fill {
    uint64_t rng;
    int64_t index_range;   /* indices are drawn mostly below this */
} fz_fill;

static void fill_float(up_tensor *t, int64_t n, fz_fill *f, int samples)
{
    static const double special[] = {NAN, INFINITY, -INFINITY, -0.0, 0.0, -1.0, 1e30, 1e-40};
    static const double sample_vals[] = {0.0, 0.5000001192092896, 0.25, 0.9999999, 1.0,
                                         -0.1, NAN, 0.5};
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = rng_next(&f->rng);
        double v;
        if (samples) v = r % 4 ? (double)(r >> 11) * 0x1p-53 : sample_vals[(r >> 3) % 8];
        else v = r % 16 ? (double)((int64_t)(r >> 40) % 2001 - 1000) / 8.0 : special[(r >> 4) % 8];
        if (t->dtype == UP_F32) ((float *)t->data)[i] = (float)v;
        else if (t->dtype == UP_F64) ((double *)t->data)[i] = v;
        else ((uint16_t *)t->data)[i] = (uint16_t)(r >> 24); /* any f16/bf16 bits */
    }
}

static void fill_index(up_tensor *t, int64_t n, fz_fill *f)
{
    static const int64_t special[] = {-1, INT64_MAX, INT64_MIN, (int64_t)1 << 31, (int64_t)1 << 62,
                                      INT32_MAX, INT32_MIN, 0};
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = rng_next(&f->rng);
        int64_t v = r % 8 ? (int64_t)((r >> 8) % (uint64_t)(f->index_range > 0 ? f->index_range : 1))
                          : special[(r >> 3) % 8];
        if (t->dtype == UP_I64) ((int64_t *)t->data)[i] = v;
        else ((int32_t *)t->data)[i] = (int32_t)v;
    }
}

static void fill_bytes(up_tensor *t, int64_t n, fz_fill *f, int mostly_zero)
{
    size_t es = up_dtype_size(t->dtype);
    unsigned char *b = t->data;
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = rng_next(&f->rng), bits = rng_next(&f->rng);
        int zero = mostly_zero ? r % 8 != 0 : 0;
        for (size_t k = 0; k < es; k++) b[(size_t)i * es + k] = zero ? 0 : (unsigned char)(bits >> (8 * k));
        if (t->dtype == UP_BOOL) b[i] = zero ? 0 : 1;
    }
}

/* raw[i] of the given dtype and shape, with contents. A tensor with a
 * zero dim has no contents; when its dims overflow in the order the wire
 * multiplies them it borrows an empty buffer (the wire refuses it first). */
static void make_tensor(up_plan *p, int i, up_dtype dt, int rank, const int64_t *shape,
                        fz_fill *f)
{
    static unsigned char empty[64];
    up_tensor *t = &p->raw[i];
    up_io_kind kind = p->op->inputs[i].kind;
    int64_t n = numel_of(shape, rank);
    if (up_tensor_alloc(t, dt, rank, shape) < 0) {
        if (n != 0) abort(); /* shrink() keeps every tensor with data small */
        up_tensor_view(t, dt, rank, shape, empty);
        return;
    }
    if (kind == UP_IO_INDICES && up_dtype_is_index(dt)) fill_index(t, n, f);
    else if (up_dtype_is_float(dt) && kind != UP_IO_MASK) fill_float(t, n, f, kind == UP_IO_SAMPLES);
    else fill_bytes(t, n, f, kind == UP_IO_MASK);
}

/* Spatial dims of x in canonical order, whatever the layout. */
static void x_spatial(const up_plan *p, int64_t sp[UP_MAX_RANK], int64_t *N, int64_t *C)
{
    const up_tensor *x = &p->raw[0];
    int nsp = x->rank - 2, last = channels_last(p);
    *N = x->shape[0];
    *C = last ? x->shape[x->rank - 1] : x->shape[1];
    for (int d = 0; d < nsp; d++) sp[d] = x->shape[(last ? 1 : 2) + d];
}

/* A (N, C, sp) shape written in the plan's layout. */
static int spatial_shape(const up_plan *p, int64_t N, int64_t C, const int64_t *sp, int nsp,
                         int64_t *shape)
{
    int last = channels_last(p);
    shape[0] = N;
    shape[last ? nsp + 1 : 1] = C;
    for (int d = 0; d < nsp; d++) shape[(last ? 1 : 2) + d] = sp[d];
    return nsp + 2;
}

/* One optional or secondary input from its byte b:
 *   b % 8 == 0       absent
 *   1..5             the shape the op expects, derived from x and params
 *   6, 7             explicit: a rank byte, then a byte per dim (dim_of)
 * bit 3 picks int32 over int64 for indices and another float dtype for
 * float inputs; masks take a dtype byte. */
static void draw_input(up_plan *p, int i, fz_in *in, fz_fill *f)
{
    const up_io_def *def = &p->op->inputs[i];
    unsigned b = fz_byte(in), rel = b % 8;
    int64_t shape[UP_MAX_RANK] = {0}, sp[UP_MAX_RANK], N, C, k[UP_MAX_SPATIAL];
    int rank = p->raw[0].rank, nsp = rank - 2;
    up_dtype dt = p->raw[0].dtype;
    if (rel == 0) return;
    if (def->kind == UP_IO_INDICES) dt = b & 8 ? UP_I32 : UP_I64;
    else if (def->kind == UP_IO_MASK) dt = ANY[fz_byte(in) % N_OF(ANY)];
    else if (b & 8) dt = FLOATS[(b >> 4) % 4];
    x_spatial(p, sp, &N, &C);
    for (int d = 0; d < nsp && d < UP_MAX_SPATIAL; d++) k[d] = param_small(p, "kernel_size", 2);
    if (rel >= 6) {
        rank = 1 + (int)(fz_byte(in) % UP_MAX_RANK);
        for (int d = 0; d < rank; d++) shape[d] = dim_of(fz_byte(in));
    } else {
        switch (def->kind) {
        case UP_IO_INDICES:
            memcpy(shape, p->raw[0].shape, sizeof(shape));
            break;
        case UP_IO_MASK: { /* the unpooled size: (in - 1) * stride - 2p + k */
            int64_t msp[UP_MAX_RANK];
            for (int d = 0; d < nsp; d++) {
                int64_t s = param_small(p, "stride", k[d]), pad = param_small(p, "padding", 0);
                msp[d] = sp[d]; /* huge dims (a zero-numel x) stay as they are */
                if (sp[d] >= 1 && sp[d] <= FZ_MAX_NUMEL)
                    msp[d] = (sp[d] - 1) * s - 2 * pad + k[d] + (int64_t)(rel % 3) - 1;
                if (msp[d] < 0 || msp[d] > FZ_MAX_NUMEL) msp[d] = sp[d];
            }
            rank = spatial_shape(p, N, C, msp, nsp, shape);
            break;
        }
        case UP_IO_SAMPLES:
            shape[0] = N;
            shape[1] = C;
            shape[2] = nsp;
            rank = 3;
            break;
        case UP_IO_WEIGHT: /* (C_in, C_out / groups, *kernel) */
            shape[0] = C;
            shape[1] = 1 + rel % 3;
            for (int d = 0; d < nsp; d++) shape[2 + d] = k[d] > 8 ? 8 : k[d];
            break;
        case UP_IO_BIAS: {
            int wi = up_op_input_index(p->op, "weight");
            const up_tensor *w = wi >= 0 ? &p->raw[wi] : NULL;
            if (w) /* conv_transpose's bias: C_out */
                shape[0] = (w->rank >= 2 ? w->shape[1] : 1) * param_small(p, "groups", 1);
            else /* resize's roi: starts and ends of every axis, or of fewer */
                shape[0] = 2 * (p->raw[0].rank - (int)(rel % 3 == 2));
            rank = 1;
            break;
        }
        default:
            memcpy(shape, p->raw[0].shape, sizeof(shape));
            break;
        }
    }
    shrink(shape, rank);
    f->index_range = 1;
    if (def->kind == UP_IO_INDICES) /* mostly inside the unpooled plane */
        for (int d = 0; d < nsp; d++) f->index_range *= (sp[d] > 0 && sp[d] < 4096 ? sp[d] : 1) * k[d];
    make_tensor(p, i, dt, rank, shape, f);
}

/* ---- checks ------------------------------------------------------------- */

static void no_500(const up_call *c, const up_error *err)
{
    if (up_err_status(err) >= 500) {
        fprintf(stderr, "status %d: %s: %s\n", up_err_status(err),
                err->n ? err->items[0].field : "", err->n ? err->items[0].message : "");
        fail("a 500", c);
    }
}

static void check_outputs(const up_call *c)
{
    const up_plan *p = &c->plan;
    const up_geom *g = &p->g;
    /* ops whose y has its own channel count */
    int conv = !strcmp(p->op->name, "conv_transpose") || !strncmp(p->op->name, "pixel_", 6);
    if (p->work_units < 0) fail("negative work_units", c);
    if (p->max_work > 0 && p->work > p->max_work) fail("accepted work over max_work", c);
    for (int i = 0; i < p->op->n_outputs && (p->op->flags & UP_OPF_ANY_RANK); i++) {
        /* resize: any axis may change; rank, size, dtype and storage */
        const up_tensor *o = &p->out[i];
        int64_t n;
        if (o->rank != p->in[0].rank) fail("output rank differs from x", c);
        if (up_shape_numel(o->shape, o->rank, &n) < 0 || n > FZ_MAX_ELEMENTS)
            fail("output over max_elements", c);
        if (!o->data) fail("output not allocated", c);
        if (o->dtype != p->compute) fail("output dtype", c);
    }
    for (int i = 0; i < p->op->n_outputs && !(p->op->flags & UP_OPF_ANY_RANK); i++) {
        const up_tensor *o = &p->out[i];
        int64_t n;
        if (o->rank != 2 + g->nsp || o->shape[0] != g->N || o->shape[1] != (conv ? g->C_out : g->C))
            fail("output rank, N or C differ from x", c);
        if (up_shape_numel(o->shape, o->rank, &n) < 0 || n > FZ_MAX_ELEMENTS)
            fail("output over max_elements", c);
        if (!o->data) fail("output not allocated", c);
        if (o->dtype != (p->op->outputs[i].kind == UP_IO_INDICES ? UP_I64 : p->compute))
            fail("output dtype", c);
        for (int d = 0; d < g->nsp; d++)
            if (o->shape[2 + d] != g->out[d]) fail("output spatial size differs from g.out", c);
    }
}

/* The client's view: same shape, channels moved last for channels_last,
 * values in the storage dtype. */
static void check_results(const up_call *c)
{
    const up_plan *p = &c->plan;
    for (int i = 0; i < p->op->n_outputs; i++) {
        const up_tensor *o = &p->out[i], *r = &p->result[i];
        int last = p->layout == UP_LAYOUT_CHANNELS_LAST, nsp = o->rank - 2;
        if (r->rank != o->rank || r->shape[0] != o->shape[0] ||
            r->shape[last ? nsp + 1 : 1] != o->shape[1])
            fail("result shape", c);
        for (int d = 0; d < nsp; d++)
            if (r->shape[(last ? 1 : 2) + d] != o->shape[2 + d]) fail("result spatial shape", c);
        if (p->op->outputs[i].kind == UP_IO_VALUES && r->dtype != p->storage)
            fail("result dtype is not the storage dtype", c);
    }
}

/* fractional_max_pool: every window lies inside the input, so every index
 * is a position of its own plane and y is the value there. */
static void check_fmp(const up_call *c)
{
    const up_plan *p = &c->plan;
    const up_tensor *x = &p->in[0], *y = &p->out[0], *ix = &p->out[1];
    int64_t pin = 1, pout = 1, planes = p->g.N * p->g.C;
    if (strcmp(p->op->name, "fractional_max_pool") || p->g.index_layout != UP_IDX_PLANE) return;
    for (int d = 0; d < p->g.nsp; d++) {
        pin *= p->g.in[d];
        pout *= p->g.out[d];
    }
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t j = 0; j < pout; j++) {
            int64_t k = ((const int64_t *)ix->data)[pl * pout + j];
            double a, b;
            if (k < 0 || k >= pin) fail("fractional_max_pool index outside its plane", c);
            if (p->compute == UP_F32) {
                a = ((const float *)y->data)[pl * pout + j];
                b = ((const float *)x->data)[pl * pin + k];
            } else {
                a = ((const double *)y->data)[pl * pout + j];
                b = ((const double *)x->data)[pl * pin + k];
            }
            if (!(a == b || (isnan(a) && isnan(b)))) fail("fractional_max_pool y != x[index]", c);
        }
}

/* ---- one run ------------------------------------------------------------ */

/* Every work unit, in `chunks` ranges with random cuts, as the pool runs
 * them; faults merge as the server merges them. */
static void run_chunks(const up_plan *p, int chunks, fz_fill *f, up_fault *fault)
{
    int64_t cut[9], n = p->work_units;
    cut[0] = 0;
    for (int k = 1; k < chunks; k++) cut[k] = n ? (int64_t)(rng_next(&f->rng) % (uint64_t)(n + 1)) : 0;
    cut[chunks] = n;
    for (int a = 1; a < chunks; a++) /* insertion sort: at most 8 cuts */
        for (int b = a; b > 0 && cut[b - 1] > cut[b]; b--) {
            int64_t t = cut[b];
            cut[b] = cut[b - 1];
            cut[b - 1] = t;
        }
    up_fault_init(fault);
    for (int k = 0; k < chunks; k++) {
        up_fault part;
        up_fault_init(&part);
        up_plan_run(p, cut[k], cut[k + 1], &part);
        up_fault_merge(fault, &part);
    }
}

/* Finish through the encoder (answer charged first, as the server does)
 * or through up_plan_finish alone. */
static void finish(up_call *c, unsigned how, fz_acct *acct, const up_fault *fault)
{
    static const int formats[][3] = { /* proto, out_format, b64 or binary */
        {UP_PROTO_V1, UP_FMT_JSON, 0}, {UP_PROTO_V1, UP_FMT_JSON, 1},
        {UP_PROTO_V1, UP_FMT_NPY, 0},  {UP_PROTO_V1, UP_FMT_SAFETENSORS, 0},
        {UP_PROTO_KSERVE, UP_FMT_JSON, 0}, {UP_PROTO_KSERVE, UP_FMT_JSON, 1},
    };
    up_error err;
    up_error_clear(&err);
    if (how >= (unsigned)N_OF(formats)) {
        if (up_plan_finish(&c->plan, fault, &err) < 0) no_500(c, &err);
        else check_results(c);
        return;
    }
    c->proto = formats[how][0];
    c->out_format = formats[how][1];
    if (c->proto == UP_PROTO_V1) c->out_b64 = formats[how][2];
    else c->kserve_binary_out = formats[how][2];
    int64_t bound = up_call_answer_bytes(c);
    /* JSON text of a big answer is slow under ASan; its bound is checked
     * all the same, the answer is only encoded below 8 MiB */
    if (bound < 0) fail("negative answer bound", c);
    if (bound > ((int64_t)8 << 20) || ops_take(acct, bound, "answer", &err) < 0) {
        up_error_clear(&err);
        if (up_plan_finish(&c->plan, fault, &err) < 0) no_500(c, &err);
        return;
    }
    up_http_resp r;
    up_timing t = {0};
    up_http_resp_init(&r);
    if (up_call_encode(c, fault, &t, "fuzz", &r, &err) < 0) {
        no_500(c, &err);
    } else {
        /* the results moved into the answer: their shapes are checked on
         * the up_plan_finish path */
        if (verbose)
            fprintf(stderr, "answer %zu bytes, bound %lld\n", up_http_resp_len(&r), (long long)bound);
        if ((int64_t)up_http_resp_len(&r) > bound) fail("answer longer than up_call_answer_bytes", c);
    }
    up_http_resp_free(&r);
}

/* Process-wide state is made once per thread and belongs to no request:
 * stream.c's scratch plane, conv_transpose's col buffer, OpenBLAS's own
 * set-up. Make it before any metering, with one small call of each op. */
static void warm_up(void)
{
    up_stream_scratch();
    for (int i = 0; i < up_op_count(); i++) {
        const up_op_def *op = up_op_at(i);
        const int64_t shape[] = {1, 1, 2, 2};
        up_call c;
        up_error err;
        up_fault fault;
        up_call_init(&c);
        up_plan_init(&c.plan, op);
        up_error_clear(&err);
        if (up_op_param_index(op, "kernel_size") >= 0)
            up_param_from_text(&c.plan, "kernel_size", "1", NULL, &err);
        if (up_op_param_index(op, "scale_factor") >= 0)
            up_param_from_text(&c.plan, "scale_factor", "2", NULL, &err);
        for (int k = 0; k < op->n_inputs; k++) {
            up_io_kind kind = op->inputs[k].kind;
            if (k == 0 || kind == UP_IO_WEIGHT)
                up_tensor_alloc_zero(&c.plan.raw[k], UP_F32, 4, shape);
            else if (kind == UP_IO_INDICES && !strcmp(op->name, "max_unpool"))
                up_tensor_alloc_zero(&c.plan.raw[k], UP_I64, 4, shape);
        }
        if (up_call_prepare(&c, &fz_limits, &err) == 0) {
            up_fault_init(&fault);
            up_plan_run(&c.plan, 0, c.plan.work_units, &fault);
            up_plan_finish(&c.plan, &fault, &err);
        }
        up_call_free(&c);
    }
}

/* FUZZ_OPS_NO_CHARGE_CHECK=1 turns the allocated <= charged check off, to
 * look for other faults in a tree whose plans do not charge yet. */
static int skip_charge_check;
/* FUZZ_OPS_VERBOSE=1 prints each case (op, tensors, params, outcome): run
 * it on one crash input to see what the input means. */

static void say_tensor(const char *name, const up_tensor *t)
{
    char sh[160];
    if (!verbose || !t->data) return;
    up_shape_format(sh, sizeof(sh), t->shape, t->rank);
    fprintf(stderr, "  %s: %s %s\n", name, up_dtype_name(t->dtype), sh);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *e = getenv("FUZZ_OPS_NO_CHARGE_CHECK");
    (void)argc;
    (void)argv;
    skip_charge_check = e && *e == '1';
    e = getenv("FUZZ_OPS_VERBOSE");
    verbose = e && *e == '1';
    e = getenv("FUZZ_OPS_TRACE_ALLOC");
    trace_alloc = e ? (size_t)strtoull(e, NULL, 10) : 0;
    __sanitizer_install_malloc_and_free_hooks(meter_malloc, meter_free);
    warm_up();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    up_call c;
    up_error err;
    up_fault fault;
    fz_acct acct = {0, FZ_BUDGET};
    fz_fill fill;
    up_limits lim = fz_limits;
    const up_op_def *op = fz_op((uint8_t)fz_byte(&in));
    unsigned flags = fz_byte(&in), rb = fz_byte(&in);
    int nsp = op->min_spatial + (int)(rb % (unsigned)(op->max_spatial - op->min_spatial + 1));
    int rank = rb >= 0xf8 ? 1 + (int)(rb % UP_MAX_RANK) : nsp + 2, chunks = 1 + (int)(flags >> 5);
    int64_t xshape[UP_MAX_RANK] = {0};

    fill.rng = fz_u64(&in) | 1;
    fill.index_range = 1;
    up_call_init(&c);
    up_plan_init(&c.plan, op);
    up_error_clear(&err);
    lim.max_elements = FZ_MAX_ELEMENTS;
    lim.max_request_elements = 2 * FZ_MAX_ELEMENTS;
    lim.max_work = FZ_MAX_WORK;
    c.plan.charge.take = ops_take;
    c.plan.charge.ctx = &acct;

    for (int d = 0; d < rank; d++) xshape[d] = dim_of(fz_byte(&in));
    shrink(xshape, rank);
    for (int i = 0; i < op->n_params; i++) {
        if (set_param(&c, i, rank - 2 > 0 ? rank - 2 : 1, xshape, &in, &err) < 0) {
            no_500(&c, &err);
            goto out;
        }
    }
    make_tensor(&c.plan, 0, x_dtype(op, flags, fill.rng), rank, xshape, &fill);
    if (rank >= 3)
        for (int i = 1; i < op->n_inputs; i++) draw_input(&c.plan, i, &in, &fill);

    if (verbose) {
        fprintf(stderr, "op %s, %d chunks, answer %u\n", op->name, chunks, (flags >> 2) & 7);
        for (int i = 0; i < op->n_inputs; i++) say_tensor(op->inputs[i].name, &c.plan.raw[i]);
    }
    meter_start();
    if (up_call_prepare(&c, &lim, &err) < 0) {
        if (verbose)
            fprintf(stderr, "refused %d: %s: %s\n", up_err_status(&err), err.n ? err.items[0].field : "",
                    err.n ? err.items[0].message : "");
        no_500(&c, &err);
        if (!err.n) fail("refused without an error item", &c);
        goto out;
    }
    if (verbose) {
        fprintf(stderr, "accepted: work %lld, mem %lld, %lld units\n", (long long)c.plan.work,
                (long long)c.plan.mem_bytes, (long long)c.plan.work_units);
        for (int i = 0; i < op->n_outputs; i++) say_tensor(op->outputs[i].name, &c.plan.out[i]);
    }
    check_outputs(&c);
    run_chunks(&c.plan, chunks, &fill, &fault);
    if (fault.elem < 0) check_fmp(&c);
    finish(&c, (flags >> 2) & 7, &acct, &fault);
    if (meter_peak > acct.charged + FZ_SLACK && !skip_charge_check) {
        fprintf(stderr, "allocated %lld bytes at peak, charged %lld\n", (long long)meter_peak,
                (long long)acct.charged);
        fail("allocated more than charged", &c);
    }
out:
    meter_on = 0;
    up_call_free(&c);
    return 0;
}
