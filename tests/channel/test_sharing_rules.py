"""Profit sharing on the rule class (`ChannelBook`), one test per rule, without HTTP or sleeping:
the clock moves when told and `settle_due()` settles what is due."""
import pytest

from infra.channel.rules import (APPLIED, REJECTED, REPLAYED, SHARING_ORDERS, SHARING_QUERY,
                                 SHARING_RETURN_ORDERS, SHARING_RETURN_QUERY, SHARING_UNFREEZE,
                                 ChannelError)

from .conftest import (order_body, receiver, share_body, sharing_return_body, unfreeze_body)


def _paid(book, **overrides) -> str:
    return book.create_transaction(order_body(subsidy_limit=0, **overrides)).transaction_id


def _settle(book, clock, seconds: float = 0.3) -> list:
    clock.advance(seconds)
    return book.settle_due()


def _shared(book, clock, receivers, **order) -> tuple:
    """A transaction (amount 10000 by default) shared to `receivers`, settled."""
    transaction_id = _paid(book, **order)
    body = share_body(transaction_id, receivers)
    assert book.call(SHARING_ORDERS, body).outcome == APPLIED
    _settle(book, clock, 120)  # past any processing_ms
    return transaction_id, body


# -- paid transactions: the sharing settings ------------------------------------------------

def test_a_transaction_shares_at_most_30_percent_by_default(book):
    view = book.transaction_view(_paid(book, amount=10001))
    assert (view["max_sharing_ratio"], view["sharing_limit"], view["processing_ms"]) == (0.3, 3000, 300)


@pytest.mark.parametrize("name, value", [("max_sharing_ratio", 0), ("max_sharing_ratio", 1.01),
                                         ("max_sharing_ratio", "x"), ("max_sharing_ratio", True),
                                         ("processing_ms", -1), ("processing_ms", 1.5),
                                         ("processing_ms", 120_001)])
def test_bad_sharing_settings_are_refused_naming_the_field(book, name, value):
    with pytest.raises(ChannelError) as refused:
        book.create_transaction(order_body(**{name: value}))
    assert (refused.value.status, refused.value.field) == (400, name)


def test_the_ratio_is_exact_and_rounds_down_to_whole_fen(book):
    assert book.transaction_view(_paid(book, amount=10, max_sharing_ratio=0.3))["sharing_limit"] == 3
    assert book.transaction_view(_paid(book, amount=7, max_sharing_ratio="0.5"))["sharing_limit"] == 3
    assert book.transaction_view(_paid(book, amount=999, max_sharing_ratio=1))["sharing_limit"] == 999


# -- sharing orders ---------------------------------------------------------------------------

def test_an_order_is_accepted_pending_and_settles_after_processing_ms(book, clock):
    transaction_id = _paid(book, processing_ms=500)
    body = share_body(transaction_id, [receiver("A", 1000), receiver("B", 500, "PERSONAL_OPENID")])
    accepted = book.call(SHARING_ORDERS, body)
    assert (accepted.status, accepted.outcome, accepted.body["state"]) == (200, APPLIED, "PROCESSING")
    assert [r["result"] for r in accepted.body["receivers"]] == ["PENDING", "PENDING"]
    assert accepted.body["order_id"].startswith("3008") and len(accepted.body["order_id"]) == 28
    assert all(r["finish_time"] is None and r["create_time"] == "2026-01-15T09:59:34+08:00"
               for r in accepted.body["receivers"])
    assert _settle(book, clock, 0.499) == []
    notices = _settle(book, clock, 0.001)
    query = book.call(SHARING_QUERY, body)
    assert query.body["state"] == "FINISHED" and query.outcome == REPLAYED
    assert [(r["account"], r["result"], r["fail_reason"]) for r in query.body["receivers"]] == \
        [("A", "SUCCESS", None), ("B", "SUCCESS", None)]
    assert [n.body["receiver"]["account"] for n in notices] == ["A", "B"]
    money = book.money()[transaction_id]
    assert (money["shared"], money["pending"]) == (1500, 0)


def test_a_receiver_with_a_fail_reason_closes_with_it_and_frees_its_share(book, clock):
    book.set_receiver_failure({"account": "B", "fail_reason": "RECEIVER_HIGH_RISK"})
    transaction_id, body = _shared(book, clock, [receiver("A", 1000), receiver("B", 2000)])
    query = book.call(SHARING_QUERY, body).body
    assert [(r["result"], r["fail_reason"]) for r in query["receivers"]] == \
        [("SUCCESS", None), ("CLOSED", "RECEIVER_HIGH_RISK")]
    assert query["receivers"][1]["finish_time"] == query["receivers"][0]["finish_time"]
    # The closed 2000 fen are the merchant's again: they may be shared once more.
    assert book.call(SHARING_ORDERS, share_body(transaction_id, [receiver("C", 2000)])).outcome == APPLIED


def test_clearing_a_fail_reason_lets_the_account_receive_again(book, clock):
    book.set_receiver_failure({"account": "B", "fail_reason": "NO_AUTH"})
    book.set_receiver_failure({"account": "B", "fail_reason": None})
    _, body = _shared(book, clock, [receiver("B", 100)])
    assert book.call(SHARING_QUERY, body).body["receivers"][0]["result"] == "SUCCESS"


@pytest.mark.parametrize("setting, field", [({"account": "A", "fail_reason": "BROKE"}, "fail_reason"),
                                            ({"fail_reason": "NO_AUTH"}, "account"), ([], "body")])
def test_a_bad_receiver_setting_names_the_field(book, setting, field):
    with pytest.raises(ChannelError) as refused:
        book.set_receiver_failure(setting)
    assert refused.value.field == field


def test_every_receiver_is_notified_once_with_the_contract_shape(book, clock):
    book.set_receiver_failure({"account": "B", "fail_reason": "NO_RELATION"})
    transaction_id = _paid(book)
    body = share_body(transaction_id, [receiver("A", 300), receiver("B", 200)])
    order_id = book.call(SHARING_ORDERS, body).body["order_id"]
    notices = _settle(book, clock)
    assert [n.body for n in notices][1] == {
        "sub_mchid": "1692608207", "transaction_id": transaction_id, "order_id": order_id,
        "out_order_no": body["out_order_no"],
        "receiver": {"type": "MERCHANT_ID", "account": "B", "amount": 200, "description": "分给商户",
                     "result": "CLOSED", "fail_reason": "NO_RELATION",
                     "detail_id": notices[1].body["receiver"]["detail_id"]},
        "success_time": "2026-01-15T09:59:34+08:00"}
    assert _settle(book, clock, 10) == []  # handed out once


def test_processing_ms_zero_settles_before_the_answer(book, clock):
    transaction_id = _paid(book, processing_ms=0)
    answer = book.call(SHARING_ORDERS, share_body(transaction_id))
    assert answer.body["state"] == "FINISHED" and len(book.settle_due()) == 1


def test_reentry_gives_the_current_state_and_moves_nothing_twice(book, clock):
    transaction_id = _paid(book)
    body = share_body(transaction_id, [receiver("A", 1000)])
    first = book.call(SHARING_ORDERS, body)
    again = book.call(SHARING_ORDERS, dict(body))
    assert (again.outcome, again.body) == (REPLAYED, first.body)
    _settle(book, clock)
    later = book.call(SHARING_ORDERS, dict(body))
    assert later.outcome == REPLAYED and later.body["order_id"] == first.body["order_id"]
    assert later.body["receivers"][0]["result"] == "SUCCESS"
    assert book.money()[transaction_id]["shared"] == 1000
    assert len(book.transaction_view(transaction_id)["sharing"]) == 1


@pytest.mark.parametrize("change", [{"receivers": [receiver("A", 999)]},
                                    {"receivers": [receiver("A", 1000), receiver("B", 1)]},
                                    {"unfreeze_unsplit": True}])
def test_reentry_with_other_parameters_is_param_error(book, change):
    transaction_id = _paid(book)
    body = share_body(transaction_id, [receiver("A", 1000)])
    book.call(SHARING_ORDERS, body)
    refused = book.call(SHARING_ORDERS, dict(body, **change))
    assert (refused.status, refused.body["code"], refused.outcome) == (400, "PARAM_ERROR", REJECTED)
    assert book.money()[transaction_id]["pending"] == 1000


def test_the_ratio_limit_holds_across_several_orders(book, clock):
    transaction_id = _paid(book, amount=10000, max_sharing_ratio=0.3)
    assert book.call(SHARING_ORDERS, share_body(transaction_id, [receiver("A", 1000)])).outcome == APPLIED
    _settle(book, clock)
    assert book.call(SHARING_ORDERS, share_body(transaction_id, [receiver("B", 1500)])).outcome == APPLIED
    over = book.call(SHARING_ORDERS, share_body(transaction_id, [receiver("C", 501)]))
    assert (over.status, over.body["code"], over.body["message"]) == \
        (400, "INVALID_REQUEST", "分账金额超出最大分账比例")
    last = book.call(SHARING_ORDERS, share_body(transaction_id, [receiver("C", 500)]))
    assert last.outcome == APPLIED
    _settle(book, clock)
    assert book.money()[transaction_id]["shared"] == 3000


def test_a_refused_order_registers_no_number(book):
    transaction_id = _paid(book, amount=1000)
    body = share_body(transaction_id, [receiver("A", 301)])
    assert book.call(SHARING_ORDERS, body).outcome == REJECTED
    assert book.call(SHARING_ORDERS, dict(body, receivers=[receiver("A", 300)])).outcome == APPLIED


def test_fifty_receivers_are_accepted_and_fifty_one_refused(book, clock):
    transaction_id = _paid(book, amount=100000)
    fifty = [receiver(f"acct-{n:02d}", 10 + n) for n in range(50)]
    accepted = book.call(SHARING_ORDERS, share_body(transaction_id, fifty))
    assert accepted.outcome == APPLIED and len(accepted.body["receivers"]) == 50
    assert len({r["detail_id"] for r in accepted.body["receivers"]}) == 50
    assert len(_settle(book, clock)) == 50
    refused = book.call(SHARING_ORDERS, share_body(transaction_id, fifty + [receiver("acct-50", 1)]))
    assert (refused.status, refused.body["code"]) == (400, "INVALID_REQUEST")
    assert book.money()[transaction_id]["shared"] == sum(10 + n for n in range(50))


def test_an_unknown_transaction_is_order_not_exist(book):
    answer = book.call(SHARING_ORDERS, share_body("4200000000000000000000000000"))
    assert (answer.status, answer.body["code"]) == (404, "ORDER_NOT_EXIST")


def test_another_sub_merchant_cannot_share_the_transaction(book):
    answer = book.call(SHARING_ORDERS, share_body(_paid(book), sub_mchid="999"))
    assert (answer.status, answer.body["code"], answer.body["field"]) == (400, "INVALID_REQUEST", "sub_mchid")


@pytest.mark.parametrize("change, field", [
    ({"receivers": []}, "receivers"), ({"receivers": "A"}, "receivers"),
    ({"receivers": [receiver("A", 0)]}, "receivers[0].amount"),
    ({"receivers": [receiver("A", 1), dict(receiver("B"), amount="100")]}, "receivers[1].amount"),
    ({"receivers": [dict(receiver("A"), type="BANK")]}, "receivers[0].type"),
    ({"receivers": [dict(receiver("A"), account="")]}, "receivers[0].account"),
    ({"receivers": [dict(receiver("A"), description=None)]}, "receivers[0].description"),
    ({"receivers": [receiver("A"), receiver("A")]}, "receivers[1].account"),
    ({"receivers": [7]}, "receivers[0]"),
    ({"unfreeze_unsplit": "false"}, "unfreeze_unsplit"), ({"out_order_no": ""}, "out_order_no"),
    ({"transaction_id": None}, "transaction_id")])
def test_a_bad_order_field_is_param_error_naming_it(book, change, field):
    transaction_id = _paid(book)
    answer = book.call(SHARING_ORDERS, dict(share_body(transaction_id), **change))
    assert (answer.status, answer.body["code"], answer.body["field"]) == (400, "PARAM_ERROR", field)
    assert book.transaction_view(transaction_id)["sharing"] == []


def test_query_needs_the_number_the_sub_merchant_and_the_transaction(book):
    transaction_id = _paid(book)
    body = share_body(transaction_id)
    book.call(SHARING_ORDERS, body)
    for wrong in ({"out_order_no": "never"}, {"sub_mchid": "999"}, {"transaction_id": "42"}):
        missing = book.call(SHARING_QUERY, dict(body, **wrong))
        assert (missing.status, missing.body["code"]) == (404, "RESOURCE_NOT_EXISTS")


# -- unfreeze ---------------------------------------------------------------------------------

def test_unfreeze_ends_sharing_and_is_reentrant(book, clock):
    transaction_id, _ = _shared(book, clock, [receiver("A", 1000)])
    body = unfreeze_body(transaction_id)
    done = book.call(SHARING_UNFREEZE, body)
    assert (done.status, done.outcome, done.body["state"]) == (200, APPLIED, "FINISHED")
    assert set(done.body) == {"sub_mchid", "transaction_id", "out_order_no", "order_id", "state"}
    clock.advance(60)
    assert book.call(SHARING_UNFREEZE, dict(body)).body == done.body
    assert book.call(SHARING_UNFREEZE, dict(body)).outcome == REPLAYED
    assert book.call(SHARING_UNFREEZE, dict(body, description="其他")).body["code"] == "PARAM_ERROR"
    again = book.call(SHARING_UNFREEZE, unfreeze_body(transaction_id))
    assert (again.status, again.body["code"]) == (400, "INVALID_REQUEST")
    refused = book.call(SHARING_ORDERS, share_body(transaction_id, [receiver("B", 1)]))
    assert (refused.status, refused.body["code"]) == (400, "INVALID_REQUEST")
    assert book.transaction_view(transaction_id)["unfrozen"] is True


def test_unfreeze_unsplit_ends_sharing_after_that_order(book, clock):
    transaction_id = _paid(book)
    book.call(SHARING_ORDERS, share_body(transaction_id, [receiver("A", 100)], unfreeze_unsplit=True))
    refused = book.call(SHARING_ORDERS, share_body(transaction_id, [receiver("B", 100)]))
    assert (refused.status, refused.body["code"]) == (400, "INVALID_REQUEST")
    _settle(book, clock)
    assert book.money()[transaction_id]["shared"] == 100


def test_a_number_is_either_a_sharing_order_or_an_unfreeze(book):
    transaction_id = _paid(book)
    body = share_body(transaction_id)
    book.call(SHARING_ORDERS, body)
    clash = book.call(SHARING_UNFREEZE, unfreeze_body(transaction_id, out_order_no=body["out_order_no"]))
    assert (clash.status, clash.body["code"]) == (400, "PARAM_ERROR")
    assert book.transaction_view(transaction_id)["unfrozen"] is False


def test_unfreeze_of_an_unknown_transaction_is_order_not_exist(book):
    answer = book.call(SHARING_UNFREEZE, unfreeze_body("4200000000000000000000000000"))
    assert (answer.status, answer.body["code"]) == (404, "ORDER_NOT_EXIST")


# -- returns ----------------------------------------------------------------------------------

def test_returns_settle_at_once_and_add_up_to_what_the_receiver_got(book, clock):
    transaction_id, order = _shared(book, clock, [receiver("A", 1000), receiver("B", 500)])
    number = order["out_order_no"]
    first = book.call(SHARING_RETURN_ORDERS, sharing_return_body(number, "A", 600))
    assert (first.status, first.outcome, first.body["result"]) == (200, APPLIED, "SUCCESS")
    assert first.body["finish_time"] == first.body["create_time"]
    assert set(first.body) == {"sub_mchid", "order_id", "out_order_no", "out_return_no", "return_id",
                               "return_mchid", "amount", "description", "result", "fail_reason",
                               "create_time", "finish_time"}
    over = book.call(SHARING_RETURN_ORDERS, sharing_return_body(number, "A", 401))
    assert (over.status, over.body["code"], over.body["message"]) == \
        (400, "INVALID_REQUEST", "回退金额超过分账金额")
    assert book.call(SHARING_RETURN_ORDERS, sharing_return_body(number, "A", 400)).outcome == APPLIED
    assert book.call(SHARING_RETURN_ORDERS, sharing_return_body(number, "B", 500)).outcome == APPLIED
    money = book.money()[transaction_id]
    assert (money["shared"], money["sharing_returned"]) == (1500, 1500)


def test_nothing_comes_back_from_a_pending_or_closed_or_absent_receiver(book, clock):
    book.set_receiver_failure({"account": "B", "fail_reason": "ACCOUNT_ABNORMAL"})
    transaction_id = _paid(book)
    order = share_body(transaction_id, [receiver("A", 1000), receiver("B", 500)])
    book.call(SHARING_ORDERS, order)
    pending = book.call(SHARING_RETURN_ORDERS, sharing_return_body(order["out_order_no"], "A", 1))
    assert (pending.status, pending.body["code"]) == (400, "INVALID_REQUEST")
    _settle(book, clock)
    for account in ("B", "Z"):
        refused = book.call(SHARING_RETURN_ORDERS, sharing_return_body(order["out_order_no"], account, 1))
        assert (refused.status, refused.body["code"]) == (400, "INVALID_REQUEST")


def test_a_return_for_an_unknown_sharing_order_is_resource_not_exists(book):
    answer = book.call(SHARING_RETURN_ORDERS, sharing_return_body("never-shared"))
    assert (answer.status, answer.body["code"]) == (404, "RESOURCE_NOT_EXISTS")


def test_a_return_is_reentrant_on_out_return_no(book, clock):
    transaction_id, order = _shared(book, clock, [receiver("A", 1000)])
    body = sharing_return_body(order["out_order_no"], "A", 700)
    first = book.call(SHARING_RETURN_ORDERS, body)
    clock.advance(30)
    again = book.call(SHARING_RETURN_ORDERS, dict(body))
    assert (again.outcome, again.body) == (REPLAYED, first.body)
    refused = book.call(SHARING_RETURN_ORDERS, dict(body, amount=300))
    assert (refused.status, refused.body["code"], refused.body["field"]) == (400, "PARAM_ERROR", "amount")
    assert book.money()[transaction_id]["sharing_returned"] == 700


def test_a_processing_return_settles_to_success_after_processing_ms(book, clock):
    transaction_id, order = _shared(book, clock, [receiver("A", 1000)], processing_ms=1000)
    book.set_return_outcome({"return_mchid": "A", "result": "PROCESSING", "then": "SUCCESS"})
    body = sharing_return_body(order["out_order_no"], "A", 1000)
    accepted = book.call(SHARING_RETURN_ORDERS, body)
    assert (accepted.body["result"], accepted.body["finish_time"]) == ("PROCESSING", None)
    # A PROCESSING return holds its amount: nothing more comes back meanwhile.
    assert book.call(SHARING_RETURN_ORDERS, sharing_return_body(order["out_order_no"], "A", 1)).status == 400
    assert book.money()[transaction_id]["sharing_returning"] == 1000
    clock.advance(0.999)
    assert book.call(SHARING_RETURN_QUERY, body).body["result"] == "PROCESSING"
    clock.advance(0.001)
    done = book.call(SHARING_RETURN_ORDERS, dict(body))  # the re-send sees the current state
    assert (done.outcome, done.body["result"], done.body["return_id"]) == \
        (REPLAYED, "SUCCESS", accepted.body["return_id"])
    assert book.money()[transaction_id]["sharing_returned"] == 1000


def test_a_processing_return_may_end_failed_and_frees_the_amount(book, clock):
    transaction_id, order = _shared(book, clock, [receiver("A", 1000)])
    book.set_return_outcome({"return_mchid": "A", "result": "PROCESSING", "then": "FAILED",
                             "fail_reason": "TIME_OUT_CLOSED"})
    body = sharing_return_body(order["out_order_no"], "A", 800)
    book.call(SHARING_RETURN_ORDERS, body)
    _settle(book, clock)
    failed = book.call(SHARING_RETURN_QUERY, body).body
    assert (failed["result"], failed["fail_reason"]) == ("FAILED", "TIME_OUT_CLOSED")
    assert failed["finish_time"] is not None
    book.set_return_outcome({"return_mchid": "A", "result": None})
    assert book.call(SHARING_RETURN_ORDERS, sharing_return_body(order["out_order_no"], "A", 1000)).outcome == APPLIED
    assert book.money()[transaction_id]["sharing_returned"] == 1000


def test_a_failed_return_fails_at_once_with_its_reason_and_stays_failed(book, clock):
    transaction_id, order = _shared(book, clock, [receiver("A", 1000)])
    book.set_return_outcome({"return_mchid": "A", "result": "FAILED", "fail_reason": "BALANCE_NOT_ENOUGH"})
    body = sharing_return_body(order["out_order_no"], "A", 1000)
    failed = book.call(SHARING_RETURN_ORDERS, body)
    assert (failed.status, failed.body["result"], failed.body["fail_reason"]) == \
        (200, "FAILED", "BALANCE_NOT_ENOUGH")
    book.set_return_outcome({"return_mchid": "A", "result": None})
    assert book.call(SHARING_RETURN_ORDERS, dict(body)).body["result"] == "FAILED"  # same number
    assert book.money()[transaction_id]["sharing_returned"] == 0


@pytest.mark.parametrize("setting, field", [
    ({"return_mchid": "A", "result": "FAILED"}, "fail_reason"),
    ({"return_mchid": "A", "result": "PROCESSING", "then": "FAILED"}, "fail_reason"),
    ({"return_mchid": "A", "result": "LATER"}, "result"),
    ({"return_mchid": "A", "result": "PROCESSING", "then": "MAYBE"}, "then"),
    ({"return_mchid": "A", "result": "FAILED", "fail_reason": "NO_RELATION"}, "fail_reason"),
    ({"result": "FAILED", "fail_reason": "ACCOUNT_ABNORMAL"}, "return_mchid")])
def test_a_bad_return_setting_names_the_field(book, setting, field):
    with pytest.raises(ChannelError) as refused:
        book.set_return_outcome(setting)
    assert refused.value.field == field


def test_return_query_needs_the_sub_merchant_and_the_sharing_order(book, clock):
    _, order = _shared(book, clock, [receiver("A", 1000)])
    body = sharing_return_body(order["out_order_no"], "A", 10)
    created = book.call(SHARING_RETURN_ORDERS, body).body
    assert book.call(SHARING_RETURN_QUERY, body).body == created
    for wrong in ({"out_return_no": "never"}, {"sub_mchid": "999"}, {"out_order_no": "other"}):
        missing = book.call(SHARING_RETURN_QUERY, dict(body, **wrong))
        assert (missing.status, missing.body["code"]) == (404, "RESOURCE_NOT_EXISTS")


def test_the_view_shows_sharing_returns_and_totals(book, clock):
    transaction_id, order = _shared(book, clock, [receiver("A", 1000)])
    book.call(SHARING_RETURN_ORDERS, sharing_return_body(order["out_order_no"], "A", 250))
    view = book.transaction_view(transaction_id)
    assert (view["shared_amount"], view["sharing_returned_amount"]) == (1000, 250)
    assert view["sharing"][0]["out_order_no"] == order["out_order_no"]
    assert [r["amount"] for r in view["sharing_returns"]] == [250]
    assert view["returned_amount"] == 0  # the subsidy's returns, untouched


def test_the_call_log_names_the_transaction_and_amount_of_sharing_calls(book, clock):
    transaction_id, order = _shared(book, clock, [receiver("A", 700), receiver("B", 300)])
    book.call(SHARING_RETURN_ORDERS, sharing_return_body(order["out_order_no"], "A", 50))
    calls = book.calls()
    assert [(c["operation"], c["outbound_no"], c["transaction_id"], c["amount"]) for c in calls] == [
        ("profitsharing.orders", order["out_order_no"], transaction_id, 1000),
        ("profitsharing.return-orders", calls[1]["outbound_no"], transaction_id, 50)]


def test_reset_forgets_sharing_and_the_controls(book, clock):
    book.set_receiver_failure({"account": "A", "fail_reason": "NO_AUTH"})
    book.set_return_outcome({"return_mchid": "A", "result": "FAILED", "fail_reason": "ACCOUNT_ABNORMAL"})
    _shared(book, clock, [receiver("A", 10)])
    book.reset()
    _, order = _shared(book, clock, [receiver("A", 10)])
    assert book.call(SHARING_QUERY, order).body["receivers"][0]["result"] == "SUCCESS"
    assert book.call(SHARING_RETURN_ORDERS, sharing_return_body(order["out_order_no"], "A", 10)).body["result"] == "SUCCESS"
