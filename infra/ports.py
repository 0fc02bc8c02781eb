"""Loopback ports for servers that listen later than their port must be known: another
process (chalice local, DynamoDB Local, a stack under test) or a URL that goes into
configuration first.

The kernel may give a port it has just released to the next `bind(("127.0.0.1", 0))` in
any thread, so between `free_port()` and the real listen another server could take it.
This process remembers every port it hands out: `free_port()` never hands one out twice,
and a `LoopbackService` on port 0 never keeps one (`handed_out()`).
"""
import socket
import threading
from typing import FrozenSet, List

from .embedded_aws import LOOPBACK

_lock = threading.Lock()
_handed_out: set = set()


def _bound(port: int) -> socket.socket:
    probe = socket.socket()
    try:
        probe.bind((LOOPBACK, port))
    except OSError:
        probe.close()
        raise
    return probe


def free_port(preferred: int = 0) -> int:
    """`preferred` if nothing listens on it and it was not handed out, else any free port."""
    with _lock:
        held: List[socket.socket] = []
        try:
            if preferred and preferred not in _handed_out:
                try:
                    held.append(_bound(preferred))
                except OSError:
                    pass
            if not held:
                held.append(_bound(0))
            while held[-1].getsockname()[1] in _handed_out:
                held.append(_bound(0))    # the earlier draws stay bound, so this one differs
            port = held[-1].getsockname()[1]
        finally:
            for probe in held:
                probe.close()
        _handed_out.add(port)
        return port


def handed_out() -> FrozenSet[int]:
    with _lock:
        return frozenset(_handed_out)
