"""The merchant system serves its own OpenAPI document: its routes only, valid OpenAPI 3.1."""
from openapi_spec_validator import validate

from merchant_system.app import app as merchant_app
from tests.unit.support import body_of


def test_the_merchant_document_is_valid_and_documents_exactly_its_routes(api):
    response = api.get("/openapi.json", signed=False)
    assert response.status_code == 200
    document = body_of(response)
    validate(document)
    assert document["info"]["title"] == "PaySettle merchant system API"
    documented = {(path, method.upper()) for path, item in document["paths"].items()
                  for method in item}
    routes = {(path, method) for path, entries in merchant_app.routes.items() for method in entries}
    assert documented == routes
    # None of the payment center's routes.
    assert not [path for path in document["paths"] if path in ("/pay", "/withdraw", "/subsidies")]
