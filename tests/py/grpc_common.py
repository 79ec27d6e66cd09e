"""What the gRPC tests share: a daemon started with --grpc-listen on a
second free loopback port, clients for it (tritonclient.grpc and a bare
stub of the generated service), the per-op cases with their PyTorch
answers, and the error-code helper.

The KServe v2 gRPC service (inference.GRPCInferenceService, the .proto in
api/kserve_grpc.proto) is spoken on its own port; REST stays on --listen.
Both go to the same daemon, so every case can be sent both ways and the
answers compared byte for byte.

Not a test itself (no test_ prefix): tests/run_all.sh runs only
tests/py/test_*.py.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import free_port, record, finish  # noqa: E402

try:
    import grpc
    import numpy as np
    import torch
    import torch.nn.functional as F
    import tritonclient.grpc as grpcclient
    import tritonclient.grpc.service_pb2_grpc as pb_grpc
    from tritonclient.utils import InferenceServerException
    from test_tritonclient import torch_cases
except ImportError as e:
    record("import_tritonclient_grpc_numpy_torch", False, e)
    finish()

torch.set_num_threads(1)  # leave the cores to the daemon

SERVICE = "/inference.GRPCInferenceService/"

OPS = ["max_unpool", "nearest_unpool", "fractional_max_unpool", "conv_transpose", "max_pool",
       "fractional_max_pool", "resize", "pixel_shuffle", "pixel_unshuffle"]
INPUTS = {"max_unpool": ["x", "indices", "mask"], "nearest_unpool": ["x"],
          "fractional_max_unpool": ["x", "indices"], "conv_transpose": ["x", "weight", "bias"],
          "max_pool": ["x"], "fractional_max_pool": ["x", "samples"], "resize": ["x", "roi"],
          "pixel_shuffle": ["x"], "pixel_unshuffle": ["x"]}
OUTPUTS = {op: ["y"] for op in OPS}
OUTPUTS["max_pool"] = OUTPUTS["fractional_max_pool"] = ["y", "indices"]

NP_TO_KS = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64",
            np.dtype(np.float16): "FP16", np.dtype(np.int64): "INT64",
            np.dtype(np.int32): "INT32", np.dtype(np.int16): "INT16",
            np.dtype(np.int8): "INT8", np.dtype(np.uint8): "UINT8",
            np.dtype(np.bool_): "BOOL"}

# Big enough for the 64 MiB cases (and their 256 MiB answers) both ways.
CHANNEL_ARGS = [("grpc.max_send_message_length", 2**31 - 1),
                ("grpc.max_receive_message_length", 2**31 - 1)]


def _assert(cond, what=""):
    if not cond:
        raise AssertionError(str(what)[:400])


# ---- daemon -------------------------------------------------------------------

class Daemon:
    """A daemon with REST on .port and gRPC on .gport."""

    def __init__(self, proc, port, gport, log):
        self.proc, self.port, self.gport, self.log = proc, port, gport, log
        self.url = "127.0.0.1:%d" % port
        self.gurl = "127.0.0.1:%d" % gport


def wait_grpc(gport, timeout=20, creds=None):
    """Until a channel to the gRPC port connects (the REST probe answering
    does not say the gRPC listener is up yet)."""
    target = "127.0.0.1:%d" % gport
    ch = grpc.secure_channel(target, creds) if creds else grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(ch).result(timeout=timeout)
    finally:
        ch.close()


def start_grpc_daemon(extra_args=(), workers=2, creds=None):
    """start_daemon() with --grpc-listen on a free port; raises if either
    port does not come up."""
    gport = free_port()
    args = ["--grpc-listen", "127.0.0.1:%d" % gport] + list(extra_args)
    probe = "/v2/health/live"
    if "--tls-cert" in args or "--open-health" in args:
        proc, port, log = _start_unprobed(args, workers)
    else:
        proc, port, log = harness.start_daemon(args, workers, probe)
    try:
        wait_grpc(gport, creds=creds)
    except Exception:
        harness.stop_daemon(proc)
        raise RuntimeError("gRPC port %d did not come up: %s" % (gport, harness.log_tail(log)))
    return Daemon(proc, port, gport, log)


def _start_unprobed(args, workers):
    """The REST probe of start_daemon() speaks plain HTTP without a key;
    under TLS or --open-health 0 the gRPC probe alone says the daemon is
    up (a channel connects whether or not calls need a key)."""
    import subprocess
    import tempfile
    port = free_port()
    log = tempfile.TemporaryFile()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNPOOLD_")}
    cmd = harness.daemon_command() + ["--listen", "127.0.0.1:%d" % port, "--workers", str(workers)]
    proc = subprocess.Popen(cmd + args, stdout=log, stderr=log, env=env)
    time.sleep(0.2)
    if proc.poll() is not None:
        raise RuntimeError("daemon exited: " + harness.log_tail(log))
    return proc, port, log


def start_grpc_daemon_or_finish(extra_args=(), workers=2, creds=None):
    try:
        return start_grpc_daemon(extra_args, workers, creds)
    except Exception as e:
        record("start_daemon_with_grpc_listen", False, e)
        finish()


def client(d, **kw):
    return grpcclient.InferenceServerClient(url=d.gurl, channel_args=CHANNEL_ARGS, **kw)


def stub(d):
    """A bare stub of the generated service, for requests tritonclient
    cannot build (typed contents, hand-made raw_input_contents)."""
    ch = grpc.insecure_channel(d.gurl, options=CHANNEL_ARGS)
    return ch, pb_grpc.GRPCInferenceServiceStub(ch)


# ---- requests -----------------------------------------------------------------

def grpc_input(name, a, datatype=None):
    i = grpcclient.InferInput(name, list(a.shape), datatype or NP_TO_KS[a.dtype])
    i.set_data_from_numpy(a)
    return i


def grpc_infer(c, op, inputs, params, outputs=None, **kw):
    """inputs {name: array}; outputs: names asked for (None: all)."""
    ins = [grpc_input(k, v) for k, v in inputs.items()]
    outs = [grpcclient.InferRequestedOutput(o) for o in outputs] if outputs else None
    return c.infer(op, ins, outputs=outs, parameters=params, **kw)


def set_param(p, v):
    """One InferParameter from a Python value, as tritonclient does."""
    if isinstance(v, bool):
        p.bool_param = v
    elif isinstance(v, int):
        p.int64_param = v
    elif isinstance(v, float):
        p.double_param = v
    else:
        p.string_param = str(v)


def code_of(e):
    """The grpc.StatusCode name of a tritonclient or grpc error."""
    if isinstance(e, InferenceServerException):
        return str(e.status()).replace("StatusCode.", "")
    if isinstance(e, grpc.RpcError):
        return e.code().name
    return type(e).__name__


def expect_code(fn, code, *fragments):
    """fn() must fail with gRPC status `code` (a StatusCode name) and a
    message holding every fragment; returns the message."""
    try:
        fn()
    except (InferenceServerException, grpc.RpcError) as e:
        got = code_of(e)
        msg = e.message() if isinstance(e, InferenceServerException) else e.details()
        _assert(got == code, "status %s, expected %s: %s" % (got, code, msg))
        for f in fragments:
            _assert(f in (msg or ""), "message %r lacks %r" % (msg, f))
        return msg
    raise AssertionError("no error (expected %s)" % code)


# ---- cases --------------------------------------------------------------------

def all_cases():
    """Per op: ({input: array}, params, {output: torch tensor}) for every op,
    the REST suite's cases plus resize and the shuffles."""
    cases = torch_cases()
    g = torch.Generator().manual_seed(11)
    src = torch.randn(2, 3, 8, 8, generator=g)
    cases["resize"] = ({"x": src.numpy()},
                       {"scales": "1,1,2,2", "mode": "linear",
                        "coordinate_transformation_mode": "half_pixel"},
                       {"y": F.interpolate(src, scale_factor=2, mode="bilinear",
                                           align_corners=False)})
    s4 = torch.randn(2, 12, 5, 6, generator=g)
    cases["pixel_shuffle"] = ({"x": s4.numpy()}, {"upscale_factor": 2},
                              {"y": F.pixel_shuffle(s4, 2)})
    cases["pixel_unshuffle"] = ({"x": src.numpy()}, {"downscale_factor": 2},
                                {"y": F.pixel_unshuffle(src, 2)})
    return cases


def exact_op(op, name):
    """Outputs that must match PyTorch bit for bit: indices and the ops that
    only move values."""
    return name == "indices" or op in ("max_unpool", "max_pool", "nearest_unpool",
                                       "pixel_shuffle", "pixel_unshuffle")


def assert_close(got, want, name, exact=False):
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    _assert(got.shape == want.shape, "%s: shape %s, expected %s" % (name, got.shape, want.shape))
    if exact:
        _assert(np.array_equal(got, want, equal_nan=True), "%s differs" % name)
    elif not np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-5, atol=1e-5):
        raise AssertionError("%s: max error %g" % (name, np.abs(got.astype(np.float64) -
                                                            want.astype(np.float64)).max()))


def still_serving(d):
    """ServerLive over gRPC and GET /healthz over REST both answer."""
    import urllib.request
    c = client(d)
    try:
        _assert(c.is_server_live(client_timeout=10), "ServerLive false")
    finally:
        c.close()
    with urllib.request.urlopen("http://%s/healthz" % d.url, timeout=10) as r:
        _assert(r.status == 200, r.status)
