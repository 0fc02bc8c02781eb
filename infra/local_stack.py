"""`make serve`: the whole of PaySettle on one machine, no cloud account.

Starts, in order: AWS's DynamoDB Local (its data under `out/dynamodb`, kept from one
start to the next; FRESH=1 starts empty), the embedded AWS endpoint (moto: SQS, S3 and
Secrets Manager, in memory), every table (unless it exists), queue, bucket and secret of
`infra/resources.json`, the callers' credentials
(`infra/callers.py`: fresh random secrets at every start, seeded into the secrets
CallerCredentials and MerchantSigningKey), the channel simulator (`infra/channel/`, the
WeChat-Pay-like channel: the template's ChannelUrl parameter, i.e. CHANNEL_URL, points at
it; it notifies the API of paid transactions), the payment link (`infra/payment_link.py`,
the fault-injecting proxy through which the merchant reaches the payment API:
the template's PaymentApiUrl parameter, i.e. PAYMENT_API_URL, points at it), the
HTTP API (`chalice local --stage local` as a subprocess, restarted with backoff by
`infra/supervisor.py` if it dies), and the event pump (schedules and SQS subscriptions).
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
from pathlib import Path
from typing import Dict, Optional

import boto3
from chalice.app import SQSEventConfig

from chalicelib.logs import log

from . import callers
from . import provision as provisioning
from .embedded_aws import LOOPBACK, EmbeddedAWS
from .channel import ChannelSimulator
from .dynamodb_local import DynamoDBLocal, DynamoDBLocalMissing
from .payment_link import PaymentLink
from .pump import Environment, Pump, QueueRef, function_logical_id
from .supervisor import Supervised

REPO_ROOT = Path(__file__).resolve().parent.parent
# Swagger UI's files behind `GET /docs`, installed by `make setup` (npm swagger-ui-dist).
DEFAULT_SWAGGER_UI_DIR = REPO_ROOT / ".tools" / "node_modules" / "swagger-ui-dist"
CHALICE_CONFIG = REPO_ROOT / ".chalice" / "config.json"
PREFIX = "paysettle-local"
STAGE = "local"
REGION = "us-east-1"
DEFAULT_API_PORT = 8000
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


def chalice_environment(function: str, stage: str = STAGE) -> Dict[str, str]:
    """The variables chalice itself would give `function` in `stage`, merged by chalice."""
    from chalice.config import Config

    config = Config(chalice_stage=stage, function_name=function,
                    config_from_disk=json.loads(CHALICE_CONFIG.read_text()))
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
#   killed outright, so no orphan keeps the API port.
CHALICE_LOCAL_BOOTSTRAP = """\
import os, sys, threading, time
import chalice.local
chalice.local.ThreadedHTTPServer.request_queue_size = {backlog}
def any_method(self, name):
    if name.startswith("do_"):
        return self._generic_handle
    raise AttributeError(name)
chalice.local.ChaliceRequestHandler.__getattr__ = any_method
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


def chalice_local_command(stage: str, port: int) -> list:
    return [sys.executable, "-c", CHALICE_LOCAL_BOOTSTRAP.format(backlog=API_LISTEN_BACKLOG),
            "local", "--stage", stage, "--host", LOOPBACK, "--port", str(port),
            # One process: the reloader would fork a worker that a stop signal can
            # miss, and a reload in the middle of a run drops requests.
            "--no-autoreload"]


class LocalStack:
    """The embedded stack; `with LocalStack() as stack:` or start()/stop()."""

    def __init__(self, api_port: int = DEFAULT_API_PORT, aws_port: int = DEFAULT_AWS_PORT,
                 out_path: Optional[Path] = DEFAULT_OUT, region: str = REGION,
                 prefix: str = PREFIX, stage: str = STAGE, api_log: Optional[Path] = None,
                 payment_link_port: int = 0, channel_port: int = 0, dynamodb_port: int = 0,
                 data_dir: Optional[Path] = None, fresh: bool = False):
        """`api_log`: a file for the API's output; by default it shares this process's.
        `payment_link_port`, `channel_port`, `dynamodb_port`: 0 takes any free port (the URLs
        are in the manifest). `data_dir`: where DynamoDB Local keeps the tables (None: in
        memory, gone at stop); `fresh` empties it first."""
        self.dynamodb_port = dynamodb_port
        self.data_dir = Path(data_dir) if data_dir else None
        self.fresh = fresh
        self.dynamodb: Optional[DynamoDBLocal] = None
        self.api_port = api_port
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
        self.aws: Optional[EmbeddedAWS] = None
        self.pump: Optional[Pump] = None
        self.provisioned: Optional[provisioning.Provisioned] = None
        self._template: Optional[dict] = None
        self._api: Optional[Supervised] = None
        self._interrupt = threading.Event()
        self._manifest_written = False
        self._supervised: list = []     # every Supervised process, stopped newest first
        self._saved_environ: dict = {}  # this process's variables before the pump's start
        self.credentials: list = []     # infra/callers.py's callers with this start's secrets

    @classmethod
    def from_environment(cls) -> "LocalStack":
        out_path = Path(os.environ.get("LOCAL_STACK_OUT") or DEFAULT_OUT)
        return cls(api_port=port_from_env("API_PORT", DEFAULT_API_PORT),
                   aws_port=port_from_env("AWS_PORT", DEFAULT_AWS_PORT),
                   payment_link_port=port_from_env("PAYMENT_LINK_PORT", 0),
                   channel_port=port_from_env("CHANNEL_PORT", 0),
                   dynamodb_port=port_from_env("DYNAMODB_PORT", 0),
                   data_dir=Path(os.environ.get("LOCAL_STACK_DATA")
                                 or out_path.parent / DATA_DIR_NAME),
                   fresh=os.environ.get("FRESH", "") not in ("", "0"),
                   out_path=out_path)

    # -- what each function sees -------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://{LOOPBACK}:{self.api_port}"

    def _client(self, service: str):
        # An explicit endpoint: these clients cannot reach real AWS whatever the environment says.
        session = boto3.session.Session(
            region_name=self.region,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        return session.client(service, endpoint_url=self._endpoint(service))

    def _endpoint(self, service: str) -> str:
        return self.dynamodb.url if service == "dynamodb" else self.aws.url

    def credential(self, key_id: str) -> dict:
        """One caller's credential of this start (`SignedAuth.from_credential(...)` signs with it)."""
        return callers.by_key_id(self.credentials)[key_id]

    def function_environment(self, function: str) -> Environment:
        """Environment of a chalice function (`api_handler`, or an event source name)."""
        logical_id = API_LOGICAL_ID if function == API_FUNCTION else function_logical_id(function)
        variables = chalice_environment(function, self.stage)
        parameters = {}
        if self.payment_link:
            parameters["PaymentApiUrl"] = self.payment_link.url
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
            self._start_pump()
            self._wait_for_api()
            self._write_manifest()
        except BaseException:
            self.stop()
            raise
        log("local_stack.ready", api_url=self.api_url, aws_endpoint_url=self.aws.url,
            manifest=str(self.out_path) if self.out_path else None)
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
        self.aws = EmbeddedAWS(port=self.aws_port).start()
        try:
            self.dynamodb.wait_ready(DYNAMODB_READY_TIMEOUT_SECONDS, self._interrupt.is_set)
        except InterruptedError:
            raise Interrupted("stop requested while starting") from None
        except RuntimeError as failure:
            raise StackFailed(str(failure)) from None
        self._template = provisioning.load_template()
        self.provisioned = provisioning.provision(self._client("dynamodb"), self._client("sqs"),
                                                  self.prefix, self._template,
                                                  s3=self._client("s3"),
                                                  secretsmanager=self._client("secretsmanager"))
        log("local_stack.provisioned", aws_endpoint_url=self.aws.url,
            dynamodb_endpoint_url=self.dynamodb.url,
            data_dir=str(self.data_dir) if self.data_dir else None,
            tables=self.provisioned.tables, queues=self.provisioned.queues,
            buckets=self.provisioned.buckets)

    def _seed_credentials(self) -> None:
        """Put this start's credentials into both secrets the template declares."""
        client = self._client("secretsmanager")
        values = {callers.CALLER_CREDENTIALS: callers.caller_credentials_secret(self.credentials),
                  callers.MERCHANT_SIGNING_KEY: callers.signing_key_secret(
                      self.credential(callers.MERCHANT_SYSTEM_KEY))}
        for logical, value in values.items():
            client.put_secret_value(SecretId=self.provisioned.secrets[logical], SecretString=value)
        # Key ids only: a secret never goes to a log.
        log("local_stack.credentials", key_ids=[c["key_id"] for c in self.credentials],
            secrets=dict(self.provisioned.secrets))

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
        merchant = chalice_environment(API_FUNCTION, self.stage)
        timeout = float(merchant.get("MERCHANT_PAYMENT_TIMEOUT_SECONDS")
                        or DEFAULT_MERCHANT_PAYMENT_TIMEOUT_SECONDS)
        try:
            self.payment_link = PaymentLink(self.api_url, timeout + PAYMENT_LINK_HOLD_MARGIN_SECONDS,
                                            port=self.payment_link_port
                                            ).start(avoid={self.api_port})
        except OSError as error:
            raise StackFailed(f"the payment link could not listen on port {self.payment_link_port} "
                              f"({error})") from None

    def _start_api(self) -> None:
        environment = self.function_environment(API_FUNCTION).over(os.environ)
        environment["PYTHONUNBUFFERED"] = "1"
        # The docs page is served here only: the cloud's API has no SWAGGER_UI_DIR.
        environment["SWAGGER_UI_DIR"] = os.environ.get("SWAGGER_UI_DIR") or str(DEFAULT_SWAGGER_UI_DIR)
        self._api = self._supervise("api", chalice_local_command(self.stage, self.api_port),
                                    environment, self.api_log)

    def _supervise(self, name: str, command: list, environment: dict,
                   output: Optional[Path]) -> Supervised:
        """Start one of the stack's processes under supervision (restarted once it has served)."""
        process = Supervised(name, command, env=environment, cwd=REPO_ROOT, output=output).start()
        self._supervised.append(process)
        return process

    def _start_pump(self) -> None:
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        app = importlib.import_module("app").app
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

    def _wait_for_api(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._interrupt.is_set():
                raise Interrupted("stop requested while starting")
            if self._api.exited():
                raise StackFailed(f"chalice local exited with code {self._api.last_exit_code} "
                                  f"(is port {self.api_port} free?)")
            try:
                urllib.request.urlopen(self.api_url + "/", timeout=1).close()
            except urllib.error.HTTPError:
                pass  # any HTTP answer (an unknown route is 403/404) means it is serving
            except (urllib.error.URLError, OSError):
                self._interrupt.wait(0.1)
                continue
            # It served once: from now on a crash is a restart, not a failed start.
            self._api.keep_alive()
            return
        raise StackFailed(f"the API did not answer on {self.api_url} "
                          f"within {READY_TIMEOUT_SECONDS} s")

    def manifest(self) -> dict:
        return {"api_url": self.api_url, "payment_link_url": self.payment_link.url,
                "channel_url": self.channel.url,
                "docs_url": self.api_url + "/docs", "openapi_url": self.api_url + "/openapi.json",
                "aws_endpoint_url": self.aws.url, "dynamodb_endpoint_url": self.dynamodb.url,
                "region": self.region, "tables": dict(self.provisioned.tables),
                "queues": dict(self.provisioned.queues),
                "buckets": dict(self.provisioned.buckets),
                "secrets": dict(self.provisioned.secrets),
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
        return self._api is not None and self._api.running()

    def request_stop(self) -> None:
        """Safe from a signal handler: interrupts a start still in progress."""
        self._interrupt.set()

    def stop(self) -> None:
        """Stop whatever was started, newest first; safe to call more than once."""
        if self._manifest_written:
            self.out_path.unlink(missing_ok=True)  # the file means "ready"; it is no longer
            self._manifest_written = False
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
