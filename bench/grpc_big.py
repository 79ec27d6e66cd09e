"""grpc_big.py -- the 64 MiB max_unpool round trip over KServe v2 gRPC,
next to the same call over REST with binary tensor data, from one process.

The large-request tensors of http_big.py and shm_big.py: x float32
(16, 64, 128, 128) = 64 MiB and the int64 indices max_pool k=2 could have
produced (128 MiB) through max_unpool k=2 -> y (16, 64, 256, 256) =
256 MiB. Per repetition, alternating which goes first (ABBA):

  grpc  tritonclient.grpc: client.infer() with raw_input_contents, y read
        with as_numpy (over the answer's raw_output_contents);
  rest  tritonclient.http: client.infer() with binary tensor data both ways
        (the REST binary path, shm_big.py's "binary" row), y with as_numpy;
  wire  the same ModelInferRequest serialized once before the clock and
        sent through a bare gRPC channel with identity (de)serializers:
        the transport and the daemon alone, without the client's protobuf
        work (building the request copies x and the indices, serializing
        copies them again, parsing the answer copies y);
  rest_wire  the same for REST: the KServe binary body built once before
        the clock, sent with http.client, the answer read as bytes (what
        wire is to grpc, this is to rest).

grpc and rest clock the whole call as an application sees it: inputs set
from the arrays, the request sent, the answer read, y as an array. Each
side is warmed once (first faults, the daemon's buffer cache); the answers
of grpc and rest must hold the same bytes. Rotating order per repetition.
Prints, for report.py:

    http grpc_big max_unpool <grpc ms> <rest ms> <wire ms> <rest_wire ms>   (medians)

and, given the daemon's PID, the daemon's CPU time (user + system, from
/proc) per call of each side, which says how much of a round trip is the
daemon's doing and how much the client's:

    http grpc_big_cpu max_unpool <grpc ms> <rest ms> <wire ms> <rest_wire ms>
Usage: grpc_big.py PORT GPORT REPS [PID]   (tritonclient[grpc,http], numpy)
"""
import http.client
import json
import os
import statistics
import sys
import time

import grpc
import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.grpc.service_pb2 as pb
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


def cpu_ms(pid):
    """The process's user + system CPU time so far, in ms (0 without a pid)."""
    if not pid:
        return 0.0
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e3 / os.sysconf("SC_CLK_TCK")


def main():
    port, gport, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    pid = int(sys.argv[4]) if len(sys.argv) > 4 else 0
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

    req = pb.ModelInferRequest(model_name="max_unpool")
    req.parameters["kernel_size"].int64_param = 2
    req.inputs.add(name="x", datatype="FP32", shape=list(x.shape))
    req.inputs.add(name="indices", datatype="INT64", shape=list(ind.shape))
    req.raw_input_contents.extend([x.tobytes(), ind.tobytes()])
    wire_body = req.SerializeToString()
    req = None
    ch = grpc.insecure_channel("127.0.0.1:%d" % gport, options=CHANNEL_ARGS)
    ident = lambda b: b  # noqa: E731
    rpc = ch.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                         request_serializer=ident, response_deserializer=ident)

    def wire_call():
        out = rpc(wire_body, timeout=600)
        assert len(out) > 256 << 20
        return out

    head = json.dumps({
        "inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes}},
                   {"name": "indices", "shape": list(ind.shape), "datatype": "INT64",
                    "parameters": {"binary_data_size": ind.nbytes}}],
        "outputs": [{"name": "y", "parameters": {"binary_data": True}}],
        "parameters": {"kernel_size": 2}}).encode()
    rest_body = head + x.tobytes() + ind.tobytes()
    rest_headers = {"Content-Type": "application/octet-stream",
                    "Inference-Header-Content-Length": str(len(head))}
    hconn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def rest_wire_call():
        hconn.request("POST", "/v2/models/max_unpool/infer", body=rest_body, headers=rest_headers)
        r = hconn.getresponse()
        out = r.read()
        assert r.status == 200 and len(out) > 256 << 20, (r.status, out[:300])
        return out

    yg, yr = grpc_call(), rest_call()
    if yg.shape != (16, 64, 256, 256) or yg.tobytes() != yr.tobytes():
        sys.exit("grpc_big: the gRPC and REST answers differ")
    yg = yr = None
    wire_call()
    rest_wire_call()
    times = {"grpc": [], "rest": [], "wire": [], "rest_wire": []}
    cpu = {k: [] for k in times}
    calls = {"grpc": grpc_call, "rest": rest_call, "wire": wire_call, "rest_wire": rest_wire_call}
    sides = ["grpc", "rest", "wire", "rest_wire"]
    for i in range(reps):
        for side in sides[i % 4:] + sides[:i % 4]:
            c0, t0 = cpu_ms(pid), time.perf_counter()
            calls[side]()  # the answer is dropped as soon as it is timed
            times[side].append((time.perf_counter() - t0) * 1e3)
            cpu[side].append(cpu_ms(pid) - c0)
    gc.close()
    hc.close()
    ch.close()
    hconn.close()
    print("http\tgrpc_big\tmax_unpool\t%.3f\t%.3f\t%.3f\t%.3f" % tuple(
        statistics.median(times[k]) for k in sides))
    if pid:
        print("http\tgrpc_big_cpu\tmax_unpool\t%.1f\t%.1f\t%.1f\t%.1f" % tuple(
            statistics.median(cpu[k]) for k in sides))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
