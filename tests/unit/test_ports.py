"""Ports handed to servers that listen later: never handed out twice in a process, never
kept by a loopback service on port 0, whatever the kernel offers next."""
import socket

import pytest

from infra import ports
from infra.payment_link import PaymentLink

UNUSED_UPSTREAM = "http://127.0.0.1:9"


@pytest.fixture
def kernel_offers_first(monkeypatch):
    """The kernel's next answers to `bind(port 0)` are these ports, then anything it likes."""
    offers = []
    real_bound = ports._bound

    def bound(port):
        return real_bound(offers.pop(0) if port == 0 and offers else port)

    monkeypatch.setattr(ports, "_bound", bound)
    return offers


def test_a_port_handed_out_is_not_handed_out_again_when_the_kernel_offers_it(kernel_offers_first):
    first = ports.free_port()
    kernel_offers_first.append(first)
    second = ports.free_port()
    assert second != first and {first, second} <= ports.handed_out()
    assert kernel_offers_first == []                 # it was offered, and refused


def test_a_preferred_port_is_taken_once_and_only_while_nothing_listens_on_it():
    preferred = ports.free_port()                    # handed out: the next preference is refused
    assert ports.free_port(preferred) != preferred
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        assert ports.free_port(busy) != busy
    idle = _unbound_port()
    assert ports.free_port(idle) == idle


def _unbound_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("how", ["handed out by free_port", "named in avoid"])
def test_a_loopback_service_on_port_0_never_keeps_a_port_it_must_avoid(how):
    """Say the API's port: chalice has not bound it yet when the link starts."""
    reserved = ports.free_port() if how == "handed out by free_port" else _unbound_port()
    avoid = {reserved} if how == "named in avoid" else ()

    class FirstDrawIsTheReservedPort(PaymentLink):
        """The kernel's first free port happens to be the reserved one."""
        draws = 0

        def _make_server(self, address):
            self.draws += 1
            return super()._make_server((address[0], reserved) if self.draws == 1 else address)

    link = FirstDrawIsTheReservedPort(UNUSED_UPSTREAM, 1.0).start(avoid=avoid)
    try:
        assert link.draws == 2 and link.url != f"http://127.0.0.1:{reserved}"
        with socket.socket() as owner:
            owner.bind(("127.0.0.1", reserved))      # released again for its owner
    finally:
        link.stop()
