"""Subsidies and subsidy returns: the service layer.

`create(ctx, request)`, key bizSubsidiesId; `return_subsidy(ctx, request)`, key paymentRefundId +
bizReturnSubsidiesId. Both run one reentry record (chalicelib/reentry) through the channel:

| the record for the key                | answer                                                    |
| ------------------------------------- | --------------------------------------------------------- |
| none                                  | recorded (new outbound number), sent, answered by outcome |
| same parameters, SUCCEEDED            | 0 with the stored data; no channel call                    |
| other parameters (any state)          | 1030 REENTRY_MISMATCH (请求重入参数校验失败: the key, the  |
|                                       | parameters that differ); nothing changes                   |
| same parameters, FAILED               | executed again: re-sent with the SAME outbound number      |
| same parameters, UNKNOWN / NEEDS_ATTENTION / stale lease | re-sent, identical, same number        |
| same parameters, live lease elsewhere | waits up to `wait_seconds` for it, else 3002 IN_PROGRESS   |

The outcome of a send: SUCCEEDED -> code 0; FAILED -> 3003 CHANNEL_REJECTED (the channel's code
and message in `data`); UNKNOWN -> 5041 OUTCOME_UNKNOWN (retry the same request).

Returns reserve their amount on the subsidy when claimed (`returnable_amount` down,
`returning_amount` up, conditional on `returnable_amount >= amount` and the subsidy SUCCEEDED),
settle it when SUCCEEDED (`returned_amount` up), release it when FAILED, and keep it while
UNKNOWN: an amount whose return may have moved is never offered to another return.

Every record is keyed under the caller's tenant (`ctx.tenant`, chalicelib/tenant_keys.py): the
subsidy, the return, the one-return-per-bizReturnSubsidiesId guard and the paid-order notice a
subsidy is checked against. Another tenant's subsidy answers exactly like a missing one.
"""
from typing import Callable, Dict, List, Optional

from ..channel import port
from ..data.transactions import Save, Update, Write
from ..errors import ErrorCode, InvalidField, ReentryRefused, differing
from ..logs import log
from ..reentry import (CLAIMED, FAILED, IN_FLIGHT, NEEDS_ATTENTION, RECEIVED, SUCCEEDED, UNKNOWN,
                       EffectRefused, Failed, Record, Reentry, Succeeded, Unknown)
from ..reentry.drive import drive
from ..reentry.models import to_value
from ..reentry.record import fingerprint
from . import rules, transactions
from .answers import SubsidyError
from .context import RETURN, SUBSIDY, Subsidies
from .messages import SubsidyRequest, SubsidyReturnRequest
from .models import BizReturnGuard, Subsidy, SubsidyReturn

# The parameters that matter (fingerprinted). traceId, timestamp, userId, productId and
# description may differ on a re-send: they move no money, and the channel always gets the
# stored original request.
SUBSIDY_PARAMS = ("tenantId", "paymentOrderId", "bizOrderId", "bizRelOrderId", "amount", "mchId",
                  "subMchId")
RETURN_PARAMS = ("paymentOrderId", "bizOrderId", "bizRefundId", "bizReturnSubsidiesId",
                 "bizSubsidiesId", "paymentSubsidiesId", "amount", "mchId", "subMchId")
# Echoed in the answers' data.
SUBSIDY_ECHO = ("amount", "bizOrderId", "bizRelOrderId", "bizSubsidiesId", "description", "mchId",
                "paymentOrderId", "subMchId", "tenantId", "userId")
RETURN_ECHO = SUBSIDY_ECHO + ("bizReturnSubsidiesId", "bizRefundId", "paymentRefundId")
RETURN_STATE_CODES = {RECEIVED: 0, IN_FLIGHT: 0, UNKNOWN: 0, SUCCEEDED: 1, FAILED: 2,
                      NEEDS_ATTENTION: 3}


# -- shared ---------------------------------------------------------------------------------

def _params(request, names) -> Dict:
    return {name: getattr(request, name) for name in names}


def _channel_outcome(outcome: port.Outcome):
    """The channel's answer as a reentry outcome."""
    if isinstance(outcome, port.Accepted):
        if outcome.body.get("result") == "SUCCESS":
            return Succeeded(outcome.body)
        return Failed("FAIL", "the channel answered result FAIL")
    if isinstance(outcome, port.Rejected):
        return Failed(outcome.code, outcome.message)
    return Unknown(outcome.reason)


def _mismatch(key_name: str, key: str, stored: Record, params: Dict) -> ReentryRefused:
    different = differing(stored.extra.get("params", {}), params)
    log("subsidy.reentry_mismatch", kind=stored.kind, key=key, different=different)
    return ReentryRefused(key_name, key, different)


def _biz_return_taken(ctx: Subsidies, request: SubsidyReturnRequest) -> ReentryRefused:
    """The bizReturnSubsidiesId names a return of another refund: which of its parameters differ."""
    try:
        taken = BizReturnGuard.get(BizReturnGuard.key(ctx.tenant, request.bizReturnSubsidiesId),
                                   consistent_read=True)
        stored = {"paymentRefundId": taken.payment_refund_id, "amount": taken.amount}
    except BizReturnGuard.DoesNotExist:
        stored = {"paymentRefundId": None, "amount": None}
    different = differing(stored, {"paymentRefundId": request.paymentRefundId, "amount": request.amount})
    log("subsidy.reentry_mismatch", kind=RETURN, key=request.bizReturnSubsidiesId, different=different)
    return ReentryRefused("bizReturnSubsidiesId", request.bizReturnSubsidiesId,
                          different or ["paymentRefundId"])


def _busy(record: Record) -> SubsidyError:
    return SubsidyError(ErrorCode.REENTRY_IN_PROGRESS,
                        detail=(f"{record.reentry_key}: the same request is being sent to the "
                                "channel; retry it unchanged"))


def _drive(ctx: Subsidies, store: Reentry, claim: Callable, send: Callable, effects: Callable,
           on_mismatch: Callable, on_refused: Callable) -> Record:
    return drive(ctx, store, claim, send, effects, on_mismatch, on_refused, _busy)


def _answer(record: Record, data: Dict) -> Dict:
    if record.state == SUCCEEDED:
        return data
    if record.state == FAILED:
        failure = record.failure or {}
        raise SubsidyError(ErrorCode.CHANNEL_REJECTED,
                           detail=(f"channel rejected: {failure.get('code')} {failure.get('message')}; "
                                   "nothing moved, the same request may be sent again"),
                           data={**data, "channelCode": failure.get("code"),
                                 "channelMessage": failure.get("message")})
    raise SubsidyError(ErrorCode.OUTCOME_UNKNOWN,
                       detail=(f"the channel's answer for {record.outbound_no} is unknown "
                               f"({record.last_error or record.state}); retry the same request: "
                               "the same outbound number is sent again"),
                       data={**data, "state": record.state})


# -- create ---------------------------------------------------------------------------------

def subsidy_data(record: Record, trace_id: Optional[str] = None) -> Dict:
    echo = record.extra.get("echo", {})
    result = record.result or {}
    return {**{name: echo.get(name) for name in SUBSIDY_ECHO},
            "openid": record.extra.get("openid", ""),
            "paymentSubsidiesId": record.outbound_no,
            "proxyChannelSubsidiesId": result.get("subsidy_id", "") if record.state == SUCCEEDED else "",
            "traceId": trace_id if trace_id is not None else echo.get("traceId")}


def create(ctx: Subsidies, request: SubsidyRequest) -> Dict:
    store = ctx.store(SUBSIDY)
    pk = Subsidy.key(ctx.tenant, request.bizSubsidiesId)
    params = _params(request, SUBSIDY_PARAMS)
    fingerprint_ = fingerprint(params)

    def mismatch(stored: Record) -> SubsidyError:
        return _mismatch("bizSubsidiesId", request.bizSubsidiesId, stored, params)

    paid = transactions.find(ctx, request.paymentOrderId)
    if paid is None or paid["sub_mchid"] != request.subMchId or paid["mch_id"] != request.mchId:
        stored = store.get(pk)
        if stored is not None and stored.fingerprint != fingerprint_:
            raise mismatch(stored)
        if paid is None:
            raise SubsidyError(ErrorCode.PAYMENT_ORDER_NOT_FOUND, field="paymentOrderId",
                               detail="no paid channel transaction was notified for it")
        name = "subMchId" if paid["sub_mchid"] != request.subMchId else "mchId"
        raise InvalidField(name, "is not the paid order's merchant")
    channel_request = {"sub_mchid": request.subMchId, "transaction_id": paid["transaction_id"],
                       "amount": request.amount, "description": request.description}
    attributes = {"tenant": ctx.tenant, "params": params,
                  "echo": {**_params(request, SUBSIDY_ECHO), "traceId": request.traceId},
                  "openid": paid["openid"], "transaction_id": paid["transaction_id"],
                  "total_amount": request.amount, "returnable_amount": request.amount,
                  "returning_amount": 0, "returned_amount": 0, "returns": {}}

    def claim():
        return store.claim(pk, request.bizSubsidiesId, fingerprint_, channel_request, "out_subsidy_no",
                           attributes)

    record = _drive(ctx, store, claim, lambda r: _channel_outcome(ctx.channel.create_subsidy(r.request)),
                    lambda before, after, outbound_no, outcome: [], mismatch, _unexpected_refusal)
    return _answer(record, subsidy_data(record, request.traceId))


def _unexpected_refusal(refused: EffectRefused):
    raise RuntimeError(f"unexpected refusal of effect {refused.index}")


# -- return ---------------------------------------------------------------------------------

def return_data(record: Record, subsidy: Optional[Record], trace_id: Optional[str] = None) -> Dict:
    echo = record.extra.get("echo", {})
    result = record.result or {}
    return {**{name: echo.get(name) for name in RETURN_ECHO},
            "openid": subsidy.extra.get("openid", "") if subsidy else "",
            "paymentSubsidiesId": echo.get("paymentSubsidiesId"),
            "proxyChannelSubsidiesId": ((subsidy.result or {}).get("subsidy_id", "")
                                        if subsidy else ""),
            "paymentReturnSubsidiesId": record.outbound_no,
            "proxyChannelReturnSubsidiesId": (result.get("subsidy_refund_id", "")
                                              if record.state == SUCCEEDED else ""),
            "traceId": trace_id if trace_id is not None else echo.get("traceId")}


def _row(request: SubsidyReturnRequest, outbound_no: str, state: str,
         proxy_id: str = "") -> Dict:
    return {"biz_return_subsidies_id": request.bizReturnSubsidiesId,
            "biz_refund_id": request.bizRefundId, "payment_refund_id": request.paymentRefundId,
            "payment_return_subsidies_id": outbound_no,
            "proxy_channel_return_subsidies_id": proxy_id, "amount": request.amount,
            "state_name": state}


def _return_effects(tenant: str, request: SubsidyReturnRequest, subsidy_pk: str):
    """The subsidy's amounts and its row of this return, changed with the return's record
    (the subsidy and the guard are the return's own tenant's). How the amounts move is
    chalicelib/subsidies/rules.py; this only writes its movements."""
    amount = request.amount

    def update(movement: Optional[rules.Movement], row: Dict) -> Update:
        changes = movement.changes() if movement else {}
        actions = [getattr(Subsidy, name).set(getattr(Subsidy, name) + delta)
                   for name, delta in changes.items()]
        actions.append(Subsidy.returns[request.paymentRefundId].set(to_value(row)))
        condition = None
        if movement is not None and movement.requires_returnable:
            # The rule's check, made by DynamoDB on the stored amounts: concurrent returns never
            # reserve the same fen. Only a SUCCEEDED subsidy was granted anything to return.
            condition = ((Subsidy.state == SUCCEEDED)
                         & (Subsidy.returnable_amount >= movement.requires_returnable))
        return Update(Subsidy(subsidy_pk), actions, condition)

    def effects(before: Optional[Record], after: str, outbound_no: str, outcome) -> List[Write]:
        if after == CLAIMED:
            reserve = update(rules.reserve(amount), _row(request, outbound_no, IN_FLIGHT))
            if before is None:
                guard = Save(BizReturnGuard(BizReturnGuard.key(tenant, request.bizReturnSubsidiesId),
                                            payment_refund_id=request.paymentRefundId, amount=amount),
                             condition=BizReturnGuard.pk.does_not_exist())
                return [guard, reserve]
            return [reserve] if before.state == FAILED else []
        if after == SUCCEEDED:
            row = _row(request, outbound_no, SUCCEEDED, outcome.answer.get("subsidy_refund_id", ""))
            if before.state == FAILED:      # the reservation was released: take it again
                return [update(rules.settle_released(amount), row)]
            return [update(rules.settle(amount), row)]
        if after == FAILED:
            return [update(rules.release(amount), _row(request, outbound_no, FAILED))]
        return [update(None, _row(request, outbound_no, UNKNOWN))]

    return effects


def return_subsidy(ctx: Subsidies, request: SubsidyReturnRequest) -> Dict:
    subsidies, returns = ctx.store(SUBSIDY), ctx.store(RETURN)
    pk = SubsidyReturn.key(ctx.tenant, request.paymentRefundId)
    subsidy_pk = Subsidy.key(ctx.tenant, request.bizSubsidiesId)
    params = _params(request, RETURN_PARAMS)
    fingerprint_ = fingerprint(params)
    key_text = f"{request.paymentRefundId}/{request.bizReturnSubsidiesId}"

    def mismatch(stored: Record) -> ReentryRefused:
        return _mismatch("paymentRefundId", request.paymentRefundId, stored, params)

    subsidy = subsidies.get(subsidy_pk)
    problem = None
    if subsidy is None:
        problem = SubsidyError(ErrorCode.SUBSIDY_NOT_FOUND, field="bizSubsidiesId",
                               detail="no subsidy with this bizSubsidiesId")
    elif subsidy.outbound_no != request.paymentSubsidiesId:
        problem = SubsidyError(ErrorCode.SUBSIDY_NOT_FOUND, field="paymentSubsidiesId",
                               detail=f"is not the paymentSubsidiesId of subsidy {request.bizSubsidiesId}")
    elif subsidy.extra["params"]["paymentOrderId"] != request.paymentOrderId:
        problem = InvalidField("paymentOrderId", "is not the paid order of this subsidy")
    elif subsidy.extra["params"]["subMchId"] != request.subMchId:
        problem = InvalidField("subMchId", "is not the sub-merchant of this subsidy")
    elif request.tenantId is not None and request.tenantId != subsidy.extra["params"]["tenantId"]:
        problem = InvalidField("tenantId", "is not the tenant of this subsidy")
    if problem is not None:
        stored = returns.get(pk)
        if stored is not None and stored.fingerprint != fingerprint_:
            raise mismatch(stored)
        raise problem
    channel_request = {"sub_mchid": request.subMchId, "transaction_id": subsidy.extra["transaction_id"],
                       "refund_id": request.paymentRefundId, "amount": request.amount,
                       "description": request.description}
    echo = {**_params(request, RETURN_ECHO), "paymentSubsidiesId": request.paymentSubsidiesId,
            "tenantId": subsidy.extra["echo"].get("tenantId"), "traceId": request.traceId}
    attributes = {"tenant": ctx.tenant, "params": params, "echo": echo, "subsidy_pk": subsidy_pk}
    effects = _return_effects(ctx.tenant, request, subsidy_pk)

    def claim():
        return returns.claim(pk, key_text, fingerprint_, channel_request, "out_order_no", attributes,
                             effects)

    def refused(outcome: EffectRefused):
        if outcome.record is None and outcome.index == 0:
            # One bizReturnSubsidiesId, one refund, one amount.
            return _biz_return_taken(ctx, request)
        now = subsidies.get(subsidy_pk)
        if now is None or now.state != SUCCEEDED:
            return SubsidyError(ErrorCode.SUBSIDY_NOT_RETURNABLE, field="bizSubsidiesId",
                                detail=f"the subsidy is {now.state if now else 'missing'}, not SUCCEEDED")
        return SubsidyError(ErrorCode.RETURN_EXCEEDS_SUBSIDY, field="amount",
                            detail=(f"{request.amount} is over what is left of the subsidy: "
                                    f"{now.extra.get('returnable_amount')} of {now.extra.get('total_amount')} "
                                    f"(returned {now.extra.get('returned_amount')}, returning "
                                    f"{now.extra.get('returning_amount')})"),
                            data={"totalAmount": now.extra.get("total_amount"),
                                  "returnableAmount": now.extra.get("returnable_amount"),
                                  "returnedAmount": now.extra.get("returned_amount"),
                                  "returningAmount": now.extra.get("returning_amount")})

    record = _drive(ctx, returns, claim,
                    lambda r: _channel_outcome(ctx.channel.return_subsidy(r.request)),
                    effects, mismatch, refused)
    return _answer(record, return_data(record, subsidy, request.traceId))


# -- view -----------------------------------------------------------------------------------

def view(ctx: Subsidies, biz_subsidies_id: str) -> Dict:
    if not (biz_subsidies_id.isascii() and biz_subsidies_id.isdigit() and len(biz_subsidies_id) <= 32):
        raise InvalidField("bizSubsidiesId", "must be 1-32 digits")
    record = ctx.store(SUBSIDY).get(Subsidy.key(ctx.tenant, biz_subsidies_id))
    if record is None:
        raise SubsidyError(ErrorCode.SUBSIDY_NOT_FOUND, field="bizSubsidiesId",
                           detail="no subsidy with this bizSubsidiesId")
    totals = {name: record.extra.get(name, 0) for name in
              ("total_amount", "returned_amount", "returning_amount", "returnable_amount")}
    rows = []
    for refund, row in sorted(record.extra.get("returns", {}).items()):
        rows.append({"state": RETURN_STATE_CODES.get(row.get("state_name"), 0), **totals, **row})
    return {**subsidy_data(record), "state": record.state, **totals,
            "transactionId": record.extra.get("transaction_id"), "sends": record.sends,
            "sweeps": record.sweeps, "channelFailure": record.failure,
            "lastError": record.last_error, "createdAt": record.created_at,
            "updatedAt": record.updated_at, "returns": rows}
