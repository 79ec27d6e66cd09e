"""What every Python test of unpoold shares: case bookkeeping that ends
with the "N passed, N failed" line tests/run_all.sh adds up, and a daemon
started from UNPOOLD_BIN on a free loopback port."""
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import json
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASSED = 0
FAILED = 0


def record(name, ok, why="", lines=8):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print("ok   " + name, flush=True)
    else:
        FAILED += 1
        for line in str(why).rstrip().splitlines()[-lines:]:
            print("    " + line)
        print("FAIL " + name, flush=True)


def check(name, fn):
    """Run fn(); any exception is a failed case, with its reason."""
    try:
        fn()
    except Exception as e:
        record(name, False, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc(limit=2)))
        return False
    record(name, True)
    return True


def finish():
    print("%d passed, %d failed" % (PASSED, FAILED), flush=True)
    sys.exit(1 if FAILED else 0)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def daemon_binary():
    binary = os.environ.get("UNPOOLD_BIN", os.path.join(ROOT, "build", "unpoold"))
    return binary if os.path.isabs(binary) else os.path.join(ROOT, binary)


def daemon_command():
    """The daemon's argv start: UNPOOLD_WRAP (e.g. "setarch x86_64 -R",
    which tests/soak/tsan.sh needs where TSan cannot map its shadow memory)
    then the binary."""
    return os.environ.get("UNPOOLD_WRAP", "").split() + [daemon_binary()]


def start_daemon(extra_args=(), workers=2, probe="/healthz"):
    """Start the daemon; returns (proc, port, log) once `probe` answers.

    UNPOOLD_* variables of the test's environment are not passed on, so
    only the given flags configure it."""
    port = free_port()
    log = tempfile.TemporaryFile()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNPOOLD_")}
    cmd = daemon_command() + ["--listen", "127.0.0.1:%d" % port, "--workers", str(workers)]
    proc = subprocess.Popen(cmd + list(extra_args), stdout=log, stderr=log, env=env)
    for _ in range(400):
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, probe), timeout=1):
                return proc, port, log
        except Exception:
            time.sleep(0.05)
    proc.kill()
    log.seek(0)
    raise RuntimeError("daemon did not come up: " + log.read().decode(errors="replace")[-400:])


def start_daemon_or_finish(extra_args=(), workers=2, probe="/healthz"):
    """start_daemon(), or record its failure as a case and finish."""
    try:
        return start_daemon(extra_args, workers, probe)
    except Exception as e:
        record("start_daemon", False, e)
        finish()


def stop_daemon(proc, log=None, timeout=20):
    """SIGTERM, wait; returns the exit status (None if it had to be killed)."""
    proc.terminate()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def stop_and_check(proc, log):
    """SIGTERM the daemon as a case of its own (it must exit 0), and show
    the end of its log when anything failed."""
    rc = stop_daemon(proc)
    record("daemon_exit_0_on_sigterm", rc == 0, "exit %s" % rc)
    if FAILED:
        tail = log_tail(log, 2000).splitlines()[-10:]
        print("    daemon log tail:\n    " + "\n    ".join(tail))


def log_tail(log, n=600):
    log.seek(0)
    return log.read().decode(errors="replace")[-n:]


def post_op(base, op, body, timeout=60):
    """POST body as JSON to base/v1/ops/op; (status, parsed answer), the
    answer as text when it is not JSON."""
    req = urllib.request.Request(base + "/v1/ops/" + op, data=json.dumps(body).encode(),
                                 method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def onnx_attrs(node):
    """An ONNX node's attributes as a dict of Python values (strings decoded)."""
    from onnx import helper
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out
