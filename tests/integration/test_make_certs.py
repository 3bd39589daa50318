"""deploy/certs/make-certs.sh: the CA and certificates it makes work for
tokenvaultd's mutual TLS. The server starts with its server certificate,
and each client certificate authenticates as the principal it was made
for (a URI or a DNS name); a rerun keeps what exists."""
import os
import shutil
import stat
import subprocess

import tvtest as t

TV, _ = t.generate_stubs()
WHOAMI = "/tokenvault.v1.TokenVault/WhoAmI"
SCRIPT = os.environ["TV_MAKE_CERTS"]

pki = t.path("pki")
args = [SCRIPT, pki, "--server-name", "localhost", "--server-ip", "127.0.0.1",
        "--client", "spiffe://bank/crm", "--client", "finance.bank.example"]
subprocess.run(args, check=True, stdout=subprocess.DEVNULL)

for name in ("ca", "server", "client-spiffe___bank_crm", "client-finance.bank.example"):
    mode = stat.S_IMODE(os.stat(os.path.join(pki, name + ".key")).st_mode)
    t.check(mode == 0o600, "%s.key has mode 0600 (got %o)" % (name, mode))

before = t.read("pki/client-spiffe___bank_crm.crt")
subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
t.check(t.read("pki/client-spiffe___bank_crm.crt") == before, "a rerun keeps existing certificates")

# The helpers read "<name>.crt"/"<name>.key" from the work dir: copy them there.
for name in ("ca", "client-spiffe___bank_crm", "client-finance.bank.example"):
    for ext in (".crt", ".key"):
        shutil.copy(os.path.join(pki, name + ext), t.path(name + ext))

server = t.Server("--tls-cert", os.path.join(pki, "server.crt"), "--tls-key", os.path.join(pki, "server.key"),
                  "--tls-ca", os.path.join(pki, "ca.crt"), "--listen", "127.0.0.1:0")

for client, principal in (("client-spiffe___bank_crm", "spiffe://bank/crm"),
                          ("client-finance.bank.example", "finance.bank.example")):
    with t.secure_channel(server.port, client) as ch:
        me = t.unary(ch, WHOAMI, TV.WhoAmIRequest, TV.WhoAmIResponse)(TV.WhoAmIRequest(), timeout=5)
    t.check(me.principal == principal and me.authenticated,
            "%s authenticates as %s (got %r)" % (client, principal, me.principal))
server.kill()
