"""The structured log lines survive Chalice's own logger configuration."""
import json
import logging

from chalice import Chalice

from chalicelib.logs import log, output_formatter


def test_info_events_are_written_even_after_chalice_sets_its_logger_to_error():
    captured = []

    class Collect(logging.Handler):
        def emit(self, record):
            captured.append(self.format(record))

    output = logging.getLogger("paysettle")
    handler = Collect()
    handler.setFormatter(output_formatter())
    output.addHandler(handler)
    level = output.level
    try:
        # Assigning `debug` makes Chalice set the "paysettle" logger (the app's name) to ERROR.
        Chalice(app_name="paysettle").debug = False
        assert output.level == logging.ERROR
        log("probe.event", amount=1)
    finally:
        output.removeHandler(handler)
        output.setLevel(level)
    assert [json.loads(line)["event"] for line in captured] == ["probe.event"]


def test_account_numbers_keep_only_their_last_four_digits():
    from tests.support.logs import captured_log_lines

    with captured_log_lines() as lines:
        log("probe.accounts", account="6222021234567890123", sub_mchid="1692608207",
            request_id="20261122162345445784",
            nested={"return_mch_id": "card 6222021234567890 end", "trade_id": "1358758500000000001"},
            receivers=[{"account": "123456789012"}])
    [line] = lines
    assert line["account"] == "*" * 15 + "0123"
    assert line["sub_mchid"] == "1692608207"                     # a 10-digit merchant id is no card
    assert line["request_id"] == "20261122162345445784"          # an order id is no account
    assert line["nested"] == {"return_mch_id": "card " + "*" * 12 + "7890 end",
                              "trade_id": "1358758500000000001"}
    assert line["receivers"] == [{"account": "********9012"}]
