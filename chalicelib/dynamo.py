"""Small, exact helpers over the low-level DynamoDB client."""
from decimal import Decimal
from typing import Optional

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# A condition that was false is reported under two different codes:
# - the cancellation reason of one item of a refused transaction
#   (chalicelib.data.transactions.Cancelled: ask its `condition_failed(owner)`);
TRANSACTION_CONDITION_FAILED = "ConditionalCheckFailed"
# - the error code of a refused single conditional write (put, update, delete): ask
#   `condition_failed(error)`. Matched by code, never by `client.exceptions.<Name>`: a client
#   builds those classes lazily, and threads racing to build them raise classes that another
#   thread's `except` does not name.
WRITE_CONDITION_FAILED = "ConditionalCheckFailedException"
# The cancellation reason of an item another transaction was writing at the same moment.
TRANSACTION_CONFLICT = "TransactionConflict"
# Errors after which the very same transaction may simply be sent again.
RETRYABLE_ERRORS = frozenset({"TransactionInProgressException",
                              "ProvisionedThroughputExceededException",
                              "ThrottlingException", "RequestLimitExceeded",
                              "InternalServerError"})


def to_item(record: dict) -> dict:
    return {key: _serializer.serialize(value) for key, value in record.items()
            if value is not None}


def _plain(value):
    """DynamoDB numbers come back as Decimal, also inside maps, lists and sets. Every number
    PaySettle stores is whole (fen, counts, versions, epoch times): those become int again; any
    other stays an exact Decimal, never a float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    if isinstance(value, set):
        return {_plain(inner) for inner in value}
    return value


def from_item(item: dict) -> dict:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def values(**named) -> dict:
    """ExpressionAttributeValues from keyword arguments (`a=1` becomes `:a`)."""
    return {":" + name: _serializer.serialize(value) for name, value in named.items()}


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def condition_failed(error: BaseException) -> bool:
    """A single conditional write (put, update, delete) was refused: its condition was false.
    Takes botocore's ClientError, or PynamoDB's PutError/UpdateError/DeleteError (which carry the
    same code as `cause_response_code`)."""
    if isinstance(error, ClientError):
        return error_code(error) == WRITE_CONDITION_FAILED
    return getattr(error, "cause_response_code", None) == WRITE_CONDITION_FAILED


def put_new(model) -> Optional[dict]:
    """Write the PynamoDB `model` as a new item, in one request: None when it was written; when
    an item with its key already exists, that item as it is stored (plain, as `from_item`; `{}`
    if the endpoint did not return it), and nothing is written.

    PynamoDB's `save` cannot ask for `ReturnValuesOnConditionCheckFailure` on a single put, so
    this one write goes through the model's own low-level client (the same client, hence the
    same binding and fault hooks, as the model's other requests)."""
    model_class = type(model)
    connection = model_class._get_connection()
    return _written_or_stored(lambda: connection.connection.client.put_item(
        TableName=connection.table_name, Item=model.serialize(),
        ConditionExpression="attribute_not_exists(#key)",
        ExpressionAttributeNames={"#key": model_class._hash_key_attribute().attr_name},
        ReturnValuesOnConditionCheckFailure="ALL_OLD"))


def update_or_stored(model, actions, condition) -> Optional[dict]:
    """Update the item of the PynamoDB `model`'s key with `actions` under `condition`, in one
    request: None when it was written; when the condition was false, the item as it is stored
    (plain, as `from_item`; `{}` if there is none or the endpoint did not return it), and
    nothing is written.

    PynamoDB's `update` cannot ask for `ReturnValuesOnConditionCheckFailure` either; the request
    is built by the model's own connection (its expressions, names and values) and sent through
    the model's own low-level client, as `put_new` does."""
    connection = type(model)._get_connection()
    hash_key, range_key = model._get_hash_range_key_serialized_values()
    request = connection.get_operation_kwargs(
        hash_key, range_key, actions=actions, condition=condition,
        return_values_on_condition_failure="ALL_OLD")
    return _written_or_stored(lambda: connection.connection.client.update_item(**request))


def _written_or_stored(write) -> Optional[dict]:
    """Send one conditional `write` that asks for the stored item on a refusal: None when it
    was written, else that item (plain; `{}` when there is none or it was not returned)."""
    try:
        write()
    except ClientError as error:
        if not condition_failed(error):
            raise
        old = error.response.get("Item")
        return from_item(old) if old else {}
    return None
