/* resize_impl.h -- resize's kernel for one compute type T (template.h):
 * included by resize.c once per type, WT naming the table's weights of
 * that type. See resize.c for the plan of a row. */

/* Nearest: one source row, one index per output column, no arithmetic. */
RS_INLINE void TFN(rs_gather_row)(const rs_tab *t, const T *src, T *row)
{
    const rs_axis *l = &t->ax[t->rank - 1];
    int64_t ow = l->out;
    if (!l->resized) {
        memcpy(row, src, (size_t)ow * sizeof(T));
        return;
    }
    for (int64_t j = 0; j < ow; j++) row[j] = l->outside[j] ? (T)t->extrap : src[l->start[j]];
}

/* y[j] = sum_k w[j, k] * b[start[j] - lo + k] over a block's columns, with
 * the common tap counts unrolled. */
RS_INLINE void TFN(rs_apply)(const rs_axis *l, const T *b, int64_t lo, T *row, int64_t j0,
                             int64_t j1)
{
    const int64_t K = l->K;
    const int64_t *st = l->start;
    const T *w = l->WT;
    if (K == 2) {
        for (int64_t j = j0; j < j1; j++) {
            const T *bj = b + (st[j] - lo), *wj = w + 2 * j;
            row[j] = wj[0] * bj[0] + wj[1] * bj[1];
        }
    } else if (K == 4) {
        for (int64_t j = j0; j < j1; j++) {
            const T *bj = b + (st[j] - lo), *wj = w + 4 * j;
            row[j] = (wj[0] * bj[0] + wj[1] * bj[1]) + (wj[2] * bj[2] + wj[3] * bj[3]);
        }
    } else {
        for (int64_t j = j0; j < j1; j++) {
            const T *bj = b + (st[j] - lo), *wj = w + K * j;
            T acc = 0;
            for (int64_t k = 0; k < K; k++) acc += wj[k] * bj[k];
            row[j] = acc;
        }
    }
}

/* row[j] for j in [j0, j1), every tap gathered directly. */
RS_INLINE void TFN(rs_direct)(const rs_tab *t, rs_row *r, const T *x, T *row, int64_t j0, int64_t j1)
{
    const rs_axis *l = &t->ax[t->rank - 1];
    const int64_t K = l->K;
    for (int64_t j = j0; j < j1; j++) row[j] = 0;
    do {
        double wt;
        const T *s = x + row_tap(t, r, &wt);
        T w = (T)wt;
        for (int64_t j = j0; j < j1; j++) {
            const T *sj = s + l->start[j];
            const T *wj = l->WT + j * K;
            T acc = 0;
            for (int64_t k = 0; k < K; k++) acc += wj[k] * sj[k];
            row[j] += w * acc;
        }
    } while (row_next(t, r));
}

/* row[j] for j in [j0, j1) through the blend of the tap rows over input
 * columns [lo, lo + span), span <= RS_BLEND. */
RS_INLINE void TFN(rs_blend)(const rs_tab *t, rs_row *r, const T *x, T *row, int64_t j0, int64_t j1,
                          int64_t lo, int64_t span)
{
    const rs_axis *l = &t->ax[t->rank - 1];
    T b[RS_BLEND];
    int first = 1;
    do {
        double wt;
        const T *restrict s = x + row_tap(t, r, &wt) + lo;
        T w = (T)wt;
        if (first) {
            for (int64_t i = 0; i < span; i++) b[i] = w * s[i];
            first = 0;
        } else {
            for (int64_t i = 0; i < span; i++) b[i] += w * s[i];
        }
    } while (row_next(t, r));
    TFN(rs_apply)(l, b, lo, row, j0, j1);
}

/* A row whose last axis is resized by linear or cubic taps, block by
 * block (plan_blocks). */
RS_INLINE void TFN(rs_interp_row)(const rs_tab *t, rs_row *r, const T *x, T *row)
{
    const rs_axis *l = &t->ax[t->rank - 1];
    for (int64_t bi = 0; bi < t->nblocks; bi++) {
        const rs_block *bk = &t->blocks[bi];
        if (bk->blend)
            TFN(rs_blend)(t, r, x, row, bk->j0, bk->j1, bk->lo, bk->span);
        else
            TFN(rs_direct)(t, r, x, row, bk->j0, bk->j1);
    }
    if (t->ct == CT_TF_CROP)
        for (int64_t j = 0; j < l->out; j++)
            if (l->outside[j]) row[j] = (T)t->extrap;
}

/* A row whose last axis is not resized: the weighted sum of its tap rows. */
RS_INLINE void TFN(rs_sum_rows)(const rs_tab *t, rs_row *r, const T *x, T *row)
{
    const int64_t ow = t->ax[t->rank - 1].out;
    int first = 1;
    do {
        double wt;
        const T *restrict s = x + row_tap(t, r, &wt);
        T w = (T)wt;
        if (first) {
            for (int64_t j = 0; j < ow; j++) row[j] = w * s[j];
            first = 0;
        } else {
            for (int64_t j = 0; j < ow; j++) row[j] += w * s[j];
        }
    } while (row_next(t, r));
}

/* ---- the x2 path (resize.c, x2_case) ----
 * Output rows that share their two input rows (h->start equal: every
 * pair 2m + 1, 2m + 2, and the edge rows with their neighbour) are made in
 * one pass that reads the two input rows once. A row's blend over H is
 * w0 * s0 + w1 * s1 with H's table weights, as rs_blend computes it; then
 * output columns 2m and 2m + 1 are 0.25 / 0.75 blends of columns m - 1, m
 * and m, m + 1, as rs_apply computes them with W's table (the edge columns
 * through the table itself: weights 1 and 0, so a NaN or infinity in the
 * other column gives what the general path gives). Same products, same
 * sums, same order: the same bits, but straight-line loops the compiler
 * vectorises, instead of a gather through the table per element. */

/* Output columns [2 m0, 2 m1) of one row from its blend b, where b[k] is
 * input column m0 - 1 + k (over [max(m0 - 1, 0), min(m1 + 1, W))). */
RS_INLINE void TFN(rs_x2_cols)(const rs_axis *l, const T *restrict b, T *restrict o, int64_t m0,
                               int64_t m1)
{
    const int64_t W = l->in, off = m0 - 1, lo = m0 > 1 ? m0 : 1, hi = m1 < W - 1 ? m1 : W - 1;
    const T q = (T)0.25, h = (T)0.75;
    T *restrict oo = o + 2 * (lo - m0);
    const T *restrict bm = b + (lo - off);
    for (int64_t i = 0; i < hi - lo; i++) {
        T c = bm[i];
        oo[2 * i] = q * bm[i - 1] + h * c;
        oo[2 * i + 1] = h * c + q * bm[i + 1];
    }
    for (int64_t e = 0; e < 2; e++) { /* the edge columns, through the table */
        int64_t m = e ? W - 1 : 0;
        if (m < m0 || m >= m1) continue;
        for (int64_t j = 2 * m; j < 2 * m + 2; j++) {
            const T *bj = b + (l->start[j] - off), *wj = l->WT + 2 * j;
            o[j - 2 * m0] = wj[0] * bj[0] + wj[1] * bj[1];
        }
    }
}

/* Output row u, and u + 1 too when pair (same input rows), chunk by chunk;
 * through scratch and streaming stores when scratch is not NULL. */
RS_INLINE void TFN(rs_x2_rows)(const rs_tab *t, const T *x, T *y, int64_t u, int pair, T *scratch)
{
    const rs_axis *hx = &t->ax[t->rank - 2], *l = &t->ax[t->rank - 1];
    const int64_t W = l->in, OW = l->out, oh = u % hx->out, plane = u / hx->out;
    const T *restrict s0 = x + (plane * hx->in + hx->start[oh]) * W;
    const T *restrict s1 = s0 + W;
    const T a0 = hx->WT[2 * oh], a1 = hx->WT[2 * oh + 1];
    const T b0 = pair ? hx->WT[2 * oh + 2] : 0, b1 = pair ? hx->WT[2 * oh + 3] : 0;
    T ba[RS_X2_CHUNK + 2], bb[RS_X2_CHUNK + 2];
    for (int64_t m0 = 0; m0 < W; m0 += RS_X2_CHUNK) {
        const int64_t m1 = m0 + RS_X2_CHUNK < W ? m0 + RS_X2_CHUNK : W;
        const int64_t c0 = m0 > 0 ? m0 - 1 : 0, c1 = m1 < W ? m1 + 1 : W, off = m0 - 1;
        const int64_t n = 2 * (m1 - m0);
        T *oa = scratch ? scratch : y + u * OW + 2 * m0;
        T *ob = scratch ? scratch + 2 * RS_X2_CHUNK : y + (u + 1) * OW + 2 * m0;
        if (pair) {
            for (int64_t i = c0; i < c1; i++) {
                T p0 = s0[i], p1 = s1[i];
                ba[i - off] = a0 * p0 + a1 * p1;
                bb[i - off] = b0 * p0 + b1 * p1;
            }
        } else {
            for (int64_t i = c0; i < c1; i++) ba[i - off] = a0 * s0[i] + a1 * s1[i];
        }
        TFN(rs_x2_cols)(l, ba, oa, m0, m1);
        if (scratch) up_stream_copy(y + u * OW + 2 * m0, oa, (size_t)n * sizeof(T));
        if (!pair) continue;
        TFN(rs_x2_cols)(l, bb, ob, m0, m1);
        if (scratch) up_stream_copy(y + (u + 1) * OW + 2 * m0, ob, (size_t)n * sizeof(T));
    }
}

RS_INLINE void TFN(rs_x2_range)(const rs_tab *t, const T *x, T *y, int64_t begin, int64_t end,
                                T *scratch)
{
    const rs_axis *hx = &t->ax[t->rank - 2];
    for (int64_t u = begin; u < end;) {
        int64_t oh = u % hx->out;
        int pair = u + 1 < end && oh + 1 < hx->out && hx->start[oh] == hx->start[oh + 1];
        TFN(rs_x2_rows)(t, x, y, u, pair, scratch);
        u += 1 + pair;
    }
    if (scratch) up_stream_fence();
}

UP_CLONES_AVX2 void TFN(compute_forward_resize)(const up_plan *p, int64_t begin, int64_t end,
                                                up_fault *fault)
{
    const rs_tab *t = p->scratch;
    const T *x = p->in[RESIZE_IN_x].data;
    T *y = p->out[RESIZE_OUT_y].data;
    const int64_t ow = t->ax[t->rank - 1].out;
    int64_t prev_src = -1;
    (void)fault;
    if (t->x2) { /* outputs past the cache are streamed (stream.h) */
        int stream = (int64_t)up_tensor_nbytes(&p->out[RESIZE_OUT_y]) >= UP_STREAM_MIN_BYTES;
        TFN(rs_x2_range)(t, x, y, begin, end, stream ? up_stream_scratch() : NULL);
        return;
    }
    for (int64_t u = begin; u < end; u++) {
        T *row = y + u * ow;
        rs_row r;
        row_begin(t, u, &r);
        if (r.outside) {
            for (int64_t j = 0; j < ow; j++) row[j] = (T)t->extrap;
            prev_src = -1;
            continue;
        }
        if (t->gather) {
            double w;
            int64_t src = row_tap(t, &r, &w);
            if (src == prev_src)
                memcpy(row, row - ow, (size_t)ow * sizeof(T));
            else
                TFN(rs_gather_row)(t, x + src, row);
            prev_src = src;
        } else if (t->ax[t->rank - 1].resized) {
            TFN(rs_interp_row)(t, &r, x, row);
        } else {
            TFN(rs_sum_rows)(t, &r, x, row);
        }
    }
}

#undef T
#undef SFX
#undef WT
