/* conv_transpose_impl.h -- conv_transpose's col2im and kernel for one
 * compute type T (template.h): included by conv_transpose.c once per type,
 * after blas_gemm_f32/_f64 and the type-independent helpers. */

/* y[base + iw * s] += cp[iw] for iw in [a, e] (base may be negative: the
 * W offset; every index touched is >= 0). Strides 1 and 2 get constant
 * strides, so the compiler vectorises the first and unrolls the second
 * (about 5% of the benchmark's time over the generic loop). */
static inline void TFN(add_strided)(T *restrict y, int64_t base, const T *restrict cp,
                                    int64_t a, int64_t e, int64_t s)
{
    if (s == 1)
        for (int64_t iw = a; iw <= e; iw++) y[base + iw] += cp[iw];
    else if (s == 2)
        for (int64_t iw = a; iw <= e; iw++) y[base + 2 * iw] += cp[iw];
    else
        for (int64_t iw = a; iw <= e; iw++) y[base + iw * s] += cp[iw];
}

/* col2im of one chunk: rows [r0, r0+mr) of the unit's (oc, k) rows, input
 * positions [c0, c0+nc); col is mr x nc row-major; y points at the unit's
 * first output channel. Walks input rows (fixed t, h) so the W loop is a
 * plain strided add with its bounds hoisted. */
static void TFN(col2im)(const conv_geo *cg, int64_t K, int64_t hw_out, T *y,
                        const T *col, int64_t r0, int64_t mr, int64_t c0, int64_t nc)
{
    for (int64_t r = 0; r < mr; r++) {
        int64_t rr = r0 + r, oc = rr / K, kk = rr % K;
        int64_t kw = kk % cg->k[2], kh = (kk / cg->k[2]) % cg->k[1];
        int64_t kt = kk / (cg->k[2] * cg->k[1]);
        int64_t off_t = cg->off0[0] + kt * cg->dil[0];
        int64_t off_h = cg->off0[1] + kh * cg->dil[1];
        int64_t off_w = cg->off0[2] + kw * cg->dil[2], lo, hi;
        T *yp = y + oc * hw_out;
        const T *crow = col + r * nc;
        w_range(off_w, cg->s[2], cg->out[2], &lo, &hi);
        for (int64_t pos = c0; pos < c0 + nc;) {
            int64_t iw0 = pos % cg->in[2], line = pos / cg->in[2];
            int64_t ih = line % cg->in[1], it = line / cg->in[1];
            int64_t seg = cg->in[2] - iw0;
            int64_t ot = it * cg->s[0] + off_t, oh = ih * cg->s[1] + off_h;
            if (seg > c0 + nc - pos) seg = c0 + nc - pos;
            if (ot >= 0 && ot < cg->out[0] && oh >= 0 && oh < cg->out[1]) {
                int64_t a = iw0 > lo ? iw0 : lo;
                int64_t e = iw0 + seg - 1 < hi ? iw0 + seg - 1 : hi;
                int64_t base = (ot * cg->out[1] + oh) * cg->out[2] + off_w;
                const T *cp = crow + (pos - c0) - iw0;
                TFN(add_strided)(yp, base, cp, a, e, cg->s[2]);
            }
            pos += seg;
        }
    }
}

/* One unit: (n, group, block of output channels). Fills its output
 * channels with the bias (or 0), then GEMM + col2im chunk by chunk. */
static void TFN(conv_unit)(const up_plan *p, const conv_blocking *b,
                           const conv_geo *cg, int64_t u, T *col, int64_t cap)
{
    const up_geom *g = &p->g;
    int64_t bi = u % b->nblk, grp = (u / b->nblk) % g->groups;
    int64_t n = u / (b->nblk * g->groups);
    int64_t oc0 = bi * b->blk, ocn = b->cog - oc0 < b->blk ? b->cog - oc0 : b->blk;
    int64_t ch0 = grp * b->cog + oc0, M = ocn * b->K;
    T *y = (T *)p->out[CONV_TRANSPOSE_OUT_y].data + (n * g->C_out + ch0) * b->hw_out;
    const T *bias = p->in[CONV_TRANSPOSE_IN_bias].data;
    const T *x = (const T *)p->in[CONV_TRANSPOSE_IN_x].data + (n * g->C + grp * b->cig) * b->hw_in;
    const T *w = (const T *)p->in[CONV_TRANSPOSE_IN_weight].data + grp * b->cig * b->cog * b->K
                 + oc0 * b->K;
    int64_t rows = M < cap ? M : cap;
    for (int64_t oc = 0; oc < ocn; oc++) {
        T v = bias ? bias[ch0 + oc] : (T)0;
        T *yp = y + oc * b->hw_out;
        for (int64_t i = 0; i < b->hw_out; i++) yp[i] = v;
    }
    for (int64_t r0 = 0; r0 < M; r0 += rows) {
        int64_t mr = M - r0 < rows ? M - r0 : rows;
        int64_t cols = cap / mr < b->hw_in ? cap / mr : b->hw_in;
        for (int64_t c0 = 0; c0 < b->hw_in; c0 += cols) {
            int64_t nc = b->hw_in - c0 < cols ? b->hw_in - c0 : cols;
            TFN(blas_gemm)((int)mr, (int)nc, (int)b->cig, w + r0, (int)(b->cog * b->K),
                           x + c0, (int)b->hw_in, col);
            TFN(col2im)(cg, b->K, b->hw_out, y, col, r0, mr, c0, nc);
        }
    }
}

void TFN(compute_forward_conv_transpose)(const up_plan *p, int64_t begin,
                                         int64_t end, up_fault *fault)
{
    conv_blocking b;
    conv_geo cg;
    T stack_col[COL_STACK];
    T *col;
    int64_t cap;
    (void)fault; /* every input is valid once prepare accepted it */
    conv_blocking_of(&p->g, &b);
    conv_geo_of(&p->g, &cg);
    cap = col_cap(&b);
    col = col_buffer();
    if (!col) {
        col = stack_col;
        cap = COL_STACK;
    }
    for (int64_t u = begin; u < end; u++) TFN(conv_unit)(p, &b, &cg, u, col, cap);
}

#undef T
#undef SFX
