"""Settings every test shares: no test may ever reach real AWS. And the order the modules are
handed to the workers in."""
import os
from collections import Counter

import pytest

from chalicelib import aws
from chalicelib.auth import credentials

# Set before anything makes a client: dummy credentials, a fixed region.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # The app loads every handler's code when imported, as the local stack does: the tests time
    # requests, not cold starts (tests/unit/test_cold_import.py checks the lazy default).
    "EAGER_HANDLER_IMPORTS": "1",
})
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _fresh_clients():
    aws.reset()
    credentials.reset()
    yield
    aws.reset()
    credentials.reset()


# The longest modules of a 2-core CI run (seconds on one worker, measured): handed to the workers
# first. `make test` distributes whole modules (--dist loadscope) in collection order
# (--no-loadscope-reorder); xdist's own order, most tests first, started the fuzzing module, which
# has three tests, last, and the run ended with one worker alone on it for minutes.
LONGEST_FIRST = (
    "tests/security/test_schemathesis.py",                 # ~500 s
    "tests/faults/test_process_death.py",                  # ~250 s
    "tests/trades/test_properties.py",                     # ~180 s
    "tests/sharing/test_faults.py",                        # ~160 s
    "tests/sharing/test_concurrency_dynamodb_local.py",    # ~95 s
    "tests/subsidies/test_faults.py",                      # ~85 s
)


def pytest_collection_modifyitems(items):
    """The longest modules first, then the others by their number of tests (xdist's own order).
    The sort is stable and keyed by module, so tests within a module keep their file order."""
    rank = {module: position for position, module in enumerate(LONGEST_FIRST)}
    tests_in = Counter(item.nodeid.split("::")[0] for item in items)

    def order(item):
        module = item.nodeid.split("::")[0]
        return (rank.get(module, len(rank)), -tests_in[module], module)
    items.sort(key=order)
