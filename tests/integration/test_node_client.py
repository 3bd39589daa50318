"""The Node.js client (client/node) against live tokenvaultd servers.

This wrapper prepares what the Node tests need and then runs
test_node_client.js with node's built-in test runner:
- the npm dependencies, installed with `npm ci` from the committed lockfile
  into the build directory (never the source tree), reused while the
  lockfile is unchanged;
- the package as a CRM would get it: `npm pack` of a copy (its prepack
  script copies the .proto files in), unpacked;
- a --dev server (plaintext, loopback) and an mTLS server on a dev HSM token
  with certificates made here (CRM, two officers, and a client of a foreign
  CA), and a closed port for the retry test.
It also runs client/node/examples/crm.js against the --dev server."""
import hashlib
import os
import shutil
import socket
import subprocess
import tarfile

import tvtest as t

NODE = os.environ.get("TV_NODE", "")
NPM = os.environ.get("TV_NPM", "")
CLI = os.environ.get("TOKENVAULT_CLI", "")
PKG = os.path.abspath(os.environ.get("TV_NODE_CLIENT", ""))
DEPS = os.path.abspath(os.environ.get("TV_NODE_DEPS", ""))
HERE = os.path.dirname(os.path.abspath(__file__))
NPM_TIMEOUT_S = 240

t.check(bool(NODE) and os.path.exists(NODE), "node found (%s); Debian package nodejs" % NODE)
t.check(bool(NPM) and os.path.exists(NPM), "npm found (%s); Debian package npm" % NPM)
t.check(os.path.exists(os.path.join(PKG, "package-lock.json")), "client/node has its lockfile")


def npm(args, cwd):
    p = subprocess.run([NPM, *args], cwd=cwd, capture_output=True, timeout=NPM_TIMEOUT_S)
    if p.returncode != 0:
        t.fail("npm %s failed: %s" % (" ".join(args), (p.stdout + p.stderr).decode(errors="replace")))
    return p.stdout.decode()


def install_deps():
    """npm ci into DEPS from the package's lockfile, unless DEPS already holds
    exactly that lockfile's install."""
    lock = open(os.path.join(PKG, "package-lock.json"), "rb").read()
    stamp = hashlib.sha256(lock + open(os.path.join(PKG, "package.json"), "rb").read()).hexdigest()
    stamp_path = os.path.join(DEPS, "installed.sha256")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        return "reused"
    shutil.rmtree(DEPS, ignore_errors=True)
    os.makedirs(DEPS)
    for f in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(PKG, f), DEPS)
    # --ignore-scripts: no dependency needs an install script (protobufjs's
    # only prints a version notice), and none should run on a test machine.
    npm(["ci", "--ignore-scripts", "--no-audit", "--no-fund"], DEPS)
    with open(stamp_path, "w") as f:
        f.write(stamp)
    return "installed"


how = install_deps()
t.check(os.path.isdir(os.path.join(DEPS, "node_modules", "@grpc", "grpc-js")),
        "npm ci from the lockfile into the build directory (%s)" % how)

# The package as shipped: pack a copy (prepack copies the protos in), unpack.
stage = t.path("node-stage")
shutil.copytree(PKG, stage, ignore=shutil.ignore_patterns("node_modules", "proto", "*.tgz"))
npm(["pack", "--pack-destination", t.WORK], stage)  # prepack reads TV_PROTO_DIR
tgz = [f for f in os.listdir(t.WORK) if f.endswith(".tgz")]
t.check(len(tgz) == 1, "npm pack made one tarball (%s)" % tgz)
with tarfile.open(os.path.join(t.WORK, tgz[0])) as tar:
    names = tar.getnames()
    t.check("package/proto/tokenvault/v1/tokenvault.proto" in names
            and "package/proto/grpc/health/v1/health.proto" in names, "the tarball carries the proto files")
    t.check("package/index.d.ts" in names and "package/lib/client.js" in names
            and "package/package-lock.json" not in names, "the tarball has the code and typings")
    tar.extractall(t.path("packed"))
t.check(not os.path.exists(os.path.join(stage, "proto")), "postpack removed the proto copy again")

# Servers: --dev (plaintext) and mTLS on a dev HSM token. Where the daemon
# serves metrics over HTTP, turn that off: the built-in dev port is fixed
# and other tests may hold it.
usage = subprocess.run([t.SERVER, "--help"], capture_output=True, timeout=10)
no_metrics = ["--metrics-listen", ""] if b"--metrics-listen" in usage.stdout + usage.stderr else []
dev = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-dev"), *no_metrics)
hsm = t.path("hsm-token")
p = subprocess.run([CLI, "hsm", "init", "--dir", hsm], capture_output=True, timeout=60)
t.check(p.returncode == 0, "tokenvault hsm init made a dev token (%s)" % p.stderr.decode().strip())
os.environ["SOFTHSM2_CONF"] = os.path.join(hsm, "softhsm2.conf")
tls = t.mtls_server_pki()
for name in ("crm", "viewer", "officer-a", "officer-b"):
    t.make_cert("ca", name, name, "URI:spiffe://tokenvault/" + name)
t.make_ca("rogue-ca")
t.make_cert("rogue-ca", "rogue", "rogue", "URI:spiffe://tokenvault/crm")
NAMESPACES = {"pan": "{kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19}",
              "iban": "{kind: iban}", "bank_account": "{kind: bank_account, keep_last: 4}",
              "ssn": "{kind: us_ssn}"}
CONFIG = """# written by test_node_client.py
listen: 127.0.0.1:7443
tls: {cert: %(dir)s/server.crt, key: %(dir)s/server.key, client_ca: %(dir)s/ca.crt}
data_dir: %(dir)s/var-mtls
hsm: {module: /usr/lib/softhsm/libsofthsm2.so, token_label: tokenvault-dev, pin_file: %(hsm)s/user.pin}
audit: {dir: %(dir)s/var-mtls/audit, checkpoint_interval: 10s}
namespaces:
%(namespaces)s
roles:
  - name: crm
    permissions:
%(crm)s
  - name: crm_masked_only
    permissions:
      - {namespace: pan, allow: [tokenize, "detokenize:masked"]}
  - name: security_officer
    permissions:
      - {namespace: "*", allow: ["keys:read", "keys:rotate", "keys:approve"]}
      - {namespace: pan, allow: [tokenize, "detokenize:masked", "detokenize:full"]}
principals:
  - {name: "spiffe://tokenvault/crm", roles: [crm]}
  - {name: "spiffe://tokenvault/viewer", roles: [crm_masked_only]}
  - {name: "spiffe://tokenvault/officer-a", roles: [security_officer]}
  - {name: "spiffe://tokenvault/officer-b", roles: [security_officer]}
""" % {"dir": t.WORK, "hsm": hsm,
       "namespaces": "\n".join("  - {name: %s, format: %s, convergent: true}" % kv for kv in NAMESPACES.items()),
       "crm": "\n".join('      - {namespace: %s, allow: [tokenize, "detokenize:masked", "detokenize:full", delete]}'
                        % ns for ns in NAMESPACES)}
with open(t.path("mtls.yaml"), "w") as f:
    f.write(CONFIG)
# The flags repeat the file's TLS and HSM settings (they override it).
mtls = t.Server("--config", t.path("mtls.yaml"), "--listen", "127.0.0.1:0", "--data-dir", t.path("var-mtls"),
                "--init", *tls, *no_metrics, "--hsm-token-label", "tokenvault-dev",
                "--hsm-pin-file", os.path.join(hsm, "user.pin"))

with socket.socket() as s:  # a port nobody listens on: bound, then released
    s.bind(("127.0.0.1", 0))
    closed_port = s.getsockname()[1]

node_env = dict(os.environ,
                NODE_PATH=os.path.join(DEPS, "node_modules"),
                TV_NODE_CLIENT=PKG,
                TV_PACKED_CLIENT=t.path("packed/package"),
                TV_DEV_TARGET="127.0.0.1:%d" % dev.port,
                TV_MTLS_TARGET="127.0.0.1:%d" % mtls.port,
                TV_CLOSED_TARGET="127.0.0.1:%d" % closed_port,
                TV_CERT_DIR=t.WORK)
node_env.pop("TOKENVAULT_PROTO_DIR", None)
p = subprocess.run([NODE, "--test", os.path.join(HERE, "test_node_client.js")], env=node_env,
                   capture_output=True, timeout=200, cwd=t.WORK)
report = p.stdout.decode(errors="replace")
print(report)
print(p.stderr.decode(errors="replace"))
tests = [line for line in report.splitlines() if line.startswith("# tests ")]
passed = [line for line in report.splitlines() if line.startswith("# pass ")]
t.check(p.returncode == 0, "node --test test_node_client.js passed (%s, %s)" % (tests, passed))
t.check(bool(tests) and int(tests[0].split()[-1]) >= 20, "the node test file ran its tests (%s)" % tests)
t.check("# skipped 0" in report and "# todo 0" in report, "no node test was skipped")

# The CRM example, unchanged, against the --dev vault.
p = subprocess.run([NODE, os.path.join(PKG, "examples", "crm.js")], env=dict(
    node_env, TOKENVAULT_TARGET="127.0.0.1:%d" % dev.port, TOKENVAULT_INSECURE="1"),
    capture_output=True, timeout=60)
out = p.stdout.decode(errors="replace")
t.check(p.returncode == 0, "examples/crm.js runs (%s)" % (out + p.stderr.decode(errors="replace")).strip())
stored = [line for line in out.splitlines() if line.startswith("stored record:")]
t.check(len(stored) == 1 and "panToken" in stored[0] and "4111111111111111" not in stored[0]
        and "DE89370400440532013000" not in stored[0], "the CRM's stored record holds tokens only")
t.check("sign-up form error: FORMAT_LUHN" in out, "the example's bad card number is refused with its status name")
t.check("support screen:" in out and "411111******1111" in out, "the support screen shows the masked card")
t.check("chargeback job sees: 4111111111111111" in out, "the chargeback job sees the full card")
t.check("erased tokens: 2" in out and "resolves to: ENGINE_DELETED" in out, "erasure removes both tokens")

for s in (dev, mtls):
    rc, _ = s.terminate(20)
    t.check(rc == 0, "server exits 0 on SIGTERM")
