"""tokenvaultd --dev with the real engine: tokenize / detokenize at every
reveal level, per-item statuses, IBAN and SSN, convergence, delete, erase,
token info, unknown namespace, restart on the same data directory, and
the audit log checked with `tokenvault audit verify` afterwards."""
import os
import re
import subprocess

import grpc

import tvtest as t
import vaultclient as vc

CLI = os.environ.get("TOKENVAULT_CLI", "")
DATA = t.path("var-vault")
PANS = ["4111111111111111", "5555555555554444", "4012 8888 8888 1881", "6011111111111117",
        "5105105105105100"]

server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA)
calls = 0
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    # WhoAmI names the principal the policy authorises a plaintext caller
    # by, unauthenticated: no handshake proved it. Audited like every call.
    me = c.call("WhoAmI", vc.TV.WhoAmIRequest(request_id="w"), vc.TV.WhoAmIResponse)
    calls += 1
    t.check(me.principal == "dev:local" and not me.authenticated and me.transport_security == "insecure",
            "--dev: WhoAmI reports dev:local, unauthenticated, insecure (got %r)" % me.principal)
    t.check(list(me.roles) != [], "--dev: WhoAmI names dev:local's roles (%s)" % list(me.roles))
    resp = c.tokenize("pan", PANS, request_id="batch-1")
    calls += 1
    t.check(resp.request_id == "batch-1", "request_id echoed")
    tokens = vc.ok_tokens(resp)
    for v, tok in zip(PANS, tokens):
        t.check(len(tok) == len(v) and tok != v, "PAN token %s has the value's shape" % tok)
        t.check(tok[:7] == v[:7] if " " in v else tok[:6] == v[:6], "first 6 digits kept (%s)" % tok)
        t.check(tok[-4:] == v[-4:], "last 4 digits kept (%s)" % tok)
        t.check([i for i, ch_ in enumerate(v) if ch_ == " "] == [i for i, ch_ in enumerate(tok) if ch_ == " "],
                "separators kept in place (%s)" % tok)
        t.check(not vc.luhn_ok(tok.replace(" ", "")), "token %s fails Luhn (cannot pass as a card)" % tok)

    full = c.detokenize("pan", tokens, vc.FULL, reason="chargeback 123")
    calls += 1
    t.check([r.value for r in full.results] == PANS, "FULL reveal gives back every original value")
    t.check(all(r.status.name == "OK" for r in full.results), "FULL: every item OK")
    masked = c.detokenize("pan", tokens[:1], vc.MASKED)
    calls += 1
    t.check(masked.results[0].value == "411111******1111", "MASKED reveal: %r" % masked.results[0].value)
    none = c.detokenize("pan", tokens, vc.NONE)
    calls += 1
    t.check(all(r.value == "" and r.status.code == 0 for r in none.results), "NONE: empty values, OK statuses")

    mixed = c.tokenize("pan", ["4111111111111111", "4111111111111112", "41111111111x1111", "1234", "5555555555554444"])
    calls += 1
    names = [r.status.name for r in mixed.results]
    t.check(names[0] == "OK" and names[4] == "OK", "good items of a mixed batch succeed (%s)" % names)
    t.check(names[1] == "FORMAT_LUHN", "bad check digit -> FORMAT_LUHN (%s)" % names[1])
    t.check(names[2].startswith("FORMAT_") and names[3].startswith("FORMAT_"), "malformed -> FORMAT_* (%s)" % names)
    t.check(mixed.results[1].token == "" and mixed.results[1].status.code != 0, "failed item has no token")
    t.check("Luhn" in mixed.results[1].status.message, "item message explains (%r)" % mixed.results[1].status.message)
    t.check(mixed.results[0].token == tokens[0] and mixed.results[4].token == tokens[1],
            "convergent: the same value gets the same token")

    for ns, vals in (("iban", ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"]),
                     ("ssn", ["123-45-6789", "078051120"][:1] + ["219-09-9999"])):
        r = c.tokenize(ns, vals)
        calls += 1
        toks = vc.ok_tokens(r)
        t.check(all(a != b and len(a) == len(b) for a, b in zip(toks, vals)), "%s tokens keep the shape %s" % (ns, toks))
        back = c.detokenize(ns, toks, vc.FULL, reason="test")
        calls += 1
        t.check([x.value for x in back.results] == vals, "%s round trip" % ns)
        t.check(vc.ok_tokens(c.tokenize(ns, vals[:1]))[0] == toks[0], "%s convergent" % ns)
        calls += 1

    unknown = c.detokenize("pan", ["4111119999991111"], vc.FULL, reason="x")
    calls += 1
    t.check(unknown.results[0].status.name == "ENGINE_NOT_FOUND", "unknown token -> ENGINE_NOT_FOUND item status")

    err, _ = t.expect_rpc_error(lambda to: c.tokenize("nonexistent", ["1"]), grpc.StatusCode.NOT_FOUND, 5,
                                "unknown namespace fails the call")
    calls += 1
    t.check("nonexistent" in err.details(), "the message names the namespace (%r)" % err.details())

    info = c.info("pan", tokens[:1] + ["4111119999991111"])
    calls += 1
    t.check(info.results[0].status.code == 0 and info.results[0].key_version == 1, "token info: live, key version 1")
    t.check(info.results[0].created_at_unix_ms > 1_600_000_000_000, "token info: creation time")
    t.check(info.results[1].status.name == "ENGINE_NOT_FOUND", "token info of an unknown token")
    meta = c.tokenize("bank_account", ["12345678901"], ttl_seconds=3600, metadata={"source": "crm"})
    calls += 1
    mtok = vc.ok_tokens(meta)[0]
    minfo = c.info("bank_account", [mtok])
    calls += 1
    t.check(dict(minfo.results[0].metadata) == {"source": "crm"}, "metadata stored and returned")
    t.check(minfo.results[0].expires_at_unix_ms > minfo.results[0].created_at_unix_ms, "TTL sets an expiry")

    d = c.delete("pan", [tokens[2], "4111119999991111"])
    calls += 1
    t.check(d.results[0].code == 0, "delete a live token: OK")
    t.check(d.results[1].name == "ENGINE_NOT_FOUND", "delete an unknown token: ENGINE_NOT_FOUND")
    after = c.detokenize("pan", [tokens[2], tokens[0]], vc.FULL, reason="x")
    calls += 1
    t.check(after.results[0].status.name == "ENGINE_DELETED" and after.results[0].value == "",
            "deleted token -> ENGINE_DELETED, no value")
    t.check(after.results[1].value == PANS[0], "other tokens unaffected by the delete")

    er = c.erase("pan", "5555555555554444")
    calls += 1
    t.check(er.tokens_erased == 1, "erase removes the value's token (%d)" % er.tokens_erased)
    gone = c.detokenize("pan", [tokens[1]], vc.FULL, reason="x")
    calls += 1
    t.check(gone.results[0].status.name == "ENGINE_DELETED", "erased value's token -> ENGINE_DELETED")

    # Streams: one reply per request message, in order, each audited.
    tstream = ch.stream_stream(vc.SVC + "TokenizeStream", request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=vc.TV.TokenizeResponse.FromString)
    batches = [["4111111111111111"], ["4000056655665556", "4111111111111112"], ["5200828282828210"]]
    replies = list(tstream(iter(vc.TV.TokenizeRequest(request_id="s%d" % i, namespace="pan", values=b)
                                for i, b in enumerate(batches)), timeout=10))
    calls += len(batches)
    t.check([r.request_id for r in replies] == ["s0", "s1", "s2"], "TokenizeStream: one reply per message")
    t.check(replies[0].results[0].token == tokens[0], "TokenizeStream converges with Tokenize")
    t.check([r.status.name for r in replies[1].results] == ["OK", "FORMAT_LUHN"], "TokenizeStream: per-item statuses")
    dstream = ch.stream_stream(vc.SVC + "DetokenizeStream", request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=vc.TV.DetokenizeResponse.FromString)
    dreplies = list(dstream(iter([vc.TV.DetokenizeRequest(namespace="pan", tokens=[replies[1].results[0].token],
                                                          reveal=vc.FULL, reason="stream"),
                                  vc.TV.DetokenizeRequest(namespace="pan", tokens=[replies[2].results[0].token],
                                                          reveal=vc.MASKED)]), timeout=10))
    calls += 2
    t.check([r.results[0].value for r in dreplies] == ["4000056655665556", "520082******8210"],
            "DetokenizeStream: FULL then MASKED")
    err, _ = t.expect_rpc_error(
        lambda to: list(dstream(iter([vc.TV.DetokenizeRequest(namespace="zz", tokens=["1"], reveal=vc.NONE)]),
                                timeout=to)), grpc.StatusCode.NOT_FOUND, 10, "stream message with unknown namespace")
    calls += 1

rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0 after draining and closing the vault")

# (b) restart on the same data directory: the same tokens still resolve.
server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    again = c.detokenize("pan", [tokens[0], tokens[3], tokens[4], tokens[2]], vc.FULL, reason="after restart")
    calls += 1
    t.check([r.value for r in again.results[:3]] == [PANS[0], PANS[3], PANS[4]], "after restart: tokens still resolve")
    t.check(again.results[3].status.name == "ENGINE_DELETED", "after restart: deleted stays deleted")
    t.check(vc.ok_tokens(c.tokenize("pan", [PANS[4]]))[0] == tokens[4], "after restart: convergence kept")
    calls += 1
rc, _ = server.terminate(20)
t.check(rc == 0, "second SIGTERM exits 0")

# (f) the audit log: intact, sealed by the dev token's MAC key, one line per call.
hsm = os.path.join(DATA, "hsm")
env = dict(os.environ, SOFTHSM2_CONF=os.path.join(hsm, "softhsm2.conf"))
segs = sorted(os.path.join(DATA, "audit", f) for f in os.listdir(os.path.join(DATA, "audit")) if f.endswith(".log"))
p = subprocess.run([CLI, "audit", "verify", "--token-label", "tokenvault-dev", "--pin-file",
                    os.path.join(hsm, "user.pin"), *segs], capture_output=True, timeout=30, env=env)
out = p.stdout.decode()
t.check(p.returncode == 0 and ": intact" in out, "tokenvault audit verify: intact (%s)" % out.strip())
m = re.search(r"calls (\d+)", out)
t.check(m is not None and int(m.group(1)) == calls, "audit counts every call (%s vs %d)" % (m and m.group(1), calls))
t.check("sealed: every checkpoint MAC verified" in out, "checkpoints verified by the HSM")
text = b"".join(open(s, "rb").read() for s in segs)
t.check(b"4111111111111111" not in text and tokens[0].encode() not in text, "no value or token in the audit log")
t.check(b"chargeback 123" in text and b"Detokenize" in text, "full reveal's reason and method audited")

# (g) the token directory gone (a botched restore): the start names the
# token, the directory and the SoftHSM2 configuration, not "the module
# could not be loaded (CKR_GENERAL_ERROR)"; back in place, the vault opens.
tokens = os.path.join(hsm, "tokens")
os.rename(tokens, tokens + ".away")
p = subprocess.run([t.SERVER, "--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA], capture_output=True,
                   timeout=60)
err = p.stderr.decode()
os.rename(tokens + ".away", tokens)
t.check(p.returncode == 1 and "HSM_TOKEN_NOT_FOUND" in err and "'tokenvault-dev'" in err and tokens in err
        and os.path.join(hsm, "softhsm2.conf") in err and "CKR_GENERAL_ERROR" not in err,
        "a missing token directory is named at start (%s)" % err.strip())
server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA)
rc, _ = server.terminate(30)
t.check(rc == 0, "with the directory back the vault starts again")
