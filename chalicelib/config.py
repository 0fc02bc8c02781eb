"""The one place configuration is read.

Everything comes from environment variables (set by the stage in
`.chalice/config.json`, by the CloudFormation template, or by the local stack)
and is read when asked for, never at import time: `chalice.test.Client` and the
local stack set the environment only around a call.
"""
import os
import re
from dataclasses import dataclass

# The largest amount one pay or withdraw may carry: 100,000,000.00 yuan in fen.
MAX_AMOUNT_FEN = 10_000_000_000
# Request bodies larger than this are refused before they are parsed.
MAX_BODY_BYTES = 4096
# The deepest nesting of arrays and objects a request body may have. Every documented body is a
# few levels deep; without an explicit bound the depth is whatever the interpreter's JSON parser
# tolerates (about 1,000 levels up to Python 3.11, about 10,000 from Python 3.12 on).
MAX_JSON_DEPTH = 32


class MissingSetting(RuntimeError):
    """A required environment variable is not set, or not usable."""


@dataclass(frozen=True)
class Settings:
    orders_table: str
    ledger_table: str
    credit_queue_url: str
    credit_grace_seconds: int
    aggregator_max_credits: int
    sweeper_max_orders: int


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise MissingSetting(f"environment variable {name} is not set")
    return value


# A tenant is part of every record key ("<tenant>#..."): a "#" in it would let one tenant's
# keys run into another's. A credential's merchant_id (chalicelib/auth) must match it too.
TENANT_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _optional_tenant(name: str) -> str:
    value = os.environ.get(name, "")
    if value and not TENANT_PATTERN.fullmatch(value):
        raise MissingSetting(f"environment variable {name} must be 1 to 64 characters of "
                             f"A-Z a-z 0-9 _ - . (it becomes part of every record's key), not {value!r}")
    return value


def _integer(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def settings() -> Settings:
    return Settings(
        orders_table=_required("ORDERS_TABLE"),
        ledger_table=_required("LEDGER_TABLE"),
        credit_queue_url=_required("CREDIT_QUEUE_URL"),
        credit_grace_seconds=_integer("CREDIT_GRACE_SECONDS", 120),
        aggregator_max_credits=_integer("AGGREGATOR_MAX_CREDITS", 2000),
        sweeper_max_orders=_integer("SWEEPER_MAX_ORDERS", 5000),
    )


# The simulated merchant system (merchant_system/vendor/merchantlib).
@dataclass(frozen=True)
class MerchantSettings:
    orders_table: str                   # MERCHANT_ORDERS_TABLE: the merchant's own orders
    payment_api_url: str                # PAYMENT_API_URL: base URL of the payment API (/pay, /withdraw)
    payment_timeout_seconds: float      # MERCHANT_PAYMENT_TIMEOUT_SECONDS: one call's budget; then UNKNOWN
    resolve_after_seconds: int          # MERCHANT_RESOLVE_AFTER_SECONDS: the resolver's wait before re-sending
    resolver_max_orders: int            # MERCHANT_RESOLVER_MAX_ORDERS: re-sends per resolver run at most
    signing_secret_id: str              # MERCHANT_SIGNING_SECRET: Secrets Manager id of {"key_id", "secret"}
    signing_key_cache_seconds: float    # MERCHANT_SIGNING_KEY_CACHE_SECONDS: a rotated key is seen after this


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw in (None, "") else float(raw)


def merchant_settings() -> MerchantSettings:
    return MerchantSettings(
        orders_table=_required("MERCHANT_ORDERS_TABLE"),
        payment_api_url=_required("PAYMENT_API_URL"),
        payment_timeout_seconds=_number("MERCHANT_PAYMENT_TIMEOUT_SECONDS", 5),
        resolve_after_seconds=_integer("MERCHANT_RESOLVE_AFTER_SECONDS", 60),
        resolver_max_orders=_integer("MERCHANT_RESOLVER_MAX_ORDERS", 100),
        # Required: the payment API refuses an unsigned /pay or /withdraw, so a merchant
        # system without its key would only make orders it can never get answered.
        signing_secret_id=_required("MERCHANT_SIGNING_SECRET"),
        signing_key_cache_seconds=_number("MERCHANT_SIGNING_KEY_CACHE_SECONDS", 300),
    )


# Reconciliation (chalicelib/recon). The Lambda and the CLI read the same settings.
@dataclass(frozen=True)
class ReconSettings:
    bucket: str                 # RECON_BUCKET: incoming/<tenant>/<batch>/... in, results/<tenant>/<batch>/... out
    batches_table: str          # RECON_BATCHES_TABLE: one item per batch (state, claim, summary)
    queue_url: str              # RECON_QUEUE_URL: where the S3 events arrive (to delay a busy batch)
    tmp_dir: str                # RECON_TMP_DIR: downloads, results and DuckDB spill files
    memory_limit: str           # RECON_MEMORY_LIMIT: DuckDB's memory limit, e.g. "1200MB"
    threads: int                # RECON_THREADS: DuckDB threads (0: one per core)
    lease_seconds: int          # RECON_LEASE_SECONDS: a RUNNING claim older than this is taken over
    retry_delay_seconds: int    # RECON_RETRY_DELAY_SECONDS: a busy batch's event comes back after this


# DuckDB's memory limit outside Lambda: the process stays near 1 GB whatever the file
# size (DuckDB spills beyond it; Python and DuckDB's own buffers come on top).
RECON_DEFAULT_MEMORY_LIMIT = "640MB"


def _recon_memory_limit() -> str:
    """RECON_MEMORY_LIMIT, else 60 % of the Lambda's memory (the rest is Python, boto3,
    buffers), else RECON_DEFAULT_MEMORY_LIMIT."""
    explicit = os.environ.get("RECON_MEMORY_LIMIT", "")
    if explicit:
        return explicit
    lambda_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    return f"{int(lambda_mb) * 6 // 10}MB" if lambda_mb.isdigit() else RECON_DEFAULT_MEMORY_LIMIT


def recon_settings(require_aws: bool = True) -> ReconSettings:
    """The reconciliation settings; `require_aws=False` for the CLI, which needs no AWS."""
    import tempfile

    def aws_name(name: str) -> str:
        return _required(name) if require_aws else os.environ.get(name, "")

    return ReconSettings(
        bucket=aws_name("RECON_BUCKET"),
        batches_table=aws_name("RECON_BATCHES_TABLE"),
        queue_url=os.environ.get("RECON_QUEUE_URL", ""),
        tmp_dir=os.environ.get("RECON_TMP_DIR") or tempfile.gettempdir(),
        memory_limit=_recon_memory_limit(),
        threads=_integer("RECON_THREADS", 0),
        lease_seconds=_integer("RECON_LEASE_SECONDS", 960),
        retry_delay_seconds=_integer("RECON_RETRY_DELAY_SECONDS", 30),
    )


def eager_handler_imports() -> bool:
    """EAGER_HANDLER_IMPORTS=1: app.py loads every handler's code when imported (the local stage,
    where one process serves every route and the first requests must not pay for it)."""
    return os.environ.get("EAGER_HANDLER_IMPORTS", "") == "1"


def swagger_ui_dir() -> str:
    """SWAGGER_UI_DIR: the npm package swagger-ui-dist's folder, behind `GET /docs` ("" in the
    cloud, where the page is not served; the local stack sets it)."""
    return os.environ.get("SWAGGER_UI_DIR", "")


# Exports (chalicelib/exports): each side's Lambda gets only its own names; the CLI reads
# the same variables, and a side whose variables are missing cannot be exported.
@dataclass(frozen=True)
class ExportSettings:
    bucket: str                 # EXPORT_BUCKET: the recon bucket; files go to incoming/<tenant>/<batch>/<side>/
    tmp_dir: str                # EXPORT_TMP_DIR: where a file is spooled before its upload
    page_size: int              # EXPORT_PAGE_SIZE: items per DynamoDB query/scan page
    merchant_tenant: str        # MERCHANT_SYSTEM_TENANT: the simulated merchant system's tenant at
                                # the center, under which its own side is filed ("" : not exported)
    merchant_orders_table: str  # MERCHANT_ORDERS_TABLE (merchant side)
    orders_table: str           # ORDERS_TABLE (payment side)
    ledger_table: str           # LEDGER_TABLE (payment side)


def export_settings() -> ExportSettings:
    import tempfile

    return ExportSettings(
        bucket=_required("EXPORT_BUCKET"),
        tmp_dir=os.environ.get("EXPORT_TMP_DIR") or tempfile.gettempdir(),
        page_size=_integer("EXPORT_PAGE_SIZE", 1000),
        merchant_tenant=_optional_tenant("MERCHANT_SYSTEM_TENANT"),
        merchant_orders_table=os.environ.get("MERCHANT_ORDERS_TABLE", ""),
        orders_table=os.environ.get("ORDERS_TABLE", ""),
        ledger_table=os.environ.get("LEDGER_TABLE", ""),
    )


# Marketing subsidies (chalicelib/subsidies) and the channel they call (chalicelib/channel).
@dataclass(frozen=True)
class SubsidySettings:
    table: str                          # SUBSIDIES_TABLE: subsidies, returns, transactions, guards
    channel_url: str                    # CHANNEL_URL: base URL of the channel (the simulator locally)
    channel_connect_timeout: float      # CHANNEL_CONNECT_TIMEOUT_SECONDS
    channel_read_timeout: float         # CHANNEL_READ_TIMEOUT_SECONDS: then the outcome is UNKNOWN
    lease_seconds: float                # SUBSIDY_LEASE_SECONDS: one in-flight call's lease
    wait_seconds: float                 # SUBSIDY_WAIT_SECONDS: a duplicate waits this long, then 3002
    retry_after_seconds: float          # SUBSIDY_RETRY_AFTER_SECONDS: the sweeper's wait before a re-send
    sweeper_max_tries: int              # SUBSIDY_SWEEPER_MAX_TRIES: then NEEDS_ATTENTION
    sweeper_max_records: int            # SUBSIDY_SWEEPER_MAX_RECORDS: re-sends per sweeper run


def subsidy_settings() -> SubsidySettings:
    connect = _number("CHANNEL_CONNECT_TIMEOUT_SECONDS", 2)
    read = _number("CHANNEL_READ_TIMEOUT_SECONDS", 5)
    return SubsidySettings(
        table=_required("SUBSIDIES_TABLE"),
        channel_url=_required("CHANNEL_URL"),
        channel_connect_timeout=connect,
        channel_read_timeout=read,
        # The lease outlives a whole call (connect + read) with a margin: a holder whose lease
        # has expired has given up on its call, so a take-over never races a live call of ours.
        lease_seconds=_number("SUBSIDY_LEASE_SECONDS", connect + read + 5),
        wait_seconds=_number("SUBSIDY_WAIT_SECONDS", 1),
        retry_after_seconds=_number("SUBSIDY_RETRY_AFTER_SECONDS", 30),
        sweeper_max_tries=_integer("SUBSIDY_SWEEPER_MAX_TRIES", 5),
        sweeper_max_records=_integer("SUBSIDY_SWEEPER_MAX_RECORDS", 100),
    )


# Profit sharing and its returns on refunds (chalicelib/sharing): same channel as subsidies.
@dataclass(frozen=True)
class SharingSettings:
    table: str                          # SHARING_TABLE: sharing records, returns, relations, guards
    transactions_table: str             # SUBSIDIES_TABLE: the channel's paid-order notices (TXN#...)
    channel_url: str                    # CHANNEL_URL
    channel_connect_timeout: float      # CHANNEL_CONNECT_TIMEOUT_SECONDS
    channel_read_timeout: float         # CHANNEL_READ_TIMEOUT_SECONDS
    lease_seconds: float                # SHARING_LEASE_SECONDS: one in-flight call's lease
    wait_seconds: float                 # SHARING_WAIT_SECONDS: a duplicate waits this long, then 3002
    retry_after_seconds: float          # SHARING_RETRY_AFTER_SECONDS: wait before re-sending an UNKNOWN
    follow_after_seconds: float         # SHARING_FOLLOW_AFTER_SECONDS: wait before querying a PENDING result
    unfreeze_after_seconds: float       # SHARING_UNFREEZE_AFTER_SECONDS: unfreezeOrder 2, the scheduled unfreeze's delay
    scheduler_max_records: int          # SHARING_SCHEDULER_MAX_RECORDS: records per scheduler run
    scheduler_max_tries: int            # SHARING_SCHEDULER_MAX_TRIES: re-sends of one record, then NEEDS_ATTENTION


def sharing_settings() -> SharingSettings:
    connect = _number("CHANNEL_CONNECT_TIMEOUT_SECONDS", 2)
    read = _number("CHANNEL_READ_TIMEOUT_SECONDS", 5)
    return SharingSettings(
        table=_required("SHARING_TABLE"),
        transactions_table=os.environ.get("SUBSIDIES_TABLE", ""),
        channel_url=_required("CHANNEL_URL"),
        channel_connect_timeout=connect,
        channel_read_timeout=read,
        lease_seconds=_number("SHARING_LEASE_SECONDS", connect + read + 5),
        wait_seconds=_number("SHARING_WAIT_SECONDS", 1),
        retry_after_seconds=_number("SHARING_RETRY_AFTER_SECONDS", 30),
        follow_after_seconds=_number("SHARING_FOLLOW_AFTER_SECONDS", 5),
        unfreeze_after_seconds=_number("SHARING_UNFREEZE_AFTER_SECONDS", 86400),
        scheduler_max_records=_integer("SHARING_SCHEDULER_MAX_RECORDS", 100),
        scheduler_max_tries=_integer("SHARING_SCHEDULER_MAX_TRIES", 5),
    )


# Trade settlement (chalicelib/payments/trades): its own table, the payment core's journal.
@dataclass(frozen=True)
class TradeSettings:
    trades_table: str                   # TRADES_TABLE: trades and their settlement records
    ledger_table: str                   # LEDGER_TABLE: the accounts and journal of the core


def trade_settings() -> TradeSettings:
    return TradeSettings(trades_table=_required("TRADES_TABLE"),
                         ledger_table=_required("LEDGER_TABLE"))


# Request signing (chalicelib/auth): who may call the center, and replay protection.
@dataclass(frozen=True)
class AuthSettings:
    credentials_secret: str     # CALLER_CREDENTIALS_SECRET: SecretId of every caller's credential
    nonces_table: str           # NONCES_TABLE: one item per nonce seen, expiring by TTL
    cache_seconds: int          # CALLER_CREDENTIALS_CACHE_SECONDS: how long a read secret is trusted
    window_seconds: int         # SIGNATURE_WINDOW_SECONDS: |now - X-Timestamp| allowed


def caller_credentials_secret() -> str:
    """CALLER_CREDENTIALS_SECRET alone: all the scheduled exports need to list the tenants."""
    return _required("CALLER_CREDENTIALS_SECRET")


def auth_settings() -> AuthSettings:
    return AuthSettings(
        credentials_secret=_required("CALLER_CREDENTIALS_SECRET"),
        nonces_table=_required("NONCES_TABLE"),
        cache_seconds=_integer("CALLER_CREDENTIALS_CACHE_SECONDS", 60),
        window_seconds=_integer("SIGNATURE_WINDOW_SECONDS", 300),
    )


# DynamoDB tables by the setting that names them (the PynamoDB models bind through this).
TABLE_SETTINGS = ("ORDERS_TABLE", "LEDGER_TABLE", "MERCHANT_ORDERS_TABLE", "SUBSIDIES_TABLE",
                  "TRADES_TABLE", "NONCES_TABLE", "RECON_BATCHES_TABLE", "SHARING_TABLE")


def table_name(setting: str) -> str:
    """The table the stage names in `setting` (one of TABLE_SETTINGS), read now."""
    if setting not in TABLE_SETTINGS:
        raise MissingSetting(f"{setting} is not a table setting")
    return _required(setting)


# The ledger auditor (chalicelib/payments/auditor.py).
@dataclass(frozen=True)
class AuditSettings:
    ledger_table: str           # LEDGER_TABLE
    snapshot_tries: int         # LEDGER_AUDIT_SNAPSHOT_TRIES: re-reads of one busy account, then skipped
    page_size: int              # LEDGER_AUDIT_PAGE_SIZE: items per scan/query page


def audit_settings() -> AuditSettings:
    return AuditSettings(ledger_table=_required("LEDGER_TABLE"),
                         snapshot_tries=_integer("LEDGER_AUDIT_SNAPSHOT_TRIES", 8),
                         page_size=_integer("LEDGER_AUDIT_PAGE_SIZE", 500))
