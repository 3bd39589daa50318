"""SIGHUP in tokenvaultd: the config file's policy is reloaded atomically
(a principal gains and loses a permission on the connection it already
has), a bad file is refused and the old policy stays, changes that need a
restart are named, the server certificate is replaced for new
connections while old ones keep working, a bad certificate is refused,
and every reload is audited."""
import shutil
import signal
import socket
import ssl
import time

import grpc

import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

TV = vc.TV
DATA = t.path("var-reload")
PIN = pc.make_hsm()
pc.make_pki()
CONFIG = t.path("reload.yaml")
pc.write_config(CONFIG, pc.config_text(DATA, PIN))
CRM, SIEM = "spiffe://example.org/crm", "siem.example.org"
PAN = "4111111111111111"

server = t.Server("--config", CONFIG, "--listen", "127.0.0.1:0", "--init")
crm_ch = pc.channel(server.port, CRM)
crm = vc.Client(crm_ch)
siem = vc.Client(pc.channel(server.port, SIEM))


def events(name):
    return [line for line in server.lines() if line.get("event") == name]


def hup_and_wait(event):
    """SIGHUP, then wait for one more |event| line (bounded)."""
    before = len(events(event))
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = events(event)
        if len(got) > before:
            return got[-1]
        time.sleep(0.05)
    t.fail("no %s log line within 10 s of SIGHUP: %s" % (event, server.text()[-2000:]))


def code_of(fn):
    try:
        fn()
        return grpc.StatusCode.OK
    except grpc.RpcError as e:
        return e.code()


def crm_peers():
    fn = siem.ch.unary_stream(vc.SVC + "ReadAudit", request_serializer=lambda m: m.SerializeToString(),
                              response_deserializer=TV.AuditEntry.FromString)
    return {e.peer for e in fn(TV.ReadAuditRequest(principal=CRM, limit=1000), timeout=10)}


token = vc.ok_tokens(crm.tokenize("pan", [PAN]))[0]
t.check(code_of(lambda: crm.detokenize("pan", [token], vc.FULL, reason="r")) == grpc.StatusCode.PERMISSION_DENIED,
        "before: crm may not reveal FULL")

# ---- a principal gains a permission ---------------------------------------
gain = pc.ROLES_YAML.replace('{namespace: pan, allow: [tokenize, "detokenize:masked"]}',
                             '{namespace: pan, allow: [tokenize, "detokenize:masked", "detokenize:full"]}', 1)
pc.write_config(CONFIG, pc.config_text(DATA, PIN, roles=gain))
hup_and_wait("reload_policy")
t.check(crm.detokenize("pan", [token], vc.FULL).results[0].value == PAN,
        "after SIGHUP crm reveals FULL on the connection it already had")

# ---- and loses one --------------------------------------------------------
lose = gain.replace('{namespace: iban, allow: [tokenize, "detokenize:masked"]}',
                    '{namespace: iban, allow: ["detokenize:masked"]}', 1)
t.check(crm.tokenize("iban", ["DE89370400440532013000"]).results[0].status.code == 0, "before: crm tokenizes iban")
pc.write_config(CONFIG, pc.config_text(DATA, PIN, roles=lose))
hup_and_wait("reload_policy")
t.check(code_of(lambda: crm.tokenize("iban", ["DE89370400440532013000"])) == grpc.StatusCode.PERMISSION_DENIED,
        "after SIGHUP crm may no longer tokenize iban")
t.check(len(crm_peers()) == 1, "every crm call came over one connection (no reconnect across reloads)")

# ---- a bad file is refused, the old policy stays ----------------------------
pc.write_config(CONFIG, pc.config_text(DATA, PIN, roles=lose) + "bogus_key: 1\n")
refused = hup_and_wait("reload_policy_refused")
t.check("bogus_key" in refused.get("reason", ""), "the refusal names the bad key: %s" % refused.get("reason"))
t.check(crm.detokenize("pan", [token], vc.FULL).results[0].value == PAN, "old policy kept: FULL still allowed")
t.check(code_of(lambda: crm.tokenize("iban", ["DE89370400440532013000"])) == grpc.StatusCode.PERMISSION_DENIED,
        "old policy kept: iban tokenize still refused")
pc.write_config(CONFIG, "roles: [")
hup_and_wait("reload_policy_refused")
t.check(crm.detokenize("pan", [token], vc.FULL).results[0].value == PAN, "a YAML syntax error is refused too")

# ---- what needs a restart is named ------------------------------------------
more_ns = pc.NAMESPACES_YAML + "  - {name: de_tax_id, format: {kind: de_tax_id}}\n"
pc.write_config(CONFIG, pc.config_text(DATA, PIN, roles=lose, namespaces=more_ns))
restart = hup_and_wait("reload_needs_restart")
t.check(restart.get("key") == "namespaces", "a namespace change needs a restart: %s" % restart)
code = code_of(lambda: crm.tokenize("de_tax_id", ["65929970489"]))
t.check(code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND), "the new namespace is not served")

# ---- certificates ------------------------------------------------------------
def served_cert():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(t.path("ca.crt"))
    ctx.load_cert_chain(t.path("crm.crt"), t.path("crm.key"))
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


def der(name):
    with open(t.path(name)) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


t.check(served_cert() == der("server.crt"), "the first server certificate is served")
t.make_cert("ca", "server2", "tokenvaultd-2", "IP:127.0.0.1,DNS:localhost", server=True)
shutil.copy(t.path("server.crt"), t.path("server1.crt"))
shutil.copy(t.path("server.key"), t.path("server1.key"))
shutil.copy(t.path("server2.crt"), t.path("server.crt"))
shutil.copy(t.path("server2.key"), t.path("server.key"))
hup_and_wait("reload_tls")
t.check(served_cert() == der("server2.crt"), "after SIGHUP new connections get the new certificate")
t.check(crm.detokenize("pan", [token], vc.FULL).results[0].value == PAN, "the old connection still works")
with pc.channel(server.port, CRM) as fresh:
    t.check(vc.Client(fresh).detokenize("pan", [token], vc.MASKED).results[0].status.code == 0,
            "a new gRPC connection verifies the new certificate")
shutil.copy(t.path("server1.key"), t.path("server.key"))  # key no longer matches the certificate
bad = hup_and_wait("reload_tls_refused")
t.check("does not match" in bad.get("reason", ""), "a mismatched key is refused: %s" % bad.get("reason"))
t.check(served_cert() == der("server2.crt"), "after a refused reload the last good certificate is served")

# ---- every reload is audited ---------------------------------------------------
reloads = [line for line in pc.audit_lines(DATA) if '"method":"Reload"' in line]
t.check(any("policy=OK" in r for r in reloads) and any("policy=REFUSED" in r for r in reloads)
        and any("tls=OK" in r for r in reloads) and any("tls=REFUSED" in r for r in reloads),
        "reloads are in the audit log (%d entries)" % len(reloads))
v = siem.call("VerifyAudit", TV.VerifyAuditRequest(), TV.VerifyAuditResponse)
t.check(v.intact, "the audit chain verifies after the reloads (%d entries)" % v.entries_checked)

crm_ch.close()
rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")
