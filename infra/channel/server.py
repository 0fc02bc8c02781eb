"""The channel simulator's HTTP server (local stack and tests only).

WeChat Pay v3 style, JSON in and out; errors are `{"code", "message"}` (plus `field`
when one field is at fault). The rules live in `rules.ChannelBook`, the faults in
`faults.FaultSchedule`; this module only maps HTTP to them.

Channel API:
* `POST /v3/ecommerce/subsidies/create`, `/return`, `/cancel`;
* `GET  /v3/ecommerce/subsidies/query?sub_mchid=..&out_subsidy_no=..`;
* `POST /v3/profitsharing/orders`, `GET /v3/profitsharing/orders/{out_order_no}?sub_mchid=..&transaction_id=..`,
  `POST /v3/profitsharing/orders/unfreeze`, `POST /v3/profitsharing/return-orders`,
  `GET /v3/profitsharing/return-orders/{out_return_no}?sub_mchid=..&out_order_no=..`.

Profit sharing settles asynchronously: a worker thread (`_Settler`) asks the book what is
due every few milliseconds and posts each settled receiver to the center
(`POST <center>/channel/notifications/profitsharing`, through notify.py), best effort: a
failed notification is written in the call log and not retried.

Control API (never faulted, never logged as calls):
* `POST /_control/orders` a paid transaction (its `attach`, the tenant that placed it, is
  returned in the notice); notifies the center before answering
  (`{"transaction_id", "openid"}`; 502 `{"code": "NOTIFY_FAILED", ...}` when the center
  did not acknowledge; the transaction exists either way and re-posting the same order
  notifies again);
* `GET  /_control/orders/{transaction_id}` the channel's view of the order's money;
* `POST /_control/receivers` `{"account", "fail_reason"}`, `POST /_control/returns`
  `{"return_mchid", "result", "fail_reason", "then"}` (how sharing and returns settle);
* `POST /_control/faults`, `GET /_control/faults`; `GET /_control/calls`; `POST /_control/reset`.
"""
import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Mapping, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from chalicelib.logs import log

from ..loopback import LoopbackServer, LoopbackService
from . import notify
from .faults import (HTTP_500, REJECT, SLOW, SYSTEM_ERROR, TIMEOUT_AFTER_COMMIT,
                     TIMEOUT_BEFORE_COMMIT, FaultSchedule)
from .rules import (CANNOT_SUBSIDISE, SHARING_ORDERS, SHARING_QUERY, SHARING_RETURN_ORDERS,
                    SHARING_RETURN_QUERY, SHARING_UNFREEZE, SUBSIDY_CANCEL, SUBSIDY_CREATE,
                    SUBSIDY_QUERY, SUBSIDY_RETURN, ChannelBook, ChannelError, param_error)

MAX_BODY_BYTES = 1 << 20

# (method, path) -> operation.
ROUTES = {
    ("POST", "/v3/ecommerce/subsidies/create"): SUBSIDY_CREATE,
    ("POST", "/v3/ecommerce/subsidies/return"): SUBSIDY_RETURN,
    ("POST", "/v3/ecommerce/subsidies/cancel"): SUBSIDY_CANCEL,
    ("GET", "/v3/ecommerce/subsidies/query"): SUBSIDY_QUERY,
    ("POST", "/v3/profitsharing/orders"): SHARING_ORDERS,
    ("POST", "/v3/profitsharing/orders/unfreeze"): SHARING_UNFREEZE,
    ("POST", "/v3/profitsharing/return-orders"): SHARING_RETURN_ORDERS,
}
# (method, path prefix) -> (operation, the field the rest of the path is): `GET .../{number}`.
PATH_ROUTES = {
    ("GET", "/v3/profitsharing/orders/"): (SHARING_QUERY, "out_order_no"),
    ("GET", "/v3/profitsharing/return-orders/"): (SHARING_RETURN_QUERY, "out_return_no"),
}
SYSTEM_ERROR_BODY = {"code": "SYSTEM_ERROR", "message": "系统繁忙，请稍后再试"}
REJECT_BODY = {"code": "INVALID_REQUEST", "message": CANNOT_SUBSIDISE}
# The `reject` fault speaks each operation's language (the subsidies' words by default).
REJECT_MESSAGES = {SHARING_ORDERS: "分账请求被拒绝", SHARING_QUERY: "分账请求被拒绝",
                   SHARING_UNFREEZE: "解冻请求被拒绝", SHARING_RETURN_ORDERS: "分账回退请求被拒绝",
                   SHARING_RETURN_QUERY: "分账回退请求被拒绝"}
SETTLE_EVERY_SECONDS = 0.01
HTTP_500_BODY = b"<html><body><h1>500 Internal Server Error</h1></body></html>"


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # the call log and one JSON line per fault say what happened

    # -- answering ---------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"),
                   "application/json; charset=utf-8")

    def _hold_and_close(self, seconds: float) -> None:
        """No answer: wait, then close the connection (the caller sees a timeout)."""
        self.server.stopping.wait(seconds)
        self.close_connection = True

    # -- reading -----------------------------------------------------------

    def _read(self) -> None:
        """Read the whole request body first, whatever the route: bytes left unread would
        be taken for the next request on a kept-alive connection."""
        self._raw = b""
        self._too_large = False
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self._too_large = True
            self.close_connection = True  # the rest of the stream cannot be trusted
            return
        self._raw = self.rfile.read(int(length))

    def _body(self):
        """The JSON body; ChannelError (400 PARAM_ERROR, field `body`) when it is not JSON."""
        if self._too_large:
            raise param_error("body", f"Content-Length must be at most {MAX_BODY_BYTES} bytes")
        if not self._raw:
            raise param_error("body", "required, a JSON object")
        try:
            return json.loads(self._raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise param_error("body", "not valid JSON in UTF-8") from None

    def _dispatch(self) -> None:
        self._read()
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        try:
            if path.startswith("/_control/"):
                return self._control(path)
            operation, from_path = ROUTES.get((self.command, path)), {}
            if operation is None:
                operation, from_path = _path_route(self.command, path)
            if operation is None:
                return self._json(404, {"code": "NOT_FOUND", "message": f"no {self.command} {path}"})
            if self.command == "GET":
                body = {**dict(parse_qsl(parts.query)), **from_path}
            else:
                try:
                    body = self._body()
                except ChannelError as refusal:
                    self.server.book.record_refusal(operation, refusal)
                    return self._json(refusal.status, refusal.body())
            return self._operate(operation, body)
        except ChannelError as refusal:
            return self._json(refusal.status, refusal.body())

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    # -- the channel's operations ------------------------------------------

    def _operate(self, operation: str, body) -> None:
        book = self.server.book
        fault = self.server.faults.take(operation)
        kind = fault.kind if fault else None
        if fault:
            log("channel.fault", operation=operation, fault=kind, delay_seconds=fault.delay_seconds)
        if kind == TIMEOUT_BEFORE_COMMIT:
            book.record_unapplied(operation, body, kind, None)
            return self._hold_and_close(fault.delay_seconds)
        if kind == SYSTEM_ERROR:
            book.record_unapplied(operation, body, kind, 500)
            return self._json(500, SYSTEM_ERROR_BODY)
        if kind == HTTP_500:
            book.record_unapplied(operation, body, kind, 500)
            return self._send(500, HTTP_500_BODY, "text/html")
        if kind == REJECT:
            book.record_unapplied(operation, body, kind, 400)
            return self._json(400, dict(REJECT_BODY, message=REJECT_MESSAGES.get(
                operation, REJECT_BODY["message"])))
        answer = book.call(operation, body, fault=kind,
                           withheld=kind == TIMEOUT_AFTER_COMMIT)
        if kind == TIMEOUT_AFTER_COMMIT:
            return self._hold_and_close(fault.delay_seconds)
        if kind == SLOW:
            self.server.stopping.wait(fault.delay_seconds)
        return self._json(answer.status, answer.body)

    # -- control -----------------------------------------------------------

    def _control(self, path: str) -> None:
        server = self.server
        name = path[len("/_control/"):]
        if (self.command, name) == ("POST", "orders"):
            return self._new_order()
        if self.command == "GET" and name.startswith("orders/"):
            view = server.book.transaction_view(name[len("orders/"):])
            if view is None:
                return self._json(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
            return self._json(200, view)
        if (self.command, name) == ("POST", "receivers"):
            setting = server.book.set_receiver_failure(self._body())
            log("channel.receiver_set", **setting)
            return self._json(200, setting)
        if (self.command, name) == ("POST", "returns"):
            setting = server.book.set_return_outcome(self._body())
            log("channel.return_outcome_set", **setting)
            return self._json(200, setting)
        if (self.command, name) == ("POST", "faults"):
            scheduled = server.faults.add(self._body())
            log("channel.fault_scheduled", **scheduled)
            return self._json(200, {"scheduled": scheduled, "faults": server.faults.pending()})
        if (self.command, name) == ("GET", "faults"):
            return self._json(200, {"faults": server.faults.pending()})
        if (self.command, name) == ("GET", "calls"):
            return self._json(200, {"calls": server.book.calls()})
        if (self.command, name) == ("POST", "reset"):
            server.book.reset()
            server.faults.reset()
            return self._json(200, {"code": "SUCCESS"})
        return self._json(404, {"code": "NOT_FOUND", "message": f"no control {self.command} {path}"})

    def _new_order(self) -> None:
        transaction = self.server.book.create_transaction(self._body())
        answer = {"transaction_id": transaction.transaction_id, "openid": transaction.openid}
        if self.server.center_url:
            notice = {"payment_order_id": transaction.payment_order_id,
                      "biz_order_id": transaction.biz_order_id, "mch_id": transaction.mch_id,
                      "sub_mchid": transaction.sub_mchid,
                      "transaction_id": transaction.transaction_id, "openid": transaction.openid,
                      "amount": transaction.amount, "success_time": transaction.success_time}
            if transaction.attach is not None:
                notice["attach"] = transaction.attach
            try:
                notify.send(self.server.center_url, notify.TRANSACTIONS_PATH, notice,
                            self.server.notify_timeout, self.server.credential)
            except notify.NotificationFailed as failure:
                log("channel.notification_failed", transaction_id=transaction.transaction_id,
                    payment_order_id=transaction.payment_order_id, reason=str(failure))
                return self._json(502, {"code": "NOTIFY_FAILED", "message": str(failure),
                                        **answer})
        return self._json(200, answer)


def _path_route(method: str, path: str):
    """(operation, {field: the rest of the path}) for `GET .../{number}`, or (None, {})."""
    for (route_method, prefix), (operation, name) in PATH_ROUTES.items():
        rest = path[len(prefix):] if path.startswith(prefix) else ""
        if method == route_method and rest and "/" not in rest:
            return operation, {name: unquote(rest)}
    return None, {}


class _Settler:
    """The worker that settles due profit sharing and posts the notifications: the book
    decides (pure, by its clock), this thread only keeps asking and delivers."""

    def __init__(self, book: ChannelBook, center_url: Optional[str], notify_timeout: float,
                 credential: Optional[Mapping] = None):
        self.book = book
        self.center_url = center_url
        self.notify_timeout = notify_timeout
        self.credential = credential
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="channel-settler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)

    def _run(self) -> None:
        while not self.stopping.wait(SETTLE_EVERY_SECONDS):
            try:
                for notice in self.book.settle_due():
                    self._deliver(notice)
            except Exception as error:  # noqa: BLE001 - the worker must outlive one bad round
                log("channel.settle_failed", error=repr(error))

    def _deliver(self, notice) -> None:
        if not self.center_url:
            return
        try:
            notify.send(self.center_url, notify.PROFITSHARING_PATH, notice.body, self.notify_timeout,
                        self.credential)
        except notify.NotificationFailed as failure:
            log("channel.notification_failed", out_order_no=notice.out_order_no,
                account=notice.account, reason=str(failure))
            self.book.record_notification(notice, failure.status, str(failure))
            return
        self.book.record_notification(notice, 200, None)


class _Server(LoopbackServer):
    def __init__(self, address, book: ChannelBook, faults: FaultSchedule,
                 center_url: Optional[str], notify_timeout: float, credential: Optional[Mapping]):
        super().__init__(address, _Handler)
        self.book = book
        self.faults = faults
        self.center_url = center_url
        self.notify_timeout = notify_timeout
        self.credential = credential


class ChannelSimulator(LoopbackService):
    """`ChannelSimulator(center_url).start()`; `.url`, `.book`, `.faults`, `.stop()`.

    `center_url`: the payment center's base URL, notified of every paid transaction
    (None: nobody is notified). `port` 0 takes any free port. `credential`: the channel's
    `{"key_id", "secret"}` signing every notification (None: sent unsigned, for a center
    that does not verify, e.g. a test's recorder)."""

    thread_name = "channel"

    def __init__(self, center_url: Optional[str] = None, port: int = 0,
                 notify_timeout: float = notify.DEFAULT_TIMEOUT_SECONDS,
                 book: Optional[ChannelBook] = None, credential: Optional[Mapping] = None):
        super().__init__(port)
        self.center_url = center_url
        self.credential = credential
        self.notify_timeout = notify_timeout
        self.book = book or ChannelBook()
        self.faults = FaultSchedule()
        self._settler: Optional[_Settler] = None

    def _make_server(self, address) -> _Server:
        return _Server(address, self.book, self.faults, self.center_url, self.notify_timeout,
                       self.credential)

    def start(self, avoid=()):
        super().start(avoid)
        self._settler = _Settler(self.book, self.center_url, self.notify_timeout, self.credential)
        self._settler.start()
        return self

    def stop(self) -> None:
        if self._settler is not None:
            self._settler.stop()
            self._settler = None
        super().stop()

    def _started(self) -> None:
        log("channel.started", url=self.url, center_url=self.center_url,
            key_id=self.credential["key_id"] if self.credential else None)
