"""The server core with a fake engine behind tv_service: per-item statuses,
a call finished later from another thread, deadlines, a bidi stream with
one request in flight, and the SIGTERM drain of an in-flight call."""
import threading
import time

import grpc

import tvtest as t

TV, HEALTH = t.generate_stubs()
server = t.Server("--dev", "--listen", "127.0.0.1:0")
ch = t.insecure_channel(server.port)
tokenize = t.unary(ch, "/tokenvault.v1.TokenVault/Tokenize", TV.TokenizeRequest, TV.TokenizeResponse)


def request(values, delay_ms=0, rid="r"):
    req = TV.TokenizeRequest(request_id=rid, namespace="pan", values=values)
    if delay_ms:
        req.metadata["delay_ms"] = str(delay_ms)
    return req


resp = tokenize(request(["4111", "bad", "12345"]), timeout=5)
t.check([r.token for r in resp.results] == ["tok_1114", "", "tok_54321"], "one result per value, in order")
t.check([r.status.code for r in resp.results] == [0, 204, 0], "item status codes (0 OK, 204 FORMAT_LUHN)")
t.check(resp.results[1].status.name == "FORMAT_LUHN" and resp.results[0].status.name == "OK",
        "item status names")
t.check(resp.request_id == "r", "request id echoed")
t.check(tokenize(request(["SECRETVALUE"]), timeout=5).results[0].token == "tok_EULAVTERCES", "letters too")

start = time.monotonic()
resp = tokenize(request(["77"], delay_ms=300), timeout=5)
took = time.monotonic() - start
t.check(resp.results[0].token == "tok_77" and took >= 0.3,
        "a call finished later from another thread (%.2f s)" % took)

t.expect_rpc_error(lambda to: tokenize(request(["1"], delay_ms=1500), timeout=to),
                   grpc.StatusCode.DEADLINE_EXCEEDED, 0.3, "a slow call past its deadline")
t.check(tokenize(request(["5"]), timeout=5).results[0].token == "tok_5", "server fine after the deadline")

stream = ch.stream_stream("/tokenvault.v1.TokenVault/TokenizeStream",
                          request_serializer=lambda m: m.SerializeToString(),
                          response_deserializer=TV.TokenizeResponse.FromString)
N = 300
replies = list(stream((request([str(i)], rid="s%d" % i) for i in range(N)), timeout=30))
t.check(len(replies) == N, "bidi stream: %d replies for %d requests" % (len(replies), N))
t.check(all(r.request_id == "s%d#1" % i for i, r in enumerate(replies)),
        "bidi stream: replies in order, never more than one request in flight")
t.check(all(r.results[0].token == "tok_" + str(i)[::-1] for i, r in enumerate(replies)), "bidi stream: tokens")
t.expect_rpc_error(lambda to: list(stream(iter([request(["1"]), TV.TokenizeRequest(values=["x"])]), timeout=to)),
                   grpc.StatusCode.INVALID_ARGUMENT, 5, "a malformed message inside a stream ends it")
t.check(list(stream(iter([]), timeout=5)) == [], "an empty stream ends cleanly")

# A client that stops reading replies: the server stops reading requests
# (one reply in flight per stream), so the client's sends stall instead of
# the server buffering without bound.
pulled = [0]
BIG = ["7" * 200] * 1000  # ~200 KB per request, ~230 KB per reply


def endless():
    while True:
        pulled[0] += 1
        yield request(BIG, rid="big")


it = stream(endless(), timeout=30)
time.sleep(2)
stalled_at = pulled[0]
time.sleep(1)
t.check(pulled[0] == stalled_at and stalled_at < 200,
        "slow reader: the server stopped reading after %d requests (~%d MB)" % (stalled_at, stalled_at // 5))
for _ in range(stalled_at + 10):
    next(it)
t.check(pulled[0] > stalled_at, "reading replies lets the stream move on (%d requests sent)" % pulled[0])
it.cancel()
t.check(tokenize(request(["6"]), timeout=5).results[0].token == "tok_6", "server fine after a cancelled stream")

# SIGTERM while a call is in flight: it completes, then the process exits 0.
result = {}


def slow_call():
    try:
        result["resp"] = tokenize(request(["99"], delay_ms=1000), timeout=10)
    except grpc.RpcError as e:
        result["err"] = e


th = threading.Thread(target=slow_call)
th.start()
time.sleep(0.3)
rc, took = server.terminate(10)
th.join(10)
t.check(rc == 0, "SIGTERM exits 0 with a call in flight")
t.check("resp" in result and result["resp"].results[0].token == "tok_99",
        "the in-flight call was drained, not dropped (%r)" % result.get("err"))
t.check(took >= 0.5, "exit waited for the call (%.2f s)" % took)
log = server.text()
t.check("grace period over" not in log, "the call finished within the grace period: nothing was cancelled")
t.check("SECRETVALUE" not in log and "EULAVTERCES" not in log and "tok_" not in log,
        "no value or token in the server log")
t.check(all(l.get("event") for l in server.lines()) and len(server.lines()) >= 10, "log lines are JSON objects")
ch.close()
