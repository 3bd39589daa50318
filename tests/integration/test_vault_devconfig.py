"""`tokenvaultd --dev --config FILE`: the file's namespaces and roles over
plaintext on loopback (the caller is dev:local), its hsm block not used
(the dev SoftHSM2 token is made under --data-dir); SIGHUP reloads its
policy there too. And the start-up refusals of a bad config."""
import signal
import subprocess
import time

import grpc

import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

DATA = t.path("var-devconfig")
CONFIG = t.path("devconfig.yaml")
ROLES = """roles:
  - name: dev
    permissions:
      - {namespace: iban, allow: [tokenize]}
principals:
  - {name: "dev:local", roles: [dev]}
"""


def text(roles):
    return """listen: 127.0.0.1:7443
data_dir: /nonexistent/not-used
hsm: {module: /nonexistent/not-used.so, token_label: nope, pin_env: NOPE}
audit: {dir: /nonexistent/not-used, checkpoint_interval: 5s}
namespaces:
  - {name: iban, format: {kind: iban}, convergent: true}
%s""" % roles


# ---- refusals at start ------------------------------------------------------
pc.write_config(CONFIG, text(ROLES) + "namespaces_typo: 1\n")
p = subprocess.run([t.SERVER, "--config", CONFIG], capture_output=True, timeout=20)
t.check(p.returncode == 2 and "namespaces_typo" in p.stderr.decode(), "a bad key stops the start, named (exit 2)")
p = subprocess.run([t.SERVER, "--config", t.path("missing.yaml")], capture_output=True, timeout=20)
t.check(p.returncode == 2 and "missing.yaml" in p.stderr.decode(), "a missing config file is named (exit 2)")
pc.write_config(CONFIG, text(ROLES))
p = subprocess.run([t.SERVER, "--config", CONFIG, "--listen", "0.0.0.0:0"], capture_output=True, timeout=20)
t.check(p.returncode == 2 and "loopback only" in p.stderr.decode(), "no tls block: loopback only")

# ---- --dev with the file ---------------------------------------------------------
server = t.Server("--dev", "--config", CONFIG, "--listen", "127.0.0.1:0", "--data-dir", DATA)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    who = c.call("WhoAmI", vc.TV.WhoAmIRequest(), vc.TV.WhoAmIResponse)
    t.check(who.principal == "dev:local" and not who.authenticated,
            "plaintext: no certificate identity; WhoAmI names dev:local, as the policy does")
    tok = vc.ok_tokens(c.tokenize("iban", ["DE89370400440532013000"]))[0]
    t.check(tok != "DE89370400440532013000", "dev:local tokenizes iban (the file's role)")
    try:
        c.tokenize("pan", ["4111111111111111"])
        t.fail("pan is not a namespace of the file")
    except grpc.RpcError as e:
        t.check(e.code() == grpc.StatusCode.NOT_FOUND, "the built-in namespaces are not served (%s)" % e.details())
    try:
        c.detokenize("iban", [tok], vc.MASKED)
        t.fail("dev:local may not detokenize under the file's role")
    except grpc.RpcError as e:
        t.check(e.code() == grpc.StatusCode.PERMISSION_DENIED, "the file's role applies to dev:local")
    pc.write_config(CONFIG, text(ROLES.replace("allow: [tokenize]", 'allow: [tokenize, "detokenize:masked"]')))
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while not any(line.get("event") == "reload_policy" for line in server.lines()):
        if time.monotonic() > deadline:
            t.fail("no reload_policy log line within 10 s")
        time.sleep(0.05)
    t.check(c.detokenize("iban", [tok], vc.MASKED).results[0].status.code == 0, "after SIGHUP: masked reveal allowed")
rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")
