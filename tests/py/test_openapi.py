"""openapi.yaml against the registry, its own examples, the README and the
live daemon.

- The per-op parts are what tools/gen_openapi makes from the registry
  (`make openapi`); the check fails while the committed file differs, and
  is shown to fail on a file that does differ.
- Every example of the spec (components/examples) and every request body
  of the README's curl commands is valid under JSON Schema 2020-12 against
  the schema of its own path, the daemon answers it 200, and the answer is
  valid against the path's response schema.
- Where the server is strict or lenient the spec says the same: a table of
  bodies, each with what the schema says and the status the daemon gives
  ("kernel_size": "2" and 2.0 are valid and run, unknown keys are invalid
  and refused, ...).

Needs PyYAML and jsonschema (tests/requirements.txt)."""
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ROOT, check, finish, record  # noqa: E402

try:
    import jsonschema
    import referencing
    import referencing.jsonschema
    import yaml
except ImportError as e:
    record("import_yaml_jsonschema", False, e)
    finish()

SPEC_PATH = os.path.join(ROOT, "openapi.yaml")
with open(SPEC_PATH) as f:
    SPEC = yaml.safe_load(f)
BASE = "urn:unpoold:openapi"
REGISTRY = referencing.Registry().with_resource(
    BASE, referencing.Resource.from_contents(SPEC, referencing.jsonschema.DRAFT202012))


def schema_errors(ref, value):
    """Messages of the 2020-12 validation of value against #/components/...
    (empty when valid)."""
    v = jsonschema.Draft202012Validator({"$ref": BASE + ref}, registry=REGISTRY)
    return [e.message[:200] for e in v.iter_errors(value)]


def request_schema(path):
    media = SPEC["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return media["schema"]["$ref"]


def response_schema(path):
    media = SPEC["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
    return media["schema"]["$ref"]


def gen_openapi():
    return os.path.join(ROOT, os.environ.get("BUILD", "build"), "tools", "gen_openapi")


# ---- the generated parts ----------------------------------------------------

def generated_matches_registry():
    r = subprocess.run([gen_openapi(), "--check", SPEC_PATH], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout


def check_fails_on_a_stale_file():
    with open(SPEC_PATH) as f:
        text = f.read()
    stale = text.replace("enum: [y, indices]", "enum: [y]", 1)
    assert stale != text
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as t:
        t.write(stale)
    try:
        r = subprocess.run([gen_openapi(), "--check", t.name], capture_output=True, text=True)
        assert r.returncode == 1 and "make openapi" in r.stderr, (r.returncode, r.stderr)
    finally:
        os.unlink(t.name)


def one_path_item_per_op(ops):
    names = [o["name"] for o in ops]
    assert SPEC["components"]["parameters"]["Op"]["schema"]["enum"] == names
    for o in ops:
        v1, v2 = "/v1/ops/" + o["name"], "/v2/models/%s/infer" % o["name"]
        assert v1 in SPEC["paths"] and v2 in SPEC["paths"], o["name"]
        params = SPEC["components"]["schemas"][request_schema(v1).split("/")[-1]]
        inputs = SPEC["components"]["schemas"][params["properties"]["inputs"]["$ref"].split("/")[-1]]
        assert sorted(inputs["properties"]) == sorted(i["name"] for i in o["inputs"]), o["name"]
        assert inputs["required"] == [i["name"] for i in o["inputs"] if i["required"]]
        assert inputs["additionalProperties"] is False
        output_q = [p for p in SPEC["paths"][v1]["post"]["parameters"] if p.get("name") == "output"]
        assert output_q[0]["schema"]["enum"] == [x["name"] for x in o["outputs"]]
    assert "/v1/ops/{op}" not in SPEC["paths"] and "/v2/models/{op}/infer" not in SPEC["paths"]


# ---- examples -----------------------------------------------------------------

def shell_commands(block):
    """Split sh text into commands at newlines outside single quotes and
    not escaped by a backslash."""
    cmds, cur, quoted, i = [], [], False, 0
    while i < len(block):
        c = block[i]
        if c == "\\" and not quoted and block[i + 1:i + 2] == "\n":
            i += 2
            cur.append(" ")
            continue
        if c == "'":
            quoted = not quoted
        if c == "\n" and not quoted:
            cmds.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    cmds.append("".join(cur))
    return cmds


def readme_examples():
    """(path, body) of every curl command in README.md that sends a JSON body
    inline to an op."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for cmd in shell_commands(block):
            body = re.search(r"-d '([^']*)'", cmd)
            path = re.search(r"(/v1/ops/\w+|/v2/models/\w+/infer)", cmd)
            if body and path:
                found.append((path.group(1), json.loads(body.group(1))))
    return found


def spec_examples():
    """(name, path, body) of every components/examples entry."""
    out = []
    for name, ex in SPEC["components"]["examples"].items():
        out.append((name,) + example_path(name) + (ex["value"],))
    return out


def example_path(name):
    """MaxPool_seed -> /v1/ops/max_pool; MaxPoolInfer_seed -> /v2/..."""
    camel = name.split("_", 1)[0]
    infer = camel.endswith("Infer")
    camel = camel[:-5] if infer else camel
    op = re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()
    return ("/v2/models/%s/infer" % op if infer else "/v1/ops/" + op,)


def post(port, path, body, headers=None, raw=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=raw if raw is not None else json.dumps(body).encode(),
                                 method="POST")
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def example_case(port, path, body):
    errs = schema_errors(request_schema(path), body)
    assert not errs, errs
    status, out = post(port, path, body)
    assert status == 200, (status, out[:300])
    errs = schema_errors(response_schema(path), json.loads(out))
    assert not errs, errs


# ---- the server and the spec agree --------------------------------------------------

X = [[[[1, 2], [3, 4]]]]
# (name, path, body, schema-valid?, status)
AGREEMENT = [
    ("kernel_size_text", "/v1/ops/max_pool", {"inputs": {"x": X}, "params": {"kernel_size": "2"}},
     True, 200),
    ("kernel_size_2.0", "/v1/ops/max_pool", {"inputs": {"x": X}, "params": {"kernel_size": 2.0}},
     True, 200),
    ("kernel_size_list_text", "/v1/ops/max_pool",
     {"inputs": {"x": X}, "params": {"kernel_size": "[2, 2]"}}, True, 200),
    ("kernel_size_2.5", "/v1/ops/max_pool", {"inputs": {"x": X}, "params": {"kernel_size": 2.5}},
     False, 400),
    ("kernel_size_past_2^53", "/v1/ops/max_pool",
     {"inputs": {"x": X}, "params": {"kernel_size": 2 ** 53}}, False, 400),
    ("kernel_size_four_dims", "/v1/ops/max_pool",
     {"inputs": {"x": X}, "params": {"kernel_size": [1, 1, 1, 1]}}, False, 400),
    ("ceil_mode_text", "/v1/ops/max_pool",
     {"inputs": {"x": X}, "params": {"kernel_size": 2, "ceil_mode": "True"}}, True, 200),
    ("param_null_is_unset", "/v1/ops/max_pool",
     {"inputs": {"x": X}, "params": {"kernel_size": 2, "stride": None}}, True, 200),
    ("enum_hyphen", "/v1/ops/nearest_unpool",
     {"inputs": {"x": X}, "params": {"scale_factor": 2, "mode": "nearest-exact"}}, True, 200),
    ("enum_unknown", "/v1/ops/nearest_unpool",
     {"inputs": {"x": X}, "params": {"scale_factor": 2, "mode": "bicubic"}}, False, 422),
    ("unknown_param", "/v1/ops/max_pool",
     {"inputs": {"x": X}, "params": {"kernel_size": 2, "kernel": 2}}, False, 422),
    ("unknown_key", "/v1/ops/max_pool", {"inputs": {"x": X}, "extra": 1}, False, 422),
    ("unknown_input", "/v1/ops/max_pool", {"inputs": {"x": X, "y": X}}, False, 422),
    ("unknown_tensor_key", "/v1/ops/max_pool",
     {"inputs": {"x": {"data": X, "strides": [1]}}, "params": {"kernel_size": 2}}, False, 400),
    ("data_and_data_b64", "/v1/ops/max_pool",
     {"inputs": {"x": {"shape": [1], "data": [1], "data_b64": "AACAPw=="}}}, False, 400),
    ("nan_strings_and_null", "/v1/ops/max_pool",
     {"inputs": {"x": {"shape": [1, 1, 2, 2], "data": ["NaN", "Infinity", "-inf", None]}},
      "params": {"kernel_size": 2}}, True, 200),
    ("output_format_json", "/v1/ops/max_pool",
     {"inputs": {"x": X}, "params": {"kernel_size": 2}, "output_format": "json"}, True, 200),
    ("output_format_bad", "/v1/ops/max_pool",
     {"inputs": {"x": X}, "params": {"kernel_size": 2}, "output_format": "csv"}, False, 422),
    ("no_inputs", "/v1/ops/max_pool", {"params": {"kernel_size": 2}}, False, 400),
    ("kserve_no_inputs", "/v2/models/max_pool/infer",
     {"inputs": [], "parameters": {"kernel_size": 2}}, False, 400),
    ("kserve_param_text", "/v2/models/max_pool/infer",
     {"inputs": [{"name": "x", "shape": [1, 1, 2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}],
      "parameters": {"kernel_size": "2,2"}}, True, 200),
    ("kserve_nan_strings", "/v2/models/max_pool/infer",
     {"inputs": [{"name": "x", "shape": [1, 1, 2, 2], "datatype": "FP32",
                  "data": ["NaN", 2, "Infinity", None]}], "parameters": {"kernel_size": 2}},
     True, 200),
    ("kserve_unknown_datatype", "/v2/models/max_pool/infer",
     {"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]}, False, 400),
    ("kserve_unknown_param", "/v2/models/max_pool/infer",
     {"inputs": [{"name": "x", "shape": [1, 1, 2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}],
      "parameters": {"kernel_size": 2, "kernel": 2}}, False, 422),
    ("kserve_id_127_chars", "/v2/models/max_pool/infer",
     {"id": "\u00e9" * 127, "parameters": {"kernel_size": 2},
      "inputs": [{"name": "x", "shape": [1, 1, 2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
     True, 200),
    ("kserve_id_128_chars", "/v2/models/max_pool/infer",
     {"id": "a" * 128, "parameters": {"kernel_size": 2},
      "inputs": [{"name": "x", "shape": [1, 1, 2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
     False, 400),
]


def agreement_case(port, path, body, valid, status):
    errs = schema_errors(request_schema(path), body)
    assert (not errs) == valid, "schema says %s: %s" % ("invalid" if errs else "valid", errs)
    got, out = post(port, path, body)
    assert got == status, (got, out[:300])


def header_and_query_agree(port):
    """Inference-Header-Content-Length >= 1; ?output= is an enum."""
    hl = [p for p in SPEC["components"]["parameters"].values()
          if p.get("name") == "Inference-Header-Content-Length"][0]
    assert hl["schema"]["minimum"] == 1
    got, _ = post(port, "/v2/models/max_pool/infer", None,
                  {"Inference-Header-Content-Length": "0"}, raw=b'{"inputs":[]}')
    assert got == 400, got
    body = {"inputs": {"x": X}, "params": {"kernel_size": 2}}
    assert post(port, "/v1/ops/max_pool?output=indices", body)[0] == 200
    assert post(port, "/v1/ops/max_pool?output=z", body)[0] == 422


def main():
    proc, port, log = harness.start_daemon_or_finish()
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/v1/ops" % port, timeout=10) as r:
            ops = json.load(r)["ops"]
        check("generated_parts_match_the_registry", generated_matches_registry)
        check("check_fails_on_a_stale_file", check_fails_on_a_stale_file)
        check("one_path_item_per_op", lambda: one_path_item_per_op(ops))
        readme = readme_examples()
        record("readme_has_examples", len(readme) >= 10, "%d found" % len(readme))
        for i, (path, body) in enumerate(readme):
            check("readme_example_%d_%s" % (i, path.split("/")[-1 if "/v1/" in path else -2]),
                  lambda p=path, b=body: example_case(port, p, b))
        for name, path, body in spec_examples():
            check("spec_example_" + name, lambda p=path, b=body: example_case(port, p, b))
        for name, path, body, valid, status in AGREEMENT:
            check("agree_" + name, lambda p=path, b=body, v=valid, s=status:
                  agreement_case(port, p, b, v, s))
        check("agree_header_and_query", lambda: header_and_query_agree(port))
    finally:
        harness.stop_and_check(proc, log)
    finish()


if __name__ == "__main__":
    main()
