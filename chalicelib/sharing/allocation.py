"""How much each receiver returns on a refund: pure arithmetic in whole fen.

* `refund_total(shared, order_total, refunded_before, amount)`: the total to take back on this
  refund so that the CUMULATIVE returns after it are floor(shared × refunded / order_total);
  when the whole order is refunded that is exactly `shared`, so several partial refunds add up
  to the whole and a full refund returns everything.
* `split(total, holdings)`: that total among the receivers in proportion to what each still
  holds (largest remainder / Hamilton): each gets floor(total × h / H); the fen left over go one
  each to the largest fractional parts (ties: the larger holding, then the account, so the
  result is deterministic). The parts add up to `total` exactly and none exceeds its holding
  (total ≤ H; a part with a fraction is < its holding, so the extra fen still fits).
"""
from typing import Dict


def refund_total(shared: int, order_total: int, refunded_before: int, amount: int) -> int:
    if not (0 <= refunded_before and 0 < amount and refunded_before + amount <= order_total):
        raise ValueError("refunds over the order's total")
    after = shared * (refunded_before + amount) // order_total
    before = shared * refunded_before // order_total
    return after - before


def split(total: int, holdings: Dict[str, int]) -> Dict[str, int]:
    held = sum(holdings.values())
    if total < 0 or total > held or any(h < 0 for h in holdings.values()):
        raise ValueError(f"cannot take {total} from holdings of {held}")
    if held == 0:
        return {account: 0 for account in holdings}
    parts = {account: total * h // held for account, h in holdings.items()}
    left = total - sum(parts.values())
    by_remainder = sorted(holdings, key=lambda a: (-(total * holdings[a] % held), -holdings[a], a))
    for account in by_remainder[:left]:
        parts[account] += 1
    return parts
