/* fixture.h -- reading a test fixture file into memory, as the server
 * holds a request body: one malloc'd buffer, NUL-terminated (the NUL is
 * not counted in len). */
#ifndef UP_TEST_FIXTURE_H
#define UP_TEST_FIXTURE_H

#include <stddef.h>

typedef struct body {
    char *data;   /* NULL if the file could not be read */
    size_t len;
} body;

/* The whole file at path; prints the path when it cannot be read. */
body fixture_read(const char *path);
/* tests/fixtures/binary/<name> */
body fixture_load(const char *name);

#endif
