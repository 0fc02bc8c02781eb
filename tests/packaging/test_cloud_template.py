"""`make package`'s CloudFormation template of the payment center: packaged by chalice, linted,
least privilege. The merchant system's own package: tests/packaging/test_merchant_package.py."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.reentry import NEEDS_ATTENTION_METRIC
from chalicelib.sharing import scheduler as sharing_scheduler
from chalicelib.subsidies import sweeper as subsidy_sweeper

ROOT = Path(__file__).resolve().parents[2]
CHALICE = Path(sys.executable).with_name("chalice")
CFN_LINT = Path(sys.executable).with_name("cfn-lint")


@pytest.fixture(scope="module")
def packaged(center_package):
    return center_package / "sam.json"


def _template(packaged):
    return json.loads(packaged.read_text())


def _functions(template):
    return {name: r for name, r in template["Resources"].items()
            if r.get("Type") == "AWS::Serverless::Function"}


def test_cfn_lint_accepts_the_packaged_template(packaged):
    result = subprocess.run([str(CFN_LINT), str(packaged)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_resource_of_the_merge_template_is_complete(packaged):
    # A function renamed in app.py would leave a merge override without a Type.
    for name, resource in _template(packaged)["Resources"].items():
        assert "Type" in resource, f"{name} has no Type: the merge template names a missing resource"


def test_each_function_has_its_own_role(packaged):
    template = _template(packaged)
    roles = {name: f["Properties"]["Role"]["Fn::GetAtt"][0]
             for name, f in _functions(template).items()}
    assert set(roles) == {"APIHandler", "Aggregator", "Sweeper", "Recon",
                          "PaymentExport", "SubsidySweeper", "TradeApplier",
                          "SharingScheduler", "SharingRefunds", "LedgerAuditor"}
    assert len(set(roles.values())) == len(roles)
    for role in roles.values():
        assert template["Resources"][role]["Type"] == "AWS::IAM::Role"


def _statements(template):
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield name, statement
        assert not resource["Properties"].get("ManagedPolicyArns"), name


def _log_group(function: str) -> dict:
    return {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                       f"/aws/lambda/${{AWS::StackName}}-{function}-*"}


# Lambda names a function's log group after the function's physical name (stack name, logical
# id, a random suffix), known only once the function exists: the group is pinned to this
# stack and this function, only the suffix is open.
LOG_GROUP = "its own function's log group; the name's random suffix is known only after creation"
# S3 object ARNs name keys: a grant on objects is a key pattern of one named bucket. Each
# prefix is fixed; a `*` segment in the middle is the batch name (a date), chosen at run time.
OBJECTS = "objects under a fixed key prefix of the one named bucket; the key ends in a run-time name"

# Every IAM statement (role, Sid) that may hold a `*` in its Resource, the exact Resource it
# may have and why it cannot be narrower. No action may hold a `*` at all. A wildcard
# anywhere else fails, and so does an entry here the template no longer has.
WILDCARD_RESOURCES = {
    **{(role, "Logs"): (_log_group(function), LOG_GROUP) for role, function in (
        ("ApiHandlerRole", "APIHandler"), ("SubsidySweeperRole", "SubsidySweeper"),
        ("AggregatorRole", "Aggregator"), ("SweeperRole", "Sweeper"),
        ("PaymentExportRole", "PaymentExport"), ("TradeApplierRole", "TradeApplier"),
        ("ReconHandlerRole", "Recon"), ("SharingSchedulerRole", "SharingScheduler"),
        ("SharingRefundsRole", "SharingRefunds"), ("LedgerAuditorRole", "LedgerAuditor"))},
    ("PaymentExportRole", "UploadPaymentSide"): (
        {"Fn::Sub": "${ReconBucket.Arn}/incoming/*/payment/*"},
        OBJECTS + ": the payment side's files of any day's batch, nothing else"),
    ("ReconHandlerRole", "ReadIncoming"): (
        {"Fn::Sub": "${ReconBucket.Arn}/incoming/*"},
        OBJECTS + ": the recon reads both sides' files of the batch it was told about"),
    ("ReconHandlerRole", "WriteResults"): (
        {"Fn::Sub": "${ReconBucket.Arn}/results/*"},
        OBJECTS + ": the recon writes (and re-reads, when resumed) its own results"),
}


def test_no_wildcard_actions_or_resources_but_the_documented_ones(packaged):
    template = _template(packaged)
    statements = list(_statements(template))
    assert statements
    used = set()
    for role, statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert statement["Effect"] == "Allow", role
        for action in actions:
            assert "*" not in action, f"{role}: wildcard action {action}"
        resource = statement["Resource"]
        if "*" not in json.dumps(resource):
            continue
        key = (role, statement.get("Sid"))
        assert key in WILDCARD_RESOURCES, f"{role}: wildcard resource {json.dumps(resource)} is in no allow-list entry"
        allowed, reason = WILDCARD_RESOURCES[key]
        assert reason
        assert resource == allowed, f"{role} {key[1]}: {json.dumps(resource)} is not the allowed {json.dumps(allowed)}"
        used.add(key)
    assert used == set(WILDCARD_RESOURCES), f"allow-list entries the template no longer needs: {set(WILDCARD_RESOURCES) - used}"
    # A Logs grant is for the function that has the role, not for a sibling's log group.
    roles = {f["Properties"]["Role"]["Fn::GetAtt"][0]: name for name, f in _functions(template).items()}
    for role, function in roles.items():
        assert WILDCARD_RESOURCES[(role, "Logs")][0] == _log_group(function), role


def test_resource_policies_allow_nothing_with_wildcards(packaged):
    """Queue and bucket policies: an Allow names one service and no wildcard (a Deny may be
    as wide as it likes: it only takes permissions away)."""
    policies = [(name, r["Properties"]["PolicyDocument"]) for name, r in _template(packaged)["Resources"].items()
                if r["Type"] in ("AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy")]
    assert policies
    for name, document in policies:
        for statement in document["Statement"]:
            if statement["Effect"] == "Deny":
                continue
            assert statement["Effect"] == "Allow", name
            assert set(statement["Principal"]) == {"Service"}, name
            assert "*" not in json.dumps(statement["Action"]), name
            assert "*" not in json.dumps(statement["Resource"]), name


def _of_type(template, kind):
    found = {name: r for name, r in template["Resources"].items() if r["Type"] == kind}
    assert found, kind
    return found


def test_every_alarm_notifies_the_alarm_topic(packaged):
    template = _template(packaged)
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    assert {"CreditDeadLetterAlarm", "ReconDeadLetterAlarm", "RefundDeadLetterAlarm",
            "SubsidyNeedsAttentionAlarm", "SharingNeedsAttentionAlarm"} <= set(alarms)
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    assert template["Resources"]["AlarmTopic"]["Type"] == "AWS::SNS::Topic"


@pytest.mark.parametrize("alarm,namespace", [("SubsidyNeedsAttentionAlarm", subsidy_sweeper.METRIC_NAMESPACE),
                                             ("SharingNeedsAttentionAlarm", sharing_scheduler.METRIC_NAMESPACE)])
def test_needs_attention_alarms_watch_the_metric_the_code_emits(packaged, alarm, namespace):
    properties = _template(packaged)["Resources"][alarm]["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (namespace, NEEDS_ATTENTION_METRIC)
    # The code emits the count with no dimension too (chalicelib.logs.count_metric): the alarm
    # watches that series, so every kind of record trips it.
    assert "Dimensions" not in properties
    assert (properties["Statistic"], properties["Threshold"], properties["ComparisonOperator"]) == \
        ("Sum", 0, "GreaterThanThreshold")


def test_every_queue_is_encrypted_at_rest(packaged):
    for name, queue in _of_type(_template(packaged), "AWS::SQS::Queue").items():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or properties.get("KmsMasterKeyId"), name


# Tables that may go without point-in-time recovery, and why: none holds money or anything a
# restore would need. A money table (orders, ledger, subsidies, sharing,
# trades, reconciliation batches) is never listed here.
WITHOUT_POINT_IN_TIME_RECOVERY = {
    "NoncesTable": "replay guard: each entry expires minutes after its request; a restored "
                   "copy would hold only expired nonces",
}


def test_every_table_is_encrypted_and_money_tables_recover_to_a_point_in_time(packaged):
    tables = _of_type(_template(packaged), "AWS::DynamoDB::Table")
    for name, table in tables.items():
        properties = table["Properties"]
        assert properties.get("SSESpecification", {}).get("SSEEnabled") is True, name
        if name in WITHOUT_POINT_IN_TIME_RECOVERY:
            continue
        assert properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True, name
        assert table.get("DeletionPolicy") == "Retain", name
    assert {"OrdersTable", "LedgerTable", "SubsidiesTable", "SharingTable",
            "TradesTable", "ReconBatchesTable"} <= set(tables) - set(WITHOUT_POINT_IN_TIME_RECOVERY)


def test_every_bucket_is_encrypted_private_and_refuses_plain_http(packaged):
    template = _template(packaged)
    policies = {r["Properties"]["Bucket"]["Ref"]: r["Properties"]["PolicyDocument"]
                for r in _of_type(template, "AWS::S3::BucketPolicy").values()}
    for name, bucket in _of_type(template, "AWS::S3::Bucket").items():
        properties = bucket["Properties"]
        rules = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rules and all(r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms", "aws:kms:dsse")
                             for r in rules), name
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True,
            "IgnorePublicAcls": True, "RestrictPublicBuckets": True}, name
        # ACLs off: only the bucket policy and IAM decide who reads an object.
        assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}, name
        assert name in policies, f"{name} has no bucket policy"
        tls_only = [s for s in policies[name]["Statement"]
                    if s["Effect"] == "Deny" and s["Principal"] == "*" and s["Action"] in ("s3:*", ["s3:*"])
                    and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
        assert len(tls_only) == 1, f"{name}: no statement denying every request made without TLS"
        covered = sorted(json.dumps(r, sort_keys=True) for r in tls_only[0]["Resource"])
        assert covered == sorted(json.dumps(r, sort_keys=True) for r in (
            {"Fn::GetAtt": [name, "Arn"]}, {"Fn::Sub": f"${{{name}.Arn}}/*"})), name


PAYMENT_FUNCTIONS = ("APIHandler", "Aggregator", "Sweeper")


def test_functions_get_the_resources_they_read_from_the_environment(packaged):
    template = _template(packaged)
    for name, function in _functions(template).items():
        if name not in PAYMENT_FUNCTIONS:
            continue
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["ORDERS_TABLE"] == {"Ref": "OrdersTable"}, name
        assert variables["LEDGER_TABLE"] == {"Ref": "LedgerTable"}, name
        assert variables["CREDIT_QUEUE_URL"] == {"Ref": "CreditQueue"}, name


def test_credit_queue_has_a_dead_letter_queue_and_outlives_the_aggregator(packaged):
    template = _template(packaged)
    queue = template["Resources"]["CreditQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["CreditDeadLetterQueue", "Arn"]}
    assert 1 <= queue["RedrivePolicy"]["maxReceiveCount"] <= 10
    aggregator_timeout = _functions(template)["Aggregator"]["Properties"]["Timeout"]
    # A message must not reappear while the run that received it may still apply it.
    assert queue["VisibilityTimeout"] > aggregator_timeout


def test_schedules_run_every_minute_in_the_cloud(packaged):
    functions = _functions(_template(packaged))
    for name in ("Aggregator", "Sweeper", "SubsidySweeper"):
        events = functions[name]["Properties"]["Events"]
        schedules = [e["Properties"]["Schedule"] for e in events.values() if e["Type"] == "Schedule"]
        assert schedules == ["rate(1 minute)"], name


def test_recon_pipeline_bucket_to_queue_to_function(packaged):
    template = _template(packaged)
    resources = template["Resources"]
    bucket = resources["ReconBucket"]
    assert bucket["Type"] == "AWS::S3::Bucket"
    [notification] = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": ["ReconQueue", "Arn"]}
    rules = {r["Name"]: r["Value"] for r in notification["Filter"]["S3Key"]["Rules"]}
    assert rules["prefix"] == "incoming/"
    # S3 checks it may send when the bucket is created: the policy must exist first.
    assert bucket["DependsOn"] == "ReconQueuePolicy"
    policy = resources["ReconQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "ReconQueue"}]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    queue = resources["ReconQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["ReconDeadLetterQueue", "Arn"]}
    recon = _functions(template)["Recon"]["Properties"]
    [source] = recon["Events"].values()
    assert source["Type"] == "SQS"
    # Chalice deep-merges the override into its own event: exactly one intrinsic may remain.
    assert source["Properties"]["Queue"] in ({"Fn::Sub": "${ReconQueue.Arn}"},
                                             {"Fn::GetAtt": ["ReconQueue", "Arn"]})
    assert source["Properties"]["BatchSize"] == 1
    # SQS event sources need the visibility timeout at least the function's timeout
    # (AWS recommends six times).
    assert queue["VisibilityTimeout"] >= 6 * recon["Timeout"]
    variables = recon["Environment"]["Variables"]
    assert variables["RECON_BUCKET"] == {"Ref": "ReconBucket"}
    assert variables["RECON_BATCHES_TABLE"] == {"Ref": "ReconBatchesTable"}
    assert variables["RECON_QUEUE_URL"] == {"Ref": "ReconQueue"}
    # A RUNNING claim is taken over only after its Lambda cannot be alive any more.
    assert int(variables["RECON_LEASE_SECONDS"]) > recon["Timeout"]
    api = _functions(template)["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api["RECON_BATCHES_TABLE"] == {"Ref": "ReconBatchesTable"}


def test_exports_run_daily_with_their_own_narrow_permissions(packaged):
    template = _template(packaged)
    functions = _functions(template)
    for name, side, table in (("PaymentExport", "payment", "OrdersTable"),):
        properties = functions[name]["Properties"]
        schedules = [e["Properties"]["Schedule"] for e in properties["Events"].values()
                     if e["Type"] == "Schedule"]
        assert schedules == ["cron(30 16 * * ? *)"], name     # 00:30 China time
        variables = properties["Environment"]["Variables"]
        assert variables["EXPORT_BUCKET"] == {"Ref": "ReconBucket"}, name
        role = template["Resources"][properties["Role"]["Fn::GetAtt"][0]]
        statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        uploads = [s for s in statements if "s3:PutObject" in s["Action"]]
        assert [u["Resource"] for u in uploads] == [{"Fn::Sub": f"${{ReconBucket.Arn}}/incoming/*/{side}/*"}]
        actions = {a for s in statements for a in s["Action"]}
        assert not {"s3:GetObject", "s3:DeleteObject", "dynamodb:PutItem", "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem", "sqs:SendMessage"} & actions, name
        queried = [s["Resource"] for s in statements if s["Action"] == ["dynamodb:Query"]]
        assert queried == [{"Fn::Sub": f"${{{table}.Arn}}/index/successful_by_day"}], name
    assert "MERCHANT_ORDERS_TABLE" not in functions["PaymentExport"]["Properties"]["Environment"]["Variables"]


def test_the_api_reaches_the_channel_through_a_parameter(packaged):
    """CHANNEL_URL is the real channel's base URL in the cloud, the simulator's locally:
    the template Parameter ChannelUrl, which the local stack fills in."""
    template = _template(packaged)
    assert template["Parameters"]["ChannelUrl"]["Type"] == "String"
    variables = _functions(template)["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["CHANNEL_URL"] == {"Ref": "ChannelUrl"}


def test_the_subsidy_sweeper_outlives_its_time_budget(packaged):
    from chalicelib.subsidies.context import SWEEPER_BUDGET_SECONDS

    sweeper = _functions(_template(packaged))["SubsidySweeper"]["Properties"]
    assert sweeper["Timeout"] >= SWEEPER_BUDGET_SECONDS + 10
    variables = sweeper["Environment"]["Variables"]
    assert variables["SUBSIDIES_TABLE"] == {"Ref": "SubsidiesTable"}
    assert variables["CHANNEL_URL"] == {"Ref": "ChannelUrl"}


def test_the_trade_applier_reads_pending_trades_and_writes_the_journal_only(packaged):
    template = _template(packaged)
    applier = _functions(template)["TradeApplier"]["Properties"]
    schedules = [e["Properties"]["Schedule"] for e in applier["Events"].values()
                 if e["Type"] == "Schedule"]
    assert schedules == ["rate(1 minute)"]
    assert applier["Environment"]["Variables"]["TRADES_TABLE"] == {"Ref": "TradesTable"}
    assert applier["Environment"]["Variables"]["LEDGER_TABLE"] == {"Ref": "LedgerTable"}
    role = template["Resources"][applier["Role"]["Fn::GetAtt"][0]]
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    granted = {(action, json.dumps(s["Resource"], sort_keys=True))
               for s in statements if s["Sid"] != "Logs" for action in s["Action"]}
    trades = json.dumps({"Fn::GetAtt": ["TradesTable", "Arn"]}, sort_keys=True)
    ledger = json.dumps({"Fn::GetAtt": ["LedgerTable", "Arn"]}, sort_keys=True)
    index = json.dumps({"Fn::Sub": "${TradesTable.Arn}/index/pending_async"}, sort_keys=True)
    assert granted == {("dynamodb:GetItem", trades), ("dynamodb:UpdateItem", trades),
                       ("dynamodb:Scan", index),       # every tenant's pending trades
                       ("dynamodb:PutItem", ledger), ("dynamodb:UpdateItem", ledger)}
    api = _functions(template)["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api["TRADES_TABLE"] == {"Ref": "TradesTable"}


def test_request_signing_reads_its_secrets_and_nonces_by_exact_resource(packaged):
    """The API verifies callers (CallerCredentials, NoncesTable); the payment export reads
    CallerCredentials for its tenants; nothing else may read the secret, and each grant names
    its one resource. The merchant system's signing key is its own stack's
    (tests/packaging/test_merchant_package.py)."""
    template = _template(packaged)
    resources = template["Resources"]
    assert resources["CallerCredentials"]["Type"] == "AWS::SecretsManager::Secret"
    assert json.loads(resources["CallerCredentials"]["Properties"]["SecretString"]) == {"callers": {}}
    nonces = resources["NoncesTable"]["Properties"]
    assert nonces["KeySchema"] == [{"AttributeName": "nonce_key", "KeyType": "HASH"}]
    assert nonces["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    functions = _functions(template)
    api = functions["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api["CALLER_CREDENTIALS_SECRET"] == {"Ref": "CallerCredentials"}
    assert api["NONCES_TABLE"] == {"Ref": "NoncesTable"}
    readers = {}
    for role, statement in _statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(action.startswith("secretsmanager:") for action in actions):
            assert actions == ["secretsmanager:GetSecretValue"], role
            readers.setdefault(json.dumps(statement["Resource"], sort_keys=True), set()).add(role)
        if statement["Resource"] == {"Fn::GetAtt": ["NoncesTable", "Arn"]}:
            assert (role, actions) == ("ApiHandlerRole", ["dynamodb:PutItem"])
    # The payment export lists the tenants from CallerCredentials (each credential's merchant_id).
    assert readers == {json.dumps({"Ref": "CallerCredentials"}): {"ApiHandlerRole", "PaymentExportRole"}}
