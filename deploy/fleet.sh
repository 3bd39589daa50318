#!/usr/bin/env bash
# tokenvault fleet on one machine: the README's "Fleet" in one command.
#
# Starts, under DIR (default ./var/fleet), a PostgreSQL 15 primary and a
# synchronous streaming standby (pg_basebackup -R; synchronous_commit = on,
# synchronous_standby_names naming the standby), one development SoftHSM2
# token and one mTLS PKI shared by two tokenvaultd nodes (A and B) whose
# store is that database (a conninfo naming both servers with
# target_session_attrs=read-write), and walks the story:
#   1. tokenize through node A, reveal through node B
#   2. the primary dies: calls fail with UNAVAILABLE, health NOT_SERVING
#   3. the standby is promoted: both nodes serve again by themselves
#   4. every token still reveals through both nodes; new tokens are issued
#      through both
#
#   deploy/fleet.sh [DIR] [--port N]   start (or restart) the fleet, walk the story
#   deploy/fleet.sh --stop [DIR]       stop everything it started in DIR
#
# --port N: node A serves gRPC on N, node B on N+1; their /metrics and
# /healthz (plain HTTP) are on N+2 and N+3. The databases listen on Unix
# sockets only (in DIR/pg/a and DIR/pg/b), never on TCP.
#
# Environment:
#   TV_FLEET_PORT        first port (default 7451; --port wins)
#   TV_FLEET_BUILD_DIR   use the tokenvault and tokenvaultd already built in
#                        this CMake build directory: no package install, no
#                        build (what CI does)
#   TV_PG_BIN            PostgreSQL's programs (default /usr/lib/postgresql/15/bin)
#
# As root, the PostgreSQL servers run as the `postgres` user (they refuse
# root), so DIR and its parents must be searchable by that user.
# Rerunning is safe: the token, certificates, database and keyring are
# reused; the nodes are restarted; whichever server is the primary stays
# it and the other is rebuilt as its synchronous standby from a fresh base
# backup, so every run fails over once more. Delete DIR (after --stop) to
# start over. No secret (HSM PIN, database password, key) is ever printed,
# written into a config file or passed on a command line.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

port="${TV_FLEET_PORT:-7451}"
build="${TV_FLEET_BUILD_DIR:-$root/build}"
pg_bin="${TV_PG_BIN:-/usr/lib/postgresql/15/bin}"
pg_port=5432 # a Unix socket's name; each server has its own directory
sample="$root/tests/data/sample_customers.csv"
nodes=(a b)

step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
die() {
  printf 'fleet: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '16,17p' "$0" >&2
  exit 2
}

# set_paths DIR: every path below DIR (made if missing).
set_paths() {
  mkdir -p "$1"
  dir="$(cd "$1" && pwd)"
  # PostgreSQL's options and the conninfo quote paths; keep them plain.
  [[ "$dir" =~ ^[A-Za-z0-9/._+-]+$ ]] || die "DIR may hold only letters, digits and / . _ + - ($dir)"
  pg_top="$dir/pg"
  hsm_dir="$dir/hsm"
  certs="$dir/certs"
  secrets="$dir/secrets"
  passfile="$secrets/pgpass"
  conf_dir="$dir/config"
  run_dir="$dir/run"
  log_dir="$dir/log"
  story="$dir/story"
  primary_file="$pg_top/primary"
}

# alive PID: it runs (a child that exited stays a zombie until we end).
alive() {
  local stat
  stat="$(cat 2>/dev/null "/proc/$1/stat")" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z ]]
}

not_alive() { ! alive "$1"; }

# ---- PostgreSQL ------------------------------------------------------------

# as_pg CMD...: runs CMD as the user the database servers run as.
as_pg() {
  if ((EUID == 0)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_node_dir() { printf '%s/%s' "$pg_top" "$1"; }
pg_data() { printf '%s/%s/data' "$pg_top" "$1"; }
other() { [[ "$1" == a ]] && echo b || echo a; }

pg_running() { as_pg "$pg_bin/pg_ctl" -D "$(pg_data "$1")" status >/dev/null 2>&1; }

# pg_sql NODE SQL [DATABASE]: runs SQL as the database superuser on NODE.
pg_sql() {
  as_pg "$pg_bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$(pg_node_dir "$1")" -p "$pg_port" \
    -U postgres -d "${3:-postgres}" -c "$2"
}

# keyring_table_exists: node a's --init has made the schema (a second
# --init would only join, but the first start deserves saying so).
keyring_table_exists() {
  [[ "$(pg_sql "$(cat "$primary_file")" "SELECT count(*) FROM pg_tables WHERE tablename = 'tv_keyring'" \
    tokenvault 2>/dev/null)" == 1 ]]
}

pg_start() {
  local n="$1" d
  d="$(pg_node_dir "$n")"
  # Socket directory and name are options, not in postgresql.conf: a base
  # backup copies that file to the other server.
  as_pg "$pg_bin/pg_ctl" -D "$d/data" -w -t 60 -l "$d/server.log" \
    -o "-c listen_addresses='' -c unix_socket_directories='$d' -p $pg_port -c cluster_name=pg_$n" \
    start >/dev/null || die "PostgreSQL $n did not start; its log: $d/server.log"
}

# pg_stop NODE MODE: fast (clean) or immediate (what a crash leaves).
pg_stop() {
  pg_running "$1" || return 0
  local pid
  pid="$(head -n 1 "$(pg_data "$1")/postmaster.pid" 2>/dev/null)" || pid=""
  as_pg "$pg_bin/pg_ctl" -D "$(pg_data "$1")" -m "$2" -w -t 60 stop >/dev/null
  # pg_ctl returns once the pid file is gone, a moment before the
  # postmaster itself: --stop promises nothing is left running.
  [[ "$pid" =~ ^[0-9]+$ ]] && wait_for "PostgreSQL $1 (pid $pid) to exit" 30 not_alive "$pid"
  return 0
}

# set_sync_standby NODE NAMES: the primary waits for NAMES ('' = nobody)
# before it acknowledges a commit; reloaded if NODE runs.
set_sync_standby() {
  local f
  f="$(pg_data "$1")/fleet_sync.conf"
  as_pg sh -c "printf '%s\n' \"synchronous_standby_names = '$2'\" >'$f'"
  if pg_running "$1"; then
    as_pg "$pg_bin/pg_ctl" -D "$(pg_data "$1")" reload >/dev/null
  fi
}

# wait_for DESCRIPTION SECONDS CMD...: polls CMD every 0.2 s.
wait_for() {
  local what="$1" secs="$2" end=$((SECONDS + $2))
  shift 2
  until "$@"; do
    ((SECONDS < end)) || die "timed out after $secs s waiting for $what"
    sleep 0.2
  done
}

standby_is_sync() {
  [[ "$(pg_sql "$1" "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'" 2>/dev/null)" == 1 ]]
}

# streams_to PRIMARY STANDBY: STANDBY's WAL receiver is connected.
streams_to() {
  [[ "$(pg_sql "$1" "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_$2' AND state = 'streaming'" \
    2>/dev/null)" == 1 ]]
}

is_primary() { [[ "$(pg_sql "$1" "SELECT pg_is_in_recovery()" 2>/dev/null)" == f ]]; }

make_pg_dirs() {
  mkdir -p "$pg_top"
  chmod 0711 "$pg_top" # the postgres user walks through to its own directories
  local n
  for n in "${nodes[@]}"; do
    mkdir -p "$(pg_node_dir "$n")"
    ((EUID == 0)) && chown postgres:postgres "$(pg_node_dir "$n")"
    chmod 0700 "$(pg_node_dir "$n")"
  done
  if ! as_pg test -w "$(pg_node_dir a)"; then
    die "the postgres user cannot reach $pg_top: choose a DIR whose parents it may search (e.g. under /tmp)"
  fi
}

# The servers' settings: replication, synchronous commit, and who may
# connect how. Only the owner of the socket directory (0700) reaches a
# socket, so the superuser needs no password; the vault's role does.
configure_primary() {
  local data
  data="$(pg_data a)"
  as_pg sh -c "cat >>'$data/postgresql.conf'" <<'EOF'

# tokenvault fleet (deploy/fleet.sh): a synchronous streaming pair
wal_level = replica
max_wal_senders = 8
hot_standby = on
wal_log_hints = on            # so pg_rewind can rebuild an old primary
synchronous_commit = on       # a commit answers once the standby has it
max_connections = 100
shared_buffers = 32MB
include_if_exists = 'fleet_sync.conf'   # synchronous_standby_names
# A fresh base backup starts with a sync of its whole data directory;
# one syncfs() instead of an fsync() per file (seconds on a busy disk).
recovery_init_sync_method = syncfs
EOF
  as_pg sh -c "cat >'$data/pg_hba.conf'" <<'EOF'
# tokenvault fleet: Unix sockets only, in directories only their owner reaches
local   all           postgres                  trust
local   replication   postgres                  trust
local   tokenvault    tokenvault                scram-sha-256
EOF
}

# A random password for the vault's role, given to libpq by a password
# file (mode 0600) and to PostgreSQL on psql's standard input: never on a
# command line, in a config file or on the screen.
create_vault_role() {
  mkdir -p "$secrets"
  chmod 0700 "$secrets"
  local pw
  pw="$(openssl rand -hex 24)"
  (umask 077 && printf '*:*:*:tokenvault:%s\n' "$pw" >"$passfile.tmp") && mv -f "$passfile.tmp" "$passfile"
  printf "CREATE ROLE tokenvault LOGIN PASSWORD '%s';\nCREATE DATABASE tokenvault OWNER tokenvault;\n" "$pw" |
    as_pg "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$(pg_node_dir a)" -p "$pg_port" -U postgres -d postgres -f - \
      >/dev/null
  pw=""
}

create_pg_pair() {
  say "initdb: PostgreSQL server a, the first primary ($(pg_data a))"
  as_pg "$pg_bin/initdb" -D "$(pg_data a)" -U postgres -E UTF8 --locale=C --no-sync >"$log_dir/initdb.log" 2>&1 ||
    die "initdb failed; see $log_dir/initdb.log"
  configure_primary
  set_sync_standby a ""
  pg_start a
  create_vault_role
  echo a >"$primary_file"
  say "role and database tokenvault; its password is in $passfile (0600), never printed"
}

# rebuild_standby NODE: a fresh base backup of the primary that follows it
# (pg_basebackup -R), then the primary commits only once NODE has the WAL.
rebuild_standby() {
  local s="$1" p
  p="$(other "$1")"
  pg_stop "$s" immediate
  as_pg rm -rf "$(pg_data "$s")"
  as_pg "$pg_bin/pg_basebackup" -h "$(pg_node_dir "$p")" -p "$pg_port" -U postgres -D "$(pg_data "$s")" \
    -R -X stream -c fast --no-sync >"$log_dir/basebackup-$s.log" 2>&1 ||
    die "pg_basebackup of $p into $s failed; see $log_dir/basebackup-$s.log"
  set_sync_standby "$s" "" # it is a standby: the setting waits for its promotion
  pg_start "$s"
  set_sync_standby "$p" "pg_$s"
  wait_for "standby $s to stream synchronously" 60 standby_is_sync "$p"
}

start_databases() {
  step "PostgreSQL 15: a primary and a synchronous streaming standby"
  make_pg_dirs
  if [[ ! -f "$primary_file" ]]; then
    create_pg_pair
  else
    say "already there: reusing the database (primary: server $(cat "$primary_file"))"
  fi
  local p s
  p="$(cat "$primary_file")"
  s="$(other "$p")"
  if ! pg_running "$p"; then
    set_sync_standby "$p" "" # until its standby streams again (below)
    pg_start "$p"
  fi
  is_primary "$p" || die "server $p should be the primary but is in recovery; see $(pg_node_dir "$p")/server.log"
  if pg_running "$s" && streams_to "$p" "$s"; then
    say "server $s already streams from $p"
    set_sync_standby "$p" "pg_$s"
    wait_for "standby $s to stream synchronously" 60 standby_is_sync "$p"
  else
    say "server $s: a fresh base backup of $p (pg_basebackup -R), then it streams from $p"
    rebuild_standby "$s"
  fi
  say "primary:  server $p ($(pg_node_dir "$p"), socket port $pg_port), synchronous_standby_names = 'pg_$s'"
  say "standby:  server $s ($(pg_node_dir "$s")): every commit waits until it has the WAL"
}

# ---- the vault nodes ------------------------------------------------------

build_binaries() {
  step "tokenvault (the CLI) and tokenvaultd (the server)"
  if [[ -n "${TV_FLEET_BUILD_DIR:-}" ]]; then
    say "using the binaries already built in $build"
  elif [[ ! -x "$build/vault/daemon/tokenvaultd" || ! -x "$build/client/c/tokenvault" ]]; then
    say "installing missing packages (deploy/install-deps.sh), then a Release build into ./build"
    bash deploy/install-deps.sh || die "deploy/install-deps.sh failed (it needs root: sudo deploy/install-deps.sh)"
    { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release &&
      cmake --build build -j "$(nproc)" --target tokenvault tokenvaultd; } >"$log_dir/build.log" 2>&1 ||
      die "the build failed; its log: $log_dir/build.log"
  fi
  cli="$build/client/c/tokenvault"
  daemon="$build/vault/daemon/tokenvaultd"
  [[ -x "$cli" && -x "$daemon" ]] || die "no $cli or $daemon: build the tokenvault and tokenvaultd targets"
  [[ -x "$pg_bin/initdb" ]] || die "no PostgreSQL 15 in $pg_bin: install postgresql-15 or set TV_PG_BIN"
  say "CLI: $cli    server: $daemon"
}

make_hsm_and_certs() {
  step "one HSM token and one PKI for the whole fleet"
  if [[ -f "$hsm_dir/softhsm2.conf" ]]; then
    say "SoftHSM2 token: already there, reusing it ($hsm_dir)"
  else
    "$cli" hsm init --dir "$hsm_dir" | sed 's/^/   /'
  fi
  say "every node opens the same token (in production: a network HSM); the PIN stays in"
  say "$hsm_dir/user.pin (0600) and is never printed"
  export SOFTHSM2_CONF="$hsm_dir/softhsm2.conf"
  deploy/certs/make-certs.sh "$certs" --server-name localhost --server-ip 127.0.0.1 \
    --client app.example.org | sed 's/^/   /'
  say "mutual TLS: a private CA, one server certificate for both nodes, a client certificate"
  say "for the application app.example.org ($certs; existing ones are kept)"
}

node_port() { [[ "$1" == a ]] && echo "$port" || echo "$((port + 1))"; }
metrics_port() { [[ "$1" == a ]] && echo "$((port + 2))" || echo "$((port + 3))"; }
node_config() { printf '%s/node-%s.yaml' "$conf_dir" "$1"; }

conninfo() {
  printf 'host=%s,%s port=%s,%s dbname=tokenvault user=tokenvault target_session_attrs=read-write' \
    "$(pg_node_dir a)" "$(pg_node_dir b)" "$pg_port" "$pg_port"
}

# write_node_config NODE: its own node_id, data and audit directories; the
# shared token, PKI and database. No secret in it: only the files' paths.
write_node_config() {
  local n="$1" f
  f="$(node_config "$n")"
  mkdir -p "$conf_dir" "$dir/node-$n/data" "$dir/node-$n/audit"
  chmod 0700 "$dir/node-$n" "$dir/node-$n/data" "$dir/node-$n/audit"
  cat >"$f.tmp" <<EOF
# tokenvaultd node $n of the fleet deploy/fleet.sh starts (written by it).
node_id: vault-$n
listen: 127.0.0.1:$(node_port "$n")
metrics: {listen: "127.0.0.1:$(metrics_port "$n")"}
tls: {cert: $certs/server.crt, key: $certs/server.key, client_ca: $certs/ca.crt}
data_dir: $dir/node-$n/data
hsm: {module: /usr/lib/softhsm/libsofthsm2.so, token_label: tokenvault-dev, pin_file: $hsm_dir/user.pin}
audit: {dir: $dir/node-$n/audit}
store:
  backend: postgres
  postgres:
    # Both servers; libpq picks the one that takes writes, so a promoted
    # standby is found without a restart.
    conninfo: "$(conninfo)"
    password_file: $passfile
namespaces:
  - {name: pan, format: {kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19}}
  - {name: iban, format: {kind: iban}}
  - {name: ssn, format: {kind: us_ssn}}
roles:
  - name: app
    permissions:
      - {namespace: pan, allow: [tokenize, "detokenize:masked", "detokenize:full"]}
      - {namespace: iban, allow: [tokenize, "detokenize:masked", "detokenize:full"]}
      - {namespace: ssn, allow: [tokenize, "detokenize:masked", "detokenize:full"]}
principals:
  - {name: app.example.org, roles: [app]}
EOF
  chmod 0600 "$f.tmp"
  mv -f "$f.tmp" "$f"
}

# The CLI's connection options for node NODE, one per line.
node_opts() {
  printf '%s\n' --target "127.0.0.1:$(node_port "$1")" --server-name localhost --ca "$certs/ca.crt" \
    --cert "$certs/client-app.example.org.crt" --key "$certs/client-app.example.org.key"
}

pid_file() { printf '%s/node-%s.pid' "$run_dir" "$1"; }

# running_pid NODE: the pid of the tokenvaultd this script started for
# NODE, if it still runs, else "".
running_pid() {
  local f pid cmdline
  f="$(pid_file "$1")"
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  # A stale file may name a pid that now belongs to another program.
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 0
  [[ "$cmdline" == *tokenvaultd*"--config $(node_config "$1") "* ]] && echo "$pid"
  return 0
}


# stop_nodes: SIGTERM to every node this script started (each finishes
# its calls and seals its audit log), then waits for all of them; says
# which it stopped (nothing if none ran).
stop_nodes() {
  local n pid stopping=()
  for n in "${nodes[@]}"; do
    pid="$(running_pid "$n")"
    rm -f "$(pid_file "$n")"
    [[ -n "$pid" ]] || continue
    kill -TERM "$pid" 2>/dev/null || true
    stopping+=("$n:$pid")
  done
  local entry
  for entry in "${stopping[@]+"${stopping[@]}"}"; do
    n="${entry%%:*}" pid="${entry#*:}"
    wait_for "tokenvaultd $n (pid $pid) to stop; see $log_dir/node-$n.log" 30 not_alive "$pid"
    say "stopped tokenvaultd $n (pid $pid)"
  done
}

healthy() {
  local opts
  mapfile -t opts < <(node_opts "$1")
  "$cli" health "${opts[@]}" --retries 0 --deadline 1000 >/dev/null 2>&1
}

# port_busy PORT: something listens on 127.0.0.1:PORT (gRPC binds with
# SO_REUSEPORT, so a second server would silently share the port).
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

declare -A log_start # node -> size of its log before this start

# launch_node NODE [--init]: starts NODE's tokenvaultd in the background.
launch_node() {
  local n="$1" log p
  shift
  log="$log_dir/node-$n.log"
  for p in "$(node_port "$n")" "$(metrics_port "$n")"; do
    port_busy "$p" && die "something already listens on 127.0.0.1:$p; choose other ports with --port N"
  done
  log_start[$n]=0
  [[ -f "$log" ]] && log_start[$n]="$(stat -c %s "$log")"
  nohup "$daemon" --config "$(node_config "$n")" "$@" </dev/null >>"$log" 2>&1 &
  printf '%s\n' "$!" >"$(pid_file "$n").tmp" && mv -f "$(pid_file "$n").tmp" "$(pid_file "$n")"
}

# await_node NODE: until NODE serves; its log's new lines if it exits.
await_node() {
  local n="$1" log pid end=$((SECONDS + 60))
  log="$log_dir/node-$n.log"
  pid="$(cat "$(pid_file "$n")")"
  until healthy "$n"; do
    if ! alive "$pid"; then
      rm -f "$(pid_file "$n")"
      tail -c "+$((log_start[$n] + 1))" "$log" | tail -n 20 >&2
      die "tokenvaultd $n exited at start: its log lines are above (the whole log: $log)"
    fi
    ((SECONDS < end)) || die "tokenvaultd $n did not serve within 60 s; its log: $log"
    sleep 0.1
  done
  say "node $n: serving on 127.0.0.1:$(node_port "$n") (pid $pid), /healthz on 127.0.0.1:$(metrics_port "$n")"
}

start_nodes() {
  step "two tokenvaultd nodes on that database, mutual TLS"
  mkdir -p "$run_dir"
  local n
  if [[ -n "$(running_pid a)$(running_pid b)" ]]; then
    say "the nodes already run: restarting them, so they run this config and binary"
    stop_nodes
  fi
  for n in "${nodes[@]}"; do
    write_node_config "$n"
  done
  if keyring_table_exists; then
    launch_node a
    launch_node b
    await_node a
  else
    say "first start: node a --init creates the schema and the fleet's keyring in the database"
    launch_node a --init
    await_node a # b joins the keyring a made
    launch_node b
  fi
  await_node b
  say "conninfo (both nodes): $(conninfo)"
}

# ---- the story ------------------------------------------------------------

# cli_as NODE COMMAND ARGS...: the CLI against NODE as app.example.org.
cli_as() {
  local n="$1" cmd="$2" opts
  shift 2
  mapfile -t opts < <(node_opts "$n")
  "$cli" "$cmd" "${opts[@]}" "$@"
}

# tokenize_through NODE COLUMN NS OUT
tokenize_through() {
  cli_as "$1" tokenize --csv "$sample" --columns "$2:$3" --out "$4" --no-progress
}

# reveal_through NODE COLUMN NS TOKENS OUT: OUT must equal the sample.
reveal_through() {
  cli_as "$1" detokenize --reveal full --reason "fleet story" --csv "$4" --columns "$2:$3" --out "$5" \
    --no-progress
  cmp -s "$sample" "$5" || die "$5 differs from $sample"
}

show_tokens() {
  paste -d ',' <(cut -d, -f1,4 "$sample") <(cut -d, -f4 "$1") | sed -n '2,4p' |
    awk -F, '{ printf "     %s  %-22s -> %s\n", $1, $2, $3 }'
}

story_before() {
  step "1. tokenize through node A, reveal through node B"
  tokenize_through a card_number pan "$story/cards.tokens.csv"
  say "$(basename "$sample"): the card numbers tokenized through node A (pan namespace):"
  show_tokens "$story/cards.tokens.csv"
  reveal_through b card_number pan "$story/cards.tokens.csv" "$story/cards.revealed-b.csv"
  say "node B reveals every one at once ($story/cards.revealed-b.csv equals the original):"
  say "both nodes share the database and the keyring, and the primary acknowledged each row"
  say "only once the standby had it"
}

# refused NODE: a call through NODE fails with UNAVAILABLE (exit 3) and
# NODE's health says NOT_SERVING.
refused() {
  local msg rc=0 token
  token="$(sed -n 2p "$story/cards.tokens.csv" | cut -d, -f4)"
  msg="$(cli_as "$1" detokenize --namespace pan --reveal masked --retries 0 --deadline 5000 "$token" 2>&1)" || rc=$?
  [[ "$rc" == 3 && "$msg" == *UNAVAILABLE* ]] || return 1
  ! healthy "$1"
}

story_outage() {
  local p s n
  p="$(cat "$primary_file")"
  s="$(other "$p")"
  step "2. the primary (server $p) dies"
  pg_stop "$p" immediate
  say "pg_ctl stop -m immediate: no shutdown checkpoint, every connection cut, as in a crash"
  for n in "${nodes[@]}"; do
    wait_for "node $n to refuse calls" 30 refused "$n"
  done
  say "both nodes now fail calls with UNAVAILABLE (exit 3) and report NOT_SERVING:"
  say "$(curl -s "http://127.0.0.1:$(metrics_port a)/healthz" 2>/dev/null || echo "(no curl)")  <- node A's /healthz"
  say "never a wrong answer, never an acknowledgement of a row that is not on server $s"
}

story_promote() {
  local p s n t0 t1
  p="$(cat "$primary_file")"
  s="$(other "$p")"
  step "3. the standby (server $s) is promoted"
  # Alone it has nobody to wait for: commits would hang. It runs degraded
  # (one copy) until the next run rebuilds server $p as its standby.
  set_sync_standby "$s" ""
  as_pg "$pg_bin/pg_ctl" -D "$(pg_data "$s")" -w -t 60 promote >/dev/null
  wait_for "server $s to take writes" 60 is_primary "$s"
  echo "$s" >"$primary_file"
  t0="$(date +%s%N)"
  say "pg_ctl promote: server $s takes writes; no node is restarted or reconfigured"
  for n in "${nodes[@]}"; do
    wait_for "node $n to serve again" 30 healthy "$n"
  done
  t1="$(date +%s%N)"
  say "both nodes serve again $(((t1 - t0) / 1000000)) ms after the promotion (libpq found the new primary)"
}

story_after() {
  step "4. after the failover"
  reveal_through a card_number pan "$story/cards.tokens.csv" "$story/cards.revealed-a.csv"
  reveal_through b card_number pan "$story/cards.tokens.csv" "$story/cards.revealed-b.csv"
  say "every token acknowledged before the crash reveals through node A and node B"
  tokenize_through a iban iban "$story/ibans.tokens.csv"
  tokenize_through b ssn ssn "$story/ssns.tokens.csv"
  reveal_through b iban iban "$story/ibans.tokens.csv" "$story/ibans.revealed-b.csv"
  reveal_through a ssn ssn "$story/ssns.tokens.csv" "$story/ssns.revealed-a.csv"
  say "new tokens: the IBANs through node A, the SSNs through node B; each revealed through"
  say "the other node ($story)"
  local n
  for n in "${nodes[@]}"; do
    say "node $n /metrics: $(curl -s "http://127.0.0.1:$(metrics_port "$n")/metrics" 2>/dev/null |
      grep -E '^tokenvault_db_(failovers_total|reconnects_total) ' | tr '\n' ' ')"
  done
}

where_things_are() {
  local n p
  p="$(cat "$primary_file")"
  step "where things are"
  for n in "${nodes[@]}"; do
    say "node $n:   pid $(running_pid "$n"), gRPC 127.0.0.1:$(node_port "$n"), config $(node_config "$n")"
    say "          log $log_dir/node-$n.log, audit $dir/node-$n/audit,"
    say "          curl http://127.0.0.1:$(metrics_port "$n")/healthz (and /metrics)"
  done
  say "database: primary server $p ($(pg_node_dir "$p")/server.log); server $(other "$p") is stopped:"
  say "          the pair runs degraded (one copy) until the next run rebuilds it as the standby"
  local os_user
  os_user="$(id -un)"
  ((EUID != 0)) || os_user=postgres
  say "          psql -h $(pg_node_dir "$p") -p $pg_port -U postgres   (as $os_user)"
  say "HSM:      $hsm_dir (export SOFTHSM2_CONF=$hsm_dir/softhsm2.conf)"
  say "certs:    $certs; database password file $passfile"
  say "try:      $cli whoami $(node_opts a | tr '\n' ' ')"
  say "stop:     deploy/fleet.sh --stop $dir"
  say "again:    deploy/fleet.sh $dir   (fails over the other way; start over: --stop, then rm -rf $dir)"
}

stop_all() {
  step "stopping the fleet in $dir"
  local n stopped=0
  if [[ -n "$(running_pid a)$(running_pid b)" ]]; then
    stop_nodes
    stopped=1
  fi
  for n in "${nodes[@]}"; do
    if [[ -d "$(pg_data "$n")" ]] && pg_running "$n"; then
      pg_stop "$n" fast
      say "stopped PostgreSQL server $n"
      stopped=1
    fi
  done
  ((stopped)) || say "nothing of the fleet is running"
}

main() {
  local stop=0 arg_dir=""
  while (($#)); do
    case "$1" in
      --stop) stop=1; shift ;;
      --port) (($# >= 2)) || usage; port="$2"; shift 2 ;;
      -*) usage ;;
      *) [[ -z "$arg_dir" ]] || usage; arg_dir="$1"; shift ;;
    esac
  done
  if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65532)); then
    die "bad port: $port (1..65532: the fleet uses it and the next three)"
  fi
  if ((stop)); then
    local d="${arg_dir:-$root/var/fleet}"
    if [[ ! -d "$d" ]]; then
      say "nothing of the fleet is running (no $d)"
      return 0
    fi
    set_paths "$d"
    stop_all
    return 0
  fi
  set_paths "${arg_dir:-$root/var/fleet}"
  mkdir -p "$log_dir" "$story"
  chmod 0711 "$dir" # as root, the postgres user walks through to DIR/pg
  build_binaries
  make_hsm_and_certs
  start_databases
  start_nodes
  story_before
  story_outage
  story_promote
  story_after
  where_things_are
}

main "$@"
