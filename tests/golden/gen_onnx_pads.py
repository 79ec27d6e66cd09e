"""Golden cases for ONNX's padding forms (family "onnx_pads"): pads,
auto_pad and storage_order on max_pool, pads on max_unpool, pads, auto_pad
and output_shape on conv_transpose.

References are explicitly padded PyTorch calls:
  - max_pool: F.pad with -inf by the begin and end pads, then max_pool with
    no padding; indices mapped from the padded plane back to the input's
    (row-major, or column-major for storage_order 1).
  - max_unpool: a NumPy scatter of x at the max_pool indices into the ONNX
    default size (in - 1) * stride - begin - end + kernel.
  - conv_transpose: the unpadded conv_transpose, then cropped by the begin
    and end pads.
auto_pad and output_shape resolve to pads by ONNX's rules, written here in
Python. Max ops are exact; conv_transpose keeps gen_conv.py's float32
tolerance.

Run: /usr/bin/python3 tests/golden/gen_onnx_pads.py
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from golden_common import case, write_cases

RNG = np.random.default_rng(20261130)
POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def values(shape):
    return torch.from_numpy((RNG.integers(-128, 128, size=shape) / 8.0).astype(np.float32))


def torch_pad(pads, nsp):
    """ONNX pads (begins, ends; first spatial dim first) -> F.pad's order
    (last dim first, (begin, end) pairs)."""
    out = []
    for d in reversed(range(nsp)):
        out += [pads[d], pads[nsp + d]]
    return out


def same_pads(shape, k, s, d, lower):
    nsp = len(shape)
    b, e = [0] * nsp, [0] * nsp
    for i in range(nsp):
        out = math.ceil(shape[i] / s[i])
        total = max(0, (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - shape[i])
        b[i] = total - total // 2 if lower else total // 2
        e[i] = total - b[i]
    return b + e


def pool_ref(x, k, s, d, pads, storage_order):
    nsp = x.dim() - 2
    xp = F.pad(x, torch_pad(pads, nsp), value=-math.inf)
    y, ip = POOL[nsp](xp, k, s, 0, d, return_indices=True)
    padded = list(xp.shape[2:])
    size = list(x.shape[2:])
    coords = np.unravel_index(ip.numpy(), padded)
    coords = [c - pads[i] for i, c in enumerate(coords)]
    order = "F" if storage_order else "C"
    idx = np.ravel_multi_index(coords, size, order=order)
    return y, torch.from_numpy(idx.astype(np.int64))


def pool_case(name, shape, k, s=None, d=None, pads=None, auto_pad=None, storage_order=0):
    nsp = len(shape) - 2
    s = s or [1] * nsp
    d = d or [1] * nsp
    x = values(shape)
    params = {"kernel_size": k, "stride": s}
    if d != [1] * nsp:
        params["dilation"] = d
    if auto_pad:
        params["auto_pad"] = auto_pad
        if auto_pad == "valid":
            pads = [0] * (2 * nsp)
        else:
            pads = same_pads(shape[2:], k, s, d, auto_pad == "same_lower")
    else:
        params["pads"] = pads
    if storage_order:
        params["storage_order"] = 1
    y, i = pool_ref(x, k, s, d, pads, storage_order)
    return case(name, "max_pool", {"x": x}, params, {"y": y, "indices": i}), x, y, i, pads


def unpool_case(name, shape, k, s, pads):
    _, _, y, i, _ = pool_case(name, shape, k, s, pads=pads)
    nsp = len(shape) - 2
    size = [(y.shape[2 + d] - 1) * s[d] - pads[d] - pads[nsp + d] + k[d] for d in range(nsp)]
    out = np.zeros(list(y.shape[:2]) + size, dtype=np.float32)
    flat = out.reshape(y.shape[0] * y.shape[1], -1)
    yv = y.numpy().reshape(flat.shape[0], -1)
    iv = i.numpy().reshape(flat.shape[0], -1)
    for p in range(flat.shape[0]):
        flat[p, iv[p]] = yv[p]
    params = {"kernel_size": k, "stride": s, "pads": pads}
    return case(name, "max_unpool", {"x": y, "indices": i}, params, {"y": out})


def convt_case(name, xshape, wshape, s, pads=None, auto_pad=None, output_shape=None,
               output_padding=None, d=None):
    nsp = len(xshape) - 2
    d = d or [1] * nsp
    op_ = output_padding or [0] * nsp
    x, w, b = values(xshape), values(wshape), values((wshape[1],))
    full = CONVT[nsp](x, w, b, s, 0, op_, 1, d)
    params = {"stride": s}
    if output_padding:
        params["output_padding"] = output_padding
    if d != [1] * nsp:
        params["dilation"] = d
    if pads is not None:
        params["pads"] = pads
    else:
        if auto_pad:
            params["auto_pad"] = auto_pad
        if output_shape:
            params["output_shape"] = output_shape
        target = output_shape or [xshape[2 + i] * s[i] for i in range(nsp)]
        pads = [0] * (2 * nsp)
        for i in range(nsp):
            total = full.shape[2 + i] - target[i]
            pads[i] = total // 2 if auto_pad == "same_upper" else total - total // 2
            pads[nsp + i] = total - pads[i]
    sl = [slice(None), slice(None)]
    for i in range(nsp):
        sl.append(slice(pads[i], full.shape[2 + i] - pads[nsp + i]))
    y = full[tuple(sl)].contiguous()
    reduction = wshape[0] * int(np.prod(wshape[2:]))
    return case(name, "conv_transpose", {"x": x, "weight": w, "bias": b}, params, {"y": y},
                atol=1e-6 * reduction, rtol=1e-5)


def main():
    cases = []
    # max_pool: asymmetric pads, pads past half the kernel, auto_pad, storage_order
    cases.append(pool_case("mp_pads_1d", (2, 3, 11), [3], [2], pads=[2, 0])[0])
    cases.append(pool_case("mp_pads_2d_asym", (2, 2, 7, 8), [3, 2], [2, 1], pads=[1, 0, 0, 1])[0])
    cases.append(pool_case("mp_pads_2d_past_half", (1, 2, 6, 6), [3, 3], [1, 2], pads=[2, 2, 1, 2])[0])
    cases.append(pool_case("mp_pads_3d", (1, 2, 5, 6, 4), [2, 3, 2], [1, 2, 2],
                           pads=[1, 0, 1, 0, 2, 1])[0])
    cases.append(pool_case("mp_pads_dilated", (1, 2, 9, 9), [3, 2], [2, 2], d=[2, 3],
                           pads=[2, 1, 1, 3])[0])
    for ap in ("same_upper", "same_lower", "valid"):
        cases.append(pool_case(f"mp_auto_{ap}_2d", (1, 2, 7, 6), [3, 2], [2, 2], auto_pad=ap)[0])
        cases.append(pool_case(f"mp_auto_{ap}_1d", (2, 1, 10), [4], [3], auto_pad=ap)[0])
    cases.append(pool_case("mp_storage_order_2d", (2, 2, 6, 5), [2, 2], [2, 1], pads=[0, 0, 0, 1],
                           storage_order=1)[0])
    cases.append(pool_case("mp_storage_order_3d", (1, 2, 4, 5, 6), [2, 2, 3], [2, 2, 2],
                           pads=[0, 1, 1, 0, 0, 1], storage_order=1)[0])
    # max_unpool with pads: ONNX's default size
    cases.append(unpool_case("mu_pads_2d", (1, 2, 8, 9), [3, 2], [2, 2], [1, 0, 0, 1]))
    cases.append(unpool_case("mu_pads_1d", (2, 2, 9), [3], [3], [2, 1]))
    # conv_transpose: pads, auto_pad, output_shape
    cases.append(convt_case("ct_pads_2d", (1, 2, 4, 5), (2, 3, 3, 3), [2, 1], pads=[1, 0, 2, 1]))
    cases.append(convt_case("ct_pads_1d", (2, 3, 6), (3, 2, 4), [3], pads=[0, 2]))
    cases.append(convt_case("ct_pads_3d", (1, 2, 3, 3, 3), (2, 2, 2, 3, 2), [2, 1, 2],
                            pads=[1, 0, 0, 0, 1, 1]))
    for ap in ("same_upper", "same_lower"):
        cases.append(convt_case(f"ct_auto_{ap}", (1, 2, 4, 5), (2, 3, 3, 4), [2, 2], auto_pad=ap))
    cases.append(convt_case("ct_auto_valid", (1, 2, 4, 5), (2, 3, 3, 2), [2, 1], pads=[0, 0, 0, 0]))
    cases.append(convt_case("ct_output_shape", (1, 2, 4, 5), (2, 3, 3, 3), [2, 2],
                            output_shape=[8, 10]))
    cases.append(convt_case("ct_output_shape_upper", (1, 2, 4, 5), (2, 3, 3, 3), [2, 2],
                            output_shape=[7, 9], auto_pad="same_upper", output_padding=[1, 0]))
    write_cases("onnx_pads", cases)


if __name__ == "__main__":
    main()
