/* fractional_max_unpool_impl.h -- fractional_max_unpool's kernels for one
 * compute type T (template.h): included by fractional_max_unpool.c once
 * per type, with TFMA the fma of that type (fmaf, fma).
 *
 * The scatter form and each rank of the interpolation form are separate
 * functions, each rank with its own runtime-dispatched builds, so a
 * function holds only its own rank's pointers and weights. A first
 * conversion to plain functions kept one function for every rank, as the
 * macro bodies it replaced did, and ran float32 3d 20% slower (more spills
 * in the 3d combine). Split per rank, the kernel phase measures as the
 * macro bodies did (kbench, one worker, base and new runs alternating
 * ABBA: every case within the machine's noise of about 5-10%, 3d float32
 * about 8% faster). The helpers are UP_HOT (always inlined), so every
 * build gets its own copy of them; the combining loops take their rows as
 * restrict parameters, so they compile without overlap checks. */

/* Scatter form: one (n, c) plane per unit. Bad indices are skipped and the
 * first one (lowest flat position in x) is reported. */
static void TFN(fmu_scatter)(const up_plan *p, int64_t begin, int64_t end, up_fault *fault)
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
        const int64_t n = u / g->C, c = u % g->C;
        T *dst = y + u * pout;
        memset(dst, 0, (size_t)pout * sizeof(T));
        for (int64_t e = u * pin; e < (u + 1) * pin; e++) {
            const int64_t pos = up_index_to_plane(g->index_layout, ix[e], n, c, g->C, pout);
            if (pos >= 0)
                dst[pos] = x[e];
            else
                up_fault_note(fault, e, ix[e], FMU_IN_indices);
        }
    }
}

/* Two neighbours combined as PyTorch does: fma(lo, w_lo, hi * w_hi). */
UP_HOT T TFN(fmu_lerp)(T lo, T hi, T wlo, T whi) { return TFMA(lo, wlo, hi * whi); }

/* The innermost axis's tables, in the compute type. */
typedef struct TFN(fmu_w) {
    const int64_t *lo, *hi; /* source columns */
    const T *wlo, *whi;     /* their weights */
    lin_fast fast;          /* the periodic run, if any (find_fast_w) */
} TFN(fmu_w);

UP_HOT TFN(fmu_w) TFN(fmu_w_of)(const lin_tab *t, int last)
{
    return (TFN(fmu_w)){t->ax[last].lo, t->ax[last].hi, t->ax[last].wlo, t->ax[last].whi,
                        t->fast};
}

/* o[0 .. c1-c0) = W-interpolation of source row s over output columns
 * [c0, c1): through the tables outside the periodic run, with contiguous
 * loads inside it. */
UP_HOT void TFN(fmu_hpass)(const TFN(fmu_w) *w, const T *s, T *o, int64_t c0, int64_t c1)
{
    const lin_fast f = w->fast;
    const int64_t *wl = w->lo, *wh = w->hi;
    const T *a = w->wlo, *b = w->whi;
    int64_t i = c0, f0 = f.i0 > i ? f.i0 : i, f1 = f.i1 < c1 ? f.i1 : c1;
    if (f.k == 0 || f1 <= f0) f0 = f1 = c1;
    if (f.k == 2 && ((f0 - f.i0) & 1)) f0++;
    for (; i < f0; i++) o[i - c0] = TFN(fmu_lerp)(s[wl[i]], s[wh[i]], a[i], b[i]);
    if (f.k == 1) {
        const T *restrict ps = s + f.l0 + (f0 - f.i0);
        T *restrict q = o + (f0 - c0);
        const T A = a[f.i0], B = b[f.i0];
        const int64_t n = f1 - f0;
        for (int64_t j = 0; j < n; j++) q[j] = TFN(fmu_lerp)(ps[j], ps[j + 1], A, B);
        i = f1;
    } else if (f.k == 2) {
        const int64_t h = (f0 - f.i0) >> 1;
        const T *restrict p0 = s + f.l0 + h, *restrict p1 = s + f.l1 + h;
        T *restrict q = o + (f0 - c0);
        const T A0 = a[f.i0], B0 = b[f.i0], A1 = a[f.i0 + 1], B1 = b[f.i0 + 1];
        const int64_t n = (f1 - f0) >> 1;
        for (int64_t j = 0; j < n; j++) {
            q[2 * j] = TFN(fmu_lerp)(p0[j], p0[j + 1], A0, B0);
            q[2 * j + 1] = TFN(fmu_lerp)(p1[j], p1[j + 1], A1, B1);
        }
        i = f0 + 2 * n;
    }
    for (; i < c1; i++) o[i - c0] = TFN(fmu_lerp)(s[wl[i]], s[wh[i]], a[i], b[i]);
}

/* Four stack rows of W-interpolated source rows, and which source row
 * each holds (only while a whole output row is one tile, so a held row is
 * complete). Page-aligned: see FMU_TILE's comment in the .c. */
typedef struct TFN(fmu_rows) {
    _Alignas(4096) T row[4][FMU_TILE];
    const T *src[4];
    uint64_t stamp[4], clock;
    int one_tile;
} TFN(fmu_rows);

UP_HOT void TFN(fmu_rows_init)(TFN(fmu_rows) *rc, int64_t ow)
{
    for (int q = 0; q < 4; q++) {
        rc->src[q] = NULL;
        rc->stamp[q] = 0;
    }
    rc->clock = 0;
    rc->one_tile = ow <= FMU_TILE;
}

/* The W-interpolated source row s for tile [c0, c1): a row computed for an
 * earlier output row of the chunk is reused when the whole output row is
 * one tile (upsampling by 2 reads each source row for about four output
 * rows); else it is computed into the least recently used stack row that
 * this output row (busy) does not use yet. */
UP_HOT const T *TFN(fmu_row_for)(TFN(fmu_rows) *rc, unsigned *busy, const TFN(fmu_w) *w,
                                 const T *s, int64_t c0, int64_t c1)
{
    int k = -1;
    for (int q = 0; q < 4 && rc->one_tile; q++)
        if (rc->src[q] == s) k = q;
    if (k < 0) {
        for (int q = 0; q < 4; q++)
            if (!(*busy >> q & 1) && (k < 0 || rc->stamp[q] < rc->stamp[k])) k = q;
        TFN(fmu_hpass)(w, s, rc->row[k], c0, c1);
        rc->src[k] = rc->one_tile ? s : NULL;
    }
    *busy |= 1u << k;
    rc->stamp[k] = ++rc->clock;
    return rc->row[k];
}

UP_HOT void TFN(fmu_combine2)(T *restrict o, const T *restrict v0, const T *restrict v1, T hl,
                              T hh, int64_t n)
{
    for (int64_t i = 0; i < n; i++) o[i] = TFN(fmu_lerp)(v0[i], v1[i], hl, hh);
}

UP_HOT void TFN(fmu_combine3)(T *restrict o, const T *restrict v00, const T *restrict v01,
                              const T *restrict v10, const T *restrict v11, T hl, T hh, T dl,
                              T dh, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        o[i] = TFN(fmu_lerp)(TFN(fmu_lerp)(v00[i], v01[i], hl, hh),
                             TFN(fmu_lerp)(v10[i], v11[i], hl, hh), dl, dh);
}

/* Interpolation, 1d: each unit is a row, interpolated straight into y. */
UP_HOT void TFN(fmu_linear1_body)(const up_plan *p, int64_t begin, int64_t end)
{
    const lin_tab *t = p->scratch;
    const int64_t ow = p->g.out[0];
    const TFN(fmu_w) w = TFN(fmu_w_of)(t, 0);
    const T *x = p->in[FMU_IN_x].data;
    T *y = p->out[FMU_OUT_y].data;
    for (int64_t u = begin; u < end; u++) {
        const T *base = x + (u / t->rows) * t->in_plane;
        for (int64_t c0 = 0; c0 < ow; c0 += FMU_TILE) {
            const int64_t c1 = c0 + FMU_TILE < ow ? c0 + FMU_TILE : ow;
            TFN(fmu_hpass)(&w, base, y + u * ow + c0, c0, c1);
        }
    }
}

/* Interpolation, 2d: two W-interpolated source rows per tile, combined
 * with the output row's H weights. */
UP_HOT void TFN(fmu_linear2_body)(const up_plan *p, int64_t begin, int64_t end)
{
    const lin_tab *t = p->scratch;
    const lin_axis *H = &t->ax[0];
    const int64_t ow = p->g.out[1];
    const TFN(fmu_w) w = TFN(fmu_w_of)(t, 1);
    const T *x = p->in[FMU_IN_x].data;
    T *y = p->out[FMU_OUT_y].data;
    TFN(fmu_rows) rc;
    TFN(fmu_rows_init)(&rc, ow);
    for (int64_t u = begin; u < end; u++) {
        const int64_t oh = u % t->rows;
        const T *base = x + (u / t->rows) * t->in_plane;
        const T hl = ((const T *)H->wlo)[oh], hh = ((const T *)H->whi)[oh];
        const T *s0 = base + H->lo[oh] * t->in_stride[0];
        const T *s1 = base + H->hi[oh] * t->in_stride[0];
        for (int64_t c0 = 0; c0 < ow; c0 += FMU_TILE) {
            const int64_t c1 = c0 + FMU_TILE < ow ? c0 + FMU_TILE : ow;
            unsigned busy = 0;
            const T *v0 = TFN(fmu_row_for)(&rc, &busy, &w, s0, c0, c1);
            const T *v1 = TFN(fmu_row_for)(&rc, &busy, &w, s1, c0, c1);
            TFN(fmu_combine2)(y + u * ow + c0, v0, v1, hl, hh, c1 - c0);
        }
    }
}

/* Interpolation, 3d: four W-interpolated source rows per tile, combined
 * along H, then along D. */
UP_HOT void TFN(fmu_linear3_body)(const up_plan *p, int64_t begin, int64_t end)
{
    const lin_tab *t = p->scratch;
    const lin_axis *D = &t->ax[0], *H = &t->ax[1];
    const int64_t oH = p->g.out[1], ow = p->g.out[2];
    const TFN(fmu_w) w = TFN(fmu_w_of)(t, 2);
    const T *x = p->in[FMU_IN_x].data;
    T *y = p->out[FMU_OUT_y].data;
    TFN(fmu_rows) rc;
    TFN(fmu_rows_init)(&rc, ow);
    for (int64_t u = begin; u < end; u++) {
        const int64_t r = u % t->rows, oh = r % oH, od = r / oH;
        const T *base = x + (u / t->rows) * t->in_plane;
        const T hl = ((const T *)H->wlo)[oh], hh = ((const T *)H->whi)[oh];
        const T dl = ((const T *)D->wlo)[od], dh = ((const T *)D->whi)[od];
        const int64_t h0 = H->lo[oh] * t->in_stride[1], h1 = H->hi[oh] * t->in_stride[1];
        const T *d0 = base + D->lo[od] * t->in_stride[0], *d1 = base + D->hi[od] * t->in_stride[0];
        for (int64_t c0 = 0; c0 < ow; c0 += FMU_TILE) {
            const int64_t c1 = c0 + FMU_TILE < ow ? c0 + FMU_TILE : ow;
            unsigned busy = 0;
            const T *v00 = TFN(fmu_row_for)(&rc, &busy, &w, d0 + h0, c0, c1);
            const T *v01 = TFN(fmu_row_for)(&rc, &busy, &w, d0 + h1, c0, c1);
            const T *v10 = TFN(fmu_row_for)(&rc, &busy, &w, d1 + h0, c0, c1);
            const T *v11 = TFN(fmu_row_for)(&rc, &busy, &w, d1 + h1, c0, c1);
            TFN(fmu_combine3)(y + u * ow + c0, v00, v01, v10, v11, hl, hh, dl, dh, c1 - c0);
        }
    }
}

/* Builds of each rank per instruction-set level (dispatch.h has the
 * measurements): AVX-512 pays for 2d, and for 3d in float32
 * (FMU_LINEAR3_DISPATCH, set per type by fractional_max_unpool.c); 1d
 * stays on AVX2. */
UP_ISA_DISPATCH_AVX2(static, fmu_linear1, (const up_plan *p, int64_t begin, int64_t end),
                     (p, begin, end))
UP_ISA_DISPATCH(static, fmu_linear2, (const up_plan *p, int64_t begin, int64_t end),
                (p, begin, end))
FMU_LINEAR3_DISPATCH(static, fmu_linear3, (const up_plan *p, int64_t begin, int64_t end),
                     (p, begin, end))

void TFN(compute_forward_fractional_max_unpool)(const up_plan *p, int64_t begin, int64_t end,
                                                up_fault *fault)
{
    if (p->g.mode == FMU_SCATTER)
        TFN(fmu_scatter)(p, begin, end, fault);
    else if (p->g.nsp == 1)
        TFN(fmu_linear1)(p, begin, end);
    else if (p->g.nsp == 2)
        TFN(fmu_linear2)(p, begin, end);
    else
        TFN(fmu_linear3)(p, begin, end);
}

#undef T
#undef SFX
#undef TFMA
#undef FMU_LINEAR3_DISPATCH
