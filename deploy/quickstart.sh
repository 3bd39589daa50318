#!/usr/bin/env bash
# tokenvault quickstart: on a fresh Debian 12 machine, installs what is
# missing, builds, creates a development SoftHSM2 token under ./var and
# walks through what the vault can do today. Safe to rerun.
#
# Today the vault service (tokenvaultd) is not built yet: this script shows
# the parts that are — format-preserving encryption and the HSM token — and
# says so. It grows into the full CRM -> finance -> security-officer story.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
var="$root/var"
cli="$root/build/client/c/tokenvault"

step() { printf '\n== %s\n' "$*"; }

step "1. installing missing Debian packages (deploy/packages.txt)"
bash deploy/install-deps.sh

step "2. building (Release) into ./build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
echo "built: $cli"

step "3. development HSM token in $var/hsm"
mkdir -p "$var"
if [[ -f "$var/hsm/softhsm2.conf" ]]; then
  echo "already there (remove $var/hsm to start over)"
else
  "$cli" hsm init --dir "$var/hsm"
fi

step "4. FF1 format-preserving encryption, checked against NIST SP 800-38G sample 1"
nist="$("$cli" fpe encrypt --key 2B7E151628AED2A6ABF7158809CF4F3C --radix 10 0123456789)"
echo "FF1(0123456789) = $nist (NIST: 2433477484)"
[[ "$nist" == 2433477484 ]]

step "5. the card numbers of tests/data/sample_customers.csv through FF1 (a throwaway key)"
key_file="$var/demo-ff1.key"
if [[ ! -f "$key_file" ]]; then
  (umask 077 && openssl rand -hex 32 >"$key_file")
fi
cut -d, -f4 tests/data/sample_customers.csv | tail -n +2 | tr -d ' ' >"$var/demo-pans.txt"
"$cli" fpe encrypt --key-file "$key_file" --radix 10 <"$var/demo-pans.txt" >"$var/demo-ff1.txt"
"$cli" fpe decrypt --key-file "$key_file" --radix 10 <"$var/demo-ff1.txt" >"$var/demo-back.txt"
cmp -s "$var/demo-pans.txt" "$var/demo-back.txt"
paste -d' ' "$var/demo-pans.txt" "$var/demo-ff1.txt" | head -5 | awk '{printf "  %-20s -> %s\n", $1, $2}'
echo "  ... every value decrypts back (raw FF1: the vault's PAN format also keeps"
echo "  the first 6 and last 4 digits and makes tokens fail the Luhn check)"

step "where things are"
echo "  CLI:        $cli"
echo "  HSM token:  $var/hsm (softhsm2.conf, user.pin)"
echo "  tests:      tests/run.sh"
echo "  not yet:    tokenvaultd (the gRPC service), the store and the CRM story"
