"""TransactWrite with cancellation reasons mapped to the items they belong to, by identity.

PynamoDB's `TransactWrite` does not send items in the order they were added: condition checks go
first, then deletes, then puts, then updates (its GitHub issue #1284), and DynamoDB lists the
cancellation reasons in the order the items were *sent*. Reading reason `i` as "the i-th item I
wrote" mistakes, say, a withdraw's journal guard for its balance condition. So each write here is
registered with an `owner` (any object: a credit, a posting, a marker string), the exact items
sent are taken from the request itself (botocore's `before-parameter-build` event on the model's
client), and each reason is matched to its item by (table, key): two items of one transaction
never share a key, DynamoDB refuses that.
"""
import json
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple, Type, Union

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from ..dynamo import TRANSACTION_CONDITION_FAILED, TRANSACTION_CONFLICT
from . import binding
from .binding import TableModel

_sent = threading.local()
CAPTURE_ID = "paysettle_transact_items"


def _capture(params, **_):
    _sent.items = list(params.get("TransactItems", []))


def _identity(table: str, key: Dict[str, Any]) -> Tuple[str, str]:
    return table, json.dumps(key, sort_keys=True)


class Cancelled(Exception):
    """The transaction was refused whole. `reasons`: (owner, code, old item or None) per item,
    in the order DynamoDB received them; code "None" for an item that was not the cause."""

    def __init__(self, reasons: List[Tuple[Any, str, Optional[dict]]], error: TransactWriteError):
        super().__init__(f"transaction cancelled: {[code for _, code, _ in reasons]}")
        self.reasons = reasons
        self.error = error

    def code(self, owner) -> Optional[str]:
        for candidate, code, _ in self.reasons:
            if candidate is owner:
                return code
        return None

    def condition_failed(self, owner) -> bool:
        return self.code(owner) == TRANSACTION_CONDITION_FAILED

    def old_item(self, owner) -> Optional[dict]:
        for candidate, _, item in self.reasons:
            if candidate is owner:
                return item
        return None

    @property
    def failed_owners(self) -> List[Any]:
        return [owner for owner, code, _ in self.reasons if code == TRANSACTION_CONDITION_FAILED]

    @property
    def conflicted(self) -> bool:
        return any(code == TRANSACTION_CONFLICT for _, code, _ in self.reasons)


@dataclass(frozen=True, eq=False)
class Save:
    """Write `model` whole, under `condition` (`return_values="ALL_OLD"`: a refusal carries
    the stored item)."""
    model: Any
    condition: Any = None
    return_values: Optional[str] = None


@dataclass(frozen=True, eq=False)
class Update:
    """Apply `actions` to the item of `model`'s key, under `condition`."""
    model: Any
    actions: Sequence[Any]
    condition: Any = None
    return_values: Optional[str] = None


@dataclass(frozen=True, eq=False)
class Delete:
    """Delete the item of `model`'s key, under `condition`."""
    model: Any
    condition: Any = None


# One write of a transaction described as a value, so that a service can hand its writes to
# another module's transaction (a marketing subsidy's amounts moving with its return's record).
# Compared by identity: a write is its own owner unless given another.
Write = Union[Save, Update, Delete]


class Transaction:
    """Collects writes of models bound to one endpoint; `commit()` sends them as one
    TransactWriteItems (with `client_request_token`, if given) or raises `Cancelled`."""

    def __init__(self, via: Type[TableModel], client_request_token: Optional[str] = None):
        connection = via._get_connection().connection
        client = connection.client
        if not getattr(client, CAPTURE_ID, False):       # once per client (idempotent if raced)
            client.meta.events.register(
                "before-parameter-build.dynamodb.TransactWriteItems", _capture, unique_id=CAPTURE_ID)
            setattr(client, CAPTURE_ID, True)
        self._connection = connection
        self._token = client_request_token
        self._operations: List = []          # each adds itself to the TransactWrite at commit
        # (model class, its key as a function, owner) per write. Keys are serialized only when
        # a refusal must be mapped: a committed transaction never needs them. (Two writes of
        # one item are refused by DynamoDB itself, with a ValidationException.)
        self._writes: List[Tuple[Type[TableModel], Callable[[], Dict[str, Any]], Any]] = []

    def _register(self, model_cls: Type[TableModel], key_of: Callable[[], Dict[str, Any]], owner) -> None:
        self._writes.append((model_cls, key_of, owner))

    @staticmethod
    def _key_of(model) -> Dict[str, Any]:
        names = [n for n in (model._hash_keyname, model._range_keyname) if n]
        attributes = model.get_attributes()
        return {attributes[n].attr_name: {attributes[n].attr_type: attributes[n].serialize(getattr(model, n))}
                for n in names}

    def condition_check(self, model_cls, hash_key, range_key=None, condition=None, owner: Hashable = None):
        def key_of():
            probe = model_cls(hash_key, range_key) if range_key is not None else model_cls(hash_key)
            return self._key_of(probe)
        self._register(model_cls, key_of, owner)
        self._operations.append(
            lambda w: w.condition_check(model_cls, hash_key, range_key, condition=condition))

    def save(self, model, condition=None, owner=None, return_values: Optional[str] = None) -> None:
        self._register(type(model), lambda: self._key_of(model), owner)
        self._operations.append(lambda w: w.save(model, condition=condition, return_values=return_values))

    def update(self, model, actions, condition=None, owner=None, return_values: Optional[str] = None) -> None:
        self._register(type(model), lambda: self._key_of(model), owner)
        self._operations.append(lambda w: w.update(model, actions, condition=condition,
                                                   return_values=return_values))

    def delete(self, model, condition=None, owner=None) -> None:
        self._register(type(model), lambda: self._key_of(model), owner)
        self._operations.append(lambda w: w.delete(model, condition=condition))

    def add(self, write: Write, owner=None) -> None:
        """Add a described `write`; its refusal is reported under `owner` (the write itself
        when none is given)."""
        owner = write if owner is None else owner
        if isinstance(write, Save):
            self.save(write.model, write.condition, owner, write.return_values)
        elif isinstance(write, Update):
            self.update(write.model, list(write.actions), write.condition, owner, write.return_values)
        elif isinstance(write, Delete):
            self.delete(write.model, write.condition, owner)
        else:
            raise TypeError(f"not a transaction write: {write!r}")

    def commit(self) -> None:
        _sent.items = []
        try:
            with binding.pinned(), TransactWrite(connection=self._connection,
                                                 client_request_token=self._token) as write:
                for operation in self._operations:
                    operation(write)
        except TransactWriteError as error:
            if error.cause_response_code != "TransactionCanceledException":
                raise
            raise Cancelled(self._map(error), error) from None

    def _map(self, error: TransactWriteError) -> List[Tuple[Any, str, Optional[dict]]]:
        sent = getattr(_sent, "items", [])
        reasons = list(error.cancellation_reasons)
        owners: Dict[Tuple[str, str], Any] = {}
        key_names: Dict[str, Tuple[str, ...]] = {}
        for model_cls, key_of, owner in self._writes:
            table, key = model_cls._get_connection().table_name, key_of()
            key_names[table] = tuple(key)
            owners[_identity(table, key)] = owner
        mapped = []
        for position, item in enumerate(sent):
            operation = next(iter(item.values()))
            table = operation["TableName"]
            key = operation.get("Key") or {n: operation["Item"][n] for n in key_names[table]}
            reason = reasons[position] if position < len(reasons) else None
            mapped.append((owners.get(_identity(table, key)),
                           reason.code if reason is not None else "None",
                           reason.raw_item if reason is not None else None))
        return mapped
