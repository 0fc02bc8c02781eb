"""Signing for callers that use `requests` (tools, tests): `session.auth = SignedAuth(...)`.

Signs the prepared request, so PATH (in its canonical form) and BODY are what goes on the wire.
"""
from typing import Mapping

import requests

from chalicelib.auth import signature


class SignedAuth(requests.auth.AuthBase):
    def __init__(self, key_id: str, secret: str):
        self.key_id = key_id
        self._secret = secret

    @classmethod
    def from_credential(cls, credential: Mapping) -> "SignedAuth":
        """One entry of `merchants` in out/local-stack.json."""
        return cls(credential["key_id"], credential["secret"])

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(signature.signed_headers(
            self.key_id, self._secret, request.method, request.path_url, request.body))
        return request

    def __repr__(self) -> str:      # never the secret
        return f"SignedAuth(key_id={self.key_id!r})"
