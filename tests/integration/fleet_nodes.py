"""Shared by the fleet tests (issue 10): one SoftHSM2 token and an mTLS
PKI for every node, each node's config on the private PostgreSQL of
tests/support/pg_cluster.py (TV_TEST_PG_CONNINFO), SQL as the database
owner, and valid PAN values."""
import os
import shlex
import subprocess

import tvtest as t
import vaultclient as vc

CLI = os.environ.get("TOKENVAULT_CLI", "")
CONNINFO = os.environ.get("TV_TEST_PG_CONNINFO", "")
if not CONNINFO:
    t.fail("TV_TEST_PG_CONNINFO is not set: run through tests/support/pg_cluster.py --run -- ...")
HSM = t.path("hsm-token")
PIN = os.path.join(HSM, "user.pin")
PAN_NAMESPACE = "  - {name: pan, format: {kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19}}\n"


def sql(statement):
    """Runs |statement| as the database owner; returns its unaligned output."""
    prefix = shlex.split(os.environ["TV_TEST_PG_SQL"])  # ends with -c
    p = subprocess.run(prefix[:-1] + ["-A", "-t", "-c", statement], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        t.fail("psql: %s" % p.stderr)
    return p.stdout.strip()


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def setup(nodes=("a", "b")):
    """Makes the fleet's SoftHSM2 token, a server certificate, officer-a and
    officer-b client certificates and each node's data and audit
    directories; points SOFTHSM2_CONF at the token. Returns the server's
    TLS arguments."""
    p = subprocess.run([CLI, "hsm", "init", "--dir", HSM], capture_output=True, timeout=60)
    t.check(p.returncode == 0, "tokenvault hsm init made the fleet's SoftHSM2 token (%s)" % p.stderr.decode().strip())
    os.environ["SOFTHSM2_CONF"] = os.path.join(HSM, "softhsm2.conf")
    tls = t.mtls_server_pki()
    t.make_cert("ca", "officer-a", "officer-a", "URI:spiffe://tokenvault/officer-a")
    t.make_cert("ca", "officer-b", "officer-b", "URI:spiffe://tokenvault/officer-b")
    for node in nodes:
        for d in ("data-", "audit-"):
            os.makedirs(t.path(d + node), mode=0o700)
    return tls


def config(node, conninfo, extra="", namespaces=PAN_NAMESPACE, top=""):
    """Node |node|'s config: its own data and audit directories, the shared
    token, the shared database; |extra| goes into the store.postgres block,
    |top| (top-level keys) before the namespaces."""
    path = t.path("fleet-%s.yaml" % node)
    write(path, """listen: 127.0.0.1:7443
data_dir: %(w)s/data-%(n)s
node_id: vault-%(n)s
hsm: {module: /usr/lib/softhsm/libsofthsm2.so, token_label: tokenvault-dev, pin_file: %(pin)s}
audit: {dir: %(w)s/audit-%(n)s}
store:
  backend: postgres
  postgres:
    conninfo: "%(c)s"
%(extra)s%(top)snamespaces:
%(ns)sroles:
  - name: officer
    permissions:
      - {namespace: pan, allow: [tokenize, "detokenize:masked", "detokenize:full", delete]}
      - {namespace: "*", allow: ["keys:read", "keys:rotate", "keys:approve"]}
principals:
  - {name: "spiffe://tokenvault/officer-a", roles: [officer]}
  - {name: "spiffe://tokenvault/officer-b", roles: [officer]}
""" % {"w": t.WORK, "n": node, "pin": PIN, "c": conninfo.replace('"', '\\"'), "extra": extra, "top": top, "ns": namespaces})
    return path


def pan(body15):
    """A 16-digit PAN: |body15| and its Luhn check digit."""
    for d in "0123456789":
        if vc.luhn_ok(body15 + d):
            return body15 + d
    t.fail("no Luhn digit for " + body15)


def values(n, seed):
    """|n| distinct valid 16-digit PANs (distinct last four digits too)."""
    return [pan("4%03d%08d%03d" % (seed, 0, i)) for i in range(n)]


def reveal(client, tokens, level):
    resp = client.detokenize("pan", tokens, level, reason="fleet")
    bad = [(r.status.name, tok) for r, tok in zip(resp.results, tokens) if r.status.code != 0]
    if bad:
        info = client.info("pan", [bad[0][1]]).results[0]
        t.fail("detokenize failed: %d of %d, first %s (token %s: key version %d, %s)" %
               (len(bad), len(tokens), bad[0][0], bad[0][1], info.key_version, info.status.name))
    return [r.value for r in resp.results]


def key_version(client, token):
    return client.info("pan", [token]).results[0].key_version
