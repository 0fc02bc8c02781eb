"""The merchant system: places pays and withdraws with the payment API and
resolves the ones whose answer was lost.

`place(ctx, request)`: builds the contract's message (request_time now, a fresh
unique request_id), stores the order INIT *before* sending, sends it, and stores
the outcome. Outcomes, all named:
* SUCCESS: the payment system recorded it as successful (response_* stored);
* FAIL: it recorded a failure (e.g. 账户余额不足，提款失败), or refused the message
  with HTTP 400, in which case it recorded nothing (response_msg says why,
  response_id stays null);
* UNKNOWN: no usable answer (timeout, connection error, 5xx, garbled) — never
  FAIL — or an HTTP 409, which must not happen and is logged as an error;
* INVALID_FIELD (400 / 1001, raised before anything is stored);
* BUSY / INTERNAL (503 / 500, by `chalicelib.http.handled`) when storing INIT
  failed: nothing was sent. When storing the outcome failed, the order stays
  INIT and is resolved like a sender that died.

With an idempotency key (the caller's `Idempotency-Key` header), the order and
the key are stored together, and a request whose key is already stored places
nothing. Its outcomes:
* the key's order, as `find` gives it (an UNKNOWN or stranded INIT order is
  resolved first): the request was the same kind, saler_id and amount;
* REENTRY_MISMATCH (409 / 1030, 请求重入参数校验失败): the key's order is for another kind,
  saler_id or amount (named in the message); nothing placed;
* REENTRY_IN_PROGRESS (409 / 3002): the key's order is INIT and its sender is
  still waiting for the payment API; the same request may be sent again later;
* BUSY (503) when concurrent requests with the key kept cancelling each other.
Without a key, every request places a new order.

`find(ctx, request_id)`: the order; an UNKNOWN order, or an INIT order whose
sender must have died, is resolved first. Outcomes: the order as stored after
the attempt; INVALID_FIELD for a malformed request_id; MERCHANT_ORDER_NOT_FOUND.

`resolve(ctx, order)`: re-sends the IDENTICAL stored message (same request_id,
request_time, amount; never a new request id: the payment API answers a known
request_id with its original answer, and records an unknown one once), then
stores the outcome as above. Concurrent resolvers all get the same answer;
the first stores it, the others find the order final (`AlreadyFinal`) and
return what is stored.
"""
import logging
from typing import Optional

from chalicelib import fields
from chalicelib.errors import ErrorCode, InvalidField, PaySettleError, ReentryRefused
from chalicelib.logs import log
from . import payment_client
from .context import Merchant
from .messages import IDEMPOTENCY_KEY_HEADER
from .orders import MerchantOrder
from .repository import AlreadyFinal, KeyContended, KeyUsed, RequestIdTaken

# Draws of a fresh request id before giving up (a collision needs the same second
# and the same 6 random digits: a second draw practically never collides).
MAX_ID_DRAWS = 10


def _store_new(ctx: Merchant, request, key: Optional[str]) -> MerchantOrder:
    for _ in range(MAX_ID_DRAWS):
        moment = ctx.now()
        order = MerchantOrder.new(request.kind, ctx.new_request_id(moment), request.saler_id,
                                  request.amount, moment, idempotency_key=key)
        try:
            if key is None:
                ctx.orders.insert(order)
            else:
                ctx.orders.insert_keyed(order, key)
            return order
        except RequestIdTaken:
            log("merchant.request_id_collision", request_id=order.request_id)
    raise PaySettleError(ErrorCode.BUSY, detail="could not draw an unused request_id")


def _record(ctx: Merchant, order: MerchantOrder, outcome) -> MerchantOrder:
    """Store what one send of `order`'s message produced; return the order as stored."""
    moment = ctx.now()
    if isinstance(outcome, (payment_client.Recorded, payment_client.Refused)):
        after = order.answered(outcome.answer, moment)
    elif isinstance(outcome, payment_client.Conflict):
        log("merchant.reentry_conflict", level=logging.ERROR, request_id=order.request_id,
            kind=order.kind.value, detail=outcome.detail)
        after = order.lost(f"HTTP 409: {outcome.detail}", moment)
    else:
        after = order.lost(outcome.reason, moment)
    try:
        stored = ctx.orders.save(after)
    except AlreadyFinal as final:
        stored = final.stored
        if after.state.final and (after.state, after.response_id) != (stored.state, stored.response_id):
            # The payment API answers one request_id once: two different answers are a fault.
            log("merchant.answers_disagree", level=logging.ERROR, request_id=order.request_id,
                stored=stored.state.value, stored_response_id=stored.response_id,
                late=after.state.value, late_response_id=after.response_id)
        return stored
    log("merchant.order_" + stored.state.value.lower(), request_id=stored.request_id,
        kind=stored.kind.value, attempts=stored.attempts, response_id=stored.response_id,
        response_msg=stored.response_msg, error=stored.last_error)
    return stored


def _send(ctx: Merchant, order: MerchantOrder) -> MerchantOrder:
    return _record(ctx, order, ctx.payment.send(order.kind, order.message()))


def place(ctx: Merchant, request, idempotency_key: Optional[str] = None) -> MerchantOrder:
    """Store INIT, send, store the outcome (SUCCESS | FAIL | UNKNOWN); or, for a key
    already stored, the key's order."""
    try:
        order = _store_new(ctx, request, idempotency_key)
    except KeyUsed as used:
        return _placed_before(ctx, request, used.request_id)
    except KeyContended:
        raise PaySettleError(ErrorCode.BUSY, field=IDEMPOTENCY_KEY_HEADER,
                             detail="concurrent requests with this key; retry the same request") from None
    return _send(ctx, order)


def _placed_before(ctx: Merchant, request, request_id: str) -> MerchantOrder:
    order = ctx.orders.get(request_id)
    if order is None:  # the key and its order were stored in one transaction
        raise RuntimeError(f"idempotency key names a missing order {request_id}")
    different = order.differences(request.kind, request.saler_id, request.amount)
    if different:
        log("merchant.idempotency_key_reused", request_id=order.request_id, different=different)
        raise ReentryRefused(IDEMPOTENCY_KEY_HEADER, order.idempotency_key, different)
    log("merchant.idempotent_replay", request_id=order.request_id, state=order.state.value)
    if order.needs_resolution(ctx.now(), ctx.stranded_after_seconds):
        return resolve(ctx, order)
    if not order.state.final:
        raise PaySettleError(ErrorCode.REENTRY_IN_PROGRESS, field=IDEMPOTENCY_KEY_HEADER,
                             detail=f"order {order.request_id} is still being sent; "
                                    "send the same request again later")
    return order


def resolve(ctx: Merchant, order: MerchantOrder) -> MerchantOrder:
    """Re-send the identical stored message of an INIT or UNKNOWN order."""
    return _send(ctx, order)


def find(ctx: Merchant, request_id: str) -> MerchantOrder:
    try:
        fields.request_id(request_id)
    except ValueError as exc:
        raise InvalidField("request_id", str(exc)) from None
    order = ctx.orders.get(request_id)
    if order is None:
        raise PaySettleError(ErrorCode.MERCHANT_ORDER_NOT_FOUND, field="request_id",
                             detail="no merchant order with this request_id")
    if order.needs_resolution(ctx.now(), ctx.stranded_after_seconds):
        return resolve(ctx, order)
    return order
