/* geometry.c -- overflow-checked geometry; see geometry.h for why. */
#include "geometry.h"

int up_geom_window(int64_t k, int64_t d, int64_t *out)
{
    int64_t v;
    if (k < 1 || d < 1 || up_mul_i64(k - 1, d, &v) < 0 || up_add_i64(v, 1, out) < 0) return -1;
    return 0;
}

int up_geom_padded(int64_t in, int64_t p, int64_t *out)
{
    int64_t twice;
    if (up_mul_i64(p, 2, &twice) < 0 || up_add_i64(in, twice, out) < 0) return -1;
    return 0;
}

int up_geom_pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int ceil_mode,
                     int64_t *out)
{
    int64_t span, num, o, start;
    if (s < 1 || up_geom_window(k, d, &span) < 0 || up_geom_padded(in, p, &num) < 0 ||
        up_add_i64(num, -span, &num) < 0 || (ceil_mode && up_add_i64(num, s - 1, &num) < 0))
        return -1;
    o = up_div_floor(num, s) + 1;
    /* ceil mode: the last window must start inside the input or the left
     * padding, i.e. (o - 1) * s < in + p */
    if (ceil_mode && o > 1) {
        int64_t lim;
        if (up_add_i64(in, p, &lim) < 0) return -1;
        if (up_mul_i64(o - 1, s, &start) < 0 || start >= lim) o--;
    }
    *out = o;
    return 0;
}

int up_geom_convt_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int64_t op,
                      int64_t *out)
{
    int64_t a, b;
    if (in < 1 || up_mul_i64(in - 1, s, &a) < 0 || up_mul_i64(p, 2, &b) < 0 ||
        up_add_i64(a, -b, &a) < 0 || up_mul_i64(d, k - 1, &b) < 0 || up_add_i64(a, b, &a) < 0 ||
        up_add_i64(a, op, &a) < 0 || up_add_i64(a, 1, out) < 0)
        return -1;
    return 0;
}

int up_geom_unpool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t *out)
{
    int64_t v, end;
    if (in < 1 || up_mul_i64(in - 1, s, &v) < 0 || up_add_i64(v, -p, &v) < 0 ||
        up_add_i64(v, k, &end) < 0 || up_add_i64(end, -p, out) < 0)
        return -1;
    return 0;
}

int up_geom_numel(const int64_t *shape, int rank, int64_t *numel)
{
    int64_t extent = 1;
    int empty = 0;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] == 0) {
            empty = 1;
            continue;
        }
        if (up_mul_i64(extent, shape[i], &extent) < 0 || extent > UP_GEOM_MAX_EXTENT) return -1;
    }
    *numel = empty ? 0 : extent;
    return 0;
}

int up_geom_bytes(int64_t n, size_t es, int64_t *bytes)
{
    if (n < 0 || es > (size_t)INT64_MAX) return -1;
    return up_mul_i64(n, (int64_t)es, bytes);
}

int64_t up_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return up_add_i64(a, b, &r) < 0 ? INT64_MAX : r;
}

int64_t up_sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    return up_mul_i64(a, b, &r) < 0 ? INT64_MAX : r;
}
