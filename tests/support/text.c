/* text.c -- a growing C string (text.h). */
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void th_put(th_text *t, const char *s)
{
    size_t k = strlen(s);
    if (t->n + k + 1 > t->cap) {
        size_t cap = (t->n + k + 1) * 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            fprintf(stderr, "test: out of memory building a %zu-byte text\n", cap);
            abort();
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->n, s, k + 1);
    t->n += k;
}
