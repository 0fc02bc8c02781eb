"""The merchant system's Chalice app: routes and event handlers only.

The simulated merchant's own backend: it keeps its orders in its own table and sends them to
the payment center over HTTPS, signed with its own key like any merchant's. A separate
deployable: the payment center's package holds none of it.

Every route carries the IAM authorizer: in a deployed stage API Gateway refuses any request
not signed with AWS Signature Version 4 by a principal allowed to invoke this API (403),
before a Lambda runs. `chalice local` (the local stage, on loopback) does not enforce IAM
authorizers, so Swagger's Try it out and the load driver reach it there unsigned.
"""
from chalice import Cron, IAMAuthorizer, Rate

from chalicelib import docs_site, logs, openapi
from chalicelib.exports import service as exports
from chalicelib.http import ThreadSafeChalice, handled, json_response
from chalicelib.schemas import parse
from merchantlib import context as merchant_context
from merchantlib import resolver as merchant_resolver
from merchantlib import service as merchant
from merchantlib.api_docs import DOCUMENT_INFO, DOCUMENT_MODULES, DOCUMENT_TAGS
from merchantlib.messages import MerchantPayRequest, MerchantWithdrawRequest
from merchantlib.messages import idempotency_key as merchant_idempotency_key

app = ThreadSafeChalice(app_name="paysettle-merchant")
# Every line logged while a route or an event handler runs names its Lambda request id, cold
# start, function and correlation id, as in the payment center.
app.register_middleware(logs.lambda_context_middleware, "all")
iam = IAMAuthorizer()


@app.route("/merchant/pay", methods=["POST"], authorizer=iam)
@handled
def merchant_pay():
    key = merchant_idempotency_key(app.current_request.headers)
    request = parse(MerchantPayRequest, app.current_request.raw_body)
    return json_response(merchant.place(merchant_context.from_environment(), request, key).view())


@app.route("/merchant/withdraw", methods=["POST"], authorizer=iam)
@handled
def merchant_withdraw():
    key = merchant_idempotency_key(app.current_request.headers)
    request = parse(MerchantWithdrawRequest, app.current_request.raw_body)
    return json_response(merchant.place(merchant_context.from_environment(), request, key).view())


@app.route("/merchant/orders/{request_id}", methods=["GET"], authorizer=iam)
@handled
def merchant_order(request_id):
    return json_response(merchant.find(merchant_context.from_environment(), request_id).view())


@app.route("/openapi.json", methods=["GET"], authorizer=iam)
@handled
def openapi_document():
    prefix = openapi.mount_prefix(app.current_request, "/openapi.json")
    return json_response(openapi.document(server_url=prefix or "/", modules=DOCUMENT_MODULES,
                                          info=DOCUMENT_INFO, tags=DOCUMENT_TAGS))


@app.route("/docs", methods=["GET"], authorizer=iam)
@handled
def docs_page():
    return docs_site.page(openapi.mount_prefix(app.current_request, "/docs"))


@app.route("/docs/{asset}", methods=["GET"], authorizer=iam)
@handled
def docs_asset(asset):
    return docs_site.asset(asset)


# Orders whose answer was lost (UNKNOWN, or INIT whose sender died) are re-sent, identical.
@app.schedule(Rate(1, unit=Rate.MINUTES), name="merchant_resolver")
def run_merchant_resolver(event):
    return merchant_resolver.run(merchant_context.from_environment()).as_dict()


# Daily at 00:30 China time (16:30 UTC), like the payment center's own side: the merchant's
# successful orders of the previous China-time day, as batch yyyyMMdd, into the center's
# recon bucket (incoming/<batch>/merchant/).
@app.schedule(Cron(30, 16, "*", "*", "?", "*"), name="merchant_export")
def run_merchant_export(event):
    return exports.scheduled(exports.MERCHANT, event.time)
