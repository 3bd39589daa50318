"""Shared helpers for tokenvaultd's integration tests.

Each test starts its own tokenvaultd on 127.0.0.1 port 0 (the kernel picks
a free port; the server logs it), talks to it with Python grpcio (a client
nobody on this project wrote) and stops it at the end. Message stubs are
generated from proto/ at test time into a temporary directory.
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import grpc
from grpc_tools import protoc

SERVER = os.path.abspath(os.environ.get("TOKENVAULTD", ""))
PROTO_DIR = os.path.abspath(os.environ.get("TV_PROTO_DIR", ""))
STARTUP_S = 10  # bound on waiting for the "listening" line

WORK = tempfile.mkdtemp(prefix="tv-integration-")
atexit.register(shutil.rmtree, WORK, True)


STARTED = []  # every Server of this test, for the report of a failure


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    report_servers()
    sys.exit(1)


def report_servers():
    """On a failure: whether each server still runs, and the end of its log
    (the log dies with WORK at exit, so this is the only trace of a crash)."""
    for server in STARTED:
        state = "running" if server.proc.poll() is None else "exited with %s" % server.proc.returncode
        print("-- tokenvaultd %s (%s); log excerpt:" % (" ".join(server.args), state), file=sys.stderr)
        for line in log_excerpt(server.text().splitlines()):
            print("   " + line, file=sys.stderr)


def log_excerpt(lines):
    """A sanitizer report's first lines (where the fault is) when there is
    one, else the last 15 lines."""
    for i, line in enumerate(lines):
        if "ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line or "runtime error:" in line:
            return lines[max(0, i - 3):i + 45]
    return lines[-15:]


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg)


def generate_stubs():
    """Generates tokenvault_pb2 and health_pb2 into WORK and imports them."""
    for sub, name in (("tokenvault/v1", "tokenvault.proto"), ("grpc/health/v1", "health.proto")):
        rc = protoc.main(["protoc", "-I" + os.path.join(PROTO_DIR, sub), "--python_out=" + WORK, name])
        if rc != 0:
            fail("protoc failed for " + name)
    sys.path.insert(0, WORK)
    import health_pb2  # noqa: E402
    import tokenvault_pb2  # noqa: E402
    return tokenvault_pb2, health_pb2


class Server:
    """A tokenvaultd process; stopped (SIGKILL if need be) at exit."""

    def __init__(self, *args):
        if not SERVER or not os.path.exists(SERVER):
            fail("TOKENVAULTD does not name the server binary")
        self.args = args
        self.log_path = os.path.join(WORK, "server-%d.log" % time.monotonic_ns())
        self.log = open(self.log_path, "w+b")
        self.proc = subprocess.Popen([SERVER, *args], stdout=subprocess.DEVNULL, stderr=self.log,
                                     cwd=WORK)
        atexit.register(self.kill)
        STARTED.append(self)
        self.port = self._wait_port()

    def _wait_port(self):
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            for line in self.lines():
                if line.get("event") == "listening":
                    return line["port"]
            if self.proc.poll() is not None:
                fail("server exited at start: " + self.text())
            time.sleep(0.05)
        fail("server did not start within %d s" % STARTUP_S)

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def lines(self):
        out = []
        for raw in self.text().splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                pass
        return out

    def alive(self):
        return self.proc.poll() is None

    def terminate(self, timeout_s):
        """Sends SIGTERM; returns (exit code, seconds taken) or fails."""
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            fail("server did not exit within %s s of SIGTERM" % timeout_s)
        return rc, time.monotonic() - start

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_openssl(*args):
    subprocess.run(["openssl", *args], check=True, cwd=WORK, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def make_ca(name):
    run_openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".crt", "-days", "2", "-subj", "/CN=" + name)


def make_cert(ca, name, cn, san=None, server=False):
    """Issues name.crt/name.key signed by |ca| with |san| (e.g.
    "URI:spiffe://crm") as subjectAltName."""
    ext = os.path.join(WORK, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        f.write("extendedKeyUsage=%s\n" % ("serverAuth" if server else "clientAuth"))
        if san:
            f.write("subjectAltName=%s\n" % san)
    run_openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn)
    run_openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
                "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", name + ".crt")


def make_expired_cert(ca, name, san):
    """A client certificate valid only on 2020-01-01 (openssl ca sets dates
    in the past, openssl x509 -req cannot)."""
    cnf = os.path.join(WORK, "ca-%s.cnf" % name)
    open(os.path.join(WORK, "index.txt"), "w").close()
    with open(cnf, "w") as f:
        f.write("[ca]\ndefault_ca=d\n[d]\ndir=.\ndatabase=index.txt\nnew_certs_dir=.\n"
                "serial=serial.txt\ndefault_md=sha256\npolicy=p\ncopy_extensions=none\n"
                "x509_extensions=e\n[p]\ncommonName=supplied\n"
                "[e]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
                "subjectAltName=%s\n" % san)
    with open(os.path.join(WORK, "serial.txt"), "w") as f:
        f.write("1000\n")
    run_openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
    run_openssl("ca", "-batch", "-config", cnf, "-cert", ca + ".crt", "-keyfile", ca + ".key",
                "-in", name + ".csr", "-out", name + ".crt", "-startdate", "20200101000000Z",
                "-enddate", "20200102000000Z", "-notext")


def path(name):
    return os.path.join(WORK, name)


def read(name):
    with open(path(name), "rb") as f:
        return f.read()


def mtls_server_pki():
    """CA, server certificate for 127.0.0.1/localhost, returns server args."""
    make_ca("ca")
    make_cert("ca", "server", "tokenvaultd", "IP:127.0.0.1,DNS:localhost", server=True)
    return ["--tls-cert", path("server.crt"), "--tls-key", path("server.key"), "--tls-ca", path("ca.crt")]


def secure_channel(port, client=None, root="ca"):
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(root + ".crt"),
        private_key=read(client + ".key") if client else None,
        certificate_chain=read(client + ".crt") if client else None)
    return grpc.secure_channel("127.0.0.1:%d" % port, creds,
                               options=[("grpc.ssl_target_name_override", "localhost")])


def insecure_channel(port):
    return grpc.insecure_channel("127.0.0.1:%d" % port)


def unary(channel, method, request_cls=None, response_cls=None):
    """A unary callable for |method| ("/pkg.Svc/M"); without classes it
    sends and returns raw bytes."""
    return channel.unary_unary(
        method,
        request_serializer=(lambda m: m.SerializeToString()) if request_cls else None,
        response_deserializer=response_cls.FromString if response_cls else None)


def expect_rpc_error(fn, code, timeout_s, what):
    """Calls fn(timeout) and checks it fails with |code|; returns the error."""
    start = time.monotonic()
    try:
        fn(timeout_s)
    except grpc.RpcError as e:
        took = time.monotonic() - start
        check(e.code() == code, "%s: %s (got %s: %s, %.2f s)" % (what, code, e.code(), e.details(), took))
        return e, took
    fail("%s: expected %s, the call succeeded" % (what, code))
