/* fractional_max_unpool_impl.h -- fractional_max_unpool's kernels for one
 * compute type T, with FMA its fused multiply-add (fmaf or fma; see
 * template.h): included by fractional_max_unpool.c once per type. */

/* Scatter form: one (n, c) plane per unit. Bad indices are skipped and the
 * first one (lowest flat position in x) is reported. */
UP_HOT void TFN(scatter)(const up_plan *p, int64_t begin, int64_t end, up_fault *fault)
{
    const up_geom *g = &p->g;
    const int64_t *ix = p->in[FMU_IN_indices].data;
    const T *x = p->in[FMU_IN_x].data;
    T *y = p->out[FMU_OUT_y].data;
    int64_t pin = 1, pout = 1;
    for (int d = 0; d < g->nsp; d++) {
        pin *= g->in[d];
        pout *= g->out[d];
    }
    for (int64_t u = begin; u < end; u++) {
        int64_t n = u / g->C, c = u % g->C;
        T *dst = y + u * pout;
        memset(dst, 0, (size_t)pout * sizeof(T));
        for (int64_t e = u * pin; e < (u + 1) * pin; e++) {
            int64_t pos = up_index_to_plane(g->index_layout, ix[e], n, c, g->C, pout);
            if (pos >= 0) {
                dst[pos] = x[e];
            } else if (fault->elem < 0 || e < fault->elem) {
                fault->elem = e;
                fault->value = ix[e];
                fault->input = FMU_IN_indices;
            }
        }
    }
}

/* Two neighbours combined as PyTorch does: fma(a, w_lo, b * w_hi). */
UP_HOT T TFN(lerp)(T lo, T hi, T wlo, T whi) { return FMA(lo, wlo, hi * whi); }

/* The W axis of the tables, typed: per output column its two source
 * columns and their weights, and the run where they are periodic. */
typedef struct {
    const int64_t *lo, *hi;
    const T *wlo, *whi;
    lin_fast fast;
} TFN(wcols);

/* o[0 .. c1-c0) = W-interpolation of source row s over output columns
 * [c0, c1): through the tables, except on the periodic run, which is read
 * with contiguous loads. */
UP_HOT void TFN(hpass)(const TFN(wcols) *w, const T *s, T *o, int64_t c0, int64_t c1)
{
    const lin_fast *f = &w->fast;
    const int64_t *wl = w->lo, *wh = w->hi;
    const T *a = w->wlo, *b = w->whi;
    int64_t i = c0, f0 = f->i0 > i ? f->i0 : i;
    int64_t f1 = f->i1 < c1 ? f->i1 : c1;
    if (f->k == 0 || f1 <= f0) f0 = f1 = c1;
    if (f->k == 2 && ((f0 - f->i0) & 1)) f0++;
    for (; i < f0; i++) o[i - c0] = TFN(lerp)(s[wl[i]], s[wh[i]], a[i], b[i]);
    if (f->k == 1) {
        const T *restrict pp = s + f->l0 + (f0 - f->i0);
        T *restrict q = o + (f0 - c0);
        const T A = a[f->i0], B = b[f->i0];
        int64_t n = f1 - f0;
        for (int64_t j = 0; j < n; j++) q[j] = TFN(lerp)(pp[j], pp[j + 1], A, B);
        i = f1;
    } else if (f->k == 2) {
        const int64_t h = (f0 - f->i0) >> 1;
        const T *restrict p0 = s + f->l0 + h;
        const T *restrict p1 = s + f->l1 + h;
        T *restrict q = o + (f0 - c0);
        const T A0 = a[f->i0], B0 = b[f->i0];
        const T A1 = a[f->i0 + 1], B1 = b[f->i0 + 1];
        int64_t n = (f1 - f0) >> 1;
        for (int64_t j = 0; j < n; j++) {
            q[2 * j] = TFN(lerp)(p0[j], p0[j + 1], A0, B0);
            q[2 * j + 1] = TFN(lerp)(p1[j], p1[j + 1], A1, B1);
        }
        i = f0 + 2 * n;
    }
    for (; i < c1; i++) o[i - c0] = TFN(lerp)(s[wl[i]], s[wh[i]], a[i], b[i]);
}

/* Four W-interpolated source rows on the stack, for one chunk of units.
 * When the whole output row is one tile, a row computed for an earlier
 * output row is reused (upsampling by 2 reads each source row for about
 * four output rows): src[] names the source row each slot holds. */
typedef struct {
    T rows[4][FMU_TILE];
    const T *src[4];
    uint64_t stamp[4], clock;
    int one_tile;
} TFN(rowcache);

/* The W-interpolated source row s over [c0, c1): a slot that already
 * holds it, else the least recently used slot that this output row does
 * not use yet (busy: the slots this output row took, one bit each). */
UP_HOT const T *TFN(row_for)(TFN(rowcache) *rc, unsigned *busy, const TFN(wcols) *w,
                             const T *s, int64_t c0, int64_t c1)
{
    int k = -1;
    for (int q = 0; q < 4 && rc->one_tile; q++)
        if (rc->src[q] == s) k = q;
    if (k < 0) {
        for (int q = 0; q < 4; q++)
            if (!(*busy >> q & 1) && (k < 0 || rc->stamp[q] < rc->stamp[k])) k = q;
        TFN(hpass)(w, s, rc->rows[k], c0, c1);
        rc->src[k] = rc->one_tile ? s : NULL;
    }
    *busy |= 1u << k;
    rc->stamp[k] = ++rc->clock;
    return rc->rows[k];
}

/* Interpolation form: units [begin, end) are output rows. Axis 0 is
 * outermost; the innermost axis is the row. */
UP_HOT void TFN(linear)(const up_plan *p, int64_t begin, int64_t end)
{
    const lin_tab *t = p->scratch;
    const up_geom *g = &p->g;
    const int last = g->nsp - 1;
    const int64_t ow = g->out[last];
    const TFN(wcols) w = {t->ax[last].lo, t->ax[last].hi, t->ax[last].wlo, t->ax[last].whi,
                          t->fast};
    const T *x = p->in[FMU_IN_x].data;
    T *y = p->out[FMU_OUT_y].data;
    TFN(rowcache) rc = {.src = {NULL, NULL, NULL, NULL}, .stamp = {0, 0, 0, 0}, .clock = 0,
                        .one_tile = ow <= FMU_TILE};
    for (int64_t u = begin; u < end; u++) {
        int64_t r = u % t->rows;
        const T *base = x + (u / t->rows) * t->in_plane;
        T *row = y + u * ow;
        if (g->nsp == 1) {
            for (int64_t c0 = 0; c0 < ow; c0 += FMU_TILE) {
                int64_t c1 = c0 + FMU_TILE < ow ? c0 + FMU_TILE : ow;
                TFN(hpass)(&w, base, row + c0, c0, c1);
            }
            continue;
        }
        int64_t oh = r % g->out[last - 1], od = r / g->out[last - 1];
        const lin_axis *H = &t->ax[last - 1];
        const T hl = ((const T *)H->wlo)[oh], hh = ((const T *)H->whi)[oh];
        const int64_t h0 = H->lo[oh] * t->in_stride[last - 1];
        const int64_t h1 = H->hi[oh] * t->in_stride[last - 1];
        if (g->nsp == 2) {
            const T *s0 = base + h0, *s1 = base + h1;
            for (int64_t c0 = 0; c0 < ow; c0 += FMU_TILE) {
                int64_t c1 = c0 + FMU_TILE < ow ? c0 + FMU_TILE : ow, n = c1 - c0;
                T *restrict o = row + c0;
                unsigned busy = 0;
                const T *restrict v0 = TFN(row_for)(&rc, &busy, &w, s0, c0, c1);
                const T *restrict v1 = TFN(row_for)(&rc, &busy, &w, s1, c0, c1);
                for (int64_t i = 0; i < n; i++) o[i] = TFN(lerp)(v0[i], v1[i], hl, hh);
            }
            continue;
        }
        const lin_axis *D = &t->ax[0];
        const T dl = ((const T *)D->wlo)[od], dh = ((const T *)D->whi)[od];
        const T *s00 = base + D->lo[od] * t->in_stride[0] + h0;
        const T *s01 = base + D->lo[od] * t->in_stride[0] + h1;
        const T *s10 = base + D->hi[od] * t->in_stride[0] + h0;
        const T *s11 = base + D->hi[od] * t->in_stride[0] + h1;
        for (int64_t c0 = 0; c0 < ow; c0 += FMU_TILE) {
            int64_t c1 = c0 + FMU_TILE < ow ? c0 + FMU_TILE : ow, n = c1 - c0;
            T *restrict o = row + c0;
            unsigned busy = 0;
            const T *restrict v00 = TFN(row_for)(&rc, &busy, &w, s00, c0, c1);
            const T *restrict v01 = TFN(row_for)(&rc, &busy, &w, s01, c0, c1);
            const T *restrict v10 = TFN(row_for)(&rc, &busy, &w, s10, c0, c1);
            const T *restrict v11 = TFN(row_for)(&rc, &busy, &w, s11, c0, c1);
            for (int64_t i = 0; i < n; i++)
                o[i] = TFN(lerp)(TFN(lerp)(v00[i], v01[i], hl, hh),
                                 TFN(lerp)(v10[i], v11[i], hl, hh), dl, dh);
        }
    }
}

UP_CLONES_FMA void TFN(compute_forward_fractional_max_unpool)(const up_plan *p, int64_t begin,
                                                              int64_t end, up_fault *fault)
{
    if (p->g.mode == FMU_SCATTER)
        TFN(scatter)(p, begin, end, fault);
    else
        TFN(linear)(p, begin, end);
}

#undef T
#undef SFX
#undef FMA
