"""Golden cases for pixel_shuffle and pixel_unshuffle (family "shuffle").

References:
  - mode crd: torch.nn.functional.pixel_shuffle / pixel_unshuffle, on every
    dtype the request uses (the ops move elements, so uint8 and int8 run in
    PyTorch as they do here).
  - mode dcr: ONNX's DepthToSpace / SpaceToDepth definition written with
    NumPy reshapes and transposes (PyTorch has no dcr mode).
  - channels_last: the same references, permuted.
Every case is exact (atol = rtol = 0).

Run: /usr/bin/python3 tests/golden/gen_shuffle.py
"""
import numpy as np
import torch
import torch.nn.functional as F

from golden_common import case, write_cases

RNG = np.random.default_rng(20261129)
TORCH_DT = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
            "bfloat16": torch.bfloat16, "uint8": torch.uint8, "int8": torch.int8}


def values(shape, dtype):
    if dtype == "uint8":
        return torch.from_numpy(RNG.integers(0, 256, size=shape).astype(np.uint8))
    if dtype == "int8":
        return torch.from_numpy(RNG.integers(-128, 128, size=shape).astype(np.int8))
    a = (RNG.integers(-128, 128, size=shape) / 8.0).astype(np.float32)
    return torch.from_numpy(a).to(TORCH_DT[dtype])


def to_cl(t):
    return t.permute(0, 2, 3, 1).contiguous()


def d2s_dcr(x, r):
    """ONNX DepthToSpace, mode DCR."""
    n, c, h, w = x.shape
    t = x.reshape(n, r, r, c // (r * r), h, w).permute(0, 3, 4, 1, 5, 2)
    return t.reshape(n, c // (r * r), h * r, w * r)


def s2d_dcr(x, r):
    """ONNX SpaceToDepth (its only mode is DCR)."""
    n, c, h, w = x.shape
    t = x.reshape(n, c, h // r, r, w // r, r).permute(0, 3, 5, 1, 2, 4)
    return t.reshape(n, c * r * r, h // r, w // r)


def shuffle_case(name, up, x, r, mode, cl=False):
    if up:
        y = F.pixel_shuffle(x, r) if mode == "crd" else d2s_dcr(x, r)
        op, params = "pixel_shuffle", {"upscale_factor": r}
    else:
        y = F.pixel_unshuffle(x, r) if mode == "crd" else s2d_dcr(x, r)
        op, params = "pixel_unshuffle", {"downscale_factor": r}
    if mode != "crd" or RNG.random() < 0.5:
        params["mode"] = mode
    if cl:
        params["layout"] = "channels_last"
        x, y = to_cl(x), to_cl(y)
    return case(name, op, {"x": x}, params, {"y": y})


def main():
    cases = []
    for dt in ("float32", "float64", "float16", "bfloat16", "uint8", "int8"):
        for r in (1, 2, 3):
            for mode in ("crd", "dcr"):
                x = values((2, 2 * r * r, 3, 5), dt)
                cases.append(shuffle_case(f"ps_{dt}_r{r}_{mode}", True, x, r, mode))
                x = values((2, 2, 3 * r, 4 * r), dt)
                cases.append(shuffle_case(f"pu_{dt}_r{r}_{mode}", False, x, r, mode))
    # larger factors take the one-partner-row-at-a-time path (r > 8)
    cases.append(shuffle_case("ps_float32_r9_crd", True, values((1, 81, 2, 3), "float32"), 9, "crd"))
    cases.append(shuffle_case("pu_uint8_r9_dcr", False, values((1, 2, 9, 18), "uint8"), 9, "dcr"))
    cases.append(shuffle_case("ps_float32_r2_crd_wide", True, values((2, 8, 4, 67), "float32"), 2, "crd"))
    for mode in ("crd", "dcr"):
        cases.append(shuffle_case(f"ps_float32_cl_{mode}", True, values((2, 12, 3, 4), "float32"),
                                  2, mode, cl=True))
        cases.append(shuffle_case(f"pu_uint8_cl_{mode}", False, values((2, 3, 4, 6), "uint8"),
                                  2, mode, cl=True))
    # an empty batch: an empty answer of the right shape
    cases.append(shuffle_case("ps_empty_batch", True, values((0, 4, 2, 2), "float32"), 2, "crd"))
    # r = 2 rows long enough for the vector (de-)interleaves of every
    # element width (32 one-byte lanes) plus an odd tail
    for dt in ("uint8", "float16", "float32", "float64"):
        for mode in ("crd", "dcr"):
            cases.append(shuffle_case(f"ps_{dt}_r2_{mode}_long", True,
                                      values((1, 8, 2, 67), dt), 2, mode))
            cases.append(shuffle_case(f"pu_{dt}_r2_{mode}_long", False,
                                      values((1, 2, 4, 134), dt), 2, mode))
    write_cases("shuffle", cases)


if __name__ == "__main__":
    main()
