/* pixel_shuffle_impl.h -- pixel_shuffle's and pixel_unshuffle's row
 * kernels for one element width: T is an unsigned integer type of the
 * element's size (template.h), so any dtype moves as bytes. Included by
 * pixel_shuffle.c once per width (1, 2, 4, 8 bytes). */

/* Interleave: out[w * r + j] = src[j * js + w] for w < W, j < r. One
 * contiguous output row written once; its r source rows read in step.
 * r == 2 (the common x2 up-sampler) gets constant strides, which the
 * compiler turns into vector interleaves. */
UP_HOT void TFN(interleave)(const T *restrict src, int64_t js, int64_t W, int64_t r,
                            T *restrict out)
{
    if (r == 2) {
        const T *restrict a = src, *restrict b = src + js;
        for (int64_t w = 0; w < W; w++) {
            out[2 * w] = a[w];
            out[2 * w + 1] = b[w];
        }
    } else if (r <= SHUFFLE_SMALL_R) {
        for (int64_t w = 0; w < W; w++)
            for (int64_t j = 0; j < r; j++) out[w * r + j] = src[j * js + w];
    } else {
        for (int64_t j = 0; j < r; j++)
            for (int64_t w = 0; w < W; w++) out[w * r + j] = src[j * js + w];
    }
}

/* De-interleave: dst[j * js + w] = in[w * r + j], the inverse. */
UP_HOT void TFN(deinterleave)(const T *restrict in, int64_t W, int64_t r, T *restrict dst,
                              int64_t js)
{
    if (r == 2) {
        T *restrict a = dst, *restrict b = dst + js;
        for (int64_t w = 0; w < W; w++) {
            a[w] = in[2 * w];
            b[w] = in[2 * w + 1];
        }
    } else if (r <= SHUFFLE_SMALL_R) {
        for (int64_t w = 0; w < W; w++)
            for (int64_t j = 0; j < r; j++) dst[j * js + w] = in[w * r + j];
    } else {
        for (int64_t j = 0; j < r; j++)
            for (int64_t w = 0; w < W; w++) dst[j * js + w] = in[w * r + j];
    }
}

/* Units are rows of the large side (y for shuffle, x for unshuffle):
 * row u of that side is (n, c, hr) with hr = h * r + i, and its r
 * partner rows on the small side are channels ch(c, i, j), j < r, row h. */
UP_HOT void TFN(shuffle_rows_body)(const up_plan *p, const shuffle_geom *s, int64_t begin,
                                   int64_t end)
{
    const T *x = (const T *)p->in[UP_IN_X].data;
    T *y = (T *)p->out[UP_OUT_Y].data;
    for (int64_t u = begin; u < end; u++) {
        int64_t hr = u % s->HR, t = u / s->HR, c = t % s->CL, n = t / s->CL;
        int64_t h = hr / s->r, i = hr % s->r;
        int64_t small = ((n * s->CS + shuffle_channel(s, c, i, 0)) * s->H + h) * s->W;
        if (s->up)
            TFN(interleave)(x + small, s->js, s->W, s->r, y + u * s->WR);
        else
            TFN(deinterleave)(x + u * s->WR, s->W, s->r, y + small, s->js);
    }
}

/* Builds for the baseline and AVX2, chosen per chunk of rows; AVX-512
 * measured no faster (dispatch.h). */
UP_ISA_DISPATCH_AVX2(static, shuffle_rows,
                (const up_plan *p, const shuffle_geom *s, int64_t begin, int64_t end),
                (p, s, begin, end))

#undef T
#undef SFX
