#!/usr/bin/env bash
# The sanitizer build must fail a test on a UBSan finding: run ub_canary on
# a signed overflow and require a non-zero exit and UBSan's report.
# Usage: test_sanitizer_halts.sh UB_CANARY
set -uo pipefail
out="$("$1" 2147483647 2>&1)"
status=$?
echo "$out"
if [[ $status == 0 ]]; then
  echo "FAIL: a signed overflow did not stop the program (exit 0): UBSan recovers"
  exit 1
fi
if ! grep -q "runtime error: signed integer overflow" <<<"$out"; then
  echo "FAIL: exit $status without UBSan's signed overflow report"
  exit 1
fi
echo "ok: UBSan stopped the program (exit $status)"
