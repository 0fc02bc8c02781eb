"""API documentation of `GET /recon/{batch}`: the batch view of service.batch_view."""
from typing import Annotated, Any, Dict, Literal, Optional

from pydantic import BaseModel, Field

from ..errors import ErrorCode
from ..openapi import Operation, Param, Reply
from .store import STATUSES

# formats.valid_batch_name as a pattern: a letter or digit, then letters, digits, '.', '_', '-',
# never two dots in a row (written without look-ahead so every regex engine reads it alike);
# tests/unit/test_openapi_fields.py checks that the two agree.
BATCH_NAME_PATTERN = r"^[A-Za-z0-9](?:\.?[A-Za-z0-9_-])*\.?$"
BatchName = Annotated[str, Field(
    min_length=1, max_length=128, examples=["2019-08-29"],
    description="1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit, no '..'",
    json_schema_extra={"pattern": BATCH_NAME_PATTERN})]


class ReconBatchStatus(BaseModel):
    """A batch's state and its last run (`service.batch_view`); absent keys are not known yet."""
    tenant: str = Field(description="whose batch: the caller's tenant (its key's merchant_id)",
                        examples=["demo"])
    batch: BatchName
    status: Literal[STATUSES]  # type: ignore[valid-type]
    run_id: Optional[str] = None
    started_at: Optional[str] = Field(None, description="ISO 8601 UTC")
    finished_at: Optional[str] = Field(None, description="ISO 8601 UTC")
    updated_at: Optional[str] = Field(None, description="ISO 8601 UTC")
    waiting_for: Optional[str] = Field(None, description="PENDING: the sides whose manifest is "
                                                         "missing, comma-separated",
                                       examples=["payment"])
    results: Optional[str] = Field(None, description="DONE / INVALID: where the run's files are",
                                   examples=["s3://bucket/results/demo/2019-08-29/runs/<run_id>/"])
    summary: Optional[Dict[str, Any]] = Field(None, description="DONE: the counts of summary.json "
                                                                "(README, Results)")
    error: Optional[Dict[str, Any]] = Field(None, description="INVALID: error.json; FAILED: the failure")


OPERATIONS = [
    Operation(
        "GET", "/recon/{batch}", "getReconBatch", "A reconciliation batch's state and summary",
        "reconciliation",
        params=[Param("batch", BatchName)],
        ok=Reply("The batch.", ReconBatchStatus,
                 examples={"pending": {"tenant": "demo", "batch": "2019-08-29", "status": "PENDING",
                                       "waiting_for": "payment",
                                       "updated_at": "2019-08-29T16:00:01.000000Z"}}),
        description=("The caller's tenant's batch of this name (exported to "
                     "incoming/<tenant>/<batch>/, results under results/<tenant>/<batch>/)."),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.RECON_BATCH_NOT_FOUND, ErrorCode.BUSY),
        signed=True, tenant_read=True),
]
