"""Three systems, separate deployables: `make package` (infra/package.py) writes the payment
center's package and the merchant system's, each with its own template.

* The center's zip and template hold no merchant-system module, route, table or secret.
* Each zip runs from its own contents: its app imports with nothing from this repository.
* In a deployed stage every route of both apps refuses an unauthenticated caller: the merchant
  system's by API Gateway's IAM authorizer on every route of its packaged template (dev and
  prod), the center's by its own signature check, asked through the packaged template's routes.
"""
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from chalice.test import Client

from infra.local_stack import MERCHANT_PROJECT
from infra.package import MERCHANT
from tests.unit.support import JSON, aws_stack, body_of

ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
SIGV4 = {"in": "header", "type": "apiKey", "name": "Authorization",
         "x-amazon-apigateway-authtype": "awsSigv4"}
MERCHANT_FUNCTIONS = {"APIHandler", "MerchantResolver", "MerchantExport"}


def _template(folder: Path) -> dict:
    return json.loads((folder / "sam.json").read_text())


def _functions(template: dict) -> dict:
    return {name: r for name, r in template["Resources"].items()
            if r.get("Type") == "AWS::Serverless::Function"}


def _routes(template: dict) -> dict:
    """(path, method) -> the operation, from the REST API's definition in the template."""
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    return {(path, method): operation for path, methods in body["paths"].items()
            for method, operation in methods.items()}


def _names(folder: Path) -> list:
    with zipfile.ZipFile(folder / "deployment.zip") as archive:
        return archive.namelist()


# -- the center holds none of the merchant system -------------------------------------------

def test_the_center_zip_holds_no_merchant_system_module(center_package):
    names = _names(center_package)
    assert "app.py" in names and "chalicelib/payments/service.py" in names
    ours = [n for n in names if n == "app.py" or n.startswith("chalicelib/")]
    assert not [n for n in names if n.startswith(("merchantlib/", "merchant_system/"))]
    assert not [n for n in ours if "merchant" in n.lower()], "a merchant module in the center's zip"


def test_the_center_template_holds_no_merchant_route_table_secret_or_setting(center_package):
    template = _template(center_package)
    assert not [path for path, _ in _routes(template) if path.startswith("/merchant")]
    assert not [name for name in template["Resources"] if name.startswith("Merchant")]
    assert "PaymentApiUrl" not in template.get("Parameters", {})
    for name, function in _functions(template).items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert not [v for v in variables if v.startswith("MERCHANT_") or v == "PAYMENT_API_URL"], name
    # Nothing in it names the merchant system's resources.
    text = json.dumps(template)
    for resource in ("MerchantOrdersTable", "MerchantSigningKey", "MerchantResolver", "MerchantExport"):
        assert resource not in text, resource
    # What the merchant system's stack takes from it.
    assert template["Outputs"]["ReconBucketName"]["Value"] == {"Ref": "ReconBucket"}
    assert "EndpointURL" in template["Outputs"]


# -- each zip runs from its own contents ----------------------------------------------------

IMPORT_CHECK = """
import json, sys
root = sys.argv[1]
sys.path.insert(0, root)
import app
ours = {name: getattr(module, "__file__", None) or "" for name, module in sys.modules.items()
        if name.split(".")[0] in ("chalicelib", "merchantlib", "app")}
print(json.dumps({"routes": sorted(app.app.routes), "modules": ours}))
"""


def _imported(folder: Path, where: Path) -> dict:
    with zipfile.ZipFile(folder / "deployment.zip") as archive:
        archive.extractall(where)
    # Nothing of this repository on the path: not its folder, not PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", IMPORT_CHECK, str(where)], cwd=where, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    outside = {name: path for name, path in found["modules"].items()
               if not Path(path).resolve().is_relative_to(where.resolve())}
    assert not outside, f"imported from outside the package: {outside}"
    return found


def test_the_merchant_zip_runs_its_app_from_its_own_contents(merchant_package, tmp_path):
    found = _imported(merchant_package, tmp_path)
    assert found["routes"] == ["/docs", "/docs/{asset}", "/merchant/orders/{request_id}",
                               "/merchant/pay", "/merchant/withdraw", "/openapi.json"]
    assert "merchantlib.service" in found["modules"]
    # Only the shared code it needs: none of the center's money services.
    assert not [m for m in found["modules"] if m.startswith(("chalicelib.payments.service",
                                                             "chalicelib.subsidies",
                                                             "chalicelib.sharing",
                                                             "chalicelib.auth.gate"))]


def test_the_center_zip_runs_its_app_without_the_merchant_system(center_package, tmp_path):
    found = _imported(center_package, tmp_path)
    assert not [r for r in found["routes"] if r.startswith("/merchant")]
    assert not [m for m in found["modules"] if m.startswith("merchantlib")]


def test_shared_code_has_one_source_the_centers_chalicelib():
    """merchant_system/chalicelib holds links to the center's modules, no copies: chalice
    packages a linked file's content (the zips above prove it)."""
    shared = MERCHANT_PROJECT / "chalicelib"
    files = [p for p in shared.rglob("*") if not p.is_dir() and "__pycache__" not in p.parts]
    assert files
    for path in files:
        assert path.is_symlink(), f"{path} is a copy, not a link to the center's module"
        relative = path.relative_to(shared)
        assert path.resolve() == (ROOT / "chalicelib" / relative).resolve(), path


def test_the_merchant_requirements_pin_what_the_center_pins():
    def pins(path: Path) -> dict:
        # `name==version` lines, whether a plain list or a lock with hashes on following lines.
        return dict(re.findall(r"^([A-Za-z0-9_.\[\]-]+)==([^\s\\]+)", path.read_text(), re.M))

    center, merchant = pins(ROOT / "requirements.txt"), pins(MERCHANT_PROJECT / "requirements.txt")
    assert merchant and all(center.get(name) == version for name, version in merchant.items())


# -- the merchant system's template -----------------------------------------------------------

@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_merchant_route_requires_iam_authentication_in_a_deployed_stage(
        stage, packages_dev, packages_prod):
    from merchant_system.app import app as merchant_app

    template = _template({"dev": packages_dev, "prod": packages_prod}[stage][MERCHANT])
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    assert body["securityDefinitions"] == {"sigv4": SIGV4}
    routes = _routes(template)
    declared = {(path, method.lower()) for path, entries in merchant_app.routes.items()
                for method in entries}
    assert set(routes) == declared
    for (path, method), operation in routes.items():
        # API Gateway refuses a request without a valid SigV4 signature before any Lambda runs.
        assert operation.get("security") == [{"sigv4": []}], (stage, method, path)


def test_cfn_lint_accepts_the_merchant_template(merchant_package):
    result = subprocess.run([str(CFN_LINT), str(merchant_package / "sam.json")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_merchant_stack_reaches_the_center_through_parameters(merchant_package):
    template = _template(merchant_package)
    parameters = template["Parameters"]
    assert set(parameters) == {"PaymentApiUrl", "ReconBucketName", "LogRetentionDays"}
    assert "Default" not in parameters["PaymentApiUrl"] and "Default" not in parameters["ReconBucketName"]
    functions = _functions(template)
    assert set(functions) == MERCHANT_FUNCTIONS
    for name in ("APIHandler", "MerchantResolver"):
        variables = functions[name]["Properties"]["Environment"]["Variables"]
        assert variables == {"MERCHANT_ORDERS_TABLE": {"Ref": "MerchantOrdersTable"},
                             "PAYMENT_API_URL": {"Ref": "PaymentApiUrl"},
                             "MERCHANT_SIGNING_SECRET": {"Ref": "MerchantSigningKey"}}, name
    export = functions["MerchantExport"]["Properties"]
    assert export["Environment"]["Variables"]["EXPORT_BUCKET"] == {"Ref": "ReconBucketName"}
    schedules = [e["Properties"]["Schedule"] for e in export["Events"].values() if e["Type"] == "Schedule"]
    assert schedules == ["cron(30 16 * * ? *)"]     # 00:30 China time, like the center's side
    resolver = functions["MerchantResolver"]["Properties"]
    assert [e["Properties"]["Schedule"] for e in resolver["Events"].values()] == ["rate(1 minute)"]


def test_the_merchant_resolver_outlives_its_time_budget(merchant_package):
    from merchantlib.context import RESOLVER_BUDGET_SECONDS

    resolver = _functions(_template(merchant_package))["MerchantResolver"]["Properties"]
    assert resolver["Timeout"] >= RESOLVER_BUDGET_SECONDS + 5


def _statements(template: dict):
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            assert not resource["Properties"].get("ManagedPolicyArns"), name
            for policy in resource["Properties"]["Policies"]:
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield name, statement


def test_merchant_roles_are_its_own_and_narrow(merchant_package):
    template = _template(merchant_package)
    functions = _functions(template)
    roles = {name: f["Properties"]["Role"]["Fn::GetAtt"][0] for name, f in functions.items()}
    assert len(set(roles.values())) == len(roles) == len(MERCHANT_FUNCTIONS)
    secret_readers, uploads = set(), []
    for role, statement in _statements(template):
        actions = statement["Action"]
        assert statement["Effect"] == "Allow" and not [a for a in actions if "*" in a], role
        resource = json.dumps(statement["Resource"])
        if statement["Sid"] == "Logs":
            function = next(f for f, r in roles.items() if r == role)
            assert f"/aws/lambda/${{AWS::StackName}}-{function}-*" in resource, role
        elif "s3:PutObject" in actions:
            uploads.append((role, statement["Resource"]))
        else:
            assert "*" not in resource, (role, resource)
        if "secretsmanager:GetSecretValue" in actions:
            assert statement["Resource"] == {"Ref": "MerchantSigningKey"}, role
            secret_readers.add(role)
    assert secret_readers == {roles["APIHandler"], roles["MerchantResolver"]}
    # The export writes only the merchant side's files into the center's bucket.
    assert uploads == [(roles["MerchantExport"], {"Fn::Sub": "arn:${AWS::Partition}:s3:::"
                                                             "${ReconBucketName}/incoming/*/merchant/*"})]
    table = template["Resources"]["MerchantOrdersTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


# -- the center's routes, unsigned, in a deployed stage -------------------------------------

# Routes a deployed center answers without a signature, and what they answer: nothing of them
# moves or reveals money.
CENTER_UNSIGNED = {
    ("/openapi.json", "get"): 200,          # the API's own description
    ("/docs", "get"): 404,                  # Swagger UI is served by the local stack only
    ("/docs/{asset}", "get"): 404,
}


def test_every_center_route_of_the_packaged_template_refuses_an_unsigned_caller(center_package):
    import app as center

    routes = _routes(_template(center_package))
    assert {(p, m.lower()) for p, e in center.app.routes.items() for m in e} == set(routes)
    with aws_stack("package") as _, \
            Client(center.app, stage_name="dev", project_dir=str(ROOT)) as client:
        for path, method in sorted(routes):
            target = re.sub(r"\{[^}]+\}", "20240301100500000001", path)
            if path == "/docs/{asset}":
                target = "/docs/swagger-ui.css"
            response = client.http.request(method.upper(), target, headers=JSON, body=b"{}")
            if (path, method) in CENTER_UNSIGNED:
                expected = CENTER_UNSIGNED[(path, method)]
                assert expected is None or response.status_code == expected, (method, path)
                continue
            answer = body_of(response)
            code = answer.get("error_code", answer.get("code"))
            assert (response.status_code, code) == (401, 4011), (method, path, response.body)
