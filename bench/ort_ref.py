"""ort_ref.py -- ONNX Runtime as a second reference for resize.

The same cases as kbench.c's resize rows (x2 over H and W of an
(8, 64, 128, 128) float32 tensor, half_pixel, linear and cubic), each a
one-node Resize graph built here with onnx.helper, run by an
InferenceSession with intra_op_num_threads=W (and one inter-op thread),
timed from Python around run() (output allocation included). Prints one
tab-separated line per case for report.py:

    ort <case> ref <median_ms> <min_ms> <median_ms> 0

Usage: ort_ref.py WORKERS REPS (needs numpy, onnx and onnxruntime: the
test venv has them).
"""
import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

SHAPE = (8, 64, 128, 128)
CASES = [("resize_linear2d_f32", "linear"), ("resize_cubic2d_f32", "cubic")]


def session(mode, workers):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode=mode,
                            coordinate_transformation_mode="half_pixel")
    graph = helper.make_graph([node], "resize", [x], [y], initializer=[scales])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = workers
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


def main():
    workers, reps = int(sys.argv[1]), int(sys.argv[2])
    x = (np.random.default_rng(1).random(SHAPE, dtype=np.float32) * 2 - 1)
    for name, mode in CASES:
        s = session(mode, workers)
        times = []
        for r in range(reps + 1):
            t0 = time.perf_counter()
            s.run(None, {"x": x})
            if r:
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print("ort\t%s\tref\t%.4f\t%.4f\t%.4f\t0" % (name, med * 1e3, min(times) * 1e3, med * 1e3))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
