"""tokenvaultd over mTLS on a dev HSM token made by `tokenvault hsm init`,
with the production HSM flags: round trip; data-key rotation keeps every
token; KEK rotation needs two different officers (client certificates);
restart with the PIN from an environment variable after the rotation."""
import os
import subprocess

import grpc

import tvtest as t
import vaultclient as vc

CLI = os.environ.get("TOKENVAULT_CLI", "")
HSM = t.path("hsm-token")
DATA = t.path("var-mtls")

p = subprocess.run([CLI, "hsm", "init", "--dir", HSM], capture_output=True, timeout=60)
t.check(p.returncode == 0, "tokenvault hsm init made a dev token (%s)" % p.stderr.decode().strip())
os.environ["SOFTHSM2_CONF"] = os.path.join(HSM, "softhsm2.conf")
PIN = os.path.join(HSM, "user.pin")
tls = t.mtls_server_pki()
t.make_cert("ca", "officer-a", "officer-a", "URI:spiffe://tokenvault/officer-a")
t.make_cert("ca", "officer-b", "officer-b", "URI:spiffe://tokenvault/officer-b")
hsm_file = ["--hsm-token-label", "tokenvault-dev", "--hsm-pin-file", PIN]
# Namespaces and roles come from the config file; the HSM flags override
# its hsm block (a PIN flag replaces its PIN source).
CONFIG = t.path("vault-mtls.yaml")
with open(CONFIG, "w") as f:
    f.write("""listen: 127.0.0.1:7443
data_dir: %s
hsm: {module: /usr/lib/softhsm/libsofthsm2.so, token_label: other-token, pin_env: TV_NOT_SET}
audit: {dir: %s/audit}
namespaces:
  - {name: pan, format: {kind: pan, keep_first: 6, keep_last: 4, length_min: 16, length_max: 19}, convergent: true}
roles:
  - name: officer
    permissions:
      - {namespace: pan, allow: [tokenize, "detokenize:masked", "detokenize:full", delete]}
      - {namespace: "*", allow: ["keys:read", "keys:rotate", "keys:approve", "audit:read"]}
principals:
  - {name: "spiffe://tokenvault/officer-a", roles: [officer]}
  - {name: "spiffe://tokenvault/officer-b", roles: [officer]}
""" % (DATA, DATA))
hsm_file = ["--config", CONFIG] + hsm_file

p = subprocess.run([t.SERVER, "--listen", "127.0.0.1:0", "--data-dir", DATA, *tls, *hsm_file],
                   capture_output=True, timeout=30)
t.check(p.returncode != 0 and "--init" in p.stderr.decode(), "a missing keyring is refused and --init is named")
p = subprocess.run([t.SERVER, "--listen", "127.0.0.1:0", *tls, "--hsm-token-label", "tokenvault-dev"],
                   capture_output=True, timeout=30)
t.check(p.returncode == 2 and "--config" in p.stderr.decode(), "HSM flags without a config file are refused")
p = subprocess.run([t.SERVER, "--dev", "--listen", "127.0.0.1:0", "--hsm-pin-file", PIN],
                   capture_output=True, timeout=30)
t.check(p.returncode == 2, "--dev refuses --hsm-* flags")

server = t.Server("--listen", "127.0.0.1:0", "--data-dir", DATA, "--init", *tls, *hsm_file)
a = t.secure_channel(server.port, "officer-a")
b = t.secure_channel(server.port, "officer-b")
ca, cb = vc.Client(a), vc.Client(b)
values = ["4111111111111111", "5555 5555 5555 4444"]
tokens = vc.ok_tokens(ca.tokenize("pan", values))
t.check([r.value for r in cb.detokenize("pan", tokens, vc.FULL, reason="mtls").results] == values,
        "mTLS round trip (tokenized by one client, detokenized by another)")

keys = ca.list_keys("pan").keys
t.check([(k.version, k.state) for k in keys] == [(1, vc.TV.KEY_STATE_ACTIVE)], "ListKeys: pan has version 1 active")
rot = ca.rotate("pan")
t.check(rot.key.version == 2 and rot.key.state == vc.TV.KEY_STATE_ACTIVE, "RotateDataKey: version 2 active")
states = {k.version: k.state for k in ca.list_keys("pan").keys}
# The background rotation worker may already have moved the two records
# and retired version 1 (test_vault_rotation.py covers that in full).
t.check(states in ({1: vc.TV.KEY_STATE_DECRYPT_ONLY, 2: vc.TV.KEY_STATE_ACTIVE},
                   {1: vc.TV.KEY_STATE_RETIRED, 2: vc.TV.KEY_STATE_ACTIVE}),
        "version 1 is now decrypt-only (or already retired by the rotation worker)")
t.check([r.value for r in ca.detokenize("pan", tokens, vc.FULL, reason="r").results] == values,
        "after RotateDataKey old tokens still detokenize")
t.check(vc.ok_tokens(ca.tokenize("pan", values)) == tokens, "after RotateDataKey the same values keep their tokens")
new_tok = vc.ok_tokens(ca.tokenize("pan", ["5105105105105100"]))[0]
t.check(ca.info("pan", [new_tok]).results[0].key_version == 2, "new values are encrypted under version 2")
t.expect_rpc_error(lambda to: ca.rotate("nope"), grpc.StatusCode.NOT_FOUND, 5, "RotateDataKey of an unknown namespace")

prop = ca.propose().proposal
t.check(prop.proposed_by == "spiffe://tokenvault/officer-a" and prop.state == vc.TV.PROPOSAL_STATE_PENDING,
        "ProposeKekRotation records the caller's principal as proposer")
status = ca.rotation_status()
t.check(status.kek_version == 1 and [x.proposal_id for x in status.proposals] == [prop.proposal_id],
        "GetRotationStatus: KEK 1, the proposal pending")
err, _ = t.expect_rpc_error(lambda to: ca.approve(prop.proposal_id), grpc.StatusCode.PERMISSION_DENIED, 30,
                            "the proposer cannot approve its own KEK rotation")
t.check("SAME_OFFICER" in err.details(), "refusal names the rule (%s)" % err.details())
t.expect_rpc_error(lambda to: cb.approve("999999"), grpc.StatusCode.NOT_FOUND, 30, "approving an unknown proposal")
done = cb.approve(prop.proposal_id).proposal
t.check(done.state == vc.TV.PROPOSAL_STATE_APPROVED and done.approved_by == "spiffe://tokenvault/officer-b",
        "a second officer approves: rotation done")
status = ca.rotation_status()
t.check(status.kek_version == 2, "KEK version is now 2")
recent = [x for x in status.proposals if x.proposal_id == prop.proposal_id]
t.check(len(recent) == 1 and recent[0].state == vc.TV.PROPOSAL_STATE_APPROVED
        and recent[0].approved_by == "spiffe://tokenvault/officer-b" and recent[0].reason == "yearly",
        "GetRotationStatus keeps the approved proposal as recent, with approver and reason")
# A second proposal stays pending across the restart below; its reason,
# with a card number in it, is kept redacted.
prop2 = ca.call("ProposeKekRotation", vc.TV.ProposeKekRotationRequest(reason="ticket 4111 1111 1111 1111 renewal"),
                vc.TV.ProposeKekRotationResponse, timeout=30).proposal
t.check(prop2.reason == "ticket [REDACTED-PAN] renewal", "the kept reason is redacted (%s)" % prop2.reason)
t.check([r.value for r in cb.detokenize("pan", tokens + [new_tok], vc.FULL, reason="r").results]
        == values + ["5105105105105100"], "after the KEK rotation everything still detokenizes")
a.close()
b.close()
rc, _ = server.terminate(20)
t.check(rc == 0, "SIGTERM exits 0")

with open(PIN) as f:
    os.environ["TV_TEST_HSM_PIN"] = f.read().strip()
server = t.Server("--listen", "127.0.0.1:0", "--config", CONFIG, *tls, "--hsm-token-label", "tokenvault-dev",
                  "--hsm-pin-env", "TV_TEST_HSM_PIN")
with t.secure_channel(server.port, "officer-b") as ch:
    c = vc.Client(ch)
    t.check([r.value for r in c.detokenize("pan", tokens, vc.FULL, reason="r").results] == values,
            "restart (PIN from the environment) after both rotations: tokens still resolve")
    status = c.rotation_status()
    t.check(status.kek_version == 2, "the new KEK is kept across the restart")
    by_id = {x.proposal_id: x for x in status.proposals}
    t.check(prop2.proposal_id in by_id and by_id[prop2.proposal_id].state == vc.TV.PROPOSAL_STATE_PENDING
            and by_id[prop2.proposal_id].reason == "ticket [REDACTED-PAN] renewal",
            "after the restart the pending proposal has its reason")
    t.check(prop.proposal_id in by_id and by_id[prop.proposal_id].state == vc.TV.PROPOSAL_STATE_APPROVED
            and by_id[prop.proposal_id].reason == "yearly"
            and by_id[prop.proposal_id].approved_by == "spiffe://tokenvault/officer-b",
            "after the restart the approved proposal is still listed as recent")
with open(os.path.join(DATA, "keyring"), "rb") as f:
    t.check(b"4111 1111 1111 1111" not in f.read(), "the keyring file holds no card number")
rc, _ = server.terminate(20)
t.check(rc == 0, "second SIGTERM exits 0")
