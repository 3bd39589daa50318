"""What the store's open does to the log reaches tokenvaultd's log (issue
16 P3): a CHECKPOINT that does not check out is logged as
store_checkpoint_discarded (the whole log is replayed, every token still
resolves, and the clean stop replaces it); a torn last record (the segment cut inside it, as a crash
during a write leaves it) is cut and logged as store_tail_cut with the
segment, offset, bytes, records and the file the cut bytes were kept in,
which holds exactly those bytes."""
import os

import tvtest as t
import vaultclient as vc

DATA = t.path("var-tail")
STORE = os.path.join(DATA, "store")
VALUES = ["%011d" % (30_000_000_000 + 6151 * i) for i in range(60)]
ARGS = ["--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA, "--metrics-listen", ""]


def events(server, name):
    return [line for line in server.lines() if line.get("event") == name]


def resolve(server, tokens):
    with t.insecure_channel(server.port) as ch:
        c = vc.Client(ch)
        return [r.value for r in c.detokenize("bank_account", tokens, vc.FULL, reason="tail test").results]


server = t.Server(*ARGS)
with t.insecure_channel(server.port) as ch:
    tokens = vc.ok_tokens(vc.Client(ch).tokenize("bank_account", VALUES))
rc, _ = server.terminate(30)
t.check(rc == 0 and len(tokens) == len(VALUES), "%d values tokenized, stopped" % len(tokens))

ckpt = os.path.join(STORE, "CHECKPOINT")
with open(ckpt, "r+b") as f:
    f.seek(70)
    b = f.read(1)
    f.seek(70)
    f.write(bytes([b[0] ^ 0x21]))
server = t.Server(*ARGS)
found = events(server, "store_checkpoint_discarded")
t.check(len(found) == 1 and "unreadable" in found[0].get("reason", ""),
        "a damaged CHECKPOINT is logged as discarded: %s" % found)
opened = events(server, "store_opened")
t.check(opened and opened[0].get("checkpoint") == "discarded" and opened[0].get("replayed_records") == len(VALUES),
        "store_opened: the whole log replayed (%s)" % opened)
t.check(resolve(server, tokens) == VALUES, "every token resolves after the full replay")
rc, _ = server.terminate(30)
t.check(rc == 0, "stopped")
server = t.Server(*ARGS)
opened = events(server, "store_opened")
t.check(opened and opened[0].get("checkpoint") == "used" and not events(server, "store_checkpoint_discarded"),
        "the clean stop replaced the bad CHECKPOINT: the next start uses it (%s)" % opened)
rc, _ = server.terminate(30)
t.check(rc == 0, "stopped")

seg = os.path.join(STORE, sorted(n for n in os.listdir(STORE) if n.startswith("seg-") and n.endswith(".log"))[-1])
with open(seg, "rb") as f:
    data = f.read()
end = len(data.rstrip(b"\0"))
with open(seg, "r+b") as f:
    f.truncate(end - 4)  # the last record loses its last bytes: a torn write
server = t.Server(*ARGS)
cut = events(server, "store_tail_cut")
t.check(len(cut) == 1 and cut[0].get("segment") == os.path.basename(seg) and cut[0].get("records") == 1,
        "the cut is logged with its segment and record count: %s" % cut)
c0 = cut[0]
kept = c0.get("kept_as", "")
t.check(os.path.exists(kept) and os.path.getsize(kept) == c0.get("bytes") > 0,
        "the cut bytes are kept in %s (%s bytes)" % (kept, c0.get("bytes")))
with open(kept, "rb") as f:
    t.check(f.read() == data[c0["offset"]:c0["offset"] + c0["bytes"]], "the kept file holds exactly the cut bytes")
values = resolve(server, tokens)
t.check(sum(v == want for v, want in zip(values, VALUES)) == len(VALUES) - 1,
        "every token but the torn record's resolves")
rc, _ = server.terminate(30)
t.check(rc == 0, "stopped")
