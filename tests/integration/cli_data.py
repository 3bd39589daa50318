"""Seeded test data for the CLI tests and bench/cli_bench.sh: CRM-like CSV
rows with valid Luhn card numbers, valid German IBANs and names. The same
seed always gives the same bytes, so runs can be compared by hash.

    python3 cli_data.py ROWS OUT.csv [SEED]
"""
import random
import sys

FIRST = ["Ada", "Bruno", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gustav", "Hana", "Ilse", "Jonas",
         "Kemal", "Lena", "Mateo", "Nora", "Oskar", "Priya"]
LAST = ["Lovelace", "Müller", "O'Brien", "Nakamura", "Schmidt", "García", "Kowalski", "Berg"]


def luhn_complete(body):
    """body + its Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = ord(ch) - 48
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def de_iban(blz, account):
    bban = blz + account
    check = 98 - int(bban + "131400") % 97
    return "DE%02d%s" % (check, bban)


def rows(n, seed=1):
    rnd = random.Random(seed)
    rand = rnd.randrange
    for i in range(n):
        pan = luhn_complete("4%014d" % rand(10 ** 14))
        iban = de_iban("%08d" % rand(10 ** 8), "%010d" % rand(10 ** 10))
        name = "%s %s" % (FIRST[rand(len(FIRST))], LAST[rand(len(LAST))])
        kind = rand(8)
        if kind == 0:
            note = '"called, twice"'
        elif kind == 1:
            note = '"said ""hi"""'
        else:
            note = "ok"
        yield "%d,%s,%s,%s,%s\n" % (i + 1, name, pan, iban, note)


def write_csv(path, n, seed=1):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("id,name,pan,iban,note\n")
        batch = []
        for line in rows(n, seed):
            batch.append(line)
            if len(batch) == 10000:
                f.write("".join(batch))
                batch = []
        f.write("".join(batch))


if __name__ == "__main__":
    write_csv(sys.argv[2], int(sys.argv[1]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)


VAULT_CONFIG = """listen: 127.0.0.1:7443
data_dir: %(data)s
hsm: {module: /usr/lib/softhsm/libsofthsm2.so, token_label: tokenvault-dev, pin_file: %(pin)s}
audit: {dir: %(data)s/audit}
namespaces:
  - {name: pan, format: {kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19}, convergent: true}
  - {name: iban, format: {kind: iban, check: valid}, convergent: true}
roles:
  - name: crm
    permissions:
      - {namespace: pan, allow: [tokenize, "detokenize:masked"]}
      - {namespace: iban, allow: [tokenize, "detokenize:masked"]}
  - name: finance
    permissions:
      - {namespace: pan, allow: [tokenize, "detokenize:masked", "detokenize:full", delete]}
      - {namespace: iban, allow: [tokenize, "detokenize:masked", "detokenize:full", delete]}
    limits: {require_reason: true}
  - name: app
    permissions:
      - {namespace: pan, allow: [tokenize, "detokenize:masked", "detokenize:full", delete]}
      - {namespace: "*", allow: ["keys:read", "keys:rotate", "keys:approve", "audit:read"]}
  - name: officer
    permissions:
      - {namespace: "*", allow: ["keys:read", "keys:rotate", "keys:approve", "audit:read"]}
principals:
  - {name: "spiffe://tokenvault/crm", roles: [crm]}
  - {name: "spiffe://tokenvault/finance", roles: [finance]}
  - {name: "spiffe://tokenvault/app", roles: [app]}
  - {name: "spiffe://tokenvault/officer-a", roles: [officer]}
  - {name: "spiffe://tokenvault/officer-b", roles: [officer]}
"""

IDENTITIES = ("crm", "finance", "app", "officer-a", "officer-b")


def start_mtls_vault(t, cli):
    """A tokenvaultd over mTLS on a SoftHSM2 token made by `tokenvault hsm
    init`, with the roles above; client certificates for IDENTITIES.
    Returns the t.Server."""
    import os
    import subprocess
    hsm = t.path("hsm-token")
    p = subprocess.run([cli, "hsm", "init", "--dir", hsm], capture_output=True, timeout=60)
    t.check(p.returncode == 0, "tokenvault hsm init made a dev token")
    os.environ["SOFTHSM2_CONF"] = os.path.join(hsm, "softhsm2.conf")
    data = t.path("var-mtls")
    config = t.path("vault.yaml")
    with open(config, "w") as f:
        f.write(VAULT_CONFIG % {"data": data, "pin": os.path.join(hsm, "user.pin")})
    tls = t.mtls_server_pki()
    for name in IDENTITIES:
        t.make_cert("ca", name, name, "URI:spiffe://tokenvault/" + name)
    return t.Server("--listen", "127.0.0.1:0", "--data-dir", data, "--config", config, "--init", *tls)


def tls_args(t, port, who):
    return ["--target", "127.0.0.1:%d" % port, "--ca", t.path("ca.crt"), "--cert", t.path(who + ".crt"),
            "--key", t.path(who + ".key"), "--server-name", "localhost"]
