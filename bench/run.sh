#!/usr/bin/env bash
# run.sh -- `make bench`: every benchmark of unpoold next to its reference,
# in one run, then one table of medians and ratios (bench/report.py).
#
# Builds what it needs (the daemon, bench/kbench, bench/bare_mhd), then:
#   1. kernels through the daemon's worker pool (kbench): W vs 1 worker
#      alternating (kbench -s), and the buffer cache off;
#   2. the kernels with W workers (kbench), and the same cases in PyTorch
#      (torch_ref.py, torch.set_num_threads(W)), ONNX Runtime (ort_ref.py,
#      intra_op_num_threads=W) and, for
#      conv_transpose, oneDNN (dnnl_deconv, OMP_NUM_THREADS=W); then the
#      same again in reverse order, ending with unpoold's kernels again
#      (A B C D D C B A), so drifting load from elsewhere hits every side
#      alike; report.py takes each side's median over both passes;
#   2b. the wire codecs on one core (codec_bench): base64 and JSON number
#      lists against their scalar / strtod / printf references;
#   3. large binary requests over HTTP (http_big.py): Server-Timing shares
#      and the daemon's peak RSS, on a freshly started daemon;
#      and the same bytes through a bare loopback socket (bare_socket);
#   4. the large requests through the system shared-memory extension from
#      tritonclient (shm_big.py), next to binary HTTP and PyTorch;
#   4b. the large max_unpool over KServe v2 gRPC (tritonclient.grpc,
#      grpc_big.py) next to the same call over REST with binary tensor data;
#   5. small JSON requests with keep-alive, `wrk -t2 -c64`, against unpoold
#      and against a bare libmicrohttpd server, and the same request over
#      gRPC (`h2load -t2 -c2 -m32`: 64 streams on 2 connections, a
#      pre-encoded message from grpc_small.py), alternating, REPEAT times.
# Knobs (environment): BUILD (build), BENCH_WORKERS (2), BENCH_REPS (7),
# BENCH_WRK_SECONDS (5), BENCH_WRK_REPEAT (3), BENCH_PORT (18480),
# BENCH_SHM_PYTHON (an interpreter with tritonclient, torch and numpy:
# default $TEST_PYTHON, else the test venv's).
# The gRPC rows need a daemon built with --grpc-listen, h2load (Debian's
# nghttp2-client) and tritonclient[grpc] in the test venv.
# Needs wrk and /usr/bin/python3 with torch and numpy (Debian packages),
# the test venv (VENV, default .venv: onnxruntime, tritonclient; `make
# bench` makes it) and libdnnl-dev; a missing one skips its rows and says so.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
W=${BENCH_WORKERS:-2}
REPS=${BENCH_REPS:-7}
WRK_S=${BENCH_WRK_SECONDS:-5}
WRK_N=${BENCH_WRK_REPEAT:-3}
PORT=${BENCH_PORT:-18480}
PY=/usr/bin/python3
VENV_PY=${VENV:-.venv}/bin/python3
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
echo "kernels through the worker pool: W=$W vs 1 worker, and the buffer cache off ..."
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

# ---- 2. references, A B C D D C B A -----------------------------------
# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE may be set on this machine for old
# OpenBLAS builds; they slow PyTorch down, so they are unset for it alone.
HAVE_TORCH=0; HAVE_ORT=0; HAVE_DNNL=0
"$PY" -c 'import torch' 2>/dev/null && HAVE_TORCH=1
[ -x "$VENV_PY" ] && "$VENV_PY" -c 'import onnxruntime, onnx' 2>/dev/null && HAVE_ORT=1
make -s -f bench/Makefile BUILD="$BUILD" dnnl-build >/dev/null 2>&1 && HAVE_DNNL=1
[ $HAVE_TORCH = 1 ] || echo "no torch under $PY: PyTorch rows skipped"
[ $HAVE_ORT = 1 ] || echo "no onnxruntime under $VENV_PY (make venv): ONNX Runtime rows skipped"
[ $HAVE_DNNL = 1 ] || echo "no oneDNN (apt-get install libdnnl-dev): oneDNN rows skipped"
ref_torch() {
    [ $HAVE_TORCH = 1 ] || return 0
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" bench/torch_ref.py "$W" "$REPS" >>"$RES"
}
ref_ort() { [ $HAVE_ORT = 1 ] && "$VENV_PY" bench/ort_ref.py "$W" "$REPS" >>"$RES" 2>>"$OUT/ort.log"; }
ref_dnnl() { [ $HAVE_DNNL = 1 ] && OMP_NUM_THREADS=$W "$BUILD/bench/dnnl_deconv" "$REPS" >>"$RES"; }
echo "kernels (W=$W), PyTorch, ONNX Runtime, oneDNN (threads=$W), then reversed ..."
"$BUILD/bench/kbench" -w "$W" -r "$REPS" >>"$RES" || exit 1
ref_torch; ref_ort; ref_dnnl
ref_dnnl; ref_ort; ref_torch
"$BUILD/bench/kbench" -w "$W" -r "$REPS" >>"$RES" || exit 1

# ---- 2b. wire codecs on one core ---------------------------------------
echo "wire codecs (base64, JSON number lists), one core ..."
"$BUILD/bench/codec_bench" -r "$REPS" >>"$RES" || exit 1

start_unpoold() { # port [flags...] -> sets UP_PID
    local port=$1
    shift
    "$BUILD/unpoold" --listen "127.0.0.1:$port" --workers "$W" --max-body-mb 1024 \
        --max-elements 268435456 "$@" 2>"$OUT/unpoold.log" &
    UP_PID=$!
    PIDS+=("$UP_PID")
    wait_port "$port"
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
    # 4 GiB of budget: the JSON-lists request's answer is bounded by its
    # longest spelling (about 16 bytes a float32), 1 GiB for its 64M
    # numbers, and with its inputs it cannot fit the default 2 GiB (413).
    start_unpoold "$PORT" --max-inflight-mb 4096 || exit 1
    "$PY" bench/http_big.py "$PORT" "$UP_PID" "$REPS" >>"$RES"
    stop_pid "$UP_PID"
fi
# the floor under them: the max_unpool request's bytes (x + indices in,
# y out) over loopback TCP with no HTTP at all
"$BUILD/bench/bare_socket" $(((64 + 128) << 20)) $((256 << 20)) "$REPS" >>"$RES"

# ---- 4. the same through shared memory, from tritonclient ---------------
SHM_PY=${BENCH_SHM_PYTHON:-${TEST_PYTHON:-$VENV_PY}}
if "$SHM_PY" -c 'import tritonclient.http, torch, numpy' 2>/dev/null; then
    echo "large requests through system shared memory (tritonclient, $SHM_PY) ..."
    start_unpoold "$PORT" --shm 1 || exit 1
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$SHM_PY" bench/shm_big.py "$PORT" "$REPS" "$W" \
        >>"$RES"
    stop_pid "$UP_PID"
else
    echo "no tritonclient/torch under $SHM_PY (BENCH_SHM_PYTHON, make venv): shared-memory rows skipped"
fi

# ---- 4b. the large request over gRPC, next to REST binary ---------------
# the gRPC port is the REST port + 2 (the bare server of section 5 takes +1)
GPORT=$((PORT + 2))
HAVE_GRPC=0
"$BUILD/unpoold" --help 2>&1 | grep -q -- '--grpc-listen' &&
    "$SHM_PY" -c 'import tritonclient.grpc, tritonclient.http, numpy' 2>/dev/null && HAVE_GRPC=1
if [ $HAVE_GRPC = 1 ]; then
    echo "large request over KServe v2 gRPC and over REST binary (tritonclient, $SHM_PY) ..."
    start_unpoold "$PORT" --grpc-listen "127.0.0.1:$GPORT" || exit 1
    "$SHM_PY" bench/grpc_small.py body "$OUT/grpc_body.bin" "$GPORT" || exit 1
    "$SHM_PY" bench/grpc_big.py "$PORT" "$GPORT" "$REPS" "$UP_PID" >>"$RES"
    # the same round trip from compiled clients: generated gRPC C++, libcurl
    if make -s -f bench/Makefile BUILD="$BUILD" grpc-client-build >"$OUT/client-build.log" 2>&1; then
        "$BUILD/bench/kserve_big_client" "$PORT" "$GPORT" "$REPS" >>"$RES"
    else
        echo "  no compiled KServe client (apt-get install libgrpc++-dev protobuf-compiler-grpc" \
             "libprotobuf-dev protobuf-compiler libcurl4-openssl-dev): its row skipped"
    fi
    stop_pid "$UP_PID"
else
    echo "no --grpc-listen in $BUILD/unpoold or no tritonclient.grpc under $SHM_PY: gRPC rows skipped"
fi

# ---- 5. small requests, wrk (and h2load for gRPC) ------------------------
if command -v wrk >/dev/null; then
    echo "small JSON requests, wrk -t2 -c64 -d${WRK_S}s, ${WRK_N} rounds ..."
    H2LOAD=0
    if [ $HAVE_GRPC = 1 ] && command -v h2load >/dev/null; then
        H2LOAD=1
        start_unpoold "$PORT" --grpc-listen "127.0.0.1:$GPORT" || exit 1
        "$SHM_PY" bench/grpc_small.py body "$OUT/grpc_body.bin" "$GPORT" || exit 1
        echo "  and the same max_unpool over gRPC: h2load -t2 -c2 -m32 -D${WRK_S} (64 streams, 2 connections)"
    else
        [ $HAVE_GRPC = 1 ] && echo "  h2load not installed (apt-get install nghttp2-client): gRPC small-request rows skipped"
        start_unpoold "$PORT" || exit 1
    fi
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
        [ $H2LOAD = 1 ] || continue
        # h2load counts every HTTP 200 as a success and a failed gRPC call
        # is one too (grpc-status is in the trailers): the daemon's own
        # count of gRPC answers that were not 200 is added to h2load's
        read -r ok0 bad0 < <("$SHM_PY" bench/grpc_small.py count "$PORT")
        h2load -t2 -c2 -m32 -D"$WRK_S" -d "$OUT/grpc_body.bin" \
            -H 'content-type: application/grpc' -H 'te: trailers' \
            "http://127.0.0.1:$GPORT/inference.GRPCInferenceService/ModelInfer" >"$OUT/h2load.txt" 2>&1
        read -r ok1 bad1 < <("$SHM_PY" bench/grpc_small.py count "$PORT")
        awk -v bad=$((bad1 - bad0)) -v ok=$((ok1 - ok0)) '
            function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                             if (v ~ /s$/) return v * 1000; return v }
            /^finished in/ { rps = $4 }
            /^requests:/ { failed = $10 + $12 + $14 }
            /^time for request:/ { mean = ms($6) }
            END { printf "http\tgrpc_small\th2load\t%s\t%.3f\t%d\t%d\n", rps, mean, failed + bad, ok }
        ' "$OUT/h2load.txt" >>"$RES"
    done
else
    echo "wrk not installed (apt-get install wrk): HTTP small-request rows skipped"
fi

echo
"$PY" bench/report.py "$RES"
