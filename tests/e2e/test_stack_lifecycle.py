"""Starting and stopping the stack as `make serve` does, including when it cannot start."""
import signal
import socket

import pytest

from .support import free_port, start_stack, stop_stack, wait_until

pytestmark = pytest.mark.e2e


def _refuses(url: str) -> bool:
    host, port = url.rsplit("//", 1)[1].split(":")
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, int(port))) != 0


def test_sigterm_stops_everything_the_stack_started(tmp_path):
    stack = start_stack(tmp_path)
    manifest = stack.manifest
    assert set(manifest) == {"api_url", "merchant_api_url", "payment_link_url", "channel_url",
                             "docs_url", "openapi_url", "merchant_docs_url", "merchant_openapi_url",
                             "aws_endpoint_url", "dynamodb_endpoint_url", "region", "tables",
                             "queues", "buckets",
                             "secrets", "merchants"}
    assert manifest["api_url"].startswith("http://127.0.0.1:")
    assert manifest["merchant_api_url"].startswith("http://127.0.0.1:")
    assert manifest["merchant_api_url"] != manifest["api_url"]
    # Two systems, two resource sets: the center's and the merchant system's own.
    assert {"MerchantOrdersTable"} <= set(manifest["tables"])
    assert {"CallerCredentials", "MerchantSigningKey"} <= set(manifest["secrets"])
    assert manifest["payment_link_url"].startswith("http://127.0.0.1:")
    assert manifest["channel_url"].startswith("http://127.0.0.1:")
    assert manifest["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert {"OrdersTable", "LedgerTable"} <= set(manifest["tables"])
    assert {"CreditQueue", "CreditDeadLetterQueue"} <= set(manifest["queues"])

    assert stop_stack(stack, signal.SIGTERM) == 0

    assert not stack.manifest_path.exists()
    assert _refuses(manifest["api_url"]), "the API still listens"
    assert _refuses(manifest["merchant_api_url"]), "the merchant system's API still listens"
    assert _refuses(manifest["aws_endpoint_url"]), "the AWS endpoint still listens"
    assert _refuses(manifest["dynamodb_endpoint_url"]), "DynamoDB Local still listens"
    assert _refuses(manifest["payment_link_url"]), "the payment link still listens"
    assert _refuses(manifest["channel_url"]), "the channel simulator still listens"
    assert '"event":"local_stack.stopped"' in stack.log_text()


def test_a_busy_api_port_fails_the_start_cleanly(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        aws_port = free_port()
        with pytest.raises(AssertionError, match="exited with 1"):
            start_stack(tmp_path, {"API_PORT": str(busy), "AWS_PORT": str(aws_port)})
    log = (tmp_path / "local-stack.log").read_text()
    assert '"event":"local_stack.failed"' in log
    wait_until(lambda: _refuses(f"http://127.0.0.1:{aws_port}"), 5, "the AWS endpoint was stopped")


def test_the_api_does_not_outlive_a_killed_stack(tmp_path):
    stack = start_stack(tmp_path)
    stack.process.kill()  # no chance to clean up: the API must notice by itself
    stack.process.wait()
    wait_until(lambda: _refuses(stack.manifest["api_url"]), 10, "the orphaned API exited")
    wait_until(lambda: _refuses(stack.manifest["merchant_api_url"]), 10,
               "the orphaned merchant system's API exited")
