"""The PynamoDB models and infra/resources.json describe the same tables: key schema, attribute
definitions, indexes (keys and projection) and TTL. Either one changed alone fails here."""
import copy
import json

import pytest

from chalicelib.data import catalog
from infra.provision import TEMPLATE

TABLE_TYPE = "AWS::DynamoDB::Table"


def _tables() -> dict:
    resources = json.loads(TEMPLATE.read_text())["Resources"]
    return {name: r["Properties"] for name, r in resources.items() if r.get("Type") == TABLE_TYPE}


def test_every_table_of_the_template_has_models_and_every_model_a_table():
    assert set(catalog.MODELS) == set(_tables())
    # At least as many models as tables, each table at least one.
    assert all(models for models in catalog.models_by_table().values())


@pytest.mark.parametrize("table", sorted(catalog.MODELS))
def test_models_declare_exactly_the_table_of_the_template(table):
    models = catalog.models_by_table()[table]
    assert catalog.implied_schema(models) == catalog.template_schema(_tables()[table])


@pytest.mark.parametrize("change", ["index projection", "attribute type", "ttl", "extra index"])
def test_a_drifted_template_is_noticed(change):
    properties = copy.deepcopy(_tables()["OrdersTable"])
    if change == "index projection":
        properties["GlobalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "KEYS_ONLY"}
    elif change == "attribute type":
        properties["AttributeDefinitions"][0]["AttributeType"] = "N"
    elif change == "ttl":
        properties["TimeToLiveSpecification"] = {"AttributeName": "expires_at", "Enabled": True}
    else:
        properties["GlobalSecondaryIndexes"].append(
            {"IndexName": "by_saler", "KeySchema": [{"AttributeName": "saler_id", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}})
    models = catalog.models_by_table()["OrdersTable"]
    assert catalog.implied_schema(models) != catalog.template_schema(properties)


def test_models_of_one_table_must_agree_on_its_key():
    from chalicelib.merchant.models import MerchantOrderItem
    from chalicelib.payments.models.orders import PaymentOrder
    with pytest.raises(ValueError, match="key schema"):
        catalog.implied_schema([PaymentOrder, MerchantOrderItem])
