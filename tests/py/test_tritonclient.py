"""Drive a live unpoold with Triton's own HTTP client (tritonclient[http]).

Starts the daemon from $UNPOOLD_BIN (default build/unpoold) on a free port,
then: health and readiness, server and model metadata for every op, and
inference of every op with JSON tensors and with the binary tensor data
extension (binary inputs, binary outputs), checked against PyTorch. It also
sends .npy and safetensors bodies to /v1 and reads the answers back with
NumPy and the safetensors package, and sends malformed binary bodies to
make sure each gets its 4xx and the daemon keeps serving.

Prints "ok   name" / "FAIL name" per check and ends with "N passed, N
failed". Missing tritonclient (or safetensors) is a failure, not a skip.
Run with the CI virtual environment's interpreter:

    UNPOOLD_BIN=build/unpoold <venv>/bin/python3 tests/py/test_tritonclient.py
"""
import io
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, finish, record, start_daemon_or_finish  # noqa: E402



try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
except ImportError as e:
    record("import_tritonclient_numpy_torch", False, e)
    finish()

try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None
try:
    from safetensors.numpy import load as st_load, save as st_save
except ImportError:
    st_load = st_save = None

OPS = ["max_unpool", "nearest_unpool", "fractional_max_unpool", "conv_transpose", "max_pool",
       "fractional_max_pool"]
INPUTS = {"max_unpool": ["x", "indices", "mask"], "nearest_unpool": ["x"],
          "fractional_max_unpool": ["x", "indices"], "conv_transpose": ["x", "weight", "bias"],
          "max_pool": ["x"], "fractional_max_pool": ["x", "samples"]}
OUTPUTS = {op: ["y"] for op in OPS}
OUTPUTS["max_pool"] = OUTPUTS["fractional_max_pool"] = ["y", "indices"]

NP_TO_KS = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64",
            np.dtype(np.float16): "FP16", np.dtype(np.int64): "INT64",
            np.dtype(np.int32): "INT32", np.dtype(np.uint8): "UINT8"}


# ---- daemon ---------------------------------------------------------------

def post(url, path, body, content_type, accept=None):
    req = urllib.request.Request("http://%s%s" % (url, path), data=body, method="POST")
    req.add_header("Content-Type", content_type)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# ---- helpers ----------------------------------------------------------------

def make_input(name, a, binary, datatype=None):
    dt = datatype or NP_TO_KS[a.dtype]
    i = httpclient.InferInput(name, list(a.shape), dt)
    i.set_data_from_numpy(a, binary_data=binary)
    return i


def infer(client, op, inputs, params, binary, outputs=None):
    """inputs: {name: array}. binary: send inputs and ask outputs in binary."""
    ins = [make_input(k, v, binary) for k, v in inputs.items()]
    outs = [httpclient.InferRequestedOutput(o, binary_data=binary) for o in (outputs or OUTPUTS[op])]
    return client.infer(op, ins, outputs=outs, parameters=params)


def assert_close(got, want, name, exact=False):
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    if got.shape != want.shape:
        raise AssertionError("%s: shape %s, expected %s" % (name, got.shape, want.shape))
    if exact:
        if not np.array_equal(got, want):
            raise AssertionError("%s differs" % name)
    elif not np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-5, atol=1e-5):
        raise AssertionError("%s: max error %g" % (name, np.abs(got - want).max()))


def torch_cases():
    """Per op: inputs (numpy), params (KServe parameters), expected outputs
    computed by PyTorch."""
    g = torch.Generator().manual_seed(3)
    src = torch.randn(2, 3, 8, 8, generator=g)
    pooled, idx = F.max_pool2d(src, 2, return_indices=True)
    cases = {}
    cases["max_unpool"] = ({"x": pooled.numpy(), "indices": idx.numpy()}, {"kernel_size": 2},
                           {"y": F.max_unpool2d(pooled, idx, 2)})
    cases["nearest_unpool"] = ({"x": src.numpy()},
                               {"output_size": "13,11", "mode": "nearest-exact"},
                               {"y": F.interpolate(src, size=(13, 11), mode="nearest-exact")})
    cases["fractional_max_unpool"] = (
        {"x": src.numpy()}, {"output_size": "12,12", "coordinate_transform": "half_pixel"},
        {"y": F.interpolate(src, size=(12, 12), mode="bilinear", align_corners=False)})
    w = torch.randn(3, 4, 3, 3, generator=g)
    b = torch.randn(4, generator=g)
    cases["conv_transpose"] = ({"x": src.numpy(), "weight": w.numpy(), "bias": b.numpy()},
                               {"stride": 2, "padding": 1, "output_padding": 1},
                               {"y": F.conv_transpose2d(src, w, b, stride=2, padding=1,
                                                        output_padding=1)})
    py, pi = F.max_pool2d(src, 3, stride=2, padding=1, return_indices=True)
    cases["max_pool"] = ({"x": src.numpy()}, {"kernel_size": 3, "stride": 2, "padding": 1},
                         {"y": py, "indices": pi})
    samples = torch.rand(2, 3, 2, generator=g)
    fy, fi = F.fractional_max_pool2d(src, 2, output_size=(5, 5), return_indices=True,
                                     _random_samples=samples)
    cases["fractional_max_pool"] = ({"x": src.numpy(), "samples": samples.numpy()},
                                    {"kernel_size": 2, "output_size": "5,5"},
                                    {"y": fy, "indices": fi})
    return cases


# ---- checks -----------------------------------------------------------------

def run(client, url):
    check("server_live", lambda: _assert(client.is_server_live()))
    check("server_ready", lambda: _assert(client.is_server_ready()))

    def server_metadata():
        md = client.get_server_metadata()
        _assert(md["name"] == "unpoold", md)
        _assert("binary_tensor_data" in md["extensions"], md)
    check("server_metadata", server_metadata)

    for op in OPS:
        def model_metadata(op=op):
            md = client.get_model_metadata(op)
            _assert(md["name"] == op and "1" in md["versions"], md)
            _assert([i["name"] for i in md["inputs"]] == INPUTS[op], md)
            _assert([o["name"] for o in md["outputs"]] == OUTPUTS[op], md)
            for t in md["inputs"] + md["outputs"]:
                _assert(t["datatype"] in ("FP32", "INT64", "UINT8"), t)
                _assert(all(d == -1 for d in t["shape"]), t)
        check("model_metadata_" + op, model_metadata)
        check("model_ready_" + op, lambda op=op: _assert(client.is_model_ready(op)))

    cases = torch_cases()
    for op in OPS:
        inputs, params, want = cases[op]
        for binary in (False, True):
            def one(op=op, inputs=inputs, params=params, want=want, binary=binary):
                r = infer(client, op, inputs, params, binary)
                for name, w in want.items():
                    got = r.as_numpy(name)
                    _assert(got is not None, "no output " + name)
                    exact = name == "indices" or op in ("max_unpool", "max_pool")
                    assert_close(got, w, name, exact=exact)
                    want_dt = "INT64" if name == "indices" else "FP32"
                    _assert(r.get_output(name)["datatype"] == want_dt, r.get_output(name))
                    has_bin = "binary_data_size" in (r.get_output(name).get("parameters") or {})
                    _assert(has_bin == binary, r.get_output(name))
            check("infer_%s_%s" % (op, "binary" if binary else "json"), one)

    # default outputs: tritonclient asks binary_data_output for all of them
    def default_outputs():
        inputs, params, want = cases["max_pool"]
        r = client.infer("max_pool", [make_input("x", inputs["x"], True)], parameters=params)
        assert_close(r.as_numpy("y"), want["y"], "y", exact=True)
        assert_close(r.as_numpy("indices"), want["indices"], "indices", exact=True)
    check("infer_max_pool_default_outputs_binary", default_outputs)

    def dtype_case(dt, binary):
        x = cases["max_unpool"][0]["x"]
        idx = cases["max_unpool"][0]["indices"]
        want = F.max_unpool2d(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(idx), 2)
        if dt == "BF16":
            xa = x.astype(ml_dtypes.bfloat16)
            want = F.max_unpool2d(torch.from_numpy(xa.astype(np.float32)), torch.from_numpy(idx), 2)
        elif dt == "FP16":
            xa = x.astype(np.float16)
            want = want.half()
        else:
            xa = x.astype(np.float64)
            want = F.max_unpool2d(torch.from_numpy(xa), torch.from_numpy(idx), 2)
        ins = [make_input("x", xa, binary, dt), make_input("indices", idx.astype(np.int32), binary)]
        outs = [httpclient.InferRequestedOutput("y", binary_data=True)]
        r = client.infer("max_unpool", ins, outputs=outs, parameters={"kernel_size": "2,2"})
        _assert(r.get_output("y")["datatype"] == dt, r.get_output("y"))
        got = r.as_numpy("y")
        assert_close(got.astype(np.float64), want.double().numpy(), "y", exact=True)

    check("infer_max_unpool_fp64_json", lambda: dtype_case("FP64", False))
    check("infer_max_unpool_fp16_json", lambda: dtype_case("FP16", False))
    check("infer_max_unpool_fp16_binary", lambda: dtype_case("FP16", True))
    if ml_dtypes is None:
        record("infer_max_unpool_bf16_binary", False, "ml_dtypes (a tritonclient dependency) missing")
    else:
        check("infer_max_unpool_bf16_binary", lambda: dtype_case("BF16", True))

    def error_case():
        x = cases["max_unpool"][0]["x"]
        try:
            client.infer("max_unpool", [make_input("x", x, True)], parameters={"kernel_sise": 2})
        except InferenceServerException as e:
            _assert(e.status() == "422", e.status())
            _assert("kernel_sise" in e.message(), e.message())
            return
        raise AssertionError("no error for an unknown param")
    check("infer_unknown_param_422", error_case)

    # tritonclient's JSON mode writes NaN and infinities as bare NaN and
    # Infinity (Python's json); /v2 reads them as /v1 does
    def nonfinite_json():
        x = np.array([1, np.nan, np.inf, -np.inf, -0.0, 2], np.float32).reshape(1, 1, 2, 3)
        r = infer(client, "max_pool", {"x": x}, {"kernel_size": 1}, False, ["y"])
        y = r.as_numpy("y")
        _assert(y.shape == x.shape and np.array_equal(y, x, equal_nan=True)
                and np.signbit(y.flat[4]), y)
    check("infer_max_pool_nan_inf_json_mode", nonfinite_json)

    run_v1_binary(url, cases)
    run_malformed(url, client)


def run_v1_binary(url, cases):
    """The /v1 binary formats, read back with NumPy and safetensors."""
    src = cases["nearest_unpool"][0]["x"]

    def npy_roundtrip():
        b = io.BytesIO()
        np.save(b, src.astype(">f4"))  # big-endian on purpose
        st, hdr, body = post(url, "/v1/ops/nearest_unpool?scale_factor=2", b.getvalue(),
                             "application/x-npy", "application/x-npy")
        _assert(st == 200, (st, body[:200]))
        got = np.load(io.BytesIO(body))
        assert_close(got, F.interpolate(torch.from_numpy(src), scale_factor=2, mode="nearest"),
                     "y", exact=True)
    check("v1_npy_in_npy_out", npy_roundtrip)

    if st_save is None:
        record("v1_safetensors_max_pool", False, "the safetensors package is missing")
        return

    def st_roundtrip():
        body = st_save({"x": src}, metadata={"kernel_size": "2"})
        st, hdr, out = post(url, "/v1/ops/max_pool", body, "application/x-safetensors",
                            "application/x-safetensors")
        _assert(st == 200, (st, out[:200]))
        got = st_load(out)
        py, pi = F.max_pool2d(torch.from_numpy(src), 2, return_indices=True)
        assert_close(got["y"], py, "y", exact=True)
        assert_close(got["indices"], pi, "indices", exact=True)
    check("v1_safetensors_max_pool", st_roundtrip)

    def large_max_unpool():
        g = torch.Generator().manual_seed(5)
        big = torch.randn(1, 4, 512, 512, generator=g)  # 4 MiB in, 4 MiB out
        pooled, idx = F.max_pool2d(big, 2, return_indices=True)
        want = F.max_unpool2d(pooled, idx, 2).numpy()
        body = st_save({"x": pooled.numpy(), "indices": idx.numpy()})
        st, _, out = post(url, "/v1/ops/max_unpool?kernel_size=2", body,
                          "application/x-safetensors", "application/x-safetensors")
        _assert(st == 200, (st, out[:200]))
        _assert(st_load(out)["y"].tobytes() == want.tobytes(), "bytes differ")
        st, _, out = post(url, "/v1/ops/max_unpool?kernel_size=2", body,
                          "application/x-safetensors", "application/x-npy")
        _assert(st == 200, (st, out[:200]))
        _assert(np.load(io.BytesIO(out)).tobytes() == want.tobytes(), "npy bytes differ")
    check("v1_safetensors_large_max_unpool_matches_torch", large_max_unpool)


def run_malformed(url, client):
    b = io.BytesIO()
    np.save(b, np.zeros((1, 1, 4, 4), np.float32))
    good_npy = b.getvalue()
    bad = {
        "npy_bad_magic": (b"\x93NUMPX" + good_npy[6:], "application/x-npy", 400),
        "npy_truncated": (good_npy[:-3], "application/x-npy", 400),
        "npy_header_past_end": (good_npy[:8] + b"\xff\xff" + good_npy[10:], "application/x-npy", 400),
        "npy_bad_version": (good_npy[:6] + b"\x09\x00" + good_npy[8:], "application/x-npy", 400),
        "npy_object_dtype": (good_npy.replace(b"'<f4'", b"'|O8'"), "application/x-npy", 422),
        "st_truncated": (b"\x10\x00", "application/x-safetensors", 400),
        "st_header_past_end": (b"\xff" * 8 + b"{}", "application/x-safetensors", 400),
    }
    if st_save is not None:
        good = st_save({"x": np.zeros((1, 1, 4, 4), np.float32)})
        n = int.from_bytes(good[:8], "little")
        hdr = good[8:8 + n]
        bad["st_offsets_out_of_range"] = (good[:8] + hdr.replace(b"[0,64]", b"[0,99]"),
                                          "application/x-safetensors", 400)
        bad["st_unknown_dtype"] = (good[:8] + hdr.replace(b'"F32"', b'"U32"') + good[8 + n:],
                                   "application/x-safetensors", 422)
    for name, (body, ct, want) in bad.items():
        def one(body=body, ct=ct, want=want):
            st, hdr, out = post(url, "/v1/ops/nearest_unpool?scale_factor=2", body, ct)
            _assert(st == want, (st, out[:300]))
            _assert(b'"status"' in out, out[:300])
        check("malformed_" + name, one)

    def kserve_malformed():
        head = (b'{"inputs":[{"name":"x","shape":[100],"datatype":"FP32",'
                b'"parameters":{"binary_data_size":400}}]}')
        req = urllib.request.Request("http://%s/v2/models/max_unpool/infer" % url,
                                     data=head + b"\x00" * 8, method="POST")
        req.add_header("Inference-Header-Content-Length", str(len(head)))
        try:
            urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as e:
            out = e.read()
            _assert(e.code == 400, e.code)
            _assert(b'"error"' in out and b"past the end" in out, out)
            return
        raise AssertionError("no error")
    check("malformed_kserve_binary_size_past_end", kserve_malformed)
    check("still_serving_after_malformed", lambda: _assert(client.is_server_live()))


def _assert(cond, what=""):
    if not cond:
        raise AssertionError(str(what)[:400])


def main():
    proc, port, log = start_daemon_or_finish(probe="/v2/health/live")
    url = "127.0.0.1:%d" % port
    try:
        client = httpclient.InferenceServerClient(url=url, network_timeout=60)
        run(client, url)
        client.close()
    finally:
        harness.stop_and_check(proc, log)
    finish()


if __name__ == "__main__":
    main()
