"""A 64 MiB float32 tensor through max_unpool over every wire format.

x is (4, 16, 512, 512) float32 (64 MiB) with the int64 indices PyTorch's
max_pool2d(kernel_size=2) gives for a random (4, 16, 1024, 1024) input; the
answer y is (4, 16, 1024, 1024) float32 (256 MiB). The same request goes to
a live unpoold as

  - concatenated .npy (x then indices, as repeated np.save() writes them),
  - safetensors (written by the `safetensors` package when it is
    installed, else by the format's layout written here),
  - JSON with data_b64 tensors, answered with data_b64,

and is answered as .npy (read with NumPy's own header reader), as
safetensors and as JSON. Every answer must hold the same bytes as
torch.nn.functional.max_unpool2d. This is the acceptance check of the
binary-formats issue; the daemon answers the binary formats without copying
the output (api.h: the response tail).

Memory stays bounded: bodies are sent as lists of chunks (no concatenated
copy), answers are compared as views (np.frombuffer), and each answer is
dropped before the next request; this process peaks at about 1.7 GB (the
JSON round trip: 268 MB of base64 out, 358 MB back, 256 MB decoded, next to
the inputs and the reference). Runs in about 8 s on two cores.

Starts the daemon from $UNPOOLD_BIN (default build/unpoold) on a free port.
Prints "ok   name" / "FAIL name" and ends with "N passed, N failed"; missing
numpy or torch is a failure.

    UNPOOLD_BIN=build/unpoold /usr/bin/python3 tests/py/test_large_binary.py
"""
import base64
import http.client
import io
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import finish, record, start_daemon_or_finish, stop_daemon  # noqa: E402

SHAPE = (4, 16, 512, 512)


try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:
    record("import_torch_numpy", False, e)
    finish()

try:
    from safetensors.numpy import save as st_save
except ImportError:
    st_save = None

torch.set_num_threads(2)

# ---- daemon -----------------------------------------------------------------


def post(port, path, chunks, ctype, accept):
    """POST the body (a list of bytes-like chunks) -> (status, headers, bytes)."""
    n = sum(memoryview(c).nbytes for c in chunks)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", ctype)
        conn.putheader("Accept", accept)
        conn.putheader("Content-Length", str(n))
        conn.endheaders()
        for c in chunks:
            conn.send(c)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


# ---- bodies -----------------------------------------------------------------


def npy_chunks(*arrays):
    """Arrays back to back as np.save() writes each: header, then the data."""
    out = []
    for a in arrays:
        h = io.BytesIO()
        np.lib.format.write_array_header_1_0(h, np.lib.format.header_data_from_array_1_0(a))
        out += [h.getvalue(), memoryview(np.ascontiguousarray(a)).cast("B")]
    return out


def safetensors_chunks(tensors):
    """The package's writer when installed, else the format's layout
    (8-byte length, JSON header padded to 8, the tensors back to back)."""
    if st_save is not None:
        return [st_save(dict(tensors))]
    header, off, blobs = {}, 0, []
    names = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
    for name, a in tensors:
        header[name] = {"dtype": names[a.dtype], "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(memoryview(np.ascontiguousarray(a)).cast("B"))
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return [struct.pack("<Q", len(h)) + h] + blobs


def json_chunks(x, ind):
    def tensor(a, dtype):
        return [('{"dtype":"%s","shape":%s,"data_b64":"' % (dtype, json.dumps(list(a.shape))))
                .encode(), base64.b64encode(memoryview(a).cast("B")), b'"}']
    return ([b'{"inputs":{"x":'] + tensor(x, "float32") + [b',"indices":'] +
            tensor(ind, "int64") + [b'},"params":{"kernel_size":2},"output_format":"b64"}'])


# ---- answers ----------------------------------------------------------------


def read_npy(data):
    """NumPy's own header reader; the data as a view."""
    f = io.BytesIO(data)
    version = np.lib.format.read_magic(f)
    shape, fortran, dtype = np.lib.format._read_array_header(f, version)
    assert not fortran
    return np.frombuffer(data, dtype=dtype, offset=f.tell()).reshape(shape)


def read_safetensors(data, name):
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    e = header[name]
    assert e["dtype"] == "F32", e
    b, end = e["data_offsets"]
    assert end - b == 4 * int(np.prod(e["shape"])), e
    return np.frombuffer(data, dtype=np.float32, offset=8 + n + b,
                         count=(end - b) // 4).reshape(e["shape"])


def read_json_b64(data):
    """The answer's y.data_b64, decoded; the rest of the document is parsed
    with the (large) base64 string cut out."""
    key = b'"data_b64":"'
    start = data.find(key)
    assert start > 0, data[:200]
    start += len(key)
    end = data.index(b'"', start)
    doc = json.loads(data[:start] + data[end:])
    y = doc["outputs"]["y"]
    assert y["dtype"] == "float32", y
    return np.frombuffer(base64.b64decode(memoryview(data)[start:end]),
                         dtype=np.float32).reshape(y["shape"])


def same_bytes(got, want):
    return got.shape == want.shape and got.dtype == want.dtype and \
        np.array_equal(got.view(np.uint32), want.view(np.uint32))


def main():
    t0 = time.time()
    g = torch.Generator().manual_seed(5)
    src = torch.rand((SHAPE[0], SHAPE[1], SHAPE[2] * 2, SHAPE[3] * 2), generator=g)
    xt, it = F.max_pool2d(src, 2, return_indices=True)
    del src
    want = F.max_unpool2d(xt, it, 2).numpy()
    x, ind = xt.numpy(), it.numpy()
    record("x_is_64_MiB", x.nbytes == 64 << 20 and x.dtype == np.float32, x.nbytes)

    proc, port, log = start_daemon_or_finish(["--max-body-mb", "1024", "--max-inflight-mb", "4096",
                                    "--max-elements", str(1 << 26), "--timeout-ms", "120000"])
    try:
        bodies = {
            "npy": (npy_chunks(x, ind), "application/x-npy"),
            "safetensors": (safetensors_chunks([("x", x), ("indices", ind)]),
                            "application/x-safetensors"),
        }
        answers = {"npy": ("application/x-npy", read_npy),
                   "safetensors": ("application/x-safetensors",
                                   lambda d: read_safetensors(d, "y"))}
        for bname, (chunks, ctype) in bodies.items():
            for aname, (accept, reader) in answers.items():
                name = "max_unpool_64MiB_%s_in_%s_out" % (bname, aname)
                try:
                    status, headers, data = post(port, "/v1/ops/max_unpool?kernel_size=2",
                                                 chunks, ctype, accept)
                    if status != 200:
                        record(name, False, "%d %s" % (status, data[:300]))
                        continue
                    ok = headers.get("Content-Type") == accept and "Server-Timing" in headers
                    got = reader(data)
                    record(name, ok and same_bytes(got, want),
                           "content-type %s; shape %s" % (headers.get("Content-Type"), got.shape))
                except Exception as e:  # a broken answer is a failure, not a crash
                    record(name, False, repr(e))
                data = got = None
        bodies = chunks = None
        name = "max_unpool_64MiB_json_b64_in_json_b64_out"
        try:
            status, headers, data = post(port, "/v1/ops/max_unpool", json_chunks(x, ind),
                                         "application/json", "application/json")
            if status != 200:
                record(name, False, "%d %s" % (status, data[:300]))
            else:
                record(name, same_bytes(read_json_b64(data), want))
        except Exception as e:
            record(name, False, repr(e))
        data = None
        record("daemon_still_serving", proc.poll() is None)
        record("under_60_seconds", time.time() - t0 < 60, "%.1f s" % (time.time() - t0))
    finally:
        stop_daemon(proc)
        if harness.FAILED:
            tail = harness.log_tail(log)
            if tail:
                print("    daemon log: " + tail.replace("\n", "\n    "))
    finish()


if __name__ == "__main__":
    main()
