/* max_pool_impl.h -- max_pool's kernels for one compute type T with
 * position type I, start value T_LOWEST and NaN test T_ISNAN (template.h): included by
 * max_pool.c once per type, after the type-independent helpers they call. */

/* I is an integer type as wide as T (int32 for float when the plane fits in
 * it, int64 for double): running maxima and positions then fill vectors of
 * the same width, and compare/select vectorise without conversions. The
 * update order per output is PyTorch's (rows of the window in order, then
 * along W), so results are bit-identical to the scalar scan. */
UP_HOT void TFN(pool_block)(const pool3 *q, const T *x, int64_t d0, int64_t d1, int64_t h0,
                            int64_t h1, int64_t row0, int64_t n, const int64_t s,
                            const int64_t k, T *restrict m, I *restrict best)
{
    const int64_t IH = q->in[1], IW = q->in[2];
    const I first = (I)((d0 * IH + h0) * IW + row0);
    for (int64_t i = 0; i < n; i++) {
        m[i] = T_LOWEST;
        best[i] = first + (I)(i * s);
    }
    for (int64_t z = d0; z < d1; z += q->d[0])
        for (int64_t r = h0; r < h1; r += q->d[1]) {
            const int64_t row = (z * IH + r) * IW + row0;
            for (int64_t j = 0; j < k; j++) {
                const T *restrict xr = x + row + j;
                const I pos0 = (I)(row + j);
                for (int64_t i = 0; i < n; i++) {
                    const T v = xr[i * s], mo = m[i];
                    const int c = (v > mo) | T_ISNAN(v);
                    m[i] = c ? v : mo;
                    best[i] = c ? pos0 + (I)(i * s) : best[i];
                }
            }
        }
}

/* The interior [ow0, ow1) of one output row, POOL_BLOCK outputs at a
 * time; builds for the baseline and AVX2 (dispatch.h: AVX-512 measured
 * slower here). */
UP_HOT void TFN(pool_row_fast_body)(const pool3 *q, const T *x, int64_t d0, int64_t d1,
                                    int64_t h0, int64_t h1, int64_t ow0, int64_t ow1, T *y,
                                    int64_t *yi, int64_t mul, int64_t add)
{
    const int64_t s = q->s[2], k = q->k[2], sp = q->p[2];
    T m[POOL_BLOCK];
    I best[POOL_BLOCK];
    for (int64_t b0 = ow0; b0 < ow1; b0 += POOL_BLOCK) {
        const int64_t n = ow1 - b0 < POOL_BLOCK ? ow1 - b0 : POOL_BLOCK;
        /* the common 2-wide window with stride 2 gets constant strides */
        if (s == 2 && k == 2)
            TFN(pool_block)(q, x, d0, d1, h0, h1, b0 * 2 - sp, n, 2, 2, m, best);
        else
            TFN(pool_block)(q, x, d0, d1, h0, h1, b0 * s - sp, n, s, k, m, best);
        for (int64_t i = 0; i < n; i++) {
            y[b0 + i] = m[i];
            yi[b0 + i] = (int64_t)best[i] * mul + add;
        }
    }
}

UP_ISA_DISPATCH_AVX2(static, pool_row_fast,
                (const pool3 *q, const T *x, int64_t d0, int64_t d1, int64_t h0, int64_t h1,
                 int64_t ow0, int64_t ow1, T *y, int64_t *yi, int64_t mul, int64_t add),
                (q, x, d0, d1, h0, h1, ow0, ow1, y, yi, mul, add))

/* One output position by the plain scan (windows clipped by padding, and
 * every position when dilation along W is not 1). */
static void TFN(pool_one)(const pool3 *q, const T *x, int64_t d0, int64_t d1,
                          int64_t h0, int64_t h1, int64_t ow, T *y, int64_t *yi,
                          int64_t mul, int64_t add)
{
    const int64_t IH = q->in[1], IW = q->in[2];
    int64_t w0, w1;
    pool_window(q, 2, ow, &w0, &w1);
    int64_t best = (d0 * IH + h0) * IW + w0;
    T m = T_LOWEST;
    for (int64_t z = d0; z < d1; z += q->d[0]) {
        for (int64_t r = h0; r < h1; r += q->d[1]) {
            const int64_t row = (z * IH + r) * IW;
            for (int64_t w = w0; w < w1; w += q->d[2]) {
                T v = x[row + w];
                if (v > m || T_ISNAN(v)) {
                    m = v;
                    best = row + w;
                }
            }
        }
    }
    y[ow] = m;
    yi[ow] = best * mul + add;
}

static void TFN(max_pool_plane)(const pool3 *q, const T *x, T *y, int64_t *yi,
                                int64_t mul, int64_t add, int fast)
{
    int64_t lo, hi;
    pool_interior(q, &lo, &hi);
    if (!fast) lo = hi = 0;
    for (int64_t od = 0; od < q->out[0]; od++) {
        int64_t d0, d1;
        pool_window(q, 0, od, &d0, &d1);
        for (int64_t oh = 0; oh < q->out[1]; oh++) {
            int64_t h0, h1;
            pool_window(q, 1, oh, &h0, &h1);
            for (int64_t ow = 0; ow < lo; ow++)
                TFN(pool_one)(q, x, d0, d1, h0, h1, ow, y, yi, mul, add);
            if (hi > lo)
                TFN(pool_row_fast)(q, x, d0, d1, h0, h1, lo, hi, y, yi, mul, add);
            for (int64_t ow = hi; ow < q->out[2]; ow++)
                TFN(pool_one)(q, x, d0, d1, h0, h1, ow, y, yi, mul, add);
            y += q->out[2];
            yi += q->out[2];
        }
    }
}

static void TFN(max_pool_units)(const up_plan *p, int64_t begin, int64_t end,
                                up_fault *fault)
{
    pool3 q;
    int64_t pin, pout;
    (void)fault;
    up_geom3_from(&p->g, &q);
    pin = q.in[0] * q.in[1] * q.in[2];
    pout = q.out[0] * q.out[1] * q.out[2];
    /* positions must fit the narrow index type of the fast path */
    const int fast = sizeof(I) == 8 || pin <= INT32_MAX;
    const T *x = (const T *)p->in[MAX_POOL_IN_x].data;
    T *y = (T *)p->out[MAX_POOL_OUT_y].data;
    int64_t *yi = (int64_t *)p->out[MAX_POOL_OUT_indices].data;
    for (int64_t u = begin; u < end; u++) {
        int64_t mul, add;
        index_affine(p->g.index_layout, u / p->g.C, u % p->g.C, p->g.C, pin, &mul,
                     &add);
        if (p->g.storage_order) {
            /* plane positions first, then re-spelt column-major */
            TFN(max_pool_plane)(&q, x + u * pin, y + u * pout, yi + u * pout, 1, 0, fast);
            column_major(&q, yi + u * pout, pout, mul, add);
        } else {
            TFN(max_pool_plane)(&q, x + u * pin, y + u * pout, yi + u * pout, mul, add,
                                fast);
        }
    }
}

#undef T
#undef I
#undef SFX
#undef T_LOWEST
#undef T_ISNAN
