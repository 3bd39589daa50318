"""Authorisation in tokenvaultd over mTLS with a config file: the whole
role x permission x namespace matrix over real RPCs (against an
allow-list written here independently of the config), unknown principal,
MASKED vs FULL, require_reason, the per-minute reveal limit and its alert
entry, the network allowlist, items per request, refusals audited without
values, and an unwritable audit log failing data calls UNAVAILABLE."""
import glob
import os
import resource

import grpc

import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

TV = vc.TV
DATA = t.path("var-policy")
PIN = pc.make_hsm()
pc.make_pki()
CONFIG = t.path("policy.yaml")
pc.write_config(CONFIG, pc.config_text(DATA, PIN))

server = t.Server("--config", CONFIG, "--listen", "127.0.0.1:0", "--init")
chans = {p: pc.channel(server.port, p) for p in pc.PRINCIPALS}
cli = {p: vc.Client(ch) for p, ch in chans.items()}
CRM, FIN = "spiffe://example.org/crm", "spiffe://example.org/settlement"
ALICE, BOB, SIEM = "officer-alice.example.org", "officer-bob.example.org", "siem.example.org"
REPORTING, BRANCH = "spiffe://example.org/reporting", "spiffe://example.org/branch"
STRANGER = "spiffe://example.org/stranger"
VALUES = {"pan": "4111111111111111", "iban": "DE89370400440532013000", "ssn": "123-45-6789"}
ERASE = {"pan": "4000056655665556", "iban": "GB82WEST12345698765432", "ssn": "219-09-9999"}  # never tokenized


def code_of(fn):
    try:
        fn()
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details()


# ---- set-up tokens (crm may tokenize everywhere) -------------------------
TOKENS = {ns: vc.ok_tokens(cli[CRM].tokenize(ns, [v]))[0] for ns, v in VALUES.items()}
t.check(all(TOKENS[ns] != VALUES[ns] for ns in TOKENS), "crm tokenizes pan, iban and ssn")

# ---- unknown principal ---------------------------------------------------
code, details = code_of(lambda: cli[STRANGER].tokenize("pan", [VALUES["pan"]]))
t.check(code == grpc.StatusCode.PERMISSION_DENIED and "UNKNOWN_PRINCIPAL" in details,
        "an unknown principal (valid certificate) gets PERMISSION_DENIED (%s)" % details)
who = vc.Client(chans[STRANGER]).call("WhoAmI", TV.WhoAmIRequest(), TV.WhoAmIResponse)
t.check(who.principal == STRANGER, "WhoAmI still answers an unknown principal")
who = cli[SIEM].call("WhoAmI", TV.WhoAmIRequest(), TV.WhoAmIResponse)
t.check(who.principal == SIEM and who.identity_source == "cn", "a CN-only certificate names its principal by CN")

# ---- MASKED vs FULL, require_reason --------------------------------------
masked = cli[CRM].detokenize("pan", [TOKENS["pan"]], vc.MASKED).results[0]
t.check(masked.status.code == 0 and masked.value == "411111******1111", "crm gets MASKED: %r" % masked.value)
code, details = code_of(lambda: cli[CRM].detokenize("pan", [TOKENS["pan"]], vc.FULL, reason="x"))
t.check(code == grpc.StatusCode.PERMISSION_DENIED, "crm may not reveal FULL (%s)" % details)
full = cli[FIN].detokenize("pan", [TOKENS["pan"]], vc.FULL, reason="settlement-2026-11-26").results[0]
t.check(full.value == VALUES["pan"], "finance reveals FULL with a reason")
code, details = code_of(lambda: cli[FIN].detokenize("pan", [TOKENS["pan"]], vc.FULL))
t.check(code == grpc.StatusCode.FAILED_PRECONDITION and "REASON_REQUIRED" in details,
        "finance FULL without a reason: FAILED_PRECONDITION (%s)" % details)
t.check(cli[FIN].detokenize("pan", [TOKENS["pan"]], vc.MASKED).results[0].value == "411111******1111",
        "finance MASKED needs no reason")

# ---- streams are checked per message --------------------------------------
dstream = chans[CRM].stream_stream(vc.SVC + "DetokenizeStream", request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=TV.DetokenizeResponse.FromString)
msgs = [TV.DetokenizeRequest(request_id="m1", namespace="pan", tokens=[TOKENS["pan"]], reveal=vc.MASKED),
        TV.DetokenizeRequest(request_id="m2", namespace="pan", tokens=[TOKENS["pan"]], reveal=vc.FULL, reason="x"),
        TV.DetokenizeRequest(request_id="m3", namespace="pan", tokens=[TOKENS["pan"]], reveal=vc.MASKED)]
got = []
try:
    for reply in dstream(iter(msgs), timeout=10):
        got.append((reply.request_id, reply.results[0].value))
    t.fail("a refused stream message must end the stream")
except grpc.RpcError as e:
    t.check(e.code() == grpc.StatusCode.PERMISSION_DENIED and got == [("m1", "411111******1111")],
            "DetokenizeStream: message 1 answered, message 2 (FULL) refused, nothing revealed (%s)" % got)

# ---- items per request (crm: 5) ------------------------------------------
t.check(len(vc.ok_tokens(cli[CRM].tokenize("pan", [VALUES["pan"]] * 5))) == 5, "crm: 5 items pass")
code, details = code_of(lambda: cli[CRM].tokenize("pan", [VALUES["pan"]] * 6))
t.check(code == grpc.StatusCode.RESOURCE_EXHAUSTED and "TOO_MANY_ITEMS" in details,
        "crm: 6 items are RESOURCE_EXHAUSTED (%s)" % details)

# ---- network allowlist ---------------------------------------------------
code, details = code_of(lambda: cli[BRANCH].tokenize("pan", [VALUES["pan"]]))
t.check(code == grpc.StatusCode.PERMISSION_DENIED and "NETWORK" in details,
        "a role allowing only 10.0.0.0/8 is refused from 127.0.0.1 (%s)" % details)
t.check(cli[CRM].tokenize("pan", [VALUES["pan"]]).results[0].status.code == 0,
        "a role allowing 127.0.0.0/8 is served from 127.0.0.1")

# ---- reveals per minute (reporting: 10) ----------------------------------
rep = cli[REPORTING]
t.check(all(r.status.code == 0 for r in rep.detokenize("pan", [TOKENS["pan"]] * 6, vc.MASKED).results),
        "reporting: 6 reveals within the minute pass")
code, details = code_of(lambda: rep.detokenize("pan", [TOKENS["pan"]] * 6, vc.MASKED))
t.check(code == grpc.StatusCode.RESOURCE_EXHAUSTED and "RATE_LIMITED" in details,
        "reporting: 6 more (12 > 10) are RESOURCE_EXHAUSTED (%s)" % details)
t.check(len(rep.detokenize("pan", [TOKENS["pan"]] * 4, vc.MASKED).results) == 4,
        "a refused call consumed nothing: 4 more (10) pass")
code, _ = code_of(lambda: rep.detokenize("pan", [TOKENS["pan"]], vc.NONE))
t.check(code == grpc.StatusCode.RESOURCE_EXHAUSTED, "REVEAL_NONE counts as a reveal too")
alerts = [line for line in pc.audit_lines(DATA) if '"type":"alert"' in line and REPORTING in line]
t.check(alerts and '"alert":"reveal_rate_exceeded"' in alerts[0], "the audit log has the alert entry")
t.check('"limit":10,' in alerts[0], "the alert names the role's real limit, 10 a minute (%s)" % alerts[0])
too_many = [line for line in pc.audit_lines(DATA) if '"alert":"limit_exceeded"' in line and CRM in line]
t.check(too_many and '"limit":5,' in too_many[0], "the items alert names items_per_request 5 (%s)" % too_many[:1])

# ---- the matrix ----------------------------------------------------------
# Written from the role descriptions, not read from the config file.
ALLOW = {
    CRM: {("tokenize", "pan"), ("tokenize", "iban"), ("tokenize", "ssn"),
          ("detokenize:masked", "pan"), ("detokenize:masked", "iban")},
    FIN: {(p, ns) for p in ("detokenize:masked", "detokenize:full") for ns in ("pan", "iban")},
    ALICE: {("keys:read", "*"), ("keys:rotate", "*"), ("keys:approve", "*"), ("delete", "pan")},
    BOB: {("keys:read", "*"), ("keys:rotate", "*"), ("keys:approve", "*"), ("delete", "pan")},
    SIEM: {("audit:read", "*"), ("keys:read", "*")},
    REPORTING: {("detokenize:masked", "pan")},
    BRANCH: set(),  # its tokenize grant never applies from 127.0.0.1
    STRANGER: set(),
}


def allowed(principal, perm, ns):
    grants = ALLOW[principal]
    return (perm, ns) in grants or (perm.startswith("keys:") or perm == "audit:read") and (perm, "*") in grants


def stream_call(ch, method, req, resp_cls):
    fn = ch.stream_stream(vc.SVC + method, request_serializer=lambda m: m.SerializeToString(),
                          response_deserializer=resp_cls.FromString)
    return list(fn(iter([req]), timeout=10))


def read_audit(ch):
    fn = ch.unary_stream(vc.SVC + "ReadAudit", request_serializer=lambda m: m.SerializeToString(),
                         response_deserializer=TV.AuditEntry.FromString)
    return list(fn(TV.ReadAuditRequest(limit=2), timeout=10))


def ns_methods(c, ch, ns):
    tok = TOKENS[ns]
    return [
        ("Tokenize", "tokenize", lambda: c.tokenize(ns, [VALUES[ns]])),
        ("TokenizeStream", "tokenize", lambda: stream_call(
            ch, "TokenizeStream", TV.TokenizeRequest(namespace=ns, values=[VALUES[ns]]), TV.TokenizeResponse)),
        ("Detokenize/MASKED", "detokenize:masked", lambda: c.detokenize(ns, [tok], vc.MASKED)),
        ("Detokenize/NONE", "detokenize:masked", lambda: c.detokenize(ns, [tok], vc.NONE)),
        ("Detokenize/FULL", "detokenize:full", lambda: c.detokenize(ns, [tok], vc.FULL, reason="matrix check")),
        ("DetokenizeStream/MASKED", "detokenize:masked", lambda: stream_call(
            ch, "DetokenizeStream", TV.DetokenizeRequest(namespace=ns, tokens=[tok], reveal=vc.MASKED),
            TV.DetokenizeResponse)),
        ("DetokenizeStream/FULL", "detokenize:full", lambda: stream_call(
            ch, "DetokenizeStream", TV.DetokenizeRequest(namespace=ns, tokens=[tok], reveal=vc.FULL,
                                                         reason="matrix check"), TV.DetokenizeResponse)),
        ("DeleteTokens", "delete", lambda: c.delete(ns, [TOKENS[ns] + "0"])),
        ("EraseValue", "delete", lambda: c.erase(ns, ERASE[ns])),
        ("GetTokenInfo", "detokenize:masked", lambda: c.info(ns, [tok])),
        ("ListKeys", "keys:read", lambda: c.list_keys(ns)),
        ("RotateDataKey", "keys:rotate", lambda: c.rotate(ns)),
    ]


def global_methods(c, ch):
    return [
        ("ListKeys(all)", "keys:read", lambda: c.list_keys("")),
        ("GetRotationStatus", "keys:read", lambda: c.rotation_status()),
        ("ProposeKekRotation", "keys:rotate", lambda: c.propose()),
        ("ApproveKekRotation", "keys:approve", lambda: c.approve("999999")),
        ("VerifyAudit", "audit:read", lambda: c.call("VerifyAudit", TV.VerifyAuditRequest(),
                                                     TV.VerifyAuditResponse)),
        ("ReadAudit", "audit:read", lambda: read_audit(ch)),
    ]


checked, served = 0, {}
for principal in pc.PRINCIPALS:
    c, ch = cli[principal], chans[principal]
    cases = [(name + "@" + ns, perm, ns, fn) for ns in VALUES for name, perm, fn in ns_methods(c, ch, ns)]
    cases += [(name, perm, "*", fn) for name, perm, fn in global_methods(c, ch)]
    for name, perm, ns, fn in cases:
        code, details = code_of(fn)
        want = allowed(principal, perm, ns)
        if want:
            # Served: OK, or an answer of the method itself (an unknown
            # proposal, a rotation already pending), never a policy refusal.
            ok = code in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)
            ok = ok and not details.startswith("POLICY_")
            ok = ok or (principal == REPORTING and "RATE_LIMITED" in details)
            served[code] = served.get(code, 0) + 1
        else:
            ok = code == grpc.StatusCode.PERMISSION_DENIED and "POLICY_" in details
        if not ok:
            t.fail("matrix: %s %s (%s in %s): expected %s, got %s %s" % (
                principal, name, perm, ns, "allowed" if want else "PERMISSION_DENIED", code, details))
        checked += 1
    who = c.call("WhoAmI", TV.WhoAmIRequest(), TV.WhoAmIResponse)
    t.check(who.principal == principal, "matrix: WhoAmI is open to %s" % principal)
t.check(checked == len(pc.PRINCIPALS) * (3 * 12 + 6), "matrix: %d (principal, method, namespace) cases" % checked)
t.check(served.get(grpc.StatusCode.OK, 0) >= 40, "matrix: allowed calls were served (%s)" % served)

# ---- refusals are audited, values never ----------------------------------
lines = pc.audit_lines(DATA)
denied = [line for line in lines if '"outcome":"POLICY_DENIED"' in line and CRM in line
          and '"method":"Detokenize"' in line]
t.check(denied and '"ns":"pan"' in denied[0], "a refusal is audited with principal, method, namespace, outcome")
t.check(any('"outcome":"POLICY_UNKNOWN_PRINCIPAL"' in line and STRANGER in line for line in lines),
        "an unknown principal's refusal is audited")
t.check(not any(v in line for line in lines for v in VALUES.values()), "no value appears in the audit log")

# ---- an unwritable audit log fails data calls ----------------------------
segs = sorted(glob.glob(DATA + "/audit/audit-*.log"))
size = os.path.getsize(segs[-1])
soft, hard = resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE)
resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (size, hard))
code, details = code_of(lambda: cli[FIN].detokenize("pan", [TOKENS["pan"]], vc.FULL, reason="audit log test"))
t.check(code == grpc.StatusCode.UNAVAILABLE, "audit log unwritable: FULL detokenize is UNAVAILABLE (%s)" % details)
code, _ = code_of(lambda: cli[CRM].tokenize("pan", ["5555555555554444"]))
t.check(code == grpc.StatusCode.UNAVAILABLE, "audit log unwritable: tokenize is UNAVAILABLE")
resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))
again = cli[FIN].detokenize("pan", [TOKENS["pan"]], vc.FULL, reason="audit log test").results[0]
t.check(again.value == VALUES["pan"], "once the log is writable again, calls are served")

for ch in chans.values():
    ch.close()
rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")
