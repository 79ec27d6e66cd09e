#!/usr/bin/env bash
# run.sh -- build every libFuzzer target (clang, -fsanitize=fuzzer,address,
# undefined) and run each for FUZZ_SECONDS (default 60) on its committed
# seed corpus. New inputs go to a scratch folder, so the committed seeds do
# not churn; a crash leaves its input in build/fuzz/ (FUZZ_OUT) and fails
# the run.
# fuzz_ops (the op layer) runs with -timeout=2: no plan the cost model
# accepts may take longer, and -rss_limit_mb holds it to its memory model;
# it has a dictionary of extreme param values (ops.dict).
# FUZZ_TARGETS="fuzz_ops fuzz_npy" runs only those targets.
# Ends with "N passed, N failed" (one case per target).
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-build/fuzz}
mkdir -p "$out"
CC=${FUZZ_CC:-clang}
# the KServe v2 gRPC messages, generated as the Makefile does
mkdir -p "$out/gen"
protoc-c --c_out="$out/gen" --proto_path=api/proto api/proto/*.proto || exit 1
flags="-std=c11 -D_GNU_SOURCE -g -O1 -I. -I$out/gen $(pkg-config --cflags libcjson libprotobuf-c) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
# json_spans.c: the span checks the fuzzer shares with test_json_parse
srcs="$(ls api/*.c kernels/*.c "$out"/gen/*.pb-c.c) tests/support/json_spans.c"
libs="$(pkg-config --libs libcjson libprotobuf-c) -lopenblas -lm -pthread"
pass=0; fail=0
for t in tests/fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    case " ${FUZZ_TARGETS:-$name} " in *" $name "*) ;; *) continue ;; esac
    extra="-timeout=10"
    case $name in
    fuzz_ops) extra="-timeout=2 -max_len=4096 -dict=tests/fuzz/ops.dict" ;;
    esac
    if ! $CC $flags -o "$out/$name" "$t" $srcs $libs; then
        echo "FAIL $name (build)"; fail=$((fail + 1)); continue
    fi
    work=$(mktemp -d)
    seeds=tests/fuzz/corpus/${name#fuzz_}
    echo "== $name: ${secs}s"
    if "$out/$name" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 $extra \
        -artifact_prefix="$out/$name-" -print_final_stats=1 "$work" "$seeds" \
        >"$out/$name.log" 2>&1; then
        echo "ok   $name ($(grep -E 'stat::number_of_executed_units' "$out/$name.log" | awk '{print $2}') runs)"
        pass=$((pass + 1))
    else
        echo "FAIL $name"; tail -n 40 "$out/$name.log"; fail=$((fail + 1))
    fi
    rm -rf "$work"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
