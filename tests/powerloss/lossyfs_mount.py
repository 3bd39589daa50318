"""A lossyfs mount for a test: start, power loss, counters, unmount.

lossyfs (tests/powerloss/lossyfs.c) is found through the LOSSYFS
environment variable (ctest sets it). Needs /dev/fuse and root (CI runs
as root); anything missing is a failure, not a skip: tests/run.sh
installs fuse3 and libfuse3-dev.
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time

MOUNT_S = 10  # bound on waiting for the mount to appear


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg)


class Mount:
    """lossyfs over a fresh backing directory, mounted at self.path."""

    def __init__(self):
        binary = os.environ.get("LOSSYFS", "")
        if not binary or not os.path.exists(binary):
            fail("LOSSYFS does not name the lossyfs binary")
        if not os.path.exists("/dev/fuse"):
            fail("/dev/fuse is missing: FUSE is needed for the power-loss tests")
        self.work = tempfile.mkdtemp(prefix="tv-powerloss-")
        self.backing = os.path.join(self.work, "backing")
        self.state = os.path.join(self.work, "state")
        self.path = os.path.join(self.work, "mnt")
        for d in (self.backing, self.state, self.path):
            os.mkdir(d)
        self.log_path = os.path.join(self.work, "lossyfs.log")
        self.log = open(self.log_path, "w+b")
        self.proc = subprocess.Popen([binary, self.backing, self.state, self.path],
                                     stdout=self.log, stderr=self.log)
        atexit.register(self.close)
        deadline = time.monotonic() + MOUNT_S
        while not os.path.ismount(self.path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                fail("lossyfs did not mount: " + self.log_text())
            time.sleep(0.02)
        self.control = os.path.join(self.path, ".lossyfs")

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def power_loss(self):
        """Everything not made durable is gone when this returns."""
        fd = os.open(self.control, os.O_WRONLY)
        try:
            os.write(fd, b"powerloss")
        except OSError as e:
            fail("power loss failed: %s: %s" % (e, self.log_text()))
        finally:
            os.close(fd)

    def sync_all(self):
        """Everything there now becomes durable (set-up, not under test)."""
        fd = os.open(self.control, os.O_WRONLY)
        try:
            os.write(fd, b"sync")
        finally:
            os.close(fd)

    def stats(self):
        with open(self.control) as f:
            return {k: int(v) for k, v in (line.split() for line in f if line.strip())}

    def close(self):
        if self.proc is None:
            return
        if os.path.ismount(self.path):
            if subprocess.call(["umount", self.path]) != 0:
                subprocess.call(["umount", "-l", self.path])
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.log.close()
        shutil.rmtree(self.work, True)
