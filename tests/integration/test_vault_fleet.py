"""Fleet mode (issue 10): two tokenvaultd nodes on one PostgreSQL database
(tests/support/pg_cluster.py, TV_TEST_PG_CONNINFO) and one SoftHSM2 token
directory. Tokens made through one node are revealed, deleted and rotated
through the other; a keyring change through either node is in force on
the other within 2 s; bad store settings and a tampered keyring row are
refused at start, naming the problem. Values are distinct (no convergence
race: that is another test's)."""
import os
import subprocess
import time

import fleet_metrics as fm
import tvtest as t
import vaultclient as vc
from fleet_nodes import CONNINFO, config, key_version, pan, reveal, setup, sql, values, write
from health_probe import metrics_port


def refused(args, what, *needles):
    p = subprocess.run([t.SERVER, "--listen", "127.0.0.1:0", *TLS, *args], capture_output=True, timeout=60)
    err = p.stderr.decode()
    t.check(p.returncode != 0 and all(n in err for n in needles), "%s: refused, naming %s (%s)" %
            (what, ", ".join(needles), err.strip().splitlines()[-1] if err.strip() else "no message"))


# ---- setup: one token, a server certificate, two officers ----------------
TLS = setup()

# ---- refusals before any vault exists ----------------------------------------
refused(["--config", config("a", CONNINFO + " password=secret"), "--init"], "a password in the conninfo",
        "store.postgres.conninfo", "password")
refused(["--config", config("a", "postgresql://tokenvault:secret@localhost/tokenvault"), "--init"],
        "a password in a conninfo URI", "store.postgres.conninfo", "password")
refused(["--config", config("a", "host=%s port=1 dbname=nope connect_timeout=2" % t.path("no-socket-here"))],
        "an unreachable database", "store.postgres.conninfo", "STORE_UNAVAILABLE")
refused(["--config", config("a", CONNINFO)], "a database without the schema, no --init",
        "store.postgres.conninfo", "STORE_SCHEMA_MISSING", "--init")
write(t.path("pgpass"), "*:*:*:*:unused\n", 0o644)
refused(["--config", config("a", CONNINFO, "    password_file: %s\n" % t.path("pgpass")), "--init"],
        "a password file others can read", "store.postgres.password_file")
write(t.path("pgpass"), "*:*:*:*:unused\n", 0o600)

# ---- node A creates the vault (--init), node B joins ---------------------------
A = t.Server("--config", config("a", CONNINFO, "    password_file: %s\n" % t.path("pgpass")), "--init",
             "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", *TLS)
B = t.Server("--config", config("b", CONNINFO), "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", *TLS)
a = vc.Client(t.secure_channel(A.port, "officer-a"))
b = vc.Client(t.secure_channel(B.port, "officer-b"))

# ---- data through both nodes ------------------------------------------------
vals = values(40, 1)
toks = vc.ok_tokens(a.tokenize("pan", vals))
t.check(len(set(toks)) == len(vals), "A tokenizes 40 distinct values")
t.check(reveal(b, toks, vc.FULL) == vals, "B reveals A's tokens in full")
masked = reveal(b, toks, vc.MASKED)
t.check(all(m[:6] == v[:6] and m[-4:] == v[-4:] and "*" in m for m, v in zip(masked, vals)),
        "B reveals A's tokens masked (%s)" % masked[0])
more = vc.ok_tokens(b.tokenize("pan", values(10, 2)))
t.check(reveal(a, more, vc.FULL) == values(10, 2), "A reveals B's tokens")
gone = b.delete("pan", toks[:3])
t.check(all(r.code == 0 for r in gone.results), "B deletes three of A's tokens")
after = a.detokenize("pan", toks[:4], vc.FULL, reason="fleet").results
t.check([r.status.code != 0 for r in after] == [True, True, True, False],
        "A no longer reveals the deleted tokens (%s), the others still" % after[0].status.name)

# Encryption counts are reserved in blocks of 2^20 per key version: a
# tokenize batch does not rewrite the shared keyring row.
gen = sql("SELECT generation FROM tv_keyring")
for seed in range(10, 15):
    vc.ok_tokens((a if seed % 2 else b).tokenize("pan", values(100, seed)))
t.check(sql("SELECT generation FROM tv_keyring") == gen,
        "500 values tokenized through both nodes left the keyring row alone (generation %s)" % gen)
blocks = sql("SELECT string_agg(node_id || ':' || first_count || '+' || count, ' ' ORDER BY first_count)"
             " FROM tv_nonce_blocks")
t.check("vault-a:" in blocks and "vault-b:" in blocks and sql(
        "SELECT count(*) FROM tv_nonce_blocks x JOIN tv_nonce_blocks y ON x.key_version = y.key_version"
        " AND x.first_count < y.first_count AND x.first_count + x.count > y.first_count") == "0",
        "each node encrypts under its own block of counts from tv_nonce_counters, none overlapping (%s)" % blocks)
t.check(sql("SELECT count(*) = count(DISTINCT (key_version, nonce)) FROM tv_tokens WHERE key_version > 0") == "t",
        "every stored (key version, nonce) pair is distinct")

# ---- a data-key rotation through A is in force on B within 2 s -----------------
rot = a.rotate("pan")
t.check(rot.key.version == 2, "A rotates pan's data key: version 2")
start = time.monotonic()
seen = None
for i in range(200):  # hang guard; each try tokenizes a new value on B
    tok = vc.ok_tokens(b.tokenize("pan", [pan("5100%08d%03d" % (0, i))]))[0]
    if key_version(b, tok) == 2:
        seen = time.monotonic() - start
        break
    time.sleep(0.05)
t.check(seen is not None and seen < 2.0, "B encrypts new values under version 2 within 2 s (%.2f s)" % (seen or -1))
t.check(reveal(b, toks[3:], vc.FULL) == vals[3:], "B still reveals the tokens made before the rotation")
keys_b = {k.version: k.state for k in b.list_keys("pan").keys}
t.check(keys_b.get(2) == vc.TV.KEY_STATE_ACTIVE, "B lists version 2 active (%s)" % keys_b)

# ---- KEK rotation proposed on A, approved on B ---------------------------------
prop = a.propose().proposal
t.check(prop.state == vc.TV.PROPOSAL_STATE_PENDING, "officer-a proposes a KEK rotation on A")
done = b.approve(prop.proposal_id).proposal
t.check(done.state == vc.TV.PROPOSAL_STATE_APPROVED and done.approved_by == "spiffe://tokenvault/officer-b",
        "officer-b approves it on B: rotation done")
everything = toks[3:] + more
for name, client in (("A", a), ("B", b)):
    t.check(reveal(client, everything, vc.FULL) == vals[3:] + values(10, 2),
            "after the KEK rotation every token still detokenizes on %s" % name)
# A new data key wrapped under the new KEK by B unwraps on A.
rot = b.rotate("pan")
start = time.monotonic()
seen = None
for i in range(200):  # hang guard
    tok = vc.ok_tokens(a.tokenize("pan", [pan("5200%08d%03d" % (0, i))]))[0]
    if key_version(a, tok) == rot.key.version:
        seen = time.monotonic() - start
        break
    time.sleep(0.05)
t.check(seen is not None and seen < 2.0,
        "a data key made on B under the new KEK is used on A within 2 s (%.2f s)" % (seen or -1))
t.check(reveal(a, everything, vc.FULL) == vals[3:] + values(10, 2), "A still reveals every token")

# ---- each node's /metrics: the database series and the keyring generation -----
# After the rotations both nodes run the keyring in the database (B takes
# in A's last change within its 0.5 s poll: a bounded wait). The database's
# generation is read on every round: the rotation worker may still finish
# the last data-key rotation (retiring the old version) meanwhile.
deadline = time.monotonic() + 10
while True:
    want_gen = float(sql("SELECT generation FROM tv_keyring"))
    bodies = {name: fm.scrape(metrics_port(node)) for name, node in (("A", A), ("B", B))}
    gens = {name: fm.samples(body).get("tokenvault_keyring_generation") for name, body in bodies.items()}
    if set(gens.values()) == {want_gen} or time.monotonic() > deadline:
        break
    time.sleep(0.2)
t.check(set(gens.values()) == {want_gen}, "both nodes report keyring generation %d, the database's (%s)" %
        (want_gen, gens))
for name, body in bodies.items():
    missing = fm.POSTGRES_ONLY - fm.exported(body)
    t.check(not missing, "%s exports every database series (missing: %s)" % (name, sorted(missing)))
    v = fm.samples(body)
    t.check(v["tokenvault_db_connected"] == 1, "%s: database connected" % name)
    t.check(v["tokenvault_db_failovers_total"] == 0 and v["tokenvault_db_read_only_refusals_total"] == 0,
            "%s: no failover, no read-only refusal" % name)
    t.check(v["tokenvault_db_batch_rows_count"] > 0 and v["tokenvault_db_batch_rows_sum"] >= v[
        "tokenvault_db_batch_rows_count"], "%s: write groups of at least one row each (%d groups, %d rows)" %
            (name, v["tokenvault_db_batch_rows_count"], v["tokenvault_db_batch_rows_sum"]))
    t.check(v["tokenvault_db_commit_seconds_count"] > 0 and v["tokenvault_db_commit_max_seconds"] > 0,
            "%s: COMMIT round trips timed" % name)
    t.check(v["tokenvault_db_read_seconds_count"] > 0 and v['tokenvault_db_read_seconds_bucket{le="+Inf"}'] ==
            v["tokenvault_db_read_seconds_count"], "%s: read round trips timed" % name)
    t.check(0 < v["tokenvault_db_readers_open"] <= v["tokenvault_db_readers_max"] and
            v["tokenvault_db_readers_idle"] <= v["tokenvault_db_readers_open"],
            "%s: reader pool within its limit (%d open, %d idle, max %d)" %
            (name, v["tokenvault_db_readers_open"], v["tokenvault_db_readers_idle"], v["tokenvault_db_readers_max"]))
    timeline = [k for k in v if k.startswith("tokenvault_db_timeline{host=")]
    t.check(len(timeline) == 1 and v[timeline[0]] >= 1, "%s: the writer's server and timeline (%s)" %
            (name, timeline))

# ---- a tampered keyring row is refused at start; running nodes keep theirs -----
rc, _ = B.terminate(30)
t.check(rc == 0, "B stops on SIGTERM")
# An older keyring row put back (e.g. from an old database backup) is
# refused by the HSM generation counter, which node A's process advanced.
sql("CREATE TABLE saved_old AS SELECT * FROM tv_keyring")
a.rotate("pan")
sql("CREATE TABLE saved_new AS SELECT * FROM tv_keyring")
sql("UPDATE tv_keyring k SET generation = s.generation, document = s.document, mac = s.mac FROM saved_old s")
refused(["--config", config("b", CONNINFO)], "an older keyring row put back", "KEYRING_ROLLBACK")
sql("UPDATE tv_keyring k SET generation = s.generation, document = s.document, mac = s.mac FROM saved_new s")
sql("UPDATE tv_keyring SET generation = generation + 1, document = set_byte(document, 40, get_byte(document, 40) # 1)")
refused(["--config", config("b", CONNINFO)], "a tampered keyring row", "KEYRING_MAC", "tv_keyring")
t.check(reveal(a, everything, vc.FULL) == vals[3:] + values(10, 2),
        "A keeps serving with the keyring it verified")
t.check(A.alive(), "A is still up")
rc, _ = A.terminate(30)
t.check(rc == 0, "A stops on SIGTERM")
for line in A.lines() + B.lines():
    for v in vals:
        if v in str(line):
            t.fail("a value reached the log: %s" % line)
t.check(True, "no value in either node's log")

# ---- --dev --config F honours store: two dev nodes share one --data-dir -------
sql("CREATE SCHEMA devfleet")
DEV = t.path("var-dev")
dev_conninfo = CONNINFO + " options='-c search_path=devfleet'"


def dev_config(node):
    path = t.path("dev-%s.yaml" % node)
    write(path, """listen: 127.0.0.1:7443
data_dir: /nonexistent/not-used
node_id: dev-%s
hsm: {module: /nonexistent/not-used.so, token_label: nope, pin_env: NOPE}
audit: {dir: /nonexistent/not-used}
store: {backend: postgres, postgres: {conninfo: "%s"}}
namespaces:
  - {name: pan, format: {kind: pan}}
roles:
  - {name: dev, permissions: [{namespace: pan, allow: [tokenize, "detokenize:full"]}]}
principals:
  - {name: "dev:local", roles: [dev]}
""" % (node, dev_conninfo.replace('"', '\\"')))
    return path


DA = t.Server("--dev", "--config", dev_config("a"), "--listen", "127.0.0.1:0", "--data-dir", DEV)
DB = t.Server("--dev", "--config", dev_config("b"), "--listen", "127.0.0.1:0", "--data-dir", DEV)
da, db = vc.Client(t.insecure_channel(DA.port)), vc.Client(t.insecure_channel(DB.port))
dev_vals = values(5, 77)
dev_toks = vc.ok_tokens(da.tokenize("pan", dev_vals))
t.check(reveal(db, dev_toks, vc.FULL) == dev_vals, "--dev: tokenized through node dev-a, revealed through dev-b")
t.check(sql("SELECT count(*) FROM devfleet.tv_tokens") == "5" and sql("SELECT count(*) FROM devfleet.tv_keyring") == "1",
        "--dev --config: the records and the keyring are in the configured database")
t.check(os.path.isdir(os.path.join(DEV, "audit-dev-a")) and os.path.isdir(os.path.join(DEV, "audit-dev-b"))
        and not os.path.exists(os.path.join(DEV, "keyring")),
        "--dev fleet nodes keep their own audit logs (audit-<node_id>) and no keyring file")
for server in (DA, DB):
    rc, _ = server.terminate(30)
    t.check(rc == 0, "dev node stops on SIGTERM")
