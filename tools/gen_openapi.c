/* gen_openapi.c -- writes openapi.yaml's per-op parts from the op registry.
 *
 * openapi.yaml is written by hand except for the regions between
 *
 *     # >>> generated: NAME
 *     # <<< generated: NAME
 *
 * which this program fills from the same document GET /v1/ops serves
 * (up_ops_document(), built from kernels/registry.c), so an op's paths,
 * params, inputs, outputs, dtypes and enums are written once, in the
 * registry. Regions:
 *
 *   op paths    POST /v1/ops/<op> and POST /v2/models/<op>/infer, one path
 *               item per op: each body has its own schema, so a validator
 *               never has to guess the op from the body (a oneOf over
 *               per-op schemas overlaps: the seed's max_pool body is also a
 *               valid nearest_unpool body).
 *   op names    the enum of the {op} path parameter.
 *   op schemas  per op: <Op>Params, <Op>Inputs, <Op>Request, <Op>Response,
 *               <Op>KServeParameters, <Op>InferRequest and its input and
 *               output items; per input kind: <Kind>Tensor.
 *   version     info.version: UP_VERSION (api/api.h), the one place the
 *               version number is written.
 *
 * The hand-written rest (shared tensor, param and error schemas, examples)
 * is referenced by name. An example in components/examples whose name
 * starts with an op's CamelCase name (MaxPoolSeed) is listed under that
 * op's request body.
 *
 *   gen_openapi openapi.yaml          the regenerated file on stdout
 *   gen_openapi -w openapi.yaml       rewrite it in place (`make openapi`)
 *   gen_openapi --check openapi.yaml  exit 1, naming the first line that
 *                                     differs, when it is not up to date */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/api.h"

#define KEY_NAMES "      propertyNames: {$ref: '#/components/schemas/JsonKey'}\n"

typedef struct out {
    char *data;
    size_t len, cap;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->data ? o->data + o->len : NULL, o->data ? o->cap - o->len : 0, fmt,
                          ap);
        va_end(ap);
        if (n < 0) abort();
        if (o->data && o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        o->cap = (o->cap + (size_t)n + 1) * 2;
        if (!(o->data = realloc(o->data, o->cap))) abort();
    }
}

/* ---- names and text ------------------------------------------------------ */

/* max_unpool -> MaxUnpool */
static const char *camel(const char *name)
{
    static char buf[4][96];
    static int k;
    char *b = buf[k++ & 3], *w = b;
    int up = 1;
    for (const char *p = name; *p && w < b + sizeof(buf[0]) - 1; p++) {
        if (*p == '_') {
            up = 1;
            continue;
        }
        *w++ = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        up = 0;
    }
    *w = '\0';
    return b;
}

/* A YAML single-quoted scalar. */
static const char *sq(const char *s)
{
    static char buf[4][1024];
    static int k;
    char *b = buf[k++ & 3], *w = b;
    *w++ = '\'';
    for (; *s && w < b + sizeof(buf[0]) - 3; s++) {
        if (*s == '\'') *w++ = '\'';
        *w++ = *s;
    }
    *w++ = '\'';
    *w = '\0';
    return b;
}

static const char *str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? s : "";
}

static const cJSON *item(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* [a, b, c] from a JSON array of strings */
static void flow_list(out *o, const cJSON *a)
{
    const cJSON *e;
    int first = 1;
    put(o, "[");
    cJSON_ArrayForEach(e, a) {
        put(o, "%s%s", first ? "" : ", ", e->valuestring);
        first = 0;
    }
    put(o, "]");
}

/* ---- schemas of params ---------------------------------------------------- */

static const char *param_schema(const char *type)
{
    if (!strcmp(type, "int")) return "IntParam";
    if (!strcmp(type, "bool")) return "BoolParam";
    if (!strcmp(type, "spatial_int")) return "SpatialIntParam";
    if (!strcmp(type, "size")) return "SizeParam";
    if (!strcmp(type, "spatial_float")) return "SpatialFloatParam";
    if (!strcmp(type, "float")) return "FloatParam";
    if (!strcmp(type, "floats")) return "FloatListParam";
    if (!strcmp(type, "ints")) return "IntListParam";
    if (!strcmp(type, "pads")) return "PadsParam";
    return NULL; /* enum: inline */
}

static const char *param_text_schema(const char *type)
{
    if (!strcmp(type, "int")) return "IntText";
    if (!strcmp(type, "bool")) return "BoolText";
    if (!strcmp(type, "spatial_int")) return "SpatialIntText";
    if (!strcmp(type, "size")) return "SizeText";
    if (!strcmp(type, "spatial_float")) return "SpatialFloatText";
    if (!strcmp(type, "float")) return "FloatText";
    if (!strcmp(type, "floats")) return "FloatListText";
    if (!strcmp(type, "ints")) return "IntListText";
    if (!strcmp(type, "pads")) return "PadsText";
    return NULL;
}

/* An enum's spellings: every choice, and with '-' for '_' (the server
 * reads them the same). */
static void enum_spellings(out *o, const cJSON *choices)
{
    const cJSON *e;
    int first = 1;
    put(o, "[");
    cJSON_ArrayForEach(e, choices) {
        put(o, "%s%s", first ? "" : ", ", e->valuestring);
        first = 0;
    }
    cJSON_ArrayForEach(e, choices) {
        if (!strchr(e->valuestring, '_')) continue;
        char alt[96];
        snprintf(alt, sizeof(alt), "%s", e->valuestring);
        for (char *p = alt; *p; p++)
            if (*p == '_') *p = '-';
        put(o, ", %s", alt);
    }
    put(o, "]");
}

static void param_doc_text(char *buf, size_t cap, const cJSON *p)
{
    const cJSON *def = item(p, "default");
    const char *from = str(p, "default_from");
    size_t n = (size_t)snprintf(buf, cap, "%s", str(p, "doc"));
    if (*from)
        snprintf(buf + n, cap - n, " (default: same as %s)", from);
    else if (cJSON_IsNumber(def))
        snprintf(buf + n, cap - n, " (default: %g)", def->valuedouble);
    else if (cJSON_IsBool(def))
        snprintf(buf + n, cap - n, " (default: %s)", cJSON_IsTrue(def) ? "true" : "false");
    else if (cJSON_IsString(def))
        snprintf(buf + n, cap - n, " (default: %s)", def->valuestring);
}

/* One param as a property of a JSON params object (ind = its indent). */
static void param_property(out *o, const char *ind, const cJSON *p)
{
    char doc[512];
    const char *ref = param_schema(str(p, "type"));
    param_doc_text(doc, sizeof(doc), p);
    put(o, "%s%s:\n", ind, str(p, "name"));
    if (ref) {
        put(o, "%s  $ref: '#/components/schemas/%s'\n", ind, ref);
    } else {
        put(o, "%s  anyOf:\n%s    - type: string\n%s      enum: ", ind, ind, ind);
        enum_spellings(o, item(p, "choices"));
        put(o, "\n%s    - type: 'null'\n", ind);
    }
    put(o, "%s  description: %s\n", ind, sq(doc));
}

/* One param as a query parameter (text, as in a query string). */
static void param_query(out *o, const char *ind, const cJSON *p)
{
    char doc[512];
    const char *ref = param_text_schema(str(p, "type"));
    param_doc_text(doc, sizeof(doc), p);
    put(o, "%s- name: %s\n%s  in: query\n%s  required: false\n", ind, str(p, "name"), ind, ind);
    put(o, "%s  description: %s\n", ind, sq(doc));
    if (ref) {
        put(o, "%s  schema: {$ref: '#/components/schemas/%s'}\n", ind, ref);
    } else {
        put(o, "%s  schema:\n%s    type: string\n%s    enum: ", ind, ind, ind);
        enum_spellings(o, item(p, "choices"));
        put(o, "\n");
    }
}

/* ---- region: op paths -------------------------------------------------------- */

static const char *const v1_errors[][2] = {
    {"400", "BadRequest"}, {"401", "Unauthorized"}, {"404", "NotFound"},
    {"405", "MethodNotAllowed"}, {"406", "NotAcceptable"}, {"413", "TooLarge"},
    {"415", "UnsupportedMediaType"}, {"422", "Unprocessable"}, {"503", "Overloaded"},
    {"504", "DeadlinePassed"},
};

/* The examples of op `Camel`: keys of components/examples (indent 4
 * under "  examples:") named "<Camel>_<anything>". */
static void list_examples(out *o, const char *ind, const char *tmpl, const char *Camel)
{
    const char *p = strstr(tmpl, "\n  examples:\n"), *nl;
    size_t n = strlen(Camel);
    int any = 0;
    if (!p) return;
    /* the section's lines: blank, or indented past "  " */
    for (p += 13; *p == '\n' || !strncmp(p, "   ", 3); p = nl + 1) {
        const char *key = p + 4, *colon;
        if (!(nl = strchr(p, '\n'))) break;
        if (*p == '\n' || nl - p < 5 || key[-1] != ' ' || key[0] == ' ' ||
            !(colon = memchr(key, ':', (size_t)(nl - key))) || strncmp(key, Camel, n) ||
            key[n] != '_')
            continue;
        if (!any) put(o, "%sexamples:\n", ind);
        any = 1;
        put(o, "%s  %.*s: {$ref: '#/components/examples/%.*s'}\n", ind, (int)(colon - key), key,
            (int)(colon - key), key);
    }
}

static void v1_path(out *o, const cJSON *op, const char *tmpl)
{
    const char *name = str(op, "name"), *C = camel(name);
    const cJSON *e;
    put(o, "  /v1/ops/%s:\n    post:\n      tags: [ops]\n      operationId: run%s\n", name, C);
    put(o, "      summary: %s\n", sq(str(op, "summary")));
    put(o, "      description: >-\n        %s. Inputs and params as in GET /v1/ops; the body is "
           "JSON, .npy or\n        safetensors (see the `ops` tag).\n",
        str(op, "semantics"));
    put(o, "      parameters:\n");
    put(o, "        - $ref: '#/components/parameters/RequestId'\n");
    put(o, "        - $ref: '#/components/parameters/RequestTimeout'\n");
    put(o, "        - $ref: '#/components/parameters/OutputFormatQuery'\n");
    put(o, "        - name: output\n          in: query\n          required: false\n");
    put(o, "          description: 'for an application/x-npy answer, the output to send "
           "(default: %s)'\n",
        str(cJSON_GetArrayItem(item(op, "outputs"), 0), "name"));
    put(o, "          schema:\n            type: string\n            enum: [");
    int first = 1;
    cJSON_ArrayForEach(e, item(op, "outputs")) {
        put(o, "%s%s", first ? "" : ", ", str(e, "name"));
        first = 0;
    }
    put(o, "]\n");
    cJSON_ArrayForEach(e, item(op, "params")) param_query(o, "        ", e);
    put(o, "      requestBody:\n        required: true\n        content:\n");
    put(o, "          application/json:\n            schema: {$ref: '#/components/schemas/%sRequest'}\n",
        C);
    list_examples(o, "            ", tmpl, C);
    put(o, "          application/x-npy:\n            schema: {$ref: '#/components/schemas/NpyBody'}\n");
    put(o, "          application/x-safetensors:\n"
           "            schema: {$ref: '#/components/schemas/SafetensorsBody'}\n");
    put(o, "      responses:\n        '200':\n          description: the outputs\n");
    put(o, "          headers:\n"
           "            X-Request-Id: {$ref: '#/components/headers/XRequestId'}\n"
           "            Server-Timing: {$ref: '#/components/headers/ServerTiming'}\n");
    put(o, "          content:\n            application/json:\n"
           "              schema: {$ref: '#/components/schemas/%sResponse'}\n", C);
    put(o, "            application/x-npy:\n              schema: {$ref: '#/components/schemas/NpyBody'}\n");
    put(o, "            application/x-safetensors:\n"
           "              schema: {$ref: '#/components/schemas/SafetensorsBody'}\n");
    for (size_t k = 0; k < sizeof(v1_errors) / sizeof(v1_errors[0]); k++)
        put(o, "        '%s': {$ref: '#/components/responses/%s'}\n", v1_errors[k][0],
            v1_errors[k][1]);
}

static void v2_path(out *o, const cJSON *op, const char *tmpl)
{
    const char *name = str(op, "name"), *C = camel(name);
    put(o, "  /v2/models/%s/infer:\n    post:\n      tags: [kserve]\n      operationId: infer%s\n",
        name, C);
    put(o, "      summary: %s\n", sq(str(op, "summary")));
    put(o, "      description: >-\n        %s through the KServe v2 protocol: op params in the "
           "request's parameters (see the `kserve` tag).\n",
        str(op, "semantics"));
    put(o, "      parameters:\n");
    put(o, "        - $ref: '#/components/parameters/RequestId'\n");
    put(o, "        - $ref: '#/components/parameters/RequestTimeout'\n");
    put(o, "        - $ref: '#/components/parameters/InferenceHeaderContentLength'\n");
    put(o, "      requestBody:\n        required: true\n        content:\n");
    put(o, "          application/json:\n"
           "            schema: {$ref: '#/components/schemas/%sInferRequest'}\n", C);
    char infer[128];
    snprintf(infer, sizeof(infer), "%sInfer", C);
    list_examples(o, "            ", tmpl, infer);
    put(o, "          application/octet-stream:\n"
           "            schema: {$ref: '#/components/schemas/KServeBinaryBody'}\n");
    put(o, "      responses:\n        '200':\n          description: the outputs\n");
    put(o, "          headers:\n"
           "            X-Request-Id: {$ref: '#/components/headers/XRequestId'}\n"
           "            Server-Timing: {$ref: '#/components/headers/ServerTiming'}\n");
    put(o, "          content:\n            application/json:\n"
           "              schema: {$ref: '#/components/schemas/KServeInferResponse'}\n");
    put(o, "            application/octet-stream:\n"
           "              schema: {$ref: '#/components/schemas/KServeBinaryBody'}\n");
    for (size_t k = 0; k < sizeof(v1_errors) / sizeof(v1_errors[0]); k++)
        put(o, "        '%s': {$ref: '#/components/responses/KServeError'}\n", v1_errors[k][0]);
}

static void region_paths(out *o, const cJSON *ops, const char *tmpl)
{
    const cJSON *op;
    cJSON_ArrayForEach(op, ops) {
        v1_path(o, op, tmpl);
        v2_path(o, op, tmpl);
    }
}

/* ---- region: op names -------------------------------------------------------- */

static void region_names(out *o, const char *ind, const cJSON *ops)
{
    const cJSON *op;
    int first = 1;
    put(o, "%senum: [", ind);
    cJSON_ArrayForEach(op, ops) {
        put(o, "%s%s", first ? "" : ", ", str(op, "name"));
        first = 0;
    }
    put(o, "]\n");
}

/* ---- region: op schemas ------------------------------------------------------ */

/* The schema an input's tensor refers to: one per kind, except that the
 * values of an op that takes integer images (its dtypes list uint8) get
 * their own, image_values, so every other op's x keeps the float list. */
static const char *tensor_key(const cJSON *in)
{
    const cJSON *d;
    const char *kind = str(in, "kind");
    if (strcmp(kind, "values") != 0) return kind;
    cJSON_ArrayForEach(d, item(in, "dtypes"))
        if (cJSON_IsString(d) && !strcmp(d->valuestring, "uint8")) return "image_values";
    return kind;
}

static void kind_tensors(out *o, const cJSON *ops)
{
    const char *seen[16];
    int n = 0;
    const cJSON *op, *in;
    cJSON_ArrayForEach(op, ops) cJSON_ArrayForEach(in, item(op, "inputs")) {
        const char *kind = str(in, "kind"), *key = tensor_key(in);
        int k = 0;
        while (k < n && strcmp(seen[k], key)) k++;
        if (k < n || n == 16) continue;
        seen[n++] = key;
        put(o, "    %sTensor:\n      description: a tensor of kind %s (dtypes ", camel(key),
            kind);
        flow_list(o, item(in, "dtypes"));
        put(o, ")\n      allOf:\n        - $ref: '#/components/schemas/Tensor'\n");
        put(o, "        - properties:\n            dtype:\n              enum: ");
        flow_list(o, item(in, "dtypes"));
        put(o, "\n");
    }
}

static void op_schemas(out *o, const cJSON *op)
{
    const char *name = str(op, "name"), *C = camel(name);
    const cJSON *e, *dims = item(op, "spatial_dims");
    int first;
    /* params */
    put(o, "    %sParams:\n      type: object\n", C);
    char d[512];
    snprintf(d, sizeof(d), "params of %s (%s). Unknown names are a 422; so is a value that does "
             "not fit the op (a window larger than the input, ...).", name, str(op, "semantics"));
    put(o, "      description: %s\n", sq(d));
    put(o, "      additionalProperties: false\n      properties:\n");
    cJSON_ArrayForEach(e, item(op, "params")) param_property(o, "        ", e);
    /* inputs */
    put(o, "    %sInputs:\n      type: object\n      additionalProperties: false\n", C);
    put(o, "      required: [");
    first = 1;
    cJSON_ArrayForEach(e, item(op, "inputs")) {
        if (!cJSON_IsTrue(item(e, "required"))) continue;
        put(o, "%s%s", first ? "" : ", ", str(e, "name"));
        first = 0;
    }
    put(o, "]\n      properties:\n");
    cJSON_ArrayForEach(e, item(op, "inputs")) {
        put(o, "        %s:\n          $ref: '#/components/schemas/%sTensor'\n", str(e, "name"),
            camel(tensor_key(e)));
        put(o, "          description: %s\n", sq(str(e, "doc")));
    }
    /* request */
    put(o, "    %sRequest:\n      type: object\n", C);
    put(o, "      description: 'the JSON body of POST /v1/ops/%s; x has %d to %d spatial dims'\n",
        name, cJSON_GetArrayItem(dims, 0)->valueint,
        cJSON_GetArrayItem(dims, cJSON_GetArraySize(dims) - 1)->valueint);
    put(o, "      additionalProperties: false\n      required: [inputs]\n      properties:\n");
    put(o, "        inputs: {$ref: '#/components/schemas/%sInputs'}\n", C);
    put(o, "        params: {$ref: '#/components/schemas/%sParams'}\n", C);
    put(o, "        output_format: {$ref: '#/components/schemas/OutputFormat'}\n");
    put(o, "        outputs: {$ref: '#/components/schemas/ShmOutputs'}\n");
    /* response */
    put(o, "    %sResponse:\n      type: object\n      required: [op, request_id, outputs, timing]\n",
        C);
    put(o, "      properties:\n        op: {const: %s}\n        request_id: {type: string}\n", name);
    put(o, "        outputs:\n          type: object\n          additionalProperties: false\n");
    put(o, "          required: [");
    first = 1;
    cJSON_ArrayForEach(e, item(op, "outputs")) {
        put(o, "%s%s", first ? "" : ", ", str(e, "name"));
        first = 0;
    }
    put(o, "]\n          properties:\n");
    cJSON_ArrayForEach(e, item(op, "outputs")) {
        put(o, "            %s:\n              $ref: '#/components/schemas/OutputTensor'\n",
            str(e, "name"));
        put(o, "              description: %s\n", sq(str(e, "doc")));
    }
    put(o, "        timing: {$ref: '#/components/schemas/Timing'}\n");
    /* KServe */
    put(o, "    %sKServeParameters:\n      type: object\n", C);
    put(o, "      description: 'the op params of %s, and the KServe request parameters "
           "unpoold reads'\n", name);
    put(o, "      additionalProperties: false\n      properties:\n");
    cJSON_ArrayForEach(e, item(op, "params")) param_property(o, "        ", e);
    put(o, "        binary_data_output: {type: boolean, description: 'answer every output as "
           "binary tensor data'}\n");
    put(o, "        priority: {type: number, description: 'accepted and ignored'}\n");
    put(o, "        timeout: {type: number, description: 'accepted and ignored (X-Request-Timeout-Ms "
           "sets the deadline)'}\n");
    /* KServe objects take unknown keys (the protocol has extension
     * fields), but no key may hold \u0000 (the parser refuses it): JsonKey */
    put(o, "    %sKServeInput:\n      type: object\n      required: [name, shape, datatype, data]\n",
        C);
    put(o, "%s", KEY_NAMES);
    put(o, "      properties:\n        name:\n          type: string\n          enum: [");
    first = 1;
    cJSON_ArrayForEach(e, item(op, "inputs")) {
        put(o, "%s%s", first ? "" : ", ", str(e, "name"));
        first = 0;
    }
    put(o, "]\n        shape: {$ref: '#/components/schemas/KServeShape'}\n");
    put(o, "        datatype: {$ref: '#/components/schemas/KServeDatatype'}\n");
    put(o, "        parameters: {$ref: '#/components/schemas/KServeInputParameters'}\n");
    put(o, "        data: {$ref: '#/components/schemas/NestedList'}\n");
    put(o, "    %sKServeOutput:\n      type: object\n      required: [name]\n", C);
    put(o, "%s", KEY_NAMES);
    put(o, "      properties:\n        name:\n          type: string\n          enum: [");
    first = 1;
    cJSON_ArrayForEach(e, item(op, "outputs")) {
        put(o, "%s%s", first ? "" : ", ", str(e, "name"));
        first = 0;
    }
    put(o, "]\n        parameters: {$ref: '#/components/schemas/KServeOutputParameters'}\n");
    put(o, "    %sInferRequest:\n      type: object\n      required: [inputs]\n", C);
    put(o, "%s", KEY_NAMES);
    put(o, "      description: 'the JSON body of POST /v2/models/%s/infer'\n", name);
    put(o, "      properties:\n        id: {$ref: '#/components/schemas/KServeId'}\n");
    put(o, "        parameters: {$ref: '#/components/schemas/%sKServeParameters'}\n", C);
    put(o, "        inputs:\n          type: array\n          minItems: 1\n"
           "          items: {$ref: '#/components/schemas/%sKServeInput'}\n", C);
    put(o, "        outputs:\n          type: array\n"
           "          items: {$ref: '#/components/schemas/%sKServeOutput'}\n", C);
}

static void region_schemas(out *o, const cJSON *ops)
{
    const cJSON *op;
    kind_tensors(o, ops);
    cJSON_ArrayForEach(op, ops) op_schemas(o, op);
}

/* ---- the template ------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = malloc((size_t)n + 1)) && fread(b, 1, (size_t)n, f) == (size_t)n) {
        b[n] = '\0';
        *len = (size_t)n;
    } else {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

/* The template with every region refilled; NULL (and a message) when a
 * region's markers are missing. */
static char *render(const char *tmpl, const cJSON *ops)
{
    static const char *const names[] = {"op paths", "op names", "op schemas", "version"};
    enum { N_REGIONS = sizeof(names) / sizeof(names[0]) };
    out o = {0};
    const char *p = tmpl;
    int done[N_REGIONS] = {0};
    put(&o, "%s", "");
    for (;;) {
        const char *b = strstr(p, "# >>> generated: "), *line, *nl, *end;
        char name[64], endmark[96];
        int r;
        if (!b) break;
        line = b;
        while (line > tmpl && line[-1] != '\n') line--;
        nl = strchr(b, '\n');
        if (!nl) break;
        snprintf(name, sizeof(name), "%.*s", (int)(nl - b - 17), b + 17);
        for (r = 0; r < N_REGIONS && strcmp(names[r], name); r++) {}
        if (r == N_REGIONS) {
            fprintf(stderr, "gen_openapi: unknown region \"%s\"\n", name);
            return NULL;
        }
        snprintf(endmark, sizeof(endmark), "# <<< generated: %s\n", name);
        end = strstr(nl, endmark);
        if (!end) {
            fprintf(stderr, "gen_openapi: region \"%s\" has no end marker\n", name);
            return NULL;
        }
        while (end > nl && end[-1] != '\n') end--; /* start of the end marker's line */
        put(&o, "%.*s", (int)(nl + 1 - p), p);
        char ind[32];
        snprintf(ind, sizeof(ind), "%.*s", (int)(b - line), line);
        if (r == 0) region_paths(&o, ops, tmpl);
        else if (r == 1) region_names(&o, ind, ops);
        else if (r == 2) region_schemas(&o, ops);
        else put(&o, "%sversion: %s\n", ind, UP_VERSION);
        done[r] = 1;
        p = end;
    }
    put(&o, "%s", p);
    for (int r = 0; r < N_REGIONS; r++)
        if (!done[r]) {
            fprintf(stderr, "gen_openapi: region \"%s\" is missing\n", names[r]);
            free(o.data);
            return NULL;
        }
    return o.data;
}

static int first_difference(const char *a, const char *b)
{
    int line = 1;
    for (; *a && *a == *b; a++, b++)
        if (*a == '\n') line++;
    return *a == *b ? 0 : line;
}

int main(int argc, char **argv)
{
    int check = argc == 3 && !strcmp(argv[1], "--check");
    int write = argc == 3 && !strcmp(argv[1], "-w");
    const char *path = argv[argc - 1];
    size_t len = 0;
    up_http_resp doc;
    char *tmpl, *text;
    cJSON *root;
    if (argc != 2 && !check && !write) {
        fprintf(stderr, "usage: gen_openapi [--check | -w] openapi.yaml\n");
        return 2;
    }
    if (!(tmpl = read_file(path, &len))) {
        perror(path);
        return 2;
    }
    up_http_resp_init(&doc);
    if (up_ops_document(&doc) < 0 || !(root = cJSON_ParseWithLength(doc.body.data, doc.body.len)))
        return 2;
    text = render(tmpl, item(root, "ops"));
    if (!text) return 2;
    if (check) {
        int line = first_difference(tmpl, text);
        if (line) {
            fprintf(stderr, "%s is not what the registry generates (first difference at line %d);"
                            " run `make openapi`\n", path, line);
            return 1;
        }
        printf("%s matches the registry\n", path);
    } else if (write) {
        FILE *f = fopen(path, "wb");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
            perror(path);
            return 2;
        }
    } else {
        fputs(text, stdout);
    }
    free(text);
    free(tmpl);
    cJSON_Delete(root);
    up_http_resp_free(&doc);
    return 0;
}
