"""Creates the resources of `infra/resources.json` against any AWS endpoint.

The local stack and the tests use this instead of CloudFormation, so they run
the very resources the cloud gets: same keys, indexes, queues and redrive
policies, and the same environment variables the template gives each function.
Only the resource types PaySettle declares are understood; anything else in the
template is IAM, alarms or function settings, which have no local meaning.

The bucket policy (`AWS::S3::BucketPolicy`, TLS only) is deliberately not applied: the
local endpoint is plain http on loopback, and moto enforces a bucket's Deny statements on
object reads and writes while ignoring their Condition, so the TLS-only statement would
refuse every local request, https or not. The bucket's default encryption and public
access block are applied, as the cloud applies them.
"""
import json
import re
import secrets
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional

from botocore.exceptions import ClientError

TEMPLATE = Path(__file__).with_name("resources.json")
PROVISION_THREADS = 8
TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes",
              "LocalSecondaryIndexes", "BillingMode")


@dataclass
class Provisioned:
    names: Dict[str, str] = field(default_factory=dict)     # logical id -> Ref value
    arns: Dict[str, str] = field(default_factory=dict)      # logical id -> Arn
    tables: Dict[str, str] = field(default_factory=dict)
    queues: Dict[str, str] = field(default_factory=dict)
    buckets: Dict[str, str] = field(default_factory=dict)
    secrets: Dict[str, str] = field(default_factory=dict)  # logical id -> ARN (a secret's Ref)

    def resolve(self, value):
        """Resolve `Ref` and `Fn::GetAtt ... Arn` as CloudFormation would."""
        if isinstance(value, dict) and set(value) == {"Ref"}:
            return self.names[value["Ref"]]
        if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            # Only the `${Logical}` / `${Logical.Arn}` references PaySettle's template uses.
            return re.sub(r"\$\{([A-Za-z0-9]+)(\.Arn)?\}",
                          lambda m: self.resolve({"Fn::GetAtt": [m.group(1), "Arn"]} if m.group(2)
                                                 else {"Ref": m.group(1)}), value["Fn::Sub"])
        if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
            logical, attribute = value["Fn::GetAtt"]
            if attribute == "Arn":
                return self.arns[logical]
            if attribute == "QueueName":
                return self.queues[logical].rsplit("/", 1)[-1]
            raise ValueError(f"unsupported attribute {attribute}")
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def environment(self, template: dict, function: str = "APIHandler",
                    parameters: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """The environment variables the template gives one function, resolved.

        A `Ref` to a template Parameter takes its value from `parameters`, else the
        Parameter's Default; a variable whose Parameter has neither is left out (the
        function then reports the missing setting by name when it needs it), and so is one
        naming a secret that was not provisioned (`provision` without a Secrets Manager client)."""
        variables = (template["Resources"].get(function, {}).get("Properties", {})
                     .get("Environment", {}).get("Variables", {}))
        declared = template.get("Parameters", {})
        given = {name: spec["Default"] for name, spec in declared.items() if "Default" in spec}
        given.update(parameters or {})
        resolved = {}
        for name, value in variables.items():
            if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in declared:
                if value["Ref"] in given:
                    resolved[name] = str(given[value["Ref"]])
                continue
            if _dependencies(value) & (set(_secret_ids(template)) - set(self.names)):
                continue
            resolved[name] = str(self.resolve(value))
        return resolved


def load_template(path: Path = TEMPLATE) -> dict:
    return json.loads(Path(path).read_text())


def _dependencies(value) -> set:
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return {value["Ref"]}
        if set(value) == {"Fn::GetAtt"}:
            return {value["Fn::GetAtt"][0]}
        return set().union(*(_dependencies(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_dependencies(v) for v in value)) if value else set()
    return set()


def _secret_ids(template: dict) -> list:
    return [k for k, v in template["Resources"].items()
            if v.get("Type") == "AWS::SecretsManager::Secret"]


def provision(dynamodb, sqs, prefix: str, template: dict = None, s3=None,
              secretsmanager=None, before_tables: Optional[Callable[[], None]] = None,
              tables_later: bool = False, threads: int = PROVISION_THREADS) -> Provisioned:
    """Create every table (unless it exists), queue and bucket of the template, named `<prefix>-<LogicalId>`
    (buckets in lower case, with their notifications to queues). Without `s3`, a client on
    the SQS client's endpoint and credentials is made for the buckets. Secrets are created
    only with a `secretsmanager` client (endpoints such as DynamoDB Local's tests have none),
    holding what the template gives them; the caller puts the real values.

    Each resource is created as soon as the ones it names exist, side by side with the others
    (a table on DynamoDB Local while a queue is made elsewhere). `before_tables` is called
    before the first table is made (e.g. to wait for a DynamoDB endpoint that is still
    starting: the other resources go ahead meanwhile). `tables_later`: the tables' names are
    recorded but the tables are not made; `create_tables` makes them (a process can be given
    its environment, which names tables and never their ARNs, while they are being made).
    `threads`: how many resources are made at once; 1 for moto in-process, whose backends are
    not safe for concurrent creates (its SQS backend once failed a create with "dictionary
    changed size during iteration") and gain nothing from threads under one interpreter lock."""
    template = template or load_template()
    done = Provisioned()
    resources = {k: v for k, v in template["Resources"].items()
                 if v.get("Type") in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket")}
    if tables_later:
        for logical in _table_ids(template):
            resources.pop(logical)
            done.names[logical] = done.tables[logical] = f"{prefix}-{logical}"
    if s3 is None and any(v["Type"] == "AWS::S3::Bucket" for v in resources.values()):
        s3 = _client_like(sqs, "s3")
    tables_ready = threading.Lock()
    waited = []

    def create(logical: str, properties: dict) -> None:
        kind, name = resources[logical]["Type"], f"{prefix}-{logical}"
        if kind == "AWS::DynamoDB::Table":
            with tables_ready:
                if before_tables is not None and not waited:
                    before_tables()
                waited.append(True)
            _create_table(dynamodb, name, properties, done, logical)
        elif kind == "AWS::S3::Bucket":
            _create_bucket(s3, name.lower(), properties, done, logical)
        else:
            _create_queue(sqs, name, properties, done, logical)

    remaining, running = dict(resources), {}
    with ThreadPoolExecutor(threads) as pool:
        if secretsmanager is not None:
            for logical in _secret_ids(template):
                running[pool.submit(_create_secret, secretsmanager, f"{prefix}-{logical}",
                                    template["Resources"][logical].get("Properties", {}), done,
                                    logical)] = logical
        while remaining or running:
            created = set(done.names)
            for logical in [k for k, v in remaining.items()
                            if _dependencies(v.get("Properties", {})) <= created]:
                properties = done.resolve(remaining.pop(logical).get("Properties", {}))
                running[pool.submit(create, logical, properties)] = logical
            if not running:
                raise ValueError(f"circular references among {sorted(remaining)}")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                running.pop(future)
                future.result()  # a failure stops the provisioning with its own error
    return done


def _table_ids(template: dict) -> list:
    return [k for k, v in template["Resources"].items() if v.get("Type") == "AWS::DynamoDB::Table"]


def create_tables(dynamodb, prefix: str, template: dict, done: Provisioned) -> None:
    """The tables `provision(..., tables_later=True)` only named, made side by side."""
    with ThreadPoolExecutor(PROVISION_THREADS) as pool:
        list(pool.map(lambda logical: _create_table(
            dynamodb, f"{prefix}-{logical}",
            done.resolve(template["Resources"][logical].get("Properties", {})), done, logical),
            _table_ids(template)))


def _error_code(error: ClientError) -> str:
    # Matched by code: tables are made from several threads, and a client's `exceptions`
    # classes, built lazily, can differ between threads that build them at once.
    return error.response.get("Error", {}).get("Code", "")


def _create_table(dynamodb, name: str, properties: dict, done: Provisioned, logical: str) -> None:
    """Create the table unless it exists: a persistent store (the embedded stack's DynamoDB
    Local) keeps its tables, and their items, from one start to the next.

    The create is tried first and an existing table is described only when the create is refused
    for it; a table answered ACTIVE is not waited for (moto and DynamoDB Local make tables at
    once, DynamoDB answers CREATING). A fresh in-process stack, made for every test, takes one
    request a table instead of three."""
    request = {k: properties[k] for k in TABLE_KEYS if k in properties}
    try:
        created = dynamodb.create_table(TableName=name, **request)["TableDescription"]
    except ClientError as error:
        if _error_code(error) != "ResourceInUseException":
            raise
        arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
    else:
        arn = created["TableArn"]
        if created.get("TableStatus") != "ACTIVE":
            dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    done.names[logical] = name
    done.tables[logical] = name
    done.arns[logical] = arn


def _create_queue(sqs, name: str, properties: dict, done: Provisioned, logical: str) -> None:
    attributes = {}
    for key, value in properties.items():
        if key == "QueueName":
            continue
        attributes[key] = json.dumps(value) if isinstance(value, dict) else str(value).lower() \
            if isinstance(value, bool) else str(value)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    done.names[logical] = url
    done.queues[logical] = url
    done.arns[logical] = arn


def _client_like(sqs, service: str):
    """A client of `service` on the same endpoint, region and credentials as `sqs`."""
    import boto3

    credentials = sqs._request_signer._credentials.get_frozen_credentials()
    endpoint = sqs.meta.endpoint_url
    return boto3.session.Session().client(
        service, endpoint_url=None if endpoint.endswith(".amazonaws.com") else endpoint,
        region_name=sqs.meta.region_name,
        aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token)


def _create_bucket(s3, name: str, properties: dict, done: Provisioned, logical: str) -> None:
    region = s3.meta.region_name
    s3.create_bucket(Bucket=name, **({} if region in (None, "us-east-1") else
                                     {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    encryption = properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")
    if encryption:
        # CloudFormation's property names differ from the API's.
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            dict({"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]},
                 **({"BucketKeyEnabled": r["BucketKeyEnabled"]} if "BucketKeyEnabled" in r else {}))
            for r in encryption]})
    if "PublicAccessBlockConfiguration" in properties:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=properties[
            "PublicAccessBlockConfiguration"])
    queues = properties.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    if queues:
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={
            "QueueConfigurations": [dict(
                {"QueueArn": q["Queue"], "Events": [q["Event"]]},
                **({"Filter": {"Key": {"FilterRules": q["Filter"]["S3Key"]["Rules"]}}}
                   if "Filter" in q else {}))
                for q in queues]})
    done.names[logical] = name
    done.buckets[logical] = name
    done.arns[logical] = f"arn:aws:s3:::{name}"


def _generated(spec: dict) -> str:
    """What CloudFormation's GenerateSecretString would store: the template's JSON with one
    random key added. Only lower-case hex is generated, whatever the exclusions: that is all
    PaySettle's template asks for (a 64-hex signing secret)."""
    length = int(spec.get("PasswordLength", 64))
    value = secrets.token_hex((length + 1) // 2)[:length]
    if "SecretStringTemplate" in spec:
        document = json.loads(spec["SecretStringTemplate"])
        document[spec["GenerateStringKey"]] = value
        return json.dumps(document)
    return value


def _create_secret(secretsmanager, name: str, properties: dict, done: Provisioned,
                   logical: str) -> None:
    text = properties.get("SecretString")
    if not isinstance(text, str):
        text = _generated(properties.get("GenerateSecretString", {}))
    arn = secretsmanager.create_secret(Name=name, SecretString=text)["ARN"]
    done.names[logical] = arn        # a secret's Ref is its ARN
    done.arns[logical] = arn
    done.secrets[logical] = arn
