#!/usr/bin/env bash
# tsan.sh -- `make tsan`: the daemon and the integration tests that drive
# its threads (worker pool, chunked jobs, suspend/resume, the connection
# reaper, drain) built with ThreadSanitizer and run against each other.
#
# TSan stops the daemon at the first report (halt_on_error, exit 66), so a
# race fails the test that provoked it through its exit-status check; the
# report is in the daemon log the test prints. The kernels are built
# uninstrumented (see the Makefile), so TSan sees everything but the inner
# loops. If the TSan runtime cannot map its shadow memory under this
# kernel's address randomisation, the programs run under `setarch -R`.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
build=${TSAN_BUILD:-build/tsan}
jobs=$(nproc 2>/dev/null || echo 2)
tests="test_http_concurrency test_http_errors test_hostile_limits test_hostile"
targets="$build/unpoold"
for t in $tests; do targets="$targets $build/tests/$t"; done
make -s -j"$jobs" BUILD="$build" SAN=thread $targets || {
    echo "tsan build failed"; echo "0 passed, 1 failed"; exit 1; }
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1 exitcode=66 second_deadlock_stack=1}
norand=""
if ! "$build/unpoold" --version >/dev/null 2>&1; then
    norand="setarch $(uname -m) -R"
fi
pass=0; fail=0
for t in $tests; do
    echo "== tsan $t"
    out=$(UNPOOLD_BIN="$build/unpoold" $norand "$build/tests/$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^ok ' || true
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -n "$line" ] && [ "$rc" -eq 0 ] && ! printf '%s' "$out" | grep -q 'WARNING: ThreadSanitizer'; then
        pass=$((pass + 1))
    else
        echo "   $t: failed under TSan (exit $rc)"; fail=$((fail + 1))
    fi
done
# The gRPC front end's threads (its loop, the workers handing answers
# back): tritonclient.grpc's checks, 64 concurrent calls among them,
# against the TSan daemon.
py=${TEST_PYTHON:-/usr/bin/python3}
if "$py" -c "import tritonclient.grpc" 2>/dev/null; then
    echo "== tsan test_grpc_tritonclient.py"
    out=$(UNPOOLD_BIN="$build/unpoold" UNPOOLD_WRAP="$norand" "$py" tests/py/test_grpc_tritonclient.py 2>&1); rc=$?
    printf '%s\n' "$out" | grep -v '^ok ' || true
    if [ "$rc" -eq 0 ] && ! printf '%s' "$out" | grep -q 'WARNING: ThreadSanitizer'; then
        pass=$((pass + 1))
    else
        echo "   test_grpc_tritonclient.py: failed under TSan (exit $rc)"; fail=$((fail + 1))
    fi
else
    echo "   no tritonclient.grpc for $py: the gRPC check under TSan did not run"; fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
