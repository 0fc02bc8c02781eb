"""Attribute types with PaySettle's money rule: amounts are whole fen, end to end.

PynamoDB's `NumberAttribute` serializes whatever it is given and reads any stored fraction back
as a float; a float amount would silently round. `FenAttribute` refuses, on the way in, anything
but an `int` (a `bool` is not an amount either) and, on the way out, any stored fraction.
"""
from decimal import Decimal, InvalidOperation

from pynamodb.attributes import NumberAttribute


class NotWholeFen(ValueError):
    """An amount that is not a whole number of fen."""


def whole_fen(value, name: str = "amount") -> int:
    """`value` if it is an `int` (not a `bool`); else NotWholeFen naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise NotWholeFen(f"{name} must be a whole number of fen (int), not {type(value).__name__} {value!r}")
    return value


class FenAttribute(NumberAttribute):
    """A money amount in fen: an `int`, never a float or a Decimal with a fraction."""

    def serialize(self, value):
        return super().serialize(whole_fen(value, self.attr_name or "amount"))

    def deserialize(self, value):
        try:
            exact = Decimal(value)
        except InvalidOperation:
            raise NotWholeFen(f"{self.attr_name}: stored {value!r} is not a number") from None
        if exact != exact.to_integral_value():
            raise NotWholeFen(f"{self.attr_name}: stored {value!r} is not a whole number of fen")
        return int(exact)


class WholeNumberAttribute(FenAttribute):
    """A count, version or epoch time: also whole, also never a float."""
