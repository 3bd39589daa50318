#!/usr/bin/env python3
"""HTTP/JSON vs gRPC batch throughput of one tokenvaultd --dev, in the same
run: batch tokenize (fresh Luhn-valid PANs, durable writes) and batch
detokenize FULL (a pool of tokens read back), each over HTTP (POST
/v1/tokenize, /v1/detokenize; http.client) and over gRPC (Python grpcio),
with the same batch size and the same number of client processes. Prints
one JSON line per mode and the HTTP/gRPC ratio of values/s per operation.

    python3 bench/http_bench.py BUILD_DIR [--seconds S] [--clients N] [--batch B]

Both clients are Python, one process per client, so the client costs are
alike (JSON in Python's C encoder, protobuf in upb); the server and the
clients share the machine's cores, so the absolute rates follow the load
and the ratio is the figure to read. A first measurement, not the
issue's C load generator (bench/vault_bench has gRPC modes only)."""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))


def luhn_pan(rng):
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def http_call(conn, path, body):
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise RuntimeError("HTTP %d: %s" % (resp.status, data[:200]))
    return json.loads(data)


def worker(args):
    """One client process: calls for |seconds|; returns (values done, calls,
    seconds spent calling: set-up such as generating the gRPC stubs is not
    counted)."""
    transport, op, port, seconds, batch, tokens, seed = args
    rng = random.Random(seed)
    done = calls = 0
    if transport == "grpc":
        import grpc
        import vaultclient as vc
        channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        client = vc.Client(channel)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    begin = time.monotonic()
    end = begin + seconds
    while time.monotonic() < end:
        if op == "tokenize":
            values = [luhn_pan(rng) for _ in range(batch)]
            if transport == "grpc":
                resp = client.tokenize("pan", values)
                ok = sum(1 for r in resp.results if r.status.code == 0)
            else:
                ok = sum(1 for r in http_call(conn, "/v1/tokenize", {"namespace": "pan", "values": values})["results"]
                         if r["status"]["code"] == 0)
        else:
            start = rng.randrange(len(tokens) - batch)
            chunk = tokens[start:start + batch]
            if transport == "grpc":
                resp = client.detokenize("pan", chunk, vc.TV.REVEAL_FULL, reason="bench")
                ok = sum(1 for r in resp.results if r.status.code == 0)
            else:
                ok = sum(1 for r in http_call(conn, "/v1/detokenize", {"namespace": "pan", "tokens": chunk,
                                                                         "reveal": "REVEAL_FULL",
                                                                         "reason": "bench"})["results"]
                         if r["status"]["code"] == 0)
        if ok != batch:
            raise RuntimeError("%s %s: %d of %d items failed" % (transport, op, batch - ok, batch))
        done += ok
        calls += 1
    return done, calls, time.monotonic() - begin


def run(pool, transport, op, port, seconds, clients, batch, tokens):
    results = pool.map(worker, [(transport, op, port, seconds, batch, tokens, i * 7919 + len(op))
                                for i in range(clients)])
    rate = sum(r[0] / r[2] for r in results)
    calls = sum(r[1] for r in results)
    line = {"transport": transport, "op": op + "-batch", "batch": batch, "clients": clients,
            "seconds": seconds, "calls": calls, "values_per_s": round(rate)}
    print(json.dumps(line), flush=True)
    return rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batch", type=int, default=100)
    a = ap.parse_args()
    os.environ["TOKENVAULTD"] = os.path.join(a.build, "vault", "daemon", "tokenvaultd")
    os.environ.setdefault("TV_PROTO_DIR", os.path.join(HERE, "..", "proto"))
    import tvtest as t  # reads TOKENVAULTD at import
    import http_api as h
    server, http_port = h.start_dev(t.path("var-bench"))
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=60)
    rng = random.Random(1)
    tokens = []
    while len(tokens) < 20 * a.batch:
        values = [luhn_pan(rng) for _ in range(a.batch)]
        tokens += [r["token"] for r in http_call(conn, "/v1/tokenize", {"namespace": "pan", "values": values})["results"]]
    conn.close()
    ratios = {}
    with multiprocessing.Pool(a.clients) as pool:
        for op in ("tokenize", "detokenize"):
            grpc_rate = run(pool, "grpc", op, server.port, a.seconds, a.clients, a.batch, tokens)
            http_rate = run(pool, "http", op, http_port, a.seconds, a.clients, a.batch, tokens)
            ratios[op + "-batch"] = round(http_rate / grpc_rate, 2)
    print(json.dumps({"http_over_grpc_values_per_s": ratios, "loadavg_1m": os.getloadavg()[0]}))
    server.terminate(30)


if __name__ == "__main__":
    main()
