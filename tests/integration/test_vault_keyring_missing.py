"""A missing keyring never re-initialises a vault that has data (issue 16
P1). Before, a start with --dev or --init created a new keyring: every old
token failed to decrypt, and the new keyring advanced the HSM generation
counter, so putting the original back was refused as a rollback.

(a) --dev: a vault with tokens, stopped; DATA/keyring removed: the start
    is refused (exit non-zero) naming the missing keyring and the backup
    to restore it from, and creates no keyring. The store removed too (an
    empty store on a used HSM token): refused as well. Everything put
    back: the server starts and every token detokenizes to its value (so
    the HSM counter was not advanced).
(b) --config ... --init (a SoftHSM2 token from `tokenvault hsm init`, mTLS):
    --init on a store with records is refused; with the keyring removed,
    starts with and without --init are refused with the restore advice;
    the keyring put back, the vault starts and every token resolves."""
import os
import shutil
import subprocess

import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

VALUES = ["%011d" % (20_000_000_000 + 7717 * i) for i in range(120)]


def refused(args, what, *needles):
    """Runs tokenvaultd expecting a refused start; returns its stderr."""
    p = subprocess.Popen([t.SERVER, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=t.WORK)
    try:
        _, raw = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        t.fail("%s: the server started instead of refusing" % what)
    err = raw.decode("utf-8", "replace")
    t.check(p.returncode != 0 and all(n in err for n in needles),
            "%s: refused, exit %d, naming %s (%s)" % (what, p.returncode, needles, err.strip()[-600:]))
    return err


# ---- (a) --dev --------------------------------------------------------------
DATA = t.path("var-dev")
KEYRING = os.path.join(DATA, "keyring")
DEV = ["--dev", "--listen", "127.0.0.1:0", "--data-dir", DATA, "--metrics-listen", ""]

server = t.Server(*DEV)
with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    tokens = []
    for i in range(0, len(VALUES), 40):
        tokens += vc.ok_tokens(c.tokenize("bank_account", VALUES[i:i + 40]))
t.check(len(tokens) == len(VALUES), "--dev: %d values tokenized" % len(tokens))
rc, _ = server.terminate(30)
t.check(rc == 0, "--dev: stopped")

shutil.move(KEYRING, KEYRING + ".orig")
err = refused(DEV, "--dev, keyring removed, store with records", "keyring is missing", "store holds",
              "backups/", "tokenvault store backup")
t.check(not os.path.exists(KEYRING), "--dev: the refused start created no keyring")
refused(DEV, "--dev, a second try", "keyring is missing")

STORE = os.path.join(DATA, "store")
shutil.move(STORE, STORE + ".orig")
refused(DEV, "--dev, keyring and store removed (the HSM token still has the vault's generation)",
        "keyring is missing", "HSM holds keyring generation")
t.check(not os.path.exists(KEYRING), "--dev: still no keyring created")
shutil.rmtree(STORE, ignore_errors=True)
shutil.move(STORE + ".orig", STORE)
shutil.move(KEYRING + ".orig", KEYRING)


def detokenize_all(port, toks):
    with t.insecure_channel(port) as ch:
        c = vc.Client(ch)
        out = []
        for i in range(0, len(toks), 40):
            out += c.detokenize("bank_account", toks[i:i + 40], vc.FULL, reason="keyring test").results
        return out


server = t.Server(*DEV)
results = detokenize_all(server.port, tokens)
t.check([r.value for r in results] == VALUES,
        "--dev: the original keyring put back is accepted (HSM counter not advanced) and all %d tokens resolve"
        % len(VALUES))
rc, _ = server.terminate(30)
t.check(rc == 0, "--dev: stopped again")

# ---- (b) --config ... --init ---------------------------------------------------
DATA2 = t.path("var-config")
KEYRING2 = os.path.join(DATA2, "keyring")
PIN = pc.make_hsm()
pc.make_pki()
CONFIG = t.path("vault.yaml")
pc.write_config(CONFIG, pc.config_text(DATA2, PIN))
BASE = ["--config", CONFIG, "--listen", "127.0.0.1:0", "--metrics-listen", ""]
CRM, FIN = "spiffe://example.org/crm", "spiffe://example.org/settlement"
PANS = ["4111111111111111", "5500005555555559", "4000056655665556", "4242424242424242", "6011111111111117"]

server = t.Server(*BASE, "--init")
with pc.channel(server.port, CRM) as ch:
    pan_tokens = vc.ok_tokens(vc.Client(ch).tokenize("pan", PANS))
t.check(len(pan_tokens) == len(PANS), "--init: a new vault, %d PANs tokenized" % len(pan_tokens))
rc, _ = server.terminate(30)
t.check(rc == 0, "--init: stopped")

refused(BASE + ["--init"], "--init on a store with records (keyring present)", "--init creates a new vault",
        "start without --init")
shutil.move(KEYRING2, KEYRING2 + ".orig")
refused(BASE + ["--init"], "--init, keyring removed", "keyring is missing", "store holds", "backups/")
err = refused(BASE, "no --init, keyring removed", "keyring is missing", "store holds")
t.check("start once with --init" not in err, "a vault with data is never told to --init")
t.check(not os.path.exists(KEYRING2), "--init: the refused starts created no keyring")
shutil.move(KEYRING2 + ".orig", KEYRING2)

server = t.Server(*BASE)
with pc.channel(server.port, FIN) as ch:
    got = vc.Client(ch).detokenize("pan", pan_tokens, vc.FULL, reason="keyring test").results
t.check([r.value for r in got] == PANS,
        "--config: the original keyring put back is accepted and every PAN resolves")
rc, _ = server.terminate(30)
t.check(rc == 0, "--config: stopped")
