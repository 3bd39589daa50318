"""mTLS: Health/Check and WhoAmI with a valid client certificate; refused
without one, with one from another CA, and with an expired one."""
import subprocess

import grpc

import tvtest as t

TV, HEALTH = t.generate_stubs()
CHECK = "/grpc.health.v1.Health/Check"
WHOAMI = "/tokenvault.v1.TokenVault/WhoAmI"

server = t.Server(*t.mtls_server_pki(), "--listen", "127.0.0.1:0")
t.make_cert("ca", "crm", "crm-service", "URI:spiffe://crm,DNS:crm.internal")
t.make_cert("ca", "dnsonly", "dns-client", "DNS:batch.internal")
t.make_cert("ca", "cnonly", "cn-client")
t.make_ca("otherca")
t.make_cert("otherca", "stranger", "stranger", "URI:spiffe://crm")
t.make_expired_cert("ca", "expired", "URI:spiffe://crm")


def whoami(client):
    with t.secure_channel(server.port, client) as ch:
        call = t.unary(ch, WHOAMI, TV.WhoAmIRequest, TV.WhoAmIResponse)
        return call(TV.WhoAmIRequest(request_id="req-1"), timeout=5)


# (a) a real client over mTLS
with t.secure_channel(server.port, "crm") as ch:
    check = t.unary(ch, CHECK, HEALTH.HealthCheckRequest, HEALTH.HealthCheckResponse)
    resp = check(HEALTH.HealthCheckRequest(service=""), timeout=5)
    t.check(resp.status == HEALTH.HealthCheckResponse.SERVING, "Health/Check '' is SERVING over mTLS")
    resp = check(HEALTH.HealthCheckRequest(service="tokenvault.v1.TokenVault"), timeout=5)
    t.check(resp.status == HEALTH.HealthCheckResponse.SERVING, "Health/Check tokenvault.v1.TokenVault is SERVING")
    t.expect_rpc_error(lambda to: check(HEALTH.HealthCheckRequest(service="no.such.Service"), timeout=to),
                       grpc.StatusCode.NOT_FOUND, 5, "Health/Check of an unknown service")

me = whoami("crm")
t.check(me.principal == "spiffe://crm", "WhoAmI returns the SAN URI (got %r)" % me.principal)
t.check(me.identity_source == "san_uri" and me.authenticated, "WhoAmI: source san_uri, authenticated")
t.check(me.transport_security == "tls", "WhoAmI: transport tls")
t.check(me.request_id == "req-1", "WhoAmI echoes the request id")
me = whoami("dnsonly")
t.check(me.principal == "batch.internal" and me.identity_source == "san_dns",
        "without a SAN URI the principal is the SAN DNS name (got %r)" % me.principal)
me = whoami("cnonly")
t.check(me.principal == "cn-client" and me.identity_source == "cn",
        "without SANs the principal is the subject CN (got %r)" % me.principal)

# (b) refused handshakes: the call never reaches the server
for client, what in ((None, "no client certificate"), ("stranger", "client certificate from another CA"),
                     ("expired", "expired client certificate")):
    t.expect_rpc_error(lambda to: (lambda ch: t.unary(ch, WHOAMI, TV.WhoAmIRequest, TV.WhoAmIResponse)(
        TV.WhoAmIRequest(), timeout=to))(t.secure_channel(server.port, client)),
        grpc.StatusCode.UNAVAILABLE, 5, what + " is refused")

# TLS 1.2 is the floor: a TLS 1.1 handshake fails, TLS 1.2 and 1.3 work.
def s_client(*flags):
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % server.port, "-CAfile", t.path("ca.crt"),
                        "-cert", t.path("crm.crt"), "-key", t.path("crm.key"), "-alpn", "h2", *flags],
                       input=b"", capture_output=True, timeout=10)
    return p.stdout.decode(errors="replace")


t.check("New, TLSv1.2," in s_client("-tls1_2"), "a TLS 1.2 handshake succeeds")
t.check("New, TLSv1.3," in s_client("-tls1_3"), "a TLS 1.3 handshake succeeds")
out = s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
t.check("New, TLSv1" not in out and "New, (NONE)" in out, "TLS 1.1 is refused")

t.check(server.alive(), "server still up after refused handshakes")
t.check(whoami("crm").principal == "spiffe://crm", "a valid client still works afterwards")
t.check("spiffe://crm" in server.text() and "WhoAmI" in server.text(), "calls are logged with their principal")
rc, took = server.terminate(10)
t.check(rc == 0, "SIGTERM exits 0 (got %d)" % rc)
