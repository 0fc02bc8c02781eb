"""The payment link's fault control (local stack only), as the load driver uses it.

The merchant reaches the payment API through a fault-injecting proxy, the
payment link (`payment_link_url` in out/local-stack.json). The driver sets the
share of calls to time out AFTER the payment side answered ("after commit": the
payment order exists, the merchant gives up waiting and keeps an UNKNOWN
order), reads the link's counters before and after the run, reports the
difference, and puts the settings back as it found them.
"""
from dataclasses import dataclass
from typing import Dict, Optional

import requests

CONTROL_PATH = "/_control/faults"
COUNTERS = ("forwarded", "caller_gone", "timeout_after_commit", "timeout_before_commit")
SETTINGS = ("timeout_after_commit", "timeout_before_commit", "seed")
CONTROL_TIMEOUT_SECONDS = 10


class FaultControlError(RuntimeError):
    """The payment link's control endpoint could not be used."""


@dataclass
class FaultSession:
    link_url: str
    rate: float
    seed: int
    before: Optional[dict] = None
    after: Optional[dict] = None

    def _call(self, method: str, body: Optional[dict] = None) -> dict:
        url = self.link_url.rstrip("/") + CONTROL_PATH
        try:
            response = requests.request(method, url, json=body, timeout=CONTROL_TIMEOUT_SECONDS)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as error:
            raise FaultControlError(f"{method} {url}: {error}") from error

    def start(self) -> None:
        self.before = self._call("GET")
        self._call("POST", {"timeout_after_commit": self.rate, "timeout_before_commit": 0.0,
                            "seed": self.seed})

    def finish(self, restore: bool = True) -> None:
        self.after = self._call("GET")
        if restore and self.before is not None:
            self._call("POST", settings_of(self.before))

    def counters(self) -> Dict[str, int]:
        """What the link counted during the run (its counters after minus before)."""
        if self.before is None or self.after is None:
            return {}
        before, after = counters_of(self.before), counters_of(self.after)
        return {key: after.get(key, 0) - before.get(key, 0) for key in COUNTERS}


# The GET answer holds the settings and the counters; the counters share two names with the
# settings, so they are read from a nested "counters" object when there is one, and otherwise
# from the top level only where the value is a whole number (a count, not a share).
def counters_of(document: dict) -> Dict[str, int]:
    nested = document.get("counters")
    source = nested if isinstance(nested, dict) else document
    return {key: source[key] for key in COUNTERS
            if isinstance(source.get(key), int) and not isinstance(source.get(key), bool)}


def settings_of(document: dict) -> dict:
    nested = document.get("settings")
    source = nested if isinstance(nested, dict) else document
    settings = {key: source[key] for key in SETTINGS if key in source}
    for key in ("timeout_after_commit", "timeout_before_commit"):
        # A whole number at the top level is a counter, not a share: the link was off.
        if not isinstance(nested, dict) and isinstance(settings.get(key), int):
            settings[key] = 0.0
    return settings
