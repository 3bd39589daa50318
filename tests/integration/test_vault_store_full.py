"""A data-key rotation that runs into a full store disk reports the real
cause (issue 16, P2): the rotation worker's log line, GetRotationStatus
and `tokenvault keys status` say STORE_NO_SPACE (it used to be
ENGINE_DECRYPT, an authentication failure), and the rotation finishes by
itself once space returns.

Health follows the store's disk (issue 16, P4): while it is full
grpc.health says NOT_SERVING and /healthz 503 `NOT_SERVING
STORE_NO_SPACE: ...` (reads still work), and both say SERVING again by
themselves once space is freed, without a restart.

The store directory is a 16 MiB tmpfs mounted by the test (root only;
skipped with exit 77 otherwise), unmounted at exit."""
import atexit
import os
import re
import subprocess
import sys
import time

import tvtest as t
import vaultclient as vc
from health_probe import health, healthz, metrics_port, wait_health

CLI = os.environ.get("TOKENVAULT_CLI", "")
DATA = t.path("var-store-full")
STORE = os.path.join(DATA, "store")
FILLER = os.path.join(STORE, "filler")
VALUES = 12000  # ~2.5 MB of records: more than the store's 1 MiB preallocation
WAIT_S = 60  # hang guard
SERVING = vc.HEALTH.HealthCheckResponse.SERVING
NOT_SERVING = vc.HEALTH.HealthCheckResponse.NOT_SERVING

if os.geteuid() != 0:
    print("skip: mounting a tmpfs for the store needs root")
    sys.exit(77)
os.makedirs(STORE, mode=0o700)
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", STORE]).returncode != 0:
    print("skip: cannot mount a tmpfs here")
    sys.exit(77)


def unmount():
    if subprocess.run(["umount", STORE]).returncode != 0:
        subprocess.run(["umount", "-l", STORE])


atexit.register(unmount)  # runs after the server is killed (atexit is LIFO)


def pan(n):
    digits = [int(d) for d in "411111%09d" % n]
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def fill():
    with open(FILLER, "ab", buffering=0) as f:
        for size in (1 << 20, 65536, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def keys_status(port):
    p = subprocess.run([CLI, "keys", "status", "--dev", "--target", "127.0.0.1:%d" % port], capture_output=True,
                       timeout=60)
    t.check(p.returncode == 0, "keys status answers")
    return p.stdout.decode()


def pan_rotation(c):
    for r in c.rotation_status().data_key_rotations:
        if r.namespace == "pan":
            return r
    return None


server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA, "--metrics-listen", "127.0.0.1:0")
mport = metrics_port(server)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    for first in range(0, VALUES, 1000):
        vc.ok_tokens(c.tokenize("pan", [pan(n) for n in range(first, first + 1000)]))
    t.check(health(ch) == SERVING and healthz(mport) == (200, "SERVING\n"), "SERVING before the disk fills")
    token = c.tokenize("pan", [pan(3)]).results[0].token
    fill()
    wait_health(ch, NOT_SERVING, "store disk full, no client call", WAIT_S)
    code, body = healthz(mport)
    t.check(code == 503 and body.startswith("NOT_SERVING STORE_NO_SPACE: "),
            "/healthz 503 naming STORE_NO_SPACE: %r" % body)
    t.check(c.detokenize("pan", [token], vc.FULL, reason="test").results[0].value == pan(3),
            "reads still work on a full store")
    t.check(health(ch) == NOT_SERVING, "a successful read does not turn health SERVING while the store is full")
    c.rotate("pan")
    deadline = time.monotonic() + WAIT_S
    r = pan_rotation(c)
    while (r is None or r.failed_attempts == 0) and time.monotonic() < deadline:
        time.sleep(0.2)
        r = pan_rotation(c)
    t.check(r is not None and r.failed_attempts >= 1 and r.last_error == "STORE_NO_SPACE",
            "GetRotationStatus: the rotation failed with STORE_NO_SPACE (%s)" % r)
    failed = [line for line in server.lines() if line.get("event") == "rotation_failed"]
    t.check(failed and all(line["error"] == "STORE_NO_SPACE" for line in failed),
            "log: rotation_failed with error STORE_NO_SPACE, never ENGINE_DECRYPT (%s)" % failed[:2])
    if CLI:
        out = keys_status(server.port)
        t.check(re.search(r"^data key pan\tv2\t(retrying|re-encrypting)\trecords \d+/\d+\t"
                          r"failed attempts \d+\tlast error STORE_NO_SPACE$",
                          out, re.M) is not None, "keys status: pan's rotation and its last error: %r" % out)
    os.remove(FILLER)
    wait_health(ch, SERVING, "space freed, no restart", WAIT_S)
    t.check(healthz(mport) == (200, "SERVING\n"), "/healthz 200 again once space is freed")
    down = [line for line in server.lines() if line.get("event") == "vault_not_ready"]
    t.check(down and down[0]["reason"] == "STORE_NO_SPACE", "log: vault_not_ready STORE_NO_SPACE (%s)" % down[:2])
    deadline = time.monotonic() + WAIT_S
    r = pan_rotation(c)
    while r.phase != vc.TV.ROTATION_PHASE_DONE and time.monotonic() < deadline:
        time.sleep(0.3)
        r = pan_rotation(c)
    t.check(r.phase == vc.TV.ROTATION_PHASE_DONE and r.records_done == r.records_total and r.last_error == "",
            "space back: the rotation finishes by itself (%s)" % r)
    if CLI:
        out = keys_status(server.port)
        t.check(re.search(r"^data key pan\tv2\tdone\trecords (\d+)/\1\tcompacted (\d+)/\2 bytes$", out, re.M)
                is not None, "keys status: pan's rotation done: %r" % out)
    back = c.detokenize("pan", [c.tokenize("pan", [pan(7)]).results[0].token], vc.FULL, reason="test")
    t.check(back.results[0].value == pan(7), "values still come back")
rc, _ = server.terminate(30)
t.check(rc == 0, "clean stop")
