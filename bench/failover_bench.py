#!/usr/bin/env python3
"""The failover benchmark (issue 11): two tokenvaultd nodes on a PostgreSQL
primary and its synchronous streaming standby; steady-state throughput,
the cost of synchronous replication, and the outage window clients see
when the primary dies and the standby is promoted.

    python3 bench/failover_bench.py BUILD_DIR [--seconds S] [--failovers N] [--batch B]
                                    [--tokenize-in-flight N] [--detokenize-batch B] [--in-flight N]

(defaults: 6 s per throughput window, 3 failovers, tokenize calls of 50
values with 8 in flight, detokenize calls of 500 tokens with 8 in flight,
over both nodes.) Run it with the Python that has grpcio (Debian's
python3-grpcio: /usr/bin/python3).

One run starts tests/support/pg_cluster.py's pair (PgHaCluster: a
primary and a synchronous standby from pg_basebackup -R, each on its own
Unix socket) and two `tokenvaultd --dev --config F` nodes whose conninfo
names both servers with target_session_attrs=read-write (the namespace is
fleet_bench.py's convergent PAN namespace), then:

  steady     bench/vault_bench detokenize-batch (FULL) through both nodes
             (one vault_bench per node, half the calls in flight each),
             then tokenize-batch (fresh PANs, durable) four times, S
             seconds each, in the order synchronous, asynchronous,
             asynchronous, synchronous (so a drift of the machine's load
             cancels out): synchronous_standby_names = '*' on the primary
             (a commit waits for the standby's flush: zero loss) or ''
             (the standby still streams, nobody waits for it). The
             sync_cost line has the mean of each and their ratio: the
             cost of zero loss;
  failovers  four Python gRPC clients, one per (node, operation), call
             without pause (tokenize: 10 fresh values a call; detokenize:
             10 tokens of a pool a call; 5 s deadline) and record every
             call's start, end and outcome (a call is a success when the
             call and all its items are OK). N times: SIGKILL of the
             primary's postmaster and processes, at once `pg_ctl promote
             -w` of the standby (no detection delay: the harness's share
             is only the kill and the promotion), wait until every client
             has succeeded again, rebuild the old primary as the new
             synchronous standby (fresh base backup) under the load, 2 s
             of steady calls.

Per failover and per client it reports: outage_s, from the start of the
first failed call (or the kill, for a call already in flight) to the end
of the first successful call after it (what the client sees);
kill_to_ok_s; after_promotion_s, from the moment the harness saw the
promotion complete (pg_ctl promote -w returned and the server answers
pg_is_in_recovery() = false) to that first success: the vault's own share,
reconnecting to the new primary (slightly negative when a node got
through before the harness's own check did); failed_calls; and for the
failover kill_to_promoted_s (the harness's share); the last failover's line also counts every failure
of the run by kind (gRPC code, or "item STATUS" for a failed item of a
call that succeeded). JSON lines: one per throughput mode, one per
failover, a summary (min / median / max per operation). Everything shares the
machine's cores with the load generators.
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)
from fleet_bench import Node, die, vault_load  # noqa: E402
from pg_cluster import PgHaCluster, _wait_until  # noqa: E402

CALL_DEADLINE_S = 5
RECOVER_S = 60      # hang guard: every client succeeds again after a promotion
SETTLE_S = 2        # steady calls between a rebuild and the next kill
STREAM_BATCH = 10
POOL_VALUES = 1000


def pan(body15):
    for d in "0123456789":
        digits = [int(c) for c in body15 + d]
        total = 0
        for i, x in enumerate(reversed(digits)):
            x = x * 2 if i % 2 == 1 else x
            total += x - 9 if x > 9 else x
        if total % 10 == 0:
            return body15 + d
    raise AssertionError("no Luhn digit")


def set_sync(ha, names):
    """synchronous_standby_names on the primary; with '*' waits until the standby is synchronous again."""
    p = ha.nodes[ha.primary]
    p.set_sync_standby_names(names)
    want = "1" if names else "0"
    _wait_until(lambda: p.query("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == want,
                "sync_state after synchronous_standby_names = '%s'" % names)


# ---- the clients that watch the outage ------------------------------------------------------------
class Stream:
    """One client calling one node without pause; every call's (start, end, ok)."""

    def __init__(self, vc, port, node, op, seed, pool):
        import grpc
        self.grpc, self.vc = grpc, vc
        self.client = vc.Client(grpc.insecure_channel("127.0.0.1:%d" % port))
        self.name, self.op, self.seed, self.pool = "%s/%s" % (node, op), op, seed, pool
        self.calls = []
        self.failures = {}  # gRPC code or "item STATUS" -> count, over the whole run
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _one(self, n):
        if self.op == "tokenize":
            vals = [pan("4%03d%011d" % (self.seed, i)) for i in range(n, n + STREAM_BATCH)]
            req = self.vc.TV.TokenizeRequest(namespace="pan", values=vals)
            resp = self.client.call("Tokenize", req, self.vc.TV.TokenizeResponse, timeout=CALL_DEADLINE_S)
            return self._items_ok(resp.results)
        start = n % (len(self.pool) - STREAM_BATCH)
        chunk = self.pool[start:start + STREAM_BATCH]
        req = self.vc.TV.DetokenizeRequest(namespace="pan", tokens=[tok for _, tok in chunk],
                                           reveal=self.vc.FULL, reason="failover bench")
        resp = self.client.call("Detokenize", req, self.vc.TV.DetokenizeResponse, timeout=CALL_DEADLINE_S)
        if any(r.status.code == 0 and r.value != v for r, (v, _) in zip(resp.results, chunk)):
            die("%s: a token revealed another value" % self.name)
        return self._items_ok(resp.results)

    def _items_ok(self, results):
        bad = [r.status.name for r in results if r.status.code != 0]
        for name in bad:
            self._failed("item " + name)
        return not bad

    def _failed(self, kind):
        with self.lock:
            self.failures[kind] = self.failures.get(kind, 0) + 1

    def _run(self):
        n = 0
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                ok = self._one(n)
            except self.grpc.RpcError as e:
                self._failed(e.code().name)
                ok = False
            with self.lock:
                self.calls.append((started, time.monotonic(), ok))
            n += STREAM_BATCH
            if not ok:
                time.sleep(0.005)  # a failing node answers at once: do not spin

    def ok_after(self, t):
        with self.lock:
            return any(ok and end > t for _, end, ok in self.calls)

    def window(self, t_kill, t_promoted, t_next):
        """The outage this client saw for the kill at |t_kill|."""
        with self.lock:
            calls = [c for c in self.calls if t_kill <= c[1] < t_next]
        failed = [c for c in calls if not c[2]]
        if not failed:
            return {"failed_calls": 0, "outage_s": 0.0, "after_promotion_s": None}
        # The outage begins when the first failed call began (a call in
        # flight at the kill may hang before it fails), or at the kill.
        outage_from = max(failed[0][0], t_kill)
        ok = next((c for c in calls if c[2] and c[1] > failed[0][1]), None)
        if ok is None:
            die("%s never succeeded again after the kill" % self.name)
        return {"failed_calls": len(failed), "outage_s": round(ok[1] - outage_from, 3),
                "kill_to_ok_s": round(ok[1] - t_kill, 3), "after_promotion_s": round(ok[1] - t_promoted, 3)}

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=CALL_DEADLINE_S + 10)


def make_pool(vc, port):
    import grpc
    client = vc.Client(grpc.insecure_channel("127.0.0.1:%d" % port))
    vals = [pan("4999%011d" % i) for i in range(POOL_VALUES)]
    pool = []
    for i in range(0, len(vals), 200):
        resp = client.tokenize("pan", vals[i:i + 200])
        if any(r.status.code != 0 for r in resp.results):
            die("the detokenize pool could not be tokenized")
        pool += [(v, r.token) for v, r in zip(vals[i:i + 200], resp.results)]
    return pool


def failovers(args, ha, nodes, vc):
    pool = make_pool(vc, nodes[0].port)
    streams = [Stream(vc, n.port, name, op, 100 + 10 * k + j, pool)
               for k, (name, n) in enumerate(zip("ab", nodes)) for j, op in enumerate(("tokenize", "detokenize"))]
    time.sleep(SETTLE_S)
    marks = []
    for i in range(1, args.failovers + 1):
        t_kill = time.monotonic()
        ha.kill_primary()
        ha.promote()
        t_promoted = time.monotonic()
        deadline = t_promoted + RECOVER_S
        while not all(s.ok_after(t_promoted) for s in streams):
            if time.monotonic() > deadline:
                die("a client did not succeed within %d s of the promotion" % RECOVER_S)
            time.sleep(0.01)
        t_rebuild = time.monotonic()
        ha.rebuild()
        marks.append((i, t_kill, t_promoted, time.monotonic() - t_rebuild))
        time.sleep(SETTLE_S)
    for s in streams:
        s.finish()
    failures = {}
    for s in streams:
        for kind, n in s.failures.items():
            failures[kind] = failures.get(kind, 0) + n
    out = []
    for k, (i, t_kill, t_promoted, rebuild_s) in enumerate(marks):
        t_next = marks[k + 1][1] if k + 1 < len(marks) else float("inf")
        out.append({"bench": "failover", "failover": i, "kill_to_promoted_s": round(t_promoted - t_kill, 3),
                    "rebuild_s": round(rebuild_s, 2),
                    "clients": {s.name: s.window(t_kill, t_promoted, t_next) for s in streams}})
    out[-1]["failures_over_all_failovers"] = failures
    return out


def throughput(args, nodes, mode, in_flight, batch, label):
    r = vault_load(args.build, nodes, mode, args.seconds, in_flight, batch)
    r.pop("_values")
    r.pop("_window_s")
    return dict({"bench": "failover", "phase": label, "mode": mode, "nodes": len(nodes), "batch": batch,
                 "in_flight": in_flight, "seconds": args.seconds}, **r)


def summary(lines):
    s = {"bench": "failover", "summary": True, "failovers": len(lines),
         "kill_to_promoted_s": sorted(x["kill_to_promoted_s"] for x in lines)}
    for op in ("tokenize", "detokenize"):
        for field in ("outage_s", "after_promotion_s"):
            vals = sorted(c[field] for x in lines for name, c in x["clients"].items()
                          if name.endswith("/" + op) and c[field] is not None)
            if vals:
                s["%s_%s" % (op, field)] = {"min": vals[0], "median": vals[len(vals) // 2], "max": vals[-1]}
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--failovers", type=int, default=3)
    # Tokenize on PostgreSQL costs the vault several round trips per value
    # (README, "The fleet"): small calls, many in flight, so that many
    # calls complete inside each window.
    ap.add_argument("--batch", type=int, default=50, help="values per tokenize call")
    ap.add_argument("--tokenize-in-flight", type=int, default=8)
    ap.add_argument("--detokenize-batch", type=int, default=500)
    ap.add_argument("--in-flight", type=int, default=8, help="detokenize calls in flight (over both nodes)")
    args = ap.parse_args()
    if not (1 <= args.batch <= 1000 and 1 <= args.detokenize_batch <= 1000) or args.failovers < 1 or args.seconds <= 0:
        die("--batch and --detokenize-batch 1-1000, --failovers and --seconds positive")
    if min(args.in_flight, args.tokenize_in_flight) < 2:
        die("--in-flight and --tokenize-in-flight at least 2 (split over two nodes)")
    os.environ["TOKENVAULTD"] = os.path.join(args.build, "vault", "daemon", "tokenvaultd")
    os.environ.setdefault("TV_PROTO_DIR", os.path.join(HERE, "..", "proto"))
    import vaultclient as vc  # generates the gRPC stubs (tvtest reads TOKENVAULTD at import)
    print(json.dumps({"bench": "failover", "cores": os.cpu_count(), "load_before": round(os.getloadavg()[0], 2)}),
          flush=True)
    with tempfile.TemporaryDirectory(prefix="tv-failover-bench.") as work, PgHaCluster() as ha:
        nodes = [Node(args.build, work, "a", ha.conninfo)]
        try:
            nodes.append(Node(args.build, work, "b", ha.conninfo))
            print(json.dumps(throughput(args, nodes, "detokenize-batch", args.in_flight, args.detokenize_batch,
                                        "steady_sync")), flush=True)
            rates = {"sync": [], "async": []}
            for names in ("*", "", "", "*"):  # ABBA: a drift of the machine's load cancels out
                set_sync(ha, names)
                label = "sync" if names else "async"
                line = throughput(args, nodes, "tokenize-batch", args.tokenize_in_flight, args.batch, "steady_" + label)
                rates[label].append(line["values_per_s"])
                print(json.dumps(line), flush=True)
            sync, asyn = sum(rates["sync"]) / 2, sum(rates["async"]) / 2
            print(json.dumps({"bench": "failover", "phase": "sync_cost", "tokenize_sync_values_per_s": round(sync),
                              "tokenize_async_values_per_s": round(asyn),
                              "sync_over_async": round(sync / asyn, 3) if asyn else None}), flush=True)
            lines = failovers(args, ha, nodes, vc)
            for line in lines:
                print(json.dumps(line), flush=True)
            print(json.dumps(summary(lines)), flush=True)
        finally:
            for n in nodes:
                n.stop()
    print(json.dumps({"bench": "failover", "load_after": round(os.getloadavg()[0], 2)}), flush=True)


if __name__ == "__main__":
    main()
