#!/usr/bin/env bash
# CLI bulk detokenisation, end to end: a seeded CRM-like CSV of ROWS rows
# (default 1,000,000; two tokenized columns, PAN and IBAN) is tokenized,
# then `tokenvault detokenize --csv ... --reveal full --out ...` is timed
# against `tokenvaultd --dev` on loopback. Prints one JSON line: rows/s
# and peak RSS of the detokenize run (and of the tokenize run).
#
#   bench/cli_bench.sh BUILD_DIR [ROWS] [extra detokenize options...]
set -euo pipefail
build="$(cd "${1:?usage: cli_bench.sh BUILD_DIR [ROWS]}" && pwd)"
rows="${2:-1000000}"
shift $(( $# >= 2 ? 2 : 1 ))
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/tv-cli-bench.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$build/vault/daemon/tokenvaultd" --dev --listen 127.0.0.1:0 --data-dir "$work/var" 2>"$work/server.log" &
server_pid=$!
port=""
for _ in $(seq 1 200); do
  port="$(sed -n 's/.*"event": "listening".*"port": \([0-9]*\).*/\1/p' "$work/server.log" | head -1)"
  [[ -n "$port" ]] && break
  sleep 0.05
done
[[ -n "$port" ]] || { echo "tokenvaultd did not start: $(cat "$work/server.log")" >&2; exit 1; }

python3 "$here/tests/integration/cli_data.py" "$rows" "$work/in.csv" 20261126
cli="$build/client/c/tokenvault"
common=(--dev --target "127.0.0.1:$port" --no-progress --columns pan:pan,iban:iban)

measure() { # measure OUT_PREFIX COMMAND... -> seconds and peak RSS in files
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/$1.rss" "${@:2}"
  end=$(date +%s.%N)
  python3 -c "print($end - $start)" > "$work/$1.secs"
}

measure tok "$cli" tokenize "${common[@]}" --csv "$work/in.csv" --out "$work/tok.csv"
measure detok "$cli" detokenize "${common[@]}" --reveal full --reason bench --csv "$work/tok.csv" \
  --out "$work/back.csv" "$@"
cmp -s "$work/in.csv" "$work/back.csv" || { echo "round trip differs" >&2; exit 1; }

python3 - "$rows" "$work" <<'PY'
import json, sys
rows, work = int(sys.argv[1]), sys.argv[2]
val = lambda name: float(open("%s/%s" % (work, name)).read().split()[-1])
print(json.dumps({"bench": "cli_bulk_detokenize", "rows": rows, "columns": 2,
                  "detokenize_seconds": round(val("detok.secs"), 3),
                  "rows_per_s": round(rows / val("detok.secs")),
                  "peak_rss_kib": int(val("detok.rss")),
                  "tokenize_seconds": round(val("tok.secs"), 3),
                  "tokenize_rows_per_s": round(rows / val("tok.secs")),
                  "tokenize_peak_rss_kib": int(val("tok.rss")), "round_trip": "identical"}))
PY
