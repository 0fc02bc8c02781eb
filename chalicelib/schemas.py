"""What every request schema shares: strict pydantic models whose fields use the
parsers of `chalicelib.fields`, and one way to parse a request body into a model.

A refusal always names the first offending field (`InvalidField`, error 1001), or
the body itself when it is not a JSON object (`chalicelib.json_body`).
"""
from typing import Optional, Annotated, Callable, Literal, Type, TypeVar

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field,
                      ValidationError, WithJsonSchema)
from pydantic_core import PydanticCustomError

from . import fields
from .config import MAX_AMOUNT_FEN
from .errors import InvalidField
from .json_body import parse_object


def checked(parser: Callable) -> Callable:
    """A pydantic validator from a `fields` parser: its ValueError becomes the field's error."""
    def check(value):
        try:
            return parser(value)
        except ValueError as exc:
            raise PydanticCustomError("invalid_value", str(exc)) from None
    return check


# Each field type carries its rule (a parser of chalicelib/fields.py) and its JSON Schema for the
# API documentation (chalicelib/openapi.py): `description`, `examples` and `json_schema_extra`
# only describe, the parser decides. Every request model uses these types, so the payment API and
# the merchant's API apply the same rules and document them the same way.
RequestTime = Annotated[str, AfterValidator(checked(fields.request_time)), Field(
    description="When the merchant sent the request, UTC+8, yyyy-MM-dd HH:mm:ss (a real date and time).",
    examples=["2019-08-29 17:15:20"],
    json_schema_extra={"pattern": fields.REQUEST_TIME_PATTERN})]
RequestId = Annotated[str, AfterValidator(checked(fields.request_id)), Field(
    description="The idempotency key: 20 digits, the first 14 a real yyyyMMddHHmmss timestamp.",
    examples=["20190829171520123456"],
    json_schema_extra={"pattern": fields.REQUEST_ID_PATTERN})]
SalerId = Annotated[str, AfterValidator(checked(fields.saler_id)), Field(
    description="The receiving user's account: 1-64 characters of A-Z a-z 0-9 _ - .",
    examples=["saler2"],
    json_schema_extra={"pattern": fields.SALER_ID_PATTERN})]
IdempotencyKey = Annotated[str, AfterValidator(checked(fields.idempotency_key)), Field(
    description=("Optional. The caller's key for this request, e.g. a UUID: a retry with the same "
                 "key and body gets the first request's order instead of placing another one."),
    examples=["3f0c5b8e-8d44-4c1e-9a55-1d6c0f2a7b10"],
    json_schema_extra={"pattern": fields.IDEMPOTENCY_KEY_PATTERN})]
# Before: a string of digits becomes the integer (strict mode would refuse it as a string).
AmountFen = Annotated[int, BeforeValidator(checked(fields.amount_fen)), WithJsonSchema({
    "description": ("An amount in fen (分): a JSON integer or a string of the digits 0-9, "
                    f"from 1 to {MAX_AMOUNT_FEN} (no sign, fraction, exponent, spaces or leading zero)."),
    "anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT_FEN},
              {"type": "string", "pattern": fields.AMOUNT_STRING_PATTERN}],
    "examples": ["100", 100]})]


def _exactly_an_int(value):
    # pydantic checks a Literal of integers with ==, even in strict mode: true and 1.0 would
    # pass as 1 (and 2.0 as 2) without this.
    if type(value) is not int:
        raise ValueError("must be a JSON integer (not a boolean, a string, or a number written "
                         "with a fraction or exponent)")
    return value


def int_choice(*choices: int):
    """One of a few integer codes (1 or 2 ...), as a JSON integer and nothing equal to one."""
    return Annotated[Literal[choices], BeforeValidator(checked(_exactly_an_int))]


class StrictModel(BaseModel):
    """No extra fields, no type coercion, immutable. Its validator is built when a request first
    needs it, not when the module is imported: a function's cold start pays only for the
    models its own requests use."""
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


_READABLE = {
    "missing": "is required",
    "extra_forbidden": "is not an allowed field",
    "string_type": "must be a string",
}

Model = TypeVar("Model", bound=StrictModel)


def parse(model: Type[Model], raw_body: bytes, max_bytes: Optional[int] = None) -> Model:
    """Parse and validate a request; raise InvalidField naming the first bad field.
    A model validator names its field by raising ValueError("<field>: <detail>")."""
    body = parse_object(raw_body, max_bytes)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        error = (first.get("ctx") or {}).get("error")
        if not first["loc"] and first["type"] == "value_error" and ": " in str(error):
            field, detail = str(error).split(": ", 1)
            raise InvalidField(field, detail) from None
        # An empty key is named as the JSON it was: "" (not "body", which would mislead).
        field = ".".join(str(part) or '""' for part in first["loc"]) or "body"
        raise InvalidField(field, _READABLE.get(first["type"], first["msg"])) from None
