"""The tests' own DynamoDB client, for reading back what the services stored.

The services reach DynamoDB only through the PynamoDB models, and the tests hook the models'
clients (to count their requests, to break them, to serialize them). A check that scans or
queries a table to see what was stored goes through a client of its own instead, on the endpoint
and region the models are bound to now (moto's, DynamoDB Local's inside `World.bound(host)`), so
its reads are never counted, refused or killed with the services' requests.
"""
import threading

import boto3
from botocore.config import Config

from chalicelib.data import binding

_clients: dict = {}
_lock = threading.Lock()
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, max_pool_connections=32)


def reader(setting: str = "LEDGER_TABLE"):
    """A boto3 DynamoDB client where the models of `setting`'s table are bound now (one per
    endpoint and region, made once: making a client costs a tenth of a second)."""
    bound = binding.resolve(setting)
    key = (bound.host, bound.region)
    with _lock:
        found = _clients.get(key)
        if found is None:
            # A session of its own: boto3's default session is not thread-safe to make clients
            # from, and other code may configure it.
            found = _clients[key] = boto3.session.Session().client(
                "dynamodb", endpoint_url=bound.host, region_name=bound.region, config=_CONFIG)
        return found
