"""--dev: plaintext only on loopback. A non-loopback address is refused
with a clear error; 127.0.0.1 works with an insecure channel."""
import subprocess

import tvtest as t

TV, HEALTH = t.generate_stubs()

for addr in ("0.0.0.0:0", "192.0.2.1:7443", "[::]:0", "example.com:7443"):
    p = subprocess.run([t.SERVER, "--dev", "--listen", addr], capture_output=True, timeout=10)
    err = p.stderr.decode()
    t.check(p.returncode == 2, "--dev --listen %s exits 2 (got %d)" % (addr, p.returncode))
    t.check("loopback only" in err, "--dev --listen %s says why" % addr)

p = subprocess.run([t.SERVER, "--listen", "127.0.0.1:0"], capture_output=True, timeout=10)
t.check(p.returncode == 2 and "--tls-cert" in p.stderr.decode(), "without --dev, TLS files are required")
p = subprocess.run([t.SERVER, "--dev", "--tls-cert", "x.pem"], capture_output=True, timeout=10)
t.check(p.returncode == 2, "--dev with TLS flags is refused")
p = subprocess.run([t.SERVER, "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key",
                    "--tls-ca", "/nonexistent.ca"], capture_output=True, timeout=10)
t.check(p.returncode == 2 and "/nonexistent.pem" in p.stderr.decode(), "a missing TLS file is named")
p = subprocess.run([t.SERVER, "--bogus"], capture_output=True, timeout=10)
t.check(p.returncode == 2 and "--bogus" in p.stderr.decode(), "an unknown flag is refused")

for addr in ("127.0.0.1:0", "localhost:0"):
    server = t.Server("--dev", "--listen", addr, "--data-dir", "var-dev")
    with t.insecure_channel(server.port) as ch:
        check = t.unary(ch, "/grpc.health.v1.Health/Check", HEALTH.HealthCheckRequest, HEALTH.HealthCheckResponse)
        t.check(check(HEALTH.HealthCheckRequest(), timeout=5).status == HEALTH.HealthCheckResponse.SERVING,
                "--dev on %s: Health/Check over plaintext" % addr)
        me = t.unary(ch, "/tokenvault.v1.TokenVault/WhoAmI", TV.WhoAmIRequest, TV.WhoAmIResponse)(
            TV.WhoAmIRequest(), timeout=5)
        t.check(not me.authenticated and me.principal == "dev:local" and me.transport_security == "insecure",
                "--dev: WhoAmI reports dev:local, unauthenticated, over an insecure transport")
    t.check(any(l.get("event") == "dev_mode" for l in server.lines()), "--dev logs a warning")
    rc, _ = server.terminate(10)
    t.check(rc == 0, "SIGTERM exits 0")
