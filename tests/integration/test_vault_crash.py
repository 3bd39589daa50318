"""SIGKILL during a tokenize load of CLIENTS concurrent clients (one
connection each): every token the server acknowledged before the kill
(thousands) detokenizes to its value after a restart on the same data
directory (tokens are durable before they are answered). Then the same
with SIGTERM: the server drains, exits 0 and loses nothing either. Each
load phase is bounded in time (LOAD_S) as well as in tokens."""
import random
import threading
import time

import grpc

import tvtest as t
import vaultclient as vc

DATA = t.path("var-crash")
CLIENTS = 24
TARGET = 6000  # acknowledged tokens before the signal
AT_LEAST = 2000  # what the load must reach within LOAD_S, even under ASan on a loaded machine
LOAD_S = 45


def luhn_pan(rng):
    """A random 16-digit number with a correct Luhn check digit."""
    body = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
    for d in "0123456789":
        if vc.luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


acked = {}  # token -> value
per_client = [0] * CLIENTS
errors = []
stop = threading.Event()


def load(port, seed):
    rng = random.Random(seed)
    with t.insecure_channel(port) as ch:
        c = vc.Client(ch)
        while not stop.is_set():
            values = [luhn_pan(rng) for _ in range(8)]
            try:
                resp = c.tokenize("pan", values)
            except grpc.RpcError as e:
                errors.append(e.code())
                return  # the server is gone
            for v, r in zip(values, resp.results):
                if r.status.code == 0:
                    acked[r.token] = v
                    per_client[seed % CLIENTS] += 1




def run(sig_name):
    acked.clear()
    errors.clear()
    stop.clear()
    per_client[:] = [0] * CLIENTS
    server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA)
    base = 1000 * len(sig_name)  # distinct values per phase; seed % CLIENTS is the client
    threads = [threading.Thread(target=load, args=(server.port, base + i)) for i in range(CLIENTS)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + LOAD_S
    while len(acked) < TARGET and time.monotonic() < deadline:
        time.sleep(0.05)
    if sig_name == "SIGKILL":
        server.proc.kill()  # mid-load
        server.proc.wait()
    else:
        rc, _ = server.terminate(20)
        t.check(rc == 0, "SIGTERM under load: drained and exited 0")
    stop.set()
    for th in threads:
        th.join(10)
    t.check(not any(th.is_alive() for th in threads), "%s: every client stopped" % sig_name)
    t.check(len(acked) >= AT_LEAST, "%s: load acknowledged %d tokens first" % (sig_name, len(acked)))
    busy = sum(1 for n in per_client if n > 0)
    t.check(busy == CLIENTS, "%s: all %d clients were acknowledged tokens (%d were)" % (sig_name, CLIENTS, busy))
    t.check(all(e in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED)
                for e in errors), "%s: in-flight calls failed as the server stopped (%s)" % (sig_name, set(errors)))

    server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA)
    with t.insecure_channel(server.port) as ch:
        c = vc.Client(ch)
        items = list(acked.items())
        lost = []
        for i in range(0, len(items), 500):
            chunk = items[i:i + 500]
            resp = c.detokenize("pan", [k for k, _ in chunk], vc.FULL, reason="crash test")
            lost += [(k, r.status.name) for (k, v), r in zip(chunk, resp.results) if r.value != v]
        t.check(not lost, "%s: after restart every acknowledged token resolves to its value (%d checked, lost %s)"
                % (sig_name, len(items), lost[:3]))
        again = c.tokenize("pan", [items[0][1]])
        t.check(again.results[0].token == items[0][0], "%s: convergence survives" % sig_name)
    rc, _ = server.terminate(20)
    t.check(rc == 0, "clean stop after the restart")


run("SIGKILL")
run("SIGTERM")
