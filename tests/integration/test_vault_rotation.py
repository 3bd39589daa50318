"""tokenvaultd completes data-key rotations by itself (rotation_worker.c).

(a) --dev: a few thousand PANs, RotateDataKey, GetRotationStatus polled
    until DONE (bounded); ListKeys shows version 1 RETIRED, GetTokenInfo
    every token under version 2, every token detokenizes, /metrics shows
    the progress gauges, the audit log holds the CompleteRotation entry of
    system:rotation and `tokenvault audit verify` finds it intact.
(b) crash safety, on a larger set with the rates slowed by the config's
    rotation block: SIGKILL during re-encryption, restart, SIGKILL during
    compaction (version already retired: only the pending file remembers
    the compaction), restart without limits: the rotation completes, no
    token is lost, every one decrypts under the new version, and its
    rotation_completed line and audit entry count all 20 000 records
    moved, not only the last run's (none)."""
import json
import os
import random
import signal
import subprocess
import time
import urllib.request

import tvtest as t
import vaultclient as vc
from health_probe import metrics_port

CLI = os.environ.get("TOKENVAULT_CLI", "")
TV = vc.TV
BATCH = 1000  # the server's items per request


def luhn_complete(body):
    """|body| plus the digit that makes it pass Luhn."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def make_pans(n, seed):
    rng = random.Random(seed)
    out = set()
    while len(out) < n:
        out.add(luhn_complete("4" + "".join(rng.choice("0123456789") for _ in range(14))))
    return sorted(out)


def tokenize_all(c, values):
    tokens = []
    for i in range(0, len(values), BATCH):
        tokens += vc.ok_tokens(c.tokenize("pan", values[i:i + BATCH]))
    return tokens


def pan_rotation(c):
    for r in c.rotation_status().data_key_rotations:
        if r.namespace == "pan":
            return r
    return None


def wait_phase(c, phases, timeout_s, cond=lambda r: True):
    """Polls GetRotationStatus until pan's rotation is in one of |phases|
    and |cond| holds; returns it and every phase seen on the way."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = pan_rotation(c)
        if r is not None:
            if not seen or seen[-1] != r.phase:
                seen.append(r.phase)
            if r.phase in phases and cond(r):
                return r, seen
        time.sleep(0.05)
    t.fail("pan's rotation did not reach %s within %d s (seen %s, last %s)" % (phases, timeout_s, seen, r))


def key_states(c):
    return {k.version: k.state for k in c.list_keys("pan").keys}


def check_all_tokens(c, values, tokens, version, what):
    """Every token detokenizes to its value and is under |version|."""
    for i in range(0, len(tokens), BATCH):
        part = tokens[i:i + BATCH]
        full = c.detokenize("pan", part, vc.FULL, reason="rotation test")
        got = [r.value for r in full.results]
        if got != values[i:i + BATCH]:
            bad = [(j, r.status.name) for j, r in enumerate(full.results) if r.value != values[i + j]][:5]
            t.fail("%s: tokens %d.. do not all detokenize to their values: %s" % (what, i, bad))
        info = c.info("pan", part)
        versions = {r.key_version for r in info.results}
        if versions != {version}:
            t.fail("%s: tokens %d.. under versions %s, not {%d}" % (what, i, versions, version))
    t.check(True, "%s: all %d tokens detokenize to their values, all under version %d" % (what, len(tokens), version))


def audit_lines(data):
    out = []
    adir = os.path.join(data, "audit")
    for name in sorted(os.listdir(adir)):
        if name.endswith(".log"):
            with open(os.path.join(adir, name), "rb") as f:
                for raw in f.read().splitlines():
                    try:
                        out.append(json.loads(raw))
                    except ValueError:
                        pass
    return out


def audit_verify(data):
    hsm = os.path.join(data, "hsm")
    env = dict(os.environ, SOFTHSM2_CONF=os.path.join(hsm, "softhsm2.conf"))
    adir = os.path.join(data, "audit")
    segs = sorted(os.path.join(adir, f) for f in os.listdir(adir) if f.endswith(".log"))
    p = subprocess.run([CLI, "audit", "verify", "--token-label", "tokenvault-dev", "--pin-file",
                        os.path.join(hsm, "user.pin"), *segs], capture_output=True, timeout=60, env=env)
    out = p.stdout.decode()
    t.check(p.returncode == 0 and ": intact" in out, "tokenvault audit verify: intact (%s)" % out.strip())


def completions(data):
    return [e for e in audit_lines(data) if e.get("method") == "CompleteRotation"]


# ---- (a) a rotation completes by itself ------------------------------------
DATA = t.path("var-rotation")
values = make_pans(3000, 1)
server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA, "--metrics-listen", "127.0.0.1:0")
mport = metrics_port(server)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    t.check(pan_rotation(c) is None, "no rotation reported before any RotateDataKey")
    tokens = tokenize_all(c, values)
    t.check({r.key_version for r in c.info("pan", tokens[:100]).results} == {1}, "tokens start under version 1")
    rot = c.rotate("pan")
    t.check(rot.key.version == 2 and rot.key.state == TV.KEY_STATE_ACTIVE, "RotateDataKey: version 2 active")
    done, seen = wait_phase(c, [TV.ROTATION_PHASE_DONE], 60)
    t.check(done.active_version == 2 and done.records_done == 3000 and done.records_total == 3000,
            "GetRotationStatus: DONE, 3000 of 3000 records moved to version 2 (%d/%d)"
            % (done.records_done, done.records_total))
    t.check(done.bytes_total > 0 and done.bytes_done == done.bytes_total,
            "compaction read every segment byte (%d of %d)" % (done.bytes_done, done.bytes_total))
    t.check(done.failed_attempts == 0 and done.last_error == "" and done.finished_at_unix_ms > 0,
            "no failed attempt, a finish time")
    t.check(TV.ROTATION_PHASE_RETRYING not in seen, "phases seen: %s" % seen)
    t.check(key_states(c) == {1: TV.KEY_STATE_RETIRED, 2: TV.KEY_STATE_ACTIVE},
            "ListKeys: version 1 RETIRED, version 2 ACTIVE")
    check_all_tokens(c, values, tokens, 2, "after the rotation")
    more = tokenize_all(c, make_pans(10, 2))
    t.check({r.key_version for r in c.info("pan", more).results} == {2}, "new tokens are under version 2")
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
        body = r.read().decode()
    for sample in ('tokenvault_rotation_phase{namespace="pan"} 4', 'tokenvault_rotation_records_done{namespace="pan"} 3000',
                   'tokenvault_rotation_records_total{namespace="pan"} 3000',
                   'tokenvault_rotation_failed_attempts{namespace="pan"} 0'):
        t.check(sample in body.splitlines(), "/metrics: " + sample)
    t.check("# TYPE tokenvault_rotation_bytes_done gauge" in body, "/metrics: rotation gauges are typed")
    t.check('tokenvault_rotation_phase{namespace="iban"}' not in body, "/metrics: namespaces never rotated are not listed")
rc, took = server.terminate(30)
t.check(rc == 0, "SIGTERM exits 0 (%.1f s)" % took)
entries = completions(DATA)
t.check(len(entries) == 1, "one CompleteRotation audit entry (%d)" % len(entries))
e = entries[0]
t.check(e.get("principal") == "system:rotation" and e.get("ns") == "pan" and e.get("items") == 3000
        and e.get("outcome") == "OK", "audit: system:rotation, pan, 3000 records, OK (%s)" % e)
audit_verify(DATA)
t.check(not os.path.exists(os.path.join(DATA, "rotation-pending")), "nothing left pending")

# ---- (b) SIGKILL during re-encryption and during compaction ----------------
DATA = t.path("var-rotation-crash")
CONFIG = t.path("rotation.yaml")
BASE = """listen: 127.0.0.1:7443
data_dir: /nonexistent/not-used
hsm: {module: /nonexistent/not-used.so, token_label: nope, pin_env: NOPE}
audit: {dir: /nonexistent/not-used, checkpoint_interval: 5s}
namespaces:
  - {name: pan, format: {kind: pan, luhn: invalid}, convergent: true}
roles:
  - name: dev
    permissions:
      - {namespace: pan, allow: [tokenize, 'detokenize:masked', 'detokenize:full']}  # masked: GetTokenInfo
      - {namespace: '*', allow: ['keys:read', 'keys:rotate']}
principals:
  - {name: "dev:local", roles: [dev]}
"""
SLOW = BASE + "rotation: {reencrypt_records_per_s: 3000, compact_bytes_per_s: 1048576}\n"


def start(config_text):
    with open(CONFIG, "w") as f:
        f.write(config_text)
    return t.Server("--dev", "--config", CONFIG, "--listen", "127.0.0.1:0", "--data-dir", DATA)


def sigkill(server):
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=10)


big = make_pans(20000, 3)
server = start(SLOW)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    big_tokens = tokenize_all(c, big)
    t.check(c.rotate("pan").key.version == 2, "rotated: version 2")
    r, _ = wait_phase(c, [TV.ROTATION_PHASE_REENCRYPTING], 60, lambda r: 0 < r.records_done < r.records_total)
    t.check(r.records_total == 20000, "mid-re-encryption: %d of %d moved" % (r.records_done, r.records_total))
sigkill(server)
t.check(True, "SIGKILL during re-encryption")

server = start(SLOW)
t.check(any(line.get("event") == "rotation_resumed" and line.get("namespace") == "pan" for line in server.lines()),
        "restart: the unfinished rotation of pan is resumed")
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    r, _ = wait_phase(c, [TV.ROTATION_PHASE_COMPACTING], 60, lambda r: 0 < r.bytes_done < r.bytes_total)
    t.check(0 < r.records_total < 20000 and r.records_done == r.records_total,
            "resumed run moved only what was left (%d)" % r.records_done)
    t.check(key_states(c) == {1: TV.KEY_STATE_RETIRED, 2: TV.KEY_STATE_ACTIVE},
            "re-encryption done: version 1 retired before compaction")
sigkill(server)
t.check(os.path.exists(os.path.join(DATA, "rotation-pending")), "SIGKILL during compaction: pending file kept")

server = start(BASE)
t.check(any(line.get("event") == "rotation_resumed" and line.get("namespace") == "pan" for line in server.lines()),
        "restart: the unfinished compaction is resumed from the pending file")
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    done, _ = wait_phase(c, [TV.ROTATION_PHASE_DONE], 60)
    t.check(done.last_error == "" and done.bytes_total > 0 and done.bytes_done == done.bytes_total,
            "compaction completed after the second crash")
    check_all_tokens(c, big, big_tokens, 2, "after two crashes")
    t.check(key_states(c) == {1: TV.KEY_STATE_RETIRED, 2: TV.KEY_STATE_ACTIVE}, "ListKeys: 1 RETIRED, 2 ACTIVE")
moved = [line.get("records_moved") for line in server.lines() if line.get("event") == "rotation_completed"]
t.check(moved == [20000], "rotation_completed counts the whole rotation over its three runs: %s" % moved)
rc, took = server.terminate(30)
t.check(rc == 0, "SIGTERM exits 0 (%.1f s)" % took)
t.check(not os.path.exists(os.path.join(DATA, "rotation-pending")), "nothing left pending")
entries = completions(DATA)
t.check([x.get("items") for x in entries] == [20000], "the audit entry counts the whole rotation too")
t.check([(x.get("outcome"), x.get("principal"), x.get("ns")) for x in entries] == [("OK", "system:rotation", "pan")],
        "audit: one CompleteRotation entry, OK; the two killed runs left none (%s)" % entries)
audit_verify(DATA)
