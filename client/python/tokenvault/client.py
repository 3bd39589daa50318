"""tokenvault.Client: typed calls over the vault's gRPC API."""
import time
import uuid
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import grpc

from tokenvault.errors import RETRYABLE, ItemError, VaultError

try:
    from tokenvault._generated import health_pb2 as _health
    from tokenvault._generated import tokenvault_pb2 as _pb
except ImportError as e:  # pragma: no cover - a packaging mistake, said clearly
    raise ImportError("tokenvault: message classes missing; run client/python/generate.py") from e

_SERVICE = "/tokenvault.v1.TokenVault/"
_REVEAL = {"full": _pb.REVEAL_FULL, "masked": _pb.REVEAL_MASKED, "none": _pb.REVEAL_NONE}


@dataclass(frozen=True)
class Result:
    """One item's outcome: |text| is the token or value ("" on failure)."""
    text: str
    code: int
    name: str
    message: str

    @property
    def ok(self) -> bool:
        return self.code == 0


@dataclass(frozen=True)
class Identity:
    principal: str
    identity_source: str
    authenticated: bool
    transport_security: str
    roles: List[str]


def _read(path):
    with open(path, "rb") as f:
        return f.read()


class Client:
    """A connection to one vault. |target| is "host:port". With |ca|,
    |cert| and |key| (PEM file paths) it uses mutual TLS, the only mode a
    production vault accepts; |insecure| is for a --dev vault on loopback.
    |timeout| is the default deadline per call in seconds, |retries| how
    many times an idempotent call is repeated on UNAVAILABLE."""

    def __init__(self, target: str, *, ca: Optional[str] = None, cert: Optional[str] = None,
                 key: Optional[str] = None, insecure: bool = False, timeout: float = 10.0,
                 retries: int = 3, backoff: float = 0.1, server_name: Optional[str] = None):
        if insecure:
            self._channel = grpc.insecure_channel(target)
        else:
            if not (ca and cert and key):
                raise ValueError("mutual TLS needs ca, cert and key (or insecure=True for --dev)")
            creds = grpc.ssl_channel_credentials(root_certificates=_read(ca), private_key=_read(key),
                                                 certificate_chain=_read(cert))
            options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
            self._channel = grpc.secure_channel(target, creds, options=options)
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- plumbing --------------------------------------------------------

    def _call(self, method, request, response_cls, *, idempotent, timeout=None):
        fn = self._channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=response_cls.FromString)
        attempts = 1 + (self._retries if idempotent else 0)
        for attempt in range(attempts):
            try:
                return fn(request, timeout=timeout if timeout is not None else self._timeout)
            except grpc.RpcError as err:
                if err.code() not in RETRYABLE or attempt + 1 == attempts:
                    raise VaultError.from_rpc(err) from None
                time.sleep(self._backoff * (2 ** attempt))
        raise AssertionError("unreachable")

    @staticmethod
    def _request_id():
        return uuid.uuid4().hex

    @staticmethod
    def _results(items, attr):
        return [Result(getattr(r, attr), r.status.code, r.status.name, r.status.message) for r in items]

    @staticmethod
    def _raise_first(results: Sequence[Result]):
        for i, r in enumerate(results):
            if not r.ok:
                raise ItemError(i, r.code, r.name, r.message)

    # -- the API ---------------------------------------------------------

    def tokenize_items(self, namespace: str, values: Sequence[str], *, ttl_seconds: Optional[int] = None,
                       metadata: Optional[Dict[str, str]] = None, timeout=None) -> List[Result]:
        """Tokenizes |values|; one Result per value, in order. Not retried:
        in a namespace that is not convergent a repeat would mint new tokens."""
        req = _pb.TokenizeRequest(request_id=self._request_id(), namespace=namespace, values=list(values),
                                  metadata=metadata or {})
        if ttl_seconds is not None:
            req.ttl_seconds = ttl_seconds
        resp = self._call(_SERVICE + "Tokenize", req, _pb.TokenizeResponse, idempotent=False, timeout=timeout)
        return self._results(resp.results, "token")

    def tokenize(self, namespace: str, values: Sequence[str], **kw) -> List[str]:
        """Tokens for |values|; raises ItemError for the first value that failed."""
        results = self.tokenize_items(namespace, values, **kw)
        self._raise_first(results)
        return [r.text for r in results]

    def detokenize_items(self, namespace: str, tokens: Sequence[str], *, reveal: str = "masked",
                         reason: str = "", timeout=None) -> List[Result]:
        """Values for |tokens| at |reveal| ("full", "masked" or "none"); a
        full reveal may need a |reason| (audited)."""
        req = _pb.DetokenizeRequest(request_id=self._request_id(), namespace=namespace, tokens=list(tokens),
                                    reveal=_REVEAL[reveal], reason=reason)
        resp = self._call(_SERVICE + "Detokenize", req, _pb.DetokenizeResponse, idempotent=True, timeout=timeout)
        return self._results(resp.results, "value")

    def detokenize(self, namespace: str, tokens: Sequence[str], **kw) -> List[str]:
        results = self.detokenize_items(namespace, tokens, **kw)
        self._raise_first(results)
        return [r.text for r in results]

    def delete(self, namespace: str, tokens: Sequence[str], *, reason: str = "", timeout=None) -> List[Result]:
        req = _pb.DeleteTokensRequest(request_id=self._request_id(), namespace=namespace, tokens=list(tokens),
                                      reason=reason)
        resp = self._call(_SERVICE + "DeleteTokens", req, _pb.DeleteTokensResponse, idempotent=True,
                          timeout=timeout)
        return [Result("", s.code, s.name, s.message) for s in resp.results]

    def erase(self, namespace: str, value: str, *, reason: str = "", timeout=None) -> int:
        """Deletes every token of |value| in |namespace|; returns how many."""
        req = _pb.EraseValueRequest(request_id=self._request_id(), namespace=namespace, value=value, reason=reason)
        resp = self._call(_SERVICE + "EraseValue", req, _pb.EraseValueResponse, idempotent=True, timeout=timeout)
        return resp.tokens_erased

    def whoami(self, timeout=None) -> Identity:
        resp = self._call(_SERVICE + "WhoAmI", _pb.WhoAmIRequest(request_id=self._request_id()),
                          _pb.WhoAmIResponse, idempotent=True, timeout=timeout)
        return Identity(resp.principal, resp.identity_source, resp.authenticated, resp.transport_security,
                        list(resp.roles))

    def health(self, service: str = "", timeout=None) -> str:
        """"SERVING", "NOT_SERVING", ... for |service| ("" = the whole server)."""
        resp = self._call("/grpc.health.v1.Health/Check", _health.HealthCheckRequest(service=service),
                          _health.HealthCheckResponse, idempotent=True, timeout=timeout)
        return _health.HealthCheckResponse.ServingStatus.Name(resp.status)
