"""Calls the server refuses before any handler runs are audited too
(vault/service/refusal_audit.h): random bytes sent as a Tokenize request
get INVALID_ARGUMENT and an audit line naming the caller, the peer, the
method and the code (never the payload); a flood of garbage is answered,
the server stays responsive, and every refusal is either in the log or
counted as dropped in the daemon's log; `tokenvault audit verify` still
finds the log intact and counts exactly those lines. Also `tokenvault
audit remote-verify` against the running --dev server."""
import concurrent.futures
import os
import re
import subprocess
import time

import grpc

import tvtest as t
import vaultclient as vc

CLI = os.environ.get("TOKENVAULT_CLI", "")
DATA = t.path("var-refusal-audit")
TV = vc.TV
TOKENIZE = vc.SVC + "Tokenize"
MARK = b"\xff" + b"REFUSAL-PAYLOAD-MARK" + os.urandom(40)  # 0xff: an over-long varint key
FLOOD = 600

server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA)
calls = 0  # audit lines expected
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    raw = t.unary(ch, TOKENIZE)
    t.expect_rpc_error(lambda to: raw(MARK, timeout=to), grpc.StatusCode.INVALID_ARGUMENT, 5, "random bytes")
    calls += 1

    def read(**kw):
        fn = ch.unary_stream(vc.SVC + "ReadAudit", request_serializer=lambda m: m.SerializeToString(),
                             response_deserializer=TV.AuditEntry.FromString)
        return list(fn(TV.ReadAuditRequest(**kw), timeout=10))

    # The refusal's line is written in the background: it may follow the
    # answer by an fsync, so look until it shows (bounded).
    entry = None
    for _ in range(50):
        mine = [e for e in read(limit=20) if e.method == "Tokenize"]
        if mine:
            entry = mine[-1]
            break
        calls += 1  # that ReadAudit is audited too
        time.sleep(0.1)
    calls += 1  # the successful ReadAudit
    t.check(entry is not None, "the refused Tokenize is in ReadAudit")
    t.check(entry.outcome.name == "INVALID_ARGUMENT" and entry.outcome.code == grpc.StatusCode.INVALID_ARGUMENT.value[0],
            "its outcome is INVALID_ARGUMENT (got %s/%d)" % (entry.outcome.name, entry.outcome.code))
    t.check(entry.principal == "dev:local" and entry.peer.startswith("ipv4:127.0.0.1:"),
            "it names the caller and peer (%r, %r)" % (entry.principal, entry.peer))

    # A flood of garbage from 8 threads: every call answered, none hangs.
    def garbage(i):
        try:
            raw(os.urandom(1) + b"\xff" * 20, timeout=10)
            return "OK?"
        except grpc.RpcError as e:
            return e.code().name

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(garbage, range(FLOOD)))
    t.check(all(x == "INVALID_ARGUMENT" for x in codes),
            "every garbage call is refused INVALID_ARGUMENT (%s)" % sorted(set(codes)))
    calls += FLOOD
    tok = vc.ok_tokens(c.tokenize("pan", ["4111111111111111"]))
    calls += 1
    t.check(len(tok) == 1, "the server still serves after the flood")

    # `tokenvault audit remote-verify`: the server verifies its live log,
    # refusal lines included (each run is an audited VerifyAudit call).
    def remote(*args):
        p = subprocess.run([CLI, "audit", "remote-verify", "--dev", "--target", "127.0.0.1:%d" % server.port,
                            *args], capture_output=True, timeout=30)
        return p.returncode, p.stdout.decode() + p.stderr.decode()

    time.sleep(0.5)  # let the flood's lines reach the log (no check depends on it)
    rc, out = remote()
    calls += 1
    t.check(rc == 0 and "intact" in out and "NOT" not in out, "audit remote-verify: intact (%s)" % out.strip())
    rc, out = remote("2", "5")
    calls += 1
    t.check(rc == 0 and "entries checked 4" in out, "audit remote-verify 2 5: a range of 4 entries (%s)" % out.strip())
    rc, out = remote("12x")
    t.check(rc == 2, "audit remote-verify with a bad sequence number: usage error (%d: %s)" % (rc, out.strip()))
    rc, out = remote("9", "3")
    calls += 1
    t.check(rc == 2 and "INVALID_ARGUMENT" in out, "audit remote-verify 9 3: refused by the server, bad input (%d: %s)"
            % (rc, out.strip()))
rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")

lost = 0
for ln in server.lines():
    if ln.get("event") == "refusal_audit_lost":  # running totals: the last one counts
        lost = ln["dropped_total"] + ln["audit_failed_total"]
print("refusals dropped under the flood: %d of %d" % (lost, FLOOD))

hsm = os.path.join(DATA, "hsm")
env = dict(os.environ, SOFTHSM2_CONF=os.path.join(hsm, "softhsm2.conf"))
segs = sorted(os.path.join(DATA, "audit", f) for f in os.listdir(os.path.join(DATA, "audit")) if f.endswith(".log"))
p = subprocess.run([CLI, "audit", "verify", "--token-label", "tokenvault-dev", "--pin-file",
                    os.path.join(hsm, "user.pin"), *segs], capture_output=True, timeout=30, env=env)
out = p.stdout.decode()
t.check(p.returncode == 0 and ": intact" in out, "tokenvault audit verify: intact (%s)" % out.strip())
m = re.search(r"calls (\d+)", out)
t.check(m is not None and int(m.group(1)) == calls - lost,
        "audit has one line per call, less those dropped (%s vs %d - %d)" % (m and m.group(1), calls, lost))
text = b"".join(open(s, "rb").read() for s in segs)
t.check(b"REFUSAL-PAYLOAD-MARK" not in text, "no payload of a refused call in the audit log")
t.check(text.count(b"INVALID_ARGUMENT") >= FLOOD + 1 - lost, "the refusals' lines carry their code")
print("PASS")
