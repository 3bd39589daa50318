#!/usr/bin/env bash
# `tokenvault db tokenize` and `db detokenize` of a PostgreSQL table, end
# to end: ROWS rows (default 1,000,000) with a card number (pan) and an
# IBAN column (every 20th card Luhn-broken, so bad cells are reported),
# on a private PostgreSQL 15 (tests/support/pg_cluster.py) against
# `tokenvaultd --dev` on loopback. Prints one JSON line: rows/s of each
# direction, peak RSS, and that the round trip restored the table.
#
#   bench/db_migrate_bench.sh BUILD_DIR [ROWS] [extra db options, e.g. --batch 5000]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "${TV_TEST_PG_CONNINFO:-}" ]]; then
  exec python3 "$here/tests/support/pg_cluster.py" --run --timeout 3600 -- "$0" "$@"
fi
build="$(cd "${1:?usage: db_migrate_bench.sh BUILD_DIR [ROWS]}" && pwd)"
rows="${2:-1000000}"
shift $(( $# >= 2 ? 2 : 1 ))
work="$(mktemp -d /tmp/tv-db-bench.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
sql() { eval "$TV_TEST_PG_SQL" '"$1"'; }
query() { eval "${TV_TEST_PG_SQL% -c}" -A -t -c '"$1"'; }

"$build/vault/daemon/tokenvaultd" --dev --listen 127.0.0.1:0 --data-dir "$work/var" 2>"$work/server.log" &
server_pid=$!
port=""
for _ in $(seq 1 200); do
  port="$(sed -n 's/.*"event": "listening".*"port": \([0-9]*\).*/\1/p' "$work/server.log" | head -1)"
  [[ -n "$port" ]] && break
  sleep 0.05
done
[[ -n "$port" ]] || { echo "tokenvaultd did not start: $(cat "$work/server.log")" >&2; exit 1; }

sql "
CREATE FUNCTION luhn_digit(p text) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$
  SELECT ((10 - sum(CASE WHEN (length(p) - i) % 2 = 0
                         THEN (substr(p, i, 1)::int * 2) - CASE WHEN substr(p, i, 1)::int >= 5 THEN 9 ELSE 0 END
                         ELSE substr(p, i, 1)::int END) % 10) % 10)::text
  FROM generate_series(1, length(p)) AS i \$\$;
CREATE FUNCTION iban_de(b text) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$
  SELECT 'DE' || lpad((98 - ((b || '131400')::numeric % 97))::text, 2, '0') || b \$\$;
CREATE TABLE customers (id bigint PRIMARY KEY, name text, card_number text, iban text);
INSERT INTO customers SELECT id, 'customer ' || id,
  CASE WHEN id % 20 = 0 THEN p || ((luhn_digit(p)::int + 1) % 10)::text ELSE p || luhn_digit(p) END,
  iban_de(lpad((id * 7919 % 100000000)::text, 8, '0') || lpad((id * 2654435761 % 9999999967)::text, 10, '0'))
FROM (SELECT id, '4' || lpad(((id * 2654435761) % 100000000000000)::text, 14, '0') AS p
      FROM generate_series(1::bigint, $rows) AS id) AS g;
CREATE TABLE originals AS TABLE customers;"
sql "VACUUM ANALYZE customers"

cli="$build/client/c/tokenvault"
common=(--dev --target "127.0.0.1:$port" --conninfo "$TV_TEST_PG_CONNINFO" --table customers
        --columns card_number:pan,iban:iban --no-progress)
measure() { # measure NAME COMMAND... -> seconds and peak RSS in files; exit 1 (bad cells) is expected
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/$1.rss" "${@:2}" > "$work/$1.out" 2> "$work/$1.err" || [[ $? -eq 1 ]]
  end=$(date +%s.%N)
  python3 -c "print($end - $start)" > "$work/$1.secs"
}
measure tok "$cli" db tokenize "${common[@]}" "$@"
grep -q "done;" "$work/tok.out" || { cat "$work/tok.out" "$work/tok.err" >&2; exit 1; }
measure detok "$cli" db detokenize "${common[@]}" --reason bench "$@"
grep -q "done;" "$work/detok.out" || { cat "$work/detok.out" "$work/detok.err" >&2; exit 1; }
diff="$(query "SELECT count(*) FROM ((TABLE customers EXCEPT TABLE originals) UNION ALL (TABLE originals EXCEPT TABLE customers)) d")"
[[ "$diff" == "0" ]] || { echo "round trip differs in $diff rows" >&2; exit 1; }

python3 - "$rows" "$work" <<'PY'
import json, sys
rows, work = int(sys.argv[1]), sys.argv[2]
val = lambda name: float(open("%s/%s" % (work, name)).read().split()[-1])
print(json.dumps({"bench": "db_migrate", "rows": rows, "columns": 2,
                  "tokenize_seconds": round(val("tok.secs"), 1),
                  "tokenize_rows_per_s": round(rows / val("tok.secs")),
                  "tokenize_peak_rss_kib": int(val("tok.rss")),
                  "detokenize_seconds": round(val("detok.secs"), 1),
                  "detokenize_rows_per_s": round(rows / val("detok.secs")),
                  "detokenize_peak_rss_kib": int(val("detok.rss")), "round_trip": "identical"}))
PY
