"""Reads from a hot standby (issue 11 point 2), end to end: a primary and
a synchronous streaming standby (tests/support/pg_cluster.py --standby),
node A on the primary alone, node B with store.postgres.read_conninfo on
the standby (read_lag_max_ms 500).

1. A read_conninfo holding a password, or naming several hosts, stops the
   start, naming the setting.
2. B reveals from the standby once it is proven fresh (reads counted).
3. The standby's replay paused: 40 tokens issued through A reveal through
   B at once (the standby lacks them; B asks the primary: rechecks).
4. Replay still paused: a value erased and tokens deleted through A are
   not revealed through B once read_lag_max_ms has passed since the
   acknowledgement, although the standby still holds them live (the
   bound; fallbacks{reason="lag"}); B's own deletes are not revealed
   either, not even at once (test_pg_replica proves the own-write fence
   alone does it).
5. With synchronous_commit = remote_apply on the primary, a delete
   through A is not revealed through B even at once (zero window).
6. The standby stopped: B still reveals everything (the primary answers,
   fallbacks{reason="unreachable"}); started again, B reads from it again.
A exports no tokenvault_db_replica_* series, B every one.

Time bounds are hang guards only (the machine is loaded)."""
import os
import shlex
import subprocess
import time

import fleet_metrics as fm
import tvtest as t
import vaultclient as vc
from fleet_nodes import CONNINFO, config, reveal, setup, sql, values
from health_probe import metrics_port

STANDBY = os.environ.get("TV_TEST_PG_STANDBY_CONNINFO", "")
PRIMARY = os.environ.get("TV_TEST_PG_PRIMARY_CONNINFO", "")
if not STANDBY or not PRIMARY:
    t.fail("run through tests/support/pg_cluster.py --run --standby")
LAG_MAX_MS = 500
WAIT_S = 60  # hang guard
REPLICA_SERIES = {
    "tokenvault_db_replica_state", "tokenvault_db_replica_reads_total", "tokenvault_db_replica_rechecks_total",
    "tokenvault_db_replica_fallbacks_total", "tokenvault_db_replica_lag_max_seconds",
    "tokenvault_db_replica_lag_seconds", "tokenvault_db_replica_lag_bytes",
}


def psql_as_superuser(conninfo, statement):
    p = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo + " user=postgres",
                       "-c", statement], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        t.fail("psql: %s" % p.stderr)
    return p.stdout.strip()


def replay(action):
    """Pauses or resumes replay on the standby; a pause is waited for."""
    psql_as_superuser(STANDBY, "SELECT pg_wal_replay_%s()" % action)
    deadline = time.monotonic() + WAIT_S
    while action == "pause" and psql_as_superuser(STANDBY, "SELECT pg_get_wal_replay_pause_state()") != "paused":
        if time.monotonic() > deadline:
            t.fail("the standby's replay did not pause")
        time.sleep(0.05)


def standby_live(tokens):
    """How many of |tokens| the standby holds as live rows (state 1)."""
    arr = ",".join("convert_to('%s', 'UTF8')" % tok for tok in tokens)
    return int(psql_as_superuser(STANDBY, "SELECT count(*) FROM tv_tokens WHERE state = 1 AND token IN (%s)" % arr))


def hook(name):
    subprocess.run(shlex.split(os.environ[name]), check=True, timeout=120)


def metric(port, series):
    return fm.samples(fm.scrape(port)).get(series, 0.0)


def wait_metric(port, series, pred, what):
    deadline = time.monotonic() + WAIT_S
    while not pred(metric(port, series)):
        if time.monotonic() > deadline:
            t.fail("%s: %s is %s after %d s" % (what, series, metric(port, series), WAIT_S))
        time.sleep(0.1)


def not_revealed(client, tokens):
    return [r.status.code != 0 for r in client.detokenize("pan", tokens, vc.FULL, reason="replica").results]


READS = "tokenvault_db_replica_reads_total"
RECHECKS = "tokenvault_db_replica_rechecks_total"
STATE_OK = 'tokenvault_db_replica_state{state="ok"}'


def fallbacks(reason):
    return 'tokenvault_db_replica_fallbacks_total{reason="%s"}' % reason


# ---- 1. a password in read_conninfo ---------------------------------------------------
TLS = setup(("a", "b", "c"))
bad = config("b", CONNINFO, "    read_conninfo: \"%s password=secret\"\n" % STANDBY)
p = subprocess.run([t.SERVER, "--config", bad, "--listen", "127.0.0.1:0", *TLS], capture_output=True, timeout=60)
err = p.stderr.decode()
t.check(p.returncode != 0 and "store.postgres.read_conninfo" in err and "password" in err and "secret" not in err,
        "a password in read_conninfo stops the start, naming the setting (%s)" % err.strip().splitlines()[-1:])

# ---- 2. A on the primary, B reading from the standby ----------------------------------------
A = t.Server("--config", config("a", CONNINFO), "--init", "--listen", "127.0.0.1:0", "--metrics-listen",
             "127.0.0.1:0", *TLS)
B = t.Server("--config", config("b", CONNINFO, "    read_conninfo: \"%s\"\n    read_lag_max_ms: %d\n"
                                % (STANDBY, LAG_MAX_MS)),
             "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", *TLS)
several = config("c", CONNINFO, "    read_conninfo: \"%s\"\n" % CONNINFO.replace(" target_session_attrs=read-write", ""))
p = subprocess.run([t.SERVER, "--config", several, "--listen", "127.0.0.1:0", *TLS], capture_output=True, timeout=60)
err = p.stderr.decode()
t.check(p.returncode != 0 and "store.postgres.read_conninfo" in err and "several hosts" in err,
        "a read_conninfo naming several hosts stops the start, naming the setting (%s)"
        % err.strip().splitlines()[-1:])
a = vc.Client(t.secure_channel(A.port, "officer-a"))
b = vc.Client(t.secure_channel(B.port, "officer-b"))
a_metrics, b_metrics = metrics_port(A), metrics_port(B)
t.check(not (fm.exported(fm.scrape(a_metrics)) & REPLICA_SERIES), "A (no read_conninfo) exports no replica series")
missing = REPLICA_SERIES - fm.exported(fm.scrape(b_metrics))
t.check(not missing, "B exports every tokenvault_db_replica_* series (missing: %s)" % sorted(missing))
wait_metric(b_metrics, STATE_OK, lambda v: v == 1, "B proves the standby fresh")



def wait_served_by_standby(tokens, want):
    """Reveals |tokens| through B until the standby alone answers (read
    from it, nothing read again from the primary); returns the counts."""
    deadline = time.monotonic() + WAIT_S
    while True:
        before = (metric(b_metrics, READS), metric(b_metrics, RECHECKS))
        got = reveal(b, tokens, vc.FULL)
        after = (metric(b_metrics, READS), metric(b_metrics, RECHECKS))
        if got != want:
            t.fail("B revealed wrong values")
        if after[0] > before[0] and after[1] == before[1]:
            return after
        if time.monotonic() > deadline:
            t.fail("B never read the tokens from the standby alone (reads, rechecks %s -> %s)" % (before, after))
        time.sleep(0.1)


vals = values(40, 1)
toks = vc.ok_tokens(a.tokenize("pan", vals))
t.check(reveal(b, toks, vc.FULL) == vals, "B reveals A's 40 tokens at once (replayed or not)")
reads, _ = wait_served_by_standby(toks, vals)
t.check(True, "B reveals A's 40 tokens from the standby (tokenvault_db_replica_reads_total %d)" % reads)

# ---- 3. replay paused: new tokens through A reveal through B at once -------------------------
replay("pause")
fresh_vals = values(40, 2)
fresh = vc.ok_tokens(a.tokenize("pan", fresh_vals))
rechecks0 = metric(b_metrics, RECHECKS)
t.check(reveal(b, fresh, vc.FULL) == fresh_vals and standby_live(fresh) == 0,
        "40 tokens just issued through A reveal through B at once, though the standby lacks them")
info = b.info("pan", fresh[:1]).results[0]
t.check(info.status.code == 0 and info.key_version > 0, "B's token info finds a token the standby lacks")
t.check(metric(b_metrics, RECHECKS) >= rechecks0 + 40,
        "B read the standby's misses again from the primary (rechecks %d -> %d)"
        % (rechecks0, metric(b_metrics, RECHECKS)))

# ---- 4. replay paused: deletes and an erase through A, bounded --------------------------------
lag0 = metric(b_metrics, fallbacks("lag"))
erased = a.erase("pan", vals[0])
gone = a.delete("pan", toks[1:5])
acked = time.monotonic()
t.check(erased.tokens_erased == 1 and all(r.code == 0 for r in gone.results),
        "A erases one value and deletes four tokens")
t.check(standby_live(toks[:5]) == 5, "the paused standby still holds all five live")
time.sleep(max(0.0, LAG_MAX_MS / 1000 + 0.05 - (time.monotonic() - acked)))
t.check(not_revealed(b, toks[:5]) == [True] * 5,
        "B does not reveal the erased value nor the deleted tokens once read_lag_max_ms has passed")
t.check(metric(b_metrics, fallbacks("lag")) > lag0,
        "the primary answered because the standby was behind (fallbacks{reason=\"lag\"} %d -> %d)"
        % (lag0, metric(b_metrics, fallbacks("lag"))))
own = toks[5:8]
t.check(all(r.code == 0 for r in b.delete("pan", own).results), "B deletes three tokens itself")
t.check(not_revealed(b, own) == [True] * 3 and standby_live(own) == 3,
        "B never reveals its own deletes, not even at once (the standby still holds them live)")
replay("resume")
wait_metric(b_metrics, STATE_OK, lambda v: v == 1, "B proves the standby fresh again after replay resumed")

# ---- 5. remote_apply: no window at all ------------------------------------------------------
psql_as_superuser(PRIMARY, "ALTER SYSTEM SET synchronous_commit = remote_apply")
psql_as_superuser(PRIMARY, "SELECT pg_reload_conf()")
deadline = time.monotonic() + WAIT_S
while sql("SHOW synchronous_commit") != "remote_apply":
    if time.monotonic() > deadline:
        t.fail("synchronous_commit did not become remote_apply")
    time.sleep(0.1)
reads0 = metric(b_metrics, READS)
for tok in toks[10:30]:
    if a.delete("pan", [tok]).results[0].code != 0:
        t.fail("A could not delete a token")
    if b.detokenize("pan", [tok], vc.FULL, reason="replica").results[0].status.code == 0:
        t.fail("with remote_apply, B revealed a token A had just deleted")
t.check(True, "with synchronous_commit = remote_apply, 20 tokens deleted through A are not revealed through B "
              "even at once (standby reads %d -> %d)" % (reads0, metric(b_metrics, READS)))
psql_as_superuser(PRIMARY, "ALTER SYSTEM RESET synchronous_commit")
psql_as_superuser(PRIMARY, "SELECT pg_reload_conf()")

# ---- 6. the standby stopped, then back ---------------------------------------------------------
live = toks[30:] + fresh
live_vals = vals[30:] + fresh_vals
unreachable0 = metric(b_metrics, fallbacks("unreachable"))
hook("TV_TEST_PG_STOP_STANDBY")
for _ in range(5):
    if reveal(b, live, vc.FULL) != live_vals:
        t.fail("B revealed wrong values with the standby stopped")
t.check(True, "B reveals every live token five times with the standby stopped")
t.check(metric(b_metrics, fallbacks("unreachable")) > unreachable0 and metric(b_metrics, STATE_OK) == 0,
        "the metrics show the standby down (fallbacks{reason=\"unreachable\"} %d -> %d)"
        % (unreachable0, metric(b_metrics, fallbacks("unreachable"))))
hook("TV_TEST_PG_START_STANDBY")
wait_metric(b_metrics, STATE_OK, lambda v: v == 1, "B proves the restarted standby fresh")
reads, _ = wait_served_by_standby(live, live_vals)
t.check(True, "B reads from the restarted standby again (reads %d)" % reads)
print("ok")
