"""Golden cases for conv_transpose (family "conv"), from PyTorch.

Each case runs torch.nn.functional.conv_transpose{1,2,3}d. output_size is
resolved the way torch.nn.ConvTranspose*d does it (_output_padding), so a
case with output_size is checked against the module, not re-derived here.

float16/bfloat16 cases: inputs are rounded to the half type first, the
reference is computed in float32 from the rounded values and rounded back
with .to() (round-to-nearest-even), as the server does.

Tolerances (|got - expected| <= atol + rtol * |expected|) depend on the
dtype and on R = (C_in / groups) * kernel volume, the number of products
summed into one output element, because the server and PyTorch sum them in
different orders:
  float32: rtol 1e-5, atol 1e-6 * R
  float64: rtol 1e-12, atol 1e-14 * R
  float16: rtol 1e-3, atol 1e-3 (one half ulp: the float32 sums may round
           to neighbouring halves), bfloat16: rtol 8e-3, atol 8e-3.

Run: /usr/bin/python3 tests/golden/gen_conv.py
"""
import math

import torch
import torch.nn.functional as F

from golden_common import case, write_cases

FNS = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
MODULES = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d,
           3: torch.nn.ConvTranspose3d}
TORCH_DT = {"float32": torch.float32, "float64": torch.float64,
            "float16": torch.float16, "bfloat16": torch.bfloat16}


def tolerances(dtype, reduction):
    if dtype == "float32":
        return 1e-6 * reduction, 1e-5
    if dtype == "float64":
        return 1e-14 * reduction, 1e-12
    if dtype == "float16":
        return 1e-3, 1e-3
    return 8e-3, 8e-3


def tup(v, nsp):
    return tuple(v) if isinstance(v, (list, tuple)) else (v,) * nsp


def resolved_output_padding(x, w, nsp, stride, padding, dilation, groups, output_size):
    """torch.nn.ConvTranspose*d's own _output_padding for output_size."""
    m = MODULES[nsp](w.shape[0], w.shape[1] * groups, tuple(w.shape[2:]),
                     stride=stride, padding=padding, dilation=dilation, groups=groups)
    return m._output_padding(x, list(output_size), list(tup(stride, nsp)),
                             list(tup(padding, nsp)), list(w.shape[2:]), nsp,
                             list(tup(dilation, nsp)))


def make(name, xshape, wshape, dtype="float32", bias=True, stride=1, padding=0,
         output_padding=0, dilation=1, groups=1, output_size=None,
         send_output_padding=False, channels_last=False, seed=0):
    nsp = len(xshape) - 2
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*xshape, generator=g, dtype=torch.float64)
    w = torch.randn(*wshape, generator=g, dtype=torch.float64) / math.sqrt(wshape[0])
    b = torch.randn(wshape[1] * groups, generator=g, dtype=torch.float64) if bias else None
    tdt = TORCH_DT[dtype]
    x, w = x.to(tdt), w.to(tdt)
    b = b.to(tdt) if b is not None else None
    ref_dt = torch.float64 if dtype == "float64" else torch.float32

    op = output_padding
    if output_size is not None:
        op = resolved_output_padding(x.to(ref_dt), w.to(ref_dt), nsp, stride, padding,
                                     dilation, groups, output_size[-nsp:])
    y = FNS[nsp](x.to(ref_dt), w.to(ref_dt), None if b is None else b.to(ref_dt),
                 stride=stride, padding=padding, output_padding=op, groups=groups,
                 dilation=dilation).to(tdt)

    params = {}
    if stride != 1:
        params["stride"] = list(stride) if isinstance(stride, tuple) else stride
    if padding != 0:
        params["padding"] = list(padding) if isinstance(padding, tuple) else padding
    if output_padding != 0 or send_output_padding:
        params["output_padding"] = (list(output_padding) if isinstance(output_padding, tuple)
                                    else output_padding)
    if dilation != 1:
        params["dilation"] = list(dilation) if isinstance(dilation, tuple) else dilation
    if groups != 1:
        params["groups"] = groups
    if output_size is not None:
        params["output_size"] = list(output_size)

    xin, yout = x, y
    if channels_last:
        params["layout"] = "channels_last"
        perm = (0,) + tuple(range(2, 2 + nsp)) + (1,)
        xin, yout = x.permute(*perm), y.permute(*perm)
    inputs = {"x": xin, "weight": w}
    if b is not None:
        inputs["bias"] = b
    reduction = (xshape[1] // groups) * math.prod(wshape[2:])
    atol, rtol = tolerances(dtype, reduction)
    return case(name, "conv_transpose", inputs, params, {"y": yout}, atol=atol, rtol=rtol,
                note=f"torch conv_transpose{nsp}d, reduction {reduction}")


def cases():
    c = []
    # 1d
    c.append(make("conv1d_basic", (2, 3, 7), (3, 4, 3)))
    c.append(make("conv1d_stride2_pad1_outpad1", (2, 3, 6), (3, 2, 4), stride=2, padding=1,
                  output_padding=1, seed=1))
    c.append(make("conv1d_dilation2_groups3", (1, 6, 5), (6, 2, 3), dilation=2, groups=3,
                  seed=2))
    c.append(make("conv1d_one_element", (1, 1, 1), (1, 1, 1), seed=3))
    c.append(make("conv1d_nobias_kernel_gt_input", (3, 2, 2), (2, 3, 5), bias=False, seed=4))
    c.append(make("conv1d_outpad_lt_dilation", (1, 2, 4), (2, 2, 3), dilation=3,
                  output_padding=2, seed=5))
    c.append(make("conv1d_output_size", (2, 2, 5), (2, 3, 3), stride=3, output_size=(17,),
                  seed=6))
    # 2d
    c.append(make("conv2d_basic", (1, 2, 4, 5), (2, 3, 3, 3), seed=10))
    c.append(make("conv2d_nobias", (2, 3, 5, 4), (3, 2, 2, 2), bias=False, seed=11))
    c.append(make("conv2d_stride_pad_outpad", (2, 3, 5, 7), (3, 4, 3, 4), stride=(2, 3),
                  padding=(1, 0), output_padding=(1, 2), seed=12))
    c.append(make("conv2d_dilation", (1, 2, 6, 5), (2, 3, 3, 2), dilation=(2, 3), padding=1,
                  seed=13))
    c.append(make("conv2d_groups2", (2, 4, 5, 5), (4, 3, 3, 3), groups=2, stride=2, seed=14))
    c.append(make("conv2d_depthwise", (2, 4, 6, 5), (4, 1, 3, 3), groups=4, padding=1,
                  seed=15))
    c.append(make("conv2d_depthwise_multiplier2", (1, 3, 5, 5), (3, 2, 3, 3), groups=3,
                  stride=2, padding=1, output_padding=1, seed=16))
    c.append(make("conv2d_batch3_odd", (3, 3, 5, 7), (3, 5, 3, 3), stride=2, seed=17))
    c.append(make("conv2d_1x1", (2, 5, 3, 4), (5, 3, 1, 1), seed=18))
    c.append(make("conv2d_one_element", (1, 1, 1, 1), (1, 1, 1, 1), seed=19))
    c.append(make("conv2d_big_padding", (1, 2, 5, 5), (2, 2, 3, 3), padding=2, seed=20))
    c.append(make("conv2d_output_size_spatial_max", (2, 3, 4, 5), (3, 2, 4, 4), stride=2,
                  padding=1, output_size=(9, 11), seed=21))
    c.append(make("conv2d_output_size_spatial_min", (2, 3, 4, 5), (3, 2, 4, 4), stride=2,
                  padding=1, output_size=(8, 10), seed=22))
    c.append(make("conv2d_output_size_full_shape", (2, 3, 4, 5), (3, 2, 3, 3), stride=3,
                  output_size=(2, 2, 12, 17), seed=23))
    c.append(make("conv2d_output_size_agrees_with_outpad", (1, 2, 3, 3), (2, 2, 3, 3),
                  stride=2, output_padding=1, output_size=(8, 8), seed=24))
    c.append(make("conv2d_k4s2p1", (2, 8, 8, 8), (8, 4, 4, 4), stride=2, padding=1,
                  seed=25))
    # one unit's col is larger than the server's col chunk
    # (81 x 1700 > 2^17 elements) and the chunk ends mid-row
    c.append(make("conv2d_chunked_col", (1, 1, 34, 50), (1, 1, 9, 9), padding=2, seed=26))
    # 3d
    c.append(make("conv3d_basic", (1, 2, 3, 4, 5), (2, 3, 2, 2, 2), seed=30))
    c.append(make("conv3d_stride_pad_outpad_groups", (2, 4, 3, 3, 4), (4, 2, 3, 2, 3),
                  stride=(2, 1, 2), padding=(1, 0, 1), output_padding=(1, 0, 1), groups=2,
                  seed=31))
    c.append(make("conv3d_dilation_nobias", (1, 3, 3, 4, 3), (3, 2, 2, 3, 2),
                  dilation=(2, 1, 3), bias=False, seed=32))
    c.append(make("conv3d_output_size", (1, 2, 2, 3, 3), (2, 2, 3, 3, 3), stride=2,
                  output_size=(6, 7, 8), seed=33))
    c.append(make("conv3d_one_element", (1, 1, 1, 1, 1), (1, 2, 1, 1, 1), seed=34))
    # dtypes
    c.append(make("conv1d_float64", (2, 3, 6), (3, 2, 3), dtype="float64", stride=2, seed=40))
    c.append(make("conv2d_float64_groups", (2, 4, 5, 4), (4, 1, 3, 3), dtype="float64",
                  groups=2, padding=1, seed=41))
    c.append(make("conv3d_float64", (1, 2, 3, 3, 3), (2, 2, 2, 2, 2), dtype="float64",
                  stride=2, output_padding=1, seed=42))
    c.append(make("conv1d_float16", (2, 3, 6), (3, 2, 3), dtype="float16", seed=43))
    c.append(make("conv2d_float16", (1, 3, 5, 5), (3, 2, 3, 3), dtype="float16", stride=2,
                  padding=1, seed=44))
    c.append(make("conv3d_float16", (1, 2, 3, 3, 2), (2, 2, 2, 2, 2), dtype="float16",
                  seed=45))
    c.append(make("conv1d_bfloat16", (2, 3, 6), (3, 2, 3), dtype="bfloat16", seed=46))
    c.append(make("conv2d_bfloat16", (1, 3, 5, 5), (3, 2, 3, 3), dtype="bfloat16", stride=2,
                  padding=1, seed=47))
    c.append(make("conv3d_bfloat16", (1, 2, 3, 3, 2), (2, 2, 2, 2, 2), dtype="bfloat16",
                  bias=False, seed=48))
    # channels_last: x and y are (N, *S, C); weight keeps PyTorch's layout
    c.append(make("conv1d_channels_last", (2, 3, 5), (3, 2, 3), stride=2, channels_last=True,
                  seed=50))
    c.append(make("conv2d_channels_last", (2, 3, 4, 5), (3, 4, 3, 3), stride=2, padding=1,
                  output_padding=1, channels_last=True, seed=51))
    c.append(make("conv3d_channels_last_float64", (1, 2, 3, 3, 3), (2, 2, 2, 2, 2),
                  dtype="float64", stride=2, channels_last=True, seed=52))
    c.append(make("conv2d_channels_last_float16", (1, 4, 3, 3), (4, 1, 3, 3),
                  dtype="float16", groups=2, channels_last=True, seed=53))
    return c


if __name__ == "__main__":
    write_cases("conv", cases())
