"""`tokenvault db tokenize|detokenize` on a real PostgreSQL 15 (started here,
tests/support/pg_cluster.py) against a `tokenvaultd --dev`.

A table of TV_CLI_DB_ROWS rows (ctest: 1,000,000; fewer under the
sanitizers) made with generate_series: Luhn-valid card numbers with some
Luhn-broken, too short and NULL ones, valid German IBANs with some broken
check digits, and a national_id column whose namespace each row names in
id_kind (ssn, bank_account; some rows name none or an unknown one). A copy
of the table keeps the originals.

Checked: --dry-run writes nothing and counts the bad cells exactly; a
tokenize SIGKILLed midway and rerun finishes; then no good cell holds its
original, every bad cell is unchanged and listed by key with its rule
(never its value); a rerun is a no-op; `db detokenize` restores the table
exactly (so every good cell detokenizes to its original: nothing was
tokenized twice); and bad usage is refused before anything is written.

Rows: ctest runs 200,000 (tests/integration/CMakeLists.txt), under two
minutes on the loaded 2-core machine. The issue's 1,000,000
(TV_CLI_DB_ROWS=1000000) pass too but take about 5 minutes there: the
table alone takes ~55 s to generate, the dry run ~50 s, and each direction
~40 s at the ~25 k rows/s that bench/db_migrate_bench.sh measures."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import pg_cluster  # noqa: E402
import tvtest as t  # noqa: E402

CLI = os.environ.get("TOKENVAULT_CLI", "")
ROWS = int(os.environ.get("TV_CLI_DB_ROWS", "100000"))
RUN_TIMEOUT_S = 600  # hang guard only

# The table: every bad kind of cell at a known stride, so the expected
# failures are computed in SQL from the originals.
SCHEMA = """
CREATE FUNCTION luhn_digit(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT ((10 - sum(CASE WHEN (length(p) - i) % 2 = 0
                         THEN (substr(p, i, 1)::int * 2) - CASE WHEN substr(p, i, 1)::int >= 5 THEN 9 ELSE 0 END
                         ELSE substr(p, i, 1)::int END) % 10) % 10)::text
  FROM generate_series(1, length(p)) AS i $$;
CREATE FUNCTION iban_de(account bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'DE' || lpad((98 - ((b || '131400')::numeric % 97))::text, 2, '0') || b
  FROM (SELECT lpad((account % 100000000)::text, 8, '0') || lpad((account % 9999999967)::text, 10, '0') AS b) AS x $$;
CREATE TABLE customers (id bigint PRIMARY KEY, name text, card_number varchar(19), iban text,
                        id_kind text, national_id text);
INSERT INTO customers
SELECT id, 'customer ' || id,
       CASE WHEN id % 50 = 0 THEN NULL
            WHEN id % 37 = 0 THEN '4' || lpad(((id * 2654435761) % 100000000000)::text, 11, '0')
            WHEN id % 20 = 0 THEN p || ((luhn_digit(p)::int + 1) % 10)::text
            ELSE p || luhn_digit(p) END,
       CASE WHEN id % 30 = 0 THEN 'DE' || lpad((substr(i, 3, 2)::int + 1)::text, 2, '0') || substr(i, 5)
            ELSE i END,
       CASE WHEN id % 41 = 0 THEN NULL WHEN id % 43 = 0 THEN 'passport' WHEN id % 2 = 0 THEN 'ssn'
            ELSE 'bank_account' END,
       CASE WHEN id % 2 = 0 THEN
              CASE WHEN id % 47 = 0 THEN '666' ELSE lpad((1 + id % 665)::text, 3, '0') END || '-' ||
              lpad((1 + (id / 7) % 99)::text, 2, '0') || '-' || lpad((1 + (id * 13) % 9999)::text, 4, '0')
            ELSE lpad(((id * 40503) % 1000000000000)::text, 12, '0') END
FROM (SELECT id, '4' || lpad(((id * 2654435761) % 100000000000000)::text, 14, '0') AS p,
             iban_de(id * 2654435761 % 1000000000000000000) AS i
      FROM generate_series(1::bigint, %d) AS id) AS g;
CREATE TABLE originals AS SELECT * FROM customers;
ALTER TABLE originals ADD PRIMARY KEY (id);
"""

# (key, column, status) of every cell tokenize must leave as it is.
EXPECTED_BAD = """
SELECT id::text, 'card_number', CASE WHEN id % 37 = 0 THEN 'len' ELSE 'luhn' END FROM originals
 WHERE id % 50 <> 0 AND (id % 37 = 0 OR id % 20 = 0)
UNION ALL SELECT id::text, 'iban', 'iban' FROM originals WHERE id % 30 = 0
UNION ALL SELECT id::text, 'national_id', CASE WHEN id % 41 = 0 THEN 'ns' WHEN id % 43 = 0 THEN 'unknown'
                                                ELSE 'ssn' END FROM originals
 WHERE id % 41 = 0 OR id % 43 = 0 OR (id % 2 = 0 AND id % 47 = 0)
"""


def run_sql(pg, sql, timeout=RUN_TIMEOUT_S):
    argv = [pg_cluster.pg_bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", pg.dir, "-p",
            str(pg.port), "-U", pg_cluster.DB_USER, "-d", pg_cluster.DB_NAME, "-c", sql]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, text=True)
    if r.returncode != 0:
        t.fail("psql failed: %s" % r.stdout)
    return r.stdout.strip()


def cli(*args, timeout=RUN_TIMEOUT_S):
    start = time.monotonic()
    r = subprocess.run([CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, text=True)
    return r.returncode, r.stdout, r.stderr, time.monotonic() - start


# SIGTERM (a ctest timeout, a Ctrl-C of a wrapper): leave through the
# `with` blocks, so the PostgreSQL server is stopped and removed.
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def table_digest(pg, table):
    return run_sql(pg, "SELECT md5(string_agg(md5(c::text), '' ORDER BY id)) FROM %s AS c" % table)


with pg_cluster.PgCluster() as pg:
    start = time.monotonic()
    run_sql(pg, SCHEMA.replace("%d", str(ROWS)))
    print("made %d rows in %.1f s" % (ROWS, time.monotonic() - start))
    server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-db"))
    vault = ["--dev", "--target", "127.0.0.1:%d" % server.port]
    where = ["--table", "customers"]
    columns = ["--columns", "card_number:pan,iban:iban,national_id", "--namespace-column", "id_kind"]
    base = [*vault, "--conninfo", pg.conninfo, *where, *columns]
    expected_bad = int(run_sql(pg, "SELECT count(*) FROM (%s) AS b" % EXPECTED_BAD))
    original = table_digest(pg, "customers")

    # -- refused before anything is written ---------------------------
    rc, _, err, _ = cli("db", "tokenize", *vault, "--conninfo", pg.conninfo + " password=hunter2", *where,
                        *columns)
    t.check(rc == 2 and "password" in err and "hunter2" not in err,
            "a password in --conninfo is refused without being echoed: %s" % err.strip())
    conninfo_file = t.path("conninfo")
    with open(conninfo_file, "w") as f:
        f.write(pg.conninfo + " password=hunter2\n")
    os.chmod(conninfo_file, 0o644)
    rc, _, err, _ = cli("db", "tokenize", *vault, "--conninfo-file", conninfo_file, *where, *columns)
    t.check(rc == 2 and "readable by others" in err and "hunter2" not in err,
            "a --conninfo-file holding a password must be private: " + err.strip())
    os.chmod(conninfo_file, 0o600)
    run_sql(pg, "CREATE TABLE tiny (id int PRIMARY KEY, card text); INSERT INTO tiny VALUES (1, '4111111111111111')")
    rc, out, err, _ = cli("db", "tokenize", *vault, "--conninfo-file", conninfo_file, "--table", "tiny",
                          "--columns", "card:pan", "--dry-run")
    t.check(rc == 0 and "dry run: 1 rows, 1 cells" in out, "a private --conninfo-file is used: " + out + err[-200:])
    rc, _, err, _ = cli("db", "tokenize", *vault, "--conninfo", pg.conninfo, *where, "--columns", "card_numbr:pan")
    t.check(rc == 2 and "no such column" in err and "card_numbr" in err, "an unknown column is named: " + err.strip())
    rc, _, err, _ = cli("db", "tokenize", *vault, "--conninfo", pg.conninfo, *where, "--columns", "national_id")
    t.check(rc == 2 and "needs a namespace" in err, "a column without a namespace is refused: " + err.strip())
    t.check(run_sql(pg, "SELECT to_regclass('tokenvault_migration') IS NULL") == "t",
            "refused commands created nothing in the database")

    # -- dry run ------------------------------------------------------
    rc, out, err, secs = cli("db", "tokenize", *base, "--dry-run")
    m = re.search(r"dry run: (\d+) rows, (\d+) cells would be tokenized, (\d+) bad cells", out)
    t.check(rc == 1 and m is not None and int(m.group(1)) == ROWS and int(m.group(3)) == expected_bad,
            "--dry-run counts %d rows and exactly the %d bad cells (%.1f s): %s" % (ROWS, expected_bad, secs,
                                                                                   out.strip() + err[-2000:]))
    listed = re.findall(r"dry run: id=(\d+) column (\w+): (\w+)", err)
    t.check(0 < len(listed) <= 20 and all(k in ("card_number", "iban", "national_id") for _, k, _ in listed),
            "--dry-run lists a sample of bad cells by key, column and rule (%d)" % len(listed))
    values = run_sql(pg, "SELECT string_agg(card_number || ' ' || iban || ' ' || coalesce(national_id, ''), ' ') "
                         "FROM originals WHERE id <= 100")
    t.check(not any(v in err for v in values.split() if len(v) > 6), "no value appears on stderr")
    t.check(table_digest(pg, "customers") == original and
            run_sql(pg, "SELECT to_regclass('tokenvault_migration') IS NULL") == "t",
            "--dry-run wrote nothing: the table is unchanged and no progress table exists")

    # -- tokenize, SIGKILL midway, rerun --------------------------------
    proc = subprocess.Popen([CLI, "db", "tokenize", *base, "--progress"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        got = run_sql(pg, "SELECT coalesce((SELECT rows_done FROM tokenvault_migration), 0)") \
            if run_sql(pg, "SELECT to_regclass('tokenvault_migration') IS NOT NULL") == "t" else "0"
        done = int(got)
        if done >= ROWS * 0.4:
            break
        time.sleep(0.2)
    t.check(proc.poll() is None, "the tokenize job still runs at %d of %d rows" % (done, ROWS))
    proc.send_signal(signal.SIGKILL)
    _, progress_err = proc.communicate()
    t.check("rows/s" in progress_err.decode(errors="replace"), "the progress bar showed a rate")
    killed_at = int(run_sql(pg, "SELECT rows_done FROM tokenvault_migration"))
    t.check(0 < killed_at < ROWS, "SIGKILL left the job partly done (%d of %d rows)" % (killed_at, ROWS))
    rc, out, err, secs = cli("db", "tokenize", *base)
    t.check(rc == 1 and "done;" in out and "verified:" in out,
            "the rerun finishes the job and verifies it (exit 1: bad cells): %s %s" % (out.strip(), err[-300:]))
    rate = (ROWS - killed_at) / secs
    print("rerun: %d rows in %.1f s (%.0f rows/s)" % (ROWS - killed_at, secs, rate))
    t.check(run_sql(pg, "SELECT rows_done, finished_at IS NOT NULL FROM tokenvault_migration") == "%d|t" % ROWS,
            "the job went through every row exactly once over both runs")

    # -- the table after tokenize ---------------------------------------
    failures = "SELECT key, column_name FROM tokenvault_migration_failure"
    got_bad = run_sql(pg, "SELECT count(*) FROM tokenvault_migration_failure")
    mismatch = run_sql(pg, "SELECT count(*) FROM ((%s) EXCEPT (SELECT k, c FROM (%s) AS e(k, c, w))) AS x"
                       % (failures, EXPECTED_BAD))
    t.check(int(got_bad) == expected_bad and mismatch == "0",
            "exactly the %d bad cells are recorded, by key and column (%s)" % (expected_bad, got_bad))
    rules = run_sql(pg, "SELECT string_agg(DISTINCT status, ',') FROM tokenvault_migration_failure")
    t.check({"FORMAT_LUHN", "FORMAT_IBAN_CHECK", "NAMESPACE_MISSING"} <= set(rules.split(",")),
            "each bad cell carries its rule's status name: " + rules)
    listed = re.findall(r"id=(\d+) column (\w+): (\w+) \(left as it is\)", err)
    t.check(len(listed) == min(100, expected_bad), "the first 100 bad cells are listed on stderr by key")
    # Cells equal to their original, as (key, column): exactly the bad ones.
    same = """SELECT id::text, 'card_number' FROM customers c JOIN originals o USING (id)
                WHERE c.card_number = o.card_number
              UNION ALL SELECT id::text, 'iban' FROM customers c JOIN originals o USING (id) WHERE c.iban = o.iban
              UNION ALL SELECT id::text, 'national_id' FROM customers c JOIN originals o USING (id)
                WHERE c.national_id = o.national_id"""
    leaked = run_sql(pg, "SELECT count(*) FROM ((%s) EXCEPT (%s)) AS x" % (same, failures))
    t.check(leaked == "0", "no good cell still holds its original value")
    anywhere = run_sql(pg, "SELECT count(*) FROM customers c JOIN originals o ON c.card_number = o.card_number "
                           "WHERE o.id % 20 <> 0 AND o.id % 37 <> 0")
    t.check(anywhere == "0", "no cell holds any original good card number, in any row")
    unchanged = run_sql(pg, "SELECT count(*) FROM ((%s) EXCEPT (%s)) AS x" % (failures, same))
    t.check(unchanged == "0", "every bad cell is unchanged (%s bad cells)" % got_bad)
    nulls = run_sql(pg, "SELECT count(*) FROM customers WHERE card_number IS NULL")
    t.check(int(nulls) == ROWS // 50, "NULL cells stay NULL")
    tokenized = table_digest(pg, "customers")
    rc, out, _, _ = cli("db", "tokenize", *base)
    t.check(rc == 1 and "already done" in out and table_digest(pg, "customers") == tokenized,
            "a second rerun changes nothing (never tokenizes a token)")

    # -- the way back ---------------------------------------------------
    rc, out, err, secs = cli("db", "detokenize", *base, "--reason", "test round trip")
    t.check(rc == 0 and "verified:" in out and "done;" in out, "db detokenize finishes and verifies: %s %s" % (out.strip(), err[-300:]))
    print("detokenize: %d rows in %.1f s (%.0f rows/s)" % (ROWS, secs, ROWS / secs))
    diff = run_sql(pg, "SELECT count(*) FROM ((TABLE customers EXCEPT TABLE originals) UNION ALL "
                       "(TABLE originals EXCEPT TABLE customers)) AS d")
    t.check(diff == "0" and table_digest(pg, "customers") == original,
            "db detokenize restores the table exactly: every good cell detokenized to its original")
    server.terminate(30)
