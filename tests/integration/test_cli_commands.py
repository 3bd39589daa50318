"""The tokenvault CLI's server commands against a live tokenvaultd: every
command and its --help, exit codes (0 ok, 1 items failed, 2 usage, 3
server/connection, 4 permission denied), CSV with quoted fields, commas,
doubled quotes, CRLF and newlines inside quotes, JSON Lines, per-item
failures reported with row numbers, atomic --out."""
import hashlib
import os
import subprocess

import cli_data
import tvtest as t

CLI = os.environ.get("TOKENVAULT_CLI", "")
COMMANDS = ["tokenize", "detokenize", "delete", "erase", "info", "keys", "health", "whoami"]


def run(*args, stdin=None):
    p = subprocess.run([CLI, *args], capture_output=True, timeout=60, input=stdin)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def write(name, data):
    with open(t.path(name), "wb") as f:
        f.write(data)
    return t.path(name)


for cmd in COMMANDS:
    rc, out, _ = run(cmd, "--help")
    t.check(rc == 0 and out.startswith("usage: tokenvault " + cmd) and "Exit status" in out,
            "%s --help (usage and exit status)" % cmd)

rc, _, err = run("tokenize", "--dev", "--bogus")
t.check(rc == 2 and "--bogus" in err and "--help" in err, "unknown option: exit 2, says where to look")
rc, _, err = run("tokenize", "--dev", "4111111111111111")
t.check(rc == 2 and "--namespace" in err, "missing --namespace: exit 2 (%s)" % err.strip())
rc, _, err = run("detokenize", "--dev", "--namespace", "pan", "--reveal", "all", "x")
t.check(rc == 2 and "full, masked or none" in err, "bad --reveal: exit 2")
rc, _, err = run("health", "--target", "127.0.0.1:1")
t.check(rc == 2 and "--dev" in err and "--ca" in err, "no TLS files and no --dev: exit 2, says which to give")
rc, _, err = run("health", "--dev", "--target", "127.0.0.1:1", "--retries", "0")
t.check(rc == 3 and "UNAVAILABLE" in err and "check --target" in err, "nothing listening: exit 3 with advice")
# Tokenize is repeated on UNAVAILABLE only with --retry-tokenize. Six
# retries back off 0.1+0.2+0.4+0.8+1.6+3.2 = 6.3 s: a run that retried
# cannot end sooner, so "once" ending within 5 s shows it did not retry
# (a bound with seconds to spare on a loaded machine, not a speed claim).
import time  # noqa: E402
start = time.monotonic()
rc, _, _ = run("tokenize", "--dev", "--target", "127.0.0.1:1", "--retries", "6", "--namespace", "pan",
               "4111111111111111")
once = time.monotonic() - start
start = time.monotonic()
rc2, _, _ = run("tokenize", "--dev", "--target", "127.0.0.1:1", "--retries", "6", "--namespace", "pan",
                "--retry-tokenize", "4111111111111111")
retried = time.monotonic() - start
t.check(rc == 3 and rc2 == 3 and once < 5.0 and retried >= 6.3,
        "tokenize is retried only with --retry-tokenize (%.2f s vs %.2f s)" % (once, retried))
rc, _, err = run("keys", "--dev", "frobnicate")
t.check(rc == 2 and "expected list" in err, "keys with an unknown subcommand: exit 2")

server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-dev"))
dev = ["--dev", "--target", "127.0.0.1:%d" % server.port]
rc, out, _ = run("health", *dev)
t.check(rc == 0 and out == "SERVING\n", "health: SERVING")
rc, out, _ = run("whoami", *dev)
t.check(rc == 0 and "transport\tinsecure" in out, "whoami over --dev")

PANS = ["4111111111111111", "5555555555554444", "4012888888881881"]
rc, out, _ = run("tokenize", *dev, "--namespace", "pan", *PANS)
tokens = out.split()
t.check(rc == 0 and len(tokens) == 3 and all(a != b and a[:6] == b[:6] for a, b in zip(tokens, PANS)),
        "tokenize 3 values: one token per line")
rc, out, _ = run("detokenize", *dev, "--namespace", "pan", "--reveal", "full", "--reason", "test", *tokens)
t.check(rc == 0 and out.split() == PANS, "detokenize --reveal full gives the values back")
rc, out, _ = run("detokenize", *dev, "--namespace", "pan", *tokens[:1])
t.check(rc == 0 and out == "411111******1111\n", "detokenize defaults to masked (%r)" % out)
rc, out, _ = run("detokenize", *dev, "--namespace", "pan", "--reveal", "none", *tokens[:1])
t.check(rc == 0 and out == "\n", "--reveal none prints an empty line")
rc, out, err = run("tokenize", *dev, "--namespace", "pan", "4111111111111111", "4111111111111112")
t.check(rc == 1 and out == tokens[0] + "\n\n" and "item 2: FORMAT_LUHN" in err and "4111111111111112" not in err,
        "a failed item: exit 1, empty line, reported by number and status name without the value")
rc, _, err = run("tokenize", *dev, "--namespace", "nope", "4111111111111111")
t.check(rc == 2 and "nope" in err and "keys list" in err, "unknown namespace: exit 2, advice (%s)" % err.strip())
rc, out, _ = run("info", *dev, "--namespace", "pan", tokens[0], "4111119999991111")
lines = out.splitlines()
t.check(rc == 1 and lines[0].startswith(tokens[0] + "\tOK\tcreated 20") and "key v1" in lines[0]
        and "ENGINE_NOT_FOUND" in lines[1], "info: one line per token, unknown token -> exit 1")
rc, out, _ = run("delete", *dev, "--namespace", "pan", "--reason", "test", tokens[2])
t.check(rc == 0 and out == tokens[2] + "\tOK\n", "delete")
rc, out, err = run("detokenize", *dev, "--namespace", "pan", "--reveal", "full", tokens[2])
t.check(rc == 1 and "ENGINE_DELETED" in err, "a deleted token fails with ENGINE_DELETED")
rc, out, _ = run("erase", *dev, "--namespace", "pan", "--reason", "gdpr", PANS[1])
t.check(rc == 0 and out == "erased 1 token(s)\n", "erase: %r" % out)
rc, out, _ = run("keys", "list", *dev, "--namespace", "pan")
t.check(rc == 0 and out == "pan\tv1\tactive\tkek v1\n", "keys list: %r" % out)
rc, out, _ = run("keys", "rotate", *dev, "--namespace", "pan", "--reason", "test")
t.check(rc == 0 and out.startswith("pan\tv2\tactive"), "keys rotate: %r" % out)
rc, out, _ = run("keys", "status", *dev)
t.check(rc == 0 and out.startswith("kek v1\tdata keys pending rewrap: 0"), "keys status: %r" % out)
# The background completion of that data-key rotation, per namespace:
# phase, records moved of the total (issue 16 P6).
import re  # noqa: E402
deadline = time.monotonic() + 60
done = None
while done is None and time.monotonic() < deadline:
    rc, out, _ = run("keys", "status", *dev)
    done = re.search(r"^data key pan\tv2\tdone\trecords (\d+)/(\d+)\tcompacted (\d+)/(\d+) bytes$", out, re.M)
    if done is None:
        t.check(rc == 0 and re.search(r"^data key pan\tv2\t(queued|re-encrypting|compacting|done)\t", out, re.M),
                "keys status shows the rotation of pan while it runs: %r" % out)
        time.sleep(0.2)
t.check(done is not None and done.group(1) == done.group(2) and int(done.group(1)) >= 1
        and done.group(3) == done.group(4), "keys status: pan's rotation done, every record moved: %r" % out)

# CSV: quoted fields with commas, doubled quotes and line breaks; CRLF;
# an empty cell; a bad card number in row 4.
CSV = (b'id,name,pan,note\r\n'
       b'1,"Lovelace, Ada",4111111111111111,"said ""hi"""\r\n'
       b'2,"multi\nline",5555555555554444,plain\r\n'
       b'3,empty,,x\r\n'
       b'4,bad,4111111111111112,"z"\r\n'
       b'5,quoted pan,"4012888888881881",\r\n')
src = write("in.csv", CSV)
rc, _, err = run("tokenize", *dev, "--csv", src, "--columns", "pan", "--namespace", "pan", "--out", t.path("tok.csv"))
tok = open(t.path("tok.csv"), "rb").read()
t.check(rc == 1 and "row 4, column pan: FORMAT_LUHN" in err and "1 item(s) failed" in err,
        "CSV tokenize: the bad row reported by number, column and status; exit 1")
t.check(b"4111111111111111" not in tok and b"4111111111111112" not in tok and b"5555555555554444" not in tok,
        "the tokenized file holds no card number (the failed one is emptied)")
t.check(tok.startswith(b'id,name,pan,note\r\n1,"Lovelace, Ada",411111') and b'"said ""hi"""\r\n' in tok
        and b'2,"multi\nline",555555' in tok and b"\r\n3,empty,,x\r\n4,bad,,\"z\"\r\n" in tok,
        "everything but the pan column is byte for byte the same, quoting kept")
t.check(b'5,quoted pan,"401288' in tok, "a quoted cell stays quoted")
t.check(not [n for n in os.listdir(t.WORK) if n.endswith("tokenvault-partial")], "no temporary file left")
rc, _, err = run("detokenize", *dev, "--csv", t.path("tok.csv"), "--columns", "pan:pan", "--reveal", "full",
                 "--out", t.path("back.csv"))
back = open(t.path("back.csv"), "rb").read()
t.check(rc == 0 and back == CSV.replace(b"4,bad,4111111111111112,", b"4,bad,,"),
        "CSV detokenize restores every value byte for byte")
t.check(os.stat(t.path("back.csv")).st_mode & 0o077 == 0, "detokenized output is private (mode 0600)")
rc, out, _ = run("detokenize", *dev, "--csv", t.path("tok.csv"), "--columns", "pan", "--namespace", "pan")
t.check(rc == 0 and "411111******1111" in out, "without --out the file goes to stdout, masked by default")
rc, _, err = run("tokenize", *dev, "--csv", src, "--columns", "card", "--namespace", "pan", "--out", t.path("x.csv"))
t.check(rc == 2 and "no such column" in err and "card" in err and not os.path.exists(t.path("x.csv")),
        "unknown column: exit 2, no output file")
write("broken.csv", b'id,pan\n1,"4111111111111111\n')
rc, _, err = run("tokenize", *dev, "--csv", t.path("broken.csv"), "--columns", "pan", "--namespace", "pan",
                 "--out", t.path("y.csv"))
t.check(rc == 2 and "row 1" in err and "not closed" in err and not os.path.exists(t.path("y.csv")),
        "an unterminated quote: exit 2 naming the row, no output")
# Progress bar: on stderr only, by default only when stderr is a terminal.
big = t.path("big.csv")
cli_data.write_csv(big, 20000)
bulk = ["tokenize", *dev, "--csv", big, "--columns", "pan", "--namespace", "pan", "--out", t.path("big.tok")]
rc, out, err = run(*bulk)
t.check(rc == 0 and out == "" and err == "", "no progress bar when stderr is not a terminal")
rc, out, err = run(*bulk, "--progress")
t.check(rc == 0 and out == "" and "\r[" in err and "rows/s" in err and "ETA" in err, "--progress forces the bar")
cmd = " ".join("'%s'" % a for a in [CLI, *bulk])
p = subprocess.run(["script", "-qec", cmd + " </dev/null", "/dev/null"], capture_output=True, timeout=60)
t.check(p.returncode == 0 and b"rows/s" in p.stdout and b"ETA" in p.stdout,
        "on a terminal the bar shows rate and ETA by default")
rc, _, err = run("tokenize", *dev, "--csv", src, "--csv", src, "--columns", "pan", "--namespace", "pan", "4111")
t.check(rc == 2, "values and a file together: exit 2")

# JSON Lines: two namespaces, escapes, nested content, a number where a
# string belongs, null, an empty line, key order and spacing kept.
JSONL = ('{"id": 1, "pan": "4111111111111111", "iban": "DE89370400440532013000", "x": {"pan": "keep"}}\n'
         '{"iban":"GB82WEST12345698765432" , "pan":"5555555555554444","note":"a\\"b\\u00e9"}\n'
         '\n'
         '{"pan": null, "id": 3}\n'
         '{"pan": 4012888888881881, "id": 4}\n').encode()
src = write("in.jsonl", JSONL)
rc, _, err = run("tokenize", *dev, "--jsonl", src, "--fields", "pan:pan,iban:iban", "--out", t.path("tok.jsonl"))
tokj = open(t.path("tok.jsonl"), "rb").read()
t.check(rc == 1 and "line 5, field pan: NOT_A_STRING" in err, "JSONL: a number field reported by line (%s)" % err.strip())
t.check(b"4111111111111111" not in tokj and b"DE89370400440532013000" not in tokj and b"4012888888881881" not in tokj,
        "the tokenized JSONL holds no value (the number became null)")
t.check(b'"x": {"pan": "keep"}}' in tokj and b'"note":"a\\"b\\u00e9"}' in tokj and b"\n\n" in tokj
        and b'{"pan": null, "id": 3}' in tokj, "nested fields, escapes, null and empty lines untouched")
rc, _, err = run("detokenize", *dev, "--jsonl", t.path("tok.jsonl"), "--fields", "pan:pan,iban:iban",
                 "--reveal", "full", "--out", t.path("back.jsonl"))
backj = open(t.path("back.jsonl"), "rb").read()
t.check(rc == 0 and backj == JSONL.replace(b'"pan": 4012888888881881', b'"pan": null'),
        "JSONL detokenize restores the strings byte for byte (%s)" % err.strip())
write("bad.jsonl", b'{"pan": "4111111111111111"\n')
rc, _, err = run("tokenize", *dev, "--jsonl", t.path("bad.jsonl"), "--fields", "pan", "--namespace", "pan")
t.check(rc == 2 and "line 1 is not one JSON object" in err, "malformed JSON: exit 2 naming the line")
# A job that fails before any answer writes nothing to stdout: not even the
# CSV header (issue 14: it used to be printed before the error).
hdr = write("hdr.csv", b"name,card\nada,4111111111111111\n")
rc, out, err = run("tokenize", *dev, "--csv", hdr, "--columns", "nosuch:pan")
t.check(rc == 2 and out == "" and "nosuch" in err,
        "unknown --columns: exit 2, nothing on stdout (%r, %s)" % (out, err.strip()))
rc, out, err = run("tokenize", *dev, "--csv", hdr, "--columns", "card:no_such_namespace")
t.check(rc != 0 and out == "" and "namespace" in err.lower(),
        "unknown namespace: fails, nothing on stdout (%r, %s)" % (out, err.strip()))
rc, out, err = run("detokenize", *dev, "--csv", hdr, "--columns", "card:no_such_namespace")
t.check(rc != 0 and out == "", "detokenize, unknown namespace: nothing on stdout (%r)" % out)
# --namespace-column: one column mixing kinds, each row naming its own
# namespace; row 4 names none, row 5 one the vault does not have: those
# cells fail alone (emptied when tokenizing), reported by row, column and
# status name, never by value.
MIXED = (b'id,kind,number,card\r\n'
         b'1,pan,4111111111111111,5555555555554444\r\n'
         b'2,ssn,536-22-8150,\r\n'
         b'3,iban,"DE89370400440532013000",4012888888881881\r\n'
         b'4,,4012888888881881,4111111111111111\r\n'
         b'5,passport,X1234567,\r\n'
         b'6,iban,GB82WEST12345698765432,\r\n'
         b'7,pan,,\r\n'
         b'8,ssn,"536-22-8151",\r\n')
src = write("mixed.csv", MIXED)
mixed = ["--csv", src, "--columns", "number,card:pan", "--namespace-column", "kind"]
rc, _, err = run("tokenize", *dev, *mixed, "--out", t.path("mixed.tok"))
tokm = open(t.path("mixed.tok"), "rb").read()
t.check(rc == 1 and "row 4, column number: NAMESPACE_MISSING" in err and "row 5, column number: NOT_FOUND" in err
        and "2 item(s) failed" in err, "per-row namespace: the bad rows reported by row and status (%s)" % err.strip())
t.check(all(v not in err.encode() for v in (b"4012888888881881", b"X1234567", b"passport")),
        "per-row namespace: no value (nor the unknown name) in the report")
lines = tokm.split(b"\r\n")
t.check(all(v not in tokm for v in (b"4111111111111111", b"536-22-8150", b"DE89370400440532013000", b"X1234567",
                                    b"GB82WEST12345698765432", b"5555555555554444", b"536-22-8151"))
        and lines[4] == b"4,,,%s" % lines[4].split(b",")[3] and lines[5] == b"5,passport,," and lines[7] == b"7,pan,,",
        "per-row namespace: no plaintext left, the bad cells emptied, the card column done (%r)" % tokm)
rc, _, err = run("detokenize", *dev, "--csv", t.path("mixed.tok"), "--columns", "number,card:pan",
                 "--namespace-column", "kind", "--reveal", "full", "--out", t.path("mixed.back"))
backm = open(t.path("mixed.back"), "rb").read()
t.check(rc == 0 and backm == MIXED.replace(b"4,,4012888888881881,", b"4,,,").replace(b"5,passport,X1234567,",
                                                                                      b"5,passport,,"),
        "per-row namespace: detokenize gives every good value back byte for byte (%s)" % err.strip())
# Detokenizing: the bad rows' tokens are left as they are.
tok_pan = lines[1].split(b",")[2]
write("mixed-tok.csv", b"id,kind,number\n1,pan,%s\n2,,%s\n3,nope,%s\n" % (tok_pan, tok_pan, tok_pan))
rc, out, err = run("detokenize", *dev, "--csv", t.path("mixed-tok.csv"), "--columns", "number",
                   "--namespace-column", "kind", "--reveal", "full")
t.check(rc == 1 and out == "id,kind,number\n1,pan,4111111111111111\n2,,%s\n3,nope,%s\n" % (tok_pan.decode(), tok_pan.decode())
        and "row 2, column number: NAMESPACE_MISSING" in err and "row 3, column number: NOT_FOUND" in err,
        "per-row namespace, detokenize: bad rows keep their token and are reported (%r, %s)" % (out, err.strip()))
MIXEDJ = (b'{"id": 1, "kind": "pan", "v": "4111111111111111"}\n'
          b'{"v": "536-22-8150", "kind": "ssn"}\n'
          b'{"kind": "iban", "v": "DE89370400440532013000"}\n'
          b'{"kind": null, "v": "4012888888881881"}\n'
          b'{"v": "4012888888881881"}\n'
          b'{"kind": "nope", "v": "4012888888881881"}\n')
src = write("mixed.jsonl", MIXEDJ)
rc, _, err = run("tokenize", *dev, "--jsonl", src, "--fields", "v", "--namespace-column", "kind",
                 "--out", t.path("mixedj.tok"))
tokj = open(t.path("mixedj.tok"), "rb").read()
t.check(rc == 1 and "line 4, field v: NAMESPACE_MISSING" in err and "line 5, field v: NAMESPACE_MISSING" in err
        and "line 6, field v: NOT_FOUND" in err and b"4012888888881881" not in tokj
        and b"4111111111111111" not in tokj and b'{"kind": null, "v": ""}' in tokj,
        "per-row namespace, JSONL: bad lines reported and emptied (%s)" % err.strip())
rc, _, err = run("detokenize", *dev, "--jsonl", t.path("mixedj.tok"), "--fields", "v", "--namespace-column", "kind",
                 "--reveal", "full", "--out", t.path("mixedj.back"))
# (An emptied JSON string is still a string: those lines are reported again.)
t.check(rc == 1 and open(t.path("mixedj.back"), "rb").read() == MIXEDJ.replace(b'"4012888888881881"', b'""')
        and "3 item(s) failed" in err and "line 6, field v: NOT_FOUND" in err,
        "per-row namespace, JSONL: the good values back byte for byte (%s)" % err.strip())
# Many small batches on several lanes: a refused namespace's streams fail
# while later batches naming it are in flight; only its cells fail.
KINDS = [(b"pan", b"4111111111111111"), (b"ssn", b"536-22-8150"), (b"iban", b"DE89370400440532013000"),
         (b"", b"5555555555554444"), (b"nope", b"4012888888881881")]
many = b"id,kind,number\n" + b"".join(b"%d,%s,%s\n" % (i + 1, *KINDS[i % 5]) for i in range(500))
src = write("many.csv", many)
small = ["--columns", "number", "--namespace-column", "kind", "--batch", "7", "--streams", "3", "--window", "2"]
rc, _, err = run("tokenize", *dev, "--csv", src, *small, "--out", t.path("many.tok"))
t.check(rc == 1 and "200 item(s) failed" in err and "row 5, column number: NOT_FOUND" in err
        and "row 4, column number: NAMESPACE_MISSING" in err, "per-row namespace over many batches (%s)" % err[-300:])
rc, _, err = run("detokenize", *dev, "--csv", t.path("many.tok"), *small, "--reveal", "full",
                 "--out", t.path("many.back"))
t.check(rc == 0 and open(t.path("many.back"), "rb").read()
        == many.replace(b",5555555555554444\n", b",\n").replace(b",4012888888881881\n", b",\n"),
        "per-row namespace over many batches: every good value back (%s)" % err[-300:])
rc, out, err = run("tokenize", *dev, "--csv", t.path("mixed.csv"), "--columns", "number",
                   "--namespace-column", "type")
t.check(rc == 2 and out == "" and "--namespace-column" in err and "type" in err,
        "a --namespace-column not in the header: exit 2, nothing written (%s)" % err.strip())
rc, _, err = run("tokenize", *dev, "--csv", t.path("mixed.csv"), "--columns", "number")
t.check(rc == 2 and "--namespace-column" in err, "a column without a namespace: the error names the options")
rc, _, err = run("tokenize", *dev, "--namespace-column", "kind", "4111111111111111")
t.check(rc == 2 and "--namespace-column" in err, "--namespace-column without a file: exit 2")
empty = write("hdr-only.csv", b"name,card\n")
rc, out, _ = run("tokenize", *dev, "--csv", empty, "--columns", "card:pan")
t.check(rc == 0 and out == "name,card\n", "a header-only CSV still gives its header back (%r)" % out)
server.terminate(20)

# mTLS with roles: permission denied is exit 4; two officers rotate the KEK.
server = cli_data.start_mtls_vault(t, CLI)
crm = cli_data.tls_args(t, server.port, "crm")
fin = cli_data.tls_args(t, server.port, "finance")
rc, out, _ = run("whoami", *crm)
t.check(rc == 0 and "principal\tspiffe://tokenvault/crm" in out and "transport\ttls" in out, "whoami over mTLS")
rc, out, _ = run("tokenize", *crm, "--namespace", "pan", PANS[0])
tok0 = out.strip()
t.check(rc == 0 and len(tok0) == 16, "crm tokenizes over mTLS")
rc, _, err = run("detokenize", *crm, "--namespace", "pan", "--reveal", "full", tok0)
t.check(rc == 4 and "PERMISSION_DENIED" in err and "ask a security officer" in err,
        "crm may not see full values: exit 4, says what to do")
rc, out, _ = run("detokenize", *crm, "--namespace", "pan", tok0)
t.check(rc == 0 and out == "411111******1111\n", "crm sees the masked value")
write("crm.csv", b"id,pan\n1,%s\n" % tok0.encode())
rc, _, err = run("detokenize", *crm, "--csv", t.path("crm.csv"), "--columns", "pan", "--namespace", "pan",
                 "--reveal", "full", "--out", t.path("crm-full.csv"))
t.check(rc == 4 and "PERMISSION_DENIED" in err and not os.path.exists(t.path("crm-full.csv")),
        "a refused bulk stream: exit 4 and no output file (%s)" % err.strip())
rc, out, _ = run("detokenize", *fin, "--namespace", "pan", "--reveal", "full", "--reason", "settlement", tok0)
t.check(rc == 0 and out == PANS[0] + "\n", "finance sees the full value")
rc, _, err = run("detokenize", *fin, "--namespace", "pan", "--reveal", "full", tok0)
t.check(rc == 2 and "give --reason" in err, "finance without a reason: exit 2, says to give --reason (%s)" % err.strip())
rc, _, err = run("health", "--target", "127.0.0.1:%d" % server.port, "--ca", t.path("ca.crt"), "--server-name",
                 "localhost", "--retries", "0")
t.check(rc == 3 and "UNAVAILABLE" in err, "no client certificate: the handshake fails, exit 3")
oa, ob = (cli_data.tls_args(t, server.port, w) for w in ("officer-a", "officer-b"))
rc, out, _ = run("keys", "propose-kek", *oa, "--reason", "yearly")
pid = out.split()[1] if rc == 0 else ""
t.check(rc == 0 and "pending" in out and "approve-kek " + pid in out, "propose-kek prints the approve command")
rc, _, err = run("keys", "approve-kek", *oa, pid)
t.check(rc == 4 and "SAME_OFFICER" in err, "the proposer cannot approve: exit 4 (%s)" % err.strip())
rc, out, _ = run("keys", "approve-kek", *ob, pid)
t.check(rc == 0 and "approved" in out and "approved by spiffe://tokenvault/officer-b" in out, "a second officer approves")
rc, out, _ = run("keys", "status", *oa)
t.check(rc == 0 and out.startswith("kek v2"), "keys status: KEK v2 after approval")
rc, out, _ = run("detokenize", *fin, "--namespace", "pan", "--reveal", "full", "--reason", "after the KEK rotation", tok0)
t.check(rc == 0 and out == PANS[0] + "\n", "the token still resolves after the KEK rotation")
rc, _, err = run("keys", "rotate", *crm, "--namespace", "pan")
t.check(rc == 4, "crm may not rotate keys: exit 4")
server.terminate(20)
print("CLI commands: all checks passed")
