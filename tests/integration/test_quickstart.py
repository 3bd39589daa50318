"""deploy/quickstart.sh end to end, as CI runs it: in a throw-away copy of
the repository (the files git knows, tracked or new), with the binaries
already built (TV_QUICKSTART_BUILD_DIR, so it neither installs nor builds),
on a free port. Checks every step of the story from its output and its
files, reruns it (same tokens, server restarted cleanly), then the refusals
of bad use (busy port, bad port, unknown option) and --stop."""
import atexit
import csv
import os
import re
import shutil
import signal
import socket
import subprocess

import tvtest as t

SOURCE = os.environ["TV_SOURCE_DIR"]
BUILD = os.environ["TV_QUICKSTART_BUILD_DIR"]
RUN_S = 120  # one run of the story takes a few seconds

SENSITIVE = ["card_number", "iban", "ssn", "tw_national_id", "cn_resident_id", "de_tax_id"]


def repo_files():
    """The repository's files: git's list (tracked and new, not ignored),
    else (no git, e.g. an exported tarball) what the quickstart reads."""
    try:
        out = subprocess.run(["git", "-C", SOURCE, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], capture_output=True, check=True, timeout=60).stdout
        return [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.SubprocessError):
        files = []
        for top in ("deploy", os.path.join("tests", "data")):
            for d, _, names in os.walk(os.path.join(SOURCE, top)):
                files += [os.path.relpath(os.path.join(d, n), SOURCE) for n in names]
        return files


def copy_repo(dest):
    for rel in repo_files():
        src = os.path.join(SOURCE, rel)
        if not os.path.isfile(src):  # listed by git but deleted in the working tree
            continue
        os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REPO = t.path("repo")
copy_repo(REPO)
t.check(os.access(os.path.join(REPO, "deploy", "quickstart.sh"), os.R_OK)
        and os.path.isfile(os.path.join(REPO, "deploy", "config", "tokenvault.quickstart.yaml")),
        "throw-away copy of the repository made (%s)" % REPO)
VAR = os.path.join(REPO, "var")
STORY = os.path.join(VAR, "quickstart")
PID_FILE = os.path.join(VAR, "tokenvaultd.pid")
ENV = dict(os.environ, TV_QUICKSTART_BUILD_DIR=BUILD)
ENV.pop("TV_QUICKSTART_PORT", None)


def quickstart(*args):
    p = subprocess.run(["bash", os.path.join(REPO, "deploy", "quickstart.sh"), *args], cwd=REPO, env=ENV,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=RUN_S)
    return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")


def server_pid():
    try:
        with open(PID_FILE) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


def is_tokenvaultd(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"tokenvaultd" in f.read()
    except OSError:
        return False


def kill_leftover():
    pid = server_pid()
    if pid and is_tokenvaultd(pid):
        os.kill(pid, signal.SIGKILL)


atexit.register(kill_leftover)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


SAMPLE = os.path.join(REPO, "tests", "data", "sample_customers.csv")
original = read_csv(SAMPLE)
t.check(len(original) == 20 and all(c in original[0] for c in SENSITIVE), "sample data: 20 customers")


def check_story(out, run):
    """The story's output and files after run |run| (1 or 2)."""
    t.check("== 1." in out and "== 5." in out and "== where things are" in out, "run %d: every step shown" % run)
    t.check("building" in out and "using the binaries already built in " + BUILD in out,
            "run %d: TV_QUICKSTART_BUILD_DIR honoured (no build)" % run)
    pin = read_bytes(os.path.join(VAR, "hsm", "user.pin")).decode().strip()
    t.check(len(pin) >= 4 and pin not in out, "run %d: the HSM PIN is never printed" % run)

    crm = read_csv(os.path.join(STORY, "customers.crm.csv"))
    t.check(len(crm) == len(original), "run %d step 1: the CRM copy has every row" % run)
    clear = [(o["customer_id"], c) for o, r in zip(original, crm) for c in SENSITIVE if o[c] and o[c] == r[c]]
    t.check(not clear, "run %d step 1: no sensitive value left in clear in the CRM copy %s" % (run, clear[:3]))
    emptied = [(o["customer_id"], c) for o, r in zip(original, crm) for c in SENSITIVE if bool(o[c]) != bool(r[c])]
    t.check(not emptied, "run %d step 1: every sensitive value has a token, empty cells stay empty" % run)
    other = [c for c in original[0] if c not in SENSITIVE]
    t.check(all(o[c] == r[c] for o, r in zip(original, crm) for c in other),
            "run %d step 1: the other columns are untouched" % run)
    pans = [(o["card_number"], r["card_number"]) for o, r in zip(original, crm)]
    t.check(all(len(a) == len(b) and a[:6] == b[:6] and a[-4:] == b[-4:] for a, b in pans),
            "run %d step 1: card tokens keep the length, first 6 and last 4" % run)
    t.check("original -> token" in out and "%s -> %s" % pans[0] in " ".join(out.split()),
            "run %d step 1: shown side by side" % run)

    t.check("PERMISSION_DENIED" in out and "crm.example.org" in out and "exit status 4 " in out,
            "run %d step 2: the CRM is refused full values (PERMISSION_DENIED, exit 4)" % run)
    masked = read_csv(os.path.join(STORY, "customers.masked.csv"))
    t.check(all("*" in m[c] and m[c] != o[c] for o, m in zip(original, masked) for c in SENSITIVE if o[c]),
            "run %d step 2: the CRM sees masked values only" % run)
    t.check(all(m["card_number"][-4:] == o["card_number"][-4:] for o, m in zip(original, masked)),
            "run %d step 2: masked cards show the last 4 digits" % run)

    t.check("FAILED_PRECONDITION: POLICY_REASON_REQUIRED: 'finance.example.org'" in out,
            "run %d step 3: finance without a reason is refused (require_reason)" % run)
    sample = read_bytes(SAMPLE)
    t.check(read_bytes(os.path.join(STORY, "customers.finance.csv")) == sample,
            "run %d step 3: finance's bulk detokenisation equals the original file" % run)
    t.check("approved by officer-b.example.org" in out and "proposed by officer-a.example.org" in out,
            "run %d step 4: officer A proposes the KEK rotation, officer B approves" % run)
    t.check("kek v%d\tdata keys pending rewrap: 0" % (run + 1) in out,
            "run %d step 4: the KEK is at version %d, every data key rewrapped" % (run, run + 1))
    t.check("pan\tv%d\tactive" % (run + 1) in out, "run %d step 4: the pan data key rotated" % run)
    t.check(read_bytes(os.path.join(STORY, "customers.after-rotation.csv")) == sample,
            "run %d step 4: every token still detokenizes after the rotations" % run)
    audit = out[out.index("== 5."):]
    m = re.search(r"checkpoints (\d+)\), last seq (\d+)", audit)
    sealed = re.search(r"every checkpoint MAC verified by the HSM; last checkpoint seq (\d+), HSM counter (\d+)",
                       audit)
    t.check(": intact" in audit and m and sealed and int(m.group(1)) >= run and sealed.group(1) == sealed.group(2)
            and int(sealed.group(1)) > 0 and not re.search(r"unsealed: [1-9]", audit),
            "run %d step 5: the audit log verifies intact with the HSM, the story sealed by a checkpoint" % run)

    pid = server_pid()
    t.check(pid > 0 and is_tokenvaultd(pid), "run %d: tokenvaultd runs in the background (pid %d)" % (run, pid))
    t.check("deploy/quickstart.sh --stop" in out and PID_FILE in out and "tokenvaultd.log" in out,
            "run %d: ends by saying where things are and how to stop" % run)
    return crm, pid


port = free_port()
rc, out = quickstart("--port", str(port))
if rc != 0:
    print(out)
t.check(rc == 0, "quickstart run 1 on port %d: exit 0" % port)
t.check("first start: --init" in out, "run 1: the keyring is created on the first start")
crm1, pid1 = check_story(out, 1)

rc, out = quickstart("--port", str(port))
if rc != 0:
    print(out)
t.check(rc == 0, "quickstart rerun: exit 0")
t.check("already there: reusing it" in out and "first start" not in out and "issued:" not in out,
        "rerun: the HSM token, keyring and certificates are reused")
t.check("restarting it" in out and not is_tokenvaultd(pid1), "rerun: the old server was stopped (pid %d)" % pid1)
crm2, pid2 = check_story(out, 2)
t.check(crm1 == crm2, "rerun: the same tokens (convergent namespaces, same keys)")

rc, out = quickstart("--stop")
t.check(rc == 0 and "stopped" in out and not is_tokenvaultd(pid2) and not os.path.exists(PID_FILE),
        "--stop: the server is gone, the pid file removed")
log = read_bytes(os.path.join(VAR, "log", "tokenvaultd.log")).decode("utf-8", "replace")
t.check(log.count('"event": "vault_closed"') == 2 and "Sanitizer" not in log and "runtime error" not in log,
        "both servers closed the vault cleanly, no sanitizer report in the server log")
rc, out = quickstart("--stop")
t.check(rc == 0 and "no quickstart tokenvaultd is running" in out, "--stop again: nothing to stop, exit 0")

pin_path = os.path.join(VAR, "hsm", "user.pin")
pin = read_bytes(pin_path)
with open(pin_path, "wb") as f:
    f.write(b"00000000\n")
rc, out = quickstart("--port", str(free_port()))
with open(pin_path, "wb") as f:
    f.write(pin)
t.check(rc == 1 and "tokenvaultd exited at start" in out and "tokenvaultd.log" in out and server_pid() == 0
        and "== 1." not in out, "a server that cannot start (wrong HSM PIN): said at once, with the log")

with socket.socket() as busy:
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    rc, out = quickstart("--port", str(busy.getsockname()[1]))
t.check(rc == 1 and "already listens" in out and "--port" in out and server_pid() == 0,
        "a busy port: refused before starting (gRPC would share it silently), says --port")
rc, out = quickstart("--port", "0")
t.check(rc == 1 and "bad port" in out, "--port 0: refused")
rc, out = quickstart("--bogus")
t.check(rc == 2 and "quickstart.sh --stop" in out, "unknown option: exit 2 with the usage")
