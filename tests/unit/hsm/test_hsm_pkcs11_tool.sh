#!/usr/bin/env bash
# Cross-check with OpenSC's pkcs11-tool: on a token made by `hsm init`, the
# KEK is listed under its label as an AES-256 key that only wraps and
# unwraps, sensitive and never extractable, and its value cannot be read.
#
#   test_hsm_pkcs11_tool.sh HSM_CLI_DRIVER MODULE
set -euo pipefail

driver="$1"
module="$2"
command -v pkcs11-tool >/dev/null || { echo "FAIL: pkcs11-tool missing (Debian package opensc)"; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/tv-hsm-p11tool-XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$driver" hsm init --dir "$work/hsm" --label p11tool-test --module "$module" >"$work/init.out"
export SOFTHSM2_CONF="$work/hsm/softhsm2.conf"
grep -q "pin file:     $work/hsm/user.pin" "$work/init.out"
[[ "$(stat -c %a "$work/hsm/user.pin")" == 600 ]] || { echo "FAIL: PIN file mode"; exit 1; }

# The PIN goes through the environment, never the command line.
TV_TEST_PIN="$(head -n1 "$work/hsm/user.pin")"
export TV_TEST_PIN
p11() { pkcs11-tool --module "$module" --token-label p11tool-test --login --pin env:TV_TEST_PIN "$@"; }

p11 --list-objects >"$work/objects" 2>"$work/objects.err"
cat "$work/objects"

# The block of lines describing the KEK.
kek="$(awk '/^Secret Key Object/ { block = $0; next } { block = block "\n" $0 }
            /label: *tokenvault-kek-1$/ { found = 1 }
            found && /Access:/ { print block; exit }' "$work/objects")"
fail() { echo "FAIL: $1"; echo "$kek"; exit 1; }
[[ -n "$kek" ]] || fail "KEK tokenvault-kek-1 not listed"
grep -q "AES length 32" <<<"$kek" || fail "KEK is not AES-256"
grep -Eq "Usage: +wrap, unwrap$" <<<"$kek" || fail "KEK usage is not exactly wrap, unwrap"
access="$(grep "Access:" <<<"$kek")"
grep -q "never extractable" <<<"$access" || fail "KEK not never-extractable"
grep -Eq "(^|[ :,])sensitive" <<<"$access" || fail "KEK not sensitive"
if grep -Eq ":.*(^|, |: +)extractable" <<<"$access"; then fail "KEK is extractable"; fi

# Its value cannot be read out.
if p11 --read-object --type secrkey --label tokenvault-kek-1 -o "$work/kek.bin" 2>"$work/read.err"; then
  fail "pkcs11-tool could read the KEK value"
fi
[[ ! -s "$work/kek.bin" ]] || fail "KEK bytes were written"

# And a wrong PIN is refused.
TV_TEST_PIN=000000 p11 --list-objects >/dev/null 2>&1 && fail "wrong PIN accepted"
echo "PASS"
