#!/usr/bin/env bash
# run.sh -- `make soak`: build the daemon and the soak client with
# AddressSanitizer + LeakSanitizer (+UBSan), then run SOAK_REQUESTS mixed
# requests (default 50000) from SOAK_CLIENTS threads (default 8).
#
# The sanitizer options keep RSS meaningful: a small quarantine (freed
# memory is reused after 4 MiB, not 256) and freed pages handed back to
# the kernel, so "RSS back within 10%" measures the daemon, not ASan.
# Ends with the soak's "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
build=${SOAK_BUILD:-build/soak}
jobs=$(nproc 2>/dev/null || echo 2)
make -s -j"$jobs" BUILD="$build" SAN=1 "$build/unpoold" "$build/tests/soak" || {
    echo "soak build failed"; echo "0 passed, 1 failed"; exit 1; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=4:allocator_release_to_os_interval_ms=200:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
UNPOOLD_BIN="$build/unpoold" "$build/tests/soak" "${SOAK_REQUESTS:-50000}" "${SOAK_CLIENTS:-8}"
