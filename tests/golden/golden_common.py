"""Shared writer for the golden fixtures.

Each gen_<family>.py builds cases with PyTorch (or a NumPy reference where
PyTorch has no equivalent) and calls write_cases(); the result is
tests/golden/cases/<family>.json, committed so CI needs no torch to check the
kernels. A case holds the request exactly as a client sends it to
POST /v1/ops/{op} (tensors as dtype/shape/data_b64, little-endian), and the
outputs PyTorch produced, so the same fixture drives the kernel tests and the
HTTP integration tests.

Run with Debian's interpreter: /usr/bin/python3 tests/golden/gen_<family>.py
"""
import base64
import json
import os

import numpy as np

try:
    import torch
except ImportError:  # the generators need torch; the fixtures do not
    torch = None

HERE = os.path.dirname(os.path.abspath(__file__))

_NP_DTYPES = {
    "float32": np.float32, "float64": np.float64, "float16": np.float16,
    "int64": np.int64, "int32": np.int32, "int16": np.int16, "int8": np.int8,
    "uint8": np.uint8, "bool": np.bool_,
}


def tensor(value, dtype=None):
    """A torch tensor or numpy array -> {"dtype", "shape", "data_b64"}.

    bfloat16 torch tensors are written as their raw 16-bit patterns."""
    if torch is not None and isinstance(value, torch.Tensor):
        t = value.detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
            return {"dtype": "bfloat16", "shape": list(t.shape),
                    "data_b64": base64.b64encode(raw).decode()}
        value = t.numpy()
    a = np.ascontiguousarray(value)
    if dtype is not None:
        a = a.astype(_NP_DTYPES[dtype])
    name = {np.dtype(v): k for k, v in _NP_DTYPES.items()}[a.dtype]
    raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
    return {"dtype": name, "shape": list(a.shape),
            "data_b64": base64.b64encode(raw).decode()}


def case(name, op, inputs, params, outputs, atol=0.0, rtol=0.0, note=""):
    """One golden case. inputs/outputs: dict name -> tensor (torch or numpy).

    atol/rtol: tolerance for float outputs (0 = bit-exact); index outputs
    are always compared exactly."""
    return {
        "name": name,
        "op": op,
        "note": note,
        "request": {"inputs": {k: tensor(v) for k, v in inputs.items()},
                    "params": params},
        "expected": {k: tensor(v) for k, v in outputs.items()},
        "atol": atol,
        "rtol": rtol,
    }


def write_cases(family, cases):
    names = [c["name"] for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SystemExit(f"duplicate case names: {sorted(dup)}")
    path = os.path.join(HERE, "cases", f"{family}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"family": family, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: {len(cases)} cases")
