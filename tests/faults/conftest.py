"""Fault-injection worlds: moto in-process, one fresh set of tables and queues per world.

Why moto in-process and not DynamoDB Local: these tests are single-threaded;
what they exercise is *where* a process stops, not how concurrent writers
interleave, so moto's missing linearizability does not matter, and
`ClientRequestToken` is never reused across a death (a recovering process builds
new requests). Each operation is replayed with a death at every call number,
twice (before and after the call), each time on fresh resources: in-process
moto makes that hundreds of worlds in seconds. The DynamoDB Local suite covers
transactions under real contention.
"""
import itertools
from contextlib import ExitStack

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from infra.provision import provision
from tests.support.world import World

# Messages taken by a process that died come back after this long.
VISIBILITY_TIMEOUT_SECONDS = 1


@pytest.fixture
def new_world():
    """A factory of fresh worlds (unique resource prefix) inside one moto mock. The models are
    bound to the newest world's tables; a test using several worlds in turn binds each one
    (`with world.bound():`) around the calls it makes in it."""
    with mock_aws(), ExitStack() as bindings:
        config = Config(retries={"max_attempts": 1})
        dynamodb = boto3.session.Session().client("dynamodb", region_name="us-east-1", config=config)
        sqs = boto3.session.Session().client("sqs", region_name="us-east-1", config=config)
        numbers = itertools.count(1)

        def make(**settings) -> World:
            provisioned = provision(dynamodb, sqs, f"fault{next(numbers)}", threads=1)
            sqs.set_queue_attributes(
                QueueUrl=provisioned.queues["CreditQueue"],
                Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS)})
            world = World(dynamodb, sqs, provisioned, **settings)
            bindings.enter_context(world.bound())
            return world

        yield make
