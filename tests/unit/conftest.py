"""Fixtures of the unit tests: moto in-process, the template's resources, the Chalice test client."""
import pytest
from chalice.test import Client

import app as paysettle
from tests.unit.support import ROOT, Api, aws_stack


@pytest.fixture
def stack():
    """A fresh moto account with every table and queue of the template (one test)."""
    with aws_stack() as created:
        yield created


@pytest.fixture(scope="module")
def shared_stack():
    """One moto account for a whole module, for tests that write nothing or count before/after."""
    with aws_stack("shared") as created:
        yield created


@pytest.fixture(scope="package")
def api():
    """The app behind `chalice.test.Client`, stage `local` (its env vars are set only during a call;
    the table and queue names come from os.environ, set by the stack fixtures)."""
    with Client(paysettle.app, stage_name="local", project_dir=str(ROOT)) as client:
        yield Api(client)


@pytest.fixture
def ctx(stack):
    """The payment services' collaborators, on the fresh stack."""
    return stack.context()


@pytest.fixture(scope="package", autouse=True)
def _shared_botocore_models():
    """Every client the tests make (and chalicelib.aws makes per test) re-reads botocore's JSON
    models through a new session's loader: ~0.1 s a client. One shared loader caches the parsed
    models; it holds no credentials, endpoints or state, so clients stay independent."""
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


@pytest.fixture(scope="package", autouse=True)
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
