"""The Python client (client/python) against a real tokenvaultd.

--dev vault: every operation of the Node and C clients — tokenize and
detokenize (reveal in any case), batches over the server's 1000-item limit
split automatically, windowed bulk streams (lazy input, early stop, bad
input), token info, delete, erase, keys (list, rotate, propose/approve
KEK, status), audit (verify, read) — and the clear errors: a bad reveal
level, an empty token. Mutual TLS vault: identity and health, a refused
request as VaultError, and the transport mistakes named with their fix (a
plaintext client against TLS, a certificate with another key, the wrong CA,
a file that is not a CA certificate, a client
certificate the vault does not trust, a TLS client against --dev). A closed port: idempotent calls
retried with backoff, tokenize not (unless retry_tokenize)."""
import itertools
import socket
import time

import grpc

import tvtest as t
import tokenvault

PANS = ["4111111111111111", "5555555555554444", "4012888888881881"]


def expect(exc_type, fn, what):
    try:
        fn()
    except exc_type as e:
        return e
    t.fail("%s: expected %s" % (what, exc_type.__name__))


def luhn_pan(i):
    """A valid 16-digit PAN from |i|: prefix 411111, Luhn check digit."""
    body = "411111%09d" % i
    digits = [int(c) for c in body]
    total = sum(d if k % 2 else (d * 2 - 9 if d * 2 > 9 else d * 2) for k, d in enumerate(digits))
    return body + str((10 - total % 10) % 10)


# -- --dev vault: the operations --------------------------------------------
dev = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-dev"))
vault = tokenvault.Client("127.0.0.1:%d" % dev.port, insecure=True)
t.check(vault.health() == "SERVING" and vault.whoami().principal == "dev:local", "health and whoami over --dev")

tokens = vault.tokenize("pan", PANS)
t.check(len(tokens) == 3 and all(a != b and a[:6] == b[:6] for a, b in zip(tokens, PANS)), "tokenize")
t.check(vault.detokenize("pan", tokens, reveal="FULL", reason="test") == PANS,
        'reveal="FULL" works (any case, as the Node client)')
t.check(vault.detokenize("pan", tokens[:1])[0] == "411111******1111", "masked is the default reveal")
e = expect(ValueError, lambda: vault.detokenize("pan", tokens, reveal="everything"), "bad reveal")
t.check('"full", "masked" or "none"' in str(e) and "everything" in str(e),
        "a bad reveal level is a ValueError naming the allowed ones: %s" % e)

# Over the server's limit of 1000 items per request: split automatically.
many = [luhn_pan(i) for i in range(2500)]
big = tokenvault.Client("127.0.0.1:%d" % dev.port, insecure=True, batch_size=tokenvault.SERVER_ITEMS_MAX)
many_tokens = big.tokenize("pan", many)
t.check(len(many_tokens) == 2500 and big.detokenize("pan", many_tokens, reveal="full", reason="t") == many,
        "2500 items (limit 1000) are split into requests and come back in order")
e = expect(ValueError, lambda: tokenvault.Client("x:1", insecure=True, batch_size=1001), "batch over the limit")
t.check("batch_size" in str(e) and "1000" in str(e), "batch_size above the server's limit is refused: %s" % e)

# Streams: lazy input, window, order, round trip.
pulled = []


def counted(values):
    for v in values:
        pulled.append(v)
        yield v


stream_tokens = [r.text for r in vault.tokenize_stream("pan", counted(many), batch_size=300, window=2)]
t.check(len(stream_tokens) == 2500 and stream_tokens == many_tokens,
        "tokenize_stream: one result per value, in order (convergent: the same tokens)")
back = list(vault.detokenize_stream("pan", iter(stream_tokens), reveal="full", reason="bulk", batch_size=250))
t.check([r.text for r in back] == many and all(r.ok for r in back) and back[-1].index == 2499,
        "detokenize_stream gives every value back, indexed")
pulled.clear()
endless = (luhn_pan(i) for i in itertools.count())
first = list(itertools.islice(vault.tokenize_stream("pan", counted(endless), batch_size=100, window=2), 10))
t.check(len(first) == 10 and all(r.ok for r in first), "a stream over an endless input can be stopped early")
t.check(len(pulled) <= 100 * 4, "the input is pulled lazily, a window at a time (%d pulled)" % len(pulled))
e = expect(TypeError, lambda: list(vault.tokenize_stream("pan", ["4111111111111111", 42])), "non-string")
t.check("item 1" in str(e), "a non-string stream item is a TypeError naming it: %s" % e)
e = expect(tokenvault.VaultError, lambda: list(vault.tokenize_stream("no_such_ns", PANS)), "unknown namespace")
t.check(e.code == grpc.StatusCode.INVALID_ARGUMENT or e.code == grpc.StatusCode.NOT_FOUND,
        "a stream to an unknown namespace raises VaultError: %s" % e)

# Empty token: per item, named with the fix (the server only says "invalid argument").
res = vault.detokenize_items("pan", ["", tokens[0]], reveal="full", reason="t")
t.check(not res[0].ok and "empty" in res[0].message and "tokenize returned" in res[0].message and res[1].ok,
        "an empty token's result says so and what to pass: %s" % res[0].message)
e = expect(tokenvault.ItemError, lambda: vault.detokenize("pan", [""]), "empty token")
t.check(e.index == 0 and "empty" in str(e), "detokenize([\"\"]) raises ItemError naming it: %s" % e)
res = list(vault.detokenize_stream("pan", [tokens[0], ""]))
t.check(res[0].ok and not res[1].ok and "empty" in res[1].message, "streams name an empty token too")

# Token info, delete, erase.
tok = vault.tokenize("pan", ["4000056655665556"], metadata={"source": "crm"}, ttl_seconds=3600)[0]
info = vault.info("pan", [tok, ""])
t.check(info[0].ok and info[0].key_version >= 1 and info[0].metadata == {"source": "crm"}
        and info[0].expires_at_ms > info[0].created_at_ms > 0, "info: status, times, key version, metadata")
t.check(not info[1].ok and "empty" in info[1].message, "info names an empty token")
deleted = vault.delete("pan", [tok])
t.check(deleted[0].ok and not vault.detokenize_items("pan", [tok])[0].ok, "delete: the token no longer resolves")
t.check(vault.erase("pan", PANS[2], reason="right to erasure") >= 1, "erase removes the value's tokens")
t.check(not vault.detokenize_items("pan", tokens[2:3])[0].ok, "an erased value's token no longer resolves")

# Keys.
keys = vault.list_keys("pan")
t.check(keys and keys[-1].state == "ACTIVE" and keys[-1].namespace == "pan", "list_keys: the active version")
new = vault.rotate_data_key("pan", reason="yearly")
t.check(new.version == keys[-1].version + 1 and new.state == "ACTIVE", "rotate_data_key: a new active version")
t.check(vault.detokenize("pan", tokens[:1], reveal="full", reason="t") == PANS[:1], "old tokens still resolve")
prop = vault.propose_kek_rotation(reason="test")
t.check(prop.state == "PENDING" and prop.proposed_by == "dev:local" and prop.proposal_id, "propose_kek_rotation")
e = expect(tokenvault.VaultError, lambda: vault.approve_kek_rotation(prop.proposal_id), "same officer")
t.check(e.code == grpc.StatusCode.PERMISSION_DENIED, "approve_kek_rotation by the proposer is refused: %s" % e)
status = vault.rotation_status()
t.check(status.kek_version >= 1 and any(p.proposal_id == prop.proposal_id for p in status.proposals)
        and any(r.namespace == "pan" for r in status.data_key_rotations),
        "rotation_status: KEK version, the proposal, the data key rotation")

# Audit.
v = vault.verify_audit()
t.check(v.intact and v.entries_checked > 0 and v.first_bad_seq == 0, "verify_audit: intact (%s)" % (v,))
entries = vault.read_audit(limit=5)
t.check(0 < len(entries) <= 5 and entries[0].seq >= 1 and all(x.principal for x in entries),
        "read_audit: entries with sequence numbers and principals")
only = vault.read_audit(method="Tokenize", limit=50)
t.check(only and all(x.method == "Tokenize" for x in only), "read_audit filters by method")
vault.close()
big.close()
dev.terminate(20)

# -- mutual TLS vault -----------------------------------------------------
server = t.Server(*t.mtls_server_pki(), "--listen", "127.0.0.1:0")
t.make_cert("ca", "crm", "crm-service", "URI:spiffe://bank/crm")
t.make_cert("ca", "other", "other-service", "URI:spiffe://bank/other")
t.make_ca("ca2")
target = "127.0.0.1:%d" % server.port

with tokenvault.Client(target, ca=t.path("ca.crt"), cert=t.path("crm.crt"), key=t.path("crm.key"),
                       server_name="localhost") as mtls:
    me = mtls.whoami()
    t.check(me.principal == "spiffe://bank/crm" and me.authenticated,
            "whoami() returns the certificate's principal (%r)" % me.principal)
    t.check(mtls.health() == "SERVING", "health() is SERVING")
    e = expect(tokenvault.VaultError, lambda: mtls.tokenize("", ["4111111111111111"]), "no namespace")
    t.check(e.code == grpc.StatusCode.INVALID_ARGUMENT and "namespace" in e.details,
            "an invalid request raises VaultError(INVALID_ARGUMENT) naming the field: %s" % e)

e = expect(ValueError, lambda: tokenvault.Client(target, ca=t.path("ca.crt")), "no cert/key")
t.check("ca, cert and key" in str(e), "mutual TLS without cert/key is a ValueError, not a silent plaintext client")
e = expect(ValueError, lambda: tokenvault.Client(target, ca=t.path("ca.crt"), cert=t.path("crm.crt"),
                                                 key=t.path("other.key")), "mismatch")
t.check("crm.crt" in str(e) and "other.key" in str(e) and "do not belong together" in str(e),
        "a certificate with another certificate's key is named at construction: %s" % e)
e = expect(ValueError, lambda: tokenvault.Client(target, ca=t.path("crm.key"), cert=t.path("crm.crt"),
                                                 key=t.path("crm.key")), "CA not a certificate")
t.check("no PEM certificate" in str(e) and "server certificate" in str(e), "a CA file without a certificate: %s" % e)
e = expect(ValueError, lambda: tokenvault.Client(target, ca=t.path("nope.crt"), cert=t.path("crm.crt"),
                                                 key=t.path("crm.key")), "missing file")
t.check("nope.crt" in str(e) and "CA" in str(e), "a missing file is named: %s" % e)
with tokenvault.Client(target, insecure=True, retries=0, timeout=5) as plain:
    e = expect(tokenvault.VaultError, plain.whoami, "plaintext to TLS")
    t.check(e.code == grpc.StatusCode.UNAVAILABLE and "mutual TLS" in str(e) and "ca=" in str(e)
            and "insecure=True" in str(e), "a plaintext client against a TLS vault says to use mTLS: %s" % e)
with tokenvault.Client(target, ca=t.path("ca2.crt"), cert=t.path("crm.crt"), key=t.path("crm.key"),
                       server_name="localhost", retries=0, timeout=5) as wrong_ca:
    e = expect(tokenvault.VaultError, wrong_ca.whoami, "wrong CA")
    t.check(e.code == grpc.StatusCode.UNAVAILABLE and "does not chain to ca=" in str(e),
            "a CA that did not issue the server's certificate is named: %s" % e)
t.make_cert("ca2", "stranger", "stranger-service", "URI:spiffe://bank/stranger")
with tokenvault.Client(target, ca=t.path("ca.crt"), cert=t.path("stranger.crt"), key=t.path("stranger.key"),
                       server_name="localhost", retries=0, timeout=5) as stranger:
    e = expect(tokenvault.VaultError, stranger.whoami, "client certificate from another CA")
    t.check(e.code == grpc.StatusCode.UNAVAILABLE and "tls.client_ca" in str(e),
            "a client certificate the vault does not trust: the hint names tls.client_ca: %s" % e)
server.kill()
dev = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-dev2"))
with tokenvault.Client("127.0.0.1:%d" % dev.port, ca=t.path("ca.crt"), cert=t.path("crm.crt"),
                       key=t.path("crm.key"), server_name="localhost", retries=0, timeout=5) as tls_to_dev:
    e = expect(tokenvault.VaultError, tls_to_dev.whoami, "TLS to --dev")
    t.check(e.code == grpc.StatusCode.UNAVAILABLE and "insecure=True" in str(e) and "--dev" in str(e),
            "a TLS client against a --dev vault is told to use insecure=True: %s" % e)
dev.kill()

# -- retries -----------------------------------------------------------------
with socket.socket() as s:  # nothing listens on this port: every attempt is UNAVAILABLE
    s.bind(("127.0.0.1", 0))
    dead_port = s.getsockname()[1]
with tokenvault.Client("127.0.0.1:%d" % dead_port, insecure=True, timeout=2, retries=3, backoff=0.1) as dead:
    start = time.monotonic()
    e = expect(tokenvault.VaultError, dead.whoami, "closed port")
    elapsed = time.monotonic() - start
    t.check(e.code == grpc.StatusCode.UNAVAILABLE and e.attempts == 4,
            "closed port: VaultError(UNAVAILABLE) after 4 attempts")
    t.check(elapsed >= 0.1 + 0.2 + 0.4, "three retries with exponential backoff (%.2f s)" % elapsed)
    t.check("is the vault running" in str(e), "the error asks whether the vault runs there: %s" % e)
    e = expect(tokenvault.VaultError, lambda: dead.tokenize("pan", PANS), "tokenize")
    t.check(e.attempts == 1, "tokenize is not repeated by default (a repeat could mint a second token)")
with tokenvault.Client("127.0.0.1:%d" % dead_port, insecure=True, timeout=2, retries=2, backoff=0.01,
                       retry_tokenize=True) as dead:
    e = expect(tokenvault.VaultError, lambda: dead.tokenize("pan", PANS), "tokenize retried")
    t.check(e.attempts == 3, "retry_tokenize=True repeats tokenize (convergent namespaces)")
print("python client: all checks passed")
