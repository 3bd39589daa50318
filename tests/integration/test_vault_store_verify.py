"""`tokenvault store verify` (issue 10, point 9): the running vault checks
that every stored value authenticates under its key version (VerifyStore),
on the log backend (--dev) and on PostgreSQL (a node of
tests/support/pg_cluster.py): counts per namespace and key version,
tombstones, exit 0; a tag tampered with in the database is reported by
token (never by value), exit 1; a caller without keys:read is refused
(exit 4); every run is audited."""
import os
import shlex
import subprocess

import tvtest as t
import vaultclient as vc

from fleet_nodes import CLI, CONNINFO, HSM, PIN, values


def verify(conn, *args):
    p = subprocess.run([CLI, "store", "verify", *conn, *args], capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


def audited(ch, principal):
    """The VerifyStore entries of |principal| in the node's audit log, as
    (outcome name, namespace) pairs."""
    fn = ch.unary_stream(vc.SVC + "ReadAudit", request_serializer=lambda m: m.SerializeToString(),
                         response_deserializer=vc.TV.AuditEntry.FromString)
    entries = fn(vc.TV.ReadAuditRequest(limit=1000, method="VerifyStore"), timeout=10)
    return [(e.outcome.name, e.namespace) for e in entries if e.principal == principal]


# ---- the log backend, --dev ------------------------------------------------------
dev = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-dev"))
DEV = ["--dev", "--target", "127.0.0.1:%d" % dev.port]
with t.insecure_channel(dev.port) as ch:
    c = vc.Client(ch)
    vals = values(10, 1)
    toks = vc.ok_tokens(c.tokenize("pan", vals))
    c.delete("pan", toks[:2])
    rc, out = verify(DEV)
    t.check(rc == 0 and "namespace pan: records 10, values ok 8, failed 0, no key 0, tombstones 2" in out
            and "  key version 1: 8 values" in out and "namespace iban: records 0" in out
            and "store: intact" in out, "log: pan has 10 records, 8 values under version 1, 2 tombstones (%s)" % out)
    rc, out = verify(DEV, "iban")
    t.check(rc == 0 and "namespace iban: records 0" in out and "namespace pan" not in out,
            "log: one namespace on request (%s)" % out.strip())
    rc, out = verify(DEV, "nope")
    t.check(rc == 2 and "NOT_FOUND" in out and "'nope'" in out, "log: an unknown namespace is refused, naming it (%d: %s)" % (rc, out.strip()))
    rc, out = verify(DEV, "pan", "iban")
    t.check(rc == 2, "log: two namespaces are a usage error (%d)" % rc)
    seen = audited(ch, "dev:local")
    t.check(len(seen) == 3 and seen[0] == ("OK", "") and seen[1] == ("OK", "iban"),
            "log: each run is audited, with its namespace (%s)" % seen)
t.check(not any(v in out for v in vals), "no value in the output")
rc, _ = dev.terminate(30)
t.check(rc == 0, "the --dev server stops on SIGTERM")

# ---- PostgreSQL: a node over mTLS ----------------------------------------------
p = subprocess.run([CLI, "hsm", "init", "--dir", HSM], capture_output=True, timeout=60)
t.check(p.returncode == 0, "tokenvault hsm init made the SoftHSM2 token (%s)" % p.stderr.decode().strip())
os.environ["SOFTHSM2_CONF"] = os.path.join(HSM, "softhsm2.conf")
TLS = t.mtls_server_pki()
t.make_cert("ca", "officer", "officer", "URI:spiffe://tokenvault/officer")
t.make_cert("ca", "clerk", "clerk", "URI:spiffe://tokenvault/clerk")
for d in ("data-a", "audit-a"):
    os.makedirs(t.path(d), mode=0o700)
CONFIG = t.path("node-a.yaml")
with open(CONFIG, "w") as f:
    f.write("""listen: 127.0.0.1:7443
data_dir: %(w)s/data-a
node_id: vault-a
hsm: {module: /usr/lib/softhsm/libsofthsm2.so, token_label: tokenvault-dev, pin_file: %(pin)s}
audit: {dir: %(w)s/audit-a}
store:
  backend: postgres
  postgres:
    conninfo: "%(c)s"
namespaces:
  - {name: pan, format: {kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19}}
roles:
  - name: officer
    permissions:
      - {namespace: pan, allow: [tokenize, delete]}
      - {namespace: "*", allow: ["keys:read", "audit:read"]}
  - name: clerk
    permissions:
      - {namespace: pan, allow: [tokenize]}
principals:
  - {name: "spiffe://tokenvault/officer", roles: [officer]}
  - {name: "spiffe://tokenvault/clerk", roles: [clerk]}
""" % {"w": t.WORK, "pin": PIN, "c": CONNINFO.replace('"', '\\"')})
os.chmod(CONFIG, 0o600)
A = t.Server("--config", CONFIG, "--init", "--listen", "127.0.0.1:0", *TLS)
officer_ch = t.secure_channel(A.port, "officer")
a = vc.Client(officer_ch)


def conn(who):
    return ["--target", "127.0.0.1:%d" % A.port, "--ca", t.path("ca.crt"), "--cert", t.path(who + ".crt"),
            "--key", t.path(who + ".key"), "--server-name", "localhost"]


vals = values(12, 2)
toks = vc.ok_tokens(a.tokenize("pan", vals))
a.delete("pan", toks[:1])
rc, out = verify(conn("officer"))
t.check(rc == 0 and "namespace pan: records 12, values ok 11, failed 0, no key 0, tombstones 1" in out
        and "  key version 1: 11 values" in out and "store: intact" in out,
        "postgres: 12 records, 11 values under version 1, 1 tombstone (%s)" % out)
# One row's tag altered in the database: its value no longer authenticates.
prefix = shlex.split(os.environ["TV_TEST_PG_SQL"])
p = subprocess.run(prefix + ["UPDATE tv_tokens SET tag = set_byte(tag, 0, get_byte(tag, 0) # 1)"
                             " WHERE token = convert_to('%s', 'UTF8')" % toks[5]],
                   capture_output=True, text=True, timeout=60)
t.check(p.returncode == 0, "psql alters the tag of one row (%s)" % p.stderr.strip())
rc, out = verify(conn("officer"))
t.check(rc == 1 and "values ok 10, failed 1" in out and "FAILED token %s" % toks[5] in out
        and "store: NOT intact" in out, "postgres: the tampered row is reported by token, exit 1 (%d: %s)" % (rc, out))
t.check(not any(v in out for v in vals), "no value in the output")
rc, out = verify(conn("clerk"))
t.check(rc == 4, "postgres: a caller without keys:read is refused, exit 4 (%d: %s)" % (rc, out.strip()))
seen = audited(officer_ch, "spiffe://tokenvault/clerk")
t.check(len(seen) == 1 and seen[0][0] == "POLICY_DENIED", "postgres: the refusal is audited (%s)" % seen)
t.check(len(audited(officer_ch, "spiffe://tokenvault/officer")) == 2, "postgres: both officer runs are audited")
rc, _ = A.terminate(30)
t.check(rc == 0, "the node stops on SIGTERM")
