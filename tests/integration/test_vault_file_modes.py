"""Careless permissions are refused, at start and on SIGHUP
(vault/daemon/file_modes.h): a config, PIN file or TLS key that others can
write is refused whatever the flags; a PIN file or TLS key readable by
others, or a data/store/audit directory writable by others, is refused
unless --allow-insecure-permissions (then started with an error line).
Each refusal names the file and its mode. A config made world-writable
after the start is refused on SIGHUP and the old policy stays. Files the
vault creates are 0600 and its directories 0700 even under umask 000."""
import os
import signal
import subprocess
import time

import grpc

import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

DATA = t.path("var-modes")
PIN = pc.make_hsm()
pc.make_pki()
CONFIG = t.path("modes.yaml")
pc.write_config(CONFIG, pc.config_text(DATA, PIN))
os.chmod(CONFIG, 0o644)
KEY = t.path("server.key")
BASE = ["--config", CONFIG, "--listen", "127.0.0.1:0"]
# Group bits count only for a group other than the vault's own (the test's
# files belong to its own group when it runs as root).
WORLD_WRITABLE = "writable by group and others" if os.stat(CONFIG).st_gid != os.getegid() else "writable by others"
CRM, STRANGER = "spiffe://example.org/crm", "spiffe://example.org/stranger"


def start_refused(what, extra_args=()):
    """Runs tokenvaultd, expects exit 2; returns its stderr."""
    try:
        p = subprocess.run([t.SERVER, *BASE, "--init", *extra_args], capture_output=True, timeout=30, cwd=t.WORK)
    except subprocess.TimeoutExpired:
        t.fail("%s: tokenvaultd started (still running after 30 s) instead of refusing" % what)
    err = p.stderr.decode()
    t.check(p.returncode == 2, "%s: start refused with exit 2 (got %d)" % (what, p.returncode))
    return err


def expect_refusal(what, path, mode, problem, chmod_path=None, overridable=False):
    target = chmod_path or path
    old = os.stat(target).st_mode & 0o7777
    os.chmod(target, mode)
    err = start_refused(what)
    want = "%s is mode %04o: %s" % (path, mode, problem)
    t.check('"event": "permissions"' in err and want in err, "%s: the message names the file and mode (%s)" %
            (what, want))
    if overridable:
        t.check("--allow-insecure-permissions" in err, "%s: the message names the escape hatch" % what)
        s = t.Server(*BASE, "--init", "--allow-insecure-permissions")
        lines = [l for l in s.lines() if l.get("event") == "insecure_permissions"]
        t.check(lines and want in lines[0].get("problem", "") and lines[0].get("level") == "error",
                "%s: --allow-insecure-permissions starts, with an error line naming it" % what)
        rc, _ = s.terminate(30)
        t.check(rc == 0, "%s: clean exit" % what)
    else:
        err = start_refused(what + " with --allow-insecure-permissions", ["--allow-insecure-permissions"])
        t.check(want in err, "%s: no flag overrides it" % what)
    os.chmod(target, old)


# Never started yet: the data directory does not exist (created 0700 later).
expect_refusal("world-writable config", CONFIG, 0o666, WORLD_WRITABLE)
expect_refusal("config writable by others", CONFIG, 0o646, "writable by others")
expect_refusal("world-writable PIN file", PIN, 0o606, "writable by others")
expect_refusal("world-readable PIN file", PIN, 0o644, "readable by others", overridable=True)
expect_refusal("world-readable TLS key", KEY, 0o644, "readable by others", overridable=True)
expect_refusal("group-readable TLS key (foreign group)", KEY, 0o640, "readable by its group", overridable=True) \
    if os.stat(KEY).st_gid != os.getegid() else None
expect_refusal("world-writable TLS certificate", t.path("server.crt"), 0o666, WORLD_WRITABLE)
expect_refusal("world-writable client CA", t.path("ca.crt"), 0o646, "writable by others")

# The data, store and audit directories now exist.
s = t.Server(*BASE, "--init")
s.terminate(30)
expect_refusal("world-writable data_dir", DATA, 0o777, WORLD_WRITABLE, overridable=True)
expect_refusal("world-writable store directory", os.path.join(DATA, "store"), 0o777,
               WORLD_WRITABLE, overridable=True)
expect_refusal("world-writable audit directory", os.path.join(DATA, "audit"), 0o757, "writable by others",
               overridable=True)

# SIGHUP: a config others can write is refused, the old policy stays.
server = t.Server(*BASE)
stranger = vc.Client(pc.channel(server.port, STRANGER))


def stranger_code():
    try:
        stranger.tokenize("pan", ["4111111111111111"])
        return grpc.StatusCode.OK
    except grpc.RpcError as e:
        return e.code()


t.check(stranger_code() == grpc.StatusCode.PERMISSION_DENIED, "the stranger has no permission")
granted = pc.config_text(DATA, PIN) + '  - {name: "%s", roles: [crm]}\n' % STRANGER
with open(CONFIG, "w") as f:  # an attacker's edit in place
    f.write(granted)
os.chmod(CONFIG, 0o666)


def hup_and_wait(event):
    before = len([l for l in server.lines() if l.get("event") == event])
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = [l for l in server.lines() if l.get("event") == event]
        if len(got) > before:
            return got[-1]
        time.sleep(0.05)
    t.fail("no %s line within 10 s of SIGHUP: %s" % (event, server.text()[-2000:]))


line = hup_and_wait("reload_policy_refused")
t.check("%s is mode 0666: %s" % (CONFIG, WORLD_WRITABLE) in line.get("reason", ""),
        "SIGHUP with a world-writable config is refused, naming file and mode (%s)" % line.get("reason"))
t.check(stranger_code() == grpc.StatusCode.PERMISSION_DENIED, "the old policy stays: still no permission")
os.chmod(CONFIG, 0o644)
hup_and_wait("reload_policy")
t.check(stranger_code() == grpc.StatusCode.OK, "once the file is 0644 the same reload is accepted")

# SIGHUP: a TLS key made world-readable is refused (the old one stays).
os.chmod(KEY, 0o644)
line = hup_and_wait("reload_tls_refused")
t.check("%s is mode 0644: readable by others" % KEY in line.get("reason", ""),
        "SIGHUP with a world-readable TLS key is refused (%s)" % line.get("reason"))
os.chmod(KEY, 0o600)
rc, _ = server.terminate(30)
t.check(rc == 0, "clean exit")

# What the vault creates is private whatever the umask.
old_umask = os.umask(0)
try:
    dev_dir = t.path("dev-umask0")
    dev = t.Server("--dev", "--data-dir", dev_dir, "--listen", "127.0.0.1:0")
finally:
    os.umask(old_umask)
vc.Client(t.insecure_channel(dev.port)).tokenize("pan", ["4111111111111111"])
dev.terminate(30)
loose = []
for root, dirs, files in os.walk(dev_dir):
    for name in dirs + files:
        p = os.path.join(root, name)
        st = os.lstat(p)
        if os.path.islink(p):
            continue
        limit = 0o700 if os.path.isdir(p) else 0o600
        if st.st_mode & 0o7777 & ~limit:
            loose.append("%s %04o" % (os.path.relpath(p, dev_dir), st.st_mode & 0o7777))
t.check(not loose, "under umask 000 the vault creates files 0600 and directories 0700 (loose: %s)" % loose[:8])
