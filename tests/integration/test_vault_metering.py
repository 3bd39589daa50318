"""Issue 13 over mTLS with a config like the quickstart's: the tokenize
oracle (a tokenize-only principal brute-forcing a PAN's middle digits in a
convergent namespace) is cut off at the new-tokens-per-kept-group limit and
alerted in the audit log, while a bulk load of 100,000 realistic card
numbers with the default limits is never refused; GetTokenInfo needs
detokenize:masked and is metered like a reveal; blank or too short reasons
do not satisfy require_reason; a huge ttl_seconds is INVALID_ARGUMENT
instead of wrapping."""
import json
import os
import random
import time

import grpc

import cli_data
import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

TV = vc.TV
DATA = t.path("var-metering")
PIN = pc.make_hsm()
pc.make_pki()
t.make_cert("ca", "scraper", "scraper", "URI:spiffe://example.org/scraper")

CRM, FIN = "spiffe://example.org/crm", "spiffe://example.org/settlement"
REPORTING, SCRAPER = "spiffe://example.org/reporting", "spiffe://example.org/scraper"
THROTTLED = "spiffe://example.org/branch"
LIMIT = 100  # the 16-digit 6+4 default: max(100, 10^5 / 1000)

ROLES = """roles:
  - name: crm
    permissions:
      - {namespace: pan, allow: [tokenize, "detokenize:masked"]}
      - {namespace: iban, allow: [tokenize]}
    limits:
      items_per_request: 1000
      networks: [127.0.0.0/8, "::1/128"]
  - name: finance
    permissions:
      - {namespace: pan, allow: ["detokenize:masked", "detokenize:full"]}
    limits:
      require_reason: true
  - name: reporting
    permissions:
      - {namespace: pan, allow: ["detokenize:masked"]}
    limits:
      reveals_per_minute: 3
  - name: tokenize_only
    permissions:
      - {namespace: pan, allow: [tokenize]}
  - name: throttled
    permissions:
      - {namespace: pan, allow: [tokenize]}
    limits:
      tokenize_per_minute: 5
principals:
  - {name: "spiffe://example.org/crm", roles: [crm]}
  - {name: "spiffe://example.org/settlement", roles: [finance]}
  - {name: "spiffe://example.org/reporting", roles: [reporting]}
  - {name: "spiffe://example.org/scraper", roles: [tokenize_only]}
  - {name: "spiffe://example.org/branch", roles: [throttled]}
"""
NAMESPACES = """namespaces:
  - name: pan
    format: {kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19}
    convergent: true
  - name: ssn
    format: {kind: us_ssn}
    convergent: true
  - name: iban
    format: {kind: iban}
    convergent: true
"""
CONFIG = t.path("metering.yaml")
pc.write_config(CONFIG, pc.config_text(DATA, PIN, roles=ROLES, namespaces=NAMESPACES))
server = t.Server("--config", CONFIG, "--listen", "127.0.0.1:0", "--init")
cli = {p: vc.Client(pc.channel(server.port, p)) for p in (CRM, FIN, REPORTING, THROTTLED)}
cli[SCRAPER] = vc.Client(t.secure_channel(server.port, "scraper"))


def code_of(fn):
    try:
        fn()
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details()


def luhn_complete(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def luhn_ok(pan):
    return luhn_complete(pan[:-1]) == pan


# ---- the guessing space is said at load ------------------------------------
spaces = {l["namespace"]: l for l in server.lines() if l.get("event") == "namespace_guessing_space"}
t.check(spaces.get("pan", {}).get("candidates") == "100000" and
        spaces["pan"].get("new_tokens_per_kept_group_default") == LIMIT,
        "start-up logs the pan namespace's guessing space (10^5) and its default limit: %s" % spaces.get("pan"))
t.check(spaces.get("ssn", {}).get("new_tokens_per_kept_group_default") == "none (nothing kept)",
        "a namespace that keeps nothing has no group limit: %s" % spaces.get("ssn"))

# ---- 1. the attack -----------------------------------------------------------
BIN, LAST4 = "411111", "1111"
# A real card whose middle lies past the first LIMIT Luhn-valid candidates
# in the scraper's (ascending) order, so only the meter stands in the way.
real = next(p for p in (BIN + "%06d" % m + LAST4 for m in range(654321, 10 ** 6)) if luhn_ok(p))
real_token = vc.ok_tokens(cli[CRM].tokenize("pan", [real]))[0]
candidates = [p for p in (BIN + "%06d" % m + LAST4 for m in range(10 ** 6)) if luhn_ok(p)]
t.check(len(candidates) == 100000, "10^5 Luhn-valid middles for one BIN and last 4 (%d)" % len(candidates))
ok = refused = calls = 0
found = False
start = time.monotonic()
for i in range(0, len(candidates), 10):  # as in the report: calls of 10
    calls += 1
    resp = cli[SCRAPER].tokenize("pan", candidates[i:i + 10])
    for r in resp.results:
        if r.status.code == 0:
            ok += 1
            found = found or r.token == real_token
        elif r.status.name == "POLICY_NEW_TOKEN_LIMIT":
            refused += 1
        else:
            t.fail("a refused item is named POLICY_NEW_TOKEN_LIMIT, not %s" % r.status.name)
    if refused >= 50:  # several calls refused in full: cut off
        break
elapsed = time.monotonic() - start
t.check(not found, "the brute force never finds the card number")
t.check(ok == LIMIT, "exactly the limit of new tokens was minted (%d OK, %d refused, %d calls, %.1f s)" %
        (ok, refused, calls, elapsed))
resp = cli[SCRAPER].tokenize("pan", [real])
t.check(resp.results[0].status.name == "POLICY_NEW_TOKEN_LIMIT" and resp.results[0].token == "",
        "over the limit, the real value is refused too: the refusal says nothing about existence")
again = cli[CRM].tokenize("pan", [real, luhn_complete(BIN + "000123" + LAST4[:3])])
t.check(all(r.status.code == 0 for r in again.results) and again.results[0].token == real_token,
        "the CRM still tokenizes in the same group (its own counter)")
code, details = code_of(lambda: cli[SCRAPER].tokenize("pan", ["5555555555554444"]))
t.check(code == grpc.StatusCode.OK, "the scraper may still tokenize in other groups (%s)" % details)

# tokenize_per_minute (off by default; here 5): the sixth value in a minute
# is refused with the call, and alerted.
t.check(cli[THROTTLED].tokenize("pan", ["5555555555554444"] * 5).results[0].status.code == 0, "5 a minute: 5 pass")
code, details = code_of(lambda: cli[THROTTLED].tokenize("pan", ["5555555555554444"]))
t.check(code == grpc.StatusCode.RESOURCE_EXHAUSTED and "POLICY_TOKENIZE_RATE_LIMITED" in details,
        "tokenize_per_minute: the sixth is refused (%s)" % details)

# ---- 2. GetTokenInfo ---------------------------------------------------------
code, details = code_of(lambda: cli[SCRAPER].info("pan", [real_token]))
t.check(code == grpc.StatusCode.PERMISSION_DENIED, "a tokenize-only principal gets no GetTokenInfo (%s)" % details)
info = cli[CRM].info("pan", [real_token, "4111110000001111"])
t.check(info.results[0].status.code == 0 and info.results[1].status.name == "ENGINE_NOT_FOUND",
        "detokenize:masked may ask GetTokenInfo")
t.check(cli[REPORTING].info("pan", [real_token, real_token]).results[0].status.code == 0, "reporting: 2 of 3")
code, details = code_of(lambda: cli[REPORTING].info("pan", [real_token, real_token]))
t.check(code == grpc.StatusCode.RESOURCE_EXHAUSTED, "GetTokenInfo counts against reveals_per_minute (%s)" % details)

# ---- 5. reasons --------------------------------------------------------------
for bad in ["        ", "\t \n", "short", "  x      "]:
    code, details = code_of(lambda: cli[FIN].detokenize("pan", [real_token], vc.FULL, reason=bad))
    t.check(code == grpc.StatusCode.FAILED_PRECONDITION and "REASON_REQUIRED" in details,
            "reason %r does not satisfy require_reason (%s)" % (bad, details))
full = cli[FIN].detokenize("pan", [real_token], vc.FULL, reason=" INC-1234 ").results[0]
t.check(full.value == real, "a reason of 8 characters after trimming is accepted")

# ---- 6. TTL overflow ---------------------------------------------------------
for ttl in [2 ** 62 + 2, 2 ** 61, 2 ** 62, 100 * 366 * 86400 + 1]:
    code, details = code_of(lambda: cli[CRM].tokenize("pan", ["4000056655665556"], ttl_seconds=ttl))
    t.check(code == grpc.StatusCode.INVALID_ARGUMENT and "ttl_seconds" in details and "3162240000" in details,
            "ttl_seconds %d: INVALID_ARGUMENT naming the field and the limit (%s %s)" % (ttl, code, details))
code, details = code_of(lambda: cli[CRM].tokenize("pan", ["4000056655665556"], ttl_seconds=-5))
t.check(code == grpc.StatusCode.INVALID_ARGUMENT and "ttl_seconds" in details, "ttl_seconds -5 (%s)" % details)
code, details = code_of(lambda: cli[CRM].tokenize("pan", ["4000056655665556"], expires_at_unix_ms=2 ** 62))
t.check(code == grpc.StatusCode.INVALID_ARGUMENT and "expires_at_unix_ms" in details,
        "expires_at_unix_ms 2^62: INVALID_ARGUMENT (%s)" % details)
tok = vc.ok_tokens(cli[CRM].tokenize("pan", ["4000056655665556"], ttl_seconds=100 * 366 * 86400))[0]
exp = cli[CRM].info("pan", [tok]).results[0].expires_at_unix_ms
t.check(exp > (time.time() + 99 * 366 * 86400) * 1000, "the longest TTL is honoured (expires %d)" % exp)

# ---- 1. bulk load of realistic cards with the default limits ---------------
rng = random.Random(13)
bins = set()
while len(bins) < 300:  # realistic-looking issuer BINs: Visa 4, Mastercard 51-55 and 2221-2720
    kind = rng.random()
    if kind < 0.6:
        bins.add("4%05d" % rng.randrange(10 ** 5))
    elif kind < 0.9:
        bins.add("5%d%04d" % (rng.randint(1, 5), rng.randrange(10 ** 4)))
    else:
        bins.add("%04d%02d" % (rng.randint(2221, 2720), rng.randrange(100)))
bins = sorted(bins)
big = bins[:10]  # a third of the cards from the ten biggest issuers
cards = set()
while len(cards) < 100000:
    b = rng.choice(big) if rng.random() < 1 / 3 else rng.choice(bins)
    cards.add(luhn_complete(b + "%09d" % rng.randrange(10 ** 9)))
cards = sorted(cards)
rng.shuffle(cards)
refused_bulk = []
start = time.monotonic()
for i in range(0, len(cards), 1000):
    resp = cli[CRM].call("Tokenize", TV.TokenizeRequest(namespace="pan", values=cards[i:i + 1000]),
                         TV.TokenizeResponse, timeout=120)
    refused_bulk += [r.status.name for r in resp.results if r.status.code != 0]
t.check(not refused_bulk, "100,000 realistic cards with default limits: none refused (%d refused, %.1f s)" %
        (len(refused_bulk), time.monotonic() - start))

# Each value's own space decides: a German IBAN keeps an 8-digit bank code
# but tokenises a 10-digit account (10^10: no limit), so 1200 accounts of
# one bank are never refused although the namespace's smallest country (NO,
# 10^6 per bank code) gives the namespace a default of 1000.
t.check(spaces.get("iban", {}).get("new_tokens_per_kept_group_default") == 1000, "iban: %s" % spaces.get("iban"))
ibans = sorted({cli_data.de_iban("37040044", "%010d" % rng.randrange(10 ** 10)) for _ in range(1200)})
bad = []
for i in range(0, len(ibans), 600):
    resp = cli[CRM].call("Tokenize", TV.TokenizeRequest(namespace="iban", values=ibans[i:i + 600]),
                         TV.TokenizeResponse, timeout=60)
    bad += [r.status.name for r in resp.results if r.status.code != 0]
t.check(len(ibans) > 1000 and not bad, "%d new IBANs of one German bank: none refused %s" % (len(ibans), bad[:3]))

# ---- the alert is in the audit log, without values -------------------------
rc, _ = server.terminate(60)
t.check(rc == 0, "SIGTERM exits 0")
lines = pc.audit_lines(DATA)
alerts = [json.loads(l) for l in lines if "new_token_limit_exceeded" in l]
t.check(alerts and all(a.get("principal") == SCRAPER for a in alerts) and
        any(a.get("limit") == LIMIT for a in alerts),
        "the cut-off is alerted in the audit log for the scraper with the limit (%d alerts)" % len(alerts))
t.check(not any(real in l for l in lines), "the card number is not in the audit log")
t.check(any("tokenize_rate_exceeded" in l and THROTTLED in l for l in lines), "tokenize_per_minute is alerted")
print("PASS test_vault_metering: attack cut at %d new tokens in %d calls, bulk of %d not refused" %
      (ok, calls, len(cards)))
