"""The marketing-subsidies page's curl walk-through (docs/subsidies.md), run as written against a fresh
local stack (tests/support/walk_through.py); every answer it prints is checked against what the
page says."""
import pytest

from tests.support.walk_through import fresh_stack, run_walk_through
from tests.unit.support import ROOT

pytestmark = pytest.mark.e2e

WALK_THROUGH = ROOT / "docs" / "subsidies.md"


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    with fresh_stack(tmp_path_factory.mktemp("subsidies-docs-stack")) as stack:
        yield stack


def test_the_walk_through_runs_as_written(local_stack):
    answers = run_walk_through(local_stack, WALK_THROUGH, cwd=ROOT)
    center = [a for a in answers if isinstance(a.get("code"), int)]
    assert [a["code"] for a in center] == [
        5041,           # rule 4: the answer is lost
        0,              # the retry: the channel's original success
        0,              # rule 1: the stored answer
        1030,           # rule 2: other parameters
        3003, 0,        # rule 3: a rejection, then executed again
        5041,           # the return through a SYSTEM_ERROR
        0, 0,           # the subsidy while its return is unknown, then once the sweeper resolved it
        0,              # the return re-sent
        1030,           # the return with another amount
        1001,           # a zero amount
    ], answers
    lost, retried = center[0]["data"], center[1]["data"]
    assert lost["paymentSubsidiesId"] == retried["paymentSubsidiesId"]
    assert retried["proxyChannelSubsidiesId"]
    unknown, resolved = center[7]["data"], center[8]["data"]
    assert unknown["returning_amount"] == 2332 and unknown["returns"][0]["state_name"] == "UNKNOWN"
    assert (resolved["returned_amount"], resolved["returning_amount"]) == (2332, 0)
    assert resolved["returns"][0]["state_name"] == "SUCCEEDED"
    assert center[11]["field"] == "amount"
    calls = next(a for a in answers if "calls" in a)["calls"]
    assert [(c["outbound_no"], c["outcome"]) for c in calls] == [
        (lost["paymentSubsidiesId"], "APPLIED"), (lost["paymentSubsidiesId"], "REPLAYED")]
    money = answers[-1]                 # the channel's own record of the paid order
    assert money["subsidy"]["amount"] == 2332 and money["returned_amount"] == 2332
