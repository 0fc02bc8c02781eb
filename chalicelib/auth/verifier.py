"""The center's checks of a signed request, in order, and the caller they establish.

    headers present (4011) -> key known (4013) -> timestamp in the window (4014)
    -> signature over method, path, timestamp, nonce and the exact body (4012)
    -> nonce well formed and claimed for the first time (4015)

The nonce is claimed last, only once the signature has verified: a forged or altered request
must not burn the real caller's nonce, nor write anything. No I/O here: finding a credential
and claiming a nonce are given as functions.
"""
import re
from dataclasses import dataclass
from typing import Callable, FrozenSet, Mapping, Optional, Sequence, Tuple

from ..errors import ErrorCode, PaySettleError
from . import nonces, signature
from .credentials import Credential, in_scope

TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class SignedRequest:
    """What the client sent: `targets` are the renderings of the path (with the query string)
    the client may have signed; every one is derived from the request itself."""
    method: str
    targets: Sequence[str]
    body: bytes
    headers: Mapping[str, Optional[str]]        # the four signing headers, by their names


@dataclass(frozen=True)
class Caller:
    key_id: str
    merchant_id: str                                    # the tenant; "" for a tenant-less key
    roles: FrozenSet[str]
    scopes: Mapping[str, Optional[Tuple[str, ...]]]     # None: the scope does not narrow

    @property
    def tenant(self) -> str:
        """The tenant every record of this request is keyed under. A tenant-less key (the
        payment channel's) has none: it may not touch a tenant's records (403)."""
        if not self.merchant_id:
            raise PaySettleError(ErrorCode.ROLE_NOT_ALLOWED,
                                 detail="this route needs a key that belongs to a tenant")
        return self.merchant_id

    def require_role(self, role: str) -> None:
        if role not in self.roles:
            raise PaySettleError(ErrorCode.ROLE_NOT_ALLOWED,
                                 detail=f"this route needs the role {role}")

    def require_subject(self, scope: str, subject: str, field: str) -> None:
        """Within its tenant a key may name any subject; a scope the key has narrows that."""
        patterns = self.scopes.get(scope)
        if patterns is not None and not in_scope(patterns, subject):
            raise PaySettleError(ErrorCode.SUBJECT_NOT_OWNED, field=field,
                                 detail=f"is not in this key's {scope}")

    def require_any_subject(self, scopes: Sequence[str], subject: str, field: str) -> None:
        """The subject is in at least one of `scopes` the key has (an account id is a saler's
        or a trade party's); a key with none of them is not narrowed."""
        narrowing = [self.scopes[scope] for scope in scopes if self.scopes.get(scope) is not None]
        if narrowing and not any(in_scope(patterns, subject) for patterns in narrowing):
            raise PaySettleError(ErrorCode.SUBJECT_NOT_OWNED, field=field,
                                 detail=f"is not in this key's {' or '.join(scopes)}")


def _refuse(code: ErrorCode, field: str, detail: Optional[str] = None) -> PaySettleError:
    return PaySettleError(code, field=field, detail=detail or code.message)


def verify(request: SignedRequest, find: Callable[[str], Optional[Credential]],
           claim: Callable[[str, str, int], bool], now: int, window_seconds: int) -> Caller:
    """The caller, or a PaySettleError with a 401 code; `claim(key_id, nonce, expires_at)`."""
    values = {}
    for name in signature.HEADERS:
        value = request.headers.get(name)
        if not value:
            raise _refuse(ErrorCode.SIGNATURE_MISSING, name, "is missing")
        values[name] = value
    key_id, timestamp = values[signature.KEY_ID], values[signature.TIMESTAMP]
    nonce, signed = values[signature.NONCE], values[signature.SIGNATURE]

    credential = find(key_id)
    if credential is None:
        raise _refuse(ErrorCode.KEY_UNKNOWN, signature.KEY_ID, "no credential has this key id")

    # Digits only: int() would also take " 12", "+12" and "1_2", which the signer did not mean.
    if TIMESTAMP_PATTERN.fullmatch(timestamp) is None:
        raise _refuse(ErrorCode.TIMESTAMP_OUT_OF_WINDOW, signature.TIMESTAMP,
                      "is not an integer of epoch seconds")
    moment = int(timestamp)
    if abs(now - moment) > window_seconds:
        raise _refuse(ErrorCode.TIMESTAMP_OUT_OF_WINDOW, signature.TIMESTAMP,
                      f"is more than {window_seconds} s from the center's clock")

    if not any(signature.matches(credential.secret, signed, request.method, target, timestamp,
                                 nonce, request.body) for target in request.targets):
        raise _refuse(ErrorCode.SIGNATURE_INVALID, signature.SIGNATURE,
                      "does not match the request")

    if not nonces.well_formed(nonce):
        raise _refuse(ErrorCode.NONCE_REPLAYED, signature.NONCE,
                      "must be 16-64 characters of A-Z a-z 0-9 _ -")
    if not claim(key_id, nonce, nonces.expires_at(moment, window_seconds)):
        raise _refuse(ErrorCode.NONCE_REPLAYED, signature.NONCE, "was already used by this key")
    return Caller(key_id=key_id, merchant_id=credential.merchant_id, roles=credential.roles,
                  scopes=credential.scopes)
