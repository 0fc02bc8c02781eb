"""Lazily created boto3 clients.

A client is made on first use, never at import time: a client made before the
endpoint (moto, DynamoDB Local, the local stack) is configured would talk to
real AWS. boto3 and botocore honour `AWS_ENDPOINT_URL` and
`AWS_ENDPOINT_URL_<SERVICE>` themselves; the cache is keyed on them so a test
that changes the endpoint gets a fresh client.

Clients are made from one boto3 session per set of `AWS_*` settings other than the endpoint and
the region (credentials, profile, config files): making a session costs more than the client
(~30 ms of event-handler set-up). A session holds no endpoint or region of its own (both are
read from the environment each time a client is made); its credentials are resolved once, hence
the key. Sessions are not thread-safe: clients are made from them only under `_lock`.
"""
import os
import threading
from contextlib import contextmanager

import boto3
from botocore.config import Config

_clients: dict = {}
_sessions: dict = {}
_lock = threading.Lock()
# Read from the environment whenever a client is made, so they do not part sessions.
_READ_PER_CLIENT = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION")

# Our own retry loops handle conditional failures; botocore's standard mode
# handles throttling and transient network errors.
_CLIENT_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"},
                        max_pool_connections=64)


def _cache_key(service: str) -> tuple:
    env_name = "AWS_ENDPOINT_URL_" + service.upper()
    return (service, os.environ.get("AWS_ENDPOINT_URL"),
            os.environ.get(env_name), os.environ.get("AWS_DEFAULT_REGION"))


def _session() -> boto3.session.Session:
    """The session for the current credentials and configuration (call under `_lock`)."""
    key = frozenset((name, value) for name, value in os.environ.items()
                    if name.startswith("AWS_") and not name.startswith(_READ_PER_CLIENT))
    found = _sessions.get(key)
    if found is None:
        # Never boto3's default session, which other code may configure.
        found = _sessions[key] = boto3.session.Session()
    return found


@contextmanager
def botocore_session():
    """The botocore session clients are made from now, held for making one (PynamoDB's models make
    their botocore clients themselves): no other client is made from it inside the block."""
    with _lock:
        yield _session()._session


def client(service: str):
    key = _cache_key(service)
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _session().client(service, config=_CLIENT_CONFIG)
            _clients[key] = found
        return found


def reset() -> None:
    """Forget every client (tests call this between AWS fakes). The sessions stay: they hold
    nothing an endpoint or a fake gives."""
    with _lock:
        _clients.clear()
