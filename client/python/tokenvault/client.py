"""tokenvault.Client: typed calls over the vault's gRPC API
(proto/tokenvault/v1/tokenvault.proto). Thin: no keys, no cryptography.
The reference for shape and errors is the Node client (client/node)."""
import time
import uuid
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

import grpc

from tokenvault.errors import RETRYABLE, ItemError, VaultError
from tokenvault.results import (AuditEntry, AuditVerification, DataKey, DataKeyRotation, Identity, Proposal,
                                Result, RotationStatus, TokenInfo)
from tokenvault.stream import batches_of, run_stream
from tokenvault.tls import channel_credentials

try:
    from tokenvault._generated import health_pb2 as _health
    from tokenvault._generated import tokenvault_pb2 as _pb
except ImportError as e:  # pragma: no cover - a packaging mistake, said clearly
    raise ImportError("tokenvault: the generated message classes are missing: install the package with "
                      "`pip install --no-build-isolation client/python` (it generates them), or run "
                      "client/python/generate.py") from e

_SERVICE = "/tokenvault.v1.TokenVault/"
_REVEAL = {"full": _pb.REVEAL_FULL, "masked": _pb.REVEAL_MASKED, "none": _pb.REVEAL_NONE}

# Items per request the server accepts at most (vault/service/limits.h,
# TV_REQUEST_ITEMS_MAX); batch_size may not exceed it. A role's own
# items_per_request limit may be lower: then give a smaller batch_size.
SERVER_ITEMS_MAX = 1000
_SEQ_MAX = 2 ** 64 - 1  # audit sequence numbers are uint64
_EMPTY_TOKEN = "the token is empty: pass a token that tokenize returned (\"\" is never a token)"


def _check_int(name, n, lo, hi):
    if isinstance(n, bool) or not isinstance(n, int) or n < lo or n > hi:
        raise ValueError("tokenvault: %s must be an integer in [%d, %d], got %r" % (name, lo, hi, n))
    return n


def _reveal(level):
    e = _REVEAL.get(str(level).lower())
    if e is None:
        raise ValueError('tokenvault: reveal must be "full", "masked" or "none" (any case), got %r' % (level,))
    return e


def _strip(enum_cls, value, prefix):
    name = enum_cls.Name(value)
    return name[len(prefix):] if name.startswith(prefix) else name


def _result(status, text, index, item=None):
    message = status.message
    if item == "" and status.code != 0:
        message = _EMPTY_TOKEN  # the server says only "invalid argument"
    return Result(text, status.code, status.name, message, index)


def _texts_or_raise(results):
    for r in results:
        if not r.ok:
            raise ItemError(r.index, r.code, r.name, r.message)
    return [r.text for r in results]


def _data_key(k):
    return DataKey(k.namespace, k.version, _strip(_pb.KeyState, k.state, "KEY_STATE_"), k.created_at_unix_ms,
                   k.kek_version)


def _proposal(p):
    return Proposal(p.proposal_id, p.proposed_by, p.approved_by,
                    _strip(_pb.ProposalState, p.state, "PROPOSAL_STATE_"), p.proposed_at_unix_ms,
                    p.expires_at_unix_ms, p.reason)


def _rotation(r):
    return DataKeyRotation(r.namespace, _strip(_pb.RotationPhase, r.phase, "ROTATION_PHASE_"), r.active_version,
                           r.records_done, r.records_total, r.bytes_done, r.bytes_total, r.failed_attempts,
                           r.last_error, r.finished_at_unix_ms)


def _request_id():
    return uuid.uuid4().hex


def _strings(items, what):
    if isinstance(items, (str, bytes)):
        raise TypeError("tokenvault: %s must be a list of strings, not a single %s" % (what, type(items).__name__))
    items = list(items)
    for i, v in enumerate(items):
        if not isinstance(v, str):
            raise TypeError("tokenvault: %s item %d is not a string (%s)" % (what, i, type(v).__name__))
    return items


class Client:
    """A connection to one vault at |target| ("host:port").

    Mutual TLS (the only mode a production vault accepts): |ca| is the CA
    certificate that issued the vault's *server* certificate (PEM path),
    |cert| and |key| the client's own certificate (its identity) and key.
    |insecure|=True is for a `tokenvaultd --dev` on loopback. |server_name|
    is the name expected in the server certificate when the target's host
    is not in it.

    |timeout| is the deadline per call in seconds; idempotent calls are
    repeated |retries| times on UNAVAILABLE with exponential backoff from
    |backoff| seconds, each wait at most |max_backoff|; tokenize is repeated
    only with |retry_tokenize| (safe in convergent namespaces only).
    Batches larger than |batch_size| (at most SERVER_ITEMS_MAX) are split
    into several requests; streams keep |window| batches in flight."""

    def __init__(self, target: str, *, ca: Optional[str] = None, cert: Optional[str] = None,
                 key: Optional[str] = None, insecure: bool = False, timeout: float = 10.0,
                 retries: int = 3, backoff: float = 0.1, max_backoff: float = 5.0,
                 retry_tokenize: bool = False, batch_size: int = 500, window: int = 4,
                 server_name: Optional[str] = None):
        if not isinstance(target, str) or not target:
            raise ValueError('tokenvault: target must be "host:port"')
        self._retries = _check_int("retries", retries, 0, 100)
        self._batch_size = _check_int("batch_size", batch_size, 1, SERVER_ITEMS_MAX)
        self._window = _check_int("window", window, 1, 1024)
        if not (timeout > 0 and backoff >= 0 and max_backoff >= 0):
            raise ValueError("tokenvault: timeout must be > 0 and backoff, max_backoff >= 0")
        self._timeout, self._backoff, self._max_backoff = timeout, backoff, max_backoff
        self._retry_tokenize = bool(retry_tokenize)
        self.secure = not insecure
        options = []
        if server_name:
            options = [("grpc.ssl_target_name_override", server_name), ("grpc.default_authority", server_name)]
        if insecure:
            if ca or cert or key:
                raise ValueError("tokenvault: insecure=True cannot be combined with ca, cert or key")
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            self._channel = grpc.secure_channel(target, channel_credentials(ca, cert, key), options=options)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- plumbing --------------------------------------------------------

    def _attempts(self, run, *, idempotent):
        """run() once, or on UNAVAILABLE up to |retries| more times with
        exponential backoff when |idempotent|; a failure as VaultError."""
        attempts = 1 + (self._retries if idempotent else 0)
        for attempt in range(1, attempts + 1):
            try:
                return run()
            except grpc.RpcError as err:
                ve = VaultError.from_rpc(err, self.secure)
                ve.attempts = attempt
                if err.code() not in RETRYABLE or attempt == attempts:
                    raise ve from None
                time.sleep(min(self._backoff * (2 ** (attempt - 1)), self._max_backoff))
        raise AssertionError("unreachable")

    def _deadline(self, timeout):
        return timeout if timeout is not None else self._timeout

    def _call(self, method, request, response_cls, *, idempotent, timeout=None):
        fn = self._channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=response_cls.FromString)
        return self._attempts(lambda: fn(request, timeout=self._deadline(timeout)), idempotent=idempotent)

    def _batched(self, method, items, make_request, response_cls, pick, *, idempotent, timeout):
        """Sends |items| in requests of at most batch_size, in order; returns
        (per-item message, input item) pairs. Batches before a failed one
        have taken effect."""
        out = []
        for start in range(0, len(items), self._batch_size):
            batch = items[start:start + self._batch_size]
            resp = self._call(_SERVICE + method, make_request(batch), response_cls, idempotent=idempotent,
                              timeout=timeout)
            got = pick(resp)
            if len(got) != len(batch):
                raise RuntimeError("tokenvault: %s answered %d results for %d items" % (method, len(got), len(batch)))
            out.extend(zip(got, batch))
        return out

    def _stream(self, method, req_cls, resp_cls, items, make_request, convert, batch_size, window, timeout):
        if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
            raise TypeError("tokenvault: stream input must be an iterable of strings")
        size = self._batch_size if batch_size is None else _check_int("batch_size", batch_size, 1, SERVER_ITEMS_MAX)
        win = self._window if window is None else _check_int("window", window, 1, 1024)
        fn = self._channel.stream_stream(_SERVICE + method, request_serializer=req_cls.SerializeToString,
                                         response_deserializer=resp_cls.FromString)
        return run_stream(fn, batches_of(items, size), make_request, convert, win, self.secure, timeout)

    @staticmethod
    def _tokenize_fields(req, ttl_seconds, expires_at_ms):
        if ttl_seconds is not None and expires_at_ms is not None:
            raise ValueError("tokenvault: give ttl_seconds or expires_at_ms, not both")
        if ttl_seconds is not None:
            req.ttl_seconds = _check_int("ttl_seconds", ttl_seconds, 1, 2 ** 53)
        if expires_at_ms is not None:
            req.expires_at_unix_ms = _check_int("expires_at_ms", expires_at_ms, 1, 2 ** 53)
        return req

    # -- data ------------------------------------------------------------

    def tokenize_items(self, namespace: str, values: Sequence[str], *, ttl_seconds: Optional[int] = None,
                       expires_at_ms: Optional[int] = None, metadata: Optional[Dict[str, str]] = None,
                       timeout=None) -> List[Result]:
        """Tokenizes |values|: one Result per value, in order (the token in
        .text when .ok). Not retried unless retry_tokenize: outside a
        convergent namespace a repeat would mint new tokens."""
        values = _strings(values, "values")

        def make(batch):
            req = _pb.TokenizeRequest(request_id=_request_id(), namespace=namespace, values=batch,
                                      metadata=metadata or {})
            return self._tokenize_fields(req, ttl_seconds, expires_at_ms)
        pairs = self._batched("Tokenize", values, make, _pb.TokenizeResponse, lambda r: r.results,
                              idempotent=self._retry_tokenize, timeout=timeout)
        return [_result(r.status, r.token, i) for i, (r, _) in enumerate(pairs)]

    def tokenize(self, namespace: str, values: Sequence[str], **kw) -> List[str]:
        """Tokens for |values|; raises ItemError for the first value that failed."""
        return _texts_or_raise(self.tokenize_items(namespace, values, **kw))

    def detokenize_items(self, namespace: str, tokens: Sequence[str], *, reveal: str = "masked",
                         reason: str = "", timeout=None) -> List[Result]:
        """Values for |tokens| at |reveal|: "full" (needs detokenize:full and,
        by policy, a |reason| — audited), "masked" (default) or "none" (only
        checks the token resolves). Retried on UNAVAILABLE."""
        level = _reveal(reveal)
        tokens = _strings(tokens, "tokens")
        pairs = self._batched("Detokenize", tokens,
                              lambda b: _pb.DetokenizeRequest(request_id=_request_id(), namespace=namespace,
                                                              tokens=b, reveal=level, reason=reason),
                              _pb.DetokenizeResponse, lambda r: r.results, idempotent=True, timeout=timeout)
        return [_result(r.status, r.value, i, tok) for i, (r, tok) in enumerate(pairs)]

    def detokenize(self, namespace: str, tokens: Sequence[str], **kw) -> List[str]:
        """Values for |tokens|; raises ItemError for the first token that failed."""
        return _texts_or_raise(self.detokenize_items(namespace, tokens, **kw))

    def tokenize_stream(self, namespace: str, values: Iterable[str], *, ttl_seconds: Optional[int] = None,
                        expires_at_ms: Optional[int] = None, metadata: Optional[Dict[str, str]] = None,
                        batch_size: Optional[int] = None, window: Optional[int] = None,
                        timeout=None) -> Iterator[Result]:
        """Bulk tokenisation over TokenizeStream: pulls |values| (any
        iterable, e.g. a generator over a file) lazily in batches, keeps at
        most |window| batches unanswered, and yields one Result per value in
        order. No deadline unless |timeout|; never retried. Stopping the
        iteration early cancels the call."""
        base = _request_id()

        def make(batch, seq):
            req = _pb.TokenizeRequest(request_id="%s.%d" % (base, seq), namespace=namespace, values=batch,
                                      metadata=metadata or {})
            return self._tokenize_fields(req, ttl_seconds, expires_at_ms)
        self._tokenize_fields(_pb.TokenizeRequest(), ttl_seconds, expires_at_ms)  # check now, not on first use
        return self._stream("TokenizeStream", _pb.TokenizeRequest, _pb.TokenizeResponse, values, make,
                            lambda r, i, item: _result(r.status, r.token, i), batch_size, window, timeout)

    def detokenize_stream(self, namespace: str, tokens: Iterable[str], *, reveal: str = "masked",
                          reason: str = "", batch_size: Optional[int] = None, window: Optional[int] = None,
                          timeout=None) -> Iterator[Result]:
        """Bulk detokenisation over DetokenizeStream; as tokenize_stream,
        with the reveal level and reason of detokenize_items."""
        level = _reveal(reveal)
        base = _request_id()
        return self._stream("DetokenizeStream", _pb.DetokenizeRequest, _pb.DetokenizeResponse, tokens,
                            lambda b, seq: _pb.DetokenizeRequest(request_id="%s.%d" % (base, seq),
                                                                 namespace=namespace, tokens=b, reveal=level,
                                                                 reason=reason),
                            lambda r, i, item: _result(r.status, r.value, i, item), batch_size, window, timeout)

    def delete(self, namespace: str, tokens: Sequence[str], *, reason: str = "", timeout=None) -> List[Result]:
        """Deletes |tokens|: one Result per token (ENGINE_NOT_FOUND for an
        unknown one). Retried on UNAVAILABLE (deleting twice leaves the same state)."""
        tokens = _strings(tokens, "tokens")
        pairs = self._batched("DeleteTokens", tokens,
                              lambda b: _pb.DeleteTokensRequest(request_id=_request_id(), namespace=namespace,
                                                                tokens=b, reason=reason),
                              _pb.DeleteTokensResponse, lambda r: r.results, idempotent=True, timeout=timeout)
        return [_result(s, "", i, tok) for i, (s, tok) in enumerate(pairs)]

    def erase(self, namespace: str, value: str, *, reason: str = "", timeout=None) -> int:
        """Right to erasure: deletes every token of |value| in |namespace|
        and its ciphertext; returns how many. Retried on UNAVAILABLE."""
        if not isinstance(value, str):
            raise TypeError("tokenvault: value must be a string")
        req = _pb.EraseValueRequest(request_id=_request_id(), namespace=namespace, value=value, reason=reason)
        return self._call(_SERVICE + "EraseValue", req, _pb.EraseValueResponse, idempotent=True,
                          timeout=timeout).tokens_erased

    def info(self, namespace: str, tokens: Sequence[str], *, timeout=None) -> List[TokenInfo]:
        """What the vault knows about each token (never its value): status,
        creation and expiry times, data key version, metadata."""
        tokens = _strings(tokens, "tokens")
        pairs = self._batched("GetTokenInfo", tokens,
                              lambda b: _pb.GetTokenInfoRequest(request_id=_request_id(), namespace=namespace,
                                                                tokens=b),
                              _pb.GetTokenInfoResponse, lambda r: r.results, idempotent=True, timeout=timeout)
        out = []
        for i, (r, tok) in enumerate(pairs):
            res = _result(r.status, "", i, tok)
            out.append(TokenInfo(res.code, res.name, res.message, i, r.created_at_unix_ms, r.expires_at_unix_ms,
                                 r.key_version, dict(r.metadata)))
        return out

    # -- keys ------------------------------------------------------------

    def list_keys(self, namespace: str = "", *, timeout=None) -> List[DataKey]:
        """Data key versions of |namespace| ("" = every namespace the caller may read)."""
        resp = self._call(_SERVICE + "ListKeys", _pb.ListKeysRequest(request_id=_request_id(), namespace=namespace),
                          _pb.ListKeysResponse, idempotent=True, timeout=timeout)
        return [_data_key(k) for k in resp.keys]

    def rotate_data_key(self, namespace: str, *, reason: str = "", timeout=None) -> DataKey:
        """A new active data key version for |namespace|; older versions stay
        decrypt-only, so every token keeps resolving. Not retried."""
        req = _pb.RotateDataKeyRequest(request_id=_request_id(), namespace=namespace, reason=reason)
        return _data_key(self._call(_SERVICE + "RotateDataKey", req, _pb.RotateDataKeyResponse, idempotent=False,
                                    timeout=timeout).key)

    def propose_kek_rotation(self, *, reason: str = "", timeout=None) -> Proposal:
        """Proposes rotating the HSM key-encryption key; a second, different
        security officer must approve it. Not retried."""
        req = _pb.ProposeKekRotationRequest(request_id=_request_id(), reason=reason)
        return _proposal(self._call(_SERVICE + "ProposeKekRotation", req, _pb.ProposeKekRotationResponse,
                                    idempotent=False, timeout=timeout).proposal)

    def approve_kek_rotation(self, proposal_id: str, *, timeout=None) -> Proposal:
        """Approves |proposal_id| (PERMISSION_DENIED for its proposer). Not retried."""
        req = _pb.ApproveKekRotationRequest(request_id=_request_id(), proposal_id=str(proposal_id))
        return _proposal(self._call(_SERVICE + "ApproveKekRotation", req, _pb.ApproveKekRotationResponse,
                                    idempotent=False, timeout=timeout).proposal)

    def rotation_status(self, *, timeout=None) -> RotationStatus:
        """KEK version, rewrap progress, proposals and data key rotations."""
        resp = self._call(_SERVICE + "GetRotationStatus", _pb.GetRotationStatusRequest(request_id=_request_id()),
                          _pb.GetRotationStatusResponse, idempotent=True, timeout=timeout)
        return RotationStatus(resp.kek_version, resp.data_keys_pending_rewrap,
                              [_proposal(p) for p in resp.proposals],
                              [_rotation(r) for r in resp.data_key_rotations])

    # -- audit -----------------------------------------------------------

    def verify_audit(self, from_seq: int = 0, to_seq: int = 0, *, timeout=None) -> AuditVerification:
        """Has the vault verify its live audit log (hash chain, checkpoint
        MACs in its HSM, the HSM counter), optionally only from_seq..to_seq
        (0 = open on that side). Needs audit:read. Retried on UNAVAILABLE."""
        req = _pb.VerifyAuditRequest(request_id=_request_id(), from_seq=_check_int("from_seq", from_seq, 0, _SEQ_MAX),
                                     to_seq=_check_int("to_seq", to_seq, 0, _SEQ_MAX))
        r = self._call(_SERVICE + "VerifyAudit", req, _pb.VerifyAuditResponse, idempotent=True, timeout=timeout)
        return AuditVerification(r.intact, r.entries_checked, r.checkpoints_checked, r.first_bad_seq,
                                 r.status.name or "OK", r.status.message)

    def read_audit(self, from_seq: int = 0, *, limit: int = 0, principal: str = "", method: str = "",
                   timeout=None) -> List[AuditEntry]:
        """Audit entries from |from_seq| (at most |limit|, 0 = the server's
        default), optionally only one principal's or one method's. Needs
        audit:read. Entries never hold a value. Retried on UNAVAILABLE."""
        req = _pb.ReadAuditRequest(request_id=_request_id(), from_seq=_check_int("from_seq", from_seq, 0, _SEQ_MAX),
                                   limit=_check_int("limit", limit, 0, 2 ** 32 - 1), principal=principal,
                                   method=method)
        fn = self._channel.unary_stream(_SERVICE + "ReadAudit",
                                        request_serializer=_pb.ReadAuditRequest.SerializeToString,
                                        response_deserializer=_pb.AuditEntry.FromString)

        def read_all():
            return [AuditEntry(e.seq, e.time_unix_ms, e.principal, e.peer, e.method, e.namespace, e.items,
                               e.outcome.name, e.latency_us, e.request_id)
                    for e in fn(req, timeout=self._deadline(timeout))]
        return self._attempts(read_all, idempotent=True)

    # -- service ---------------------------------------------------------

    def whoami(self, timeout=None) -> Identity:
        """How the vault sees the caller: principal (from the client
        certificate), its source, transport and roles."""
        resp = self._call(_SERVICE + "WhoAmI", _pb.WhoAmIRequest(request_id=_request_id()),
                          _pb.WhoAmIResponse, idempotent=True, timeout=timeout)
        return Identity(resp.principal, resp.identity_source, resp.authenticated, resp.transport_security,
                        list(resp.roles))

    def health(self, service: str = "", timeout=None) -> str:
        """"SERVING", "NOT_SERVING", ... for |service| ("" = the whole server)."""
        resp = self._call("/grpc.health.v1.Health/Check", _health.HealthCheckRequest(service=service),
                          _health.HealthCheckResponse, idempotent=True, timeout=timeout)
        return _health.HealthCheckResponse.ServingStatus.Name(resp.status)
