"""Fleet mode (issue 10) under faults, end to end: two tokenvaultd nodes
on one PostgreSQL (tests/support/pg_cluster.py) and one SoftHSM2 token.

1. The convergence race: 8 clients tokenize the same 1,000 values in a
   convergent namespace, half through node A and half through node B;
   every client gets the same token for a value and the database holds
   one row per value.
2. SIGKILL of node A under load: every (value, token) either node
   acknowledged detokenizes through B.
3. The database stopped under load: calls fail with UNAVAILABLE or
   DEADLINE_EXCEEDED only, health is NOT_SERVING on both nodes, neither
   crashes; once the database is back they serve again by themselves,
   and every token acknowledged before, during and after reads back.

Time bounds are hang guards only (the machine is loaded)."""
import os
import random
import subprocess
import threading
import time

import grpc

import tvtest as t
import vaultclient as vc
from fleet_nodes import CONNINFO, config, pan, reveal, setup, sql
from health_probe import health, healthz, metrics_port, wait_health

CONVERGENT_PAN = ("  - {name: pan, convergent: true,"
                  " format: {kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19}}\n")
SERVING = vc.HEALTH.HealthCheckResponse.SERVING
NOT_SERVING = vc.HEALTH.HealthCheckResponse.NOT_SERVING
CLEAN_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
CLEAN_ITEM_STATUSES = {"STORE_UNAVAILABLE", "STORE_TIMEOUT"}
RECOVER_S = 60  # hang guard on the nodes serving again after the database restarts


def distinct_values(n, seed):
    """|n| distinct 16-digit PANs, none shared with another |seed|."""
    return [pan("4%03d%011d" % (seed, i)) for i in range(n)]


def start_node(node, *extra):
    server = t.Server("--config", config(node, CONNINFO, namespaces=CONVERGENT_PAN), *extra,
                      "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", *TLS)
    return server, t.secure_channel(server.port, "officer-" + node)


def run_threads(targets):
    threads = [threading.Thread(target=fn, daemon=True) for fn in targets]
    for th in threads:
        th.start()
    return threads


def join_all(threads, what):
    for th in threads:
        th.join(timeout=120)  # hang guard
        if th.is_alive():
            t.fail("a client thread hung: " + what)


class Loader:
    """Client threads tokenizing distinct values through one node each,
    recording every acknowledged (value, token) and every failure."""

    def __init__(self, seed_base):
        self.seed_base = seed_base
        self.lock = threading.Lock()
        self.acked = {}           # value -> token
        self.acked_at = []        # (monotonic time, count) per acknowledged batch
        self.rpc_errors = {}      # grpc code -> count
        self.item_errors = {}     # status name -> count
        self.stop = threading.Event()
        self.threads = []

    def start(self, channels, batch=20):
        self.threads = run_threads([self._client(i, ch, batch) for i, ch in enumerate(channels)])

    def _client(self, index, channel, batch):
        def loop():
            client = vc.Client(channel)
            seed = self.seed_base + index
            n = 0
            while not self.stop.is_set() and n < 100 * 1000:
                vals = [pan("4%03d%011d" % (seed, i)) for i in range(n, n + batch)]
                n += batch
                self._one_call(client, vals)
        return loop

    def _one_call(self, client, vals):
        try:
            resp = client.tokenize("pan", vals)
        except grpc.RpcError as e:
            with self.lock:
                self.rpc_errors[e.code()] = self.rpc_errors.get(e.code(), 0) + 1
            time.sleep(0.05)
            return
        with self.lock:
            for v, r in zip(vals, resp.results):
                if r.status.code == 0:
                    self.acked[v] = r.token
                else:
                    self.item_errors[r.status.name] = self.item_errors.get(r.status.name, 0) + 1
            self.acked_at.append((time.monotonic(), len(self.acked)))

    def count(self):
        with self.lock:
            return len(self.acked)

    def finish(self, what):
        self.stop.set()
        join_all(self.threads, what)

    def wait_for_acks(self, more, what, wait_s=60):
        want = self.count() + more
        deadline = time.monotonic() + wait_s
        while self.count() < want and time.monotonic() < deadline:
            time.sleep(0.05)
        t.check(self.count() >= want, "%s (%d acknowledged)" % (what, self.count()))


def check_readable(client, pairs, what):
    items = sorted(pairs.items())
    for i in range(0, len(items), 500):
        chunk = items[i:i + 500]
        got = reveal(client, [tok for _, tok in chunk], vc.FULL)
        if got != [v for v, _ in chunk]:
            t.fail("%s: a token revealed another value" % what)
    t.check(True, "%s: all %d acknowledged tokens reveal their values" % (what, len(items)))


TLS = setup()
A, ch_a = start_node("a", "--init")
B, ch_b = start_node("b")
a, b = vc.Client(ch_a), vc.Client(ch_b)

# ---- 1. the convergence race ---------------------------------------------------
SAME = distinct_values(1000, 1)
results = [None] * 8
race_errors = []


def racer(index):
    def go():
        try:
            race(index)
        except grpc.RpcError as e:
            race_errors.append("client %d: %s %s" % (index, e.code().name, e.details()))
    return go


def race(index):
    """Client |index| tokenizes the 1,000 values, in an order of its own,
    through A (clients 0-3) or B (4-7)."""
    node = "a" if index < 4 else "b"
    channel = t.secure_channel((A if node == "a" else B).port, "officer-" + node)
    client = vc.Client(channel)
    order = list(range(len(SAME)))
    random.Random(index).shuffle(order)
    got = {}
    for i in range(0, len(order), 100):
        vals = [SAME[j] for j in order[i:i + 100]]
        for v, r in zip(vals, client.tokenize("pan", vals).results):
            if r.status.code != 0:
                race_errors.append("client %d: item %s" % (index, r.status.name))
                return
            got[v] = r.token
    results[index] = got
    channel.close()


started = time.monotonic()
join_all(run_threads([racer(i) for i in range(8)]), "the convergence race")
t.check(not race_errors and all(r is not None and len(r) == len(SAME) for r in results),
        "8 clients (4 through A, 4 through B) each tokenized the 1,000 values (%.1f s) %s" %
        (time.monotonic() - started, race_errors))
split = [v for v in SAME if len({r[v] for r in results}) != 1]
t.check(not split, "every client got the same token for each value (%d values got several)" % len(split))
tokens = {v: results[0][v] for v in SAME}
t.check(len(set(tokens.values())) == len(SAME), "1,000 distinct tokens for 1,000 values")
t.check(sql("SELECT count(*) FROM tv_tokens") == "1000", "the database holds 1,000 rows for them")
check_readable(a, tokens, "convergence, through A")
check_readable(b, tokens, "convergence, through B")
all_acked = dict(tokens)

# ---- 2. SIGKILL of node A under load -------------------------------------------
load = Loader(100)
load.start([ch_a, ch_a, ch_b, ch_b])
load.wait_for_acks(400, "the load is running through A and B")
A.proc.kill()  # SIGKILL
A.proc.wait()
t.check(A.proc.returncode == -9, "node A killed with SIGKILL under load")
load.wait_for_acks(200, "B keeps acknowledging after A died")
load.finish("SIGKILL of A")
t.check(B.alive(), "B is still up")
t.check(set(load.rpc_errors) <= CLEAN_CODES and set(load.item_errors) <= CLEAN_ITEM_STATUSES,
        "the calls through the dead node failed cleanly (%s; items %s)" %
        ({c.name: n for c, n in load.rpc_errors.items()}, load.item_errors))
check_readable(b, load.acked, "after SIGKILL of A, through B")
all_acked.update(load.acked)

# A restarted node joins again (no --init) and reads what B wrote meanwhile.
A, ch_a = start_node("a")
a = vc.Client(ch_a)
check_readable(a, load.acked, "the restarted A")

# ---- 3. the database stopped under load -----------------------------------------
mport = {"A": metrics_port(A), "B": metrics_port(B)}
load = Loader(200)
load.start([ch_a, ch_b, ch_a, ch_b])
load.wait_for_acks(200, "the load is running through A and B")
before = load.count()
p = subprocess.run(os.environ["TV_TEST_PG_STOP"], shell=True, capture_output=True, text=True, timeout=90)
t.check(p.returncode == 0, "the database stopped under load (%s)" % p.stdout.strip().splitlines()[-1:])
stopped_at = time.monotonic()
wait_health(ch_a, NOT_SERVING, "A, database stopped", 30)
wait_health(ch_b, NOT_SERVING, "B, database stopped", 30)
t.check(True, "grpc.health: NOT_SERVING on A and B while the database is down")
for name, port in mport.items():
    code, body = healthz(port)
    t.check(code == 503 and body.startswith("NOT_SERVING STORE_"),
            "/healthz on %s: %d while the database is down (%s)" % (name, code, body.strip()[:120]))
down_acks = load.count()
time.sleep(1.0)  # the clients keep calling into the outage
failures = sum(load.rpc_errors.values()) + sum(load.item_errors.values())
t.check(failures > 0, "calls failed while the database was down (%d)" % failures)
t.check(A.alive() and B.alive(), "neither node crashed")
p = subprocess.run(os.environ["TV_TEST_PG_START"], shell=True, capture_output=True, text=True, timeout=90)
t.check(p.returncode == 0, "the database restarted after %.1f s" % (time.monotonic() - stopped_at))
restarted_at = time.monotonic()
wait_health(ch_a, SERVING, "A, database back", RECOVER_S)
wait_health(ch_b, SERVING, "B, database back", RECOVER_S)
t.check(True, "both nodes report SERVING again by themselves (%.1f s)" % (time.monotonic() - restarted_at))
load.wait_for_acks(400, "both nodes acknowledge again", RECOVER_S)
load.finish("the database stopped")
t.check(set(load.rpc_errors) <= CLEAN_CODES and set(load.item_errors) <= CLEAN_ITEM_STATUSES,
        "every failed call was UNAVAILABLE or DEADLINE_EXCEEDED (%s; items %s)" %
        ({c.name: n for c, n in load.rpc_errors.items()}, load.item_errors))
t.check(before > 0 and load.count() > down_acks,
        "tokens acknowledged before (%d) and after (%d) the outage" % (before, load.count() - down_acks))
check_readable(a, load.acked, "the outage, through A")
check_readable(b, load.acked, "the outage, through B")
all_acked.update(load.acked)
check_readable(b, all_acked, "everything acknowledged in this test, through B")
for server in (A, B):
    rc, _ = server.terminate(30)
    t.check(rc == 0, "a node stops on SIGTERM")
