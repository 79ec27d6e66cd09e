/* budget.c -- the bytes-in-flight counter (see budget.h). */
#include <stdatomic.h>

#include "budget.h"

static atomic_int_fast64_t used;
static int64_t cap = INT64_MAX;

void up_budget_init(int64_t cap_bytes) { cap = cap_bytes > 0 ? cap_bytes : INT64_MAX; }

int up_budget_take(int64_t n, int64_t held)
{
    int_fast64_t cur = atomic_load(&used);
    if (n <= 0) return 0;
    for (;;) {
        int fits = cur <= cap - n || cur == held;
        if (!fits) return -1;
        if (atomic_compare_exchange_weak(&used, &cur, cur + n)) return 0;
    }
}

void up_budget_force(int64_t n)
{
    if (n > 0) atomic_fetch_add(&used, n);
}

void up_budget_give(int64_t n)
{
    if (n > 0) atomic_fetch_sub(&used, n);
}

int64_t up_budget_used(void) { return atomic_load(&used); }
int64_t up_budget_cap(void) { return cap; }
