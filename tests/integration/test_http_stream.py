"""The NDJSON streams of the HTTP API (vault/server/http/ndjson_stream.h)
against tokenvaultd --dev: 100,000 values in 1,000-value lines tokenized
and revealed by POST /v1/tokenize:stream and /v1/detokenize:stream with a
chunked upload, one answer line per request line, in order, while the
server's resident memory stays far below the size of the body or the
answer; the body's temporary file holds no value in clear; a client that
stops reading stops the work (fewer lines audited than sent) without the
server growing, and others are served meanwhile; the first bad line
(malformed, unknown field, over the batch limit, too long, unknown
namespace) gets a problem line naming its line number and ends the stream
(later lines are not handled: the audit log says so); blank lines and
CRLF; 415 for another media type, 505 for HTTP/1.0. test_http_mtls.py
covers a policy refusal mid-stream over HTTPS."""
import glob
import http.client
import json
import os
import socket
import time

import http_api as h
import tvtest as t

DATA = t.path("var-http-stream")
SPOOL = t.path("spool")
os.makedirs(SPOOL, exist_ok=True)
os.environ["TMPDIR"] = SPOOL  # the server inherits it: its stream bodies go here
NDJSON = {"Content-Type": "application/x-ndjson"}
# Under the sanitizers memory figures mean nothing (ASan's quarantine) and
# the engine is slower: fewer values, no memory bound.
SANITIZE = os.environ.get("TV_SANITIZE", "").upper() in ("1", "ON", "TRUE")
VALUES_N = 20_000 if SANITIZE else 100_000
BATCH = 1000
# Blanks inside each line (JSON allows them) make the body large without
# costing the engine anything: 100 lines of 128 KiB more is 12.5 MiB.
PAD = " " * (128 * 1024)
# Growth of the server's peak resident memory allowed during a stream: the
# body is over 14 MiB and the answer over 7 MiB (of JSON text alone), so a
# server that kept either whole would exceed it.
RSS_GROWTH_MAX = 6 * 1024 * 1024

server, port = h.start_dev(DATA)
pid = server.proc.pid


def pan(i):
    """The i-th 16-digit Luhn-valid card number starting 4."""
    body = "4%014d" % i
    total = 0
    for k, ch in enumerate(reversed(body)):
        d = int(ch)
        if k % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def status_kb(key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    t.fail("no %s in /proc/%d/status" % (key, pid))


def reset_peak_rss():
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")  # VmHWM := VmRSS


def stream(path, lines, headers=NDJSON):
    """POSTs |lines| (an iterable of bytes, each a line with its "\\n") as a
    chunked upload; returns (status, headers, answer lines as JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=h.TIMEOUT_S * 3)
    try:
        conn.request("POST", path, body=iter(lines), headers=dict(headers, **{"Transfer-Encoding": "chunked"}),
                     encode_chunked=True)
        resp = conn.getresponse()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if resp.status != 200:
            return resp.status, hdrs, [json.loads(resp.read())]
        out = []
        while True:
            line = resp.readline()
            if not line:
                break
            t.check(line.endswith(b"\n"), "every answer line ends with a newline")
            out.append(json.loads(line))
        return resp.status, hdrs, out
    finally:
        conn.close()


def audit_entries(method):
    entries = []
    for path in sorted(glob.glob(os.path.join(DATA, "audit", "audit-*.log"))):
        with open(path) as f:
            entries += [json.loads(line) for line in f if line.startswith("{")]
    return [e for e in entries if e.get("method") == method and e.get("peer", "").startswith("http:")]


def is_problem(answer):
    return "type" in answer and "status" in answer


def tokenize_lines(values):
    for i in range(0, len(values), BATCH):
        yield (json.dumps({"namespace": "pan", "values": values[i:i + BATCH], "request_id": "b%d" % (i // BATCH)})
               [:-1] + PAD + "}\n").encode()


def detokenize_lines(tokens, pad=PAD):
    for i in range(0, len(tokens), BATCH):
        yield (json.dumps({"namespace": "pan", "tokens": tokens[i:i + BATCH], "reveal": "REVEAL_FULL",
                           "reason": "settlement run", "request_id": "d%d" % (i // BATCH)})[:-1] + pad + "}\n").encode()


def round_trip():
    values = [pan(i) for i in range(VALUES_N)]
    status, headers, answers = stream("/v1/tokenize:stream", tokenize_lines(values))
    t.check(status == 200 and headers.get("content-type") == "application/x-ndjson" and
            headers.get("transfer-encoding") == "chunked", "tokenize:stream: 200 chunked NDJSON (%d %s)" %
            (status, headers))
    t.check(len(answers) == VALUES_N // BATCH and not any(is_problem(a) for a in answers),
            "tokenize:stream: one answer line per request line (%d)" % len(answers))
    t.check([a["request_id"] for a in answers] == ["b%d" % i for i in range(len(answers))],
            "tokenize:stream: answers in request order")
    tokens = [r["token"] for a in answers for r in a["results"]]
    t.check(len(tokens) == VALUES_N and all(len(x) == 16 and x != v for x, v in zip(tokens, values)),
            "tokenize:stream: a token per value")
    audited = audit_entries("TokenizeStream")
    t.check(len(audited) == VALUES_N // BATCH and all(e["items"] == BATCH and e["ok"] == BATCH for e in audited),
            "audit: one TokenizeStream entry per line (%d)" % len(audited))

    # A first pass reads every record (the store's pages and caches grow
    # with the records read, whatever the transport); the second pass is
    # measured, so what it adds is what the stream itself keeps.
    status, _, back = stream("/v1/detokenize:stream", detokenize_lines(tokens))
    t.check(status == 200 and len(back) == VALUES_N // BATCH, "detokenize:stream: one answer per line")
    rss_before = status_kb("VmRSS")
    reset_peak_rss()
    status, _, back = stream("/v1/detokenize:stream", detokenize_lines(tokens))
    growth = status_kb("VmHWM") - rss_before
    print("detokenize:stream of %d values (second pass): server VmRSS before %.1f MiB, peak growth %.1f MiB" %
          (VALUES_N, rss_before / 2**20, growth / 2**20))
    revealed = [r["value"] for a in back for r in a["results"]]
    t.check(status == 200 and revealed == values, "detokenize:stream reveals every value in order")
    body_mib = sum(len(x) for x in detokenize_lines(tokens)) / 2**20
    t.check(SANITIZE or growth < RSS_GROWTH_MAX, "server peak memory grew %.1f MiB (< %.0f MiB: neither the "
            "%.1f MiB body nor the answer was kept whole)" % (growth / 2**20, RSS_GROWTH_MAX / 2**20, body_mib))
    audited = audit_entries("DetokenizeStream")
    t.check(len(audited) == 2 * VALUES_N // BATCH and all(e["reveal"] == "FULL" and e["purpose"] == "settlement run"
                                                     for e in audited),
            "audit: one DetokenizeStream entry per line, with its reveal level and reason (%d)" % len(audited))
    t.check(not any(values[0] in json.dumps(e) for e in audited), "audit: no value in the log")
    return values, tokens


def spool_files():
    """The server's open stream body files (O_TMPFILE: no name in SPOOL)."""
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith(SPOOL):
            out.append("/proc/%d/fd/%s" % (pid, fd))
    return out


def stalled_reader(values, tokens):
    """A client that sends a whole stream and then stops reading."""
    before = len(audit_entries("DetokenizeStream"))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(h.TIMEOUT_S)
    s.connect(("127.0.0.1", port))
    # 200 lines of 1,000 tokens whatever VALUES_N: answers of ~15 MiB, far
    # more than the socket buffers hold.
    lines_n = 200
    body = b"".join(detokenize_lines((tokens * (lines_n * BATCH // len(tokens)))[:lines_n * BATCH], pad=""))
    s.sendall(b"POST /v1/detokenize:stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    head = s.recv(512)
    t.check(head.startswith(b"HTTP/1.1 200"), "stalled reader: the answer starts (%r)" % head[:40])
    rss = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        rss.append(status_kb("VmRSS"))
        time.sleep(0.1)
    files = spool_files()
    t.check(len(files) == 1, "stalled reader: its body waits in one unnamed file under TMPDIR (%s)" % files)
    with open(files[0], "rb") as f:
        kept = f.read()
    t.check(len(kept) >= len(body) and values[0].encode() not in kept and tokens[0].encode() not in kept and
            b"namespace" not in kept, "the body file holds no token or field name in clear (%d bytes)" % len(kept))
    # Others are served meanwhile.
    t.check(h.health_serving(port), "stalled reader: health still answers")
    answer = h.ok(port, "/v1/tokenize", {"namespace": "pan", "values": [values[1]]}, "tokenize meanwhile")
    t.check(answer["results"][0]["token"] == tokens[1], "stalled reader: another client is served")
    handled = len(audit_entries("DetokenizeStream")) - before
    t.check(0 < handled < lines_n, "stalled reader: the work stops with the reading (%d of %d lines "
            "handled)" % (handled, lines_n))
    t.check(SANITIZE or max(rss) - rss[0] < RSS_GROWTH_MAX, "stalled reader: the server does not grow (%.1f MiB)" %
            ((max(rss) - rss[0]) / 2**20))
    s.close()
    deadline = time.monotonic() + h.TIMEOUT_S
    while spool_files() and time.monotonic() < deadline:
        time.sleep(0.1)
    t.check(not spool_files(), "the body file is gone with the connection")


def line(obj):
    return (json.dumps(obj) + "\n").encode()


def bad_lines(values, tokens):
    ok1 = line({"namespace": "pan", "tokens": tokens[:2], "reveal": "REVEAL_MASKED"})
    cases = [
        (b"{not json\n", "SERVER_REQUEST_MALFORMED", 400, "not valid JSON"),
        (line({"namespace": "pan", "tokens": tokens[:1], "colour": "red", "reveal": "REVEAL_MASKED"}),
         "SERVER_REQUEST_MALFORMED", 400, "colour"),
        (line({"namespace": "pan", "tokens": tokens[:1001], "reveal": "REVEAL_MASKED"}), "SERVER_REQUEST_TOO_LARGE",
         413, None),
        (line({"namespace": "pan", "tokens": ["1" * 40] * 30000, "reveal": "REVEAL_MASKED"}),
         "SERVER_REQUEST_TOO_LARGE", 413, "line 3 is over the limit"),
        (line({"namespace": "nope", "tokens": tokens[:1], "reveal": "REVEAL_MASKED"}), "ENGINE_NAMESPACE", 404, None),
    ]
    for bad, name, code, needle in cases:
        before = len(audit_entries("DetokenizeStream"))
        # Line 2 is blank (skipped), line 3 the bad one, line 4 never handled.
        status, _, answers = stream("/v1/detokenize:stream", [ok1, b"\r\n", bad, ok1])
        t.check(status == 200 and len(answers) == 2 and not is_problem(answers[0]) and
                answers[0]["results"][0]["value"].endswith(values[0][-4:]),
                "%s: the line before it is answered (%s)" % (name, answers[:1]))
        p = answers[-1]
        t.check(is_problem(p) and p["name"] == name and p["status"] == code and p["line"] == 3 and
                p["type"] == "urn:tokenvault:problem:" + name and p["detail"].startswith(name),
                "%s: a problem line for line 3 ends the stream (%s)" % (name, p))
        if needle is not None:
            t.check(needle in p["detail"], "%s: detail says '%s' (%s)" % (name, needle, p["detail"]))
        # Line 1 is audited; line 3 too when the service refused it (a
        # decoding failure never reaches the service, as over gRPC).
        handled = len(audit_entries("DetokenizeStream")) - before
        want = 2 if name == "ENGINE_NAMESPACE" else 1
        t.check(handled == want, "%s: no line after it is handled (%d audited, want %d)" % (name, handled, want))
    # CRLF line ends and a last line without a newline are lines too.
    status, _, answers = stream("/v1/tokenize:stream", [line({"namespace": "pan", "values": [values[2]]})[:-1] +
                                                        b"\r\n", json.dumps({"namespace": "pan",
                                                                             "values": [values[3]]}).encode()])
    t.check(status == 200 and [a["results"][0]["token"] for a in answers] == tokens[2:4],
            "CRLF and a last line without a newline are answered")
    status, _, answers = stream("/v1/tokenize:stream", [])
    t.check(status == 200 and answers == [], "an empty stream: 200 with no line")


def transport_refusals():
    status, headers, data = h.request(port, "POST", "/v1/tokenize:stream", raw=b'{"namespace":"pan"}\n')
    h.expect_problem(status, headers, data, 415, "HTTP_CONTENT_TYPE", "application/json to a stream",
                     "application/x-ndjson")
    status, headers, data = h.request(port, "GET", "/v1/detokenize:stream", headers={})
    h.expect_problem(status, headers, data, 405, "HTTP_METHOD", "GET of a stream")
    raw = h.raw_exchange(port, b"POST /v1/tokenize:stream HTTP/1.0\r\nContent-Type: application/x-ndjson\r\n"
                               b"Content-Length: 2\r\n\r\n{}")
    t.check(raw.startswith(b"HTTP/1.1 505") or raw.startswith(b"HTTP/1.0 505"),
            "HTTP/1.0 refused 505 (%r)" % raw[:40])
    t.check(h.health_serving(port), "the server is up after the refusals")


T0 = time.monotonic()
values, tokens = round_trip()
print("phase round_trip %.1fs" % (time.monotonic() - T0))
stalled_reader(values, tokens)
print("phase stalled %.1fs" % (time.monotonic() - T0))
bad_lines(values, tokens)
print("phase bad %.1fs" % (time.monotonic() - T0))
transport_refusals()
rc, _ = server.terminate(30)
t.check(rc == 0, "clean exit")
print("PASS")
