"""schemathesis against a live daemon, every check on.

Runs `schemathesis run openapi.yaml --checks all` for a bounded number of
examples per operation (SCHEMATHESIS_EXAMPLES, default 25) with a fixed
seed (SCHEMATHESIS_SEED), every phase (examples, coverage, fuzzing,
stateful), against a daemon started here. Binary request bodies come from
schemathesis_hooks.py, and schemathesis.toml says which statuses a
schema-valid request may get besides 2xx (413, 422: README, "Checked by
schemathesis").

Every failed check is then read from the run's NDJSON events and must be
one of the documented false positives below; anything else fails the
case of its operation. Each documented false positive is a
positive_data_acceptance failure (a request valid under the schema that
the daemon refuses with 400) for a reason JSON Schema cannot state:

- ragged nested lists: equal lengths of sibling lists;
- Inference-Header-Content-Length not equal to the JSON header's length.

The report (NDJSON, JSON) is kept in build/test-output/schemathesis/."""
import base64
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ROOT, check, finish, record  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, "build", "test-output", "schemathesis")
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "25")
SEED = os.environ.get("SCHEMATHESIS_SEED", "20260611")


def schemathesis_cli():
    """The schemathesis next to this interpreter (the test venv's)."""
    exe = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "schemathesis.cli"]


def decoded(blob):
    if isinstance(blob, dict) and "$base64" in blob:
        return base64.b64decode(blob["$base64"]).decode("utf-8", "replace")
    return blob if isinstance(blob, str) else json.dumps(blob)


def header(headers, name):
    for k, v in (headers or {}).items():
        if k.lower() == name.lower():
            return v
    return None


def documented_false_positive(check, request, response):
    """The documented reason a failed check is not a fault, or None."""
    if check != "positive_data_acceptance" or response.get("status_code") != 400:
        return None
    text = decoded(response.get("content", ""))
    if "ragged nested lists" in text:
        return "ragged nested lists (JSON Schema cannot require equal lengths)"
    if header(request.get("headers"), "Inference-Header-Content-Length") is not None:
        return "Inference-Header-Content-Length is not the JSON header's length"
    return None


def failures(ndjson_path, labels):
    """(operation, check, request, response, reason-or-None) of every failed
    check in the run; adds every operation (or phase) it saw to labels."""
    out = []
    with open(ndjson_path) as f:
        for line in f:
            ev = json.loads(line)
            fin = ev.get("ScenarioFinished")
            if not fin:
                continue
            rec = fin["recorder"]
            labels.add(rec["label"])
            for case_id, checks in rec.get("checks", {}).items():
                for c in checks:
                    if c.get("status") != "failure":
                        continue
                    inter = rec.get("interactions", {}).get(case_id) or {}
                    req, resp = inter.get("request", {}), inter.get("response") or {}
                    out.append((rec["label"], c["name"], req, resp,
                                documented_false_positive(c["name"], req, resp)))
    return out


def main():
    try:
        import schemathesis  # noqa: F401
    except ImportError as e:
        record("import_schemathesis", False, e)
        finish()
    proc, port, log = harness.start_daemon_or_finish(workers=2)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    env = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks",
               PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = schemathesis_cli() + [
        "--config-file", os.path.join(HERE, "schemathesis.toml"), "--no-color",
        "run", os.path.join(ROOT, "openapi.yaml"), "--url", "http://127.0.0.1:%d" % port,
        "--checks", "all", "--max-examples", EXAMPLES, "--seed", SEED, "--workers", "1",
        "--request-timeout", "20", "--report", "ndjson,json",
        "--report-ndjson-path", os.path.join(OUT, "events.ndjson"),
        "--report-json-path", os.path.join(OUT, "run.json")]
    try:
        run = subprocess.run(cmd, env=env, cwd=OUT, capture_output=True, text=True, timeout=1500)
        with open(os.path.join(OUT, "output.txt"), "w") as f:
            f.write(run.stdout + run.stderr)
        with open(os.path.join(OUT, "run.json")) as f:
            summary = json.load(f)
        ops = summary["operations"]
        record("schemathesis_tested_every_operation",
               ops["tested"] == ops["selected"] and ops["selected"] >= 20 and not ops["errored"],
               json.dumps(ops))
        record("schemathesis_no_errors", not summary["errors"], json.dumps(summary["errors"])[:800])
        record("schemathesis_phases_ran",
               all(p["status"] in ("success", "failure") for p in summary["phases"].values()),
               json.dumps(summary["phases"]))
        labels = set()
        found = failures(os.path.join(OUT, "events.ndjson"), labels)
        documented = [f for f in found if f[4]]
        for reason in sorted({f[4] for f in documented}):
            n = sum(1 for f in documented if f[4] == reason)
            print("    documented false positive, %d case(s): %s" % (n, reason))
        for label in sorted(labels):
            bad = [f for f in found if f[0] == label and not f[4]]
            why = "\n".join("%s: %s %s -> %s %s" % (c, r.get("method"), r.get("uri"),
                                                     s.get("status_code"),
                                                     decoded(s.get("content", ""))[:200])
                            for _, c, r, s, _ in bad[:4])
            record("schemathesis " + label, not bad, why)
        print("    %d test cases, %d failed checks (%d documented false positives); "
              "exit %d; report in %s" % (summary["test_cases"]["generated"], len(found),
                                         len(documented), run.returncode, OUT))
        record("schemathesis_undocumented_failures_none",
               all(f[4] for f in found), "%d undocumented" % sum(1 for f in found if not f[4]))
    except Exception as e:  # a run that did not finish is one failed case
        record("schemathesis_run", False, "%s: %s" % (type(e).__name__, e))
    finally:
        harness.stop_and_check(proc, log)
    finish()


if __name__ == "__main__":
    main()
