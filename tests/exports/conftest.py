"""Fixtures of the export tests: moto in-process with every table, queue and bucket of the template."""
import boto3
import pytest
from moto import mock_aws

from infra.provision import provision
from tests.exports.support import World


@pytest.fixture
def world(tmp_path):
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        dynamodb, sqs, s3 = session.client("dynamodb"), session.client("sqs"), session.client("s3")
        provisioned = provision(dynamodb, sqs, "exports", s3=s3)
        yield World(dynamodb=dynamodb, sqs=sqs, s3=s3, provisioned=provisioned,
                    tmp_dir=tmp_path / "spool")
