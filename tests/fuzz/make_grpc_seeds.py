"""Write fuzz_grpc's seed corpus (tests/fuzz/corpus/grpc/): the golden
cases as ModelInferRequest messages, raw_input_contents and typed
contents, plus the small messages. Byte 0 picks the decoder (see
tests/fuzz/fuzz_grpc.c). Needs tritonclient[grpc] for the message classes:
run from the repository root with the test venv's python:
.venv/bin/python3 tests/fuzz/make_grpc_seeds.py
"""
import base64
import glob
import json
import os

import numpy as np
from tritonclient.grpc import service_pb2 as pb

OUT = os.path.join("tests", "fuzz", "corpus", "grpc")
KSERVE = {"float32": "FP32", "float64": "FP64", "float16": "FP16", "bfloat16": "BF16",
          "int64": "INT64", "int32": "INT32", "uint8": "UINT8", "bool": "BOOL",
          "int8": "INT8", "int16": "INT16"}
NP = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32,
      "uint8": np.uint8, "bool": np.bool_, "int8": np.int8, "int16": np.int16}


def put(name, data):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def param(v):
    p = pb.InferParameter()
    if isinstance(v, bool):
        p.bool_param = v
    elif isinstance(v, int):
        p.int64_param = v
    elif isinstance(v, float):
        p.double_param = v
    elif isinstance(v, list):
        p.string_param = ",".join(map(str, v))
    else:
        p.string_param = str(v)
    return p


def typed(t, raw, inp):
    dt = t["dtype"]
    if dt not in NP:
        return False
    vals = np.frombuffer(raw, NP[dt])
    c = inp.contents
    if dt == "float32":
        c.fp32_contents.extend(vals.tolist())
    elif dt == "float64":
        c.fp64_contents.extend(vals.tolist())
    elif dt == "int64":
        c.int64_contents.extend(vals.tolist())
    elif dt == "uint8":
        c.uint_contents.extend(vals.tolist())
    elif dt == "bool":
        c.bool_contents.extend(vals.tolist())
    else:
        c.int_contents.extend(vals.tolist())
    return True


def main():
    per_op = {}
    for path in sorted(glob.glob("tests/golden/cases/*.json")):
        with open(path) as f:
            cases = json.load(f)["cases"]
        for c in cases:
            rq = c["request"]
            if per_op.get(c["op"], 0) >= 5 or len(json.dumps(rq)) > 4000:
                continue
            per_op[c["op"]] = per_op.get(c["op"], 0) + 1
            for form in ("raw", "typed"):
                m = pb.ModelInferRequest(model_name=c["op"], id=c["name"][:32])
                for k, v in rq.get("params", {}).items():
                    m.parameters[k].CopyFrom(param(v))
                ok = True
                for name, t in rq["inputs"].items():
                    raw = base64.b64decode(t["data_b64"])
                    inp = m.inputs.add(name=name, datatype=KSERVE[t["dtype"]], shape=t["shape"])
                    if form == "raw":
                        m.raw_input_contents.append(raw)
                    else:
                        ok = ok and typed(t, raw, inp)
                if ok:
                    put(f"{c['name']}_{form}", b"\x04" + m.SerializeToString())
    put("model_ready", b"\x00" + pb.ModelReadyRequest(name="max_pool", version="1")
        .SerializeToString())
    put("shm_status", b"\x01" + pb.SystemSharedMemoryStatusRequest(name="r0").SerializeToString())
    put("shm_unregister", b"\x02" + pb.SystemSharedMemoryUnregisterRequest(name="")
        .SerializeToString())
    put("shm_register", b"\x03" + pb.SystemSharedMemoryRegisterRequest(
        name="r0", key="/k", offset=0, byte_size=64).SerializeToString())


if __name__ == "__main__":
    main()
