/* text.h -- a growing C string for tests that build documents piece by
 * piece (random JSON, deep nesting). Out of memory aborts: a test has no
 * better answer. */
#ifndef UP_TEST_TEXT_H
#define UP_TEST_TEXT_H

#include <stddef.h>

typedef struct th_text {
    char *s;        /* terminated; free() it */
    size_t n, cap;
} th_text;

void th_put(th_text *t, const char *s);

#endif
