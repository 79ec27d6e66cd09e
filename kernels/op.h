/* op.h -- the op registry and the plan of one op invocation.
 *
 * An op is data: a name, its inputs, outputs and params (with types,
 * defaults and docs), a prepare function (validate + output shapes) and one
 * kernel per compute dtype. Routing, GET /v1/ops, KServe model metadata and
 * the docs all read the same table (registry.c), so adding an op is one table
 * entry plus its kernel file.
 *
 * A plan is one invocation: the params the client gave, the inputs in
 * canonical form (channels-first, compute dtype, int64 indices, uint8 mask),
 * the resolved geometry, and the outputs. Its life:
 *
 *   up_plan_init(&p, op);                  fill p.params, p.raw[]    (api/)
 *   up_plan_prepare(&p, &err);             validate, geometry and cost, then
 *                                          charge + allocate (see below)
 *   up_plan_run(&p, begin, end, &fault)    from any number of workers, over
 *                                          disjoint ranges of [0, p.work_units)
 *   up_plan_finish(&p, &fault, &err);      faults -> error; outputs -> client's
 *                                          dtype and layout in p.result[]
 *   up_plan_free(&p);
 *
 * Kernel contract: a kernel given [begin, end) writes every output element
 * that belongs to those work units (outputs are NOT zeroed beforehand, so a
 * scatter kernel zero-fills its own planes: one pass over memory) and nothing
 * else, so chunks never race and the result does not depend on the split.
 * When several inputs target one output position, the one last in row-major
 * order of x wins: kernels walk x in row-major order within a unit (or keep
 * the largest position of x per output), and collisions can only happen
 * inside one unit.
 *
 * Prepare runs in two halves, so that nothing is allocated for a request
 * that will be refused. First, with no allocation at all: every input's
 * shape is checked (geometry.h), the canonical inputs are described (shape
 * and dtype, data still to convert), op->prepare validates the params,
 * derives the geometry and output shapes and states its cost: p->work, the
 * element operations its kernel will do, and p->mem_bytes, what its build
 * step will allocate; the plan adds conversions, outputs and result
 * conversions. A plan over p->max_work is refused here (413). Second, every
 * allocation is charged (up_plan_charge) just before it is made: converted
 * inputs, op->build's tables or scratch, outputs, and in up_plan_finish the
 * converted results. The sum of those charges is p->mem_bytes. */
#ifndef UP_OP_H
#define UP_OP_H

#include <stddef.h>

#include "error.h"
#include "tensor.h"

#define UP_MAX_INPUTS 4
#define UP_MAX_OUTPUTS 2
#define UP_MAX_PARAMS 12

/* ---- params ------------------------------------------------------------ */

typedef enum up_param_type {
    UP_P_INT,           /* one integer: groups, seed */
    UP_P_BOOL,          /* ceil_mode */
    UP_P_SPATIAL_INT,   /* one integer for every spatial dim, or one per dim */
    UP_P_SIZE,          /* output_size: one, one per spatial dim, or full shape */
    UP_P_SPATIAL_FLOAT, /* scale_factor, output_ratio: one or one per dim */
    UP_P_ENUM,          /* one of choices[] ('-' and '_' are the same) */
    UP_P_FLOAT,         /* one finite number of any sign: cubic_coeff_a */
    UP_P_FLOATS,        /* 1..UP_MAX_RANK finite numbers, one per axis: scales */
    UP_P_INTS,          /* 1..UP_MAX_RANK integers of any sign, one per axis: axes */
    UP_P_PADS           /* ONNX pads: 2 * spatial ints, every begin then every end */
} up_param_type;

/* The most numbers one param holds: ONNX pads of a 3d input. */
#define UP_MAX_PARAM_VALUES (2 * UP_MAX_SPATIAL)

typedef struct up_param_def {
    const char *name;
    up_param_type type;
    const char *default_text;      /* as documented; NULL = no default */
    const char *const *choices;    /* UP_P_ENUM: NULL-terminated, [0] default */
    const char *doc;
} up_param_def;

typedef struct up_param_value {
    int set;                 /* the client gave it */
    int n;                   /* how many numbers were given (1..UP_MAX_PARAM_VALUES) */
    int64_t i[UP_MAX_PARAM_VALUES]; /* INT, BOOL (0/1), SPATIAL_INT, SIZE, INTS, PADS */
    double f[UP_MAX_RANK];   /* SPATIAL_FLOAT, FLOAT, FLOATS */
    int choice;              /* ENUM: index into choices[] */
} up_param_value;

typedef struct up_params {
    up_param_value v[UP_MAX_PARAMS]; /* same order as op->params */
} up_params;

/* ---- inputs and outputs ------------------------------------------------ */

typedef enum up_io_kind {
    UP_IO_VALUES,   /* float tensor in the layout of x (x, y) */
    UP_IO_INDICES,  /* int64/int32, in the layout of x, index_layout applies */
    UP_IO_MASK,     /* any numeric dtype, in the layout of x, nonzero counts */
    UP_IO_SAMPLES,  /* (N, C, dims) floats in [0, 1) */
    UP_IO_WEIGHT,   /* conv weight, PyTorch layout whatever params.layout */
    UP_IO_BIAS      /* 1-d */
} up_io_kind;

typedef struct up_io_def {
    const char *name;
    up_io_kind kind;
    int required;
    const char *doc;
} up_io_def;

/* ---- plan -------------------------------------------------------------- */

enum { UP_LAYOUT_CHANNELS_FIRST = 0, UP_LAYOUT_CHANNELS_LAST = 1 };
enum { UP_IDX_PLANE = 0, UP_IDX_TENSOR, UP_IDX_HWC, UP_IDX_NHWC };

/* Resolved geometry, filled by op->prepare. Spatial arrays use [0, nsp). */
typedef struct up_geom {
    int nsp;                       /* spatial dims: 1, 2 or 3 */
    int64_t N, C;                  /* batch, channels of x */
    int64_t C_out;                 /* channels of y (conv_transpose) */
    int64_t in[UP_MAX_SPATIAL];    /* spatial size of x */
    int64_t out[UP_MAX_SPATIAL];   /* spatial size of y */
    int64_t kernel[UP_MAX_SPATIAL];
    int64_t stride[UP_MAX_SPATIAL];
    int64_t pad[UP_MAX_SPATIAL];       /* padding before (PyTorch: both sides) */
    int64_t pad_end[UP_MAX_SPATIAL];   /* padding after (ONNX pads may differ) */
    int64_t dilation[UP_MAX_SPATIAL];
    int64_t out_pad[UP_MAX_SPATIAL];
    int64_t groups;
    double scale[UP_MAX_SPATIAL];  /* source step per output step */
    int mode;                      /* op-specific enum choice */
    int ceil_mode;
    int index_layout;              /* UP_IDX_* */
    int storage_order;             /* max_pool: 1 = ONNX column-major indices */
} up_geom;

/* The first bad element a kernel met (e.g. an index outside its plane). */
typedef struct up_fault {
    int64_t elem;   /* flat row-major position in the canonical input; -1 none */
    int64_t value;  /* the offending value */
    int input;      /* which input (index into op->inputs) */
} up_fault;

struct up_plan;
typedef struct up_op_def up_op_def;

/* The memory accountant. Every byte a plan allocates (converted inputs,
 * tables, scratch, outputs, converted results) is charged through this hook
 * BEFORE it is allocated; the daemon's hook charges its global in-flight
 * budget, tests and fuzzers charge a plain counter. take() returns 0, or -1
 * with err filled (UP_E_OVERLOADED while the budget is busy, UP_E_TOO_LARGE
 * when the charge can never fit). No hook (take == NULL): nothing is
 * charged. Charges are released by whoever installed the hook, when the
 * request ends. */
typedef struct up_charge {
    int (*take)(void *ctx, int64_t bytes, const char *what, up_error *err);
    /* Optional: called once by up_plan_prepare when the cost model is
     * known (p->work, p->mem_bytes, output shapes) and before the first
     * byte is charged or allocated, so a plan that can never fit is
     * refused without building half of it. 0, or -1 with err filled. */
    int (*admit)(void *ctx, const struct up_plan *p, up_error *err);
    void *ctx;
} up_charge;

/* Validate, derive geometry and output shapes, state the cost; no
 * allocation (see "Prepare runs in two halves"). */
typedef int (*up_prepare_fn)(struct up_plan *p, up_error *err);
/* Allocate op scratch (tables, drawn samples, per-unit state) through
 * up_plan_scratch_alloc(), once the plan is admitted; NULL: nothing. */
typedef int (*up_build_fn)(struct up_plan *p, up_error *err);
typedef void (*up_kernel_fn)(const struct up_plan *p, int64_t begin, int64_t end,
                             up_fault *fault);

/* up_op_def.flags: what x may be beyond float32/float64/float16/bfloat16.
 *   UP_OPF_INT_IMAGES  int8 and uint8 too. The kernel computes in float32,
 *                      which holds every such value exactly; an op takes
 *                      this flag only when its result is then exact too
 *                      (max, copies, scatters), and the answer is x's dtype.
 *   UP_OPF_MOVES_BYTES the kernel only moves elements: it runs on x's own
 *                      dtype (element size 1, 2, 4 or 8 bytes), with no
 *                      conversion in or out.
 *   UP_OPF_INT_NATIVE  with UP_OPF_INT_IMAGES: int8 and uint8 x run on
 *                      their own dtype (the f32 kernel slot dispatches on
 *                      p->compute), not through float32.
 *   UP_OPF_ANY_RANK    x of any rank 1-5, every axis the op's to interpret
 *                      (no N, C split: resize). */
enum { UP_OPF_INT_IMAGES = 1, UP_OPF_MOVES_BYTES = 2, UP_OPF_INT_NATIVE = 4, UP_OPF_ANY_RANK = 8 };

struct up_op_def {
    const char *name;            /* URL segment */
    const char *summary;
    const char *semantics;       /* the reference it matches, for docs */
    int min_spatial, max_spatial;
    const up_io_def *inputs;
    int n_inputs;
    const up_io_def *outputs;
    int n_outputs;
    const up_param_def *params;
    int n_params;
    up_prepare_fn prepare;
    up_kernel_fn kernel_f32;
    up_kernel_fn kernel_f64;
    up_build_fn build;           /* optional */
    int flags;                   /* UP_OPF_* */
};

typedef struct up_plan {
    const up_op_def *op;
    up_params params;
    int64_t max_elements;          /* per tensor limit, 0 = none (set by caller) */
    int64_t max_work;              /* --max-work: refuse (413) plans whose work
                                    * estimate is larger; 0 = none (set by caller) */
    up_charge charge;              /* memory accountant (set by caller) */
    /* Caller-provided memory for result[i] (set by caller, NULL = none):
     * the client's own memory (a shared-memory region), out_dest_bytes[i]
     * long, which must equal result[i]'s size in the storage dtype. When
     * the result needs no conversion (dtype and layout as computed), out[i]
     * IS that memory: the kernel writes there, nothing is allocated or
     * charged for it. Otherwise out[i] is allocated as usual and finish
     * converts into result[i], then copies it there. Either way result[i]
     * is a view of out_dest[i] after finish. */
    void *out_dest[UP_MAX_OUTPUTS];
    int64_t out_dest_bytes[UP_MAX_OUTPUTS];

    /* What the client sent, by op->inputs order; data NULL when absent.
     * May borrow from the request body. */
    up_tensor raw[UP_MAX_INPUTS];

    /* Canonical inputs (channels-first, compute dtype, int64 indices,
     * uint8 0/1 mask); views of raw[] when no conversion was needed. */
    up_tensor in[UP_MAX_INPUTS];
    /* Outputs in compute dtype, channels-first. op->prepare sets dtype, rank
     * and shape; up_plan_prepare allocates them (uninitialised). */
    up_tensor out[UP_MAX_OUTPUTS];
    /* Outputs as the client gets them (storage dtype, client layout);
     * views of out[] when no conversion was needed. */
    up_tensor result[UP_MAX_OUTPUTS];

    up_dtype storage;              /* dtype of x as sent */
    up_dtype compute;              /* UP_F32 or UP_F64 */
    int layout;                    /* UP_LAYOUT_* */
    up_geom g;
    int64_t work_units;            /* kernels run over [0, work_units) */
    int64_t unit_cost;             /* rough bytes touched per unit (chunking hint) */

    /* The cost model, filled by up_plan_prepare before any output is
     * allocated: `work` is the op's element operations (elements x window,
     * MACs for conv_transpose), `mem_bytes` every byte the plan itself
     * allocates (converted inputs, tables, scratch, outputs, converted
     * results). The answer's encoding is the api's to add. */
    int64_t work;
    int64_t mem_bytes;

    void *scratch;                 /* op-private, freed with scratch_free */
    void (*scratch_free)(void *);
} up_plan;

/* ---- registry (registry.c) --------------------------------------------- */

/* Every op, in the order of the table (and of GET /v1/ops); the metrics
 * size their per-op tables with UP_OP_COUNT. registry.c checks at compile
 * time that the table has exactly these entries. */
typedef enum up_op_id {
    UP_OP_MAX_UNPOOL,
    UP_OP_NEAREST_UNPOOL,
    UP_OP_FRACTIONAL_MAX_UNPOOL,
    UP_OP_CONV_TRANSPOSE,
    UP_OP_MAX_POOL,
    UP_OP_FRACTIONAL_MAX_POOL,
    UP_OP_RESIZE,
    UP_OP_PIXEL_SHUFFLE,
    UP_OP_PIXEL_UNSHUFFLE,
#ifdef UP_TEST_TOY_OP
    UP_OP_TOY_SCALE,
#endif
    UP_OP_COUNT
} up_op_id;

/* Every op's input 0 is x (its dtype is the request's, its shape sets the
 * geometry) and its output 0 is y; up_registry_check() enforces both. */
enum { UP_IN_X = 0, UP_OUT_Y = 0 };

const up_op_def *up_op_find(const char *name);  /* NULL if unknown */
int up_op_count(void);                          /* UP_OP_COUNT */
const up_op_def *up_op_at(int i);
int up_op_index(const up_op_def *op);           /* up_op_id; -1 if not an op */
/* By name, for the wire layer (a client's name may be anything): -1 if none.
 * Kernels use the slots of ops.h instead. */
int up_op_param_index(const up_op_def *op, const char *name);
int up_op_input_index(const up_op_def *op, const char *name);
int up_op_output_index(const up_op_def *op, const char *name);
/* What the compiler cannot check about the tables: no slot left empty, no
 * name twice, input 0 x and output 0 y, the shared params (layout,
 * index_layout) spelt and typed as plan.c reads them, enums with choices.
 * 0, or -1 with the first problem in msg. The registry runs it on first
 * use and aborts on a problem unless built with NDEBUG; tests call it. */
int up_registry_check(char *msg, size_t n);
/* A kernel asked the registry for something it does not have (a slot out
 * of range, a param read as the wrong type): a bug, not a request's fault.
 * Prints what and aborts. */
_Noreturn void up_registry_bug(const up_op_def *op, const char *what, int slot);

/* ---- plan life (plan.c) ------------------------------------------------ */

void up_plan_init(up_plan *p, const up_op_def *op);
int up_plan_prepare(up_plan *p, up_error *err);
void up_plan_run(const up_plan *p, int64_t begin, int64_t end, up_fault *fault);
void up_fault_init(up_fault *f);
/* Record a bad element: the one first in row-major order of its input is
 * kept, whatever the order chunks ran in, so the 422 is deterministic. The
 * one place that rule is written; up_fault_merge and the kernels use it. */
static inline void up_fault_note(up_fault *f, int64_t elem, int64_t value, int input)
{
    if (f && (f->elem < 0 || elem < f->elem)) {
        f->elem = elem;
        f->value = value;
        f->input = input;
    }
}
void up_fault_merge(up_fault *into, const up_fault *from); /* keep the first */
int up_plan_finish(up_plan *p, const up_fault *fault, up_error *err);
void up_plan_free(up_plan *p);
/* Charge bytes to p->charge before allocating them (0, or -1 with err). */
int up_plan_charge(up_plan *p, int64_t bytes, const char *what, up_error *err);
/* Bytes of the plan's outputs (compute dtype) and converted results, for a
 * plan that states no mem_bytes of its own (the server charges them before
 * the kernel); an output written into a client's region (out_dest) is not
 * the server's and not counted. INT64_MAX on overflow. */
int64_t up_plan_output_bytes(const up_plan *p);
/* For op->build: charge `bytes`, then malloc them as p->scratch (freed by
 * up_plan_free). NULL with err set (the hook's error, or 500 when out of
 * memory). */
void *up_plan_scratch_alloc(up_plan *p, int64_t bytes, const char *what, up_error *err);
/* Convenience: prepare, run everything on this thread, finish. */
int up_plan_execute(up_plan *p, up_error *err);

/* ---- param access for op->prepare (params.c) ---------------------------
 *
 * A param is named by its slot (ops.h: MAX_POOL_P_stride), never by a
 * string; a slot outside the op's table, or read through the accessor of
 * another type, is a bug and aborts (up_registry_bug): one compare. */

const up_param_value *up_plan_param(const up_plan *p, int slot);
int up_plan_param_set(const up_plan *p, int slot);
/* Spatial int param -> out[nsp]; def used when unset (def < 0: required).
 * Checks the count (1 or nsp) and that every value lies in
 * [min, UP_GEOM_MAX_PARAM] (PyTorch's 32-bit limit, geometry.h). */
int up_param_spatial(const up_plan *p, int slot, int64_t def, int64_t min,
                     int64_t out[UP_MAX_SPATIAL], up_error *err);
/* Same for floats; every value must be > 0 and finite. Returns 1 if set,
 * 0 if unset, -1 on error. */
/* A pooling window: kernel_size (required, >= 1), stride (default
 * kernel_size, >= 1) and padding (default 0, >= 0) into g->kernel,
 * g->stride and g->pad, from the op's three slots. */
int up_param_window(up_plan *p, int kernel_slot, int stride_slot, int pad_slot, up_error *err);
int up_param_spatial_f(const up_plan *p, int slot, double out[UP_MAX_SPATIAL], up_error *err);
/* output_size -> spatial sizes. Accepts one value, nsp values, or the full
 * shape (N, C, *spatial) whose N and C must equal the given ones.
 * Returns 1 if set, 0 if unset, -1 on error. */
int up_param_output_size(const up_plan *p, int slot, int64_t N, int64_t C,
                         int64_t out[UP_MAX_SPATIAL], up_error *err);
int up_param_enum(const up_plan *p, int slot);      /* choice, default 0 */
/* Resize ops: exactly one of scale_factor and output_size (their slots);
 * sets g.out and g.scale (source step per output step: 1/scale_factor or
 * in/out, double). */
int up_param_resize(up_plan *p, int scale_factor, int output_size, up_error *err);
int64_t up_param_int(const up_plan *p, int slot, int64_t def); /* INT or BOOL */

/* ONNX padding of a window op. `pads` (UP_P_PADS: every begin, then every
 * end, each in [0, UP_GEOM_MAX_PARAM]) and PyTorch's symmetric `padding`
 * are exclusive (422 naming both); with neither, g->pad is left as the
 * caller set it. Fills g->pad (begins) and g->pad_end. Returns 1 if pads
 * was given, 0 if not, -1 on error. */
int up_param_pads(up_plan *p, int pads_slot, int padding_slot, up_error *err);
/* ONNX auto_pad choices, in the order of every op's auto_pad enum. */
enum { UP_AUTO_PAD_NOTSET = 0, UP_AUTO_PAD_SAME_UPPER, UP_AUTO_PAD_SAME_LOWER, UP_AUTO_PAD_VALID };
/* Split a total padding per ONNX: same_upper puts the odd one at the end,
 * same_lower (and conv_transpose's notset with output_shape) at the start. */
void up_pad_split(int64_t total, int extra_at_start, int64_t *begin, int64_t *end);

/* Sets p->out[i] to a rank-(2+nsp) channels-first shape with the given
 * dtype and checks numel against p->max_elements (413) and overflow. */
int up_plan_set_output(up_plan *p, int i, up_dtype dt, int64_t N, int64_t C,
                       const int64_t *spatial, up_error *err);

#endif
