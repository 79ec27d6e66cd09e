"""shm_big.py -- large requests through Triton's system shared-memory
extension, end to end from tritonclient, next to the same requests with
binary HTTP data and to PyTorch in-process, all in this one process.

Cases (the large-request table's tensors):
  max_unpool   x float32 (16, 64, 128, 128) = 64 MiB and its int64 max_pool
               k=2 indices (128 MiB) -> y (16, 64, 256, 256) = 256 MiB
  nearest      x -> y x2 = 256 MiB
  conv_transpose x (8, 64, 64, 64), weight (64, 32, 4, 4), stride 2,
               padding 1 -> y (8, 32, 128, 128) = 16 MiB

Per case, medians over REPS:
  shm     client.infer() with every input in one registered region and y
          written by the kernel into another (the client's data lives in
          shared memory; the regions are created, filled and registered
          once, before the clock: a shared-memory client produces its
          tensors there). The answer is metadata only.
  read    shm plus reading y out of the region as a NumPy array
          (tritonclient.utils.shared_memory.get_contents_as_numpy).
  binary  client.infer() with the same tensors as binary tensor data
          (set_data_from_numpy(binary_data=True), y asked as binary), y
          read with as_numpy: everything crosses the loopback socket.
  torch   the op in PyTorch in this process, fresh output every call,
          torch.set_num_threads(W).
Prints, for report.py:
    http shm_e2e <case> <shm ms> <server ms> <read ms> <binary ms> <torch ms>
Usage: shm_big.py PORT REPS W   (tritonclient, torch, numpy needed)
"""
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as shm

NP_TO_KS = {np.dtype(np.float32): "FP32", np.dtype(np.int64): "INT64"}


def median_ms(fn, reps):
    fn()  # warm: first faults of the regions, the daemon's buffer cache
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def cases(rng):
    x = rng.random((16, 64, 128, 128), dtype=np.float32)
    n, c, h, w = x.shape
    oh = np.arange(h, dtype=np.int64)[:, None] * 2 + rng.integers(0, 2, (h, w))
    ow = np.arange(w, dtype=np.int64)[None, :] * 2 + rng.integers(0, 2, (h, w))
    ind = np.broadcast_to(oh * (2 * w) + ow, x.shape).copy()
    cx = rng.random((8, 64, 64, 64), dtype=np.float32)
    cw = rng.random((64, 32, 4, 4), dtype=np.float32) - 0.5
    yield ("max_unpool", "max_unpool", {"x": x, "indices": ind}, {"kernel_size": 2},
           (16, 64, 256, 256),
           lambda: F.max_unpool2d(torch.from_numpy(x), torch.from_numpy(ind), 2))
    yield ("nearest", "nearest_unpool", {"x": x}, {"scale_factor": 2}, (16, 64, 256, 256),
           lambda: F.interpolate(torch.from_numpy(x), scale_factor=2, mode="nearest"))
    yield ("conv_transpose", "conv_transpose", {"x": cx, "weight": cw},
           {"stride": 2, "padding": 1}, (8, 32, 128, 128),
           lambda: F.conv_transpose2d(torch.from_numpy(cx), torch.from_numpy(cw), stride=2,
                                      padding=1))


def one_case(client, tag, model, inputs, params, yshape, torch_fn, reps):
    pid = os.getpid()
    ybytes = int(np.prod(yshape)) * 4
    offs, total = {}, 0
    for name, a in inputs.items():
        offs[name] = total
        total += (a.nbytes + 4095) // 4096 * 4096
    rin = shm.create_shared_memory_region("bin_" + tag, "/unpoold_bench_%d_in_%s" % (pid, tag),
                                          total)
    rout = shm.create_shared_memory_region("bout_" + tag, "/unpoold_bench_%d_out_%s" % (pid, tag),
                                           ybytes)
    try:
        client.register_system_shared_memory("bin_" + tag, "/unpoold_bench_%d_in_%s" % (pid, tag),
                                             total)
        client.register_system_shared_memory("bout_" + tag,
                                             "/unpoold_bench_%d_out_%s" % (pid, tag), ybytes)
        ins = []
        for name, a in inputs.items():
            shm.set_shared_memory_region(rin, [a], offset=offs[name])
            i = httpclient.InferInput(name, list(a.shape), NP_TO_KS[a.dtype])
            i.set_shared_memory("bin_" + tag, a.nbytes, offset=offs[name])
            ins.append(i)
        out = httpclient.InferRequestedOutput("y")
        out.set_shared_memory("bout_" + tag, ybytes)
        server = []

        def call_shm():
            r = client.infer(model, ins, outputs=[out], parameters=params)
            server.append(r.get_response()["parameters"].get("compute_ms", 0.0))

        def call_read():
            call_shm()
            y = shm.get_contents_as_numpy(rout, np.float32, yshape)
            assert y.shape == tuple(yshape)

        shm_ms = median_ms(call_shm, reps)
        srv_ms = statistics.median(server)
        read_ms = median_ms(call_read, reps)
        want = torch_fn().numpy()
        got = shm.get_contents_as_numpy(rout, np.float32, yshape)
        if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            sys.exit("shm_big: %s: the region does not hold PyTorch's answer" % tag)
        got = want = None
    finally:
        client.unregister_system_shared_memory("bin_" + tag)
        client.unregister_system_shared_memory("bout_" + tag)
        shm.destroy_shared_memory_region(rin)
        shm.destroy_shared_memory_region(rout)

    def call_binary():
        bins = []
        for name, a in inputs.items():
            i = httpclient.InferInput(name, list(a.shape), NP_TO_KS[a.dtype])
            i.set_data_from_numpy(a, binary_data=True)
            bins.append(i)
        r = client.infer(model, bins, outputs=[httpclient.InferRequestedOutput("y", binary_data=True)],
                         parameters=params)
        assert r.as_numpy("y").shape == tuple(yshape)

    bin_ms = median_ms(call_binary, reps)
    torch_ms = median_ms(torch_fn, reps)
    print("http\tshm_e2e\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f" % (tag, shm_ms, srv_ms, read_ms,
                                                             bin_ms, torch_ms))
    sys.stdout.flush()


def main():
    port, reps, w = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(w)
    client = httpclient.InferenceServerClient(url="127.0.0.1:%d" % port, network_timeout=600,
                                              connection_timeout=600)
    rng = np.random.default_rng(1)
    for case in cases(rng):
        one_case(client, *case, reps)
    client.close()


if __name__ == "__main__":
    main()
