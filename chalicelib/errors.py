"""The one table of error codes, shared by every API of PaySettle.

Each code has a number (stable, for machines), the HTTP status it is answered
with, and a message (for people). The README lists the same table; a test keeps
the two in step.
"""
from enum import Enum
from typing import Any, Iterable, List, Mapping, Optional

# The words every reentry refusal begins with, on every API (the subsidy rules' 1030 message).
REENTRY_WORDS = "请求重入参数校验失败"


class ErrorCode(Enum):
    INVALID_FIELD = (1001, 400, "invalid field")
    MALFORMED_BODY = (1002, 400, "request body is not a JSON object")
    BODY_TOO_LARGE = (1003, 400, "request body is too large")
    REENTRY_MISMATCH = (1030, 409, f"{REENTRY_WORDS}: the key was already used with other parameters")
    TRANSACTION_CONFLICT = (1031, 409, "another transaction was already notified for this payment_order_id")
    INSUFFICIENT_BALANCE = (2001, 200, "账户余额不足，提款失败")
    # Trade settlement (chalicelib/payments/trades/rules.py): one code per settlement rule.
    FEE_FIELDS_NOT_TOGETHER = (2101, 422, "fee_type, fee_settlement_type and pay_mode are given together or not at all")
    PAY_MODE_MISMATCH = (2102, 422, "pay_mode differs from the trade's payment_mode")
    REALTIME_FEE_COLLECTED_LATER = (2104, 422, "a realtime fee settlement cannot be collected later (fee_type 2)")
    FEE_BEFORE_TRADE = (2105, 422, "the fee would settle before the trade (async trade, realtime fee)")
    FEE_EXCEEDS_CASH = (2106, 422, "the fee is larger than the trade's cash amount")
    FEE_ACCOUNT_NOT_FOUND = (2107, 422, "the fee account is not given or does not exist")
    FEE_ACCOUNT_IS_PARTY = (2108, 422, "the fee account is the trade's seller or buyer")
    FEE_ACCOUNT_NOT_C = (2109, 422, "the fee account is not a C (platform) account")
    BUYER_FEE_ACCOUNT_NOT_FOUND = (2110, 422, "the buyer-fee account is not given or does not exist")
    BUYER_FEE_ACCOUNT_IS_PARTY = (2111, 422, "the buyer-fee account is the trade's seller or buyer")
    BUYER_FEE_ACCOUNT_NOT_C = (2112, 422, "the buyer-fee account is not a C (platform) account")
    SHARING_ACCOUNT_NOT_FOUND = (2113, 422, "an account of the sharing solution does not exist")
    SHARING_ACCOUNT_NOT_NORMAL = (2114, 422, "an account of the sharing solution is frozen or closed")
    SHARING_ACCOUNT_IS_PARTY = (2115, 422, "an account of the sharing solution is the seller or the buyer")
    UP_MERCHANT_NOT_IN_SOLUTION = (2116, 422, "an up-merchant does not appear in the sharing solution")
    UP_MERCHANT_SET_MISMATCH = (2117, 422, "up-merchants and solution users are not the same set of at most 2, one per level")
    UP_MERCHANT_FEE_CHAIN = (2118, 422, "the up-merchants' fee_amount / fee_plus_amount do not chain")
    SHARING_EXCEEDS_PROCEEDS = (2119, 422, "the sharing amounts exceed what the seller receives")
    ACCOUNT_NOT_NORMAL = (2120, 422, "an account of the trade is frozen or closed")
    TRADE_PARTY_NOT_FOUND = (2121, 422, "the trade's buyer or seller has no account")
    TRADE_BALANCE_SHORT = (2122, 422, "the buyer's balance does not cover the cash amount plus the buyer fee")
    TRADE_TOO_LARGE = (2123, 422, "the settlement needs more than 100 items in one DynamoDB transaction")
    PAY_MODE_SPLIT_MISMATCH = (2124, 422, "the pay_mode_var parts do not add up to what the buyer pays")
    NEED_SHARE_PROFIT_MISMATCH = (2125, 422, "need_share_profit does not match billing_solution "
                                             "(true needs a sharing amount, false allows none)")
    FEE_PAYER_COLLECTED_LATER = (2126, 422, "a fee the buyer bears is paid with the trade; it cannot be "
                                            "collected later (fee_type 2)")
    RECEIVABLE_NOT_SUPPORTED = (2127, 422, "settling a receivable (recv_recvable_id, credit_recv) is not supported")
    MKT_SOLUTION_ID_WITHOUT_SOLUTION = (2128, 422, "mkt_solution_id needs the mkt_solution it names")
    SPECIAL_CODE_NOT_SUPPORTED = (2129, 422, "special_code is not supported: no special handling is defined")
    PAYMENT_PLAN_NOT_SUPPORTED = (2130, 422, "parallel_type MULTIPLE_IN (a payment plan of several "
                                             "incoming payments) is not supported")
    RETURN_EXCEEDS_SUBSIDY = (3001, 409, "amount is over what is left of the subsidy "
                                         "(returned and returning amounts included)")
    REENTRY_IN_PROGRESS = (3002, 409, "the same request is in progress; retry it unchanged")
    CHANNEL_REJECTED = (3003, 422, "the channel refused; nothing moved; the same request may be sent again")
    SUBSIDY_NOT_RETURNABLE = (3004, 409, "the subsidy has not succeeded, so nothing can be returned")
    SHARING_EXCEEDS_ORDER = (3005, 409, "the receivers' total is over the paid order's amount")
    SHARING_IN_PROGRESS = (3006, 409, "the order's profit sharing is still in progress at the channel; "
                                      "send the refund again later")
    REFUND_EXCEEDS_ORDER = (3007, 409, "the refunds of this order would exceed its total")
    # Request signing (chalicelib/auth): 401 who is calling is not established, 403 it is but may not.
    SIGNATURE_MISSING = (4011, 401, "a signing header is missing (X-Key-Id, X-Timestamp, X-Nonce, X-Signature)")
    SIGNATURE_INVALID = (4012, 401, "the signature does not match the request")
    KEY_UNKNOWN = (4013, 401, "no credential has this key id")
    TIMESTAMP_OUT_OF_WINDOW = (4014, 401, "X-Timestamp is not epoch seconds within the allowed window of now")
    NONCE_REPLAYED = (4015, 401, "this nonce was already used by this key, or is not 16-64 characters of A-Z a-z 0-9 _ -")
    ROLE_NOT_ALLOWED = (4031, 403, "this key's roles do not allow this route")
    SUBJECT_NOT_OWNED = (4032, 403, "the named subject is outside this key's scope")
    ORDER_NOT_FOUND = (4041, 404, "order not found")
    ACCOUNT_NOT_FOUND = (4042, 404, "account not found")
    RECON_BATCH_NOT_FOUND = (4043, 404, "reconciliation batch not found")
    MERCHANT_ORDER_NOT_FOUND = (4044, 404, "merchant order not found")
    DOCS_NOT_SERVED = (4045, 404, "docs are served on the local stack (make serve); "
                                  "here SWAGGER_UI_DIR is not set")
    DOCS_ASSET_NOT_FOUND = (4046, 404, "no such Swagger UI file")
    PAYMENT_ORDER_NOT_FOUND = (4047, 404, "no paid channel transaction is known for this paymentOrderId")
    SUBSIDY_NOT_FOUND = (4048, 404, "no subsidy with this bizSubsidiesId")
    SHARING_NOT_FOUND = (4049, 404, "no profit sharing for this tradeId")
    SHARING_REFUND_NOT_FOUND = (4050, 404, "no profit-sharing return for this refundId")
    TRADE_NOT_FOUND = (4051, 404, "trade not found")
    INTERNAL = (5001, 500, "internal error; the request may be retried with the same request_id")
    BUSY = (5031, 503, "busy, retry with the same request_id")
    OUTCOME_UNKNOWN = (5041, 504, "the channel's answer was lost: the outcome is unknown; retry the same "
                                  "request (the same outbound number is sent again)")

    def __init__(self, number: int, http_status: int, message: str):
        self.number = number
        self.http_status = http_status
        self.message = message


class PaySettleError(Exception):
    """A refusal with a code from the table; `field` names the offending input."""

    def __init__(self, code: ErrorCode, detail: Optional[str] = None,
                 field: Optional[str] = None):
        self.code = code
        self.field = field
        self.detail = detail
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.field and self.detail:
            return f"{self.field}: {self.detail}"
        return self.detail or self.code.message


class InvalidField(PaySettleError):
    def __init__(self, field: str, detail: str):
        super().__init__(ErrorCode.INVALID_FIELD, detail=detail, field=field)



class ReentryRefused(PaySettleError):
    """A reentry refusal: an idempotency key (a request id, bizSubsidiesId, tradeId, refundId,
    trans_id, account_id, an Idempotency-Key, ...) used again with other parameters. Nothing
    changed. Every API answers it alike: 1030 / HTTP 409, a message that begins with
    请求重入参数校验失败, then the key (its field and value) and the parameters that differ.

    `different` names the differing parameters; `was` may give the stored value of some of
    them, only where a value is no secret and no full account number."""

    def __init__(self, key_field: str, key_value: str, different: Iterable[str],
                 was: Optional[Mapping[str, Any]] = None, data: Optional[dict] = None):
        self.key_value = key_value
        self.different = tuple(different)
        self.was = dict(was or {})
        self.data = data
        super().__init__(ErrorCode.REENTRY_MISMATCH, field=key_field,
                         detail=f"{key_value} was already used with other parameters")

    @property
    def message(self) -> str:
        named = ", ".join(f"{name} (was {self.was[name]})" if name in self.was else name
                          for name in self.different)
        text = f"{REENTRY_WORDS}: {self.field} {self.key_value} was already used with other parameters"
        return f"{text}: {named}" if named else text


def differing(before: Mapping[str, Any], after: Mapping[str, Any]) -> List[str]:
    """The names whose values differ between a key's stored parameters and a new request's."""
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
