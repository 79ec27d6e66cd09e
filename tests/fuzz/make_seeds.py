"""Write the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/).

Seeds are small valid requests of every op, taken from the golden
fixtures and the binary fixtures, framed as each target reads its input
(first byte: op number in the registry's order). Run from the repository
root: python3 tests/fuzz/make_seeds.py
"""
import glob
import json
import os
import struct

OPS = ["max_unpool", "nearest_unpool", "fractional_max_unpool", "conv_transpose",
       "max_pool", "fractional_max_pool"]
KSERVE_TYPES = {"float32": "FP32", "float64": "FP64", "float16": "FP16", "bfloat16": "BF16",
                "int64": "INT64", "int32": "INT32", "uint8": "UINT8", "bool": "BOOL",
                "int8": "INT8", "int16": "INT16"}
OUT = os.path.join("tests", "fuzz", "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def golden_cases():
    for path in sorted(glob.glob("tests/golden/cases/*.json")):
        with open(path) as f:
            for c in json.load(f)["cases"]:
                yield c


def main():
    per_op = {}
    for c in golden_cases():
        body = json.dumps(c["request"], separators=(",", ":")).encode()
        if len(body) > 3000 or per_op.get(c["op"], 0) >= 6:
            continue
        per_op[c["op"]] = per_op.get(c["op"], 0) + 1
        op = bytes([OPS.index(c["op"])])
        put("json", c["name"], op + body)
        # the same case as a KServe v2 request, JSON and binary framed
        import base64
        inputs, blobs = [], []
        for name, t in c["request"]["inputs"].items():
            raw = base64.b64decode(t["data_b64"])
            inputs.append({"name": name, "shape": t["shape"],
                           "datatype": KSERVE_TYPES[t["dtype"]],
                           "parameters": {"binary_data_size": len(raw)}})
            blobs.append(raw)
        params = {k: (",".join(map(str, v)) if isinstance(v, list) else v)
                  for k, v in c["request"]["params"].items()}
        head = json.dumps({"inputs": inputs, "parameters": params}).encode()
        framed = op + b"\x01" + struct.pack("<H", len(head)) + head + b"".join(blobs)
        if len(head) < 65536:
            put("kserve", c["name"] + "_bin", framed)
        for i, b in zip(inputs, blobs):
            del i["parameters"]
        put("kserve", c["name"] + "_json",
            op + b"\x00\x00\x00" + json.dumps({"inputs": inputs, "parameters": params}).encode())
    queries = [
        (0, "kernel_size=2"), (0, "kernel_size=2&stride=1&output_size=3,3&index_layout=hwc"),
        (1, "scale_factor=1.5&mode=nearest-exact"), (1, "output_size=1,5"),
        (2, "output_size=5,5&coordinate_transform=half_pixel"), (2, "scale_factor=2,3"),
        (3, "stride=2&padding=1&output_padding=1"), (3, "groups=1&dilation=2&output_size=[1,1,5,5]"),
        (4, "kernel_size=2&stride=1&ceil_mode=true&padding=1"), (4, "kernel_size=3&dilation=2"),
        (5, "kernel_size=2&output_ratio=0.5&seed=3"), (5, "kernel_size=2&output_size=2,2"),
    ]
    for i, (op, q) in enumerate(queries):
        put("query", f"q{i}", bytes([op]) + q.encode())
    for path in sorted(glob.glob("tests/fixtures/binary/*.npy")):
        if not os.path.basename(path).startswith("exp_"):
            with open(path, "rb") as f:
                put("npy", os.path.basename(path), b"\x01\x02" + f.read())
    for path in sorted(glob.glob("tests/fixtures/binary/*.safetensors")):
        with open(path, "rb") as f:
            put("safetensors", os.path.basename(path), b"\x00\x00" + f.read())
    # the JSON parser alone (fuzz_json_parse compares it with cJSON's):
    # number lists in every notation, escapes, nesting, literals
    docs = [
        '{"inputs":{"x":{"dtype":"float32","shape":[1,1,2,2],"data":[0.5,-1e-7,3.25e+2,-0]},'
        '"indices":[[[[0,5],[10,15]]]]},"params":{"kernel_size":2}}',
        '[1,-2,3.5,1e22,1e23,4.9406564584124654e-324,18446744073709551616,0.1,-0.0]',
        '{"s":"a\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00","e":"","u":"\u00e9"}',
        '[[[[[]]]],{},{"a":{"b":[true,false,null]}}]',
        ' \t\r\n{ "k" :\n[ 1 , 2 ] } ',
    ]
    for i, d in enumerate(docs):
        put("json_parse", f"doc{i}", d.encode())


if __name__ == "__main__":
    main()
