"""NoncesTable (hash `nonce_key`, TTL `expires_at`): one item per (key id, nonce) seen."""
from pynamodb.attributes import TTLAttribute, UnicodeAttribute

from ..data.binding import TableModel


class Nonce(TableModel):
    class Meta:
        table_setting = "NONCES_TABLE"
        table_name = None

    nonce_key = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute()         # epoch seconds; DynamoDB removes the item after it

    @classmethod
    def key(cls, key_id: str, nonce: str) -> str:
        return f"{key_id}#{nonce}"
