"""ONNX's own node conformance cases for Resize (opset 19) and Upsample,
run through a live unpoold's /v1/ops/resize.

The cases ship with the `onnx` package (onnx.backend.test.case.node): a
one-node model, its inputs and the expected outputs, which ONNX computed
with its reference implementation. Each case is mapped onto one request
(inputs X and roi, the scales or sizes input and every attribute as
params; Upsample is Resize with the asymmetric transform and floor
rounding) and the answer compared as ONNX's runner does (rtol and atol
1e-5). A case this file cannot map is a failure, not a skip.

    UNPOOLD_BIN=build/unpoold $TEST_PYTHON tests/py/test_onnx_resize_conformance.py
"""
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (finish, onnx_attrs, post_op, record,  # noqa: E402
                     start_daemon_or_finish, stop_and_check)

try:
    import numpy as np
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from onnx.backend.test.case.node import collect_testcases
except ImportError as e:
    record("import_onnx", False, e)
    finish()

RTOL = ATOL = 1e-5
DTYPES = {np.dtype("float32"): "float32", np.dtype("float64"): "float64",
          np.dtype("uint8"): "uint8", np.dtype("int8"): "int8"}
BASE = None




def wire(a):
    return {"dtype": DTYPES[a.dtype], "shape": list(a.shape),
            "data": [float(v) if a.dtype.kind == "f" else int(v) for v in a.flatten()]}




def request_of(case, inputs):
    """The /v1/ops/resize body of one conformance case."""
    node = case.model.graph.node[0]
    # absent inputs are named '' and have no entry in the data set
    feed = dict(zip([n for n in node.input if n], inputs))
    x = feed[node.input[0]]
    body = {"inputs": {"x": wire(x)}, "params": {}}
    params = body["params"]
    at = onnx_attrs(node)
    if node.op_type == "Upsample":
        params["scales"] = [float(v) for v in feed[node.input[1]]]
        params["mode"] = at.get("mode", "nearest")
        params["coordinate_transformation_mode"] = "asymmetric"
        params["nearest_mode"] = "floor"
        return body
    slots = list(node.input) + [""] * (4 - len(node.input))
    if slots[1]:
        body["inputs"]["roi"] = wire(feed[slots[1]].astype(np.float64))
    if slots[2] and feed[slots[2]].size:
        params["scales"] = [float(v) for v in feed[slots[2]]]
    if slots[3] and feed[slots[3]].size:
        params["sizes"] = [int(v) for v in feed[slots[3]]]
    for k, v in at.items():
        params[k] = [int(i) for i in v] if k == "axes" else v
    return body


def run(case):
    for inputs, outputs in case.data_sets:
        body = request_of(case, inputs)
        status, ans = post_op(BASE, "resize", body)
        if status != 200:
            raise AssertionError("status %d: %s\nparams %s" % (status, str(ans)[:300],
                                                               body["params"]))
        y = ans["outputs"]["y"]
        want = outputs[0]
        got = np.array([float(v) for v in y["data"]], dtype=np.float64).reshape(y["shape"])
        if list(got.shape) != list(want.shape):
            raise AssertionError("shape %s, expected %s; params %s" % (
                list(got.shape), list(want.shape), body["params"]))
        if not np.allclose(got, want.astype(np.float64), rtol=RTOL, atol=ATOL):
            err = np.abs(got - want).max()
            raise AssertionError("max abs error %g; params %s\ngot  %s\nwant %s" % (
                err, body["params"], got.flatten()[:12], want.flatten()[:12]))


def main():
    global BASE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [c for c in collect_testcases(None)
                 if c.name.startswith("test_resize") or c.name.startswith("test_upsample")]
    record("found_39_resize_and_1_upsample_cases",
           sum(c.name.startswith("test_resize") for c in cases) == 39 and
           sum(c.name.startswith("test_upsample") for c in cases) == 1,
           "found %d cases" % len(cases))
    proc, port, log = start_daemon_or_finish()
    BASE = "http://127.0.0.1:%d" % port
    try:
        for c in cases:
            try:
                run(c)
            except Exception as e:
                record(c.name, False, "%s: %s" % (type(e).__name__, e))
            else:
                record(c.name, True)
    finally:
        stop_and_check(proc, log)
    finish()


if __name__ == "__main__":
    main()
