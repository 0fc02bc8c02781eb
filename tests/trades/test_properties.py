"""Property: whatever the inputs, a settled trade's journal entries sum to zero (each phase on its
own too), exactly the accounts of its postings move, by their postings, and every balance equals
its journal and stays >= 0; a refused trade moves nothing."""
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
        book = Book(stack.context(), trades_context(stack))
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
    return trade, pay


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_every_settled_trade_balances_and_moves_only_its_accounts(world, scenario):
    trade, pay = scenario
    book = world
    trans_id = book.trade(cash=trade["cash"], settlement=trade["settlement"], mode=trade["mode"],
                          channel_id=trade.get("channel_id"))
    before = book.read()
    try:
        answer = book.pay(trans_id, **pay)
    except (PaySettleError, InvalidField) as refusal:
        event(f"refused {refusal.code.name}")
        assert movements(before, book.read()) == {}
        assert find_trade(book.ctx, trans_id)["state"] == "RECORDED"
        return
    event(f"settled {trade['settlement']} fee {answer['settlement']['fee_settlement_type']} "
          f"{'with' if pay.get('up_merchants') else 'no'} up-merchants")
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


ACCOUNTS = {
    "buyer": ("B", "NORMAL"), "seller": ("B", "NORMAL"), "wallet": ("C", "NORMAL"),
    "wallet2": ("C", "NORMAL"), "buyerfees": ("C", "NORMAL"), "agent1": ("B", "NORMAL"),
    "agent2": ("B", "NORMAL"), "partner": ("B", "NORMAL"), "icy": ("B", "FROZEN")}


@settings(max_examples=1500, deadline=None)
@given(scenario=scenarios())
def test_every_plan_the_rules_accept_posts_balanced_phases_in_order(scenario):
    """The pure core, many more cases: each phase sums to zero; realtime postings never take
    more from the seller than it gets in the same phase; async fee postings come after the trade."""
    from chalicelib.payments.registry import AccountInfo
    from chalicelib.payments.trades import rules
    from chalicelib.payments.trades.messages import PayTradeRequest
    from chalicelib.payments.trades.postings import PHASES, postings
    trade, pay = scenario
    record = {"trans_id": "20240301101500000001", "buyer_id": "buyer", "seller_id": "seller",
              "cash_amount": trade["cash"], "settlement_type": trade["settlement"],
              "payment_mode": trade["mode"], "channel_id": trade.get("channel_id")}
    accounts = {a: AccountInfo(a, True, kind, status) for a, (kind, status) in ACCOUNTS.items()}
    try:
        plan = rules.plan(record, PayTradeRequest(**pay), accounts)
    except (PaySettleError, InvalidField) as refusal:
        event(f"refused {refusal.code.name}")
        return
    event(f"{plan.settlement_type} trade, {plan.fee_settlement_type} fee, fee_type {plan.fee_type}")
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
