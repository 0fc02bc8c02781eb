"""Signed calls in the in-process tests: test credentials, seeded into the moto secrets, and a
signing wrapper around `chalice.test.Client`'s `http`.

`aws_stack` (tests/unit/support.py) seeds CallerCredentials with CALLERS and the merchant
system's MerchantSigningKey with MERCHANT_SYSTEM; `Api` signs with PLATFORM unless told
otherwise (`api.as_caller(MERCHANT)`, `signed=False`). The secrets here are test values,
known to everyone: they exist only inside moto.
"""
import json
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Sequence, Union

from chalicelib.auth import signature


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    secret: str = field(repr=False)
    merchant_id: str = "default"
    roles: Sequence[str] = ()
    salers: Sequence[str] = ()
    sub_mchs: Sequence[str] = ()
    accounts: Sequence[str] = ()

    def entry(self) -> dict:
        return {"secret": self.secret, "merchant_id": self.merchant_id, "roles": list(self.roles),
                "salers": list(self.salers), "sub_mchs": list(self.sub_mchs),
                "accounts": list(self.accounts)}


# Every role, every subject: the existing tests' caller, so their only change is being signed.
PLATFORM = SigningKey("test-platform", "a1" * 32, roles=("merchant", "business_line", "channel"),
                          salers=("*",), sub_mchs=("*",), accounts=("*",))
MERCHANT = SigningKey("test-merchant", "b2" * 32, roles=("merchant",), salers=("saler*",))
BUSINESS = SigningKey("test-business", "c3" * 32, roles=("business_line",),
                          sub_mchs=("19*",), accounts=("B*",))
CHANNEL = SigningKey("test-channel", "d4" * 32, roles=("channel",))
# The simulated merchant system's own key (MerchantSigningKey), listed among the callers too.
MERCHANT_SYSTEM = SigningKey("test-merchant-system", "e5" * 32, roles=("merchant",),
                                 salers=("*",))
CALLERS = (PLATFORM, MERCHANT, BUSINESS, CHANNEL, MERCHANT_SYSTEM)
# Two more tenants' business lines, for the tests that two tenants stay apart.
TENANT_A = SigningKey("test-tenant-a", "f6" * 32, merchant_id="tenant-a", roles=("business_line",),
                      sub_mchs=("*",), accounts=("*",))
TENANT_B = SigningKey("test-tenant-b", "a7" * 32, merchant_id="tenant-b", roles=("business_line",),
                      sub_mchs=("*",), accounts=("*",))
CALLERS += (TENANT_A, TENANT_B)


def callers_secret(credentials: Sequence[SigningKey] = CALLERS) -> str:
    return json.dumps({"callers": {c.key_id: c.entry() for c in credentials}})


def seed_secrets(secretsmanager, secret_arns: Mapping[str, str],
                 credentials: Sequence[SigningKey] = CALLERS) -> None:
    """Put the test values into the provisioned secrets (logical id -> ARN)."""
    secretsmanager.put_secret_value(SecretId=secret_arns["CallerCredentials"],
                                    SecretString=callers_secret(credentials))
    if "MerchantSigningKey" in secret_arns:
        secretsmanager.put_secret_value(
            SecretId=secret_arns["MerchantSigningKey"],
            SecretString=json.dumps({"key_id": MERCHANT_SYSTEM.key_id,
                                     "secret": MERCHANT_SYSTEM.secret}))


Body = Union[bytes, str, None]


def _bytes(body: Body) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else body


class SignedHttp:
    """`client.http` of chalice.test.Client, signing each request as a caller would: over the
    path exactly as given (query string included) and the exact body bytes."""

    def __init__(self, http, credential: SigningKey = PLATFORM):
        self._http = http
        self.credential = credential

    def headers_for(self, method: str, path: str, body: Body, **options) -> Dict[str, str]:
        return signature.signed_headers(self.credential.key_id, self.credential.secret,
                                        method, path, _bytes(body), **options)

    def request(self, method: str, path: str, headers: Optional[dict] = None, body: Body = b"",
                signed: bool = True):
        headers = dict(headers or {})
        if signed and signature.SIGNATURE not in headers:
            headers.update(self.headers_for(method, path, body))
        return self._http.request(method=method, path=path, headers=headers, body=_bytes(body))

    def post(self, path: str, headers: Optional[dict] = None, body: Body = b"", signed: bool = True):
        return self.request("POST", path, headers, body, signed)

    def get(self, path: str, headers: Optional[dict] = None, signed: bool = True):
        return self.request("GET", path, headers, b"", signed)
