"""Rendering service outcomes and refusals as HTTP responses."""
import functools
import logging
import json
import threading

from botocore.exceptions import BotoCoreError, ClientError
from chalice import Chalice, Response

from . import clock
from .dynamo import RETRYABLE_ERRORS, error_code
from .errors import ErrorCode, PaySettleError
from .logs import log


def json_response(body: dict, status: int = 200) -> Response:
    text = json.dumps(body, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate echoed from the request (e.g. a duplicated key "\udc00" named as
        # the field) cannot be sent as UTF-8: escape everything rather than fail with a 5xx.
        text = json.dumps(body)
    return Response(body=text, status_code=status,
                    headers={"Content-Type": "application/json; charset=utf-8"})


def error_body(error: PaySettleError) -> dict:
    """A refusal in the shape of the pay/withdraw contract's response messages, plus the code from the table."""
    return {"response_time": clock.message_time(clock.utc_now()),
            "response_code": "FAIL", "response_msg": error.message,
            "error_code": error.code.number, "error_name": error.code.name,
            "field": error.field}


def envelope_error_body(error: PaySettleError) -> dict:
    """A refusal in the `{"code", "message", "data"}` envelope (subsidies, trades, accounts):
    `data` is null or what is known (outbound numbers, the channel's code and message)."""
    return {"code": error.code.number, "message": error.message,
            "data": getattr(error, "data", None), "error_name": error.code.name,
            "field": error.field}


def envelope(data) -> Response:
    """A success in the `{"code": 0, "message": "success", "data"}` envelope."""
    return json_response({"code": 0, "message": "success", "data": data})


def _aws_cause(error: BaseException):
    """The AWS error behind a PynamoDB error (which keeps it as `cause`), if there is one."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, (ClientError, BotoCoreError)) else None


def _aws_refusal(render, route, error) -> Response:
    code = error_code(error) if isinstance(error, ClientError) else type(error).__name__
    log("aws.error", route=route.__name__, error=code)
    transient = code in RETRYABLE_ERRORS or isinstance(error, BotoCoreError)
    refusal = PaySettleError(ErrorCode.BUSY if transient else ErrorCode.INTERNAL)
    return json_response(render(refusal), refusal.code.http_status)


def handled_as(render):
    """A route decorator turning every exception into a clear answer rendered by `render`
    (a PaySettleError -> body), never a stack trace."""
    def decorate(route):
        @functools.wraps(route)
        def wrapper(*args, **kwargs):
            try:
                return route(*args, **kwargs)
            except PaySettleError as error:
                return json_response(render(error), error.code.http_status)
            except (ClientError, BotoCoreError) as error:
                return _aws_refusal(render, route, error)
            except Exception as error:  # noqa: BLE001 - the last line of defence: log it, answer JSON
                cause = _aws_cause(error)
                if cause is not None:
                    return _aws_refusal(render, route, cause)
                log("route.failed", level=logging.ERROR, route=route.__name__,
                    error=type(error).__name__, detail=str(error)[:300])
                return json_response(render(PaySettleError(ErrorCode.INTERNAL)), 500)
        return wrapper
    return decorate


# Pay/withdraw-contract refusals (pay, withdraw, orders, ...).
handled = handled_as(error_body)
# `{"code", "message", "data"}` refusals (the business lines' APIs: marketing subsidies, profit sharing).
enveloped = handled_as(envelope_error_body)


class ThreadSafeChalice(Chalice):
    """Keeps `current_request` per thread.

    Chalice stores the request being handled on the app object; Lambda runs one
    request per instance at a time, but `chalice local` serves each request on
    its own thread, so a route could read another request's body
    (aws/chalice#759; reproduced here with 16 threads through chalice's
    LocalGateway: 4 of 3,200 responses answered someone else's request).
    """
    _per_thread = threading.local()

    @property
    def current_request(self):
        return getattr(self._per_thread, "request", None)

    @current_request.setter
    def current_request(self, request):
        self._per_thread.request = request
