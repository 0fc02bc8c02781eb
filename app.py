"""PaySettle's Chalice app: routes and event handlers only."""
from chalice import Cron, Rate

from chalicelib import lazy, logs
from chalicelib.auth.credentials import ACCOUNTS, BUSINESS_LINE, CHANNEL, MERCHANT, SALERS, SUB_MCHS
from chalicelib.http import ThreadSafeChalice, envelope, enveloped, handled, json_response

# The code behind each route and event handler, loaded when a handler first uses it: each
# function's cold start imports only what its own events need (chalicelib/lazy.py).
gate = lazy.module("chalicelib.auth.gate")
docs_site = lazy.module("chalicelib.docs_site")
exports = lazy.module("chalicelib.exports.service")
openapi = lazy.module("chalicelib.openapi")
accounts = lazy.module("chalicelib.payments.accounts")
aggregator = lazy.module("chalicelib.payments.aggregator")
payment_messages = lazy.module("chalicelib.payments.messages")
orders = lazy.module("chalicelib.payments.orders")
service = lazy.module("chalicelib.payments.service")
sweeper = lazy.module("chalicelib.payments.sweeper")
trade_applier = lazy.module("chalicelib.payments.trades.applier")
trades_context = lazy.module("chalicelib.payments.trades.context")
trade_messages = lazy.module("chalicelib.payments.trades.messages")
trades = lazy.module("chalicelib.payments.trades.service")
recon = lazy.module("chalicelib.recon.service")
sharing_messages = lazy.module("chalicelib.sharing.messages")
sharing_notifications = lazy.module("chalicelib.sharing.notifications")
sharing_orders = lazy.module("chalicelib.sharing.orders")
sharing_refunds = lazy.module("chalicelib.sharing.refunds")
sharing_scheduler = lazy.module("chalicelib.sharing.scheduler")
sharing_unfreeze = lazy.module("chalicelib.sharing.unfreeze")
subsidy_messages = lazy.module("chalicelib.subsidies.messages")
subsidies = lazy.module("chalicelib.subsidies.service")
subsidy_sweeper = lazy.module("chalicelib.subsidies.sweeper")
subsidy_transactions = lazy.module("chalicelib.subsidies.transactions")
from_environment = lazy.function("chalicelib.payments.context", "from_environment")
parse = lazy.function("chalicelib.schemas", "parse")
sharing_context = lazy.function("chalicelib.sharing.context", "from_environment")
subsidy_context = lazy.function("chalicelib.subsidies.context", "from_environment")
tenant_of = lazy.function("chalicelib.tenant_keys", "tenant_of")


app = ThreadSafeChalice(app_name="paysettle")
# Every line logged while a route or an event handler runs names its Lambda request id, cold
# start, function and correlation id.
app.register_middleware(logs.lambda_context_middleware, "all")


def signed(role=None):
    """The verified caller of the current request (else 401), holding `role` if one is named
    (else 403): every money route asks first, before its body is parsed, so nothing about an
    unsigned or misdirected request is looked at. `caller.tenant` is whose records the request
    may write and read (403 for a key of no tenant)."""
    caller = gate.caller(app.current_request)
    if role is not None:
        caller.require_role(role)
    return caller


@app.route("/pay", methods=["POST"])
@handled
def pay():
    caller = signed(MERCHANT)
    request = parse(payment_messages.PayRequest, app.current_request.raw_body)
    caller.require_subject(SALERS, request.saler_id, "saler_id")
    return json_response(service.pay(from_environment(caller.tenant), request).order.response())


@app.route("/withdraw", methods=["POST"])
@handled
def withdraw():
    caller = signed(MERCHANT)
    request = parse(payment_messages.WithdrawRequest, app.current_request.raw_body)
    caller.require_subject(SALERS, request.saler_id, "saler_id")
    return json_response(service.withdraw(from_environment(caller.tenant), request).order.response())


@app.route("/orders/pay/{request_id}", methods=["GET"])
@handled
def pay_order(request_id):
    context = from_environment(signed().tenant)
    return json_response(service.find_order(context, orders.Kind.PAY, request_id).response())


@app.route("/orders/withdraw/{request_id}", methods=["GET"])
@handled
def withdraw_order(request_id):
    context = from_environment(signed().tenant)
    return json_response(service.find_order(context, orders.Kind.WITHDRAW, request_id).response())


@app.route("/accounts/{saler_id}", methods=["GET"])
@handled
def account(saler_id):
    caller = signed()
    context = from_environment(caller.tenant)
    caller.require_any_subject((SALERS, ACCOUNTS), saler_id, "saler_id")
    return json_response(accounts.account_view(context, saler_id))


@app.route("/accounts/{saler_id}/journal", methods=["GET"])
@handled
def account_journal(saler_id):
    caller = signed()
    context = from_environment(caller.tenant)
    caller.require_any_subject((SALERS, ACCOUNTS), saler_id, "saler_id")
    query = app.current_request.query_params or {}
    return json_response(accounts.journal(context, saler_id,
                                          query.get("limit"), query.get("cursor"),
                                          query.get("sub_account")))


# Trade settlement: answers in the {"code", "message", "data"} envelope.
@app.route("/accounts", methods=["POST"])
@enveloped
def declare_account():
    caller = signed(BUSINESS_LINE)
    request = parse(trade_messages.AccountRequest, app.current_request.raw_body)
    caller.require_subject(ACCOUNTS, request.account_id, "account_id")
    return envelope(accounts.declare(from_environment(caller.tenant), request))


@app.route("/trades", methods=["POST"])
@enveloped
def record_trade():
    caller = signed(BUSINESS_LINE)
    request = parse(trade_messages.TradeRequest, app.current_request.raw_body)
    caller.require_subject(ACCOUNTS, request.buyer_id, "buyer_id")
    caller.require_subject(ACCOUNTS, request.seller_id, "seller_id")
    return envelope(trades.record_trade(trades_context.from_environment(caller.tenant), request))


@app.route("/trades/{trans_id}", methods=["GET"])
@enveloped
def get_trade(trans_id):
    return envelope(trades.find_trade(trades_context.from_environment(signed().tenant), trans_id))


@app.route("/trades/{trans_id}/pay", methods=["POST"])
@enveloped
def pay_trade(trans_id):
    caller = signed(BUSINESS_LINE)
    request = parse(trade_messages.PayTradeRequest, app.current_request.raw_body)
    # The parties are the recorded trade's (404 if the caller's tenant has none): paying moves
    # their money.
    context = trades_context.from_environment(caller.tenant)
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


@app.schedule(Rate(1, unit=Rate.HOURS), name="ledger_auditor")
def run_ledger_auditor(event):
    # Imported here: only this function reads through PynamoDB, so the API's cold start does
    # not load it (benchmarks/models.py measures the import).
    from chalicelib.payments import auditor
    return auditor.scheduled().as_dict()


# Daily at 00:30 China time (16:30 UTC): the payment side exports the previous China-time day
# as batch yyyyMMdd (the merchant system exports its own side, merchant_system/app.py). The
# half hour lets the last credits of the day reach the journal; an export that still finds one
# pending raises, and Lambda retries the invocation.
@app.schedule(Cron(30, 16, "*", "*", "?", "*"), name="payment_export")
def run_payment_export(event):
    return exports.scheduled(exports.PAYMENT, event.time)


@app.route("/recon/{batch}", methods=["GET"])
@handled
def recon_batch(batch):
    return json_response(recon.batch_status(signed().tenant, batch))


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


# Marketing subsidies and their returns: answers {"code", "message", "data"}.
@app.route("/subsidies", methods=["POST"])
@enveloped
def create_subsidy():
    caller = signed(BUSINESS_LINE)
    request = parse(subsidy_messages.SubsidyRequest, app.current_request.raw_body)
    caller.require_subject(SUB_MCHS, request.subMchId, "subMchId")
    return envelope(subsidies.create(subsidy_context().for_tenant(tenant_of(caller)), request))


@app.route("/subsidies/returns", methods=["POST"])
@enveloped
def return_subsidy():
    caller = signed(BUSINESS_LINE)
    request = parse(subsidy_messages.SubsidyReturnRequest, app.current_request.raw_body)
    caller.require_subject(SUB_MCHS, request.subMchId, "subMchId")
    return envelope(subsidies.return_subsidy(subsidy_context().for_tenant(tenant_of(caller)), request))


@app.route("/subsidies/{bizSubsidiesId}", methods=["GET"])
@enveloped
def subsidy(bizSubsidiesId):  # noqa: N803 - the path parameter is named as the API names it
    caller = signed()
    return envelope(subsidies.view(subsidy_context().for_tenant(tenant_of(caller)), bizSubsidiesId))


# The channel's notice of a paid order: paymentOrderId -> transaction_id, openid, sub_mchid,
# filed under the tenant its `attach` names (the channel's key belongs to no tenant).
@app.route("/channel/notifications/transactions", methods=["POST"])
@enveloped
def channel_transaction_notification():
    signed(CHANNEL)
    notice = parse(subsidy_messages.TransactionNotification, app.current_request.raw_body)
    outcome = subsidy_transactions.record(subsidy_context(), notice)
    return json_response({"code": "SUCCESS", "message": outcome})


@app.schedule(Rate(1, unit=Rate.MINUTES), name="subsidy_sweeper")
def run_subsidy_sweeper(event):
    return subsidy_sweeper.run(subsidy_context()).as_dict()


# Profit sharing and its returns on refunds: answers {"code", "message", "data"}.
SHARING_MAX_BODY_BYTES = 16384      # 50 receivers do not fit the default 4096


@app.route("/sharing/orders", methods=["POST"])
@enveloped
def create_sharing():
    caller = signed(BUSINESS_LINE)
    request = parse(sharing_messages.SharingRequest, app.current_request.raw_body, max_bytes=SHARING_MAX_BODY_BYTES)
    context = sharing_context().for_tenant(tenant_of(caller))
    # The body names no sub-merchant: the paid order's does (an order not notified as paid
    # is refused by share() itself, 4047).
    owner = sharing_orders.paid_sub_merchant(context, request.paymentOrderId)
    if owner is not None:
        caller.require_subject(SUB_MCHS, owner, "paymentOrderId")
    return envelope(sharing_orders.share(context, request))


@app.route("/sharing/orders/{tradeId}", methods=["GET"])
@enveloped
def sharing_order(tradeId):  # noqa: N803 - the path parameter is named as the API names it
    caller = signed()
    query = app.current_request.query_params or {}
    return envelope(sharing_orders.view(sharing_context().for_tenant(tenant_of(caller)), tradeId,
                                        query.get("paymentOrderId")))


@app.route("/sharing/orders/{tradeId}/unfreeze", methods=["POST"])
@enveloped
def unfreeze_sharing(tradeId):  # noqa: N803
    caller = signed(BUSINESS_LINE)
    request = parse(sharing_messages.UnfreezeRequest, app.current_request.raw_body)
    context = sharing_context().for_tenant(tenant_of(caller))
    # The caller's tenant's sharing order (4049 for another tenant's, as for a missing one);
    # the money that goes back is its paid sub-merchant's.
    sharing = sharing_orders.find(context, tradeId, request.paymentOrderId)
    caller.require_subject(SUB_MCHS, sharing.extra["sub_mchid"], "tradeId")
    return envelope(sharing_unfreeze.unfreeze(context, sharing))


@app.route("/sharing/refunds", methods=["POST"])
@enveloped
def sharing_refund():
    caller = signed(BUSINESS_LINE)
    notice = parse(sharing_messages.RefundNotification, app.current_request.raw_body, max_bytes=SHARING_MAX_BODY_BYTES)
    caller.require_subject(SUB_MCHS, notice.subMchId, "subMchId")
    return envelope(sharing_refunds.handle(sharing_context().for_tenant(tenant_of(caller)), notice))


@app.route("/sharing/refunds/{refundId}", methods=["GET"])
@enveloped
def sharing_refund_view(refundId):  # noqa: N803
    caller = signed()
    return envelope(sharing_refunds.view(sharing_context().for_tenant(tenant_of(caller)), refundId))


@app.route("/channel/notifications/profitsharing", methods=["POST"])
@enveloped
def channel_profitsharing_notification():
    signed(CHANNEL)
    notice = parse(sharing_messages.SharingNotification, app.current_request.raw_body, max_bytes=SHARING_MAX_BODY_BYTES)
    outcome = sharing_notifications.profitsharing(sharing_context(), notice)
    return json_response({"code": "SUCCESS", "message": outcome})


@app.schedule(Rate(1, unit=Rate.MINUTES), name="sharing_scheduler")
def run_sharing_scheduler(event):
    return sharing_scheduler.run(sharing_context()).as_dict()


# Refund notices (the refund notice's JSON, the tenant in the message attribute "tenant") -> RefundQueue
# -> here; "RefundQueue" is resolved like "ReconQueue" (infra/resources.json overrides the
# event source with the queue's ARN).
@app.on_sqs_message(queue="RefundQueue", batch_size=1, name="sharing_refunds")
def handle_refund_notices(event):
    return sharing_notifications.handle_sqs_event(sharing_context(), event.to_dict())
