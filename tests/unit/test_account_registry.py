"""The account registry through the ledger's `Account` model: a declaration is one conditional
UpdateItem (the stored item comes back with a refusal), then one consistent read."""
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest

from chalicelib.errors import ReentryRefused
from chalicelib.payments import aggregator, registry, service
from chalicelib.payments.messages import PayRequest
from chalicelib.payments.models.ledger import Account
from tests.support.model_faults import requests_sent
from tests.unit.support import TENANT, pay_body

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


@contextmanager
def requests():
    """The DynamoDB requests the registry's model sends inside the block, by operation."""
    seen = Counter()
    with requests_sent([Account]) as names:
        yield seen
    seen.update(names)


def test_a_declaration_is_one_update_and_one_read_and_its_replay_one_update(stack):
    with requests() as first:
        info = registry.declare(TENANT, "wallet", "C", "NORMAL", "CNY", lambda: NOW)
    assert (info.exists, info.declared, info.fields()) == (
        True, True, {"kind": "C", "status": "NORMAL", "currency": "CNY"})
    assert first == {"UpdateItem": 1, "BatchGetItem": 1}

    with requests() as replay:
        again = registry.declare(TENANT, "wallet", "C", "NORMAL", "CNY", lambda: NOW)
    assert again == info
    assert replay == {"UpdateItem": 1}                 # the refusal carried the stored item

    with requests() as refused, pytest.raises(ReentryRefused):
        registry.declare(TENANT, "wallet", "B", "NORMAL", "CNY", lambda: NOW)
    assert refused == {"UpdateItem": 1}
    assert registry.accounts(TENANT, ["wallet"])["wallet"] == info


def test_an_account_a_credit_created_is_adopted_with_its_balance(stack):
    ctx = stack.context()
    service.pay(ctx, PayRequest(**pay_body(saler_id="implicit", total_fee=300)))
    assert aggregator.run(ctx).applied == 1
    before = registry.accounts(TENANT, ["implicit", "absent"])
    assert (before["implicit"].exists, before["implicit"].declared,
            before["implicit"].balance) == (True, False, 300)
    assert before["absent"].exists is False

    with pytest.raises(ReentryRefused):                # only B/NORMAL/CNY adopts it
        registry.declare(TENANT, "implicit", "C", "NORMAL", "CNY", lambda: NOW)
    adopted = registry.declare(TENANT, "implicit", "B", "NORMAL", "CNY", lambda: NOW)
    assert (adopted.declared, adopted.balance) == (True, 300)
    assert registry.accounts(TENANT, ["implicit"]) == {"implicit": adopted}
