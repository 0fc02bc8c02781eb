"""An embedded AWS endpoint on loopback: moto's server, applied one request at a time.

Plain threaded moto is not linearizable: two concurrent conditional writes can
both read the old item and both succeed, so a balance could be overdrawn. The
`OneAtATime` middleware holds one global lock around each request's dispatch
and the full materialisation of its response, so every request takes effect
atomically, in some total order, as DynamoDB's own requests do.

The request body is read before the lock is taken (a slow client must not stall
everyone); that does not weaken atomicity, since nothing is applied until the
backend runs under the lock.

moto's transact_write_items deep-copies a whole table once per item of the
transaction to be able to roll back; under the lock that cost (an aggregator
batch of 100 items times the size of the ledger) stalls every client and grows
quadratically. `install_item_level_rollback` keeps moto's semantics but
snapshots only the items the transaction touches.

One exception to "under the lock for the whole request": an SQS long poll
(ReceiveMessage with WaitTimeSeconds > 0) would sleep inside moto while holding
the lock, so no message could arrive and every other client would stall for up
to 20 s. It is served as a series of short polls, each one atomic, with the
waiting done outside the lock. (Only the JSON protocol boto3 speaks is
recognised, and only a WaitTimeSeconds in the request: a queue whose
ReceiveMessageWaitTimeSeconds attribute makes every receive a long poll would
still hold the lock; the template sets none.)
"""
import copy
import io
import ipaddress
import json
import threading
import time
import urllib.request
from typing import Any, Callable, Iterable, List, Optional, Tuple

from werkzeug.serving import BaseWSGIServer, make_server

LOOPBACK = "127.0.0.1"
SQS_RECEIVE_TARGET = "AmazonSQS.ReceiveMessage"
LONG_POLL_STEP_SECONDS = 0.05


def _read_body(environ: dict) -> bytes:
    """The whole request body, however the client framed it."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    length = environ.get("CONTENT_LENGTH") or "0"
    return stream.read(int(length)) if length.isdigit() else b""


def _with_body(environ: dict, body: bytes) -> dict:
    rewritten = dict(environ)
    rewritten["wsgi.input"] = io.BytesIO(body)
    rewritten["CONTENT_LENGTH"] = str(len(body))
    rewritten.pop("wsgi.input_terminated", None)
    return rewritten


def _long_poll_seconds(environ: dict, body: bytes) -> int:
    """WaitTimeSeconds of an SQS JSON-protocol ReceiveMessage, else 0."""
    if environ.get("HTTP_X_AMZ_TARGET") != SQS_RECEIVE_TARGET:
        return 0
    try:
        wait = json.loads(body or b"{}").get("WaitTimeSeconds", 0)
    except (ValueError, AttributeError):
        return 0  # moto answers the malformed request itself
    return wait if isinstance(wait, int) and wait > 0 else 0


class OneAtATime:
    """WSGI middleware: each request is dispatched and answered under one lock."""

    def __init__(self, app: Callable, lock: Optional[threading.Lock] = None):
        self._app = app
        self._lock = lock or threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        body = _read_body(environ)
        wait = _long_poll_seconds(environ, body)
        if wait:
            status, headers, content = self._long_poll(environ, body, wait)
        else:
            status, headers, content = self._dispatch(_with_body(environ, body))
        start_response(status, headers)
        return [content]

    def _dispatch(self, environ: dict) -> Tuple[str, List, bytes]:
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None  # moto never uses the legacy write()

        with self._lock:
            result = self._app(environ, capture)
            try:
                content = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return captured["status"], captured["headers"], content

    def _long_poll(self, environ: dict, body: bytes, wait: int) -> Tuple[str, List, bytes]:
        short = json.dumps(dict(json.loads(body), WaitTimeSeconds=0)).encode()
        deadline = time.monotonic() + wait
        while True:
            status, headers, content = self._dispatch(_with_body(environ, short))
            if not status.startswith("200") or time.monotonic() >= deadline:
                return status, headers, content
            try:
                if json.loads(content or b"{}").get("Messages"):
                    return status, headers, content
            except ValueError:
                return status, headers, content
            time.sleep(LONG_POLL_STEP_SECONDS)


_transaction = threading.local()


def _transaction_key(backend: Any, operation: dict) -> Tuple[str, dict]:
    """The table and key one transaction item touches, as moto itself derives them."""
    kind, body = next(iter(operation.items()))
    table_name = body["TableName"]
    if kind != "Put":
        return table_name, body["Key"]
    table = backend.get_table(table_name)
    key = {table.hash_key_attr: body["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = body["Item"][table.range_key_attr]
    return table_name, key


def _snapshot(backend: Any, transact_items: List[dict]) -> List[Tuple[str, dict, Optional[dict]]]:
    saved = []
    for operation in transact_items:
        table_name, key = _transaction_key(backend, operation)
        current = backend.get_item(table_name, key)
        saved.append((table_name, key,
                      copy.deepcopy(current.to_json()["Attributes"]) if current else None))
    return saved


def _restore(backend: Any, saved: List[Tuple[str, dict, Optional[dict]]]) -> None:
    # Newest first, so an item named twice ends in its state before the transaction.
    for table_name, key, attributes in reversed(saved):
        if attributes is not None:
            backend.put_item(table_name, attributes)
        elif backend.get_item(table_name, key) is not None:
            backend.delete_item(table_name, key)


def install_item_level_rollback() -> None:
    """Make moto's transactions snapshot the items they touch, not whole tables.

    moto 5.2's transact_write_items does `copy.deepcopy(table)` for every item
    and, on failure, puts the copies back. Here the copy of a table is skipped
    (moto's own "restore" then reassigns the live table, a no-op) and the
    touched items are snapshotted before and restored after a failure. A
    request whose items cannot be read is left entirely to moto, copies and all.
    Idempotent; changes no result, only the cost.
    """
    from moto.dynamodb import models

    backend_class = models.DynamoDBBackend
    if getattr(backend_class.transact_write_items, "item_level_rollback", False):
        return
    moto_transaction = backend_class.transact_write_items
    real_copy = models.copy

    class TableCopySkipper:
        """Stands in for the `copy` module inside moto's DynamoDB models."""

        def deepcopy(self, value, memo=None):
            if getattr(_transaction, "active", False) and isinstance(value, models.Table):
                return value
            return real_copy.deepcopy(value, memo)

        def __getattr__(self, name):
            return getattr(real_copy, name)

    def transact_write_items(self, transact_items):
        try:
            saved = _snapshot(self, transact_items)
        except Exception:  # noqa: BLE001 - moto answers the invalid request with its own error
            return moto_transaction(self, transact_items)
        _transaction.active = True
        try:
            return moto_transaction(self, transact_items)
        except BaseException:
            _transaction.active = False
            _restore(self, saved)
            raise
        finally:
            _transaction.active = False

    transact_write_items.item_level_rollback = True
    models.copy = TableCopySkipper()
    backend_class.transact_write_items = transact_write_items


def _require_loopback(host: str) -> None:
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the embedded AWS endpoint only listens on loopback, not {host}")


class EmbeddedAWS:
    """moto's server app behind `OneAtATime`, served by werkzeug on a background thread."""

    def __init__(self, port: int = 0, host: str = LOOPBACK):
        _require_loopback(host)
        self._host = host
        self._port = port
        self._server: Optional[BaseWSGIServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the embedded AWS endpoint is not started")
        return f"http://{self._host}:{self._server.server_port}"

    def start(self) -> "EmbeddedAWS":
        # Imported here: moto is a development dependency, and importing it
        # registers nothing until the server starts.
        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        install_item_level_rollback()

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args, **kwargs):
                pass  # one line per AWS call would drown the structured logs

        app = OneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._host, self._port, app, threaded=True,
                                   request_handler=QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="embedded-aws", daemon=True)
        self._thread.start()
        # moto's backends are process-global: an endpoint started earlier in this process (or a
        # test's mock) left its tables behind, and a new stack must start empty.
        reset = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=10).close()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._server = None

    def __enter__(self) -> "EmbeddedAWS":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
