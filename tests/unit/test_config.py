"""Settings read from the environment: no stage-wide merchant; a tenant that would blur record
keys is refused wherever one is read (the merchant system's, a credential's merchant_id)."""
import json

import pytest

from chalicelib import config
from chalicelib.auth import credentials

READERS = {"payments": config.settings, "exports": config.export_settings,
           "trades": config.trade_settings}
REQUIRED = {"ORDERS_TABLE": "o", "LEDGER_TABLE": "l", "CREDIT_QUEUE_URL": "q", "EXPORT_BUCKET": "b",
            "TRADES_TABLE": "t"}
BLURRING = ["a#b", "with space", "x" * 65, "商户", "a/b"]


@pytest.fixture
def environment(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.mark.parametrize("reader", list(READERS))
def test_no_reader_knows_a_stage_wide_merchant(environment, reader):
    """The tenant of a request is its caller's; a setting naming one would be a second source."""
    environment.setenv("DEFAULT_MERCHANT", "someone")
    settings = READERS[reader]()
    assert not hasattr(settings, "default_merchant") and not hasattr(settings, "tenant")
    assert "someone" not in repr(settings)


@pytest.mark.parametrize("value,expected", [(None, ""), ("", ""), ("demo", "demo"),
                                            ("a.b_C-9", "a.b_C-9")])
def test_the_merchant_systems_tenant_is_read_for_its_exports(environment, value, expected):
    if value is None:
        environment.delenv("MERCHANT_SYSTEM_TENANT", raising=False)
    else:
        environment.setenv("MERCHANT_SYSTEM_TENANT", value)
    assert config.export_settings().merchant_tenant == expected


@pytest.mark.parametrize("value", BLURRING)
def test_a_merchant_system_tenant_that_would_blur_record_keys_is_refused(environment, value):
    environment.setenv("MERCHANT_SYSTEM_TENANT", value)
    with pytest.raises(config.MissingSetting, match="MERCHANT_SYSTEM_TENANT"):
        config.export_settings()


@pytest.mark.parametrize("value", BLURRING)
def test_a_credential_whose_merchant_id_would_blur_record_keys_is_left_out(value):
    found = credentials.parse(json.dumps({"callers": {
        "bad": {"secret": "s", "merchant_id": value, "roles": ["merchant"]},
        "good": {"secret": "s", "merchant_id": "demo", "roles": ["merchant"]},
        "channel": {"secret": "s", "merchant_id": None, "roles": ["channel"]}}}))
    assert set(found) == {"good", "channel"}
    assert found["channel"].merchant_id == ""
    assert credentials.tenants(found.values()) == ("demo",)
