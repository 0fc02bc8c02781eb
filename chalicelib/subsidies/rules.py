"""The amounts of a marketing subsidy under its returns: plain rules, no I/O.

A subsidy granted `total` fen splits it, always adding up to `total`, into
* `returnable`: not claimed by any return;
* `returning`: reserved by returns still in flight (sent, or their outcome unknown);
* `returned`: taken back by returns the channel confirmed.

A return moves its amount between them:
* `reserve`: when the return is claimed, returnable -> returning. Refused
  (`ReturnExceedsSubsidy`) when less than the amount is returnable, so two returns can never
  claim the same fen;
* `settle`: the channel confirmed it, returning -> returned;
* `release`: the channel rejected it, returning -> returnable, for another return to claim;
* `settle_released`: a return released as rejected that the channel later confirmed after all
  (a late answer of the same outbound number), returnable -> returned. The money has moved at
  the channel, so this is recorded even when it leaves `returnable` below zero (`overdrawn`).

Settle and release take back a reservation the return itself made (`NotReserved` otherwise).

The writes persist these movements as increments, under conditions that guard them against
concurrent writers: a reservation's `returnable_amount >= :amount` is `requires_returnable`
here, checked by DynamoDB on the stored amounts at the moment of the write.
"""
from dataclasses import dataclass
from typing import Mapping


class SubsidyRuleError(ValueError):
    """A movement of a subsidy's amounts that the rules do not allow."""


class ReturnExceedsSubsidy(SubsidyRuleError):
    """A return asked for more than is still returnable."""


class NotReserved(SubsidyRuleError):
    """A settle or release of more than returns have reserved."""


def _fen(amount) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise SubsidyRuleError(f"an amount is a positive whole number of fen, not {amount!r}")
    return amount


@dataclass(frozen=True)
class Amounts:
    """A subsidy's amounts in fen (the subsidy item's `*_amount` attributes)."""
    total: int
    returnable: int
    returning: int = 0
    returned: int = 0

    @classmethod
    def granted(cls, total: int) -> "Amounts":
        return cls(total=_fen(total), returnable=total)

    @classmethod
    def of(cls, item: Mapping) -> "Amounts":
        """From a stored subsidy's attributes."""
        return cls(total=int(item["total_amount"]), returnable=int(item["returnable_amount"]),
                   returning=int(item.get("returning_amount", 0)),
                   returned=int(item.get("returned_amount", 0)))

    @property
    def overdrawn(self) -> bool:
        """More was taken back than granted: only a late confirmation after a release does it."""
        return self.returnable < 0


@dataclass(frozen=True)
class Movement:
    """A change of the amounts: what each gains (negative: loses), and what must be there first."""
    returnable: int = 0
    returning: int = 0
    returned: int = 0
    requires_returnable: int = 0     # also the write's condition: returnable_amount >= it
    requires_returning: int = 0

    def apply(self, amounts: Amounts) -> Amounts:
        """The amounts after this movement, or the named refusal."""
        if amounts.returnable < self.requires_returnable:
            raise ReturnExceedsSubsidy(f"{self.requires_returnable} is over the {amounts.returnable} "
                                       f"still returnable of {amounts.total}")
        if amounts.returning < self.requires_returning:
            raise NotReserved(f"{self.requires_returning} is over the {amounts.returning} reserved")
        return Amounts(total=amounts.total, returnable=amounts.returnable + self.returnable,
                       returning=amounts.returning + self.returning,
                       returned=amounts.returned + self.returned)

    def changes(self) -> dict:
        """Attribute -> increment, for the amounts this movement changes."""
        return {name: delta for name, delta in (("returnable_amount", self.returnable),
                                                 ("returning_amount", self.returning),
                                                 ("returned_amount", self.returned)) if delta}


def reserve(amount: int) -> Movement:
    amount = _fen(amount)
    return Movement(returnable=-amount, returning=amount, requires_returnable=amount)


def settle(amount: int) -> Movement:
    amount = _fen(amount)
    return Movement(returning=-amount, returned=amount, requires_returning=amount)


def release(amount: int) -> Movement:
    amount = _fen(amount)
    return Movement(returning=-amount, returnable=amount, requires_returning=amount)


def settle_released(amount: int) -> Movement:
    amount = _fen(amount)
    return Movement(returnable=-amount, returned=amount)
