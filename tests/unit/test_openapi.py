"""The OpenAPI document: valid, complete, built from the handlers' own models; /docs served safely."""
import json
from types import SimpleNamespace
from typing import Annotated

import pytest
from openapi_spec_validator import validate
from pydantic import Field

import app as paysettle
from chalicelib import docs_site, openapi
from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.payments import api_docs
from chalicelib.payments.messages import PayRequest, WithdrawRequest, parse
from tests.unit.support import body_of

DOC = openapi.document()


def documented_routes(document):
    return {(path, method.upper()) for path, item in document["paths"].items() for method in item}


def test_the_document_is_valid_openapi_3_1():
    validate(DOC)
    assert DOC["openapi"].startswith("3.1")


def test_every_route_of_the_app_is_documented_and_nothing_else():
    routes = {(path, method) for path, methods in paysettle.app.routes.items() for method in methods}
    assert documented_routes(DOC) == routes


def test_operation_ids_are_unique():
    ids = [op["operationId"] for item in DOC["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path, model", [("/pay", PayRequest), ("/withdraw", WithdrawRequest)])
def test_request_bodies_are_the_models_the_handlers_validate_with(path, model):
    ref = DOC["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    assert DOC["components"]["schemas"][name] == model.model_json_schema(ref_template=openapi.REF)


def test_a_change_of_a_field_rule_shows_up_in_the_document():
    class NarrowPay(PayRequest):
        saler_id: Annotated[str, Field(max_length=8)]

    pay = next(op for op in api_docs.OPERATIONS if op.operation_id == "pay")
    changed = openapi.build([pay.__class__(**{**pay.__dict__, "request": NarrowPay})])
    validate(changed)
    assert changed["components"]["schemas"]["NarrowPay"]["properties"]["saler_id"]["maxLength"] == 8
    assert "maxLength" not in DOC["components"]["schemas"]["PayRequest"]["properties"]["saler_id"]


def test_amounts_are_documented_as_integers_or_digit_strings_within_the_limit():
    amount = DOC["components"]["schemas"]["PayRequest"]["properties"]["total_fee"]
    kinds = {option["type"]: option for option in amount["anyOf"]}
    assert kinds["integer"]["minimum"] == 1 and kinds["integer"]["maximum"] == 10_000_000_000
    assert "pattern" in kinds["string"]
    assert DOC["components"]["schemas"]["PayRequest"]["additionalProperties"] is False


def request_examples():
    for op in openapi.operations():
        for name, example in op.request_examples.items():
            value = example[1] if isinstance(example, tuple) else example
            yield pytest.param(op.request, value, id=f"{op.operation_id} {name}")


@pytest.mark.parametrize("model, example", list(request_examples()))
def test_the_request_examples_are_accepted_by_the_handlers_parser(model, example):
    parse(model, json.dumps(example).encode())


def test_the_request_examples_are_in_the_document():
    pay = DOC["paths"]["/pay"]["post"]["requestBody"]["content"]["application/json"]
    assert pay["examples"]["contract"]["value"] == api_docs.EXAMPLE_PAY


def test_refusals_list_exactly_the_codes_of_their_status():
    pay = DOC["paths"]["/pay"]["post"]["responses"]
    narrowed = pay["400"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]
    assert narrowed["error_code"]["enum"] == [1001, 1002, 1003]
    assert pay["409"]["content"]["application/json"]["schema"]["allOf"][1]["properties"][
        "error_code"]["enum"] == [ErrorCode.REENTRY_MISMATCH.number]
    assert {"200", "400", "401", "403", "409", "415", "500", "503"} == set(pay)


def test_every_refusal_of_the_error_table_is_documented_on_some_route():
    """One error table for both apps: each code is documented by the center or the merchant
    system (its own document)."""
    from merchantlib.api_docs import DOCUMENT_INFO, DOCUMENT_MODULES, DOCUMENT_TAGS

    merchant = openapi.document(modules=DOCUMENT_MODULES, info=DOCUMENT_INFO, tags=DOCUMENT_TAGS)
    documented = set()
    for item in [*DOC["paths"].values(), *merchant["paths"].values()]:
        for op in item.values():
            for status, answer in op["responses"].items():
                schema = answer["content"].get("application/json", {}).get("schema", {})
                for part in schema.get("allOf", []):
                    # `error_code` in the pay/withdraw contract body, `code` in the {"code", "message", "data"} one
                    properties = part.get("properties", {})
                    for key in ("error_code", "code"):
                        for number in properties.get(key, {}).get("enum", []):
                            documented.add((number, int(status)))
    assert documented == {(c.number, c.http_status) for c in ErrorCode if c.http_status >= 400}


def test_a_route_whose_path_parameter_is_undeclared_is_refused():
    pay = next(op for op in api_docs.OPERATIONS if op.operation_id == "getPayOrder")
    broken = pay.__class__(**{**pay.__dict__, "params": ()})
    with pytest.raises(ValueError, match="path parameters"):
        openapi.build([broken])


# -- servers: the stage prefix ----------------------------------------------------------------

def test_the_served_document_has_the_local_server(api):
    response = api.get("/openapi.json")
    assert response.status_code == 200
    assert body_of(response)["servers"] == [{"url": "/"}]
    assert body_of(response)["paths"] == DOC["paths"]


@pytest.mark.parametrize("context_path, route, prefix", [
    ("/openapi.json", "/openapi.json", ""),                 # chalice local
    ("/api/openapi.json", "/openapi.json", "/api"),         # API Gateway, stage "api"
    ("/payments/v1/docs", "/docs", "/payments/v1"),         # a custom domain's base path
])
def test_the_mount_prefix_comes_from_the_request_context(context_path, route, prefix):
    request = SimpleNamespace(context={"path": context_path, "stage": "api"})
    assert openapi.mount_prefix(request, route) == prefix


# -- /docs and its files ------------------------------------------------------------------------

@pytest.fixture
def swagger_dir(tmp_path, monkeypatch):
    """A stand-in for swagger-ui-dist: the served files, plus one that must never be served."""
    for name in docs_site.ASSETS:
        (tmp_path / name).write_text(f"/* {name} */", encoding="utf-8")
    (tmp_path / "index.html").write_text("not served", encoding="utf-8")
    (tmp_path.parent / "secret.txt").write_text("SECRET", encoding="utf-8")
    monkeypatch.setenv("SWAGGER_UI_DIR", str(tmp_path))
    return tmp_path


def test_docs_are_a_clear_404_where_swagger_ui_is_not_configured(api, monkeypatch):
    monkeypatch.delenv("SWAGGER_UI_DIR", raising=False)
    for path in ("/docs", "/docs/swagger-ui.css"):
        response = api.get(path)
        assert response.status_code == 404
        assert body_of(response)["error_name"] == "DOCS_NOT_SERVED"
        assert "local stack" in body_of(response)["response_msg"]


def test_the_docs_page_loads_swagger_ui_and_the_document_from_this_api(api, swagger_dir):
    response = api.get("/docs")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.body.decode()
    assert 'src="/docs/swagger-ui-bundle.js"' in page
    assert 'href="/docs/swagger-ui.css"' in page
    assert 'url: "/openapi.json"' in page
    assert "://" not in page  # no CDN, no absolute URL


def test_the_docs_page_behind_a_stage_prefix_points_into_the_stage(swagger_dir):
    page = docs_site.page("/api").body
    assert 'src="/api/docs/swagger-ui-bundle.js"' in page and 'url: "/api/openapi.json"' in page


def test_a_hostile_prefix_cannot_break_out_of_the_page(swagger_dir):
    page = docs_site.page('/"></script><script>alert(1)</script>').body
    assert "<script>alert(1)" not in page


@pytest.mark.parametrize("name, content_type", [
    ("swagger-ui.css", "text/css; charset=utf-8"),
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
])
def test_swagger_ui_files_are_served_with_their_content_type(api, swagger_dir, name, content_type):
    response = api.get(f"/docs/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.body.decode() == f"/* {name} */"


@pytest.mark.parametrize("name", ["index.html", "../secret.txt", "..%2Fsecret.txt", "%2e%2e%2fsecret.txt",
                                  "..", ".", "swagger-ui.css/../../secret.txt", "/etc/passwd",
                                  "swagger-ui.css%00", "SWAGGER-UI.CSS"])
def test_nothing_but_the_listed_files_can_be_read(api, swagger_dir, name):
    with pytest.raises(PaySettleError) as refused:
        docs_site.asset(name)
    assert refused.value.code is ErrorCode.DOCS_ASSET_NOT_FOUND
    response = api.get(f"/docs/{name}")
    assert response.status_code in (403, 404)
    assert b"SECRET" not in response.body and b"not served" not in response.body
