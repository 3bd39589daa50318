"""Unknown methods answer UNIMPLEMENTED at once (not at the deadline);
known methods whose engine is not wired say so."""
import grpc

import tvtest as t

TV, HEALTH = t.generate_stubs()
server = t.Server("--dev", "--listen", "127.0.0.1:0")
DEADLINE_S = 10

with t.insecure_channel(server.port) as ch:
    for method in ("/tokenvault.v1.TokenVault/NoSuchMethod", "/no.such.Service/Call", "/x"):
        err, took = t.expect_rpc_error(lambda to: t.unary(ch, method)(b"", timeout=to),
                                       grpc.StatusCode.UNIMPLEMENTED, DEADLINE_S, "unknown method " + method)
        t.check(took < 1.0, "%s answered in %.3f s, well under the %d s deadline" % (method, took, DEADLINE_S))

    tokenize = t.unary(ch, "/tokenvault.v1.TokenVault/Tokenize", TV.TokenizeRequest, TV.TokenizeResponse)
    err, took = t.expect_rpc_error(
        lambda to: tokenize(TV.TokenizeRequest(namespace="pan", values=["4111111111111111"]), timeout=to),
        grpc.StatusCode.UNIMPLEMENTED, DEADLINE_S, "Tokenize before the engine is wired")
    t.check("not implemented yet: engine not wired" in err.details(), "the message says why: " + err.details())

    stream = ch.stream_stream("/tokenvault.v1.TokenVault/TokenizeStream",
                              request_serializer=lambda m: m.SerializeToString(),
                              response_deserializer=TV.TokenizeResponse.FromString)
    err, took = t.expect_rpc_error(
        lambda to: list(stream(iter([TV.TokenizeRequest(namespace="pan", values=["1"])]), timeout=to)),
        grpc.StatusCode.UNIMPLEMENTED, DEADLINE_S, "TokenizeStream (bidi) before the engine is wired")
    t.check(took < 1.0, "bidi UNIMPLEMENTED answered in %.3f s" % took)

    check = t.unary(ch, "/grpc.health.v1.Health/Check", HEALTH.HealthCheckRequest, HEALTH.HealthCheckResponse)
    t.check(check(HEALTH.HealthCheckRequest(), timeout=5).status == HEALTH.HealthCheckResponse.SERVING,
            "server still SERVING")

rc, took = server.terminate(10)
t.check(rc == 0, "SIGTERM exits 0")
