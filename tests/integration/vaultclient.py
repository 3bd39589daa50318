"""A small client for the TokenVault data and key methods (tests only)."""
import grpc

import tvtest as t

TV, HEALTH = t.generate_stubs()
SVC = "/tokenvault.v1.TokenVault/"
FULL, MASKED, NONE = TV.REVEAL_FULL, TV.REVEAL_MASKED, TV.REVEAL_NONE


class Client:
    def __init__(self, channel):
        self.ch = channel

    def call(self, method, req, resp_cls, timeout=10):
        return t.unary(self.ch, SVC + method, type(req), resp_cls)(req, timeout=timeout)

    def tokenize(self, ns, values, **kw):
        return self.call("Tokenize", TV.TokenizeRequest(namespace=ns, values=values, **kw), TV.TokenizeResponse)

    def detokenize(self, ns, tokens, reveal, reason=""):
        return self.call("Detokenize", TV.DetokenizeRequest(namespace=ns, tokens=tokens, reveal=reveal, reason=reason),
                         TV.DetokenizeResponse)

    def delete(self, ns, tokens):
        return self.call("DeleteTokens", TV.DeleteTokensRequest(namespace=ns, tokens=tokens, reason="test"),
                         TV.DeleteTokensResponse)

    def erase(self, ns, value):
        return self.call("EraseValue", TV.EraseValueRequest(namespace=ns, value=value, reason="test"),
                         TV.EraseValueResponse)

    def info(self, ns, tokens):
        return self.call("GetTokenInfo", TV.GetTokenInfoRequest(namespace=ns, tokens=tokens), TV.GetTokenInfoResponse)

    def list_keys(self, ns=""):
        return self.call("ListKeys", TV.ListKeysRequest(namespace=ns), TV.ListKeysResponse)

    def rotate(self, ns):
        return self.call("RotateDataKey", TV.RotateDataKeyRequest(namespace=ns, reason="test"),
                         TV.RotateDataKeyResponse)

    def propose(self):
        return self.call("ProposeKekRotation", TV.ProposeKekRotationRequest(reason="yearly"),
                         TV.ProposeKekRotationResponse, timeout=30)

    def approve(self, pid):
        return self.call("ApproveKekRotation", TV.ApproveKekRotationRequest(proposal_id=pid),
                         TV.ApproveKekRotationResponse, timeout=30)

    def rotation_status(self):
        return self.call("GetRotationStatus", TV.GetRotationStatusRequest(), TV.GetRotationStatusResponse)


def ok_tokens(resp):
    """The tokens of a TokenizeResponse; fails unless every item is OK."""
    bad = [(i, r.status.name) for i, r in enumerate(resp.results) if r.status.code != 0]
    if bad:
        t.fail("tokenize items failed: %s" % bad)
    return [r.token for r in resp.results]


def luhn_ok(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
