"""Independent cross-check: random cases of every op and variant of docs/contract.md
sent through the JSON API of a live unpoold, compared with PyTorch computed
in this process.

Starts the daemon from $UNPOOLD_BIN (default build/unpoold) on a free port.
Each case group (op x variant) runs a few random cases: 1d/2d/3d where the
op has them, the params variants (index layouts, mask form, nearest modes,
coordinate transforms, conv stride/padding/dilation/groups/output_padding/
output_size, pool dilation/ceil_mode, fractional pool with samples and with
a seed), dtypes float32/float64/float16/bfloat16, channels_last, int32
indices, tensors sent as JSON numbers and as data_b64, answers read as JSON
numbers (which must read back exactly) and as data_b64.

The references are written here from PyTorch's functions, or as a NumPy
loop where PyTorch has no equivalent (the seed's asymmetric transform, the
mask form, the TensorFlow/ONNX index layouts). Half types are computed in
float32 and rounded, as the contract says. Fixed seed, bounded count.

Prints "ok   name" / "FAIL name" (with the first failing case) per group
and ends with "N passed, N failed". Missing torch is a failure.

    UNPOOLD_BIN=build/unpoold /usr/bin/python3 tests/py/test_crosscheck_torch.py
"""
import base64
import json
import math
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import finish, post_op, record, start_daemon_or_finish, stop_daemon  # noqa: E402

CASES_PER_GROUP = 4
SEED = 20240611


try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:
    record("import_torch_numpy", False, e)
    finish()

torch.set_num_threads(1)  # leave the cores to the daemon

# ---- daemon -----------------------------------------------------------------


BASE = None
CALLS = 0


def call(op, body):
    """POST /v1/ops/{op}; returns (status, parsed JSON answer)."""
    global CALLS
    CALLS += 1
    return post_op(BASE, op, body)


# ---- tensors on the wire ----------------------------------------------------

DT_NAME = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
           torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32",
           torch.uint8: "uint8", torch.int8: "int8", torch.bool: "bool"}
NAME_DT = {v: k for k, v in DT_NAME.items()}
FLOATS = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def to_wire(t, b64):
    """A torch tensor as {"dtype", "shape", "data"|"data_b64"}."""
    t = t.contiguous()
    d = {"dtype": DT_NAME[t.dtype], "shape": list(t.shape)}
    if b64:
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        elif t.dtype == torch.bool:
            raw = t.numpy().astype(np.uint8).tobytes()
        else:
            raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        d["data_b64"] = base64.b64encode(raw).decode()
    elif t.dtype in FLOATS:
        d["data"] = [float(v) for v in t.double().flatten().tolist()]  # exact
    elif t.dtype == torch.bool:
        d["data"] = [int(v) for v in t.flatten().tolist()]
    else:
        d["data"] = [int(v) for v in t.flatten().tolist()]
    return d


def num(v):
    return float(v) if not isinstance(v, str) else float({"NaN": "nan", "Infinity": "inf",
                                                          "-Infinity": "-inf"}[v])


def from_wire(d):
    """An answer's tensor as a torch tensor of its dtype. JSON numbers are
    read to double and then rounded to the dtype: the shortest printing
    must make that exact."""
    dt = NAME_DT[d["dtype"]]
    shape = d["shape"]
    if "data_b64" in d:
        raw = base64.b64decode(d["data_b64"])
        if dt == torch.bfloat16:
            a = np.frombuffer(raw, dtype="<i2").copy()
            return torch.from_numpy(a).view(torch.bfloat16).reshape(shape)
        npdt = {torch.float32: "<f4", torch.float64: "<f8", torch.float16: "<f2",
                torch.int64: "<i8", torch.int32: "<i4", torch.uint8: "u1", torch.int8: "i1"}[dt]
        return torch.from_numpy(np.frombuffer(raw, dtype=npdt).copy()).reshape(shape)
    if dt in FLOATS:
        return torch.tensor([num(v) for v in d["data"]], dtype=torch.float64).to(dt).reshape(shape)
    return torch.tensor(d["data"], dtype=dt).reshape(shape)


def to_cl(t):
    """(N, C, *S) -> (N, *S, C)"""
    return t.permute(0, *range(2, t.dim()), 1).contiguous()


# ---- case plumbing -------------------------------------------------------------

class CaseError(Exception):
    pass


def run_case(rnd, op, inputs, params, expected, storage, layout_cl, tol=None):
    """inputs: name -> channels-first torch tensor (permuted here when
    layout_cl; weight/bias/samples never are). expected: name -> reference in
    channels-first order; values are compared in storage dtype."""
    spatial_kinds = {"x", "indices", "mask"}
    body_inputs = {}
    for k, t in inputs.items():
        if layout_cl and k in spatial_kinds:
            t = to_cl(t)
        body_inputs[k] = to_wire(t, rnd.random() < 0.4)
    params = dict(params)
    if layout_cl:
        params["layout"] = "channels_last"
    body = {"inputs": body_inputs, "params": params}
    if rnd.random() < 0.25:
        body["output_format"] = "b64"
    status, ans = call(op, body)
    if status != 200:
        raise CaseError("status %d: %s\nparams %s" % (status, json.dumps(ans)[:400], params))
    outs = ans.get("outputs", {})
    for name, want in expected.items():
        if name not in outs:
            raise CaseError("output %s missing; params %s" % (name, params))
        got = from_wire(outs[name])
        if layout_cl:
            want = to_cl(want)
        if name != "indices":
            want = want.to(storage)
        elif got.dtype != torch.int64:
            raise CaseError("indices dtype %s" % got.dtype)
        if got.dtype != want.dtype:
            raise CaseError("%s dtype %s, expected %s" % (name, got.dtype, want.dtype))
        if list(got.shape) != list(want.shape):
            raise CaseError("%s shape %s, expected %s; params %s" % (
                name, list(got.shape), list(want.shape), params))
        g, w = got.double(), want.double()
        if tol is None or name == "indices":
            ok = torch.equal(g, w)
            err = (g - w).abs().max().item() if g.numel() else 0
        else:
            rtol, atol = tol
            scale = max(1.0, w.abs().max().item() if w.numel() else 1.0)
            ok = torch.allclose(g, w, rtol=rtol, atol=atol * scale)
            err = (g - w).abs().max().item() if g.numel() else 0
        if not ok:
            raise CaseError("%s differs (max abs error %g, %s); params %s, x shape %s" % (
                name, err, "exact" if tol is None or name == "indices" else "tol %s" % (tol,),
                params, list(inputs["x"].shape)))


def group(name, rnd, make_case, n=CASES_PER_GROUP):
    """Run n random cases; one line for the group."""
    try:
        for i in range(n):
            make_case(rnd, i)
    except CaseError as e:
        record(name, False, "case %d: %s" % (i, e))
        return
    except Exception as e:  # a bug here or a broken answer is a failure too
        record(name, False, "case %d: %s: %s" % (i, type(e).__name__, e))
        return
    record(name, True)


# ---- data -----------------------------------------------------------------------

def rand_values(shape, dtype, distinct=False):
    """Random values of dtype. distinct: no ties (for max pooling)."""
    n = int(np.prod(shape))
    if distinct:
        # quarters of a permutation: distinct and exact in float16 for the
        # sizes used here (bfloat16 may round some together: callers that
        # need no ties do not ask for bfloat16)
        v = ((torch.randperm(n).double() - n / 2) / 4).reshape(shape)
    else:
        v = torch.randn(shape, dtype=torch.float64) * 2
    return v.to(dtype)


def compute(t):
    """The reference's compute type for a stored tensor."""
    return t.double() if t.dtype == torch.float64 else t.float()


def tol_for(dtype, kind):
    """Tolerances (rtol, atol relative to max(1, |ref|)) for float arithmetic."""
    if dtype == torch.float64:
        return (1e-11, 1e-11)
    if dtype == torch.float32:
        return (2e-5, 2e-5) if kind == "conv" else (1e-5, 1e-5)
    if dtype == torch.float16:
        return (2e-3, 2e-3)
    return (1.6e-2, 1.6e-2)


def sp_list(v, nsp, rnd, as_list_prob=0.6):
    """A spatial param as one number when all equal (sometimes), else a list."""
    if all(x == v[0] for x in v) and rnd.random() > as_list_prob:
        return v[0]
    return list(v)


def convert_indices(idx, layout, plane, channels):
    """PyTorch plane indices (N, C, *S) -> another index layout."""
    if layout == "plane":
        return idx
    n = torch.arange(idx.shape[0]).reshape(-1, *([1] * (idx.dim() - 1)))
    c = torch.arange(idx.shape[1]).reshape(1, -1, *([1] * (idx.dim() - 2)))
    if layout == "tensor":
        return (n * channels + c) * plane + idx
    if layout == "hwc":
        return idx * channels + c
    return (n * plane + idx) * channels + c  # nhwc


POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
UNPOOL = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}
CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}
MAX_SIZE = {1: 14, 2: 9, 3: 6}


def rand_nc(rnd):
    return rnd.choice([1, 2]), rnd.choice([1, 3])


# ---- max_unpool -------------------------------------------------------------------

def max_unpool_indices_case(nsp, dtype, index_layout):
    def make(rnd, i):
        N, C = rand_nc(rnd)
        k = [rnd.choice([2, 3]) for _ in range(nsp)]
        s = [rnd.randint(1, kk) if rnd.random() < 0.3 else kk for kk in k]
        p = [rnd.randint(0, kk // 2) for kk in k]
        size = [rnd.randint(kk, MAX_SIZE[nsp]) for kk in k]
        src = rand_values((N, C, *size), dtype, distinct=True)
        y, idx = POOL[nsp](compute(src), k, s, p, return_indices=True)
        default = [(y.shape[2 + d] - 1) * s[d] - 2 * p[d] + k[d] for d in range(nsp)]
        params = {"kernel_size": sp_list(k, nsp, rnd), "padding": sp_list(p, nsp, rnd),
                  "index_layout": index_layout}
        if s != k or rnd.random() < 0.3:
            params["stride"] = sp_list(s, nsp, rnd)
        if size != default or rnd.random() < 0.3:
            params["output_size"] = list(size) if rnd.random() < 0.7 else [N, C] + list(size)
        ref = UNPOOL[nsp](y, idx, k, s, p, output_size=size)
        plane = int(np.prod(size))
        wire_idx = convert_indices(idx, index_layout, plane, C)
        if rnd.random() < 0.3:
            wire_idx = wire_idx.to(torch.int32)
        run_case(rnd, "max_unpool", {"x": y.to(dtype), "indices": wire_idx}, params,
                 {"y": ref}, dtype, rnd.random() < 0.25)
    return make


def mask_reference(x, mask, k, s, p, out):
    """The seed's mask form: each value to its window's first nonzero."""
    nsp = len(k)
    xs = x.double().numpy()
    m = mask.double().numpy() != 0
    y = np.zeros(xs.shape[:2] + tuple(out))
    offsets = list(np.ndindex(*k))
    for n in range(xs.shape[0]):
        for c in range(xs.shape[1]):
            for o in np.ndindex(*xs.shape[2:]):
                for off in offsets:
                    pos = tuple(o[d] * s[d] - p[d] + off[d] for d in range(nsp))
                    if all(0 <= pos[d] < out[d] for d in range(nsp)) and m[(n, c) + pos]:
                        y[(n, c) + pos] = xs[(n, c) + o]
                        break
    return torch.from_numpy(y)


def max_unpool_mask_case(nsp, dtype):
    def make(rnd, i):
        N, C = rand_nc(rnd)
        k = [rnd.choice([2, 3]) for _ in range(nsp)]
        p = [rnd.randint(0, kk // 2) for kk in k]
        pooled = [rnd.randint(1, 4 if nsp < 3 else 3) for _ in range(nsp)]
        out = [(pooled[d] - 1) * k[d] - 2 * p[d] + k[d] + rnd.randint(0, k[d] - 1)
               for d in range(nsp)]
        if min(out) < 1:
            out = [max(1, o) for o in out]
        x = rand_values((N, C, *pooled), dtype)
        mask_dt = rnd.choice([torch.float32, torch.uint8, torch.int64, torch.bool])
        mask = (torch.rand(N, C, *out) < 0.3)
        mask = mask.to(mask_dt) if mask_dt != torch.bool else mask
        if mask_dt == torch.float32:
            mask = mask * torch.where(torch.rand(mask.shape) < 0.5, 1.0, -2.5)
        params = {"kernel_size": sp_list(k, nsp, rnd)}
        if any(p):
            params["padding"] = sp_list(p, nsp, rnd)
        ref = mask_reference(x, mask, k, k, p, out)
        run_case(rnd, "max_unpool", {"x": x, "mask": mask}, params, {"y": ref}, dtype,
                 rnd.random() < 0.25)
    return make


# ---- nearest_unpool ------------------------------------------------------------------

def nearest_case(nsp, dtype, mode, by):
    def make(rnd, i):
        N, C = rand_nc(rnd)
        size = [rnd.randint(1, MAX_SIZE[nsp] - 2) for _ in range(nsp)]
        x = rand_values((N, C, *size), dtype)
        tmode = "nearest" if mode == "nearest" else "nearest-exact"
        wire_mode = mode if rnd.random() < 0.5 or mode == "nearest" else "nearest-exact"
        params = {"mode": wire_mode} if mode != "nearest" or rnd.random() < 0.5 else {}
        if by == "scale":
            sf = [rnd.choice([1, 2, 3, 1.5, 2.5, 0.5, 1.75]) for _ in range(nsp)]
            sf = [f if math.floor(size[d] * f) >= 1 else 2 for d, f in enumerate(sf)]
            params["scale_factor"] = sp_list(sf, nsp, rnd)
            ref = F.interpolate(compute(x), scale_factor=sf, mode=tmode)
        else:
            out = [rnd.randint(1, MAX_SIZE[nsp] + 2) for _ in range(nsp)]
            params["output_size"] = sp_list(out, nsp, rnd)
            ref = F.interpolate(compute(x), size=out, mode=tmode)
        run_case(rnd, "nearest_unpool", {"x": x}, params, {"y": ref}, dtype, rnd.random() < 0.25)
    return make


# ---- fractional_max_unpool ----------------------------------------------------------

def asymmetric_reference(x, out, scales):
    """The seed's transform: src = dst * scale, lower = floor(src), upper =
    min(lower + 1, in - 1), linear weights per dim; in float64."""
    y = x.double().numpy()
    for d, (o, sc) in enumerate(zip(out, scales)):
        axis = 2 + d
        n_in = y.shape[axis]
        src = np.arange(o) * sc
        lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        w = (src - lo).reshape([-1 if a == axis else 1 for a in range(y.ndim)])
        y = np.take(y, lo, axis=axis) * (1 - w) + np.take(y, hi, axis=axis) * w
    return torch.from_numpy(y)


def interp_case(nsp, dtype, transform, by):
    def make(rnd, i):
        N, C = rand_nc(rnd)
        size = [rnd.randint(1, MAX_SIZE[nsp] - 2) for _ in range(nsp)]
        x = rand_values((N, C, *size), dtype)
        params = {}
        if transform != "asymmetric" or rnd.random() < 0.5:
            params["coordinate_transform"] = transform
        if by == "scale":
            sf = [rnd.choice([1, 2, 3, 1.5, 2.5, 0.75]) for _ in range(nsp)]
            sf = [f if math.floor(size[d] * f) >= 1 else 2 for d, f in enumerate(sf)]
            out = [math.floor(size[d] * sf[d]) for d in range(nsp)]
            params["scale_factor"] = sp_list(sf, nsp, rnd)
            scales = [1.0 / f for f in sf]
            kw = {"scale_factor": sf}
        else:
            out = [rnd.randint(1, MAX_SIZE[nsp] + 2) for _ in range(nsp)]
            params["output_size"] = sp_list(out, nsp, rnd)
            scales = [size[d] / out[d] for d in range(nsp)]
            kw = {"size": out}
        if transform == "asymmetric":
            ref = asymmetric_reference(compute(x), out, scales)
        else:
            ref = F.interpolate(compute(x), mode=LINEAR[nsp],
                                align_corners=transform == "align_corners", **kw)
        run_case(rnd, "fractional_max_unpool", {"x": x}, params, {"y": ref}, dtype,
                 rnd.random() < 0.25, tol=tol_for(dtype, "interp"))
    return make


# ---- resize ---------------------------------------------------------------------------

# resize (ONNX Resize) against the PyTorch mode it matches (README, "resize"):
# kind -> (torch mode or None for LINEAR[nsp], align_corners, antialias, params)
RESIZE_KINDS = {
    "nearest": ("nearest", None, False,
                {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}),
    "nearest_exact": ("nearest-exact", None, False,
                      {"coordinate_transformation_mode": "half_pixel",
                       "nearest_mode": "round_prefer_ceil"}),
    "linear": (None, False, False, {"mode": "linear"}),
    "linear_align_corners": (None, True, False,
                             {"mode": "linear", "coordinate_transformation_mode": "align_corners"}),
    "cubic": ("bicubic", False, False, {"mode": "cubic", "cubic_coeff_a": -0.75}),
    "cubic_align_corners": ("bicubic", True, False,
                            {"mode": "cubic", "coordinate_transformation_mode": "align_corners"}),
    "linear_antialias": (None, False, True,
                         {"mode": "linear", "antialias": 1, "exclude_outside": 1}),
    "cubic_antialias": ("bicubic", False, True,
                        {"mode": "cubic", "antialias": 1, "exclude_outside": 1,
                         "cubic_coeff_a": -0.5}),
}


def resize_case(nsp, dtype, kind, by):
    tmode, ac, aa, fixed = RESIZE_KINDS[kind]
    tmode = tmode or LINEAR[nsp]

    def make(rnd, i):
        N, C = rand_nc(rnd)
        size = [rnd.randint(2, MAX_SIZE[nsp] - 2) for _ in range(nsp)]
        x = rand_values((N, C, *size), dtype)
        layout_cl = rnd.random() < 0.25
        axes = list(range(1, nsp + 1)) if layout_cl else list(range(2, nsp + 2))
        params = dict(fixed)
        kw = {} if ac is None else {"align_corners": ac}
        if aa:
            kw["antialias"] = True
        if by == "scale":
            # align_corners: ONNX divides by in * scale - 1, PyTorch by out - 1
            # (README): the same only when in * scale is whole
            choices = [1, 2, 3] if ac else [1, 2, 3, 1.5, 2.5, 0.5, 1.75]
            sf = [rnd.choice(choices) for _ in range(nsp)]
            sf = [f if math.floor(size[d] * f) >= 2 else 2 for d, f in enumerate(sf)]
            sfl = [float(f) for f in sf]
            if rnd.random() < 0.5:
                params["scales"] = sfl
                params["axes"] = axes if rnd.random() < 0.5 else [a - nsp - 2 for a in axes]
            else:  # every axis, N and C at 1, in the client's layout
                params["scales"] = [1.0] + sfl + [1.0] if layout_cl else [1.0, 1.0] + sfl
            ref = F.interpolate(compute(x), scale_factor=sf, mode=tmode, **kw)
        else:
            out = [rnd.randint(2, MAX_SIZE[nsp] + 2) for _ in range(nsp)]
            params["sizes"] = out
            params["axes"] = axes
            ref = F.interpolate(compute(x), size=out, mode=tmode, **kw)
        tol = None if kind.startswith("nearest") else tol_for(dtype, "interp")
        run_case(rnd, "resize", {"x": x}, params, {"y": ref}, dtype, layout_cl, tol=tol)
    return make


def resize_groups():
    g = []
    for nsp in (1, 2, 3):
        kinds = ["nearest", "nearest_exact", "linear", "linear_align_corners"]
        if nsp == 2:
            kinds += ["cubic", "cubic_align_corners", "linear_antialias", "cubic_antialias"]
        for kind in kinds:
            for by in ("scale", "size"):
                g.append(("resize %dd %s %s" % (nsp, kind, by),
                          resize_case(nsp, torch.float32, kind, by)))
    for dt in (torch.float64, torch.float16, torch.bfloat16):
        for kind in ("nearest", "linear", "cubic"):
            g.append(("resize 2d %s %s" % (kind, dname(dt)), resize_case(2, dt, kind, "size")))
    return g


def scatter_reference(y, idx, out):
    N, C = y.shape[:2]
    plane = int(np.prod(out))
    res = torch.zeros(N, C, plane, dtype=y.dtype)
    flat = idx.reshape(N, C, -1)
    vals = y.reshape(N, C, -1)
    for n in range(N):
        for c in range(C):
            for j in range(flat.shape[2]):  # row-major: the last one wins
                res[n, c, flat[n, c, j]] = vals[n, c, j]
    return res.reshape(N, C, *out)


def fmp_max_out(size, k, nsp):
    """PyTorch's limit: out + k - 1 <= in for 2d, < in for 3d."""
    return size - k + 1 if nsp == 2 else size - k


def fmu_indices_case(nsp, dtype, index_layout):
    def make(rnd, i):
        N, C = rand_nc(rnd)
        size = [rnd.randint(4, MAX_SIZE[nsp]) for _ in range(nsp)]
        src = rand_values((N, C, *size), dtype, distinct=True)
        k = rnd.choice([2, 3])
        if nsp == 1:
            y, idx = F.max_pool1d(compute(src), k, return_indices=True)
        else:
            osz = [rnd.randint(1, fmp_max_out(size[d], k, nsp)) for d in range(nsp)]
            samples = torch.rand(N, C, nsp, dtype=compute(src).dtype)
            fmp = F.fractional_max_pool2d if nsp == 2 else F.fractional_max_pool3d
            y, idx = fmp(compute(src), k, output_size=osz, return_indices=True,
                         _random_samples=samples)
        params = {"output_size": sp_list(size, nsp, rnd), "index_layout": index_layout}
        ref = scatter_reference(y, idx, size)
        wire_idx = convert_indices(idx, index_layout, int(np.prod(size)), C)
        run_case(rnd, "fractional_max_unpool", {"x": y.to(dtype), "indices": wire_idx}, params,
                 {"y": ref}, dtype, rnd.random() < 0.25)
    return make


# ---- conv_transpose --------------------------------------------------------------------

def conv_case(nsp, dtype, variant):
    def make(rnd, i):
        N = rnd.choice([1, 2])
        g = rnd.choice([1, 2]) if variant in ("groups", "all") else 1
        cin, cout = g * rnd.randint(1, 3), g * rnd.randint(1, 3)
        k = [rnd.randint(1, 3) for _ in range(nsp)]
        s = [rnd.randint(1, 3) for _ in range(nsp)] if variant != "plain" else [1] * nsp
        dil = [rnd.randint(1, 2) for _ in range(nsp)] if variant in ("dilation", "all") else [1] * nsp
        p = [rnd.randint(0, dil[d] * (k[d] - 1)) for d in range(nsp)] if variant != "plain" else [0] * nsp
        size = [rnd.randint(1, MAX_SIZE[nsp] - 3) for _ in range(nsp)]
        op_ = [0] * nsp
        by_size = variant == "output_size" or (variant == "all" and rnd.random() < 0.5)
        if variant in ("output_padding", "all") and not by_size:
            # F.conv_transpose: output_padding < max(stride, dilation)
            op_ = [rnd.randint(0, max(s[d], dil[d]) - 1) for d in range(nsp)]
        elif by_size:
            # nn.ConvTranspose's output_size: at most stride - 1 above the minimum
            op_ = [rnd.randint(0, s[d] - 1) for d in range(nsp)]
        x = rand_values((N, cin, *size), dtype)
        w = rand_values((cin, cout // g, *k), dtype)
        b = rand_values((cout,), dtype) if rnd.random() < 0.6 else None
        out = [(size[d] - 1) * s[d] - 2 * p[d] + dil[d] * (k[d] - 1) + op_[d] + 1 for d in range(nsp)]
        if min(out) < 1:
            p = [0] * nsp
            out = [(size[d] - 1) * s[d] + dil[d] * (k[d] - 1) + op_[d] + 1 for d in range(nsp)]
        params = {}
        if any(v != 1 for v in s) or rnd.random() < 0.3:
            params["stride"] = sp_list(s, nsp, rnd)
        if any(p):
            params["padding"] = sp_list(p, nsp, rnd)
        if any(v != 1 for v in dil):
            params["dilation"] = sp_list(dil, nsp, rnd)
        if g != 1:
            params["groups"] = g
        if by_size:
            params["output_size"] = list(out) if rnd.random() < 0.7 else [N, cout] + list(out)
        elif any(op_):
            params["output_padding"] = sp_list(op_, nsp, rnd)
        ref = CONVT[nsp](compute(x), compute(w), None if b is None else compute(b), s, p, op_, g,
                         dil)
        ins = {"x": x, "weight": w}
        if b is not None:
            ins["bias"] = b
        run_case(rnd, "conv_transpose", ins, params, {"y": ref}, dtype, rnd.random() < 0.25,
                 tol=tol_for(dtype, "conv"))
    return make


# ---- max_pool ------------------------------------------------------------------------------

def max_pool_case(nsp, dtype, variant, index_layout="plane"):
    def make(rnd, i):
        while True:
            N, C = rand_nc(rnd)
            k = [rnd.choice([2, 3]) for _ in range(nsp)]
            s = [rnd.randint(1, kk) for kk in k] if variant != "plain" else k
            p = [rnd.randint(0, kk // 2) for kk in k] if variant != "plain" else [0] * nsp
            dil = [rnd.randint(1, 2) for _ in range(nsp)] if variant in ("dilation", "all") else [1] * nsp
            ceil = variant in ("ceil", "all") and rnd.random() < 0.7
            size = [rnd.randint(dil[d] * (k[d] - 1) + 1, MAX_SIZE[nsp]) for d in range(nsp)]
            x = rand_values((N, C, *size), dtype, distinct=dtype != torch.bfloat16)
            try:
                y, idx = POOL[nsp](compute(x), k, s, p, dil, ceil_mode=ceil, return_indices=True)
            except RuntimeError:
                continue  # a geometry PyTorch rejects: draw again
            break
        params = {"kernel_size": sp_list(k, nsp, rnd)}
        if s != k:
            params["stride"] = sp_list(s, nsp, rnd)
        if any(p):
            params["padding"] = sp_list(p, nsp, rnd)
        if any(v != 1 for v in dil):
            params["dilation"] = sp_list(dil, nsp, rnd)
        if ceil or rnd.random() < 0.2:
            params["ceil_mode"] = ceil
        if index_layout != "plane" or rnd.random() < 0.2:
            params["index_layout"] = index_layout
        ref_idx = convert_indices(idx, index_layout, int(np.prod(size)), C)
        run_case(rnd, "max_pool", {"x": x}, params, {"y": y, "indices": ref_idx}, dtype,
                 rnd.random() < 0.25)
    return make


# ---- fractional_max_pool --------------------------------------------------------------------

def fmp_case(nsp, dtype, by, index_layout="plane"):
    def make(rnd, i):
        N, C = rand_nc(rnd)
        k = rnd.choice([2, 3])
        lo = 2 * k + 2 if by == "ratio" else k + 1  # room for ratio 0.5 under PyTorch's limit
        size = [rnd.randint(lo, max(lo, MAX_SIZE[nsp] + 2)) for _ in range(nsp)]
        x = rand_values((N, C, *size), dtype, distinct=dtype != torch.bfloat16)
        ct = compute(x).dtype
        samples = torch.rand(N, C, nsp, dtype=torch.float64).to(ct)
        fmp = F.fractional_max_pool2d if nsp == 2 else F.fractional_max_pool3d
        params = {"kernel_size": k}
        if by == "ratio":
            ratio = [rnd.choice([0.5, 0.6, 0.7]) for _ in range(nsp)]
            ratio = [r if 1 <= math.floor(size[d] * r) <= fmp_max_out(size[d], k, nsp)
                     else 0.5 for d, r in enumerate(ratio)]
            out = [int(size[d] * ratio[d]) for d in range(nsp)]
            params["output_ratio"] = sp_list(ratio, nsp, rnd)
        else:
            out = [rnd.randint(1, fmp_max_out(size[d], k, nsp)) for d in range(nsp)]
            params["output_size"] = sp_list(out, nsp, rnd)
        if index_layout != "plane":
            params["index_layout"] = index_layout
        y, idx = fmp(compute(x), k, output_size=out, return_indices=True, _random_samples=samples)
        ref_idx = convert_indices(idx, index_layout, int(np.prod(size)), C)
        run_case(rnd, "fractional_max_pool", {"x": x, "samples": samples}, params,
                 {"y": y, "indices": ref_idx}, dtype, rnd.random() < 0.25)
    return make


def fmp_seed_case(nsp):
    """With a seed the server draws the samples: the answer must be
    reproducible, a valid pooling (each y is the max of its window's x at
    its index) and differ between seeds somewhere."""
    def make(rnd, i):
        N, C, k = 2, 2, 2
        size = [rnd.randint(6, MAX_SIZE[nsp] + 2) for _ in range(nsp)]
        out = [rnd.randint(2, size[d] - k) for d in range(nsp)]
        x = rand_values((N, C, *size), torch.float32, distinct=True)
        body = {"inputs": {"x": to_wire(x, False)},
                "params": {"kernel_size": k, "output_size": out, "seed": 7 + i}}
        st1, a1 = call("fractional_max_pool", body)
        st2, a2 = call("fractional_max_pool", body)
        if st1 != 200 or st2 != 200:
            raise CaseError("status %d/%d: %s" % (st1, st2, json.dumps(a1)[:300]))
        if a1["outputs"] != a2["outputs"]:
            raise CaseError("same seed, different answers")
        y, idx = from_wire(a1["outputs"]["y"]), from_wire(a1["outputs"]["indices"])
        if list(y.shape) != [N, C, *out]:
            raise CaseError("shape %s" % list(y.shape))
        gathered = x.reshape(N, C, -1).gather(2, idx.reshape(N, C, -1)).reshape(y.shape)
        if not torch.equal(gathered, y):
            raise CaseError("y is not x at the returned indices")
        # every y must be the max of a k-window around its index
        xf = x.reshape(N, C, *size)
        for n in range(N):
            for c in range(C):
                for pos in np.ndindex(*out):
                    flat = int(idx[(n, c) + pos])
                    coords = np.unravel_index(flat, size)
                    for start in [tuple(max(0, min(co - o, size[d] - k)) for d, (co, o) in
                                        enumerate(zip(coords, off))) for off in np.ndindex(*([k] * nsp))]:
                        win = xf[(n, c) + tuple(slice(st, st + k) for st in start)]
                        if float(win.max()) == float(y[(n, c) + pos]):
                            break
                    else:
                        raise CaseError("y%s is not the max of any window holding its index" % (pos,))
    return make


# ---- round trip through the server -----------------------------------------------------------

def roundtrip_case(nsp):
    def make(rnd, i):
        N, C = rand_nc(rnd)
        k = [2] * nsp
        size = [rnd.randint(2, MAX_SIZE[nsp]) // 2 * 2 for _ in range(nsp)]
        x = rand_values((N, C, *size), torch.float32, distinct=True)
        st, a = call("max_pool", {"inputs": {"x": to_wire(x, False)}, "params": {"kernel_size": 2}})
        if st != 200:
            raise CaseError("max_pool status %d" % st)
        y, idx = a["outputs"]["y"], a["outputs"]["indices"]
        st, b = call("max_unpool", {"inputs": {"x": y, "indices": idx},
                                    "params": {"kernel_size": 2, "output_size": size}})
        if st != 200:
            raise CaseError("max_unpool status %d: %s" % (st, json.dumps(b)[:300]))
        py, pi = POOL[nsp](x, k, return_indices=True)
        want = UNPOOL[nsp](py, pi, k, output_size=size)
        if not torch.equal(from_wire(b["outputs"]["y"]), want):
            raise CaseError("round trip differs from PyTorch")
    return make


# ---- pixel_shuffle / pixel_unshuffle ------------------------------------------------------

INTS = {torch.uint8: (0, 256), torch.int8: (-128, 128)}


def rand_image(shape, dtype, distinct=False):
    """rand_values, or random integers for the integer image dtypes."""
    if dtype in INTS:
        lo, hi = INTS[dtype]
        return torch.randint(lo, hi, shape, dtype=torch.int64).to(dtype)
    return rand_values(shape, dtype, distinct)


def d2s_dcr(x, r):
    n, c, h, w = x.shape
    return x.reshape(n, r, r, c // (r * r), h, w).permute(0, 3, 4, 1, 5, 2).reshape(
        n, c // (r * r), h * r, w * r)


def s2d_dcr(x, r):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // r, r, w // r, r).permute(0, 3, 5, 1, 2, 4).reshape(
        n, c * r * r, h // r, w // r)


def shuffle_case(up, dtype, mode):
    """PyTorch's pixel_shuffle / pixel_unshuffle for crd; ONNX's
    DepthToSpace / SpaceToDepth definition for dcr."""
    def make(rnd, i):
        N, C = rand_nc(rnd)
        r = rnd.choice([1, 2, 2, 3, 4])
        h, w = rnd.randint(1, 6), rnd.randint(1, 9)
        if up:
            x = rand_image((N, C * r * r, h, w), dtype)
            y = F.pixel_shuffle(x, r) if mode == "crd" else d2s_dcr(x, r)
            op, params = "pixel_shuffle", {"upscale_factor": r}
        else:
            x = rand_image((N, C, h * r, w * r), dtype)
            y = F.pixel_unshuffle(x, r) if mode == "crd" else s2d_dcr(x, r)
            op, params = "pixel_unshuffle", {"downscale_factor": r}
        if mode != "crd" or rnd.random() < 0.3:
            params["mode"] = mode
        run_case(rnd, op, {"x": x}, params, {"y": y}, dtype, rnd.random() < 0.25)
    return make


# ---- ONNX padding forms, against explicitly padded PyTorch calls -----------------------------

def torch_pads(pads, nsp):
    out = []
    for d in reversed(range(nsp)):
        out += [pads[d], pads[nsp + d]]
    return out


def onnx_pool_case(nsp, dtype, variant):
    """max_pool with pads / auto_pad / storage_order: F.pad with -inf, then
    max_pool without padding; indices mapped back to the input's plane.
    Integer images are compared with the float result cast back."""
    def make(rnd, i):
        N, C = rand_nc(rnd)
        k = [rnd.choice([1, 2, 3]) for _ in range(nsp)]
        s = [rnd.randint(1, 3) for _ in range(nsp)]
        dil = [rnd.randint(1, 2) for _ in range(nsp)]
        size = [rnd.randint(dil[d] * (k[d] - 1) + 1, MAX_SIZE[nsp]) for d in range(nsp)]
        params = {"kernel_size": sp_list(k, nsp, rnd), "stride": sp_list(s, nsp, rnd)}
        if any(v != 1 for v in dil):
            params["dilation"] = sp_list(dil, nsp, rnd)
        span = [dil[d] * (k[d] - 1) + 1 for d in range(nsp)]
        if variant == "pads":
            # up to a whole window less one on each side: every window
            # still holds an element of x
            pads = [rnd.randint(0, span[d % nsp] - 1) for d in range(2 * nsp)]
            params["pads"] = pads
        else:
            params["auto_pad"] = variant
            pads = [0] * (2 * nsp)
            for d in range(nsp):
                if variant == "valid":
                    continue
                out = -(-size[d] // s[d])
                total = max(0, (out - 1) * s[d] + span[d] - size[d])
                pads[d] = total - total // 2 if variant == "same_lower" else total // 2
                pads[nsp + d] = total - pads[d]
        so = rnd.random() < 0.3
        if so:
            params["storage_order"] = 1
        x = rand_image((N, C, *size), dtype, distinct=dtype not in INTS)
        xp = F.pad(compute(x) if dtype not in INTS else x.float(), torch_pads(pads, nsp),
                   value=-math.inf)
        y, ip = POOL[nsp](xp, k, s, 0, dil, return_indices=True)
        coords = np.unravel_index(ip.numpy(), xp.shape[2:])
        coords = [c - pads[d] for d, c in enumerate(coords)]
        idx = np.ravel_multi_index(coords, size, order="F" if so else "C")
        run_case(rnd, "max_pool", {"x": x}, params,
                 {"y": y, "indices": torch.from_numpy(idx.astype(np.int64))}, dtype,
                 rnd.random() < 0.25)
    return make


def onnx_conv_case(nsp, variant):
    """conv_transpose with pads / auto_pad / output_shape: the unpadded
    conv_transpose, cropped by the begin and end pads ONNX's rules give."""
    def make(rnd, i):
        N = rnd.randint(1, 2)
        cin, cout = rnd.randint(1, 3), rnd.randint(1, 3)
        k = [rnd.randint(1, 3) for _ in range(nsp)]
        s = [rnd.randint(1, 3) for _ in range(nsp)]
        size = [rnd.randint(1, 5) for _ in range(nsp)]
        x = rand_values((N, cin, *size), torch.float32)
        w = rand_values((cin, cout, *k), torch.float32)
        full = CONVT[nsp](x, w, None, s)
        params = {"stride": sp_list(s, nsp, rnd)}
        if variant == "pads":
            pads = [rnd.randint(0, (full.shape[2 + d % nsp] - 1) // 2) for d in range(2 * nsp)]
            params["pads"] = pads
        else:
            if variant == "output_shape":
                target = [rnd.randint(max(1, full.shape[2 + d] - 3), full.shape[2 + d])
                          for d in range(nsp)]
                params["output_shape"] = target
                upper = rnd.random() < 0.5
                if upper:
                    params["auto_pad"] = "same_upper"
            else:
                target = [size[d] * s[d] for d in range(nsp)]
                params["auto_pad"] = variant
                upper = variant == "same_upper"
            pads = [0] * (2 * nsp)
            for d in range(nsp):
                total = full.shape[2 + d] - target[d]
                pads[d] = total // 2 if upper else total - total // 2
                pads[nsp + d] = total - pads[d]
        # a negative pad (a target past the full size) adds zero outputs
        full = F.pad(full, torch_pads([max(0, -v) for v in pads], nsp))
        sl = [slice(None), slice(None)]
        for d in range(nsp):
            end = full.shape[2 + d] - max(0, pads[nsp + d])
            sl.append(slice(max(0, pads[d]), end))
        y = full[tuple(sl)]
        run_case(rnd, "conv_transpose", {"x": x, "weight": w}, params, {"y": y},
                 torch.float32, rnd.random() < 0.25, tol_for(torch.float32, "conv"))
    return make


def int_nearest_case(nsp, dtype, mode):
    """nearest_unpool on integer images: PyTorch's own uint8 kernel; int8
    (no PyTorch kernel) against the float result cast back."""
    def make(rnd, i):
        N, C = rand_nc(rnd)
        size = [rnd.randint(1, MAX_SIZE[nsp]) for _ in range(nsp)]
        x = rand_image((N, C, *size), dtype)
        sf = rnd.choice([0.5, 1.5, 2.0, 3.0])
        if any(int(v * sf) < 1 for v in size):
            sf = 2.0
        ref = x if dtype == torch.uint8 else x.float()
        y = F.interpolate(ref, scale_factor=sf, mode=mode.replace("_", "-"))
        run_case(rnd, "nearest_unpool", {"x": x}, {"scale_factor": sf, "mode": mode}, {"y": y},
                 dtype, rnd.random() < 0.25)
    return make


# ---- the groups -------------------------------------------------------------------------------

def dname(dt):
    return {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16",
            torch.bfloat16: "bf16", torch.uint8: "u8", torch.int8: "i8"}[dt]


def all_groups():
    g = []
    for nsp in (1, 2, 3):
        for dt in FLOATS:
            g.append(("max_unpool %dd indices %s" % (nsp, dname(dt)),
                      max_unpool_indices_case(nsp, dt, "plane")))
        for lay in ("tensor", "hwc", "nhwc"):
            g.append(("max_unpool %dd index_layout %s" % (nsp, lay),
                      max_unpool_indices_case(nsp, torch.float32, lay)))
        for dt in (torch.float32, torch.float16):
            g.append(("max_unpool %dd mask %s" % (nsp, dname(dt)), max_unpool_mask_case(nsp, dt)))
        for mode in ("nearest", "nearest_exact"):
            for by in ("scale", "size"):
                g.append(("nearest_unpool %dd %s %s" % (nsp, mode, by),
                          nearest_case(nsp, torch.float32, mode, by)))
        for dt in (torch.float64, torch.float16, torch.bfloat16):
            g.append(("nearest_unpool %dd %s" % (nsp, dname(dt)),
                      nearest_case(nsp, dt, "nearest_exact", "scale")))
        for tr in ("asymmetric", "half_pixel", "align_corners"):
            for by in ("scale", "size"):
                g.append(("fractional_max_unpool %dd %s %s" % (nsp, tr, by),
                          interp_case(nsp, torch.float32, tr, by)))
        for dt in (torch.float64, torch.float16, torch.bfloat16):
            g.append(("fractional_max_unpool %dd half_pixel %s" % (nsp, dname(dt)),
                      interp_case(nsp, dt, "half_pixel", "scale")))
        for lay in ("plane", "nhwc"):
            g.append(("fractional_max_unpool %dd indices %s" % (nsp, lay),
                      fmu_indices_case(nsp, torch.float32, lay)))
        for var in ("plain", "stride_padding", "dilation", "groups", "output_padding",
                    "output_size", "all"):
            g.append(("conv_transpose %dd %s" % (nsp, var), conv_case(nsp, torch.float32, var)))
        for dt in (torch.float64, torch.float16, torch.bfloat16):
            g.append(("conv_transpose %dd %s" % (nsp, dname(dt)), conv_case(nsp, dt, "all")))
        for var in ("plain", "stride_padding", "dilation", "ceil", "all"):
            g.append(("max_pool %dd %s" % (nsp, var), max_pool_case(nsp, torch.float32, var)))
        for dt in (torch.float64, torch.float16, torch.bfloat16):
            g.append(("max_pool %dd %s" % (nsp, dname(dt)), max_pool_case(nsp, dt, "all")))
        for lay in ("tensor", "hwc", "nhwc"):
            g.append(("max_pool %dd index_layout %s" % (nsp, lay),
                      max_pool_case(nsp, torch.float32, "all", lay)))
        g.append(("max_pool -> max_unpool %dd round trip" % nsp, roundtrip_case(nsp)))
        for var in ("pads", "same_upper", "same_lower", "valid"):
            g.append(("max_pool %dd onnx %s" % (nsp, var), onnx_pool_case(nsp, torch.float32, var)))
        for dt in INTS:
            g.append(("max_pool %dd onnx pads %s" % (nsp, dname(dt)), onnx_pool_case(nsp, dt, "pads")))
            for mode in ("nearest", "nearest_exact"):
                g.append(("nearest_unpool %dd %s %s" % (nsp, mode, dname(dt)),
                          int_nearest_case(nsp, dt, mode)))
        for var in ("pads", "same_upper", "same_lower", "output_shape"):
            g.append(("conv_transpose %dd onnx %s" % (nsp, var), onnx_conv_case(nsp, var)))
    for nsp in (2, 3):
        for by in ("size", "ratio"):
            g.append(("fractional_max_pool %dd samples %s" % (nsp, by),
                      fmp_case(nsp, torch.float32, by)))
        for dt in (torch.float64, torch.float16, torch.bfloat16):
            g.append(("fractional_max_pool %dd %s" % (nsp, dname(dt)), fmp_case(nsp, dt, "size")))
        for lay in ("tensor", "hwc", "nhwc"):
            g.append(("fractional_max_pool %dd index_layout %s" % (nsp, lay),
                      fmp_case(nsp, torch.float32, "size", lay)))
        g.append(("fractional_max_pool %dd seed" % nsp, fmp_seed_case(nsp)))
    for up in (True, False):
        for mode in ("crd", "dcr"):
            for dt in FLOATS + list(INTS):
                g.append(("%s %s %s" % ("pixel_shuffle" if up else "pixel_unshuffle", mode,
                                        dname(dt)), shuffle_case(up, dt, mode)))
    return g + resize_groups()


def main():
    global BASE
    proc, port, log = start_daemon_or_finish()
    BASE = "http://127.0.0.1:%d" % port
    t0 = time.time()
    try:
        groups = all_groups()
        for name, make in groups:
            rnd = random.Random("%d %s" % (SEED, name))
            torch.manual_seed(rnd.randrange(1 << 31))
            group(name, rnd, make, CASES_PER_GROUP if "seed" not in name else 2)
    finally:
        stop_daemon(proc)
    print("    %d groups, %d requests in %.1f s" % (len(groups), CALLS, time.time() - t0))
    finish()


if __name__ == "__main__":
    main()
