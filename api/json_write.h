/* json_write.h -- writing JSON text straight into an up_buf.
 *
 * Responses are written as text, not built as a cJSON tree first: an
 * output can hold millions of numbers, and a tree node per number would
 * cost more memory and time than the kernel. Strings that may come from a
 * client (request ids, parameter names quoted in error messages) are
 * escaped, and bytes that are not valid UTF-8 become U+FFFD, so the answer
 * is always valid JSON whatever the request held. */
#ifndef UP_JSON_WRITE_H
#define UP_JSON_WRITE_H

#include "api.h"

/* "s" quoted and escaped; NULL writes null. */
int up_json_put_string(up_buf *b, const char *s);
/* "key": */
int up_json_put_key(up_buf *b, const char *key);

#endif
