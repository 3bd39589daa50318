"""`tokenvault store`: offline backup, verify-backup, restore and repair of
a --dev vault's data directory, checked through tokenvaultd itself.

(a) backup while the server runs is refused (the store is locked); after
    SIGTERM it succeeds; verify-backup confirms it; a flipped byte in the
    backup is found and named.
(b) restore into a new data directory (with the same dev HSM token):
    every token resolves to its value, deleted stays deleted; restoring
    over a non-empty store is refused.
(c) damage in the middle of the log: with an index checkpoint covering it
    and without, the start is refused naming the same file and offset
    (open checks every record, also those the checkpoint covers);
    `store repair` reports the lost sequence numbers, keeps the original,
    and afterwards the server starts and every other token resolves."""
import os
import re
import shutil
import subprocess

import tvtest as t
import vaultclient as vc

CLI = os.environ.get("TOKENVAULT_CLI", "")
DATA = t.path("var-store-cli")
BACKUP = t.path("backup-1")
VALUES = ["%011d" % (10_000_000_000 + 7919 * i) for i in range(200)]


def cli(*args):
    p = subprocess.run([CLI, "store", *args], capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def start(data):
    return t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", data, "--metrics-listen", "")


def detokenize_all(server, tokens):
    with t.insecure_channel(server.port) as ch:
        c = vc.Client(ch)
        out = []
        for i in range(0, len(tokens), 100):
            out += c.detokenize("bank_account", tokens[i:i + 100], vc.FULL, reason="store test").results
        return out


# (a) a vault with 200 tokens, 5 of them deleted; backups.
server = start(DATA)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    tokens = []
    for i in range(0, len(VALUES), 50):
        tokens += vc.ok_tokens(c.tokenize("bank_account", VALUES[i:i + 50]))
    deleted = tokens[:5]
    t.check(all(r.code == 0 for r in c.delete("bank_account", deleted).results), "5 tokens deleted")
rc, _, err = cli("backup", "--data-dir", DATA, BACKUP)
t.check(rc == 1 and "STORE_LOCKED" in err and "stop tokenvaultd" in err,
        "backup of a running vault is refused and says why (%s)" % err.strip())
rc, _ = server.terminate(20)
t.check(rc == 0, "server stopped")
rc, out, err = cli("backup", "--data-dir", DATA, BACKUP)
t.check(rc == 0 and "backup written" in out, "offline backup written (%s%s)" % (out, err))
t.check(sorted(os.listdir(BACKUP))[:2] == ["MANIFEST", "keyring"], "backup holds MANIFEST and the keyring")
rc, out, err = cli("verify-backup", BACKUP)
t.check(rc == 0 and "backup intact" in out and "records 205" in out,
        "verify-backup: intact, 200 puts + 5 deletes (%s%s)" % (out, err))
rc, _, err = cli("backup", "--data-dir", DATA, BACKUP)
t.check(rc == 1 and "STORE_BACKUP_TARGET" in err, "a non-empty backup destination is refused")
plain = t.path("a-regular-file")
with open(plain, "w") as f:
    f.write("x")
rc, _, err = cli("backup", "--data-dir", DATA, os.path.join(plain, "sub"))
t.check(rc == 1 and "mkdir of " in err and "(errno 20)" in err,
        "a backup that cannot create its directory names the call and the errno (%s)" % err.strip())

bad = t.path("backup-bad")
shutil.copytree(BACKUP, bad)
seg = [f for f in os.listdir(bad) if f.startswith("seg-")][0]
with open(os.path.join(bad, seg), "r+b") as f:
    f.seek(700)
    byte = f.read(1)
    f.seek(700)
    f.write(bytes([byte[0] ^ 0x40]))
rc, _, err = cli("verify-backup", bad)
t.check(rc == 1 and "NOT intact" in err and seg in err, "a flipped byte in a backup is found and named (%s)" % err)
unreadable = t.path("backup-unreadable")
shutil.copytree(BACKUP, unreadable)
os.remove(os.path.join(unreadable, "keyring"))
os.mkdir(os.path.join(unreadable, "keyring"))  # opens, but every read fails
rc, _, err = cli("verify-backup", unreadable)
t.check(rc == 1 and "pread of keyring failed" in err and "(errno 21)" in err,
        "a backup file that cannot be read names pread, the file and the errno (%s)" % err.strip())

# (b) restore into a new data directory with the same (dev) HSM token.
NEW = t.path("var-restored")
os.makedirs(NEW)
shutil.copytree(os.path.join(DATA, "hsm"), os.path.join(NEW, "hsm"))
rc, out, err = cli("restore", BACKUP, "--data-dir", NEW)
t.check(rc == 0 and "restored" in out, "restore (%s%s)" % (out, err))
rc, _, err = cli("restore", BACKUP, "--data-dir", NEW)
t.check(rc == 1 and "STORE_BACKUP_TARGET" in err, "restore over an existing store is refused (%s)" % err.strip())
server = start(NEW)
results = detokenize_all(server, tokens)
t.check([r.value for r in results[5:]] == VALUES[5:], "after restore all 195 live tokens give their values")
t.check(all(r.status.name == "ENGINE_DELETED" for r in results[:5]), "after restore deleted tokens stay deleted")
rc, _ = server.terminate(20)
t.check(rc == 0, "restored server stopped")

# (c) damage in the middle of the log (records follow it).
store = os.path.join(DATA, "store")
seg_path = os.path.join(store, [f for f in os.listdir(store) if f.startswith("seg-")][0])
with open(seg_path, "r+b") as f:
    f.seek(9000)
    f.write(b"\xff" * 8)


def start_refused(what):
    """Starts tokenvaultd on DATA expecting a refusal; returns (file, offset) it named."""
    p = subprocess.run([t.SERVER, "--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA, "--metrics-listen", ""],
                       capture_output=True, timeout=30)
    err = p.stderr.decode()
    m = re.search(r"(seg-\d+\.log) at offset (\d+)", err)
    t.check(p.returncode != 0 and m is not None and m.group(1) == os.path.basename(seg_path),
            "%s the start is refused naming the segment (%s)" % (what, err.strip()[-300:]))
    return (m.group(1), int(m.group(2))) if m else (None, -1)


# Open checks every record, also those an index checkpoint covers.
t.check(os.path.exists(os.path.join(store, "CHECKPOINT")), "an index checkpoint covers the damaged record")
with_ckpt = start_refused("with a checkpoint")
t.check(with_ckpt[1] <= 9000 < with_ckpt[1] + 4096, "the named offset is the damaged record's (%d)" % with_ckpt[1])
os.remove(os.path.join(store, "CHECKPOINT"))  # as after a crash before the first checkpoint
without_ckpt = start_refused("without a checkpoint")
t.check(with_ckpt == without_ckpt, "with and without a checkpoint the same file and offset are named (%s, %s)"
        % (with_ckpt, without_ckpt))
rc, out, err = cli("repair", "--data-dir", DATA)
t.check(rc == 1 and "lost: sequence numbers" in out, "repair reports the lost records (%s%s)" % (out, err))
t.check(any(".damaged-" in f for f in os.listdir(store)), "the damaged original is kept")
server = start(DATA)
results = detokenize_all(server, tokens)
live = list(zip(VALUES[5:], results[5:]))
lost = [r.status.name for v, r in live if r.value != v]
t.check(all(n == "ENGINE_NOT_FOUND" for n in lost) and 1 <= len(lost) <= 3,
        "after repair every other token resolves; the lost ones are NOT_FOUND (%s)" % lost)
rc, _ = server.terminate(20)
t.check(rc == 0, "repaired server stopped")
