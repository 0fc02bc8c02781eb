"""Settings every test shares: no test may ever reach real AWS. And the order the modules are
handed to the workers in."""
import os
from collections import Counter

import pytest
# Imported before any client exists: moto intercepts requests through a handler it adds to
# botocore's built-in ones at import, which only sessions made afterwards get, and
# chalicelib.aws keeps its sessions for the whole process.
import moto  # noqa: F401

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


@pytest.fixture(scope="session", autouse=True)
def _shared_botocore_models():
    """Every client the tests make (chalicelib.aws and PynamoDB's models make theirs afresh for
    each test) re-reads botocore's JSON models through a new session's loader: ~0.1 s a client.
    One shared loader per process caches the parsed models; it holds no credentials, endpoints or
    state, so clients stay independent. For every directory, not only the unit tests: the
    subsidy, sharing, export and fault suites make as many clients."""
    import botocore.session
    from botocore.loaders import create_loader

    loaders = {}

    def shared_loader(search_paths=None):
        key = tuple(search_paths) if isinstance(search_paths, (list, tuple)) else search_paths
        if key not in loaders:
            loaders[key] = create_loader(search_paths)
        return loaders[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared_loader)
        yield


@pytest.fixture(scope="session", autouse=True)
def _linear_moto_receive():
    """moto 5.2's ReceiveMessage checks each message's retention period by computing *all* the
    queue's attributes, which counts every message: receiving n messages costs O(n^2) (5 s for
    250 credits). Read the one attribute directly; the result is the same."""
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SQSBackend, "is_message_valid_based_on_retention_period",
                      is_message_valid_based_on_retention_period)
        yield


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
