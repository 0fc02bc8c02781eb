"""Both deployables packaged once per test run, as `make package` packages them (infra/package.py).

Under xdist the packaging modules may land on different workers: the first worker packages into
the run's shared temporary folder and the others reuse it, one at a time (chalice keeps one
cache of dependencies per project, which two concurrent `chalice package` runs would share)."""
import fcntl
import os
from contextlib import contextmanager

import pytest

from infra.package import CENTER, MERCHANT, package


@contextmanager
def _exclusive(path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _packaged(tmp_path_factory, stage: str) -> dict:
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent          # this run's folder, shared by its workers
    target = root / f"package-{stage}"
    with _exclusive(root / "package.lock"):
        if not (target / "complete").exists():
            package(target, stage)
            (target / "complete").touch()
    return {CENTER: target / CENTER, MERCHANT: target / MERCHANT}


@pytest.fixture(scope="session")
def packages_dev(tmp_path_factory):
    return _packaged(tmp_path_factory, "dev")


@pytest.fixture(scope="session")
def packages_prod(tmp_path_factory):
    return _packaged(tmp_path_factory, "prod")


@pytest.fixture(scope="session")
def center_package(packages_dev):
    return packages_dev[CENTER]


@pytest.fixture(scope="session")
def merchant_package(packages_dev):
    return packages_dev[MERCHANT]
