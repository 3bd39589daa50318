"""Fleet mode (issue 10): a data-key rotation through two tokenvaultd nodes
on one PostgreSQL (tests/support/pg_cluster.py) and one SoftHSM2 token.

RotateDataKey through A: B encrypts new values under the new version
within 2 s and still reveals the old tokens. The rotation worker runs on
one node only (the lease holder in tv_leases); the other node's
GetRotationStatus shows the holder and its progress. The holder is
SIGKILLed in the middle of the re-encryption; the other node takes the
lease over once it expires and completes the rotation (only the records
left), so no row stays under the old version and every token reveals
through both nodes, the killed one restarted. Re-encryption is slowed
by rotation.reencrypt_records_per_s and the lease shortened
(store.postgres.lease_ms) so the test stays short; time bounds are hang
guards only."""
import time

import tvtest as t
import vaultclient as vc
from fleet_nodes import CONNINFO, config, key_version, pan, reveal, setup, sql

RECORDS = 4000           # tokenized before the rotation
RATE = 400               # re-encryption records/s: ~10 s for all, chunks of 800
LEASE_MS = 5000          # a killed holder's lease expires after this
TAKEOVER_S = 60          # hang guard on the survivor completing the rotation
DONE = vc.TV.ROTATION_PHASE_DONE
REENCRYPTING = vc.TV.ROTATION_PHASE_REENCRYPTING
TOP = "rotation: {reencrypt_records_per_s: %d}\n" % RATE


def start_node(node, *extra):
    path = config(node, CONNINFO, "    lease_ms: %d\n" % LEASE_MS, top=TOP)
    server = t.Server("--config", path, *extra, "--listen", "127.0.0.1:0", *TLS)
    return server, vc.Client(t.secure_channel(server.port, "officer-" + node))


def pan_rotation(client):
    """The node's view of pan's rotation (None before it knows of one)."""
    for r in client.rotation_status().data_key_rotations:
        if r.namespace == "pan":
            return r
    return None


def wait_for(what, fn, wait_s):
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    t.fail("%s (within %d s)" % (what, wait_s))


def left_under_v1():
    return int(sql("SELECT count(*) FROM tv_tokens WHERE key_version = 1"))


def lease_holder():
    return sql("SELECT holder FROM tv_leases WHERE name = 'rotation/pan' AND expires_at > clock_timestamp()")


def reveal_all(client, tokens):
    """Reveals |tokens| in calls of 1,000 (the per-request limit)."""
    out = []
    for i in range(0, len(tokens), 1000):
        out += reveal(client, tokens[i:i + 1000], vc.FULL)
    return out


def completions(servers):
    return sum(1 for s in servers for line in s.lines() if line.get("event") == "rotation_completed")


TLS = setup()
nodes = {}
nodes["a"] = start_node("a", "--init")
nodes["b"] = start_node("b")
a, b = nodes["a"][1], nodes["b"][1]

# ---- tokens under version 1, through both nodes ------------------------------
vals = ["4%03d%011d" % (7, i) for i in range(RECORDS)]
vals = [pan(v[:15]) for v in vals]
toks = []
for i in range(0, RECORDS, 500):
    toks += vc.ok_tokens((a if (i // 500) % 2 == 0 else b).tokenize("pan", vals[i:i + 500]))
t.check(len(set(toks)) == RECORDS and left_under_v1() == RECORDS,
        "%d values tokenized through A and B under version 1" % RECORDS)

# ---- rotation through A: B uses version 2 within 2 s ---------------------------
t.check(a.rotate("pan").key.version == 2, "A rotates pan's data key: version 2")
start = time.monotonic()
seen = None
new_vals, new_toks = [], []
for i in range(200):  # hang guard; each try tokenizes a new value on B
    v = pan("5300%08d%03d" % (0, i))
    tok = vc.ok_tokens(b.tokenize("pan", [v]))[0]
    new_vals.append(v)
    new_toks.append(tok)
    if key_version(b, tok) == 2:
        seen = time.monotonic() - start
        break
    time.sleep(0.05)
t.check(seen is not None and seen < 2.0, "B encrypts new values under version 2 within 2 s (%.2f s)" % (seen or -1))
t.check(reveal(b, toks[:50], vc.FULL) == vals[:50], "B still reveals tokens made under version 1")
V1_TOTAL = RECORDS + len(new_toks) - 1  # B's tries before it saw version 2 are under version 1 too

# ---- one node runs the worker; the other shows it ------------------------------
holder = wait_for("a node holds the rotation lease", lease_holder, 30)
name = holder.split("/")[0]
t.check(name in ("vault-a", "vault-b") and len(holder) == len(name) + 9,
        "the lease holder is <node_id>/<instance> (%s)" % holder)
run, other = ("a", "b") if name == "vault-a" else ("b", "a")
wait_for("the holder re-encrypted its first chunk", lambda: left_under_v1() <= RECORDS - 2 * RATE, 60)
view = wait_for("%s's GetRotationStatus shows the holder's progress" % other.upper(),
                lambda: (lambda r: r if r is not None and r.records_total > 0 else None)(pan_rotation(nodes[other][1])),
                30)
t.check(view.phase == REENCRYPTING and view.lease_holder == holder and view.records_total == V1_TOTAL and
        view.active_version == 2,
        "%s shows the fleet's rotation: %s by %s, %d of %d records" %
        (other.upper(), vc.TV.RotationPhase.Name(view.phase), view.lease_holder, view.records_done,
         view.records_total))
t.check(pan_rotation(nodes[run][1]).lease_holder == holder, "%s shows itself as the holder" % run.upper())
t.check(completions([nodes[other][0]]) == 0 and left_under_v1() > 0, "%s does not run it meanwhile" % other.upper())

# ---- the holder dies mid-way; the other node completes the rotation -------------
dead = nodes[run][0]
dead.proc.kill()  # SIGKILL
dead.proc.wait()
time.sleep(0.5)  # a COMMIT the server received before the kill finishes
left = left_under_v1()
t.check(dead.proc.returncode == -9 and 0 < left < V1_TOTAL,
        "node %s SIGKILLed mid-way: %d of %d records still under version 1" % (run.upper(), left, V1_TOTAL))
killed_at = time.monotonic()
survivor = nodes[other][1]
done = wait_for("%s completes the rotation" % other.upper(),
                lambda: (lambda r: r if r is not None and r.phase == DONE else None)(pan_rotation(survivor)),
                TAKEOVER_S)
t.check(done.last_error == "" and done.lease_holder.startswith("vault-%s/" % other) and done.lease_holder != holder,
        "%s took the lease over (%s) and completed in %.1f s after the kill" %
        (other.upper(), done.lease_holder, time.monotonic() - killed_at))
t.check(done.records_done == left, "%s moved exactly the %d records left (resumed, not redone: %d)" %
        (other.upper(), left, done.records_done))
t.check(left_under_v1() == 0, "no row is left under version 1")
t.check(sql("SELECT holder FROM tv_leases WHERE name = 'rotation/pan'") == done.lease_holder,
        "tv_leases names the survivor as the last holder")
takeovers = [l for l in nodes[other][0].lines() if l.get("event") == "rotation_lease_taken_over"]
t.check(len(takeovers) == 1 and takeovers[0].get("from") == holder,
        "%s logs rotation_lease_taken_over from %s" % (other.upper(), holder))
states = {k.version: k.state for k in survivor.list_keys("pan").keys}
t.check(states.get(1) == vc.TV.KEY_STATE_RETIRED and states.get(2) == vc.TV.KEY_STATE_ACTIVE,
        "version 1 retired, version 2 active (%s)" % states)
everything, values_all = toks + new_toks, vals + new_vals
t.check(reveal_all(survivor, everything) == values_all,
        "every token (%d) reveals through %s" % (len(everything), other.upper()))

# ---- the killed node comes back: done there too, nothing run twice --------------
nodes[run] = start_node(run)
back = nodes[run][1]
again = wait_for("the restarted %s reports the rotation done" % run.upper(),
                 lambda: (lambda r: r if r is not None and r.phase == DONE else None)(pan_rotation(back)), 30)
t.check(again.last_error == "", "the restarted %s: GetRotationStatus DONE" % run.upper())
t.check(pan_rotation(survivor).phase == DONE, "%s: GetRotationStatus DONE" % other.upper())
t.check(reveal_all(back, everything) == values_all, "every token reveals through the restarted %s" % run.upper())
servers = [dead, nodes["a"][0], nodes["b"][0]]
t.check(completions(servers) == 1 and completions([nodes[other][0]]) == 1,
        "the rotation completed once in the fleet, on %s (rotation_completed lines: %d)" %
        (other.upper(), completions(servers)))
for node in ("a", "b"):
    rc, _ = nodes[node][0].terminate(30)
    t.check(rc == 0, "node %s stops on SIGTERM" % node.upper())
