"""SIGTERM with a Health/Watch stream in flight: the watcher is told
NOT_SERVING, its stream ends, and the process exits 0 promptly."""
import threading
import time

import tvtest as t

TV, HEALTH = t.generate_stubs()
server = t.Server("--dev", "--listen", "127.0.0.1:0")
GRACE_S = 5  # TV_SHUTDOWN_GRACE_MS

ch = t.insecure_channel(server.port)
watch = ch.unary_stream("/grpc.health.v1.Health/Watch", request_serializer=lambda m: m.SerializeToString(),
                        response_deserializer=HEALTH.HealthCheckResponse.FromString)
stream = watch(HEALTH.HealthCheckRequest(service=""), timeout=30)
first = next(stream)
t.check(first.status == HEALTH.HealthCheckResponse.SERVING, "Watch sends SERVING first")

unknown = watch(HEALTH.HealthCheckRequest(service="no.such.Service"), timeout=30)
t.check(next(unknown).status == HEALTH.HealthCheckResponse.SERVICE_UNKNOWN,
        "Watch of an unknown service sends SERVICE_UNKNOWN and stays open")

rest = []
ended = threading.Event()


def drain():
    try:
        for msg in stream:
            rest.append(msg.status)
    except Exception as e:  # noqa: BLE001 - recorded and checked below
        rest.append(e)
    ended.set()


threading.Thread(target=drain, daemon=True).start()
time.sleep(0.2)
t.check(not ended.is_set(), "the Watch stream stays open while serving")
rc, took = server.terminate(GRACE_S + 5)
t.check(rc == 0, "SIGTERM exits 0 (got %d)" % rc)
# Behaviour, not speed: had the server waited for the watcher, its grace
# period would have run out and it would have said so (and cancelled).
print("exit took %.2f s" % took)
t.check("grace period over" not in server.text(),
        "watchers are ended, not waited for: the grace period did not run out")
t.check(ended.wait(5), "the Watch stream ended")
t.check(rest == [HEALTH.HealthCheckResponse.NOT_SERVING],
        "the watcher saw NOT_SERVING, then a clean end (got %r)" % rest)
events = [l.get("event") for l in server.lines()]
t.check("stopping" in events and "stopped" in events, "stop is logged")
ch.close()
