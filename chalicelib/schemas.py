"""What every request schema shares: strict pydantic models whose fields use the
parsers of `chalicelib.fields`, and one way to parse a request body into a model.

A refusal always names the first offending field (`InvalidField`, error 1001), or
the body itself when it is not a JSON object (`chalicelib.json_body`).
"""
from typing import Callable, Type, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

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


class StrictModel(BaseModel):
    """No extra fields, no type coercion, immutable."""
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


_READABLE = {
    "missing": "is required",
    "extra_forbidden": "is not an allowed field",
    "string_type": "must be a string",
}

Model = TypeVar("Model", bound=StrictModel)


def parse(model: Type[Model], raw_body: bytes) -> Model:
    """Parse and validate a request; raise InvalidField naming the first bad field."""
    body = parse_object(raw_body)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        # An empty key is named as the JSON it was: "" (not "body", which would mislead).
        field = ".".join(str(part) or '""' for part in first["loc"]) or "body"
        raise InvalidField(field, _READABLE.get(first["type"], first["msg"])) from None
