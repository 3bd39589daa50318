"""VerifyAudit and ReadAudit over mTLS: the live log verifies; an entry
edited in place is found (first bad seq, status) and the log verifies
again once restored; ReadAudit returns the most recent entries, bounded,
filtered by principal, method and from_seq, with the chain's prev hash,
alert entries included, never a value."""
import glob
import os
import re
import time

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


# ---- from_seq / to_seq ---------------------------------------------------------
# The whole chain is always walked (a range rests on every line before it);
# the answer speaks for the range.
def verify_range(lo, hi):
    return siem.call("VerifyAudit", TV.VerifyAuditRequest(from_seq=lo, to_seq=hi), TV.VerifyAuditResponse)


r = verify_range(mine[0].seq, mine[-1].seq)
t.check(r.intact and r.entries_checked == mine[-1].seq - mine[0].seq + 1,
        "a range of the intact log: intact, only its %d entries counted" % r.entries_checked)
for lo, hi, what in ((5, 2, "is after to_seq"), (10 ** 12, 0, "is past the log's last entry")):
    try:
        verify_range(lo, hi)
        t.fail("range %d..%d accepted" % (lo, hi))
    except grpc.RpcError as e:
        t.check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and what in e.details(),
                "range %d..%d refused: %s" % (lo, hi, e.details()))
def call_after_checkpoint():
    """A call entry written after the last checkpoint: (seqs, sealed, after),
    or None when a checkpoint (every 2 s) already sealed it too."""
    crm.detokenize("pan", tokens[:1], vc.MASKED)
    lines = open(seg, encoding="utf-8").read().split("\n")
    seqs = [(int(re.match(r'\{"seq":(\d+),', ln).group(1)), ln) for ln in lines if ln]
    sealed = max(q for q, ln in seqs if '"type":"checkpoint"' in ln)
    after = next((q for q, ln in seqs if q > sealed and '"type":"call"' in ln), None)
    return (seqs, sealed, after) if after is not None else None


time.sleep(2.5)  # the audit config checkpoints every 2 s: seal what is there
found = None
for _ in range(10):  # on a loaded machine a checkpoint can land between the call and the read
    found = call_after_checkpoint()
    if found is not None:
        break
t.check(found is not None, "a call entry after the last checkpoint (10 tries)")
seqs, sealed, after = found
with open(seg, "rb") as f:
    current = f.read()
line = next(ln for q, ln in seqs if q == after).encode()
at = current.index(line) + line.index(b'"latency_us":') + len(b'"latency_us":')
digit = current[at:at + 1]
with open(seg, "r+b") as f:  # in place, same length: the writer only appends
    f.seek(at)
    f.write(b"1" if digit != b"1" else b"2")
r = verify_range(2, sealed)
t.check(r.intact and r.first_bad_seq == 0 and ("at seq %d" % after) in r.status.message,
        "2..%d sealed before the edit at %d: intact, the later problem named (%s)" % (sealed, after, r.status.message))
r = verify_range(2, after)
t.check(not r.intact and r.first_bad_seq == after, "a range reaching the edited entry is not intact")
r = verify_range(after + 1, 0)
t.check(not r.intact and r.first_bad_seq == after and r.status.name == "AUDIT_ENTRY_ALTERED",
        "a range after the edit is not intact either: its chain runs through it")
with open(seg, "r+b") as f:
    f.seek(at)
    f.write(digit)
t.check(verify().intact, "restored again: intact")

try:
    crm.call("VerifyAudit", TV.VerifyAuditRequest(), TV.VerifyAuditResponse)
    t.fail("crm may not verify the audit log")
except grpc.RpcError as e:
    t.check(e.code() == grpc.StatusCode.PERMISSION_DENIED, "VerifyAudit needs audit:read")

rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")
