"""tokenvaultd's metrics port (--metrics-listen): /metrics in the Prometheus
text format moves by exactly the calls made, histograms are cumulative and
end at _count, store/audit/key metrics follow the data, no value or token
ever appears, /healthz is 200 while serving and 503 while draining, and a
metrics port that cannot be bound stops start-up with a clear error."""
import queue
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import grpc

import tvtest as t
import vaultclient as vc
from health_probe import metrics_port

SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+|\+Inf)$')


def get(port, path):
    """Returns (status, content type, body) of GET |path|."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def scrape(port):
    """The exposition as {series: value}; every line must be a comment or a
    well-formed sample, and every family must be announced by # TYPE."""
    status, ctype, body = get(port, "/metrics")
    t.check(status == 200 and ctype.startswith("text/plain; version=0.0.4"), "/metrics 200, format 0.0.4")
    out, typed = {}, set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        if not m:
            t.fail("malformed exposition line: %r" % line)
        family = re.sub(r'_(bucket|sum|count)$', '', m.group(1))
        if m.group(1) not in typed and family not in typed:
            t.fail("sample before its # TYPE: %r" % line)
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out, body


def delta(after, before, series):
    return after.get(series, 0) - before.get(series, 0)


def check_histograms(m):
    """For every method: buckets non-decreasing, +Inf == _count."""
    methods = {re.search(r'method="([^"]+)"', k).group(1) for k in m if k.startswith("tokenvault_call_latency")}
    for meth in methods:
        buckets = sorted(((float(re.search(r'le="([^"]+)"', k).group(1).replace("+Inf", "inf")), v)
                          for k, v in m.items()
                          if k.startswith('tokenvault_call_latency_seconds_bucket{method="%s",' % meth)))
        counts = [v for _, v in buckets]
        if counts != sorted(counts) or buckets[-1][0] != float("inf"):
            t.fail("%s: buckets not cumulative: %s" % (meth, buckets))
        if counts[-1] != m['tokenvault_call_latency_seconds_count{method="%s"}' % meth]:
            t.fail("%s: +Inf bucket != _count" % meth)
    t.check(len(methods) > 10, "every method has a cumulative histogram ending at _count (%d)" % len(methods))


DATA = t.path("var-metrics")
server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA, "--metrics-listen", "127.0.0.1:0")
mport = metrics_port(server)
t.check(mport > 0 and mport != server.port, "metrics on their own port (%d)" % mport)
status, _, body = get(mport, "/healthz")
t.check(status == 200 and body.strip() == "SERVING", "/healthz 200 SERVING while serving")
t.check(get(mport, "/nothing")[0] == 404, "unknown path -> 404")
before, _ = scrape(mport)
t.check(before.get('tokenvault_key_versions{namespace="pan",state="active"}') == 1, "pan has one active key version")
t.check(before.get('tokenvault_key_active_version{namespace="pan"}') == 1, "pan's active version is 1")
t.check(any(k.startswith("tokenvault_build_info{") for k in before), "build info present")

PANS = ["4000056655665556", "5200828282828210", "4111111111111111", "6011111111111117", "5105105105105100"]
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    tokens = []
    for i in range(3):  # 3 calls, 5 values, each value new (5 records)
        tokens += vc.ok_tokens(c.tokenize("pan", PANS[i:i + 1] if i < 2 else PANS[2:]))
    c.detokenize("pan", tokens, vc.FULL, reason="metrics test")
    c.detokenize("pan", tokens[:2], vc.MASKED)
    try:  # refused (which code depends on the policy: NOT_FOUND or PERMISSION_DENIED)
        c.detokenize("nosuchns", ["1"], vc.NONE)
        t.fail("a call in an unknown namespace succeeded")
    except grpc.RpcError as e:
        refused_code = e.code().name
    t.check(refused_code in ("NOT_FOUND", "PERMISSION_DENIED"), "unknown namespace refused (%s)" % refused_code)
    dstream = ch.stream_stream(vc.SVC + "DetokenizeStream", request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=vc.TV.DetokenizeResponse.FromString)
    replies = list(dstream(iter([vc.TV.DetokenizeRequest(namespace="pan", tokens=tokens[:3], reveal=vc.NONE)] * 2),
                           timeout=10))
    t.check(len(replies) == 2, "stream answered both messages")
    # Answered by the server core, not svc_call: counted all the same.
    for _ in range(2):
        t.unary(ch, "/grpc.health.v1.Health/Check", vc.HEALTH.HealthCheckRequest, vc.HEALTH.HealthCheckResponse)(
            vc.HEALTH.HealthCheckRequest(), timeout=5)
    c.call("WhoAmI", vc.TV.WhoAmIRequest(), vc.TV.WhoAmIResponse)
    # Refused while decoding, before any handler: counted too.
    t.expect_rpc_error(lambda to: t.unary(ch, vc.SVC + "Tokenize")(b"\xff" * 8, timeout=to),
                       grpc.StatusCode.INVALID_ARGUMENT, 5, "a malformed Tokenize")

# The malformed call's audit line is written in the background
# (refusal_audit.h), after its answer: wait (bounded) until it is counted.
for _ in range(50):
    after, text = scrape(mport)
    if delta(after, before, "tokenvault_audit_entries_total") >= 10:
        break
    time.sleep(0.05)
expect_calls = {('Tokenize', 'OK'): 3, ('Detokenize', 'OK'): 2, ('Detokenize', refused_code): 1,
                ('DetokenizeStream', 'OK'): 2, ('Tokenize', 'INVALID_ARGUMENT'): 1,
                ('Health.Check', 'OK'): 2, ('WhoAmI', 'OK'): 1}
for (meth, code), n in expect_calls.items():
    d = delta(after, before, 'tokenvault_calls_total{method="%s",code="%s"}' % (meth, code))
    t.check(d == n, "calls_total %s %s moved by %d (got %d)" % (meth, code, n, d))
t.check(delta(after, before, 'tokenvault_items_total{method="Tokenize"}') == 5, "Tokenize items +5")
t.check(delta(after, before, 'tokenvault_items_total{method="DetokenizeStream"}') == 6, "DetokenizeStream items +6")
t.check(delta(after, before, 'tokenvault_call_latency_seconds_count{method="Tokenize"}') == 4,
        "Tokenize histogram count +4 (3 answered, 1 malformed)")
t.check(delta(after, before, 'tokenvault_call_latency_seconds_sum{method="Tokenize"}') > 0, "latency sum grew")
t.check(delta(after, before, 'tokenvault_call_latency_seconds_count{method="Health.Check"}') == 2,
        "Health.Check histogram count +2")
t.check(delta(after, before, 'tokenvault_items_total{method="WhoAmI"}') == 0, "WhoAmI carries no items")
check_histograms(after)
t.check(delta(after, before, "tokenvault_store_records_total") == 5, "store: exactly 5 new records made durable")
t.check(delta(after, before, "tokenvault_store_index_tokens") == 5, "index: 5 more live tokens")
t.check(delta(after, before, "tokenvault_store_batches_total") >= 1, "store: group commits counted")
t.check(delta(after, before, "tokenvault_audit_entries_total") == 10,
        "audit: one entry per call or stream message, WhoAmI and the malformed one too (10)")
t.check(after["tokenvault_audit_failures_total"] == 0, "audit: no failures")
fsyncs = after["tokenvault_audit_fsync_seconds_count"]
t.check(fsyncs == after["tokenvault_audit_syncs_total"] and delta(after, before, "tokenvault_audit_fsync_seconds_count") >= 1,
        "audit fsync histogram: one observation per fdatasync (%d)" % fsyncs)
t.check(after['tokenvault_audit_fsync_seconds_bucket{le="+Inf"}'] == fsyncs
        and after['tokenvault_audit_fsync_seconds_bucket{le="5e-05"}'] <= fsyncs, "audit fsync buckets cumulative")
t.check(0 <= after["tokenvault_audit_fsync_max_seconds"] <= after["tokenvault_audit_fsync_seconds_sum"] + 1e-6,
        "audit fsync max within the sum (max %.6f s)" % after["tokenvault_audit_fsync_max_seconds"])
leaked = [s for s in PANS + tokens + [p[-4:] + "\"" for p in PANS] if s in text]
t.check(not leaked, "no value, token or value fragment in the exposition (%s)" % leaked)

# A second server whose metrics port is taken: a clear start-up error.
dup = subprocess.run([t.SERVER, "--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-dup"),
                        "--metrics-listen", "127.0.0.1:%d" % mport], cwd=t.WORK, capture_output=True, timeout=60)
t.check(dup.returncode == 2, "metrics port in use -> exit 2 (got %d)" % dup.returncode)
t.check(b"cannot listen for metrics on 127.0.0.1:%d" % mport in dup.stderr, "the error names the metrics address")

# Neither --dev nor --config: no vault to measure, so --metrics-listen is
# refused by name rather than silently ignored (checked before any TLS file
# is read, so these paths need not exist).
novault = subprocess.run([t.SERVER, "--listen", "127.0.0.1:0", "--tls-cert", "no.crt", "--tls-key", "no.key",
                          "--tls-ca", "no.ca", "--metrics-listen", "127.0.0.1:0"], cwd=t.WORK,
                         capture_output=True, timeout=30)
t.check(novault.returncode == 2 and b"--metrics-listen 127.0.0.1:0 needs a vault" in novault.stderr,
        "--metrics-listen without a vault -> exit 2 naming the flag (got %d)" % novault.returncode)

# --dev without a config asks for 127.0.0.1:9464 by default; with that
# port taken (by us, or by anyone) the vault must still start, metrics off.
# Own the port ourselves: another --dev server of a parallel test may hold
# it for a moment (and release it while this one starts), and a closed
# connection's TIME_WAIT would refuse a bind without SO_REUSEADDR.
blocker = socket.socket()
blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
deadline = time.monotonic() + 60
while True:
    try:
        blocker.bind(("127.0.0.1", 9464))
        blocker.listen(1)
        break
    except OSError as e:
        if time.monotonic() > deadline:
            t.fail("could not take 127.0.0.1:9464 for 60 s to test the built-in port: %s" % e)
        time.sleep(0.1)
second = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-second"))
t.check(any(ln.get("event") == "metrics_off" for ln in second.lines()),
        "built-in metrics port taken -> warning, the --dev vault still starts")
t.check(second.terminate(20)[0] == 0, "that server stops cleanly")
blocker.close()

# Drain: an open stream keeps the server draining after SIGTERM; /healthz
# must already say 503 then, and the server must still exit 0 after.
with t.insecure_channel(server.port) as ch:
    q = queue.Queue()
    dstream = ch.stream_stream(vc.SVC + "DetokenizeStream", request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=vc.TV.DetokenizeResponse.FromString)
    responses = dstream(iter(q.get, None), timeout=30)
    q.put(vc.TV.DetokenizeRequest(namespace="pan", tokens=tokens[:1], reveal=vc.NONE))
    t.check(next(responses).results[0].status.code == 0, "stream open and answered before SIGTERM")
    waiter = threading.Thread(target=lambda: server.terminate(20), daemon=True)
    waiter.start()
    seen = None
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and server.alive():
        seen = get(mport, "/healthz")
        if seen[0] == 503:
            break
        time.sleep(0.05)
    t.check(seen is not None and seen[0] == 503 and seen[2] == "NOT_SERVING draining\n",
            "/healthz 503 NOT_SERVING while draining, saying so (got %s)" % (seen,))
    t.check(server.alive(), "server still draining the open stream")
    q.put(None)  # end the stream: the drain can finish
    for _ in responses:
        pass
    waiter.join(25)
rc = server.proc.wait(timeout=25)
t.check(rc == 0, "clean exit 0 after the drain (got %d)" % rc)
try:
    get(mport, "/healthz")
    t.fail("metrics port still open after exit")
except (urllib.error.URLError, ConnectionError):
    t.check(True, "metrics port closed after exit")
print("PASS")
