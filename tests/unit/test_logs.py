"""The structured log lines survive Chalice's own logger configuration."""
import json
import logging

from chalice import Chalice

from chalicelib.logs import log


def test_info_events_are_written_even_after_chalice_sets_its_logger_to_error():
    captured = []

    class Collect(logging.Handler):
        def emit(self, record):
            captured.append(record.getMessage())

    output = logging.getLogger("paysettle")
    handler = Collect()
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
