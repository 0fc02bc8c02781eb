"""The daily export schedules: the handlers through chalice's test client, the batch they pick,
and the local pump's rule that a LOCAL_SCHEDULE_SECONDS of "0" means "not run locally"."""
import dataclasses
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from chalice import Chalice, Cron, Rate
from chalice.test import Client

import app as paysettle
from chalicelib.exports import service
from chalicelib.exports.window import previous_day
from infra.local_stack import (CHALICE_CONFIG, MERCHANT_CHALICE_CONFIG, MERCHANT_PROJECT,
                               chalice_environment)
from merchant_system.app import app as merchant_app
from infra.pump import Environment, Pump
from tests.e2e.support import wait_until
from tests.exports.support import TENANT
from tests.support.logs import captured_log_lines
from tests.support.signing import NO_TENANT, PLATFORM, TENANT_A, callers_secret

PROJECT = Path(__file__).resolve().parents[2]


# -- which batch a run exports ------------------------------------------------------------------

@pytest.mark.parametrize("utc, batch, start, end", [
    ("2026-11-21T16:30:00Z", "20261121", "2026-11-21 00:00:00", "2026-11-22 00:00:00"),  # 00:30 CST
    ("2026-11-21T15:59:59Z", "20261120", "2026-11-20 00:00:00", "2026-11-21 00:00:00"),  # 23:59:59 CST
    ("2026-03-01T00:00:00Z", "20260228", "2026-02-28 00:00:00", "2026-03-01 00:00:00"),
])
def test_a_daily_run_exports_the_previous_china_day(utc, batch, start, end):
    moment = datetime.strptime(utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    name, window = previous_day(moment)
    assert (name, window.start, window.end) == (batch, start, end)


def _event(function: str, utc: str) -> dict:
    return {"version": "0", "id": "e", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": utc, "region": "us-east-1",
            "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{function}"], "detail": {}}


@pytest.fixture
def lambda_env(world, monkeypatch):
    """The variables the template gives the export functions, pointing at the moto world; the
    caller credentials name two tenants (the world's and "other") and a key of no tenant."""
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    keys = (dataclasses.replace(PLATFORM, merchant_id=TENANT), dataclasses.replace(TENANT_A, merchant_id="other"),
            NO_TENANT)
    arn = secrets.create_secret(Name="exports-callers", SecretString=callers_secret(keys))["ARN"]
    monkeypatch.setenv("CALLER_CREDENTIALS_SECRET", arn)
    monkeypatch.setenv("EXPORT_BUCKET", world.bucket)
    monkeypatch.setenv("EXPORT_TMP_DIR", str(world.tmp_dir))
    monkeypatch.setenv("MERCHANT_ORDERS_TABLE", world.merchant_table)
    monkeypatch.setenv("ORDERS_TABLE", world.provisioned.tables["OrdersTable"])
    monkeypatch.setenv("LEDGER_TABLE", world.provisioned.tables["LedgerTable"])
    return world


def test_the_scheduled_functions_export_their_side_of_the_previous_day_for_every_tenant(lambda_env):
    world = lambda_env
    order = world.pay("s1", 10, "2026-11-20 12:00:00")
    world.aggregate("2026-11-20 12:01:00")
    # Each side's function in its own app: the merchant system's and the payment center's.
    with Client(merchant_app, stage_name="dev", project_dir=str(MERCHANT_PROJECT)) as client:
        merchant = client.lambda_.invoke("merchant_export", _event("merchant_export", "2026-11-20T16:30:00Z"))
    with Client(paysettle.app, stage_name="dev", project_dir=str(PROJECT)) as client:
        payment = client.lambda_.invoke("payment_export", _event("payment_export", "2026-11-20T16:30:00Z"))

    # The merchant side: the simulated merchant system's own tenant (the stage's
    # MERCHANT_SYSTEM_TENANT). The payment side: every tenant of the credentials, each apart.
    assert {t: o["outcome"] for t, o in merchant.payload["tenants"].items()} == {"demo": "EXPORTED"}
    assert merchant.payload["side"] == "merchant" and merchant.payload["batch"] == "20261120"
    assert {t: o["outcome"] for t, o in payment.payload["tenants"].items()} == {
        TENANT: "EXPORTED", "other": "EXPORTED"}
    assert [r["response_id"] for r in world.rows("20261120", "payment", "pay.csv")] == [order.response_id]
    assert world.rows("20261120", "payment", "pay.csv", tenant="other") == []
    assert world.rows("20261120", "payment", "balances.csv", tenant="other") == []
    assert [r["response_id"] for r in world.rows("20261120", "merchant", "pay.csv", tenant="demo")] == [
        order.response_id]
    assert not [k for k in world.keys() if not k.startswith((f"incoming/{TENANT}/20261120/payment/",
                                                             "incoming/other/20261120/payment/",
                                                             "incoming/demo/20261120/merchant/"))]


def test_a_scheduled_payment_export_with_pending_credits_raises_so_lambda_retries(lambda_env):
    world = lambda_env
    world.pay("s1", 10, "2026-11-20 12:00:00")                       # not credited yet
    with pytest.raises(service.ExportIncomplete, match=f"{TENANT}: PENDING_CREDITS"):
        service.scheduled(service.PAYMENT, "2026-11-20T16:30:00Z")
    # The tenant without pending credits was exported all the same; the other wrote nothing.
    assert [k for k in world.keys() if "/payment/" in k] == [
        f"incoming/other/20261120/payment/{n}"
        for n in ("_manifest.json", "balances.csv", "pay.csv", "withdraw.csv")]


# -- the local pump ---------------------------------------------------------------------------

fake = Chalice(app_name="schedule-test")
runs = {"daily": 0, "often": 0}


@fake.schedule(Cron(30, 16, "*", "*", "?", "*"), name="daily")
def daily(event):
    runs["daily"] += 1


@fake.schedule(Rate(1, unit=Rate.HOURS), name="often")
def often(event):
    runs["often"] += 1


@pytest.fixture
def pump_logs():
    with captured_log_lines() as lines:
        yield lines


def _pump(settings):
    return Pump(fake, environments=lambda name: Environment({"LOCAL_SCHEDULE_SECONDS": settings[name]}),
                find_queue=lambda config: None, sqs=None, region="us-east-1",
                resolve=lambda handler: globals()[handler.rsplit(".", 1)[-1]])


def test_a_function_with_local_schedule_seconds_0_is_not_run_by_the_pump(pump_logs):
    runs.update(daily=0, often=0)
    pump = _pump({"daily": "0", "often": "0.05"})
    skipped = [line for line in pump_logs if line["event"] == "pump.schedule_not_run_locally"]
    assert [(line["source"], line["function"]) for line in skipped] == [("daily", "Daily")]

    pump.start()
    try:
        wait_until(lambda: runs["often"] >= 3, 10, "the 0.05 s schedule ran three times")
    finally:
        pump.stop()

    assert runs["often"] >= 3 and runs["daily"] == 0
    started = [line for line in pump_logs if line["event"] == "pump.started"]
    assert started[0]["not_scheduled"] == ["daily"] and "daily" not in started[0]["sources"]
    assert len([line for line in pump_logs if line["event"] == "pump.schedule_not_run_locally"]) == 1
    pump.run_once("daily")                  # still runnable on demand
    assert runs["daily"] == 1


def test_a_cron_schedule_without_a_local_interval_is_refused():
    with pytest.raises(ValueError, match="LOCAL_SCHEDULE_SECONDS"):
        Pump(fake, environments=lambda name: Environment({}), find_queue=lambda c: None, sqs=None,
             region="us-east-1", resolve=lambda handler: globals()[handler.rsplit(".", 1)[-1]])


def test_a_negative_local_interval_is_refused():
    with pytest.raises(ValueError, match="positive"):
        _pump({"daily": "-1", "often": "1"})


def test_the_local_stage_does_not_run_the_daily_exports_but_runs_the_aggregator():
    for function, config in (("merchant_export", MERCHANT_CHALICE_CONFIG),
                             ("payment_export", CHALICE_CONFIG)):
        assert chalice_environment(function, "local", config)["LOCAL_SCHEDULE_SECONDS"] == "0"
        assert "LOCAL_SCHEDULE_SECONDS" not in chalice_environment(function, "dev", config)
    assert chalice_environment("aggregator", "local")["LOCAL_SCHEDULE_SECONDS"] == "2"
