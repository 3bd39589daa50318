"""tokenvaultd says which call failed, on which file, with which errno,
where a store I/O failure reaches the operator (issue 18):

(a) a rotation whose compaction cannot remove a leftover output (a
    directory named like one) logs rotation_failed with a `detail` naming
    unlink, the file and errno 21; once the directory is gone the retry
    completes the rotation by itself;
(b) a SIGUSR1 backup whose directory cannot be made (<data_dir>/backups is
    a regular file) logs backup_failed with a `detail` naming mkdir and
    errno 20;
(c) a start on a store with a segment that cannot be opened (a directory
    in its place) is refused naming open, the segment and errno 21 (no
    meaningless offset)."""
import os
import signal
import subprocess
import time

import tvtest as t
import vaultclient as vc

DATA = t.path("var-io-detail")
STORE = os.path.join(DATA, "store")
BLOCKER = os.path.join(STORE, "cmp-00000000.log")
DEV = ["--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA, "--metrics-listen", ""]
WAIT_S = 60  # hang guard


def pan(n):
    digits = [int(d) for d in "411111%09d" % n]
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def pan_rotation(c):
    for r in c.rotation_status().data_key_rotations:
        if r.namespace == "pan":
            return r
    return None


def wait_event(server, name):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = [ln for ln in server.lines() if ln.get("event") == name]
        if found:
            return found[0]
        time.sleep(0.1)
    t.fail("no %s line within %d s" % (name, WAIT_S))


server = t.Server(*DEV)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    vc.ok_tokens(c.tokenize("pan", [pan(n) for n in range(500)]))

    # (a) rotation_failed carries the failed call
    os.mkdir(BLOCKER)
    c.rotate("pan")
    failed = wait_event(server, "rotation_failed")
    detail = failed.get("detail", "")
    t.check("unlink of cmp-00000000.log failed" in detail and "(errno 21)" in detail,
            "rotation_failed names unlink, the file and the errno (%s)" % failed)
    os.rmdir(BLOCKER)
    deadline = time.monotonic() + WAIT_S
    r = pan_rotation(c)
    while (r is None or r.phase != vc.TV.ROTATION_PHASE_DONE) and time.monotonic() < deadline:
        time.sleep(0.2)
        r = pan_rotation(c)
    t.check(r is not None and r.phase == vc.TV.ROTATION_PHASE_DONE, "the retry completes the rotation (%s)" % r)

    # (b) backup_failed carries the failed call
    with open(os.path.join(DATA, "backups"), "w") as f:
        f.write("not a directory\n")
    os.kill(server.proc.pid, signal.SIGUSR1)
    failed = wait_event(server, "backup_failed")
    detail = failed.get("detail", "")
    t.check(failed.get("error") == "STORE_BACKUP_TARGET" and "mkdir of " in detail and "(errno 20)" in detail,
            "backup_failed names mkdir and the errno (%s)" % failed)
rc, _ = server.terminate(30)
t.check(rc == 0, "clean stop")

# (c) the open error names the call
segs = sorted(f for f in os.listdir(STORE) if f.startswith("seg-") and f.endswith(".log"))
last = int(segs[-1][4:12], 16)
blocked = "seg-%08x.log" % (last + 1)
os.mkdir(os.path.join(STORE, blocked))
p = subprocess.run([t.SERVER, *DEV], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=t.WORK, timeout=60)
err = p.stderr.decode("utf-8", "replace")
named = [ln for ln in err.splitlines() if ("open of %s failed" % blocked) in ln]
t.check(p.returncode != 0 and len(named) == 1 and "(errno 21)" in named[0] and "offset" not in named[0],
        "the refused start names open, %s and the errno, no offset (%s)" % (blocked, err.strip()[-600:]))
print("PASS")
