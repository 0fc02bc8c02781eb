"""The PynamoDB models and infra/resources.json describe the same tables: key schema, attribute
definitions, indexes (keys and projection) and TTL. Either one changed alone fails here."""
import copy
import json

import pytest

from chalicelib.data import catalog
from infra.provision import TEMPLATE

TABLE_TYPE = "AWS::DynamoDB::Table"
MERCHANT_TEMPLATE = TEMPLATE.parent.parent / "merchant_system" / "resources.json"
# Each stack's template and the models of its tables.
STACKS = {"center": (TEMPLATE, catalog.MODELS), "merchant": (MERCHANT_TEMPLATE, catalog.MERCHANT_MODELS)}


def _tables(template=TEMPLATE) -> dict:
    resources = json.loads(template.read_text())["Resources"]
    return {name: r["Properties"] for name, r in resources.items() if r.get("Type") == TABLE_TYPE}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_every_table_of_the_template_has_models_and_every_model_a_table(stack):
    template, models = STACKS[stack]
    assert set(models) == set(_tables(template))
    # At least as many models as tables, each table at least one.
    assert all(found for found in catalog.models_by_table(models).values())


@pytest.mark.parametrize("stack, table", sorted((stack, table) for stack, (_, models) in STACKS.items()
                                                for table in models))
def test_models_declare_exactly_the_table_of_the_template(stack, table):
    template, models = STACKS[stack]
    found = catalog.models_by_table(models)[table]
    assert catalog.implied_schema(found) == catalog.template_schema(_tables(template)[table])


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
    from merchantlib.models import MerchantOrderItem
    from chalicelib.payments.models.orders import PaymentOrder
    with pytest.raises(ValueError, match="key schema"):
        catalog.implied_schema([PaymentOrder, MerchantOrderItem])
