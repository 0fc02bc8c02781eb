"""The `pay_trans` inputs beyond fees and solutions: combined pay modes, who bears the fee,
need_share_profit, the refund-fee flag, the client source, the marketing solution's id, and the
inputs that are refused by name (receivables, special_code, the MULTIPLE_IN payment plan).
Each alone, then in combination; every refusal names its field and writes nothing."""
import pytest

from chalicelib.errors import ErrorCode, InvalidField, PaySettleError
from chalicelib.payments.trades import applier, service
from chalicelib.payments.trades.service import find_trade
from tests.trades.support import assert_journal_matches_balances, movements
from tests.trades.test_rules import ONE_UP, refused

FEES_REALTIME = {"fee_type": 1, "fee_settlement_type": "REALTIME"}
BALANCE_AND_CHANNEL = [{"pay_mode": "BALANCE", "amount": 6_000}, {"pay_mode": "CHANNEL", "amount": 4_000}]


def refused_field(book, trans_id, field: str, **inputs) -> InvalidField:
    """A 1001 refusal naming `field`; nothing moved, the trade still payable."""
    before = book.read()
    with pytest.raises(InvalidField) as caught:
        book.pay(trans_id, **inputs)
    assert caught.value.field == field, caught.value.message
    assert movements(before, book.read()) == {}
    assert find_trade(book.ctx, trans_id)["state"] == "RECORDED"
    return caught.value


# -- Combined pay modes (pay_mode_var) --------------------------------------------------------------

def test_a_combined_payment_splits_the_cash_between_balance_and_channel(book):
    trans_id = book.trade(cash=10_000, channel_id="wx", fee_amount=300, fee_user_id="wallet")
    before = book.read()
    answer = book.pay(trans_id, pay_mode_var=BALANCE_AND_CHANNEL, **FEES_REALTIME)
    assert answer["state"] == "SETTLED"
    assert movements(before, book.read()) == {
        ("buyer", 1): -6_000, ("@channel:wx", 1): -4_000, ("seller", 1): 9_700, ("wallet", 1): 300}
    assert answer["settlement"]["pay_mode_var"] == BALANCE_AND_CHANNEL
    assert {(p["account_id"], p["amount"]) for p in answer["postings"] if p["leg"] == "PAY"} == {
        ("buyer", -6_000), ("@channel:wx", -4_000)}
    assert_journal_matches_balances(book.read())


def test_a_single_mode_payment_is_recorded_as_one_part(book):
    answer = book.pay(book.trade(cash=700))
    assert answer["settlement"]["pay_mode_var"] == [{"pay_mode": "BALANCE", "amount": 700}]


def test_a_combined_payment_of_an_async_trade_waits_in_transit(book):
    trans_id = book.trade(cash=10_000, settlement="ASYNC", mode="CHANNEL", channel_id="wx")
    before = book.read()
    book.pay(trans_id, fee_type=1, fee_settlement_type="ASYNC", pay_mode_var=BALANCE_AND_CHANNEL)
    assert movements(before, book.read()) == {
        ("buyer", 1): -6_000, ("@channel:wx", 1): -4_000, ("@transit", 1): 10_000}
    book.apply()
    assert movements(before, book.read()) == {
        ("buyer", 1): -6_000, ("@channel:wx", 1): -4_000, ("seller", 3): 10_000}


def test_the_balance_part_alone_must_be_covered(book):
    trans_id = book.trade(cash=150_000, channel_id="wx")
    refused(book, trans_id, ErrorCode.TRADE_BALANCE_SHORT, "buyer_id", **FEES_REALTIME,
            pay_mode_var=[{"pay_mode": "BALANCE", "amount": 100_001},
                          {"pay_mode": "CHANNEL", "amount": 49_999}])
    book.pay(trans_id, **FEES_REALTIME, pay_mode_var=[{"pay_mode": "BALANCE", "amount": 100_000},
                                                      {"pay_mode": "CHANNEL", "amount": 50_000}])
    assert book.read().balance("buyer") == 0


@pytest.mark.parametrize("parts", [
    [{"pay_mode": "BALANCE", "amount": 6_000}, {"pay_mode": "CHANNEL", "amount": 3_999}],
    [{"pay_mode": "BALANCE", "amount": 6_000}, {"pay_mode": "CHANNEL", "amount": 4_001}],
    [{"pay_mode": "BALANCE", "amount": 9_999}]])
def test_the_parts_must_add_up_to_what_the_buyer_pays(book, parts):
    error = refused(book, book.trade(cash=10_000, channel_id="wx"), ErrorCode.PAY_MODE_SPLIT_MISMATCH,
                    "pay_mode_var", pay_mode_var=parts, **FEES_REALTIME)
    assert "10000" in error.message


def test_the_parts_include_the_buyer_fee(book):
    trans_id = book.trade(cash=10_000, channel_id="wx")
    inputs = dict(FEES_REALTIME, buyer_fee_amount=50, buyer_fee_user_id="buyerfees")
    refused(book, trans_id, ErrorCode.PAY_MODE_SPLIT_MISMATCH, "pay_mode_var",
            pay_mode_var=BALANCE_AND_CHANNEL, **inputs)
    before = book.read()
    book.pay(trans_id, pay_mode_var=[{"pay_mode": "BALANCE", "amount": 6_050},
                                     {"pay_mode": "CHANNEL", "amount": 4_000}], **inputs)
    assert movements(before, book.read()) == {
        ("buyer", 1): -6_050, ("@channel:wx", 1): -4_000, ("seller", 1): 10_000, ("buyerfees", 3): 50}


def test_a_combined_payment_includes_the_trades_payment_mode(book):
    refused(book, book.trade(cash=4_000, channel_id="wx"), ErrorCode.PAY_MODE_MISMATCH, "pay_mode_var",
            pay_mode_var=[{"pay_mode": "CHANNEL", "amount": 4_000}], **FEES_REALTIME)


def test_a_combined_payment_comes_with_the_fee_fields(book):
    refused(book, book.trade(cash=10_000, channel_id="wx"), ErrorCode.FEE_FIELDS_NOT_TOGETHER,
            "fee_type", pay_mode_var=BALANCE_AND_CHANNEL)


@pytest.mark.parametrize("inputs, field", [
    ({"pay_mode": "BALANCE", "pay_mode_var": BALANCE_AND_CHANNEL}, "pay_mode_var"),
    ({"pay_mode_var": [{"pay_mode": "BALANCE", "amount": 5_000},
                       {"pay_mode": "BALANCE", "amount": 5_000}]}, "pay_mode_var"),
])
def test_a_combined_payment_is_one_list_of_distinct_modes(book, inputs, field):
    refused_field(book, book.trade(cash=10_000, channel_id="wx"), field, **FEES_REALTIME, **inputs)


def test_a_channel_part_needs_a_channel(book):
    refused_field(book, book.trade(cash=10_000), "channel_id", pay_mode_var=BALANCE_AND_CHANNEL,
                  **FEES_REALTIME)


# -- Who bears the fee (fee_amount_payer_flag) ----------------------------------------------------

def test_by_default_the_seller_bears_the_fee(book):
    answer = book.pay(book.trade(cash=1_000, fee_amount=100, fee_user_id="wallet"))
    assert answer["settlement"]["fee_amount_payer_flag"] == "SELLER"
    assert book.read().balance("seller") == 900


def test_a_buyer_borne_fee_is_paid_on_top_of_the_cash(book):
    trans_id = book.trade(cash=10_000, fee_amount=300, fee_user_id="wallet")
    before = book.read()
    answer = book.pay(trans_id, fee_amount_payer_flag="BUYER", buyer_fee_amount=50,
                      buyer_fee_user_id="buyerfees", **ONE_UP)
    assert answer["settlement"]["fee_amount_payer_flag"] == "BUYER"
    assert movements(before, book.read()) == {
        ("buyer", 1): -10_350, ("seller", 1): 10_000, ("buyerfees", 3): 50,
        ("wallet", 1): 200, ("agent1", 1): 100}
    assert_journal_matches_balances(book.read())


def test_a_buyer_borne_fee_settled_later_waits_in_transit(book):
    trans_id = book.trade(cash=10_000, fee_amount=300, fee_user_id="wallet")
    before = book.read()
    book.pay(trans_id, fee_amount_payer_flag="BUYER", fee_type=1, fee_settlement_type="ASYNC",
             pay_mode="BALANCE")
    assert movements(before, book.read()) == {
        ("buyer", 1): -10_300, ("seller", 1): 10_000, ("@transit", 1): 300}
    book.apply()
    assert movements(before, book.read()) == {
        ("buyer", 1): -10_300, ("seller", 1): 10_000, ("wallet", 3): 300}


def test_a_buyer_borne_fee_of_an_async_trade(book):
    trans_id = book.trade(cash=10_000, settlement="ASYNC", fee_amount=300, fee_user_id="wallet")
    before = book.read()
    book.pay(trans_id, fee_amount_payer_flag="BUYER")
    assert movements(before, book.read()) == {("buyer", 1): -10_300, ("@transit", 1): 10_300}
    book.apply()
    assert movements(before, book.read()) == {
        ("buyer", 1): -10_300, ("seller", 3): 10_000, ("wallet", 3): 300}


def test_a_buyer_borne_fee_is_never_collected_later(book):
    refused(book, book.trade(cash=1_000, fee_amount=100, fee_user_id="wallet"),
            ErrorCode.FEE_PAYER_COLLECTED_LATER, "fee_amount_payer_flag",
            fee_amount_payer_flag="BUYER", fee_type=2, fee_settlement_type="ASYNC", pay_mode="BALANCE")


def test_a_seller_who_bears_no_fee_may_share_the_whole_cash(book):
    trans_id = book.trade(cash=1_000, fee_amount=100, fee_user_id="wallet")
    refused(book, trans_id, ErrorCode.SHARING_EXCEEDS_PROCEEDS, "billing_solution",
            billing_solution=[{"user_id": "partner", "amount": 1_000}])
    book.pay(trans_id, fee_amount_payer_flag="BUYER",
             billing_solution=[{"user_id": "partner", "amount": 1_000}])
    ledger = book.read()
    assert (ledger.balance("seller"), ledger.balance("partner"), ledger.balance("wallet")) == (0, 1_000, 100)


def test_a_buyer_borne_fee_is_part_of_a_combined_payment(book):
    trans_id = book.trade(cash=10_000, channel_id="wx", fee_amount=300, fee_user_id="wallet")
    inputs = dict(FEES_REALTIME, fee_amount_payer_flag="BUYER")
    refused(book, trans_id, ErrorCode.PAY_MODE_SPLIT_MISMATCH, "pay_mode_var",
            pay_mode_var=BALANCE_AND_CHANNEL, **inputs)
    before = book.read()
    book.pay(trans_id, pay_mode_var=[{"pay_mode": "BALANCE", "amount": 6_000},
                                     {"pay_mode": "CHANNEL", "amount": 4_300}], **inputs)
    assert movements(before, book.read()) == {
        ("buyer", 1): -6_000, ("@channel:wx", 1): -4_300, ("seller", 1): 10_000, ("wallet", 1): 300}


# -- Fee type 1 and 2 of an async trade -----------------------------------------------------------

def _after_trade_phase(book, trans_id):
    """The ledger once the applier has written the ASYNC_TRADE phase alone."""
    record = service._read(book.ctx, trans_id)
    assert applier.apply_phase(book.ctx, record, "ASYNC_TRADE", applier.ApplierReport()) == "applied"
    return book.read()


@pytest.mark.parametrize("fee_type, seller_between, seller_legs", [
    (1, 9_700, {("TRADE", "ASYNC_TRADE"): 10_000, ("FEE_WITHHELD", "ASYNC_TRADE"): -300}),
    (2, 10_000, {("TRADE", "ASYNC_TRADE"): 10_000, ("FEE", "ASYNC_FEE"): -300}),
])
def test_an_async_trades_fee_is_deducted_at_source_or_collected_later(book, fee_type, seller_between,
                                                                     seller_legs):
    """Type 1: the seller never holds the fee, it is withheld as the trade settles; type 2: the
    seller receives the whole cash, the fee phase takes it back afterwards."""
    trans_id = book.trade(cash=10_000, settlement="ASYNC", fee_amount=300, fee_user_id="wallet")
    before = book.read()
    answer = book.pay(trans_id, fee_type=fee_type, fee_settlement_type="ASYNC", pay_mode="BALANCE")
    assert {(p["leg"], p["phase"]): p["amount"] for p in answer["postings"]
            if p["account_id"] == "seller"} == seller_legs
    between = _after_trade_phase(book, trans_id)
    assert between.balance("seller", 3) == seller_between
    assert between.balance("@transit") - before.balance("@transit") == 10_000 - seller_between
    book.apply()
    assert movements(before, book.read()) == {("buyer", 1): -10_000, ("seller", 3): 9_700,
                                              ("wallet", 3): 300}
    assert_journal_matches_balances(book.read())


# -- need_share_profit ---------------------------------------------------------------------------

@pytest.mark.parametrize("need, inputs", [
    (True, {}),
    (True, ONE_UP),                             # up-merchants only: no sharing amount
    (False, {"billing_solution": [{"user_id": "partner", "amount": 10}]}),
])
def test_need_share_profit_must_match_the_sharing_plan(book, need, inputs):
    refused(book, book.trade(fee_amount=300, fee_user_id="wallet"),
            ErrorCode.NEED_SHARE_PROFIT_MISMATCH, "need_share_profit", need_share_profit=need, **inputs)


@pytest.mark.parametrize("need, inputs", [
    (True, {"billing_solution": [{"user_id": "partner", "amount": 10}]}),
    (False, {}), (False, ONE_UP), (None, {})])
def test_need_share_profit_is_recorded(book, need, inputs):
    extra = {} if need is None else {"need_share_profit": need}
    answer = book.pay(book.trade(fee_amount=300, fee_user_id="wallet"), **extra, **inputs)
    assert answer["settlement"]["need_share_profit"] is need


# -- Recorded only: the refund-fee flag, the client source, the marketing solution's id ----------

def test_recorded_inputs_are_on_the_settled_trade(book):
    trans_id = book.trade(cash=1_000)
    before = book.read()
    book.pay(trans_id, is_refund_fee_amount_flag=True, client_source_flag="app",
             mkt_solution_id="mkt-2024-03", mkt_solution={"total_amount": 300, "no_settlement_amount": 0})
    settlement = find_trade(book.ctx, trans_id)["settlement"]
    assert (settlement["is_refund_fee_amount_flag"], settlement["client_source_flag"],
            settlement["mkt_solution_id"], settlement["parallel_type"]) == (True, "app", "mkt-2024-03",
                                                                            "SINGLE_IN")
    assert movements(before, book.read()) == {("buyer", 1): -1_000, ("seller", 1): 1_000}


def test_recorded_inputs_have_defaults(book):
    settlement = book.pay(book.trade(cash=1_000))["settlement"]
    assert (settlement["is_refund_fee_amount_flag"], settlement["client_source_flag"],
            settlement["mkt_solution_id"], settlement["need_share_profit"]) == (False, None, None, None)


def test_a_marketing_solution_id_needs_its_solution(book):
    refused(book, book.trade(), ErrorCode.MKT_SOLUTION_ID_WITHOUT_SOLUTION, "mkt_solution_id",
            mkt_solution_id="mkt-2024-03")


# -- Refused by name: what the specification does not define -----------------------------------------

@pytest.mark.parametrize("inputs, code, field", [
    ({"recv_recvable_id": "recv-1"}, ErrorCode.RECEIVABLE_NOT_SUPPORTED, "recv_recvable_id"),
    ({"credit_recv": {"credit_recv_id": "cr-1"}}, ErrorCode.RECEIVABLE_NOT_SUPPORTED, "credit_recv"),
    ({"special_code": "S1"}, ErrorCode.SPECIAL_CODE_NOT_SUPPORTED, "special_code"),
    ({"parallel_type": "MULTIPLE_IN"}, ErrorCode.PAYMENT_PLAN_NOT_SUPPORTED, "parallel_type"),
])
def test_inputs_too_thin_to_act_on_are_refused_by_name(book, inputs, code, field):
    refused(book, book.trade(), code, field, **inputs)


def test_a_single_incoming_payment_is_the_default_plan(book):
    answer = book.pay(book.trade(), parallel_type="SINGLE_IN")
    assert answer["settlement"]["parallel_type"] == "SINGLE_IN"


# -- In combination ------------------------------------------------------------------------------

@pytest.mark.parametrize("inputs, code", [
    # an unsupported input and rule 1 broken: the unsupported input answers
    ({"special_code": "S1", "fee_type": 1}, ErrorCode.SPECIAL_CODE_NOT_SUPPORTED),
    # rule 1 and a split mismatch: rule 1 answers
    ({"pay_mode_var": [{"pay_mode": "BALANCE", "amount": 1}]}, ErrorCode.FEE_FIELDS_NOT_TOGETHER),
    # fee payer collected later and a split mismatch: rule 4 answers
    ({"fee_amount_payer_flag": "BUYER", "fee_type": 2, "fee_settlement_type": "ASYNC",
      "pay_mode_var": [{"pay_mode": "BALANCE", "amount": 1}]}, ErrorCode.FEE_PAYER_COLLECTED_LATER),
    # a split mismatch and a sharing mismatch: the split (rule 6) answers
    ({"fee_type": 1, "fee_settlement_type": "REALTIME", "need_share_profit": True,
      "pay_mode_var": [{"pay_mode": "BALANCE", "amount": 1}]}, ErrorCode.PAY_MODE_SPLIT_MISMATCH),
    # sharing mismatch and an id without its marketing solution: rule 9 answers
    ({"need_share_profit": True, "mkt_solution_id": "m"}, ErrorCode.NEED_SHARE_PROFIT_MISMATCH),
])
def test_new_rules_in_combination(book, inputs, code):
    refused(book, book.trade(cash=1_000, fee_amount=100, fee_user_id="wallet"), code, **inputs)


def test_every_new_input_at_once_settles_and_replays(book):
    trans_id = book.trade(cash=10_000, settlement="ASYNC", channel_id="wx", fee_amount=300,
                          fee_user_id="wallet")
    inputs = dict(fee_type=1, fee_settlement_type="ASYNC", fee_amount_payer_flag="BUYER",
                  pay_mode_var=[{"pay_mode": "BALANCE", "amount": 7_000},
                                {"pay_mode": "CHANNEL", "amount": 3_350}],
                  buyer_fee_amount=50, buyer_fee_user_id="buyerfees", need_share_profit=True,
                  billing_solution=[{"user_id": "partner", "amount": 2_000}],
                  is_refund_fee_amount_flag=True, client_source_flag="web", parallel_type="SINGLE_IN",
                  mkt_solution={"total_amount": 10, "no_settlement_amount": 0}, mkt_solution_id="m1")
    before = book.read()
    answer = book.pay(trans_id, **inputs)
    assert answer["state"] == "SETTLING"
    assert book.apply().applied == 2
    assert movements(before, book.read()) == {
        ("buyer", 1): -7_000, ("@channel:wx", 1): -3_350, ("seller", 3): 8_000,
        ("partner", 3): 2_000, ("buyerfees", 3): 50, ("wallet", 3): 300}
    assert_journal_matches_balances(book.read())
    settled = book.read()
    assert book.pay(trans_id, **inputs)["postings"] == answer["postings"]
    with pytest.raises(PaySettleError) as caught:
        book.pay(trans_id, **dict(inputs, client_source_flag="app"))
    assert caught.value.code is ErrorCode.REENTRY_MISMATCH
    assert caught.value.message == (f"请求重入参数校验失败: trans_id {trans_id} was already used with "
                                    "other parameters: client_source_flag")
    assert book.read().balances == settled.balances
