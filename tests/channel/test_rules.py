"""The channel's rules (`ChannelBook`), one test per rule, without HTTP."""
import pytest

from infra.channel.rules import (APPLIED, REJECTED, REPLAYED, SUBSIDY_CANCEL, SUBSIDY_CREATE,
                                 SUBSIDY_QUERY, SUBSIDY_RETURN, ChannelError)

from .conftest import create_body, order_body, return_body


def _paid(book, **overrides) -> str:
    return book.create_transaction(order_body(**overrides)).transaction_id


def _subsidised(book, amount=2332, limit=3000):
    transaction_id = _paid(book, subsidy_limit=limit)
    answer = book.call(SUBSIDY_CREATE, create_body(transaction_id, amount=amount))
    assert answer.outcome == APPLIED
    return transaction_id, answer


# -- paid transactions -----------------------------------------------------------------

def test_a_paid_transaction_has_a_wechat_like_id_and_openid(book):
    transaction = book.create_transaction(order_body())
    assert len(transaction.transaction_id) == 28 and transaction.transaction_id.startswith("4200")
    assert transaction.transaction_id.isdigit()
    assert transaction.openid.startswith("ou8x") and len(transaction.openid) == 28


def test_the_same_paid_order_twice_is_the_same_transaction(book):
    body = order_body()
    first = book.create_transaction(body)
    assert book.create_transaction(dict(body)).transaction_id == first.transaction_id
    with pytest.raises(ChannelError) as refused:
        book.create_transaction(dict(body, amount=body["amount"] + 1))
    assert (refused.value.code, refused.value.field) == ("PARAM_ERROR", "amount")


@pytest.mark.parametrize("name, value", [("amount", 0), ("amount", 1.5), ("amount", "12a"),
                                         ("amount", True), ("subsidy_limit", -1),
                                         ("sub_mchid", ""), ("payment_order_id", None)])
def test_a_bad_paid_order_names_the_field(book, name, value):
    with pytest.raises(ChannelError) as refused:
        book.create_transaction(order_body(**{name: value}))
    assert refused.value.field == name and refused.value.status == 400


# -- create ------------------------------------------------------------------------------

def test_create_moves_the_subsidy_once(book):
    transaction_id, answer = _subsidised(book, amount=2332)
    assert answer.status == 200
    assert answer.body["result"] == "SUCCESS" and answer.body["amount"] == 2332
    assert answer.body["subsidy_id"].startswith("4000") and len(answer.body["subsidy_id"]) == 29
    assert answer.body["success_time"] == "2026-01-15T09:59:34+08:00"
    assert book.transaction_view(transaction_id)["subsidy"]["amount"] == 2332


def test_reentry_with_the_same_parameters_returns_the_original_ids_and_time(book, clock):
    transaction_id = _paid(book)
    body = create_body(transaction_id)
    first = book.call(SUBSIDY_CREATE, body)
    clock.advance(3600)
    again = book.call(SUBSIDY_CREATE, dict(body))
    assert again.outcome == REPLAYED and again.status == 200
    assert again.body == first.body  # same subsidy_id, same success_time
    assert book.money()[transaction_id]["subsidy"] == body["amount"]


@pytest.mark.parametrize("name, value", [("amount", 100), ("description", "另一个描述")])
def test_reentry_with_other_parameters_is_param_error_and_changes_nothing(book, name, value):
    transaction_id = _paid(book)
    body = create_body(transaction_id)
    book.call(SUBSIDY_CREATE, body)
    refused = book.call(SUBSIDY_CREATE, dict(body, **{name: value}))
    assert (refused.status, refused.body["code"], refused.outcome) == (400, "PARAM_ERROR", REJECTED)
    assert refused.body["field"] == name
    assert book.transaction_view(transaction_id)["subsidy"]["amount"] == body["amount"]


def test_one_subsidy_per_transaction(book):
    transaction_id, _ = _subsidised(book, amount=100)
    second = book.call(SUBSIDY_CREATE, create_body(transaction_id, amount=100))
    assert (second.status, second.body) == (400, {"code": "INVALID_REQUEST",
                                                  "message": "对应的订单不能补差"})
    assert book.money()[transaction_id]["subsidy"] == 100


def test_the_amount_may_reach_the_limit_but_not_pass_it(book):
    over = _paid(book, subsidy_limit=500)
    refused = book.call(SUBSIDY_CREATE, create_body(over, amount=501))
    assert (refused.status, refused.body["code"], refused.body["message"]) == \
        (400, "INVALID_REQUEST", "对应的订单不能补差")
    assert book.transaction_view(over)["subsidy"] is None
    assert book.call(SUBSIDY_CREATE, create_body(over, amount=500)).outcome == APPLIED


def test_a_refused_create_registers_no_number_so_its_resend_is_judged_again(book):
    transaction_id = _paid(book, subsidy_limit=500)
    body = create_body(transaction_id, amount=600)
    assert book.call(SUBSIDY_CREATE, body).outcome == REJECTED
    assert book.call(SUBSIDY_CREATE, dict(body, amount=500)).outcome == APPLIED


def test_an_unknown_transaction_is_order_not_exist(book):
    answer = book.call(SUBSIDY_CREATE, create_body("4200000000000000000000000000"))
    assert (answer.status, answer.body["code"]) == (404, "ORDER_NOT_EXIST")


def test_another_sub_merchant_cannot_subsidise_the_transaction(book):
    transaction_id = _paid(book)
    answer = book.call(SUBSIDY_CREATE, create_body(transaction_id, sub_mchid="999"))
    assert (answer.status, answer.body["code"], answer.body["field"]) == \
        (400, "INVALID_REQUEST", "sub_mchid")


@pytest.mark.parametrize("name, value", [("amount", "2332"), ("amount", 0), ("amount", -5),
                                         ("amount", 23.32), ("out_subsidy_no", ""),
                                         ("transaction_id", 42), ("description", None)])
def test_a_bad_create_field_is_param_error_naming_it(book, name, value):
    transaction_id = _paid(book)
    answer = book.call(SUBSIDY_CREATE, dict(create_body(transaction_id), **{name: value}))
    assert (answer.status, answer.body["code"], answer.body["field"]) == (400, "PARAM_ERROR", name)
    assert book.transaction_view(transaction_id)["subsidy"] is None


def test_query_finds_the_creates_answer_and_only_a_successful_one(book):
    transaction_id, created = _subsidised(book)
    number = book.transaction_view(transaction_id)["subsidy"]["out_subsidy_no"]
    query = {"sub_mchid": "1692608207", "out_subsidy_no": number}
    found = book.call(SUBSIDY_QUERY, query)
    assert (found.status, found.body) == (200, created.body)
    missing = book.call(SUBSIDY_QUERY, dict(query, out_subsidy_no="never-sent"))
    assert (missing.status, missing.body["code"]) == (404, "RESOURCE_NOT_EXISTS")


# -- return ------------------------------------------------------------------------------

def test_several_partial_returns_add_up_to_the_subsidy_and_no_further(book):
    transaction_id, _ = _subsidised(book, amount=2332)
    for amount in (1000, 1000, 332):
        answer = book.call(SUBSIDY_RETURN, return_body(transaction_id, amount=amount))
        assert answer.outcome == APPLIED and answer.body["result"] == "SUCCESS"
    over = book.call(SUBSIDY_RETURN, return_body(transaction_id, amount=1))
    assert (over.status, over.body["code"], over.body["message"]) == \
        (400, "INVALID_REQUEST", "回退金额超过补差金额")
    view = book.transaction_view(transaction_id)
    assert view["returned_amount"] == 2332 and [r["amount"] for r in view["returns"]] == [1000, 1000, 332]


def test_a_return_over_what_is_left_is_refused_whole(book):
    transaction_id, _ = _subsidised(book, amount=2332)
    book.call(SUBSIDY_RETURN, return_body(transaction_id, amount=2000))
    refused = book.call(SUBSIDY_RETURN, return_body(transaction_id, amount=333))
    assert refused.body["message"] == "回退金额超过补差金额"
    assert book.money()[transaction_id]["returned"] == 2000


def test_return_reentry_returns_the_original_answer(book, clock):
    transaction_id, created = _subsidised(book)
    body = return_body(transaction_id, amount=2332)
    first = book.call(SUBSIDY_RETURN, body)
    clock.advance(60)
    again = book.call(SUBSIDY_RETURN, dict(body))
    assert again.outcome == REPLAYED and again.body == first.body
    assert first.body["target_order_id"] == created.body["subsidy_id"]
    assert first.body["subsidy_refund_id"].startswith("4100")
    assert book.money()[transaction_id]["returned"] == 2332


def test_return_reentry_with_another_amount_is_param_error(book):
    transaction_id, _ = _subsidised(book)
    body = return_body(transaction_id, amount=1000)
    book.call(SUBSIDY_RETURN, body)
    refused = book.call(SUBSIDY_RETURN, dict(body, amount=500))
    assert (refused.status, refused.body["code"], refused.body["field"]) == (400, "PARAM_ERROR", "amount")
    assert book.money()[transaction_id]["returned"] == 1000


def test_one_return_per_refund_id(book):
    transaction_id, _ = _subsidised(book)
    body = return_body(transaction_id, amount=100)
    book.call(SUBSIDY_RETURN, body)
    other_number = return_body(transaction_id, amount=100, refund_id=body["refund_id"])
    refused = book.call(SUBSIDY_RETURN, other_number)
    assert (refused.status, refused.body["code"], refused.outcome) == (400, "INVALID_REQUEST", REJECTED)
    assert book.money()[transaction_id]["returned"] == 100


def test_no_return_without_a_subsidy(book):
    transaction_id = _paid(book)
    refused = book.call(SUBSIDY_RETURN, return_body(transaction_id))
    assert (refused.status, refused.body["code"]) == (400, "INVALID_REQUEST")


def test_a_refused_return_registers_nothing(book):
    transaction_id, _ = _subsidised(book, amount=100)
    body = return_body(transaction_id, amount=200)
    assert book.call(SUBSIDY_RETURN, body).outcome == REJECTED
    assert book.call(SUBSIDY_RETURN, dict(body, amount=100)).outcome == APPLIED


# -- cancel ------------------------------------------------------------------------------

def _cancel(transaction_id):
    return {"sub_mchid": "1692608207", "transaction_id": transaction_id, "description": "取消补差"}


def test_cancel_ends_the_eligibility(book):
    transaction_id = _paid(book)
    answer = book.call(SUBSIDY_CANCEL, _cancel(transaction_id))
    assert (answer.status, answer.body["result"], answer.outcome) == (200, "SUCCESS", APPLIED)
    again = book.call(SUBSIDY_CANCEL, _cancel(transaction_id))
    assert (again.body["result"], again.outcome) == ("SUCCESS", REPLAYED)
    refused = book.call(SUBSIDY_CREATE, create_body(transaction_id, amount=1))
    assert (refused.status, refused.body["code"]) == (400, "INVALID_REQUEST")
    assert book.transaction_view(transaction_id)["cancelled"] is True


def test_cancel_after_a_subsidy_fails_and_changes_nothing(book):
    transaction_id, _ = _subsidised(book)
    answer = book.call(SUBSIDY_CANCEL, _cancel(transaction_id))
    assert (answer.status, answer.body["result"], answer.outcome) == (200, "FAIL", REJECTED)
    view = book.transaction_view(transaction_id)
    assert view["cancelled"] is False and view["subsidy"] is not None


# -- the log and reset ---------------------------------------------------------------------

def test_every_call_is_logged_with_its_outcome(book):
    transaction_id = _paid(book, subsidy_limit=3000)
    body = create_body(transaction_id, amount=2000)
    book.call(SUBSIDY_CREATE, body)
    book.call(SUBSIDY_CREATE, body)
    book.call(SUBSIDY_CREATE, dict(body, amount=1))
    calls = book.calls()
    assert [(c["seq"], c["operation"], c["outbound_no"], c["amount"], c["outcome"], c["http_status"])
            for c in calls] == [
        (1, "subsidies.create", body["out_subsidy_no"], 2000, "APPLIED", 200),
        (2, "subsidies.create", body["out_subsidy_no"], 2000, "REPLAYED", 200),
        (3, "subsidies.create", body["out_subsidy_no"], 1, "REJECTED", 400)]
    assert all(c["transaction_id"] == transaction_id and c["fault"] is None for c in calls)


def test_reset_forgets_everything(book):
    transaction_id, _ = _subsidised(book)
    book.reset()
    assert book.calls() == [] and book.money() == {} and book.transaction_view(transaction_id) is None
