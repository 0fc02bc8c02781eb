"""One batch folder in, one set of result files out: what the Lambda and the CLI both run.

    DONE     pay_recon.csv, withdraw_recon.csv, audit.csv, errors.csv (when any row
             was set aside), report.html, and summary.json written last
    INVALID  error.json only: the manifests and the files disagree, or a file lacks
             a column; nothing is reconciled
    (failed) no result file: what an unexpected error interrupted is removed before
             the error propagates
"""
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from . import encoding, engine, manifest, report
from .formats import (DUPLICATE, ERROR, F113, F114, F115, FAIL, REPORT, RESULT_FILES, SIDES,
                      SUMMARY, InvalidBatch)

DONE, INVALID = "DONE", "INVALID"
# error.json stays small whatever the uploader sent: at most this many problems, each text
# clipped, and the whole document under MAX_ERROR_BYTES.
MAX_PROBLEMS = 20
MAX_TEXT_CHARS = 300
MAX_ERROR_BYTES = 16 << 10


def clip_text(value, limit: int = MAX_TEXT_CHARS):
    """A string cut to `limit` characters (marked with an ellipsis); other values as they are."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "..."
    return value


def invalid_document(batch: str, invalid: InvalidBatch, run_id: Optional[str]) -> dict:
    """error.json: the reason and the problems, bounded (see MAX_ERROR_BYTES)."""
    problems = [{k: clip_text(v) for k, v in p.as_dict().items()}
                for p in invalid.problems[:MAX_PROBLEMS]]
    reason = "; ".join(f"{p.get('side') or ''}/{p.get('file') or ''}: {p['detail']}" for p in problems)
    if len(invalid.problems) > MAX_PROBLEMS:
        reason += f"; and {len(invalid.problems) - MAX_PROBLEMS} more problems"
    document = {"batch": batch, "status": INVALID, "reason": clip_text(reason, 4000),
                "problems": problems, "generated_at": _now()}
    if len(invalid.problems) > MAX_PROBLEMS:
        document["problems_omitted"] = len(invalid.problems) - MAX_PROBLEMS
    if run_id:
        document["run_id"] = run_id
    while len(engine.dumps(document).encode()) > MAX_ERROR_BYTES and document["problems"]:
        document["problems"].pop()
    return document


@dataclass(frozen=True)
class Outcome:
    status: str            # DONE or INVALID
    document: dict         # summary.json (DONE) or error.json (INVALID)

    @property
    def balanced(self) -> bool:
        return bool(self.document.get("balanced"))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clear(out_dir: Path) -> None:
    for name in RESULT_FILES:
        (out_dir / name).unlink(missing_ok=True)


def _checked_run(batch_dir: Path, out_dir: Path, options: engine.EngineOptions) -> tuple:
    """(manifest facts, engine figures, ms the manifest check took).

    The manifest check reads every input byte (SHA-256) and the engine reads them too:
    the check runs in a thread beside the engine (hashlib and DuckDB both release the
    GIL), and the engine's results count only if the check passes. A manifest problem
    wins over whatever the engine made of the same files: a corrupt upload is INVALID
    for its checksum, not for the column or parse error it may also cause."""
    def timed_check():
        started = time.monotonic()
        found = manifest.check(batch_dir)
        return found, int((time.monotonic() - started) * 1000)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="manifest") as pool:
        checking = pool.submit(timed_check)
        try:
            with _utf8_view(batch_dir, options) as readable:
                figures = engine.run(readable, out_dir, options)
        except Exception:
            # Whatever the engine failed on (a parse error, a missing column, a file that is
            # not there), a manifest problem with the same files is the answer if there is one:
            # result() raises it as InvalidBatch; otherwise the engine's own error propagates.
            checking.result()
            raise
        facts, checked = checking.result()
    return facts, figures, checked


@contextmanager
def _utf8_view(batch_dir: Path, options: engine.EngineOptions):
    """The batch folder as the engine reads it: UTF-8 throughout. Without a file declared in
    another encoding, the folder itself; else a scratch folder (removed afterwards) holding a
    UTF-8 copy of each declared file and links to the others."""
    declared = manifest.declared_encodings(batch_dir)
    if not any(declared.values()):
        yield batch_dir
        return
    Path(options.work_dir).mkdir(parents=True, exist_ok=True)
    view = Path(tempfile.mkdtemp(prefix="utf8-", dir=options.work_dir))
    try:
        for side in SIDES:
            (view / side).mkdir()
            for path in (batch_dir / side).iterdir():
                target = view / side / path.name
                if path.name in declared.get(side, {}):
                    try:
                        encoding.to_utf8(path, target, declared[side][path.name])
                    except encoding.BadBytes as bad:
                        raise InvalidBatch([manifest.text_problem(side, path.name, {
                            "encoding": bad.encoding, "line": bad.line, "offset": bad.offset})]) from None
                elif path.is_file():
                    os.symlink(path.resolve(), target)
        yield view
    finally:
        shutil.rmtree(view, ignore_errors=True)


def reconcile_folder(batch_dir: Path, out_dir: Path, options: engine.EngineOptions,
                     batch: Optional[str] = None, run_id: Optional[str] = None) -> Outcome:
    batch_dir, out_dir = Path(batch_dir), Path(out_dir)
    batch = batch or batch_dir.resolve().name
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear(out_dir)
    started = time.monotonic()
    try:
        facts, figures, checked = _checked_run(batch_dir, out_dir, options)
    except InvalidBatch as invalid:
        _clear(out_dir)
        document = invalid_document(batch, invalid, run_id)
        (out_dir / ERROR).write_text(engine.dumps(document), encoding="utf-8")
        return Outcome(INVALID, document)
    except BaseException:
        _clear(out_dir)  # no half-written result files for a reader to take as results
        raise
    recon, audit = figures["recon"], figures["audit"]
    discrepancies = sum(recon[k][d]["count"] for k in recon for d in (F113, F114, F115, DUPLICATE))
    summary = {
        "batch": batch, "status": DONE, "generated_at": _now(),
        "balanced": discrepancies == 0 and audit[FAIL] == 0 and figures["row_errors"] == 0,
        "discrepancies": discrepancies, "row_errors": figures["row_errors"],
        "recon": recon, "audit": audit,
        "inputs": {f"{side}/{name}": fact for side, files in facts.items()
                   for name, fact in files.items()},
        "files": figures["files"],
        "timings_ms": dict(figures["timings_ms"], manifest=checked),
        "buckets": figures["buckets"],
    }
    if run_id:
        summary["run_id"] = run_id
    rendered = time.monotonic()
    (out_dir / REPORT).write_text(report.render(summary, figures["report"]), encoding="utf-8")
    summary["timings_ms"]["report"] = int((time.monotonic() - rendered) * 1000)
    summary["timings_ms"]["total"] = int((time.monotonic() - started) * 1000)
    # Last: a summary.json beside the other files means they are complete.
    (out_dir / SUMMARY).write_text(engine.dumps(summary), encoding="utf-8")
    return Outcome(DONE, summary)
