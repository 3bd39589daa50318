#!/usr/bin/env python3
"""The fleet benchmark (issue 10): tokenvaultd nodes on one PostgreSQL
against pgbench running the equivalent raw statements, in the same run.

    python3 bench/fleet_bench.py BUILD_DIR [--seconds S] [--runs N] [--batch B]
                                 [--in-flight N] [--tokenize-in-flight N] [--smoke]

(defaults: 5 s per mode, 1 run, batches of 1,000 values, 8 detokenize and
4 tokenize calls in flight over all nodes; --smoke: 3 s, batches of 20,
2 calls in flight: that it runs, not how fast.)

Each run starts a private PostgreSQL 15 (tests/support/pg_cluster.py:
a temporary cluster on a Unix socket, removed at exit) and then, in order:

  1 node   tokenvaultd --dev --config F (store.backend: postgres; the
           first start creates the schema and the keyring, like --init),
           bench/vault_bench tokenize-batch (fresh PANs: every value is a
           new durable row) and detokenize-batch (FULL), calls of --batch
           values each, for S seconds per mode;
  2 nodes  a second node on the same database and --data-dir (its SoftHSM2
           token), and the same load split over both: one vault_bench per
           node with half the calls in flight each;
  pgbench  with the nodes stopped, pgbench -M prepared running the raw
           statements the store backend sends for the same work, into the
           same tv_tokens table, with 1 and with 2 connections:
             tokenize: BEGIN; one INSERT ... SELECT of B rows shaped like a
               row the vault wrote in this run (the same token, fingerprint,
               nonce, ciphertext, tag and metadata lengths, fp_unique, key
               version), ON CONFLICT DO NOTHING RETURNING ns, token, id;
               COMMIT (one pipeline, as the backend sends its groups);
             detokenize: the backend's tv_get_many statement (two arrays
               unnested WITH ORDINALITY, joined on the primary key) over B
               tokens the vault wrote last (the detokenize pools), 64
               different batches.

--replica (issue 11, reads from a hot standby) measures instead, in one
run, what a read replica buys: a primary and a synchronous streaming
standby (pg_cluster.py's PgHaCluster), node A on the primary alone and
node B with store.postgres.read_conninfo on the standby, and batch
detokenize (FULL) through A then through B (the order alternates between
runs): values/s, the node's CPU per value, and the PRIMARY's and the
standby's PostgreSQL CPU per value over the timed window — what a reveal
costs the primary with and without the replica — plus B's
tokenvault_db_replica_* counters (reads the standby answered, fallbacks,
rechecks), so a run whose reads all fell back is visible.

It prints one JSON object per run (and a summary over the runs with
--runs > 1): values/s per mode for 1 node, 2 nodes and pgbench (-c 1 and
-c 2; the reference is the better of the two), the ratios vault/pgbench
(goal >= 0.7) and 2 nodes / 1 node, the vault's server CPU per value
(tokenvaultd processes, from /proc), PostgreSQL's CPU per value over the
timed window for the vault and for pgbench (the postmaster and all its
backends, exited ones included), and for tokenize the database
transactions and rows inserted per value (pg_stat_database: how many
statements the vault needs per value). Everything runs on the same
machine: the load generators share the cores with the servers.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from pg_cluster import PgCluster, PgHaCluster, pg_bin  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
GET_SCRIPTS = 64  # distinct detokenize batches for pgbench
START_TIMEOUT_S = 60
ROW_COLUMNS_T = ("t.id, t.ns, t.token, t.fingerprint, t.key_version, t.nonce, t.created_ms, t.expires_ms, "
                 "t.ciphertext, t.tag, t.metadata")
PUT_COLUMNS = ("ns, token, fingerprint, fp_unique, key_version, nonce, created_ms, expires_ms, ciphertext, tag, "
               "metadata, state")


def die(msg):
    print("fleet_bench: " + msg, file=sys.stderr)
    sys.exit(1)


# ---- CPU accounting from /proc ------------------------------------------------------------------
def proc_stat(pid):
    """(ppid, own CPU s, reaped children's CPU s) of |pid|, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # fields[0] is the state (field 3); utime..cstime are fields 14-17.
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS, (int(fields[13]) + int(fields[14])) / TICKS


def postgres_cpu_s(postmaster):
    """CPU seconds of the postmaster, its live backends and every reaped one."""
    own = proc_stat(postmaster)
    if own is None:
        return 0.0
    total = own[1] + own[2]
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None and st[0] == postmaster:
                total += st[1]
    return total


def children_cpu_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ---- the database ----------------------------------------------------------------------------------
class Db:
    def __init__(self, pg):
        self.pg = pg
        with open(os.path.join(pg.data_dir, "postmaster.pid")) as f:
            self.postmaster = int(f.readline())

    def sql(self, statement):
        return self.pg.sql(statement).strip()

    def commits_and_inserts(self):
        row = self.sql("SELECT xact_commit, tup_inserted FROM pg_stat_database WHERE datname = current_database()")
        c, i = row.split("|")
        return int(c), int(i)


# ---- nodes ------------------------------------------------------------------------------------------------
def node_config(work, name, conninfo, read_conninfo=None):
    path = os.path.join(work, "node-%s.yaml" % name)
    store = 'conninfo: "%s"' % conninfo.replace('"', '\\"')
    if read_conninfo:
        store += ', read_conninfo: "%s"' % read_conninfo.replace('"', '\\"')
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("""listen: 127.0.0.1:7443   # --listen 127.0.0.1:0 overrides it
data_dir: /nonexistent/not-used
node_id: bench-%s
hsm: {module: /nonexistent/not-used.so, token_label: nope, pin_env: NOPE}
audit: {dir: /nonexistent/not-used}
store: {backend: postgres, postgres: {%s}}
namespaces:
  - name: pan
    format: {kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19}
    convergent: true
roles:
  - name: loadgen
    permissions: [{namespace: pan, allow: [tokenize, "detokenize:full"]}]
    limits: {items_per_request: 1000, reveals_per_minute: 1000000000}
principals:
  - {name: "dev:local", roles: [loadgen]}
""" % (name, store))
    return path


class Node:
    def __init__(self, build, work, name, conninfo, read_conninfo=None):
        self.log_path = os.path.join(work, "node-%s.log" % name)
        self.log = open(self.log_path, "w")
        argv = [os.path.join(build, "vault", "daemon", "tokenvaultd"), "--dev", "--config",
                node_config(work, name, conninfo, read_conninfo), "--listen", "127.0.0.1:0", "--data-dir",
                os.path.join(work, "dev"), "--metrics-listen", "127.0.0.1:0"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = self._wait_port()
        self.metrics_port = self._wait_port("metrics_listening")

    def _wait_port(self, event="listening"):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                for line in f:
                    if '"event": "%s"' % event in line:
                        return json.loads(line)["port"]
            if self.proc.poll() is not None:
                die("tokenvaultd exited (%d):\n%s" % (self.proc.returncode, open(self.log_path).read()[-2000:]))
            time.sleep(0.05)
        die("tokenvaultd did not start within %d s" % START_TIMEOUT_S)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
        self.log.close()


def vault_load(build, nodes, mode, seconds, in_flight, batch):
    """One vault_bench per node (in_flight split over them), all at once; each
    its own stream of fresh PANs (started in the same second, they would
    otherwise send the same values, and the nodes would race to converge
    them instead of writing new rows)."""
    share = max(1, in_flight // len(nodes))
    procs = [subprocess.Popen([os.path.join(build, "bench", "vault_bench"), "--target", "127.0.0.1:%d" % n.port,
                               "--mode", mode, "--seconds", str(seconds), "--in-flight", str(share), "--batch",
                               str(batch), "--server-pid", str(n.proc.pid), "--pan-stream", str(i + 1), "--json"],
                              stdout=subprocess.PIPE, text=True) for i, n in enumerate(nodes)]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 300)
        if p.returncode != 0:
            die("vault_bench --mode %s failed (%d): %s" % (mode, p.returncode, out))
        results.append(json.loads(out.strip().splitlines()[-1]))
    values = sum(r["items_per_s"] for r in results)
    # CPU per value over all nodes: weight each node's by its share of the values.
    server_us = sum(r["server_cpu_us_per_item"] * r["items_per_s"] for r in results) / values
    client_us = sum(r["client_cpu_us_per_item"] * r["items_per_s"] for r in results) / values
    # PostgreSQL's figures per value are over the whole vault_bench run: for
    # detokenize that includes tokenizing its pool of tokens first.
    return {"values_per_s": round(values), "server_cpu_us_per_value": round(server_us, 2),
            "loadgen_cpu_us_per_value": round(client_us, 2), "errors": sum(r["item_errors"] + r["call_errors"] for r in results),
            "p99_ms_per_call": max(r["p99_us"] for r in results) / 1000, "_values": sum(r["items"] for r in results),
            "_window_s": seconds}


class CpuSampler:
    """PostgreSQL's CPU seconds every 0.2 s, so a window's share can be cut out."""

    def __init__(self, postmaster):
        self.postmaster, self.samples, self.done = postmaster, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            self.samples.append((time.monotonic(), postgres_cpu_s(self.postmaster)))
            self.done.wait(0.2)

    def cpu_since(self, t_start):
        self.done.set()
        self.thread.join()
        time.sleep(0.5)  # backends of a client that just exited: let the postmaster reap them
        end = (time.monotonic(), postgres_cpu_s(self.postmaster))
        start = max((s for s in self.samples if s[0] <= t_start), default=self.samples[0])
        return end[1] - start[1]


def measured(db, fn, with_db_stats):
    """Runs fn(); adds PostgreSQL's CPU per value over the timed window (the
    last "_window_s" seconds, so a detokenize run's pool preparation is left
    out) and, with_db_stats, transactions and rows per value over the run."""
    sampler, (c0, i0) = CpuSampler(db.postmaster), db.commits_and_inserts()
    r = fn()
    window = r.pop("_window_s")
    cpu = sampler.cpu_since(time.monotonic() - window)
    values = r.pop("_values")
    r["postgres_cpu_us_per_value"] = round(cpu * 1e6 / values, 2) if values else None
    if with_db_stats and values:
        time.sleep(1.5)  # backends flush their statistics at most once a second
        c1, i1 = db.commits_and_inserts()
        # every transaction, read-only ones included (autocommit SELECTs)
        r["db_transactions_per_1000_values"] = round((c1 - c0) * 1000 / values, 1)
        r["db_rows_inserted_per_value"] = round((i1 - i0) / values, 3)
    return r


# ---- pgbench ---------------------------------------------------------------------------------------------
def put_script(db, batch):
    """BEGIN; B rows shaped like a row the vault wrote; COMMIT — one pipeline."""
    row = db.sql("SELECT encode(ns, 'hex'), length(token), length(fingerprint), fp_unique, key_version, "
                 "length(nonce), length(ciphertext), length(tag), length(metadata), expires_ms, state "
                 "FROM tv_tokens WHERE state = 1 ORDER BY id DESC LIMIT 1").split("|")
    ns, tok_len, fp_len, fp_unique, kv, nonce_len, ct_len, tag_len, meta_len, expires, state = row
    fp_len = int(fp_len)
    if fp_len > 32:
        die("fingerprint of %d bytes: the pgbench script makes at most 32 (sha256)" % fp_len)

    def const(n):
        return "decode(repeat('5a', %d), 'hex')" % int(n)
    token = "convert_to(lpad((:t::bigint + g)::text, %d, '0'), 'UTF8')" % int(tok_len)
    shape = {"ns_hex": ns, "token_bytes": int(tok_len), "fingerprint_bytes": fp_len, "fp_unique": fp_unique == "t",
             "nonce_bytes": int(nonce_len), "ciphertext_bytes": int(ct_len), "tag_bytes": int(tag_len),
             "metadata_bytes": int(meta_len)}
    text = ("\\set t random(1, 999999999999)\n\\startpipeline\nBEGIN;\n"
            "INSERT INTO tv_tokens (%s) SELECT '\\x%s'::bytea, %s, substring(sha256(%s) from 1 for %d), %s, %s, "
            "%s, (extract(epoch from clock_timestamp()) * 1000)::bigint, %s, %s, %s, %s, %s FROM generate_series(1, %d) g "
            "ON CONFLICT DO NOTHING RETURNING ns, token, id;\nCOMMIT;\n\\endpipeline\n"
            % (PUT_COLUMNS, ns, token, token, fp_len, "true" if shape["fp_unique"] else "false", kv, const(nonce_len),
               expires, const(ct_len), const(tag_len), const(meta_len), state, batch))
    return [text], shape


def get_scripts(db, batch):
    """The backend's tv_get_many over tokens the vault wrote last, GET_SCRIPTS batches."""
    rows = db.sql("SELECT encode(ns, 'hex'), encode(token, 'hex') FROM (SELECT ns, token FROM tv_tokens "
                  "WHERE state = 1 ORDER BY id DESC LIMIT 40000) r ORDER BY random() LIMIT %d"
                  % (batch * GET_SCRIPTS)).splitlines()
    keys = [r.split("|") for r in rows]
    if len(keys) < batch:
        die("only %d tokens in the database for the pgbench lookups" % len(keys))
    scripts = []
    for s in range(0, len(keys) - batch + 1, batch):
        part = keys[s:s + batch]
        scripts.append("SELECT %s, k.i FROM unnest(ARRAY[%s], ARRAY[%s]) WITH ORDINALITY AS k(ns, token, i) "
                       "JOIN tv_tokens t ON t.ns = k.ns AND t.token = k.token;\n"
                       % (ROW_COLUMNS_T, ",".join("'\\x%s'::bytea" % n for n, _ in part),
                          ",".join("'\\x%s'::bytea" % t for _, t in part)))
    return scripts


def pgbench(db, work, scripts, clients, seconds, batch, name):
    files = []
    for i, text in enumerate(scripts):
        path = os.path.join(work, "%s-%d.sql" % (name, i))
        with open(path, "w") as f:
            f.write(text)
        files += ["-f", path]
    argv = [pg_bin("pgbench"), "-n", "-M", "prepared", "-c", str(clients), "-j", str(clients), "-T",
            str(max(1, round(seconds)))] + files + [db.pg.conninfo]
    cpu0 = children_cpu_s()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=seconds + 300)
    cpu = children_cpu_s() - cpu0
    tps = done = None
    for line in p.stdout.splitlines():
        if line.startswith("tps = "):
            tps = float(line.split()[2])
        if line.startswith("number of transactions actually processed: "):
            done = int(line.split(": ")[1].split()[0].split("/")[0])
    failed = [line for line in p.stdout.splitlines() if "error" in line.lower() or "abort" in line.lower()]
    if p.returncode != 0 or tps is None or done is None or failed:
        die("pgbench %s -c %d failed (%d): %s" % (name, clients, p.returncode, "\n".join(failed) or p.stdout[-2000:]))
    values = tps * batch
    return {"values_per_s": round(values), "pgbench_cpu_us_per_value": round(cpu * 1e6 / (done * batch), 2),
            "_values": done * batch, "_window_s": seconds}


# ---- one run -------------------------------------------------------------------------------------------------
MODES = (("tokenize", "tokenize-batch"), ("detokenize", "detokenize-batch"))


def flight(args, key):
    return args.tokenize_in_flight if key == "tokenize" else args.in_flight


def one_run(args, index):
    load_before = os.getloadavg()[0]
    out = {"bench": "fleet", "run": index, "seconds": args.seconds, "batch": args.batch, "in_flight": args.in_flight,
           "tokenize_in_flight": args.tokenize_in_flight,
           "cores": os.cpu_count(), "load_before": round(load_before, 2)}
    with tempfile.TemporaryDirectory(prefix="tv-fleet-bench.") as work, PgCluster() as pg:
        db = Db(pg)
        nodes = [Node(args.build, work, "a", pg.conninfo)]
        try:
            for key, mode in MODES:
                out.setdefault(key, {})["node1"] = measured(
                    db, lambda: vault_load(args.build, nodes, mode, args.seconds, flight(args, key), args.batch),
                    key == "tokenize")
            nodes.append(Node(args.build, work, "b", pg.conninfo))
            for key, mode in MODES:
                out[key]["node2"] = measured(
                    db, lambda: vault_load(args.build, nodes, mode, args.seconds, flight(args, key), args.batch),
                    key == "tokenize")
        finally:
            for n in nodes:
                n.stop()
        puts, shape = put_script(db, args.batch)
        out["row_shape"] = shape
        gets = get_scripts(db, args.batch)
        for key, scripts in (("tokenize", puts), ("detokenize", gets)):
            for c in (1, 2):
                out[key]["pgbench_c%d" % c] = measured(
                    db, lambda: pgbench(db, work, scripts, c, args.seconds, args.batch, key), key == "tokenize")
    for key, _ in MODES:
        m = out[key]
        ref = max(m["pgbench_c1"]["values_per_s"], m["pgbench_c2"]["values_per_s"])
        m["pgbench_values_per_s"] = ref
        m["ratio_1node_to_pgbench"] = round(m["node1"]["values_per_s"] / ref, 3)
        m["ratio_2node_to_pgbench"] = round(m["node2"]["values_per_s"] / ref, 3)
        m["ratio_2node_to_1node"] = round(m["node2"]["values_per_s"] / m["node1"]["values_per_s"], 3)
    out["load_after"] = round(os.getloadavg()[0], 2)
    return out


# ---- --replica: reveals read from a hot standby -------------------------------------------------------
def replica_counters(node):
    """B's tokenvault_db_replica_* counters (reads, rechecks, fallbacks by reason)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % node.metrics_port, timeout=10) as resp:
        body = resp.read().decode()
    out = {}
    for line in body.splitlines():
        if line.startswith("tokenvault_db_replica_") and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series.replace("tokenvault_db_replica_", "")] = float(value)
    return out


def measured_pair(primary_pm, standby_pm, fn):
    """Runs fn(); adds each server's PostgreSQL CPU per value over the timed window."""
    samplers = (CpuSampler(primary_pm), CpuSampler(standby_pm))
    r = fn()
    window = r.pop("_window_s")
    t_start = time.monotonic() - window
    cpu = [smp.cpu_since(t_start) for smp in samplers]
    values = r.pop("_values")
    r["primary_cpu_us_per_value"] = round(cpu[0] * 1e6 / values, 2) if values else None
    r["standby_cpu_us_per_value"] = round(cpu[1] * 1e6 / values, 2) if values else None
    return r


def postmaster_of(node):
    with open(os.path.join(node.data_dir, "postmaster.pid")) as f:
        return int(f.readline())


def one_replica_run(args, index):
    out = {"bench": "fleet_replica", "run": index, "seconds": args.seconds, "batch": args.batch,
           "in_flight": args.in_flight, "cores": os.cpu_count(), "load_before": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="tv-fleet-bench.") as work, PgHaCluster() as ha:
        primary_pm = postmaster_of(ha.nodes[ha.primary])
        standby_pm = postmaster_of(ha.nodes[ha.standby_index()])
        nodes = {"primary_reads": Node(args.build, work, "a", ha.conninfo)}
        try:
            nodes["standby_reads"] = Node(args.build, work, "b", ha.conninfo, ha.node_conninfo(ha.standby_index()))
            order = ["primary_reads", "standby_reads"]
            if index % 2 == 0:
                order.reverse()  # alternate, so neither always runs on a warmer cache
            out["order"] = order
            for key in order:
                before = replica_counters(nodes[key])
                out[key] = measured_pair(primary_pm, standby_pm, lambda: vault_load(
                    args.build, [nodes[key]], "detokenize-batch", args.seconds, args.in_flight, args.batch))
                after = replica_counters(nodes[key])
                if after:
                    out[key]["replica"] = {k: after[k] - before.get(k, 0) for k in after
                                           if k.endswith("_total") or "_total{" in k}
        finally:
            for n in nodes.values():
                n.stop()
    p, r = out["primary_reads"], out["standby_reads"]
    out["ratio_primary_cpu_standby_to_primary_reads"] = (
        round(r["primary_cpu_us_per_value"] / p["primary_cpu_us_per_value"], 3)
        if p["primary_cpu_us_per_value"] else None)
    out["ratio_values_per_s_standby_to_primary_reads"] = round(r["values_per_s"] / p["values_per_s"], 3)
    out["load_after"] = round(os.getloadavg()[0], 2)
    return out


def replica_summary(runs):
    s = {"bench": "fleet_replica", "summary": True, "runs": len(runs)}
    for field in ("ratio_primary_cpu_standby_to_primary_reads", "ratio_values_per_s_standby_to_primary_reads"):
        vals = sorted(r[field] for r in runs if r[field] is not None)
        if vals:
            s[field] = {"min": vals[0], "median": vals[len(vals) // 2], "max": vals[-1]}
    return s


def summary(runs):
    s = {"bench": "fleet", "summary": True, "runs": len(runs)}
    for key, _ in MODES:
        for field in ("ratio_1node_to_pgbench", "ratio_2node_to_pgbench", "ratio_2node_to_1node"):
            vals = sorted(r[key][field] for r in runs)
            s["%s_%s" % (key, field)] = {"min": vals[0], "median": vals[len(vals) // 2], "max": vals[-1]}
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--in-flight", type=int, default=8, help="detokenize calls in flight (over all nodes)")
    # A tokenize value costs the vault several database round trips, so a
    # 1,000-value call takes seconds: fewer calls in flight keep whole
    # calls completing inside the timed window.
    ap.add_argument("--tokenize-in-flight", type=int, default=4)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--replica", action="store_true",
                    help="detokenize through a node reading from a hot standby vs one reading from the primary")
    args = ap.parse_args()
    if args.smoke:
        # 3 s of batches of 20: on a loaded machine a tokenize call on
        # PostgreSQL can take over a second, and a window with no completed
        # call is a failed run.
        args.seconds, args.batch, args.in_flight, args.tokenize_in_flight, args.runs = 3, 20, 2, 2, 1
    if not 1 <= args.batch <= 1000:
        die("--batch must be 1-1000 (the server's items per request)")
    if min(args.in_flight, args.tokenize_in_flight) < 2 or args.seconds <= 0 or args.runs < 1:
        die("--in-flight must be at least 2 (split over two nodes), --seconds and --runs positive")
    runs = []
    for i in range(1, args.runs + 1):
        runs.append(one_replica_run(args, i) if args.replica else one_run(args, i))
        print(json.dumps(runs[-1]), flush=True)
    if len(runs) > 1:
        print(json.dumps(replica_summary(runs) if args.replica else summary(runs)), flush=True)


if __name__ == "__main__":
    main()
