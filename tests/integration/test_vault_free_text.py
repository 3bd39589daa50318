"""Card numbers and IBANs in caller-supplied text never reach the audit
log, the store or the server's log: in request_id and reasons they are
replaced by [REDACTED-PAN] / [REDACTED-IBAN]; in token metadata (kept in
the store) the call is refused with INVALID_ARGUMENT naming the entry."""
import glob
import os

import grpc

import test_vault_policy_common as pc
import tvtest as t
import vaultclient as vc

TV = vc.TV
DATA = t.path("var-free-text")
PIN = pc.make_hsm()
pc.make_pki()
CONFIG = t.path("free-text.yaml")
pc.write_config(CONFIG, pc.config_text(DATA, PIN))
CRM, FINANCE, ALICE = "spiffe://example.org/crm", "spiffe://example.org/settlement", "officer-alice.example.org"
SECRET_PAN = "5105105105105100"          # a test MasterCard number, never tokenized here
SECRET_IBAN = "GB82WEST12345698765432"
SPACED_PAN = "5105 1051 0510 5100"
SPACED_IBAN = "GB82 WEST 1234 5698 7654 32"
NEEDLES = [SECRET_PAN, SPACED_PAN, "5105-1051-0510-5100", SECRET_IBAN, SPACED_IBAN]

server = t.Server("--config", CONFIG, "--listen", "127.0.0.1:0", "--init")
crm = vc.Client(pc.channel(server.port, CRM))
fin = vc.Client(pc.channel(server.port, FINANCE))
alice = vc.Client(pc.channel(server.port, ALICE))

tok = crm.call("Tokenize", TV.TokenizeRequest(namespace="pan", values=["4111111111111111"],
                                               request_id="order " + SECRET_PAN,
                                               metadata={"source": "crm import"}), TV.TokenizeResponse)
token = vc.ok_tokens(tok)[0]
t.check(tok.request_id == "order " + SECRET_PAN, "the answer echoes the caller's own request_id")
fin.call("Detokenize", TV.DetokenizeRequest(namespace="pan", tokens=[token], reveal=vc.FULL,
                                            reason="customer card %s refund" % SECRET_PAN,
                                            request_id="iban " + SPACED_IBAN), TV.DetokenizeResponse)
fin.call("Detokenize", TV.DetokenizeRequest(namespace="pan", tokens=[token], reveal=vc.MASKED,
                                            reason="card " + SPACED_PAN + " and " + SECRET_IBAN), TV.DetokenizeResponse)
alice.call("DeleteTokens", TV.DeleteTokensRequest(namespace="pan", tokens=[token], reason="dup of 5105-1051-0510-5100"),
           TV.DeleteTokensResponse)
for meta, what in (({"card": SECRET_PAN}, "metadata 'card' holds a card number"),
                   ({"note": "pay " + SPACED_IBAN}, "metadata 'note' holds an IBAN"),
                   ({SECRET_PAN: "x"}, "metadata key #1 holds a card number")):
    try:
        crm.call("Tokenize", TV.TokenizeRequest(namespace="pan", values=["5555555555554444"], metadata=meta),
                 TV.TokenizeResponse)
        t.fail("metadata %s was accepted" % list(meta))
    except grpc.RpcError as e:
        t.check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and what in e.details()
                and SECRET_PAN not in e.details(), "refused: %s" % e.details())

rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")

audit = "\n".join(pc.audit_lines(DATA))
t.check(audit.count("[REDACTED-PAN]") >= 4 and audit.count("[REDACTED-IBAN]") >= 2,
        "the audit log has the marks (%d PAN, %d IBAN)" % (audit.count("[REDACTED-PAN]"), audit.count("[REDACTED-IBAN]")))
t.check('"purpose":"customer card [REDACTED-PAN] refund"' in audit, "the reason's other words are kept")
t.check('"request_id":"order [REDACTED-PAN]"' in audit, "the request_id's other words are kept")
files = [f for f in glob.glob(os.path.join(DATA, "**", "*"), recursive=True) if os.path.isfile(f)]
t.check(any("store" in f for f in files) and any("audit" in f for f in files), "store and audit files found")
for f in files + [server.log_path]:
    with open(f, "rb") as fh:
        blob = fh.read()
    for needle in NEEDLES:
        t.check(needle.encode() not in blob, "%s not in %s" % (needle, os.path.relpath(f, t.path("."))))
