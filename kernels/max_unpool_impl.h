/* max_unpool_impl.h -- max_unpool's kernels for one compute type T
 * (template.h): included by max_unpool.c once for float, once for double,
 * after the type-independent helpers they call. */

/* The scatter of one plane. For the plane and tensor layouts an index is
 * the plane position plus a per-plane offset, so the translation is hoisted
 * out of the loop and one unsigned compare checks both bounds; hwc/nhwc need
 * a division per element and go through up_index_to_plane(). The plane was
 * just zeroed and is still in cache when the scatter writes into it. */
static void TFN(scatter_plane)(const T *xp, const int64_t *ip, T *yp, int64_t pin,
                               int64_t pout, int64_t base, int64_t u,
                               up_fault *fault)
{
    for (int64_t i = 0; i < pin; i++) {
        const uint64_t pos = (uint64_t)ip[i] - (uint64_t)base;
        if (pos >= (uint64_t)pout || ip[i] < 0) {
            note_fault(fault, u * pin + i, ip[i], MAX_UNPOOL_IN_indices);
            continue;
        }
        yp[pos] = xp[i];
    }
}

static void TFN(unpool_indices)(const up_plan *p, int64_t begin, int64_t end,
                                int64_t pin, int64_t pout, up_fault *fault)
{
    const T *x = (const T *)p->in[MAX_UNPOOL_IN_x].data;
    const int64_t *ind = (const int64_t *)p->in[MAX_UNPOOL_IN_indices].data;
    T *y = (T *)p->out[MAX_UNPOOL_OUT_y].data;
    const int64_t C = p->g.C;
    const int layout = p->g.index_layout;
    const int hoisted = layout == UP_IDX_PLANE || layout == UP_IDX_TENSOR;
    T *scratch = hoisted ? scratch_plane(p, pout, sizeof(T)) : NULL;
    for (int64_t u = begin; u < end; u++) {
        const int64_t n = u / C, c = u % C;
        const T *xp = x + u * pin;
        const int64_t *ip = ind + u * pin;
        T *yp = y + u * pout;
        if (hoisted) {
            T *dst = scratch ? scratch : yp;
            memset(dst, 0, (size_t)pout * sizeof(T));
            TFN(scatter_plane)(xp, ip, dst, pin, pout,
                               layout == UP_IDX_TENSOR ? u * pout : 0, u, fault);
            if (scratch) up_stream_copy(yp, scratch, (size_t)pout * sizeof(T));
            continue;
        }
        memset(yp, 0, (size_t)pout * sizeof(T));
        for (int64_t i = 0; i < pin; i++) {
            int64_t pos = up_index_to_plane(layout, ip[i], n, c, C, pout);
            if (pos < 0) {
                note_fault(fault, u * pin + i, ip[i], MAX_UNPOOL_IN_indices);
                continue;
            }
            yp[pos] = xp[i];
        }
    }
    if (scratch) up_stream_fence();
}

static void TFN(unpool_mask_scan)(const up_plan *p, int64_t begin, int64_t end,
                                  const unpool3 *q, int64_t pin, int64_t pout)
{
    const T *x = (const T *)p->in[MAX_UNPOOL_IN_x].data;
    const uint8_t *mask = (const uint8_t *)p->in[MAX_UNPOOL_IN_mask].data;
    T *y = (T *)p->out[MAX_UNPOOL_OUT_y].data;
    for (int64_t u = begin; u < end; u++) {
        const T *xp = x + u * pin;
        const uint8_t *mp = mask + u * pout;
        T *yp = y + u * pout;
        memset(yp, 0, (size_t)pout * sizeof(T));
        for (int64_t od = 0; od < q->in[0]; od++)
            for (int64_t oh = 0; oh < q->in[1]; oh++)
                for (int64_t ow = 0; ow < q->in[2]; ow++, xp++) {
                    int64_t pos = mask_first(q, mp, od, oh, ow);
                    if (pos >= 0) yp[pos] = *xp;
                }
    }
}

static void TFN(unpool_mask)(const up_plan *p, int64_t begin, int64_t end,
                             const unpool3 *q, int64_t pin, int64_t pout)
{
    const T *x = (const T *)p->in[MAX_UNPOOL_IN_x].data;
    const uint8_t *mask = (const uint8_t *)p->in[MAX_UNPOOL_IN_mask].data;
    T *y = (T *)p->out[MAX_UNPOOL_OUT_y].data;
    const int64_t st_n = mask_state_elems(q);
    if (p->g.mode == MASK_SCAN) {
        TFN(unpool_mask_scan)(p, begin, end, q, pin, pout);
        return;
    }
    for (int64_t u = begin; u < end; u++) {
        const T *xp = x + u * pin;
        T *yp = y + u * pout;
        unsigned char *win = (unsigned char *)yp;
        mask_plane(q, mask + u * pout, win, sizeof(T), (int64_t *)p->scratch + u * st_n);
        /* winners -> values, slot by slot in place (same width) */
        for (int64_t i = 0; i < pout; i++) {
            if (sizeof(T) == 4) {
                uint32_t w;
                memcpy(&w, win + (size_t)i * 4, 4);
                yp[i] = w == WIN_NONE32 ? (T)0 : xp[w];
            } else {
                uint64_t w;
                memcpy(&w, win + (size_t)i * 8, 8);
                yp[i] = w == WIN_NONE64 ? (T)0 : xp[w];
            }
        }
    }
}

void TFN(compute_forward_max_unpool)(const up_plan *p, int64_t begin, int64_t end,
                                     up_fault *fault)
{
    unpool3 q;
    unpool3_from_geom(&p->g, &q);
    const int64_t pin = q.in[0] * q.in[1] * q.in[2];
    const int64_t pout = q.out[0] * q.out[1] * q.out[2];
    if (up_tensor_present(&p->in[MAX_UNPOOL_IN_indices]))
        TFN(unpool_indices)(p, begin, end, pin, pout, fault);
    else
        TFN(unpool_mask)(p, begin, end, &q, pin, pout);
}


#undef T
#undef SFX
