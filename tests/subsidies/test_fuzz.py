"""Hostile bodies on the subsidy routes: never a 5xx, a 400 names a field and writes nothing."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.subsidies.support import create_body, return_body

FIELDS = list(create_body("1"))
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10, 10 ** 12), st.floats(allow_nan=False),
                   st.text(max_size=40), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_bodies_never_5xx_and_refusals_write_nothing(api, stack, table, paid, data):
    route = data.draw(st.sampled_from(["/subsidies", "/subsidies/returns",
                                       "/channel/notifications/transactions"]))
    body = create_body(paid["paymentOrderId"]) if route == "/subsidies" else return_body({
        "bizOrderId": "b", "paymentOrderId": paid["paymentOrderId"], "bizRelOrderId": "r",
        "bizSubsidiesId": "1", "paymentSubsidiesId": "2"})
    for _ in range(data.draw(st.integers(1, 3))):
        field = data.draw(st.sampled_from(FIELDS + ["extra"]))
        if data.draw(st.booleans()):
            body.pop(field, None)
        else:
            body[field] = data.draw(VALUES)
    before = stack.count(table)
    response = api.post_raw(route, json.dumps(body).encode())
    answer = json.loads(response.body)
    assert response.status_code < 500, answer
    if response.status_code == 400:
        assert answer["code"] in (1001, 1002) and (answer["field"] or answer["code"] == 1002)
        assert stack.count(table) == before
