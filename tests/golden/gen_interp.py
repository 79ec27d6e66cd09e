"""Golden cases for nearest_unpool and fractional_max_unpool (family "interp").

References:
- nearest / nearest_exact, half_pixel, align_corners: PyTorch's
  F.interpolate on a channels-first (contiguous) tensor. For channels_last
  requests the same result is permuted: unpoold's answer does not depend on
  the memory layout, while PyTorch's own channels-last kernel differs from
  its channels-first one in a few corner cases (see nearest_unpool.c).
- asymmetric (the seed's transform; PyTorch has none): linear_ref() below,
  which follows PyTorch's CPU arithmetic (fused multiply-adds, lambda
  rounding) with exact rational arithmetic. Every PyTorch case of the
  other two transforms is also checked against linear_ref() bit for bit, so
  the reference is validated against PyTorch before it is trusted alone.
- indices form: PyTorch's fractional_max_pool2d/3d (fixed _random_samples)
  produces (y, indices); the expected output is a NumPy scatter of y into
  the pooling input's shape, the last colliding element winning.
- float16: PyTorch 1.13 has no float16 interpolation on CPU; unpoold
  computes in float32 and rounds once to float16, which is what these
  fixtures hold.
- bfloat16 nearest: PyTorch 1.13's own bfloat16 kernel, which rounds the
  scale to bfloat16 (8 / 14 -> 0.5703125); unpoold does the same.
  nearest_exact has no bfloat16 kernel in 1.13: float32, then rounded.
- bfloat16 linear: NOT PyTorch's bfloat16 kernel. PyTorch 1.13 rounds the
  scale, the weights and each product to bfloat16; unpoold computes in
  float32 and rounds the result once, which is more accurate (README,
  "Semantics"). The fixtures hold the float32 result of linear_ref()
  rounded to bfloat16.
- non-finite inputs (inf, -inf, NaN, -0.0) for every mode: PyTorch for
  nearest, half_pixel and align_corners; linear_ref() (IEEE arithmetic
  for the non-finite products) for asymmetric. An axis whose size does
  not change reads (x[i], x[i]) with weights (1, 0), as PyTorch does.

All outputs are compared exactly (atol = rtol = 0): the kernels reproduce
PyTorch's roundings, so any difference is a bug.

Run: /usr/bin/python3 tests/golden/gen_interp.py
"""
import math
from fractions import Fraction as Fr

import numpy as np
import torch
import torch.nn.functional as F

from golden_common import case, write_cases

rng = np.random.default_rng(20240611)
torch.manual_seed(7)

TORCH_DT = {"float32": torch.float32, "float64": torch.float64,
            "float16": torch.float16, "bfloat16": torch.bfloat16}
LINEAR_MODE = {1: "linear", 2: "bilinear", 3: "trilinear"}


def randn(shape, dtype="float32", gen=None):
    return torch.from_numpy((gen or rng).standard_normal(shape)).to(TORCH_DT[dtype])


# The cases added later draw from their own stream, so the earlier cases'
# data stay as they were.
rng_later = np.random.default_rng(20250611)


def channels_last(t):
    perm = [0] + list(range(2, t.dim())) + [1]
    return t.permute(perm).contiguous()


def compute_dtype(t):
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def channels_first_input(x, keep_dtype=False):
    """x in compute dtype (or its own with keep_dtype) as a strided view
    that PyTorch cannot take for channels-last (a tensor with C = 1 or 1x1
    spatial dims is both), so interpolate runs its channels-first kernel,
    the one unpoold follows."""
    x = (x if keep_dtype else x.to(compute_dtype(x))).contiguous()
    big = torch.empty(2 * x.numel(), dtype=x.dtype)
    v = big.as_strided(x.shape, [2 * s for s in x.stride()])
    v.copy_(x)
    return v


# ---- exact model of PyTorch's CPU linear interpolation --------------------

def round_f32(fr):
    """A Fraction rounded once to float32 (nearest-even)."""
    f = np.float32(float(fr))
    if Fr(float(f)) == fr:
        return f
    lo = f if Fr(float(f)) < fr else np.nextafter(f, np.float32(-np.inf))
    hi = np.nextafter(lo, np.float32(np.inf))
    dl, dh = fr - Fr(float(lo)), Fr(float(hi)) - fr
    if dl != dh:
        return lo if dl < dh else hi
    return lo if int(lo.view(np.int32)) % 2 == 0 else hi


def fma(a, b, c, ct):
    if not all(np.isfinite([a, b, c])):
        # inf and NaN: fused or not, IEEE gives the same non-finite answer
        with np.errstate(invalid="ignore", over="ignore"):
            return ct(ct(a) * ct(b) + ct(c))
    exact = Fr(float(a)) * Fr(float(b)) + Fr(float(c))
    if exact == 0:
        # IEEE: -0.0 only when the product and the addend are both -0.0
        neg = (a == 0 or b == 0) and np.signbit(a) != np.signbit(b) and np.signbit(c) and c == 0
        return ct(-0.0) if neg else ct(0.0)
    return round_f32(exact) if ct is np.float32 else np.float64(float(exact))


def axis_table(n_in, n_out, sf, transform, ct):
    """(lo, hi, w_lo, w_hi) per output coordinate, as the kernel builds them."""
    if transform == "align_corners":
        scale = ct(n_in - 1) / ct(n_out - 1) if n_out > 1 else ct(0)
    elif sf is not None:
        scale = ct(1.0 / sf)
    else:
        scale = ct(n_in) / ct(n_out)
    copy = n_out == n_in and (transform != "asymmetric" or float(scale) == 1.0)
    tab = []
    for i in range(n_out):
        if copy:
            tab.append((i, i, ct(1), ct(0)))
            continue
        if transform == "half_pixel":
            s = float(Fr(float(scale)) * Fr(i + 0.5) - Fr(0.5))
            s = max(s, 0.0)
        else:
            s = float(scale) * i
        lo = min(int(s), n_in - 1)
        hi = lo + 1 if lo < n_in - 1 else lo
        w_hi = ct(s - lo)
        tab.append((lo, hi, ct(1) - w_hi, w_hi))
    return tab


def linear_ref(x, outs, sfs, transform):
    """x: numpy (N, C, *S) float32/float64 -> numpy (N, C, *outs)."""
    ct = x.dtype.type
    nsp = x.ndim - 2
    tabs = [axis_table(x.shape[2 + d], outs[d], None if sfs is None else sfs[d],
                       transform, ct) for d in range(nsp)]

    def ev(sub, d, idx):
        lo, hi, wl, wh = tabs[d][idx[d]]
        if d == nsp - 1:
            a, b = sub[lo], sub[hi]
        else:
            a, b = ev(sub[lo], d + 1, idx), ev(sub[hi], d + 1, idx)
        with np.errstate(invalid="ignore", over="ignore"):
            bw = ct(b * wh)
        return fma(a, wl, bw, ct)

    y = np.zeros(x.shape[:2] + tuple(outs), ct)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for idx in np.ndindex(*outs):
                y[(n, c) + idx] = ev(x[n, c], 0, idx)
    return y


# ---- case builders ---------------------------------------------------------

def spatial_list(v, nsp):
    return list(v) if isinstance(v, (list, tuple)) else [v] * nsp


def out_sizes(shape, sf, size):
    nsp = len(shape) - 2
    if size is not None:
        return spatial_list(size, nsp)
    return [math.floor(shape[2 + d] * s) for d, s in enumerate(spatial_list(sf, nsp))]


def request_params(sf, size, extra, layout):
    params = dict(extra)
    if sf is not None:
        params["scale_factor"] = sf
    if size is not None:
        params["output_size"] = size
    if layout == "channels_last":
        params["layout"] = "channels_last"
    return params


def finish(name, op, x, y, params, layout, note, extra_inputs=None):
    inputs = {"x": x}
    inputs.update(extra_inputs or {})
    if layout == "channels_last":
        inputs = {k: channels_last(v) for k, v in inputs.items()}
        y = channels_last(y)
    return case(name, op, inputs, params, {"y": y}, note=note)


def nearest_case(name, shape, sf=None, size=None, mode="nearest", dtype="float32",
                 layout="channels_first", x=None, mode_spelling=None):
    x = randn(shape, dtype) if x is None else x
    tmode = "nearest-exact" if mode == "nearest_exact" else "nearest"
    kw = {"scale_factor": sf} if sf is not None else {"size": size}
    # bfloat16 nearest runs PyTorch's own bfloat16 kernel (see the top)
    own = x.dtype == torch.bfloat16 and mode == "nearest"
    y = F.interpolate(channels_first_input(x, own), mode=tmode, **kw).to(x.dtype)
    params = request_params(sf, size, {"mode": mode_spelling or mode}, layout)
    note = f"torch interpolate(mode={tmode!r}) on channels-first {x.dtype}"
    return finish(name, "nearest_unpool", x, y, params, layout, note)


def same_floats(a, b):
    """Equal as IEEE values: NaN matches NaN, and -0.0 only -0.0."""
    if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
        return False
    zero = a == 0
    return np.array_equal(np.signbit(a[zero]), np.signbit(b[zero]))


def nonfinite(shape, dtype="float32"):
    """Random values with inf, -inf, NaN and -0.0 at fixed flat positions."""
    x = randn(shape, "float64", rng_later).flatten()
    for k, v in ((1, np.inf), (4, -np.inf), (7, np.nan), (9, -0.0), (12, np.inf)):
        if k < x.numel():
            x[k] = v
    return x.reshape(shape).to(TORCH_DT[dtype])


def linear_case(name, shape, sf=None, size=None, transform="asymmetric", dtype="float32",
                layout="channels_first", x=None):
    x = randn(shape, dtype) if x is None else x
    shape = tuple(x.shape)
    nsp = len(shape) - 2
    outs = out_sizes(shape, sf, size)
    sfs = None if sf is None else spatial_list(sf, nsp)
    xc = x.to(compute_dtype(x))
    ref = linear_ref(xc.numpy(), outs, sfs, transform)
    if transform == "asymmetric":
        note = "NumPy/rational reference of the seed's asymmetric transform"
    else:
        kw = {"scale_factor": sf} if sf is not None else {"size": size}
        t = F.interpolate(channels_first_input(x), mode=LINEAR_MODE[nsp],
                          align_corners=transform == "align_corners", **kw).numpy()
        if not same_floats(t, ref):
            raise SystemExit(f"{name}: linear_ref differs from PyTorch:\n{t}\n{ref}")
        note = (f"torch interpolate(mode={LINEAR_MODE[nsp]!r}, "
                f"align_corners={transform == 'align_corners'}) on channels-first")
    y = torch.from_numpy(ref).to(x.dtype)
    params = request_params(sf, size, {"coordinate_transform": transform}, layout)
    return finish(name, "fractional_max_unpool", x, y, params, layout, note)


def to_layout(idx, layout, plane):
    """Plane indices (N, C, *S) -> the client's index layout."""
    idx = idx.astype(np.int64)
    n = np.arange(idx.shape[0]).reshape((-1,) + (1,) * (idx.ndim - 1))
    c = np.arange(idx.shape[1]).reshape((1, -1) + (1,) * (idx.ndim - 2))
    C = idx.shape[1]
    if layout == "tensor":
        return (n * C + c) * plane + idx
    if layout == "hwc":
        return idx * C + c
    if layout == "nhwc":
        return (n * plane + idx) * C + c
    return idx


def scatter_ref(y, idx, out_spatial):
    """max_unpool's scatter, last element in row-major order winning."""
    N, C = y.shape[:2]
    plane = int(np.prod(out_spatial))
    out = np.zeros((N, C, plane), y.dtype)
    yf, jf = y.reshape(N, C, -1), idx.reshape(N, C, -1)
    for n in range(N):
        for c in range(C):
            for e in range(yf.shape[2]):
                out[n, c, jf[n, c, e]] = yf[n, c, e]
    return out.reshape((N, C) + tuple(out_spatial))


def indices_case(name, in_shape, kernel, pool_out, index_layout="plane", dtype="float32",
                 index_dtype="int64", layout="channels_first", full_shape=False):
    nsp = len(in_shape) - 2
    xin = randn(in_shape, "float64" if dtype == "float64" else "float32")
    samples = torch.rand(in_shape[0], in_shape[1], nsp, dtype=xin.dtype)
    pool = F.fractional_max_pool2d if nsp == 2 else F.fractional_max_pool3d
    y, idx = pool(xin, kernel, output_size=pool_out, return_indices=True,
                  _random_samples=samples)
    y = y.to(TORCH_DT[dtype])
    spatial = list(in_shape[2:])
    expected = scatter_ref(y.to(compute_dtype(y)).numpy(), idx.numpy(), spatial)
    plane = int(np.prod(spatial))
    wire_idx = to_layout(idx.numpy(), index_layout, plane).astype(index_dtype)
    size = list(in_shape) if full_shape else spatial
    params = {"output_size": size}
    if index_layout != "plane":
        params["index_layout"] = index_layout
    if layout == "channels_last":
        params["layout"] = "channels_last"
    note = (f"indices from torch fractional_max_pool{nsp}d(kernel={kernel}, "
            f"output_size={pool_out}), scattered with NumPy; index_layout {index_layout}")
    return finish(name, "fractional_max_unpool", y,
                  torch.from_numpy(expected).to(y.dtype), params, layout, note,
                  {"indices": torch.from_numpy(np.ascontiguousarray(wire_idx))})


def manual_indices_case(name, x, idx, out_spatial, note):
    expected = scatter_ref(x.numpy(), idx, out_spatial)
    return case(name, "fractional_max_unpool",
                {"x": x, "indices": torch.from_numpy(idx.astype(np.int64))},
                {"output_size": list(out_spatial)}, {"y": torch.from_numpy(expected)},
                note=note)


# ---- the cases ---------------------------------------------------------------

def nearest_cases():
    cs = []
    seed = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    cs.append(nearest_case("nearest_seed_2x2_x2", None, sf=2, x=seed))
    shapes = {1: (2, 3, 5), 2: (2, 2, 3, 4), 3: (1, 2, 2, 3, 3)}
    for nsp, shape in shapes.items():
        for sf in (1.5, 2.5, 0.5, 1.3333, 3):
            cs.append(nearest_case(f"nearest_{nsp}d_sf{sf}", shape, sf=sf))
        for sf in (1.5, 0.5, 1.3333):
            cs.append(nearest_case(f"nearest_exact_{nsp}d_sf{sf}", shape, sf=sf,
                                   mode="nearest_exact"))
    cs.append(nearest_case("nearest_1d_sf2_int", (3, 2, 4), sf=2))
    cs.append(nearest_case("nearest_2d_sf_per_dim", (2, 2, 3, 4), sf=[2, 1.5]))
    cs.append(nearest_case("nearest_3d_sf_per_dim", (1, 2, 3, 2, 4), sf=[1.5, 2, 0.75]))
    cs.append(nearest_case("nearest_2d_size_up", (2, 3, 3, 4), size=[7, 9]))
    cs.append(nearest_case("nearest_2d_size_down", (2, 3, 7, 9), size=[3, 4]))
    cs.append(nearest_case("nearest_exact_2d_size_up", (2, 3, 3, 4), size=[7, 9],
                           mode="nearest_exact", mode_spelling="nearest-exact"))
    cs.append(nearest_case("nearest_exact_2d_size_down", (2, 3, 7, 9), size=[3, 4],
                           mode="nearest_exact"))
    cs.append(nearest_case("nearest_1d_size_down", (2, 2, 11), size=4))
    cs.append(nearest_case("nearest_3d_size_mixed", (1, 2, 3, 5, 2), size=[5, 2, 3]))
    cs.append(nearest_case("nearest_1elem_to_size", (1, 1, 1, 1), size=[3, 4]))
    cs.append(nearest_case("nearest_1elem_dims_sf2", (2, 2, 1, 5), sf=2))
    cs.append(nearest_case("nearest_to_1elem", (2, 1, 5, 4), size=[1, 1],
                           mode="nearest_exact"))
    # scale_factors whose output equals in or 2 * in: PyTorch's channels-first
    # kernel still uses 1 / scale_factor (its channels-last one does not)
    cs.append(nearest_case("nearest_sf1.1_out_eq_in", (2, 2, 2, 3), sf=1.1))
    cs.append(nearest_case("nearest_sf2.1_out_2x_in", (1, 2, 5, 5), sf=2.1))
    cs.append(nearest_case("nearest_sf2.1_channels_last", (1, 2, 5, 5), sf=2.1,
                           layout="channels_last"))
    cs.append(nearest_case("nearest_2d_channels_last", (2, 3, 3, 4), sf=1.5,
                           layout="channels_last"))
    cs.append(nearest_case("nearest_3d_channels_last", (2, 3, 2, 3, 2), size=[3, 5, 4],
                           mode="nearest_exact", layout="channels_last"))
    # float64 keeps the scale in double: 26 -> 22 and 2 -> 41 pick a different
    # source element than float32 would
    cs.append(nearest_case("nearest_f64_size_down", (1, 2, 26), size=22, dtype="float64"))
    cs.append(nearest_case("nearest_exact_f64_size", (2, 2, 2), size=41,
                           mode="nearest_exact", dtype="float64"))
    cs.append(nearest_case("nearest_f64_sf", (2, 2, 3, 4), sf=2.5, dtype="float64"))
    cs.append(nearest_case("nearest_f16_sf", (2, 2, 3, 4), sf=1.5, dtype="float16"))
    cs.append(nearest_case("nearest_bf16_size", (1, 3, 2, 3, 2), size=[4, 4, 3],
                           dtype="bfloat16"))
    # bfloat16: PyTorch rounds the scale to bfloat16, 8 / 14 -> 0.5703125, so
    # output 7 reads element 3 (float32 would read 4); values are the indices
    ramp = torch.arange(16, dtype=torch.float32).reshape(1, 2, 8).to(torch.bfloat16)
    cs.append(nearest_case("nearest_bf16_8_to_14", None, size=14, x=ramp))
    ramp = (torch.arange(138, dtype=torch.float32) % 64).reshape(1, 1, 1, 138)
    cs.append(nearest_case("nearest_bf16_sf1.1", None, sf=1.1, x=ramp.to(torch.bfloat16)))
    cs.append(nearest_case("nearest_bf16_2d_size", None, size=[13, 14],
                           x=randn((1, 2, 9, 8), "bfloat16", rng_later)))
    cs.append(nearest_case("nearest_exact_bf16_size", None, size=14, mode="nearest_exact",
                           x=randn((1, 2, 8), "bfloat16", rng_later)))
    # inf, -inf, NaN and -0.0 are copied, never mixed
    cs.append(nearest_case("nearest_nonfinite_2d_sf2", None, sf=2, x=nonfinite((1, 2, 3, 4))))
    cs.append(nearest_case("nearest_nonfinite_1d_same_size", None, size=6,
                           x=nonfinite((1, 1, 6))))
    cs.append(nearest_case("nearest_exact_nonfinite_1d_size", None, size=9,
                           mode="nearest_exact", x=nonfinite((1, 1, 6))))
    cs.append(nearest_case("nearest_exact_nonfinite_f64_3d", None, sf=1.5,
                           mode="nearest_exact", x=nonfinite((1, 1, 2, 3, 3), "float64")))
    return cs


def linear_cases():
    cs = []
    shapes = {1: (2, 3, 5), 2: (2, 2, 3, 4), 3: (1, 2, 2, 3, 3)}
    sfs = {1: 2.5, 2: 1.5, 3: 1.3333}
    for tr in ("asymmetric", "half_pixel", "align_corners"):
        for nsp, shape in shapes.items():
            cs.append(linear_case(f"fmu_{tr}_{nsp}d_sf{sfs[nsp]}", shape, sf=sfs[nsp],
                                  transform=tr))
        cs.append(linear_case(f"fmu_{tr}_2d_size_up", (2, 2, 3, 4), size=[7, 6], transform=tr))
        cs.append(linear_case(f"fmu_{tr}_2d_size_down", (2, 2, 7, 9), size=[3, 4],
                              transform=tr))
        cs.append(linear_case(f"fmu_{tr}_1d_sf0.5", (2, 2, 9), sf=0.5, transform=tr))
        cs.append(linear_case(f"fmu_{tr}_3d_sf_per_dim", (2, 1, 2, 3, 4), sf=[2, 1.5, 0.75],
                              transform=tr))
        cs.append(linear_case(f"fmu_{tr}_f64_2d", (2, 2, 4, 3), sf=[1.5, 2.5], transform=tr,
                              dtype="float64"))
    cs.append(linear_case("fmu_asymmetric_2d_sf2_int", (1, 2, 3, 3), sf=2))
    cs.append(linear_case("fmu_asymmetric_2d_sf3", (1, 1, 2, 3), sf=3))
    cs.append(linear_case("fmu_half_pixel_sf1.1_out_eq_in", (1, 2, 2, 3), sf=1.1,
                          transform="half_pixel"))
    cs.append(linear_case("fmu_asymmetric_sf1.1_out_eq_in", (1, 2, 2, 3), sf=1.1))
    cs.append(linear_case("fmu_align_corners_out1", (2, 2, 4, 5), size=[1, 3],
                          transform="align_corners"))
    cs.append(linear_case("fmu_half_pixel_1elem_in", (2, 2, 1, 3), size=[3, 5],
                          transform="half_pixel"))
    cs.append(linear_case("fmu_asymmetric_1elem_in", (1, 2, 1, 1, 2), sf=2))
    cs.append(linear_case("fmu_half_pixel_f16", (2, 2, 3, 4), sf=1.5, transform="half_pixel",
                          dtype="float16"))
    cs.append(linear_case("fmu_asymmetric_bf16", (2, 2, 3, 4), size=[5, 7], dtype="bfloat16"))
    cs.append(linear_case("fmu_align_corners_f16_3d", (1, 2, 2, 3, 2), sf=2,
                          transform="align_corners", dtype="float16"))
    cs.append(linear_case("fmu_half_pixel_channels_last", (2, 3, 3, 4), sf=[1.5, 2.5],
                          transform="half_pixel", layout="channels_last"))
    cs.append(linear_case("fmu_asymmetric_3d_channels_last", (1, 3, 2, 3, 2), size=[3, 4, 5],
                          layout="channels_last"))
    # Non-finite values. An axis of unchanged size reads (x[i], x[i]) with
    # weights (1, 0): [1, inf, 2, 3, -inf, 4] -> [1, nan, 2, 3, nan, 4] as in
    # PyTorch, where (x[i], x[i + 1]) would give [nan, inf, 2, nan, -inf, 4].
    issue = torch.tensor([1, np.inf, 2, 3, -np.inf, 4], dtype=torch.float32).reshape(1, 1, 6)
    negz = torch.tensor([-0.0, 1, -0.0, np.nan, 5], dtype=torch.float32).reshape(1, 1, 5)
    for tr in ("asymmetric", "half_pixel", "align_corners"):
        cs.append(linear_case(f"fmu_{tr}_nonfinite_same_size", None, size=6, transform=tr,
                              x=issue))
        cs.append(linear_case(f"fmu_{tr}_negzero_same_size", None, size=5, transform=tr,
                              x=negz))
        cs.append(linear_case(f"fmu_{tr}_nonfinite_2d_up", None, size=[5, 7], transform=tr,
                              x=nonfinite((1, 2, 3, 4))))
        cs.append(linear_case(f"fmu_{tr}_nonfinite_2d_w_same", None, size=[6, 5],
                              transform=tr, x=nonfinite((1, 1, 3, 5))))
        cs.append(linear_case(f"fmu_{tr}_nonfinite_f64_3d", None, sf=[1, 1.5, 2],
                              transform=tr, x=nonfinite((1, 1, 2, 3, 4), "float64")))
    cs.append(linear_case("fmu_asymmetric_nonfinite_sf1.1_out_eq_in", None, sf=1.1,
                          x=nonfinite((1, 1, 2, 6))))
    return cs


def indices_cases():
    cs = []
    for lay in ("plane", "tensor", "hwc", "nhwc"):
        cs.append(indices_case(f"fmu_indices_2d_{lay}", (2, 3, 7, 6), 2, (4, 3),
                               index_layout=lay))
    cs.append(indices_case("fmu_indices_3d_plane", (2, 2, 5, 6, 5), 2, (3, 3, 2)))
    cs.append(indices_case("fmu_indices_3d_nhwc", (1, 3, 5, 5, 6), 2, (2, 3, 3),
                           index_layout="nhwc"))
    cs.append(indices_case("fmu_indices_2d_int32", (2, 2, 8, 8), 3, (4, 5),
                           index_dtype="int32"))
    cs.append(indices_case("fmu_indices_2d_f64_full_shape", (2, 2, 6, 7), 2, (3, 4),
                           dtype="float64", full_shape=True))
    cs.append(indices_case("fmu_indices_2d_bf16", (1, 2, 6, 6), 2, (3, 3), dtype="bfloat16"))
    cs.append(indices_case("fmu_indices_2d_channels_last_hwc", (2, 3, 6, 5), 2, (3, 3),
                           index_layout="hwc", layout="channels_last"))
    cs.append(indices_case("fmu_indices_3d_channels_last", (1, 2, 4, 5, 4), 2, (2, 3, 2),
                           layout="channels_last", index_dtype="int32"))
    x = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]])
    idx = np.array([[[5, 1, 5, 0], [2, 2, 6, 2]]])
    cs.append(manual_indices_case("fmu_indices_1d_collisions_last_wins", x, idx, [7],
                                  "1d scatter; repeated indices: the last element of x wins"))
    return cs


def main():
    cases = nearest_cases() + linear_cases() + indices_cases()
    write_cases("interp", cases)


if __name__ == "__main__":
    main()
