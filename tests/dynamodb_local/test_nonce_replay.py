"""Replays of one signed request racing on DynamoDB Local: exactly one is accepted."""
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from chalicelib.auth import nonces, signature
from chalicelib.auth.credentials import parse
from chalicelib.auth.models import Nonce
from chalicelib.data import binding
from chalicelib.auth.verifier import SignedRequest, verify
from chalicelib.errors import ErrorCode, PaySettleError
from infra.provision import load_template, provision
from tests.support.signing import MERCHANT

THREADS = 32
WINDOW = 300


def _nonces_table(dynamodb, sqs) -> str:
    template = {"Resources": {"NoncesTable": load_template()["Resources"]["NoncesTable"]}}
    return provision(dynamodb, sqs, f"n{uuid.uuid4().hex[:10]}", template=template).tables["NoncesTable"]


def test_many_threads_replaying_one_nonce_exactly_one_is_accepted(dynamodb, sqs,
                                                                   dynamodb_local_endpoint):
    table = _nonces_table(dynamodb, sqs)
    try:
        body = b'{"request_id": "20190829171520000001"}'
        headers = signature.signed_headers(MERCHANT.key_id, MERCHANT.secret, "POST", "/pay", body)
        request = SignedRequest("POST", ["/pay"], body, headers)
        known = parse(json.dumps({"callers": {MERCHANT.key_id: MERCHANT.entry()}}))
        now = int(headers[signature.TIMESTAMP])
        start = threading.Barrier(THREADS)

        def attempt(_):
            start.wait()
            try:
                return verify(request, known.get, nonces.claim, now, WINDOW).key_id
            except PaySettleError as refused:
                return refused.code

        with binding.override({"NONCES_TABLE": table}, host=dynamodb_local_endpoint), \
                ThreadPoolExecutor(THREADS) as pool:
            outcomes = list(pool.map(attempt, range(THREADS)))
        assert outcomes.count(MERCHANT.key_id) == 1
        assert outcomes.count(ErrorCode.NONCE_REPLAYED) == THREADS - 1
        items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
        assert [item["nonce_key"]["S"] for item in items] == [
            Nonce.key(MERCHANT.key_id, headers[signature.NONCE])]
    finally:
        dynamodb.delete_table(TableName=table)
