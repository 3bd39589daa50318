"""Health as a load balancer sees it, for the integration tests that turn a
vault unready and back (readiness, store full): the metrics port a server
logged, /healthz's answer, grpc.health's status, and a bounded wait for a
status to change."""
import time
import urllib.error
import urllib.request

import tvtest as t
import vaultclient as vc


def metrics_port(server):
    deadline = time.monotonic() + t.STARTUP_S
    while time.monotonic() < deadline:
        for line in server.lines():
            if line.get("event") == "metrics_listening":
                return line["port"]
        time.sleep(0.05)
    t.fail("no metrics_listening line: " + server.text())


def healthz(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def health(ch):
    check = t.unary(ch, "/grpc.health.v1.Health/Check", vc.HEALTH.HealthCheckRequest,
                    vc.HEALTH.HealthCheckResponse)
    return check(vc.HEALTH.HealthCheckRequest(service="tokenvault.v1.TokenVault"), timeout=10).status


def wait_health(ch, want, what, wait_s):
    """Polls grpc.health until it answers |want|; fails after |wait_s| (a hang guard)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if health(ch) == want:
            return
        time.sleep(0.2)
    t.fail("health did not turn %s within %d s: %s" % (vc.HEALTH.HealthCheckResponse.ServingStatus.Name(want),
                                                        wait_s, what))
