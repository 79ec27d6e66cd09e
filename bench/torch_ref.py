"""torch_ref.py -- the PyTorch side of the kernel benchmarks.

Runs the same cases as kbench.c (same shapes, dtypes and params) with
torch.set_num_threads(W), each call timed from the Python side (output
allocation included, as PyTorch allocates its output on every call), and
prints one tab-separated line per case for report.py:

    torch <case> ref <median_ms> <min_ms> <median_ms> <gflops>

fractional_max_unpool (the seed's asymmetric linear interpolation) has no
PyTorch twin; its reference is interpolate(mode=linear/bilinear/trilinear,
align_corners=False), which reads and writes the same bytes and does the
same arithmetic per element. Usage: torch_ref.py WORKERS REPS [FILTER]
"""
import sys

import torch
import torch.nn.functional as F

from cases import CASES, COUT, conv_flops, full_name, row, time_case

DTYPES = {"f32": torch.float32, "f64": torch.float64}

UNPOOL = {3: F.max_unpool1d, 4: F.max_unpool2d, 5: F.max_unpool3d}
POOL = {3: F.max_pool1d, 4: F.max_pool2d, 5: F.max_pool3d}
CONVT = {3: F.conv_transpose1d, 4: F.conv_transpose2d, 5: F.conv_transpose3d}
LINEAR = {3: "linear", 4: "bilinear", 5: "trilinear"}


def make(op, dtype, shape, k):
    """Inputs built once; returns (callable, flops)."""
    dt = DTYPES[dtype]
    g = torch.Generator().manual_seed(1)
    rank = len(shape)
    if op == "unpool":
        big = shape[:2] + tuple(s * 2 for s in shape[2:])
        _, ind = POOL[rank](torch.rand(big, generator=g, dtype=dt), 2, return_indices=True)
        x = torch.rand(shape, generator=g, dtype=dt)
        return (lambda: UNPOOL[rank](x, ind, 2)), 0.0
    x = torch.rand(shape, generator=g, dtype=dt) * 2 - 1
    if op == "nearest":
        return (lambda: F.interpolate(x, scale_factor=2, mode="nearest")), 0.0
    if op == "linear":
        return (lambda: F.interpolate(x, scale_factor=2, mode=LINEAR[rank],
                                      align_corners=False)), 0.0
    if op == "pool":
        return (lambda: POOL[rank](x, 2, return_indices=True)), 0.0
    if op == "shuffle":
        return (lambda: F.pixel_shuffle(x, k)), 0.0
    if op == "unshuffle":
        return (lambda: F.pixel_unshuffle(x, k)), 0.0
    if op.startswith("resize_"):
        mode = "bilinear" if op == "resize_linear" else "bicubic"
        return (lambda: F.interpolate(x, scale_factor=2, mode=mode, align_corners=False)), 0.0
    w = torch.rand((shape[1], COUT) + (k,) * (rank - 2), generator=g, dtype=dt)
    b = torch.rand(COUT, generator=g, dtype=dt)
    return (lambda: CONVT[rank](x, w, b, stride=2, padding=1)), conv_flops(shape, k)


def main():
    workers, reps = int(sys.argv[1]), int(sys.argv[2])
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    torch.set_num_threads(workers)
    for name, op, dtype, shape, k in CASES:
        full = full_name(name, dtype)
        if only not in full:
            continue
        fn, flops = make(op, dtype, shape, k)
        with torch.no_grad():
            med, best = time_case(fn, shape, reps)
        print(row("torch", full, med, best, flops))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
