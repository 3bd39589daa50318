"""The operators' view (issue 14, point 5): the Prometheus alert rules pass
`promtool check rules` and their unit tests (`promtool test rules`: input
series and the expected alerts of every rule), and every metric name that
the Grafana dashboard and the rules use is one a live tokenvaultd --dev
exports on /metrics, next to the standard process metrics.

Only promtool (Debian's `prometheus` package, deploy/packages.txt) is
needed: no Prometheus server or Grafana runs."""
import json
import os
import re
import shutil
import subprocess
import time

import yaml

import tvtest as t
import vaultclient as vc
import fleet_metrics as fm
from health_probe import metrics_port

SOURCE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RULES = os.path.join(SOURCE, "deploy", "prometheus", "tokenvault-rules.yml")
RULE_TESTS = os.path.join(SOURCE, "deploy", "prometheus", "tokenvault-rules.test.yml")
DASHBOARD = os.path.join(SOURCE, "deploy", "grafana", "tokenvault.json")
# Series Prometheus records itself for every scrape target, not exported by
# any target: `up` is how a rule sees a vault that is down.
PROMETHEUS_OWN = {"up"}
WAIT_S = 60  # hang guard for the background rotation to show up

# ---- PromQL metric names ----------------------------------------------------

KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
            "group_right", "inf", "nan"}
GROUPING = re.compile(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)')


def metric_names(expr):
    """The metric names a PromQL expression (or a Grafana label_values()
    query) selects: identifiers that are not functions, keywords, label
    names or durations."""
    m = re.fullmatch(r'\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*,\s*\w+\s*\)\s*', expr)
    if m:
        return {m.group(1)}
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values, strings
    e = re.sub(r'\{[^}]*\}', ' ', e)  # label matchers
    e = re.sub(r'\[[^\]]*\]', ' ', e)  # ranges ([5m], [$__rate_interval])
    e = GROUPING.sub(' ', e)  # by (le, method), on (...), ...
    e = re.sub(r'\$\{?\w+\}?', ' ', e)  # dashboard variables
    names = set()
    for ident in re.finditer(r'(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?', e):
        word, call = ident.group(1), ident.group(2)
        if call or word.lower() in KEYWORDS:
            continue  # a function (rate, sum, ...) or an operator
        if re.fullmatch(r'\d+[smhdwy]', word):
            continue
        names.add(word)
    return names


# The extractor must see what it is there to see.
t.check(metric_names('sum by (le, method) (rate(tokenvault_nope_bucket{job="$job", a=~"b|c"}[$__rate_interval]))')
        == {"tokenvault_nope_bucket"}, "extractor: a name inside functions, grouping and matchers")
t.check(metric_names('a_total / on (instance) group_left (x) b_total > 0.5 and c offset 5m')
        == {"a_total", "b_total", "c"}, "extractor: binary operators and modifiers")
t.check(metric_names('time() - max(process_start_time_seconds)') == {"process_start_time_seconds"},
        "extractor: time() is a function")
t.check(metric_names('label_values(tokenvault_build_info{job="$job"}, instance)') == {"tokenvault_build_info"},
        "extractor: Grafana label_values")


def dashboard_exprs(dash):
    out = []
    for p in dash["panels"]:
        out += [tg["expr"] for tg in p.get("targets", []) if tg.get("expr")]
    for v in dash["templating"]["list"]:
        q = v.get("query")
        if isinstance(q, dict) and q.get("query"):
            out.append(q["query"])
    return out


def rule_exprs(rules):
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


# ---- promtool -----------------------------------------------------------------

promtool = shutil.which("promtool")
if promtool is None:
    t.fail("promtool not found: install Debian's prometheus package (deploy/packages.txt)")
r = subprocess.run([promtool, "check", "rules", RULES], capture_output=True, text=True, timeout=60)
t.check(r.returncode == 0, "promtool check rules: %s" % (r.stdout + r.stderr).strip().replace("\n", " / "))
r = subprocess.run([promtool, "test", "rules", os.path.basename(RULE_TESTS)], capture_output=True, text=True,
                   timeout=120, cwd=os.path.dirname(RULE_TESTS))
t.check(r.returncode == 0 and "SUCCESS" in r.stdout,
        "promtool test rules: %s" % (r.stdout + r.stderr).strip().replace("\n", " / ")[-2000:])
with open(RULES) as f:
    rules = yaml.safe_load(f)
with open(RULE_TESTS) as f:
    tested = {a["alertname"] for tc in yaml.safe_load(f)["tests"] for a in tc["alert_rule_test"]
              if a.get("exp_alerts")}
alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
t.check(alerts == tested, "every rule has a test case where it fires (untested: %s)" % sorted(alerts - tested))
for want in ("TokenvaultDown", "TokenvaultAuditFailures", "TokenvaultHsmUnavailable", "TokenvaultRevealsRefused",
             "TokenvaultFullRevealRateHigh", "TokenvaultErrorRatioHigh", "TokenvaultDiskFilling",
             "TokenvaultRotationStuck"):
    t.check(want in alerts, "rule %s" % want)

# ---- a live /metrics ---------------------------------------------------------------

server = t.Server("--dev", "--listen", "127.0.0.1:0", "--data-dir", t.path("var-monitoring"),
                  "--metrics-listen", "127.0.0.1:0")
mport = metrics_port(server)


def scrape():
    return fm.scrape(mport)


with t.insecure_channel(server.port) as ch:
    c = vc.Client(ch)
    tokens = vc.ok_tokens(c.tokenize("pan", ["4111111111111111", "5105105105105100"]))
    c.detokenize("pan", tokens, vc.FULL, reason="monitoring test")
    c.detokenize("pan", tokens + ["4111119999999991"], vc.MASKED)  # one NOT_FOUND item
    c.rotate("pan")  # the rotation worker's gauges appear once a namespace rotated
    deadline = time.monotonic() + WAIT_S
    body = scrape()
    while "tokenvault_rotation_phase{" not in body and time.monotonic() < deadline:
        time.sleep(0.2)
        body = scrape()
names = fm.exported(body)
t.check("tokenvault_rotation_phase" in names, "rotation gauges exported after a rotation")

# The process metrics, with values that make sense for this server.
sample = dict(re.findall(r'^(process_[a-z_]+) (\S+)$', body, re.M))
for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
             "process_open_fds", "process_max_fds", "process_start_time_seconds"):
    t.check(name in sample, "/metrics has %s" % name)
t.check(abs(float(sample["process_start_time_seconds"]) - time.time()) < 3600, "start time is this run's")
t.check(0 < float(sample["process_open_fds"]) < float(sample["process_max_fds"]), "open fds under the limit")
t.check(float(sample["process_resident_memory_bytes"]) > 1 << 20, "resident memory is plausible (> 1 MiB)")
t.check('tokenvault_reveals_total{principal="dev:local",level="FULL"} 2' in body, "2 full reveals by dev:local")
t.check('tokenvault_reveals_total{principal="dev:local",level="MASKED"} 2' in body, "2 masked reveals by dev:local")
t.check('tokenvault_item_failures_total{method="Detokenize",class="not_found"} 1' in body, "1 item not found")
t.check(re.search(r'^tokenvault_keyring_generation [1-9]', body, re.M) is not None,
        "the keyring generation is exported on the log backend too")
t.check("tokenvault_ready 1" in body and "tokenvault_hsm_up 1" in body, "ready, HSM up")
t.check(re.search(r'^tokenvault_disk_free_bytes\{dir="store"\} [1-9]', body, re.M) is not None, "store disk free")
t.check(re.search(r'^tokenvault_disk_size_bytes\{dir="audit"\} [1-9]', body, re.M) is not None, "audit disk size")

# Every name the dashboard and the rules use is exported.
with open(DASHBOARD) as f:
    dash = json.load(f)
used = {}
for where, exprs in (("dashboard", dashboard_exprs(dash)), ("rules", rule_exprs(rules))):
    t.check(len(exprs) >= 10, "%s has queries (%d)" % (where, len(exprs)))
    for e in exprs:
        for n in metric_names(e):
            used.setdefault(n, set()).add(where)
# The database families exist only on a postgres store (test_vault_fleet.py
# checks them there); this --dev node is on the log backend.
t.check(not (fm.POSTGRES_ONLY & names), "a log-store node exports no postgres-only series (%s)" %
        sorted(fm.POSTGRES_ONLY & names))
t.check(any(n.startswith("tokenvault_db_") for n in used), "the dashboard or rules use the database series")
missing = {n: sorted(w) for n, w in used.items()
           if n not in names and n not in PROMETHEUS_OWN and n not in fm.POSTGRES_ONLY}
t.check(not missing, "every metric the dashboard and rules use is exported (missing: %s)" % missing)
print("ok: %d metric names used, all exported: %s" % (len(used), " ".join(sorted(used))))
# The dashboard covers what an operator asked for.
dash_names = set().union(*(metric_names(e) for e in dashboard_exprs(dash)))
for what, name in (("throughput", "tokenvault_items_total"), ("latency", "tokenvault_call_latency_seconds_bucket"),
                   ("errors by name", "tokenvault_calls_total"), ("reveals by principal", "tokenvault_reveals_total"),
                   ("fsync latency", "tokenvault_store_fsync_seconds_bucket"),
                   ("rotation progress", "tokenvault_rotation_records_done"), ("HSM health", "tokenvault_hsm_up")):
    t.check(name in dash_names, "dashboard shows %s (%s)" % (what, name))
t.check(any(p["type"] == "alertlist" for p in dash["panels"]), "dashboard lists firing alerts")
server.terminate(30)
print("PASS")
