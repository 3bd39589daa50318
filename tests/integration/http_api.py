"""Helpers for the HTTP/JSON API tests: a tokenvaultd --dev with
--http-listen on port 0, JSON calls with the standard library's
http.client, and raw requests over a socket for what http.client will not
send (HTTP/1.0, pipelining, bad bytes)."""
import http.client
import json
import socket
import time

import tvtest as t

TIMEOUT_S = 20  # hang guard for one request


def start_dev(data_dir, *extra):
    """tokenvaultd --dev serving gRPC and HTTP on port 0; returns (server, http_port)."""
    server = t.Server("--dev", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", data_dir,
                      "--metrics-listen", "", *extra)
    return server, http_port(server)


def http_port(server):
    deadline = time.monotonic() + t.STARTUP_S
    while time.monotonic() < deadline:
        for line in server.lines():
            if line.get("event") == "http_listening":
                return line["port"]
        time.sleep(0.05)
    t.fail("no http_listening line in the log")


def request(port, method, path, body=None, headers=None, raw=None):
    """One request on a new connection; returns (status, headers dict with
    lower-case names, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        hdrs = dict(headers if headers is not None else {"Content-Type": "application/json"})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def post(port, path, body):
    """POST |body| as JSON; returns (status, decoded JSON answer)."""
    status, headers, data = request(port, "POST", path, body)
    return status, json.loads(data)


def ok(port, path, body, what):
    status, answer = post(port, path, body)
    t.check(status == 200, "%s: 200 (got %d %s)" % (what, status, answer))
    return answer


def expect_problem(status, headers, data, want_status, want_name, what, needle=None):
    """Checks an RFC 9457 problem answer: status, media type, the same
    stable name as gRPC, the problem's status field, a sentence."""
    t.check(status == want_status, "%s: HTTP %d (got %d: %r)" % (what, want_status, status, data[:200]))
    t.check(headers.get("content-type") == "application/problem+json",
            "%s: application/problem+json (got %s)" % (what, headers.get("content-type")))
    p = json.loads(data)
    t.check(p.get("status") == want_status and p.get("name") == want_name and p.get("title") == want_name and
            p.get("type") == "urn:tokenvault:problem:" + want_name and p.get("detail", "").startswith(want_name),
            "%s: problem names %s (%s)" % (what, want_name, p))
    if needle is not None:
        t.check(needle in p["detail"], "%s: detail says '%s' (%s)" % (what, needle, p["detail"]))
    return p


def raw_exchange(port, payload, read_until_close=True):
    """Sends |payload| bytes as they are and returns everything the server
    sends until it closes (or the hang guard)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    try:
        s.sendall(payload)
        if not read_until_close:
            return s.recv(65536)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


def health_serving(port):
    status, _, data = request(port, "GET", "/v1/health", headers={})
    return status == 200 and json.loads(data) == {"status": "SERVING"}
