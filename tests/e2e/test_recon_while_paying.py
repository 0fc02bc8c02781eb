"""A reconciliation runs while pays flow: credits keep landing within the aggregator's period.

The pump gives each function its own worker, so the recon function's long run (a batch of
RECON_ROWS rows per side and kind, uploaded the way a side uploads it) and the
aggregator's runs every LOCAL_SCHEDULE_SECONDS overlap. Every pay made while the batch is
RUNNING must be credited within CREDIT_DEADLINE_SECONDS of its SUCCESS answer. (500,000 rows
per file, not 1 M, to keep the suite's time on a 2-core machine; the mechanism is the same. At
200,000 the reconciliation, now twice as fast, could end before three credits were timed.)
"""
import time

import pytest
from benchmarks.recon import generate

from .support import new_saler, wait_until

pytestmark = pytest.mark.e2e

RECON_ROWS = 500_000
# The aggregator runs every 2 s locally; a credit waits at most one period, plus its run.
CREDIT_DEADLINE_SECONDS = 2 * 2 + 2


MERCHANT_KEY = "mch-demo"


def _upload(stack, folder, tenant: str, batch: str) -> None:
    """The batch's files under the tenant's folder, as each side uploads them."""
    s3 = stack.client("s3")
    bucket = stack.manifest["buckets"]["ReconBucket"]
    prefix = f"incoming/{tenant}/{batch}"
    for side in ("merchant", "payment"):
        for path in sorted((folder / side).glob("*.csv")):
            s3.upload_file(str(path), bucket, f"{prefix}/{side}/{path.name}")
    for side in ("merchant", "payment"):   # manifests last: they say the side is complete
        s3.upload_file(str(folder / side / "_manifest.json"), bucket,
                       f"{prefix}/{side}/_manifest.json")


def _status(stack, session, batch: str):
    """The batch's status as its tenant's merchant reads it (a signed GET)."""
    answer = session.get(f"{stack.api}/recon/{batch}", timeout=30)
    return answer.json().get("status") if answer.status_code == 200 else None


def test_credits_keep_landing_while_a_reconciliation_runs(stack, tmp_path):
    batch = f"e2e-busy-{int(time.time())}"
    folder = generate(tmp_path / batch, RECON_ROWS)
    saler = new_saler()
    latencies_while_running, paid = [], 0
    session = stack.session(MERCHANT_KEY)
    reader = stack.session(MERCHANT_KEY)  # the status reads on their own connection
    tenant = stack.credential(MERCHANT_KEY)["merchant_id"]

    _upload(stack, folder, tenant, batch)
    wait_until(lambda: _status(stack, reader, batch) == "RUNNING", 120, "the reconciliation started",
               interval=0.2)
    while _status(stack, reader, batch) == "RUNNING":
        answer = stack.pay_with(session, saler, 1)
        assert answer.json()["response_code"] == "SUCCESS"
        paid += 1
        answered = time.monotonic()
        stack.wait_for_balance(saler, paid, timeout=CREDIT_DEADLINE_SECONDS)
        credited = time.monotonic() - answered
        if _status(stack, reader, batch) == "RUNNING":  # the reconciliation ran the whole time
            latencies_while_running.append(credited)

    assert len(latencies_while_running) >= 3, (
        f"the reconciliation ended before three credits could be timed ({latencies_while_running})")
    assert max(latencies_while_running) <= CREDIT_DEADLINE_SECONDS
    wait_until(lambda: _status(stack, reader, batch) not in (None, "RUNNING"), 60, "the reconciliation ended")
    assert _status(stack, reader, batch) == "DONE"
