"""deploy/fleet.sh end to end, from the source tree, with this build's
binaries (TV_FLEET_BUILD_DIR: no install, no build), in a private
directory on free ports: a PostgreSQL primary and synchronous standby, two
tokenvaultd nodes, the failover story. Checks the story from its output
and files, that no secret (HSM PIN, database password, private key) is
printed, written into a config or passed on a command line; then --stop
(nothing of it left running), a rerun (everything reused, the old primary
rebuilt as the standby, the failover the other way), --stop again, and the
refusals of bad use."""
import atexit
import os
import random
import re
import signal
import socket
import subprocess

import tvtest as t

SOURCE = os.environ["TV_SOURCE_DIR"]
BUILD = os.environ["TV_FLEET_BUILD_DIR"]
SCRIPT = os.path.join(SOURCE, "deploy", "fleet.sh")
RUN_S = 180  # one run takes 20-40 s on the loaded CI machine
SAMPLE = os.path.join(SOURCE, "tests", "data", "sample_customers.csv")

# As root the script runs PostgreSQL as the postgres user, which must
# walk through WORK (mkdtemp makes it 0700) to the fleet's directory.
os.chmod(t.WORK, 0o711)
DIR = t.path("fleet")
ENV = dict(os.environ, TV_FLEET_BUILD_DIR=BUILD)
ENV.pop("TV_FLEET_PORT", None)


def free_port_base():
    """A first port whose next three are free too."""
    for _ in range(100):
        base = random.randrange(20000, 60000)
        try:
            socks = []
            for p in range(base, base + 4):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    t.fail("no four consecutive free ports")


def fleet(*args):
    p = subprocess.run(["bash", SCRIPT, *args], cwd=SOURCE, env=ENV, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=RUN_S)
    return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")


def fleet_processes():
    """Every process started for DIR: tokenvaultd naming its config there,
    PostgreSQL servers (the postmaster names its data directory; its
    children do not, but work in it)."""
    found = []
    for pid in (int(d) for d in os.listdir("/proc") if d.isdigit()):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            cwd = os.readlink("/proc/%d/cwd" % pid)
        except OSError:
            continue
        if DIR + "/" in cmdline or cwd.startswith(DIR + "/"):
            found.append((pid, cmdline.strip()))
    return found


def kill_leftovers():
    subprocess.run(["bash", SCRIPT, "--stop", DIR], env=ENV, capture_output=True, timeout=RUN_S)
    for pid, _ in fleet_processes():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


atexit.register(kill_leftovers)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def secrets():
    """The fleet's secrets: the HSM PIN, the database password, the private keys."""
    pin = read(os.path.join(DIR, "hsm", "user.pin")).decode().strip()
    password = read(os.path.join(DIR, "secrets", "pgpass")).decode().strip().rsplit(":", 1)[1]
    if len(pin) < 4 or len(password) < 32:
        t.fail("no HSM PIN or no random database password")
    keys = [read(os.path.join(DIR, "certs", n)).decode() for n in os.listdir(os.path.join(DIR, "certs"))
            if n.endswith(".key")]
    key_lines = [line for k in keys for line in k.splitlines() if line and not line.startswith("-----")]
    return [pin, password] + key_lines


def run_failed(out):
    print(out)
    for log in ("node-a.log", "node-b.log"):
        path = os.path.join(DIR, "log", log)
        if os.path.exists(path):
            print("-- %s (last lines):\n%s" % (log, "\n".join(read(path).decode("utf-8", "replace").splitlines()[-15:])))


def check_run(out, run, primary_before, port):
    """The story of run |run| (1-based), whose primary was |primary_before|."""
    after = "b" if primary_before == "a" else "a"
    for heading in ("== 1.", "== 2. the primary (server %s) dies" % primary_before,
                    "== 3. the standby (server %s) is promoted" % after, "== 4.", "== where things are"):
        t.check(heading in out, "run %d: the story shows %r" % (run, heading))
    t.check("using the binaries already built in " + BUILD in out, "run %d: TV_FLEET_BUILD_DIR honoured" % run)
    sample = read(SAMPLE)
    story = os.path.join(DIR, "story")
    for name in ("cards.revealed-b.csv", "cards.revealed-a.csv", "ibans.revealed-b.csv", "ssns.revealed-a.csv"):
        t.check(read(os.path.join(story, name)) == sample, "run %d: %s equals the sample file" % (run, name))
    cards = read(os.path.join(story, "cards.tokens.csv")).decode().splitlines()
    t.check(len(cards) == len(sample.decode().splitlines()) and "4111 1111 1111 1111" not in "\n".join(cards),
            "run %d: the card column holds tokens only" % run)
    t.check(out.count("UNAVAILABLE") >= 1 and "NOT_SERVING STORE_UNAVAILABLE" in out,
            "run %d: during the outage calls fail UNAVAILABLE and /healthz says NOT_SERVING" % run)
    m = re.search(r"both nodes serve again (\d+) ms after the promotion", out)
    t.check(m is not None, "run %d: both nodes serve again after the promotion (%s ms)" % (run, m and m.group(1)))
    failovers = re.findall(r"node [ab] /metrics: .*tokenvault_db_failovers_total (\d+)", out)
    t.check(len(failovers) == 2 and all(int(f) >= 1 for f in failovers),
            "run %d: each node's /metrics counts the failover it saw (%s)" % (run, failovers))
    t.check(read(os.path.join(DIR, "pg", "primary")).decode().strip() == after,
            "run %d: server %s is the primary now" % (run, after))
    old_primary = os.path.join(DIR, "pg", primary_before, "data")
    t.check("synchronous_standby_names = 'pg_%s'" % after in read(os.path.join(old_primary, "fleet_sync.conf")).decode()
            and "synchronous_commit = on" in read(os.path.join(old_primary, "postgresql.conf")).decode(),
            "run %d: the primary that died committed synchronously to server %s" % (run, after))
    t.check("127.0.0.1:%d" % port in out and "deploy/fleet.sh --stop " + DIR in out and "node-a.yaml" in out,
            "run %d: ends by saying where things are and how to stop" % run)
    hidden = secrets()
    leaked = [s[:4] + "..." for s in hidden if s in out]
    t.check(not leaked, "run %d: no secret printed (PIN, database password, private keys) %s" % (run, leaked))
    for node in ("a", "b"):
        conf = os.path.join(DIR, "config", "node-%s.yaml" % node)
        text = read(conf).decode()
        t.check(os.stat(conf).st_mode & 0o077 == 0 and not any(s in text for s in hidden)
                and "target_session_attrs=read-write" in text and "password_file:" in text,
                "run %d: node %s's config (0600) names both servers and the password file, holds no secret"
                % (run, node))
    argv_leaks = [pid for pid, cmd in fleet_processes() if any(s in cmd for s in hidden)]
    t.check(not argv_leaks, "run %d: no secret on any fleet process's command line" % run)
    nodes = [cmd for _, cmd in fleet_processes() if "tokenvaultd" in cmd]
    t.check(len(nodes) == 2, "run %d: two tokenvaultd nodes keep running in the background" % run)


def check_nothing_left():
    left = fleet_processes()
    t.check(not left, "--stop: no process of the fleet is left %s" % left[:3])


port = free_port_base()
rc, out = fleet(DIR, "--port", str(port))
if rc != 0:
    run_failed(out)
t.check(rc == 0, "fleet.sh run 1 in %s on ports %d..%d: exit 0" % (DIR, port, port + 3))
t.check("first start: node a --init" in out and "initdb" in out, "run 1: database, schema and keyring created")
check_run(out, 1, "a", port)

rc, out = fleet("--stop", DIR)
t.check(rc == 0 and "stopped tokenvaultd a" in out and "stopped tokenvaultd b" in out
        and "stopped PostgreSQL server b" in out, "--stop: stops both nodes and the running database server")
check_nothing_left()
rc, out = fleet("--stop", DIR)
t.check(rc == 0 and "nothing of the fleet is running" in out, "--stop again: nothing to stop, exit 0")

rc, out = fleet(DIR, "--port", str(port))
if rc != 0:
    run_failed(out)
t.check(rc == 0, "rerun after --stop: exit 0")
t.check("first start" not in out and "initdb" not in out and "already there" in out
        and "server a: a fresh base backup of b" in out,
        "rerun: token, PKI, database and keyring reused; the old primary rebuilt as the standby")
check_run(out, 2, "b", port)
rc, out = fleet("--stop", DIR)
t.check(rc == 0, "--stop after the rerun: exit 0")
check_nothing_left()

nowhere = t.path("no-fleet-here")
rc, out = fleet("--stop", nowhere)
t.check(rc == 0 and "nothing of the fleet is running" in out and not os.path.exists(nowhere),
        "--stop of a directory without a fleet: nothing to stop, exit 0, nothing created")
rc, out = fleet(DIR, "--port", "0")
t.check(rc == 1 and "bad port" in out, "--port 0: refused")
rc, out = fleet("--bogus")
t.check(rc == 2 and "fleet.sh --stop" in out, "unknown option: exit 2 with the usage")
