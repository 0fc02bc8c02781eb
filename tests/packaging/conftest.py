"""Both deployables packaged once per session, as `make package` packages them (infra/package.py)."""
import pytest

from infra.package import CENTER, MERCHANT, package


@pytest.fixture(scope="session")
def packages_dev(tmp_path_factory):
    return package(tmp_path_factory.mktemp("package-dev"), "dev")


@pytest.fixture(scope="session")
def packages_prod(tmp_path_factory):
    return package(tmp_path_factory.mktemp("package-prod"), "prod")


@pytest.fixture(scope="session")
def center_package(packages_dev):
    return packages_dev[CENTER]


@pytest.fixture(scope="session")
def merchant_package(packages_dev):
    return packages_dev[MERCHANT]
