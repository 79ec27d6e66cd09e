/* ops_doc.c -- GET /v1/ops: every op, described from the registry.
 *
 *   {"ops": [{"name": "max_unpool", "path": "/v1/ops/max_unpool",
 *             "summary": "...", "semantics": "PyTorch max_unpool{1,2,3}d",
 *             "spatial_dims": [1, 2, 3],
 *             "inputs": [{"name": "x", "kind": "values", "required": true,
 *                         "dtypes": ["float32", ...], "doc": "..."}, ...],
 *             "outputs": [{"name": "y", "kind": "values", "dtypes": [...], "doc": "..."}],
 *             "params": [{"name": "stride", "type": "spatial_int", "default": null,
 *                         "default_from": "kernel_size", "doc": "..."}, ...],
 *             "dtypes": {"values": [...], "indices": [...]}}, ...]}
 *
 * The document is small, so it is built with cJSON. A param's "default" is
 * typed (number, list, bool or string) when the registry's default is a
 * literal; a default that names another param ("stride" defaults to
 * "kernel_size") is "default": null plus "default_from". An enum lists its
 * "choices" (the first is the default). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"

static const char *const value_dtypes[] = {"float32", "float64", "float16", "bfloat16", NULL};
static const char *const index_dtypes[] = {"int64", "int32", NULL};
/* Values of an op flagged UP_OPF_INT_IMAGES (op.h): integer images too. */
static const char *const image_dtypes[] = {"float32", "float64", "float16", "bfloat16",
                                           "int8", "uint8", NULL};
static const char *const mask_dtypes[] = {"float32", "float64", "float16", "bfloat16", "int64",
                                          "int32",   "int16",   "int8",    "uint8",    "bool",
                                          NULL};
static const char *const index_out_dtypes[] = {"int64", NULL};

static const char *kind_name(up_io_kind k)
{
    switch (k) {
    case UP_IO_VALUES: return "values";
    case UP_IO_INDICES: return "indices";
    case UP_IO_MASK: return "mask";
    case UP_IO_SAMPLES: return "samples";
    case UP_IO_WEIGHT: return "weight";
    case UP_IO_BIAS: return "bias";
    }
    return "values";
}

static const char *const *input_dtypes(up_io_kind k)
{
    if (k == UP_IO_INDICES) return index_dtypes;
    if (k == UP_IO_MASK) return mask_dtypes;
    return value_dtypes;
}

static const char *type_name(up_param_type t)
{
    switch (t) {
    case UP_P_INT: return "int";
    case UP_P_BOOL: return "bool";
    case UP_P_SPATIAL_INT: return "spatial_int";
    case UP_P_SIZE: return "size";
    case UP_P_SPATIAL_FLOAT: return "spatial_float";
    case UP_P_ENUM: return "enum";
    case UP_P_FLOAT: return "float";
    case UP_P_FLOATS: return "floats";
    case UP_P_INTS: return "ints";
    case UP_P_PADS: return "pads";
    }
    return "string";
}

static cJSON *string_list(const char *const *names)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && names[i]; i++) cJSON_AddItemToArray(a, cJSON_CreateString(names[i]));
    return a;
}

/* Is s a whole number literal (optionally negative)? */
static int is_number_text(const char *s)
{
    char *end;
    if (!s || !*s) return 0;
    strtod(s, &end);
    return *end == '\0';
}

static void add_default(cJSON *o, const up_param_def *d)
{
    const char *t = d->default_text;
    if (!t) {
        cJSON_AddNullToObject(o, "default");
    } else if (d->type == UP_P_BOOL && (!strcmp(t, "true") || !strcmp(t, "false"))) {
        cJSON_AddBoolToObject(o, "default", !strcmp(t, "true"));
    } else if (d->type == UP_P_ENUM) {
        cJSON_AddStringToObject(o, "default", t);
    } else if (is_number_text(t)) {
        cJSON_AddNumberToObject(o, "default", strtod(t, NULL));
    } else {
        /* a reference to another param, e.g. stride = kernel_size */
        cJSON_AddNullToObject(o, "default");
        cJSON_AddStringToObject(o, "default_from", t);
    }
}

static cJSON *param_doc(const up_param_def *d)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "type", type_name(d->type));
    add_default(o, d);
    if (d->type == UP_P_ENUM && d->choices) cJSON_AddItemToObject(o, "choices", string_list(d->choices));
    if (d->doc) cJSON_AddStringToObject(o, "doc", d->doc);
    return o;
}

/* The value dtypes of op: integer images where its flags say so. */
static const char *const *op_value_dtypes(const up_op_def *op)
{
    return (op->flags & UP_OPF_INT_IMAGES) ? image_dtypes : value_dtypes;
}

static cJSON *io_doc(const up_op_def *op, const up_io_def *d, int is_output)
{
    const char *const *values = op_value_dtypes(op);
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "kind", kind_name(d->kind));
    if (!is_output) cJSON_AddBoolToObject(o, "required", d->required);
    cJSON_AddItemToObject(o, "dtypes",
                          string_list(is_output ? (d->kind == UP_IO_INDICES ? index_out_dtypes
                                                                           : values)
                                      : d->kind == UP_IO_VALUES ? values
                                                                : input_dtypes(d->kind)));
    if (d->doc) cJSON_AddStringToObject(o, "doc", d->doc);
    return o;
}

static cJSON *op_doc(const up_op_def *op)
{
    char path[96];
    cJSON *o = cJSON_CreateObject(), *a, *dt;
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", op->name);
    snprintf(path, sizeof(path), "/v1/ops/%s", op->name);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "summary", op->summary);
    cJSON_AddStringToObject(o, "semantics", op->semantics);
    a = cJSON_AddArrayToObject(o, "spatial_dims");
    for (int d = op->min_spatial; a && d <= op->max_spatial; d++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(d));
    a = cJSON_AddArrayToObject(o, "inputs");
    for (int i = 0; a && i < op->n_inputs; i++) cJSON_AddItemToArray(a, io_doc(op, &op->inputs[i], 0));
    a = cJSON_AddArrayToObject(o, "outputs");
    for (int i = 0; a && i < op->n_outputs; i++)
        cJSON_AddItemToArray(a, io_doc(op, &op->outputs[i], 1));
    a = cJSON_AddArrayToObject(o, "params");
    for (int i = 0; a && i < op->n_params; i++) cJSON_AddItemToArray(a, param_doc(&op->params[i]));
    dt = cJSON_AddObjectToObject(o, "dtypes");
    if (dt) {
        cJSON_AddItemToObject(dt, "values", string_list(op_value_dtypes(op)));
        cJSON_AddItemToObject(dt, "indices", string_list(index_dtypes));
    }
    return o;
}

int up_ops_document(up_http_resp *resp)
{
    cJSON *root = cJSON_CreateObject(), *ops;
    char *text = NULL;
    int rc = -1;
    if (!root || !(ops = cJSON_AddArrayToObject(root, "ops"))) goto out;
    for (int i = 0; i < up_op_count(); i++) {
        cJSON *o = op_doc(up_op_at(i));
        if (!o) goto out;
        cJSON_AddItemToArray(ops, o);
    }
    if (!(text = cJSON_PrintUnformatted(root))) goto out;
    up_buf_free(&resp->body);
    if (up_buf_puts(&resp->body, text) < 0) goto out;
    resp->status = 200;
    resp->content_type = "application/json";
    rc = 0;
out:
    cJSON_free(text);
    cJSON_Delete(root);
    return rc;
}
