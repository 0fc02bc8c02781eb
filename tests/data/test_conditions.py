"""A false condition, recognised one way: `condition_failed(error)` for a single conditional
write, a transaction's `condition_failed(item)` for one item of a refused transaction."""
import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError

from chalicelib.data.binding import TableModel
from chalicelib.data.transactions import Cancelled, Save, Transaction
from chalicelib.dynamo import TRANSACTION_CONDITION_FAILED, WRITE_CONDITION_FAILED, condition_failed, to_item


class Item(TableModel):
    class Meta:
        table_setting = "NONCES_TABLE"       # any table setting; the test names the table
        table_name = None

    pk = UnicodeAttribute(hash_key=True)


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setenv("NONCES_TABLE", "t")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        yield client


def _put_new(client, pk):
    return {"Put": {"TableName": "t", "Item": to_item({"pk": pk}),
                    "ConditionExpression": "attribute_not_exists(pk)"}}


def test_a_refused_single_write_is_a_condition_failure(table):
    table.put_item(**_put_new(table, "a")["Put"])
    with pytest.raises(ClientError) as refused:
        table.put_item(**_put_new(table, "a")["Put"])
    assert condition_failed(refused.value)


def test_an_item_of_a_refused_transaction_is_a_condition_failure_of_that_item_only(table):
    table.put_item(**_put_new(table, "a")["Put"])
    new, taken = (Save(Item(pk), condition=Item.pk.does_not_exist()) for pk in ("b", "a"))
    transaction = Transaction(Item)
    transaction.add(new)
    transaction.add(taken)
    with pytest.raises(Cancelled) as cancelled:
        transaction.commit()
    assert not cancelled.value.condition_failed(new)
    assert cancelled.value.condition_failed(taken)
    assert cancelled.value.code(taken) == TRANSACTION_CONDITION_FAILED
    assert cancelled.value.failed_owners == [taken]
    assert table.get_item(TableName="t", Key=to_item({"pk": "b"})).get("Item") is None


def _client_error(code):
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "PutItem")


@pytest.mark.parametrize("code, expected", [
    (WRITE_CONDITION_FAILED, True),
    # The transaction's reason is not a single write's error code, nor are other refusals.
    (TRANSACTION_CONDITION_FAILED, False),
    ("TransactionCanceledException", False),
    ("ProvisionedThroughputExceededException", False),
])
def test_only_the_single_write_code_counts(code, expected):
    assert condition_failed(_client_error(code)) is expected


def test_pynamodbs_write_errors_are_read_by_their_cause():
    assert condition_failed(PutError(cause=_client_error(WRITE_CONDITION_FAILED)))
    assert not condition_failed(PutError(cause=_client_error("ThrottlingException")))
    assert not condition_failed(ValueError("not a write"))
