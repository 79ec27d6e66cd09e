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
 * K = 2 (linear) or 4 (cubic) taps per axis, h = K / 2. Output rows that
 * share their K input rows (h->start equal: every pair 2m + 1, 2m + 2,
 * and edge rows with a neighbour) are made in one pass that reads those
 * rows once. A row's blend over H is w0 s0 + w1 s1 (+ w2 s2 + w3 s3,
 * summed left to right) with H's table weights, as rs_blend computes it;
 * then output columns 2m and 2m + 1 are the K-tap blends of the columns
 * around m with the two weight sets of W's period (x2_axis), summed as
 * rs_apply sums them; the edge columns go through W's table itself (their
 * zero weights included, so a NaN or infinity there gives what the
 * general path gives). Same products, same sums, same order: the same
 * bits, in straight-line loops the compiler vectorises instead of a
 * gather through the table per element. The one freedom left is the
 * compiler's: where two NaNs meet in an add, which of them (and so which
 * sign bit) comes out depends on its operand order, in either path;
 * measured on the 8 x 64 x 256 x 256 bench outputs with infinities and
 * NaNs planted, linear's bits all agree, cubic's differ in 3 NaN signs. */

/* Output columns [2 m0, 2 m1) of one row from its blend b, where b[k] is
 * input column m0 - K + k. */
RS_INLINE void TFN(rs_x2_cols)(const rs_axis *l, const T *restrict b, T *restrict o, int64_t m0,
                               int64_t m1)
{
    const int64_t W = l->in, K = l->K, h = K / 2, off = m0 - K;
    const int64_t lo = m0 > h ? m0 : h, hi = m1 < W - h ? m1 : W - h;
    const T *we = l->WT + 2 * h * K, *wo = we + K; /* the period's two weight sets */
    T *restrict oo = o + 2 * (lo - m0);
    const T *restrict bm = b + (lo - off);
    if (K == 2) {
        const T e0 = we[0], e1 = we[1], o0 = wo[0], o1 = wo[1];
        for (int64_t i = 0; i < hi - lo; i++) {
            oo[2 * i] = e0 * bm[i - 1] + e1 * bm[i];
            oo[2 * i + 1] = o0 * bm[i] + o1 * bm[i + 1];
        }
    } else {
        const T e0 = we[0], e1 = we[1], e2 = we[2], e3 = we[3];
        const T o0 = wo[0], o1 = wo[1], o2 = wo[2], o3 = wo[3];
        for (int64_t i = 0; i < hi - lo; i++) {
            oo[2 * i] = (e0 * bm[i - 2] + e1 * bm[i - 1]) + (e2 * bm[i] + e3 * bm[i + 1]);
            oo[2 * i + 1] = (o0 * bm[i - 1] + o1 * bm[i]) + (o2 * bm[i + 1] + o3 * bm[i + 2]);
        }
    }
    /* the edge columns, m in [0, h) and [W - h, W) (disjoint: W >= K),
     * through the table */
    for (int64_t e = 0; e < 2; e++) {
        const int64_t a = e ? (m0 > W - h ? m0 : W - h) : m0, z = e ? m1 : (m1 < h ? m1 : h);
        for (int64_t j = 2 * a; j < 2 * z; j++) {
            const T *bj = b + (l->start[j] - off), *wj = l->WT + K * j;
            o[j - 2 * m0] = K == 2 ? wj[0] * bj[0] + wj[1] * bj[1]
                                   : (wj[0] * bj[0] + wj[1] * bj[1]) + (wj[2] * bj[2] + wj[3] * bj[3]);
        }
    }
}

/* b[i - off] = the H blend of input column i over [c0, c1), for one row
 * (wa) or two (wa, wb) that read the same K rows s, W apart. */
RS_INLINE void TFN(rs_x2_blend)(const T *restrict s, int64_t W, int64_t K, const T *wa,
                                const T *wb, T *restrict ba, T *restrict bb, int64_t c0,
                                int64_t c1, int64_t off)
{
    const T *restrict s1 = s + W, *restrict s2 = s + 2 * W, *restrict s3 = s + 3 * W;
    const T a0 = wa[0], a1 = wa[1], a2 = K == 4 ? wa[2] : 0, a3 = K == 4 ? wa[3] : 0;
    if (K == 2 && !wb) {
        for (int64_t i = c0; i < c1; i++) ba[i - off] = a0 * s[i] + a1 * s1[i];
    } else if (K == 2) {
        const T b0 = wb[0], b1 = wb[1];
        for (int64_t i = c0; i < c1; i++) {
            T p0 = s[i], p1 = s1[i];
            ba[i - off] = a0 * p0 + a1 * p1;
            bb[i - off] = b0 * p0 + b1 * p1;
        }
    } else if (!wb) {
        for (int64_t i = c0; i < c1; i++)
            ba[i - off] = a0 * s[i] + a1 * s1[i] + a2 * s2[i] + a3 * s3[i];
    } else {
        const T b0 = wb[0], b1 = wb[1], b2 = wb[2], b3 = wb[3];
        for (int64_t i = c0; i < c1; i++) {
            T p0 = s[i], p1 = s1[i], p2 = s2[i], p3 = s3[i];
            ba[i - off] = a0 * p0 + a1 * p1 + a2 * p2 + a3 * p3;
            bb[i - off] = b0 * p0 + b1 * p1 + b2 * p2 + b3 * p3;
        }
    }
}

/* Output row u, and u + 1 too when pair (same input rows), chunk by chunk;
 * through scratch and streaming stores when scratch is not NULL. */
RS_INLINE void TFN(rs_x2_rows)(const rs_tab *t, const T *x, T *y, int64_t u, int pair, T *scratch)
{
    const rs_axis *hx = &t->ax[t->rank - 2], *l = &t->ax[t->rank - 1];
    const int64_t W = l->in, OW = l->out, K = l->K, oh = u % hx->out, plane = u / hx->out;
    const T *s = x + (plane * hx->in + hx->start[oh]) * W;
    T ba[RS_X2_CHUNK + 8], bb[RS_X2_CHUNK + 8];
    for (int64_t m0 = 0; m0 < W; m0 += RS_X2_CHUNK) {
        const int64_t m1 = m0 + RS_X2_CHUNK < W ? m0 + RS_X2_CHUNK : W, off = m0 - K;
        const int64_t c0 = m0 > K ? m0 - K : 0, c1 = m1 + K < W ? m1 + K : W;
        const int64_t n = 2 * (m1 - m0);
        T *oa = scratch ? scratch : y + u * OW + 2 * m0;
        T *ob = scratch ? scratch + 2 * RS_X2_CHUNK : y + (u + 1) * OW + 2 * m0;
        TFN(rs_x2_blend)(s, W, K, hx->WT + oh * K, pair ? hx->WT + (oh + 1) * K : NULL, ba, bb,
                         c0, c1, off);
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

UP_HOT void TFN(compute_forward_resize_body)(const up_plan *p, int64_t begin, int64_t end,
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

/* Builds for the baseline and AVX2; AVX-512 measured no faster (dispatch.h). */
UP_ISA_DISPATCH_AVX2(, compute_forward_resize,
                (const up_plan *p, int64_t begin, int64_t end, up_fault *fault),
                (p, begin, end, fault))

#undef T
#undef SFX
#undef WT
