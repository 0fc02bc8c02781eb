"""Binding PynamoDB models to the stage's tables, at first use and never at import.

PynamoDB keeps a model's table name on its `Meta` class and caches one connection per model
class. PaySettle reads its configuration lazily (the stage's environment, which tests and the
local stack set around a call), so a model names the *setting* that holds its table
(`Meta.table_setting`, e.g. "LEDGER_TABLE") and `TableModel._get_connection` resolves it on every
call: when the table name, endpoint or region differs from the cached connection's, the class is
re-bound under a lock. Within one process every thread sees the same stage configuration, so
after the first call nothing is re-bound; tests that switch to a per-test table re-bind once.

`override` points every model (or some tables) elsewhere for the duration of a `with` block: the
DynamoDB Local tests use it to reach their per-test tables on an explicit endpoint.
"""
import os
import threading
from contextlib import contextmanager
from typing import Dict, NamedTuple, Optional

from pynamodb.models import Model

from .. import aws, config

_lock = threading.RLock()
# Replaced whole (never changed in place) under `_lock`, so a reader that takes the reference once
# sees one consistent state without taking the lock: resolving runs on every model call.
_overrides: Dict[str, str] = {}          # setting name -> table name
_endpoint_override: Dict[str, Optional[str]] = {}


class Binding(NamedTuple):
    table: str
    host: Optional[str]
    region: Optional[str]


def _endpoint(endpoint_override: Dict[str, Optional[str]]) -> Optional[str]:
    if "host" in endpoint_override:
        return endpoint_override["host"]
    return os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL") or None


_pinned = threading.local()


@contextmanager
def pinned():
    """Inside the block, this thread resolves each setting once: the writes of one transaction
    go to the tables of one moment, and reading the environment again for each of its items
    was a fifth of a withdraw's own Python time. Nested blocks share the outer one's."""
    if getattr(_pinned, "bindings", None) is not None:
        yield
        return
    _pinned.bindings = {}
    try:
        yield
    finally:
        _pinned.bindings = None


def resolve(setting: str) -> Binding:
    """Where the models of `setting`'s table live now."""
    bindings = getattr(_pinned, "bindings", None)
    if bindings is None:
        return _resolve(setting)
    found = bindings.get(setting)
    if found is None:
        found = bindings[setting] = _resolve(setting)
    return found


def _resolve(setting: str) -> Binding:
    table = _overrides.get(setting)
    if table is None:
        table = config.table_name(setting)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    return Binding(table, _endpoint(_endpoint_override), region)


@contextmanager
def override(tables: Dict[str, str], host: Optional[str] = None):
    """Bind the named settings' models to `tables` (and every model to `host`) inside the block."""
    global _overrides, _endpoint_override
    with _lock:
        saved_tables, saved_endpoint = _overrides, _endpoint_override
        _overrides = {**saved_tables, **tables}
        if host is not None:
            _endpoint_override = {"host": host}
    try:
        yield
    finally:
        with _lock:
            _overrides, _endpoint_override = saved_tables, saved_endpoint


def _make_client(connection) -> None:
    """Make the PynamoDB connection's botocore client from chalicelib.aws's session, not from a
    new session of PynamoDB's own (~30 ms each, and one is made for every model class at every
    re-binding, e.g. each fresh world of the fault-injection tests). Only the client is made
    from it: PynamoDB's per-thread session is cleared again, so a client PynamoDB re-makes later
    (its credentials lost) comes from a session of its own, as before. A connection given its
    own credentials keeps making its own session."""
    if connection._aws_access_key_id is not None:
        connection.client
        return
    with aws.botocore_session() as session:
        connection._local.session = session
        try:
            connection.client
        finally:
            connection._local.session = None


class TableModel(Model):
    """A PynamoDB model whose table is named by a setting, resolved at first use.

    Each concrete model declares its own `class Meta` with `table_setting`; the Meta is the
    class's own (never a parent's), so binding one model never moves another."""

    class Meta:
        table_setting = ""
        table_name = None

    @classmethod
    def binding(cls) -> Binding:
        return resolve(cls.Meta.table_setting)

    @classmethod
    def _get_connection(cls):
        wanted = cls.binding()
        bound = cls.__dict__.get("_bound_connection")
        if bound is not None and bound[0] == wanted:
            return bound[1]
        with _lock:
            bound = cls.__dict__.get("_bound_connection")
            if bound is None or bound[0] != wanted:
                cls.Meta.table_name = wanted.table
                cls.Meta.host = wanted.host
                # Like chalicelib/aws.py's clients: enough pooled connections for the threads
                # of `chalice local` and of the aggregator's callers.
                cls.Meta.max_pool_connections = 64
                if wanted.region:
                    cls.Meta.region = wanted.region
                cls._connection = None
                connection = super()._get_connection()
                # Its botocore client is made now, once, under the lock: made lazily, every
                # thread of a burst that finds none builds a botocore session and a client of
                # its own (PynamoDB's session is per thread), seconds of CPU for one binding.
                _make_client(connection.connection)
                cls._bound_connection = (wanted, connection)
                bound = cls._bound_connection
            return bound[1]

    @classmethod
    def low_level_client(cls):
        """The botocore client this model's requests go through (for event hooks)."""
        return cls._get_connection().connection.client
