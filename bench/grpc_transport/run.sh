#!/usr/bin/env bash
# run.sh -- `make -f bench/Makefile grpc-transport`: the gRPC transport
# probes side by side (README.md in this folder has the figures and what
# they mean). Three servers, each started fresh for each measurement:
#   core1   probe_core, gRPC C core, 1 polling thread
#   core2   probe_core, 2 polling threads
#   ng      probe_nghttp2, libnghttp2, 1 thread
# Measurements, each in rounds whose server order alternates (core1 core2
# ng, then ng core2 core1: ABBA), so load from elsewhere on this shared
# machine hits every server alike; figures are medians over the rounds:
#   small   h2load -c2 -m32 (64 streams on 2 connections), SMALL_N calls of
#           the small ModelInfer: req/s, and the server's CPU time per call
#           (utime + stime from /proc, less sensitive to a busy machine);
#   big     the 64 MiB echo: grpcio (big_call.py, BIG_REPS calls per round,
#           median ms) and h2load -n BIG_N -c1 -m1 (ms per call, and the
#           server's CPU ms per call), with the
#           server's peak RSS after the grpcio calls; and the floor, the
#           same bytes each way over loopback TCP (bench/bare_socket.c);
#   small under a budget: the small calls again, against a 512 MiB budget
#           with 65 MiB the largest message, core charging that at arrival
#           (-a: it cannot know the length sooner), nghttp2 on the prefix;
#   flood   64 concurrent 64 MiB calls on one connection (h2load -n64 -c1
#           -m64) against a 512 MiB budget, once per admission policy; with
#           the core's own bounds instead (a 512 MiB resource quota; a 32 MiB
#           largest message, which refuses every call); and with no bound:
#           calls answered / refused by the probe, the budget's peak, the
#           server's peak RSS, wall and server CPU time, and h2load's
#           "succeeded" count (a stream the
#           core resets itself is not answered and not counted as refused). A server is run under `ulimit -v`, so a
#           transport that buffers more than that fails instead of taking
#           the machine.
# Knobs: BUILD (build), ROUNDS (2: each is one ABBA pair), SMALL_N (100000),
# BIG_REPS (5), BIG_N (10), PORT (19480), PY (the test venv's python3: it
# needs grpcio, tritonclient and numpy).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-2}
SMALL_N=${SMALL_N:-100000}
BIG_REPS=${BIG_REPS:-5}
BIG_N=${BIG_N:-10}
PORT=${PORT:-19480}
PY=${PY:-${TEST_PYTHON:-.venv/bin/python3}}
OUT=$(mktemp -d)
SRV=
METHOD=inference.GRPCInferenceService/ModelInfer
H2=(-H 'content-type: application/grpc' -H 'te: trailers')

cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
    rm -rf "$OUT"
}
trap cleanup EXIT

command -v h2load >/dev/null || { echo "run.sh: needs h2load (nghttp2-client)"; exit 1; }
make -s -f bench/Makefile BUILD="$BUILD" grpc-transport-build || exit 1
"$PY" bench/grpc_transport/bodies.py "$OUT" || exit 1

# start NAME [args]: a fresh server on PORT, its stats going to $OUT/stats
start() {
    local name=$1; shift
    case $name in
    core1) set -- "$BUILD/bench/probe_core" -t 1 "$@" ;;
    core2) set -- "$BUILD/bench/probe_core" -t 2 "$@" ;;
    ng) set -- "$BUILD/bench/probe_nghttp2" "$@" ;;
    esac
    (ulimit -v 16000000; exec "$@" -p "$PORT" -r "$OUT/small_resp.pb" >"$OUT/stats") &
    SRV=$!
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "run.sh: $name did not start"; exit 1
}

# stop: SIGTERM; the server prints its stats line into $OUT/stats. Not
# from a subshell ($(...) or a pipe): wait only knows this shell's children.
stop() {
    kill "$SRV"; wait "$SRV"; SRV=
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SRV/stat"; }

order() { # round r: core1 core2 ng, or the reverse
    if [ $(($1 % 2)) -eq 0 ]; then echo core1 core2 ng; else echo ng core2 core1; fi
}

# med FILE: the median of a file's numbers, one a line
med() { sort -g "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
# range FILE: "min-max", to print next to the median
range() { sort -g "$1" | awk 'NR == 1 {lo = $1} {hi = $1} END {printf (hi < 100 ? "%.1f-%.1f" : "%.0f-%.0f"), lo, hi}'; }

HZ=$(getconf CLK_TCK)
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); rounds $((2 * ROUNDS))"

echo "small calls: h2load -n $SMALL_N -c2 -m32 ..."
for r in $(seq 0 $((2 * ROUNDS - 1))); do
    for s in $(order "$r"); do
        start "$s"
        c0=$(cpu_ticks)
        h2load -n "$SMALL_N" -c2 -m32 -d "$OUT/small_req.grpc" "${H2[@]}" \
            "http://127.0.0.1:$PORT/$METHOD" >"$OUT/h2" || exit 1
        c1=$(cpu_ticks)
        grep -q "$SMALL_N succeeded" "$OUT/h2" || { echo "$s: calls failed"; cat "$OUT/h2"; exit 1; }
        awk '/^finished/ {print $4}' "$OUT/h2" >>"$OUT/small_rps_$s"
        echo "$c0 $c1" | awk -v n="$SMALL_N" -v hz="$HZ" '{print ($2 - $1) / hz * 1e6 / n}' >>"$OUT/small_cpu_$s"
        stop
    done
done

echo "64 MiB echo: grpcio x $BIG_REPS, h2load -n $BIG_N -c1 -m1 ..."
BIG=$(stat -c %s "$OUT/big_req.grpc")
for r in $(seq 0 $((2 * ROUNDS - 1))); do
    "$BUILD/bench/bare_socket" "$BIG" "$BIG" "$BIG_REPS" | awk '{print $6}' >>"$OUT/big_floor"
    for s in $(order "$r"); do
        start "$s"
        "$PY" bench/grpc_transport/big_call.py "$PORT" "$OUT" "$BIG_REPS" >"$OUT/py" || exit 1
        awk '{print $2}' "$OUT/py" >>"$OUT/big_py_$s"
        stop
        sed 's/.*hwm_mib=//' "$OUT/stats" >>"$OUT/big_hwm_$s"
        start "$s"
        c0=$(cpu_ticks)
        h2load -n "$BIG_N" -c1 -m1 -d "$OUT/big_req.grpc" "${H2[@]}" \
            "http://127.0.0.1:$PORT/$METHOD" >"$OUT/h2" || exit 1
        c1=$(cpu_ticks)
        echo "$c0 $c1" | awk -v n="$BIG_N" -v hz="$HZ" '{print ($2 - $1) / hz * 1e3 / n}' >>"$OUT/big_cpu_$s"
        grep -q "$BIG_N succeeded" "$OUT/h2" || { echo "$s: calls failed"; cat "$OUT/h2"; exit 1; }
        awk -v n="$BIG_N" '/^finished/ {t = $3; sub(/ms,/, "", t); if ($3 ~ /[^m]s,$/) {sub(/s,/, "", t); t *= 1e3} print t / n}' \
            "$OUT/h2" >>"$OUT/big_h2_$s"
        stop
    done
done

printf '\n%-6s %12s %14s %14s %14s %14s %10s\n' server "small req/s" "small cpu us" "64MiB grpcio" \
    "64MiB h2load" "64MiB cpu" "RSS MiB"
for s in core1 core2 ng; do
    printf '%-6s %12.0f %14.1f %11.1f ms %11.1f ms %11.1f ms %10.0f\n' "$s" "$(med "$OUT/small_rps_$s")" \
        "$(med "$OUT/small_cpu_$s")" "$(med "$OUT/big_py_$s")" "$(med "$OUT/big_h2_$s")" \
        "$(med "$OUT/big_cpu_$s")" "$(med "$OUT/big_hwm_$s")"
    printf '%-6s %12s %14s %14s %14s %14s %10s\n' "" "$(range "$OUT/small_rps_$s")" \
        "$(range "$OUT/small_cpu_$s")" "$(range "$OUT/big_py_$s")" "$(range "$OUT/big_h2_$s")" \
        "$(range "$OUT/big_cpu_$s")" "$(range "$OUT/big_hwm_$s")"
done
printf '%-6s %12s %14s %14.1f ms (bare_socket: the same bytes over loopback TCP, no HTTP/2)\n' \
    floor - - "$(med "$OUT/big_floor")"

echo
echo "small calls (h2load -n $SMALL_N -c2 -m32) with a 512 MiB budget and 65 MiB largest message:"
for s in core2 ng; do
    if [ "$s" = core2 ]; then start core2 -b 512 -m 65 -a; else start ng -b 512 -m 65; fi
    h2load -n "$SMALL_N" -c2 -m32 -d "$OUT/small_req.grpc" "${H2[@]}" \
        "http://127.0.0.1:$PORT/$METHOD" >"$OUT/h2" || exit 1
    stop
    printf '%-38s %s\n' "$s$([ "$s" = core2 ] && echo ', charge -m at call' || echo ', charge on prefix')" "$(cat "$OUT/stats")"
done

echo
echo "64 concurrent 64 MiB calls on one connection (h2load -n64 -c1 -m64):"
flood() { # label server [args]
    local label=$1; shift
    start "$@"
    local c0 c1
    c0=$(cpu_ticks)
    h2load -n64 -c1 -m64 -d "$OUT/big_req.grpc" "${H2[@]}" \
        "http://127.0.0.1:$PORT/$METHOD" >"$OUT/h2" || exit 1
    c1=$(cpu_ticks)
    stop
    printf '%-38s %s h2load_succeeded=%s in %s cpu %.2fs\n' "$label" "$(cat "$OUT/stats")" \
        "$(awk '/^requests:/ {print $8}' "$OUT/h2")" "$(awk '/^finished/ {print $3}' "$OUT/h2" | tr -d ,)" \
        "$(echo "$c0 $c1" | awk -v hz="$HZ" '{print ($2 - $1) / hz}')"
}
flood "core, budget 512, charge on message" core2 -b 512
flood "core, budget 512, charge -m at call" core2 -b 512 -a -m 65
flood "nghttp2, budget 512, charge on prefix" ng -b 512
flood "core, resource quota 512 (its own)" core2 -q 512
flood "core, max message 32 MiB (its own)" core2 -m 32
flood "nghttp2, max message 32 MiB" ng -m 32
flood "core, no budget" core2
flood "nghttp2, no budget" ng
