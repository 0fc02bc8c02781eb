"""Fixtures of the export tests: moto in-process with every table, queue and bucket of the template."""
import boto3
import pytest
from moto import mock_aws

from chalicelib.data import binding, catalog
from infra.local_stack import MERCHANT_TEMPLATE
from infra.provision import load_template, provision
from tests.exports.support import World


@pytest.fixture
def world(tmp_path):
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        dynamodb, sqs, s3 = session.client("dynamodb"), session.client("sqs"), session.client("s3")
        provisioned = provision(dynamodb, sqs, "exports", s3=s3, threads=1)
        # The merchant system's own table (its stack's), which its export reads.
        provisioned.tables.update(provision(dynamodb, sqs, "exports", load_template(MERCHANT_TEMPLATE),
                                            s3=s3, threads=1).tables)
        # The PynamoDB models read and write these tables (moto answers their client too).
        # The merchant system's model too: its export reads the merchant table through it.
        everything = {**catalog.MODELS, **catalog.MERCHANT_MODELS}
        tables = {model.Meta.table_setting: provisioned.tables[logical]
                  for logical, models in catalog.models_by_table(everything).items()
                  if logical in provisioned.tables for model in models}
        with binding.override(tables):
            yield World(dynamodb=dynamodb, sqs=sqs, s3=s3, provisioned=provisioned,
                        tmp_dir=tmp_path / "spool")
