/* codec_bench.c -- the wire codecs on one core: base64 and JSON number
 * lists, each against its reference measured in the same run.
 *
 *   b64_decode, b64_encode        unpoold (run-time chosen: AVX2 where the
 *                                 CPU has it) vs scalar (the portable code)
 *   json_list_decode_f32/_f64     a "[v,v,...]" body of N numbers parsed
 *                                 as the v1 decoder does (a LAZY span
 *                                 parse, then the numbers read, checked
 *                                 and converted into the typed array in
 *                                 one pass) vs strtod (a strtod loop over
 *                                 the same text: the exact reference)
 *   json_list_encode_f32/_f64     the answer's "data" list printed by
 *                                 up_json_put_values vs ref (the
 *                                 printf/strtod shortest search the
 *                                 printers are checked against)
 * The numbers are what a client sends: randn-like values, as the server
 * prints them (shortest round-trip), so decode reads 9-digit float32s and
 * 16-17 digit float64s.
 *
 * Repetitions are interleaved A B B A, so a load that drifts during the
 * run (the machine is shared) hits both sides alike; the row is the median
 * of the thread's CPU time per repetition.
 * MB/s counts the JSON text or the base64 text, both directions.
 *
 * Output, one line per row, for bench/report.py:
 *   codec <name> <impl> <MB_per_s>
 * Usage: codec_bench [-n numbers] [-b base64-MiB] [-r reps] [-c name-substring] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/codecs.h"
#include "api/numfmt.h"

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}
static double unit(void) { return (double)(next() >> 11) * 0x1p-53; }
/* roughly normal: the sum of four uniforms, centred */
static double randn(void) { return (unit() + unit() + unit() + unit() - 2.0) * 1.7; }

/* This thread's CPU time, not the wall clock: on a machine shared with
 * other work the process is descheduled at random, and the wall clock
 * would count that against whichever side was running. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One pair of implementations of one codec; run(impl) returns seconds. */
typedef struct pair {
    const char *name, *impl[2];
    double (*run)(int impl);
    double bytes;
} pair;

static void measure(const pair *p, int reps)
{
    double t[2][64];
    if (reps > 32) reps = 32;
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < 2; k++) { /* ABBA: the order flips every repetition */
            int which = r % 2 ? 1 - k : k;
            t[which][r] = p->run(which);
        }
    for (int k = 0; k < 2; k++)
        printf("codec\t%s\t%s\t%.1f\n", p->name, p->impl[k], p->bytes / median(t[k], reps) / 1e6);
    fflush(stdout);
}

/* ---- base64 ------------------------------------------------------------- */

static unsigned char *b64_raw, *b64_back;
static char *b64_text;
static size_t b64_n, b64_len;

static double run_b64_decode(int impl)
{
    double t0 = now();
    long long r = impl ? up_b64_decode_scalar(b64_text, b64_len, b64_back)
                       : up_b64_decode(b64_text, b64_len, b64_back);
    double t = now() - t0;
    if (r != (long long)b64_n || memcmp(b64_back, b64_raw, b64_n)) {
        fprintf(stderr, "codec_bench: b64 decode mismatch\n");
        exit(1);
    }
    return t;
}

static double run_b64_encode(int impl)
{
    double t0 = now();
    if (impl) up_b64_encode_scalar(b64_raw, b64_n, b64_text);
    else up_b64_encode(b64_raw, b64_n, b64_text);
    return now() - t0;
}

/* ---- JSON lists --------------------------------------------------------- */

static up_tensor list_t;        /* the values, float32 or float64 */
static char *list_text;         /* their JSON list */
static size_t list_len;
static void *list_out;          /* decoded values */
static int list_f64;

static void check_decoded(void)
{
    if (memcmp(list_out, list_t.data, up_tensor_nbytes(&list_t))) {
        fprintf(stderr, "codec_bench: JSON decode mismatch\n");
        exit(1);
    }
}

static double run_list_decode(int impl)
{
    memset(list_out, 0, up_tensor_nbytes(&list_t));
    double t0 = now();
    if (impl == 0) {
        up_json_fault f;
        up_json_list l;
        size_t at;
        cJSON *root = up_json_parse(list_text, list_len, 8,
                                    UP_JSON_SPANS | UP_JSON_STRICT | UP_JSON_LAZY, &f);
        if (!root || !up_json_list_of(root, &l) ||
            up_json_list_floats(&l, list_t.dtype, list_out) < 0 ||
            up_json_check_spans(root, list_text, &at) < 0) {
            fprintf(stderr, "codec_bench: JSON parse failed\n");
            exit(1);
        }
        up_json_document_free(root);
    } else {
        char *p = list_text + 1, *end;
        for (int64_t i = 0; i < list_t.shape[0]; i++, p = end + 1) {
            double d = strtod(p, &end);
            if (list_f64) ((double *)list_out)[i] = d;
            else ((float *)list_out)[i] = (float)d;
        }
    }
    double t = now() - t0;
    check_decoded();
    return t;
}

/* One answer buffer for every repetition, already faulted in: the rows
 * time the printer, not the kernel's page clearing. */
static up_buf enc_buf;

static double run_list_encode(int impl)
{
    up_buf b = enc_buf;
    int64_t n = list_t.shape[0];
    b.len = 0;
    double t0 = now();
    if (impl == 0) {
        up_json_put_values(&b, &list_t);
    } else { /* the same loop as json_encode.c's, with the reference printer */
        char *p = b.data;
        *p++ = '[';
        for (int64_t i = 0; i < n; i++) {
            p += list_f64 ? up_fmt_f64_ref(((double *)list_t.data)[i], p)
                          : up_fmt_f32_ref(((float *)list_t.data)[i], p);
            *p++ = ',';
        }
        p[-1] = ']';
        b.len = (size_t)(p - b.data);
    }
    double t = now() - t0;
    if (b.len != list_len || memcmp(b.data, list_text, list_len)) {
        fprintf(stderr, "codec_bench: JSON encode differs from the reference\n");
        exit(1);
    }
    enc_buf = b;
    return t;
}

static void list_setup(int64_t n, int f64)
{
    up_buf b;
    list_f64 = f64;
    memset(&list_t, 0, sizeof(list_t));
    list_t.dtype = f64 ? UP_F64 : UP_F32;
    list_t.rank = 1;
    list_t.shape[0] = n;
    list_t.data = malloc(up_tensor_nbytes(&list_t));
    list_out = malloc(up_tensor_nbytes(&list_t));
    for (int64_t i = 0; i < n; i++) {
        double v = randn();
        if (f64) ((double *)list_t.data)[i] = v;
        else ((float *)list_t.data)[i] = (float)v;
    }
    /* the text is the reference printer's, so encode checks against it */
    up_buf_init(&b);
    up_buf_append(&b, "[", 1);
    for (int64_t i = 0; i < n; i++) {
        char s[UP_NUMFMT_MAX];
        size_t k = f64 ? up_fmt_f64_ref(((double *)list_t.data)[i], s)
                       : up_fmt_f32_ref(((float *)list_t.data)[i], s);
        up_buf_append(&b, s, k);
        up_buf_append(&b, i + 1 < n ? "," : "]", 1);
    }
    up_buf_release(list_text);
    list_text = up_buf_steal(&b, &list_len);
}

static void list_teardown(void)
{
    up_buf_free(&enc_buf);
    free(list_t.data);
    free(list_out);
}

int main(int argc, char **argv)
{
    int64_t n = 8 << 20;
    size_t mib = 64;
    int reps = 7, opt;
    const char *only = "";
    while ((opt = getopt(argc, argv, "n:b:r:c:")) != -1) {
        if (opt == 'n') n = atoll(optarg);
        else if (opt == 'b') mib = (size_t)atoll(optarg);
        else if (opt == 'r') reps = atoi(optarg);
        else if (opt == 'c') only = optarg;
        else {
            fprintf(stderr, "usage: codec_bench [-n numbers] [-b base64-MiB] [-r reps] [-c name]\n");
            return 2;
        }
    }
    if (n < 1 || mib < 1 || reps < 1) return 2;

    if (!strstr("b64_decode b64_encode", only)) goto lists;
    b64_n = mib << 20;
    b64_len = up_b64_encoded_len(b64_n);
    b64_raw = malloc(b64_n);
    b64_back = malloc(b64_n + 3);
    b64_text = malloc(b64_len + 1);
    for (size_t i = 0; i < b64_n; i++) b64_raw[i] = (unsigned char)next();
    up_b64_encode_scalar(b64_raw, b64_n, b64_text);
    pair b64[] = {{"b64_decode", {"unpoold", "scalar"}, run_b64_decode, (double)b64_len},
                  {"b64_encode", {"unpoold", "scalar"}, run_b64_encode, (double)b64_len}};
    for (int i = 0; i < 2; i++)
        if (strstr(b64[i].name, only)) measure(&b64[i], reps);
    free(b64_raw), free(b64_back), free(b64_text);

lists:
    for (int f64 = 0; f64 < 2; f64++) {
        char dec[32], enc[32];
        snprintf(dec, sizeof(dec), "json_list_decode_%s", f64 ? "f64" : "f32");
        snprintf(enc, sizeof(enc), "json_list_encode_%s", f64 ? "f64" : "f32");
        if (!strstr(dec, only) && !strstr(enc, only)) continue;
        list_setup(n, f64);
        pair p[] = {{dec, {"unpoold", "strtod"}, run_list_decode, (double)list_len},
                    {enc, {"unpoold", "ref"}, run_list_encode, (double)list_len}};
        for (int i = 0; i < 2; i++)
            if (strstr(p[i].name, only)) measure(&p[i], reps);
        list_teardown();
    }
    up_buf_release(list_text);
    return 0;
}
