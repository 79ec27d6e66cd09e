"""big_call.py -- gRPC's own Python client (grpcio) against a probe server.

First a check that the probe speaks gRPC to a real gRPC client: the small
ModelInfer request gets the fixed answer, which parses as a
ModelInferResponse, and an unknown method gets UNIMPLEMENTED. Then the
64 MiB message of big_req.grpc is sent REPS times on one channel; each
call's wall time, from the call to the last byte of the echoed answer, is
printed, and the first answer is compared with the request byte for byte.
Messages go through as bytes (identity serializers), so protobuf is not
timed. Prints:

    big_grpcio <median ms> <MB/s of request + answer bytes> <each ms...>

Usage: big_call.py PORT BODIES_DIR REPS
"""
import os
import statistics
import sys
import time

import grpc
import tritonclient.grpc.service_pb2 as pb

METHOD = "/inference.GRPCInferenceService/ModelInfer"


def unframe(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == len(data) - 5
    return data[5:]


def main():
    port, bodies, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    opts = [("grpc.max_send_message_length", 256 << 20),
            ("grpc.max_receive_message_length", 256 << 20)]
    ch = grpc.insecure_channel("127.0.0.1:" + port, options=opts)
    call = ch.unary_unary(METHOD)  # no serializers: bytes in, bytes out

    small = call(unframe(os.path.join(bodies, "small_req.grpc")), timeout=10)
    resp = pb.ModelInferResponse.FromString(small)
    assert resp.model_name == "max_unpool" and list(resp.outputs[0].shape) == [1, 1, 8, 8]
    try:
        ch.unary_unary("/inference.GRPCInferenceService/Nope")(b"", timeout=10)
        raise AssertionError("unknown method answered")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNIMPLEMENTED, e.code()

    big = unframe(os.path.join(bodies, "big_req.grpc"))
    times = []
    for r in range(reps):
        t0 = time.perf_counter()
        out = call(big, timeout=120)
        times.append((time.perf_counter() - t0) * 1e3)
        if r == 0:
            assert out == big, "echo differs"
        del out
    med = statistics.median(times)
    mbs = 2 * len(big) / 1e6 / (med / 1e3)
    print("big_grpcio %.1f %.0f %s" % (med, mbs, " ".join("%.1f" % t for t in times)))


if __name__ == "__main__":
    main()
