"""Profit-sharing orders (执行分账): `share(ctx, request)`, `view`, `apply_results`.

One profit-sharing order per (trade, payment order) (`tradeId`: paymentOrderId for platform
dimension 1, bizRelOrderId for dimension 2; a business order of dimension 2 paid by several payment
orders is shared once per payment order), a reentry record
`T#<tenant>#SHARING#<tradeId>#<paymentOrderId>` (chalicelib/reentry) whose outbound number is the
center's `sharingOrderId` (WeChat's out_order_no). `T#<tenant>#SHARINGS#<tradeId>` lists the payment
orders a trade was shared for (`view` without a paymentOrderId). Reentry (the profit-sharing
question "发起分账重入的情况?"), per sharing order:

| the record for the (trade, payment order) | answer                                                  |
| ------------------------------------- | ----------------------------------------------------------- |
| none                                  | recorded (new sharingOrderId), sent (or scheduled), answered |
| same parameters, accepted / scheduled / cancelled | 0 with the records (no channel call)             |
| other parameters (any state)          | 1030 REENTRY_MISMATCH, nothing changes                      |
| same parameters, rejected (FAILED)    | executed again: re-sent with the SAME sharingOrderId        |
| same parameters, UNKNOWN / stale lease| re-sent, identical, same sharingOrderId                     |
| same parameters, live lease elsewhere | waits `wait_seconds`, else 3002                             |

The three unique keys of the sharing details — (trade, sharingOrderId, receiver), (trade,
paymentOrderId, receiver), (trade, transaction_id, receiver) — are enforced at the level of the
sharing order: one record per (trade, payment order) whose receivers are distinct (the request is
refused otherwise), and guard items written with the record in one transaction
(`T#<tenant>#UK#SO#<trade>#<sharingOrderId>`, `...#UK#PO#<trade>#<paymentOrderId>`,
`...#UK#TX#<trade>#<transaction_id>`), so a receiver appears at most once per (trade, payment
order); 50 receivers × 3 per-receiver guards would not fit TransactWriteItems' 100 items.

`unfreezeOrder` 2 keeps what is not shared frozen at the channel: it is unfrozen by
`chalicelib/sharing/unfreeze.py`, on request or by the scheduler after the sharing is final.

Everything is keyed under the caller's tenant (`ctx.tenant`, chalicelib/tenant_keys.py): the
record, its guards and the paid-order notice it is checked against. Another tenant's sharing
answers exactly like a missing one; the sharingOrderId stays unique across every tenant (the
reentry's OUTBOUND#<no> guard), so two tenants never collide at the channel.

Per receiver results (PENDING -> SUCCESS | CLOSED) come from the channel's answers, its
notifications and the scheduler's queries, whichever comes first; each is a conditional write
from PENDING, so a final result never moves. A SUCCESS adds the amount to the receiver's
`holdings` (what returns on refunds may take back).
"""
from typing import Dict, List, Optional

from pynamodb.exceptions import UpdateError

from ..data.transactions import Save, Update, Write
from ..dynamo import condition_failed
from ..errors import ErrorCode, InvalidField, ReentryRefused, differing
from ..logs import log
from ..reentry import (CANCELLED, CLAIMED, FAILED, IN_FLIGHT, NEEDS_ATTENTION, RECEIVED, SUCCEEDED,
                       UNKNOWN, Record)
from ..reentry.models import to_value
from ..reentry.record import fingerprint
from ..subsidies.transactions import find_for as find_paid_for
from . import unfreeze
from .common import SharingError, accepted_outcome, drive, follow_item
from .context import SHARING, Sharing
from .messages import SharingRequest
from .models import FollowMarker, SharingOutboundGuard, SharingRecord, SharingTradeIndex, UniqueGuard

NUMBER_FIELD = "out_order_no"
PARAMS = ("tenantId", "platformSharingDimension", "paymentOrderId", "bizOrderId", "bizRelOrderId",
          "sharingMode", "planSharingTime", "unfreezeOrder", "spId", "appid", "settlementTime")
ECHO = ("traceId", "productId", "tenantId", "userId", "spId", "spName", "platformSharingDimension",
        "paymentOrderId", "bizOrderId", "bizRelOrderId", "sharingMode", "planSharingTime",
        "unfreezeOrder", "appid", "settlementTime")
PENDING, SUCCESS, CLOSED = "PENDING", "SUCCESS", "CLOSED"


def _receivers(request: SharingRequest) -> List[Dict]:
    return sorted(({"receiveMchId": r.receiveMchId, "receiveType": r.receiveType,
                    "amount": r.amount, "description": r.description} for r in request.receivers),
                  key=lambda r: r["receiveMchId"])


def paid_sub_merchant(ctx: Sharing, payment_order_id: str) -> Optional[str]:
    """The sub-merchant the channel says was paid for this order (its transaction notice, of
    the caller's tenant), or None while no notice has come (or it is another tenant's): whose
    money a sharing of it would move."""
    paid = _find_paid(ctx, payment_order_id)
    return paid.get("sub_mchid") if paid else None


def _find_paid(ctx: Sharing, payment_order_id: str) -> Optional[dict]:
    if not ctx.transactions_table:
        return None
    return find_paid_for(ctx, ctx.tenant, payment_order_id)


def _guards(tenant: str, trade_id: str, payment_order_id: str, transaction_id: str,
            sharing_order_id: str, pk: str) -> List[Save]:
    keys = (UniqueGuard.key(tenant, "SO", trade_id, sharing_order_id),
            UniqueGuard.key(tenant, "PO", trade_id, payment_order_id),
            UniqueGuard.key(tenant, "TX", trade_id, transaction_id))
    return [Save(UniqueGuard(guard, record=pk), condition=UniqueGuard.pk.does_not_exist())
            for guard in keys]


def _trade_index(tenant: str, trade_id: str, payment_order_id: str) -> Update:
    return Update(SharingTradeIndex(SharingTradeIndex.key(tenant, trade_id)),
                  [SharingTradeIndex.payment_orders.add({payment_order_id})])


def _effects(ctx: Sharing, tenant: str, record_pk: str, trade_id: str, payment_order_id: str,
             transaction_id: str):
    def effects(before, after, outbound_no, outcome) -> List[Write]:
        if after == CLAIMED and before is None:
            return _guards(tenant, trade_id, payment_order_id, transaction_id, outbound_no,
                           record_pk) + [_trade_index(tenant, trade_id, payment_order_id)]
        if after == SUCCEEDED:
            # Accepted by the channel: results are followed until every receiver is final.
            return [follow_item(ctx, SHARING, record_pk)]
        return []
    return effects


def effects_for(ctx: Sharing, record: Record):
    extra = record.extra
    return _effects(ctx, extra["tenant"], record.pk, extra["trade_id"], extra["payment_order_id"],
                    extra["transaction_id"])


def send(ctx: Sharing):
    return lambda record: accepted_outcome(ctx.channel.create_sharing(record.request))


def _sharing_key(trade_id: str, payment_order_id: str) -> str:
    """A sharing order's reentry key as the refusal names it: one per (trade, payment order)."""
    return f"{trade_id} with paymentOrderId {payment_order_id}"


def _mismatch(trade_id: str, payment_order_id: str, stored: Record, params: Dict) -> ReentryRefused:
    different = differing(stored.extra.get("params", {}), params)
    log("sharing.reentry_mismatch", trade_id=trade_id, payment_order_id=payment_order_id,
        different=different)
    return ReentryRefused("tradeId", _sharing_key(trade_id, payment_order_id), different)


def _refused(trade_id: str, payment_order_id: str):
    # The guards' order in `_guards`: sharingOrderId, paymentOrderId, transaction id.
    guarded = ("sharingOrderId", "paymentOrderId", "transactionId")
    return lambda outcome: ReentryRefused("tradeId", _sharing_key(trade_id, payment_order_id),
                                          [guarded[outcome.index]] if outcome.index < len(guarded) else [])


def share(ctx: Sharing, request: SharingRequest) -> Dict:
    trade_id = request.trade_id
    store = ctx.store(SHARING)
    pk = SharingRecord.key(ctx.tenant, trade_id, request.paymentOrderId)
    receivers = _receivers(request)
    params = {**{name: getattr(request, name) for name in PARAMS}, "receivers": receivers}
    params["planSharingTime"] = params["planSharingTime"] or 0
    params["settlementTime"] = params["settlementTime"] or 0
    params["appid"] = params["appid"] or ""
    fingerprint_ = fingerprint(params)

    paid = _find_paid(ctx, request.paymentOrderId)
    problem = None
    if paid is None:
        problem = SharingError(ErrorCode.PAYMENT_ORDER_NOT_FOUND, field="paymentOrderId",
                               detail="no paid channel transaction was notified for it")
    elif paid.get("biz_order_id") != request.bizOrderId:
        problem = InvalidField("bizOrderId", "is not the paid order's bizOrderId")
    elif sum(r["amount"] for r in receivers) > int(paid["amount"]):
        problem = SharingError(ErrorCode.SHARING_EXCEEDS_ORDER, field="receivers",
                               detail=(f"the receivers' total {sum(r['amount'] for r in receivers)} is "
                                       f"over the paid amount {paid['amount']}"))
    if problem is not None:
        stored = store.get(pk)
        if stored is not None and stored.fingerprint != fingerprint_:
            raise _mismatch(trade_id, request.paymentOrderId, stored, params)
        raise problem
    channel_request = {
        "sub_mchid": paid["sub_mchid"], "transaction_id": paid["transaction_id"],
        "receivers": [{"type": r["receiveType"], "account": r["receiveMchId"], "amount": r["amount"],
                       "description": r["description"]} for r in receivers],
        "unfreeze_unsplit": request.unfreezeOrder == 1}
    attributes = {
        "tenant": ctx.tenant, "params": params, "echo": {name: getattr(request, name) for name in ECHO},
        "trade_id": trade_id, "payment_order_id": request.paymentOrderId,
        "transaction_id": paid["transaction_id"], "sub_mchid": paid["sub_mchid"],
        # The service provider's merchant id of the paid order (服务商模式): the details'
        # parent_merchant_id.
        "parent_merchant_id": paid.get("mch_id", ""),
        "order_amount": int(paid["amount"]),
        "results": {r["receiveMchId"]: {"result": PENDING, "fail_reason": None, "detail_id": "",
                                        "finish_time": ""} for r in receivers},
        "holdings": {}, "shared_success": 0, "refunded_amount": 0, "wx_order_id": ""}
    not_before = 0
    if request.sharingMode == 2:
        plan_ms = request.planSharingTime * 1000
        if plan_ms > int(ctx.now().timestamp() * 1000):
            not_before = plan_ms
    effects = _effects(ctx, ctx.tenant, pk, trade_id, request.paymentOrderId, paid["transaction_id"])

    def claim():
        return store.claim(pk, trade_id, fingerprint_, channel_request, NUMBER_FIELD, attributes,
                           effects, not_before_ms=not_before)

    record = drive(ctx, store, claim, send(ctx), effects,
                   lambda stored: _mismatch(trade_id, request.paymentOrderId, stored, params),
                   _refused(trade_id, request.paymentOrderId))
    if record.state == SUCCEEDED and record.result:
        record = apply_results(ctx, record, record.result)
    return answer(record)


# -- results ----------------------------------------------------------------------------------

def apply_results(ctx: Sharing, record: Record, body: Dict) -> Record:
    """Record each final receiver result of a channel answer (`receivers` list) or a single
    notification (`receiver`) that is still PENDING here; never moves a final result."""
    listed = body.get("receivers") or ([body["receiver"]] if body.get("receiver") else [])
    planned = record.extra.get("results", {})
    changed = False
    for receiver in listed:
        account, result = receiver.get("account"), receiver.get("result")
        if account not in planned or result not in (SUCCESS, CLOSED):
            continue
        if planned[account]["result"] != PENDING:
            continue
        amount = next((r["amount"] for r in record.request["receivers"] if r["account"] == account), 0)
        gained = amount if result == SUCCESS else 0
        row = {"result": result, "fail_reason": receiver.get("fail_reason"),
               "detail_id": receiver.get("detail_id") or "",
               "finish_time": receiver.get("finish_time") or body.get("success_time") or ""}
        try:
            SharingRecord(record.pk).update(
                actions=[SharingRecord.results[account].set(to_value(row)),
                         SharingRecord.shared_success.set(SharingRecord.shared_success + gained),
                         SharingRecord.holdings[account].set(to_value(gained)),
                         SharingRecord.wx_order_id.set(body.get("order_id") or record.extra.get("wx_order_id", ""))],
                condition=SharingRecord.results[account]["result"] == to_value(PENDING))
            changed = True
            log("sharing.receiver_result", trade_id=record.extra["trade_id"], account=account,
                result=result, fail_reason=row["fail_reason"], amount=amount)
        except UpdateError as error:
            if not condition_failed(error):
                raise
    fresh = ctx.store(SHARING).get(record.pk) if changed else record
    if fresh.state == SUCCEEDED and all(r["result"] != PENDING for r in fresh.extra["results"].values()):
        # Final: a sharing that kept the rest frozen gets its scheduled unfreeze first (so a
        # crash between the two leaves the follow marker, and the scheduler comes back here).
        if fresh.extra.get("params", {}).get("unfreezeOrder") == 2:
            unfreeze.schedule(ctx, fresh)
        FollowMarker(FollowMarker.key(fresh.pk)).delete()
    return fresh


def sharing_state(record: Record) -> str:
    if record.state == CANCELLED:
        return "CANCELLED"
    if record.state == RECEIVED and record.not_before and record.sends == 0:
        return "SCHEDULED"
    if record.state == FAILED:
        return "REJECTED"
    if record.state in (UNKNOWN, NEEDS_ATTENTION):
        return "UNKNOWN"
    if record.state in (RECEIVED, IN_FLIGHT):
        return "SENDING"
    pending = any(r["result"] == PENDING for r in record.extra["results"].values())
    return "PROCESSING" if pending else "FINISHED"


def data(record: Record) -> Dict:
    extra = record.extra
    echo = extra.get("echo", {})
    # The columns every detail (one row per receiver) carries.
    common = {"appid": echo.get("appid") or "", "settlementTime": echo.get("settlementTime") or 0,
              "parentMerchantId": extra.get("parent_merchant_id", ""),
              "investMchId": extra.get("sub_mchid", "")}
    rows = []
    for r in record.request["receivers"]:
        result = extra["results"].get(r["account"], {})
        rows.append({"receiveMchId": r["account"], "receiveType": r["type"], "amount": r["amount"],
                     "description": r["description"], "state": result.get("result", PENDING),
                     "failReason": result.get("fail_reason"), "detailId": result.get("detail_id", ""),
                     "finishTime": result.get("finish_time", ""), **common})
    # Receivers whose planned amount a refund reduced to nothing (delayed sharing).
    for account in sorted(set(extra["results"]) - {r["account"] for r in record.request["receivers"]}):
        rows.append({"receiveMchId": account, "receiveType": None, "amount": 0, "description": None,
                     "state": extra["results"][account]["result"],
                     "failReason": extra["results"][account].get("fail_reason"), "detailId": "",
                     "finishTime": "", **common})
    return {"tradeId": extra["trade_id"], "sharingOrderId": record.outbound_no,
            "wxSharingOrderId": extra.get("wx_order_id") or (record.result or {}).get("order_id", ""),
            "state": sharing_state(record), **echo,
            "appid": common["appid"], "settlementTime": common["settlementTime"],
            "parentMerchantId": common["parentMerchantId"],
            "transactionId": extra["transaction_id"],
            "planSharingTime": echo.get("planSharingTime") or 0,
            "sharedAmount": extra.get("shared_success", 0),
            "refundedAmount": extra.get("refunded_amount", 0),
            "holdings": extra.get("holdings", {}), "sends": record.sends,
            "channelFailure": record.failure, "lastError": record.last_error,
            "receivers": rows}


def answer(record: Record) -> Dict:
    body = data(record)
    if record.state == FAILED:
        failure = record.failure or {}
        raise SharingError(ErrorCode.CHANNEL_REJECTED,
                           detail=(f"channel rejected: {failure.get('code')} {failure.get('message')}; "
                                   "nothing moved, the same request may be sent again"),
                           data={**body, "channelCode": failure.get("code"),
                                 "channelMessage": failure.get("message")})
    if record.state in (UNKNOWN, NEEDS_ATTENTION):
        raise SharingError(ErrorCode.OUTCOME_UNKNOWN,
                           detail=(f"the channel's answer for {record.outbound_no} is unknown "
                                   f"({record.last_error or record.state}); retry the same request: "
                                   "the same sharingOrderId is sent again"), data=body)
    return body


def _check_trade_id(trade_id: str) -> None:
    if not (trade_id.isascii() and trade_id.isprintable() and 0 < len(trade_id) <= 64 and " " not in trade_id):
        raise InvalidField("tradeId", "must be 1-64 printable ASCII characters")


def _not_found() -> SharingError:
    return SharingError(ErrorCode.SHARING_NOT_FOUND, field="tradeId",
                        detail="no profit sharing for this tradeId")


def payment_orders_of(ctx: Sharing, trade_id: str) -> List[str]:
    """The payment orders the caller's tenant shared this trade for, sorted."""
    try:
        index = SharingTradeIndex.get(SharingTradeIndex.key(ctx.tenant, trade_id), consistent_read=True)
    except SharingTradeIndex.DoesNotExist:
        return []
    return sorted(index.payment_orders or ())


def find(ctx: Sharing, trade_id: str, payment_order_id: Optional[str] = None) -> Record:
    """The caller's tenant's sharing order of (trade, payment order); without a payment order,
    the trade's only one (or, for dimension 1, the one whose payment order is the trade).
    Another tenant's is 4049 exactly like a missing one."""
    _check_trade_id(trade_id)
    if payment_order_id is not None and not (payment_order_id.isascii() and payment_order_id.isdigit()
                                             and len(payment_order_id) <= 32):
        raise InvalidField("paymentOrderId", "must be 1-32 digits")
    if payment_order_id is None:
        known = payment_orders_of(ctx, trade_id)
        if not known:
            raise _not_found()
        if len(known) > 1 and trade_id not in known:
            raise InvalidField("paymentOrderId", (f"is required: trade {trade_id} has {len(known)} "
                                                  "sharing orders (one per payment order)"))
        payment_order_id = trade_id if trade_id in known else known[0]
    record = ctx.store(SHARING).get(SharingRecord.key(ctx.tenant, trade_id, payment_order_id))
    if record is None:
        raise _not_found()
    return record


def view(ctx: Sharing, trade_id: str, payment_order_id: Optional[str] = None) -> Dict:
    """One sharing order, and `sharingOrders`: the trade's sharing orders, one per payment order
    (the top-level fields are the one asked for, else the first's)."""
    _check_trade_id(trade_id)
    known = payment_orders_of(ctx, trade_id)
    if payment_order_id is None and len(known) > 1 and trade_id not in known:
        payment_order_id = known[0]
    record = find(ctx, trade_id, payment_order_id)
    answered = dict(data(record), unfreeze=unfreeze.view(ctx, record))
    others = []
    for po in known:
        other = record if po == record.extra["payment_order_id"] else \
            ctx.store(SHARING).get(SharingRecord.key(ctx.tenant, trade_id, po))
        if other is not None:
            others.append({"paymentOrderId": po, "sharingOrderId": other.outbound_no,
                           "state": sharing_state(other),
                           "sharedAmount": other.extra.get("shared_success", 0)})
    answered["sharingOrders"] = others
    return answered


def by_outbound_no(ctx: Sharing, out_order_no: str) -> Optional[Record]:
    """The sharing that sent this sharingOrderId, whatever its tenant: the number is unique
    across every tenant, and its guard names the one record (hence the one tenant) it is of.
    For the channel's notices only, which belong to no tenant of their own."""
    try:
        guard = SharingOutboundGuard.get(SharingOutboundGuard.key(out_order_no), consistent_read=True)
    except SharingOutboundGuard.DoesNotExist:
        return None
    record = ctx.store(SHARING).get(guard.record)
    return record if record is not None and record.kind == SHARING else None
