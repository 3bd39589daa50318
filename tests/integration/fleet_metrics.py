"""The series only a fleet node (store backend postgres) exports on
/metrics, and how a scrape is read. test_monitoring.py runs a --dev node
on the log backend, so it accepts the dashboard's and the rules' uses of
these names without seeing them (and checks that node does not export
them); test_vault_fleet.py checks a postgres node exports every one."""
import re
import urllib.request

POSTGRES_ONLY = {
    "tokenvault_db_connected", "tokenvault_db_reconnects_total", "tokenvault_db_failovers_total",
    "tokenvault_db_read_only_refusals_total", "tokenvault_db_timeline",
    "tokenvault_db_batch_rows", "tokenvault_db_batch_rows_bucket", "tokenvault_db_batch_rows_sum",
    "tokenvault_db_batch_rows_count",
    "tokenvault_db_commit_seconds", "tokenvault_db_commit_seconds_bucket", "tokenvault_db_commit_seconds_sum",
    "tokenvault_db_commit_seconds_count", "tokenvault_db_commit_max_seconds",
    "tokenvault_db_read_seconds", "tokenvault_db_read_seconds_bucket", "tokenvault_db_read_seconds_sum",
    "tokenvault_db_read_seconds_count", "tokenvault_db_read_max_seconds", "tokenvault_db_read_retries_total",
    "tokenvault_db_readers_open", "tokenvault_db_readers_idle", "tokenvault_db_readers_max",
}


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as resp:
        return resp.read().decode()


def exported(body):
    """Every series name /metrics offers: announced families (with a
    histogram's _bucket, _sum and _count) and sample names."""
    names = set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names |= {name + "_bucket", name + "_sum", name + "_count"}
        elif line and not line.startswith("#"):
            names.add(re.match(r'[a-zA-Z_:][a-zA-Z0-9_:]*', line).group(0))
    return names


def samples(body):
    """{series with labels: value} of every sample line."""
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out
