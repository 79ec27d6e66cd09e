/* plan_builder.h -- build a plan by hand in C tests, without any wire
 * format: set params by name, attach inputs by name. Used by the validation
 * and kernel unit tests. Tensors given to tb_input are copied (owned by the
 * plan and freed by up_plan_free). */
#ifndef UP_PLAN_BUILDER_H
#define UP_PLAN_BUILDER_H

#include "kernels/op.h"

void tb_ints(up_plan *p, const char *name, int n, const int64_t *v);
void tb_int(up_plan *p, const char *name, int64_t v);     /* INT, BOOL, SPATIAL_INT */
void tb_floats(up_plan *p, const char *name, int n, const double *v);
void tb_enum(up_plan *p, const char *name, const char *choice);
/* data may be NULL: zero-filled. */
void tb_input(up_plan *p, const char *name, up_dtype dt, int rank, const int64_t *shape,
              const void *data);
/* Does err name field (exact match of one item's field)? */
int tb_err_has_field(const up_error *err, const char *field);
/* Prepare p, poison its first output (0xff bytes: an element the kernel
 * skips shows up as NaN), run its units in one chunk or (chunked) in
 * uneven chunks of 1, 2, 3 units, last chunk first, and finish. 0, or -1
 * with err filled. */
int tb_run_poisoned(up_plan *p, int chunked, up_error *err);

#endif
