/* budget.h -- the global memory budget: bytes of request bodies, decoded
 * outputs and encoded answers in flight.
 *
 * Every per-request limit (--max-body-mb, --max-elements) bounds one
 * request; a flood of them could still take all memory together. The
 * budget bounds the sum: a body is charged before it is allocated (from
 * Content-Length, or as a chunked body grows), the outputs right after
 * decode, the answer until it is sent. A charge that does not fit is a 503
 * with Retry-After, so memory stays bounded whatever clients send at once.
 * One atomic counter, no lock. */
#ifndef UP_SRV_BUDGET_H
#define UP_SRV_BUDGET_H

#include <stdint.h>

void up_budget_init(int64_t cap_bytes);
/* Charge n bytes. held is what the caller already holds: when it is all
 * that is in flight, the charge is granted even over the cap, so a request
 * that alone exceeds the budget is not refused forever on an idle daemon.
 * 0 granted, -1 refused (nothing charged). */
int up_budget_take(int64_t n, int64_t held);
/* Charge bytes that are already allocated (an encoded answer): never
 * refused, but it makes later takes see them. */
void up_budget_force(int64_t n);
void up_budget_give(int64_t n);
int64_t up_budget_used(void);
int64_t up_budget_cap(void);

#endif
