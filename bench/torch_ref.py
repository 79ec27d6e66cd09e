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
import statistics
import sys
import time

import torch
import torch.nn.functional as F

X2D, X1D, X3D = (8, 64, 128, 128), (8, 64, 16384), (8, 64, 16, 32, 32)
# name, op, dtype, x shape, (cout, k)
CASES = [
    ("max_unpool2d", "unpool", torch.float32, X2D, 2),
    ("max_unpool2d", "unpool", torch.float64, X2D, 2),
    ("max_unpool1d", "unpool", torch.float32, X1D, 2),
    ("max_unpool3d", "unpool", torch.float32, X3D, 2),
    ("max_unpool2d_small", "unpool", torch.float32, (1, 1, 4, 4), 2),
    ("nearest2d", "nearest", torch.float32, X2D, 2),
    ("nearest2d", "nearest", torch.float64, X2D, 2),
    ("nearest1d", "nearest", torch.float32, X1D, 2),
    ("nearest3d", "nearest", torch.float32, X3D, 2),
    ("nearest2d_small", "nearest", torch.float32, (1, 1, 4, 4), 2),
    ("fmu2d", "linear", torch.float32, X2D, 2),
    ("fmu2d", "linear", torch.float64, X2D, 2),
    ("fmu1d", "linear", torch.float32, X1D, 2),
    ("fmu3d", "linear", torch.float32, X3D, 2),
    ("max_pool2d", "pool", torch.float32, (8, 64, 256, 256), 2),
    ("max_pool2d", "pool", torch.float64, (8, 64, 256, 256), 2),
    ("max_pool1d", "pool", torch.float32, (8, 64, 65536), 2),
    ("max_pool3d", "pool", torch.float32, (8, 64, 16, 64, 64), 2),
    ("max_pool2d_small", "pool", torch.float32, (1, 1, 4, 4), 2),
    ("conv_transpose2d", "convt", torch.float32, (8, 64, 64, 64), 4),
    ("conv_transpose2d", "convt", torch.float64, (8, 64, 64, 64), 4),
    ("conv_transpose1d", "convt", torch.float32, (8, 64, 4096), 4),
    ("conv_transpose3d", "convt", torch.float32, (8, 64, 16, 16, 16), 4),
    ("pixel_shuffle2d", "shuffle", torch.float32, (8, 256, 64, 64), 2),
]

UNPOOL = {3: F.max_unpool1d, 4: F.max_unpool2d, 5: F.max_unpool3d}
POOL = {3: F.max_pool1d, 4: F.max_pool2d, 5: F.max_pool3d}
CONVT = {3: F.conv_transpose1d, 4: F.conv_transpose2d, 5: F.conv_transpose3d}
LINEAR = {3: "linear", 4: "bilinear", 5: "trilinear"}


def make(op, dt, shape, k):
    """Inputs built once; returns (callable, flops)."""
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
    w = torch.rand((shape[1], 32) + (k,) * (rank - 2), generator=g, dtype=dt)
    b = torch.rand(32, generator=g, dtype=dt)
    flops = 2.0 * x.numel() * 32 * k ** (rank - 2)
    return (lambda: CONVT[rank](x, w, b, stride=2, padding=1)), flops


def main():
    workers, reps = int(sys.argv[1]), int(sys.argv[2])
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    torch.set_num_threads(workers)
    for name, op, dt, shape, k in CASES:
        full = "%s_%s" % (name, "f64" if dt == torch.float64 else "f32")
        if only not in full:
            continue
        fn, flops = make(op, dt, shape, k)
        inner = 200 if torch.Size(shape).numel() < 4096 else 1
        times = []
        with torch.no_grad():
            for r in range(reps + 1):
                t0 = time.perf_counter()
                for _ in range(inner):
                    fn()
                dt_s = (time.perf_counter() - t0) / inner
                if r:
                    times.append(dt_s)
        med = statistics.median(times)
        print("torch\t%s\tref\t%.4f\t%.4f\t%.4f\t%.2f" % (
            full, med * 1e3, min(times) * 1e3, med * 1e3, flops / med * 1e-9 if flops else 0.0))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
