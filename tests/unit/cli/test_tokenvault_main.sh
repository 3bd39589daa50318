#!/usr/bin/env bash
# The tokenvault executable itself: command dispatch, help, exit codes,
# and that a --key given on the command line is gone from the process
# list while the command runs.
#
#   test_tokenvault_main.sh TOKENVAULT
set -euo pipefail
tokenvault="$1"
key=2B7E151628AED2A6ABF7158809CF4F3C
failures=0

check() { # check NAME EXPECTED_STATUS COMMAND...
  local name="$1" expected="$2" status=0
  shift 2
  "$@" >/dev/null 2>&1 || status=$?
  if [[ "$status" != "$expected" ]]; then
    echo "FAIL: $name: exit $status, expected $expected"
    failures=$((failures + 1))
  fi
}

check "no command" 2 "$tokenvault"
check "--help" 0 "$tokenvault" --help
check "unknown command" 2 "$tokenvault" frobnicate
check "fpe --help" 0 "$tokenvault" fpe --help
check "fpe bad option" 2 "$tokenvault" fpe encrypt --key "$key" --radix 10 --bogus
"$tokenvault" --help | grep -q "^  fpe " || { echo "FAIL: --help does not list fpe"; failures=$((failures + 1)); }

# /dev/full: every write fails with ENOSPC, which must be exit 1.
status=0
"$tokenvault" fpe encrypt --key "$key" --radix 10 0123456789 >/dev/full 2>/dev/null || status=$?
[[ "$status" == 1 ]] || { echo "FAIL: write to /dev/full: exit $status, expected 1"; failures=$((failures + 1)); }

result="$("$tokenvault" fpe encrypt --key "$key" --radix 10 0123456789)" || true
[[ "$result" == 2433477484 ]] || { echo "FAIL: NIST sample 1 gave '$result'"; failures=$((failures + 1)); }

# While the command waits for stdin, its argv must not show the key.
fifo="$(mktemp -u)"
mkfifo "$fifo"
"$tokenvault" fpe encrypt --key "$key" --radix 10 <"$fifo" >/dev/null &
pid=$!
exec 3<>"$fifo" # read-write: never blocks, even if the command died
cmdline=""
for _ in $(seq 1 50); do
  [[ -r "/proc/$pid/cmdline" ]] || break
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)"
  [[ "$cmdline" == *"--radix"* && "$cmdline" != *"$key"* ]] && break
  sleep 0.1
done
echo 0123456789 >&3
exec 3>&-
wait "$pid" || true
rm -f "$fifo"
if [[ "$cmdline" != *"--radix"* || "$cmdline" == *"$key"* ]]; then
  echo "FAIL: the key is visible in /proc/PID/cmdline: $cmdline"
  failures=$((failures + 1))
fi

if ((failures > 0)); then
  exit 1
fi
echo "tokenvault main: all checks passed"
