"""Lazily created boto3 clients.

A client is made on first use, never at import time: a client made before the
endpoint (moto, DynamoDB Local, the local stack) is configured would talk to
real AWS. boto3 and botocore honour `AWS_ENDPOINT_URL` and
`AWS_ENDPOINT_URL_<SERVICE>` themselves; the cache is keyed on them so a test
that changes the endpoint gets a fresh client.
"""
import os
import threading

import boto3
from botocore.config import Config

_clients: dict = {}
_lock = threading.Lock()

# Our own retry loops handle conditional failures; botocore's standard mode
# handles throttling and transient network errors.
_CLIENT_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"},
                        max_pool_connections=64)


def _cache_key(service: str) -> tuple:
    env_name = "AWS_ENDPOINT_URL_" + service.upper()
    return (service, os.environ.get("AWS_ENDPOINT_URL"),
            os.environ.get(env_name), os.environ.get("AWS_DEFAULT_REGION"))


def client(service: str):
    key = _cache_key(service)
    with _lock:
        found = _clients.get(key)
        if found is None:
            # A session per client: boto3's default session is not thread-safe.
            found = boto3.session.Session().client(service, config=_CLIENT_CONFIG)
            _clients[key] = found
        return found


def reset() -> None:
    """Forget every client (tests call this between AWS fakes)."""
    with _lock:
        _clients.clear()
