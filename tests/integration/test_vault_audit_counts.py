"""The audit log answers "how many full card numbers did X see": a data
call's entry carries the reveal level, the items asked (items), answered
OK (ok) and failed by reason class (failed), and the caller's reason at
every reveal level; ReadAudit returns the same, `tokenvault audit tail`
shows it. WhoAmI is audited and answers the principal's roles."""
import glob
import json
import os
import subprocess

import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

TV = vc.TV
DATA = t.path("var-audit-counts")
PIN = pc.make_hsm()
pc.make_pki()
CONFIG = t.path("audit-counts.yaml")
pc.write_config(CONFIG, pc.config_text(DATA, PIN))
CRM, FINANCE, SIEM = "spiffe://example.org/crm", "spiffe://example.org/settlement", "siem.example.org"
PAN = "4111111111111111"

server = t.Server("--config", CONFIG, "--listen", "127.0.0.1:0", "--init")
crm = vc.Client(pc.channel(server.port, CRM))
fin = vc.Client(pc.channel(server.port, FINANCE))
siem = vc.Client(pc.channel(server.port, SIEM))

good = vc.ok_tokens(crm.tokenize("pan", [PAN], request_id="tok-1"))[0]
# Same kept digits, another middle: a well-formed token the vault never issued.
missing = next(good[:6] + m + good[-4:] for m in ("%06d" % i for i in range(1000000))
               if good[:6] + m + good[-4:] != good and vc.luhn_ok(good[:6] + m + good[-4:]))
full = fin.call("Detokenize", TV.DetokenizeRequest(namespace="pan", tokens=[missing, good], reveal=vc.FULL,
                                                    reason="chargeback 77", request_id="full-1"),
                TV.DetokenizeResponse)
t.check([r.status.name for r in full.results] == ["ENGINE_NOT_FOUND", "OK"],
        "FULL: the unknown token is NOT_FOUND, the good one answered (%s)" % [r.status.name for r in full.results])
fin.call("Detokenize", TV.DetokenizeRequest(namespace="pan", tokens=[good], reveal=vc.MASKED, reason="customer call",
                                            request_id="masked-1"), TV.DetokenizeResponse)
me = t.unary(fin.ch, vc.SVC + "WhoAmI", TV.WhoAmIRequest, TV.WhoAmIResponse)(TV.WhoAmIRequest(request_id="who-1"),
                                                                             timeout=10)
t.check(me.principal == FINANCE and list(me.roles) == ["finance"], "WhoAmI names the roles (%s)" % list(me.roles))
me = t.unary(siem.ch, vc.SVC + "WhoAmI", TV.WhoAmIRequest, TV.WhoAmIResponse)(TV.WhoAmIRequest(), timeout=10)
t.check(list(me.roles) == ["auditor"], "the auditor's roles too (%s)" % list(me.roles))


def read_audit(**kw):
    fn = siem.ch.unary_stream(vc.SVC + "ReadAudit", request_serializer=lambda m: m.SerializeToString(),
                              response_deserializer=TV.AuditEntry.FromString)
    return list(fn(TV.ReadAuditRequest(**kw), timeout=10))


def by_request(entries, rid):
    found = [e for e in entries if e.request_id == rid]
    t.check(len(found) == 1, "one ReadAudit entry for %s (%d)" % (rid, len(found)))
    return found[0]


entries = read_audit(limit=1000)
e = by_request(entries, "full-1")
t.check(e.counted and e.reveal == "FULL" and e.items == 2 and e.items_ok == 1, "ReadAudit: FULL, asked 2, ok 1")
t.check([(f.reason_class, f.count) for f in e.failed] == [("not_found", 1)], "ReadAudit: one failed, not_found")
t.check(e.reason == "chargeback 77", "ReadAudit: the FULL reason (%r)" % e.reason)
e = by_request(entries, "masked-1")
t.check(e.reveal == "MASKED" and e.items == 1 and e.items_ok == 1 and len(e.failed) == 0,
        "ReadAudit: MASKED, asked 1, ok 1, nothing failed")
t.check(e.reason == "customer call", "ReadAudit: the MASKED call's reason is kept (%r)" % e.reason)
e = by_request(entries, "tok-1")
t.check(e.counted and e.reveal == "" and e.items_ok == 1, "ReadAudit: Tokenize is counted, no reveal level")
who = [x for x in entries if x.method == "WhoAmI"]
t.check(len(who) == 2 and who[0].principal == FINANCE and who[0].request_id == "who-1" and not who[0].counted,
        "ReadAudit: WhoAmI calls are in the log (%d)" % len(who))

# The files say the same.
lines = [json.loads(x) for x in pc.audit_lines(DATA)]
row = next(x for x in lines if x.get("request_id") == "full-1")
t.check(row["reveal"] == "FULL" and row["items"] == 2 and row["ok"] == 1 and row["failed"] == "not_found:1"
        and row["purpose"] == "chargeback 77", "log file: %s" % {k: row[k] for k in ("reveal", "items", "ok", "failed")})
row = next(x for x in lines if x.get("request_id") == "masked-1")
t.check(row["reveal"] == "MASKED" and row["ok"] == 1 and row["failed"] == "" and row["purpose"] == "customer call",
        "log file: the MASKED entry with its reason")
t.check(any(x.get("method") == "WhoAmI" and x.get("principal") == FINANCE for x in lines), "log file: WhoAmI")

# A refused call counts its items as failed with the policy class.
try:
    crm.detokenize("pan", [good], vc.FULL, reason="no right")
    t.fail("crm may not reveal in full")
except Exception:
    pass
row = [json.loads(x) for x in pc.audit_lines(DATA)][-1]
t.check(row["method"] == "Detokenize" and row["ok"] == 0 and row["failed"] == "policy:1" and row["reveal"] == "FULL",
        "a refused reveal: ok 0, failed policy:1 (%s)" % row.get("failed"))

rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")
segs = sorted(glob.glob(os.path.join(DATA, "audit", "audit-*.log")))
p = subprocess.run([pc.CLI, "audit", "tail", "-n", "1000"] + segs, capture_output=True, timeout=60, text=True)
t.check(p.returncode == 0 and '"reveal":"FULL","ok":1,"failed":"not_found:1"' in p.stdout,
        "tokenvault audit tail shows the level and counts")
p = subprocess.run([pc.CLI, "audit", "verify", "--token-label", "tokenvault-dev", "--pin-file", PIN] + segs,
                   capture_output=True, timeout=60, text=True)
t.check(p.returncode == 0 and "intact" in p.stdout, "the log with the new fields verifies (%s)" % p.stdout.strip())
