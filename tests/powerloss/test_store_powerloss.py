"""The store against power loss (not only a killed process).

    test_store_powerloss.py DRIVER [--compact] [--expect-loss]

Each round: DRIVER (powerloss_store.c) appends from several threads on a
lossyfs mount, printing each acknowledged id; the test SIGKILLs it after
a random number of acknowledgements, cuts the power (everything not
fsynced is dropped), and runs DRIVER check, which reopens the store and
looks up every id ever acknowledged. The store directory is created by
the first round on the mount's root, which nothing else fsyncs.

--compact      a thread compacts in a loop meanwhile (manifest, renames,
               directory fsyncs and checkpoints are cut mid-way too).
--expect-loss  the negative control: DRIVER is the store built without its
               fdatasync; the check must find acknowledged records lost,
               or the harness proves nothing.
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time

from lossyfs_mount import Mount, check, fail

ROUNDS = 4
ACKS_MIN, ACKS_MAX = 1500, 6000  # acknowledgements before the kill, per round
ROUND_S = 30                     # hang guard per round, not a speed check

driver = sys.argv[1]
compact = "--compact" in sys.argv
expect_loss = "--expect-loss" in sys.argv

m = Mount()
store_dir = os.path.join(m.path, "store")
acked_path = os.path.join(m.work, "acked.txt")  # outside the mount: survives
rng = random.Random()
seed = rng.randrange(1 << 30)
rng.seed(seed)
print("seed %d" % seed)


def run_writer(first_id, want):
    """Starts the writer, reads acknowledgements until |want|, SIGKILLs it.
    Returns the ids acknowledged (also those read after the kill)."""
    args = [driver, "write", store_dir, str(first_id)] + (["compact"] if compact else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ids = []
    global compactions
    deadline = time.monotonic() + ROUND_S
    hung = threading.Event()
    watchdog = threading.Timer(ROUND_S, lambda: (hung.set(), proc.kill()))
    watchdog.start()
    for line in proc.stdout:
        if line == b"compacted\n":
            compactions += 1
            continue
        ids.append(int(line))
        if len(ids) >= want or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    rest, err = proc.communicate(timeout=ROUND_S)
    watchdog.cancel()
    if hung.is_set():
        fail("the writer stopped acknowledging for %d s (%d acks): %s" % (ROUND_S, len(ids), m.log_text()))
    for x in rest.split():
        if x == b"compacted":
            compactions += 1
        else:
            ids.append(int(x))
    if proc.returncode != -signal.SIGKILL:
        fail("writer exited with %s before the kill: %s" % (proc.returncode, err.decode(errors="replace")))
    return ids


losses = []
compactions = 0
for rnd in range(ROUNDS if not expect_loss else 3):
    syncs_before = m.stats()["file_syncs"]
    ids = run_writer(rnd * 10_000_000, rng.randint(ACKS_MIN, ACKS_MAX))
    check(len(ids) > 0, "round %d: %d puts acknowledged before SIGKILL" % (rnd, len(ids)))
    check(m.stats()["file_syncs"] > syncs_before, "round %d: the store's syncs reached lossyfs" % rnd)
    with open(acked_path, "a") as f:
        f.write("".join("%d\n" % i for i in ids))
    m.power_loss()
    res = subprocess.run([driver, "check", store_dir, acked_path], capture_output=True, text=True,
                         timeout=ROUND_S)
    out = res.stdout.strip()
    print("round %d: check: %s %s" % (rnd, out, res.stderr.strip()))
    if res.returncode not in (0, 1):
        fail("round %d: the store did not open after the power loss: %s" % (rnd, res.stderr))
    fields = dict(zip(out.split()[0::2], map(int, out.split()[1::2])))
    check(fields.get("bad") == 0, "round %d: every record present is exactly what was written" % rnd)
    losses.append(fields["lost"])
    if not expect_loss:
        check(res.returncode == 0 and fields["lost"] == 0,
              "round %d: all %d acknowledged puts survive the power loss" % (rnd, fields["acked"]))

if compact:
    check(compactions > 0, "%d compactions swapped during the rounds" % compactions)
if expect_loss:
    # Not every round has to lose (a kill just after a segment roll, whose
    # seal fsyncs, loses nothing), but some must.
    check(sum(losses) > 0, "negative control: without fdatasync the check finds acknowledged puts lost "
                           "(per round: %s)" % losses)
m.close()
print("PASS")
