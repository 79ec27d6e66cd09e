/* call.h -- what the decoder tests do around one up_call: split a query
 * string into the request's pairs, run a decoded plan in one piece as a
 * worker would, and check a refusal's kind and message. */
#ifndef UP_TEST_CALL_H
#define UP_TEST_CALL_H

#include <stddef.h>

#include "api/api.h"

/* "k=v&k=v" (NULL: none) into at most max pairs of kv, pointing into buf
 * (cap bytes, the query copied); a key without '=' gets the value "".
 * Returns how many pairs. */
int th_query_split(const char *query, char *buf, size_t cap, up_kv *kv, int max);
/* Run c's plan over all its work units, then finish it (faults into err). */
int th_call_run(up_call *c, up_error *err);
/* A decode that returned rc must have been refused with kind; its first
 * message must contain needle, when given. Fails the running case. */
void th_expect_refused(int rc, const up_error *err, up_err_kind kind, const char *needle);

#endif
