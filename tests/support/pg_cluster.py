#!/usr/bin/env python3
"""A private PostgreSQL server for tests: initdb into a temporary
directory, a Unix socket in that directory (no TCP listener), its own port
number, a `tokenvault` database and role; stopped and removed at exit, on
failure and on SIGTERM/SIGINT. Never touches a system-wide database.

As a library:

    with PgCluster() as pg:
        pg.conninfo        # "host=DIR port=N dbname=tokenvault user=tokenvault"
        pg.stop(); pg.start()
        pg.sql("SELECT 1")

As a wrapper for a C test (ctest):

    python3 tests/support/pg_cluster.py --run -- ./test_pg_store

runs the command with TV_TEST_PG_CONNINFO set, plus TV_TEST_PG_STOP and
TV_TEST_PG_START (shell commands that stop and restart this server) and
TV_TEST_PG_SQL (a shell command prefix running the SQL given as its last
argument as the database owner), and exits with the command's status.

STANDBY MODE (--run --standby): a primary plus a synchronous streaming
standby (pg_basebackup -R; synchronous_commit = on and
synchronous_standby_names = '*' on the primary, so a commit is
acknowledged only once the standby has it), each with its own socket
directory and port. TV_TEST_PG_CONNINFO then names both hosts
(host=A,B port=PA,PB ... target_session_attrs=read-write);
TV_TEST_PG_STANDBY_CONNINFO / TV_TEST_PG_PRIMARY_CONNINFO name the standby
and the primary alone (as they were at start), and three shell commands
move the roles:

    TV_TEST_PG_KILL_PRIMARY  SIGKILL of the primary's postmaster and its
                             processes (a machine crash)
    TV_TEST_PG_PROMOTE       pg_ctl promote of the standby; it commits
                             alone (degraded) until ...
    TV_TEST_PG_REBUILD       ... the other node, killed or stopped, is made
                             a new synchronous standby of the new primary
                             from a fresh base backup, at its old address

so a test can fail over, rebuild and fail back as often as it likes.
TV_TEST_PG_STOP_STANDBY / TV_TEST_PG_START_STANDBY stop and start the
standby (reads from a standby, issue 11; while it is down the primary's
commits wait for it). TV_TEST_PG_SQL runs SQL on the current primary.

When run as root the server runs as the unprivileged `postgres` user
(PostgreSQL refuses to run as root); the temporary directory is chowned to
it. Every step is bounded in time.
"""
import argparse
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PG_BIN_DIRS = ["/usr/lib/postgresql/15/bin"]
STEP_TIMEOUT_S = 60
DB_NAME = "tokenvault"
DB_USER = "tokenvault"


def pg_bin(name):
    env_dir = os.environ.get("TV_PG_BIN")
    for d in ([env_dir] if env_dir else []) + PG_BIN_DIRS:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install postgresql-15 (deploy/packages.txt) or set TV_PG_BIN")
    return found


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self, base_dir=None):
        self.base_dir = base_dir
        self.dir = None
        self.port = free_port()
        self.as_user = None
        if os.geteuid() == 0:
            self.as_user = os.environ.get("TV_PG_OS_USER", "postgres")
            pwd.getpwnam(self.as_user)  # fails clearly if the user is missing
        self.running = False

    # -- commands -------------------------------------------------------
    def _argv(self, argv):
        if self.as_user is None:
            return argv
        return ["runuser", "-u", self.as_user, "--"] + argv

    def _run(self, argv, check=True):
        r = subprocess.run(self._argv(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=STEP_TIMEOUT_S, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}\n{self.log_tail()}")
        return r.stdout

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data")

    @property
    def conninfo(self):
        return f"host={self.dir} port={self.port} dbname={DB_NAME} user={DB_USER}"

    def ctl_command(self, action):
        """A shell command that stops or starts this server."""
        argv = [pg_bin("pg_ctl"), "-D", self.data_dir, "-w", "-t", str(STEP_TIMEOUT_S)]
        if action == "stop":
            argv += ["-m", "fast", "stop"]
        else:
            argv += ["-l", os.path.join(self.dir, "server.log"), "-o", self._server_opts(), "start"]
        return " ".join(shlex.quote(a) for a in self._argv(argv))

    def _server_opts(self):
        return (f"-c listen_addresses='' -c unix_socket_directories='{self.dir}' -p {self.port} "
                f"-c max_connections=100 -c shared_buffers=32MB")

    def sql_prefix(self, user=DB_USER):
        argv = [pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-p", str(self.port),
                "-U", user, "-d", DB_NAME, "-c"]
        return " ".join(shlex.quote(a) for a in argv)

    def sql(self, statement, user=DB_USER, db=DB_NAME):
        argv = [pg_bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.dir,
                "-p", str(self.port), "-U", user, "-d", db, "-c", statement]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=STEP_TIMEOUT_S,
                           text=True)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stdout}")
        return r.stdout

    def log_tail(self, lines=20):
        try:
            with open(os.path.join(self.dir, "server.log")) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # -- lifecycle ------------------------------------------------------
    def setup(self):
        self.dir = tempfile.mkdtemp(prefix="tv_pg_", dir=self.base_dir)
        if self.as_user is not None:
            pw = pwd.getpwnam(self.as_user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)
        self._run([pg_bin("initdb"), "-D", self.data_dir, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                   "--no-sync", "--locale=C"])
        self.start()
        self.sql(f"CREATE ROLE {DB_USER} LOGIN", user="postgres", db="postgres")
        self.sql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}", user="postgres", db="postgres")
        return self

    def start(self):
        try:
            subprocess.run(self.ctl_command("start"), shell=True, check=True, timeout=STEP_TIMEOUT_S + 10,
                           stdout=subprocess.DEVNULL)
        except subprocess.CalledProcessError:
            sys.stderr.write(f"-- {self.dir}/server.log, its end:\n{self.log_tail()}")
            raise
        self.running = True

    def stop(self):
        subprocess.run(self.ctl_command("stop"), shell=True, check=True, timeout=STEP_TIMEOUT_S + 10,
                       stdout=subprocess.DEVNULL)
        self.running = False

    def teardown(self):
        if self.dir is None:
            return
        if os.path.exists(os.path.join(self.data_dir, "postmaster.pid")):
            self._run([pg_bin("pg_ctl"), "-D", self.data_dir, "-m", "immediate", "-w", "stop"], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self):
        try:
            return self.setup()
        except BaseException:
            self.teardown()
            raise

    def __exit__(self, *exc):
        self.teardown()


# -- primary + synchronous streaming standby ------------------------------
SYNC_CONF = "tv_sync.conf"  # included by postgresql.conf: synchronous_standby_names
HA_STATE = "ha.json"
REPLICATION_CONF = """
# tokenvault tests: a synchronous streaming pair (pg_cluster.py --standby)
wal_level = replica
max_wal_senders = 8
hot_standby = on
synchronous_commit = on
include_if_exists = '%s'
""" % SYNC_CONF


class PgNode(PgCluster):
    """One server of a replicated pair: its own socket directory and port.
    Its directory is made by the pair, so a rebuilt node keeps the address
    the multi-host conninfo names."""

    def __init__(self, top, index, as_user, port=None):
        super().__init__()
        self.dir = os.path.join(top, f"node{index}")
        self.as_user = as_user
        if port is not None:
            self.port = port

    def make_dir(self):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self._chown(self.dir)

    def _chown(self, path):
        if self.as_user is not None:
            pw = pwd.getpwnam(self.as_user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data_dir, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def set_sync_standby_names(self, names):
        """Writes the included file and reloads a running server."""
        path = os.path.join(self.data_dir, SYNC_CONF)
        with open(path, "w") as f:
            f.write(f"synchronous_standby_names = '{names}'\n")
        self._chown(path)
        if self.postmaster_pid() is not None:
            self._run([pg_bin("pg_ctl"), "-D", self.data_dir, "reload"])

    def kill(self):
        """SIGKILL of the postmaster and every process it started, at once:
        what a machine crash does (no shutdown checkpoint, no goodbye to
        clients or standbys)."""
        pid = self.postmaster_pid()
        if pid is None:
            raise RuntimeError(f"{self.dir}: no postmaster to kill")
        children = [c for c in _pids() if _ppid(c) == pid]
        for victim in [pid] + children:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Every process, not only the postmaster: a backend still attached
        # to the old shared memory would refuse the next server started here.
        _wait_until(lambda: not any(_alive(v) for v in [pid] + children), f"postmaster {pid} and its children to die")
        self.running = False

    def query(self, statement):
        return self.sql(statement, user="postgres", db="postgres").strip()

    def clear_data(self):
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def base_backup_from(self, primary):
        """A fresh copy of |primary| that follows it (pg_basebackup -R)."""
        self.clear_data()
        self._run([pg_bin("pg_basebackup"), "-h", primary.dir, "-p", str(primary.port), "-U", "postgres",
                   "-D", self.data_dir, "-R", "-X", "stream", "-c", "fast", "--no-sync"])


def _pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too (its parent, pg_ctl's shell, is long gone)
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_until(pred, what, timeout_s=STEP_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


class PgHaCluster:
    """A primary and a synchronous streaming standby (pg_basebackup -R),
    each with its own socket directory and port; the multi-host conninfo
    names both with target_session_attrs=read-write. The roles move with
    kill_primary / promote / rebuild, whose state lives in a file so the
    hook commands (separate processes) can act on it."""

    def __init__(self, top=None):
        self.top = top
        self.nodes = []
        self.primary = 0
        self.as_user = PgCluster().as_user

    @property
    def conninfo(self):
        hosts = ",".join(n.dir for n in self.nodes)
        ports = ",".join(str(n.port) for n in self.nodes)
        return (f"host={hosts} port={ports} dbname={DB_NAME} user={DB_USER} "
                f"target_session_attrs=read-write")

    def node_conninfo(self, i):
        return f"host={self.nodes[i].dir} port={self.nodes[i].port} dbname={DB_NAME} user={DB_USER}"

    def save(self):
        state = {"as_user": self.as_user, "primary": self.primary, "ports": [n.port for n in self.nodes]}
        with open(os.path.join(self.top, HA_STATE), "w") as f:
            json.dump(state, f)

    @classmethod
    def load(cls, top):
        with open(os.path.join(top, HA_STATE)) as f:
            state = json.load(f)
        ha = cls(top)
        ha.as_user = state["as_user"]
        ha.primary = state["primary"]
        ha.nodes = [PgNode(top, i, ha.as_user, port) for i, port in enumerate(state["ports"])]
        return ha

    def setup(self):
        self.top = tempfile.mkdtemp(prefix="tv_pgha_")
        os.chmod(self.top, 0o711)  # the postgres user walks through to its nodes
        self.nodes = [PgNode(self.top, i, self.as_user) for i in range(2)]
        for n in self.nodes:
            n.make_dir()
        p = self.nodes[0]
        p._run([pg_bin("initdb"), "-D", p.data_dir, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                "--no-sync", "--locale=C"])
        with open(os.path.join(p.data_dir, "postgresql.conf"), "a") as f:
            f.write(REPLICATION_CONF)
        p.set_sync_standby_names("")
        p.start()
        p.sql(f"CREATE ROLE {DB_USER} LOGIN", user="postgres", db="postgres")
        p.sql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}", user="postgres", db="postgres")
        self.save()
        self.rebuild()
        return self

    def standby_index(self):
        return 1 - self.primary

    def kill_primary(self):
        self.nodes[self.primary].kill()

    def promote(self):
        """Promotes the standby. The new primary has no standby yet, so it
        commits alone until rebuild() gives it one (otherwise every commit
        would wait for a standby that does not exist): a failover leaves
        the pair degraded, as Patroni's synchronous_mode does."""
        s = self.nodes[self.standby_index()]
        s.set_sync_standby_names("")
        s._run([pg_bin("pg_ctl"), "-D", s.data_dir, "-w", "-t", str(STEP_TIMEOUT_S), "promote"])
        _wait_until(lambda: s.query("SELECT pg_is_in_recovery()") == "f", "the promoted standby to accept writes")
        self.primary = self.standby_index()
        self.save()

    def rebuild(self):
        """Makes the node that is not the primary (stopped or killed) a new
        synchronous standby of the primary from a fresh base backup, and
        waits until the primary reports it as its synchronous standby."""
        p, s = self.nodes[self.primary], self.nodes[self.standby_index()]
        if s.postmaster_pid() is not None and _alive(s.postmaster_pid()):
            s._run([pg_bin("pg_ctl"), "-D", s.data_dir, "-m", "immediate", "-w", "stop"], check=False)
        s.base_backup_from(p)
        s.start()
        p.set_sync_standby_names("*")
        _wait_until(lambda: p.query("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == "1",
                    "the standby to become synchronous")

    def stop_standby(self):
        """Stops the standby (pg_ctl stop -m fast). With the pair
        synchronous, the primary's commits wait until it is back."""
        self.nodes[self.standby_index()].stop()

    def start_standby(self):
        self.nodes[self.standby_index()].start()

    def hook(self, action):
        return " ".join(shlex.quote(a) for a in
                        [sys.executable, os.path.abspath(__file__), "--ha-action", action, "--ha-dir", self.top])

    def teardown(self):
        if self.top is None:
            return
        for n in self.nodes:
            pid = n.postmaster_pid()
            if pid is not None and _alive(pid):
                n._run([pg_bin("pg_ctl"), "-D", n.data_dir, "-m", "immediate", "-w", "stop"], check=False)
        shutil.rmtree(self.top, ignore_errors=True)
        self.top = None

    def env(self):
        return dict(TV_TEST_PG_CONNINFO=self.conninfo,
                    TV_TEST_PG_STANDBY_CONNINFO=self.node_conninfo(self.standby_index()),
                    TV_TEST_PG_PRIMARY_CONNINFO=self.node_conninfo(self.primary),
                    TV_TEST_PG_SQL=" ".join(shlex.quote(a) for a in
                                            [pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                                             self.conninfo, "-c"]),
                    TV_TEST_PG_KILL_PRIMARY=self.hook("kill-primary"),
                    TV_TEST_PG_PROMOTE=self.hook("promote"),
                    TV_TEST_PG_REBUILD=self.hook("rebuild"),
                    TV_TEST_PG_STOP_STANDBY=self.hook("stop-standby"),
                    TV_TEST_PG_START_STANDBY=self.hook("start-standby"))

    def __enter__(self):
        try:
            return self.setup()
        except BaseException:
            self.teardown()
            raise

    def __exit__(self, *exc):
        self.teardown()


def ha_action(top, action):
    ha = PgHaCluster.load(top)
    {"kill-primary": ha.kill_primary, "promote": ha.promote, "rebuild": ha.rebuild,
     "stop-standby": ha.stop_standby, "start-standby": ha.start_standby}[action]()
    return 0


def run_command(argv, timeout_s, standby=False):
    with (PgHaCluster() if standby else PgCluster()) as pg:
        child = None

        def kill_child():
            # The command must not outlive its database. In standby mode it
            # has its own process group, so a hook it is running (a rebuild
            # starting a server) dies with it instead of outliving teardown.
            if standby:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            else:
                child.kill()
            child.wait()

        def on_signal(signum, _frame):
            if child is not None and child.poll() is None:
                kill_child()
            pg.teardown()
            sys.exit(128 + signum)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, on_signal)
        if standby:
            env = dict(os.environ, **pg.env())
        else:
            env = dict(os.environ, TV_TEST_PG_CONNINFO=pg.conninfo, TV_TEST_PG_STOP=pg.ctl_command("stop"),
                       TV_TEST_PG_START=pg.ctl_command("start"), TV_TEST_PG_SQL=pg.sql_prefix())
        child = subprocess.Popen(argv, env=env, start_new_session=standby)
        try:
            return child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_child()
            print(f"pg_cluster: {argv[0]} did not finish within {timeout_s} s; killed", file=sys.stderr)
            return 124


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="store_true", help="run the command after -- against a private server")
    ap.add_argument("--standby", action="store_true",
                    help="a primary plus a synchronous streaming standby (see STANDBY MODE above)")
    ap.add_argument("--timeout", type=float, default=240, help="seconds the command may take (default 240)")
    ap.add_argument("--ha-action", choices=["kill-primary", "promote", "rebuild", "stop-standby", "start-standby"],
                    help=argparse.SUPPRESS)
    ap.add_argument("--ha-dir", help=argparse.SUPPRESS)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.ha_action is not None:
        sys.exit(ha_action(args.ha_dir, args.ha_action))
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not args.run or not argv:
        ap.error("usage: pg_cluster.py --run [--standby] -- COMMAND [ARGS...]")
    sys.exit(run_command(argv, args.timeout, args.standby))


if __name__ == "__main__":
    main()
