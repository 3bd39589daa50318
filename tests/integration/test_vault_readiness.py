"""Health follows whether the vault can answer a data call (issue 16, P4
and P5): with the audit log's disk full, also after a restart while full,
and with the HSM's token gone when a checkpoint is due, grpc.health
(Check and Watch) and /healthz say NOT_SERVING with the reason, refused
calls name the fault (AUDIT_NO_SPACE, HSM_...), the server logs the change
of state once, the CLI shows the server's reason without "check that
tokenvaultd runs", and everything returns to SERVING by itself when the
fault clears, without a restart and without client traffic.

The audit directory is a 2 MiB tmpfs mounted by the test (root only;
skipped with exit 77 otherwise), unmounted at exit."""
import atexit
import os
import subprocess
import sys
import threading
import time

import grpc

import tvtest as t
import vaultclient as vc
from health_probe import health, healthz, metrics_port, wait_health

CLI = os.environ.get("TOKENVAULT_CLI", "")
DATA = t.path("var-readiness")
AUDIT = os.path.join(DATA, "audit")
FILLER = os.path.join(AUDIT, "filler")
SERVING = vc.HEALTH.HealthCheckResponse.SERVING
NOT_SERVING = vc.HEALTH.HealthCheckResponse.NOT_SERVING
PAN = "4111111111111111"
WAIT_S = 30  # hang guard for a state change (the probe runs every second)

if os.geteuid() != 0:
    print("skip: mounting a tmpfs for the audit log needs root")
    sys.exit(77)
os.makedirs(AUDIT, mode=0o700)
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", AUDIT]).returncode != 0:
    print("skip: cannot mount a tmpfs here")
    sys.exit(77)


def unmount():
    if subprocess.run(["umount", AUDIT]).returncode != 0:
        subprocess.run(["umount", "-l", AUDIT])


atexit.register(unmount)  # runs after the servers are killed (atexit is LIFO)


def fill():
    """Fills the audit tmpfs to the last byte."""
    with open(FILLER, "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass


def free():
    os.remove(FILLER)


def refused(c):
    """Tokenizes until a call is refused (a page of the audit file may still
    take a line or two); returns the error's details."""
    for i in range(200):
        try:
            c.tokenize("pan", [PAN])
        except grpc.RpcError as e:
            t.check(e.code() == grpc.StatusCode.UNAVAILABLE, "refused with UNAVAILABLE")
            return e.details()
        time.sleep(0.05)
    t.fail("no call was refused")


def events(server, name):
    return [line for line in server.lines() if line.get("event") == name]


class Watcher(threading.Thread):
    """Collects the statuses a Health.Watch stream is sent."""

    def __init__(self, ch):
        super().__init__(daemon=True)
        self.seen = []
        self.stream = ch.unary_stream("/grpc.health.v1.Health/Watch",
                                      request_serializer=vc.HEALTH.HealthCheckRequest.SerializeToString,
                                      response_deserializer=vc.HEALTH.HealthCheckResponse.FromString)(
            vc.HEALTH.HealthCheckRequest(service="tokenvault.v1.TokenVault"), timeout=300)

    def run(self):
        try:
            for resp in self.stream:
                self.seen.append(resp.status)
        except grpc.RpcError:
            pass


def start():
    return t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA, "--metrics-listen", "127.0.0.1:0")


# ---- (a) the audit disk fills up while serving, then space returns ----------
server = start()
mport = metrics_port(server)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    vc.ok_tokens(c.tokenize("pan", [PAN]))
    t.check(health(ch) == SERVING and healthz(mport) == (200, "SERVING\n"), "SERVING at start")
    watcher = Watcher(ch)
    watcher.start()
    fill()
    details = refused(c)
    t.check("AUDIT_NO_SPACE" in details and "HSM" not in details,
            "the refusal names the fault: %r" % details)
    wait_health(ch, NOT_SERVING, "audit disk full", WAIT_S)
    code, body = healthz(mport)
    t.check(code == 503 and body.startswith("NOT_SERVING AUDIT_NO_SPACE"), "/healthz 503 with the reason: %r" % body)
    for _ in range(5):
        try:
            c.tokenize("pan", [PAN])
        except grpc.RpcError:
            pass
    down = events(server, "vault_not_ready")
    t.check(len(down) == 1 and down[0]["reason"] == "AUDIT_NO_SPACE" and down[0]["level"] == "error",
            "the failure is logged once, with its reason, not once per call: %s" % down)
    if CLI:
        p = subprocess.run([CLI, "tokenize", "--dev", "--target", "127.0.0.1:%d" % server.port, "--retries", "0",
                            "--namespace", "pan", PAN], capture_output=True, timeout=60)
        err = p.stderr.decode()
        t.check(p.returncode == 3 and "AUDIT_NO_SPACE" in err and "check --target" not in err,
                "CLI: the server's reason alone, no 'check that tokenvaultd runs' (%r)" % err.strip())
    # Watch streams are sent a change the health poller sees (every
    # 0.5 s): wait for it before the fault clears.
    deadline = time.monotonic() + WAIT_S
    while NOT_SERVING not in watcher.seen and time.monotonic() < deadline:
        time.sleep(0.1)
    free()
    wait_health(ch, SERVING, "space freed, no client call", WAIT_S)
    t.check(healthz(mport) == (200, "SERVING\n"), "/healthz 200 again")
    vc.ok_tokens(c.tokenize("pan", [PAN]))
    deadline = time.monotonic() + WAIT_S  # a change within 1 s of the last line is logged by the next probe
    while not events(server, "vault_ready") and time.monotonic() < deadline:
        time.sleep(0.1)
    up = events(server, "vault_ready")
    t.check(len(up) == 1 and up[0]["was"] == "AUDIT_NO_SPACE" and up[0]["calls_refused"] >= 6,
            "the recovery is logged with the fault and the calls refused: %s" % up)
    deadline = time.monotonic() + WAIT_S
    while watcher.seen[-1:] != [SERVING] or len(watcher.seen) < 3:
        if time.monotonic() > deadline:
            t.fail("Watch was not sent the changes: %s" % watcher.seen)
        time.sleep(0.1)
    t.check(watcher.seen == [SERVING, NOT_SERVING, SERVING], "Watch: SERVING, NOT_SERVING, SERVING")
    watcher.stream.cancel()
with open(os.path.join(AUDIT, sorted(f for f in os.listdir(AUDIT) if f.startswith("audit-"))[-1])) as f:
    t.check('"alert":"audit_resumed"' in f.read(), "the audit log records that it resumed")

# ---- (b) restart while the audit disk is full ---------------------------------
fill()
server.terminate(30)
server = start()  # starts: NOT_SERVING, rather than a crash loop
mport = metrics_port(server)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    wait_health(ch, NOT_SERVING, "started on a full audit disk, before any call", WAIT_S)
    code, body = healthz(mport)
    t.check(code == 503 and "AUDIT_NO_SPACE" in body, "/healthz says why after the restart: %r" % body)
    t.check("AUDIT_NO_SPACE" in refused(c), "calls refused, naming the full disk")
    free()
    wait_health(ch, SERVING, "space freed after a restart while full", WAIT_S)
    vc.ok_tokens(c.tokenize("pan", [PAN]))

# ---- (c) the HSM's token goes away, then comes back ---------------------------
tokens = os.path.join(DATA, "hsm", "tokens")
os.rename(tokens, tokens + ".away")
try:
    with t.insecure_channel(server.port) as ch:
        c = vc.Client(ch)
        # Calls go on until a checkpoint is due (10 s in --dev), then fail.
        deadline = time.monotonic() + WAIT_S
        details = None
        while details is None and time.monotonic() < deadline:
            try:
                c.tokenize("pan", [PAN])
                time.sleep(0.3)
            except grpc.RpcError as e:
                details = e.details()
        t.check(details is not None and "HSM_" in details and "AUDIT_NO_SPACE" not in details,
                "with the HSM token gone the refusal names the HSM: %r" % details)
        wait_health(ch, NOT_SERVING, "HSM gone", WAIT_S)
        code, body = healthz(mport)
        t.check(code == 503 and "HSM_" in body, "/healthz names the HSM: %r" % body)
        os.rename(tokens + ".away", tokens)
        wait_health(ch, SERVING, "HSM token back", WAIT_S)
        vc.ok_tokens(c.tokenize("pan", [PAN]))
finally:
    if os.path.exists(tokens + ".away"):
        os.rename(tokens + ".away", tokens)
rc, _ = server.terminate(30)
t.check(rc == 0, "clean stop after the faults cleared")
