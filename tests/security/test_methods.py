"""Methods the API does not have are refused the way the other refusals are: a 4xx JSON answer.

chalice local only routes GET, PUT, POST, HEAD, DELETE, PATCH and OPTIONS into the app; any
other method used to get http.server's 501 HTML page (a server error; API Gateway refuses such
a method with a 4xx JSON answer). infra/local_stack.py routes every method into the app."""
import pytest
import requests

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "CONNECT", "PROPFIND", "FOO"])
def test_an_unknown_method_on_a_route_is_405_json_with_allow(stack, method):
    answer = requests.request(method, f"{stack.api}/pay", data=b"{}", timeout=30)
    assert answer.status_code == 405, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["Code"] == "MethodNotAllowedError"
    assert answer.headers["Allow"] == "POST"


def test_an_unknown_method_on_an_unknown_path_is_403_json(stack):
    answer = requests.request("TRACE", f"{stack.api}/no/such/route", timeout=30)
    assert answer.status_code == 403, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert "message" in answer.json()
