"""The event pump, in process: what it runs, with which environment, and how it fails."""
import json
import os
import threading
import time

import boto3
import pytest
from chalice import Chalice, Rate

from infra.embedded_aws import EmbeddedAWS
from infra.local_stack import REAL_AWS_SETTINGS, chalice_environment
from infra.pump import Environment, Pump, QueueRef, UnknownEventSource, function_logical_id

from .support import wait_until
from tests.support.logs import captured_log_lines

pytestmark = pytest.mark.e2e

fake = Chalice(app_name="pump-test")
seen = {"events": [], "environ": [], "failures_left": 0, "runs": 0}


@fake.schedule(Rate(1, unit=Rate.HOURS), name="tick")
def tick(event):
    seen["runs"] += 1
    seen["events"].append(event.to_dict())
    seen["environ"].append(os.environ.get("PUMP_TEST_TABLE"))
    if seen["failures_left"]:
        seen["failures_left"] -= 1
        raise RuntimeError("tick failed on purpose")
    return {"ok": True}


@fake.on_sqs_message(queue="jobs", batch_size=5, name="jobs")
def jobs(event):
    bodies = [record.body for record in event]
    seen["events"].append(event.to_dict())
    if "boom" in bodies:
        raise ValueError("cannot handle boom")


def resolve_here(handler_string: str):
    # chalice names handlers "app.<function>"; these live in this module.
    return globals()[handler_string.rsplit(".", 1)[-1]]


@pytest.fixture(autouse=True)
def _reset_seen():
    seen.update(events=[], environ=[], failures_left=0, runs=0)


@pytest.fixture
def pump_logs():
    with captured_log_lines() as lines:
        yield lines


@pytest.fixture
def aws():
    with EmbeddedAWS() as endpoint:
        session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="e2e",
                                        aws_secret_access_key="e2e")
        yield session.client("sqs", endpoint_url=endpoint.url)


def _queue_with_dead_letters(sqs, max_receives: int = 2):
    dead = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="jobs", Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receives})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return QueueRef(url, arn), dead


def _pump(sqs, queue=None, every: str = "0.1", variables=None) -> Pump:
    def environments(name):
        return Environment({"LOCAL_SCHEDULE_SECONDS": every,
                            "PUMP_TEST_TABLE": f"table-of-{function_logical_id(name)}",
                            **(variables or {})})
    return Pump(fake, environments, lambda source: queue, sqs, "us-east-1", resolve=resolve_here)


def test_a_schedule_gets_a_cloudwatch_event_and_its_function_s_environment(aws):
    pump = _pump(aws)
    before = os.environ.get("PUMP_TEST_TABLE")

    assert pump.run_once("tick") == {"ok": True}

    event = seen["events"][0]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"][0].endswith(":rule/tick")
    assert seen["environ"] == ["table-of-Tick"]
    assert os.environ.get("PUMP_TEST_TABLE") == before, "the environment leaked out of the call"
    assert pump.subscriptions["tick"].function == "Tick"
    assert pump.subscriptions["tick"].interval == 0.1


def test_without_a_local_rate_a_schedule_runs_at_its_declared_rate(aws):
    pump = Pump(fake, lambda name: Environment({}), lambda source: None, aws, "us-east-1",
                resolve=resolve_here)
    assert pump.subscriptions["tick"].interval == 3600


def test_run_once_refuses_an_unknown_source(aws):
    with pytest.raises(UnknownEventSource):
        _pump(aws).run_once("nothing")


def test_a_failing_handler_is_logged_and_the_pump_keeps_running(aws, pump_logs):
    seen["failures_left"] = 2
    pump = _pump(aws).start()
    try:
        wait_until(lambda: seen["runs"] >= 4, 10, "the schedule kept running after failures")
    finally:
        pump.stop()

    failures = [line for line in pump_logs if line["event"] == "pump.handler_failed"]
    assert len(failures) == 2
    assert failures[0]["source"] == "tick" and failures[0]["function"] == "Tick"
    assert failures[0]["error_type"] == "RuntimeError"
    assert failures[0]["level"] == "ERROR"


def test_sqs_messages_are_delivered_lambda_shaped_and_deleted_on_success(aws, pump_logs):
    queue, _dead = _queue_with_dead_letters(aws)
    aws.send_message(QueueUrl=queue.url, MessageBody="hello",
                     MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}})
    pump = _pump(aws, queue)

    pump.run_once("jobs")

    record = seen["events"][0]["Records"][0]
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["receiptHandle"] and record["messageId"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "greeting"
    left = aws.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
    assert left["ApproximateNumberOfMessages"] == "0"
    assert left["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_failing_sqs_handler_leaves_the_message_to_the_redrive_policy(aws, pump_logs):
    queue, dead = _queue_with_dead_letters(aws, max_receives=2)
    aws.send_message(QueueUrl=queue.url, MessageBody="boom")
    pump = _pump(aws, queue).start()
    try:
        moved = wait_until(
            lambda: aws.receive_message(QueueUrl=dead, WaitTimeSeconds=0).get("Messages"),
            15, "the failing message reached the dead-letter queue", interval=0.25)
    finally:
        pump.stop()

    assert moved[0]["Body"] == "boom"
    assert len([line for line in pump_logs if line["event"] == "pump.handler_failed"]) == 2


def test_an_sqs_source_without_a_queue_is_reported_not_fatal(aws, pump_logs):
    pump = _pump(aws, queue=None)

    assert "jobs" not in pump.subscriptions and pump.unresolved == ["jobs"]
    assert "tick" in pump.subscriptions
    assert [line["source"] for line in pump_logs if line["event"] == "pump.queue_not_provisioned"] == ["jobs"]


def test_environments_apply_over_a_base_and_remove_what_could_reach_real_aws():
    environment = Environment({"A": "1"}, unset=REAL_AWS_SETTINGS, unset_prefixes=("AWS_ENDPOINT_URL_",))
    merged = environment.over({"A": "0", "B": "2", "AWS_PROFILE": "prod",
                               "AWS_ENDPOINT_URL_DYNAMODB": "https://dynamodb.amazonaws.com"})
    assert merged == {"A": "1", "B": "2"}


def test_two_threads_see_their_own_environments_at_the_same_time():
    first, second = Environment({"PUMP_TEST_X": "first"}), Environment({"PUMP_TEST_X": "second"})
    both_inside = threading.Barrier(2, timeout=10)
    seen_values = []

    def use(environment, expected):
        with environment.applied():
            both_inside.wait()  # neither waits for the other to leave: nothing is swapped
            for _ in range(200):
                seen_values.append(os.environ["PUMP_TEST_X"] == expected
                                   and os.getenv("PUMP_TEST_X") == expected)
            both_inside.wait()

    threads = [threading.Thread(target=use, args=(e, e.variables["PUMP_TEST_X"]))
               for e in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen_values) == 400 and all(seen_values)
    assert "PUMP_TEST_X" not in os.environ


def test_a_removed_setting_is_hidden_from_the_function_only():
    os.environ["PUMP_TEST_PROFILE"] = "prod"
    try:
        with Environment({}, unset=("PUMP_TEST_PROFILE",)).applied():
            assert "PUMP_TEST_PROFILE" not in os.environ
            assert "PUMP_TEST_PROFILE" not in dict(os.environ)
        assert os.environ["PUMP_TEST_PROFILE"] == "prod"
    finally:
        del os.environ["PUMP_TEST_PROFILE"]


slow = Chalice(app_name="pump-concurrency-test")
timeline = {"fast_runs": [], "slow_running": threading.Event(), "release": threading.Event()}


@slow.schedule(Rate(1, unit=Rate.HOURS), name="long_recon")
def long_recon(event):
    timeline["slow_running"].set()
    timeline["release"].wait(30)  # a reconciliation that takes its time


@slow.schedule(Rate(1, unit=Rate.HOURS), name="quick_aggregator")
def quick_aggregator(event):
    timeline["fast_runs"].append(time.monotonic())


def test_a_long_handler_never_delays_another_function(aws):
    timeline["fast_runs"].clear()
    timeline["slow_running"].clear()
    timeline["release"].clear()
    pump = Pump(slow, lambda name: Environment({"LOCAL_SCHEDULE_SECONDS": "0.1"}),
                lambda source: None, aws, "us-east-1",
                resolve=lambda handler: globals()[handler.rsplit(".", 1)[-1]]).start()
    try:
        assert timeline["slow_running"].wait(10), "the long handler never started"
        started = time.monotonic()
        wait_until(lambda: len([t for t in timeline["fast_runs"] if t > started]) >= 10, 10,
                   "the quick function ran ten times while the long one was running")
        assert not timeline["release"].is_set()
    finally:
        timeline["release"].set()
        pump.stop()


def test_the_local_stage_shortens_schedules_and_the_grace_period():
    variables = chalice_environment("aggregator", "local")
    assert variables["LOCAL_SCHEDULE_SECONDS"] == "2"
    assert variables["CREDIT_GRACE_SECONDS"] == "5"
    assert chalice_environment("aggregator", "dev")["CREDIT_GRACE_SECONDS"] == "120"
