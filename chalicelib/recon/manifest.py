"""Manifests: each side says which files it uploaded, with their row counts and SHA-256.

    {"files": [{"name": "pay.csv", "rows": 3, "sha256": "<hex of the file's bytes>"}, ...]}

An entry may add `"encoding"`: "utf-8" (the default) or "gb18030" (which covers GBK, what
Excel exports in China). Every file must be valid text in its encoding: the first bad
byte makes the batch INVALID, named by line and byte offset.

`rows` counts the lines after the header, as `wc -l` does (a final line without
a newline counts too): `echo $(( $(wc -l < pay.csv) - 1 ))` for a file ending in
a newline. A batch whose manifests or files do not agree is INVALID and nothing
of it is reconciled.
"""
import hashlib
import json
import re
from pathlib import Path
from typing import Dict, List

from . import encoding as encodings
from .formats import MANIFEST, REQUIRED_FILES, SIDES, InvalidBatch, Problem

_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
CHUNK = 4 << 20
MAX_MANIFEST_BYTES = 64 << 10


def parse(side: str, raw: bytes) -> Dict[str, dict]:
    """The manifest's entries by file name; InvalidBatch if it is malformed."""
    def bad(detail):
        return InvalidBatch([Problem(side, MANIFEST, "BAD_MANIFEST", detail)])

    if len(raw) > MAX_MANIFEST_BYTES:
        raise bad(f"the manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise bad(f"the manifest is not UTF-8 JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("files"), list):
        raise bad('the manifest must be a JSON object {"files": [...]}')
    entries: Dict[str, dict] = {}
    for index, entry in enumerate(document["files"]):
        where = f"files[{index}]"
        if not isinstance(entry, dict):
            raise bad(f"{where} must be an object with name, rows and sha256")
        name, rows, digest = entry.get("name"), entry.get("rows"), entry.get("sha256")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise bad(f"{where}.name must be a plain file name")
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise bad(f"{where}.rows must be a non-negative integer")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest.lower()):
            raise bad(f"{where}.sha256 must be 64 hexadecimal digits")
        if name in entries:
            raise bad(f"{name} is listed twice")
        declared = encodings.canonical(entry.get("encoding", encodings.UTF8))
        if declared is None:
            raise bad(f"{where}.encoding must be one of {', '.join(encodings.ENCODINGS)}")
        entries[name] = {"rows": rows, "sha256": digest.lower(), "encoding": declared}
    missing = [n for n in REQUIRED_FILES[side] if n not in entries]
    if missing:
        raise InvalidBatch([Problem(side, MANIFEST, "FILE_NOT_LISTED",
                                    f"the manifest does not list {name}", expected=name)
                            for name in missing])
    return entries


def file_facts(path: Path, encoding: str = None) -> dict:
    """SHA-256, size and row count (lines after the header) of a file, in one streaming pass;
    with an `encoding`, also whether its bytes are valid text in it ("bad_text": the first bad
    byte's line and offset).
    (One reused buffer: a fresh 4 MB bytes object per chunk costs page faults on every read.)"""
    digest, newlines, size, last = hashlib.sha256(), 0, 0, b"\n"
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    checker = encodings.Checker(encoding) if encoding else None
    with open(path, "rb", buffering=0) as stream:
        while True:
            read = stream.readinto(buffer)
            if not read:
                break
            digest.update(view[:read])
            newlines += buffer.count(b"\n", 0, read)
            size += read
            last = buffer[read - 1:read]
            if checker:
                checker.feed(view[:read])
    lines = newlines + (1 if size and last != b"\n" else 0)
    facts = {"rows": max(lines - 1, 0), "sha256": digest.hexdigest(), "bytes": size}
    if checker:
        checker.feed(b"", final=True)
        try:
            checker.raise_if_bad(path)
        except encodings.BadBytes as bad:
            facts["bad_text"] = {"encoding": bad.encoding, "line": bad.line, "offset": bad.offset}
    return facts


def declared_encodings(batch_dir: Path) -> Dict[str, Dict[str, str]]:
    """{side: {name: encoding}} of the files the manifests declare in another encoding than
    UTF-8 (a manifest that cannot be read declares nothing: the check reports it)."""
    found: Dict[str, Dict[str, str]] = {}
    for side in SIDES:
        try:
            entries = parse(side, (Path(batch_dir) / side / MANIFEST).read_bytes())
        except (OSError, InvalidBatch):
            continue
        found[side] = {name: e["encoding"] for name, e in entries.items()
                       if e["encoding"] != encodings.UTF8}
    return found


def text_problem(side: str, name: str, bad: dict) -> Problem:
    """The INVALID reason of a file whose bytes are not text in its encoding."""
    hint = (' (a GBK or GB18030 export must say "encoding": "gb18030" in the manifest)'
            if bad["encoding"] == encodings.UTF8 else "")
    return Problem(side, name, "BAD_ENCODING",
                   f"line {bad['line']} (byte offset {bad['offset']}) is not valid "
                   f"{bad['encoding'].upper()} text{hint}",
                   expected=bad["encoding"], found={"line": bad["line"], "offset": bad["offset"]})


def check(batch_dir: Path) -> Dict[str, Dict[str, dict]]:
    """Check both sides' manifests against the files; the facts of every listed file.

    Collects every problem before raising, so one error.json says all that is wrong.
    """
    problems: List[Problem] = []
    facts: Dict[str, Dict[str, dict]] = {}
    for side in SIDES:
        manifest_path = Path(batch_dir) / side / MANIFEST
        if not manifest_path.is_file():
            problems.append(Problem(side, MANIFEST, "NO_MANIFEST", "the side has no manifest"))
            continue
        try:
            entries = parse(side, manifest_path.read_bytes())
        except InvalidBatch as invalid:
            problems.extend(invalid.problems)
            continue
        facts[side] = {}
        for name, listed in sorted(entries.items()):
            path = Path(batch_dir) / side / name
            if not path.is_file():
                problems.append(Problem(side, name, "FILE_MISSING",
                                        "the manifest lists the file but it was not uploaded"))
                continue
            found = file_facts(path, listed["encoding"])
            if found["sha256"] != listed["sha256"]:
                problems.append(Problem(side, name, "CHECKSUM_MISMATCH",
                                        "the file's SHA-256 differs from the manifest's "
                                        "(corrupt, incomplete or replaced upload)",
                                        expected=listed["sha256"], found=found["sha256"]))
            elif found["rows"] != listed["rows"]:
                problems.append(Problem(side, name, "ROW_COUNT_MISMATCH",
                                        "the file's row count differs from the manifest's",
                                        expected=listed["rows"], found=found["rows"]))
            elif "bad_text" in found:
                problems.append(text_problem(side, name, found.pop("bad_text")))
            facts[side][name] = found
    if problems:
        raise InvalidBatch(problems)
    return facts
