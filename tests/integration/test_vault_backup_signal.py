"""SIGUSR1 takes an online backup of a running tokenvaultd --dev
(vault/daemon/backup_worker.h) while tokenize calls go on: the daemon
logs backup_done with the path, records and bytes; the directory is
<data_dir>/backups/<UTC time>/ with mode 0700; `tokenvault store
verify-backup` passes; the backup restored into a new data directory
(with the same dev HSM token) resolves every token acknowledged before the
signal; the backup is in the audit log as method Backup by
operator:SIGUSR1, and `tokenvault audit verify` finds the log intact."""
import os
import shutil
import signal
import stat
import subprocess
import threading
import time

import tvtest as t
import vaultclient as vc

CLI = os.environ.get("TOKENVAULT_CLI", "")
DATA = t.path("var-backup-signal")
NEW = t.path("var-backup-restored")


def cli(*args, env=None):
    p = subprocess.run([CLI, *args], capture_output=True, timeout=60, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def start(data):
    return t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", data, "--metrics-listen", "")


def wait_event(server, names, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for ln in server.lines():
            if ln.get("event") in names:
                return ln
        time.sleep(0.05)
    return None


server = start(DATA)
acked = []  # (value, token, monotonic time the answer arrived)
stop = threading.Event()
errors = []


def load():
    """Light load: batches of 10 new values, one after another."""
    with t.insecure_channel(server.port) as ch:
        c = vc.Client(ch)
        i = 0
        while not stop.is_set():
            vals = ["%011d" % (20_000_000_000 + 7919 * (i + k)) for k in range(10)]
            i += 10
            try:
                toks = vc.ok_tokens(c.tokenize("bank_account", vals))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
                return
            now = time.monotonic()
            acked.extend((v, tk, now) for v, tk in zip(vals, toks))
            time.sleep(0.01)


th = threading.Thread(target=load)
th.start()
time.sleep(1.0)
signalled = time.monotonic()
os.kill(server.proc.pid, signal.SIGUSR1)
done = wait_event(server, ("backup_done", "backup_failed"), 60)
time.sleep(0.5)  # calls go on after the backup too
stop.set()
th.join(30)
t.check(not errors, "the load ran without errors during the backup (%s)" % errors[:1])
t.check(done is not None and done["event"] == "backup_done", "backup_done logged (%r)" % done)
before = [(v, tk) for v, tk, when in acked if when < signalled]
t.check(len(before) >= 20 and len(acked) > len(before), "tokens before (%d) and after (%d) the signal"
        % (len(before), len(acked) - len(before)))
path = done["path"]
t.check(os.path.dirname(path) == os.path.join(DATA, "backups") and os.path.basename(path).endswith("Z"),
        "backup under <data_dir>/backups/<UTC time> (%s)" % path)
t.check(stat.S_IMODE(os.stat(path).st_mode) == 0o700, "backup directory is 0700")
t.check(done["records"] >= len(before) and done["bytes"] > 0, "log gives records and bytes (%r)" % done)
t.check(os.path.exists(os.path.join(path, "keyring")), "the keyring is in the backup")
rc, _ = server.terminate(20)
t.check(rc == 0, "server stopped")

rc, out, err = cli("store", "verify-backup", path)
t.check(rc == 0, "verify-backup passes (%s%s)" % (out, err))

# Restore into a new data directory with the same (dev) HSM token.
os.makedirs(NEW, mode=0o700)
shutil.copytree(os.path.join(DATA, "hsm"), os.path.join(NEW, "hsm"))
rc, out, err = cli("store", "restore", path, "--data-dir", NEW)
t.check(rc == 0 and "restored" in out, "restore (%s%s)" % (out, err))
server = start(NEW)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    got = []
    for i in range(0, len(before), 100):
        got += c.detokenize("bank_account", [tk for _, tk in before[i:i + 100]], vc.FULL, reason="backup test").results
t.check([r.value for r in got] == [v for v, _ in before],
        "every token acknowledged before SIGUSR1 resolves after the restore (%d)" % len(before))
rc, _ = server.terminate(20)
t.check(rc == 0, "restored server stopped")

# The backup is audited, and the original log is intact.
hsm = os.path.join(DATA, "hsm")
env = dict(os.environ, SOFTHSM2_CONF=os.path.join(hsm, "softhsm2.conf"))
segs = sorted(os.path.join(DATA, "audit", f) for f in os.listdir(os.path.join(DATA, "audit")) if f.endswith(".log"))
rc, out, err = cli("audit", "verify", "--token-label", "tokenvault-dev", "--pin-file",
                   os.path.join(hsm, "user.pin"), *segs, env=env)
t.check(rc == 0 and ": intact" in out, "tokenvault audit verify: intact (%s%s)" % (out, err))
text = b"".join(open(s, "rb").read() for s in segs)
t.check(b"Backup" in text and b"operator:SIGUSR1" in text, "the backup has an audit line")
print("PASS")
