"""`paysettle load` option checking: a bad option is a clear message and exit status 2."""
import json

import pytest

from tools.cli import main


def _refused(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as stopped:
        main(["load", *argv])
    assert stopped.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--pays", "-1"], "argument --pays: -1 is less than 0"),
    (["--withdraws", "many"], "argument --withdraws: 'many' is not a whole number"),
    (["--salers", "0"], "argument --salers: 0 is less than 1"),
    (["--threads", "0"], "argument --threads: 0 is less than 1"),
    (["--min-amount", "0"], "argument --min-amount: 0 is less than 1"),
    (["--fault-rate", "1.5"], "argument --fault-rate: 1.5 is not in [0, 1]"),
    (["--overdraw-share", "half"], "argument --overdraw-share: 'half' is not a number"),
    (["--timeout", "0"], "argument --timeout: 0 is not more than 0"),
    (["--seed", "1.5"], "argument --seed: invalid int value"),
    (["--min-amount", "500", "--max-amount", "100"], "--min-amount must not exceed --max-amount"),
    (["--max-amount", "10000000001"], "--max-amount must be from 1 to 10000000000 fen"),
])
def test_bad_options_are_refused_with_status_2(capsys, argv, message):
    err = _refused(capsys, "--api-url", "http://127.0.0.1:9", *argv)
    assert message in err
    assert "usage: paysettle load" in err


def test_without_an_api_url_or_a_stack_file_it_says_where_it_looked(capsys, tmp_path):
    missing = tmp_path / "nowhere.json"
    err = _refused(capsys, "--stack-file", str(missing))
    assert f"no --api-url and no merchant_api_url in {missing}" in err


def test_the_default_stack_file_comes_from_local_stack_out(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LOCAL_STACK_OUT", str(tmp_path / "elsewhere.json"))
    err = _refused(capsys)
    assert "elsewhere.json" in err


def test_fault_mode_without_a_payment_link_is_refused(capsys, tmp_path):
    stack = tmp_path / "local-stack.json"
    stack.write_text(json.dumps({"merchant_api_url": "http://127.0.0.1:9"}))
    err = _refused(capsys, "--stack-file", str(stack), "--fault-rate", "0.01")
    assert "--fault-rate needs the payment link" in err


def test_an_api_url_that_is_not_http_is_refused(capsys):
    err = _refused(capsys, "--api-url", "127.0.0.1:8000")
    assert "--api-url '127.0.0.1:8000' is not an http:// or https:// URL" in err


def test_options_passed_through_by_make_run_keep_its_defaults_unless_given(tmp_path):
    from tools.load import REALISTIC_FAULT_RATE
    from tools.load.command import settings_from_argv

    base = {"api_url": "http://127.0.0.1:8000", "payment_link_url": "http://127.0.0.1:8001",
            "fault_rate": REALISTIC_FAULT_RATE, "stack_file": tmp_path / "none.json"}
    settings = settings_from_argv([], **base)
    assert (settings.api_url, settings.payment_link_url, settings.fault_rate) == (
        "http://127.0.0.1:8000", "http://127.0.0.1:8001", 0.01)
    assert (settings.spec.pays, settings.spec.withdraws, settings.spec.salers,
            settings.threads) == (2000, 400, 50, 16)
    settings = settings_from_argv(["--pays", "20", "--fault-rate", "0", "--seed", "8"], **base)
    assert (settings.spec.pays, settings.fault_rate, settings.spec.seed) == (20, 0.0, 8)
    with pytest.raises(SystemExit) as stopped:
        settings_from_argv(["--threads", "0"], **base)
    assert stopped.value.code == 2


def test_a_key_id_takes_its_secret_from_the_stack_file_else_the_environment(tmp_path, monkeypatch, capsys):
    from tools.load.command import settings_from_argv

    stack = tmp_path / "local-stack.json"
    stack.write_text(json.dumps({"merchant_api_url": "http://127.0.0.1:9",
                                 "merchants": [{"key_id": "mch-demo", "secret": "from-the-file"}]}))
    monkeypatch.delenv("PAYSETTLE_SIGNING_SECRET", raising=False)
    given = settings_from_argv(["--stack-file", str(stack), "--key-id", "mch-demo"])
    assert given.credential == {"key_id": "mch-demo", "secret": "from-the-file"}
    assert "from-the-file" not in repr(given)
    assert settings_from_argv(["--stack-file", str(stack)]).credential is None

    err = _refused(capsys, "--stack-file", str(stack), "--key-id", "biz-prod")
    assert "--key-id biz-prod: not in the merchants of" in err and "PAYSETTLE_SIGNING_SECRET" in err
    monkeypatch.setenv("PAYSETTLE_SIGNING_SECRET", "from-the-env")
    assert settings_from_argv(["--stack-file", str(stack), "--key-id", "biz-prod"]).credential == {
        "key_id": "biz-prod", "secret": "from-the-env"}
