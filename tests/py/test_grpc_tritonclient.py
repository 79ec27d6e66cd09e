"""KServe v2 over gRPC, driven by Triton's own gRPC client (tritonclient.grpc).

Starts the daemon from $UNPOOLD_BIN (default build/unpoold) with REST on
one free port and --grpc-listen on another, then over gRPC:

  - health and metadata: ServerLive, ServerReady, ModelReady (every op, and
    an unknown model: not ready or NOT_FOUND), ServerMetadata and
    ModelMetadata, each equal to what REST's /v2 says;
  - ModelInfer for every op with raw_input_contents (tritonclient's way),
    checked against PyTorch, in FP32 and in FP16, with INT64 indices in and
    out; the same requests over REST KServe (binary and JSON tensors) must
    give the very same bytes;
  - every dtype the REST side takes, as raw_input_contents and as typed
    InferTensorContents (requests built by hand with service_pb2 and sent
    through the generated stub; FP16 and BF16 in fp32_contents, rounded to
    nearest even; integers out of their type's range refused); answers
    always in raw_output_contents;
  - op params as int64, uint64, bool, double and string InferParameters;
    tritonclient's priority and timeout accepted and ignored;
  - errors and their codes: NOT_FOUND (unknown model), INVALID_ARGUMENT
    (400: framing, datatypes, contents that do not match the shape; 422:
    unknown or bad params), RESOURCE_EXHAUSTED (413: a shape that
    overflows, an 80 KiB request to a small method), UNIMPLEMENTED (a
    method the service does not have, a gzip-compressed message),
    NOT_FOUND for version "2";
  - 64 concurrent calls on one channel (async_infer), every answer checked;
  - a 64 MiB tensor both ways (max_unpool, 64 MiB x + 128 MiB indices in,
    256 MiB y out);
  - the per-protocol label in /metrics.
The daemon's limits, API keys, TLS and shared memory are in
test_grpc_daemon.py; malformed HTTP/2 and gRPC framing in test_grpc_frames.py.

Prints "ok   name" / "FAIL name" per check and ends with "N passed, N
failed". Run with the test venv's interpreter:

    UNPOOLD_BIN=build/unpoold <venv>/bin/python3 tests/py/test_grpc_tritonclient.py
"""
import json
import os
import sys
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, finish, record  # noqa: E402
from grpc_common import (INPUTS, NP_TO_KS, OPS, OUTPUTS, SERVICE, _assert,  # noqa: E402
                         all_cases, assert_close, client, code_of, exact_op, expect_code,
                         grpc_infer, set_param, start_grpc_daemon_or_finish, still_serving, stub)

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import tritonclient.grpc as grpcclient  # noqa: E402
import tritonclient.grpc.service_pb2 as pb  # noqa: E402
import tritonclient.http as httpclient  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None


def rest_get(d, path):
    with urllib.request.urlopen("http://%s%s" % (d.url, path), timeout=30) as r:
        return json.loads(r.read())


# ---- health and metadata ------------------------------------------------------

def run_health(d, c):
    check("server_live", lambda: _assert(c.is_server_live() is True))
    check("server_ready", lambda: _assert(c.is_server_ready() is True))

    def server_metadata():
        md = c.get_server_metadata(as_json=True)
        rest = rest_get(d, "/v2")
        _assert(md["name"] == "unpoold" == rest["name"], (md, rest))
        _assert(md["version"] == rest["version"], (md, rest))
        _assert(isinstance(md.get("extensions", []), list), md)
    check("server_metadata_as_rest", server_metadata)

    for op in OPS:
        def model_metadata(op=op):
            md = c.get_model_metadata(op, as_json=True)
            rest = rest_get(d, "/v2/models/" + op)
            _assert(md["name"] == op and md["versions"] == ["1"], md)
            _assert(md.get("platform") == rest["platform"], (md, rest))
            for side in ("inputs", "outputs"):
                got = [(t["name"], t["datatype"], [int(s) for s in t["shape"]]) for t in md[side]]
                want = [(t["name"], t["datatype"], t["shape"]) for t in rest[side]]
                _assert(got == want, "%s: %s vs REST %s" % (side, got, want))
            _assert([t["name"] for t in md["inputs"]] == INPUTS[op], md)
            _assert([t["name"] for t in md["outputs"]] == OUTPUTS[op], md)
        check("model_metadata_" + op, model_metadata)
        check("model_ready_" + op, lambda op=op: _assert(c.is_model_ready(op) is True))
        check("model_ready_" + op + "_version_1",
              lambda op=op: _assert(c.is_model_ready(op, "1") is True))

    check("model_ready_version_2_not_ready_or_not_found", lambda: _unknown_version(c))
    check("model_metadata_version_2_not_found",
          lambda: expect_code(lambda: c.get_model_metadata("max_pool", "2"), "NOT_FOUND"))
    check("infer_version_2_not_found", lambda: expect_code(
        lambda: c.infer("max_pool", [grpcclient_input("x", np.zeros((1, 1, 2, 2), np.float32))],
                        model_version="2", parameters={"kernel_size": 2}), "NOT_FOUND"))

    def unknown_model_not_ready():
        try:
            ready = c.is_model_ready("no_such_op")
        except InferenceServerException as e:
            _assert(code_of(e) == "NOT_FOUND", code_of(e))
            return
        _assert(ready is False, ready)
    check("model_ready_unknown_false_or_not_found", unknown_model_not_ready)
    check("model_metadata_unknown_not_found",
          lambda: expect_code(lambda: c.get_model_metadata("no_such_op"), "NOT_FOUND"))


def _unknown_version(c):
    try:
        ready = c.is_model_ready("max_pool", "2")
    except InferenceServerException as e:
        _assert(code_of(e) == "NOT_FOUND", code_of(e))
        return
    _assert(ready is False, ready)


# ---- every op against PyTorch, and against REST -------------------------------

def half_inputs(inputs):
    """Float inputs as float16 (indices and other integers unchanged)."""
    return {k: (v.astype(np.float16) if v.dtype.kind == "f" else v) for k, v in inputs.items()}


def half_reference(op, inputs, params, want):
    """PyTorch on the float16 inputs, computed in float32 and rounded, as the
    contract says half types are; the indices stay."""
    return {k: (w.half() if w.is_floating_point() else w) for k, w in want.items()}


def rest_binary(hc, op, inputs, params):
    ins = []
    for k, v in inputs.items():
        i = httpclient.InferInput(k, list(v.shape), NP_TO_KS[v.dtype])
        i.set_data_from_numpy(v, binary_data=True)
        ins.append(i)
    outs = [httpclient.InferRequestedOutput(o, binary_data=True) for o in OUTPUTS[op]]
    return hc.infer(op, ins, outputs=outs, parameters=params)


def rest_json(hc, op, inputs, params):
    ins = []
    for k, v in inputs.items():
        i = httpclient.InferInput(k, list(v.shape), NP_TO_KS[v.dtype])
        i.set_data_from_numpy(v, binary_data=False)
        ins.append(i)
    outs = [httpclient.InferRequestedOutput(o, binary_data=False) for o in OUTPUTS[op]]
    return hc.infer(op, ins, outputs=outs, parameters=params)


def same_answer(gr, hr, op, how):
    """Every output of the gRPC answer holds the bytes of the REST one, with
    the same datatype and shape."""
    for name in OUTPUTS[op]:
        g, h = gr.as_numpy(name), hr.as_numpy(name)
        _assert(g is not None and h is not None, "%s missing (%s)" % (name, how))
        go, ho = gr.get_output(name), hr.get_output(name)
        _assert(go.datatype == ho["datatype"], "%s: datatype %s vs REST %s" % (
            name, go.datatype, ho["datatype"]))
        _assert(list(go.shape) == list(ho["shape"]), "%s: shape %s vs REST %s" % (
            name, list(go.shape), ho["shape"]))
        h = np.asarray(h, dtype=g.dtype)  # JSON mode reads back as the dtype's numbers
        _assert(g.tobytes() == h.tobytes(), "%s: bytes differ from REST %s" % (name, how))


def run_ops(d, c, hc):
    cases = all_cases()
    for op in OPS:
        inputs, params, want = cases[op]

        def fp32(op=op, inputs=inputs, params=params, want=want):
            r = grpc_infer(c, op, inputs, params, request_id="req-" + op)
            resp = r.get_response()
            _assert(resp.model_name == op, resp.model_name)
            _assert(resp.id == "req-" + op, "id not echoed: %r" % resp.id)
            for k in ("decode_ms", "queue_ms", "compute_ms"):
                _assert(resp.parameters[k].WhichOneof("parameter_choice") == "double_param",
                        "timing %s missing: %s" % (k, dict(resp.parameters)))
            _assert(len(resp.raw_output_contents) == len(resp.outputs) == len(want),
                    "%d raw contents, %d outputs" % (len(resp.raw_output_contents),
                                                     len(resp.outputs)))
            for name, w in want.items():
                got = r.as_numpy(name)
                _assert(got is not None, "no output " + name)
                want_dt = "INT64" if name == "indices" else "FP32"
                _assert(r.get_output(name).datatype == want_dt, r.get_output(name))
                assert_close(got, w, name, exact=exact_op(op, name))
        check("infer_%s_fp32_raw" % op, fp32)

        def fp16(op=op, inputs=inputs, params=params, want=want):
            hin = half_inputs(inputs)
            r = grpc_infer(c, op, hin, params)
            for name, w in half_reference(op, hin, params, want).items():
                got = r.as_numpy(name)
                want_dt = "INT64" if name == "indices" else "FP16"
                _assert(r.get_output(name).datatype == want_dt, r.get_output(name))
                if exact_op(op, name):
                    assert_close(got, w, name, exact=True)
                else:  # the inputs were rounded to half: half a percent
                    wf = w.float().numpy()
                    _assert(got.shape == wf.shape, (got.shape, wf.shape))
                    err = np.abs(got.astype(np.float32) - wf).max()
                    _assert(err <= 0.02 * max(1.0, np.abs(wf).max()), "%s: max error %g" % (
                        name, err))
            same_answer(r, rest_binary(hc, op, hin, params), op, "binary FP16")
        check("infer_%s_fp16_raw_as_torch_and_rest" % op, fp16)

        def as_rest(op=op, inputs=inputs, params=params):
            g = grpc_infer(c, op, inputs, params)
            same_answer(g, rest_binary(hc, op, inputs, params), op, "binary")
            same_answer(g, rest_json(hc, op, inputs, params), op, "JSON")
        check("infer_%s_same_bytes_as_rest_binary_and_json" % op, as_rest)

    def indices_int64_in_and_out():
        x = cases["max_pool"][0]["x"]
        p = grpc_infer(c, "max_pool", {"x": x}, {"kernel_size": 2})
        idx = p.as_numpy("indices")
        _assert(idx.dtype == np.int64 and p.get_output("indices").datatype == "INT64", idx.dtype)
        u = grpc_infer(c, "max_unpool", {"x": p.as_numpy("y"), "indices": idx}, {"kernel_size": 2})
        tx = torch.from_numpy(x)
        ty, ti = F.max_pool2d(tx, 2, return_indices=True)
        assert_close(u.as_numpy("y"), F.max_unpool2d(ty, ti, 2), "y", exact=True)
    check("infer_int64_indices_round_trip_pool_unpool", indices_int64_in_and_out)

    def only_asked_output():
        x = cases["max_pool"][0]["x"]
        r = grpc_infer(c, "max_pool", {"x": x}, {"kernel_size": 2}, outputs=["indices"])
        resp = r.get_response()
        _assert([o.name for o in resp.outputs] == ["indices"], [o.name for o in resp.outputs])
        _assert(len(resp.raw_output_contents) == 1, len(resp.raw_output_contents))
    check("infer_requested_output_only", only_asked_output)


# ---- params as each InferParameter kind ---------------------------------------

def run_params(d, c):
    g = torch.Generator().manual_seed(7)
    src = torch.randn(1, 2, 7, 9, generator=g)

    def int_and_string_agree():
        a = grpc_infer(c, "max_pool", {"x": src.numpy()}, {"kernel_size": 3, "stride": 2})
        b = grpc_infer(c, "max_pool", {"x": src.numpy()}, {"kernel_size": "3,3", "stride": "2"})
        want = F.max_pool2d(src, 3, stride=2)
        assert_close(a.as_numpy("y"), want, "y", exact=True)
        _assert(a.as_numpy("y").tobytes() == b.as_numpy("y").tobytes(), "int vs string differ")
    check("params_int64_and_string", int_and_string_agree)

    def bool_param():
        r = grpc_infer(c, "max_pool", {"x": src.numpy()}, {"kernel_size": 2, "ceil_mode": True})
        assert_close(r.as_numpy("y"), F.max_pool2d(src, 2, ceil_mode=True), "y", exact=True)
        r = grpc_infer(c, "max_pool", {"x": src.numpy()}, {"kernel_size": 2, "ceil_mode": False})
        assert_close(r.as_numpy("y"), F.max_pool2d(src, 2, ceil_mode=False), "y", exact=True)
    check("params_bool", bool_param)

    def double_param():
        r = grpc_infer(c, "resize", {"x": src.numpy()},
                       {"scales": "1,1,2,2", "mode": "cubic", "cubic_coeff_a": -0.75,
                        "coordinate_transformation_mode": "half_pixel"})
        want = F.interpolate(src, scale_factor=2, mode="bicubic", align_corners=False)
        assert_close(r.as_numpy("y"), want, "y")
        r2 = grpc_infer(c, "resize", {"x": src.numpy()},
                        {"scales": "1,1,2,2", "mode": "cubic", "cubic_coeff_a": -0.5,
                         "coordinate_transformation_mode": "half_pixel"})
        _assert(r.as_numpy("y").tobytes() != r2.as_numpy("y").tobytes(),
                "cubic_coeff_a as a double changed nothing")
    check("params_double", double_param)

    def stub_param_kinds():
        """The InferParameter oneof built by hand: int64 kernel_size, string
        stride, bool ceil_mode in one request."""
        ch, s = stub(d)
        try:
            req = pb.ModelInferRequest(model_name="max_pool")
            set_param(req.parameters["kernel_size"], 2)
            set_param(req.parameters["stride"], "2,2")
            set_param(req.parameters["ceil_mode"], True)
            t = req.inputs.add(name="x", datatype="FP32", shape=list(src.shape))
            del t
            req.raw_input_contents.append(src.numpy().tobytes())
            resp = s.ModelInfer(req, timeout=30)
            y = np.frombuffer(resp.raw_output_contents[0], np.float32).reshape(
                list(resp.outputs[0].shape))
            assert_close(y, F.max_pool2d(src, 2, ceil_mode=True), "y", exact=True)
        finally:
            ch.close()
    check("params_oneof_by_hand", stub_param_kinds)

    def uint64_param():
        ch, st = stub(d)
        try:
            req = pb.ModelInferRequest(model_name="max_pool")
            req.parameters["kernel_size"].uint64_param = 3
            req.inputs.add(name="x", datatype="FP32", shape=list(src.shape))
            req.raw_input_contents.append(src.numpy().tobytes())
            resp = st.ModelInfer(req, timeout=30)
            y = np.frombuffer(resp.raw_output_contents[0], np.float32).reshape(
                list(resp.outputs[0].shape))
            assert_close(y, F.max_pool2d(src, 3), "y", exact=True)
        finally:
            ch.close()
    check("params_uint64", uint64_param)

    def scheduling_params_ignored():
        r = grpc_infer(c, "max_pool", {"x": src.numpy()}, {"kernel_size": 2}, priority=1,
                       timeout=100000)
        assert_close(r.as_numpy("y"), F.max_pool2d(src, 2), "y", exact=True)
    check("params_priority_and_timeout_accepted", scheduling_params_ignored)


# ---- dtypes: raw and typed contents -------------------------------------------

def unpool_case(seed=3):
    g = torch.Generator().manual_seed(seed)
    src = torch.randn(2, 3, 8, 8, generator=g)
    pooled, idx = F.max_pool2d(src, 2, return_indices=True)
    mask = torch.zeros(2, 3, 64, dtype=torch.int64)
    mask.scatter_(2, idx.reshape(2, 3, 16), 1)
    return pooled, idx, mask.reshape(2, 3, 8, 8)


def x_as(pooled, dt):
    """x in the given KServe datatype (numpy array, and the float32 values
    the server computes from)."""
    p = pooled.numpy()
    if dt == "FP32":
        a = p
    elif dt == "FP64":
        a = p.astype(np.float64)
    elif dt == "FP16":
        a = p.astype(np.float16)
    elif dt == "BF16":
        a = p.astype(ml_dtypes.bfloat16)
    elif dt == "INT8":
        a = np.clip(np.round(p * 40), -128, 127).astype(np.int8)
    elif dt == "UINT8":
        a = np.clip(np.round(p * 40 + 128), 0, 255).astype(np.uint8)
    return a


def unpool_want(a, idx):
    """max_unpool2d of x (any dtype) with PyTorch, in x's dtype (computed in
    float64: every dtype here is exact in it)."""
    y = F.max_unpool2d(torch.from_numpy(a.astype(np.float64)), idx, 2).numpy()
    return y.astype(a.dtype)


def fill_contents(t, a, dt):
    """Typed InferTensorContents of a numpy array; False if the datatype
    has no typed field (FP16, BF16: raw only, as in Triton)."""
    flat = a.ravel()
    if dt == "FP32":
        t.contents.fp32_contents.extend(flat.tolist())
    elif dt == "FP64":
        t.contents.fp64_contents.extend(flat.tolist())
    elif dt == "INT64":
        t.contents.int64_contents.extend(flat.tolist())
    elif dt in ("INT32", "INT16", "INT8"):
        t.contents.int_contents.extend(int(v) for v in flat)
    elif dt == "UINT8":
        t.contents.uint_contents.extend(int(v) for v in flat)
    elif dt == "BOOL":
        t.contents.bool_contents.extend(bool(v) for v in flat)
    else:
        return False
    return True


def typed_request(op, tensors, params):
    """tensors: [(name, array, datatype)] -> ModelInferRequest with typed
    contents (no raw_input_contents)."""
    req = pb.ModelInferRequest(model_name=op)
    for k, v in params.items():
        set_param(req.parameters[k], v)
    for name, a, dt in tensors:
        t = req.inputs.add(name=name, datatype=dt, shape=list(a.shape))
        _assert(fill_contents(t, a, dt), "no typed field for " + dt)
    return req


def raw_request(op, tensors, params):
    req = pb.ModelInferRequest(model_name=op)
    for k, v in params.items():
        set_param(req.parameters[k], v)
    for name, a, dt in tensors:
        req.inputs.add(name=name, datatype=dt, shape=list(a.shape))
        req.raw_input_contents.append(np.ascontiguousarray(a).tobytes())
    return req


def answer_y(resp, dtype):
    """y out of a ModelInferResponse: it must come as raw_output_contents."""
    _assert(len(resp.outputs) == 1 and resp.outputs[0].name == "y", resp.outputs)
    o = resp.outputs[0]
    _assert(len(resp.raw_output_contents) == 1, "answer not in raw_output_contents")
    c = o.contents
    _assert(not (c.fp32_contents or c.fp64_contents or c.int_contents or c.int64_contents or
                 c.uint_contents or c.bool_contents), "answer also in typed contents")
    return np.frombuffer(resp.raw_output_contents[0], dtype).reshape(list(o.shape)), o.datatype


def run_dtypes(d):
    pooled, idx, mask = unpool_case()
    ch, s = stub(d)
    x_dtypes = ["FP32", "FP64", "FP16", "BF16", "INT8", "UINT8"]
    for dt in x_dtypes:
        for typed in (False, True):
            if typed and dt in ("FP16", "BF16"):
                continue
            if dt == "BF16" and ml_dtypes is None:
                record("dtype_x_BF16_raw", False, "ml_dtypes (a tritonclient dependency) missing")
                continue

            def one(dt=dt, typed=typed):
                a = x_as(pooled, dt)
                want = unpool_want(a, idx)
                tensors = [("x", a, dt), ("indices", idx.numpy(), "INT64")]
                req = (typed_request if typed else raw_request)("max_unpool", tensors,
                                                                {"kernel_size": 2})
                y, ydt = answer_y(s.ModelInfer(req, timeout=30), a.dtype)
                _assert(ydt == dt, "answer datatype %s for %s" % (ydt, dt))
                _assert(y.tobytes() == want.tobytes(), "y differs from PyTorch")
            check("dtype_x_%s_%s" % (dt, "typed" if typed else "raw"), one)

    for dt, npdt in (("INT32", np.int32), ("INT64", np.int64)):
        for typed in (False, True):
            def ind(dt=dt, npdt=npdt, typed=typed):
                a = pooled.numpy()
                tensors = [("x", a, "FP32"), ("indices", idx.numpy().astype(npdt), dt)]
                req = (typed_request if typed else raw_request)("max_unpool", tensors,
                                                                {"kernel_size": 2})
                y, _ = answer_y(s.ModelInfer(req, timeout=30), np.float32)
                _assert(y.tobytes() == unpool_want(a, idx).tobytes(), "y differs")
            check("dtype_indices_%s_%s" % (dt, "typed" if typed else "raw"), ind)

    mask_dtypes = [("BOOL", np.bool_), ("INT16", np.int16), ("INT8", np.int8), ("UINT8", np.uint8),
                   ("INT32", np.int32), ("INT64", np.int64), ("FP32", np.float32),
                   ("FP64", np.float64), ("FP16", np.float16)]
    for dt, npdt in mask_dtypes:
        for typed in (False, True):
            if typed and dt == "FP16":
                continue

            def msk(dt=dt, npdt=npdt, typed=typed):
                a = pooled.numpy()
                m = mask.numpy().astype(npdt)
                tensors = [("x", a, "FP32"), ("mask", m, dt)]
                req = (typed_request if typed else raw_request)("max_unpool", tensors,
                                                                {"kernel_size": 2})
                y, _ = answer_y(s.ModelInfer(req, timeout=30), np.float32)
                _assert(y.tobytes() == unpool_want(a, idx).tobytes(), "y differs")
            check("dtype_mask_%s_%s" % (dt, "typed" if typed else "raw"), msk)

    def typed_and_raw_answer_alike():
        a = pooled.numpy()
        tensors = [("x", a, "FP32"), ("indices", idx.numpy(), "INT64")]
        r1 = s.ModelInfer(typed_request("max_unpool", tensors, {"kernel_size": 2}), timeout=30)
        r2 = s.ModelInfer(raw_request("max_unpool", tensors, {"kernel_size": 2}), timeout=30)
        _assert(r1.raw_output_contents[0] == r2.raw_output_contents[0], "answers differ")
    check("typed_and_raw_same_answer", typed_and_raw_answer_alike)

    def half_in_fp32_contents(dt):
        """FP16 and BF16 have no typed field: fp32_contents carries them,
        rounded to the dtype (README); values the dtype holds come back
        exactly."""
        a = x_as(pooled, dt)
        req = pb.ModelInferRequest(model_name="max_unpool")
        set_param(req.parameters["kernel_size"], 2)
        t = req.inputs.add(name="x", datatype=dt, shape=list(a.shape))
        t.contents.fp32_contents.extend(a.astype(np.float32).ravel().tolist())
        t = req.inputs.add(name="indices", datatype="INT64", shape=list(idx.shape))
        t.contents.int64_contents.extend(idx.numpy().ravel().tolist())
        y, ydt = answer_y(s.ModelInfer(req, timeout=30), a.dtype)
        _assert(ydt == dt, ydt)
        _assert(y.tobytes() == unpool_want(a, idx).tobytes(), "%s read wrong from fp32_contents"
                % dt)
    check("typed_fp16_in_fp32_contents", lambda: half_in_fp32_contents("FP16"))
    if ml_dtypes is not None:
        check("typed_bf16_in_fp32_contents", lambda: half_in_fp32_contents("BF16"))

    def fp16_rounded_to_nearest_even():
        # 1 + 2^-11 is halfway between float16 1.0 and 1 + 2^-10: even is 1.0
        req = pb.ModelInferRequest(model_name="nearest_unpool")
        set_param(req.parameters["scale_factor"], 1)
        t = req.inputs.add(name="x", datatype="FP16", shape=[1, 1, 1, 2])
        t.contents.fp32_contents.extend([1 + 2**-11, 1 + 3 * 2**-11])
        y, _ = answer_y(s.ModelInfer(req, timeout=30), np.float16)
        _assert(y.ravel().tolist() == [1.0, 1 + 2 * 2**-10], y.ravel().tolist())
    check("typed_fp16_rounded_to_nearest_even", fp16_rounded_to_nearest_even)

    def int_out_of_range():
        for dt, v in (("INT8", 128), ("INT8", -129), ("INT16", 40000), ("UINT8", 256)):
            a = np.zeros((2, 3, 4, 4), np.int64)
            a.flat[5] = v
            req = pb.ModelInferRequest(model_name="max_unpool")
            set_param(req.parameters["kernel_size"], 2)
            t = req.inputs.add(name="x", datatype=dt, shape=list(a.shape))
            if dt == "UINT8":
                t.contents.uint_contents.extend(int(q) for q in a.ravel())
            else:
                t.contents.int_contents.extend(int(q) for q in a.ravel())
            t = req.inputs.add(name="indices", datatype="INT64", shape=list(idx.shape))
            t.contents.int64_contents.extend(idx.numpy().ravel().tolist())
            expect_code(lambda: s.ModelInfer(req, timeout=30), "INVALID_ARGUMENT")
    check("typed_int_out_of_range_invalid_argument", int_out_of_range)
    ch.close()


# ---- errors -------------------------------------------------------------------

def run_errors(d, c):
    x = np.zeros((1, 1, 4, 4), np.float32)
    ch, s = stub(d)

    def infer_raw(req):
        return s.ModelInfer(req, timeout=30)

    check("error_unknown_model_not_found", lambda: expect_code(
        lambda: grpc_infer(c, "no_such_op", {"x": x}, {}), "NOT_FOUND", "no_such_op"))
    check("error_unknown_param_invalid_argument", lambda: expect_code(
        lambda: grpc_infer(c, "nearest_unpool", {"x": x}, {"scale_factor": 2, "kernel_sise": 2}),
        "INVALID_ARGUMENT", "kernel_sise"))
    # the message travels percent-encoded in grpc-message: a name with
    # non-ASCII letters and a '%' must come back as it was sent
    check("error_message_percent_encoding_round_trip", lambda: expect_code(
        lambda: grpc_infer(c, "nearest_unpool", {"x": x}, {"scale_factor": 2, "sïze%41 ok": 2}),
        "INVALID_ARGUMENT", "sïze%41 ok"))
    check("error_bad_param_value_invalid_argument", lambda: expect_code(
        lambda: grpc_infer(c, "max_pool", {"x": x}, {"kernel_size": 0}), "INVALID_ARGUMENT",
        "kernel_size"))
    check("error_bad_param_kind_invalid_argument", lambda: expect_code(
        lambda: grpc_infer(c, "max_pool", {"x": x}, {"kernel_size": 2.5}), "INVALID_ARGUMENT"))
    check("error_missing_input_invalid_argument", lambda: expect_code(
        lambda: grpc_infer(c, "max_unpool", {"x": x}, {"kernel_size": 2}), "INVALID_ARGUMENT"))
    check("error_unknown_input_invalid_argument", lambda: expect_code(
        lambda: grpc_infer(c, "nearest_unpool", {"x": x, "z": x}, {"scale_factor": 2}),
        "INVALID_ARGUMENT", "z"))
    check("error_sequence_id_invalid_argument", lambda: expect_code(
        lambda: c.infer("nearest_unpool", [grpcclient_input("x", x)], sequence_id=7,
                        parameters={"scale_factor": 2}), "INVALID_ARGUMENT"))
    check("error_unknown_output_invalid_argument", lambda: expect_code(
        lambda: grpc_infer(c, "nearest_unpool", {"x": x}, {"scale_factor": 2}, outputs=["zz"]),
        "INVALID_ARGUMENT", "zz"))

    def raw(tensors, raws, params={"scale_factor": 2}, op="nearest_unpool"):
        req = pb.ModelInferRequest(model_name=op)
        for k, v in params.items():
            set_param(req.parameters[k], v)
        for name, dt, shape in tensors:
            req.inputs.add(name=name, datatype=dt, shape=shape)
        req.raw_input_contents.extend(raws)
        return req

    bad = {
        "raw_short": raw([("x", "FP32", [1, 1, 4, 4])], [b"\0" * 60]),
        "raw_long": raw([("x", "FP32", [1, 1, 4, 4])], [b"\0" * 68]),
        "raw_count_over_inputs": raw([("x", "FP32", [1, 1, 4, 4])], [b"\0" * 64, b"\0" * 64]),
        "raw_missing": raw([("x", "FP32", [1, 1, 4, 4])], []),
        "unknown_datatype": raw([("x", "FP8", [1, 1, 4, 4])], [b"\0" * 16]),
        "bytes_datatype": raw([("x", "BYTES", [1, 1, 4, 4])], [b"\0" * 64]),
        "negative_dim": raw([("x", "FP32", [1, 1, -4, 4])], [b"\0" * 64]),
        "empty_name": raw([("", "FP32", [1, 1, 4, 4])], [b"\0" * 64]),
    }
    typed_short = pb.ModelInferRequest(model_name="nearest_unpool")
    set_param(typed_short.parameters["scale_factor"], 2)
    t = typed_short.inputs.add(name="x", datatype="FP32", shape=[1, 1, 4, 4])
    t.contents.fp32_contents.extend([0.0] * 15)
    bad["typed_count_short"] = typed_short
    typed_wrong = pb.ModelInferRequest(model_name="nearest_unpool")
    set_param(typed_wrong.parameters["scale_factor"], 2)
    t = typed_wrong.inputs.add(name="x", datatype="FP32", shape=[1, 1, 4, 4])
    t.contents.int64_contents.extend([0] * 16)
    bad["typed_wrong_field"] = typed_wrong
    both = raw([("x", "FP32", [1, 1, 4, 4])], [b"\0" * 64])
    both.inputs[0].contents.fp32_contents.extend([0.0] * 16)
    bad["typed_and_raw_together"] = both
    for name, req in bad.items():
        check("error_%s_invalid_argument" % name,
              lambda req=req: expect_code(lambda: infer_raw(req), "INVALID_ARGUMENT"))
    # a shape whose element count overflows is a tensor too large, as on
    # every REST path (413)
    overflow = raw([("x", "FP32", [2**62, 2**62, 1, 1])], [b"\0" * 64])
    check("error_shape_overflow_resource_exhausted",
          lambda: expect_code(lambda: infer_raw(overflow), "RESOURCE_EXHAUSTED", "overflow"))

    def garbage_protobuf():
        ident = lambda b: b  # noqa: E731
        rpc = ch.unary_unary(SERVICE + "ModelInfer", request_serializer=ident,
                             response_deserializer=ident)
        for body in (b"\xff\xff\xff\xff\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x2a\x05\x0a"):
            try:
                rpc(body, timeout=30)
            except grpc.RpcError as e:
                _assert(e.code() == grpc.StatusCode.INVALID_ARGUMENT, "%r -> %s" % (body, e.code()))
                continue
            raise AssertionError("no error for %r" % body)
    check("error_undecodable_protobuf_invalid_argument", garbage_protobuf)

    def unknown_method():
        ident = lambda b: b  # noqa: E731
        rpc = ch.unary_unary(SERVICE + "ModelStreamInfer", request_serializer=ident,
                             response_deserializer=ident)
        try:
            rpc(b"", timeout=30)
        except grpc.RpcError as e:
            _assert(e.code() == grpc.StatusCode.UNIMPLEMENTED, e.code())
            return
        raise AssertionError("no error")
    check("error_unknown_method_unimplemented", unknown_method)
    check("error_gzip_compressed_unimplemented", lambda: expect_code(
        lambda: grpc_infer(c, "nearest_unpool", {"x": x}, {"scale_factor": 2},
                           compression_algorithm="gzip"), "UNIMPLEMENTED"))

    def small_method_over_64kib():
        ident = lambda b: b  # noqa: E731
        rpc = ch.unary_unary(SERVICE + "ModelMetadata", request_serializer=ident,
                             response_deserializer=ident)
        big = pb.ModelMetadataRequest(name="m" * (80 << 10)).SerializeToString()
        try:
            rpc(big, timeout=30)
        except grpc.RpcError as e:
            _assert(e.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                 grpc.StatusCode.INVALID_ARGUMENT), e.code())
            return
        raise AssertionError("an 80 KiB ModelMetadata request answered")
    check("error_small_method_over_64kib_refused", small_method_over_64kib)
    check("still_serving_after_errors", lambda: still_serving(d))
    ch.close()


def grpcclient_input(name, a):
    i = grpcclient.InferInput(name, list(a.shape), NP_TO_KS[a.dtype])
    i.set_data_from_numpy(a)
    return i


# ---- 64 concurrent calls on one channel ---------------------------------------

def run_concurrent(c):
    def sixty_four():
        pooled, idx, _ = unpool_case(9)
        n = 64
        done = threading.Semaphore(0)
        results = [None] * n

        def cb(k):
            def f(result, error):
                results[k] = (result, error)
                done.release()
            return f
        for k in range(n):
            x = (pooled * (k + 1)).numpy()
            ins = [grpcclient_input("x", x), grpcclient_input("indices", idx.numpy())]
            c.async_infer("max_unpool", ins, cb(k), parameters={"kernel_size": 2},
                          request_id=str(k))
        for _ in range(n):
            _assert(done.acquire(timeout=120), "not every call was answered")
        for k, (r, err) in enumerate(results):
            _assert(err is None, "call %d: %s" % (k, err))
            _assert(r.get_response().id == str(k), "call %d answered as %r" % (
                k, r.get_response().id))
            want = F.max_unpool2d(pooled * (k + 1), idx, 2)
            assert_close(r.as_numpy("y"), want, "y of call %d" % k, exact=True)
    check("concurrent_64_calls_one_channel", sixty_four)


# ---- 64 MiB both ways -----------------------------------------------------------

def run_large(c):
    def big():
        shape = (4, 16, 512, 512)  # 64 MiB of float32
        rng = np.random.default_rng(5)
        x = rng.random(shape, dtype=np.float32)
        n, ch_, h, w = shape
        oh = np.arange(h, dtype=np.int64)[:, None] * 2 + rng.integers(0, 2, (h, w))
        ow = np.arange(w, dtype=np.int64)[None, :] * 2 + rng.integers(0, 2, (h, w))
        ind = np.broadcast_to(oh * (2 * w) + ow, shape).copy()  # 128 MiB
        r = grpc_infer(c, "max_unpool", {"x": x, "indices": ind}, {"kernel_size": 2},
                       client_timeout=300)
        y = r.as_numpy("y")
        _assert(y.shape == (4, 16, 1024, 1024) and y.nbytes == 256 << 20, y.shape)
        want = F.max_unpool2d(torch.from_numpy(x), torch.from_numpy(ind), 2).numpy()
        _assert(y.tobytes() == want.tobytes(), "256 MiB answer differs from PyTorch")
    check("large_64mib_in_256mib_out_max_unpool", big)


# ---- metrics ------------------------------------------------------------------

def run_metrics(d):
    def grpc_label():
        with urllib.request.urlopen("http://%s/metrics" % d.url, timeout=30) as r:
            text = r.read().decode()
        lines = [ln for ln in text.splitlines() if ln.startswith("unpoold_requests_total")
                 and "grpc" in ln]
        _assert(lines, "no unpoold_requests_total series with a grpc label")
        _assert(any('op="max_unpool"' in ln and float(ln.rsplit(" ", 1)[1]) >= 64
                    for ln in lines), "\n".join(lines[:10]))
    check("metrics_requests_labelled_grpc", grpc_label)


def main():
    d = start_grpc_daemon_or_finish(["--max-body-mb", "512"])
    c = client(d)
    hc = httpclient.InferenceServerClient(url=d.url, network_timeout=120)
    try:
        run_health(d, c)
        run_ops(d, c, hc)
        run_params(d, c)
        run_dtypes(d)
        run_errors(d, c)
        run_concurrent(c)
        run_large(c)
        run_metrics(d)
        check("still_serving_at_end", lambda: still_serving(d))
    finally:
        c.close()
        hc.close()
        harness.stop_and_check(d.proc, d.log)
    finish()


if __name__ == "__main__":
    main()
