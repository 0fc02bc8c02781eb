"""Settings every test shares: no test may ever reach real AWS."""
import os

import pytest

from chalicelib import aws
from chalicelib.auth import credentials

# Set before anything makes a client: dummy credentials, a fixed region.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
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


# `make test` spreads the tests over every core (pytest-xdist, `--dist loadgroup`). A fixture
# wider than one test is made once per worker that runs a test needing it, so the tests that
# share one are kept on one worker (an `xdist_group`): those of a module with a module-scoped
# fixture (one stack per module, and `make run`'s job, which writes out/, never twice at once),
# and those of the session fixtures that start a whole service. Cheap shared fixtures (the
# Chalice test client, botocore's models) are left out: grouping on them would serialise a
# whole package.
SHARED_SESSION_FIXTURES = {
    ("stack", "tests/e2e"): "e2e-stack",                                   # `make serve`'s stack
    ("dynamodb_local_endpoint", "tests/dynamodb_local"): "dynamodb-local",  # a JVM
}


def _xdist_group(item):
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    group = None
    for name in info.names_closure:
        definitions = info.name2fixturedefs.get(name)
        if not definitions:
            continue
        definition = definitions[-1]            # the one this test gets (nearest override)
        if definition.scope == "session":
            shared = SHARED_SESSION_FIXTURES.get((name, definition.baseid))
            if shared:
                return shared
        elif definition.scope == "module" and not definition._autouse:
            group = item.nodeid.split("::", 1)[0]
    return group


def pytest_collection_modifyitems(config, items):
    for item in items:
        group = None if item.get_closest_marker("xdist_group") else _xdist_group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
