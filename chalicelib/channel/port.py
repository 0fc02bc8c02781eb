"""The channel port: what the payment center needs from a channel, and what comes back.

Every call answers one of three things, and nothing else:
* `Accepted(body)`: HTTP 200 with a well-formed answer (`body["result"]` SUCCESS or FAIL);
* `Rejected(status, code, message)`: a definitive refusal (HTTP 4xx with a definitive
  WeChat code): the channel applied nothing for this request;
* `Unknown(reason)`: no usable answer (timeout, connection error, 5xx, SYSTEM_ERROR, a 4xx
  without a definitive code, an unreadable or unexpected body). The channel may or may not
  have applied it: the caller re-sends the identical request with the same outbound number.
"""
from dataclasses import dataclass
from typing import Any, Dict, Protocol, Union


@dataclass(frozen=True)
class Accepted:
    body: Dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    status: int
    code: str
    message: str


@dataclass(frozen=True)
class Unknown:
    reason: str


Outcome = Union[Accepted, Rejected, Unknown]


class Channel(Protocol):
    def create_subsidy(self, request: Dict[str, Any]) -> Outcome:
        """`POST /v3/ecommerce/subsidies/create` {sub_mchid, transaction_id, amount, description,
        out_subsidy_no} -> {subsidy_id, result, success_time, ...}"""

    def return_subsidy(self, request: Dict[str, Any]) -> Outcome:
        """`POST /v3/ecommerce/subsidies/return` {sub_mchid, out_order_no, transaction_id,
        refund_id, amount, description} -> {subsidy_refund_id, result, ...}"""

    def query_subsidy(self, sub_mchid: str, out_subsidy_no: str) -> Outcome:
        """`GET /v3/ecommerce/subsidies/query`: the create's original answer, or Rejected 404."""

    def create_sharing(self, request: Dict[str, Any]) -> Outcome:
        """`POST /v3/profitsharing/orders` {sub_mchid, transaction_id, out_order_no, receivers,
        unfreeze_unsplit} -> {order_id, state PROCESSING|FINISHED, receivers[result, ...]}"""

    def query_sharing(self, sub_mchid: str, transaction_id: str, out_order_no: str) -> Outcome:
        """`GET /v3/profitsharing/orders/{out_order_no}`: the order's current state, or 404."""

    def unfreeze_sharing(self, request: Dict[str, Any]) -> Outcome:
        """`POST /v3/profitsharing/orders/unfreeze` {sub_mchid, transaction_id, out_order_no,
        description} -> {order_id, state}: what is not shared goes back to the merchant."""

    def return_sharing(self, request: Dict[str, Any]) -> Outcome:
        """`POST /v3/profitsharing/return-orders` {sub_mchid, out_order_no, out_return_no,
        return_mchid, amount, description} -> {return_id, result PROCESSING|SUCCESS|FAILED, ...}"""

    def query_return(self, sub_mchid: str, out_order_no: str, out_return_no: str) -> Outcome:
        """`GET /v3/profitsharing/return-orders/{out_return_no}`: the current state, or 404."""
