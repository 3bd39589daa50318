"""VerifyAudit and ReadAudit over mTLS: the live log verifies; an entry
edited in place is found (first bad seq, status) and the log verifies
again once restored; ReadAudit returns the most recent entries, bounded,
filtered by principal, method and from_seq, with the chain's prev hash,
alert entries included, never a value."""
import glob
import os

import grpc

import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

TV = vc.TV
DATA = t.path("var-audit-rpc")
PIN = pc.make_hsm()
pc.make_pki()
CONFIG = t.path("audit-rpc.yaml")
pc.write_config(CONFIG, pc.config_text(DATA, PIN))
CRM, SIEM, REPORTING = "spiffe://example.org/crm", "siem.example.org", "spiffe://example.org/reporting"
PAN = "4111111111111111"

server = t.Server("--config", CONFIG, "--listen", "127.0.0.1:0", "--init")
crm = vc.Client(pc.channel(server.port, CRM))
siem = vc.Client(pc.channel(server.port, SIEM))
rep = vc.Client(pc.channel(server.port, REPORTING))


def verify():
    return siem.call("VerifyAudit", TV.VerifyAuditRequest(request_id="v"), TV.VerifyAuditResponse)


def read(**kw):
    fn = siem.ch.unary_stream(vc.SVC + "ReadAudit", request_serializer=lambda m: m.SerializeToString(),
                              response_deserializer=TV.AuditEntry.FromString)
    return list(fn(TV.ReadAuditRequest(**kw), timeout=10))


tokens = vc.ok_tokens(crm.tokenize("pan", [PAN, "5555555555554444"], request_id="tok-1"))
for i in range(3):
    crm.detokenize("pan", tokens, vc.MASKED)
try:
    rep.detokenize("pan", tokens * 6, vc.MASKED)  # 12 > 10 a minute: refused, alert
except grpc.RpcError as e:
    t.check(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, "reporting over its reveal limit")

v = verify()
t.check(v.intact and v.first_bad_seq == 0 and v.status.name == "OK", "VerifyAudit: the live log is intact")
t.check(v.entries_checked >= 6, "VerifyAudit walked every entry (%d)" % v.entries_checked)

# ---- ReadAudit -------------------------------------------------------------
last3 = read(limit=3)
t.check(len(last3) == 3 and [e.seq for e in last3] == sorted(e.seq for e in last3),
        "limit=3: three entries, oldest first")
everything = read(limit=1000)
# Each read is itself audited after it collected: the last entry of
# |everything| is the limit=3 read.
t.check([e.seq for e in last3] == [e.seq for e in everything[-4:-1]] and everything[-1].method == "ReadAudit",
        "limit keeps the most recent entries")
mine = read(principal=CRM, limit=1000)
t.check(len(mine) == 4 and {e.principal for e in mine} == {CRM}, "principal filter: crm's 4 calls")
t.check([e.method for e in mine] == ["Tokenize", "Detokenize", "Detokenize", "Detokenize"], "methods in order")
t.check(mine[0].request_id == "tok-1" and mine[0].items == 2 and mine[0].namespace == "pan"
        and mine[0].outcome.name == "OK" and mine[0].peer.startswith("ipv4:127.0.0.1:"),
        "an entry carries request id, items, namespace, outcome and peer")
t.check(all(len(e.prev_hash) == 32 for e in mine), "each entry carries the 32-byte hash of the one before")
dets = read(method="Detokenize", principal=CRM, limit=2)
t.check(len(dets) == 2 and dets[-1].seq == mine[-1].seq, "method filter with a limit: the last two")
since = read(from_seq=mine[1].seq, principal=CRM, limit=2)
t.check([e.seq for e in since] == [mine[1].seq, mine[2].seq], "from_seq: the first entries from there on")
alerts = [e for e in read(principal=REPORTING, limit=50) if e.outcome.name == "reveal_rate_exceeded"]
t.check(len(alerts) == 1 and alerts[0].method == "Detokenize" and "RATE_LIMITED" in alerts[0].outcome.message,
        "the reveal-rate alert is readable")
t.check(not any(PAN in str(e) or tokens[0] in str(e) for e in everything), "no value or token in any entry")
t.check(read(principal="nobody") == [], "a filter matching nothing streams nothing")

# ---- the default bound -------------------------------------------------------
for i in range(110):  # refused calls are audited too
    try:
        crm.rotation_status()
    except grpc.RpcError:
        pass
t.check(len(read()) == 100, "limit 0: the default bound, 100 entries")
t.check(len(read(limit=5000)) > 110, "a large limit returns them all (bounded at 1000)")

# ---- tampering found, then restored -------------------------------------------
seg = sorted(glob.glob(os.path.join(DATA, "audit", "audit-*.log")))[0]
with open(seg, "rb") as f:
    original = f.read()
target = b'"request_id":"tok-1"'
at = original.index(target)
with open(seg, "r+b") as f:  # the writer only appends: an in-place edit is left alone
    f.seek(at)
    f.write(b'"request_id":"tok-9"')
bad = verify()
t.check(not bad.intact and bad.status.name == "AUDIT_ENTRY_ALTERED" and bad.first_bad_seq == mine[0].seq,
        "an edited entry is found: seq %d, %s (%s)" % (bad.first_bad_seq, bad.status.name, bad.status.message))
with open(seg, "r+b") as f:
    f.seek(at)
    f.write(target)
t.check(verify().intact, "restored: intact again")

try:
    crm.call("VerifyAudit", TV.VerifyAuditRequest(), TV.VerifyAuditResponse)
    t.fail("crm may not verify the audit log")
except grpc.RpcError as e:
    t.check(e.code() == grpc.StatusCode.PERMISSION_DENIED, "VerifyAudit needs audit:read")

rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")
