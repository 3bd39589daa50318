#!/usr/bin/env bash
# tokenvault quickstart: the README's first command.
#
# On a fresh Debian 12 machine it installs what is missing, builds
# (Release, ./build), creates a development SoftHSM2 token and development
# certificates under ./var, starts tokenvaultd in the background with
# deploy/config/tokenvault.quickstart.yaml (mutual TLS on loopback; a CRM, a
# finance job and two security officers, each with its own certificate) and
# walks the story on tests/data/sample_customers.csv:
#   1. the CRM tokenizes the file: its copy holds only tokens
#   2. the CRM is refused full values, and sees masked ones
#   3. the finance job detokenizes the whole file (with a reason)
#   4. officer A rotates a data key and proposes a KEK rotation, officer B
#      approves; every token still detokenizes
#   5. the audit log is verified with the HSM
#
#   deploy/quickstart.sh [--port N]   run (or rerun) the story
#   deploy/quickstart.sh --stop       stop the tokenvaultd it started
#
# Environment:
#   TV_QUICKSTART_PORT       port to serve on (default 7443; --port wins)
#   TV_QUICKSTART_BUILD_DIR  use the tokenvault and tokenvaultd already built
#                            in this CMake build directory (absolute, or
#                            relative to the repository root): no package
#                            install, no build (what CI does)
#
# Rerunning is safe: the token, certificates, keyring and data are reused,
# a server it started before is stopped and started again, and every output
# file is written atomically. Delete ./var (after --stop) to start over.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

var="$root/var"
hsm_dir="$var/hsm"
certs="$var/certs"
story="$var/quickstart"
log_dir="$var/log"
log="$log_dir/tokenvaultd.log"
pid_file="$var/tokenvaultd.pid"
config="$root/deploy/config/tokenvault.quickstart.yaml"
sample="$root/tests/data/sample_customers.csv"
port="${TV_QUICKSTART_PORT:-7443}"
build="${TV_QUICKSTART_BUILD_DIR:-$root/build}"

# Which CSV column holds which kind of value, i.e. its token namespace.
columns="card_number:pan,iban:iban,ssn:ssn,tw_national_id:tw_national_id"
columns+=",cn_resident_id:cn_resident_id,de_tax_id:de_tax_id"
# The same columns as 1-based field numbers of the sample file.
sensitive_fields="4 5 6 7 8 9"

step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
die() {
  printf 'quickstart: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '17,18p' "$0" >&2
  exit 2
}

# The tokenvaultd this script started, if it still runs: its pid, else "".
running_pid() {
  [[ -f "$pid_file" ]] || return 0
  local pid cmdline
  pid="$(cat "$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  # A stale file may name a pid that now belongs to another program.
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 0
  if [[ "$cmdline" == *tokenvaultd*"--config $config "* ]]; then
    echo "$pid"
  fi
}

# alive PID: the process runs (a child that exited stays a zombie until
# this script ends, and kill -0 would still find it).
alive() {
  local stat
  stat="$(cat 2>/dev/null "/proc/$1/stat")" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z ]]
}

stop_server() {
  local pid
  pid="$(running_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$pid_file"
    say "no quickstart tokenvaultd is running"
    return 0
  fi
  say "stopping tokenvaultd (pid $pid): SIGTERM lets it finish calls and seal the audit log"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 300; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    die "tokenvaultd (pid $pid) did not stop within 30 s; see $log"
  fi
  rm -f "$pid_file"
  say "stopped"
}

install_packages() {
  step "installing missing Debian packages (deploy/packages.txt)"
  if [[ -n "${TV_QUICKSTART_BUILD_DIR:-}" ]]; then
    say "skipped: TV_QUICKSTART_BUILD_DIR is set, so the binaries and their packages are there"
    return 0
  fi
  say "compilers, gRPC, OpenSSL, SoftHSM2 ... (nothing happens when all are there)"
  if ! bash deploy/install-deps.sh; then
    ((EUID == 0)) || die "installing packages needs root: run sudo deploy/install-deps.sh, then this again"
    die "deploy/install-deps.sh failed (see above); is apt reachable?"
  fi
}

build_binaries() {
  step "building tokenvault (the CLI) and tokenvaultd (the server)"
  if [[ -n "${TV_QUICKSTART_BUILD_DIR:-}" ]]; then
    say "using the binaries already built in $build"
  else
    say "Release build into ./build (a few minutes the first time; the log: $log_dir/build.log)"
    mkdir -p "$log_dir"
    if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release &&
      cmake --build build -j "$(nproc)"; } >"$log_dir/build.log" 2>&1; then
      tail -n 30 "$log_dir/build.log" >&2
      die "the build failed; the whole log is $log_dir/build.log"
    fi
  fi
  cli="$build/client/c/tokenvault"
  daemon="$build/vault/daemon/tokenvaultd"
  [[ -x "$cli" && -x "$daemon" ]] || die "no $cli or $daemon: build the tokenvault and tokenvaultd targets"
  say "CLI:    $cli"
  say "server: $daemon"
}

make_hsm_token() {
  step "development HSM token in var/hsm"
  say "the key-encryption key and the audit MAC key live in a (software) HSM and never leave it"
  if [[ -f "$hsm_dir/softhsm2.conf" ]]; then
    say "already there: reusing it"
  else
    "$cli" hsm init --dir "$hsm_dir" | sed 's/^/   /'
  fi
  say "the PIN stays in $hsm_dir/user.pin (mode 0600); it is never printed"
  export SOFTHSM2_CONF="$hsm_dir/softhsm2.conf"
}

make_certificates() {
  step "development certificates in var/certs"
  say "one private CA; a server certificate for 127.0.0.1; one client certificate per identity."
  say "The vault knows a caller only by its certificate: no certificate, no call."
  deploy/certs/make-certs.sh "$certs" --server-name localhost --server-ip 127.0.0.1 \
    --client crm.example.org --client finance.example.org \
    --client officer-a.example.org --client officer-b.example.org | sed 's/^/   /'
  say "CA and certificates in $certs (existing ones are kept)"
}

# identity_opts PRINCIPAL: the CLI's connection options for that identity,
# one per line.
identity_opts() {
  printf '%s\n' --target "127.0.0.1:$port" --ca "$certs/ca.crt" \
    --cert "$certs/client-$1.crt" --key "$certs/client-$1.key"
}

start_server() {
  step "starting tokenvaultd on 127.0.0.1:$port"
  if [[ -n "$(running_pid)" ]]; then
    say "a quickstart tokenvaultd is already running: restarting it, so it runs this config and binary"
    stop_server
  fi
  # gRPC binds with SO_REUSEPORT: a second server on a busy port would start
  # and silently share the connections. So look first.
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "something already listens on 127.0.0.1:$port; choose another port with --port N"
  fi
  mkdir -p "$log_dir"
  local init=()
  if [[ ! -e "$var/data/keyring" ]]; then
    say "first start: --init creates the keyring (data keys, wrapped by the HSM's KEK)"
    init=(--init)
  fi
  local log_start=0
  [[ -f "$log" ]] && log_start="$(stat -c %s "$log")"
  # Started from the repository root: the config's ./var paths are relative.
  nohup "$daemon" --config "$config" --listen "127.0.0.1:$port" "${init[@]+"${init[@]}"}" \
    </dev/null >>"$log" 2>&1 &
  local pid=$!
  printf '%s\n' "$pid" >"$pid_file.tmp" && mv -f "$pid_file.tmp" "$pid_file"
  local crm_opts i
  mapfile -t crm_opts < <(identity_opts crm.example.org)
  for ((i = 0; i < 300; i++)); do
    if ! alive "$pid"; then
      rm -f "$pid_file"
      tail -c "+$((log_start + 1))" "$log" | tail -n 20 >&2
      die "tokenvaultd exited at start: its log lines are above (the whole log: $log)"
    fi
    if "$cli" health "${crm_opts[@]}" --retries 0 --deadline 1000 >/dev/null 2>&1; then
      say "serving (pid $pid, log $log)"
      return 0
    fi
    sleep 0.1
  done
  die "tokenvaultd did not answer within 30 s; the log: $log"
}

# show_side_by_side A B: the first rows of two CSV files, the sensitive
# cells of each customer as "A -> B" (the sample has no quoted commas).
show_side_by_side() {
  paste -d '\t' "$1" "$2" | sed -n '1,5p' | awk -F '\t' -v fields="$sensitive_fields" '
    NR == 1 { split($1, name, ","); k = split(fields, f, " "); next }
    { split($1, a, ","); split($2, b, ",")
      printf "   %s %s\n", a[1], a[2]
      for (i = 1; i <= k; i++) {
        c = f[i]
        if (a[c] != "") printf "     %-15s %-34s -> %s\n", name[c], a[c], b[c]
      } }'
  say "..."
}

tokenize_step() {
  step "1. the CRM tokenizes its customer file"
  say "The CRM sends the card numbers, IBANs and national IDs of $(basename "$sample") to the"
  say "vault and keeps only the tokens: same shape, so its database and forms do not change."
  local opts
  mapfile -t opts < <(identity_opts crm.example.org)
  "$cli" tokenize "${opts[@]}" --csv "$sample" --columns "$columns" --out "$story/customers.crm.csv"
  say "original -> token, the first rows:"
  show_side_by_side "$sample" "$story/customers.crm.csv"
  # Count sensitive cells left as they were: there must be none.
  local clear
  clear="$(paste -d '\t' "$sample" "$story/customers.crm.csv" | tail -n +2 | awk -F '\t' -v fields="$sensitive_fields" '
    { split($1, a, ","); split($2, b, ","); split(fields, f, " ")
      for (i in f) if (a[f[i]] != "" && a[f[i]] == b[f[i]]) n++ }
    END { print n + 0 }')"
  [[ "$clear" == 0 ]] || die "$clear sensitive values are still in clear in the CRM copy"
  say "the CRM copy $story/customers.crm.csv holds only tokens (0 values in clear)"
}

refusal_step() {
  step "2. the CRM asks for full values and is refused"
  local opts token msg rc=0
  mapfile -t opts < <(identity_opts crm.example.org)
  token="$(sed -n 2p "$story/customers.crm.csv" | cut -d, -f4)"
  say "\$ tokenvault detokenize --namespace pan --reveal full --reason ... '$token'  (as the CRM)"
  msg="$("$cli" detokenize "${opts[@]}" --namespace pan --reveal full --reason "quickstart: curious" \
    "$token" 2>&1 >/dev/null)" || rc=$?
  say "$msg"
  say "exit status $rc (4 = permission denied): the role crm has no detokenize:full"
  [[ "$rc" == 4 && "$msg" == *PERMISSION_DENIED* ]] || die "expected PERMISSION_DENIED and exit status 4"
  say "What an agent's screen may show instead: masked values (policy detokenize:masked)"
  "$cli" detokenize "${opts[@]}" --reveal masked --csv "$story/customers.crm.csv" --columns "$columns" \
    --out "$story/customers.masked.csv"
  say "token -> masked, the first rows (file: $story/customers.masked.csv):"
  show_side_by_side "$story/customers.crm.csv" "$story/customers.masked.csv"
}

# finance_round_trip OUT: finance detokenizes the CRM copy in bulk into OUT,
# which must equal the original file byte for byte.
finance_round_trip() {
  local opts
  mapfile -t opts < <(identity_opts finance.example.org)
  "$cli" detokenize "${opts[@]}" --reveal full --reason "quickstart: monthly settlement run" \
    --csv "$story/customers.crm.csv" --columns "$columns" --out "$1"
  cmp "$sample" "$1" || die "$1 differs from $sample"
  say "$(($(wc -l <"$1") - 1)) rows back in $1: identical to the original (cmp)"
}

finance_step() {
  step "3. the finance job detokenizes the whole file"
  say "finance may see full values (detokenize:full), but only with a reason, which the"
  say "audit log keeps. Without one:"
  local opts token msg rc=0
  mapfile -t opts < <(identity_opts finance.example.org)
  token="$(sed -n 2p "$story/customers.crm.csv" | cut -d, -f4)"
  msg="$("$cli" detokenize "${opts[@]}" --namespace pan --reveal full "$token" 2>&1 >/dev/null)" || rc=$?
  say "$msg"
  [[ "$rc" != 0 && "$msg" == *POLICY_REASON_REQUIRED* ]] || die "expected POLICY_REASON_REQUIRED"
  say "With a reason, the whole file in bulk (streamed in batches; a progress bar on a terminal):"
  finance_round_trip "$story/customers.finance.csv"
}

rotation_step() {
  step "4. key rotation by two security officers"
  local a b out proposal i status
  mapfile -t a < <(identity_opts officer-a.example.org)
  mapfile -t b < <(identity_opts officer-b.example.org)
  say "officer A rotates the pan data key: new tokens use the new version, old ones keep working"
  "$cli" keys rotate "${a[@]}" --namespace pan --reason "quickstart: scheduled rotation" | sed 's/^/   /'
  say "officer A proposes rotating the KEK (the HSM key wrapping every data key);"
  say "it takes effect only when a second officer approves"
  out="$("$cli" keys propose-kek "${a[@]}" --reason "quickstart: yearly KEK rotation")"
  printf '%s\n' "$out" | sed 's/^/   /'
  proposal="$(printf '%s\n' "$out" | awk '$1 == "proposal" { print $2; exit }')"
  [[ -n "$proposal" ]] || die "keys propose-kek printed no proposal id"
  say "officer B approves proposal $proposal"
  "$cli" keys approve-kek "${b[@]}" "$proposal" | sed 's/^/   /'
  # The data keys are rewrapped under the new KEK in the background.
  for ((i = 0; i < 100; i++)); do
    status="$("$cli" keys status "${a[@]}")"
    [[ "$status" == *"pending rewrap: 0"* ]] && break
    sleep 0.2
  done
  printf '%s\n' "$status" | sed 's/^/   /'
  say "every token made before the rotations still detokenizes:"
  finance_round_trip "$story/customers.after-rotation.csv"
}

audit_step() {
  step "5. verifying the audit log"
  say "every call above (and every refusal) is an entry in a hash chain; every 2 s of"
  say "activity a checkpoint seals the chain with a MAC made inside the HSM, whose"
  say "counter also catches a log cut short. Waiting for the checkpoint after the last call:"
  local token_label out prev="" ok i
  token_label="$(sed -n 's/^ *token_label: *\([^ #]*\).*/\1/p' "$config" | head -n 1)"
  # The live log is read as it is, while the server may still append (the
  # background rotation writes its own entry when it completes) and seal
  # (a checkpoint raises the HSM counter between our reading the files and
  # the counter). So look until two readings in a row agree and nothing is
  # unsealed; only a verdict that persists counts.
  for ((i = 0; i < 80; i++)); do
    ok=1
    out="$("$cli" audit verify --token-label "$token_label" --pin-file "$hsm_dir/user.pin" \
      "$var"/audit/audit-*.log 2>&1)" || ok=0
    if ((ok)) && [[ "$out" != *"unsealed: "[1-9]* && "$out" == "$prev" ]]; then
      break
    fi
    prev="$out"
    sleep 0.25
  done
  printf '%s\n' "$out" | sed 's/^/   /'
  ((ok)) || die "the audit log does not verify (see above)"
}

where_things_are() {
  step "where things are"
  say "server:  tokenvaultd pid $(cat "$pid_file") on 127.0.0.1:$port ($daemon)"
  say "config:  $config"
  say "log:     $log"
  say "data:    $var/data (keyring, store), audit log $var/audit"
  say "HSM:     $hsm_dir (export SOFTHSM2_CONF=$hsm_dir/softhsm2.conf)"
  say "certs:   $certs (client-<identity>.crt/.key)"
  say "files:   $story (crm = tokens, masked, finance = the values again)"
  say "try:     $cli whoami $(identity_opts crm.example.org | tr '\n' ' ')"
  say "stop:    deploy/quickstart.sh --stop   (or: kill \$(cat $pid_file))"
  say "again:   deploy/quickstart.sh          (start over: --stop, then rm -rf var)"
}

main() {
  case "${1:-}" in
    --stop)
      (($# == 1)) || usage
      stop_server
      return 0
      ;;
    --port)
      (($# == 2)) || usage
      port="$2"
      ;;
    "") ;;
    *) usage ;;
  esac
  if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    die "bad port: $port (1..65535)"
  fi
  install_packages
  build_binaries
  mkdir -p "$var" "$story"
  make_hsm_token
  make_certificates
  start_server
  tokenize_step
  refusal_step
  finance_step
  rotation_step
  audit_step
  where_things_are
}

main "$@"
