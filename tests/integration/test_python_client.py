"""The Python client (client/python) against a real tokenvaultd: identity
and health over mutual TLS, a refused request surfaces as VaultError with
the server's status, and idempotent calls are retried with backoff on
UNAVAILABLE (and then fail with it)."""
import socket
import time

import grpc

import tvtest as t
import tokenvault

server = t.Server(*t.mtls_server_pki(), "--listen", "127.0.0.1:0")
t.make_cert("ca", "crm", "crm-service", "URI:spiffe://bank/crm")

with tokenvault.Client("127.0.0.1:%d" % server.port, ca=t.path("ca.crt"), cert=t.path("crm.crt"),
                       key=t.path("crm.key"), server_name="localhost") as vault:
    me = vault.whoami()
    t.check(me.principal == "spiffe://bank/crm" and me.authenticated,
            "whoami() returns the certificate's principal (%r)" % me.principal)
    t.check(vault.health() == "SERVING", "health() is SERVING")
    try:
        vault.tokenize("", ["4111111111111111"])
        t.fail("a request without a namespace must be refused")
    except tokenvault.VaultError as e:
        t.check(e.code == grpc.StatusCode.INVALID_ARGUMENT and "namespace" in e.details,
                "an invalid request raises VaultError(INVALID_ARGUMENT) naming the field: %s" % e)

try:
    tokenvault.Client("127.0.0.1:1", ca=t.path("ca.crt"))
    t.fail("a TLS client without its certificate must be refused")
except ValueError:
    t.check(True, "mutual TLS without cert/key is a ValueError, not a silent plaintext client")

# Nothing listens on this port: every attempt is UNAVAILABLE.
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    dead_port = s.getsockname()[1]
with tokenvault.Client("127.0.0.1:%d" % dead_port, insecure=True, timeout=2, retries=3, backoff=0.1) as dead:
    start = time.monotonic()
    try:
        dead.whoami()
        t.fail("a call to a closed port must fail")
    except tokenvault.VaultError as e:
        elapsed = time.monotonic() - start
        t.check(e.code == grpc.StatusCode.UNAVAILABLE, "closed port: VaultError(UNAVAILABLE)")
        t.check(elapsed >= 0.1 + 0.2 + 0.4, "three retries with exponential backoff (%.2f s)" % elapsed)
server.kill()
