"""A Lambda's context makes no DynamoDB client: every DynamoDB request goes through the PynamoDB
models, which make their own client when first used. A botocore client costs a tenth of a second
or more to make, on every cold start that builds a context."""
import botocore.session
import pytest

from chalicelib import aws
from chalicelib.payments import context as payments
from chalicelib.payments.trades import context as trades
from chalicelib.sharing import context as sharing
from chalicelib.subsidies import context as subsidies
from tests.unit.support import TENANT, aws_stack

CONTEXTS = {
    "payments": lambda: payments.from_environment(TENANT),
    "trades": lambda: trades.from_environment(TENANT),
    "subsidies": subsidies.from_environment,
    "sharing": sharing.from_environment,
}


@pytest.mark.parametrize("build", CONTEXTS.values(), ids=CONTEXTS.keys())
def test_building_a_context_from_the_environment_makes_no_dynamodb_client(build, monkeypatch):
    with aws_stack("contexts") as stack:
        monkeypatch.setenv("CHANNEL_URL", "http://127.0.0.1:9")     # never called here
        made = []
        real = botocore.session.Session.create_client

        def create_client(session, service_name, *args, **kwargs):
            made.append(service_name)
            return real(session, service_name, *args, **kwargs)

        aws.reset()                 # every client the context asks for is made now
        monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
        ctx = build()
        monkeypatch.undo()
        assert "dynamodb" not in made, made
        assert not hasattr(ctx, "dynamodb")
        if isinstance(ctx, payments.Payments):
            # The one client it still carries, for the credit queue.
            assert made == ["sqs"] and ctx.credit_queue_url == stack.credit_queue_url
