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
