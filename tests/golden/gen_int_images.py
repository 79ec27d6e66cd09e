"""Golden cases for integer images (family "int_images"): uint8 and int8 x
for max_pool, max_unpool and nearest_unpool, answered in x's dtype.

References: PyTorch on the integer tensor where it has a kernel for it
(interpolate nearest / nearest-exact on uint8); elsewhere (max_pool and
max_unpool on either, nearest on int8, which PyTorch 1.13 does not
implement) the float32 result cast back, which is exact: every output is a
copy of an input element or zero. pixel_shuffle's integer cases are in
gen_shuffle.py. Exact (atol = rtol = 0).

Run: /usr/bin/python3 tests/golden/gen_int_images.py
"""
import numpy as np
import torch
import torch.nn.functional as F

from golden_common import case, write_cases

RNG = np.random.default_rng(20261201)
POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
UNPOOL = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}
DT = {"uint8": (torch.uint8, 0, 256), "int8": (torch.int8, -128, 128)}


def values(shape, dt):
    t, lo, hi = DT[dt]
    return torch.from_numpy(RNG.integers(lo, hi, size=shape)).to(t)


def main():
    cases = []
    for dt in DT:
        for j, (nsp, shape, k, s, p) in enumerate( ((1, (2, 3, 9), 3, 2, 1), (2, (2, 2, 6, 7), 2, 2, 0),
                                    (2, (1, 3, 5, 5), 3, 1, 1), (3, (1, 2, 4, 4, 5), 2, 2, 1))):
            x = values(shape, dt)
            y, i = POOL[nsp](x.float(), k, s, p, return_indices=True)
            params = {"kernel_size": k, "stride": s, "padding": p}
            cases.append(case(f"max_pool_{dt}_{nsp}d_{j}", "max_pool", {"x": x}, params,
                              {"y": y.to(x.dtype), "indices": i}))
            out = UNPOOL[nsp](y, i, k, s, p, output_size=list(shape[2:]))
            cases.append(case(f"max_unpool_{dt}_{nsp}d_{j}", "max_unpool",
                              {"x": y.to(x.dtype), "indices": i},
                              dict(params, output_size=list(shape[2:])),
                              {"y": out.to(x.dtype)}))
        cl = values((2, 3, 4, 5), dt)
        y, i = F.max_pool2d(cl.float(), 2, 2, return_indices=True)
        cases.append(case(f"max_pool_{dt}_channels_last", "max_pool",
                          {"x": cl.permute(0, 2, 3, 1).contiguous()},
                          {"kernel_size": 2, "layout": "channels_last"},
                          {"y": y.to(cl.dtype).permute(0, 2, 3, 1).contiguous(),
                           "indices": i.permute(0, 2, 3, 1).contiguous()}))
        for mode in ("nearest", "nearest-exact"):
            for nsp, shape, sf in ((1, (2, 2, 5), 2.5), (2, (1, 3, 4, 5), 2), (3, (1, 2, 3, 2, 4), 1.5)):
                x = values(shape, dt)
                ref = x if dt == "uint8" else x.float()
                y = F.interpolate(ref, scale_factor=sf, mode=mode).to(x.dtype)
                cases.append(case(f"nearest_{dt}_{mode}_{nsp}d", "nearest_unpool", {"x": x},
                                  {"scale_factor": sf, "mode": mode}, {"y": y}))
    write_cases("int_images", cases)


if __name__ == "__main__":
    main()
