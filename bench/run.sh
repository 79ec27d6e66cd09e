#!/usr/bin/env bash
# run.sh -- `make bench`: every benchmark of unpoold next to its reference,
# in one run, then one table of medians and ratios (bench/report.py).
#
# Builds what it needs (the daemon, bench/kbench, bench/bare_mhd), then:
#   1. kernels through the daemon's worker pool (kbench), W workers, then
#      W vs 1 worker alternating (kbench -s), and the buffer cache off;
#   2. the same cases in PyTorch (torch_ref.py), torch.set_num_threads(W);
#   3. large binary requests over HTTP (http_big.py): Server-Timing shares
#      and the daemon's peak RSS, on a freshly started daemon;
#   4. small JSON requests with keep-alive, `wrk -t2 -c64`, against unpoold
#      and against a bare libmicrohttpd server, alternating, REPEAT times.
# Knobs (environment): BUILD (build), BENCH_WORKERS (2), BENCH_REPS (7),
# BENCH_WRK_SECONDS (5), BENCH_WRK_REPEAT (3), BENCH_PORT (18480),
# BENCH_ORT_PYTHON (.venv/bin/python3: onnxruntime for the pixel_shuffle row).
# Needs wrk and /usr/bin/python3 with torch and numpy (Debian packages);
# a missing one skips its rows and says so.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
W=${BENCH_WORKERS:-2}
REPS=${BENCH_REPS:-7}
WRK_S=${BENCH_WRK_SECONDS:-5}
WRK_N=${BENCH_WRK_REPEAT:-3}
PORT=${BENCH_PORT:-18480}
PY=/usr/bin/python3
# ONNX Runtime's reference (pixel_shuffle vs DepthToSpace) runs in the test
# venv, which has onnx and onnxruntime (tests/requirements.txt)
ORT_PY=${BENCH_ORT_PYTHON:-.venv/bin/python3}
OUT=$(mktemp -d)
RES=$OUT/results.tsv
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$OUT"
}
trap cleanup EXIT

make -s -f bench/Makefile BUILD="$BUILD" bench-build || exit 1
: >"$RES"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), workers W=$W, reps $REPS"

# ---- 1. kernels ---------------------------------------------------------
echo "kernels through the worker pool (W=$W) ..."
"$BUILD/bench/kbench" -w "$W" -r "$REPS" >>"$RES" || exit 1
# W vs one worker: -s alternates a 1-worker pool and a W-worker pool
# repetition by repetition, so load from elsewhere hits both sides of the
# ratio alike; the floor too (how far the memory bus lets a memory-bound
# request scale at all). Then the buffer cache off.
for c in max_unpool2d_f32 nearest2d_f32 fmu2d_f32 max_pool2d_f32 conv_transpose2d_f32 floor; do
    "$BUILD/bench/kbench" -s -w "$W" -r "$REPS" -c "$c" >>"$RES" || exit 1
done
for c in max_unpool2d_f32 nearest2d_f32 fmu2d_f32 max_pool2d_f32 conv_transpose2d_f32; do
    "$BUILD/bench/kbench" -w "$W" -r "$REPS" -c "$c" -C 0 >>"$RES" || exit 1
done

# ---- 2. PyTorch ---------------------------------------------------------
# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE may be set on this machine for old
# OpenBLAS builds; they slow PyTorch down, so they are unset for it alone.
if "$PY" -c 'import torch' 2>/dev/null; then
    echo "PyTorch $("$PY" -c 'import torch; print(torch.__version__)') (threads=$W) ..."
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" bench/torch_ref.py "$W" "$REPS" >>"$RES"
else
    echo "no torch under $PY: PyTorch rows skipped"
fi

if [ -x "$ORT_PY" ] && "$ORT_PY" -c 'import onnx, onnxruntime' 2>/dev/null; then
    echo "ONNX Runtime $("$ORT_PY" -c 'import onnxruntime; print(onnxruntime.__version__)') (threads=$W) ..."
    "$ORT_PY" bench/ort_ref.py "$W" "$REPS" >>"$RES"
else
    echo "no onnxruntime under $ORT_PY: ONNX Runtime rows skipped (BENCH_ORT_PYTHON)"
fi

start_unpoold() { # port -> sets UP_PID
    "$BUILD/unpoold" --listen "127.0.0.1:$1" --workers "$W" --max-body-mb 1024 \
        --max-elements 268435456 2>"$OUT/unpoold.log" &
    UP_PID=$!
    PIDS+=("$UP_PID")
    wait_port "$1"
}

wait_port() {
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return 0
        sleep 0.05
    done
    echo "server on port $1 did not come up"; return 1
}

stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# ---- 3. large binary requests ------------------------------------------
if "$PY" -c 'import numpy' 2>/dev/null; then
    echo "large binary requests over HTTP ..."
    start_unpoold "$PORT" || exit 1
    "$PY" bench/http_big.py "$PORT" "$UP_PID" "$REPS" >>"$RES"
    stop_pid "$UP_PID"
fi

# ---- 4. small requests, wrk --------------------------------------------
if command -v wrk >/dev/null; then
    echo "small JSON requests, wrk -t2 -c64 -d${WRK_S}s, ${WRK_N} rounds ..."
    start_unpoold "$PORT" || exit 1
    "$BUILD/bench/bare_mhd" $((PORT + 1)) &
    BARE=$!
    PIDS+=("$BARE")
    wait_port $((PORT + 1)) || exit 1
    curl -s -o /dev/null -w '' -X POST -H 'Content-Type: application/json' \
        --data @bench/small_request.json "http://127.0.0.1:$PORT/v1/ops/max_unpool"
    code=$(curl -s -o "$OUT/small.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data @bench/small_request.json "http://127.0.0.1:$PORT/v1/ops/max_unpool")
    [ "$code" = 200 ] || { echo "small request answered $code: $(cat "$OUT/small.out")"; exit 1; }
    for i in $(seq "$WRK_N"); do
        for target in bare unpoold; do
            port=$PORT; [ $target = bare ] && port=$((PORT + 1))
            wrk -t2 -c64 -d"${WRK_S}s" --latency -s bench/small_request.lua \
                "http://127.0.0.1:$port/v1/ops/max_unpool" >"$OUT/wrk.txt" 2>&1
            awk -v t=$target -v i="$i" '
                function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                                 if (v ~ /s$/) return v * 1000; return v }
                /Requests\/sec/ { rps = $2 }
                /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
                /Non-2xx/ { bad = $NF }
                END { printf "http\twrk_small\t%s\t%s\t%.3f\t%.3f\t%d\n", t, rps, p50, p99, bad + 0 }
            ' "$OUT/wrk.txt" >>"$RES"
        done
    done
else
    echo "wrk not installed (apt-get install wrk): HTTP small-request rows skipped"
fi

echo
"$PY" bench/report.py "$RES"
