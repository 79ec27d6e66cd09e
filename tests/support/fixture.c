/* fixture.c -- see fixture.h. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>

body fixture_read(const char *path)
{
    body b = {0};
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) {
        printf("    cannot open %s\n", path);
        return b;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        b.data = malloc((size_t)n + 1);
        if (b.data && fread(b.data, 1, (size_t)n, f) == (size_t)n) {
            b.len = (size_t)n;
            b.data[n] = '\0';
        } else {
            free(b.data);
            b.data = NULL;
        }
    }
    fclose(f);
    return b;
}

body fixture_load(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "tests/fixtures/binary/%s", name);
    return fixture_read(path);
}
