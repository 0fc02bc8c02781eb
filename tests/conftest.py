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
