/* error.h -- precise, layered errors without knowing about HTTP.
 *
 * Every layer reports what went wrong as a kind (what class of mistake) plus
 * one or more (field, message) pairs, e.g. ("params.kernel_size", "expected 2
 * values for a 2d input, got 3"). The kinds here are the ones the numeric
 * library itself can report; the transport's own kinds (wrong method, media
 * type, credentials, ...) are numbered from UP_E_LAYER_BASE by the api layer
 * (api/api.h), and api/problem.c alone maps every kind to a status and a
 * title, so kernels stay free of any transport. */
#ifndef UP_ERROR_H
#define UP_ERROR_H

#include <stddef.h>

typedef enum up_err_kind {
    UP_OK = 0,
    UP_E_MALFORMED,    /* syntax or wrong types of a value */
    UP_E_TOO_LARGE,    /* a tensor, output or scratch over a limit, or one
                          that can never fit the memory budget */
    UP_E_INVALID,      /* valid syntax, invalid meaning */
    UP_E_OVERLOADED,   /* memory budget busy, or out of memory: try later */
    UP_E_INTERNAL,     /* a bug */
    UP_E_LAYER_BASE    /* first kind of the layers above (api/api.h) */
} up_err_kind;

#define UP_ERR_MAX_ITEMS 8
#define UP_ERR_FIELD_LEN 96
#define UP_ERR_MSG_LEN 320

typedef struct up_err_item {
    char field[UP_ERR_FIELD_LEN];   /* "inputs.indices", "params.stride", "" */
    char message[UP_ERR_MSG_LEN];
} up_err_item;

typedef struct up_error {
    up_err_kind kind;
    int n;                          /* items used */
    up_err_item items[UP_ERR_MAX_ITEMS];
} up_error;

void up_error_clear(up_error *e);
/* Record one item (first call also sets the kind; later calls keep the
 * first kind). Always returns -1 so callers can `return up_errorf(...)`. */
int up_errorf(up_error *e, up_err_kind kind, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "prefix.name" into out (cap bytes, truncated, always terminated); returns
 * out. Field names are built for every input and param of every request,
 * error or not, so this is a copy rather than snprintf (~150 ns a call). */
char *up_field(char *out, size_t cap, const char *prefix, const char *name);

#endif
