/* fractional_max_pool_impl.h -- fractional_max_pool's kernel for one
 * compute type T (template.h): included by fractional_max_pool.c once per
 * type. */

/* Window starts of one dim, as PyTorch's generate_intervals, in type T. A
 * unit computes each start once per output index, so there is no
 * per-plane allocation.
 *
 * In float32, (i + u) * alpha can round past in - pool, the last start
 * that fits: x of width 12579921, kernel 1, output 12576890 and
 * u = 0.5000001192092896 give 12579921 for i = out - 2, a window wholly
 * outside the plane. PyTorch 1.13 stops there with an internal assertion
 * ("w2 >= 0 && w2 < inputW INTERNAL ASSERT FAILED"); unpoold clamps the
 * start to in - pool, the window PyTorch's own last output uses, so every
 * read stays in the plane. Wherever PyTorch's window fits, the clamp does
 * not change it. */
static inline int64_t TFN(fmp_start)(T u, T alpha, int64_t i, int64_t in,
                                     int64_t out, int64_t pool)
{
    int64_t s;
    if (i == out - 1) return in - pool;
    s = (int64_t)(((T)i + u) * alpha) - (int64_t)(u * alpha);
    return s < in - pool ? s : in - pool;
}

/* One (n, c) plane: every output position of unit u. */
static void TFN(fmp_plane)(const up_plan *p, const fmp_plane *pl, int64_t u,
                           const T *samples)
{
    const up_geom *g = &p->g;
    int64_t n = u / g->C, c = u % g->C;
    int64_t plane_in = pl->in[0] * pl->in[1] * pl->in[2];
    int64_t plane_out = pl->out[0] * pl->out[1] * pl->out[2];
    const T *x = (const T *)p->in[FMP_IN_x].data + u * plane_in;
    T *y = (T *)p->out[FMP_OUT_y].data + u * plane_out;
    int64_t *ind = (int64_t *)p->out[FMP_OUT_indices].data + u * plane_out;
    T smp[3], alpha[3];
    for (int d = 0; d < 3; d++) {
        smp[d] = pl->sample_of[d] < 0 ? (T)0 : samples[u * g->nsp + pl->sample_of[d]];
        alpha[d] = pl->out[d] > 1 ? (T)(pl->in[d] - pl->k[d]) / (T)(pl->out[d] - 1)
                                  : (T)0;
    }
    for (int64_t ot = 0; ot < pl->out[0]; ot++) {
        int64_t t0 = TFN(fmp_start)(smp[0], alpha[0], ot, pl->in[0], pl->out[0],
                                    pl->k[0]);
        for (int64_t oh = 0; oh < pl->out[1]; oh++) {
            int64_t h0 = TFN(fmp_start)(smp[1], alpha[1], oh, pl->in[1], pl->out[1],
                                        pl->k[1]);
            int64_t o = (ot * pl->out[1] + oh) * pl->out[2];
            for (int64_t ow = 0; ow < pl->out[2]; ow++, o++) {
                int64_t w0 = TFN(fmp_start)(smp[2], alpha[2], ow, pl->in[2],
                                            pl->out[2], pl->k[2]);
                int64_t best_pos = (t0 * pl->in[1] + h0) * pl->in[2] + w0;
                T best = (T)-INFINITY;
                for (int64_t t = t0; t < t0 + pl->k[0]; t++)
                    for (int64_t h = h0; h < h0 + pl->k[1]; h++) {
                        int64_t row = (t * pl->in[1] + h) * pl->in[2];
                        for (int64_t w = w0; w < w0 + pl->k[2]; w++) {
                            T v = x[row + w];
                            if (v > best || isnan(v)) {
                                best = v;
                                best_pos = row + w;
                            }
                        }
                    }
                y[o] = best;
                ind[o] = up_index_from_plane(g->index_layout, best_pos, n, c, g->C,
                                             plane_in);
            }
        }
    }
}

void TFN(compute_forward_fractional_max_pool)(const up_plan *p, int64_t begin,
                                              int64_t end, up_fault *fault)
{
    const T *samples = p->scratch ? (const T *)p->scratch
                                  : (const T *)p->in[FMP_IN_samples].data;
    fmp_plane pl;
    (void)fault; /* every input is valid once prepare accepted it */
    plane_geometry(p, &pl);
    for (int64_t u = begin; u < end; u++) TFN(fmp_plane)(p, &pl, u, samples);
}

#undef T
#undef SFX
