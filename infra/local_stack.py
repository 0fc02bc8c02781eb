"""`make serve`: the whole of PaySettle on one machine, no cloud account.

Two deployables run here side by side: the payment center (app.py, `infra/resources.json`)
and the merchant system (merchant_system/, its own app and `resources.json`).

Starts, in order: AWS's DynamoDB Local (its data under `out/dynamodb`, kept from one
start to the next; FRESH=1 starts empty), the embedded AWS endpoint (moto: SQS, S3 and
Secrets Manager, in memory), every table (unless it exists), queue, bucket and secret of
both templates, the callers' credentials (`infra/callers.py`: fresh random secrets at every
start, seeded into the center's CallerCredentials and the merchant system's
MerchantSigningKey), the channel simulator (`infra/channel/`, the WeChat-Pay-like channel:
the center template's ChannelUrl parameter, i.e. CHANNEL_URL, points at it; it notifies the
API of paid transactions), the payment link (`infra/payment_link.py`, the fault-injecting
proxy through which the merchant reaches the payment API: the merchant template's
PaymentApiUrl parameter, i.e. PAYMENT_API_URL, points at it), the two HTTP APIs (`chalice
local --stage local` as a subprocess each, in its own project folder, restarted with backoff
by `infra/supervisor.py` if it dies), and the event pumps (both apps' schedules, the center's
SQS subscriptions). What does not wait for another part overlaps it: the JVM starts while moto
is provisioned and the apps are imported, and the tables are made while the APIs start (their
environment names the tables, which exist before the pumps run and before the stack is ready).
When ready it writes `out/local-stack.json` (or LOCAL_STACK_OUT) with the URLs,
the resource names and, under `merchants`, every caller's credential (readable by its
owner only: it holds secrets). Ctrl-C or SIGTERM stops everything it started.

Every function sees what it would see in Lambda: the chalice config's
environment (global, then the stage's, then the stage's per-function), the
template's resolved variables for its logical id, and a region; plus, locally,
the embedded endpoint (AWS_ENDPOINT_URL), DynamoDB Local's (AWS_ENDPOINT_URL_DYNAMODB:
botocore sends that one service there, so every boto3 client, PynamoDB's included, finds
it) and dummy credentials. Anything that could route a client
to real AWS (a profile, a per-service endpoint, a shared config file) is removed.

Nothing happens at import time: no configuration is read, no client is made.
"""
import importlib
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Optional

import boto3
from botocore.config import Config
from chalice.app import SQSEventConfig

from chalicelib.logs import log

from . import callers
from . import provision as provisioning
from .embedded_aws import LOOPBACK, EmbeddedAWSProcess
from .channel import ChannelSimulator
from .dynamodb_local import DynamoDBLocal, DynamoDBLocalMissing
from .payment_link import PaymentLink
from .ports import free_port
from .pump import Environment, Pump, QueueRef, function_logical_id, resolve_handler
from .supervisor import Supervised

REPO_ROOT = Path(__file__).resolve().parent.parent
# Swagger UI's files behind `GET /docs`, installed by `make setup` (npm swagger-ui-dist).
DEFAULT_SWAGGER_UI_DIR = REPO_ROOT / ".tools" / "node_modules" / "swagger-ui-dist"
CHALICE_CONFIG = REPO_ROOT / ".chalice" / "config.json"
# The merchant system: its own Chalice project, template and `chalice local` process.
MERCHANT_PROJECT = REPO_ROOT / "merchant_system"
MERCHANT_CHALICE_CONFIG = MERCHANT_PROJECT / ".chalice" / "config.json"
MERCHANT_TEMPLATE = MERCHANT_PROJECT / "resources.json"
MERCHANT_VENDOR = MERCHANT_PROJECT / "vendor"
CENTER, MERCHANT = "center", "merchant"
PREFIX = "paysettle-local"
STAGE = "local"
REGION = "us-east-1"
DEFAULT_API_PORT = 8000
DEFAULT_MERCHANT_API_PORT = 8001
DEFAULT_AWS_PORT = 4566
DEFAULT_OUT = REPO_ROOT / "out" / "local-stack.json"
# DynamoDB Local's data: beside the manifest unless LOCAL_STACK_DATA names a directory.
DATA_DIR_NAME = "dynamodb"
# Chalice names the function serving the routes `api_handler`; the template calls it APIHandler.
API_FUNCTION = "api_handler"
API_LOGICAL_ID = "APIHandler"
READY_TIMEOUT_SECONDS = 60
# The payment link holds a faulted call this much longer than the merchant waits.
PAYMENT_LINK_HOLD_MARGIN_SECONDS = 1.0
DEFAULT_MERCHANT_PAYMENT_TIMEOUT_SECONDS = 5.0  # chalicelib/config.py's default
STOP_TIMEOUT_SECONDS = 10
DYNAMODB_READY_TIMEOUT_SECONDS = 60

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# Settings that could send a client to real AWS, removed from every environment built here.
REAL_AWS_SETTINGS = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
REAL_AWS_PREFIXES = ("AWS_ENDPOINT_URL_",)
# Set alike for every function (endpoints, region, dummy credentials, no config files).
SHARED_AWS_SETTINGS = (*DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
                       "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE",
                       "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED")


class StackFailed(RuntimeError):
    """A part of the local stack did not come up."""


class Interrupted(RuntimeError):
    """Stopping was requested while the stack was still starting."""


def port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def chalice_environment(function: str, stage: str = STAGE,
                        config_path: Path = CHALICE_CONFIG) -> Dict[str, str]:
    """The variables chalice itself would give `function` in `stage`, merged by chalice
    (`config_path`: the payment center's .chalice/config.json, or the merchant system's)."""
    from chalice.config import Config

    config = Config(chalice_stage=stage, function_name=function,
                    config_from_disk=json.loads(Path(config_path).read_text()))
    return {name: str(value) for name, value in config.environment_variables.items()}


# `chalice local` exactly as its console script runs it, with three additions:
# * a larger listen backlog: socketserver's default of 5 overflows when a load
#   driver opens a few dozen connections at once (the kernel's ListenOverflows
#   counter rises and clients see "connection reset"); API Gateway has no such limit;
# * every HTTP method reaches the app: chalice's handler defines do_GET ... do_OPTIONS
#   only, so http.server answered any other method (TRACE, QUERY, ...) with a 501 HTML
#   page, a server error no deployed API gives (API Gateway refuses it with a 4xx JSON
#   answer). Routed like the others, it gets chalice's own JSON refusal: 405 with an
#   Allow header on a known path, 403 on an unknown one, as PUT or DELETE already did;
# * it exits when the stack that started it is gone, even if that stack was
#   killed outright, so no orphan keeps the API port;
# * a body larger than any route takes is refused on its Content-Length, before a byte of
#   it is read (413, the error body of chalicelib/http.py, connection closed), and so is a
#   Content-Length that is not a number (400); chalice alone reads whatever length is
#   announced into memory first;
# * reading one request (its request line, headers and body) has a deadline of
#   {read_seconds} s in all, however slowly the bytes drip in, and so does waiting for the
#   next request on a kept-alive connection: then the connection is closed. Without it a
#   slow client holds one of the server's threads for as long as it likes;
# * chalice's warning that it lets every call through an IAM authorizer is not printed: the
#   merchant system's routes are IAM-authorized in AWS only (API Gateway checks the caller), a
#   known property of the local stack, and the warning's two lines of plain text would break
#   the rule that every line of the stack's output is a JSON event or an access-log line.
CHALICE_LOCAL_BOOTSTRAP = """\
import io, json, os, sys, threading, time, warnings
warnings.filterwarnings("ignore", message="IAMAuthorizer is not a supported in local mode",
                        category=UserWarning)
import chalice.local
chalice.local.ThreadedHTTPServer.request_queue_size = {backlog}
def any_method(self, name):
    if name.startswith("do_"):
        return self._generic_handle
    raise AttributeError(name)
Handler = chalice.local.ChaliceRequestHandler
Handler.__getattr__ = any_method
READ_SECONDS = {read_seconds}
MAX_BODY_BYTES = {max_body}
class DeadlineReader(io.RawIOBase):
    def __init__(self, sock):
        self.sock, self.deadline = sock, time.monotonic() + READ_SECONDS
    def readable(self):
        return True
    def readinto(self, buffer):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request was not read within its deadline")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)
base_setup, base_handle_one, base_payload = Handler.setup, Handler.handle_one_request, Handler._parse_payload
def setup(self):
    base_setup(self)
    self.deadline_reader = DeadlineReader(self.connection)
    self.rfile = io.BufferedReader(self.deadline_reader)
def handle_one_request(self):
    self.deadline_reader.deadline = time.monotonic() + READ_SECONDS
    base_handle_one(self)
def refuse(self, status, code, detail):
    from chalicelib.errors import ErrorCode, PaySettleError
    from chalicelib.http import error_body
    body = json.dumps(error_body(PaySettleError(ErrorCode[code], detail=detail))).encode()
    self.close_connection = True
    self.send_response(status)
    self.send_header("Content-Type", "application/json; charset=utf-8")
    self.send_header("Content-Length", str(len(body)))
    self.send_header("Connection", "close")
    self.end_headers()
    self.wfile.write(body)
class Refused(Exception):
    pass
def parse_payload(self):
    announced = self.headers.get("Content-Length", "0").strip()
    if not announced.isdigit():
        refuse(self, 400, "MALFORMED_BODY", "Content-Length is not a number of bytes")
        raise Refused()
    if int(announced) > MAX_BODY_BYTES:
        refuse(self, 413, "BODY_TOO_LARGE", "more than %d bytes (Content-Length)" % MAX_BODY_BYTES)
        raise Refused()
    found = base_payload(self)
    self.connection.settimeout(READ_SECONDS)  # the answer is written with a fresh timeout
    return found
base_generic = Handler._generic_handle
def generic_handle(self):
    try:
        base_generic(self)
    except Refused:
        pass
Handler.setup, Handler.handle_one_request = setup, handle_one_request
Handler._parse_payload, Handler._generic_handle = parse_payload, generic_handle
for name in ("GET", "PUT", "POST", "HEAD", "DELETE", "PATCH", "OPTIONS"):
    setattr(Handler, "do_" + name, generic_handle)
parent = os.getppid()
def exit_with_parent():
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)
threading.Thread(target=exit_with_parent, daemon=True).start()
from chalice.cli import main
sys.argv[0] = "chalice"
sys.exit(main())
"""
API_LISTEN_BACKLOG = 256
# The local server's limits (see the bootstrap above): API Gateway reads a request itself and
# takes at most 10 MB; no route here takes more than 16 KiB (a profit sharing's receivers).
API_READ_SECONDS = 20.0
API_MAX_BODY_BYTES = 65536


def chalice_local_command(stage: str, port: int, read_seconds: float = API_READ_SECONDS,
                          max_body_bytes: int = API_MAX_BODY_BYTES) -> list:
    bootstrap = CHALICE_LOCAL_BOOTSTRAP.format(backlog=API_LISTEN_BACKLOG,
                                               read_seconds=float(read_seconds),
                                               max_body=int(max_body_bytes))
    return [sys.executable, "-c", bootstrap,
            "local", "--stage", stage, "--host", LOOPBACK, "--port", str(port),
            # One process: the reloader would fork a worker that a stop signal can
            # miss, and a reload in the middle of a run drops requests.
            "--no-autoreload"]


class LocalStack:
    """The embedded stack; `with LocalStack() as stack:` or start()/stop()."""

    def __init__(self, api_port: int = DEFAULT_API_PORT, aws_port: int = DEFAULT_AWS_PORT,
                 out_path: Optional[Path] = DEFAULT_OUT, region: str = REGION,
                 prefix: str = PREFIX, stage: str = STAGE, api_log: Optional[Path] = None,
                 payment_link_port: int = 0, channel_port: int = 0, merchant_api_port: int = 0,
                 dynamodb_port: int = 0, data_dir: Optional[Path] = None, fresh: bool = False):
        """`api_log`: a file for both APIs' output; by default they share this process's.
        `payment_link_port`, `channel_port`, `merchant_api_port`, `dynamodb_port`: 0 takes any
        free port (the URLs are in the manifest). `data_dir`: where DynamoDB Local keeps the
        tables (None: in memory, gone at stop); `fresh` empties it first."""
        self.dynamodb_port = dynamodb_port
        self.data_dir = Path(data_dir) if data_dir else None
        self.fresh = fresh
        self.dynamodb: Optional[DynamoDBLocal] = None
        self.api_port = api_port
        self.merchant_api_port = merchant_api_port
        self.channel_port = channel_port
        self.channel: Optional[ChannelSimulator] = None
        self.payment_link_port = payment_link_port
        self.payment_link: Optional[PaymentLink] = None
        self.aws_port = aws_port
        self.out_path = Path(out_path) if out_path else None
        self.region = region
        self.prefix = prefix
        self.stage = stage
        self.api_log = Path(api_log) if api_log else None
        self.aws: Optional[EmbeddedAWSProcess] = None
        self.pump: Optional[Pump] = None
        self.provisioned: Optional[provisioning.Provisioned] = None
        self._template: Optional[dict] = None
        self._api: Optional[Supervised] = None
        # The merchant system: its own template's resources, its own API process and pump.
        self.merchant_provisioned: Optional[provisioning.Provisioned] = None
        self._merchant_template: Optional[dict] = None
        self._merchant_api: Optional[Supervised] = None
        self.merchant_pump: Optional[Pump] = None
        self._interrupt = threading.Event()
        self._manifest_written = False
        self._supervised: list = []     # every Supervised process, stopped newest first
        self._saved_environ: dict = {}  # this process's variables before the pump's start
        self.credentials: list = []     # infra/callers.py's callers with this start's secrets
        self._session = None            # one boto3 session for the clients below
        self._clients: dict = {}        # service -> this stack's client (`_client`)
        self._clients_lock = threading.Lock()
        self._tables: Optional[ThreadPoolExecutor] = None  # makes the tables (`_start_aws`)
        self._tables_made = None

    @classmethod
    def from_environment(cls) -> "LocalStack":
        out_path = Path(os.environ.get("LOCAL_STACK_OUT") or DEFAULT_OUT)
        return cls(api_port=port_from_env("API_PORT", DEFAULT_API_PORT),
                   aws_port=port_from_env("AWS_PORT", DEFAULT_AWS_PORT),
                   payment_link_port=port_from_env("PAYMENT_LINK_PORT", 0),
                   channel_port=port_from_env("CHANNEL_PORT", 0),
                   merchant_api_port=port_from_env("MERCHANT_API_PORT", DEFAULT_MERCHANT_API_PORT),
                   dynamodb_port=port_from_env("DYNAMODB_PORT", 0),
                   data_dir=Path(os.environ.get("LOCAL_STACK_DATA")
                                 or out_path.parent / DATA_DIR_NAME),
                   fresh=os.environ.get("FRESH", "") not in ("", "0"),
                   out_path=out_path)

    # -- what each function sees -------------------------------------------

    @property
    def api_url(self) -> str:
        """The payment center's API."""
        return f"http://{LOOPBACK}:{self.api_port}"

    @property
    def merchant_api_url(self) -> str:
        """The merchant system's API (its own `chalice local`)."""
        return f"http://{LOOPBACK}:{self.merchant_api_port}"

    def _client(self, service: str):
        """This stack's client of `service`, made once: each new session would load the
        service's model files again (about a second of the start, on a busy machine)."""
        # An explicit endpoint: these clients cannot reach real AWS whatever the environment says.
        with self._clients_lock:
            if service not in self._clients:
                if self._session is None:
                    self._session = boto3.session.Session(
                        region_name=self.region,
                        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
                # The pump's workers share the SQS client: a connection each.
                self._clients[service] = self._session.client(
                    service, endpoint_url=self._endpoint(service),
                    config=Config(max_pool_connections=32))
            return self._clients[service]

    def _endpoint(self, service: str) -> str:
        return self.dynamodb.url if service == "dynamodb" else self.aws.url

    def credential(self, key_id: str) -> dict:
        """One caller's credential of this start (`SignedAuth.from_credential(...)` signs with it)."""
        return callers.by_key_id(self.credentials)[key_id]

    def function_environment(self, function: str, system: str = CENTER) -> Environment:
        """Environment of a chalice function (`api_handler`, or an event source name) of the
        payment center's app, or of the merchant system's (`system=MERCHANT`)."""
        logical_id = API_LOGICAL_ID if function == API_FUNCTION else function_logical_id(function)
        parameters = {}
        if system == MERCHANT:
            variables = chalice_environment(function, self.stage, MERCHANT_CHALICE_CONFIG)
            # The merchant stack's parameters: the center's URL (here through the payment
            # link, the merchant's faultable network) and the center's recon bucket.
            if self.payment_link:
                parameters["PaymentApiUrl"] = self.payment_link.url
            parameters["ReconBucketName"] = self.provisioned.buckets.get("ReconBucket", "")
            variables.update(self.merchant_provisioned.environment(
                self._merchant_template, logical_id, parameters))
        else:
            variables = chalice_environment(function, self.stage)
            if self.channel:
                parameters["ChannelUrl"] = self.channel.url
            variables.update(self.provisioned.environment(self._template, logical_id, parameters))
        variables.update(DUMMY_CREDENTIALS)
        variables.update({
            "AWS_ENDPOINT_URL": self.aws.url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # No shared config or credentials file may add a profile or an endpoint.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        return Environment(variables, unset=REAL_AWS_SETTINGS, unset_prefixes=REAL_AWS_PREFIXES)

    # -- starting ------------------------------------------------------------

    def start(self) -> "LocalStack":
        if self.out_path is not None:
            # A stack killed outright left its file behind: it does not mean "ready" now.
            self.out_path.unlink(missing_ok=True)
        try:
            self.credentials = callers.new_credentials()
            self._launch_dynamodb()
            self._start_aws()
            self._seed_credentials()
            self._start_channel()
            self._start_payment_link()
            self._start_api()
            self._start_merchant_api()
            self._finish_tables()  # the APIs start meanwhile; the pumps' schedules need tables
            self._start_pump()
            self._wait_for_api(self._api, self.api_url, self.api_port)
            self._wait_for_api(self._merchant_api, self.merchant_api_url, self.merchant_api_port)
            self._warm_center()
            self._write_manifest()
        except BaseException:
            self.stop()
            raise
        log("local_stack.ready", api_url=self.api_url, merchant_api_url=self.merchant_api_url,
            aws_endpoint_url=self.aws.url, manifest=str(self.out_path) if self.out_path else None)
        return self

    def _launch_dynamodb(self) -> None:
        """Start the JVM first: it takes the longest, and starts while moto does."""
        if self.fresh and self.data_dir is not None and self.data_dir.exists():
            shutil.rmtree(self.data_dir)
            log("local_stack.fresh", data_dir=str(self.data_dir))
        try:
            self.dynamodb = DynamoDBLocal(port=self.dynamodb_port or None,
                                          data_dir=self.data_dir).launch()
        except DynamoDBLocalMissing as missing:
            raise StackFailed(str(missing)) from None

    def _start_aws(self) -> None:
        """moto's endpoint (its own process) and both templates' queues, buckets and secrets; the tables are named
        (the APIs can be started) and made in the background once DynamoDB Local answers
        (`_finish_tables`). Meanwhile the stack's clients load their models and the apps (for
        the pumps) are imported: the JVM takes seconds to start."""
        self._template = provisioning.load_template()
        self._merchant_template = provisioning.load_template(MERCHANT_TEMPLATE)
        self.aws = EmbeddedAWSProcess(port=self.aws_port).launch()
        dynamodb, sqs, s3, secretsmanager = (
            self._client(service) for service in ("dynamodb", "sqs", "s3", "secretsmanager"))
        self._apps()
        try:
            self.aws.wait_ready()
        except RuntimeError as failure:
            raise StackFailed(str(failure)) from None

        def provision(template: dict) -> provisioning.Provisioned:
            return provisioning.provision(dynamodb, sqs, self.prefix, template, s3=s3,
                                          secretsmanager=secretsmanager, tables_later=True)

        def make_tables() -> None:
            self.dynamodb.wait_ready(DYNAMODB_READY_TIMEOUT_SECONDS, self._interrupt.is_set)
            for template, done in ((self._template, self.provisioned),
                                   (self._merchant_template, self.merchant_provisioned)):
                provisioning.create_tables(dynamodb, self.prefix, template, done)

        with ThreadPoolExecutor(2) as pool:
            center = pool.submit(provision, self._template)
            merchant = pool.submit(provision, self._merchant_template)
            self.provisioned, self.merchant_provisioned = center.result(), merchant.result()
        self._tables = ThreadPoolExecutor(1, thread_name_prefix="local-stack-tables")
        self._tables_made = self._tables.submit(make_tables)

    def _finish_tables(self) -> None:
        """Wait until DynamoDB Local answers and every table exists."""
        try:
            self._tables_made.result()
        except InterruptedError:
            raise Interrupted("stop requested while starting") from None
        except RuntimeError as failure:
            raise StackFailed(str(failure)) from None
        finally:
            self._tables.shutdown()
        log("local_stack.provisioned", aws_endpoint_url=self.aws.url,
            dynamodb_endpoint_url=self.dynamodb.url,
            data_dir=str(self.data_dir) if self.data_dir else None,
            tables=self._all("tables"), queues=self._all("queues"), buckets=self._all("buckets"))

    def _apps(self) -> tuple:
        """The payment center's app and the merchant system's, imported as their pumps run them."""
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        # The merchant system's vendored packages after everything else, as its package has them.
        if str(MERCHANT_VENDOR) not in sys.path:
            sys.path.append(str(MERCHANT_VENDOR))
        return (importlib.import_module("app").app,
                importlib.import_module("merchant_system.app").app)

    def _all(self, kind: str) -> Dict[str, str]:
        """Both stacks' resources of one kind (`tables`, ...), by logical id (unique across both)."""
        found = dict(getattr(self.provisioned, kind))
        if self.merchant_provisioned is not None:
            found.update(getattr(self.merchant_provisioned, kind))
        return found

    def _seed_credentials(self) -> None:
        """Put this start's credentials into the center's CallerCredentials and the merchant
        system's own MerchantSigningKey."""
        client = self._client("secretsmanager")
        client.put_secret_value(SecretId=self.provisioned.secrets[callers.CALLER_CREDENTIALS],
                                SecretString=callers.caller_credentials_secret(self.credentials))
        client.put_secret_value(
            SecretId=self.merchant_provisioned.secrets[callers.MERCHANT_SIGNING_KEY],
            SecretString=callers.signing_key_secret(self.credential(callers.MERCHANT_SYSTEM_KEY)))
        # Key ids only: a secret never goes to a log.
        log("local_stack.credentials", key_ids=[c["key_id"] for c in self.credentials],
            secrets=self._all("secrets"))

    def _start_channel(self) -> None:
        # Before the API: every function's CHANNEL_URL must name it. It notifies the API
        # directly (not through the payment link, which fakes the merchant's network).
        # Neither it nor the payment link may draw the API's port, which is not bound yet:
        # chalice would fail to listen, and the link would forward to itself.
        try:
            self.channel = ChannelSimulator(center_url=self.api_url, port=self.channel_port,
                                            credential=self.credential(callers.CHANNEL_KEY)
                                            ).start(avoid={self.api_port})
        except OSError as error:
            raise StackFailed(f"the channel simulator could not listen on port {self.channel_port} "
                              f"({error})") from None

    def _start_payment_link(self) -> None:
        merchant = chalice_environment(API_FUNCTION, self.stage, MERCHANT_CHALICE_CONFIG)
        timeout = float(merchant.get("MERCHANT_PAYMENT_TIMEOUT_SECONDS")
                        or DEFAULT_MERCHANT_PAYMENT_TIMEOUT_SECONDS)
        try:
            self.payment_link = PaymentLink(self.api_url, timeout + PAYMENT_LINK_HOLD_MARGIN_SECONDS,
                                            port=self.payment_link_port
                                            ).start(avoid={self.api_port, self.merchant_api_port})
        except OSError as error:
            raise StackFailed(f"the payment link could not listen on port {self.payment_link_port} "
                              f"({error})") from None

    def _start_api(self) -> None:
        self._api = self._start_chalice_local(REPO_ROOT, self.api_port, CENTER)

    def _start_merchant_api(self) -> None:
        if not self.merchant_api_port:
            # Not the center's port, which a starting chalice has not bound yet.
            while self.merchant_api_port in (0, self.api_port):
                self.merchant_api_port = free_port()
        self._merchant_api = self._start_chalice_local(MERCHANT_PROJECT, self.merchant_api_port,
                                                       MERCHANT)

    def _start_chalice_local(self, project: Path, port: int, system: str) -> Supervised:
        environment = self.function_environment(API_FUNCTION, system).over(os.environ)
        environment["PYTHONUNBUFFERED"] = "1"
        # The docs page is served here only: the cloud's API has no SWAGGER_UI_DIR.
        environment["SWAGGER_UI_DIR"] = os.environ.get("SWAGGER_UI_DIR") or str(DEFAULT_SWAGGER_UI_DIR)
        # Each project finds its code by chalice's own means (its chalicelib/ and vendor/),
        # as its package does: nothing from this folder's PYTHONPATH.
        environment.pop("PYTHONPATH", None)
        process = Supervised(f"api:{system}", chalice_local_command(self.stage, port),
                             env=environment, cwd=project, output=self.api_log).start()
        self._supervised.append(process)
        return process

    def _start_pump(self) -> None:
        app, merchant_app = self._apps()
        # What every function shares goes into this process's own environment too: a thread a
        # handler starts sees that, not its function's layer, and must not find real AWS.
        # Put back at stop (a test may start a stack in its own process).
        shared = self.function_environment(API_FUNCTION)
        changed = [n for n in os.environ if shared._removed(n)] + list(SHARED_AWS_SETTINGS)
        self._saved_environ = {name: os.environ.get(name) for name in changed}
        for name in changed:
            os.environ.pop(name, None)
        os.environ.update({name: shared.variables[name] for name in SHARED_AWS_SETTINGS})
        self.pump = Pump(app, self.function_environment, self.queue_for,
                         self._client("sqs"), self.region).start()
        # The merchant system's schedules (its resolver, its export), in its functions' own
        # environments; it subscribes to no queue.
        self.merchant_pump = Pump(merchant_app,
                                  lambda function: self.function_environment(function, MERCHANT),
                                  lambda source: None, self._client("sqs"), self.region,
                                  # Its handlers are "app.<name>" of its own app.py.
                                  resolve=lambda handler: resolve_handler("merchant_system." + handler)
                                  ).start()

    def _queue_ref(self, logical: str) -> QueueRef:
        return QueueRef(url=self.provisioned.queues[logical], arn=self.provisioned.arns[logical])

    def queue_for(self, source: SQSEventConfig) -> Optional[QueueRef]:
        """The provisioned queue an SQS event source is subscribed to.

        The template wins, as in the cloud: a function whose SQS event names its
        queue with `Ref`/`Fn::GetAtt` (a name only CloudFormation knows) gets
        that queue. Otherwise the name in the app is matched against each
        queue's logical id, declared QueueName and provisioned name.
        """
        resources = self._template["Resources"]
        events = (resources.get(function_logical_id(source.name), {})
                  .get("Properties", {}).get("Events", {}))
        for event in events.values():
            queue = event.get("Properties", {}).get("Queue")
            if event.get("Type") == "SQS" and isinstance(queue, dict):
                logical = (queue.get("Fn::GetAtt") or [queue.get("Ref")])[0]
                if logical in self.provisioned.queues:
                    return self._queue_ref(logical)
        for logical, url in self.provisioned.queues.items():
            declared = resources[logical].get("Properties", {}).get("QueueName")
            if source.queue in (logical, declared, url.rsplit("/", 1)[-1]):
                return self._queue_ref(logical)
        return None

    def _wait_for_api(self, process: Supervised, url: str, port: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._interrupt.is_set():
                raise Interrupted("stop requested while starting")
            if process.exited():
                raise StackFailed(f"chalice local exited with code {process.last_exit_code} "
                                  f"(is port {port} free?)")
            try:
                urllib.request.urlopen(url + "/", timeout=1).close()
            except urllib.error.HTTPError:
                pass  # any HTTP answer (an unknown route is 403/404) means it is serving
            except (urllib.error.URLError, OSError):
                self._interrupt.wait(0.1)
                continue
            # It served once: from now on a crash is a restart, not a failed start.
            process.keep_alive()
            return
        raise StackFailed(f"the API did not answer on {url} within {READY_TIMEOUT_SECONDS} s")

    def _warm_center(self) -> None:
        """One signed read of the center as the merchant system's key, before "ready": the
        center's first signed request makes its AWS clients and reads the callers' secret,
        which takes longer than the merchant system's local call budget (2 s). In one process
        the merchant's own first request used to pay for that; now each app has its own."""
        from chalicelib.auth.signature import signed_headers

        key = self.credential(callers.MERCHANT_SYSTEM_KEY)
        path = "/accounts/local-stack-warm-up"
        request = urllib.request.Request(self.api_url + path, headers=signed_headers(
            key["key_id"], key["secret"], "GET", path, b""))
        try:
            urllib.request.urlopen(request, timeout=READY_TIMEOUT_SECONDS).close()
        except urllib.error.HTTPError:
            pass    # any answer: the signature was checked and the account looked up
        except (urllib.error.URLError, OSError) as error:
            raise StackFailed(f"the API at {self.api_url} did not answer a signed read: {error}") from None

    def manifest(self) -> dict:
        return {"api_url": self.api_url, "merchant_api_url": self.merchant_api_url,
                "payment_link_url": self.payment_link.url,
                "channel_url": self.channel.url,
                "docs_url": self.api_url + "/docs", "openapi_url": self.api_url + "/openapi.json",
                "merchant_docs_url": self.merchant_api_url + "/docs",
                "merchant_openapi_url": self.merchant_api_url + "/openapi.json",
                "aws_endpoint_url": self.aws.url, "dynamodb_endpoint_url": self.dynamodb.url,
                "region": self.region, "tables": self._all("tables"),
                "queues": self._all("queues"),
                "buckets": self._all("buckets"),
                "secrets": self._all("secrets"),
                "merchants": [dict(c) for c in self.credentials]}

    def _write_manifest(self) -> None:
        if self.out_path is None:
            return
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.out_path.with_name(self.out_path.name + ".partial")
        partial.unlink(missing_ok=True)
        # Owner-only from its first byte: the file holds every local caller's secret.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(self.manifest(), indent=2) + "\n")
        # Atomic: whoever waits for the file never reads half of it.
        os.replace(partial, self.out_path)
        self._manifest_written = True

    # -- running and stopping ------------------------------------------------

    def api_running(self) -> bool:
        """Both APIs, the center's and the merchant system's, are still serving."""
        return all(process is not None and process.running()
                   for process in (self._api, self._merchant_api))

    def request_stop(self) -> None:
        """Safe from a signal handler: interrupts a start still in progress."""
        self._interrupt.set()

    def stop(self) -> None:
        """Stop whatever was started, newest first; safe to call more than once."""
        if self._manifest_written:
            self.out_path.unlink(missing_ok=True)  # the file means "ready"; it is no longer
            self._manifest_written = False
        if self.merchant_pump is not None:
            self.merchant_pump.stop()
            self.merchant_pump = None
        if self.pump is not None:
            self.pump.stop()
            self.pump = None
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ = {}
        while self._supervised:
            self._supervised.pop().stop(STOP_TIMEOUT_SECONDS)
        self._api = None
        self._merchant_api = None
        if self.payment_link is not None:
            self.payment_link.stop()
            self.payment_link = None
        if self.channel is not None:
            self.channel.stop()
            self.channel = None
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        if self.dynamodb is not None:
            self.dynamodb.stop()
            self.dynamodb = None
        if self._tables is not None:
            self._tables.shutdown()  # a start that failed early: its table maker ends now
            self._tables = None
        with self._clients_lock:
            self._clients, self._session = {}, None  # the next start has new endpoints
            log("local_stack.stopped")

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> int:
    stack = LocalStack.from_environment()
    stopping = threading.Event()
    received = []

    def request_stop(signum, _frame):
        # Only flags here: the stopping itself happens on the main path below.
        received.append(signal.Signals(signum).name)
        stopping.set()
        stack.request_stop()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        # A crashed API is restarted by its supervisor: the stack stays up until stopped.
        while not stopping.wait(0.5):
            pass
        log("local_stack.signal", signal=received[0])
        return 0
    except Interrupted:
        log("local_stack.signal", signal=received[0] if received else None)
        return 0
    except StackFailed as failure:
        log("local_stack.failed", level=logging.ERROR, error=str(failure))
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
