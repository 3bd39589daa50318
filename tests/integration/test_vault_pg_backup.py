"""The backup story of a fleet on PostgreSQL (issue 10, point 9): pg_dump
of the database (the tv_keyring row included) restored into a fresh
database serves every token through a node started on it with the same
HSM token; a dump older than the last keyring change is refused at start
(KEYRING_ROLLBACK: back up after each key change)."""
import os
import shlex
import subprocess

import tvtest as t
import vaultclient as vc

import fleet_nodes as fleet

CONNINFO = fleet.CONNINFO
PG = dict(kv.split("=", 1) for kv in shlex.split(CONNINFO))
PG_BIN = "/usr/lib/postgresql/15/bin"


def pg_tool(name, *args):
    """Runs PostgreSQL tool |name| against the private server as its
    superuser; returns its output or fails naming the error."""
    argv = [os.path.join(PG_BIN, name), "-h", PG["host"], "-p", PG["port"], "-U", "postgres", *args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        t.fail("%s: %s" % (name, p.stderr.strip()))
    return p.stdout.strip()


def restore(dump, dbname):
    """A fresh database |dbname| owned by the vault's role, filled from |dump|."""
    pg_tool("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c",
            "CREATE DATABASE %s OWNER %s" % (dbname, PG["user"]))
    pg_tool("pg_restore", "--exit-on-error", "--no-owner", "--role", PG["user"], "-d", dbname, dump)
    return CONNINFO.replace("dbname=%s" % PG["dbname"], "dbname=%s" % dbname)


def reveal_all(client, tokens):
    resp = client.detokenize("pan", tokens, vc.FULL, reason="restore check")
    bad = [r.status.name for r in resp.results if r.status.code != 0]
    if bad:
        t.fail("detokenize after restore: %d of %d failed, first %s" % (len(bad), len(tokens), bad[0]))
    return [r.value for r in resp.results]


TLS = fleet.setup(nodes=("a", "r", "s"))

# ---- node A: tokens under two data-key versions, then an online pg_dump ------
A = t.Server("--config", fleet.config("a", CONNINFO), "--init", "--listen", "127.0.0.1:0", *TLS)
a = vc.Client(t.secure_channel(A.port, "officer-a"))
vals = [fleet.pan("5%03d%08d%03d" % (7, 0, i)) for i in range(30)]
toks = vc.ok_tokens(a.tokenize("pan", vals[:15]))
t.check(a.rotate("pan").key.version == 2, "A rotates pan's data key: version 2")
toks += vc.ok_tokens(a.tokenize("pan", vals[15:]))
t.check(len(set(toks)) == len(vals), "A tokenizes 30 values under key versions 1 and 2")
DUMP = t.path("tokenvault.dump")
pg_tool("pg_dump", "-Fc", "-d", PG["dbname"], "-f", DUMP)
listing = pg_tool("pg_restore", "-l", DUMP)
t.check("TABLE DATA public tv_keyring" in listing and "TABLE DATA public tv_tokens" in listing,
        "the dump holds the tv_keyring row and the records")

# ---- restore into a fresh database; a node on it reveals every token ------------
R = t.Server("--config", fleet.config("r", restore(DUMP, "tokenvault_restored")), "--listen", "127.0.0.1:0", *TLS)
r = vc.Client(t.secure_channel(R.port, "officer-a"))
t.check(reveal_all(r, toks) == vals, "a node on the restored database reveals all 30 tokens (both key versions)")
more = vc.ok_tokens(r.tokenize("pan", [fleet.pan("5%03d%08d%03d" % (8, 0, i)) for i in range(3)]))
t.check(len(more) == 3 and not set(more) & set(toks), "the restored node tokenizes new values")
rc, _ = R.terminate(30)
t.check(rc == 0, "the restored node stops on SIGTERM")

# ---- a dump older than the last keyring change is refused --------------------
a.rotate("pan")
p = subprocess.run([t.SERVER, "--config", fleet.config("s", restore(DUMP, "tokenvault_stale")), "--listen", "127.0.0.1:0",
                    *TLS], capture_output=True, timeout=60)
t.check(p.returncode != 0 and "KEYRING_ROLLBACK" in p.stderr.decode(),
        "a dump taken before the last key change is refused at start (KEYRING_ROLLBACK)")
t.check(reveal_all(a, toks) == vals, "A still reveals every token")
rc, _ = A.terminate(30)
t.check(rc == 0, "A stops on SIGTERM")
