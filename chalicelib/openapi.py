"""The OpenAPI 3.1 document of the HTTP API, built from the models the routes themselves use.

Each route is documented by one declarative `Operation`, written next to its models (request
models are the pydantic classes the handler validates with; response models describe what the
code that builds the answer returns). The modules holding those entries are listed in
`ENTRY_MODULES`; each exposes `OPERATIONS`, a list of `Operation`s. To document a new route, add
its `Operation` to its package's list (or list a new module here): tests/unit/test_openapi.py
fails while any route of `app.routes` is missing from the document.

Refusals need no schema of their own: an operation lists the `ErrorCode`s it can answer, and
the document groups them by HTTP status with the one error body of chalicelib/http.py, the
`error_code` narrowed to those codes. Every route is wrapped in `handled`, so 500 INTERNAL is
added to all of them; chalice's own 415 to those with a JSON body.
"""
import copy
import importlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Type, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.json_schema import models_json_schema

from .errors import ErrorCode, PaySettleError

OPENAPI_VERSION = "3.1.0"
ENTRY_MODULES = (
    "chalicelib.payments.api_docs",
    "chalicelib.payments.trades.api_docs",
    "chalicelib.recon.api_docs",
    "chalicelib.subsidies.api_docs",
    "chalicelib.sharing.api_docs",
    "chalicelib.docs_site",
)
REF = "#/components/schemas/{model}"
JSON = "application/json"

TAGS = [
    {"name": "payments", "description": "Pay and withdraw, orders, accounts"},
    {"name": "trades", "description": "Trade settlement with fees, buyer fees and up-merchants "
                                      ", in double entry on the payments journal"},
    {"name": "reconciliation", "description": "Reconciliation batches"},
    {"name": "subsidies", "description": "Marketing subsidies (营销补差) and their returns "
                                         "(补差回退): reentrant; the channel's notices"},
    {"name": "sharing", "description": "Profit sharing (分账) and its returns on refunds (分账回退), "
                                       "reentrant; the channel's notices"},
    {"name": "documentation", "description": "This document and its Swagger UI page"},
]


# The document's own models are built with the document (on the first request for it), not when
# a function imports this module.
_LAZY = ConfigDict(defer_build=True)


class ErrorBody(BaseModel):
    """Every refusal (chalicelib/http.py `error_body`): the contract's failure fields plus the code."""
    model_config = _LAZY
    response_time: str = Field(description="UTC+8, yyyy-MM-dd HH:mm:ss",
                               examples=["2019-08-29 17:15:25"])
    response_code: Literal["FAIL"]
    response_msg: str = Field(description="For people; names the field when one is at fault")
    error_code: int = Field(description="A number of the error table (README, Errors)")
    error_name: Literal[tuple(code.name for code in ErrorCode)]  # type: ignore[valid-type]
    field: Optional[str] = Field(description="The offending input, or null")


class EnvelopeError(BaseModel):
    """A refusal of the `{"code", "message", "data"}` APIs (chalicelib/http.py `envelope_error_body`)."""
    model_config = _LAZY
    code: int = Field(description="A number of the error table (README, Errors); 0 is success")
    message: str = Field(description="For people; names the field when one is at fault")
    data: Optional[Dict[str, Any]] = Field(description="null, or what is known (outbound numbers, "
                                                       "the channel's code and message)")
    error_name: Literal[tuple(code.name for code in ErrorCode)]  # type: ignore[valid-type]
    field: Optional[str] = Field(description="The offending input, or null")


class ChaliceError(BaseModel):
    """An answer of the Chalice framework itself, before the route runs (e.g. 415)."""
    model_config = ConfigDict(title="ChaliceError", defer_build=True)
    Code: str = Field(examples=["UnsupportedMediaType"])
    Message: str


@dataclass(frozen=True)
class Reply:
    """A documented answer: a pydantic model (JSON), or a raw `schema` of other media types."""
    description: str
    model: Optional[Type[BaseModel]] = None
    media_type: Union[str, Tuple[str, ...]] = JSON
    schema: Optional[dict] = None
    examples: Mapping[str, Any] = field(default_factory=dict)
    # OpenAPI links: name -> (operationId, {parameter: runtime expression})
    links: Mapping[str, Tuple[str, Mapping[str, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter, its schema taken from a (pydantic-annotated) type."""
    name: str
    type: Any
    location: Literal["path", "query", "header"] = "path"
    description: str = ""
    required: bool = True


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    ok: Reply
    description: str = ""
    request: Optional[Type[BaseModel]] = None
    request_examples: Mapping[str, dict] = field(default_factory=dict)
    params: Sequence[Param] = ()
    errors: Sequence[ErrorCode] = ()
    # Answers other than 200 and the error table's (e.g. a 404 that is not an error body).
    replies: Mapping[int, Reply] = field(default_factory=dict)
    # Refusals in the `{"code", "message", "data"}` envelope (EnvelopeError) rather than ErrorBody.
    envelope: bool = False
    # Request signing (chalicelib/auth): the four headers are required, 401s are added; `role`
    # (None: any) adds 403 ROLE_NOT_ALLOWED, `scoped` (the fields checked against the key's
    # scope) 403 SUBJECT_NOT_OWNED.
    signed: bool = False
    role: Optional[str] = None
    scoped: Sequence[str] = ()
    # Reads one of the caller's tenant's records by its id: another tenant's record answers
    # exactly like a missing one (the 404 of `errors`).
    tenant_read: bool = False


SECURITY_SCHEME = "RequestSignature"
SIGNATURE_REFUSALS = (ErrorCode.SIGNATURE_MISSING, ErrorCode.KEY_UNKNOWN,
                      ErrorCode.TIMESTAMP_OUT_OF_WINDOW, ErrorCode.SIGNATURE_INVALID,
                      ErrorCode.NONCE_REPLAYED)
SIGNING = ("Each money request is signed: X-Signature = lowercase hex HMAC-SHA256(secret, "
           "\"METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n\"), PATH the target with the mount "
           "prefix and the query string, its path in canonical form (empty segments dropped: "
           "`//pay` and `/pay/` are signed as `/pay`), BODY the exact bytes (empty if none); "
           "README, Request signing.")
TENANCY = ("The caller's tenant is its key's `merchant_id`: what this request writes or reads "
           "is that tenant's only (ids are unique within a tenant).")
TENANT_READ = (" Another tenant's record answers exactly so (same status, same body): whether "
               "it exists never shows across tenants.")
SIGNING_HEADERS = (
    ("X-Key-Id", "The caller's key id (one entry of the CallerCredentials secret)",
     {"type": "string", "minLength": 1, "examples": ["mch-demo"]}),
    ("X-Timestamp", "Epoch seconds when signed; refused beyond 300 s of the center's clock",
     {"type": "string", "pattern": "^[0-9]{1,12}$", "examples": ["1700000000"]}),
    ("X-Nonce", "Single use per key: 16-64 characters of A-Z a-z 0-9 _ -",
     {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$",
      "examples": ["0f8e5c1b2a3d4e6f7a8b9c0d1e2f3a4b"]}),
    ("X-Signature", SIGNING,
     {"type": "string", "pattern": "^[0-9a-f]{64}$"}),
)


def _signing(op: Operation) -> Tuple[List[dict], List[ErrorCode], str]:
    """Header parameters, refusals and a sentence for a signed operation."""
    if not op.signed:
        return [], [], ""
    codes = list(SIGNATURE_REFUSALS)
    sentence = "Signed (any role)." if op.role is None else f"Signed; role `{op.role}`."
    if op.tenant_read or op.role in ("merchant", "business_line"):
        sentence += " " + TENANCY
    if op.role is not None:
        codes.append(ErrorCode.ROLE_NOT_ALLOWED)
    elif op.tenant_read:
        codes.append(ErrorCode.ROLE_NOT_ALLOWED)
        sentence += " A key of no tenant (the channel's) is refused (403 ROLE_NOT_ALLOWED)."
    if op.scoped:
        codes.append(ErrorCode.SUBJECT_NOT_OWNED)
        sentence += " " + ", ".join(f"`{name}`" for name in op.scoped) + \
            " must be in the key's scope if it has one (403 SUBJECT_NOT_OWNED otherwise)."
    headers = [{"name": name, "in": "header", "required": True, "description": text,
                "schema": dict(schema)} for name, text, schema in SIGNING_HEADERS]
    return headers, codes, sentence


def operations(modules: Sequence[str] = ENTRY_MODULES) -> List[Operation]:
    found: List[Operation] = []
    for name in modules:
        found.extend(importlib.import_module(name).OPERATIONS)
    return found


def _param_schema(kind: Any) -> dict:
    schema = TypeAdapter(kind).json_schema(ref_template=REF)
    schema.pop("title", None)
    return schema


def _example_map(examples: Mapping[str, Any]) -> dict:
    return {name: ({"summary": value[0], "value": value[1]} if isinstance(value, tuple)
                   else {"value": value})
            for name, value in examples.items()}


def _content(reply: Reply, schema: dict) -> dict:
    media: Dict[str, Any] = {"schema": schema}
    if reply.examples:
        media["examples"] = _example_map(reply.examples)
    types = (reply.media_type,) if isinstance(reply.media_type, str) else reply.media_type
    return {media_type: dict(media) for media_type in types}


def _reply_object(reply: Reply) -> dict:
    if reply.model is not None:
        schema = {"$ref": REF.format(model=reply.model.__name__)}
    else:
        schema = reply.schema or {}
    answer: Dict[str, Any] = {"description": reply.description,
                              "content": _content(reply, schema)}
    if reply.links:
        answer["links"] = {name: {"operationId": target, "parameters": dict(parameters)}
                           for name, (target, parameters) in reply.links.items()}
    return answer


def _error_replies(codes: Sequence[ErrorCode], envelope: bool = False) -> Dict[int, dict]:
    by_status: Dict[int, List[ErrorCode]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(code.http_status, []).append(code)
    answers = {}
    model, number = (EnvelopeError, "code") if envelope else (ErrorBody, "error_code")
    for status, group in sorted(by_status.items()):
        narrowed = {"allOf": [
            {"$ref": REF.format(model=model.__name__)},
            {"properties": {number: {"enum": [c.number for c in group]},
                            "error_name": {"enum": [c.name for c in group]}}}]}
        lines = "; ".join(f"{c.number} {c.name}: {c.message}" for c in group)
        outcome = "" if status == 500 else " Nothing was written."
        answers[status] = {"description": f"Refused ({lines}).{outcome}",
                           "content": {JSON: {"schema": narrowed, "examples": {
                               c.name: {"summary": f"{c.number} {c.name}",
                                        "value": _error_example(c, envelope)}
                               for c in group}}}}
    return answers


def _error_example(code: ErrorCode, envelope: bool = False) -> dict:
    field_name, detail = (("amount" if envelope else "total_fee"), "must be greater than zero") \
        if code is ErrorCode.INVALID_FIELD else (None, None)
    error = PaySettleError(code, detail=detail, field=field_name)
    if envelope:
        return {"code": code.number, "message": error.message, "data": None,
                "error_name": code.name, "field": field_name}
    return {"response_time": "2019-08-29 17:15:25", "response_code": "FAIL",
            "response_msg": error.message, "error_code": code.number, "error_name": code.name,
            "field": field_name}


UNSUPPORTED_MEDIA_TYPE = Reply(
    "The Content-Type is not application/json (answered by Chalice before the route runs).",
    model=ChaliceError,
    examples={"text": {"Code": "UnsupportedMediaType",
                       "Message": "Unsupported media type: text/plain"}})


def _operation_object(op: Operation) -> dict:
    result: Dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary,
                              "tags": [op.tag]}
    headers, signing_codes, signing_sentence = _signing(op)
    description = " ".join(part for part in (op.description, signing_sentence) if part)
    if description:
        result["description"] = description
    if op.signed:
        result["security"] = [{SECURITY_SCHEME: []}]
    if op.params or headers:
        result["parameters"] = [
            {"name": p.name, "in": p.location, "required": p.required or p.location == "path",
             **({"description": p.description} if p.description else {}),
             "schema": _param_schema(p.type)} for p in op.params] + headers
    if op.request is not None:
        media: Dict[str, Any] = {"schema": {"$ref": REF.format(model=op.request.__name__)}}
        if op.request_examples:
            media["examples"] = _example_map(op.request_examples)
        result["requestBody"] = {"required": True, "content": {JSON: media}}
    responses: Dict[int, dict] = {200: _reply_object(op.ok)}
    for status, reply in op.replies.items():
        responses[status] = _reply_object(reply)
    if op.request is not None:
        responses[415] = _reply_object(UNSUPPORTED_MEDIA_TYPE)
    responses.update(_error_replies(list(op.errors) + signing_codes + [ErrorCode.INTERNAL],
                                    op.envelope))
    if op.tenant_read and 404 in responses:
        responses[404]["description"] += TENANT_READ
    result["responses"] = {str(status): responses[status] for status in sorted(responses)}
    return result


def _models(ops: Sequence[Operation]) -> List[Type[BaseModel]]:
    models: List[Type[BaseModel]] = [ErrorBody]
    if any(op.envelope for op in ops):
        models.append(EnvelopeError)
    for op in ops:
        replies = [op.ok, *op.replies.values()] + ([UNSUPPORTED_MEDIA_TYPE] if op.request else [])
        models += [op.request] if op.request is not None else []
        models += [reply.model for reply in replies if reply.model is not None]
    return list(dict.fromkeys(models))


_PATH_PARAMETER = re.compile(r"{([^}]+)}")


def build(ops: Sequence[Operation], server_url: str = "/") -> dict:
    """The document of `ops`; `server_url` is where the routes are mounted."""
    models = _models(ops)
    names = [m.__name__ for m in models]
    if len(set(names)) != len(names):
        raise ValueError(f"two documented models share a name: {sorted(names)}")
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    paths: Dict[str, Dict[str, Any]] = {}
    for op in ops:
        if any(code.http_status < 400 for code in op.errors):
            raise ValueError(f"{op.operation_id}: a code answered with 2xx is not a refusal "
                             "(describe it in the 200 reply)")
        declared = {p.name for p in op.params if p.location == "path"}
        if set(_PATH_PARAMETER.findall(op.path)) != declared:
            raise ValueError(f"{op.operation_id}: path parameters of {op.path} are not declared")
        method = op.method.lower()
        if method in paths.get(op.path, {}):
            raise ValueError(f"{op.method} {op.path} is documented twice")
        paths.setdefault(op.path, {})[method] = _operation_object(op)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "PaySettle API", "version": "1.0.0",
                 "description": ("Payment and settlement center: pay and withdraw, "
                                 "accounts and their journal, reconciliation batches, marketing "
                                 "subsidies and their returns. Amounts are integers in "
                                 "fen (分). A JSON integer is written without a fraction or "
                                 "exponent (100, not 100.0 or 1e2): JSON Schema's `integer` "
                                 "admits 100.0, this API refuses it (400, the field named), as "
                                 "it may have passed through a float. Every refusal carries a code of the README's error "
                                 "table (the subsidy routes in {code, message, data}). "
                                 "Tenants: every signed request acts for its key's tenant "
                                 "(`merchant_id`); records are keyed under it, request ids and "
                                 "saler, account and trade ids are unique within a tenant only "
                                 "(response ids across all), and another tenant's record is a "
                                 "404 with the body of a missing one.")},
        "servers": [{"url": server_url or "/"}],
        "tags": TAGS,
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": dict({"schemas": top.get("$defs", {})}, **(
            {"securitySchemes": {SECURITY_SCHEME: {
                "type": "apiKey", "in": "header", "name": "X-Signature",
                "description": SIGNING + " X-Key-Id, X-Timestamp and X-Nonce go with it "
                               "(header parameters of each signed operation)."}}}
            if any(op.signed for op in ops) else {})),
    }


@lru_cache(maxsize=4)
def _cached(modules: Tuple[str, ...], info: Optional[Tuple[Tuple[str, Any], ...]],
            tags: Optional[Tuple[Tuple[str, str], ...]]) -> dict:
    built = build(operations(modules))
    if info:
        built["info"] = dict(built["info"], **dict(info))
    if tags:
        built["tags"] = [{"name": name, "description": text} for name, text in tags]
    return built


def document(server_url: str = "/", modules: Sequence[str] = ENTRY_MODULES,
             info: Optional[Mapping[str, Any]] = None,
             tags: Optional[Sequence[Tuple[str, str]]] = None) -> dict:
    """The document of the routes `modules` describe (built once per process): by default the
    payment center's; another app (the merchant system) names its own modules, and its own
    `info` (title, description) and `tags` [(name, description)]."""
    answer = copy.copy(_cached(tuple(modules), tuple(sorted((info or {}).items())) or None,
                               tuple(tags) if tags else None))
    answer["servers"] = [{"url": server_url or "/"}]
    return answer


def mount_prefix(request, route_path: str) -> str:
    """The path prefix the API is mounted under for this request: "" locally, "/<stage>"
    behind API Gateway (its requestContext.path carries the stage or a custom domain's base
    path, and the route's own path is at its end)."""
    context = getattr(request, "context", None) or {}
    full = context.get("path") or route_path
    if full.endswith(route_path):
        return full[: len(full) - len(route_path)].rstrip("/")
    return ""
