"""Connections that never finish their TLS handshake are bounded
(server.handshake_timeout_ms, vault/server/grpc/server.c): a flood of raw TCP
connections to the mTLS port — most sending nothing, some a partial
ClientHello — does not stop a legitimate client, and after the handshake
timeout (2 s here) plus a margin the server has closed every one of them.
Before the bound, gRPC's default kept them open for 120 s."""
import os
import socket
import time

import grpc

import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

RAW = 300           # connections that never send anything
PARTIAL = 60        # connections that send the start of a ClientHello
TIMEOUT_MS = 2000   # server.handshake_timeout_ms in the config below
MARGIN_S = 6.0      # hang guard on top of the timeout (loaded machine)
CRM = "spiffe://example.org/crm"

DATA = t.path("var-handshake")
PIN = pc.make_hsm()
pc.make_pki()
CONFIG = t.path("handshake.yaml")
pc.write_config(CONFIG, pc.config_text(DATA, PIN) + "server: {handshake_timeout_ms: %d}\n" % TIMEOUT_MS)
server = t.Server("--config", CONFIG, "--listen", "127.0.0.1:0", "--init")
admission = [line for line in server.lines() if line.get("event") == "admission"]
t.check(admission and admission[0].get("handshake_timeout_ms") == TIMEOUT_MS,
        "the server logs the configured handshake timeout (%s)" % admission)

# A TLS record header announcing a 512-byte handshake message, then only
# the first bytes of a ClientHello: the server waits for the rest.
PARTIAL_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + os.urandom(16)

socks = []
for i in range(RAW + PARTIAL):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    if i >= RAW:
        s.sendall(PARTIAL_HELLO)
    socks.append(s)
opened = time.monotonic()
t.check(len(socks) == RAW + PARTIAL, "%d raw connections open (%d with a partial ClientHello)" % (len(socks), PARTIAL))

# A legitimate mTLS client is served while the flood holds its sockets.
ch = pc.channel(server.port, CRM)
who = vc.Client(ch).call("WhoAmI", vc.TV.WhoAmIRequest(), vc.TV.WhoAmIResponse, timeout=10)
t.check(who.principal == CRM, "a legitimate mTLS client is answered during the flood (%s)" % who.principal)
resp = vc.Client(ch).tokenize("pan", ["4111111111111111"])
t.check(resp.results[0].token != "", "and its data calls work")


def closed_by_server(s, until):
    """True once the server closed |s| (EOF or reset) before |until|."""
    while time.monotonic() < until:
        s.settimeout(max(0.05, until - time.monotonic()))
        try:
            if s.recv(4096) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        # The server may answer a partial hello with an alert first: read on.
    return False


until = opened + TIMEOUT_MS / 1000.0 + MARGIN_S
still_open = [i for i, s in enumerate(socks) if not closed_by_server(s, until)]
took = time.monotonic() - opened
t.check(not still_open, "the server closed all %d unfinished handshakes within %.1f s (still open: %d, e.g. #%s)" %
        (len(socks), took, len(still_open), still_open[:5]))
for s in socks:
    s.close()

# Still serving, and a new client still gets in.
ch2 = pc.channel(server.port, CRM)
who = vc.Client(ch2).call("WhoAmI", vc.TV.WhoAmIRequest(), vc.TV.WhoAmIResponse, timeout=10)
t.check(who.principal == CRM, "a new client connects after the flood")
ch.close()
ch2.close()
rc, _ = server.terminate(30)
t.check(rc == 0, "clean exit")
