"""The HTTP/JSON API over HTTPS with client certificates (issue 12 point
1): tokenvaultd with the gRPC port's certificate, key and client CA serves
--http-listen as HTTPS; a client certificate names the same principal as
over gRPC (WhoAmI on both), authorisation follows that principal's roles
(CRM refused a full reveal: 403 POLICY_DENIED), and a request without a
client certificate, or with one from another CA, is refused 401
CLIENT_CERTIFICATE. SIGHUP replaces the HTTPS listener's certificate and
client CA as the gRPC port's: new connections get the new certificate,
the new CA's clients are accepted and the old CA's refused, an open
connection keeps working, a bad key is refused and the last good
certificate stays. The server key never reaches the log."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import grpc

import http_api as h
import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

TV = vc.TV
DATA = t.path("var-http-mtls")
PIN = pc.make_hsm()
pc.make_pki()
t.make_ca("other-ca")
t.make_cert("other-ca", "intruder", "x", "URI:spiffe://example.org/crm")  # a known name, the wrong CA
t.make_cert("ca", "cn-ip", "siem.example.org", "IP:127.0.0.1")  # SANs but no URI/DNS: no principal
CONFIG = t.path("http-mtls.yaml")
pc.write_config(CONFIG, pc.config_text(DATA, PIN))
CRM = "spiffe://example.org/crm"
FINANCE = "spiffe://example.org/settlement"
PAN = "4111111111111111"

server = t.Server("--config", CONFIG, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--init",
                  "--metrics-listen", "")
PORT = h.http_port(server)
t.check(any(line.get("event") == "http_listening" and line.get("mode") == "mtls" for line in server.lines()),
        "the HTTP listener says it is mTLS")


def context(client=None, root="ca"):
    ctx = ssl.create_default_context(cafile=t.path(root + ".crt"))
    ctx.check_hostname = False  # the server certificate names localhost/127.0.0.1; the CA is what matters
    if client is not None:
        ctx.load_cert_chain(t.path(client + ".crt"), t.path(client + ".key"))
    return ctx


def call(client, path, body):
    """POST |body| over HTTPS with |client|'s certificate; (status, content type, JSON)."""
    conn = http.client.HTTPSConnection("127.0.0.1", PORT, timeout=h.TIMEOUT_S, context=context(client))
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), json.loads(resp.read())
    finally:
        conn.close()


def grpc_whoami(client):
    with t.secure_channel(server.port, client) as ch:
        return t.unary(ch, vc.SVC + "WhoAmI", TV.WhoAmIRequest, TV.WhoAmIResponse)(TV.WhoAmIRequest(), timeout=10)


# The same principal over both transports, whichever name kind it comes from.
for client, principal, source in (("crm", CRM, "san_uri"), ("alice", "officer-alice.example.org", "san_dns"),
                                  ("auditor", "siem.example.org", "cn")):
    status, _, who = call(client, "/v1/whoami", {})
    g = grpc_whoami(client)
    t.check(status == 200 and who.get("principal") == principal == g.principal and who.get("authenticated") is True
            and who.get("identity_source") == source == g.identity_source and who.get("transport_security") == "tls",
            "%s: HTTP and gRPC WhoAmI name %s by %s (%s / %s)" % (client, principal, source, who, g))

# A verified certificate that names no principal: refused by the same rule.
status, _, who = call("cn-ip", "/v1/whoami", {})
g = grpc_whoami("cn-ip")
t.check(status == 200 and who.get("principal", "") == "" == g.principal and who.get("identity_source") == "refused"
        and g.identity_source == "refused", "IP-only SAN: no principal on either transport (%s)" % who)
status, ctype, problem = call("cn-ip", "/v1/tokenize", {"namespace": "pan", "values": [PAN]})
t.check(status == 401 and problem.get("name") == "UNAUTHENTICATED" and "RFC 6125" in problem.get("detail", ""),
        "IP-only SAN: tokenize refused 401 with the reason (%d %s)" % (status, problem))

# Authorisation follows the certificate's principal.
status, _, out = call("crm", "/v1/tokenize", {"namespace": "pan", "values": [PAN]})
t.check(status == 200 and out["results"][0].get("token"), "CRM tokenizes over HTTPS (%d %s)" % (status, out))
token = out["results"][0]["token"]
with t.secure_channel(server.port, "crm") as ch:
    t.check(vc.ok_tokens(vc.Client(ch).tokenize("pan", [PAN])) == [token], "the same token over gRPC")
status, ctype, problem = call("crm", "/v1/detokenize", {"namespace": "pan", "tokens": [token],
                                                        "reveal": "REVEAL_FULL", "reason": "r"})
t.check(status == 403 and ctype == "application/problem+json" and problem.get("name") == "POLICY_DENIED",
        "CRM refused a full reveal: 403 POLICY_DENIED (%d %s)" % (status, problem))
status, _, out = call("crm", "/v1/detokenize", {"namespace": "pan", "tokens": [token], "reveal": "REVEAL_MASKED"})
t.check(status == 200 and out["results"][0].get("value") != PAN, "CRM gets the masked value (%s)" % out)
status, _, out = call("finance", "/v1/detokenize", {"namespace": "pan", "tokens": [token], "reveal": "REVEAL_FULL",
                                                    "reason": "settlement run"})
t.check(status == 200 and out["results"][0].get("value") == PAN, "finance reveals in full over HTTPS (%s)" % out)


def stream_call(client, path, lines):
    """POSTs NDJSON |lines| over HTTPS; (status, answer lines as JSON)."""
    conn = http.client.HTTPSConnection("127.0.0.1", PORT, timeout=h.TIMEOUT_S, context=context(client))
    try:
        body = b"".join((json.dumps(x) + "\n").encode() for x in lines)
        conn.request("POST", path, body=body, headers={"Content-Type": "application/x-ndjson"})
        resp = conn.getresponse()
        return resp.status, [json.loads(x) for x in resp.read().splitlines()]
    finally:
        conn.close()


# A policy refusal mid-stream ends the stream, as over gRPC: CRM's masked
# line is answered, its full reveal refused (a problem line naming line 2)
# and the line after it never handled (audited: one OK, one refusal).
masked = {"namespace": "pan", "tokens": [token], "reveal": "REVEAL_MASKED"}
full = {"namespace": "pan", "tokens": [token], "reveal": "REVEAL_FULL", "reason": "r"}
status, answers = stream_call("crm", "/v1/detokenize:stream", [masked, full, masked])
t.check(status == 200 and len(answers) == 2 and answers[0]["results"][0]["value"] not in ("", PAN) and
        answers[1].get("name") == "POLICY_DENIED" and answers[1].get("status") == 403 and answers[1].get("line") == 2,
        "CRM stream: line 1 masked, line 2 (FULL) refused with a problem line, line 3 not handled (%s)" % answers)
settle = dict(full, reason="settlement run")
status, answers = stream_call("finance", "/v1/detokenize:stream", [settle, settle])
t.check(status == 200 and [a.get("results", [{}])[0].get("value") for a in answers] == [PAN, PAN],
        "finance streams full reveals over HTTPS (%s)" % answers)


def refused_401(ctx, what):
    resp = None
    conn = http.client.HTTPSConnection("127.0.0.1", PORT, timeout=h.TIMEOUT_S, context=ctx)
    try:
        conn.request("POST", "/v1/tokenize", body=json.dumps({"namespace": "pan", "values": [PAN]}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        status, data = resp.status, resp.read()
    except (ssl.SSLError, ConnectionError) as e:
        t.fail("%s: expected a 401 problem, got a TLS error %r" % (what, e))
    finally:
        conn.close()
    h.expect_problem(status, {"content-type": resp.getheader("Content-Type")}, data, 401, "CLIENT_CERTIFICATE",
                     what)
    return json.loads(data)


p = refused_401(context(None), "no client certificate")
t.check("client certificate" in p["detail"] and "required" in p["detail"], "no certificate: says one is required")
p = refused_401(context("intruder"), "a certificate from another CA")
t.check("does not verify" in p["detail"], "another CA: says it does not verify (%s)" % p["detail"])
p = refused_401(context("server"), "a certificate for servers only (extendedKeyUsage serverAuth)")
t.check("does not verify" in p["detail"], "serverAuth only: does not verify (%s)" % p["detail"])
conn = http.client.HTTPSConnection("127.0.0.1", PORT, timeout=h.TIMEOUT_S, context=context(None))
conn.request("GET", "/v1/health")
resp = conn.getresponse()
t.check(resp.status == 401, "nothing is served without a client certificate, not even health (%d)" % resp.status)
conn.close()

# Plaintext on the HTTPS port gets no answer a client could take for the API.
try:
    answer = h.raw_exchange(PORT, b"POST /v1/tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
except (ConnectionError, OSError):
    answer = b""
t.check(b"HTTP/1.1 200" not in answer and b"token" not in answer, "plaintext HTTP on the HTTPS port: no answer")


def readme_mtls_curl_lines():
    """The README's HTTPS curl lines, run as written (port replaced) from
    the directory that holds ca.crt, crm.crt and crm.key."""
    with open(os.path.join(os.environ["TV_PROTO_DIR"], "..", "README.md")) as f:
        text = f.read()
    section = text[text.index("## HTTP API"):]
    section = section[:section.index("\n## ", 5)]
    commands = [c.replace("\\\n", " ") for c in re.findall(r"^(curl (?:.*\\\n)*.*)$", section, re.M)]
    commands = [c for c in commands if "https://" in c]
    t.check(len(commands) == 2, "README: two HTTPS curl lines (%d)" % len(commands))
    for cmd in commands:
        cmd = cmd.replace("localhost:8443", "localhost:%d" % PORT)
        p = subprocess.run(cmd, shell=True, cwd=t.WORK, capture_output=True, timeout=h.TIMEOUT_S)
        t.check(p.returncode == 0, "README curl ran: %s (%s)" % (cmd[:60], p.stderr[-200:]))
        out = json.loads(p.stdout)
        t.check("type" not in out, "README curl answered without a problem (%s)" % out)
        if "/v1/whoami" in cmd:
            t.check(out["principal"] == CRM and out["identity_source"] == "san_uri",
                    "README whoami over HTTPS names the CRM (%s)" % out)
        else:
            t.check(out["results"][0]["token"] == token, "README tokenize over HTTPS gives CRM's token")


readme_mtls_curl_lines()


def audit_entries():
    entries = []
    for line in pc.audit_lines(DATA):
        if line.startswith("{"):
            entries.append(json.loads(line))
    return [e for e in entries if e.get("peer", "").startswith("http:ipv4:127.0.0.1:")]


# The audit entries name the certificate's principal and the transport; a
# request refused for its certificate is audited too (no principal).
deadline = time.monotonic() + 20
http_entries = audit_entries()


def unauthenticated_tokenize(entries):
    return [e for e in entries if e["method"] == "Tokenize" and e.get("code") == 16 and not e.get("principal")]


# 4: the IP-only SAN (refused by the service) and the three certificate
# refusals (no certificate, another CA, serverAuth only).
while time.monotonic() < deadline and len(unauthenticated_tokenize(http_entries)) < 4:
    time.sleep(0.2)
    http_entries = audit_entries()
t.check(any(e["method"] == "Detokenize" and e.get("principal") == FINANCE and e.get("reveal") == "FULL"
            for e in http_entries), "audit: the HTTPS reveal names the finance principal")
crm_stream = [e for e in http_entries if e["method"] == "DetokenizeStream" and e.get("principal") == CRM]
t.check([(e["reveal"], e["outcome"]) for e in crm_stream] == [("MASKED", "OK"), ("FULL", "POLICY_DENIED")],
        "audit: the CRM stream's two handled lines, the refusal included (%s)" %
        [(e["reveal"], e["outcome"]) for e in crm_stream])
t.check(len(unauthenticated_tokenize(http_entries)) == 4,
        "audit: requests refused for their client certificate are audited (UNAUTHENTICATED, no principal: %d)"
        % len(unauthenticated_tokenize(http_entries)))

with open(server.log_path, "rb") as f:
    log = f.read()
with open(t.path("server.key"), "rb") as f:
    key = f.read()
body = b"".join(line for line in key.splitlines() if not line.startswith(b"-----"))
t.check(body[:40] not in log and b"server.key" not in log, "the server key (file or path) is not in the log")


# ---- SIGHUP: a new server certificate and client CA (other-ca) -----------------
def hup_and_wait(event):
    """SIGHUP, then wait for one more |event| line (bounded)."""
    before = sum(1 for x in server.lines() if x.get("event") == event)
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = [x for x in server.lines() if x.get("event") == event]
        if len(got) > before:
            return got[-1]
        time.sleep(0.05)
    t.fail("no %s log line within 20 s of SIGHUP" % event)


def served_cert():
    """The certificate a new HTTPS connection is served (verified against
    whichever CA ca.crt holds now)."""
    ctx = context(None)
    with socket.create_connection(("127.0.0.1", PORT), timeout=h.TIMEOUT_S) as sock:
        try:
            with ctx.wrap_socket(sock, server_hostname="localhost") as s:
                return s.getpeercert(binary_form=True)
        except ssl.SSLCertVerificationError:
            return None  # a certificate the CA in ca.crt did not issue


def der(name):
    with open(t.path(name)) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def whoami_on(conn):
    conn.request("POST", "/v1/whoami", body="{}", headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


t.check(served_cert() == der("server.crt"), "HTTPS serves the first server certificate")
kept = http.client.HTTPSConnection("127.0.0.1", PORT, timeout=h.TIMEOUT_S, context=context("crm"))
status, who = whoami_on(kept)  # a keep-alive connection made before the reload
kept_port = kept.sock.getsockname()[1]
t.check(status == 200 and who["principal"] == CRM, "a keep-alive HTTPS connection before the reload")

t.make_cert("other-ca", "server-b", "tokenvaultd-b", "IP:127.0.0.1,DNS:localhost", server=True)
for src, dst in (("server.crt", "server-a.crt"), ("server.key", "server-a.key"), ("server-b.crt", "server.crt"),
                 ("server-b.key", "server.key"), ("other-ca.crt", "ca.crt")):
    shutil.copy(t.path(src), t.path(dst))
done = hup_and_wait("reload_tls")
t.check("HTTP" in done.get("msg", ""), "SIGHUP: the TLS files reach gRPC and HTTP (%s)" % done)
t.check(served_cert() == der("server-b.crt"), "after SIGHUP new HTTPS connections get the new certificate")
status, _, who = call("intruder", "/v1/whoami", {})
t.check(status == 200 and who.get("principal") == CRM,
        "a client of the new client CA is accepted over HTTPS (%d %s)" % (status, who))
p = refused_401(context("crm"), "a client of the old client CA after the reload")
t.check("does not verify" in p["detail"], "the old CA's client: does not verify (%s)" % p["detail"])
status, who = whoami_on(kept)
t.check(status == 200 and who["principal"] == CRM and kept.sock.getsockname()[1] == kept_port,
        "the connection made before the reload keeps working (same connection)")
kept.close()

shutil.copy(t.path("server-a.key"), t.path("server.key"))  # no longer matches server.crt
bad = hup_and_wait("reload_tls_refused")
t.check("does not match" in bad.get("reason", ""), "a mismatched key is refused (%s)" % bad)
t.check(served_cert() == der("server-b.crt"), "after a refused reload HTTPS serves the last good certificate")
status, _, who = call("intruder", "/v1/whoami", {})
t.check(status == 200 and who.get("principal") == CRM, "and still accepts the new CA's clients")

t.check(server.alive(), "the server is still up")
rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")
print("ok")
