"""PaySettle's Chalice app: routes and event handlers only."""
from chalice import Cron, Rate

from chalicelib import docs_site, openapi
from chalicelib.auth import gate
from chalicelib.auth.credentials import ACCOUNTS, BUSINESS_LINE, CHANNEL, MERCHANT, SALERS, SUB_MCHS
from chalicelib.exports import service as exports
from chalicelib.http import ThreadSafeChalice, envelope, enveloped, handled, json_response
from chalicelib.merchant import context as merchant_context
from chalicelib.merchant import resolver as merchant_resolver
from chalicelib.merchant import service as merchant
from chalicelib.merchant.messages import MerchantPayRequest, MerchantWithdrawRequest
from chalicelib.merchant.messages import idempotency_key as merchant_idempotency_key
from chalicelib.payments import accounts, aggregator, service, sweeper
from chalicelib.payments.context import from_environment
from chalicelib.payments.messages import PayRequest, WithdrawRequest, parse
from chalicelib.payments.orders import Kind
from chalicelib.payments.trades import applier as trade_applier
from chalicelib.payments.trades import context as trades_context
from chalicelib.payments.trades import service as trades
from chalicelib.payments.trades.messages import AccountRequest, PayTradeRequest, TradeRequest
from chalicelib.recon import service as recon
from chalicelib.sharing import notifications as sharing_notifications
from chalicelib.sharing import orders as sharing_orders
from chalicelib.sharing import refunds as sharing_refunds
from chalicelib.sharing import scheduler as sharing_scheduler
from chalicelib.sharing.context import from_environment as sharing_context
from chalicelib.sharing.messages import RefundNotification, SharingNotification, SharingRequest
from chalicelib.subsidies import service as subsidies
from chalicelib.subsidies import sweeper as subsidy_sweeper
from chalicelib.subsidies import transactions as subsidy_transactions
from chalicelib.subsidies.context import from_environment as subsidy_context
from chalicelib.subsidies.messages import (SubsidyRequest, SubsidyReturnRequest,
                                           TransactionNotification)


app = ThreadSafeChalice(app_name="paysettle")


def signed(role=None):
    """The verified caller of the current request (else 401), holding `role` if one is named
    (else 403): every money route asks first, before its body is parsed, so nothing about an
    unsigned or misdirected request is looked at."""
    caller = gate.caller(app.current_request)
    if role is not None:
        caller.require_role(role)
    return caller


@app.route("/pay", methods=["POST"])
@handled
def pay():
    caller = signed(MERCHANT)
    request = parse(PayRequest, app.current_request.raw_body)
    caller.require_subject(SALERS, request.saler_id, "saler_id")
    return json_response(service.pay(from_environment(), request).order.response())


@app.route("/withdraw", methods=["POST"])
@handled
def withdraw():
    caller = signed(MERCHANT)
    request = parse(WithdrawRequest, app.current_request.raw_body)
    caller.require_subject(SALERS, request.saler_id, "saler_id")
    return json_response(service.withdraw(from_environment(), request).order.response())


@app.route("/orders/pay/{request_id}", methods=["GET"])
@handled
def pay_order(request_id):
    signed()
    return json_response(service.find_order(from_environment(), Kind.PAY, request_id).response())


@app.route("/orders/withdraw/{request_id}", methods=["GET"])
@handled
def withdraw_order(request_id):
    signed()
    return json_response(service.find_order(from_environment(), Kind.WITHDRAW, request_id).response())


@app.route("/accounts/{saler_id}", methods=["GET"])
@handled
def account(saler_id):
    signed().require_any_subject((SALERS, ACCOUNTS), saler_id, "saler_id")
    return json_response(accounts.account_view(from_environment(), saler_id))


@app.route("/accounts/{saler_id}/journal", methods=["GET"])
@handled
def account_journal(saler_id):
    signed().require_any_subject((SALERS, ACCOUNTS), saler_id, "saler_id")
    query = app.current_request.query_params or {}
    return json_response(accounts.journal(from_environment(), saler_id,
                                          query.get("limit"), query.get("cursor"),
                                          query.get("sub_account")))


# Trade settlement (seed 002): answers in the {"code", "message", "data"} envelope.
@app.route("/accounts", methods=["POST"])
@enveloped
def declare_account():
    caller = signed(BUSINESS_LINE)
    request = parse(AccountRequest, app.current_request.raw_body)
    caller.require_subject(ACCOUNTS, request.account_id, "account_id")
    return envelope(accounts.declare(from_environment(), request))


@app.route("/trades", methods=["POST"])
@enveloped
def record_trade():
    caller = signed(BUSINESS_LINE)
    request = parse(TradeRequest, app.current_request.raw_body)
    caller.require_subject(ACCOUNTS, request.buyer_id, "buyer_id")
    caller.require_subject(ACCOUNTS, request.seller_id, "seller_id")
    return envelope(trades.record_trade(trades_context.from_environment(), request))


@app.route("/trades/{trans_id}", methods=["GET"])
@enveloped
def get_trade(trans_id):
    signed()
    return envelope(trades.find_trade(trades_context.from_environment(), trans_id))


@app.route("/trades/{trans_id}/pay", methods=["POST"])
@enveloped
def pay_trade(trans_id):
    caller = signed(BUSINESS_LINE)
    request = parse(PayTradeRequest, app.current_request.raw_body)
    # The parties are the recorded trade's (404 if there is none): paying moves their money.
    context = trades_context.from_environment()
    trade = trades.find_trade(context, trans_id)["trade"]
    caller.require_subject(ACCOUNTS, trade["buyer_id"], "buyer_id")
    caller.require_subject(ACCOUNTS, trade["seller_id"], "seller_id")
    return envelope(trades.pay_trade(context, trans_id, request))


@app.schedule(Rate(1, unit=Rate.MINUTES), name="trade_applier")
def run_trade_applier(event):
    return trade_applier.run(trades_context.from_environment()).as_dict()


@app.schedule(Rate(1, unit=Rate.MINUTES), name="aggregator")
def run_aggregator(event):
    return aggregator.run(from_environment()).as_dict()


@app.schedule(Rate(1, unit=Rate.MINUTES), name="sweeper")
def run_sweeper(event):
    return sweeper.run(from_environment()).as_dict()


# Daily at 00:30 China time (16:30 UTC): each side exports the previous China-time day as
# batch yyyyMMdd. The half hour lets the last credits of the day reach the journal; a payment
# export that still finds one pending raises, and Lambda retries the invocation.
@app.schedule(Rate(1, unit=Rate.HOURS), name="ledger_auditor")
def run_ledger_auditor(event):
    # Imported here: only this function reads through PynamoDB, so the API's cold start does
    # not load it (benchmarks/models.py measures the import).
    from chalicelib.payments import auditor
    return auditor.scheduled().as_dict()


@app.schedule(Cron(30, 16, "*", "*", "?", "*"), name="merchant_export")
def run_merchant_export(event):
    return exports.scheduled(exports.MERCHANT, event.time)


@app.schedule(Cron(30, 16, "*", "*", "?", "*"), name="payment_export")
def run_payment_export(event):
    return exports.scheduled(exports.PAYMENT, event.time)


@app.route("/recon/{batch}", methods=["GET"])
@handled
def recon_batch(batch):
    return json_response(recon.batch_status(batch))


@app.route("/openapi.json", methods=["GET"])
@handled
def openapi_document():
    prefix = openapi.mount_prefix(app.current_request, "/openapi.json")
    return json_response(openapi.document(server_url=prefix or "/"))


@app.route("/docs", methods=["GET"])
@handled
def docs_page():
    return docs_site.page(openapi.mount_prefix(app.current_request, "/docs"))


@app.route("/docs/{asset}", methods=["GET"])
@handled
def docs_asset(asset):
    return docs_site.asset(asset)


# S3 ObjectCreated on incoming/ -> ReconQueue -> here. The queue's name is only known once
# CloudFormation has created it: infra/resources.json overrides this function's event source
# with {"Fn::Sub": "${ReconQueue.Arn}"} (chalice deep-merges, so a Fn::GetAtt there would sit
# beside chalice's own Fn::Sub). "ReconQueue", the template's logical id, is a placeholder the
# local stack's pump also resolves.
@app.on_sqs_message(queue="ReconQueue", batch_size=1, name="recon")
def reconcile(event):
    return recon.handle_sqs_event(recon.from_environment(), event.to_dict())


# The simulated merchant system (seed 003): its own orders, calling the payment API over HTTP.
@app.route("/merchant/pay", methods=["POST"])
@handled
def merchant_pay():
    key = merchant_idempotency_key(app.current_request.headers)
    request = parse(MerchantPayRequest, app.current_request.raw_body)
    return json_response(merchant.place(merchant_context.from_environment(), request, key).view())


@app.route("/merchant/withdraw", methods=["POST"])
@handled
def merchant_withdraw():
    key = merchant_idempotency_key(app.current_request.headers)
    request = parse(MerchantWithdrawRequest, app.current_request.raw_body)
    return json_response(merchant.place(merchant_context.from_environment(), request, key).view())


@app.route("/merchant/orders/{request_id}", methods=["GET"])
@handled
def merchant_order(request_id):
    return json_response(merchant.find(merchant_context.from_environment(), request_id).view())


@app.schedule(Rate(1, unit=Rate.MINUTES), name="merchant_resolver")
def run_merchant_resolver(event):
    return merchant_resolver.run(merchant_context.from_environment()).as_dict()


# Marketing subsidies and their returns (seed 000): answers {"code", "message", "data"}.
@app.route("/subsidies", methods=["POST"])
@enveloped
def create_subsidy():
    caller = signed(BUSINESS_LINE)
    request = parse(SubsidyRequest, app.current_request.raw_body)
    caller.require_subject(SUB_MCHS, request.subMchId, "subMchId")
    return envelope(subsidies.create(subsidy_context(), request))


@app.route("/subsidies/returns", methods=["POST"])
@enveloped
def return_subsidy():
    caller = signed(BUSINESS_LINE)
    request = parse(SubsidyReturnRequest, app.current_request.raw_body)
    caller.require_subject(SUB_MCHS, request.subMchId, "subMchId")
    return envelope(subsidies.return_subsidy(subsidy_context(), request))


@app.route("/subsidies/{bizSubsidiesId}", methods=["GET"])
@enveloped
def subsidy(bizSubsidiesId):  # noqa: N803 - the path parameter is named as the API names it
    signed()
    return envelope(subsidies.view(subsidy_context(), bizSubsidiesId))


# The channel's notice of a paid order: paymentOrderId -> transaction_id, openid, sub_mchid.
@app.route("/channel/notifications/transactions", methods=["POST"])
@enveloped
def channel_transaction_notification():
    signed(CHANNEL)
    notice = parse(TransactionNotification, app.current_request.raw_body)
    outcome = subsidy_transactions.record(subsidy_context(), notice)
    return json_response({"code": "SUCCESS", "message": outcome})


@app.schedule(Rate(1, unit=Rate.MINUTES), name="subsidy_sweeper")
def run_subsidy_sweeper(event):
    return subsidy_sweeper.run(subsidy_context()).as_dict()


# Profit sharing and its returns on refunds (seed 001): answers {"code", "message", "data"}.
SHARING_MAX_BODY_BYTES = 16384      # 50 receivers do not fit the default 4096


@app.route("/sharing/orders", methods=["POST"])
@enveloped
def create_sharing():
    caller = signed(BUSINESS_LINE)
    request = parse(SharingRequest, app.current_request.raw_body, max_bytes=SHARING_MAX_BODY_BYTES)
    context = sharing_context()
    # The body names no sub-merchant: the paid order's does (an order not notified as paid
    # is refused by share() itself, 4047).
    owner = sharing_orders.paid_sub_merchant(context, request.paymentOrderId)
    if owner is not None:
        caller.require_subject(SUB_MCHS, owner, "paymentOrderId")
    return envelope(sharing_orders.share(context, request))


@app.route("/sharing/orders/{tradeId}", methods=["GET"])
@enveloped
def sharing_order(tradeId):  # noqa: N803 - the path parameter is named as the API names it
    signed()
    return envelope(sharing_orders.view(sharing_context(), tradeId))


@app.route("/sharing/refunds", methods=["POST"])
@enveloped
def sharing_refund():
    caller = signed(BUSINESS_LINE)
    notice = parse(RefundNotification, app.current_request.raw_body, max_bytes=SHARING_MAX_BODY_BYTES)
    caller.require_subject(SUB_MCHS, notice.subMchId, "subMchId")
    return envelope(sharing_refunds.handle(sharing_context(), notice))


@app.route("/sharing/refunds/{refundId}", methods=["GET"])
@enveloped
def sharing_refund_view(refundId):  # noqa: N803
    signed()
    return envelope(sharing_refunds.view(sharing_context(), refundId))


@app.route("/channel/notifications/profitsharing", methods=["POST"])
@enveloped
def channel_profitsharing_notification():
    signed(CHANNEL)
    notice = parse(SharingNotification, app.current_request.raw_body, max_bytes=SHARING_MAX_BODY_BYTES)
    outcome = sharing_notifications.profitsharing(sharing_context(), notice)
    return json_response({"code": "SUCCESS", "message": outcome})


@app.schedule(Rate(1, unit=Rate.MINUTES), name="sharing_scheduler")
def run_sharing_scheduler(event):
    return sharing_scheduler.run(sharing_context()).as_dict()


# Refund notices (seed 001's JSON) -> RefundQueue -> here; "RefundQueue" is resolved like
# "ReconQueue" (infra/resources.json overrides the event source with the queue's ARN).
@app.on_sqs_message(queue="RefundQueue", batch_size=1, name="sharing_refunds")
def handle_refund_notices(event):
    return sharing_notifications.handle_sqs_event(sharing_context(), event.to_dict())
