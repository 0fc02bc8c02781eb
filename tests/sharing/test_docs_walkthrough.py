"""The profit-sharing page's curl walk-through (docs/profit-sharing.md), run as written against a fresh
local stack (tests/support/walk_through.py); every answer it prints is checked against what the
page says."""
import pytest

from tests.support.walk_through import fresh_stack, run_walk_through
from tests.unit.support import ROOT

pytestmark = pytest.mark.e2e

WALK_THROUGH = ROOT / "docs" / "profit-sharing.md"


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    with fresh_stack(tmp_path_factory.mktemp("sharing-docs-stack")) as stack:
        yield stack


def test_the_walk_through_runs_as_written(local_stack, tmp_path):
    # The page runs at the top of the repository (it calls .venv/bin/python); its file goes here.
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    answers = run_walk_through(local_stack, WALK_THROUGH, cwd=tmp_path)
    center = [a for a in answers if isinstance(a.get("code"), int)]
    assert [a["code"] for a in center] == [
        0, 0, 0,        # shared; FINISHED from the notifications; sent again: the records
        1030,           # the same trade with other receivers
        0, 0,           # the partial refund (one answer lost), sent again
        1030,           # the same refund with another amount
        0,              # the second order shared by business order
        0, 0,           # its refund, handled from the queue; the sharing after it
    ], answers
    finished = center[1]["data"]
    assert (finished["state"], finished["sharedAmount"]) == ("FINISHED", 1893)
    assert finished["holdings"] == {"1900000109": 1001, "1900000110": 697, "1900000111": 195}
    partial = center[4]["data"]
    assert partial["actualBaseReturnAmount"] == 631
    assert {r["returnMchId"]: r["amount"] for r in partial["returns"]} == {
        "1900000109": 334, "1900000110": 232, "1900000111": 65}
    again = center[5]["data"]
    assert [r["sharingReturnNo"] for r in again["returns"]] == [r["sharingReturnNo"] for r in partial["returns"]]
    lost = partial["returns"][0]["sharingReturnNo"]
    calls = next(a for a in answers if "calls" in a)["calls"]
    assert [c["outcome"] for c in calls if c.get("outbound_no") == lost][:1] == ["APPLIED"]
    queued = center[8]["data"]
    assert (queued["state"], queued["applyAmount"], queued["actualBaseReturnAmount"]) == (1, 2968, 890)
    assert {r["returnMchId"]: r["amount"] for r in queued["returns"]} == {"1900000109": 590, "ou8xopenid0001": 300}
    second = center[9]["data"]
    assert (second["sharedAmount"], second["refundedAmount"]) == (890, 2968)
    assert set(second["holdings"].values()) == {0}
