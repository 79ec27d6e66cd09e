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

UP_CLONES_AVX2 void TFN(compute_forward_resize)(const up_plan *p, int64_t begin, int64_t end,
                                                up_fault *fault)
{
    const rs_tab *t = p->scratch;
    const T *x = p->in[RESIZE_IN_x].data;
    T *y = p->out[RESIZE_OUT_y].data;
    const int64_t ow = t->ax[t->rank - 1].out;
    int64_t prev_src = -1;
    (void)fault;
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
