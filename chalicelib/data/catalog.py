"""Every PynamoDB model, by the template table (infra/resources.json logical id) it lives in,
and the table schema the models of one table imply (what the template must declare)."""
import importlib
from typing import Dict, List, Type

from pynamodb.attributes import TTLAttribute

from .binding import TableModel

# logical id -> (module, model class names). Each module holds one table's item types.
MODELS = {
    "OrdersTable": ("chalicelib.payments.models.orders", ("PaymentOrder", "ResponseGuard")),
    "LedgerTable": ("chalicelib.payments.models.ledger", ("Account", "JournalEntry")),
    "TradesTable": ("chalicelib.payments.models.trades", ("Trade",)),
    "NoncesTable": ("chalicelib.auth.models", ("Nonce",)),
    "ReconBatchesTable": ("chalicelib.recon.models", ("ReconBatch",)),
    "SubsidiesTable": ("chalicelib.subsidies.models", (
        "Subsidy", "SubsidyReturn", "BizReturnGuard", "ChannelTransaction", "SubsidyOutboundGuard")),
    "SharingTable": ("chalicelib.sharing.models", (
        "SharingRecord", "SharingReturn", "RefundRelation", "RefundIdIndex", "UniqueGuard",
        "FollowMarker", "SharingOutboundGuard", "SharingTradeIndex", "SharingUnfreeze")),
}

# The merchant system's own stack (merchant_system/resources.json): its models live in its code.
MERCHANT_MODELS = {
    "MerchantOrdersTable": ("merchantlib.models", ("MerchantOrderItem", "IdempotencyGuard")),
}


def models_by_table(catalog: Dict[str, tuple] = MODELS) -> Dict[str, List[Type[TableModel]]]:
    found = {}
    for table, (module, names) in catalog.items():
        loaded = importlib.import_module(module)
        found[table] = [getattr(loaded, name) for name in names]
    return found


def _keys(key_schema: list) -> list:
    """HASH first, then RANGE (PynamoDB lists an index's keys in attribute-name order)."""
    return sorted(({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in key_schema),
                  key=lambda k: k["KeyType"] != "HASH")


def _projection(projection: dict) -> dict:
    return {"ProjectionType": projection["ProjectionType"]}


def implied_schema(models: List[Type[TableModel]]) -> dict:
    """The table the models need, in the template's own shape (sorted lists): key schema,
    attribute definitions, global and local secondary indexes, TTL attribute. Every model of one
    table must agree on the key schema; an index is declared by every model that writes it."""
    key_schemas, definitions, gsis, lsis, ttl = set(), {}, {}, {}, set()
    for model in models:
        schema = model._get_schema()
        key_schemas.add(tuple((k["AttributeName"], k["KeyType"]) for k in _keys(schema["key_schema"])))
        for definition in schema["attribute_definitions"]:
            definitions[definition["AttributeName"]] = definition["AttributeType"]
        for target, indexes in ((gsis, schema["global_secondary_indexes"]),
                                (lsis, schema["local_secondary_indexes"])):
            for index in indexes:
                shape = {"IndexName": index["index_name"], "KeySchema": _keys(index["key_schema"]),
                         "Projection": _projection(index["projection"])}
                if index["index_name"] in target and target[index["index_name"]] != shape:
                    raise ValueError(f"{model.__name__}: index {index['index_name']} differs between models")
                target[index["index_name"]] = shape
                for definition in index["attribute_definitions"]:
                    definitions[definition["AttributeName"]] = definition["AttributeType"]
        ttl.update(name for name, attribute in model.get_attributes().items()
                   if isinstance(attribute, TTLAttribute))
    if len(key_schemas) != 1:
        raise ValueError(f"models of one table disagree on its key schema: {key_schemas}")
    return {
        "KeySchema": [{"AttributeName": n, "KeyType": t} for n, t in next(iter(key_schemas))],
        "AttributeDefinitions": sorted(({"AttributeName": n, "AttributeType": t}
                                        for n, t in definitions.items()),
                                       key=lambda d: d["AttributeName"]),
        "GlobalSecondaryIndexes": sorted(gsis.values(), key=lambda i: i["IndexName"]),
        "LocalSecondaryIndexes": sorted(lsis.values(), key=lambda i: i["IndexName"]),
        "TimeToLive": sorted(ttl),
    }


def template_schema(properties: dict) -> dict:
    """The same shape, read from a template table's Properties."""
    ttl = properties.get("TimeToLiveSpecification")
    return {
        "KeySchema": _keys(properties["KeySchema"]),
        "AttributeDefinitions": sorted(properties["AttributeDefinitions"],
                                       key=lambda d: d["AttributeName"]),
        "GlobalSecondaryIndexes": sorted(
            ({"IndexName": i["IndexName"], "KeySchema": _keys(i["KeySchema"]),
              "Projection": _projection(i["Projection"])}
             for i in properties.get("GlobalSecondaryIndexes", [])), key=lambda i: i["IndexName"]),
        "LocalSecondaryIndexes": sorted(
            ({"IndexName": i["IndexName"], "KeySchema": _keys(i["KeySchema"]),
              "Projection": _projection(i["Projection"])}
             for i in properties.get("LocalSecondaryIndexes", [])), key=lambda i: i["IndexName"]),
        "TimeToLive": [ttl["AttributeName"]] if ttl and ttl.get("Enabled") else [],
    }
