"""The attributes every reentry record shares, whatever table holds it (see record.py).

A table's module (chalicelib/subsidies/models.py, chalicelib/sharing/models.py) declares its
record types as subclasses, adding the domain's own attributes; records in the sweeper's `open`
index carry `open_kind` and `retry_at`.
"""
from pynamodb.attributes import MapAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from ..data.attributes import WholeNumberAttribute
from ..dynamo import from_item, values
from ..data.binding import TableModel

OPEN_INDEX = "open"          # sparse GSI: hash open_kind (present while open), range retry_at


class OpenIndex(GlobalSecondaryIndex):
    """Sparse: records in an open state (RECEIVED, IN_FLIGHT, UNKNOWN), by when to look again."""

    class Meta:
        index_name = OPEN_INDEX
        projection = AllProjection()

    open_kind = UnicodeAttribute(hash_key=True)
    retry_at = UnicodeAttribute(range_key=True)


class ReentryRecordModel(TableModel):
    """Not bound to a table itself: its subclasses are."""

    class Meta:
        table_setting = ""
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    tenant = UnicodeAttribute(null=True)         # the caller's tenant, when the record has one
    reentry_key = UnicodeAttribute()
    fingerprint = UnicodeAttribute()
    outbound_no = UnicodeAttribute()
    state = UnicodeAttribute()
    version = WholeNumberAttribute()
    lease_until = WholeNumberAttribute(default=0)     # epoch ms
    sends = WholeNumberAttribute(default=0)
    sweeps = WholeNumberAttribute(default=0)
    request = MapAttribute()
    result = MapAttribute(null=True)
    failure = MapAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    not_before = WholeNumberAttribute(null=True)      # epoch ms; absent: at once
    open_kind = UnicodeAttribute(null=True)
    retry_at = UnicodeAttribute(null=True)

    open = OpenIndex()


class OutboundGuardModel(TableModel):
    """`OUTBOUND#<outbound_no>`: an outbound number is given to one record only."""

    class Meta:
        table_setting = ""
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    record = UnicodeAttribute()
    tenant = UnicodeAttribute(null=True)      # the record's tenant, when it has one

    @classmethod
    def key(cls, outbound_no: str) -> str:
        return f"OUTBOUND#{outbound_no}"


def outbound_guard_of(record_model) -> type:
    """The `OUTBOUND#<no>` guard type declared for the table of `record_model` (the guard and
    the record are written in one transaction, so they share the table)."""
    setting = record_model.Meta.table_setting
    found = [guard for guard in OutboundGuardModel.__subclasses__()
             if guard.Meta.table_setting == setting]
    if len(found) != 1:
        raise LookupError(f"{record_model.__name__}: {len(found)} outbound guard types declared "
                          f"for its table ({setting}), not one")
    return found[0]


def plain(model) -> dict:
    """A model read as the plain dict the reentry records and the relations are handled as
    (numbers int, maps and sets as stored): the same shape `dynamo.from_item` gives an item."""
    return from_item(model.serialize(null_check=False))    # as stored, whatever it lacks


def to_value(value) -> dict:
    """`value` as DynamoDB types, exactly as the low-level writes stored it (None as NULL, inside
    maps too), for an update action on a map whose keys the model does not declare (a receiver's
    result, a return's settlement)."""
    return values(value=value)[":value"]
