"""bodies.py -- the pre-encoded gRPC messages the transport probe moves.

Protobuf is not what the probe measures, so every message is encoded once
here, with the KServe v2 classes tritonclient ships (its service_pb2), and
the servers and h2load only move bytes:

  small_req.grpc   the small max_unpool call of bench/small_request.json
                   (x float32 (1,1,4,4), int64 indices, kernel_size 2) as a
                   ModelInferRequest with raw_input_contents, behind gRPC's
                   5-byte message prefix: the body h2load posts;
  small_resp.pb    its answer, y float32 (1,1,8,8), as a bare
                   ModelInferResponse: the fixed answer both servers send;
  big_req.grpc     a 64 MiB x float32 (16,64,128,128) as raw_input_contents,
                   prefixed: the body of the large round trip, which both
                   servers echo.

Usage: bodies.py OUTDIR
"""
import os
import struct
import sys

import numpy as np
import tritonclient.grpc.service_pb2 as pb


def tensor(msg, name, dtype, shape):
    t = msg.add()
    t.name, t.datatype = name, dtype
    t.shape.extend(shape)


def small_request():
    req = pb.ModelInferRequest(model_name="max_unpool", id="1")
    req.parameters["kernel_size"].int64_param = 2
    tensor(req.inputs, "x", "FP32", (1, 1, 4, 4))
    tensor(req.inputs, "indices", "INT64", (1, 1, 4, 4))
    idx = [0, 10, 4, 14, 17, 27, 21, 31, 32, 42, 36, 46, 49, 59, 53, 63]
    req.raw_input_contents.append(np.arange(16, dtype=np.float32).tobytes())
    req.raw_input_contents.append(np.array(idx, dtype=np.int64).tobytes())
    return req.SerializeToString()


def small_response():
    y = np.zeros(64, dtype=np.float32)
    idx = [0, 10, 4, 14, 17, 27, 21, 31, 32, 42, 36, 46, 49, 59, 53, 63]
    y[idx] = np.arange(16, dtype=np.float32)
    resp = pb.ModelInferResponse(model_name="max_unpool", id="1")
    tensor(resp.outputs, "y", "FP32", (1, 1, 8, 8))
    resp.raw_output_contents.append(y.tobytes())
    return resp.SerializeToString()


def big_request():
    req = pb.ModelInferRequest(model_name="max_unpool", id="2")
    tensor(req.inputs, "x", "FP32", (16, 64, 128, 128))
    x = np.arange(16 * 64 * 128 * 128, dtype=np.float32)
    req.raw_input_contents.append(x.tobytes())
    return req.SerializeToString()


def framed(msg):
    # gRPC's length-prefixed message: flag 0 (not compressed), big-endian length
    return struct.pack(">BI", 0, len(msg)) + msg


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    files = {"small_req.grpc": framed(small_request()),
             "small_resp.pb": small_response(),
             "big_req.grpc": framed(big_request())}
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
