"""The system shared-memory extension, driven by tritonclient unchanged.

Starts the daemon with --shm 1 and uses tritonclient's own helpers
(tritonclient.utils.shared_memory: create_shared_memory_region,
set_shared_memory_region, get_contents_as_numpy) and its client calls
(register_system_shared_memory, set_shared_memory on InferInput and
InferRequestedOutput, get_system_shared_memory_status,
unregister_system_shared_memory) against every op: inputs read from one
region, outputs written into another, checked against PyTorch. Then the
conversions (float16 in a region), the status documents, and the refusals
a client can meet (a region not registered, out of range, an output over an
input). A daemon without --shm must refuse the routes.

Prints "ok   name" / "FAIL name" per check and ends with "N passed, N
failed". Run with the CI virtual environment's interpreter:

    UNPOOLD_BIN=build/unpoold <venv>/bin/python3 tests/py/test_shm_tritonclient.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, finish, record, start_daemon_or_finish  # noqa: E402

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import tritonclient.http as httpclient
    import tritonclient.utils.shared_memory as shm
    from tritonclient.utils import InferenceServerException, triton_to_np_dtype
    from test_tritonclient import NP_TO_KS, OPS, OUTPUTS, assert_close, torch_cases
except ImportError as e:
    record("import_tritonclient_numpy_torch", False, e)
    finish()

PID = os.getpid()


def _assert(cond, what=""):
    if not cond:
        raise AssertionError(str(what)[:400])


def key(tag):
    return "/unpoold_test_%d_%s" % (PID, tag)


class Regions:
    """Client regions created with tritonclient's helpers, destroyed at the end."""

    def __init__(self, client):
        self.client, self.handles, self.by_name = client, [], {}

    def make(self, name, nbytes, register=True):
        """A new region, or the one of that name made (and registered) before."""
        if name in self.by_name:
            return self.by_name[name]
        h = shm.create_shared_memory_region(name, key(name), nbytes)
        self.handles.append(h)
        self.by_name[name] = h
        if register:
            self.client.register_system_shared_memory(name, key(name), nbytes)
        return h

    def close(self):
        try:
            self.client.unregister_system_shared_memory()
        except Exception:
            pass
        for h in self.handles:
            shm.destroy_shared_memory_region(h)
        self.handles, self.by_name = [], {}


def infer_shm(client, regions, op, inputs, params, want, tag):
    """Every input in one region (packed, 64-byte aligned), every output of
    `want` in another; returns {output: array read from the region}."""
    offs, total = {}, 0
    for name, a in inputs.items():
        offs[name] = total
        total += (a.nbytes + 63) // 64 * 64
    rin = regions.make("in_" + tag, max(total, 64))
    ins = []
    for name, a in inputs.items():
        shm.set_shared_memory_region(rin, [np.ascontiguousarray(a)], offset=offs[name])
        i = httpclient.InferInput(name, list(a.shape), NP_TO_KS[a.dtype])
        i.set_shared_memory("in_" + tag, a.nbytes, offset=offs[name])
        ins.append(i)
    oofs, ototal, outs = {}, 0, []
    for name, w in want.items():
        oofs[name] = ototal
        ototal += (w.element_size() * w.numel() + 63) // 64 * 64
    rout = regions.make("out_" + tag, max(ototal, 64))
    for name, w in want.items():
        o = httpclient.InferRequestedOutput(name, binary_data=True)
        o.set_shared_memory("out_" + tag, w.element_size() * w.numel(), offset=oofs[name])
        outs.append(o)
    r = client.infer(op, ins, outputs=outs, parameters=params)
    got = {}
    for name, w in want.items():
        meta = r.get_output(name)
        _assert(meta["parameters"]["shared_memory_region"] == "out_" + tag, meta)
        _assert("data" not in meta and "binary_data_size" not in meta["parameters"], meta)
        got[name] = shm.get_contents_as_numpy(rout, triton_to_np_dtype(meta["datatype"]),
                                              meta["shape"],
                                              offset=oofs[name])
    return got


def expect_error(fn, *fragments):
    try:
        fn()
    except InferenceServerException as e:
        for f in fragments:
            _assert(f in str(e), "error %r lacks %r" % (str(e), f))
        return
    raise AssertionError("no error")


def run(client, regions):
    def extension_listed():
        _assert("system_shared_memory" in client.get_server_metadata()["extensions"])
    check("server_metadata_lists_system_shared_memory", extension_listed)

    cases = torch_cases()
    for op in OPS:
        inputs, params, want = cases[op]

        def one(op=op, inputs=inputs, params=params, want=want):
            got = infer_shm(client, regions, op, inputs, params, want, op)
            for name, w in want.items():
                exact = name == "indices" or op in ("max_unpool", "max_pool")
                assert_close(got[name], w, name, exact=exact)
        check("infer_shm_" + op, one)

    def float16_converted_from_and_into_regions():
        x, idx = cases["max_unpool"][0]["x"].astype(np.float16), cases["max_unpool"][0]["indices"]
        want = F.max_unpool2d(torch.from_numpy(x).float(), torch.from_numpy(idx), 2).half()
        got = infer_shm(client, regions, "max_unpool", {"x": x, "indices": idx},
                        {"kernel_size": 2}, {"y": want}, "f16")
        _assert(got["y"].dtype == np.float16, got["y"].dtype)
        assert_close(got["y"], want, "y", exact=True)
    check("infer_shm_float16_converted", float16_converted_from_and_into_regions)

    def region_reused_across_requests():
        inputs, params, want = cases["nearest_unpool"]
        # the same registered regions, written again by the client
        for k in range(3):
            x = inputs["x"] * (k + 1)
            got = infer_shm(client, regions, "nearest_unpool", {"x": x}, params,
                            {"y": want["y"] * (k + 1)}, "reuse")
            assert_close(got["y"], want["y"] * (k + 1), "y")
    check("infer_shm_regions_reused", region_reused_across_requests)

    def status_documents():
        all_ = client.get_system_shared_memory_status()
        names = {r["name"] for r in all_}
        _assert("in_max_unpool" in names and "out_max_unpool" in names, all_)
        one = client.get_system_shared_memory_status("in_max_unpool")
        _assert(len(one) == 1 and one[0]["key"] == key("in_max_unpool") and
                one[0]["offset"] == 0 and one[0]["byte_size"] > 0, one)
    check("status_all_and_one", status_documents)

    def unregistered_region_refused():
        i = httpclient.InferInput("x", [1, 1, 2, 2], "FP32")
        i.set_shared_memory("never_registered", 16)
        expect_error(lambda: client.infer("nearest_unpool", [i], parameters={"scale_factor": 2}),
                     "not registered")
    check("unregistered_region_refused", unregistered_region_refused)

    def range_outside_region_refused():
        regions.make("small", 64)
        i = httpclient.InferInput("x", [1, 1, 4, 4], "FP32")
        i.set_shared_memory("small", 64, offset=32)
        expect_error(lambda: client.infer("nearest_unpool", [i], parameters={"scale_factor": 2}),
                     "outside region")
    check("range_outside_region_refused", range_outside_region_refused)

    def byte_size_must_match_shape():
        regions.make("sized", 256)
        i = httpclient.InferInput("x", [1, 1, 4, 4], "FP32")
        i.set_shared_memory("sized", 60)
        expect_error(lambda: client.infer("nearest_unpool", [i], parameters={"scale_factor": 2}),
                     "need 64")
    check("byte_size_must_match_shape", byte_size_must_match_shape)

    def output_overlapping_input_refused():
        regions.make("both", 4096)
        i = httpclient.InferInput("x", [1, 1, 4, 4], "FP32")
        i.set_shared_memory("both", 64)
        o = httpclient.InferRequestedOutput("y")
        o.set_shared_memory("both", 256, offset=32)
        expect_error(lambda: client.infer("nearest_unpool", [i], outputs=[o],
                                          parameters={"scale_factor": 2}), "overlaps input x")
    check("output_overlapping_input_refused", output_overlapping_input_refused)

    def register_twice_refused():
        regions.make("twice", 64)
        expect_error(lambda: client.register_system_shared_memory("twice", key("twice"), 64),
                     "registered already")
    check("register_twice_refused", register_twice_refused)

    def pinned_only_while_in_use():
        # every request above has been answered: nothing holds a region,
        # so each one can be unregistered (a pinned one would be refused)
        client.unregister_system_shared_memory("in_reuse")
        client.unregister_system_shared_memory("out_reuse")
        regions.by_name.pop("in_reuse")
        regions.by_name.pop("out_reuse")
    check("regions_released_after_answers", pinned_only_while_in_use)

    def unregister_one_then_all():
        regions.make("gone", 64)
        client.unregister_system_shared_memory("gone")
        names = {r["name"] for r in client.get_system_shared_memory_status()}
        _assert("gone" not in names and "twice" in names, names)
        client.unregister_system_shared_memory()
        _assert(client.get_system_shared_memory_status() == [],
                client.get_system_shared_memory_status())
    check("unregister_one_then_all", unregister_one_then_all)


def shm_off():
    proc, port, log = start_daemon_or_finish(probe="/v2/health/live")
    try:
        client = httpclient.InferenceServerClient(url="127.0.0.1:%d" % port)

        def refused():
            h = shm.create_shared_memory_region("off", key("off"), 64)
            try:
                expect_error(lambda: client.register_system_shared_memory("off", key("off"), 64),
                             "--shm")
            finally:
                shm.destroy_shared_memory_region(h)
        check("shm_off_by_default_refuses_register", refused)
        client.close()
    finally:
        harness.stop_daemon(proc)


def main():
    proc, port, log = start_daemon_or_finish(["--shm", "1"], probe="/v2/health/live")
    client = httpclient.InferenceServerClient(url="127.0.0.1:%d" % port, network_timeout=60)
    regions = Regions(client)
    try:
        run(client, regions)
    finally:
        regions.close()
        client.close()
        harness.stop_and_check(proc, log)
    shm_off()
    finish()


if __name__ == "__main__":
    main()
