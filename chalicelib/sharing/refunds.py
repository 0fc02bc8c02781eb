"""Profit-sharing returns on refunds (分账回退): `handle(ctx, notice)`, `view(ctx, refund_id)`.

For each profit-sharing order of the refunded payment order (trade = paymentOrderId or
bizRelOrderId; one sharing order per (trade, payment order), so the split below is per sharing
order):
one relation `T#<tenant>#REFUND#<trade>#<paymentOrderId>#<refundId>` (the profit-sharing relation table:
apply / refund / actual_base_return amounts, state 0 init, 1 done, 2 failed, 3 nothing to return)
and one return order per receiver, a reentry record
`T#<tenant>#SRETURN#<trade>#<paymentOrderId>#<refundId>#<mch>` whose outbound number is its
`sharingReturnNo` (WeChat's out_return_no), never re-numbered; `T#<tenant>#REFUNDID#<refundId>`
lists a refund's relations for `view`.

The tenant is the caller's (`ctx.tenant`: the signed route's caller, or the queue message's
`tenant` attribute); a refund sees only its tenant's sharings, and a relation carries its
tenant, so the scheduler continues it under that tenant.

How much (chalicelib/sharing/refund_holdings.py, allocation.py): the cumulative returns after a refund are
floor(shared × refunded / order total) (a full refund: everything still held), split among the
receivers by what each still holds (largest remainder). The allocation is computed ONCE, when
the relation is written, in the same transaction that takes the amounts off the sharing's
`holdings` and adds the refund to its `refunded_amount` (conditional on the values read, so
concurrent refunds never take the same fen twice); re-sends never recompute it.

The sharing's state decides:
* no sharing, sharing rejected or cancelled, or nothing SUCCESS: state 3;
* a delayed sharing still SCHEDULED (never sent): the plan is reduced in proportion (a full
  refund cancels it), relation state 3 (nothing moved on the channel, nothing to take back);
* a sharing in flight, UNKNOWN, or with PENDING receivers: 3006, nothing written (the queue
  re-delivers the notice; an operator re-sends).

Reentry (the profit-sharing question "分账回退重入的情况?"): the same notice again -> the relation and
its returns from the records (no channel call for settled returns); another notice with the
same refundId but other amounts -> 1030; a return FAILED by a channel rejection, UNKNOWN or
left with a stale lease -> re-sent with the SAME sharingReturnNo; PROCESSING -> queried by the
scheduler (or re-sent: WeChat answers the current state), never re-numbered.
"""
from typing import Dict, List, Optional

from ..data.transactions import Cancelled, Save, Transaction, Update, Write
from ..errors import ErrorCode, InvalidField, ReentryRefused, differing
from ..logs import log
from ..reentry import CANCELLED, FAILED, RECEIVED, SUCCEEDED, LeaseLost, Record
from ..reentry.models import plain, to_value
from ..reentry.record import fingerprint
from .. import clock
from . import allocation, orders, refund_holdings
from .common import SharingError, accepted_outcome, drive, follow_item
from .context import SHARING, SHARING_RETURN, Sharing
from .messages import RefundNotification
from .models import FollowMarker, RefundIdIndex, RefundRelation, SharingRecord, SharingReturn

PARAMS = ("refundId", "paymentOrderId", "bizOrderId", "bizRelOrderId", "amt", "orderTotal",
          "refundType", "mchId", "subMchId")
NUMBER_FIELD = "out_return_no"
DESCRIPTION = "用户退款"
MAX_ROUNDS = 20
# The channel's return-order states: 0 init, 1 processing, 2 succeeded, 3 failed.
INIT, PROCESSING, SUCCEEDED_, FAILED_ = 0, 1, 2, 3
# A receiver a refund removed from a delayed plan: CLOSED, fail reason REFUNDED.
CLOSED_BY_REFUND = "CLOSED"


def get_relation(ctx: Sharing, pk: str) -> Optional[dict]:
    """The refund relation `pk` as stored (a consistent read), or None."""
    try:
        return plain(RefundRelation.get(pk, consistent_read=True))
    except RefundRelation.DoesNotExist:
        return None


def _sharings(ctx: Sharing, notice: RefundNotification) -> List[Record]:
    found = []
    for trade in dict.fromkeys((notice.paymentOrderId, notice.bizRelOrderId)):
        record = ctx.store(SHARING).get(SharingRecord.key(ctx.tenant, trade, notice.paymentOrderId))
        if record is not None:
            found.append(record)
    return found


def handle(ctx: Sharing, notice: RefundNotification) -> Dict:
    deadline = ctx.monotonic() + ctx.request_budget_seconds
    params = {name: getattr(notice, name) for name in PARAMS}
    fingerprint_ = fingerprint(params)
    sharings = _sharings(ctx, notice)
    relations = []
    if not sharings:
        relations.append(_nothing_to_return(ctx, notice, notice.paymentOrderId, None, params, fingerprint_))
    for sharing in sharings:
        relations.append(_relation(ctx, notice, sharing, params, fingerprint_, deadline))
    return answer_data(ctx, relations)


def _base(tenant: str, notice: RefundNotification, trade_id: str, sharing: Optional[Record], params,
          fingerprint_, stamp: str) -> dict:
    return {"pk": RefundRelation.key(tenant, trade_id, notice.paymentOrderId, notice.refundId),
            "tenant": tenant, "kind": "SHARING_REFUND", "trade_id": trade_id, "payment_order_id": notice.paymentOrderId,
            "biz_order_id": notice.bizOrderId,
            "proxy_channel_order_id": sharing.extra["transaction_id"] if sharing else "",
            # The refund's own id: the notice's requestId names one delivery of it, not the refund.
            "payment_refund_id": notice.refundId, "biz_refund_id": notice.refundId,
            "refund_type": notice.refundType, "apply_amount": int(notice.amt),
            "refund_amount": int(notice.amt), "actual_base_return_amount": 0, "state": 3,
            "description": DESCRIPTION, "params": params, "fingerprint": fingerprint_,
            "sharing_pk": sharing.pk if sharing else "", "allocation": {}, "plan_reduced": {},
            "create_time": stamp, "update_time": stamp}


def _relation_writes(relation: dict) -> List[Write]:
    """A new refund relation, and its place among the relations of its refund id."""
    index = RefundIdIndex(RefundIdIndex.key(relation["tenant"], relation["payment_refund_id"]))
    return [Save(RefundRelation(**relation), condition=RefundRelation.pk.does_not_exist()),
            Update(index, [RefundIdIndex.relations.add({relation["pk"]})])]


def _put_relation(ctx: Sharing, relation: dict, more: List[Write]) -> Optional[dict]:
    """Write the relation with `more` in one transaction (`Cancelled` if any is refused, the
    relation's already existing among them)."""
    transaction = Transaction(RefundRelation)
    for write in _relation_writes(relation) + more:
        transaction.add(write)
    transaction.commit()
    log("sharing_refund.relation", pk=relation["pk"], state=relation["state"],
        actual_base_return_amount=relation["actual_base_return_amount"])
    return relation


def _existing(ctx: Sharing, pk: str, fingerprint_: str, refund_id: str, params: Dict) -> Optional[dict]:
    stored = get_relation(ctx, pk)
    if stored is not None and stored["fingerprint"] != fingerprint_:
        raise ReentryRefused("refundId", refund_id, differing(stored.get("params", {}), params))
    return stored


def _nothing_to_return(ctx, notice, trade_id, sharing, params, fingerprint_) -> dict:
    pk = RefundRelation.key(ctx.tenant, trade_id, notice.paymentOrderId, notice.refundId)
    stored = _existing(ctx, pk, fingerprint_, notice.refundId, params)
    if stored is not None:
        return stored
    relation = _base(ctx.tenant, notice, trade_id, sharing, params, fingerprint_, clock.iso_utc(ctx.now()))
    try:
        return _put_relation(ctx, relation, [])
    except Cancelled:
        return _existing(ctx, pk, fingerprint_, notice.refundId, params) or relation


def _in_progress(trade_id: str, why: str) -> SharingError:
    return SharingError(ErrorCode.SHARING_IN_PROGRESS, field="paymentOrderId",
                        detail=f"the profit sharing of trade {trade_id} is {why}; send the refund again later")


def _relation(ctx: Sharing, notice: RefundNotification, sharing: Record, params, fingerprint_,
              deadline: Optional[float] = None) -> dict:
    trade_id = sharing.extra["trade_id"]
    pk = RefundRelation.key(ctx.tenant, trade_id, notice.paymentOrderId, notice.refundId)
    amount = int(notice.amt)
    for _ in range(MAX_ROUNDS):
        stored = _existing(ctx, pk, fingerprint_, notice.refundId, params)
        if stored is not None:
            return continue_relation(ctx, stored, deadline)
        sharing = ctx.store(SHARING).get(sharing.pk)
        if sharing.state in (FAILED, CANCELLED):
            return _nothing_to_return(ctx, notice, trade_id, sharing, params, fingerprint_)
        now_ms = int(ctx.now().timestamp() * 1000)
        refunded = int(sharing.extra.get("refunded_amount", 0))
        total = int(notice.orderTotal)
        if total != int(sharing.extra["order_amount"]):      # the base of every proportion
            raise InvalidField("orderTotal", f"is not the paid order's amount {sharing.extra['order_amount']}")
        try:
            refund_holdings.check_refund(refunded, amount, total)
        except refund_holdings.RefundExceedsOrder as refused:
            raise SharingError(ErrorCode.REFUND_EXCEEDS_ORDER, field="amt", detail=str(refused)) from None
        relation = _base(ctx.tenant, notice, trade_id, sharing, params, fingerprint_,
                         clock.iso_utc(ctx.now()))
        if sharing.state == RECEIVED and sharing.sends == 0 and sharing.not_before and not sharing.lease_live(now_ms):
            if _reduce_plan(ctx, sharing, relation, refunded, amount, total):
                return relation
            continue                      # the scheduler claimed it meanwhile: decide again
        if sharing.state != SUCCEEDED:
            raise _in_progress(trade_id, f"{sharing.state} at the channel")
        if any(r["result"] == orders.PENDING for r in sharing.extra["results"].values()):
            raise _in_progress(trade_id, "PENDING at the channel for some receivers")
        taken = refund_holdings.take(sharing.extra.get("holdings", {}),
                                     int(sharing.extra.get("shared_success", 0)), total, refunded, amount)
        back, parts = taken.back, taken.parts
        relation.update(actual_base_return_amount=back, allocation=parts, state=0 if parts else 3)
        actions = [SharingRecord.refunded_amount.set(taken.refunded_after)]
        condition = (SharingRecord.refunded_amount == refunded) & (SharingRecord.state == SUCCEEDED)
        for account, part in sorted(parts.items()):
            holding = SharingRecord.holdings[account]
            actions.append(holding.set(holding - to_value(part)))
            condition &= holding >= to_value(part)           # no holding goes below zero
        take = Update(SharingRecord(sharing.pk), actions, condition)
        more = [take] + ([follow_item(ctx, "SHARING_REFUND", pk, 0)] if parts else [])
        try:
            _put_relation(ctx, relation, more)
        except Cancelled:
            continue                      # another refund (or this one) got there first: re-read
        return continue_relation(ctx, relation, deadline)
    raise SharingError(ErrorCode.BUSY, detail="too much contention on this order's refunds; retry")


def _reduce_plan(ctx: Sharing, sharing: Record, relation: dict, refunded: int, amount: int,
                 total: int) -> bool:
    """A delayed sharing not sent yet: take the refund's share off its plan (or cancel it)."""
    planned = {r["account"]: int(r["amount"]) for r in sharing.request["receivers"]}
    planned_total = sum(planned.values())
    if refunded + amount == total:
        cut = dict(planned)
    else:
        original = sum(int(r["amount"]) for r in sharing.extra["params"]["receivers"])
        cut = allocation.split(allocation.refund_total(original, total, refunded, amount), planned) \
            if planned_total else {}
    left = [dict(r, amount=planned[r["account"]] - cut.get(r["account"], 0))
            for r in sharing.request["receivers"]]
    left = [r for r in left if r["amount"] > 0]
    cancel = not left
    results = dict(sharing.extra["results"])
    for account in planned:
        if account not in {r["account"] for r in left}:
            results[account] = {"result": CLOSED_BY_REFUND, "fail_reason": "REFUNDED", "detail_id": "",
                                "finish_time": relation["create_time"]}
    relation.update(actual_base_return_amount=sum(cut.values()), plan_reduced={a: c for a, c in cut.items() if c},
                    state=3)
    try:
        revised = ctx.store(SHARING).revise_unsent(
            sharing, request=dict(sharing.request, receivers=left) if left else None,
            attributes={"refunded_amount": refunded + amount, "results": results}, cancel=cancel,
            effects=_relation_writes(relation))
    except Cancelled:
        return False                      # the relation exists already: decide again
    if isinstance(revised, LeaseLost):
        return False
    log("sharing_refund.plan_reduced", trade_id=sharing.extra["trade_id"], cancelled=cancel,
        cut=relation["plan_reduced"])
    return True


# -- the returns of one relation ----------------------------------------------------------------

def return_effects(ctx: Sharing, pk: str):
    def effects(before, after, outbound_no, outcome) -> List[Write]:
        if after == SUCCEEDED and outcome.answer.get("result") == "PROCESSING":
            return [follow_item(ctx, SHARING_RETURN, pk)]
        return []
    return effects


def send_return(ctx: Sharing):
    return lambda record: accepted_outcome(ctx.channel.return_sharing(record.request))


def continue_relation(ctx: Sharing, relation: dict, deadline: Optional[float] = None) -> dict:
    """Claim, send or re-send each return of the relation (same sharingReturnNo), then settle
    the relation's state from its returns. No call is started that could end after `deadline`
    (monotonic seconds): the relation stays 0 and its follow marker has the scheduler go on."""
    if not relation.get("allocation"):
        return relation
    sharing = ctx.store(SHARING).get(relation["sharing_pk"])
    store = ctx.store(SHARING_RETURN)
    for account, part in sorted(relation["allocation"].items()):
        pk = SharingReturn.key(relation["tenant"], relation["trade_id"], relation["payment_order_id"],
                        relation["payment_refund_id"], account)
        request = {"sub_mchid": sharing.extra["sub_mchid"], "out_order_no": sharing.outbound_no,
                   "return_mchid": account, "amount": int(part), "description": DESCRIPTION}
        echo = sharing.extra.get("echo", {})
        attributes = {"tenant": relation["tenant"], "relation_pk": relation["pk"], "return_mch_id": account,
                      "invest_mch_id": sharing.extra["sub_mchid"],
                      # The return order's columns of the business line and the sharing it undoes.
                      "product_id": echo.get("productId"), "sp_id": echo.get("spId", ""),
                      "sp_name": echo.get("spName", ""),
                      "platform_sharing_dimension": echo.get("platformSharingDimension"),
                      "trade_id": relation["trade_id"], "payment_order_id": relation["payment_order_id"],
                      "biz_order_id": relation["biz_order_id"],
                      "proxy_channel_order_id": relation["proxy_channel_order_id"],
                      "sharing_order_id": sharing.outbound_no,
                      "payment_refund_id": relation["payment_refund_id"],
                      "biz_refund_id": relation["biz_refund_id"]}
        effects = return_effects(ctx, pk)
        fp = fingerprint({"relation": relation["pk"], "account": account, "amount": int(part)})
        existing = store.get(pk)
        if existing is not None and existing.state == SUCCEEDED:
            continue
        if deadline is not None and ctx.monotonic() + getattr(ctx.channel, "call_seconds", 0) > deadline:
            log("sharing_refund.budget_spent", relation=relation["pk"], next_receiver=account)
            break
        try:
            drive(ctx, store, lambda: store.claim(pk, pk, fp, request, NUMBER_FIELD, attributes, effects),
                  send_return(ctx), effects, lambda stored: RuntimeError(f"{pk}: fingerprint"),
                  lambda refused: RuntimeError(f"{pk}: effect refused"))
        except SharingError as error:
            if error.code != ErrorCode.REENTRY_IN_PROGRESS:
                raise
    return settle(ctx, relation)


def return_rows(ctx: Sharing, relation: dict) -> List[Dict]:
    rows = []
    store = ctx.store(SHARING_RETURN)
    sharing = ctx.store(SHARING).get(relation["sharing_pk"]) if relation.get("allocation") else None
    columns = _return_columns(sharing)
    for account, part in sorted(relation.get("allocation", {}).items()):
        record = store.get(SharingReturn.key(relation["tenant"], relation["trade_id"],
                                      relation["payment_order_id"], relation["payment_refund_id"],
                                      account))
        rows.append({**_row(account, int(part), record), **columns})
    return rows


def _return_columns(sharing: Optional[Record]) -> Dict:
    """The columns a return order takes from the sharing it undoes: the business line, the
    service provider, the dimension, the sharing order and who paid it out."""
    if sharing is None:
        return {}
    echo = sharing.extra.get("echo", {})
    return {"productId": echo.get("productId"), "spId": echo.get("spId", ""),
            "spName": echo.get("spName", ""),
            "platformSharingDimension": echo.get("platformSharingDimension"),
            "sharingOrderId": sharing.outbound_no,
            "wxSharingOrderId": sharing.extra.get("wx_order_id", ""),
            "investMchId": sharing.extra.get("sub_mchid", "")}


def _row(account: str, amount: int, record: Optional[Record]) -> Dict:
    if record is None:
        return {"returnMchId": account, "amount": amount, "sharingReturnNo": "", "wxSharingReturnId": "",
                "state": INIT, "result": "INIT", "failReason": None, "finishTime": ""}
    settled = record.extra.get("settled") or record.result or {}
    if record.state == SUCCEEDED:
        result = settled.get("result", "PROCESSING")
        state = {"PROCESSING": PROCESSING, "SUCCESS": SUCCEEDED_, "FAILED": FAILED_}[result]
        reason = settled.get("fail_reason")
    elif record.state == FAILED:
        result, state, reason = "FAILED", FAILED_, (record.failure or {}).get("code")
    elif record.state == RECEIVED and record.sends == 0:
        result, state, reason = "INIT", INIT, None
    else:                        # in flight or unknown: never taken for failed
        result, state, reason = "PROCESSING", PROCESSING, None
    return {"returnMchId": account, "amount": amount, "sharingReturnNo": record.outbound_no,
            "wxSharingReturnId": settled.get("return_id", "") if record.state == SUCCEEDED else "",
            "state": state, "result": result, "failReason": reason,
            "finishTime": settled.get("finish_time") or "", "sends": record.sends}


def relation_state(rows: List[Dict]) -> int:
    if not rows:
        return 3
    if any(r["state"] in (INIT, PROCESSING) for r in rows):
        return 0
    return 1 if all(r["state"] == SUCCEEDED_ for r in rows) else 2


def settle(ctx: Sharing, relation: dict) -> dict:
    """The relation's state from its returns; written when it changed (0 -> 1 / 2, or 2 -> 0 / 1
    when an operator's re-send re-executed a failed return); the follow marker goes when final."""
    rows = return_rows(ctx, relation)
    state = relation_state(rows)
    if state != relation["state"]:
        stamp = clock.iso_utc(ctx.now())
        RefundRelation(relation["pk"]).update(actions=[RefundRelation.state.set(state),
                                                       RefundRelation.update_time.set(stamp)])
        relation = dict(relation, state=state, update_time=stamp)
    if state != 0:
        FollowMarker(FollowMarker.key(relation["pk"])).delete()
    return relation


def relation_data(ctx: Sharing, relation: dict) -> Dict:
    return {"tradeId": relation["trade_id"], "paymentOrderId": relation["payment_order_id"],
            "bizOrderId": relation["biz_order_id"], "proxyChannelOrderId": relation["proxy_channel_order_id"],
            "paymentRefundId": relation["payment_refund_id"], "bizRefundId": relation["biz_refund_id"],
            "refundType": relation["refund_type"], "state": relation["state"],
            "applyAmount": relation["apply_amount"], "refundAmount": relation["refund_amount"],
            "actualBaseReturnAmount": relation["actual_base_return_amount"],
            "planReduced": relation.get("plan_reduced", {}), "description": relation["description"],
            "createTime": relation["create_time"], "updateTime": relation["update_time"],
            "returns": return_rows(ctx, relation)}


def view(ctx: Sharing, refund_id: str) -> Dict:
    if not (refund_id.isascii() and refund_id.isdigit() and len(refund_id) <= 32):
        raise InvalidField("refundId", "must be 1-32 digits")
    try:
        index = RefundIdIndex.get(RefundIdIndex.key(ctx.tenant, refund_id), consistent_read=True)
    except RefundIdIndex.DoesNotExist:
        raise SharingError(ErrorCode.SHARING_REFUND_NOT_FOUND, field="refundId",
                           detail="no profit-sharing return for this refundId") from None
    relations = [r for r in (get_relation(ctx, pk) for pk in sorted(index.relations)) if r]
    return answer_data(ctx, relations)


def answer_data(ctx: Sharing, relations: List[dict]) -> Dict:
    """One refund: its first relation's fields at the top (the usual case: one sharing per
    payment order), every relation in `relations`."""
    rows = [relation_data(ctx, r) for r in relations]
    first = rows[0]
    return {**{k: v for k, v in first.items()}, "relations": rows}
