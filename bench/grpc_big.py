"""grpc_big.py -- the 64 MiB max_unpool round trip over KServe v2 gRPC,
next to the same call over REST with binary tensor data, from one process.

The large-request tensors of http_big.py and shm_big.py: x float32
(16, 64, 128, 128) = 64 MiB and the int64 indices max_pool k=2 could have
produced (128 MiB) through max_unpool k=2 -> y (16, 64, 256, 256) =
256 MiB. Per repetition, alternating which goes first (ABBA):

  grpc  tritonclient.grpc: client.infer() with raw_input_contents, y read
        with as_numpy (over the answer's raw_output_contents);
  rest  tritonclient.http: client.infer() with binary tensor data both ways
        (the REST binary path, shm_big.py's "binary" row), y with as_numpy.

Both clock the whole call as an application sees it: inputs set from the
arrays, the request sent, the answer read, y as an array. Each side is
warmed once (first faults, the daemon's buffer cache); the answers of the
two sides must hold the same bytes. Prints, for report.py:

    http grpc_big max_unpool <grpc median ms> <rest median ms>
Usage: grpc_big.py PORT GPORT REPS   (tritonclient[grpc,http], numpy)
"""
import statistics
import sys
import time

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

SHAPE = (16, 64, 128, 128)
CHANNEL_ARGS = [("grpc.max_send_message_length", 2**31 - 1),
                ("grpc.max_receive_message_length", 2**31 - 1)]


def tensors():
    rng = np.random.default_rng(1)
    x = rng.random(SHAPE, dtype=np.float32)
    n, c, h, w = SHAPE
    oh = np.arange(h, dtype=np.int64)[:, None] * 2 + rng.integers(0, 2, (h, w))
    ow = np.arange(w, dtype=np.int64)[None, :] * 2 + rng.integers(0, 2, (h, w))
    ind = np.broadcast_to(oh * (2 * w) + ow, SHAPE).copy()
    return x, ind


def main():
    port, gport, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    x, ind = tensors()
    gc = grpcclient.InferenceServerClient(url="127.0.0.1:%d" % gport, channel_args=CHANNEL_ARGS)
    hc = httpclient.InferenceServerClient(url="127.0.0.1:%d" % port, network_timeout=600,
                                          connection_timeout=600)

    def grpc_call():
        ins = [grpcclient.InferInput("x", list(x.shape), "FP32"),
               grpcclient.InferInput("indices", list(ind.shape), "INT64")]
        ins[0].set_data_from_numpy(x)
        ins[1].set_data_from_numpy(ind)
        r = gc.infer("max_unpool", ins, parameters={"kernel_size": 2}, client_timeout=600)
        return r.as_numpy("y")

    def rest_call():
        ins = [httpclient.InferInput("x", list(x.shape), "FP32"),
               httpclient.InferInput("indices", list(ind.shape), "INT64")]
        ins[0].set_data_from_numpy(x, binary_data=True)
        ins[1].set_data_from_numpy(ind, binary_data=True)
        r = hc.infer("max_unpool", ins, parameters={"kernel_size": 2},
                     outputs=[httpclient.InferRequestedOutput("y", binary_data=True)])
        return r.as_numpy("y")

    yg, yr = grpc_call(), rest_call()
    if yg.shape != (16, 64, 256, 256) or yg.tobytes() != yr.tobytes():
        sys.exit("grpc_big: the gRPC and REST answers differ")
    yg = yr = None
    times = {"grpc": [], "rest": []}
    calls = {"grpc": grpc_call, "rest": rest_call}
    for i in range(reps):
        for side in (("grpc", "rest") if i % 2 == 0 else ("rest", "grpc")):
            t0 = time.perf_counter()
            y = calls[side]()
            times[side].append((time.perf_counter() - t0) * 1e3)
            assert y.shape == (16, 64, 256, 256)
            y = None
    gc.close()
    hc.close()
    print("http\tgrpc_big\tmax_unpool\t%.3f\t%.3f" % (statistics.median(times["grpc"]),
                                                     statistics.median(times["rest"])))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
