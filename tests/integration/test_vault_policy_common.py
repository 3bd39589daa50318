"""Shared set-up for the test_vault_policy / test_vault_reload /
test_vault_audit_rpc integration tests (not a test itself): a SoftHSM2
token made by `tokenvault hsm init`, a PKI made with the openssl CLI, and
a config file with CRM, finance, two security officers and an auditor."""
import glob
import os
import subprocess

import tvtest as t

CLI = os.environ.get("TOKENVAULT_CLI", "")

# principal name -> (certificate name, subjectAltName or None for CN only)
PRINCIPALS = {
    "spiffe://example.org/crm": ("crm", "URI:spiffe://example.org/crm"),
    "spiffe://example.org/settlement": ("finance", "URI:spiffe://example.org/settlement"),
    "officer-alice.example.org": ("alice", "DNS:officer-alice.example.org"),
    "officer-bob.example.org": ("bob", "DNS:officer-bob.example.org"),
    "siem.example.org": ("auditor", None),
    "spiffe://example.org/reporting": ("reporting", "URI:spiffe://example.org/reporting"),
    "spiffe://example.org/branch": ("branch", "URI:spiffe://example.org/branch"),
    "spiffe://example.org/stranger": ("stranger", "URI:spiffe://example.org/stranger"),
}

ROLES_YAML = """roles:
  - name: crm
    permissions:
      - {namespace: pan, allow: [tokenize, "detokenize:masked"]}
      - {namespace: iban, allow: [tokenize, "detokenize:masked"]}
      - {namespace: ssn, allow: [tokenize]}
    limits:
      items_per_request: 5
      networks: [127.0.0.0/8, "::1/128"]
  - name: finance
    permissions:
      - {namespace: pan, allow: ["detokenize:masked", "detokenize:full"]}
      - {namespace: iban, allow: ["detokenize:masked", "detokenize:full"]}
    limits:
      require_reason: true
      reveals_per_minute: 1000
  - name: security_officer
    permissions:
      - {namespace: "*", allow: ["keys:read", "keys:rotate", "keys:approve"]}
      - {namespace: pan, allow: [delete]}
  - name: auditor
    permissions:
      - {namespace: "*", allow: ["audit:read", "keys:read"]}
  - name: reporting
    permissions:
      - {namespace: pan, allow: ["detokenize:masked"]}
    limits:
      reveals_per_minute: 10
  - name: branch
    permissions:
      - {namespace: pan, allow: [tokenize]}
    limits:
      networks: [10.0.0.0/8]
principals:
  - {name: "spiffe://example.org/crm", roles: [crm]}
  - {name: "spiffe://example.org/settlement", roles: [finance]}
  - {name: officer-alice.example.org, roles: [security_officer]}
  - {name: officer-bob.example.org, roles: [security_officer]}
  - {name: siem.example.org, roles: [auditor]}
  - {name: "spiffe://example.org/reporting", roles: [reporting]}
  - {name: "spiffe://example.org/branch", roles: [branch]}
"""

NAMESPACES_YAML = """namespaces:
  - {name: pan, format: {kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19}, convergent: true}
  - {name: iban, format: {kind: iban}, convergent: true}
  - {name: ssn, format: {kind: us_ssn, keep_last: 0}, convergent: true}
"""


def make_hsm():
    """A SoftHSM2 token (label tokenvault-dev) and its PIN file."""
    hsm = t.path("hsm-token")
    p = subprocess.run([CLI, "hsm", "init", "--dir", hsm], capture_output=True, timeout=60)
    t.check(p.returncode == 0, "tokenvault hsm init made a token (%s)" % p.stderr.decode().strip())
    os.environ["SOFTHSM2_CONF"] = os.path.join(hsm, "softhsm2.conf")
    return os.path.join(hsm, "user.pin")


def make_pki():
    t.mtls_server_pki()
    for _, (name, san) in PRINCIPALS.items():
        cn = name if san else "siem.example.org"
        t.make_cert("ca", name, cn, san)


def config_text(data, pin, roles=ROLES_YAML, namespaces=NAMESPACES_YAML):
    return """listen: 127.0.0.1:7443
tls: {cert: %s, key: %s, client_ca: %s}
data_dir: %s
hsm: {module: /usr/lib/softhsm/libsofthsm2.so, token_label: tokenvault-dev, pin_file: %s}
audit: {dir: %s/audit, checkpoint_interval: 2s}
%s%s""" % (t.path("server.crt"), t.path("server.key"), t.path("ca.crt"), data, pin, data, namespaces, roles)


def write_config(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)  # atomic: a reload never reads half a file


def audit_lines(data):
    lines = []
    for seg in sorted(glob.glob(os.path.join(data, "audit", "audit-*.log"))):
        with open(seg, encoding="utf-8") as f:
            lines += [line for line in f.read().split("\n") if line]
    return lines


def channel(port, principal):
    return t.secure_channel(port, PRINCIPALS[principal][0])
