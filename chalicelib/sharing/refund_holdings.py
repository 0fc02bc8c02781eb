"""What a refund takes back from a profit sharing's holdings: plain rules, no I/O.

A profit sharing that succeeded holds, per receiver, the fen a refund may still take back
(`holdings`), and counts the refunds of its paid order (`refunded_amount`). A refund of `amount`:
* is refused (`RefundExceedsOrder`) when the refunds would add up to more than the order's total;
* takes back `back` fen: the cumulative returns after it are floor(shared × refunded / order
  total), and a refund of the whole order takes back everything still held (allocation.py);
* splits `back` among the receivers by what each still holds, so no holding goes below zero
  (`HoldingsShort` when they do not cover it: holdings changed outside these rules).

The write persists the decision under conditions that guard it against concurrent refunds: the
`refunded_amount` it was computed from is still stored, and each holding still covers its part.
"""
from dataclasses import dataclass
from typing import Dict, Mapping

from . import allocation


class RefundRuleError(ValueError):
    """A refund the profit-sharing rules do not allow."""


class RefundExceedsOrder(RefundRuleError):
    """The refunds of the order would add up to more than its total."""


class HoldingsShort(RefundRuleError):
    """The receivers no longer hold what the refund must take back."""


@dataclass(frozen=True)
class RefundTake:
    refunded_before: int
    refunded_after: int
    back: int                    # taken back in all (the relation's actual_base_return_amount)
    parts: Dict[str, int]        # receiver -> fen taken off its holding; only parts above zero
    holdings_after: Dict[str, int]


def check_refund(refunded_before: int, amount: int, order_total: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise RefundRuleError(f"a refund is a positive whole number of fen, not {amount!r}")
    if refunded_before + amount > order_total:
        raise RefundExceedsOrder(f"{refunded_before} already refunded + {amount} is over orderTotal "
                                 f"{order_total}")


def take(holdings: Mapping[str, int], shared: int, order_total: int, refunded_before: int,
         amount: int) -> RefundTake:
    """What a refund of `amount` takes from `holdings` (receiver -> fen still held), given the
    fen `shared` successfully and the order's refunds so far."""
    check_refund(refunded_before, amount, order_total)
    held = {account: int(h) for account, h in holdings.items() if int(h) > 0}
    refunded_after = refunded_before + amount
    if refunded_after == order_total:
        back = sum(held.values())            # a full refund returns everything still held
    else:
        back = allocation.refund_total(shared, order_total, refunded_before, amount)
    if back > sum(held.values()):
        raise HoldingsShort(f"{back} to take back, {sum(held.values())} held")
    parts = {a: p for a, p in allocation.split(back, held).items() if p > 0} if back else {}
    after = {account: int(h) - parts.get(account, 0) for account, h in holdings.items()}
    return RefundTake(refunded_before=refunded_before, refunded_after=refunded_after, back=back,
                      parts=parts, holdings_after=after)
