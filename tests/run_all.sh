#!/usr/bin/env bash
# run_all.sh -- build and run every test, then again under ASan+UBSan.
#
# Each test program ends with "N passed, N failed"; this script adds them up
# and ends with the same line for the whole run. A program that dies before
# its closing line (a sanitizer abort, a crash) counts as one failure more.
# Python checks (tests/py/test_*.py) run with TEST_PYTHON (`make test` sets
# it to the test venv) or /usr/bin/python3, once, against the plain build;
# the gRPC frames test runs against the ASan+UBSan build too.
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
total_pass=0
total_fail=0

run_prog() { # label, command...
    local label=$1; shift
    local out rc line p f
    echo "== $label"
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^ok ' || true
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        echo "   $label: no closing line (exit $rc): counted as 1 failed"
        total_fail=$((total_fail + 1)); return
    fi
    p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "   $label: exit $rc after its closing line: counted as 1 failed"
        total_fail=$((total_fail + 1))
    fi
}

run_suite() { # build dir, extra make args...
    local dir=$1; shift
    echo "== build $dir $*"
    if ! make -s -j"$jobs" BUILD="$dir" "$@" test-build; then
        echo "   build $dir failed: counted as 1 failed"
        total_fail=$((total_fail + 1)); return
    fi
    for t in "$dir"/tests/test_*; do
        [ -x "$t" ] || continue
        UNPOOLD_BIN="$dir/unpoold" run_prog "$t" "$t"
    done
}

run_suite build
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    run_suite build/asan SAN=1

py=${TEST_PYTHON:-/usr/bin/python3}
for t in tests/py/test_*.py; do
    [ -f "$t" ] || continue
    UNPOOLD_BIN=build/unpoold run_prog "$t" "$py" "$t"
done

# The hand-made HTTP/2 frames again, against the ASan+UBSan daemon of the
# suite above: the gRPC loop's hostile-input and cut-off paths (a call kept
# alive while its answer's frame is half written) are where a use after
# free would hide. A small quarantine keeps the test's RSS bounds
# meaningful, as in the soak.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=4:allocator_release_to_os_interval_ms=200:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
UNPOOLD_BIN=build/asan/unpoold run_prog "tests/py/test_grpc_frames.py (ASan+UBSan daemon)" \
    "$py" tests/py/test_grpc_frames.py

# The toy op's test build (its own folder): an op is a registry entry plus
# a kernel file, and openapi.yaml regenerates with it.
run_prog "toy op" bash tests/toy/run.sh

# Longer suites, on when their variable is set (.ci/run sets them):
# libFuzzer on every decoder, the soak under ASan+LeakSanitizer, the
# threaded paths under ThreadSanitizer, the scale-out test behind nginx,
# the Kubernetes manifests' schema check, and the container image test.
if [ -n "${TEST_FUZZ_SECONDS:-}" ]; then
    FUZZ_SECONDS=$TEST_FUZZ_SECONDS run_prog "fuzz (${TEST_FUZZ_SECONDS}s per target)" bash tests/fuzz/run.sh
fi
if [ "${TEST_SOAK:-0}" = 1 ]; then
    run_prog "soak" bash tests/soak/run.sh
fi
if [ "${TEST_TSAN:-0}" = 1 ]; then
    run_prog "tsan" bash tests/soak/tsan.sh
fi
if [ "${TEST_SCALE:-0}" = 1 ]; then
    BUILD=build run_prog "scale-test" bash tests/scale/scale_test.sh
fi
if [ "${TEST_K8S:-0}" = 1 ]; then
    run_prog "k8s-validate" "$py" docker/validate_k8s.py
fi
if [ "${TEST_DOCKER:-0}" = 1 ]; then
    run_prog "docker-test" bash docker/test.sh
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
