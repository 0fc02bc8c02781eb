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
