"""Golden cases for resize (family "resize"), every one from PyTorch.

resize is ONNX Resize; these cases pin it to PyTorch's interpolate where
PyTorch has the mode, through the mapping the README documents:

  torch nearest                 mode nearest, asymmetric, nearest_mode floor
  torch nearest-exact           mode nearest, half_pixel, round_prefer_ceil
  torch linear/bilinear/trilinear, align_corners=False
                                mode linear, half_pixel
  ... align_corners=True        mode linear, align_corners
  torch bicubic, align_corners=False
                                mode cubic, half_pixel, cubic_coeff_a -0.75
  ... align_corners=True        mode cubic, align_corners, cubic_coeff_a -0.75
  torch bilinear, antialias=True
                                mode linear, half_pixel, antialias 1,
                                exclude_outside 1
  torch bicubic, antialias=True mode cubic, half_pixel, antialias 1,
                                exclude_outside 1, cubic_coeff_a -0.5
                                (PyTorch's antialiased bicubic uses
                                A = -0.5 and drops taps outside the input)

Nearest is compared exactly (a gather). Interpolation is compared with a
tolerance: unpoold computes the weights in double as ONNX's reference does
and sums the taps in another order than PyTorch's float kernels, so the
last bits differ (float32: atol and rtol 1e-5 of max(1, |y|); float64:
1e-12). Modes PyTorch lacks (the other transforms, tf_crop_and_resize,
exclude_outside alone, keep_aspect_ratio_policy) are covered by ONNX's own
conformance cases (tests/py/test_onnx_resize_conformance.py).

Run: /usr/bin/python3 tests/golden/gen_resize.py
"""
import numpy as np
import torch
import torch.nn.functional as F

from golden_common import case, write_cases

torch.manual_seed(20261129)
LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def randn(shape, dtype=torch.float32):
    return (torch.randn(shape, dtype=torch.float64) * 2).to(dtype)


def spatial_axes(x):
    return list(range(2, x.dim()))


def nearest(name, shape, size=None, sf=None, exact=False, dtype=torch.float32, whole=False):
    x = randn(shape, dtype) if dtype.is_floating_point else torch.randint(
        0 if dtype == torch.uint8 else -128, 256 if dtype == torch.uint8 else 128, shape,
        dtype=dtype)
    mode = "nearest-exact" if exact else "nearest"
    y = F.interpolate(x, size=size, scale_factor=sf, mode=mode)
    params = {"mode": "nearest",
              "coordinate_transformation_mode": "half_pixel" if exact else "asymmetric",
              "nearest_mode": "round_prefer_ceil" if exact else "floor"}
    nsp = x.dim() - 2
    if size is not None:
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * nsp
        if whole:
            params["sizes"] = list(shape[:2]) + sizes
        else:
            params["sizes"] = sizes
            params["axes"] = spatial_axes(x)
    else:
        sfs = list(sf) if isinstance(sf, (list, tuple)) else [sf] * nsp
        params["scales"] = ([1.0, 1.0] if whole else []) + [float(s) for s in sfs]
        if not whole:
            params["axes"] = [a - x.dim() for a in spatial_axes(x)]  # negative axes
    return case(name, "resize", {"x": x}, params, {"y": y},
                note="torch interpolate(mode=%s)" % mode)


def interp(name, shape, size=None, sf=None, mode="linear", align_corners=False,
           antialias=False, dtype=torch.float32):
    x = randn(shape, dtype)
    nsp = x.dim() - 2
    tmode = LINEAR[nsp] if mode == "linear" else "bicubic"
    y = F.interpolate(x, size=size, scale_factor=sf, mode=tmode, align_corners=align_corners,
                      antialias=antialias)
    params = {"mode": mode,
              "coordinate_transformation_mode": "align_corners" if align_corners else "half_pixel",
              "axes": spatial_axes(x)}
    if size is not None:
        params["sizes"] = list(size)
    else:
        params["scales"] = [float(s) for s in sf]
    if mode == "cubic":
        params["cubic_coeff_a"] = -0.5 if antialias else -0.75
    if antialias:
        params["antialias"] = 1
        params["exclude_outside"] = 1
    tol = TOL[dtype]
    return case(name, "resize", {"x": x}, params, {"y": y}, atol=tol, rtol=tol,
                note="torch interpolate(mode=%s, align_corners=%s, antialias=%s)" % (
                    tmode, align_corners, antialias))


cases = [
    nearest("nearest_2d_x2_sizes", (2, 3, 5, 7), size=(10, 14)),
    nearest("nearest_2d_down_sizes", (1, 2, 9, 11), size=(4, 5)),
    nearest("nearest_2d_scales_whole", (2, 2, 4, 6), sf=(2, 3), whole=True),
    nearest("nearest_1d_x3", (2, 3, 5), sf=3),
    nearest("nearest_3d_sizes", (1, 2, 3, 4, 5), size=(5, 7, 9)),
    nearest("nearest_exact_2d_up", (2, 3, 5, 7), size=(12, 9), exact=True),
    nearest("nearest_exact_2d_down", (1, 2, 11, 13), size=(4, 6), exact=True),
    nearest("nearest_exact_1d_whole", (1, 3, 7), size=5, exact=True, whole=True),
    nearest("nearest_f64", (2, 2, 5, 6), size=(7, 13), dtype=torch.float64),
    nearest("nearest_uint8", (1, 3, 6, 7), size=(12, 11), dtype=torch.uint8),
    nearest("nearest_exact_uint8", (1, 3, 6, 7), size=(4, 10), exact=True, dtype=torch.uint8),
    interp("linear_1d_half_pixel", (2, 3, 9), size=(17,)),
    interp("linear_1d_align_corners", (2, 3, 9), size=(4,), align_corners=True),
    interp("bilinear_x2_half_pixel", (2, 3, 6, 8), sf=(2, 2)),
    interp("bilinear_down_half_pixel", (1, 2, 13, 11), size=(5, 4)),
    interp("bilinear_align_corners", (2, 2, 6, 8), size=(11, 5), align_corners=True),
    interp("trilinear_half_pixel", (1, 2, 4, 5, 6), size=(7, 3, 9)),
    interp("trilinear_align_corners", (1, 2, 4, 5, 6), size=(3, 8, 5), align_corners=True),
    interp("bilinear_f64", (2, 2, 5, 7), size=(9, 12), dtype=torch.float64),
    interp("bicubic_x2_half_pixel", (2, 3, 6, 8), sf=(2, 2), mode="cubic"),
    interp("bicubic_down_half_pixel", (1, 2, 13, 11), size=(5, 7), mode="cubic"),
    interp("bicubic_align_corners", (2, 2, 6, 8), size=(11, 5), mode="cubic",
           align_corners=True),
    interp("bicubic_align_corners_up", (1, 3, 5, 5), size=(9, 13), mode="cubic",
           align_corners=True),
    interp("bicubic_f64", (2, 2, 5, 7), size=(9, 12), mode="cubic", dtype=torch.float64),
    interp("bicubic_f64_align_corners", (1, 2, 7, 5), size=(4, 9), mode="cubic",
           align_corners=True, dtype=torch.float64),
    interp("bilinear_antialias_down", (2, 2, 16, 21), size=(5, 7), antialias=True),
    interp("bilinear_antialias_mixed", (1, 3, 12, 7), size=(5, 15), antialias=True),
    interp("bicubic_antialias_down", (2, 2, 16, 21), size=(5, 7), mode="cubic",
           antialias=True),
    interp("bicubic_antialias_f64", (1, 2, 15, 9), size=(4, 4), mode="cubic", antialias=True,
           dtype=torch.float64),
]

write_cases("resize", cases)
