"""Errors the client raises. Nothing here ever contains a value or token:
the server's messages never hold one, and the client adds none."""
import grpc

# Codes on which an idempotent call is repeated: the server was not reached
# or went away, so repeating cannot double an effect the caller did not want.
RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)


class VaultError(Exception):
    """The whole call failed (authentication, authorisation, limits, a
    malformed request, the server unreachable). |code| is the
    grpc.StatusCode, |details| the server's (or gRPC's) message, |hint|
    what the caller can do about it ("" when there is nothing to add)."""

    def __init__(self, code, details, hint=""):
        super().__init__("%s: %s%s" % (code.name, details, " (%s)" % hint if hint else ""))
        self.code = code
        self.details = details
        self.hint = hint
        self.attempts = 1

    @classmethod
    def from_rpc(cls, err, secure):
        code = err.code() if callable(getattr(err, "code", None)) else grpc.StatusCode.UNKNOWN
        details = err.details() if callable(getattr(err, "details", None)) else str(err)
        return cls(code, details or "", _hint(code, details or "", secure))


def _hint(code, details, secure):
    """Names the likely cause of a transport failure and its fix."""
    text = details.lower()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "the call took longer than its deadline; raise timeout= or use the streaming methods for bulk work"
    if code != grpc.StatusCode.UNAVAILABLE:
        return ""
    if not secure:
        if "socket closed" in text or "connection reset" in text:
            return ("the server closed a plaintext connection: a vault started without --dev speaks mutual "
                    "TLS only; give ca= (the CA of the server's certificate), cert= and key= instead of "
                    "insecure=True")
        return ("is the vault running at this target? A vault started without --dev needs mutual TLS: "
                "ca=, cert= and key= instead of insecure=True")
    if "certificate verify failed" in text:
        return ("the server's certificate does not chain to ca=: give the CA that issued the vault's "
                "certificate (and server_name= if the target's host is not in the certificate)")
    if "wrong version number" in text or "packet length too long" in text:
        return "the server does not speak TLS: for a tokenvaultd --dev vault use insecure=True"
    if "socket closed" in text or "handshake" in text:
        return ("the TLS handshake failed: is the client certificate issued by the CA the vault trusts "
                "(its tls.client_ca), and is it still valid?")
    return ("is the vault running at this target, and do ca= (the CA of the server's certificate), the client "
            "certificate and key match its PKI?")


class ItemError(Exception):
    """One item of a batch failed. |index| is its position in the caller's
    input, |code| the vault's stable numeric status (tv_status) and |name|
    its stable symbolic name, e.g. 204 / "FORMAT_LUHN"."""

    def __init__(self, index, code, name, message):
        super().__init__("item %d: %s (%d): %s" % (index, name, code, message))
        self.index = index
        self.code = code
        self.name = name
        self.message = message
