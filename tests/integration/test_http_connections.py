"""The HTTP listener's connection limits (vault/server/http/http_server.h)
against tokenvaultd --dev: 1,000 idle TCP connections from one address
(127.0.0.2) while other clients (127.0.0.1) keep being served.

- the server keeps at most TV_HTTP_CONNECTIONS_PER_IP_MAX (32) of them and
  closes the rest at once (a closed connection, no answer);
- it stays up, its open files and resident memory stay bounded;
- a client from another address is served meanwhile (the other half of
  the 64 connections is theirs), one from the flooding address once the
  idle ones are gone;
- the idle ones, and a connection that sent half a request (slow loris),
  are closed by the idle timeout (TV_HTTP_IDLE_TIMEOUT_S, 15 s).
"""
import os
import resource
import select
import socket
import time

import http_api as h
import tvtest as t

IDLE = 1000
PER_IP_MAX = 32       # TV_HTTP_CONNECTIONS_PER_IP_MAX
IDLE_TIMEOUT_S = 15   # TV_HTTP_IDLE_TIMEOUT_S
FLOOD_ADDR = "127.0.0.2"  # any 127/8 address is local on Linux
RSS_GROWTH_MAX_MB = int(os.environ.get("TV_HTTP_CONN_RSS_GROWTH_MB", "64"))


def raise_nofile(needed):
    """This process needs an fd per connection; the server does not."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    t.check(soft >= needed, "this test may open %d files (RLIMIT_NOFILE %d)" % (needed, soft))


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def open_files(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def closed_by_server(s):
    """True once the server closed |s| (EOF or reset); never blocks."""
    ready, _, _ = select.select([s], [], [], 0)
    if not ready:
        return False
    try:
        return s.recv(1024) == b""
    except OSError:
        return True


def flood(port):
    socks = []
    for _ in range(IDLE):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((FLOOD_ADDR, 0))
        s.settimeout(h.TIMEOUT_S)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def wait_closed(socks, want_open_max, deadline_s):
    """Polls until at most |want_open_max| of |socks| remain open; returns
    how many remain."""
    still = list(socks)
    deadline = time.monotonic() + deadline_s
    while True:
        still = [s for s in still if not closed_by_server(s)]
        if len(still) <= want_open_max or time.monotonic() > deadline:
            return len(still)
        time.sleep(0.2)


raise_nofile(IDLE + 200)
server, port = h.start_dev(t.path("var-conn"))
pid = server.proc.pid
t.check(h.health_serving(port), "serving before the flood")
rss_before, files_before = status_kb(pid, "VmRSS"), open_files(pid)

started = time.monotonic()
socks = flood(port)
slow = socket.create_connection(("127.0.0.1", port), timeout=60)
slow.sendall(b"POST /v1/tokenize HTTP/1.1\r\nHost: x\r\n")  # and nothing more: a slow loris
t.check(server.alive(), "%d idle connections opened from %s: the server stays up" % (IDLE, FLOOD_ADDR))
still_open = wait_closed(socks, PER_IP_MAX, 5)
t.check(still_open <= PER_IP_MAX,
        "the server keeps at most %d connections from one address, closes the rest at once (%d open)"
        % (PER_IP_MAX, still_open))
files = open_files(pid)
t.check(files <= files_before + PER_IP_MAX + 8,
        "server open files bounded: %d before, %d with %d idle connections" % (files_before, files, IDLE))
t.check(h.health_serving(port), "a client from another address is served during the flood")
answer = h.ok(port, "/v1/tokenize", {"namespace": "pan", "values": ["4111111111111111"]}, "tokenize during the flood")
t.check(answer["results"][0]["status"]["code"] == 0, "tokenize during the flood succeeds")
rss_during = status_kb(pid, "VmRSS")
t.check(rss_during - rss_before <= RSS_GROWTH_MAX_MB * 1024,
        "server memory bounded: VmRSS %d KiB before, %d KiB during (limit +%d MiB)"
        % (rss_before, rss_during, RSS_GROWTH_MAX_MB))

# The idle ones (and the slow loris) go by the idle timeout; 15 s + slack.
remaining = wait_closed(socks + [slow], 0, IDLE_TIMEOUT_S + 20)
waited = time.monotonic() - started
t.check(remaining == 0, "the idle timeout closed every idle connection and the stalled request "
                        "(%d left after %.1f s)" % (remaining, waited))
t.check(waited >= IDLE_TIMEOUT_S - 2, "they were closed by the timeout, not at once (%.1f s)" % waited)
for s in socks + [slow]:
    s.close()

fresh = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
fresh.bind((FLOOD_ADDR, 0))
fresh.settimeout(h.TIMEOUT_S)
fresh.connect(("127.0.0.1", port))
fresh.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
reply = fresh.recv(4096)
fresh.close()
t.check(reply.startswith(b"HTTP/1.1 200"), "after the timeout, the flooding address is served again (%r)" % reply[:40])
t.check(server.alive() and open_files(pid) <= files_before + 4,
        "server up, open files back to %d (before: %d)" % (open_files(pid), files_before))
rc, _ = server.terminate(30)
t.check(rc == 0, "SIGTERM: clean exit")
print("PASS")
