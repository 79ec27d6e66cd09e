"""Malformed HTTP/2 and gRPC framing on the daemon's gRPC port.

gRPC is HTTP/2 with every message behind a 5-byte prefix (a compressed
flag, then a big-endian length). Clients such as tritonclient never get
those wrong, so this test writes the frames itself: raw TCP for what is
not HTTP/2 at all, and the `h2` package (pure-Python HTTP/2 state
machine, tests/requirements.txt) for a well-formed connection that
carries a lying gRPC message. Cases:

  - positive controls first, through the same hand-made frames: ServerLive
    and a ModelInfer answered with grpc-status 0, also with the message
    cut into 1-byte DATA frames (else a refusal below could be our fault);
  - garbage bytes instead of the connection preface, a preface with one
    byte wrong, an HTTP/1.1 request, a SETTINGS frame of a bad length, a
    DATA frame on stream 0 (the connection may stay open after it), a frame
    longer than SETTINGS_MAX_FRAME_SIZE, a CONTINUATION flood, a
    rapid-reset burst of streams opened and cancelled at once, and a
    client that hangs up with 64 calls in flight, twenty times;
  - a valid connection and headers, then a message whose length prefix
    lies: bigger than what is sent before END_STREAM, 2 and 4 GiB,
    and bigger than sent with the stream left open while another client
    is served; the compressed flag set with no grpc-encoding, and with
    grpc-encoding gzip over bytes that are not gzip; the prefix cut short;
    no message at all; a message that is not protobuf;
  - a 64 MiB answer, which goes out without a copy, cut off half-way
    through a DATA frame by a reset of its stream or by a hang-up.
Each refusal must end the stream (non-zero grpc-status, RST_STREAM,
GOAWAY or a closed socket) within seconds, and after each the daemon must
still answer ServerLive over gRPC and GET /healthz over REST. The daemon's
peak RSS must stay far below the 4 GiB the lying prefix asks for, and, on
a daemon of its own with --max-inflight-mb 64, grow by about the budget
when eight streams each hold 31 MiB of a 32 MiB message (a message is
charged to the budget from its length prefix, before it is buffered).
Last, the read deadlines (--header-timeout-s, --body-timeout-s,
--idle-timeout-s): a silent
connection, a message that stops half-way and a client that never reads
its answer hold nothing for long.

The RSS bounds are for the plain build, which tests/run_all.sh runs the
Python tests against: under AddressSanitizer freed memory waits in its
quarantine and the bounds do not hold.

Prints "ok   name" / "FAIL name" per check and ends with "N passed, N
failed".

    UNPOOLD_BIN=build/unpoold <venv>/bin/python3 tests/py/test_grpc_frames.py
"""
import os
import socket
import struct
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, finish, record  # noqa: E402
from grpc_common import (SERVICE, _assert, start_grpc_daemon,  # noqa: E402
                         start_grpc_daemon_or_finish, still_serving)

import numpy as np  # noqa: E402
import tritonclient.grpc.service_pb2 as pb  # noqa: E402

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
except ImportError as e:
    record("import_h2", False, "%s (pip install -r tests/requirements.txt)" % e)
    finish()

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# raw cases after which the connection may stay open (see run_raw)
LENIENT = {"data_on_stream_0"}
WAIT_S = 15


def frame(ftype, flags, stream, payload):
    """One raw HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id."""
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def grpc_msg(payload, compressed=0, length=None):
    n = len(payload) if length is None else length
    return bytes([compressed]) + struct.pack(">I", n) + payload


def live_request():
    return pb.ServerLiveRequest().SerializeToString()


def infer_request():
    req = pb.ModelInferRequest(model_name="nearest_unpool")
    req.parameters["scale_factor"].int64_param = 2
    req.inputs.add(name="x", datatype="FP32", shape=[1, 1, 2, 2])
    req.raw_input_contents.append(np.arange(4, dtype=np.float32).tobytes())
    return req.SerializeToString()


def connect(d, rcvbuf=None):
    """rcvbuf: a small receive buffer, set before the handshake so that the
    TCP window stays small too (a client that stops reading then fills up
    after that many bytes, not after the kernel's megabytes)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(WAIT_S)
    s.connect(("127.0.0.1", d.gport))
    return s


def closed_within(s, seconds=WAIT_S):
    """True once the peer closes (or resets) the socket; False if it is
    still open after `seconds`. Whatever it sends first (a GOAWAY) is read
    and dropped."""
    end = time.time() + seconds
    try:
        while time.time() < end:
            s.settimeout(max(0.05, end - time.time()))
            try:
                if not s.recv(65536):
                    return True
            except socket.timeout:
                return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


class H2:
    """A client connection through the h2 state machine."""

    def __init__(self, d, rcvbuf=None):
        self.d = d
        self.sock = connect(d, rcvbuf)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def headers(self, method="ModelInfer", ctype="application/grpc", extra=(), end=False):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", "POST"), (":scheme", "http"), (":path", SERVICE + method),
                (":authority", self.d.gurl), ("content-type", ctype), ("te", "trailers")]
        self.conn.send_headers(sid, hdrs + list(extra), end_stream=end)
        self.flush()
        return sid

    def data(self, sid, payload, end=True, pieces=None):
        if pieces:
            for k in range(0, len(payload), pieces):
                last = k + pieces >= len(payload)
                self.conn.send_data(sid, payload[k:k + pieces], end_stream=end and last)
                self.flush()
        else:
            self.conn.send_data(sid, payload, end_stream=end)
            self.flush()

    def outcome(self, sid, seconds=WAIT_S):
        """How stream sid ended: {"status": HTTP status, "grpc_status": str,
        "message": bytes, "reset": code, "goaway": code, "closed": bool};
        {"timeout": True} if it did not end in time."""
        out = {"message": b""}
        end = time.time() + seconds
        while time.time() < end:
            self.sock.settimeout(max(0.05, end - time.time()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                out["closed"] = True
                return out
            if not data:
                out["closed"] = True
                return out
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError as e:
                out["protocol_error"] = str(e)
                return out
            for ev in events:
                if isinstance(ev, (h2.events.ResponseReceived, h2.events.TrailersReceived)) \
                        and ev.stream_id == sid:
                    h = dict(ev.headers)
                    if ":status" in h:
                        out["status"] = h[":status"]
                    if "grpc-status" in h:
                        out["grpc_status"] = h["grpc-status"]
                        out["grpc_message"] = h.get("grpc-message", "")
                elif isinstance(ev, h2.events.DataReceived):
                    if ev.stream_id == sid:
                        out["message"] += ev.data
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                    out["reset"] = int(ev.error_code)
                    return out
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    out["goaway"] = int(ev.error_code)
                    return out
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    return out
            try:
                self.flush()
            except OSError:
                out["closed"] = True
                return out
        out["timeout"] = True
        return out

    def settle(self):
        """Read the server's SETTINGS and window updates (so the windows
        it opens are known before a burst of calls)."""
        self.sock.settimeout(2)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        if data:
            self.conn.receive_data(data)
            self.flush()

    def fill(self, sid, nbytes, stall_s=3.0):
        """Send up to nbytes of zeros on stream sid as flow control lets
        them through; stops when the stream is reset or the window stays
        shut for stall_s. Returns the bytes sent."""
        sent, chunk, last = 0, b"\0" * 16384, time.time()
        while sent < nbytes and time.time() - last < stall_s:
            try:
                w = min(self.conn.local_flow_control_window(sid), len(chunk), nbytes - sent)
            except h2.exceptions.StreamClosedError:
                return sent
            if w > 0:
                self.conn.send_data(sid, chunk[:w])
                self.flush()
                sent, last = sent + w, time.time()
                continue
            self.sock.settimeout(0.2)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                return sent
            for ev in self.conn.receive_data(data):
                if isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    return sent
            self.flush()
        return sent

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def refused(out):
    """The stream ended in a refusal of some kind, not in success and not
    by hanging."""
    _assert(not out.get("timeout"), "no answer in %d s: %s" % (WAIT_S, out))
    if "grpc_status" in out:
        _assert(out["grpc_status"] != "0", "accepted: grpc-status 0, an answer of %d bytes"
                % len(out["message"]))
        return
    _assert(out.get("reset") is not None or out.get("goaway") is not None or out.get("closed")
            or out.get("protocol_error") or (out.get("status") not in (None, "200")),
            "neither refused nor answered: %s" % out)


def one_call(d, build, check_out):
    """Open a connection, let build(h2conn) -> sid send a stream, then
    check_out(outcome)."""
    c = H2(d)
    try:
        sid = build(c)
        check_out(c.outcome(sid))
    finally:
        c.close()


# ---- positive controls ---------------------------------------------------------

def run_controls(d):
    def live_by_hand():
        def build(c):
            sid = c.headers("ServerLive")
            c.data(sid, grpc_msg(live_request()))
            return sid

        def ok(out):
            _assert(out.get("status") == "200" and out.get("grpc_status") == "0", out)
            m = out["message"]
            _assert(len(m) >= 5 and m[0] == 0 and struct.unpack(">I", m[1:5])[0] == len(m) - 5, m)
            _assert(pb.ServerLiveResponse.FromString(m[5:]).live, m)
        one_call(d, build, ok)
    check("control_server_live_by_hand", live_by_hand)

    def infer_by_hand(pieces):
        def build(c):
            sid = c.headers()
            c.data(sid, grpc_msg(infer_request()), pieces=pieces)
            return sid

        def ok(out):
            _assert(out.get("grpc_status") == "0", out)
            r = pb.ModelInferResponse.FromString(out["message"][5:])
            y = np.frombuffer(r.raw_output_contents[0], np.float32)
            _assert(y.tolist() == [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3], y)
        one_call(d, build, ok)
    check("control_model_infer_by_hand", lambda: infer_by_hand(None))
    check("control_model_infer_one_byte_frames", lambda: infer_by_hand(1))


# ---- not HTTP/2 at all ------------------------------------------------------------

def run_raw(d):
    rng = np.random.default_rng(18)
    raw_cases = {
        "garbage_instead_of_preface": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "preface_one_byte_wrong": PREFACE[:-3] + b"X\r\n" + frame(4, 0, 0, b""),
        "http1_request": b"POST /inference.GRPCInferenceService/ServerLive HTTP/1.1\r\n"
                         b"Host: x\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\n"
                         b"\0\0\0\0\0",
        "data_on_stream_0": PREFACE + frame(4, 0, 0, b"") + frame(0, 0, 0, b"\0" * 16),
        "frame_over_max_frame_size": PREFACE + frame(4, 0, 0, b"") +
                                     frame(0, 0, 1, b"\0" * (1 << 20)),
        "settings_bad_length": PREFACE + frame(4, 0, 0, b"\0" * 5),
    }
    for name, payload in raw_cases.items():
        def one(payload=payload, name=name):
            s = connect(d)
            try:
                try:
                    s.sendall(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # cut off while sending: a refusal too
                # gRPC's C core lets some connection errors pass (a DATA
                # frame on stream 0 is dropped): what unpoold must do is
                # not fall over; what is not HTTP/2 at all must be cut
                if name not in LENIENT:
                    _assert(closed_within(s), "connection still open after %d s" % WAIT_S)
            finally:
                s.close()
            still_serving(d)
        check("raw_" + name, one)

    def continuation_flood():
        # HEADERS without END_HEADERS, then CONTINUATION frames of one
        # small header again and again, never ending the block: the daemon
        # may cut the connection or drop the headers as they come, but it
        # must not keep them (its peak RSS grows by far less than sent)
        before = vm_hwm_kb(d.proc.pid)
        s = connect(d)
        try:
            s.sendall(PREFACE + frame(4, 0, 0, b""))
            s.sendall(frame(1, 0x1, 1, b"\x82\x86\x84"))
            sent = 0
            try:
                while sent < (32 << 20):
                    s.sendall(frame(9, 0, 1, b"\x40\x01a\x01b" * 3000))
                    sent += 15000
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass
        finally:
            s.close()
        grew = vm_hwm_kb(d.proc.pid) - before
        _assert(grew < 16 << 10, "peak RSS grew %d MiB over %d MiB of CONTINUATION frames"
                % (grew >> 10, sent >> 20))
        still_serving(d)
    check("raw_continuation_flood", continuation_flood)

    def rapid_reset():
        c = H2(d)
        try:
            for _ in range(500):
                sid = c.headers()
                c.conn.reset_stream(sid)
            c.flush()
            time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon may drop such a client: also fine
        finally:
            c.close()
        still_serving(d)
    check("h2_rapid_reset_500_streams", rapid_reset)


# ---- lying gRPC messages on a valid connection ---------------------------------------

def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def reset_hwm(pid):
    """Start VmHWM over from the current RSS (Linux: clear_refs 5), so a
    peak measured later is this part's own; False where not allowed."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_messages(d):
    msg = infer_request()
    reset_hwm(d.proc.pid)  # the CONTINUATION flood before has its own check
    cases = {
        "prefix_bigger_than_sent": (
            lambda c: send(c, grpc_msg(msg, length=len(msg) + 1000))),
        "prefix_4gib": (lambda c: send(c, grpc_msg(msg[:10], length=0xffffffff))),
        "prefix_2gib": (lambda c: send(c, grpc_msg(msg[:10], length=0x80000000))),
        "prefix_cut_short": (lambda c: send(c, grpc_msg(msg)[:3])),
        "compressed_flag_without_encoding": (lambda c: send(c, grpc_msg(msg, compressed=1))),
        "gzip_flag_not_gzip": (
            lambda c: send(c, grpc_msg(msg, compressed=1), [("grpc-encoding", "gzip")])),
        "no_message": (lambda c: send(c, b"")),
        "protobuf_garbage": (lambda c: send(c, grpc_msg(b"\x2a\xff\xff\xff\xff\x0f\x01"))),
    }
    for name, build in cases.items():
        def one(build=build):
            one_call(d, build, refused)
            still_serving(d)
        check("msg_" + name, one)

    def not_grpc_415():
        """Not gRPC at all (README: HTTP 415): another content-type, a GET."""
        for how in ("json", "get"):
            c = H2(d)
            try:
                sid = c.conn.get_next_available_stream_id()
                hdrs = [(":method", "GET" if how == "get" else "POST"), (":scheme", "http"),
                        (":path", SERVICE + "ModelInfer"), (":authority", d.gurl),
                        ("content-type", "application/json" if how == "json"
                         else "application/grpc"), ("te", "trailers")]
                c.conn.send_headers(sid, hdrs, end_stream=how == "get")
                c.flush()
                if how == "json":
                    c.data(sid, grpc_msg(msg))
                out = c.outcome(sid)
                _assert(out.get("status") == "415", "%s: %s" % (how, out))
            finally:
                c.close()
    check("msg_not_grpc_http_415", not_grpc_415)

    def grpc_timeouts():
        """grpc-timeout as sent by clients, and hostile: 1 ns and 0 ms end
        in DEADLINE_EXCEEDED or, since the daemon rounds a deadline up to
        whole milliseconds, in an answer from an idle pool that started
        the call at once (measured: 1n 22 of 40 times DEADLINE_EXCEEDED);
        the largest legal value (8 digits of hours) must not wrap into the
        past; a malformed one is ignored, as gRPC's servers do, or refused."""
        want = {"1n": {"0", "4"}, "0m": {"0", "4"}, "99999999H": {"0"}, "30S": {"0"},
                "123456789S": {"0", "3"}, "S": {"0", "3"}, "-5S": {"0", "3"},
                "5x": {"0", "3"}, "١S": {"0", "3"}}
        got = {}
        for v in want:
            c = H2(d)
            try:
                sid = c.headers(extra=[("grpc-timeout", v)])
                c.data(sid, grpc_msg(msg))
                out = c.outcome(sid)
                got[v] = out.get("grpc_status", "none: %s" % out)
            finally:
                c.close()
        bad = {v: g for v, g in got.items() if g not in want[v]}
        _assert(not bad, "grpc-timeout -> grpc-status: %s" % bad)
    check("msg_grpc_timeout_values", grpc_timeouts)

    def huge_headers():
        c = H2(d)
        try:
            sid = c.headers(extra=[("authorization", "Bearer " + "k" * 200000),
                                   ("x-junk", "v" * 100000)])
            c.data(sid, grpc_msg(msg))
            out = c.outcome(sid)
            _assert(not out.get("timeout"), "no answer: %s" % out)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            c.close()
        still_serving(d)
    check("msg_300kb_of_headers", huge_headers)

    def open_stream_does_not_block():
        """A message whose prefix says 1 MiB, 10 bytes sent, stream left
        open: the daemon keeps serving everyone else meanwhile."""
        c = H2(d)
        try:
            sid = c.headers()
            c.data(sid, grpc_msg(msg[:10], length=1 << 20), end=False)
            t0 = time.time()
            still_serving(d)
            _assert(time.time() - t0 < 5, "others waited %.1f s" % (time.time() - t0))
        finally:
            c.close()
        still_serving(d)
    check("msg_prefix_bigger_stream_left_open", open_stream_does_not_block)

    def rss_bounded():
        kb = vm_hwm_kb(d.proc.pid)
        _assert(kb < (512 << 10), "daemon peak RSS %d MiB after the lying prefixes" % (kb >> 10))
    check("msg_lying_prefix_never_allocated", rss_bounded)


def hang_up_with_calls_in_flight(d):
    """A client that goes away with 64 calls running or queued (h2load
    at the end of its run does just that): twenty times, then the
    daemon must still be there and serving. The answers that come
    back for a closed connection must find it gone, not freed."""
    g = np.random.default_rng(6)
    req = pb.ModelInferRequest(model_name="conv_transpose")
    req.inputs.add(name="x", datatype="FP32", shape=[1, 16, 16, 16])
    req.inputs.add(name="weight", datatype="FP32", shape=[16, 16, 3, 3])
    req.raw_input_contents.append(g.random((1, 16, 16, 16), dtype=np.float32).tobytes())
    req.raw_input_contents.append(g.random((16, 16, 3, 3), dtype=np.float32).tobytes())
    body = grpc_msg(req.SerializeToString())
    for k in range(20):
        c = H2(d)
        try:
            c.settle()
            for _ in range(64):
                sid = c.headers()
                c.data(sid, body, pieces=16384)
            time.sleep(0.002 * (k % 5))
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()  # a reset, as a killed client's kernel sends
        time.sleep(0.02)
        _assert(d.proc.poll() is None, "the daemon died after hang-up %d (exit status %s)"
                % (k, d.proc.poll()))
    still_serving(d)


def run_hang_up():
    """On a daemon of its own: a daemon that falls over here fails this
    check only."""
    try:
        d = start_grpc_daemon()
    except Exception as e:
        record("hang_up_daemon_starts", False, e)
        return
    try:
        check("h2_hang_up_with_64_calls_in_flight", lambda: hang_up_with_calls_in_flight(d))
    finally:
        if d.proc.poll() is None:
            harness.stop_daemon(d.proc)


def run_quota():
    """Eight streams at once, each sending 31 of the 32 MiB its prefix
    announces and holding the rest: what is buffered is bounded by
    --max-inflight-mb (each message charged from its prefix), so the
    daemon's peak RSS grows by about that much, not by the 248 MiB sent,
    and REST and gRPC keep answering."""
    budget, body = 64, 32
    try:
        d = start_grpc_daemon(["--max-body-mb", str(body), "--max-inflight-mb", str(budget)])
    except Exception as e:
        record("quota_daemon_starts", False, e)
        return
    conns, sent = [], []

    def one():
        c = H2(d)
        conns.append(c)
        sid = c.headers()
        c.data(sid, struct.pack(">BI", 0, (body << 20) - 64), end=False)
        sent.append(c.fill(sid, (body - 1) << 20))
    try:
        def bounded():
            reset_hwm(d.proc.pid)
            before = vm_hwm_kb(d.proc.pid)
            threads = [threading.Thread(target=one) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            grew = (vm_hwm_kb(d.proc.pid) - before) >> 10
            _assert(grew <= budget + 32, "peak RSS grew %d MiB with %d MiB of partial messages "
                    "sent, budget %d MiB" % (grew, sum(sent) >> 20, budget))
            with urllib.request.urlopen("http://%s/healthz" % d.url, timeout=10) as r:
                _assert(r.status == 200, r.status)
        check("quota_partial_messages_bounded_by_budget", bounded)
        for c in conns:
            c.close()
        check("quota_still_serving_after", lambda: still_serving(d))
    finally:
        for c in conns:
            c.close()
        harness.stop_daemon(d.proc)


def inflight_bytes(d):
    with urllib.request.urlopen("http://%s/metrics" % d.url, timeout=10) as r:
        for ln in r.read().decode().splitlines():
            if ln.startswith("unpoold_inflight_bytes "):
                return float(ln.split()[1])
    raise AssertionError("no unpoold_inflight_bytes in /metrics")


def until(cond, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def big_answer_request():
    """nearest_unpool x64 of a 64x64 x: a 16 KiB request, a 64 MiB answer."""
    req = pb.ModelInferRequest(model_name="nearest_unpool")
    req.parameters["scale_factor"].int64_param = 64
    req.inputs.add(name="x", datatype="FP32", shape=[1, 1, 64, 64])
    req.raw_input_contents.append(np.ones((64, 64), dtype=np.float32).tobytes())
    return req.SerializeToString()


def answer_cut_off(d, how, wait_s=0.5):
    """A large answer goes out without a copy: its DATA frames point into
    the result tensor, and the call is kept until the frame being written
    is out. Here the client opens every window, then stops reading, so the
    daemon is left in the middle of such a frame; then the client either
    resets the stream (the frame is finished, nothing more is sent, and
    the same connection answers another call) or hangs up. Either way the
    answer's charge must come back and the daemon keep serving."""
    import h2.settings
    base = inflight_bytes(d)
    c = H2(d, rcvbuf=1 << 16)
    try:
        c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
        c.conn.increment_flow_control_window(2**31 - 1 - 65535)
        c.flush()
        sid = c.headers()
        c.data(sid, grpc_msg(big_answer_request()), pieces=16384)
        _assert(until(lambda: inflight_bytes(d) > base + (32 << 20), 10),
                "the 64 MiB answer was never charged: %d" % inflight_bytes(d))
        time.sleep(wait_s)  # the socket fills, a frame half written
        if how == "reset":
            c.conn.reset_stream(sid)
            c.flush()
            live = c.headers(method="ServerLive")
            c.data(live, grpc_msg(live_request()))
            out = c.outcome(live, seconds=30)
            _assert(out.get("grpc_status") == "0" and len(out["message"]) == 7,
                    "ServerLive after the reset: %s" % {k: out[k] for k in out if k != "message"})
        else:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        _assert(until(lambda: inflight_bytes(d) <= base, 10),
                "in-flight bytes %d after the %s, %d before" % (inflight_bytes(d), how, base))
    finally:
        c.close()
    still_serving(d)


def run_cut_off():
    """On a daemon of its own: the no-copy answer path cut off mid-frame."""
    try:
        d = start_grpc_daemon()
    except Exception as e:
        record("cut_off_daemon_starts", False, e)
        return
    try:
        # the wait starts once the answer is charged: 0 cuts it off as its
        # first frames go out, 0.5 s with the socket full half-way through one
        for wait_s in (0, 0.05, 0.5):
            check("answer_stream_reset_mid_frame_after_%gs" % wait_s,
                  lambda: answer_cut_off(d, "reset", wait_s))
            check("answer_hang_up_mid_frame_after_%gs" % wait_s,
                  lambda: answer_cut_off(d, "hang-up", wait_s))
    finally:
        rc = harness.stop_daemon(d.proc)
        record("cut_off_daemon_exit_0", rc == 0, "exit %s" % rc)


def run_timeouts():
    """The read deadlines REST has, on the gRPC port (a daemon with
    --header-timeout-s 2 --body-timeout-s 2 --idle-timeout-s 3):
    a connection that never speaks is cut; a message that stops arriving
    is reset and its charge given back; a client that never opens its
    flow-control window for a 16 MiB answer does not hold that answer
    (and its charge) past the idle timeout."""
    try:
        d = start_grpc_daemon(["--header-timeout-s", "2", "--body-timeout-s", "2",
                               "--idle-timeout-s", "3"])
    except Exception as e:
        record("timeouts_daemon_starts", False, e)
        return
    try:
        base = inflight_bytes(d)

        def silent():
            s = connect(d)
            try:
                t0 = time.time()
                _assert(closed_within(s, 10), "a silent connection still open after 10 s")
                _assert(time.time() - t0 >= 1.5, "cut after %.1f s" % (time.time() - t0))
            finally:
                s.close()
        check("timeout_silent_connection_cut", silent)

        def stalled():
            c = H2(d)
            try:
                sid = c.headers()
                c.data(sid, grpc_msg(b"\0" * 10, length=1 << 20), end=False)
                t0 = time.time()
                out = c.outcome(sid, seconds=10)
                refused(out)
                _assert(time.time() - t0 >= 1.5, "ended after %.1f s: %s" % (time.time() - t0, out))
            finally:
                c.close()
            _assert(until(lambda: inflight_bytes(d) <= base, 5),
                    "in-flight bytes %d after the reset, %d before" % (inflight_bytes(d), base))
        check("timeout_stalled_message_reset_and_uncharged", stalled)

        def never_reads():
            import h2.settings
            c = H2(d)
            try:
                c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
                c.flush()
                req = pb.ModelInferRequest(model_name="nearest_unpool")
                req.parameters["scale_factor"].int64_param = 32
                req.inputs.add(name="x", datatype="FP32", shape=[1, 1, 64, 64])
                req.raw_input_contents.append(b"\0" * (64 * 64 * 4))  # y: 16 MiB
                sid = c.headers()
                c.data(sid, grpc_msg(req.SerializeToString()), pieces=16384)
                # read what comes, never acknowledge it (no WINDOW_UPDATE)
                held = until(lambda: inflight_bytes(d) > base + (8 << 20), 10)
                _assert(held, "the 16 MiB answer was never charged: %d" % inflight_bytes(d))
                t0 = time.time()
                released = until(lambda: inflight_bytes(d) <= base, 15)
                _assert(released, "the unread answer still holds %d bytes %.0f s later" % (
                    inflight_bytes(d) - base, time.time() - t0))
            finally:
                c.close()
        check("timeout_reader_that_never_reads_released", never_reads)
        check("timeout_still_serving", lambda: still_serving(d))
    finally:
        harness.stop_daemon(d.proc)


def send(c, body, extra=(), ctype="application/grpc"):
    sid = c.headers(ctype=ctype, extra=extra)
    c.data(sid, body)
    return sid


def main():
    d = start_grpc_daemon_or_finish()
    try:
        run_controls(d)
        run_raw(d)
        run_messages(d)
        check("still_serving_at_end", lambda: still_serving(d))
    finally:
        harness.stop_and_check(d.proc, d.log)
    run_hang_up()
    run_cut_off()
    run_quota()
    run_timeouts()
    finish()


if __name__ == "__main__":
    main()
