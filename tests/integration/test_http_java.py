"""The README's Java example (issue 12 point 6): examples/java/
TokenVaultExample.java, JDK only (java.net.http.HttpClient with the client
certificate and key loaded from PEM into an in-memory KeyStore), compiled
with javac and run by the README's two command lines, as written, against
an mTLS tokenvaultd serving HTTPS. Its token keeps the first 6 and last 4
digits, fails Luhn and is the token the CRM gets from Python over HTTPS;
its masked reveal is 411111******1111. A certificate from another CA makes
it exit 1 with the vault's 401 CLIENT_CERTIFICATE; a key that is not
PKCS#8 is refused with the openssl line that converts it. The card number
never appears in its output.

Fails (never skips) without java/javac: tests/run.sh installs
default-jdk-headless for the Bouncy Castle interop test."""
import http.client
import json
import os
import re
import shlex
import shutil
import ssl
import subprocess

import http_api as h
import test_vault_policy_common as pc
import tvtest as t

SOURCE_DIR = os.environ["TV_SOURCE_DIR"]
DATA = t.path("var-http-java")
PAN = "4111111111111111"  # the README's card number
JAVA_S = 120  # hang guard for javac or one run of the example (a loaded machine starts a JVM slowly)

for tool in ("java", "javac"):
    if shutil.which(tool) is None:
        t.fail("%s not found (Debian package default-jdk-headless)" % tool)

PIN = pc.make_hsm()
pc.make_pki()
t.make_ca("other-ca")
t.make_cert("other-ca", "intruder", "x", "URI:spiffe://example.org/crm")  # the CRM's name, the wrong CA
CONFIG = t.path("http-java.yaml")
pc.write_config(CONFIG, pc.config_text(DATA, PIN))
server = t.Server("--config", CONFIG, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--init",
                  "--metrics-listen", "")
PORT = h.http_port(server)


def luhn_valid(digits):
    total = 0
    for i, d in enumerate(int(c) for c in reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def python_call(path, body):
    """The same call from Python's ssl with the CRM's certificate, for comparison."""
    ctx = ssl.create_default_context(cafile=t.path("ca.crt"))
    ctx.load_cert_chain(t.path("crm.crt"), t.path("crm.key"))
    conn = http.client.HTTPSConnection("localhost", PORT, timeout=h.TIMEOUT_S, context=ctx)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        t.check(resp.status == 200, "Python over HTTPS: %s answered 200 (%d)" % (path, resp.status))
        return json.loads(resp.read())["results"][0]
    finally:
        conn.close()


def readme_java_lines():
    """The javac and java lines of the README's "Java" subsection."""
    with open(os.path.join(SOURCE_DIR, "README.md")) as f:
        text = f.read()
    section = text[text.index("### Java (JDK only)"):]
    section = section[:section.index("\n### ", 5)]
    commands = re.findall(r"^((?:javac|printf) .*)$", section, re.M)
    t.check(len(commands) == 2 and commands[0].startswith("javac ") and " java " in commands[1],
            "README: a javac line and a java line (%s)" % commands)
    return commands


def run(cmd):
    return subprocess.run(cmd, shell=True, cwd=t.WORK, capture_output=True, text=True, timeout=JAVA_S)


COMPILE, RUN = readme_java_lines()
example_dir = os.path.join(SOURCE_DIR, "examples", "java")
p = run(COMPILE.replace("examples/java/", shlex.quote(example_dir) + "/"))
t.check(p.returncode == 0, "javac compiled the example as the README says (%s)" % p.stderr[-500:])

p = run(RUN.replace("localhost:8443", "localhost:%d" % PORT))
t.check(p.returncode == 0, "the README's java line ran against the mTLS vault (%s)" % p.stderr[-500:])
t.check(PAN not in p.stdout and PAN not in p.stderr, "the example never prints the card number")
out = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
token, masked = out.get("token", ""), out.get("masked", "")
t.check(re.fullmatch(r"[0-9]{16}", token) is not None, "the example printed a 16-digit token (%r)" % p.stdout)
t.check(token[:6] == PAN[:6] and token[-4:] == PAN[-4:] and token != PAN,
        "the token keeps the first 6 and last 4 digits (%s)" % token)
t.check(not luhn_valid(token), "the token fails Luhn, so it cannot pass for a card number (%s)" % token)
t.check(python_call("/v1/tokenize", {"namespace": "pan", "values": [PAN]})["token"] == token,
        "the same token as the CRM gets from Python over HTTPS (convergent namespace)")
t.check(masked == "411111******1111", "the masked reveal is 411111******1111 (%r)" % masked)
t.check(python_call("/v1/detokenize", {"namespace": "pan", "tokens": [token], "reveal": "REVEAL_MASKED"})["value"]
        == masked, "the same masked value as from Python")

# A certificate from another CA: the vault's 401 reaches the caller, exit 1.
cmd = RUN.replace("localhost:8443", "localhost:%d" % PORT).replace("crm.crt crm.key", "intruder.crt intruder.key")
t.check("intruder.crt" in cmd, "the README line names crm.crt crm.key")
p = run(cmd)
t.check(p.returncode == 1 and "HTTP 401" in p.stderr and "CLIENT_CERTIFICATE" in p.stderr,
        "another CA's certificate: exit 1 with 401 CLIENT_CERTIFICATE (%d %s)" % (p.returncode, p.stderr[-300:]))
t.check(PAN not in p.stdout + p.stderr, "a refusal does not echo the card number")

# A SEC1 ("EC PRIVATE KEY") key is refused with the conversion to use.
t.run_openssl("ec", "-in", "crm.key", "-out", "crm-sec1.key")
t.check("BEGIN EC PRIVATE KEY" in t.read("crm-sec1.key").decode(), "openssl wrote a SEC1 key")
p = run(RUN.replace("localhost:8443", "localhost:%d" % PORT).replace("crm.key", "crm-sec1.key"))
t.check(p.returncode == 1 and "openssl pkcs8 -topk8 -nocrypt" in p.stderr and "\tat " not in p.stderr,
        "a SEC1 key: exit 1 with the openssl line that converts it, no stack trace (%s)" % p.stderr[-300:])

t.check(server.alive(), "the server is still up")
rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")
print("ok")
