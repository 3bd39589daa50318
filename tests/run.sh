#!/usr/bin/env bash
# The one test command: installs what is missing (Debian 12 packages),
# builds the normal and the sanitizer configurations, runs every suite
# through ctest, then runs each fuzz target for a bounded time.
#
#   tests/run.sh            everything
#   TV_FUZZ_SECONDS=N       seconds per fuzz target (default 20; 0 skips fuzzing)
#   TV_SKIP_ASAN=1          skip the sanitizer build (local iteration only)
#
# The last line is the summary: `tests: N passed, N failed, N skipped`. A
# test skips by exiting 77 (ctest SKIP_RETURN_CODE) only on the condition
# that justifies it; each skip is named above the summary and is never
# counted as a pass.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="$(nproc)"
fuzz_seconds="${TV_FUZZ_SECONDS:-20}"

install_missing_packages() {
  bash "$root/deploy/install-deps.sh"
}

passed=0
failed=0
skipped=0
failures=()
skips=()

record() { # record NAME STATUS
  if [[ "$2" == 0 ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$1")
  fi
}

# run_ctest DIR LABEL: counts each ctest test into the totals; a test that
# exited with its SKIP_RETURN_CODE is counted (and named) as skipped.
run_ctest() {
  local dir="$1" label="$2" log
  log="$dir/ctest.log"
  set +e
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600) 2>&1 | tee "$log"
  set -e
  local total fails name
  local -a skipped_names=()
  total="$(grep -Eo 'tests failed out of [0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)"
  fails="$(grep -Eo '[0-9]+ tests failed' "$log" | grep -Eo '^[0-9]+' || echo 0)"
  mapfile -t skipped_names < <(grep -E 'Test +#[0-9]+: .*\*\*\*Skipped' "$log" |
    sed -E 's/.*Test +#[0-9]+: ([^ ]+) .*/\1/' || true)
  if [[ "$total" == 0 ]]; then
    record "$label: ctest ran no test" 1
    return
  fi
  passed=$((passed + total - fails - ${#skipped_names[@]}))
  failed=$((failed + fails))
  skipped=$((skipped + ${#skipped_names[@]}))
  for name in "${skipped_names[@]+"${skipped_names[@]}"}"; do
    skips+=("$label: $name")
  done
  if ((fails > 0)); then
    failures+=("$label: $fails ctest failure(s)")
  fi
}

build() { # build DIR CMAKE_ARGS...
  local dir="$1"
  shift
  cmake -S "$root" -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1 || {
    cat "$dir.build.log"
    echo "build failed in $dir"
    exit 1
  }
}

# Every sanitizer finding ends the process: UBSan halts (the fuzz and the
# sanitizer builds also compile with -fno-sanitize-recover=all), ASan and
# libFuzzer report a crash, and the run fails.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

# show_finding LOG: the sanitizer's or libFuzzer's report of a failed run
# (from its first line, at most 60 lines), else the last 60 lines.
show_finding() {
  local log="$1" first
  first="$(grep -n -m1 -E '^==[0-9]+==ERROR|runtime error:|deadly signal|^==[0-9]+== ERROR: libFuzzer' "$log" |
    cut -d: -f1 || true)"
  if [[ -n "$first" ]]; then
    tail -n "+$first" "$log" | head -n 60
  else
    tail -n 60 "$log"
  fi
}

# fuzz_selftest DIR: the canary built with the fuzz flags must fail on its
# signed overflow; else a UBSan finding would leave the fuzz run green.
fuzz_selftest() {
  local dir="$1" log="$1/ubsan_canary.log" seed="$1/ubsan_canary.seed"
  printf '\xff\xff\xff\x7f' >"$seed" # INT32_MAX, little-endian
  echo "== fuzz self-test: a signed overflow must fail the run"
  set +e
  "$dir/tests/fuzz/selftest/ubsan_canary" "$seed" >"$log" 2>&1
  local status=$?
  set -e
  if [[ $status != 0 ]] && grep -q "runtime error: signed integer overflow" "$log"; then
    record "fuzz self-test" 0
  else
    tail -n 20 "$log"
    record "fuzz self-test: the overflow did not fail the run (exit $status)" 1
  fi
}

# fuzz_one DIR TARGET: runs one fuzz target for the bounded time with its
# seed corpus; its exit status goes to DIR/NAME.status.
fuzz_one() {
  local dir="$1" target="$2" name corpus status
  name="$(basename "$target")"
  corpus="$dir/corpus/$name"
  mkdir -p "$corpus"
  if [[ -d "$root/tests/fuzz/corpus/$name" ]]; then
    cp -r "$root/tests/fuzz/corpus/$name/." "$corpus/"
  fi
  set +e
  "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$dir/$name-" \
    -print_final_stats=1 "$corpus" >"$dir/$name.log" 2>&1
  status=$?
  set -e
  echo "$status" >"$dir/$name.status"
}

# run_fuzzers DIR: every target, as many at once as there are cores (each
# is single-threaded), then one report per target in name order.
run_fuzzers() {
  local dir="$1" target name status
  local -a targets=()
  fuzz_selftest "$dir"
  for target in "$dir"/tests/fuzz/fuzz_*; do
    [[ -x "$target" ]] && targets+=("$target")
  done
  echo "== fuzzing ${#targets[@]} targets for ${fuzz_seconds}s each, $jobs at a time"
  for target in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= jobs)); do
      wait -n || true
    done
    fuzz_one "$dir" "$target" &
  done
  wait || true
  for target in "${targets[@]}"; do
    name="$(basename "$target")"
    status="$(cat "$dir/$name.status" 2>/dev/null || echo 1)"
    echo "== fuzz $name"
    if [[ $status == 0 ]]; then
      tail -n 3 "$dir/$name.log"
    else
      echo "-- $name failed (exit $status); its finding ($dir/$name.log):"
      show_finding "$dir/$name.log"
    fi
    record "fuzz $name" "$status"
  done
}

install_missing_packages

echo "== build: release"
build build -DCMAKE_BUILD_TYPE=Release
run_ctest build release

if [[ "${TV_SKIP_ASAN:-0}" != 1 ]]; then
  echo "== build: address + undefined sanitizers"
  build build-asan -DCMAKE_BUILD_TYPE=Debug -DTV_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1 run_ctest build-asan asan
fi

if [[ "$fuzz_seconds" != 0 ]]; then
  echo "== build: libFuzzer targets"
  build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DTV_FUZZ=ON \
    -DTV_BUILD_TESTS=ON
  run_fuzzers build-fuzz
fi

for f in "${skips[@]+"${skips[@]}"}"; do
  echo "SKIPPED: $f"
done
for f in "${failures[@]+"${failures[@]}"}"; do
  echo "FAILED: $f"
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
