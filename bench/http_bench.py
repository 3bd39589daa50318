#!/usr/bin/env python3
"""HTTP/JSON vs gRPC batch throughput of one tokenvaultd --dev, in the same
run: batch tokenize (fresh Luhn-valid PANs, durable writes), batch
detokenize FULL (a pool of tokens read back) and stream detokenize FULL
(streams of --stream-batches batches: gRPC DetokenizeStream against POST
/v1/detokenize:stream with NDJSON lines), each over HTTP (http.client) and
over gRPC (Python grpcio), with the same batch size and the same number of
client processes. Prints one JSON line per mode and the HTTP/gRPC ratio of
values/s per operation.

    python3 bench/http_bench.py BUILD_DIR [--seconds S] [--clients N] [--batch B] [--stream-batches K]

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
import socket
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


def http_stream(port, lines):
    """One NDJSON stream: |lines| (bytes) as a chunked upload; the answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.connect()  # Nagle would hold each small chunk for the previous one's ACK (curl sets this too)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.request("POST", "/v1/detokenize:stream", body=iter(lines), encode_chunked=True,
                     headers={"Content-Type": "application/x-ndjson", "Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError("HTTP %d: %s" % (resp.status, resp.read()[:200]))
        answers, rest = [], b""
        while True:  # big reads: http.client's readline on a chunked answer is slow Python
            block = resp.read1(1 << 16)
            if not block:
                break
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            answers += [json.loads(line) for line in lines]
        return answers
    finally:
        conn.close()


def detokenize_stream(transport, port, client, chunks):
    """Reveals |chunks| (lists of tokens) in one stream; values revealed."""
    reqs = [{"namespace": "pan", "tokens": c, "reveal": "REVEAL_FULL", "reason": "bench"} for c in chunks]
    if transport == "http":
        answers = http_stream(port, ((json.dumps(r) + "\n").encode() for r in reqs))
        if len(answers) != len(reqs) or any("type" in a for a in answers):
            raise RuntimeError("http stream: %d answers for %d lines (%s)" % (len(answers), len(reqs), answers[-1:]))
        return sum(1 for a in answers for r in a["results"] if r["status"]["code"] == 0)
    import vaultclient as vc
    call = client.ch.stream_stream(vc.SVC + "DetokenizeStream", request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=vc.TV.DetokenizeResponse.FromString)
    msgs = (vc.TV.DetokenizeRequest(namespace="pan", tokens=c, reveal=vc.TV.REVEAL_FULL, reason="bench")
            for c in chunks)
    return sum(1 for resp in call(msgs, timeout=120) for r in resp.results if r.status.code == 0)


def worker(args):
    """One client process: calls for |seconds|; returns (values done, calls,
    seconds spent calling: set-up such as generating the gRPC stubs is not
    counted)."""
    transport, op, port, seconds, batch, tokens, seed, stream_batches = args
    rng = random.Random(seed)
    done = calls = 0
    if transport == "grpc":
        import grpc
        import vaultclient as vc
        channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        client = vc.Client(channel)
    else:
        client = None
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
        elif op == "detokenize-stream":
            chunks = []
            for _ in range(stream_batches):
                start = rng.randrange(len(tokens) - batch)
                chunks.append(tokens[start:start + batch])
            ok = detokenize_stream(transport, port, client, chunks)
            if ok != batch * stream_batches:
                raise RuntimeError("%s %s: %d of %d items failed" % (transport, op, batch * stream_batches - ok,
                                                                     batch * stream_batches))
            done += ok
            calls += 1
            continue
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


def run(pool, transport, op, port, seconds, clients, batch, tokens, stream_batches):
    results = pool.map(worker, [(transport, op, port, seconds, batch, tokens, i * 7919 + len(op), stream_batches)
                                for i in range(clients)])
    rate = sum(r[0] / r[2] for r in results)
    calls = sum(r[1] for r in results)
    line = {"transport": transport, "op": op if op.endswith("-stream") else op + "-batch", "batch": batch,
            "clients": clients, "seconds": seconds, "calls": calls, "values_per_s": round(rate)}
    if op.endswith("-stream"):
        line["batches_per_stream"] = stream_batches
    print(json.dumps(line), flush=True)
    return rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--stream-batches", type=int, default=50, help="batches per stream (detokenize-stream)")
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
        answer = http_call(conn, "/v1/tokenize", {"namespace": "pan", "values": values})
        tokens += [r["token"] for r in answer["results"]]
    conn.close()
    ratios = {}
    with multiprocessing.Pool(a.clients) as pool:
        for op in ("tokenize", "detokenize", "detokenize-stream"):
            grpc_rate = run(pool, "grpc", op, server.port, a.seconds, a.clients, a.batch, tokens, a.stream_batches)
            http_rate = run(pool, "http", op, http_port, a.seconds, a.clients, a.batch, tokens, a.stream_batches)
            ratios[op if op.endswith("-stream") else op + "-batch"] = round(http_rate / grpc_rate, 2)
    print(json.dumps({"http_over_grpc_values_per_s": ratios, "loadavg_1m": os.getloadavg()[0]}))
    server.terminate(30)


if __name__ == "__main__":
    main()
