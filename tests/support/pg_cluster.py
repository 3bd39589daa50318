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

When run as root the server runs as the unprivileged `postgres` user
(PostgreSQL refuses to run as root); the temporary directory is chowned to
it. Every step is bounded in time.
"""
import argparse
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

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
        subprocess.run(self.ctl_command("start"), shell=True, check=True, timeout=STEP_TIMEOUT_S + 10,
                       stdout=subprocess.DEVNULL)
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


def run_command(argv, timeout_s):
    with PgCluster() as pg:
        child = None

        def on_signal(signum, _frame):
            if child is not None and child.poll() is None:
                child.kill()  # the command must not outlive its database
                child.wait()
            pg.teardown()
            sys.exit(128 + signum)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, on_signal)
        env = dict(os.environ, TV_TEST_PG_CONNINFO=pg.conninfo, TV_TEST_PG_STOP=pg.ctl_command("stop"),
                   TV_TEST_PG_START=pg.ctl_command("start"), TV_TEST_PG_SQL=pg.sql_prefix())
        child = subprocess.Popen(argv, env=env)
        try:
            return child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            print(f"pg_cluster: {argv[0]} did not finish within {timeout_s} s; killed", file=sys.stderr)
            return 124


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="store_true", help="run the command after -- against a private server")
    ap.add_argument("--timeout", type=float, default=240, help="seconds the command may take (default 240)")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not args.run or not argv:
        ap.error("usage: pg_cluster.py --run -- COMMAND [ARGS...]")
    sys.exit(run_command(argv, args.timeout))


if __name__ == "__main__":
    main()
