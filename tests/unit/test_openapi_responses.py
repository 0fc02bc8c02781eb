"""Real answers of every route conform to the document: documented status, media type and schema.

Each scenario drives the app through `chalice.test.Client` (moto in-process) and checks the
response against the operation's entry in /openapi.json, the way schemathesis will.
"""
import json
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

import app as paysettle
from chalicelib import docs_site, openapi
from chalicelib.payments import aggregator
from chalicelib.recon.store import BatchStore
from tests.unit.support import TENANT, pay_body, withdraw_body

DOC = openapi.document()


def schema_of(route: str, method: str, status: int, media: str = "application/json") -> dict:
    operation = DOC["paths"][route][method.lower()]
    assert str(status) in operation["responses"], f"{method} {route}: {status} is not documented"
    content = operation["responses"][str(status)]["content"]
    assert media in content, f"{method} {route} {status}: {media} is not documented"
    return content[media]["schema"]


def conforms(route: str, method: str, response) -> dict:
    """Assert `response` is documented for the route; return its JSON body (or {})."""
    # A response without Content-Type (chalice's own 415) goes out as application/json:
    # `chalice local` and API Gateway both default it so.
    media = response.headers.get("Content-Type", "application/json").split(";")[0].strip()
    schema = schema_of(route, method, response.status_code, media)
    if media != "application/json":
        return {}
    body = json.loads(response.body)
    Draft202012Validator({**schema, "components": DOC["components"]}).validate(body)
    return body


def test_the_check_catches_a_body_that_breaks_the_schema():
    schema = schema_of("/pay", "POST", 200)
    lying = {"response_time": "2019-08-29 17:15:25", "request_id": "20190829171520123456",
             "response_id": "20190829171525654321", "saler_id": "saler2", "total_fee": 100,
             "response_code": "SUCCESS", "response_msg": "OK"}
    with pytest.raises(ValidationError):
        Draft202012Validator({**schema, "components": DOC["components"]}).validate(lying)


def test_pay_and_withdraw_answers_and_their_orders(stack, api):
    paid = pay_body(saler_id="docs1", total_fee="500")
    answer = conforms("/pay", "POST", api.post("/pay", paid))
    assert answer["response_code"] == "SUCCESS"
    conforms("/pay", "POST", api.post("/pay", paid))                      # a replay
    conforms("/orders/pay/{request_id}", "GET", api.get(f"/orders/pay/{paid['request_id']}"))

    short = withdraw_body(saler_id="docs1", withdraw_money="10000")
    assert conforms("/withdraw", "POST", api.post("/withdraw", short))["response_code"] == "FAIL"
    aggregator.run(stack.context())
    taken = withdraw_body(saler_id="docs1", withdraw_money=200)
    assert conforms("/withdraw", "POST", api.post("/withdraw", taken))["response_code"] == "SUCCESS"
    conforms("/orders/withdraw/{request_id}", "GET",
             api.get(f"/orders/withdraw/{taken['request_id']}"))

    account = conforms("/accounts/{saler_id}", "GET", api.get("/accounts/docs1"))
    assert account["balance"] == 300
    page = conforms("/accounts/{saler_id}/journal", "GET", api.get("/accounts/docs1/journal?limit=1"))
    assert page["next_cursor"] and len(page["entries"]) == 1
    rest = conforms("/accounts/{saler_id}/journal", "GET", api.get(
        f"/accounts/docs1/journal?limit=100&cursor={page['next_cursor']}"))
    assert rest["next_cursor"] is None and rest["entries"][0]["amount"] == -200


@pytest.mark.parametrize("route, method, path, raw, status", [
    ("/pay", "POST", "/pay", b"", 400),
    ("/pay", "POST", "/pay", b"[1]", 400),
    ("/pay", "POST", "/pay", b"{" + b" " * 5000 + b"}", 400),
    ("/pay", "POST", "/pay", json.dumps(pay_body(total_fee="0")).encode(), 400),
    ("/withdraw", "POST", "/withdraw", b'{"saler_id": "a", "saler_id": "b"}', 400),
    ("/orders/pay/{request_id}", "GET", "/orders/pay/123", None, 400),
    ("/orders/pay/{request_id}", "GET", "/orders/pay/20190829171520999999", None, 404),
    ("/orders/withdraw/{request_id}", "GET", "/orders/withdraw/20190829171520999999", None, 404),
    ("/accounts/{saler_id}", "GET", "/accounts/nobody", None, 404),
    ("/accounts/{saler_id}", "GET", "/accounts/" + quote("a b"), None, 400),
    ("/accounts/{saler_id}/journal", "GET", "/accounts/nobody/journal", None, 200),
    ("/accounts/{saler_id}/journal", "GET", "/accounts/nobody/journal?limit=0", None, 400),
    ("/accounts/{saler_id}/journal", "GET", "/accounts/nobody/journal?cursor=x", None, 400),
    ("/recon/{batch}", "GET", "/recon/never-seen", None, 404),
    ("/recon/{batch}", "GET", "/recon/-bad", None, 400),
])
def test_refusals_and_empty_answers(stack, api, route, method, path, raw, status):
    response = api.get(path) if raw is None else api.post_raw(path, raw)
    assert response.status_code == status, response.body
    body = conforms(route, method, response)
    if status == 400:
        assert body["field"]


def test_reentry_with_other_parameters_is_a_documented_409(stack, api):
    first = pay_body(saler_id="docs2", total_fee=1)
    api.post("/pay", first)
    response = api.post("/pay", dict(first, total_fee=2))
    assert response.status_code == 409
    conforms("/pay", "POST", response)


def test_a_body_that_is_not_json_by_content_type_is_a_documented_415(api):
    response = api.post_raw("/pay", b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    conforms("/pay", "POST", response)


def test_busy_and_internal_failures_are_documented(stack, api, monkeypatch):
    from tests.support.model_faults import refused_on_models

    busy = stack.context()
    monkeypatch.setattr(paysettle, "from_environment", lambda tenant: busy)
    # Pay's transaction goes through the order model's own client: throttled there.
    with refused_on_models("TransactWriteItems", "ThrottlingException"):
        assert api.post("/pay", pay_body()).status_code == 503
        conforms("/pay", "POST", api.post("/pay", pay_body()))

    def broken(tenant):
        raise RuntimeError("boom")
    monkeypatch.setattr(paysettle, "from_environment", broken)
    response = api.post("/withdraw", withdraw_body())
    assert response.status_code == 500
    conforms("/withdraw", "POST", response)


def test_recon_batch_views_conform(stack, api, monkeypatch):
    store = BatchStore()
    store.mark_pending(f"{TENANT}/docs-pending", "payment", "2019-08-29T16:00:01.000000Z")
    pending = conforms("/recon/{batch}", "GET", api.get("/recon/docs-pending"))
    assert pending["status"] == "PENDING"

    claim = store.claim(f"{TENANT}/docs-done", "fp", "run-1", "2019-08-29T16:00:02.000000Z", 1, 900)
    assert claim.outcome == "CLAIMED"
    store.finish(f"{TENANT}/docs-done", "run-1", "DONE", "2019-08-29T16:00:03.000000Z",
                 f"results/{TENANT}/docs-done/runs/run-1/",
                 summary={"balanced": True, "discrepancies": 0})
    done = conforms("/recon/{batch}", "GET", api.get("/recon/docs-done"))
    assert done["status"] == "DONE" and done["summary"]["balanced"] is True


def test_the_document_and_the_docs_routes_conform(api, tmp_path, monkeypatch):
    conforms("/openapi.json", "GET", api.get("/openapi.json"))
    monkeypatch.delenv("SWAGGER_UI_DIR", raising=False)
    conforms("/docs", "GET", api.get("/docs"))
    conforms("/docs/{asset}", "GET", api.get("/docs/swagger-ui.css"))
    for name in docs_site.ASSETS:
        (tmp_path / name).write_text("/* */")
    monkeypatch.setenv("SWAGGER_UI_DIR", str(tmp_path))
    assert api.get("/docs").status_code == 200
    conforms("/docs", "GET", api.get("/docs"))
    for name in docs_site.ASSETS:
        conforms("/docs/{asset}", "GET", api.get(f"/docs/{name}"))
    conforms("/docs/{asset}", "GET", api.get("/docs/index.html"))
