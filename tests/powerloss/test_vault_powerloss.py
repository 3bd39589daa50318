"""tokenvaultd against power loss: the data directory (keyring, store,
audit log) on a lossyfs mount. Several clients tokenize; the server is
SIGKILLed mid-load and the power cut (everything not fsynced is gone);
after a restart every acknowledged token must detokenize to its value,
and every call answered must be in the audit log, which must verify.

The server starts for the first time on the mount, so the creation of the
keyring, the store and the audit log is under test too. The HSM token is
made off the mount (the data directory only points at it): an HSM is not
a disk, and SoftHSM2 does not fsync its files (on the mount its counter
and keys could roll back, which no real HSM does)."""
import os
import random
import re
import shutil
import subprocess
import threading
import time

import grpc

import tvtest as t
import vaultclient as vc
from lossyfs_mount import Mount

CLI = os.environ.get("TOKENVAULT_CLI", "")
CLIENTS = 6
ACKS_WANTED = 3000   # acknowledged tokens before the kill
LOAD_S = 30          # hang guard, not a speed check

m = Mount()
DATA = os.path.join(m.path, "var")
HSM = os.path.join(DATA, "hsm")


def make_hsm_off_the_mount():
    """The dev token in WORK; DATA/hsm only points at it (conf, PIN file),
    as tokenvaultd --dev expects."""
    outside = os.path.join(t.WORK, "hsm")
    p = subprocess.run([CLI, "hsm", "init", "--dir", outside], capture_output=True, timeout=60)
    t.check(p.returncode == 0, "tokenvault hsm init off the mount (%s)" % p.stderr.decode().strip())
    os.makedirs(HSM)
    for name in ("softhsm2.conf", "user.pin"):
        shutil.copy2(os.path.join(outside, name), os.path.join(HSM, name))


def luhn_pan(rng):
    body = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
    for d in "0123456789":
        if vc.luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


acked = {}          # token -> value
answered_ids = []   # request ids of tokenize calls answered OK
errors = []
lock = threading.Lock()


def load(port, n):
    rng = random.Random(n)
    with t.insecure_channel(port) as ch:
        c = vc.Client(ch)
        for k in range(100000):
            values = [luhn_pan(rng) for _ in range(8)]
            rid = "pl%d-%06d" % (n, k)
            try:
                resp = c.tokenize("pan", values, request_id=rid)
            except grpc.RpcError as e:
                errors.append(e.code())
                return  # the server is gone
            with lock:
                answered_ids.append(rid)
                for v, r in zip(values, resp.results):
                    if r.status.code == 0:
                        acked[r.token] = v


# Set-up (not under test): the HSM, and the data directory holding only
# the pointer to it, durable. The first start then creates the keyring,
# the store and the audit log on the mount: their creation is under test.
make_hsm_off_the_mount()
m.sync_all()

server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA)
threads = [threading.Thread(target=load, args=(server.port, n)) for n in range(CLIENTS)]
for th in threads:
    th.start()
deadline = time.monotonic() + LOAD_S
while len(acked) < ACKS_WANTED and time.monotonic() < deadline:
    time.sleep(0.02)
server.proc.kill()  # mid-load
server.proc.wait()
for th in threads:
    th.join(10)
t.check(len(acked) >= ACKS_WANTED, "%d clients: %d tokens acknowledged in %d calls before SIGKILL"
        % (CLIENTS, len(acked), len(answered_ids)))
t.check(all(e in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED) for e in errors),
        "in-flight calls failed as the server died (%s)" % set(errors))
syncs = m.stats()
m.power_loss()

server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    items = list(acked.items())
    lost = []
    for i in range(0, len(items), 500):
        chunk = items[i:i + 500]
        resp = c.detokenize("pan", [k for k, _ in chunk], vc.FULL, reason="power loss test")
        lost += [(k, r.status.name) for (k, v), r in zip(chunk, resp.results) if r.value != v]
    t.check(not lost, "after SIGKILL + power cut + restart every acknowledged token resolves to its value "
            "(%d checked, lost %d: %s)" % (len(items), len(lost), lost[:3]))
rc, _ = server.terminate(20)
t.check(rc == 0, "clean stop after the restart")

env = dict(os.environ, SOFTHSM2_CONF=os.path.join(HSM, "softhsm2.conf"))
audit = os.path.join(DATA, "audit")
segs = sorted(os.path.join(audit, f) for f in os.listdir(audit) if f.endswith(".log"))
p = subprocess.run([CLI, "audit", "verify", "--token-label", "tokenvault-dev", "--pin-file",
                    os.path.join(HSM, "user.pin"), *segs], capture_output=True, timeout=60, env=env)
out = p.stdout.decode()
t.check(p.returncode == 0 and ": intact" in out,
        "tokenvault audit verify after the power cut: intact (%s %s)" % (out.strip(), p.stderr.decode().strip()))
text = b"".join(open(s, "rb").read() for s in segs)
missing = [rid for rid in answered_ids if rid.encode() not in text]
t.check(not missing, "every tokenize call answered before the kill is in the audit log (%d; missing %s)"
        % (len(answered_ids), missing[:3]))
t.check(syncs["file_syncs"] > 0 and syncs["dir_syncs"] > 0, "syncs reached lossyfs (%s)" % syncs)
m.close()
print("PASS")
