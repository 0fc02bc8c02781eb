"""The load driver against a real HTTP server on loopback (the merchant double).

Each pay's answer is fixed by its amount (see merchant_double), so the test
knows from the plan alone what every pay must get; withdraws race the pays, so
only the overdraws' answer (FAIL) is fixed.
"""
import json
import re
import socket
from collections import Counter

import pytest

from tools.cli import main
from tools.load import LoadSettings, PlanSpec, plan, run_load
from tools.load.client import CONNECT_ATTEMPTS, CONNECT_FAILED, CONNECTION_LOST, TIMED_OUT
from tools.load.faults import FaultControlError, counters_of, settings_of

from .merchant_double import INSUFFICIENT, Faults, LinkDouble, MerchantDouble, pay_rule

SLOW_MS = 200
# Generous against a busy 2-core machine: a slow answer (0.2 s) must never reach the timeout,
# a hung one (4 s) always must. A timeout of 1 s was reached by two slow answers while the other
# test worker started a stack.
TIMEOUT_SECONDS = 2.0
HANG_SECONDS = 4.0
SPEC = PlanSpec(pays=240, withdraws=60, salers=8, min_amount=100, max_amount=5000,
                overdraw_share=0.25, seed=11)


def _expected_pays(spec):
    return Counter(pay_rule(c.amount) for c in plan(spec) if c.kind == "pay")


@pytest.fixture
def merchant():
    with MerchantDouble(slow_seconds=SLOW_MS / 1000, hang_seconds=HANG_SECONDS) as double:
        yield double


def test_every_call_is_sent_once_and_counted_by_its_outcome(merchant):
    result = run_load(LoadSettings(merchant.url, SPEC, threads=8, timeout=TIMEOUT_SECONDS, progress=False))
    doc = result.to_dict()
    rules = _expected_pays(SPEC)
    calls = plan(SPEC)
    assert rules["drop"] and rules["hang"] and rules["503"] and rules["UNKNOWN"] and rules["slow"]

    pay = doc["operations"]["pay"]
    assert pay["calls"] == SPEC.pays
    assert pay["outcomes"] == {
        "SUCCESS": rules["SUCCESS"] + rules["slow"], "FAIL": {},
        "UNKNOWN": rules["UNKNOWN"], "INIT": 0, "http_errors": {"503": rules["503"]},
        "unreadable_answers": 0,
        "connection_errors": {CONNECT_FAILED: 0, CONNECTION_LOST: rules["drop"],
                              TIMED_OUT: rules["hang"]}}
    assert pay["answered"] == SPEC.pays - rules["drop"] - rules["hang"]

    withdraw = doc["operations"]["withdraw"]["outcomes"]
    overdraws = sum(c.overdraw for c in calls)
    assert overdraws == 15
    assert doc["overdraw_outcomes"]["FAIL"] == {INSUFFICIENT: overdraws}
    assert doc["overdraw_outcomes"]["SUCCESS"] == 0
    assert withdraw["SUCCESS"] + withdraw["FAIL"][INSUFFICIENT] == SPEC.withdraws
    assert withdraw["SUCCESS"] > 0

    overall = doc["operations"]["overall"]
    assert overall["calls"] == SPEC.pays + SPEC.withdraws
    assert overall["throughput_per_s"] == pytest.approx(overall["calls"] / result.wall_seconds,
                                                        rel=1e-3)

    # Not retried: a dropped or timed-out POST may have made an order; the double saw every
    # planned body exactly as often as the plan has it.
    assert Counter(body for _, body in merchant.received) == Counter(
        json.dumps(c.body(), sort_keys=True) for c in calls)
    assert all(o.attempts == 1 for o in result.outcomes)

    unknown = result.unknown_request_ids
    assert len(unknown) == len(set(unknown)) == rules["UNKNOWN"]
    assert all(len(i) == 20 and i.isdigit() for i in unknown)
    assert not result.complete


def test_latency_percentiles_see_the_slow_answers(merchant):
    result = run_load(LoadSettings(merchant.url, SPEC, threads=8, timeout=TIMEOUT_SECONDS, progress=False))
    latency = result.to_dict()["operations"]["pay"]["latency_ms"]
    rules = _expected_pays(SPEC)
    answered = SPEC.pays - rules["drop"] - rules["hang"]
    slow_share = rules["slow"] / answered
    assert 0.05 < slow_share < 0.5, "the plan must make p50 fast and p95 slow for this test"
    assert latency["p50"] < SLOW_MS
    assert latency["p95"] >= SLOW_MS
    assert SLOW_MS <= latency["max"] < TIMEOUT_SECONDS * 1000  # the hung calls are not in it
    # One latency per answered call, measured around the HTTP exchange.
    measured = sorted(o.latency_ms for o in result.outcomes
                      if o.latency_ms is not None and o.call.kind == "pay")
    assert len(measured) == answered
    assert latency["max"] == round(measured[-1], 3)


def test_json_output_is_one_document_on_stdout_with_progress_on_stderr(merchant, capsys,
                                                                        tmp_path):
    unknown_file = tmp_path / "unknown.txt"
    status = main(["load", "--api-url", merchant.url, "--pays", "240", "--withdraws", "60",
                   "--salers", "8", "--min-amount", "100", "--max-amount", "5000",
                   "--overdraw-share", "0.25", "--seed", "11", "--threads", "8",
                   "--timeout", str(TIMEOUT_SECONDS), "--json", "--unknown-file", str(unknown_file)])
    out, err = capsys.readouterr()
    assert status == 1  # some calls got HTTP 503 or no answer
    document = json.loads(out)
    assert document["seed"] == 11 and document["threads"] == 8
    assert document["percentile_method"] == "nearest-rank"
    assert document["plan"]["overdraws"] == 15
    assert set(document["operations"]) == {"pay", "withdraw", "overall"}
    assert set(document["operations"]["overall"]["latency_ms"]) == {"p50", "p95", "p99", "max"}
    assert document["faults"] is None
    assert document["unknown_file"] == str(unknown_file)
    assert unknown_file.read_text().split() == document["unknown_request_ids"]
    assert len(document["unknown_request_ids"]) == _expected_pays(SPEC)["UNKNOWN"]
    assert "load" in err and "300/300" in err  # the progress bar, on stderr only


def test_a_run_where_everything_answers_exits_0_and_prints_the_table(merchant, capsys):
    # 1 fen pays match no failure rule; withdraws of 1 fen race the pays, overdraws fail.
    status = main(["load", "--api-url", merchant.url, "--pays", "60", "--withdraws", "20",
                   "--min-amount", "1", "--max-amount", "1", "--salers", "3",
                   "--no-progress"])
    out, err = capsys.readouterr()
    assert status == 0
    assert err == ""
    assert re.search(r"^pay +60 +60 +[0-9.]+ +[0-9.]+", out, re.MULTILINE)
    assert "FAIL 账户余额不足，提款失败" in out
    assert "nearest-rank percentiles" in out


def test_the_same_seed_sends_the_same_calls_in_the_same_order():
    sent = []
    for _ in range(2):
        with MerchantDouble() as double:
            run_load(LoadSettings(double.url, PlanSpec(pays=40, withdraws=10, min_amount=1,
                                                       max_amount=1000, seed=9),
                                  threads=1, progress=False))
            sent.append(list(double.received))
    assert sent[0] == sent[1] and len(sent[0]) == 50


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_server_that_is_not_there_is_retried_then_counted_as_connect_failed():
    result = run_load(LoadSettings(f"http://127.0.0.1:{_closed_port()}",
                                   PlanSpec(pays=4, withdraws=1), threads=5, progress=False))
    outcomes = result.to_dict()["operations"]["overall"]["outcomes"]
    assert outcomes["connection_errors"][CONNECT_FAILED] == 5
    assert outcomes["SUCCESS"] == 0
    assert all(o.attempts == CONNECT_ATTEMPTS for o in result.outcomes)
    assert result.to_dict()["operations"]["overall"]["latency_ms"] == {}
    assert not result.complete


def test_fault_mode_sets_the_link_reports_its_counters_and_restores_it():
    faults = Faults(forwarded=7)  # counts from before the run are not reported
    spec = PlanSpec(pays=120, withdraws=20, min_amount=1, max_amount=1, seed=4)
    with LinkDouble(faults) as link, MerchantDouble(faults=faults) as double:
        result = run_load(LoadSettings(double.url, spec, threads=4, fault_rate=0.25,
                                       payment_link_url=link.url, progress=False))
    doc = result.to_dict()
    unknown = doc["operations"]["overall"]["outcomes"]["UNKNOWN"]
    assert 0 < unknown < 140
    assert doc["faults"] == {"forwarded": 140 - unknown, "caller_gone": 0,
                             "timeout_after_commit": unknown, "timeout_before_commit": 0}
    assert len(result.unknown_request_ids) == unknown
    assert faults.posts[0] == {"timeout_after_commit": 0.25, "timeout_before_commit": 0.0,
                               "seed": 4}
    assert faults.posts[-1] == {"timeout_after_commit": 0.0, "timeout_before_commit": 0.0,
                                "seed": 0}
    assert "payment link during the run: forwarded" in result.table()


def test_keep_faults_leaves_the_rate_on(tmp_path, capsys):
    faults = Faults()
    with LinkDouble(faults) as link, MerchantDouble(faults=faults) as double:
        stack = tmp_path / "local-stack.json"
        stack.write_text(json.dumps({"merchant_api_url": double.url, "payment_link_url": link.url}))
        status = main(["load", "--stack-file", str(stack), "--pays", "10", "--withdraws", "0",
                       "--min-amount", "1", "--max-amount", "1", "--fault-rate", "0.5",
                       "--keep-faults", "--json", "--no-progress"])
    assert status == 0
    assert json.loads(capsys.readouterr().out)["faults"]["timeout_after_commit"] >= 0
    assert faults.settings["timeout_after_commit"] == 0.5
    assert len(faults.posts) == 1


def test_an_unreachable_payment_link_fails_the_run_with_status_3(merchant, capsys):
    status = main(["load", "--api-url", merchant.url,
                   "--payment-link-url", f"http://127.0.0.1:{_closed_port()}",
                   "--fault-rate", "0.01", "--pays", "1", "--withdraws", "0", "--no-progress"])
    assert status == 3
    assert "the payment link's fault control" in capsys.readouterr().err
    assert merchant.received == []  # nothing sent when fault mode could not be set


def test_link_documents_with_flat_or_nested_counters_are_read_alike():
    nested = {"timeout_after_commit": 0.02, "timeout_before_commit": 0.0, "seed": 7,
              "counters": {"forwarded": 9, "timeout_after_commit": 2, "timeout_before_commit": 0}}
    flat = {"forwarded": 9, "timeout_after_commit": 2, "timeout_before_commit": 0}
    assert counters_of(nested) == counters_of(flat) == nested["counters"]
    assert settings_of(nested) == {"timeout_after_commit": 0.02, "timeout_before_commit": 0.0,
                                   "seed": 7}
    assert issubclass(FaultControlError, RuntimeError)


def test_with_a_key_id_every_call_is_signed_with_the_stack_files_secret(tmp_path, capsys):
    from chalicelib.auth import signature

    secret = "load-test-secret"
    with MerchantDouble() as double:
        stack = tmp_path / "local-stack.json"
        stack.write_text(json.dumps({"merchant_api_url": double.url, "merchants": [
            {"key_id": "mch-other", "secret": "not this one"},
            {"key_id": "mch-demo", "secret": secret}]}))
        status = main(["load", "--stack-file", str(stack), "--key-id", "mch-demo", "--pays", "6",
                       "--withdraws", "2", "--min-amount", "1", "--max-amount", "1", "--json",
                       "--no-progress"])
    assert status == 0
    assert secret not in capsys.readouterr().out
    assert len(double.wire) == 8
    nonces = set()
    for path, headers, raw in double.wire:
        assert headers[signature.KEY_ID] == "mch-demo"
        assert signature.matches(secret, headers[signature.SIGNATURE], "POST", path,
                                 headers[signature.TIMESTAMP], headers[signature.NONCE], raw)
        nonces.add(headers[signature.NONCE])
    assert len(nonces) == 8


def test_without_a_key_id_nothing_is_signed(merchant):
    assert main(["load", "--api-url", merchant.url, "--pays", "2", "--withdraws", "0",
                 "--min-amount", "1", "--max-amount", "1", "--no-progress"]) == 0
    assert all("X-Signature" not in headers for _, headers, _ in merchant.wire)
