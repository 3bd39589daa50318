#!/usr/bin/env bash
# Creates a private CA and the certificates tokenvault's mutual TLS needs:
# one server certificate and one client certificate per principal. Keys are
# EC P-256, written with mode 0600; nothing secret is printed.
#
#   deploy/certs/make-certs.sh DIR --server-name NAME [--server-ip IP]...
#                              [--client PRINCIPAL]... [--days N]
#
# A client PRINCIPAL is the identity the vault's policy names. A URI
# (spiffe://bank/crm) goes into the certificate's SAN as a URI; anything
# else (crm.bank.example) as a DNS name. The file names are the principal
# with every character outside [A-Za-z0-9._-] replaced by '_'.
# Rerunning keeps an existing CA and certificates (delete DIR to start over).
set -euo pipefail

usage() {
  sed -n '7,9p' "$0" >&2
  exit 2
}

dir="${1:-}"
[[ -n "$dir" && "$dir" != --* ]] || usage
shift
server_name=""
server_ips=()
clients=()
days=397 # the longest validity public CAs may issue; rotate before it ends
while (($#)); do
  case "$1" in
    --server-name) server_name="${2:?}"; shift 2 ;;
    --server-ip) server_ips+=("${2:?}"); shift 2 ;;
    --client) clients+=("${2:?}"); shift 2 ;;
    --days) days="${2:?}"; shift 2 ;;
    *) echo "make-certs.sh: unknown option $1" >&2; usage ;;
  esac
done
[[ -n "$server_name" ]] || { echo "make-certs.sh: --server-name is required" >&2; exit 2; }

mkdir -p "$dir"
umask 077

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [[ ! -f "$dir/ca.crt" ]]; then
  new_key "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/CN=tokenvault CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$dir/ca.crt"
  echo "CA:      $dir/ca.crt"
fi

# issue NAME SAN EKU: a leaf certificate signed by the CA.
issue() {
  local name="$1" san="$2" eku="$3"
  [[ -f "$dir/$name.crt" ]] && return 0
  new_key "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "/CN=${name}" -out "$dir/$name.csr"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$eku" "$san" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days "$days" -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
  echo "issued:  $dir/$name.crt ($san)"
}

server_san="DNS:$server_name"
for ip in "${server_ips[@]+"${server_ips[@]}"}"; do
  server_san+=",IP:$ip"
done
issue server "$server_san" serverAuth

for principal in "${clients[@]+"${clients[@]}"}"; do
  file="$(printf '%s' "$principal" | tr -c 'A-Za-z0-9._-' '_')"
  if [[ "$principal" == *://* ]]; then
    issue "client-$file" "URI:$principal" clientAuth
  else
    issue "client-$file" "DNS:$principal" clientAuth
  fi
done
chmod 0644 "$dir"/*.crt
