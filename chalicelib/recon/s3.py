"""The recon bucket: what a batch's inputs are, fetching them, publishing results.

    incoming/<tenant>/<batch>/<side>/...            the sides' uploads
    results/<tenant>/<batch>/runs/<run_id>/...      one run's result files, never modified afterwards
    results/<tenant>/<batch>/latest.json            the pointer to the current run, replaced in one PUT

Batch names are unique within a tenant only: a batch is always named with its tenant
(`BatchRef`), and nothing of one tenant's batch is read from or written to another's folder.

A result set is published by writing its run folder completely and then
replacing the pointer: S3 replaces one object atomically, so a reader that
follows the pointer sees a whole result set, the old one or the new one, never a
mix. Earlier runs stay where they are (the history of the batch).
"""
import hashlib
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from ..config import TENANT_PATTERN
from .formats import MANIFEST, SIDES, valid_batch_name

INCOMING, RESULTS = "incoming/", "results/"
POINTER = "latest.json"
CONTENT_TYPES = {".csv": "text/csv; charset=utf-8", ".json": "application/json",
                 ".html": "text/html; charset=utf-8"}


@dataclass(frozen=True)
class BatchRef:
    """One tenant's batch."""
    tenant: str
    name: str

    @property
    def path(self) -> str:
        """`<tenant>/<batch>`: its folder under incoming/ and results/, and its key in the
        batches table (neither part can hold a "/")."""
        return f"{self.tenant}/{self.name}"


def incoming_prefix(batch: BatchRef) -> str:
    return f"{INCOMING}{batch.path}/"


def run_prefix(batch: BatchRef, run_id: str) -> str:
    return f"{RESULTS}{batch.path}/runs/{run_id}/"


def pointer_key(batch: BatchRef) -> str:
    return f"{RESULTS}{batch.path}/{POINTER}"


def manifest_batch(key: str) -> Optional[BatchRef]:
    """The batch of `incoming/<tenant>/<batch>/<side>/_manifest.json`, else None."""
    parts = key.split("/")
    if (len(parts) == 5 and parts[0] + "/" == INCOMING and TENANT_PATTERN.fullmatch(parts[1])
            and valid_batch_name(parts[2]) and parts[3] in SIDES and parts[4] == MANIFEST):
        return BatchRef(parts[1], parts[2])
    return None


def object_keys(message_body: str) -> list:
    """(bucket, key) of each S3 ObjectCreated record in an SQS message from S3 (keys decoded)."""
    try:
        document = json.loads(message_body)
    except ValueError:
        return []
    found = []
    for record in document.get("Records", []) if isinstance(document, dict) else []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record.get("s3", {})
        bucket, key = s3.get("bucket", {}).get("name"), s3.get("object", {}).get("key")
        if bucket and key:
            found.append((bucket, unquote_plus(key)))
    return found


def listing(s3, bucket: str, batch: BatchRef) -> Dict[str, dict]:
    """key -> {"etag", "size"} of every object under incoming/<tenant>/<batch>/."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                             Prefix=incoming_prefix(batch)):
        for entry in page.get("Contents", []):
            found[entry["Key"]] = {"etag": entry["ETag"].strip('"'), "size": entry["Size"]}
    return found


def read_manifests(s3, bucket: str, batch: BatchRef, objects: Dict[str, dict]) -> Dict[str, bytes]:
    """Each side's manifest bytes, for the sides that have one."""
    manifests = {}
    for side in SIDES:
        key = f"{incoming_prefix(batch)}{side}/{MANIFEST}"
        if key in objects:
            try:
                manifests[side] = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                    raise
    return manifests


def fingerprint(manifests: Dict[str, bytes], objects: Dict[str, dict]) -> str:
    """The identity of a batch's inputs: both manifests and every uploaded object's ETag.

    The same inputs give the same fingerprint (a duplicate event changes nothing);
    a new manifest, or a file uploaded after its manifest, gives a new one."""
    digest = hashlib.sha256()
    for side in SIDES:
        digest.update(f"{side}\0".encode() + hashlib.sha256(manifests[side]).digest())
    for key in sorted(objects):
        digest.update(f"{key}\0{objects[key]['etag']}\0{objects[key]['size']}\n".encode())
    return digest.hexdigest()


def download(s3, bucket: str, batch: BatchRef, manifests: Dict[str, bytes],
             objects: Dict[str, dict], folder: Path) -> None:
    """The batch folder the engine reads: the manifests as fingerprinted, and every file a
    manifest lists that was uploaded (a missing one is left missing: the check names it)."""
    for side in SIDES:
        (folder / side).mkdir(parents=True, exist_ok=True)
        (folder / side / MANIFEST).write_bytes(manifests[side])
        try:
            names = [entry["name"] for entry in json.loads(manifests[side]).get("files", [])
                     if isinstance(entry, dict) and isinstance(entry.get("name"), str)]
        except (ValueError, AttributeError):
            continue  # a malformed manifest: the check says so
        for name in names:
            key = f"{incoming_prefix(batch)}{side}/{name}"
            if "/" not in name and name != MANIFEST and key in objects:
                s3.download_file(bucket, key, str(folder / side / name))


def upload_run(s3, bucket: str, prefix: str, folder: Path) -> list:
    """Every file of `folder` under `prefix`; summary.json / error.json last. Their names."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    names.sort(key=lambda n: n in ("summary.json", "error.json"))
    for name in names:
        suffix = Path(name).suffix
        content_type = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        s3.upload_file(str(folder / name), bucket, prefix + name,
                       ExtraArgs={"ContentType": content_type})
    return names


def write_pointer(s3, bucket: str, batch: BatchRef, pointer: dict) -> None:
    s3.put_object(Bucket=bucket, Key=pointer_key(batch), ContentType="application/json",
                  Body=json.dumps(pointer, ensure_ascii=False, indent=1).encode())


def read_pointer(s3, bucket: str, batch: BatchRef) -> Optional[dict]:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=pointer_key(batch))["Body"].read())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
