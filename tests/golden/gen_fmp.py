"""Golden cases for fractional_max_pool (family "fmp"), from PyTorch.

Every case runs torch.nn.functional.fractional_max_pool{2,3}d with
return_indices=True and explicit _random_samples, so the windows are known;
values and indices must match exactly (atol = rtol = 0).

- Samples are sent as the `samples` input, or, for the seed cases, drawn
  here with the server's documented generator (splitmix64, see
  kernels/fractional_max_pool.c) and only the seed is sent -- so those
  cases pin the generator down too. A case with neither gets seed 0.
- output_ratio is resolved as torch's wrapper does: int(input_size * ratio).
- index_layout tensor/hwc/nhwc are derived from torch's plane indices with
  NumPy (definitions in kernels/index_layout.h); channels_last permutes x,
  y and indices to (N, *S, C), the index values stay logical.
- float16/bfloat16 (torch's CPU kernel has neither): pool the rounded
  values in float32 and round y back, which is exact since pooling only
  selects.
- One 3d case with output + kernel - 1 == input: torch 1.13's 3d check is
  strict there (its 2d check is not); its expected values come from a NumPy
  transcription of the same interval formula, verified against torch on the
  other cases before it is used.

Run: /usr/bin/python3 tests/golden/gen_fmp.py
"""
import itertools

import numpy as np
import torch
import torch.nn.functional as F

from golden_common import case, write_cases

TORCH_DT = {"float32": torch.float32, "float64": torch.float64,
            "float16": torch.float16, "bfloat16": torch.bfloat16}
MASK64 = (1 << 64) - 1


def splitmix64_at(seed, k):
    z = (seed + (k + 1) * 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def seeded_samples(seed, n, c, nsp, f64):
    """The server's samples for `seed`: (N, C, nsp), exact in their dtype."""
    vals = []
    for k in range(n * c * nsp):
        z = splitmix64_at(seed & MASK64, k)
        vals.append((z >> 11) * 2.0 ** -53 if f64 else (z >> 40) * 2.0 ** -24)
    return torch.tensor(vals, dtype=torch.float64 if f64 else torch.float32).reshape(n, c, nsp)


def convert_indices(ind, layout, plane, channels):
    """torch's plane indices (N, C, *S_out) -> the requested index layout;
    `plane` is the product of the INPUT spatial sizes."""
    pos = ind.numpy().astype(np.int64)
    n = np.arange(pos.shape[0]).reshape((-1,) + (1,) * (pos.ndim - 1))
    c = np.arange(pos.shape[1]).reshape((1, -1) + (1,) * (pos.ndim - 2))
    if layout == "plane":
        return pos
    if layout == "tensor":
        return (n * channels + c) * plane + pos
    if layout == "hwc":
        return pos * channels + c
    return (n * plane + pos) * channels + c  # nhwc


def numpy_reference(x, kernel, out, samples):
    """PyTorch's CPU algorithm transcribed (used for what torch rejects)."""
    nsp = x.ndim - 2
    dt = x.dtype.type
    order = [1, 0] if nsp == 2 else [0, 1, 2]  # which sample drives dim d
    spatial = x.shape[2:]
    y = np.empty(x.shape[:2] + tuple(out), x.dtype)
    ind = np.empty(x.shape[:2] + tuple(out), np.int64)
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        seqs = []
        for d in range(nsp):
            u, i_n, o_n, k = dt(samples[n, c, order[d]]), spatial[d], out[d], kernel[d]
            seq = [0] * o_n
            if o_n > 1:
                alpha = dt(i_n - k) / dt(o_n - 1)
                for i in range(o_n - 1):
                    seq[i] = int((dt(i) + u) * alpha) - int(u * alpha)
            seq[o_n - 1] = i_n - k
            seqs.append(seq)
        for o in itertools.product(*[range(v) for v in out]):
            start = [seqs[d][o[d]] for d in range(nsp)]
            best, best_pos = -np.inf, int(np.ravel_multi_index(start, spatial))
            for kk in itertools.product(*[range(v) for v in kernel]):
                pos = tuple(start[d] + kk[d] for d in range(nsp))
                v = x[n, c][pos]
                if v > best or np.isnan(v):
                    best, best_pos = v, int(np.ravel_multi_index(pos, spatial))
            y[(n, c) + o], ind[(n, c) + o] = best, best_pos
    return torch.from_numpy(y), torch.from_numpy(ind)


def pool(x, kernel, out, samples, use_numpy=False):
    nsp = x.dim() - 2
    if use_numpy:
        return numpy_reference(x.numpy(), kernel, out, samples.numpy())
    fn = F.fractional_max_pool2d if nsp == 2 else F.fractional_max_pool3d
    y, ind = fn(x, tuple(kernel), output_size=tuple(out), return_indices=True,
                _random_samples=samples)
    return y, ind


def make(name, xshape, kernel, dtype="float32", output_size=None, output_ratio=None,
         index_layout="plane", channels_last=False, seed=0, server_seed=None,
         send_nothing=False, samples_dtype=None, special=None, use_numpy=False):
    nsp = len(xshape) - 2
    n, ch = xshape[0], xshape[1]
    spatial = xshape[2:]
    kernel = kernel if isinstance(kernel, (list, tuple)) else [kernel] * nsp
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*xshape, generator=g, dtype=torch.float64)
    if special == "nan":
        x.view(-1)[::7] = float("nan")
    elif special == "neginf":
        x[0, 0] = float("-inf")
    elif special == "ties":
        x = torch.round(x)
    tdt = TORCH_DT[dtype]
    x = x.to(tdt)
    ref_dt = torch.float64 if dtype == "float64" else torch.float32
    f64 = dtype == "float64"

    if output_size is not None:
        out = list(output_size[-nsp:])
    else:
        ratio = output_ratio if isinstance(output_ratio, list) else [output_ratio] * nsp
        out = [int(spatial[d] * ratio[d]) for d in range(nsp)]

    params = {"kernel_size": kernel if len(set(kernel)) > 1 else kernel[0]}
    inputs = {}
    if server_seed is not None or send_nothing:
        samples = seeded_samples(0 if send_nothing else server_seed, n, ch, nsp, f64)
        if server_seed is not None:
            params["seed"] = server_seed
    else:
        samples = torch.rand(n, ch, nsp, generator=g, dtype=torch.float64)
        sent = samples.to(TORCH_DT[samples_dtype or ("float64" if f64 else "float32")])
        samples = sent.to(ref_dt)
        inputs["samples"] = sent

    y, ind = pool(x.to(ref_dt), kernel, out, samples.to(ref_dt), use_numpy)
    y = y.to(tdt)
    if output_size is not None:
        params["output_size"] = list(output_size)
    else:
        params["output_ratio"] = output_ratio
    if index_layout != "plane":
        params["index_layout"] = index_layout
    plane = int(np.prod(spatial))
    ind = torch.from_numpy(convert_indices(ind, index_layout, plane, ch))

    xin = x
    if channels_last:
        params["layout"] = "channels_last"
        perm = (0,) + tuple(range(2, 2 + nsp)) + (1,)
        xin, y, ind = x.permute(*perm), y.permute(*perm), ind.permute(*perm)
    inputs = {"x": xin, **inputs}
    src = "numpy transcription" if use_numpy else f"torch fractional_max_pool{nsp}d"
    return case(name, "fractional_max_pool", inputs, params, {"y": y, "indices": ind},
                note=src)


def self_check():
    """The NumPy transcription agrees with torch where torch can run."""
    g = torch.Generator().manual_seed(99)
    for shape, k, out in [((2, 3, 9, 11), [2, 3], [4, 5]), ((1, 2, 7, 6, 8), [2, 2, 3], [3, 4, 5])]:
        x = torch.randn(*shape, generator=g)
        x.view(-1)[::5] = float("nan")
        s = torch.rand(shape[0], shape[1], len(shape) - 2, generator=g)
        ty, ti = pool(x, k, out, s)
        ny, ni = pool(x, k, out, s, use_numpy=True)
        assert torch.equal(ti, ni) and torch.allclose(ty, ny, equal_nan=True), shape


def cases():
    c = []
    # 2d
    c.append(make("fmp2d_output_size_k2", (2, 3, 9, 11), 2, output_size=(4, 5)))
    c.append(make("fmp2d_output_size_k3", (1, 2, 10, 9), 3, output_size=(5, 4), seed=1))
    c.append(make("fmp2d_kernel_per_dim", (2, 2, 8, 12), [2, 3], output_size=(5, 6), seed=2))
    c.append(make("fmp2d_output_ratio", (2, 3, 10, 13), 2, output_ratio=0.5, seed=3))
    c.append(make("fmp2d_output_ratio_per_dim", (1, 2, 11, 9), 3, output_ratio=[0.7, 0.45],
                  seed=4))
    c.append(make("fmp2d_output_max", (1, 2, 7, 6), 2, output_size=(6, 5), seed=5))
    c.append(make("fmp2d_output_one", (2, 1, 5, 4), 3, output_size=(1, 1), seed=6))
    c.append(make("fmp2d_kernel_equals_input", (1, 2, 3, 4), [3, 4], output_size=(1, 1),
                  seed=7))
    c.append(make("fmp2d_output_size_full_shape", (2, 2, 8, 8), 2,
                  output_size=(2, 2, 5, 3), seed=8))
    c.append(make("fmp2d_float64", (2, 2, 9, 10), 2, dtype="float64", output_size=(4, 6),
                  seed=9))
    c.append(make("fmp2d_float16", (1, 3, 8, 9), 2, dtype="float16", output_size=(5, 4),
                  seed=10))
    c.append(make("fmp2d_bfloat16", (1, 3, 8, 9), 3, dtype="bfloat16", output_size=(4, 4),
                  seed=11))
    c.append(make("fmp2d_samples_float64_x_float32", (1, 2, 9, 9), 2, output_size=(4, 7),
                  samples_dtype="float64", seed=12))
    c.append(make("fmp2d_ties", (2, 2, 8, 8), 2, output_size=(5, 5), special="ties", seed=13))
    c.append(make("fmp2d_nan_last_wins", (1, 2, 8, 7), 2, output_size=(4, 4), special="nan",
                  seed=14))
    c.append(make("fmp2d_neg_inf_plane", (1, 2, 5, 5), 2, output_size=(3, 3),
                  special="neginf", seed=15))
    c.append(make("fmp2d_index_tensor", (2, 3, 7, 8), 2, output_size=(4, 4),
                  index_layout="tensor", seed=16))
    c.append(make("fmp2d_index_hwc", (2, 3, 7, 8), 2, output_size=(4, 4), index_layout="hwc",
                  seed=17))
    c.append(make("fmp2d_index_nhwc", (2, 3, 7, 8), 2, output_size=(4, 4),
                  index_layout="nhwc", seed=18))
    c.append(make("fmp2d_channels_last", (2, 3, 9, 7), 2, output_size=(4, 5),
                  channels_last=True, seed=19))
    c.append(make("fmp2d_channels_last_nhwc", (2, 3, 9, 7), 3, output_size=(5, 4),
                  channels_last=True, index_layout="nhwc", seed=20))
    c.append(make("fmp2d_seed", (2, 3, 9, 10), 2, output_size=(5, 5), server_seed=42,
                  seed=21))
    c.append(make("fmp2d_seed_negative_float64", (1, 2, 9, 10), 3, dtype="float64",
                  output_size=(5, 6), server_seed=-7, seed=22))
    c.append(make("fmp2d_no_samples_no_seed", (1, 2, 8, 8), 2, output_size=(4, 4),
                  send_nothing=True, seed=23))
    c.append(make("fmp2d_larger", (1, 3, 30, 27), 3, output_size=(13, 20), seed=24))
    # 3d
    c.append(make("fmp3d_output_size_k2", (2, 2, 7, 8, 9), 2, output_size=(3, 4, 5), seed=30))
    c.append(make("fmp3d_kernel_per_dim", (1, 2, 8, 7, 9), [2, 3, 2], output_size=(4, 3, 5),
                  seed=31))
    c.append(make("fmp3d_output_ratio_k3", (1, 2, 9, 10, 11), 3, output_ratio=0.5, seed=32))
    c.append(make("fmp3d_float64", (2, 1, 6, 7, 8), 2, dtype="float64", output_size=(3, 3, 4),
                  seed=33))
    c.append(make("fmp3d_float16", (1, 2, 6, 6, 6), 2, dtype="float16", output_size=(3, 4, 3),
                  seed=34))
    c.append(make("fmp3d_bfloat16", (1, 2, 6, 6, 6), 2, dtype="bfloat16",
                  output_size=(4, 3, 3), seed=35))
    c.append(make("fmp3d_index_tensor", (2, 2, 5, 6, 7), 2, output_size=(3, 3, 3),
                  index_layout="tensor", seed=36))
    c.append(make("fmp3d_index_hwc", (2, 2, 5, 6, 7), 2, output_size=(3, 3, 3),
                  index_layout="hwc", seed=37))
    c.append(make("fmp3d_index_nhwc", (2, 2, 5, 6, 7), 2, output_size=(3, 3, 3),
                  index_layout="nhwc", seed=38))
    c.append(make("fmp3d_channels_last", (2, 3, 5, 6, 7), 2, output_size=(3, 4, 3),
                  channels_last=True, seed=39))
    c.append(make("fmp3d_seed", (1, 2, 6, 7, 8), 2, output_size=(3, 3, 4), server_seed=7,
                  seed=40))
    c.append(make("fmp3d_nan_last_wins", (1, 1, 5, 5, 5), 2, output_size=(3, 3, 3),
                  special="nan", seed=41))
    c.append(make("fmp3d_output_max_numpy", (1, 2, 4, 5, 6), 2, output_size=(3, 4, 5),
                  use_numpy=True, seed=42))
    return c


if __name__ == "__main__":
    self_check()
    write_cases("fmp", cases())
