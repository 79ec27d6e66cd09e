"""Golden cases for max_pool and max_unpool (family "pool").

References:
  - max_pool: torch.nn.functional.max_pool{1,2,3}d(return_indices=True).
  - max_unpool with indices: torch max_unpool{1,2,3}d; where indices collide
    (crafted duplicates) the expected output comes from a NumPy loop that
    scatters in row-major order of x, so the last element wins, which is
    the contract (and what PyTorch's CPU kernel does).
  - index layouts tensor/hwc/nhwc: derived with NumPy from PyTorch's plane
    indices by the definitions in kernels/index_layout.h.
  - mask form: a NumPy transcription of the seed's pseudocode (each element
    of x goes to the first nonzero mask position of its window, scanned in
    row-major order; a window without one drops the value).
float16/bfloat16 references are computed in float32 and rounded with
.to(dtype), as the server computes half types in float32. Max ops are exact,
so every case has atol = rtol = 0.

Run: /usr/bin/python3 tests/golden/gen_pool.py
"""
import itertools

import numpy as np
import torch
import torch.nn.functional as F

from golden_common import case, write_cases

RNG = np.random.default_rng(20240611)
POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
UNPOOL = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}
TORCH_DT = {"float32": torch.float32, "float64": torch.float64,
            "float16": torch.float16, "bfloat16": torch.bfloat16}


# ---- helpers ----------------------------------------------------------------

def values(shape, dtype="float32", ties=False):
    """Random values exactly representable in every dtype (bfloat16 has 8
    significant bits), so the request carries exactly what the reference saw.
    ties=True draws from a handful of integers, so windows hold equal maxima."""
    if ties:
        a = RNG.integers(-3, 4, size=shape).astype(np.float32)
    else:
        a = (RNG.integers(-128, 128, size=shape) / 8.0).astype(np.float32)
    return torch.from_numpy(a).to(TORCH_DT[dtype])


def spatial(v, nsp):
    return list(v) if isinstance(v, (list, tuple)) else [v] * nsp


def to_cl(t):
    """(N, C, *S) -> (N, *S, C), torch or numpy."""
    perm = [0] + list(range(2, t.ndim)) + [1]
    if isinstance(t, torch.Tensor):
        return t.permute(*perm).contiguous()
    return np.ascontiguousarray(np.transpose(t, perm))


def relayout(plane_idx, layout, C, plane):
    """PyTorch plane indices (N, C, *S) -> the given index layout."""
    idx = np.asarray(plane_idx, dtype=np.int64)
    n = np.arange(idx.shape[0]).reshape([-1] + [1] * (idx.ndim - 1))
    c = np.arange(idx.shape[1]).reshape([1, -1] + [1] * (idx.ndim - 2))
    if layout == "plane":
        return idx
    if layout == "tensor":
        return (n * C + c) * plane + idx
    if layout == "hwc":
        return idx * C + c
    if layout == "nhwc":
        return (n * plane + idx) * C + c
    raise ValueError(layout)


def pool_ref(x, nsp, k, s=None, p=0, d=1, ceil=False):
    """torch max pool on x (computed in float32 for half types) -> x, y, indices."""
    xc = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    y, i = POOL[nsp](xc, k, s, p, d, ceil_mode=ceil, return_indices=True)
    return x, y.to(x.dtype), i


def scatter_ref(x, plane_idx, out_sp):
    """Last-wins scatter of x by plane indices into (N, C, *out_sp) (NumPy)."""
    xf = x.float().numpy() if x.dtype in (torch.float16, torch.bfloat16) else x.numpy()
    N, C = xf.shape[:2]
    plane = int(np.prod(out_sp))
    y = np.zeros((N, C, plane), dtype=xf.dtype)
    xs = xf.reshape(N, C, -1)
    ix = np.asarray(plane_idx).reshape(N, C, -1)
    for n in range(N):
        for c in range(C):
            for j in range(xs.shape[2]):
                y[n, c, ix[n, c, j]] = xs[n, c, j]
    return torch.from_numpy(y.reshape([N, C] + list(out_sp))).to(x.dtype)


def mask_ref(x, mask, k, s, p):
    """The seed's mask form (NumPy): first nonzero of each clipped window."""
    xf = x.float().numpy() if x.dtype in (torch.float16, torch.bfloat16) else x.numpy()
    m = np.asarray(mask) != 0
    N, C = xf.shape[:2]
    in_sp, out_sp = xf.shape[2:], m.shape[2:]
    y = np.zeros(m.shape, dtype=xf.dtype)
    for n, c in itertools.product(range(N), range(C)):
        for o in np.ndindex(*in_sp):
            ranges = []
            for dim, od in enumerate(o):
                a = od * s[dim] - p[dim]
                ranges.append(range(max(a, 0), min(a + k[dim], out_sp[dim])))
            for pos in itertools.product(*ranges):
                if m[(n, c) + pos]:
                    y[(n, c) + pos] = xf[(n, c) + o]
                    break
    return torch.from_numpy(y).to(x.dtype)


def default_unpool(in_sp, k, s, p):
    return [(i - 1) * s_ + k_ - 2 * p_ for i, k_, s_, p_ in zip(in_sp, k, s, p)]


def params_of(**kw):
    return {k: v for k, v in kw.items() if v is not None}


CASES = []


def add_pool(name, shape, k, s=None, p=0, d=1, ceil=False, dtype="float32",
             index_layout=None, layout=None, x=None, ties=False, note=""):
    nsp = len(shape) - 2
    if x is None:
        x = values(shape, dtype, ties)
    _, y, idx = pool_ref(x, nsp, k, s, p, d, ceil)
    plane = int(np.prod(shape[2:]))
    idx_out = relayout(idx.numpy(), index_layout or "plane", shape[1], plane)
    params = params_of(kernel_size=k, stride=s, padding=p or None,
                       dilation=d if d != 1 else None,
                       ceil_mode=True if ceil else None,
                       index_layout=index_layout, layout=layout)
    xin, yout = x, y
    if layout == "channels_last":
        xin, yout, idx_out = to_cl(x), to_cl(y), to_cl(idx_out)
    CASES.append(case(name, "max_pool", {"x": xin}, params,
                      {"y": yout, "indices": torch.from_numpy(np.asarray(idx_out))},
                      note=note))
    return x, y, idx


def add_unpool(name, x, plane_idx, k, s=None, p=0, output_size=None, dtype_idx="int64",
               index_layout=None, layout=None, out_sp=None, note=""):
    """max_unpool with indices; expected from torch, cross-checked against
    the NumPy last-wins scatter (they must agree)."""
    nsp = x.ndim - 2
    kk, ss, pp = spatial(k, nsp), spatial(s if s is not None else k, nsp), spatial(p, nsp)
    if out_sp is None:
        if output_size is None:
            out_sp = default_unpool(x.shape[2:], kk, ss, pp)
        else:
            out_sp = list(output_size[-nsp:])
    y = scatter_ref(x, plane_idx, out_sp)
    if not _has_duplicates(plane_idx):
        xc = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        yt = UNPOOL[nsp](xc, torch.as_tensor(np.asarray(plane_idx)), k, s, p,
                         output_size=output_size).to(x.dtype)
        assert torch.equal(yt, y), name
    plane = int(np.prod(out_sp))
    idx = relayout(plane_idx, index_layout or "plane", x.shape[1], plane).astype(dtype_idx)
    params = params_of(kernel_size=k, stride=s, padding=p or None, output_size=output_size,
                       index_layout=index_layout, layout=layout)
    xin, yout = x, y
    if layout == "channels_last":
        xin, yout, idx = to_cl(x), to_cl(y), to_cl(idx)
    CASES.append(case(name, "max_unpool", {"x": xin, "indices": idx}, params, {"y": yout},
                      note=note))


def _has_duplicates(plane_idx):
    a = np.asarray(plane_idx)
    flat = a.reshape(a.shape[0] * a.shape[1], -1)
    return any(len(np.unique(r)) != len(r) for r in flat)


def add_unpool_mask(name, x, mask, k, s=None, p=0, output_size=None, layout=None,
                    torch_check=None, note=""):
    nsp = x.ndim - 2
    kk, ss, pp = spatial(k, nsp), spatial(s if s is not None else k, nsp), spatial(p, nsp)
    y = mask_ref(x, mask, kk, ss, pp)
    if torch_check is not None:  # mask built from torch's argmax with disjoint windows
        idx = np.asarray(torch_check)
        xc = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        yt = UNPOOL[nsp](xc, torch.as_tensor(idx), k, s, p,
                         output_size=list(np.asarray(mask).shape[2:])).to(x.dtype)
        assert torch.equal(yt, y), name
    params = params_of(kernel_size=k, stride=s, padding=p or None, output_size=output_size,
                       layout=layout)
    xin, min_, yout = x, mask, y
    if layout == "channels_last":
        xin, min_, yout = to_cl(x), to_cl(np.asarray(mask)), to_cl(y)
    CASES.append(case(name, "max_unpool", {"x": xin, "mask": min_}, params, {"y": yout},
                      note=note))


def mask_from_indices(idx, out_sp, dtype=np.uint8):
    i = np.asarray(idx)
    N, C = i.shape[:2]
    m = np.zeros((N, C, int(np.prod(out_sp))), dtype=dtype)
    fi = i.reshape(N, C, -1)
    for n, c in itertools.product(range(N), range(C)):
        m[n, c, fi[n, c]] = 1
    return m.reshape([N, C] + list(out_sp))


# ---- max_pool ---------------------------------------------------------------

def gen_max_pool():
    add_pool("max_pool1d_pad_stride", [2, 3, 9], 3, 2, 1)
    add_pool("max_pool1d_dilation_ceil", [1, 2, 10], 3, 2, 1, 2, ceil=True)
    add_pool("max_pool1d_dilation_floor", [1, 2, 10], 3, 2, 1, 2, ceil=False)
    add_pool("max_pool1d_ceil_last_window_dropped", [1, 2, 3], 2, 2, 1, ceil=True,
             note="ceil gives 3 windows; the third would start in the right padding")
    add_pool("max_pool1d_ties", [2, 2, 11], 3, 1, 1, ties=True,
             note="equal maxima: the first position wins")
    add_pool("max_pool1d_window_all_padding", [1, 1, 1], 2, 1, 1, 2,
             x=torch.tensor([[[5.0]]]),
             note="dilation skips the only element: PyTorch reports -inf and index 1")
    add_pool("max_pool1d_bfloat16", [2, 2, 8], 2, dtype="bfloat16")
    add_pool("max_pool1d_channels_last", [2, 3, 7], 3, 2, 1, layout="channels_last")
    add_pool("max_pool1d_index_nhwc", [2, 3, 7], 2, 2, index_layout="nhwc")

    add_pool("max_pool2d_pad_stride", [2, 2, 7, 5], [3, 2], [2, 1], [1, 0])
    add_pool("max_pool2d_dilation", [1, 3, 9, 8], 3, 2, 1, [2, 1])
    add_pool("max_pool2d_ceil", [2, 1, 6, 7], 3, 2, ceil=True)
    add_pool("max_pool2d_floor", [2, 1, 6, 7], 3, 2, ceil=False)
    add_pool("max_pool2d_one_element", [1, 1, 1, 1], 1)
    add_pool("max_pool2d_one_row", [1, 2, 1, 5], [1, 2], [1, 1])
    add_pool("max_pool2d_ties", [1, 2, 6, 6], 3, 1, 1, ties=True)
    x = values([1, 2, 5, 5])
    nan, inf = float("nan"), float("inf")
    x[0, 0, 0, 0] = nan
    x[0, 0, 0, 1] = nan          # two NaNs in one window: the last one is reported
    x[0, 0, 3, 3] = nan
    x[0, 1, :2, :2] = -inf       # a window of -inf: its first position
    x[0, 1, 4, 4] = inf
    add_pool("max_pool2d_nan_inf", [1, 2, 5, 5], 2, 2, ceil=True, x=x,
             note="NaN wins and the last NaN of a window is reported; all -inf -> first")
    add_pool("max_pool2d_window_all_padding", [1, 1, 1, 1], 2, 1, 1, 2,
             x=torch.tensor([[[[5.0]]]]), note="PyTorch reports -inf and index 2")
    add_pool("max_pool2d_float64", [2, 2, 5, 6], 2, 1, 1, dtype="float64")
    add_pool("max_pool2d_float16", [2, 2, 6, 5], 3, 2, 1, dtype="float16")
    add_pool("max_pool2d_bfloat16", [1, 3, 5, 5], [2, 3], [2, 2], [1, 1], dtype="bfloat16")
    add_pool("max_pool2d_channels_last", [2, 3, 5, 4], 2, 1, 1, layout="channels_last")
    for lay in ("tensor", "hwc", "nhwc"):
        add_pool(f"max_pool2d_index_{lay}", [2, 3, 4, 5], 2, 2, ceil=True, index_layout=lay)
    add_pool("max_pool2d_channels_last_index_nhwc", [2, 3, 4, 4], 2,
             layout="channels_last", index_layout="nhwc")

    add_pool("max_pool3d_pad_stride", [1, 2, 5, 4, 6], [2, 3, 2], [2, 1, 2], [1, 1, 0])
    add_pool("max_pool3d_dilation_ceil", [2, 1, 7, 6, 5], 3, 2, 1, [1, 2, 1], ceil=True)
    add_pool("max_pool3d_one_element_dims", [1, 2, 1, 4, 1], [1, 2, 1], [1, 1, 1])
    add_pool("max_pool3d_window_all_padding", [1, 1, 1, 1, 1], 2, 1, 1, 2,
             x=torch.tensor([[[[[5.0]]]]]), note="PyTorch reports -inf and index 3")
    add_pool("max_pool3d_float16", [1, 2, 4, 4, 3], 2, dtype="float16")
    add_pool("max_pool3d_channels_last", [2, 2, 3, 4, 3], 2, 1, layout="channels_last")
    add_pool("max_pool3d_index_hwc", [2, 2, 4, 3, 4], 2, [2, 1, 2], index_layout="hwc")


# ---- max_unpool with indices ------------------------------------------------

def gen_max_unpool():
    # 1d. output_size at both ends of its range, each the size of the input
    # that was pooled: ceil mode gives the smallest, floor mode the largest.
    x, y, i = pool_ref(values([2, 3, 9]), 1, 3, 2, 1)
    add_unpool("max_unpool1d_pad_stride", y, i, 3, 2, 1)
    x, y, i = pool_ref(values([2, 3, 8]), 1, 3, 2, 1, ceil=True)
    add_unpool("max_unpool1d_output_size_min", y, i, 3, 2, 1, output_size=[8],
               note="default 9, stride 2: 8 is the smallest size PyTorch accepts")
    x, y, i = pool_ref(values([1, 2, 9]), 1, 2, 2)
    add_unpool("max_unpool1d_output_size_max", y, i, 2, 2, output_size=[9],
               note="default 8, stride 2: 9 is the largest size PyTorch accepts")
    x, y, i = pool_ref(values([2, 2, 9], "bfloat16"), 1, 3, 2)
    add_unpool("max_unpool1d_bfloat16", y, i, 3, 2)
    x, y, i = pool_ref(values([2, 3, 8]), 1, 2, 2)
    add_unpool("max_unpool1d_channels_last", y, i, 2, layout="channels_last")
    add_unpool("max_unpool1d_index_hwc", y, i, 2, index_layout="hwc")
    add_unpool("max_unpool1d_int32_indices", y, i, 2, dtype_idx="int32")

    # 2d
    x, y, i = pool_ref(values([2, 2, 7, 5]), 2, [3, 2], [2, 1], [1, 0])
    add_unpool("max_unpool2d_pad_stride", y, i, [3, 2], [2, 1], [1, 0],
               output_size=[7, 5])
    x, y, i = pool_ref(values([2, 3, 6, 6]), 2, 2)
    add_unpool("max_unpool2d_default", y, i, 2)
    add_unpool("max_unpool2d_int32_indices", y, i, 2, dtype_idx="int32")
    for lay in ("tensor", "hwc", "nhwc"):
        add_unpool(f"max_unpool2d_index_{lay}", y, i, 2, index_layout=lay)
    add_unpool("max_unpool2d_channels_last", y, i, 2, layout="channels_last")
    add_unpool("max_unpool2d_channels_last_index_nhwc", y, i, 2, layout="channels_last",
               index_layout="nhwc")
    x, y, i = pool_ref(values([2, 2, 5, 5]), 2, 2, ceil=True)
    add_unpool("max_unpool2d_output_size_min", y, i, 2, output_size=[5, 5],
               note="default 6x6, stride 2: 5 is the smallest size")
    x, y, i = pool_ref(values([1, 3, 7, 7]), 2, 2)
    add_unpool("max_unpool2d_output_size_max", y, i, 2, output_size=[7, 7],
               note="default 6x6, stride 2: 7 is the largest size")
    add_unpool("max_unpool2d_output_size_full_shape", y, i, 2, output_size=[1, 3, 7, 7])
    add_unpool("max_unpool2d_output_size_max_index_hwc", y, i, 2, output_size=[7, 7],
               index_layout="hwc")
    x, y, i = pool_ref(values([1, 2, 7, 7], ties=True), 2, 3, 2, 1)
    add_unpool("max_unpool2d_overlap_stride_lt_kernel", y, i, 3, 2, 1, output_size=[7, 7],
               note="stride < kernel: neighbouring windows may share an argmax")
    for dt in ("float64", "float16", "bfloat16"):
        x, y, i = pool_ref(values([2, 2, 5, 6], dt), 2, 2, 2)
        add_unpool(f"max_unpool2d_{dt}", y, i, 2, output_size=[5, 6])

    # crafted collisions: several elements of x target one position.
    xs = torch.from_numpy((np.arange(2 * 3 * 4 * 4) + 1).reshape(2, 3, 4, 4)
                          .astype(np.float32))
    ci = RNG.integers(0, 6, size=(2, 3, 4, 4))   # 16 elements into 6 of 64 positions
    add_unpool("max_unpool2d_collisions_last_wins", xs, ci, 2, note="last in row-major wins")
    add_unpool("max_unpool2d_collisions_index_tensor", xs, ci, 2, index_layout="tensor")
    add_unpool("max_unpool2d_collisions_channels_last", xs, ci, 2, layout="channels_last",
               note="last in row-major order of the logical (N, C, H, W) x wins")
    ci1 = np.zeros((1, 2, 7), dtype=np.int64)   # every element to position 0
    add_unpool("max_unpool1d_collisions_all_one_position",
               torch.from_numpy((np.arange(14) - 5.0).reshape(1, 2, 7)), ci1, 2,
               note="the last element of each plane lands at 0")

    # 3d
    x, y, i = pool_ref(values([1, 2, 5, 4, 6]), 3, [2, 3, 2], [2, 1, 2], [1, 1, 0])
    add_unpool("max_unpool3d_pad_stride", y, i, [2, 3, 2], [2, 1, 2], [1, 1, 0],
               output_size=[5, 4, 6])
    x, y, i = pool_ref(values([2, 2, 4, 4, 4]), 3, 2)
    add_unpool("max_unpool3d_default", y, i, 2)
    add_unpool("max_unpool3d_channels_last", y, i, 2, layout="channels_last")
    add_unpool("max_unpool3d_index_nhwc", y, i, 2, index_layout="nhwc")
    x, y, i = pool_ref(values([1, 2, 3, 5, 4]), 3, 2)
    add_unpool("max_unpool3d_output_size_max", y, i, 2, output_size=[3, 5, 4],
               note="floor-mode pool of 3x5x4: largest sizes in dims 0 and 1")
    x, y, i = pool_ref(values([2, 1, 3, 3, 4]), 3, 2, ceil=True)
    add_unpool("max_unpool3d_output_size_min", y, i, 2, output_size=[3, 3, 4],
               note="ceil-mode pool of 3x3x4: smallest sizes in dims 0 and 1")
    x, y, i = pool_ref(values([1, 2, 4, 4, 4], "float16"), 3, 2)
    add_unpool("max_unpool3d_float16", y, i, 2, dtype_idx="int32")
    xs = torch.from_numpy((np.arange(1 * 2 * 2 * 2 * 2) + 1.0).reshape(1, 2, 2, 2, 2))
    ci = RNG.integers(0, 3, size=(1, 2, 2, 2, 2))
    add_unpool("max_unpool3d_collisions_float64", xs, ci, 2)


# ---- max_unpool, mask form --------------------------------------------------

def gen_max_unpool_mask():
    # masks from PyTorch's argmax, disjoint windows: same as the indices form.
    x, y, i = pool_ref(values([2, 3, 6, 6]), 2, 2)
    m = mask_from_indices(i, [6, 6])
    add_unpool_mask("max_unpool2d_mask_from_indices", y, m, 2, torch_check=i)
    add_unpool_mask("max_unpool2d_mask_float32", y, m.astype(np.float32), 2, torch_check=i)
    add_unpool_mask("max_unpool2d_mask_bool", y, m.astype(np.bool_), 2, torch_check=i)
    add_unpool_mask("max_unpool2d_mask_channels_last", y, m, 2, layout="channels_last",
                    torch_check=i)
    m7 = np.pad(m, [(0, 0), (0, 0), (0, 1), (0, 1)])
    add_unpool_mask("max_unpool2d_mask_larger_than_default", y, m7, 2,
                    note="mask 7x7, default 6x6: the extra row/column is outside all windows")
    x, y, i = pool_ref(values([1, 2, 9]), 1, 3)
    add_unpool_mask("max_unpool1d_mask_from_indices", y, mask_from_indices(i, [9]), 3,
                    torch_check=i)
    x, y, i = pool_ref(values([1, 2, 4, 4, 6]), 3, 2)
    add_unpool_mask("max_unpool3d_mask_from_indices", y, mask_from_indices(i, [4, 4, 6]), 2,
                    torch_check=i)
    add_unpool_mask("max_unpool3d_mask_channels_last", y, mask_from_indices(i, [4, 4, 6]), 2,
                    layout="channels_last")

    # several nonzeros per window, windows with none, any numeric dtype.
    x = values([2, 2, 3, 3])
    m = (RNG.random((2, 2, 6, 6)) < 0.3).astype(np.int32) * RNG.integers(-3, 4, (2, 2, 6, 6))
    m[0, 0, :2, :2] = 0                          # an empty window: its value is dropped
    m[0, 1, :2, :2] = 1                          # a full window: the first position
    add_unpool_mask("max_unpool2d_mask_random_int32", x, m.astype(np.int32), 2,
                    note="first nonzero of each window; empty windows drop the value")
    xh = values([2, 2, 3, 3], "float16")
    add_unpool_mask("max_unpool2d_mask_float16", xh, m.astype(np.float32), 2)
    mo = (RNG.random((1, 2, 7, 7)) < 0.25).astype(np.uint8)
    add_unpool_mask("max_unpool2d_mask_overlap_padding", values([1, 2, 4, 4]), mo, 3, 2, 1,
                    note="stride < kernel with padding: windows overlap and are clipped")
    mo1 = (RNG.random((2, 1, 11)) < 0.3).astype(np.uint8)
    add_unpool_mask("max_unpool1d_mask_overlap", values([2, 1, 5]), mo1, 3, 2,
                    note="overlapping windows; a shared nonzero takes the later value")
    m3 = (RNG.random((1, 2, 4, 5, 4)) < 0.2).astype(np.float64)
    add_unpool_mask("max_unpool3d_mask_random_float64", values([1, 2, 2, 2, 2], "float64"), m3,
                    2, output_size=[4, 5, 4],
                    note="mask larger than default in dim 1; output_size agrees with it")
    mb = (RNG.random((1, 3, 8)) < 0.5).astype(np.uint8)
    add_unpool_mask("max_unpool1d_mask_bfloat16_stride_gt_kernel", values([1, 3, 3], "bfloat16"),
                    mb, 2, 3, note="stride > kernel: positions between windows stay 0")


def main():
    gen_max_pool()
    gen_max_unpool()
    gen_max_unpool_mask()
    write_cases("pool", CASES)


if __name__ == "__main__":
    main()
