"""The channel port over HTTP (urllib3), WeChat Pay v3 shapes.

Mapping of what comes back (`classify`, pure):
* 200 with a JSON object carrying the fields the operation must answer -> `Accepted`;
* 4xx with a JSON `code` in DEFINITIVE_CODES -> `Rejected(status, code, message)`;
* anything else -> `Unknown`: timeouts (connect or read), connection errors, 5xx
  (SYSTEM_ERROR included), a bare 500, 429 FREQUENCY_LIMITED, a 4xx without a definitive code,
  an unparsable body, a 200 that does not answer our request.
No retries here: the reentry mechanism re-sends, with the same outbound number.
Every request leaves through `_send` (request signing happens there).
"""
import json
from typing import Any, Dict, Optional, Sequence
from urllib.parse import urlencode

import urllib3

from .port import Accepted, Outcome, Rejected, Unknown

CREATE_PATH = "/v3/ecommerce/subsidies/create"
RETURN_PATH = "/v3/ecommerce/subsidies/return"
QUERY_PATH = "/v3/ecommerce/subsidies/query"
SHARING_PATH = "/v3/profitsharing/orders"
SHARING_RETURN_PATH = "/v3/profitsharing/return-orders"
SHARING_UNFREEZE_PATH = "/v3/profitsharing/orders/unfreeze"
# Codes with which the channel says "applied nothing, and re-sending now will not change it".
DEFINITIVE_CODES = frozenset({"PARAM_ERROR", "INVALID_REQUEST", "ORDER_NOT_EXIST",
                              "RESOURCE_NOT_EXISTS", "NOT_ENOUGH", "NO_AUTH", "APPID_MCHID_NOT_MATCH",
                              "INVALID_REQUEST_PARAMS"})
RESULTS = ("SUCCESS", "FAIL")
SHARING_STATES = ("PROCESSING", "FINISHED")                 # a profit-sharing order's `state`
RETURN_RESULTS = ("PROCESSING", "SUCCESS", "FAILED")        # a sharing return's `result`


def _json(body: bytes) -> Optional[dict]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def classify(status: int, body: bytes, required: Sequence[str] = (),
             echo: Optional[Dict[str, Any]] = None, results: Sequence[str] = RESULTS,
             result_field: str = "result") -> Outcome:
    """Name one HTTP answer. `required`: fields a 200 must carry; `echo`: fields it must repeat;
    `results`: the values its `result_field` may take (absent: SUCCESS)."""
    answer = _json(body)
    if status == 200:
        if answer is None:
            return Unknown("HTTP 200 with an unreadable body")
        missing = [name for name in required if answer.get(name) in (None, "")]
        if missing or answer.get(result_field, "SUCCESS") not in results:
            return Unknown(f"HTTP 200 without {missing or 'a known result'}")
        for name, value in (echo or {}).items():
            if name in answer and str(answer[name]) != str(value):
                return Unknown(f"HTTP 200 answering another request ({name})")
        return Accepted(answer)
    code = (answer or {}).get("code")
    message = (answer or {}).get("message")
    if 400 <= status < 500 and isinstance(code, str) and code in DEFINITIVE_CODES:
        return Rejected(status, code, message if isinstance(message, str) else "")
    detail = f" {code}" if isinstance(code, str) else ""
    return Unknown(f"HTTP {status}{detail}")


class HttpChannel:
    """Thread-safe: one urllib3 pool shared by every thread."""

    def __init__(self, base_url: str, connect_timeout: float = 2.0, read_timeout: float = 5.0,
                 pool_size: int = 32):
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._pool = urllib3.PoolManager(maxsize=pool_size, block=False)

    @property
    def call_seconds(self) -> float:
        """The longest one call can take before we give up on it."""
        return self.connect_timeout + self.read_timeout

    def _send(self, method: str, path: str, body: Optional[dict]):
        return self._pool.request(
            method, self.base_url + path,
            body=None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            # `total` caps the whole call (a server dripping bytes would reset a read timeout):
            # the lease of the reentry record is sized on it.
            timeout=urllib3.Timeout(total=self.call_seconds, connect=self.connect_timeout,
                                    read=self.read_timeout),
            retries=False, redirect=False)

    def _call(self, method: str, path: str, body: Optional[dict], required: Sequence[str],
              echo: Dict[str, Any], **classified) -> Outcome:
        try:
            response = self._send(method, path, body)
        except urllib3.exceptions.NewConnectionError as error:
            # Checked first: urllib3 makes it a subclass of ConnectTimeoutError.
            return Unknown(f"connection: {type(error).__name__}")
        except urllib3.exceptions.TimeoutError:
            return Unknown("timeout")
        except urllib3.exceptions.HTTPError as error:
            return Unknown(f"connection: {type(error).__name__}")
        return classify(response.status, response.data, required, echo, **classified)

    def create_subsidy(self, request: Dict[str, Any]) -> Outcome:
        return self._call("POST", CREATE_PATH, request, ("subsidy_id", "result"),
                          {"transaction_id": request["transaction_id"],
                           "amount": request["amount"]})

    def return_subsidy(self, request: Dict[str, Any]) -> Outcome:
        return self._call("POST", RETURN_PATH, request, ("subsidy_refund_id", "result"),
                          {"out_order_no": request["out_order_no"],
                           "transaction_id": request["transaction_id"],
                           "amount": request["amount"]})

    def query_subsidy(self, sub_mchid: str, out_subsidy_no: str) -> Outcome:
        query = urlencode({"sub_mchid": sub_mchid, "out_subsidy_no": out_subsidy_no})
        return self._call("GET", f"{QUERY_PATH}?{query}", None, ("subsidy_id", "result"), {})

    # -- profit sharing  ----------------------------------------------------------
    def create_sharing(self, request: Dict[str, Any]) -> Outcome:
        return self._call("POST", SHARING_PATH, request, ("order_id", "state", "receivers"),
                          {"out_order_no": request["out_order_no"],
                           "transaction_id": request["transaction_id"]},
                          results=SHARING_STATES, result_field="state")

    def query_sharing(self, sub_mchid: str, transaction_id: str, out_order_no: str) -> Outcome:
        query = urlencode({"sub_mchid": sub_mchid, "transaction_id": transaction_id})
        return self._call("GET", f"{SHARING_PATH}/{out_order_no}?{query}", None,
                          ("order_id", "state", "receivers"), {"out_order_no": out_order_no},
                          results=SHARING_STATES, result_field="state")

    def unfreeze_sharing(self, request: Dict[str, Any]) -> Outcome:
        return self._call("POST", SHARING_UNFREEZE_PATH, request, ("order_id", "state"),
                          {"out_order_no": request["out_order_no"],
                           "transaction_id": request["transaction_id"]},
                          results=SHARING_STATES, result_field="state")

    def return_sharing(self, request: Dict[str, Any]) -> Outcome:
        return self._call("POST", SHARING_RETURN_PATH, request, ("return_id", "result"),
                          {"out_return_no": request["out_return_no"],
                           "out_order_no": request["out_order_no"],
                           "amount": request["amount"]}, results=RETURN_RESULTS)

    def query_return(self, sub_mchid: str, out_order_no: str, out_return_no: str) -> Outcome:
        query = urlencode({"sub_mchid": sub_mchid, "out_order_no": out_order_no})
        return self._call("GET", f"{SHARING_RETURN_PATH}/{out_return_no}?{query}", None,
                          ("return_id", "result"), {"out_return_no": out_return_no},
                          results=RETURN_RESULTS)
