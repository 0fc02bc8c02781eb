"""Settings read from the environment: a merchant id that would blur record keys is refused."""
import pytest

from chalicelib import config

READERS = {"payments": config.settings, "exports": config.export_settings,
           "trades": config.trade_settings}
REQUIRED = {"ORDERS_TABLE": "o", "LEDGER_TABLE": "l", "CREDIT_QUEUE_URL": "q", "EXPORT_BUCKET": "b",
            "TRADES_TABLE": "t"}


@pytest.fixture
def environment(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def merchant_of(settings) -> str:
    return getattr(settings, "default_merchant", None) or settings.tenant


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("value,expected", [(None, "default"), ("", "default"), ("mch-demo", "mch-demo"),
                                            ("a.b_C-9", "a.b_C-9")])
def test_the_default_merchant_is_read_by_every_reader(environment, reader, value, expected):
    if value is None:
        environment.delenv("DEFAULT_MERCHANT", raising=False)
    else:
        environment.setenv("DEFAULT_MERCHANT", value)
    assert merchant_of(READERS[reader]()) == expected


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("value", ["a#b", "with space", "x" * 65, "商户"])
def test_a_default_merchant_that_would_blur_record_keys_is_refused(environment, reader, value):
    environment.setenv("DEFAULT_MERCHANT", value)
    with pytest.raises(config.MissingSetting, match="DEFAULT_MERCHANT"):
        READERS[reader]()
