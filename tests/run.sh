#!/usr/bin/env bash
# The one test command: installs what is missing (Debian 12 packages),
# builds the normal and the sanitizer configurations, runs every suite
# through ctest, then runs each fuzz target for a bounded time.
#
#   tests/run.sh            everything
#   TV_FUZZ_SECONDS=N       seconds per fuzz target (default 20; 0 skips fuzzing)
#   TV_SKIP_ASAN=1          skip the sanitizer build (local iteration only)
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
failures=()

record() { # record NAME STATUS
  if [[ "$2" == 0 ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$1")
  fi
}

# run_ctest DIR LABEL: counts each ctest test into the totals.
run_ctest() {
  local dir="$1" label="$2" log
  log="$dir/ctest.log"
  set +e
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600) 2>&1 | tee "$log"
  set -e
  local total fails
  total="$(grep -Eo 'tests failed out of [0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)"
  fails="$(grep -Eo '[0-9]+ tests failed' "$log" | grep -Eo '^[0-9]+' || echo 0)"
  if [[ "$total" == 0 ]]; then
    record "$label: ctest ran no test" 1
    return
  fi
  passed=$((passed + total - fails))
  failed=$((failed + fails))
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

run_fuzzers() {
  local dir="$1" target name corpus
  for target in "$dir"/tests/fuzz/fuzz_*; do
    [[ -x "$target" ]] || continue
    name="$(basename "$target")"
    corpus="$dir/corpus/$name"
    mkdir -p "$corpus"
    if [[ -d "$root/tests/fuzz/corpus/$name" ]]; then
      cp -r "$root/tests/fuzz/corpus/$name/." "$corpus/"
    fi
    echo "== fuzzing $name for ${fuzz_seconds}s"
    set +e
    "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 "$corpus" >"$dir/$name.log" 2>&1
    local status=$?
    set -e
    tail -n 3 "$dir/$name.log"
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
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest build-asan asan
fi

if [[ "$fuzz_seconds" != 0 ]]; then
  echo "== build: libFuzzer targets"
  build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DTV_FUZZ=ON \
    -DTV_BUILD_TESTS=ON
  run_fuzzers build-fuzz
fi

for f in "${failures[@]+"${failures[@]}"}"; do
  echo "FAILED: $f"
done
echo "tests: $passed passed, $failed failed"
((failed == 0))
