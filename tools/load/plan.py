"""The load plan: which calls the driver sends, in which order, with which amounts.

Deterministic: the same `PlanSpec` (seed included) gives the same list of calls,
so a run can be repeated call for call. The plan knows nothing about HTTP.

Shape of a plan:

* the first fifth of the pays go out alone, so the salers have been paid
  something before anybody withdraws;
* the withdraws are then spread at random among the remaining pays;
* a normal withdraw takes a saler that the plan has paid more than it has
  planned to withdraw so far, and asks between a tenth and a half of that
  difference, so most can succeed once the aggregator has applied the credits
  (credits land asynchronously every few seconds, so some still fail on an
  insufficient balance: that is counted, not avoided);
* an overdraw (exactly `round(withdraws * overdraw_share)` of the withdraws)
  asks for more than every pay the plan sends to that saler put together, so it
  fails on an insufficient balance on a saler that started the run empty.
"""
import random
from dataclasses import dataclass
from typing import Dict, List

PAY, WITHDRAW = "pay", "withdraw"
# The payment API's largest amount (fen): 100 million yuan.
MAX_AMOUNT_FEN = 10_000_000_000
# Share of the pays sent before the first withdraw.
PAYS_FIRST_SHARE = 0.2


@dataclass(frozen=True)
class PlanSpec:
    pays: int = 2000
    withdraws: int = 400
    salers: int = 50
    min_amount: int = 100        # fen
    max_amount: int = 50_000     # fen
    overdraw_share: float = 0.1
    seed: int = 3
    saler_prefix: str = "saler-"

    def problems(self) -> List[str]:
        """What is wrong with the spec, in words naming the option; empty when it is usable."""
        found = []
        for name in ("pays", "withdraws"):
            if getattr(self, name) < 0:
                found.append(f"--{name} must be 0 or more")
        if self.salers < 1:
            found.append("--salers must be at least 1")
        if not 1 <= self.min_amount <= MAX_AMOUNT_FEN:
            found.append(f"--min-amount must be from 1 to {MAX_AMOUNT_FEN} fen")
        if not 1 <= self.max_amount <= MAX_AMOUNT_FEN:
            found.append(f"--max-amount must be from 1 to {MAX_AMOUNT_FEN} fen")
        if self.min_amount > self.max_amount:
            found.append("--min-amount must not exceed --max-amount")
        if not 0 <= self.overdraw_share <= 1:
            found.append("--overdraw-share must be in [0, 1]")
        if not self.saler_prefix:
            found.append("--saler-prefix must not be empty")
        return found


@dataclass(frozen=True)
class PlannedCall:
    index: int          # position in the plan
    kind: str           # PAY or WITHDRAW
    saler_id: str
    amount: int         # fen
    overdraw: bool = False

    @property
    def path(self) -> str:
        return f"/merchant/{self.kind}"

    def body(self) -> dict:
        field = "total_fee" if self.kind == PAY else "withdraw_money"
        # Digits in a string, as in the contract's messages.
        return {"saler_id": self.saler_id, field: str(self.amount)}


def saler_ids(spec: PlanSpec) -> List[str]:
    width = max(2, len(str(spec.salers)))
    return [f"{spec.saler_prefix}{n:0{width}d}" for n in range(1, spec.salers + 1)]


def overdraw_count(spec: PlanSpec) -> int:
    return round(spec.withdraws * spec.overdraw_share)


def plan(spec: PlanSpec) -> List[PlannedCall]:
    problems = spec.problems()
    if problems:
        raise ValueError("; ".join(problems))
    rng = random.Random(spec.seed)
    salers = saler_ids(spec)
    pays = [(rng.choice(salers), rng.randint(spec.min_amount, spec.max_amount))
            for _ in range(spec.pays)]
    planned_total: Dict[str, int] = {saler: 0 for saler in salers}
    for saler, amount in pays:
        planned_total[saler] += amount

    total = spec.pays + spec.withdraws
    pays_first = int(spec.pays * PAYS_FIRST_SHARE)
    withdraw_slots = set(rng.sample(range(pays_first, total), spec.withdraws))
    overdraws = set(rng.sample(range(spec.withdraws), overdraw_count(spec)))

    calls: List[PlannedCall] = []
    paid = {saler: 0 for saler in salers}        # planned pays so far
    withdrawn = {saler: 0 for saler in salers}   # planned normal withdraws so far
    next_pay = next_withdraw = 0
    for index in range(total):
        if index not in withdraw_slots:
            saler, amount = pays[next_pay]
            next_pay += 1
            paid[saler] += amount
            calls.append(PlannedCall(index, PAY, saler, amount))
            continue
        is_overdraw = next_withdraw in overdraws
        next_withdraw += 1
        if is_overdraw:
            saler = rng.choice(salers)
            amount = min(MAX_AMOUNT_FEN, planned_total[saler] + rng.randint(1, spec.max_amount))
        else:
            funded = [s for s in salers if paid[s] > withdrawn[s]]
            saler = rng.choice(funded or salers)
            available = paid[saler] - withdrawn[saler]
            # Nothing paid yet anywhere: ask the smallest amount, and let it fail.
            amount = (rng.randint(max(1, available // 10), max(1, available // 2))
                      if available > 0 else spec.min_amount)
            withdrawn[saler] += amount
        calls.append(PlannedCall(index, WITHDRAW, saler, amount, overdraw=is_overdraw))
    return calls
