/* nearest_unpool_impl.h -- nearest_unpool's kernel for one compute type T
 * (template.h): included by nearest_unpool.c once per type.
 *
 * Rows of one plane that read the same source row (every other row when
 * upsampling by 2) are copied from the previous output row instead of
 * gathered again. */
UP_HOT void TFN(compute_forward_nearest_unpool_body)(const up_plan *p, int64_t begin,
                                                     int64_t end, up_fault *fault)
{
    const nearest_tab *t = p->scratch;
    const up_geom *g = &p->g;
    const int64_t ow = g->out[g->nsp - 1];
    const int64_t *sw = t->src[g->nsp - 1];
    const T *x = p->in[NEAREST_UNPOOL_IN_x].data;
    T *y = p->out[NEAREST_UNPOOL_OUT_y].data;
    int64_t prev_src = -1;
    (void)fault;
    for (int64_t u = begin; u < end; u++) {
        int64_t plane = u / t->rows;
        int64_t src = plane * t->in_plane + source_row(t, g, u % t->rows);
        T *row = y + u * ow;
        if (src == prev_src) {
            memcpy(row, row - ow, (size_t)ow * sizeof(T));
            continue;
        }
        const T *restrict s = x + src;
        if (t->dup2) {
            T *restrict o = row;
            for (int64_t j = 0; j < ow / 2; j++) o[2 * j] = o[2 * j + 1] = s[j];
        } else {
            for (int64_t i = 0; i < ow; i++) row[i] = s[sw[i]];
        }
        prev_src = src;
    }
}

/* Builds for the baseline and AVX2; AVX-512 measured no faster (dispatch.h). */
UP_ISA_DISPATCH_AVX2(, compute_forward_nearest_unpool,
                (const up_plan *p, int64_t begin, int64_t end, up_fault *fault),
                (p, begin, end, fault))

#undef T
#undef SFX
