"""The platform the functions run on: their runtime, what each package holds and weighs, the
reconciliation function's DuckDB layer, log retention, the locked installs, and `make deploy`."""
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools import recon_layer

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
API_ZIP_LIMIT = 25 * 2**20
# Amazon Linux 2023, which the python3.12+ Lambda runtimes run on, has glibc 2.34.
RUNTIME_GLIBC = (2, 34)


@pytest.fixture(scope="module")
def package(center_package):
    """`make package`'s payment center: chalice's template and zip."""
    return center_package


@pytest.fixture(scope="module")
def recon_layer_zip(tmp_path_factory):
    """`make package`'s reconciliation layer (written beside the center's sam.json)."""
    layer = tmp_path_factory.mktemp("recon-layer") / "recon-layer.zip"
    recon_layer.build(layer)
    return layer


@pytest.fixture(scope="module", params=["center", "merchant"])
def any_package(request, center_package, merchant_package):
    """Each deployable's package: the payment center, then the merchant system."""
    return center_package if request.param == "center" else merchant_package


def _template(package):
    return json.loads((package / "sam.json").read_text())


def _functions(template):
    return {name: r["Properties"] for name, r in template["Resources"].items()
            if r["Type"] == "AWS::Serverless::Function"}


def test_the_tests_run_on_the_python_the_functions_run_on(package):
    assert sys.version_info[:2] == (3, 13)
    runtimes = {name: f["Runtime"] for name, f in _functions(_template(package)).items()}
    assert len(runtimes) == 10 and set(runtimes.values()) == {RUNTIME}, runtimes


def test_the_function_package_is_small_and_holds_no_duckdb(package):
    deployment = package / "deployment.zip"
    assert deployment.stat().st_size <= API_ZIP_LIMIT, f"{deployment.stat().st_size / 2**20:.1f} MB"
    names = zipfile.ZipFile(deployment).namelist()
    assert not [n for n in names if n.split("/")[0].lower().startswith(("duckdb", "_duckdb"))]
    # What it does hold: the app, its code and its run-time libraries.
    for needed in ("app.py", "chalicelib/logs.py", "aws_lambda_powertools/__init__.py",
                   "pydantic_core/__init__.py", "boto3/__init__.py"):
        assert needed in names, needed


def _pinned(requirements: Path, package_name: str) -> str:
    [version] = re.findall(rf"^{package_name}==([^ \\\n]+)", requirements.read_text(), re.M)
    return version


def test_the_recon_layer_holds_the_pinned_duckdb_built_for_the_runtime(recon_layer_zip):
    layer = zipfile.ZipFile(recon_layer_zip)
    names = layer.namelist()
    version = _pinned(ROOT / "requirements-recon.txt", "duckdb")
    assert "python/duckdb/__init__.py" in names
    [extension] = [n for n in names if re.fullmatch(r"python/_duckdb\..*so", n)]
    # A stable-ABI (abi3) or this runtime's own (cp313) extension for Linux x86_64.
    assert re.search(r"\.(abi3|cpython-313-x86_64-linux-gnu)\.so$", extension), extension
    wheel = layer.read(f"python/duckdb-{version}.dist-info/WHEEL").decode()
    tags = re.findall(r"^Tag: (\S+)$", wheel, re.M)
    assert tags
    for tag in tags:
        python, abi, platform = tag.split("-")
        glibc = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", platform)
        assert glibc and tuple(map(int, glibc.groups())) <= RUNTIME_GLIBC, tag
        assert abi in ("abi3", "cp313"), tag


def test_only_the_reconciliation_function_gets_the_duckdb_layer(package):
    template = _template(package)
    layers = {name: f.get("Layers") for name, f in _functions(template).items() if f.get("Layers")}
    assert layers == {"Recon": [{"Ref": "ReconLayer"}]}
    layer = template["Resources"]["ReconLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "./recon-layer.zip"     # beside sam.json
    assert layer["Properties"]["CompatibleRuntimes"] == [RUNTIME]


def test_every_function_logs_to_its_own_group_with_a_retention(any_package):
    template = _template(any_package)
    resources = template["Resources"]
    assert "Default" in template["Parameters"]["LogRetentionDays"]
    groups = set()
    for name, function in _functions(template).items():
        group = function["LoggingConfig"]["LogGroup"]["Ref"]
        groups.add(group)
        properties = resources[group]["Properties"]
        assert resources[group]["Type"] == "AWS::Logs::LogGroup"
        assert properties["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        # Inside the function's own Logs grant: /aws/lambda/<stack>-<function>-*.
        assert properties["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{name}-logs"}
    assert len(groups) == len(_functions(template))


def test_every_parameter_has_a_default_or_is_documented(any_package):
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for name, spec in _template(any_package)["Parameters"].items():
        assert "Default" in spec or f"`{name}`" in guide, name
        assert f"`{name}`" in guide, f"{name} is not in docs/deploy.md's parameter table"


def _make(*args, cwd=ROOT, env=None):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def _deploy_commands(*args):
    result = _make("deploy", "DRY_RUN=1", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if line.strip()]


def test_make_deploy_dry_run_prints_the_one_pass_it_would_run():
    lines = _deploy_commands("STAGE=prod", "DEPLOY_BUCKET=acme-artifacts", "REGION=eu-west-1",
                             "PARAMS=ChannelUrl=https://channel.example LogRetentionDays=365")
    package, layer, upload, deploy = [line for line in lines if not line.startswith("rm ")]
    assert " package --stage prod --merge-template " in package and "infra/resources.json" in package
    assert "tools.recon_layer" in layer and layer.endswith("out/deploy/paysettle-prod/recon-layer.zip")
    assert upload.startswith("aws cloudformation package --region eu-west-1 ")
    assert "--s3-bucket acme-artifacts" in upload and "--template-file out/deploy/paysettle-prod/sam.json" in upload
    assert deploy.startswith("aws cloudformation deploy --region eu-west-1 ")
    assert "--stack-name paysettle-prod" in deploy
    assert "--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND" in deploy
    assert deploy.endswith("--parameter-overrides ChannelUrl=https://channel.example LogRetentionDays=365")
    assert not (ROOT / "out" / "deploy" / "paysettle-prod").exists()       # nothing ran


def test_the_printed_deploy_names_every_parameter_without_a_default():
    template = json.loads((ROOT / "infra" / "resources.json").read_text())
    required = [name for name, spec in template["Parameters"].items() if "Default" not in spec]
    params = " ".join(f"{name}=https://example.test" for name in required)
    [deploy] = [line for line in _deploy_commands("DEPLOY_BUCKET=b", f"PARAMS={params}")
                if line.startswith("aws cloudformation deploy")]
    for name in required:
        assert f" {name}=" in deploy, name


def test_a_required_parameter_left_out_stops_the_deploy_naming_it(tmp_path):
    """Another Chalice project (as a second stack would be) with a parameter that has no default."""
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "resources.json").write_text(json.dumps({"Parameters": {
        "PaymentApiUrl": {"Type": "String", "Description": "the payment API"},
        "Optional": {"Type": "String", "Default": ""}}}))
    project = [f"PROJECT_DIR={tmp_path}", "STACK=paysettle-merchant-dev", "DEPLOY_BUCKET=b"]
    refused = _make("deploy", "DRY_RUN=1", *project)
    assert refused.returncode != 0
    assert "PaymentApiUrl has no default" in refused.stderr
    assert "aws cloudformation" not in refused.stdout
    misspelt = _make("deploy", "DRY_RUN=1", *project, "PARAMS=PaymentApiUrl=https://a PaymentApiURL=x")
    assert misspelt.returncode != 0 and "PaymentApiURL is no parameter" in misspelt.stderr
    lines = _deploy_commands(*project, "PARAMS=PaymentApiUrl=https://api.example/api/")
    assert not [line for line in lines if "recon_layer" in line]      # no DuckDB there
    [deploy] = [line for line in lines if line.startswith("aws cloudformation deploy")]
    assert "--stack-name paysettle-merchant-dev" in deploy
    assert deploy.endswith("--parameter-overrides PaymentApiUrl=https://api.example/api/")


@pytest.mark.parametrize("args,message", [(["STAGE=local", "DEPLOY_BUCKET=b"], "STAGE must be dev or prod"),
                                          (["STAGE=dev"], "set DEPLOY_BUCKET")])
def test_make_deploy_refuses_a_stage_or_bucket_it_cannot_use(args, message):
    result = _make("deploy", "DRY_RUN=1", *args)
    assert result.returncode != 0 and message in result.stderr


def test_without_python_3_13_make_stops_at_once_naming_what_to_install(tmp_path):
    (tmp_path / "Makefile").write_text((ROOT / "Makefile").read_text())
    (tmp_path / "requirements-dev.txt").write_text("")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    assert not [p for p in env["PATH"].split(":") if Path(p, "python3.13").exists()], \
        "this machine has a python3.13 in /usr/bin: the test cannot hide it"
    result = _make("setup", cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "no Python 3.13 found" in result.stderr and "pyenv install 3.13" in result.stderr
    assert not (tmp_path / ".venv").exists()


def _pins(path: Path) -> dict:
    return dict(re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", path.read_text(), re.M))


def test_the_locks_pin_every_package_with_hashes_and_agree():
    runtime, dev, bench = (_pins(ROOT / name) for name in
                           ("requirements.txt", "requirements-dev.txt", "requirements-bench.txt"))
    for name in ("requirements.txt", "requirements-recon.txt", "requirements-dev.txt", "requirements-bench.txt"):
        entries = re.split(r"\n(?=\S)", (ROOT / name).read_text())
        pinned = [e for e in entries if re.match(r"[A-Za-z0-9]", e)]
        assert pinned, name
        for entry in pinned:
            assert "==" in entry.split()[0] and "--hash=sha256:" in entry, f"{name}: {entry.split()[0]}"
    # What the functions run is what the tests ran.
    assert {name: version for name, version in runtime.items()} == {n: dev[n] for n in runtime}
    assert _pinned(ROOT / "requirements-recon.txt", "duckdb") == dev["duckdb"]
    # The benchmark-only stack stays out of `make test`'s install.
    for heavy in ("datacompy", "pandas", "polars", "pyarrow"):
        assert heavy not in dev and heavy in bench, heavy
    assert {n: bench[n] for n in bench if n in dev} == {n: dev[n] for n in bench if n in dev}
