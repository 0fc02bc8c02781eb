"""ReconBatchesTable (hash `batch`): one item per reconciliation batch (state, claim, summary)."""
from pynamodb.attributes import UnicodeAttribute

from ..data.attributes import WholeNumberAttribute
from ..data.binding import TableModel


class ReconBatch(TableModel):
    class Meta:
        table_setting = "RECON_BATCHES_TABLE"
        table_name = None

    batch = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    waiting_for = UnicodeAttribute(null=True)     # PENDING: the side whose manifest is missing
    fingerprint = UnicodeAttribute(null=True)     # of both manifests, claimed by a run
    run_id = UnicodeAttribute(null=True)
    lease_until = WholeNumberAttribute(null=True)  # epoch seconds, while RUNNING
    started_at = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    results_prefix = UnicodeAttribute(null=True)
    summary = UnicodeAttribute(null=True)         # JSON text
    error = UnicodeAttribute(null=True)           # JSON text

    @classmethod
    def key(cls, batch: str) -> str:
        return batch
