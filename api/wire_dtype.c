/* wire_dtype.c -- every wire spelling of every dtype, in one table.
 *
 * Each format names dtypes its own way: JSON bodies and GET /v1/ops use
 * NumPy's names ("float32", the kernels' up_dtype_name), .npy a descr
 * ("<f4": byte order, kind, size), safetensors "F32", KServe v2 "FP32".
 * One row per dtype keeps them from drifting: a dtype a format lacks is a
 * NULL (or 0) in that column, and every codec reads only this table. */
#include <stddef.h>
#include <string.h>

#include "codecs.h"

typedef struct wire_dtype {
    up_dtype dt;
    const char *kserve;      /* KServe v2 "datatype" */
    const char *safetensors; /* safetensors "dtype" */
    const char *npy;         /* .npy descr written; NULL: NumPy has none (bfloat16) */
    char npy_kind;           /* .npy descr read: kind and size; 0 none */
    int npy_size;
} wire_dtype;

static const wire_dtype table[] = {
    {UP_F32, "FP32", "F32", "<f4", 'f', 4},   {UP_F64, "FP64", "F64", "<f8", 'f', 8},
    {UP_F16, "FP16", "F16", "<f2", 'f', 2},   {UP_BF16, "BF16", "BF16", NULL, 0, 0},
    {UP_I64, "INT64", "I64", "<i8", 'i', 8},  {UP_I32, "INT32", "I32", "<i4", 'i', 4},
    {UP_I16, "INT16", "I16", "<i2", 'i', 2},  {UP_I8, "INT8", "I8", "|i1", 'i', 1},
    {UP_U8, "UINT8", "U8", "|u1", 'u', 1},    {UP_BOOL, "BOOL", "BOOL", "|b1", 'b', 1},
};

#define N_ROWS ((int)(sizeof(table) / sizeof(table[0])))
_Static_assert(sizeof(table) / sizeof(table[0]) == UP_DT_COUNT - 1,
               "wire_dtype.c: one row for every dtype of kernels/tensor.h");

/* A string column of the table, by its offset: every spelling is looked
 * up the same way, in either direction. */
#define COL(name) offsetof(wire_dtype, name)

static const char *cell(const wire_dtype *w, size_t col)
{
    return *(const char *const *)((const char *)w + col);
}

/* The dtype whose spelling in column col is s, or UP_DT_INVALID. */
static up_dtype dtype_named(size_t col, const char *s)
{
    for (int i = 0; s && i < N_ROWS; i++) {
        const char *c = cell(&table[i], col);
        if (c && strcmp(c, s) == 0) return table[i].dt;
    }
    return UP_DT_INVALID;
}

/* dt's spelling in column col, or NULL where the format has none. */
static const char *name_of(up_dtype dt, size_t col)
{
    for (int i = 0; i < N_ROWS; i++)
        if (table[i].dt == dt) return cell(&table[i], col);
    return NULL;
}

up_dtype up_wire_from_kserve(const char *s) { return dtype_named(COL(kserve), s); }
const char *up_wire_kserve(up_dtype dt) { return name_of(dt, COL(kserve)); }
up_dtype up_wire_from_safetensors(const char *s) { return dtype_named(COL(safetensors), s); }
const char *up_wire_safetensors(up_dtype dt) { return name_of(dt, COL(safetensors)); }
const char *up_wire_npy(up_dtype dt) { return name_of(dt, COL(npy)); }

/* A .npy descr is read as kind and size (npy.c handles its byte order). */
up_dtype up_wire_from_npy(char kind, int size)
{
    for (int i = 0; i < N_ROWS; i++)
        if (table[i].npy_kind && table[i].npy_kind == kind && table[i].npy_size == size)
            return table[i].dt;
    return UP_DT_INVALID;
}
