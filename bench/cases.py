"""cases.py -- the kernel cases of `make bench` for the Python references.

The same shapes, dtypes and params as bench/kbench.c, written once for
torch_ref.py and ort_ref.py. Each case: (name, op, dtype, x shape, k), where
op is unpool | nearest | linear | pool | convt | resize_linear |
resize_cubic | shuffle | unshuffle, dtype "f32" or "f64", and k the window (pooling) or kernel
size (conv_transpose, 32 output channels, stride 2, padding 1).
Unpooling, nearest, linear and resize scale by 2; shuffle has r = k.
"""
import time
import statistics

X2D, X1D, X3D = (8, 64, 128, 128), (8, 64, 16384), (8, 64, 16, 32, 32)

CASES = [
    ("max_unpool2d", "unpool", "f32", X2D, 2),
    ("max_unpool2d", "unpool", "f64", X2D, 2),
    ("max_unpool1d", "unpool", "f32", X1D, 2),
    ("max_unpool3d", "unpool", "f32", X3D, 2),
    ("max_unpool2d_small", "unpool", "f32", (1, 1, 4, 4), 2),
    ("nearest2d", "nearest", "f32", X2D, 2),
    ("nearest2d", "nearest", "f64", X2D, 2),
    ("nearest1d", "nearest", "f32", X1D, 2),
    ("nearest3d", "nearest", "f32", X3D, 2),
    ("nearest2d_small", "nearest", "f32", (1, 1, 4, 4), 2),
    ("fmu2d", "linear", "f32", X2D, 2),
    ("fmu2d", "linear", "f64", X2D, 2),
    ("fmu1d", "linear", "f32", X1D, 2),
    ("fmu3d", "linear", "f32", X3D, 2),
    ("max_pool2d", "pool", "f32", (8, 64, 256, 256), 2),
    ("max_pool2d", "pool", "f64", (8, 64, 256, 256), 2),
    ("max_pool1d", "pool", "f32", (8, 64, 65536), 2),
    ("max_pool3d", "pool", "f32", (8, 64, 16, 64, 64), 2),
    ("max_pool2d_small", "pool", "f32", (1, 1, 4, 4), 2),
    ("conv_transpose2d", "convt", "f32", (8, 64, 64, 64), 4),
    ("conv_transpose2d", "convt", "f64", (8, 64, 64, 64), 4),
    ("conv_transpose1d", "convt", "f32", (8, 64, 4096), 4),
    ("conv_transpose3d", "convt", "f32", (8, 64, 16, 16, 16), 4),
    # resize x2 over H and W, half_pixel: ONNX Resize linear / cubic, which
    # is interpolate(bilinear / bicubic, align_corners=False) in PyTorch
    ("resize_linear2d", "resize_linear", "f32", X2D, 2),
    ("resize_cubic2d", "resize_cubic", "f32", X2D, 2),
    # pixel_shuffle r=2 (PyTorch pixel_shuffle, ONNX DepthToSpace CRD)
    ("pixel_shuffle2d", "shuffle", "f32", (8, 256, 64, 64), 2),
    # pixel_unshuffle r=2 (PyTorch pixel_unshuffle; ONNX SpaceToDepth has
    # only DCR, which moves the same bytes in another channel order)
    ("pixel_unshuffle2d", "unshuffle", "f32", (8, 64, 128, 128), 2),
]

COUT = 32


def full_name(name, dtype):
    return "%s_%s" % (name, dtype)


def conv_flops(shape, k):
    n = 1
    for s in shape:
        n *= s
    return 2.0 * n * COUT * k ** (len(shape) - 2)


def time_case(fn, shape, reps):
    """Median and min seconds of fn over reps timed calls after one warm-up;
    tiny cases loop 200 times per repetition so the clock can see them."""
    n = 1
    for s in shape:
        n *= s
    inner = 200 if n < 4096 else 1
    times = []
    for r in range(reps + 1):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        if r:
            times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times), min(times)


def row(who, case, med, best, flops, way="ref"):
    """One results.tsv line for report.py."""
    return "%s\t%s\t%s\t%.4f\t%.4f\t%.4f\t%.2f" % (
        who, case, way, med * 1e3, best * 1e3, med * 1e3, flops / med * 1e-9 if flops else 0.0)
