"""Property: whatever the inputs (fees, solutions, and any combination of the other pay_trans
inputs: combined pay modes, who bears the fee, need_share_profit, the recorded flags, the inputs
refused by name), a settled trade's journal entries sum to zero (each phase on its own too),
exactly the accounts of its postings move, by their postings, and every balance equals its
journal and stays >= 0; a refused trade moves nothing."""
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib.errors import InvalidField, PaySettleError
from chalicelib.payments.trades.service import find_trade
from tests.trades.conftest import trades_context
from tests.trades.support import Book, assert_journal_matches_balances, movements
from tests.unit.support import aws_stack

USERS = ["wallet", "wallet2", "buyerfees", "agent1", "agent2", "partner", "seller", "buyer",
         "icy", "missing"]


@pytest.fixture(scope="module")
def world():
    with aws_stack("tradeprops") as stack:
        book = Book(stack.context(), trades_context())
        for account_id, kind, status in (
                ("buyer", "B", "NORMAL"), ("seller", "B", "NORMAL"), ("wallet", "C", "NORMAL"),
                ("wallet2", "C", "NORMAL"), ("buyerfees", "C", "NORMAL"), ("agent1", "B", "NORMAL"),
                ("agent2", "B", "NORMAL"), ("partner", "B", "NORMAL"), ("icy", "B", "FROZEN")):
            book.declare(account_id, kind, status)
        book.fund("buyer", 10_000_000)
        yield book


amounts = st.integers(min_value=0, max_value=3_000)


@st.composite
def scenarios(draw):
    cash = draw(st.integers(min_value=1, max_value=20_000))
    trade = {"cash": cash, "settlement": draw(st.sampled_from(["REALTIME", "ASYNC"])),
             "mode": draw(st.sampled_from(["BALANCE", "CHANNEL"]))}
    if trade["mode"] == "CHANNEL" or draw(st.booleans()):
        trade["channel_id"] = draw(st.sampled_from(["wx", "alipay"]))
    pay = {}
    if draw(st.booleans()):
        pay.update(fee_type=draw(st.sampled_from([1, 2])),
                   fee_settlement_type=draw(st.sampled_from(["REALTIME", "ASYNC"])),
                   pay_mode=draw(st.sampled_from([trade["mode"], "BALANCE", "CHANNEL"])))
    fee = draw(st.integers(min_value=0, max_value=cash + 10))
    pay["fee_amount"] = fee
    pay["fee_user_id"] = draw(st.sampled_from(["wallet", "wallet2", "wallet", "partner", "seller"]))
    if draw(st.booleans()):
        pay["buyer_fee_amount"] = draw(amounts)
        pay["buyer_fee_user_id"] = draw(st.sampled_from(["buyerfees", "wallet", "agent1"]))
    levels = draw(st.sampled_from([0, 0, 1, 2]))
    if levels:
        middle_fee = draw(st.integers(min_value=0, max_value=fee + 5))
        top_fee = draw(st.integers(min_value=0, max_value=middle_fee + 5))
        if levels == 1:
            pay["up_merchants"] = [{"user_id": "agent1", "level": draw(st.sampled_from([1, 2]))}]
            pay["billing_solution"] = [{"user_id": "agent1", "amount": draw(amounts),
                                        "fee_amount": middle_fee,
                                        "fee_plus_amount": draw(st.sampled_from([0, 0, 0, 7]))}]
        else:
            pay["up_merchants"] = [{"user_id": "agent1", "level": 1}, {"user_id": "agent2", "level": 2}]
            pay["billing_solution"] = [
                {"user_id": "agent1", "amount": draw(amounts), "fee_amount": middle_fee},
                {"user_id": "agent2", "amount": draw(amounts), "fee_amount": top_fee,
                 "fee_plus_amount": draw(st.sampled_from([middle_fee, middle_fee, middle_fee + 1]))}]
    elif draw(st.booleans()):
        users = draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=3, unique=True))
        pay["billing_solution"] = [{"user_id": u, "amount": draw(amounts)} for u in users]
    if draw(st.booleans()):
        total = draw(amounts)
        pay["mkt_solution"] = {"total_amount": total,
                               "no_settlement_amount": draw(st.integers(0, total))}
    if draw(st.booleans()):
        pay.update(more_inputs(draw, trade, pay))
    return trade, pay


def more_inputs(draw, trade, pay) -> dict:
    """The other pay_trans inputs: who bears the fee, a combined payment (mostly adding up),
    the sharing flag, the recorded flags, and now and then an input that is refused by name."""
    more = {}
    payer = draw(st.sampled_from([None, "SELLER", "BUYER", "BUYER"]))
    if payer:
        more["fee_amount_payer_flag"] = payer
    if draw(st.booleans()):
        total = (trade["cash"] + (pay.get("buyer_fee_amount") or 0)
                 + (pay["fee_amount"] if payer == "BUYER" else 0)
                 + draw(st.sampled_from([0, 0, 0, 0, 1, -1])))
        balance = draw(st.integers(min_value=0, max_value=max(total, 0)))
        parts = ([{"pay_mode": "BALANCE", "amount": balance}] if balance > 0 else []) + (
            [{"pay_mode": "CHANNEL", "amount": total - balance}] if total - balance > 0 else [])
        if parts:
            more["pay_mode_var"] = draw(st.permutations(parts))
            if "pay_mode" in pay and draw(st.integers(0, 9)):
                more["pay_mode"] = None                 # mostly instead of pay_mode
            elif "pay_mode" not in pay and draw(st.integers(0, 9)):
                more.update(fee_type=draw(st.sampled_from([1, 2])),
                            fee_settlement_type=draw(st.sampled_from(["REALTIME", "ASYNC"])))
    for name, choices in (("need_share_profit", [None, True, False]),
                          ("is_refund_fee_amount_flag", [None, True, False]),
                          ("client_source_flag", [None, "app", "web"]),
                          ("mkt_solution_id", [None, None, "mkt-1"]),
                          ("parallel_type", [None, "SINGLE_IN"] * 4 + ["MULTIPLE_IN"]),
                          ("special_code", [None] * 19 + ["S1"]),
                          ("recv_recvable_id", [None] * 19 + ["recv-1"]),
                          ("credit_recv", [None] * 19 + [{"credit_recv_id": "cr-1"}])):
        value = draw(st.sampled_from(choices))
        if value is not None:
            more[name] = value
    return more


def without_none(pay: dict) -> dict:
    return {k: v for k, v in pay.items() if v is not None}


@st.composite
def combined_scenarios(draw):
    """Trades built to pass the fee and solution rules, so that the other pay_trans inputs are
    what decides: combined payments, the fee borne by either side, fee type 1 or 2, realtime or
    async, need_share_profit, the recorded flags, mostly consistent and now and then not."""
    cash = draw(st.integers(min_value=1, max_value=20_000))
    settlement = draw(st.sampled_from(["REALTIME", "ASYNC"]))
    trade = {"cash": cash, "settlement": settlement,
             "mode": draw(st.sampled_from(["BALANCE", "CHANNEL"])), "channel_id": "wx"}
    payer = draw(st.sampled_from(["SELLER", "BUYER"]))
    fee = draw(st.integers(min_value=0, max_value=cash))
    fee_settlement = "ASYNC" if settlement == "ASYNC" else draw(st.sampled_from(["REALTIME", "ASYNC"]))
    fee_type = 1 if fee_settlement == "REALTIME" or payer == "BUYER" else draw(st.sampled_from([1, 2]))
    if draw(st.integers(0, 19)) == 0:
        fee_type = 2                                # now and then a combination that is refused
    pay = {"fee_amount": fee, "fee_user_id": "wallet", "fee_amount_payer_flag": payer,
           "fee_type": fee_type, "fee_settlement_type": fee_settlement}
    buyer_fee = draw(st.sampled_from([0, 0, draw(amounts)]))
    if buyer_fee:
        pay.update(buyer_fee_amount=buyer_fee, buyer_fee_user_id="buyerfees")
    if fee and draw(st.booleans()):
        middle = draw(st.integers(min_value=0, max_value=fee))
        pay["up_merchants"] = [{"user_id": "agent1", "level": 1}]
        pay["billing_solution"] = [{"user_id": "agent1", "amount": 0, "fee_amount": middle}]
    elif draw(st.booleans()):
        proceeds = cash - (fee if payer == "SELLER" else 0)
        pay["billing_solution"] = [{"user_id": "partner", "amount": draw(st.integers(0, proceeds))}]
    shares = sum(item["amount"] for item in pay.get("billing_solution", []))
    need = draw(st.sampled_from([None, bool(shares), bool(shares), not shares]))
    if need is not None:
        pay["need_share_profit"] = need
    total = cash + buyer_fee + (fee if payer == "BUYER" else 0) + draw(
        st.sampled_from([0] * 9 + [1, -1]))
    balance = draw(st.integers(min_value=0, max_value=max(total, 0)))
    parts = ([{"pay_mode": "BALANCE", "amount": balance}] if balance > 0 else []) + (
        [{"pay_mode": "CHANNEL", "amount": total - balance}] if total - balance > 0 else [])
    if parts and draw(st.integers(0, 3)):
        pay["pay_mode_var"] = draw(st.permutations(parts))
    else:
        pay["pay_mode"] = trade["mode"]
    for name, choices in (("is_refund_fee_amount_flag", [None, True, False]),
                          ("client_source_flag", [None, "app"]),
                          ("parallel_type", [None, "SINGLE_IN"])):
        value = draw(st.sampled_from(choices))
        if value is not None:
            pay[name] = value
    if draw(st.booleans()):
        pay.update(mkt_solution={"total_amount": 10, "no_settlement_amount": 0}, mkt_solution_id="m1")
    return trade, pay


def settle_and_check_the_ledger(book, trade, pay) -> None:
    trans_id = book.trade(cash=trade["cash"], settlement=trade["settlement"], mode=trade["mode"],
                          channel_id=trade.get("channel_id"))
    before = book.read()
    try:
        answer = book.pay(trans_id, **without_none(pay))
    except (PaySettleError, InvalidField) as refusal:
        event(f"refused {refusal.code.name}")
        assert movements(before, book.read()) == {}
        assert find_trade(book.ctx, trans_id)["state"] == "RECORDED"
        return
    event(f"settled {trade['settlement']} fee {answer['settlement']['fee_settlement_type']} "
          f"{'with' if pay.get('up_merchants') else 'no'} up-merchants, fee borne by "
          f"{answer['settlement']['fee_amount_payer_flag']}, "
          f"{len(answer['settlement']['pay_mode_var'])} payment part(s)")
    book.apply()
    after = book.read()
    assert find_trade(book.ctx, trans_id)["state"] == "SETTLED"
    entries = after.trade_entries(trans_id)
    assert sum(e["amount"] for e in entries) == 0
    for phase in {e["phase"] for e in entries}:
        assert sum(e["amount"] for e in entries if e["phase"] == phase) == 0, phase
    expected = {}
    for posting in answer["postings"]:
        key = (posting["account_id"], posting["sub_account"])
        expected[key] = expected.get(key, 0) + posting["amount"]
    assert movements(before, after) == {k: v for k, v in expected.items() if v}
    assert len(entries) == len(answer["postings"])
    assert_journal_matches_balances(after)
    # the fee is split without loss: wallet + up-merchants = fee
    fee_legs = [p for p in answer["postings"] if p["leg"] == "FEE" and p["amount"] > 0]
    assert sum(p["amount"] for p in fee_legs) == answer["settlement"]["fee_amount"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_every_settled_trade_balances_and_moves_only_its_accounts(world, scenario):
    settle_and_check_the_ledger(world, *scenario)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=combined_scenarios())
def test_every_combination_of_pay_trans_inputs_balances_in_the_ledger(world, scenario):
    settle_and_check_the_ledger(world, *scenario)


ACCOUNTS = {
    "buyer": ("B", "NORMAL"), "seller": ("B", "NORMAL"), "wallet": ("C", "NORMAL"),
    "wallet2": ("C", "NORMAL"), "buyerfees": ("C", "NORMAL"), "agent1": ("B", "NORMAL"),
    "agent2": ("B", "NORMAL"), "partner": ("B", "NORMAL"), "icy": ("B", "FROZEN")}


@settings(max_examples=1500, deadline=None)
@given(scenario=scenarios())
def test_every_plan_the_rules_accept_posts_balanced_phases_in_order(scenario):
    """The pure core, many more cases: each phase sums to zero; realtime postings never take
    more from the seller than it gets in the same phase; async fee postings come after the trade."""
    check_the_plan(*scenario)


@settings(max_examples=800, deadline=None)
@given(scenario=combined_scenarios())
def test_every_combination_of_pay_trans_inputs_posts_balanced_phases(scenario):
    check_the_plan(*scenario)


def check_the_plan(trade, pay) -> None:
    from chalicelib.payments.registry import AccountInfo
    from chalicelib.payments.trades import rules
    from chalicelib.payments.trades.messages import PayTradeRequest
    from chalicelib.payments.trades.postings import PHASES, postings
    record = {"trans_id": "20240301101500000001", "buyer_id": "buyer", "seller_id": "seller",
              "cash_amount": trade["cash"], "settlement_type": trade["settlement"],
              "payment_mode": trade["mode"], "channel_id": trade.get("channel_id")}
    accounts = {a: AccountInfo(a, True, kind, status) for a, (kind, status) in ACCOUNTS.items()}
    try:
        plan = rules.plan(record, PayTradeRequest(**without_none(pay)), accounts)
    except (PaySettleError, InvalidField) as refusal:
        event(f"refused {refusal.code.name}")
        return
    event(f"{plan.settlement_type} trade, {plan.fee_settlement_type} fee, fee_type {plan.fee_type}, "
          f"fee borne by {plan.fee_payer}, {len(plan.payment_parts())} payment part(s)")
    found = postings(plan)
    for phase in PHASES:
        assert sum(p.amount for p in found if p.phase == phase) == 0, phase
    realtime_net = {}
    for p in found:
        if p.phase == "REALTIME":
            key = (p.account_id, p.sub_account)
            realtime_net[key] = realtime_net.get(key, 0) + p.amount
    negative = {k for k, v in realtime_net.items() if v < 0}
    assert negative <= {("buyer", 1)} | {(f"@channel:{plan.channel_id}", 1)}, realtime_net
    fee_in = sum(p.amount for p in found if p.leg == "FEE" and p.amount > 0)
    assert fee_in == plan.fee_amount
    # the buyer pays, by mode, exactly what the plan says; the fee comes out of the cash only
    # when the seller bears it
    paid = {}
    for p in found:
        if p.leg == "PAY" and p.amount < 0:
            mode = "BALANCE" if p.account_id == "buyer" else "CHANNEL"
            paid[mode] = paid.get(mode, 0) - p.amount
    given = without_none(pay)
    if given.get("pay_mode_var"):
        assert paid == {part["pay_mode"]: part["amount"] for part in given["pay_mode_var"]}
    assert sum(paid.values()) == plan.buyer_total
    seller_net = sum(p.amount for p in found if p.account_id == "seller")
    kept_fee = plan.fee_amount if plan.fee_payer == "SELLER" else 0
    assert seller_net == plan.cash_amount - sum(a for _, a in plan.shares) - kept_fee
    # every accepted input is on the recorded settlement, none dropped
    recorded = plan.settlement()
    assert recorded["fee_amount_payer_flag"] == given.get("fee_amount_payer_flag", "SELLER")
    assert recorded["need_share_profit"] == given.get("need_share_profit")
    assert recorded["is_refund_fee_amount_flag"] == given.get("is_refund_fee_amount_flag", False)
    assert recorded["client_source_flag"] == given.get("client_source_flag")
    assert recorded["mkt_solution_id"] == given.get("mkt_solution_id")
    assert recorded["parallel_type"] == "SINGLE_IN"
    assert sum(part["amount"] for part in recorded["pay_mode_var"]) == plan.buyer_total
