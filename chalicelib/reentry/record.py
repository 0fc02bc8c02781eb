"""A reentry record and the outcomes of one channel call, free of I/O."""
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

RECEIVED = "RECEIVED"            # recorded (number allocated), never sent
IN_FLIGHT = "IN_FLIGHT"          # a send was started under the current lease
SUCCEEDED = "SUCCEEDED"          # the channel applied it (final)
FAILED = "FAILED"                # the channel refused definitively; nothing moved (may be executed again)
UNKNOWN = "UNKNOWN"              # the answer was lost: re-send the same request with the same number
NEEDS_ATTENTION = "NEEDS_ATTENTION"  # UNKNOWN after the sweeper's bounded tries; a caller may still re-send
# The CloudWatch metric counting records given NEEDS_ATTENTION (an alarm per namespace watches it).
NEEDS_ATTENTION_METRIC = "NeedsAttention"
CANCELLED = "CANCELLED"          # never sent, and never will be (e.g. a delayed sharing cancelled by a refund)

OPEN_STATES = (RECEIVED, IN_FLIGHT, UNKNOWN)          # in the sweeper's `open` index
MECHANISM_FIELDS = ("pk", "kind", "reentry_key", "fingerprint", "outbound_no", "state", "version",
                    "lease_until", "sends", "sweeps", "request", "result", "failure", "last_error",
                    "created_at", "updated_at", "open_kind", "retry_at", "not_before")


def fingerprint(params: Dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the parameters that matter (key order does not)."""
    text = json.dumps(params, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Succeeded:
    """The channel applied the request (or replayed its earlier application): its answer."""
    answer: Dict[str, Any]


@dataclass(frozen=True)
class Failed:
    """The channel refused definitively: nothing moved."""
    code: str
    message: str


@dataclass(frozen=True)
class Unknown:
    """No usable answer: the channel may or may not have applied it."""
    reason: str


@dataclass(frozen=True)
class Record:
    pk: str
    kind: str
    reentry_key: str
    fingerprint: str
    outbound_no: str
    state: str
    version: int
    lease_until: int                 # epoch milliseconds; 0: no lease
    sends: int                       # channel calls started
    sweeps: int                      # claims made by the sweeper
    request: Dict[str, Any]          # the exact channel request, fixed at the first claim
    created_at: str
    updated_at: str
    result: Optional[Dict[str, Any]] = None
    failure: Optional[Dict[str, str]] = None
    last_error: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)   # the domain's own attributes
    not_before: int = 0              # epoch ms: a scheduled record is not sent before it (0: at once)

    @property
    def final(self) -> bool:
        return self.state in (SUCCEEDED, FAILED, CANCELLED)

    def lease_live(self, now_ms: int) -> bool:
        return self.lease_until > now_ms

    @classmethod
    def from_item(cls, item: Dict[str, Any]) -> "Record":
        return cls(pk=item["pk"], kind=item["kind"], reentry_key=item["reentry_key"],
                   fingerprint=item["fingerprint"], outbound_no=item["outbound_no"],
                   state=item["state"], version=int(item["version"]),
                   lease_until=int(item.get("lease_until", 0)), sends=int(item.get("sends", 0)),
                   sweeps=int(item.get("sweeps", 0)), request=item["request"],
                   created_at=item["created_at"], updated_at=item["updated_at"],
                   result=item.get("result"), failure=item.get("failure"),
                   last_error=item.get("last_error"), not_before=int(item.get("not_before", 0)),
                   extra={k: v for k, v in item.items() if k not in MECHANISM_FIELDS})

