"""report.py -- turn bench/run.sh's results.tsv into the table `make bench`
prints: medians side by side, the ratios the performance targets are stated
in, and a PASS/FAIL line per target (all from this one run).

Input lines (tab-separated), written by kbench, torch_ref.py, ort_ref.py,
dnnl_deconv, http_big.py and run.sh:
    unpoold <case> <variant> <median_ms> <min_ms> <kernel_ms> <gflops>
    torch   <case> ref       <median_ms> <min_ms> <median_ms> <gflops>
    ort     <case> ref       <median_ms> <min_ms> <median_ms> <gflops>
    dnnl    <case> nchw|blocked <median_ms> <min_ms> <median_ms> <gflops>
    codec   <name> <impl>    <MB_per_s>
    http    <row>  <impl>    <values...>
(grpc_small.py/h2load, grpc_big.py and kserve_big_client write "http
grpc_small h2load ...", "http grpc_big max_unpool ..." and "http kserve_big
max_unpool ..." rows.)
A kernel row that comes twice (run.sh's A B C D D C B A passes) counts as
the median of its passes, field by field.
Usage: report.py results.tsv
"""
import statistics
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                rows.append(parts)
    return rows


def main():
    rows = load(sys.argv[1])
    passes, http = {}, {}
    for r in rows:
        if r[0] == "http":
            http.setdefault((r[1], r[2]), []).append(r[3:])
        else:
            passes.setdefault((r[0], r[1], r[2]), []).append([float(v) for v in r[3:]])
    med = {k: [statistics.median(col) for col in zip(*v)] for k, v in passes.items()}
    ours = {(c, v): x for (who, c, v), x in med.items() if who == "unpoold"}
    ref = {c: x for (who, c, v), x in med.items() if who == "torch"}
    ort = {c: x for (who, c, v), x in med.items() if who == "ort"}
    dnnl = {(c, v): x for (who, c, v), x in med.items() if who == "dnnl"}
    targets = []

    def target(label, ok, detail):
        targets.append((label, ok, detail))

    floor = min((ours[k][0] for k in ours if k[1].startswith("floor_")), default=None)
    print("== kernels, timed as the server runs them (plan prepare + output allocation +")
    print("   kernel over all workers); ms are medians; 'kernel' is the compute phase alone")
    print("   x torch, x ort: how many times faster unpoold is; GFLOP/s: unpoold / PyTorch / ORT")
    print("%-24s %9s %9s %9s %8s %9s %8s %9s %s" % ("case", "unpoold", "kernel", "pytorch",
                                                    "x torch", "ort", "x ort", "k/floor",
                                                    "GFLOP/s"))
    cases = []
    for (case, variant) in ours:
        if variant == "pool" and case not in cases:
            cases.append(case)
    # pixel_shuffle2d_f32's bytes: every f32 shuffle case moves as many
    copy_floor = min((v[0] for (c, var), v in ours.items() if var == "copyfloor"), default=None)
    for case in cases:
        t, _, k, gf = ours[(case, "pool")]
        tr, to = ref.get(case), ort.get(case)
        speed = tr[0] / t if tr else None
        vs_ort = to[0] / t if to else None
        is_unpool = case.startswith(("max_unpool", "nearest", "fmu", "resize")) and "small" not in case
        kf = k / floor if floor and is_unpool else None
        if case.startswith("pixel_") and case.endswith("_f32") and copy_floor:
            kf = k / copy_floor  # a permutation: against a plain copy of as many bytes
        gfs = ("%.1f / %.1f / %s" % (gf, tr[3] if tr else 0, "%.1f" % to[3] if to else "-")
               if gf else "")
        print("%-24s %9.3f %9.3f %9s %8s %9s %8s %9s %s" % (
            case, t, k, "%.3f" % tr[0] if tr else "-", "%.2fx" % speed if speed else "-",
            "%.3f" % to[0] if to else "-", "%.2fx" % vs_ort if vs_ort else "-",
            "%.2f" % kf if kf else "", gfs))
        if case in ("max_unpool2d_f32", "nearest2d_f32", "fmu2d_f32", "max_pool2d_f32") and to:
            target("%s >= 1.3x ONNX Runtime" % case, vs_ort >= 1.3, "%.2fx" % vs_ort)
        if case.startswith("conv_transpose") and case.endswith("_f32") and to:
            need = 1.1 if case == "conv_transpose2d_f32" else 1.0
            target("%s >= %.1fx ORT GFLOP/s" % (case, need), gf >= need * to[3],
                   "%.1f vs %.1f GFLOP/s (%.2fx)" % (gf, to[3], gf / to[3]))
        dn = dnnl.get((case, "nchw"))
        if case == "conv_transpose2d_f32" and dn:
            target("%s >= 1.0x oneDNN GFLOP/s (NCHW)" % case, gf >= dn[3],
                   "%.1f vs %.1f GFLOP/s (%.2fx)" % (gf, dn[3], gf / dn[3]))
        if case in ("max_unpool2d_f32", "nearest2d_f32", "fmu2d_f32") and tr:
            target("%s >= 3x PyTorch" % case, speed >= 3.0, "%.2fx" % speed)
            if kf:
                target("%s kernel <= 1.5x floor" % case, kf <= 1.5, "%.2fx floor" % kf)
        if case.startswith("resize_"):
            if tr:
                target("%s >= PyTorch" % case, speed >= 1.0, "%.2fx" % speed)
            if to:
                target("%s >= ONNX Runtime" % case, vs_ort >= 1.0, "%.2fx" % vs_ort)
            if kf and "linear" in case:
                target("%s kernel <= 1.5x floor" % case, kf <= 1.5, "%.2fx floor" % kf)
        if case in ("pixel_shuffle2d_f32", "pixel_unshuffle2d_f32"):
            if kf:
                target("%s kernel <= 1.5x copy floor" % case, kf <= 1.5,
                       "%.2fx the copy floor" % kf)
            if to:
                target("%s >= ONNX Runtime" % case, vs_ort >= 1.0, "%.2fx" % vs_ort)
            if tr:
                target("%s >= PyTorch" % case, speed >= 1.0, "%.2fx" % speed)
        if case == "max_pool2d_f32" and tr:
            target("max_pool2d_f32 >= PyTorch", speed >= 1.0, "%.2fx" % speed)
        if case == "conv_transpose2d_f32" and tr:
            target("conv_transpose2d_f32 >= 1.2x PyTorch GFLOP/s", gf >= 1.2 * tr[3],
                   "%.1f vs %.1f GFLOP/s (%.2fx)" % (gf, tr[3], gf / tr[3]))

    if dnnl:
        print()
        print("== conv_transpose against oneDNN's deconvolution (GFLOP/s, medians): NCHW with a")
        print("   fresh output, as a client gets it, and oneDNN's own blocked layouts, preallocated")
        print("%-24s %9s %9s %9s %9s %9s" % ("case", "unpoold", "onednn", "blocked", "ort",
                                             "pytorch"))
        for case in cases:
            dn, db = dnnl.get((case, "nchw")), dnnl.get((case, "blocked"))
            if not dn or (case, "pool") not in ours:
                continue
            to, tr = ort.get(case), ref.get(case)
            print("%-24s %9.1f %9.1f %9.1f %9s %9s" % (
                case, ours[(case, "pool")][3], dn[3], db[3] if db else 0,
                "%.1f" % to[3] if to else "-", "%.1f" % tr[3] if tr else "-"))

    codec = {(c, v): x[0] for (who, c, v), x in med.items() if who == "codec"}
    if codec:
        print()
        print("== wire codecs on one core, MB/s of text (medians, A B B A against the reference)")
        print("%-24s %10s %10s %10s" % ("codec", "unpoold", "reference", "ratio"))
        for name in ("b64_decode", "b64_encode", "json_list_decode_f32", "json_list_encode_f32",
                     "json_list_decode_f64", "json_list_encode_f64"):
            ours_mb = codec.get((name, "unpoold"))
            ref_mb = next((v for (c, impl), v in codec.items() if c == name and impl != "unpoold"),
                          None)
            if ours_mb is None:
                continue
            print("%-24s %10.1f %10s %10s" % (name, ours_mb, "%.1f" % ref_mb if ref_mb else "-",
                                               "%.2fx" % (ours_mb / ref_mb) if ref_mb else "-"))
            need = 2000.0 if name.startswith("b64") else 400.0
            target("%s >= %.0f MB/s" % (name, need), ours_mb >= need, "%.0f MB/s" % ours_mb)

    print()
    print("== floor: plain zero-and-scatter over max_unpool2d_f32's bytes, prefaulted output")
    for (case, variant), v in sorted(ours.items()):
        if variant.startswith("floor_"):
            print("   %-16s %8.3f ms" % (variant, v[0]))
    print("   floor = best of them: %.3f ms" % floor if floor else "   (no floor rows)")
    for (case, variant), v in sorted(ours.items()):
        if variant == "copyfloor":
            print("   copy floor for %s (memcpy of its bytes, prefaulted output): %.3f ms"
                  % (case, v[0]))

    print()
    print("== one big request: W workers vs 1 worker, timed alternately (kbench -s), and the")
    print("   buffer cache off (huge pages only)")
    print("   speedup = median over repetitions of (W=1 time / W time), each pair back to back")
    print("%-24s %9s %9s %8s %12s" % ("case", "W", "W=1", "speedup", "no cache"))
    for case in cases:
        if (case, "wratio") not in ours:
            continue
        tw, t1 = ours[(case, "wpair")][0], ours[(case, "w1")][0]
        sp = ours[(case, "wratio")][0]
        nc = ours.get((case, "nocache"))
        print("%-24s %9.3f %9.3f %7.2fx %12s" % (case, tw, t1, sp,
                                                 "%.3f" % nc[0] if nc else "-"))
        # The target is stated for one big request; it is checked on the
        # requests with work to split (max_pool's window scans, the GEMM).
        # The unpool family only moves bytes: it is listed against the
        # floor's own scaling below, which is what the memory bus allows.
        if case in ("max_pool2d_f32", "conv_transpose2d_f32"):
            target("%s W >= 1.7x W=1" % case, sp >= 1.7, "%.2fx" % sp)
    fw = min((ours[k][0] for k in ours if k[1].startswith("wpfloor_")), default=None)
    f1 = min((ours[k][0] for k in ours if k[1].startswith("w1floor_")), default=None)
    fr = max((ours[k][0] for k in ours if k[1].startswith("wratio_floor_")), default=None)
    if fw and f1 and fr:
        print("%-24s %9.3f %9.3f %7.2fx %12s" % ("floor (zero+scatter)", fw, f1, fr, "-"))
        print("   the floor moves the bytes of max_unpool2d_f32 and nothing else: its speedup")
        print("   (best of its variants) is about the most a memory-bound request can gain from")
        print("   W workers on this machine")

    print()
    print("== what a fresh 128 MiB output costs (allocate + memset + free)")
    for (case, variant), v in sorted(ours.items()):
        if case.startswith("alloc"):
            print("   %-16s %8.3f ms" % (variant, v[0]))

    big_rows = (("safetensors max_unpool 64MiB", "big_safetensors_max_unpool", 1),
                ("npy max_unpool 64MiB", "big_npy_max_unpool", 1),
                ("npy nearest x2 64MiB", "big_npy_nearest", 1),
                ("json b64 max_unpool 64MiB", "big_json_b64_max_unpool", 0),
                ("json lists max_unpool 64MiB", "big_json_lists_max_unpool", 0),
                ("bare socket, max_unpool bytes", "big_bare_socket", 0))
    if any(http.get((row, "unpoold")) for _, row, _ in big_rows):
        print()
        print("== large requests over HTTP (Server-Timing medians, ms); the same 64 MiB x and")
        print("   its 128 MiB of indices -> 256 MiB y, except the nearest row (x only)")
        print("%-30s %8s %8s %8s %8s %8s %12s" % ("request", "decode", "queue", "compute",
                                                 "encode", "total", "dec+enc %"))
        for name, row, is_target in big_rows:
            v = http.get((row, "unpoold"))
            if not v:
                continue
            d = [float(x) for x in v[0]]
            print("%-30s %8.2f %8.2f %8.2f %8.2f %8.2f %11.1f%%" % (name, *d[:5], d[5] * 100))
            if is_target:
                target("%s decode+encode < 20%%" % name, d[5] < 0.20, "%.1f%%" % (d[5] * 100))
        print()
        print("== round trips, client side: (request + response bytes) / wall time, median")
        print("%-30s %10s %10s %10s %10s" % ("request", "req MB", "resp MB", "wall ms", "MB/s"))
        for name, row, _ in big_rows:
            v = http.get(("throughput", row))
            if not v:
                continue
            rq, rs, wall, mbs = (float(x) for x in v[0])
            print("%-30s %10.1f %10.1f %10.1f %10.1f" % (name, rq / 1e6, rs / 1e6, wall, mbs))
    shm_rows = (("max_unpool 64MiB", "max_unpool", 1), ("nearest x2 64MiB", "nearest", 0),
                ("conv_transpose 16MiB out", "conv_transpose", 0))
    if any(http.get(("shm_e2e", row)) for _, row, _ in shm_rows):
        print()
        print("== shared memory (Triton's system shared-memory extension), end to end from a")
        print("   tritonclient call; medians, ms. shm: inputs in a registered region, y written")
        print("   into one; +read: and y read out as NumPy; binary: tritonclient with binary")
        print("   tensor data; torch: in-process, fresh output")
        print("%-26s %8s %8s %8s %9s %8s %9s %8s" % ("request", "shm", "server", "+read",
                                                    "binary", "torch", "x binary", "x torch"))
        for name, row, is_target in shm_rows:
            v = http.get(("shm_e2e", row))
            if not v:
                continue
            s_ms, srv, rd, b_ms, t_ms = (float(x) for x in v[0])
            print("%-26s %8.1f %8.1f %8.1f %9.1f %8.1f %8.1fx %7.1fx" % (
                name, s_ms, srv, rd, b_ms, t_ms, b_ms / s_ms, t_ms / s_ms))
            if is_target:
                target("shm %s >= 10x binary HTTP" % name, b_ms >= 10 * s_ms,
                       "%.1fx" % (b_ms / s_ms))
                target("shm %s >= 3x PyTorch in-process" % name, t_ms >= 3 * s_ms,
                       "%.1fx" % (t_ms / s_ms))
    rss = http.get(("rss_big_request", "unpoold"))
    if rss:
        idle, peak, inp, out = (int(x) for x in rss[0])
        bound = (inp + out) * 1.10
        print()
        print("== daemon RSS, big binary max_unpool requests: idle %.0f MiB, peak %.0f MiB, growth %.0f MiB;"
              % (idle / 1024, peak / 1024, (peak - idle) / 1024))
        print("   input %.0f MiB + output %.0f MiB + 10%% = %.0f MiB allowed"
              % (inp / 1024, out / 1024, bound / 1024))
        target("peak RSS growth <= input + output + 10%", peak - idle <= bound,
               "%.0f MiB vs %.0f MiB" % ((peak - idle) / 1024, bound / 1024))

    wrk = {t: http.get(("wrk_small", t)) for t in ("bare", "unpoold")}
    if wrk["bare"] and wrk["unpoold"]:
        print()
        print("== small JSON max_unpool (1,1,4,4), keep-alive, wrk -t2 -c64; medians of %d rounds"
              % len(wrk["bare"]))
        med = {}
        for t, v in wrk.items():
            rps = statistics.median(float(x[0]) for x in v)
            p50 = statistics.median(float(x[1]) for x in v)
            p99 = statistics.median(float(x[2]) for x in v)
            bad = sum(int(x[3]) for x in v)
            med[t] = (rps, p99)
            print("   %-8s %10.0f req/s   p50 %7.3f ms   p99 %7.3f ms   non-2xx %d"
                  % (t, rps, p50, p99, bad))
        r = med["unpoold"][0] / med["bare"][0]
        q = med["unpoold"][1] / med["bare"][1]
        print("   unpoold / bare: %.0f%% of the requests/s, p99 %.2fx" % (r * 100, q))
        target("small HTTP >= 60% of bare req/s", r >= 0.60, "%.0f%%" % (r * 100))
        target("small HTTP p99 <= 1.5x bare", q <= 1.5, "%.2fx" % q)

    grpc_small = http.get(("grpc_small", "h2load"))
    grpc_big = http.get(("grpc_big", "max_unpool"))
    if grpc_small or grpc_big:
        print()
        print("== KServe v2 over gRPC, next to REST")
    if grpc_small:
        rps = statistics.median(float(x[0]) for x in grpc_small)
        mean = statistics.median(float(x[1]) for x in grpc_small)
        bad = sum(int(x[2]) for x in grpc_small)
        print("   small max_unpool (1,1,4,4), h2load -t2 -c2 -m32 (64 streams on 2 connections),")
        print("   medians of %d rounds, alternating with the wrk rounds above:" % len(grpc_small))
        print("   %-8s %10.0f req/s   mean %7.3f ms   failed %d" % ("grpc", rps, mean, bad))
        if wrk["unpoold"]:
            rest = statistics.median(float(x[0]) for x in wrk["unpoold"])
            print("   %-8s %10.0f req/s   (REST JSON, wrk -t2 -c64)" % ("rest", rest))
            print("   grpc / rest: %.2fx the requests/s" % (rps / rest))
            target("small gRPC >= REST wrk req/s", rps >= rest and bad == 0,
                   "%.2fx (%.0f vs %.0f req/s, %d failed)" % (rps / rest, rps, rest, bad))
    if grpc_big:
        g_ms, r_ms, w_ms, rw_ms = (float(x) for x in grpc_big[0])
        print("   64 MiB max_unpool round trip (x 64 MiB + indices 128 MiB in, y 256 MiB out),")
        print("   medians (ms), one process, rotating order:")
        row = "   %-48s gRPC %7.1f   REST binary %7.1f   %.2fx"
        print(row % ("tritonclient, the arrays to y as an array:", g_ms, r_ms, g_ms / r_ms))
        print(row % ("Python, the bytes built before the clock (wire):", w_ms, rw_ms,
                     w_ms / rw_ms))
        cpu = http.get(("grpc_big_cpu", "max_unpool"))
        if cpu:
            c = [float(x) for x in cpu[0]]
            print(row % ("the daemon's CPU per tritonclient call:", c[0], c[1], c[0] / c[1])
                  if c[1] else "   the daemon's CPU per call: not measured")
        target("gRPC 64MiB max_unpool <= 1.2x REST binary", g_ms <= 1.2 * r_ms,
               "%.2fx (%.0f vs %.0f ms, tritonclient)" % (g_ms / r_ms, g_ms, r_ms))
    kserve_big = http.get(("kserve_big", "max_unpool"))
    if kserve_big:
        g_ms, r_ms = (float(x) for x in kserve_big[0])
        print("   %-48s gRPC %7.1f   REST binary %7.1f   %.2fx"
              % ("compiled (generated gRPC C++; libcurl):", g_ms, r_ms, g_ms / r_ms))

    print()
    print("== targets (this run)")
    for label, ok, detail in targets:
        print("   %-4s %-48s %s" % ("PASS" if ok else "FAIL", label, detail))
    npass = sum(1 for t in targets if t[1])
    print("   %d of %d targets hold" % (npass, len(targets)))


if __name__ == "__main__":
    main()
