"""Which name of a client certificate is the principal (RFC 6125
practice): a SAN URI, else a SAN DNS name; the CN only when the
certificate has no SAN at all. A certificate with SANs of other types
only (IP, email) names no principal, even if its CN is a known one; a
certificate with two different URI (or DNS) names is refused instead of
the first being taken. Refusals are UNAUTHENTICATED with the reason, in
the server log (identity_refused) and the audit log."""
import json

import grpc

import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

TV = vc.TV
DATA = t.path("var-identity")
PIN = pc.make_hsm()
pc.make_pki()
CONFIG = t.path("identity.yaml")
pc.write_config(CONFIG, pc.config_text(DATA, PIN))
CRM = "spiffe://example.org/crm"

# CN = a principal the policy knows (the auditor is bound by its CN).
t.make_cert("ca", "cn-ip", "siem.example.org", "IP:127.0.0.1")
t.make_cert("ca", "cn-email", "siem.example.org", "email:siem@example.org")
t.make_cert("ca", "two-uri", "x", "URI:" + CRM + ",URI:spiffe://example.org/settlement")
t.make_cert("ca", "two-dns", "x", "DNS:officer-alice.example.org,DNS:officer-bob.example.org")
t.make_cert("ca", "same-uri", "x", "URI:" + CRM + ",URI:" + CRM)
t.make_cert("ca", "uri-dns", "siem.example.org", "URI:" + CRM + ",DNS:officer-alice.example.org")

server = t.Server("--config", CONFIG, "--listen", "127.0.0.1:0", "--init")


def client(name):
    return vc.Client(t.secure_channel(server.port, name))


def whoami(name):
    return t.unary(t.secure_channel(server.port, name), vc.SVC + "WhoAmI", TV.WhoAmIRequest,
                   TV.WhoAmIResponse)(TV.WhoAmIRequest(), timeout=10)


def refused(fn, what, needle):
    try:
        fn()
        t.fail(what + ": accepted")
    except grpc.RpcError as e:
        t.check(e.code() == grpc.StatusCode.UNAUTHENTICATED and needle in e.details(),
                "%s: UNAUTHENTICATED (%s)" % (what, e.details()))


verify = TV.VerifyAuditRequest(request_id="id-test")
t.check(client("auditor").call("VerifyAudit", verify, TV.VerifyAuditResponse).intact,
        "a CN-only certificate still names its CN")
for name in ("cn-ip", "cn-email"):
    refused(lambda: client(name).call("VerifyAudit", verify, TV.VerifyAuditResponse),
            "CN with %s SANs only" % name[3:], "the CN is not used when SANs are present")
    w = whoami(name)
    t.check(w.principal == "" and w.identity_source == "refused" and not w.authenticated,
            "WhoAmI for %s: no principal, source refused" % name)
refused(lambda: client("two-uri").tokenize("pan", ["4111111111111111"]), "two different SAN URIs",
        "more than one principal (different SAN URI names)")
refused(lambda: client("two-dns").rotation_status(), "two different SAN DNS names",
        "more than one principal (different SAN DNS names)")
t.check(whoami("two-uri").principal == "", "WhoAmI names no principal for two URIs")
same = client("same-uri")
t.check(len(vc.ok_tokens(same.tokenize("pan", ["4111111111111111"]))) == 1, "the same URI twice: one principal")
w = whoami("uri-dns")
t.check(w.principal == CRM and w.identity_source == "san_uri", "URI before DNS, never the CN (%s)" % w.principal)

events = [x for x in server.lines() if x.get("event") == "identity_refused"]
t.check(len(events) >= 4 and all(x.get("reason") for x in events), "identity_refused logged (%d)" % len(events))
rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")
lines = [json.loads(x) for x in pc.audit_lines(DATA)]
bad = [x for x in lines if x.get("outcome") == "REFUSED" and x.get("code") == 16]
t.check(len(bad) >= 4 and all(x["principal"] == "" for x in bad), "the refusals are audited (%d)" % len(bad))
