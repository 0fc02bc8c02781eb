"""Each rule of `pay_trans` on its own and in combination: the named code, nothing written."""
import pytest

from chalicelib.errors import ErrorCode, InvalidField, PaySettleError
from chalicelib.payments.trades import service
from chalicelib.payments.trades.service import find_trade
from tests.trades.support import movements

ONE_UP = {"up_merchants": [{"user_id": "agent1", "level": 1}],
          "billing_solution": [{"user_id": "agent1", "amount": 0, "fee_amount": 200}]}


def refused(book, trans_id, code: ErrorCode, field: str = None, **inputs) -> PaySettleError:
    """The pay is refused with `code`; no balance, journal entry or trade state changed."""
    before = book.read()
    with pytest.raises(PaySettleError) as caught:
        book.pay(trans_id, **inputs)
    assert caught.value.code is code, caught.value.message
    if field:
        assert caught.value.field == field
    after = book.read()
    assert movements(before, after) == {}
    assert after.journal == before.journal
    assert find_trade(book.ctx, trans_id)["state"] == "RECORDED"     # still payable
    return caught.value


# -- Rule 1 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("given", [
    {"fee_type": 1}, {"fee_settlement_type": "REALTIME"}, {"pay_mode": "BALANCE"},
    {"fee_type": 1, "fee_settlement_type": "REALTIME"}, {"fee_type": 1, "pay_mode": "BALANCE"},
    {"fee_settlement_type": "REALTIME", "pay_mode": "BALANCE"}])
def test_rule_1_fee_fields_come_together(book, given):
    refused(book, book.trade(), ErrorCode.FEE_FIELDS_NOT_TOGETHER, "fee_type", **given)


def test_rule_1_all_or_none_is_accepted(book):
    assert book.pay(book.trade())["state"] == "SETTLED"
    assert book.pay(book.trade(), fee_type=1, fee_settlement_type="REALTIME",
                    pay_mode="BALANCE")["state"] == "SETTLED"


# -- Rule 2 ---------------------------------------------------------------------------------

def test_rule_2_pay_mode_must_equal_the_trades(book):
    refused(book, book.trade(mode="BALANCE"), ErrorCode.PAY_MODE_MISMATCH, "pay_mode",
            fee_type=1, fee_settlement_type="REALTIME", pay_mode="CHANNEL")
    refused(book, book.trade(mode="CHANNEL", channel_id="wx"), ErrorCode.PAY_MODE_MISMATCH,
            "pay_mode", fee_type=1, fee_settlement_type="REALTIME", pay_mode="BALANCE")


# -- Rule 3 ---------------------------------------------------------------------------------

def test_rule_3_given_values_override_the_stored_ones(book):
    trans_id = book.trade(cash=1000, settlement="REALTIME", mode="CHANNEL", channel_id="wx",
                          fee_amount=100, fee_user_id="wallet")
    book.declare("wallet2", "C")
    answer = book.pay(trans_id, channel_id="alipay", settlement_type="ASYNC", fee_amount=30,
                      fee_user_id="wallet2")
    effective = answer["settlement"]
    assert (effective["channel_id"], effective["settlement_type"], effective["fee_amount"],
            effective["fee_user_id"]) == ("alipay", "ASYNC", 30, "wallet2")
    assert effective["fee_settlement_type"] == "ASYNC"          # defaults to the settlement type
    assert {"account_id": "@channel:alipay", "sub_account": 1, "amount": -1000, "leg": "PAY",
            "phase": "REALTIME"} in answer["postings"]
    book.apply()
    ledger = book.read()
    assert ledger.balance("wallet2", 3) == 30 and ledger.balance("wallet", 3) == 0
    assert ledger.balance("seller", 3) == 970


def test_rule_3_stored_values_apply_when_not_given(book):
    trans_id = book.trade(cash=1000, fee_amount=100, fee_user_id="wallet")
    answer = book.pay(trans_id)
    assert answer["settlement"]["fee_amount"] == 100
    assert answer["settlement"]["fee_type"] == 1
    assert book.read().balance("wallet") == 100


# -- Rule 4 and the order of settlement ------------------------------------------------------

def test_rule_4_realtime_fee_collected_later_is_refused(book):
    trans_id = book.trade(fee_amount=100, fee_user_id="wallet")
    refused(book, trans_id, ErrorCode.REALTIME_FEE_COLLECTED_LATER, "fee_type",
            fee_type=2, fee_settlement_type="REALTIME", pay_mode="BALANCE")


def test_an_async_trade_cannot_settle_its_fee_in_realtime(book):
    trans_id = book.trade(settlement="ASYNC", fee_amount=100, fee_user_id="wallet")
    refused(book, trans_id, ErrorCode.FEE_BEFORE_TRADE, "fee_settlement_type",
            fee_type=1, fee_settlement_type="REALTIME", pay_mode="BALANCE")


# -- Rule 5 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("settlement, sub", [("REALTIME", 1), ("ASYNC", 3)])
def test_rule_5_the_sellers_sub_account_follows_the_settlement_type(book, settlement, sub):
    answer = book.pay(book.trade(cash=700, settlement=settlement))
    [trade_leg] = [p for p in answer["postings"] if p["account_id"] == "seller"]
    assert trade_leg["sub_account"] == sub
    book.apply()
    ledger = book.read()
    assert ledger.balance("seller", sub) == 700
    assert ledger.balance("seller", 4 - sub) == 0


def test_the_parties_need_accounts(book):
    refused(book, book.trade(seller="nobody"), ErrorCode.TRADE_PARTY_NOT_FOUND, "seller_id")
    refused(book, book.trade(buyer="ghost"), ErrorCode.TRADE_PARTY_NOT_FOUND, "buyer_id")


def test_frozen_or_closed_parties_are_refused(book):
    book.declare("frozen", "B", "FROZEN")
    refused(book, book.trade(seller="frozen"), ErrorCode.ACCOUNT_NOT_NORMAL, "seller_id")


def test_a_channel_trade_needs_a_channel(book):
    with pytest.raises(InvalidField) as caught:
        book.pay(book.trade(mode="CHANNEL"))
    assert caught.value.field == "channel_id"


# -- Rule 6 ---------------------------------------------------------------------------------

def test_rule_6_fee_at_most_the_cash_amount(book):
    refused(book, book.trade(cash=100), ErrorCode.FEE_EXCEEDS_CASH, "fee_amount",
            fee_amount=101, fee_user_id="wallet")
    assert book.pay(book.trade(cash=100), fee_amount=100, fee_user_id="wallet")["state"] == "SETTLED"


@pytest.mark.parametrize("fee_user, code", [
    (None, ErrorCode.FEE_ACCOUNT_NOT_FOUND), ("missing", ErrorCode.FEE_ACCOUNT_NOT_FOUND),
    ("seller", ErrorCode.FEE_ACCOUNT_IS_PARTY), ("buyer", ErrorCode.FEE_ACCOUNT_IS_PARTY),
    ("partner", ErrorCode.FEE_ACCOUNT_NOT_C)])
def test_rule_6_the_fee_account(book, fee_user, code):
    inputs = {"fee_amount": 10} | ({"fee_user_id": fee_user} if fee_user else {})
    refused(book, book.trade(), code, "fee_user_id", **inputs)


def test_rule_6_a_zero_fee_needs_no_fee_account(book):
    assert book.pay(book.trade(), fee_amount=0, fee_user_id="missing")["state"] == "SETTLED"


def test_rule_6_a_closed_fee_account_is_refused(book):
    book.declare("closedwallet", "C", "CLOSED")
    refused(book, book.trade(), ErrorCode.ACCOUNT_NOT_NORMAL, "fee_user_id", fee_amount=10,
            fee_user_id="closedwallet")


@pytest.mark.parametrize("fee_user, code", [
    (None, ErrorCode.BUYER_FEE_ACCOUNT_NOT_FOUND), ("missing", ErrorCode.BUYER_FEE_ACCOUNT_NOT_FOUND),
    ("seller", ErrorCode.BUYER_FEE_ACCOUNT_IS_PARTY), ("buyer", ErrorCode.BUYER_FEE_ACCOUNT_IS_PARTY),
    ("agent1", ErrorCode.BUYER_FEE_ACCOUNT_NOT_C)])
def test_rule_6_the_buyer_fee_account(book, fee_user, code):
    inputs = {"buyer_fee_amount": 10} | ({"buyer_fee_user_id": fee_user} if fee_user else {})
    refused(book, book.trade(), code, "buyer_fee_user_id", **inputs)


# -- Rule 7 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("user, code", [
    ("missing", ErrorCode.SHARING_ACCOUNT_NOT_FOUND), ("icy", ErrorCode.SHARING_ACCOUNT_NOT_NORMAL),
    ("seller", ErrorCode.SHARING_ACCOUNT_IS_PARTY), ("buyer", ErrorCode.SHARING_ACCOUNT_IS_PARTY)])
def test_rule_7_sharing_accounts(book, user, code):
    book.declare("icy", "B", "FROZEN")
    refused(book, book.trade(), code, "billing_solution",
            billing_solution=[{"user_id": "partner", "amount": 10}, {"user_id": user, "amount": 10}])


# -- Rule 8 ---------------------------------------------------------------------------------

def test_rule_8_each_up_merchant_is_in_the_solution(book):
    refused(book, book.trade(fee_amount=300, fee_user_id="wallet"),
            ErrorCode.UP_MERCHANT_NOT_IN_SOLUTION, "up_merchants",
            up_merchants=[{"user_id": "agent1", "level": 1}, {"user_id": "agent2", "level": 2}],
            billing_solution=[{"user_id": "agent1", "amount": 0, "fee_amount": 200}])


@pytest.mark.parametrize("ups, solution", [
    # a solution user who is not an up-merchant
    ([{"user_id": "agent1", "level": 1}],
     [{"user_id": "agent1", "amount": 0, "fee_amount": 200}, {"user_id": "partner", "amount": 5}]),
    # three up-merchants
    ([{"user_id": "agent1", "level": 1}, {"user_id": "agent2", "level": 2},
      {"user_id": "partner", "level": 2}],
     [{"user_id": "agent1", "amount": 0}, {"user_id": "agent2", "amount": 0},
      {"user_id": "partner", "amount": 0}]),
    # two on one level
    ([{"user_id": "agent1", "level": 1}, {"user_id": "agent2", "level": 1}],
     [{"user_id": "agent1", "amount": 0}, {"user_id": "agent2", "amount": 0}]),
    # fee amounts without up-merchants
    (None, [{"user_id": "partner", "amount": 0, "fee_amount": 5}]),
])
def test_rule_8_up_merchants_and_solution_are_one_set_of_at_most_two(book, ups, solution):
    inputs = {"billing_solution": solution} | ({"up_merchants": ups} if ups else {})
    refused(book, book.trade(fee_amount=300, fee_user_id="wallet"),
            ErrorCode.UP_MERCHANT_SET_MISMATCH, **inputs)


@pytest.mark.parametrize("solution", [
    # two levels: top's fee_plus_amount must equal the middle's fee_amount
    [{"user_id": "agent1", "amount": 0, "fee_amount": 200},
     {"user_id": "agent2", "amount": 0, "fee_amount": 100, "fee_plus_amount": 150}],
    # two levels: the top would earn less than nothing
    [{"user_id": "agent1", "amount": 0, "fee_amount": 200},
     {"user_id": "agent2", "amount": 0, "fee_amount": 250, "fee_plus_amount": 200}],
    # two levels: the middle would earn less than nothing (fee 300 < 400)
    [{"user_id": "agent1", "amount": 0, "fee_amount": 400},
     {"user_id": "agent2", "amount": 0, "fee_amount": 100, "fee_plus_amount": 400}],
])
def test_rule_8_the_fee_chain_of_two_levels(book, solution):
    refused(book, book.trade(fee_amount=300, fee_user_id="wallet"), ErrorCode.UP_MERCHANT_FEE_CHAIN,
            "billing_solution",
            up_merchants=[{"user_id": "agent1", "level": 1}, {"user_id": "agent2", "level": 2}],
            billing_solution=solution)


def test_rule_8_one_level_has_no_fee_plus_amount(book):
    refused(book, book.trade(fee_amount=300, fee_user_id="wallet"), ErrorCode.UP_MERCHANT_FEE_CHAIN,
            up_merchants=[{"user_id": "agent1", "level": 1}],
            billing_solution=[{"user_id": "agent1", "amount": 0, "fee_amount": 200,
                               "fee_plus_amount": 1}])


# -- Rule 9 ---------------------------------------------------------------------------------

def test_rule_9_sharing_at_most_what_the_seller_receives(book):
    trans_id = book.trade(cash=1000, fee_amount=100, fee_user_id="wallet")
    refused(book, trans_id, ErrorCode.SHARING_EXCEEDS_PROCEEDS, "billing_solution",
            billing_solution=[{"user_id": "partner", "amount": 901}])
    answer = book.pay(trans_id, billing_solution=[{"user_id": "partner", "amount": 900}])
    assert answer["state"] == "SETTLED"
    assert book.read().balance("seller") == 0


# -- Rule 10 --------------------------------------------------------------------------------

def test_rule_10_a_marketing_solution_is_recorded_not_posted(book):
    trans_id = book.trade(cash=1000)
    before = book.read()
    answer = book.pay(trans_id, mkt_solution={"total_amount": 300, "no_settlement_amount": 120})
    assert answer["settlement"]["mkt_solution"] == {"total_amount": 300, "no_settlement_amount": 120}
    assert movements(before, book.read()) == {("buyer", 1): -1000, ("seller", 1): 1000}


# -- The buyer's balance ------------------------------------------------------------------------

def test_balance_must_cover_cash_plus_buyer_fee(book):
    trans_id = book.trade(cash=99_950)
    error = refused(book, trans_id, ErrorCode.TRADE_BALANCE_SHORT, "buyer_id",
                    buyer_fee_amount=51, buyer_fee_user_id="buyerfees")
    assert "100001" in error.message
    answer = book.pay(trans_id, buyer_fee_amount=50, buyer_fee_user_id="buyerfees")
    assert answer["state"] == "SETTLED"
    assert book.read().balance("buyer") == 0


def test_a_settlement_too_large_for_one_transaction_is_refused(book):
    for n in range(20):
        book.declare(f"p{n}", "B")
    solution = [{"user_id": f"p{n}", "amount": 1} for n in range(20)]
    # 20 sharing users fit easily; the item count is checked before anything is sent
    assert book.pay(book.trade(cash=1000), billing_solution=solution)["state"] == "SETTLED"
    service.ledger_items.MAX_TRANSACTION_ITEMS, saved = 40, service.ledger_items.MAX_TRANSACTION_ITEMS
    try:
        refused(book, book.trade(cash=1000), ErrorCode.TRADE_TOO_LARGE, billing_solution=solution)
    finally:
        service.ledger_items.MAX_TRANSACTION_ITEMS = saved


# -- In combination: the first failing rule answers -------------------------------------------

@pytest.mark.parametrize("inputs, code", [
    # rules 1 and 6 broken: rule 1 answers
    ({"fee_type": 1, "fee_amount": 10**9, "fee_user_id": "wallet"}, ErrorCode.FEE_FIELDS_NOT_TOGETHER),
    # rules 2 and 4 broken: rule 2 answers
    ({"fee_type": 2, "fee_settlement_type": "REALTIME", "pay_mode": "CHANNEL"}, ErrorCode.PAY_MODE_MISMATCH),
    # rules 6 and 7 broken: rule 6 answers
    ({"fee_amount": 10, "fee_user_id": "seller", "billing_solution": [{"user_id": "buyer", "amount": 1}]},
     ErrorCode.FEE_ACCOUNT_IS_PARTY),
    # rules 7 and 9 broken: rule 7 answers
    ({"billing_solution": [{"user_id": "missing", "amount": 10**9}]}, ErrorCode.SHARING_ACCOUNT_NOT_FOUND),
    # rules 8 and 9 broken: rule 8 answers
    ({"fee_amount": 300, "fee_user_id": "wallet", "up_merchants": [{"user_id": "agent1", "level": 1}],
      "billing_solution": [{"user_id": "agent1", "amount": 10**9, "fee_amount": 301}]},
     ErrorCode.UP_MERCHANT_FEE_CHAIN),
])
def test_rules_in_combination(book, inputs, code):
    refused(book, book.trade(cash=1000), code, **inputs)


def test_every_rule_satisfied_at_once_settles(book):
    trans_id = book.trade(cash=10_000, settlement="REALTIME", fee_amount=300, fee_user_id="wallet")
    answer = book.pay(trans_id, fee_type=1, fee_settlement_type="ASYNC", pay_mode="BALANCE",
                      buyer_fee_amount=50, buyer_fee_user_id="buyerfees",
                      mkt_solution={"total_amount": 10, "no_settlement_amount": 0}, **ONE_UP)
    assert answer["state"] == "SETTLING"
    assert book.apply().applied == 1
