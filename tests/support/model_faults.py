"""`FaultPlan` (tests/support/faults.py) over a PynamoDB model's client, through botocore's events.

PynamoDB makes its own botocore client, so `FaultyClient`'s proxy cannot wrap it; botocore's
event hooks reach it instead: `before-call` takes the plan's next call number (and may die before
the request is sent), `after-call` / `after-call-error` may die once the call took effect. The
plan is the same object the boto3 proxies use, so calls of both count together, in order.
"""
from contextlib import contextmanager

from tests.support.faults import FaultPlan

_NUMBER = "fault_plan_call_number"


@contextmanager
def faults_on(client, plan: FaultPlan):
    """Route every call of the botocore `client` through `plan` inside the block."""
    service = client.meta.service_model.service_name

    def before(model, context, **_):
        # No injected error codes here: a refused call would need a parsed error to raise.
        context[_NUMBER] = plan._begin(service, model.name)

    def after(model, context, **_):
        if _NUMBER in context:
            plan._end(context.pop(_NUMBER), service, model.name)

    events = client.meta.events
    handlers = (("before-call.dynamodb.*", before), ("after-call.dynamodb.*", after),
                ("after-call-error.dynamodb.*", after))
    for event, handler in handlers:
        events.register(event, handler, unique_id=f"fault-plan-{id(plan)}-{event}")
    try:
        yield plan
    finally:
        for event, handler in handlers:
            events.unregister(event, handler, unique_id=f"fault-plan-{id(plan)}-{event}")
