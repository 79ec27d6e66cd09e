/* budget.h -- a memory accountant for tests: the up_charge hook
 * (kernels/op.h) over a plain counter with a limit, as the server's budget
 * behaves for one request. A refusal is UP_E_OVERLOADED with a message
 * starting "budget:", which tests look for to tell the hook's error from
 * a decoder's own. */
#ifndef UP_TEST_BUDGET_H
#define UP_TEST_BUDGET_H

#include <stdint.h>

#include "kernels/op.h"

typedef struct th_budget {
    int64_t used, limit; /* bytes taken so far; the most it gives */
    int calls, refusals; /* takes asked for; of them refused */
} th_budget;

int th_budget_take(void *ctx, int64_t bytes, const char *what, up_error *err);

static inline up_charge th_budget_charge(th_budget *b)
{
    return (up_charge){.take = th_budget_take, .ctx = b};
}

#endif
