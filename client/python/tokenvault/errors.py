"""Errors the client raises. Nothing here ever contains a value or token."""
import grpc


class VaultError(Exception):
    """The whole call failed: |code| is the grpc.StatusCode, |details| the
    server's message (it names the problem, never a value)."""

    def __init__(self, code, details):
        super().__init__("%s: %s" % (code.name, details))
        self.code = code
        self.details = details

    @classmethod
    def from_rpc(cls, err):
        return cls(err.code(), err.details())


class ItemError(Exception):
    """One item of a batch failed. |index| is its position in the request,
    |code| the stable numeric status (tv_status) and |name| its symbolic
    name, e.g. 204 / "FORMAT_LUHN"."""

    def __init__(self, index, code, name, message):
        super().__init__("item %d: %s (%d): %s" % (index, name, code, message))
        self.index = index
        self.code = code
        self.name = name
        self.message = message


RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)
