"""Fixtures of the trade-settlement tests: moto in-process with every table of the template."""
import pytest

from chalicelib.payments.trades.context import Trades
from tests.trades.support import Book
from tests.unit.conftest import api  # noqa: F401
from tests.unit.support import TENANT, aws_stack


def trades_context(**overrides) -> Trades:
    settings = dict(tenant=TENANT, sleep=lambda seconds: None)
    settings.update(overrides)
    return Trades(**settings)


@pytest.fixture
def stack():
    with aws_stack("trades") as created:
        yield created


@pytest.fixture
def book(stack):
    """Buyer `buyer` (B, 100000 fen in sub-account 1), seller `seller` (B), C accounts `wallet`
    and `buyerfees`, B accounts `agent1`, `agent2`, `partner`."""
    book = Book(stack.context(), trades_context())
    for account_id, kind in (("buyer", "B"), ("seller", "B"), ("wallet", "C"),
                             ("buyerfees", "C"), ("agent1", "B"), ("agent2", "B"),
                             ("partner", "B")):
        book.declare(account_id, kind)
    book.fund("buyer", 100_000)
    return book
