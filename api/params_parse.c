/* params_parse.c -- op params from JSON values or from text, typed by the
 * registry.
 *
 * Every wire format ends here: JSON bodies give numbers and lists, query
 * strings and safetensors __metadata__ give text ("2,3"), KServe clients
 * give either. Parsing by the param's declared type in one place keeps the
 * formats from drifting apart. Unknown names are 422 (the request is
 * well-formed but means nothing to this op); wrong types are 400. JSON
 * lists of numbers come as span nodes (json_parse.c) or plain arrays, read
 * alike through up_json_numbers. Text is NUL-terminated: the JSON parser
 * refuses strings holding \u0000, and up_call_query refuses query values
 * whose received length runs past a NUL (%00), so no text here was cut
 * short. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codecs.h"

#define MAX_TEXT 256

static int param_slot(up_plan *p, const char *name, const char *prefix, char *field,
                      size_t cap, up_error *err)
{
    int i = up_op_param_index(p->op, name);
    up_field(field, cap, prefix ? prefix : "params", name);
    if (i < 0)
        return up_errorf(err, UP_E_INVALID, field, "unknown param %s for op %s", name,
                         p->op->name);
    return i;
}

/* Enum choice with '-' read as '_' ("nearest-exact" == "nearest_exact"). */
static int set_enum(up_plan *p, int i, const char *s, const char *field, up_error *err)
{
    const up_param_def *d = &p->op->params[i];
    char norm[64], list[256] = "";
    size_t n = strlen(s), len = 0;
    if (n >= sizeof(norm)) n = sizeof(norm) - 1;
    for (size_t k = 0; k < n; k++) norm[k] = s[k] == '-' ? '_' : s[k];
    norm[n] = '\0';
    for (int k = 0; d->choices[k]; k++) {
        if (strcmp(d->choices[k], norm) == 0) {
            p->params.v[i].set = 1;
            p->params.v[i].n = 1;
            p->params.v[i].choice = k;
            return 0;
        }
        len += (size_t)snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0, "%s%s",
                                k ? ", " : "", d->choices[k]);
    }
    return up_errorf(err, UP_E_INVALID, field, "%s must be one of %s, got \"%.64s\"", d->name,
                     list, s);
}

static int is_int_type(up_param_type t)
{
    return t == UP_P_INT || t == UP_P_SPATIAL_INT || t == UP_P_SIZE || t == UP_P_INTS ||
           t == UP_P_PADS;
}

static int max_count(up_param_type t)
{
    if (t == UP_P_INT || t == UP_P_BOOL || t == UP_P_FLOAT) return 1;
    return (t == UP_P_SIZE || t == UP_P_FLOATS || t == UP_P_INTS) ? UP_MAX_RANK
           : t == UP_P_PADS                                    ? UP_MAX_PARAM_VALUES
                                                               : UP_MAX_SPATIAL;
}

/* One number into slot k of param i, checking integrality for int types. */
static int set_number(up_plan *p, int i, int k, double v, const char *field, up_error *err)
{
    up_param_type t = p->op->params[i].type;
    up_param_value *pv = &p->params.v[i];
    if (!isfinite(v)) return up_errorf(err, UP_E_MALFORMED, field, "not a finite number");
    if (t == UP_P_BOOL) {
        if (v != 0 && v != 1) return up_errorf(err, UP_E_MALFORMED, field, "expected a boolean");
        pv->i[k] = (int64_t)v;
    } else if (is_int_type(t)) {
        /* integers are exact in a double up to 2^53 (I-JSON, RFC 7493);
         * past that a number could silently stand for its neighbour */
        if (v != floor(v) || fabs(v) > 9007199254740991.0)
            return up_errorf(err, UP_E_MALFORMED, field,
                             "expected an integer within +-(2^53 - 1), got %g", v);
        pv->i[k] = (int64_t)v;
    } else {
        pv->f[k] = v;
    }
    return 0;
}

int up_param_from_text(up_plan *p, const char *name, const char *text, const char *field_prefix,
                       up_error *err)
{
    char field[UP_ERR_FIELD_LEN], buf[MAX_TEXT], *s, *end;
    int i = param_slot(p, name, field_prefix, field, sizeof(field), err), n = 0;
    if (i < 0) return -1;
    const up_param_def *d = &p->op->params[i];
    if (strlen(text) >= sizeof(buf)) return up_errorf(err, UP_E_MALFORMED, field, "value too long");
    if (d->type == UP_P_ENUM) return set_enum(p, i, text, field, err);
    if (d->type == UP_P_BOOL) {
        int v = strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0   ? 1
                : strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0 ? 0 : -1;
        if (v < 0) return up_errorf(err, UP_E_MALFORMED, field, "expected true or false, got \"%s\"", text);
        p->params.v[i].i[0] = v;
        n = 1;
        goto done;
    }
    /* "2", "2,3", "[2, 3]" or "(2, 3)" */
    snprintf(buf, sizeof(buf), "%s", text);
    s = buf;
    while (*s == ' ') s++;
    if (*s == '[' || *s == '(') {
        char close = *s == '[' ? ']' : ')';
        size_t L = strlen(s);
        while (L > 1 && s[L - 1] == ' ') s[--L] = '\0';
        if (L < 2 || s[L - 1] != close) return up_errorf(err, UP_E_MALFORMED, field, "unbalanced list \"%s\"", text);
        s[L - 1] = '\0';
        s++;
    }
    for (;;) {
        double v;
        errno = 0;
        if (n >= max_count(d->type))
            return up_errorf(err, UP_E_MALFORMED, field, "at most %d values", max_count(d->type));
        v = strtod(s, &end);
        if (end == s || errno == ERANGE)
            return up_errorf(err, UP_E_MALFORMED, field, "expected a number or a list like 2,3; got \"%s\"", text);
        if (set_number(p, i, n, v, field, err) < 0) return -1;
        n++;
        s = end;
        while (*s == ' ') s++;
        if (*s == '\0') break;
        if (*s != ',') return up_errorf(err, UP_E_MALFORMED, field, "expected a number or a list like 2,3; got \"%s\"", text);
        s++;
    }
done:
    p->params.v[i].set = 1;
    p->params.v[i].n = n;
    return 0;
}

int up_param_from_json(up_plan *p, const char *name, const cJSON *v, const char *field_prefix,
                       up_error *err)
{
    char field[UP_ERR_FIELD_LEN];
    int i = param_slot(p, name, field_prefix, field, sizeof(field), err), n = 0;
    up_json_list l;
    if (i < 0) return -1;
    const up_param_def *d = &p->op->params[i];
    up_param_value *pv = &p->params.v[i];
    if (cJSON_IsNull(v)) { /* null is "not given", as None in PyTorch */
        memset(pv, 0, sizeof(*pv));
        return 0;
    }
    if (cJSON_IsString(v)) return up_param_from_text(p, name, v->valuestring, field_prefix, err);
    if (d->type == UP_P_ENUM)
        return up_errorf(err, UP_E_MALFORMED, field, "expected a string");
    if (d->type == UP_P_BOOL && cJSON_IsBool(v)) {
        pv->i[0] = cJSON_IsTrue(v);
        n = 1;
    } else if (cJSON_IsNumber(v)) {
        if (set_number(p, i, 0, v->valuedouble, field, err) < 0) return -1;
        n = 1;
    } else if ((cJSON_IsArray(v) || up_json_list_of(v, &l)) && d->type != UP_P_INT &&
               d->type != UP_P_BOOL && d->type != UP_P_FLOAT) {
        double vals[UP_MAX_PARAM_VALUES];
        n = up_json_numbers(v, vals, max_count(d->type));
        if (n == -2)
            return up_errorf(err, UP_E_MALFORMED, field, "at most %d values", max_count(d->type));
        if (n < 0) return up_errorf(err, UP_E_MALFORMED, field, "expected a list of numbers");
        if (n == 0) return up_errorf(err, UP_E_MALFORMED, field, "empty list");
        for (int k = 0; k < n; k++)
            if (set_number(p, i, k, vals[k], field, err) < 0) return -1;
    } else {
        return up_errorf(err, UP_E_MALFORMED, field, "wrong type for %s", d->name);
    }
    pv->set = 1;
    pv->n = n;
    return 0;
}
