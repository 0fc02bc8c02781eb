"""The end-to-end suite runs against one stack started the way `make serve` starts it."""
import pytest

from .support import start_stack, stop_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    status = stop_stack(running)
    assert status == 0, f"the stack exited with {status} on Ctrl-C:\n{running.log_text()[-3000:]}"
    assert not running.manifest_path.exists(), "the stack left its manifest behind"
