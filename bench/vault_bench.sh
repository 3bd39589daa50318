#!/usr/bin/env bash
# Runs bench/vault_bench against a fresh tokenvaultd, every mode, twice:
# --dev (plaintext on loopback) and mTLS (certificates from
# deploy/certs/make-certs.sh, a SoftHSM2 token from `tokenvault hsm init`,
# a generated config). Each server also serves the HTTP/JSON API
# (--http-listen), and the same run measures the HTTP modes (batch
# tokenize, batch detokenize, NDJSON stream detokenize) with the same batch
# sizes and in-flight counts. Prints one JSON line per run and the ratios
# the issues set goals for (unary tokenize calls/s / Health calls/s >= 0.7;
# HTTP values/s / gRPC values/s >= 0.6 per mode). A mode whose path the
# server does not serve (HTTP 404, vault_bench exit 3) is reported as
# such and skipped, not a failure.
#
#   bench/vault_bench.sh BUILD_DIR [--seconds S] [--in-flight N] [--smoke] [--dev-only]
#
# Each run starts on an empty data directory (a temp dir, removed at exit),
# so tokenize modes write new records and are durable (fdatasync per group
# commit) like production. The load generator runs on the same machine.
set -euo pipefail
build="${1:?usage: vault_bench.sh BUILD_DIR [--seconds S] [--in-flight N] [--smoke] [--dev-only]}"
shift
seconds=10
in_flight=64
dev_only=0
extra=() # more vault_bench flags for every run
while (($#)); do
  case "$1" in
    --seconds) seconds="${2:?}"; shift 2 ;;
    --in-flight) in_flight="${2:?}"; shift 2 ;;
    # smoke: checks that everything works (also under sanitizers), not speed
    --smoke) seconds=1; in_flight=4; dev_only=1; extra=(--batch 100 --pool 1000); shift ;;
    --dev-only) dev_only=1; shift ;;
    *) echo "vault_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
here="$(cd "$(dirname "$0")" && pwd)"
server="$build/vault/daemon/tokenvaultd"
bench="$build/bench/vault_bench"
cli="$build/client/c/tokenvault"
work="$(mktemp -d /tmp/vault-bench.XXXXXX)"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# start_server LOG ARGS...: starts tokenvaultd, sets $pid, $port and $http_port.
start_server() {
  local log="$1"
  shift
  "$server" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 "$@" 2>"$log" &
  pid=$!
  port=""
  for _ in $(seq 1 200); do
    port="$(sed -n 's/.*"event": "listening".*"port": \([0-9]*\).*/\1/p' "$log" | head -1)"
    http_port="$(sed -n 's/.*"event": "http_listening".*"port": \([0-9]*\).*/\1/p' "$log" | head -1)"
    [[ -n "$port" && -n "$http_port" ]] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.05
  done
  echo "vault_bench.sh: tokenvaultd did not start" >&2
  exit 1
}

stop_server() {
  kill -TERM "$pid"
  wait "$pid"
  pid=""
}

# run_modes LABEL BENCH_ARGS...: every mode, one JSON line each, then the ratio.
run_modes() {
  local label="$1"
  shift
  local out="$work/$label.jsonl"
  : >"$out"
  for mode in health tokenize tokenize-batch detokenize-batch detokenize-stream \
    http-tokenize-batch http-detokenize-batch http-detokenize-stream; do
    local flight="$in_flight"
    # batch modes: a handful of 1,000-item calls keeps both cores busy;
    # more only queues (and 64 x 1,000 values is a lot of memory).
    [[ "$mode" == *batch* || "$mode" == *stream* ]] && flight=$(( in_flight < 8 ? in_flight : 8 ))
    local rc=0
    "$bench" --target "127.0.0.1:$port" --http-target "127.0.0.1:$http_port" --mode "$mode" --seconds "$seconds" \
      --in-flight "$flight" --server-pid "$pid" --json "${extra[@]}" "$@" >"$work/one.json" || rc=$?
    cat "$work/one.json"
    if ((rc == 3)); then
      echo "# $mode: not served by this tokenvaultd (HTTP 404), skipped" >&2
      continue
    fi
    ((rc == 0)) || { echo "vault_bench.sh: mode $mode failed (exit $rc)" >&2; exit 1; }
    cat "$work/one.json" >>"$out"
  done
  python3 - "$out" "$label" <<'PY'
import json, sys
runs = {r["mode"]: r for r in map(json.loads, open(sys.argv[1]))}
h, u = runs["health"]["calls_per_s"], runs["tokenize"]["calls_per_s"]
# CPU per item is what a value costs whatever else runs on the machine;
# 2 cores / (server + generator cost) is the rate two idle cores allow.
ceiling = {m: round(2e6 / (r["server_cpu_us_per_item"] + r["client_cpu_us_per_item"]))
           for m, r in runs.items() if r["server_cpu_us_per_item"] + r["client_cpu_us_per_item"] > 0}
# HTTP / gRPC per mode (goal >= 0.6): values/s in this run, and server CPU
# per value (the steadier figure on a loaded machine; < 1 is cheaper).
def ratio(mode, key):
    g, w = runs.get(mode), runs.get("http-" + mode)
    return round(w[key] / g[key], 3) if g and w and g[key] else None
pairs = ("tokenize-batch", "detokenize-batch", "detokenize-stream")
print(json.dumps({"bench": "vault", "run": sys.argv[2], "ratio_unary_tokenize_to_health": round(u / h, 3) if h else None,
                  "batch_tokenize_values_per_s": runs["tokenize-batch"]["items_per_s"],
                  "batch_detokenize_values_per_s": runs["detokenize-batch"]["items_per_s"],
                  "stream_detokenize_values_per_s": runs["detokenize-stream"]["items_per_s"],
                  "http_to_grpc_values_per_s": {m: ratio(m, "items_per_s") for m in pairs},
                  "http_to_grpc_server_cpu_per_value": {m: ratio(m, "server_cpu_us_per_item") for m in pairs},
                  "cpu_bound_ceiling_items_per_s_on_2_idle_cores": ceiling}))
PY
}

echo "# $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
start_server "$work/dev.log" --dev --data-dir "$work/dev"
run_modes dev
stop_server
[[ "$dev_only" == 1 ]] && exit 0

# mTLS: CA, server and client certificates; a SoftHSM2 token; a config
# naming the client's principal with tokenize and full detokenize on pan.
"$here/../deploy/certs/make-certs.sh" "$work/pki" --server-name localhost --server-ip 127.0.0.1 \
  --client spiffe://bench/loadgen >/dev/null
"$cli" hsm init --dir "$work/hsm" >/dev/null
export SOFTHSM2_CONF="$work/hsm/softhsm2.conf"
cat >"$work/bench.yaml" <<YAML
listen: 127.0.0.1:7443   # --listen 127.0.0.1:0 overrides it
tls:
  cert: $work/pki/server.crt
  key: $work/pki/server.key
  client_ca: $work/pki/ca.crt
data_dir: $work/mtls
hsm:
  module: /usr/lib/softhsm/libsofthsm2.so
  token_label: tokenvault-dev
  pin_file: $work/hsm/user.pin
audit:
  dir: $work/mtls-audit
namespaces:
  - name: pan
    format: {kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19}
    convergent: true
roles:
  - name: loadgen
    permissions:
      - namespace: pan
        allow: [tokenize, "detokenize:full"]
    limits:
      items_per_request: 1000
      reveals_per_minute: 1000000000
principals:
  - name: spiffe://bench/loadgen
    roles: [loadgen]
YAML
start_server "$work/mtls.log" --config "$work/bench.yaml" --init
run_modes mtls --ca "$work/pki/ca.crt" --cert "$work/pki/client-spiffe___bench_loadgen.crt" \
  --key "$work/pki/client-spiffe___bench_loadgen.key" --server-name localhost
stop_server
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
