"""ort_ref.py -- the ONNX Runtime side of the kernel benchmarks.

ONNX Runtime is the strongest widely used CPU runtime for these ops, so
`make bench` judges unpoold against it beside PyTorch. Runs the cases of
cases.py (the shapes of kbench.c) as one-node ONNX graphs built here with
onnx.helper, each in an InferenceSession with intra_op_num_threads = W,
every call timed from Python with a fresh output (as sess.run gives it):

  unpool  MaxUnpool over indices from ONNX MaxPool (ONNX's whole-tensor
          indices; unpoold's index_layout=tensor reads the same)
  nearest Resize nearest, asymmetric + floor (= PyTorch's nearest)
  linear  Resize linear, half_pixel (= align_corners=False); also resize's
          own linear and cubic cases
  pool    MaxPool with its Indices output
  convt   ConvTranspose, stride 2, pads 1, bias
  shuffle DepthToSpace, mode CRD (= PyTorch's pixel_shuffle)
  unshuffle SpaceToDepth (DCR, its only mode: the same bytes as PyTorch's
          pixel_unshuffle, in another channel order)

Prints `ort <case> ref <median_ms> <min_ms> <median_ms> <gflops>` rows for
report.py; a case ONNX Runtime has no CPU kernel for (float64 MaxUnpool,
say) prints nothing and says so on stderr. Usage: ort_ref.py WORKERS REPS [FILTER]
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from cases import CASES, COUT, conv_flops, full_name, row, time_case

ONNX_DT = {"f32": TensorProto.FLOAT, "f64": TensorProto.DOUBLE}
NP_DT = {"f32": np.float32, "f64": np.float64}


def session(node, inputs, outputs, workers, inits=()):
    graph = helper.make_graph([node], "bench", inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    so = ort.SessionOptions()
    so.intra_op_num_threads = workers
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])


def vinfo(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, list(shape) if shape else None)


def pool_session(dtype, shape, k, workers):
    sp = len(shape) - 2
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[k] * sp,
                            strides=[k] * sp)
    return session(node, [vinfo("x", ONNX_DT[dtype], shape)],
                   [vinfo("y", ONNX_DT[dtype], None), vinfo("i", TensorProto.INT64, None)],
                   workers)


def resize_session(dtype, shape, mode, workers):
    scales = np.array([1.0, 1.0] + [2.0] * (len(shape) - 2), np.float32)
    extra = ({"coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
             if mode == "nearest" else {"coordinate_transformation_mode": "half_pixel"})
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode=mode, **extra)
    return session(node, [vinfo("x", ONNX_DT[dtype], shape)],
                   [vinfo("y", ONNX_DT[dtype], None)], workers,
                   [helper.make_tensor("scales", TensorProto.FLOAT, [len(scales)], scales)])


def make(op, dtype, shape, k, workers):
    """Inputs built once; returns (callable, flops)."""
    rng = np.random.default_rng(1)
    x = rng.random(shape).astype(NP_DT[dtype])
    sp = len(shape) - 2
    if op == "unpool":
        big = shape[:2] + tuple(s * k for s in shape[2:])
        _, ind = pool_session(dtype, big, k, workers).run(
            None, {"x": rng.random(big).astype(NP_DT[dtype])})
        node = helper.make_node("MaxUnpool", ["x", "i"], ["y"], kernel_shape=[k] * sp,
                                strides=[k] * sp)
        s = session(node, [vinfo("x", ONNX_DT[dtype], shape),
                           vinfo("i", TensorProto.INT64, shape)],
                    [vinfo("y", ONNX_DT[dtype], None)], workers)
        return (lambda: s.run(None, {"x": x, "i": ind})), 0.0
    if op in ("nearest", "linear", "resize_linear", "resize_cubic"):
        s = resize_session(dtype, shape, op.replace("resize_", ""), workers)
        return (lambda: s.run(None, {"x": x})), 0.0
    if op in ("shuffle", "unshuffle"):
        node = (helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=k, mode="CRD")
                if op == "shuffle" else helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=k))
        s = session(node, [vinfo("x", ONNX_DT[dtype], shape)], [vinfo("y", ONNX_DT[dtype], None)],
                    workers)
        return (lambda: s.run(None, {"x": x})), 0.0
    if op == "pool":
        s = pool_session(dtype, shape, k, workers)
        return (lambda: s.run(None, {"x": x})), 0.0
    w = rng.random((shape[1], COUT) + (k,) * sp).astype(NP_DT[dtype])
    b = rng.random(COUT).astype(NP_DT[dtype])
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[k] * sp,
                            strides=[2] * sp, pads=[1] * (2 * sp))
    s = session(node, [vinfo("x", ONNX_DT[dtype], shape)], [vinfo("y", ONNX_DT[dtype], None)],
                workers, [onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(b, "b")])
    return (lambda: s.run(None, {"x": x})), conv_flops(shape, k)


def main():
    workers, reps = int(sys.argv[1]), int(sys.argv[2])
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    for name, op, dtype, shape, k in CASES:
        full = full_name(name, dtype)
        if only not in full:
            continue
        try:
            fn, flops = make(op, dtype, shape, k, workers)
            fn()
        except Exception as e:  # no CPU kernel for this type: no row
            print("ort_ref: %s skipped: %s" % (full, str(e).splitlines()[0][:120]),
                  file=sys.stderr)
            continue
        med, best = time_case(fn, shape, reps)
        print(row("ort", full, med, best, flops))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
