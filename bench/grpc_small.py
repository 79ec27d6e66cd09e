"""grpc_small.py -- the small max_unpool request as one pre-encoded gRPC
message, for h2load, and the checks h2load itself cannot make.

h2load (nghttp2-client) replays a file as the body of every request, so
the body is a whole gRPC message: the 5-byte prefix (flag 0, big-endian
length) and the ModelInferRequest bytes, here the request of
bench/small_request.json (max_unpool, x (1,1,4,4) float32 and its int64
indices, kernel_size 2) as raw_input_contents. h2load counts any HTTP 200
as a success, and a failed gRPC call is an HTTP 200 too (its status is in
the trailers), so:

  body OUT GPORT   writes the body to OUT, then sends the very same bytes
                   through a gRPC channel to 127.0.0.1:GPORT and checks the
                   answer against max_unpool2d (exit status 1 if wrong);
  count PORT       prints the daemon's gRPC answers so far (REST /metrics
                   on PORT) as "<ok> <not ok>": run.sh takes the difference
                   around each h2load round, so failed calls are counted.
                   499 (the client went away) is neither: h2load stops at
                   its deadline with up to 64 calls in flight, and cancels
                   them.
Needs grpcio and tritonclient[grpc] (the test venv).
"""
import struct
import sys
import urllib.request

import numpy as np


def request_bytes():
    import tritonclient.grpc.service_pb2 as pb
    req = pb.ModelInferRequest(model_name="max_unpool")
    req.parameters["kernel_size"].int64_param = 2
    req.inputs.add(name="x", datatype="FP32", shape=[1, 1, 4, 4])
    req.inputs.add(name="indices", datatype="INT64", shape=[1, 1, 4, 4])
    req.raw_input_contents.append(np.arange(16, dtype=np.float32).tobytes())
    req.raw_input_contents.append(np.array([0, 10, 4, 14, 17, 27, 21, 31, 32, 42, 36, 46, 49, 59,
                                            53, 63], np.int64).tobytes())
    return req.SerializeToString()


def body(out, gport):
    import grpc
    import tritonclient.grpc.service_pb2 as pb
    msg = request_bytes()
    with open(out, "wb") as f:
        f.write(b"\0" + struct.pack(">I", len(msg)) + msg)
    ident = lambda b: b  # noqa: E731  (the message goes out as written)
    with grpc.insecure_channel("127.0.0.1:%d" % gport) as ch:
        rpc = ch.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                             request_serializer=ident, response_deserializer=ident)
        resp = pb.ModelInferResponse.FromString(rpc(msg, timeout=30))
    y = np.frombuffer(resp.raw_output_contents[0], np.float32)
    want = np.zeros(64, np.float32)
    want[[0, 10, 4, 14, 17, 27, 21, 31, 32, 42, 36, 46, 49, 59, 53, 63]] = np.arange(16)
    if list(resp.outputs[0].shape) != [1, 1, 8, 8] or not np.array_equal(y, want):
        sys.exit("grpc_small: the pre-encoded request is answered wrong")


def count(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
        text = r.read().decode()
    ok = bad = 0
    for ln in text.splitlines():
        if ln.startswith("unpoold_requests_total{") and 'protocol="grpc"' in ln:
            n = int(float(ln.rsplit(" ", 1)[1]))
            if 'status="200"' in ln:
                ok += n
            elif 'status="499"' not in ln:
                bad += n
    print(ok, bad)


def main():
    if sys.argv[1] == "body":
        body(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "count":
        count(int(sys.argv[2]))
    else:
        sys.exit("usage: grpc_small.py body OUT GPORT | count PORT")


if __name__ == "__main__":
    main()
