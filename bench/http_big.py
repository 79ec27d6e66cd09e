"""http_big.py -- large requests through a running unpoold.

The same tensor every time: x float32 (16, 64, 128, 128) = 64 MiB with
int64 indices (128 MiB) that max_pool k=2 could have produced, through
max_unpool k=2 -> y (16, 64, 256, 256) = 256 MiB. Sent over one keep-alive
connection as
  safetensors  x and indices, answered as .npy (REPS times);
  npy          x and indices as two concatenated .npy arrays, answered as
               .npy (REPS times);
  json b64     JSON with data_b64 tensors, answered with data_b64;
  json lists   JSON with plain "data" number lists, answered the same way
               (both JSON rows at most 3 times: they take seconds);
plus nearest_unpool x2 of x as .npy in and out (REPS times).

For each it reads the daemon's Server-Timing header and prints the median
server-side decode, queue, compute, encode and total (ms) and the share of
decode + encode in the total; and, client side, the median wall time from
the first byte of the request sent to the last byte of the answer read and
the throughput (request + response bytes) / wall time. Bodies are built
before the clock starts and answers are not parsed inside it, so the
figures compare what each format costs the server and the wire, not
Python's JSON module. It also reports the daemon's idle RSS (before the
first request) and its peak RSS (VmHWM) after the binary max_unpool
requests, with their input and output bytes, for the RSS bound. Lines for
report.py:

    http <row> <impl> <value...>
Usage: http_big.py PORT PID REPS
"""
import http.client
import json
import base64
import statistics
import struct
import sys
import time

import numpy as np

SHAPE = (16, 64, 128, 128)


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def indices_for(shape, rng):
    """int64 indices max_pool(k=2) could have produced for x of shape."""
    n, c, h, w = shape
    oh = np.arange(h, dtype=np.int64)[:, None] * 2 + rng.integers(0, 2, (h, w))
    ow = np.arange(w, dtype=np.int64)[None, :] * 2 + rng.integers(0, 2, (h, w))
    plane = oh * (2 * w) + ow
    return np.broadcast_to(plane, shape).copy()


def safetensors_body(tensors):
    header, offset, blobs = {}, 0, []
    for name, arr in tensors:
        dt = {np.float32: "F32", np.int64: "I64"}[arr.dtype.type]
        raw = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def npy_body(*arrays):
    """Arrays back to back, as repeated np.save() writes them."""
    out = b""
    for arr in arrays:
        out += npy_header(arr) + arr.tobytes()
    return out


def npy_header(arr):
    descr = {np.float32: "<f4", np.int64: "<i8"}[arr.dtype.type]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, tuple(arr.shape))
    header = header.encode()
    pad = -(10 + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def json_body(x, ind, b64):
    """max_unpool request with data_b64 tensors or plain number lists."""
    def tensor(a, dtype):
        head = '{"dtype":"%s","shape":%s,' % (dtype, json.dumps(list(a.shape)))
        if b64:
            return (head + '"data_b64":"').encode() + base64.b64encode(a.tobytes()) + b'"}'
        return (head + '"data":').encode() + json.dumps(a.ravel().tolist()).encode() + b"}"
    return (b'{"inputs":{"x":' + tensor(x, "float32") + b',"indices":' +
            tensor(ind, "int64") + b'},"params":{"kernel_size":2}' +
            (b',"output_format":"b64"}' if b64 else b"}"))


def timing(resp):
    out = {}
    for part in (resp.getheader("Server-Timing") or "").split(","):
        if ";dur=" in part:
            k, v = part.strip().split(";dur=")
            out[k] = float(v)
    return out


def run(conn, path, body, ctype, accept, reps):
    rows = []
    for _ in range(reps):
        t0 = time.perf_counter()
        conn.request("POST", path, body=body, headers={"Content-Type": ctype, "Accept": accept})
        resp = conn.getresponse()
        data = resp.read()
        wall = time.perf_counter() - t0
        if resp.status != 200:
            sys.exit("http_big: %s -> %d %s" % (path, resp.status, data[:300]))
        rows.append((timing(resp), len(data), wall))
        data = None
    med = {k: statistics.median(r[0].get(k, 0.0) for r in rows)
           for k in ("decode", "queue", "compute", "encode", "total")}
    med["wall"] = statistics.median(r[2] for r in rows)
    return med, rows[0][1]


def emit(row, med, req_len, resp_len):
    share = (med["decode"] + med["encode"]) / med["total"] if med["total"] else 0.0
    print("http\t%s\tunpoold\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.4f" % (
        row, med["decode"], med["queue"], med["compute"], med["encode"], med["total"], share))
    print("http\tthroughput\t%s\t%d\t%d\t%.3f\t%.1f" % (
        row, req_len, resp_len, med["wall"] * 1e3, (req_len + resp_len) / med["wall"] / 1e6))
    sys.stdout.flush()


def main():
    port, pid, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(1)
    x = rng.random(SHAPE, dtype=np.float32)
    ind = indices_for(SHAPE, rng)
    idle = status_kb(pid, "VmRSS")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    npy = "application/x-npy"
    st = safetensors_body([("x", x), ("indices", ind)])
    med, out_len = run(conn, "/v1/ops/max_unpool?kernel_size=2", st,
                       "application/x-safetensors", npy, reps)
    emit("big_safetensors_max_unpool", med, len(st), out_len)
    st = None
    nb = npy_body(x, ind)
    med, out_len = run(conn, "/v1/ops/max_unpool?kernel_size=2", nb, npy, npy, reps)
    emit("big_npy_max_unpool", med, len(nb), out_len)
    peak = status_kb(pid, "VmHWM")
    print("http\trss_big_request\tunpoold\t%d\t%d\t%d\t%d" % (
        idle, peak, len(nb) // 1024, out_len // 1024))
    nb = npy_body(x)
    med, out_len = run(conn, "/v1/ops/nearest_unpool?scale_factor=2", nb, npy, npy, reps)
    emit("big_npy_nearest", med, len(nb), out_len)
    nb = None
    for b64, row in ((1, "big_json_b64_max_unpool"), (0, "big_json_lists_max_unpool")):
        body = json_body(x, ind, b64)
        med, out_len = run(conn, "/v1/ops/max_unpool", body, "application/json",
                           "application/json", min(reps, 3))
        emit(row, med, len(body), out_len)
        body = None
    conn.close()


if __name__ == "__main__":
    main()
