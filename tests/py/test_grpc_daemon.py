"""KServe v2 over gRPC: the daemon's limits, keys, TLS and shared memory, as
the gRPC port must share them with REST (tritonclient.grpc as the client).

Each part starts its own daemon from $UNPOOLD_BIN with --grpc-listen and
the flags it is about:

  limits     --max-body-mb 1 --max-elements 100000 --max-work 1000000:
             a tensor, an output, the work, a message over the body
             limit -> RESOURCE_EXHAUSTED (REST's 413); --max-inflight-mb 2
             and a request that can never fit -> RESOURCE_EXHAUSTED;
  overload   --workers 1 --queue 1 and slow conv_transpose calls: a full
             queue -> UNAVAILABLE (503); a client deadline shorter than
             the wait -> DEADLINE_EXCEEDED, and the daemon does not run
             that call's kernel afterwards; --timeout-ms: the daemon's
             own deadline -> DEADLINE_EXCEEDED (504) to a client that set
             none; SIGTERM drains: the call in flight is answered, calls
             after it are UNAVAILABLE, the daemon exits 0;
  api keys   --api-key-file: no or a wrong `authorization` metadata ->
             UNAUTHENTICATED (401), "Bearer KEY" passes; ServerLive and
             ServerReady stay open as /v2/health/* do, unless
             --open-health 0;
  tls        --tls-cert/--tls-key: the gRPC port speaks TLS
             (InferenceServerClient(ssl=True, root_certificates=...)),
             and a plaintext client gets nowhere;
  shm        --shm 1: tritonclient.utils.shared_memory regions registered
             over gRPC, inputs read and outputs written there, status and
             unregister; without --shm the register call is refused;
  env        UNPOOLD_GRPC_LISTEN instead of the flag.

Prints "ok   name" / "FAIL name" per check and ends with "N passed, N
failed". Needs openssl for the TLS part (its absence is a failure).

    UNPOOLD_BIN=build/unpoold <venv>/bin/python3 tests/py/test_grpc_daemon.py
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, finish, record  # noqa: E402
from grpc_common import (_assert, assert_close, client, code_of, expect_code,  # noqa: E402
                         free_port, grpc_infer, start_grpc_daemon, still_serving, wait_grpc)

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import tritonclient.grpc as grpcclient  # noqa: E402
import tritonclient.utils.shared_memory as shm  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402


def started(name, args, workers=2, creds=None):
    """A daemon for one part, or a failed case (and None)."""
    try:
        return start_grpc_daemon(args, workers, creds)
    except Exception as e:
        record(name + "_daemon_starts", False, e)
        return None


def stop(d):
    rc = harness.stop_daemon(d.proc)
    return rc


def metric_sum(d, name, **labels):
    """Sum of a counter over every series whose labels hold `labels`."""
    with urllib.request.urlopen("http://%s/metrics" % d.url, timeout=30) as r:
        text = r.read().decode()
    total = 0.0
    for ln in text.splitlines():
        if not ln.startswith(name + "{"):
            continue
        lab = dict(re.findall(r'(\w+)="([^"]*)"', ln.split("}", 1)[0]))
        if all(lab.get(k) == v for k, v in labels.items()):
            total += float(ln.rsplit(" ", 1)[1])
    return total


# ---- limits -> RESOURCE_EXHAUSTED -------------------------------------------------

def run_limits():
    d = started("limits", ["--max-body-mb", "1", "--max-elements", "100000",
                           "--max-work", "1000000"])
    if d is None:
        return
    c = client(d)
    try:
        check("limit_input_over_max_elements_resource_exhausted", lambda: expect_code(
            lambda: grpc_infer(c, "nearest_unpool", {"x": np.zeros((1, 1, 400, 400), np.float32)},
                               {"scale_factor": 1}), "RESOURCE_EXHAUSTED"))
        check("limit_output_over_max_elements_resource_exhausted", lambda: expect_code(
            lambda: grpc_infer(c, "nearest_unpool", {"x": np.zeros((1, 1, 100, 100), np.float32)},
                               {"scale_factor": 4}), "RESOURCE_EXHAUSTED"))
        check("limit_work_over_max_work_resource_exhausted", lambda: expect_code(
            lambda: grpc_infer(c, "conv_transpose",
                               {"x": np.zeros((1, 16, 32, 32), np.float32),
                                "weight": np.zeros((16, 16, 7, 7), np.float32)}, {}),
            "RESOURCE_EXHAUSTED"))
        check("limit_message_over_max_body_resource_exhausted", lambda: expect_code(
            lambda: grpc_infer(c, "max_unpool", {"x": np.zeros((1, 1, 256, 256), np.float32),
                                                 "indices": np.zeros((1, 1, 256, 256), np.int64)},
                               {"kernel_size": 2}), "RESOURCE_EXHAUSTED"))
        check("limit_still_serving", lambda: still_serving(d))
    finally:
        c.close()
        stop(d)

    d = started("budget", ["--max-body-mb", "1", "--max-inflight-mb", "2"])
    if d is None:
        return
    c = client(d)
    try:
        def never_fits():
            expect_code(lambda: grpc_infer(c, "nearest_unpool",
                                           {"x": np.zeros((1, 1, 256, 256), np.float32)},
                                           {"scale_factor": 4}), "RESOURCE_EXHAUSTED")
            _assert(metric_sum(d, "unpoold_budget_refused_total", reason="never_fits") >= 1,
                    "the budget did not count it as never_fits")
        check("budget_never_fits_resource_exhausted", never_fits)
        x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
        check("budget_small_still_served", lambda: assert_close(
            grpc_infer(c, "nearest_unpool", {"x": x}, {"scale_factor": 2}).as_numpy("y"),
            F.interpolate(torch.from_numpy(x), scale_factor=2), "y", exact=True))
    finally:
        c.close()
        stop(d)


# ---- overload -> UNAVAILABLE, deadlines -> DEADLINE_EXCEEDED, drain --------------

SLOW_X = np.random.default_rng(2).random((1, 128, 128, 128), dtype=np.float32)
SLOW_W = np.random.default_rng(3).random((128, 128, 7, 7), dtype=np.float32)


def slow_call(c, out, key, **kw):
    """A conv_transpose of 26 GFLOP (0.4 s on one idle worker, more on a
    busy machine: always far longer than the deadlines below);
    out[key] = 'OK' or the status code name."""
    try:
        grpc_infer(c, "conv_transpose", {"x": SLOW_X, "weight": SLOW_W}, {}, **kw)
        out[key] = "OK"
    except Exception as e:
        out[key] = code_of(e)


def metric_value(d, name):
    """A gauge without labels (0 when absent)."""
    with urllib.request.urlopen("http://%s/metrics" % d.url, timeout=30) as r:
        for ln in r.read().decode().splitlines():
            if ln.startswith(name + " "):
                return float(ln.split()[1])
    return 0.0


def busy_until(d, timeout=30):
    """Until the daemon's worker is running a job (unpoold_busy_workers)."""
    end = time.time() + timeout
    while time.time() < end:
        alive(d, "waiting for a busy worker")
        if metric_value(d, "unpoold_busy_workers") >= 1:
            return
        time.sleep(0.005)
    raise AssertionError("no worker became busy")


SLOW_FLAGS = ["--queue", "1", "--max-work", "100000000000"]


def on_slow_daemon(name, fn, extra=()):
    """check(name, fn(d, c)) on a daemon of its own with one worker and a
    queue of one, so that a daemon that falls over fails this check only."""
    d = started(name, SLOW_FLAGS + list(extra), workers=1)
    if d is None:
        return
    c = client(d)
    try:
        check(name, lambda: fn(d, c))
    finally:
        c.close()
        if d.proc.poll() is None:
            stop(d)
        elif d.proc.poll() != 0:
            print("    daemon exit status %s; log tail:\n    %s" % (
                d.proc.poll(), "\n    ".join(harness.log_tail(d.log, 1500).splitlines()[-6:])))


def alive(d, when):
    _assert(d.proc.poll() is None, "%s: the daemon died (exit status %s)" % (when, d.proc.poll()))


def queue_full(d, c):
    out, threads = {}, []
    for k in range(6):
        t = threading.Thread(target=slow_call, args=(c, out, k))
        t.start()
        threads.append(t)
        time.sleep(0.02)
    for t in threads:
        t.join(120)
    codes = sorted(out.values())
    _assert(set(codes) <= {"OK", "UNAVAILABLE"}, codes)
    _assert("UNAVAILABLE" in codes and "OK" in codes, codes)


def client_deadline(d, c):
    """b, queued behind a, gives up before a worker is free: five rounds
    (the client's close races the worker), the daemon alive after each,
    and only the five a's computed."""
    before = metric_sum(d, "unpoold_requests_total", op="conv_transpose", status="200",
                        protocol="grpc")
    for k in range(5):
        out = {}
        a = threading.Thread(target=slow_call, args=(c, out, "a"))
        a.start()
        busy_until(d)
        slow_call(c, out, "b", client_timeout=0.05)
        a.join(120)
        alive(d, "round %d" % k)
        _assert(out == {"a": "OK", "b": "DEADLINE_EXCEEDED"}, "round %d: %s" % (k, out))
    time.sleep(1.0)  # a b, if it ran at all, has had time to finish
    alive(d, "after the rounds")
    after = metric_sum(d, "unpoold_requests_total", op="conv_transpose", status="200",
                       protocol="grpc")
    _assert(after - before == 5, "%d calls computed, expected 5: an expired call ran"
            % (after - before))


def client_cancel(d, c):
    """b, queued behind a, cancelled by its client (CallContext.cancel):
    five rounds, the daemon alive after each."""
    for k in range(5):
        out, done = {}, threading.Event()
        a = threading.Thread(target=slow_call, args=(c, out, "a"))
        a.start()
        busy_until(d)
        ins = [grpcclient.InferInput("x", list(SLOW_X.shape), "FP32"),
               grpcclient.InferInput("weight", list(SLOW_W.shape), "FP32")]
        ins[0].set_data_from_numpy(SLOW_X)
        ins[1].set_data_from_numpy(SLOW_W)
        ctx = c.async_infer("conv_transpose", ins, lambda r, e: done.set())
        time.sleep(0.05)
        ctx.cancel()
        a.join(120)
        done.wait(2)  # tritonclient does not always call back for a cancelled call
        time.sleep(0.2)
        alive(d, "round %d" % k)
        _assert(out == {"a": "OK"}, "round %d: %s" % (k, out))


def drain(d, c):
    out = {}
    a = threading.Thread(target=slow_call, args=(c, out, "a"))
    a.start()
    busy_until(d)
    d.proc.terminate()
    time.sleep(0.1)
    # while a is still running: a new call is turned away, on the same
    # channel and on a new one
    late = {}
    slow_call(c, late, "same_channel", client_timeout=10)
    c2 = client(d)
    try:
        slow_call(c2, late, "new_channel", client_timeout=10)
    finally:
        c2.close()
    a.join(120)
    rc = d.proc.wait(timeout=60)
    _assert(out.get("a") == "OK", "call in flight at SIGTERM: %s" % out.get("a"))
    _assert(late == {"same_channel": "UNAVAILABLE", "new_channel": "UNAVAILABLE"},
            "calls after SIGTERM: %s" % late)
    _assert(rc == 0, "exit status %s" % rc)


def daemon_deadline(d, c):
    """--timeout-ms applies to calls that bring no deadline of their own:
    a sets 60 s (so its upload time does not count against the daemon's
    100 ms), b none and waits out a's 0.4 s."""
    out = {}
    a = threading.Thread(target=slow_call, args=(c, out, "a"), kwargs={"client_timeout": 60})
    a.start()
    busy_until(d)
    slow_call(c, out, "b")  # no client deadline: the daemon's 504
    a.join(120)
    _assert(out == {"a": "OK", "b": "DEADLINE_EXCEEDED"}, out)


def run_overload():
    on_slow_daemon("overload_queue_full_unavailable", queue_full)
    on_slow_daemon("client_deadline_exceeded_and_not_run", client_deadline)
    on_slow_daemon("client_cancel_while_queued_daemon_survives", client_cancel)
    on_slow_daemon("sigterm_drains_grpc_call_in_flight", drain)
    on_slow_daemon("daemon_timeout_ms_deadline_exceeded", daemon_deadline, ["--timeout-ms", "100"])


# ---- API keys -> UNAUTHENTICATED ------------------------------------------------

def run_api_keys(tmp):
    keyfile = os.path.join(tmp, "keys")
    with open(keyfile, "w") as f:
        f.write("# test keys\nkey-one\nkey-two\n")
    d = started("api_keys", ["--api-key-file", keyfile])
    if d is None:
        return
    c = client(d)
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    want = F.interpolate(torch.from_numpy(x), scale_factor=2)

    def call(headers):
        return grpc_infer(c, "nearest_unpool", {"x": x}, {"scale_factor": 2}, headers=headers)
    try:
        check("api_key_missing_unauthenticated",
              lambda: expect_code(lambda: call(None), "UNAUTHENTICATED"))
        check("api_key_wrong_unauthenticated",
              lambda: expect_code(lambda: call({"authorization": "Bearer key-three"}),
                                  "UNAUTHENTICATED"))
        check("api_key_not_bearer_unauthenticated",
              lambda: expect_code(lambda: call({"authorization": "key-one"}), "UNAUTHENTICATED"))
        check("api_key_metadata_unauthenticated",
              lambda: expect_code(lambda: c.get_model_metadata("max_pool"), "UNAUTHENTICATED"))
        check("api_key_right_passes", lambda: assert_close(
            call({"authorization": "Bearer key-one"}).as_numpy("y"), want, "y", exact=True))
        check("api_key_second_key_passes", lambda: assert_close(
            call({"authorization": "Bearer key-two"}).as_numpy("y"), want, "y", exact=True))
        check("api_key_health_stays_open", lambda: _assert(
            c.is_server_live() is True and c.is_server_ready() is True))
    finally:
        c.close()
        stop(d)


def run_open_health_off(tmp):
    keyfile = os.path.join(tmp, "keys2")
    with open(keyfile, "w") as f:
        f.write("key-one\n")
    d = started("open_health_0", ["--api-key-file", keyfile, "--open-health", "0"])
    if d is None:
        return
    c = client(d)
    try:
        check("open_health_0_health_needs_key", lambda: expect_code(
            lambda: c.is_server_live(), "UNAUTHENTICATED"))
        check("open_health_0_health_with_key", lambda: _assert(
            c.is_server_live(headers={"authorization": "Bearer key-one"}) is True))
    finally:
        c.close()
        stop(d)


# ---- TLS --------------------------------------------------------------------------

def run_tls(tmp):
    if not shutil.which("openssl"):
        record("tls_openssl_available", False, "openssl is not installed: TLS not tested")
        return
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"], capture_output=True)
    if r.returncode != 0:
        record("tls_certificate_made", False, r.stderr.decode(errors="replace"))
        return
    with open(cert, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    d = started("tls", ["--tls-cert", cert, "--tls-key", key], creds=creds)
    if d is None:
        return
    try:
        def tls_nearest(shape, live=False):
            c = grpcclient.InferenceServerClient(url=d.gurl, ssl=True, root_certificates=cert)
            try:
                if live:
                    _assert(c.is_server_live() is True)
                x = np.random.default_rng(3).random(shape, dtype=np.float32)
                y = grpc_infer(c, "nearest_unpool", {"x": x}, {"scale_factor": 2}).as_numpy("y")
                assert_close(y, F.interpolate(torch.from_numpy(x), scale_factor=2), "y",
                             exact=True)
            finally:
                c.close()
        check("tls_grpc_infer", lambda: tls_nearest((1, 1, 4, 4), live=True))
        # 4 MiB: an answer this large goes out without a copy (DATA frames
        # that point into the result), through GnuTLS here
        check("tls_grpc_infer_large_answer", lambda: tls_nearest((1, 4, 128, 128)))

        def plaintext_refused():
            c = grpcclient.InferenceServerClient(url=d.gurl)
            try:
                expect_code(lambda: c.is_server_live(client_timeout=5), "UNAVAILABLE")
            finally:
                c.close()
        check("tls_plaintext_client_refused", plaintext_refused)

        def still_alive():
            c = grpcclient.InferenceServerClient(url=d.gurl, ssl=True, root_certificates=cert)
            try:
                _assert(c.is_server_ready() is True)
            finally:
                c.close()
        check("tls_still_serving_after_plaintext", still_alive)
    finally:
        stop(d)


# ---- shared memory ------------------------------------------------------------------

def run_shm():
    d = started("shm", ["--shm", "1"])
    if d is None:
        return
    c = client(d)
    pid = os.getpid()
    handles = []

    def region(name, nbytes):
        h = shm.create_shared_memory_region(name, "/unpoold_gtest_%d_%s" % (pid, name), nbytes)
        handles.append(h)
        c.register_system_shared_memory(name, "/unpoold_gtest_%d_%s" % (pid, name), nbytes)
        return h

    g = torch.Generator().manual_seed(4)
    src = torch.randn(2, 3, 8, 8, generator=g)
    pooled, idx = F.max_pool2d(src, 2, return_indices=True)
    want = F.max_unpool2d(pooled, idx, 2).numpy()
    try:
        def infer_in_regions():
            x, ind = pooled.numpy(), idx.numpy()
            rin = region("gin", 4096)
            rout = region("gout", want.nbytes)
            shm.set_shared_memory_region(rin, [x], offset=0)
            shm.set_shared_memory_region(rin, [ind], offset=1024)
            ix = grpcclient.InferInput("x", list(x.shape), "FP32")
            ix.set_shared_memory("gin", x.nbytes, offset=0)
            ii = grpcclient.InferInput("indices", list(ind.shape), "INT64")
            ii.set_shared_memory("gin", ind.nbytes, offset=1024)
            o = grpcclient.InferRequestedOutput("y")
            o.set_shared_memory("gout", want.nbytes)
            r = c.infer("max_unpool", [ix, ii], outputs=[o], parameters={"kernel_size": 2})
            resp = r.get_response()
            _assert(len(resp.raw_output_contents) == 0 or not resp.raw_output_contents[0],
                    "y sent on the wire as well")
            out = resp.outputs[0]
            _assert(out.parameters["shared_memory_region"].string_param == "gout", out)
            y = shm.get_contents_as_numpy(rout, np.float32, list(out.shape))
            _assert(y.tobytes() == want.tobytes(), "region does not hold PyTorch's answer")
        check("shm_infer_inputs_and_output_in_regions", infer_in_regions)

        def mixed_raw_and_region():
            x = pooled.numpy()
            ix = grpcclient.InferInput("x", list(x.shape), "FP32")
            ix.set_data_from_numpy(x)
            ii = grpcclient.InferInput("indices", list(idx.shape), "INT64")
            ii.set_shared_memory("gin", idx.numpy().nbytes, offset=1024)
            r = c.infer("max_unpool", [ix, ii], parameters={"kernel_size": 2})
            _assert(r.as_numpy("y").tobytes() == want.tobytes(), "y differs")
        check("shm_one_input_raw_one_in_region", mixed_raw_and_region)

        def status():
            st = c.get_system_shared_memory_status(as_json=True)
            regions = st.get("regions", {})
            _assert("gin" in regions and "gout" in regions, st)
            _assert(regions["gin"]["key"] == "/unpoold_gtest_%d_gin" % pid, regions["gin"])
            _assert(int(regions["gin"]["byte_size"]) == 4096, regions["gin"])
            one = c.get_system_shared_memory_status("gout", as_json=True).get("regions", {})
            _assert(list(one) == ["gout"], one)
        check("shm_status_all_and_one", status)

        def unregistered():
            i = grpcclient.InferInput("x", [1, 1, 2, 2], "FP32")
            i.set_shared_memory("never_registered", 16)
            expect_code(lambda: c.infer("nearest_unpool", [i], parameters={"scale_factor": 2}),
                        "INVALID_ARGUMENT", "not registered")
        check("shm_unregistered_region_invalid_argument", unregistered)

        def outside():
            i = grpcclient.InferInput("x", [1, 1, 32, 32], "FP32")
            i.set_shared_memory("gin", 4096, offset=64)
            expect_code(lambda: c.infer("nearest_unpool", [i], parameters={"scale_factor": 2}),
                        "INVALID_ARGUMENT", "outside region")
        check("shm_range_outside_region_invalid_argument", outside)

        def unregister():
            c.unregister_system_shared_memory("gout")
            names = set(c.get_system_shared_memory_status(as_json=True).get("regions", {}))
            _assert(names == {"gin"}, names)
            c.unregister_system_shared_memory()
            _assert(not c.get_system_shared_memory_status(as_json=True).get("regions"),
                    c.get_system_shared_memory_status(as_json=True))
        check("shm_unregister_one_then_all", unregister)
    finally:
        try:
            c.unregister_system_shared_memory()
        except Exception:
            pass
        for h in handles:
            shm.destroy_shared_memory_region(h)
        c.close()
        stop(d)

    d = started("shm_off", [])
    if d is None:
        return
    c = client(d)
    try:
        def off():
            h = shm.create_shared_memory_region("off", "/unpoold_gtest_%d_off" % pid, 64)
            try:
                c.register_system_shared_memory("off", "/unpoold_gtest_%d_off" % pid, 64)
            except InferenceServerException as e:
                _assert("--shm" in e.message(), e.message())
                return
            finally:
                shm.destroy_shared_memory_region(h)
            raise AssertionError("registered on a daemon without --shm")
        check("shm_off_register_refused", off)
    finally:
        c.close()
        stop(d)


# ---- UNPOOLD_GRPC_LISTEN --------------------------------------------------------------

def run_env():
    def env_var():
        port, gport = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNPOOLD_")}
        env["UNPOOLD_GRPC_LISTEN"] = "127.0.0.1:%d" % gport
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen([harness.daemon_binary(), "--listen", "127.0.0.1:%d" % port,
                                 "--workers", "1"], stdout=log, stderr=log, env=env)
        try:
            wait_grpc(gport, timeout=20)
            c = grpcclient.InferenceServerClient(url="127.0.0.1:%d" % gport)
            try:
                _assert(c.is_server_live() is True)
            finally:
                c.close()
        except grpc.FutureTimeoutError:
            raise AssertionError("no gRPC listener from UNPOOLD_GRPC_LISTEN: " +
                                 harness.log_tail(log))
        finally:
            harness.stop_daemon(proc)
    check("env_unpoold_grpc_listen", env_var)


def main():
    tmp = tempfile.mkdtemp(prefix="unpoold-grpc-")
    try:
        run_limits()
        run_overload()
        run_api_keys(tmp)
        run_open_health_off(tmp)
        run_tls(tmp)
        run_shm()
        run_env()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
