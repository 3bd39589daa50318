"""Garbage, truncated and oversized requests get INVALID_ARGUMENT or
RESOURCE_EXHAUSTED with a message naming the problem; the server stays up."""
import os

import grpc

import tvtest as t

TV, HEALTH = t.generate_stubs()
server = t.Server("--dev", "--listen", "127.0.0.1:0")
INVALID = grpc.StatusCode.INVALID_ARGUMENT
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
WHOAMI = "/tokenvault.v1.TokenVault/WhoAmI"
TOKENIZE = "/tokenvault.v1.TokenVault/Tokenize"
DETOKENIZE = "/tokenvault.v1.TokenVault/Detokenize"

good = TV.TokenizeRequest(request_id="r", namespace="pan", values=["4111111111111111", "5500000000000004"],
                          ttl_seconds=60)
good.metadata["source"] = "crm"
good_bytes = good.SerializeToString()


def raw(ch, method, body, code, what, needle=None):
    err, _ = t.expect_rpc_error(lambda to: t.unary(ch, method)(body, timeout=to), code, 5, what)
    if needle is not None:
        t.check(needle in err.details(), "%s: message names the problem (%r)" % (what, err.details()))


with t.insecure_channel(server.port) as ch:
    rnd = bytes.fromhex("ff") + os.urandom(63)  # 0xff starts an over-long varint key
    raw(ch, WHOAMI, rnd, INVALID, "random bytes to WhoAmI", "not a valid protobuf message")
    raw(ch, TOKENIZE, rnd, INVALID, "random bytes to Tokenize", "TokenizeRequest")
    raw(ch, TOKENIZE, good_bytes[:-3], INVALID, "truncated TokenizeRequest", "truncated")
    raw(ch, TOKENIZE, b"\x1a\x05ab", INVALID, "length past the end", "truncated")
    raw(ch, TOKENIZE, b"\x12\x03pan\x1a\x04ab\x00c", INVALID, "NUL inside a value", "NUL")
    raw(ch, TOKENIZE, b"\x12\x03pan\x1a\x02\xc3\x28", INVALID, "invalid UTF-8 in a value", "UTF-8")
    raw(ch, TOKENIZE, TV.TokenizeRequest(values=["1"]).SerializeToString(), INVALID,
        "missing namespace", "namespace is required")
    raw(ch, TOKENIZE, TV.TokenizeRequest(namespace="pan", values=["1"], ttl_seconds=-5).SerializeToString(),
        INVALID, "negative ttl", "ttl_seconds must be positive")
    raw(ch, DETOKENIZE, TV.DetokenizeRequest(namespace="pan", tokens=["1"]).SerializeToString(), INVALID,
        "reveal unspecified", "reveal is required")
    raw(ch, DETOKENIZE, b"\x12\x03pan\x1a\x011\x20\x63", INVALID, "unknown reveal enum value", "enum")

    many = TV.TokenizeRequest(namespace="pan", values=["4111111111111111"] * 1001).SerializeToString()
    raw(ch, TOKENIZE, many, EXHAUSTED, "1001 items (limit 1000)", "limit is 1000")
    long_value = TV.TokenizeRequest(namespace="pan", values=["9" * 257]).SerializeToString()
    raw(ch, TOKENIZE, long_value, EXHAUSTED, "a 257-byte value (limit 256)", "limit is 256")
    meta = TV.TokenizeRequest(namespace="pan", values=["1"])
    for i in range(17):
        meta.metadata["k%d" % i] = "v"
    raw(ch, TOKENIZE, meta.SerializeToString(), EXHAUSTED, "17 metadata entries (limit 16)", "metadata")
    # 500000 empty values: under 1 MiB on the wire, far more once decoded.
    raw(ch, TOKENIZE, b"\x12\x03pan" + b"\x1a\x00" * 500000, EXHAUSTED, "decoded size over the budget",
        "memory once decoded")
    big = b"\x1a" + b"\x80\x80\x48" + b"x" * (1024 * 1024 + 1024)  # one 1.2 MiB field
    raw(ch, TOKENIZE, big, EXHAUSTED, "a message over the 1 MiB receive limit")

    # A valid request passes decoding and reaches the engine: one token per
    # value, in order, each keeping the value's last four digits.
    reply = TV.TokenizeResponse.FromString(t.unary(ch, TOKENIZE)(good_bytes, timeout=5))
    t.check(reply.request_id == "r" and [r.status.code for r in reply.results] == [0, 0]
            and [r.token[-4:] for r in reply.results] == ["1111", "0004"],
            "a valid request is decoded, dispatched and answered by the engine")
    # A well-formed request whose values break the format: per-item status.
    bad = TV.TokenizeRequest(namespace="pan", values=["4111111111111112", "12ab"]).SerializeToString()
    reply = TV.TokenizeResponse.FromString(t.unary(ch, TOKENIZE)(bad, timeout=5))
    t.check([r.status.name for r in reply.results][0] == "FORMAT_LUHN" and reply.results[1].status.code != 0
            and all(r.token == "" for r in reply.results), "bad values get per-item format statuses, no token")
    raw(ch, TOKENIZE, TV.TokenizeRequest(namespace="nope", values=["1"]).SerializeToString(),
        grpc.StatusCode.NOT_FOUND, "unknown namespace", "unknown namespace 'nope'")

    check = t.unary(ch, "/grpc.health.v1.Health/Check", HEALTH.HealthCheckRequest, HEALTH.HealthCheckResponse)
    t.check(check(HEALTH.HealthCheckRequest(), timeout=5).status == HEALTH.HealthCheckResponse.SERVING,
            "server still up and SERVING after bad input")

t.check(server.alive(), "process alive")
rc, took = server.terminate(10)
t.check(rc == 0, "SIGTERM exits 0")
