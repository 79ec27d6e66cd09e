/* budget.h -- the global memory budget: every byte a request holds, from
 * its body to its answer, is charged here before it is allocated.
 *
 * Every per-request limit (--max-body-mb, --max-elements) bounds one
 * request; a flood of them could still take all memory together. The
 * budget bounds the sum: a body is charged as its bytes arrive (never from
 * the Content-Length a client merely announces), and the decoders and the
 * plan charge parse state, converted inputs, tables, outputs and the answer
 * through the request's accountant (up_charge, kernels/op.h) before they
 * allocate. One atomic counter, no lock.
 *
 * Two refusals, told apart because a client must act differently:
 *   - a charge that would take the request past the whole budget can never
 *     succeed, however long the client waits: 413 (UP_E_TOO_LARGE);
 *   - a charge that does not fit only because other requests hold the
 *     budget now: 503 with Retry-After (UP_E_OVERLOADED).
 * There is no exemption for an idle daemon: a request larger than the
 * budget is refused even when nothing else is in flight, so the budget is
 * a real bound on memory (README "Running in production": peak RSS minus
 * idle RSS stays within --max-inflight-mb + 100 MiB).
 *
 * The big-buffer cache (kernels/bigbuf.c keeps freed tensor-sized blocks
 * mapped so the next request does not pay page faults) counts against the
 * budget too: a take that does not fit evicts cached blocks first. See
 * budget.c for why that was chosen over a smaller fixed cache. */
#ifndef UP_SRV_BUDGET_H
#define UP_SRV_BUDGET_H

#include <stdatomic.h>
#include <stdint.h>

#include "../kernels/error.h"
#include "../kernels/op.h"

enum { UP_BUDGET_OK = 0, UP_BUDGET_BUSY = -1, UP_BUDGET_NEVER = -2 };

void up_budget_init(int64_t cap_bytes);
/* Charge n bytes for a request that already holds `held`. UP_BUDGET_OK
 * (charged), UP_BUDGET_NEVER when held + n exceeds the whole budget, or
 * UP_BUDGET_BUSY when it does not fit now; nothing is charged on refusal. */
int up_budget_take(int64_t n, int64_t held);
/* Would n bytes fit now (cached blocks count as free)? Charges nothing:
 * for refusing a client that waits for "100 Continue" before it sends. */
int up_budget_fits_now(int64_t n);
/* Charge bytes that are already allocated (an error answer): never
 * refused, but it makes later takes see them. */
void up_budget_force(int64_t n);
void up_budget_give(int64_t n);
int64_t up_budget_used(void);
int64_t up_budget_cap(void);

/* A request's accounting: take n more bytes on top of *held (adding them
 * there), or return -1 with err filled (413 never fits / 503 busy, naming
 * `what`) and the refusal counted in the metrics. */
int up_budget_charge(atomic_int_fast64_t *held, int64_t n, const char *what, up_error *err);
/* Give back everything *held and zero it. */
void up_budget_release(atomic_int_fast64_t *held);
/* Move *held to exactly `keep` bytes (an answer whose real size is now
 * known): gives back the excess, forces a shortfall. */
void up_budget_hold_exactly(atomic_int_fast64_t *held, int64_t keep);

/* A plan's cost model is known and nothing of it is allocated yet: a
 * request holding `held` that will need `need` bytes more (the plan's
 * mem_bytes and its answer's bound) is refused now with 413 when that can
 * never fit the budget, before its tables and outputs are built only to
 * be freed. 0 when it can fit (nothing is charged). */
int up_budget_admit(int64_t held, int64_t need, up_error *err);

#endif
