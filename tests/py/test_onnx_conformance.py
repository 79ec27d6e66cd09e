"""ONNX's own node conformance cases for the ops unpoold implements, run
against a live unpoold.

The cases ship with the PyPI `onnx` package (the test venv has it):
onnx.backend.test.case.node.collect_testcases() gives each case's one-node
model, its inputs and the expected outputs, which ONNX generated from its
reference implementation. Every case whose name starts with test_maxpool,
test_maxunpool, test_convtranspose, test_depthtospace or test_spacetodepth
is mapped to one POST /v1/ops/{op} request (attributes -> params, ONNX's
tensor-flat indices -> index_layout "tensor") and its answer compared the
way ONNX's backend runner compares: numpy's assert_allclose with the case's
rtol/atol (1e-3 / 1e-7) for floats, exact for integers, same shapes.

Exceptions, where ONNX and PyTorch disagree on an op both define and
unpoold keeps PyTorch, are listed in EXPECTED_DIFFERENT with the reason
(and in README.md); such a case must still fail here, so that an
exception which stops being one is noticed. A case this file cannot map
is a failure, not a skip.

    UNPOOLD_BIN=build/unpoold .venv/bin/python3 tests/py/test_onnx_conformance.py
"""
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (finish, onnx_attrs, post_op, record,  # noqa: E402
                     start_daemon_or_finish, stop_daemon)

try:
    import numpy as np
    from onnx.backend.test.case.node import collect_testcases
except ImportError as e:
    record("import_onnx_numpy", False, e)
    finish()

PREFIXES = ("test_maxpool", "test_maxunpool", "test_convtranspose", "test_depthtospace",
            "test_spacetodepth")

# case name -> why unpoold's answer differs from ONNX's on purpose
EXPECTED_DIFFERENT = {
    "test_maxunpool_export_with_output_shape":
        "ONNX's indices address the unpooled tensor of the default size, which output_shape "
        "then pads at the end; PyTorch's max_unpool (and unpoold) address the output_size plane",
}

BASE = None




def to_wire(a):
    a = np.ascontiguousarray(a)
    if a.dtype.kind == "f":
        data = [float(v) for v in a.astype(np.float64).ravel()]
    else:
        data = [int(v) for v in a.ravel()]
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": data}


def num(v):
    if isinstance(v, str):
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[v])
    return v


def from_wire(d):
    return np.array([num(v) for v in d["data"]], dtype=d["dtype"]).reshape(d["shape"])




def pool_params(at, nsp):
    """Attributes every ONNX window op shares -> unpoold params. ONNX's
    stride defaults to 1 (PyTorch's to the kernel), so it is always sent."""
    p = {"kernel_size": list(at["kernel_shape"]), "stride": list(at.get("strides", [1] * nsp))}
    if "pads" in at:
        p["pads"] = list(at["pads"])
    if "auto_pad" in at:
        p["auto_pad"] = at["auto_pad"].lower()
    return p


def map_case(case):
    """(op, body, output names in ONNX's order) for one case."""
    node = case.model.graph.node[0]
    at = onnx_attrs(node)
    ins = case.data_sets[0][0]
    x = ins[0]
    nsp = x.ndim - 2
    inputs = {"x": to_wire(x)}
    if node.op_type == "MaxPool":
        params = pool_params(at, nsp)
        params["index_layout"] = "tensor"
        for k, name in (("dilations", "dilation"), ("ceil_mode", "ceil_mode"),
                        ("storage_order", "storage_order")):
            if k in at:
                params[name] = at[k] if k != "dilations" else list(at[k])
        if "ceil_mode" in params:
            params["ceil_mode"] = bool(params["ceil_mode"])
        return "max_pool", {"inputs": inputs, "params": params}, ["y", "indices"]
    if node.op_type == "MaxUnpool":
        params = pool_params(at, nsp)
        params["index_layout"] = "tensor"
        inputs["indices"] = to_wire(ins[1])
        if len(ins) > 2:
            params["output_size"] = [int(v) for v in ins[2]]
        return "max_unpool", {"inputs": inputs, "params": params}, ["y"]
    if node.op_type == "ConvTranspose":
        params = {}
        inputs["weight"] = to_wire(ins[1])
        if len(ins) > 2:
            inputs["bias"] = to_wire(ins[2])
        if "kernel_shape" in at and list(at["kernel_shape"]) != list(ins[1].shape[2:]):
            raise ValueError("kernel_shape differs from the weight's")
        for k, name in (("strides", "stride"), ("pads", "pads"), ("dilations", "dilation"),
                        ("output_padding", "output_padding"), ("output_shape", "output_shape")):
            if k in at:
                params[name] = list(at[k])
        if "group" in at:
            params["groups"] = at["group"]
        if "auto_pad" in at:
            params["auto_pad"] = at["auto_pad"].lower()
        return "conv_transpose", {"inputs": inputs, "params": params}, ["y"]
    if node.op_type == "DepthToSpace":
        params = {"upscale_factor": at["blocksize"], "mode": at.get("mode", "DCR").lower()}
        return "pixel_shuffle", {"inputs": inputs, "params": params}, ["y"]
    if node.op_type == "SpaceToDepth":
        params = {"downscale_factor": at["blocksize"], "mode": "dcr"}
        return "pixel_unshuffle", {"inputs": inputs, "params": params}, ["y"]
    raise ValueError("no mapping for " + node.op_type)


def run_case(case):
    if len(case.model.graph.node) != 1:
        raise ValueError("expected a one-node model")
    op, body, names = map_case(case)
    for _, expected in case.data_sets:
        status, ans = post_op(BASE, op, body)
        if status != 200:
            raise AssertionError("%s: status %d: %s\nparams %s" % (
                op, status, json.dumps(ans)[:400], body["params"]))
        for name, want in zip(names, expected):
            got = from_wire(ans["outputs"][name])
            if got.shape != want.shape:
                raise AssertionError("%s: shape %s, ONNX %s" % (name, got.shape, want.shape))
            if want.dtype.kind == "f":
                np.testing.assert_allclose(got.astype(want.dtype), want, rtol=case.rtol,
                                           atol=case.atol, err_msg=name)
            else:
                np.testing.assert_array_equal(got.astype(want.dtype), want, err_msg=name)


def main():
    global BASE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [c for c in collect_testcases(None) if c.name.startswith(PREFIXES)]
    record("onnx_cases_found", len(cases) >= 30, "only %d cases" % len(cases))
    proc, port, log = start_daemon_or_finish()
    BASE = "http://127.0.0.1:%d" % port
    try:
        for c in sorted(cases, key=lambda c: c.name):
            try:
                run_case(c)
                err = None
            except Exception as e:  # noqa: BLE001
                err = "%s: %s" % (type(e).__name__, e)
            if c.name in EXPECTED_DIFFERENT:
                record(c.name + " (differs on purpose: %s)" % EXPECTED_DIFFERENT[c.name],
                       err is not None, "now agrees with ONNX: drop the exception")
            else:
                record(c.name, err is None, err or "")
    finally:
        stop_daemon(proc, log)
    finish()


if __name__ == "__main__":
    main()
