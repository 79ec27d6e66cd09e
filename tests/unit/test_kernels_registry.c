/* test_kernels_registry.c -- the op registry is enforced, not trusted.
 *
 *   - up_registry_check() passes on the real table;
 *   - every op is found by name at its up_op_id, and up_op_index() maps it
 *     back (metrics count by that index; a pointer outside the table is -1);
 *   - the slots of ops.h name the entries they claim to (a slot and the
 *     name of its table entry agree, for every op the kernels read);
 *   - a kernel reading a param through a slot outside its op's table, or
 *     through the accessor of another type, aborts instead of reading
 *     "unset": each misuse runs in a child process, which must die of
 *     SIGABRT. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/op.h"
#include "kernels/ops.h"
#include "tests/support/harness.h"

static void registry_check_passes(void)
{
    char msg[256] = "";
    CHECKF(up_registry_check(msg, sizeof(msg)) == 0, "%s", msg);
    CHECK(up_op_count() == UP_OP_COUNT);
}

static void op_ids_and_index(void)
{
    static const struct { int id; const char *name; } ops[] = {
        {UP_OP_MAX_UNPOOL, "max_unpool"},
        {UP_OP_NEAREST_UNPOOL, "nearest_unpool"},
        {UP_OP_FRACTIONAL_MAX_UNPOOL, "fractional_max_unpool"},
        {UP_OP_CONV_TRANSPOSE, "conv_transpose"},
        {UP_OP_MAX_POOL, "max_pool"},
        {UP_OP_FRACTIONAL_MAX_POOL, "fractional_max_pool"},
    };
    up_op_def fake;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        const up_op_def *op = up_op_find(ops[i].name);
        CHECKF(op && op == up_op_at(ops[i].id), "%s", ops[i].name);
        CHECKF(up_op_index(op) == ops[i].id, "%s", ops[i].name);
    }
    memset(&fake, 0, sizeof(fake));
    CHECK(up_op_index(&fake) == -1);
    CHECK(up_op_index(NULL) == -1);
    CHECK(up_op_at(UP_OP_COUNT) == NULL);
}

/* The slot says `name`: the table entry in that slot has that name. */
static int param_is(int op, int slot, const char *name)
{
    const up_op_def *d = up_op_at(op);
    return slot < d->n_params && strcmp(d->params[slot].name, name) == 0;
}
static int input_is(int op, int slot, const char *name)
{
    const up_op_def *d = up_op_at(op);
    return slot < d->n_inputs && strcmp(d->inputs[slot].name, name) == 0;
}

static void slots_name_their_entries(void)
{
    CHECK(input_is(UP_OP_MAX_UNPOOL, MAX_UNPOOL_IN_mask, "mask"));
    CHECK(input_is(UP_OP_MAX_UNPOOL, MAX_UNPOOL_IN_indices, "indices"));
    CHECK(input_is(UP_OP_CONV_TRANSPOSE, CONV_TRANSPOSE_IN_bias, "bias"));
    CHECK(input_is(UP_OP_FRACTIONAL_MAX_POOL, FMP_IN_samples, "samples"));
    CHECK(input_is(UP_OP_FRACTIONAL_MAX_UNPOOL, FMU_IN_indices, "indices"));
    CHECK(param_is(UP_OP_MAX_UNPOOL, MAX_UNPOOL_P_index_layout, "index_layout"));
    CHECK(param_is(UP_OP_MAX_POOL, MAX_POOL_P_ceil_mode, "ceil_mode"));
    CHECK(param_is(UP_OP_CONV_TRANSPOSE, CONV_TRANSPOSE_P_groups, "groups"));
    CHECK(param_is(UP_OP_FRACTIONAL_MAX_POOL, FMP_P_seed, "seed"));
    CHECK(param_is(UP_OP_FRACTIONAL_MAX_UNPOOL, FMU_P_coordinate_transform,
                   "coordinate_transform"));
    CHECK(param_is(UP_OP_NEAREST_UNPOOL, NEAREST_UNPOOL_P_mode, "mode"));
    CHECK(strcmp(up_op_at(UP_OP_MAX_POOL)->outputs[MAX_POOL_OUT_indices].name, "indices") == 0);
}

/* Runs fn(p) in a child; 1 if the child died of SIGABRT. */
static int aborts(void (*fn)(const up_plan *), const up_plan *p)
{
    int status;
    pid_t pid;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        /* the expected abort's message is the point, not noise: keep it off
         * the test's output */
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        fn(p);
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return 0;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void read_enum_out_of_range(const up_plan *p) { (void)up_param_enum(p, 99); }
static void read_enum_negative(const up_plan *p) { (void)up_param_enum(p, -1); }
static void read_spatial_as_enum(const up_plan *p) { (void)up_param_enum(p, MAX_POOL_P_stride); }
static void read_enum_as_int(const up_plan *p) { (void)up_param_int(p, MAX_POOL_P_layout, 0); }
static void read_set_out_of_range(const up_plan *p) { (void)up_plan_param_set(p, MAX_POOL_N_P); }
static void read_enum_ok(const up_plan *p) { (void)up_param_enum(p, MAX_POOL_P_index_layout); }

static void misuse_aborts(void)
{
    up_plan p;
    up_plan_init(&p, up_op_at(UP_OP_MAX_POOL));
    CHECK(aborts(read_enum_out_of_range, &p));
    CHECK(aborts(read_enum_negative, &p));
    CHECK(aborts(read_spatial_as_enum, &p));
    CHECK(aborts(read_enum_as_int, &p));
    CHECK(aborts(read_set_out_of_range, &p));
    /* and a right one does not: the checks above are not "always aborts" */
    CHECK(!aborts(read_enum_ok, &p));
    CHECK(up_param_enum(&p, MAX_POOL_P_index_layout) == 0);
    CHECK(up_param_int(&p, MAX_POOL_P_ceil_mode, 7) == 7);
    up_plan_free(&p);
}

int main(void)
{
    RUN(registry_check_passes);
    RUN(op_ids_and_index);
    RUN(slots_name_their_entries);
    RUN(misuse_aborts);
    return th_summary();
}
