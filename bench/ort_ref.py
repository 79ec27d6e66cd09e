"""ort_ref.py -- ONNX Runtime's side of the pixel_shuffle benchmark.

A one-node graph (DepthToSpace, mode CRD, blocksize 2: PyTorch's
pixel_shuffle) built with onnx.helper, run on (8, 256, 64, 64) float32 by an
InferenceSession with intra_op_num_threads = W, the output allocated by
ONNX Runtime on every call (as unpoold allocates its own). Prints one line
per case for report.py:

    ort <case> ref <median_ms> <min_ms> <median_ms> 0

Usage: ort_ref.py WORKERS REPS (needs onnx and onnxruntime: the test venv)
"""
import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

CASES = [("pixel_shuffle2d", (8, 256, 64, 64), 2)]


def session(shape, r, workers):
    n, c, h, w = shape
    node = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=r, mode="CRD")
    graph = helper.make_graph(
        [node], "d2s", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, c // (r * r), h * r, w * r])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = workers
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


def main():
    workers, reps = int(sys.argv[1]), int(sys.argv[2])
    for name, shape, r in CASES:
        sess = session(shape, r, workers)
        x = np.random.default_rng(1).random(shape, dtype=np.float32)
        times = []
        for i in range(reps + 1):
            t0 = time.perf_counter()
            sess.run(["y"], {"x": x})
            if i:
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print("ort\t%s_f32\tref\t%.4f\t%.4f\t%.4f\t0.00" % (name, med * 1e3, min(times) * 1e3,
                                                           med * 1e3))
        sys.stdout.flush()


if __name__ == "__main__":
    _ = onnx  # the graph is built with onnx.helper
    main()
