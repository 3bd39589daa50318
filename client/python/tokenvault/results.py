"""The public result shapes. None of them ever holds a value except
Result.text of a detokenize call."""
from dataclasses import dataclass, field
from typing import Dict, List


@dataclass(frozen=True)
class Result:
    """One item's outcome: |text| is the token or value ("" on failure),
    |code|/|name| the stable status (0 / "OK"), |index| its position in the
    caller's input."""
    text: str
    code: int
    name: str
    message: str
    index: int = 0

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


@dataclass(frozen=True)
class TokenInfo:
    """What the vault knows about a token, never its value."""
    code: int
    name: str
    message: str
    index: int
    created_at_ms: int
    expires_at_ms: int  # 0 = never
    key_version: int
    metadata: Dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code == 0


@dataclass(frozen=True)
class DataKey:
    namespace: str
    version: int
    state: str  # "ACTIVE", "DECRYPT_ONLY", "RETIRED", "DESTROYED"
    created_at_ms: int
    kek_version: int


@dataclass(frozen=True)
class Proposal:
    proposal_id: str
    proposed_by: str
    approved_by: str
    state: str  # "PENDING", "APPROVED", "EXPIRED"
    proposed_at_ms: int
    expires_at_ms: int
    reason: str


@dataclass(frozen=True)
class DataKeyRotation:
    namespace: str
    phase: str  # "QUEUED", "REENCRYPTING", "COMPACTING", "DONE", "RETRYING"
    active_version: int
    records_done: int
    records_total: int
    bytes_done: int
    bytes_total: int
    failed_attempts: int
    last_error: str
    finished_at_ms: int


@dataclass(frozen=True)
class RotationStatus:
    kek_version: int
    data_keys_pending_rewrap: int
    proposals: List[Proposal]
    data_key_rotations: List[DataKeyRotation]


@dataclass(frozen=True)
class AuditVerification:
    intact: bool
    entries_checked: int
    checkpoints_checked: int
    first_bad_seq: int  # 0 when intact
    name: str           # status at first_bad_seq ("OK" when intact)
    message: str


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time_ms: int
    principal: str
    peer: str
    method: str
    namespace: str
    items: int
    outcome: str
    latency_us: int
    request_id: str
