"""Hypothesis strategies for the request bodies JSON Schema cannot describe,
loaded by tests/py/test_schemathesis.py (SCHEMATHESIS_HOOKS).

openapi.yaml gives .npy, safetensors and the KServe binary extension as
plain binary strings; random bytes in those media types would only ever
test the framing checks. These strategies draw well-framed bodies instead
(small random tensors of a random dtype and rank 3-5), so the fuzzing
reaches the op behind the framing; the framing's own faults are the unit
tests' and the fuzzers' (tests/unit/test_npy.c, tests/fuzz/)."""
import json
import struct

import numpy as np
import schemathesis
from hypothesis import strategies as st

DTYPES = ["<f4", "<f8", "<f2", "<i8", "<i4", "|u1"]


@st.composite
def arrays(draw):
    rank = draw(st.integers(3, 5))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=rank, max_size=rank)))
    dt = np.dtype(draw(st.sampled_from(DTYPES)))
    n = int(np.prod(shape))
    raw = draw(st.binary(min_size=n * dt.itemsize, max_size=n * dt.itemsize))
    return np.frombuffer(raw, dtype=dt).reshape(shape)


def npy_bytes(a):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (a.dtype.str, a.shape)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + a.tobytes()


@st.composite
def npy_bodies(draw):
    arrs = draw(st.lists(arrays(), min_size=1, max_size=3))
    return b"".join(npy_bytes(a) for a in arrs)


ST_DTYPE = {"<f4": "F32", "<f8": "F64", "<f2": "F16", "<i8": "I64", "<i4": "I32", "|u1": "U8"}


@st.composite
def safetensors_bodies(draw):
    names = draw(st.lists(st.sampled_from(["x", "indices", "mask", "weight", "bias",
                                           "samples"]), min_size=1, max_size=3, unique=True))
    header, blobs, off = {}, [], 0
    for name in names:
        a = draw(arrays())
        b = a.tobytes()
        header[name] = {"dtype": ST_DTYPE[a.dtype.str], "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if draw(st.booleans()):
        header["__metadata__"] = {"kernel_size": str(draw(st.integers(1, 3)))}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


KS_DTYPE = {"<f4": "FP32", "<f8": "FP64", "<f2": "FP16", "<i8": "INT64", "<i4": "INT32",
            "|u1": "UINT8"}


@st.composite
def kserve_binary_bodies(draw):
    """A KServe request sent as application/octet-stream. A body strategy
    cannot set the Inference-Header-Content-Length header, so the body is
    the JSON request alone, data inline (NaN and infinities as the bare
    words Python's json writes), which the daemon reads as JSON."""
    names = draw(st.lists(st.sampled_from(["x", "indices", "mask", "weight", "bias",
                                           "samples"]), min_size=1, max_size=3, unique=True))
    inputs = []
    for name in names:
        a = draw(arrays())
        inputs.append({"name": name, "shape": list(a.shape), "datatype": KS_DTYPE[a.dtype.str],
                       "data": a.astype(np.float64).ravel().tolist()})
    body = {"inputs": inputs, "parameters": {"kernel_size": draw(st.integers(1, 3))}}
    return json.dumps(body).encode()


schemathesis.openapi.media_type("application/x-npy", npy_bodies())
schemathesis.openapi.media_type("application/x-safetensors", safetensors_bodies())
schemathesis.openapi.media_type("application/octet-stream", kserve_binary_bodies())
