"""The center's door: a Chalice request in, its verified Caller out (or a 401 refusal).

Reads what the client sent the way it sent it: the raw body bytes, and the path with the
prefix the API is mounted under (API Gateway's stage, in requestContext.path, as
openapi.mount_prefix reads it) and the query string. API Gateway hands over the query string
parsed, never raw, so it is rebuilt in the order received, encoded as `urlencode` encodes it
(what `requests` sends), with %20 for spaces instead of `+`, or encoding only what must be;
parameters that are not UTF-8 cannot be rebuilt, so such a request never verifies.
"""
import logging
import re
import time
from typing import List
from urllib.parse import quote, quote_plus, urlencode

from ..config import auth_settings
from ..errors import PaySettleError
from ..logs import log
from ..openapi import mount_prefix
from . import credentials, nonces, signature
from .verifier import Caller, SignedRequest, verify

_PATH_PARAMETER = re.compile(r"{([^}]+)}")
# Characters a query value may carry unencoded (RFC 3986 pchar, "/" and "?" less "&" and "+",
# which would change its meaning): the rendering of a client that encodes only what it must.
_QUERY_SAFE = "/?:@!$'()*,;="


def _route_path(request) -> str:
    """The path below the mount prefix: API Gateway's event `path`, else the route with its
    parameters filled in (chalice local gives no event `path`; its requestContext.path is it)."""
    event = request.to_original_event() if hasattr(request, "to_original_event") else {}
    if event.get("path"):
        return event["path"]
    parameters = request.uri_params or {}
    return _PATH_PARAMETER.sub(lambda m: parameters.get(m.group(1), m.group(0)), request.path)


def targets(request) -> List[str]:
    route = _route_path(request)
    path = mount_prefix(request, route) + route
    query = request.query_params
    if not query:
        return [path]
    pairs = [(name, value) for name in query for value in query.getlist(name)]
    renderings = [urlencode(pairs, quote_via=quote_plus), urlencode(pairs, quote_via=quote),
                  urlencode(pairs, quote_via=quote, safe=_QUERY_SAFE)]
    return [f"{path}?{rendering}" for rendering in dict.fromkeys(renderings)]


def signed_request(request) -> SignedRequest:
    return SignedRequest(method=request.method, targets=targets(request),
                         body=request.raw_body or b"",
                         headers={name: request.headers.get(name) for name in signature.HEADERS})


def now() -> int:
    return int(time.time())


def caller(request) -> Caller:
    """Verify the current request; on refusal, log the code and the key id (never a secret,
    never the signature) and raise."""
    settings = auth_settings()
    try:
        found = verify(signed_request(request), credentials.find, nonces.claim, now(),
                       settings.window_seconds)
    except PaySettleError as refusal:
        log("auth.refused", level=logging.WARNING, code=refusal.code.number,
            key_id=(request.headers.get(signature.KEY_ID) or "")[:64], method=request.method,
            path=request.path)
        raise
    log("auth.verified", key_id=found.key_id, method=request.method, path=request.path)
    return found
