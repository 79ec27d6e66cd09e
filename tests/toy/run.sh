#!/bin/bash
# tests/toy/run.sh -- a new op is a registry entry plus a kernel file.
#
# Builds the library, the daemon's ops document and tools/gen_openapi with
# CFLAGS=-DUP_TEST_TOY_OP (which adds toy_op.c, its registry entry and its
# slots) into their own folder, runs test_toy_op, then regenerates
# openapi.yaml with that build into a scratch file and checks that the toy
# op's paths and schemas are there, that nothing else changed, and that the
# committed openapi.yaml (which has no toy op) is what that build calls out
# of date. Ends with
# "N passed, N failed" like every test program.
set -u
cd "$(dirname "$0")/../.."
B=${TOY_BUILD:-build/toy}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
passed=0
failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }

if ! make --no-print-directory -j2 BUILD="$B" CFLAGS=-DUP_TEST_TOY_OP \
        "$B/tests/test_toy_op" "$B/tools/gen_openapi" >"$OUT/build.log" 2>&1; then
    tail -20 "$OUT/build.log"
    fail toy_build "make failed"
    echo "$passed passed, $failed failed"
    exit 1
fi
ok toy_build

"$B/tests/test_toy_op" | tee "$OUT/unit.log" | grep -v '^[0-9]* passed'
p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$OUT/unit.log")
f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$OUT/unit.log")
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))

if "$B/tools/gen_openapi" openapi.yaml >"$OUT/openapi.yaml"; then
    missing=""
    for want in "/v1/ops/toy_scale:" "/v2/models/toy_scale/infer:" "ToyScaleParams:" \
                "ToyScaleRequest:" "ToyScaleInferRequest:" ", toy_scale]"; do
        grep -qF -- "$want" "$OUT/openapi.yaml" || missing="$missing '$want'"
    done
    if [ -z "$missing" ]; then ok openapi_generates_toy_op; else fail openapi_generates_toy_op "missing$missing"; fi
    # the committed spec is the real registry's: with the toy it is stale
    if "$B/tools/gen_openapi" --check openapi.yaml >/dev/null 2>&1; then
        fail openapi_check_sees_toy_op "committed openapi.yaml passes --check with the toy op"
    else
        ok openapi_check_sees_toy_op
    fi
    # and the regenerated spec differs from it by the toy op alone: lines
    # added, and the one line listing the op names, which gains it
    removed=$(diff openapi.yaml "$OUT/openapi.yaml" | grep '^<' | grep -v '^<  *enum: \[max_unpool, ')
    if [ -n "$removed" ]; then
        fail openapi_only_adds "regenerating with the toy op removed or changed: $removed"
    else
        ok openapi_only_adds
    fi
else
    fail openapi_generates_toy_op "gen_openapi failed"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
