/* budget.c -- the tests' memory accountant (budget.h). */
#include "budget.h"

int th_budget_take(void *ctx, int64_t bytes, const char *what, up_error *err)
{
    th_budget *b = ctx;
    b->calls++;
    if (bytes > b->limit - b->used) {
        b->refusals++;
        return up_errorf(err, UP_E_OVERLOADED, "", "budget: %s wants %lld bytes", what,
                         (long long)bytes);
    }
    b->used += bytes;
    return 0;
}
