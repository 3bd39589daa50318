#!/usr/bin/env bash
# Installs the Debian packages listed in deploy/packages.txt that are not
# installed yet. Idempotent and quiet; needs root (apt-get).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mapfile -t wanted < <(grep -Ev '^\s*(#|$)' "$here/packages.txt")
# A package counts as present when it is installed or when an installed
# package provides it (e.g. a vendor nodejs package that bundles npm and
# conflicts with Debian's: asking apt for npm there would fail).
provided="$(dpkg-query -W -f='${db:Status-Abbrev}|${Provides}\n' 2>/dev/null | grep '^ii' | cut -d'|' -f2 |
  tr ',' '\n' | sed 's/(.*//; s/ //g' | sort -u)"
missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" &&
    ! grep -qx -- "$pkg" <<<"$provided"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
