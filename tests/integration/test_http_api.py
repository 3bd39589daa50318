"""The HTTP/JSON API (vault/server/http/) against tokenvaultd --dev:
tokenize and detokenize at every reveal level and every other served path,
the same engine as gRPC (the same token for the same value), per-item
failures inside a 200, problem answers for every kind of bad request (the
server stays up after each), the audit log naming the transport, the
README's curl lines run as they are, and plaintext http.listen refused outside --dev
(test_http_mtls.py covers HTTPS, test_http_connections.py idle connections
and the idle timeout)."""
import glob
import json
import os
import re
import subprocess

import http_api as h
import tvtest as t
import vaultclient as vc

README = os.environ.get("TV_README", "")
DATA = t.path("var-http")
PAN = "4111111111111111"

server, port = h.start_dev(DATA)


def round_trip():
    answer = h.ok(port, "/v1/tokenize", {"namespace": "pan", "values": [PAN, "42"], "request_id": "h-1"},
                  "tokenize")
    t.check(answer["request_id"] == "h-1", "request_id echoed")
    first, second = answer["results"]
    t.check(first["status"] == {"code": 0, "name": "OK", "message": "success"} and len(first["token"]) == 16,
            "tokenize: a token for the PAN (%s)" % first)
    t.check(second["token"] == "" and second["status"]["name"] == "FORMAT_LENGTH",
            "tokenize: a per-item FORMAT_LENGTH inside the 200 (%s)" % second["status"])
    token = first["token"]
    # The same engine as gRPC: pan is convergent, so gRPC gets the same token.
    with t.insecure_channel(server.port) as ch:
        grpc_token = vc.ok_tokens(vc.Client(ch).tokenize("pan", [PAN]))[0]
    t.check(grpc_token == token, "gRPC and HTTP tokenize to the same token (one engine)")
    want = {"REVEAL_FULL": PAN, "REVEAL_MASKED": "411111******1111", "REVEAL_NONE": ""}
    for reveal, value in want.items():
        answer = h.ok(port, "/v1/detokenize",
                      {"namespace": "pan", "tokens": [token], "reveal": reveal, "reason": "ticket 7"}, reveal)
        result = answer["results"][0]
        t.check(result["value"] == value and result["status"]["name"] == "OK",
                "detokenize %s answers %r" % (reveal, result["value"]))
    # camelCase names (proto3 JSON) are accepted too; enums as numbers.
    answer = h.ok(port, "/v1/detokenize", {"namespace": "pan", "tokens": [token], "reveal": 1, "requestId": "c"},
                  "camelCase")
    t.check(answer["request_id"] == "c" and answer["results"][0]["value"] == PAN, "requestId and reveal 1 accepted")
    return token


def other_paths(token):
    info = h.ok(port, "/v1/tokens/info", {"namespace": "pan", "tokens": [token]}, "tokens/info")["results"][0]
    t.check(info["status"]["name"] == "OK" and info["key_version"] == 1 and int(info["created_at_unix_ms"]) > 0,
            "tokens/info: key version and a 64-bit time as a string (%s)" % info)
    keys = h.ok(port, "/v1/keys/list", {"namespace": "pan"}, "keys/list")["keys"]
    t.check(keys and keys[0]["state"] == "KEY_STATE_ACTIVE", "keys/list: enum names (%s)" % keys)
    key = h.ok(port, "/v1/keys/rotate", {"namespace": "iban", "reason": "yearly"}, "keys/rotate")["key"]
    t.check(key["namespace"] == "iban" and key["version"] == 2, "keys/rotate: iban at version 2 (%s)" % key)
    status = h.ok(port, "/v1/keys/status", {}, "keys/status")
    t.check(status["kek_version"] == 1, "keys/status: the KEK version (%s)" % status)
    proposal = h.ok(port, "/v1/kek/propose", {"reason": "drill"}, "kek/propose")["proposal"]
    t.check(proposal["state"] == "PROPOSAL_STATE_PENDING", "kek/propose: pending (%s)" % proposal["state"])
    s, headers, data = h.request(port, "POST", "/v1/kek/approve", {"proposal_id": proposal["proposal_id"]})
    h.expect_problem(s, headers, data, 403, "KEYRING_SAME_OFFICER", "kek/approve by the proposer")
    store = h.ok(port, "/v1/store/verify", {"namespace": "pan"}, "store/verify")
    pan_ns = store["namespaces"][0]
    t.check(store["intact"] is True and len(store["namespaces"]) == 1 and pan_ns["namespace"] == "pan" and
            int(pan_ns["values"]) >= 1 and int(pan_ns["failed"]) == 0,
            "store/verify: pan intact, its values counted (%s)" % pan_ns)
    verify = h.ok(port, "/v1/audit/verify", {}, "audit/verify")
    t.check(verify["intact"] is True and int(verify["entries_checked"]) > 0, "audit/verify: intact (%s)" % verify)
    entries = h.ok(port, "/v1/audit/read", {"method": "Detokenize"}, "audit/read")["entries"]
    t.check(len(entries) >= 4 and all(e["method"] == "Detokenize" for e in entries) and
            any(e["peer"].startswith("http:ipv4:") and e["reveal"] == "FULL" for e in entries),
            "audit/read: the HTTP reveals, filtered by method (%d entries)" % len(entries))
    t.check(all(re.fullmatch("[0-9]+", e["seq"]) for e in entries), "audit/read: 64-bit seq as decimal strings")
    empty = h.ok(port, "/v1/audit/read", {"from_seq": "1000000"}, "audit/read past the end")
    t.check(empty == {"entries": []}, "audit/read past the end: no entries (%s)" % empty)
    me = h.ok(port, "/v1/whoami", {}, "whoami")
    t.check(me["principal"] == "dev:local" and me["transport_security"] == "insecure" and me["authenticated"] is False,
            "whoami: dev:local over plaintext (%s)" % me)
    t.check(h.health_serving(port), "health: SERVING")
    deleted = h.ok(port, "/v1/tokens/delete", {"namespace": "pan", "tokens": [token], "reason": "gdpr"}, "delete")
    t.check(deleted["results"][0]["name"] == "OK", "tokens/delete: OK")
    gone = h.ok(port, "/v1/detokenize", {"namespace": "pan", "tokens": [token], "reveal": "REVEAL_FULL"}, "gone")
    t.check(gone["results"][0]["status"]["name"] == "ENGINE_DELETED",
            "detokenize after delete: per-item ENGINE_DELETED (%s)" % gone["results"][0]["status"])
    erased = h.ok(port, "/v1/values/erase", {"namespace": "pan", "value": PAN, "reason": "gdpr"}, "values/erase")
    t.check("tokens_erased" in erased, "values/erase answers tokens_erased (%s)" % erased)
    s, headers, data = h.request(port, "POST", "/v1/tokenize", {"namespace": "nope", "values": ["1"]})
    h.expect_problem(s, headers, data, 404, "ENGINE_NAMESPACE", "unknown namespace")


def bad_requests():
    json_ct = {"Content-Type": "application/json"}
    cases = [
        ("malformed JSON", "POST", "/v1/tokenize", b'{"namespace":', json_ct, 400, "SERVER_REQUEST_MALFORMED",
         "ends inside"),
        ("wrong type", "POST", "/v1/tokenize", b'{"namespace":"pan","values":[4111]}', json_ct, 400,
         "SERVER_REQUEST_MALFORMED", "TokenizeRequest.values must be a string"),
        ("unknown field", "POST", "/v1/tokenize", b'{"namespace":"pan","valuez":["1"]}', json_ct, 400,
         "SERVER_REQUEST_MALFORMED", "TokenizeRequest has no field valuez"),
        ("duplicate key", "POST", "/v1/tokenize", b'{"namespace":"pan","namespace":"pan","values":["1"]}', json_ct,
         400, "SERVER_REQUEST_MALFORMED", "duplicate key"),
        ("invalid UTF-8", "POST", "/v1/tokenize", b'{"namespace":"pan","values":["\xff\xfe"]}', json_ct, 400,
         "SERVER_REQUEST_MALFORMED", "not valid UTF-8"),
        ("huge number", "POST", "/v1/tokenize", b'{"namespace":"pan","values":["1"],"ttl_seconds":1' + b"0" * 40 + b"}",
         json_ct, 400, "SERVER_REQUEST_MALFORMED", "too large"),
        ("missing required field", "POST", "/v1/detokenize", b'{"namespace":"pan","tokens":["1"]}', json_ct, 400,
         "SERVER_REQUEST_MALFORMED", "DetokenizeRequest.reveal is required"),
        ("too many items", "POST", "/v1/tokenize",
         json.dumps({"namespace": "pan", "values": ["1"] * 1001}).encode(), json_ct, 413,
         "SERVER_REQUEST_TOO_LARGE", "the limit is 1000"),
        ("wrong content type", "POST", "/v1/tokenize", b'{}', {"Content-Type": "text/plain"}, 415,
         "HTTP_CONTENT_TYPE", "application/json"),
        ("missing content type", "POST", "/v1/tokenize", b'{}', {}, 415, "HTTP_CONTENT_TYPE", None),
        ("unknown path", "POST", "/v1/tokenise", b'{}', json_ct, 404, "HTTP_NOT_FOUND", None),
        ("wrong method", "GET", "/v1/tokenize", None, {}, 405, "HTTP_METHOD", "POST only"),
        ("wrong method on health", "POST", "/v1/health", b"{}", json_ct, 405, "HTTP_METHOD", "GET only"),
    ]
    for what, method, path, raw, headers, want, name, needle in cases:
        s, hdrs, data = h.request(port, method, path, headers=headers, raw=raw)
        p = h.expect_problem(s, hdrs, data, want, name, what, needle)
        t.check(PAN not in p["detail"], "%s: no value in the detail" % what)
        if want == 405:
            t.check(hdrs.get("allow") in ("POST", "GET"), "%s: an Allow header (%s)" % (what, hdrs.get("allow")))
        t.check(server.alive() and h.health_serving(port), "%s: the server stays up" % what)


def raw_requests():
    # A Content-Length over the limit is refused before the body is read
    # (and the connection closed): only the headers are sent.
    out = h.raw_exchange(port, b"POST /v1/tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 1048577\r\n\r\n")
    status_line, _, rest = out.partition(b"\r\n")
    t.check(b" 413 " in status_line and b"application/problem+json" in rest and b"SERVER_REQUEST_TOO_LARGE" in rest,
            "a Content-Length over the limit: 413 before the body (%r)" % out[:80])
    # A body over the limit, chunked: no Content-Length to refuse it by.
    chunk = b"a" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
    out = h.raw_exchange(port, b"POST /v1/tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body)
    t.check(b" 413 " in out.split(b"\r\n")[0] and b"SERVER_REQUEST_TOO_LARGE" in out,
            "a chunked body over the limit: 413 (%r)" % out[:80])
    out = h.raw_exchange(port, b"POST /v1/whoami HTTP/1.0\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 2\r\n\r\n{}")
    t.check(out.startswith(b"HTTP/1.1 505") and b"HTTP_VERSION" in out, "HTTP/1.0: 505 problem (%r)" % out[:60])
    # Two requests in one write (pipelining): two answers, in order.
    one = b"POST /v1/whoami HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n"
    out = h.raw_exchange(port, one + b'{"request_id":"a"}' + one.replace(b"Length: 18", b"Length: 18") +
                         b'{"request_id":"b"}' + b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    t.check(out.count(b"HTTP/1.1 200") == 3 and out.index(b'"request_id":"a"') < out.index(b'"request_id":"b"'),
            "pipelined requests answered in order (%d answers)" % out.count(b"HTTP/1.1 200"))
    t.check(server.alive() and h.health_serving(port), "raw requests: the server stays up")


def audit_names_http():
    entries = []
    for path in sorted(glob.glob(os.path.join(DATA, "audit", "audit-*.log"))):
        with open(path) as f:
            entries += [json.loads(line) for line in f if line.startswith("{")]
    http_calls = [e for e in entries if e.get("peer", "").startswith("http:ipv4:127.0.0.1:")]
    methods = {e["method"] for e in http_calls}
    t.check({"Tokenize", "Detokenize", "DeleteTokens", "WhoAmI", "ListKeys"} <= methods,
            "audit: HTTP calls are audited with peer http:ipv4:... (%s)" % sorted(methods))
    t.check(any(e["method"] == "Detokenize" and e.get("reveal") == "FULL" and e.get("purpose") == "ticket 7"
                for e in http_calls), "audit: an HTTP reveal is audited with its level and reason")
    t.check(any(e["method"] == "Tokenize" and e.get("code") == 3 for e in http_calls),
            "audit: a refused (malformed) HTTP request is audited too")
    t.check(not any(PAN in json.dumps(e) for e in entries), "audit: no value in the log")


def readme_curl_lines():
    """The README's HTTP API curl lines (and the printf lines that write
    their NDJSON files), run as written in order from the work directory
    (port replaced); the example token replaced by the one tokenize gave.
    A stream's answer is checked line by line."""
    with open(README) as f:
        text = f.read()
    section = text[text.index("## HTTP API"):]
    section = section[:section.index("\n## ", 5)]
    commands = [c.replace("\\\n", " ") for c in re.findall(r"^((?:curl|printf) (?:.*\\\n)*.*)$", section, re.M)]
    commands = [c for c in commands if "https://" not in c]  # the mTLS lines: test_http_mtls.py
    t.check(sum(c.startswith("curl") for c in commands) >= 5, "README: HTTP API curl lines found (%d)" %
            len(commands))
    t.check(sum(":stream" in c for c in commands) == 2, "README: the two NDJSON stream examples found")
    example_token = re.search(r'"tokens":\["([0-9]+)"\]', section).group(1)
    token = None
    for cmd in commands:
        cmd = cmd.replace("127.0.0.1:8080", "127.0.0.1:%d" % port)
        if token is not None:
            cmd = cmd.replace(example_token, token)
        p = subprocess.run(["sh", "-c", cmd], capture_output=True, timeout=h.TIMEOUT_S, cwd=t.WORK)
        t.check(p.returncode == 0, "README line ran: %s (%s)" % (cmd[:60], p.stderr[:200]))
        if cmd.startswith("printf"):
            continue
        lines = [json.loads(x) for x in p.stdout.splitlines()] if ":stream" in cmd else [json.loads(p.stdout)]
        t.check(len(lines) >= 1 and not any("type" in x for x in lines),
                "README curl answered without a problem: %s -> %s" % (cmd[:50], lines))
        out = lines[0]
        if ":stream" in cmd:
            data_file = re.search(r"@(\S+)", cmd).group(1)
            with open(os.path.join(t.WORK, data_file)) as f:
                sent = [x for x in f.read().splitlines() if x.strip()]
            t.check(len(lines) == len(sent), "README stream: one answer line per request line (%d)" % len(lines))
        if "/v1/tokenize" in cmd:
            token = out["results"][0]["token"]
        if "/v1/detokenize" in cmd and "REVEAL_FULL" in cmd:
            t.check(out["results"][0]["value"] == PAN, "README detokenize reveals the README's PAN")
    t.check(token is not None, "README: the tokenize line gave a token")


def refused_outside_dev():
    plain = t.path("plain-http.yaml")
    with open(plain, "w") as f:
        f.write("listen: 127.0.0.1:7443\ndata_dir: ./d\nhsm: {module: /m.so, token_label: dev, pin_file: ./pin}\n"
                "audit: {dir: ./a}\nnamespaces:\n  - {name: pan, format: {kind: pan}}\n")
    p = subprocess.run([t.SERVER, "--config", plain, "--http-listen", "127.0.0.1:0"], capture_output=True,
                       timeout=h.TIMEOUT_S)
    t.check(p.returncode == 2 and b"served over mTLS" in p.stderr,
            "plaintext http.listen outside --dev refused at start, even on loopback (%r)" % p.stderr[-200:])
    p = subprocess.run([t.SERVER, "--dev", "--http-listen", "0.0.0.0:0", "--data-dir", t.path("var-x")],
                       capture_output=True, timeout=h.TIMEOUT_S)
    t.check(p.returncode == 2 and b"loopback" in p.stderr, "--dev --http-listen off loopback refused")


token = round_trip()
other_paths(token)
bad_requests()
raw_requests()
readme_curl_lines()
audit_names_http()
refused_outside_dev()
rc, _ = server.terminate(30)
t.check(rc == 0, "SIGTERM: clean exit with the HTTP listener open")
print("PASS")
