"""http_big.py -- large binary requests through a running unpoold.

Two requests, each sent REPS times over one keep-alive connection:
  safetensors  max_unpool k=2: x float32 (16, 64, 128, 128) = 64 MiB plus
               int64 indices (128 MiB) -> y (16, 64, 256, 256) = 256 MiB,
               answered as .npy;
  npy          nearest_unpool x2 of the same 64 MiB x, sent and answered as
               .npy.
For each it reads the daemon's Server-Timing header and prints the median
server-side decode, queue, compute, encode and total (ms) and the share of
decode + encode in the total. It also reports the daemon's idle RSS (before
the first request) and its peak RSS (VmHWM) after them, with the request's
input and output bytes, for the RSS bound. Lines for report.py:

    http <row> <impl> <value...>
Usage: http_big.py PORT PID REPS
"""
import http.client
import json
import statistics
import struct
import sys

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


def npy_body(arr):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (tuple(arr.shape),)
    header = header.encode()
    pad = -(10 + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + arr.tobytes()


def timing(resp):
    out = {}
    for part in (resp.getheader("Server-Timing") or "").split(","):
        if ";dur=" in part:
            k, v = part.strip().split(";dur=")
            out[k] = float(v)
    return out


def run(conn, path, body, ctype, reps):
    rows = []
    for _ in range(reps):
        conn.request("POST", path, body=body,
                     headers={"Content-Type": ctype, "Accept": "application/x-npy"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            sys.exit("http_big: %s -> %d %s" % (path, resp.status, data[:300]))
        rows.append((timing(resp), len(data)))
    med = {k: statistics.median(r[0].get(k, 0.0) for r in rows)
           for k in ("decode", "queue", "compute", "encode", "total")}
    return med, rows[0][1]


def main():
    port, pid, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(1)
    x = rng.random(SHAPE, dtype=np.float32)
    idle = status_kb(pid, "VmRSS")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    st = safetensors_body([("x", x), ("indices", indices_for(SHAPE, rng))])
    med, out_len = run(conn, "/v1/ops/max_unpool?kernel_size=2", st,
                       "application/x-safetensors", reps)
    peak = status_kb(pid, "VmHWM")
    share = (med["decode"] + med["encode"]) / med["total"] if med["total"] else 0.0
    print("http\tbig_safetensors_max_unpool\tunpoold\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.4f" % (
        med["decode"], med["queue"], med["compute"], med["encode"], med["total"], share))
    print("http\trss_big_request\tunpoold\t%d\t%d\t%d\t%d" % (
        idle, peak, len(st) // 1024, out_len // 1024))
    nb = npy_body(x)
    med, _ = run(conn, "/v1/ops/nearest_unpool?scale_factor=2", nb, "application/x-npy", reps)
    share = (med["decode"] + med["encode"]) / med["total"] if med["total"] else 0.0
    print("http\tbig_npy_nearest\tunpoold\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.4f" % (
        med["decode"], med["queue"], med["compute"], med["encode"], med["total"], share))
    conn.close()


if __name__ == "__main__":
    main()
