"""Helpers of the profit-sharing tests: the real simulator's sharing controls over HTTP, the
service context, request bodies (the channel's shapes)."""
import time
from typing import Any, Dict, List, Optional

from chalicelib.channel.http_adapter import HttpChannel
from chalicelib.sharing.context import Sharing
from tests.subsidies.support import (CONNECT_TIMEOUT, LEASE_SECONDS, MCH_ID, READ_TIMEOUT,
                                     SUB_MCHID, Channel, Clock, next_id)
from tests.support.signing import PLATFORM

__all__ = ["SharingChannel", "Clock", "context", "sharing_body", "refund_notice", "next_id",
           "CHANNEL_REFUNDS", "wait_until", "MCH_ID", "SUB_MCHID", "serialize_models"]

# The channel's two documented refund notifications, as is.
CHANNEL_REFUNDS = [
    {"requestId": "==2d66245d2b4556044722fbd266127031==", "offerId": "1800005801", "sessionId": "wechatid",
     "openid": "o9OaOs-ZfOS1R5_8S7KlhtjMtSjI", "outTradeNo": "T1358758504770221747", "amt": "6318",
     "refundId": "1358848888074551968", "reqFrom": "2", "refundReason": "0", "timestamp": "1744027349",
     "productId": 1019, "userId": "535291609", "paymentClassify": 1, "bizOrderId": "1835109860518134549_1",
     "paymentOrderId": "1358758504770221747", "refundType": 1, "bizRelOrderId": "1358819040316796928_0",
     "refundImmediately": True, "mchId": "1800005801", "subMchId": "1692608207", "orderTotal": "6318",
     "payerTotal": "6318"},
    {"requestId": "d60a9ff37836f078f29ae03821bf1860", "offerId": "1800005801", "sessionId": "wechatid",
     "openid": "o9OaOsxghRJamryMn13_yb1hWCpM", "outTradeNo": "T1358888929790451743", "amt": "2968",
     "refundId": "1358845869891155873", "reqFrom": "2", "refundReason": "0", "timestamp": "1744035074",
     "productId": 1019, "userId": "262009991", "paymentClassify": 1, "bizOrderId": "1835328147935986706_1",
     "paymentOrderId": "1358888929790451743", "refundType": 1, "bizRelOrderId": "1358925626620190720_0",
     "refundImmediately": True, "mchId": "1800005801", "subMchId": "1692608207", "orderTotal": "2968",
     "payerTotal": "2968"},
]


class SharingChannel(Channel):
    """The simulator's control API, with the profit-sharing controls."""

    def paid(self, payment_order_id: str, amount: int = 10000, biz_order_id: str = "1835109860518134549_1",
             max_sharing_ratio: float = 0.3, processing_ms: int = 50, mch_id: str = MCH_ID,
             sub_mchid: str = SUB_MCHID, tenant: str = PLATFORM.merchant_id) -> Dict[str, Any]:
        """A paid order placed for `tenant` (the notice's `attach`: the tenant it is filed under)."""
        answer = self.http.post(f"{self.url}/_control/orders", timeout=10, json={
            "payment_order_id": payment_order_id, "biz_order_id": biz_order_id, "mch_id": mch_id,
            "sub_mchid": sub_mchid, "amount": amount, "subsidy_limit": 0,
            "max_sharing_ratio": max_sharing_ratio, "processing_ms": processing_ms,
            "attach": tenant})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def receiver_fails(self, account: str, fail_reason: Optional[str]) -> None:
        answer = self.http.post(f"{self.url}/_control/receivers", timeout=5,
                                json={"account": account, "fail_reason": fail_reason})
        assert answer.status_code == 200, answer.text

    def return_outcome(self, return_mchid: str, result: str, fail_reason: Optional[str] = None,
                       then: Optional[str] = None) -> None:
        body = {"return_mchid": return_mchid, "result": result, "fail_reason": fail_reason}
        if then:
            body["then"] = then
        answer = self.http.post(f"{self.url}/_control/returns", timeout=5, json=body)
        assert answer.status_code == 200, answer.text

    def calls_of(self, operation: str) -> List[dict]:
        return [c for c in self.calls() if c["operation"] == operation]


def context(transactions_table: str, channel_url: str, clock: Clock, **overrides) -> Sharing:
    settings = dict(transactions_table=transactions_table,
                    channel=HttpChannel(channel_url, CONNECT_TIMEOUT, READ_TIMEOUT),
                    lease_seconds=LEASE_SECONDS, wait_seconds=0.5,
                    retry_after_seconds=0, follow_after_seconds=0, now=clock,
                    tenant=PLATFORM.merchant_id)     # the tenant of the tests' signed calls
    settings.update(overrides)
    return Sharing(**settings)


def sharing_body(payment_order_id: str, receivers: List[tuple], dimension: int = 1,
                 biz_rel_order_id: Optional[str] = None, **overrides) -> Dict[str, Any]:
    """receivers: (account, amount) pairs, MERCHANT_ID."""
    body = {"traceId": "sharing-trace-1", "timestamp": 1744027000, "productId": 1019, "tenantId": 0,
            "userId": "535291609", "spId": "SP1001", "spName": "运力商A",
            "platformSharingDimension": dimension, "paymentOrderId": payment_order_id,
            "bizOrderId": "1835109860518134549_1",
            "bizRelOrderId": biz_rel_order_id or f"{payment_order_id}_0", "sharingMode": 1,
            "unfreezeOrder": 1,
            "receivers": [{"receiveMchId": account, "receiveType": "MERCHANT_ID", "amount": amount,
                           "description": "分账"} for account, amount in receivers]}
    body.update(overrides)
    return body


def refund_notice(payment_order_id: str, amount: int, order_total: int, refund_id: Optional[str] = None,
                  biz_rel_order_id: Optional[str] = None, **overrides) -> Dict[str, Any]:
    body = dict(CHANNEL_REFUNDS[0], amt=str(amount), orderTotal=str(order_total), payerTotal=str(order_total),
                refundId=refund_id or next_id("13588488"), paymentOrderId=payment_order_id,
                outTradeNo=f"T{payment_order_id}", bizRelOrderId=biz_rel_order_id or f"{payment_order_id}_0",
                refundType=1 if amount == order_total else 2, mchId=MCH_ID, subMchId=SUB_MCHID)
    body.update(overrides)
    return body


def wait_until(check, timeout: float = 5.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)



def _table_models():
    from chalicelib.sharing import models as sharing
    from chalicelib.subsidies import models as subsidies
    return (sharing.SharingRecord, sharing.SharingTradeIndex, sharing.SharingUnfreeze,
            sharing.SharingReturn, sharing.RefundRelation, sharing.RefundIdIndex, sharing.UniqueGuard,
            sharing.FollowMarker, sharing.SharingOutboundGuard, subsidies.ChannelTransaction)


def serialize_models(lock, monkeypatch) -> None:
    """The models' own clients (bound now to the test's tables) take `lock` (the bridge's, held
    while the app handles a notification) per call. The records, relations and markers are read
    and written through the models, by the test thread and by the bridge, and may write receiver
    results of one item at the same moment; moto applies a conditional update in several steps,
    so without this one of the two can be lost (DynamoDB applies each atomically). The
    concurrency claims themselves are tested on DynamoDB Local, where nothing is serialized."""
    seen = set()
    for model in _table_models():
        client = model.low_level_client()
        if id(client) in seen:
            continue
        seen.add(id(client))
        call = client._make_api_call       # PynamoDB and the botocore methods both end here

        def locked(operation, params, _call=call):
            with lock:
                return _call(operation, params)
        monkeypatch.setattr(client, "_make_api_call", locked)
