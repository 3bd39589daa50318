"""CLI bulk: a CSV of TV_CLI_BULK_ROWS rows (ctest: 1,000,000; 200,000 under ASan;
set by tests/integration/CMakeLists.txt; bench/cli_bench.sh measures it) made by a
seeded generator (valid Luhn PANs, valid IBANs, names, quoted notes) is
tokenized and detokenized back to the identical bytes; peak RSS is
bounded and does not grow with the file; a run killed midway leaves no
output at --out (nor changes an earlier one) and a rerun gives the same
file."""
import csv
import hashlib
import os
import signal
import subprocess
import time

import cli_data
import tvtest as t

CLI = os.environ.get("TOKENVAULT_CLI", "")
TIME = "/usr/bin/time"  # Debian package "time"
ROWS = int(os.environ.get("TV_CLI_BULK_ROWS", "200000"))
# Peak RSS bound. The CLI keeps at most window x streams batches of 1000
# rows per namespace (here 4 x 4 x 2 requests of ~30 KiB, plus the rows'
# bytes: ~2 MiB), a 256 KiB read buffer, a 1 MiB write buffer and the gRPC
# runtime (~12 MiB measured); 64 MiB leaves room for allocator slack while
# still being far below the file (66 MB at 1M rows), so a leak or an
# unbounded queue proportional to the input fails it.
RSS_MAX_KIB = 64 * 1024
# Growth allowed between a 10,000-row run and the full run: constant
# memory means the same footprint whatever the file size.
RSS_GROWTH_MAX_KIB = 8 * 1024


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_measured(args):
    """Runs the CLI under GNU time; returns (exit code, peak RSS KiB,
    seconds, stderr). Not getrusage of our own child: a child forked from
    this Python process starts with Python's RSS as its high-water mark,
    which survives exec; GNU time is small, so its child's mark is the
    CLI's own."""
    start = time.monotonic()
    rss_file = t.path("rss.txt")
    # In a sanitizer build, ASan's quarantine holds freed memory back on
    # purpose (up to 256 MiB); a small one keeps RSS about the program.
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1")
    with open(t.path("stderr.txt"), "wb") as err:
        p = subprocess.run([TIME, "-f", "%M", "-o", rss_file, CLI, *args], stdout=subprocess.DEVNULL, stderr=err,
                           timeout=300, env=env)
    with open(rss_file) as f:
        rss = int(f.read().strip().splitlines()[-1])
    return p.returncode, rss, time.monotonic() - start, open(t.path("stderr.txt")).read()


src = t.path("crm.csv")
cli_data.write_csv(src, ROWS, seed=20261126)
small = t.path("crm-small.csv")
cli_data.write_csv(small, 10000, seed=7)
server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-bulk"))
dev = ["--dev", "--target", "127.0.0.1:%d" % server.port, "--no-progress"]
cols = ["--columns", "pan:pan,iban:iban"]

rc, rss_tok, secs, err = run_measured(["tokenize", *dev, "--csv", src, *cols, "--out", t.path("tok.csv")])
t.check(rc == 0, "tokenize %d rows: exit 0 in %.1f s (%.0f rows/s), peak RSS %d KiB %s"
        % (ROWS, secs, ROWS / secs, rss_tok, err.strip()))
with open(src, newline="") as a, open(t.path("tok.csv"), newline="") as b:
    pairs = list(zip(csv.reader(a), csv.reader(b)))
t.check(len(pairs) == ROWS + 1 and all(x[0:2] == y[0:2] and x[4] == y[4] for x, y in pairs),
        "the tokenized file has every row, id/name/note unchanged")
values = {x[2] for x, _ in pairs[1:]} | {x[3] for x, _ in pairs[1:]}
t.check(not any(y[2] in values or y[3] in values for _, y in pairs[1:]), "no PAN or IBAN left in the tokenized file")
del pairs, values

out = t.path("back.csv")
args = ["detokenize", *dev, "--csv", t.path("tok.csv"), *cols, "--reveal", "full", "--reason", "test", "--out", out]
rc, rss_detok, secs, err = run_measured(args)
t.check(rc == 0 and sha(out) == sha(src), "detokenize %d rows: byte-identical round trip in %.1f s (%.0f rows/s)"
        % (ROWS, secs, ROWS / secs))
t.check(rss_tok < RSS_MAX_KIB and rss_detok < RSS_MAX_KIB,
        "peak RSS bounded: tokenize %d KiB, detokenize %d KiB (< %d)" % (rss_tok, rss_detok, RSS_MAX_KIB))
rc, _, _, _ = run_measured(["tokenize", *dev, "--csv", small, *cols, "--out", t.path("small.tok")])
rc, rss_small, _, _ = run_measured(["detokenize", *dev, "--csv", t.path("small.tok"), *cols, "--reveal", "full",
                                    "--out", t.path("small.back")])
t.check(rc == 0 and sha(t.path("small.back")) == sha(small) and rss_detok - rss_small < RSS_GROWTH_MAX_KIB,
        "memory is constant: 10,000 rows %d KiB, %d rows %d KiB" % (rss_small, ROWS, rss_detok))


def killed_run(target, fraction):
    """Starts the detokenize job to |target| and SIGKILLs it once its
    temporary file holds |fraction| of the result."""
    partial = os.path.join(os.path.dirname(target), "." + os.path.basename(target) + ".tokenvault-partial")
    a = [x if x != out else target for x in args]
    p = subprocess.Popen([CLI, *a], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    want = os.path.getsize(src) * fraction
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        if os.path.exists(partial) and os.path.getsize(partial) >= want:
            break
        time.sleep(0.005)
    t.check(p.poll() is None, "the job is still running at %.0f%% of its output" % (fraction * 100))
    p.send_signal(signal.SIGKILL)
    p.wait()
    return partial


target = t.path("rerun.csv")
partial = killed_run(target, 0.3)
t.check(not os.path.exists(target), "SIGKILL midway: nothing at --out (only the temporary file)")
rc, _, _, _ = run_measured([x if x != out else target for x in args])
t.check(rc == 0 and sha(target) == sha(src) and not os.path.exists(partial),
        "the rerun gives the same file and no temporary file is left")
before = sha(target)
killed_run(target, 0.5)
t.check(sha(target) == before, "a run killed while overwriting leaves the earlier output untouched")
server.terminate(30)
print("CLI bulk: all checks passed")
