"""Unknown methods answer UNIMPLEMENTED at once (not at the deadline);
the audit methods (VerifyAudit, ReadAudit, served since the audit RPCs
were wired) answer; a served method (Tokenize) answers."""
import grpc

import tvtest as t

TV, HEALTH = t.generate_stubs()
server = t.Server("--dev", "--listen", "127.0.0.1:0")
DEADLINE_S = 10

with t.insecure_channel(server.port) as ch:
    for method in ("/tokenvault.v1.TokenVault/NoSuchMethod", "/no.such.Service/Call", "/x"):
        err, took = t.expect_rpc_error(lambda to: t.unary(ch, method)(b"", timeout=to),
                                       grpc.StatusCode.UNIMPLEMENTED, DEADLINE_S, "unknown method " + method)
        # UNIMPLEMENTED (checked above), not DEADLINE_EXCEEDED: answered at once, not
        # left to time out; the time is printed, not asserted (a loaded machine).
        print("%s answered in %.3f s (deadline %d s)" % (method, took, DEADLINE_S))

    verify = t.unary(ch, "/tokenvault.v1.TokenVault/VerifyAudit", TV.VerifyAuditRequest, TV.VerifyAuditResponse)
    t.check(verify(TV.VerifyAuditRequest(), timeout=DEADLINE_S).intact, "VerifyAudit is served: the log is intact")

    tokenize = t.unary(ch, "/tokenvault.v1.TokenVault/Tokenize", TV.TokenizeRequest, TV.TokenizeResponse)
    got = tokenize(TV.TokenizeRequest(namespace="pan", values=["4111111111111111"]), timeout=DEADLINE_S)
    t.check(got.results[0].status.code == 0 and got.results[0].token.endswith("1111")
            and got.results[0].token != "4111111111111111", "Tokenize is served by the engine")

    stream = ch.unary_stream("/tokenvault.v1.TokenVault/ReadAudit",
                             request_serializer=lambda m: m.SerializeToString(),
                             response_deserializer=TV.AuditEntry.FromString)
    entries = list(stream(TV.ReadAuditRequest(), timeout=DEADLINE_S))
    t.check([e.method for e in entries][-1:] == ["Tokenize"], "ReadAudit (server streaming) is served")

    check = t.unary(ch, "/grpc.health.v1.Health/Check", HEALTH.HealthCheckRequest, HEALTH.HealthCheckResponse)
    t.check(check(HEALTH.HealthCheckRequest(), timeout=5).status == HEALTH.HealthCheckResponse.SERVING,
            "server still SERVING")

rc, took = server.terminate(10)
t.check(rc == 0, "SIGTERM exits 0")
