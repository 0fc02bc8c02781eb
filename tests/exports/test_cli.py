"""`paysettle export`: the same environment as the Lambdas, one JSON line, documented exit codes."""
import json

import pytest

from tools import cli


@pytest.fixture
def env(world, monkeypatch):
    monkeypatch.delenv("MERCHANT_SYSTEM_TENANT", raising=False)
    for name, value in {"EXPORT_BUCKET": world.bucket, "EXPORT_TMP_DIR": str(world.tmp_dir),
                        "MERCHANT_ORDERS_TABLE": world.merchant_table,
                        "ORDERS_TABLE": world.provisioned.tables["OrdersTable"],
                        "LEDGER_TABLE": world.provisioned.tables["LedgerTable"]}.items():
        monkeypatch.setenv(name, value)
    return world


def _run(capsys, *argv, tenant="default"):
    code = cli.main(["export", *(("--tenant", tenant) if tenant else ()), *argv])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) <= 1, lines            # stdout: the one JSON line (logs go to stderr)
    return code, (json.loads(lines[0]) if lines else None), err


WINDOW = ("--from", "2026-11-01 00:00:00", "--to", "2026-11-02 00:00:00")


def test_export_prints_what_it_wrote_and_exits_0(env, capsys):
    order = env.pay("s1", 10, "2026-11-01 10:00:00")
    env.aggregate("2026-11-01 10:01:00")

    code, line, _ = _run(capsys, "--batch", "cli1", *WINDOW)

    assert code == cli.EXIT_EXPORTED
    assert line["batch"] == "cli1" and line["window"] == {"from": WINDOW[1], "to": WINDOW[3]}
    assert line["tenant"] == "default"
    assert {s: v["outcome"] for s, v in line["sides"].items()} == {"merchant": "EXPORTED", "payment": "EXPORTED"}
    pay = next(f for f in line["sides"]["payment"]["files"] if f["name"] == "pay.csv")
    assert pay["key"] == "incoming/default/cli1/payment/pay.csv" and pay["rows"] == 1
    assert [r["response_id"] for r in env.rows("cli1", "merchant", "pay.csv")] == [order.response_id]


def test_one_side(env, capsys):
    code, line, _ = _run(capsys, "--batch", "cli2", *WINDOW, "--side", "merchant")
    assert code == 0 and list(line["sides"]) == ["merchant"]
    assert all("/merchant/" in k for k in env.keys())


def test_pending_credits_exit_1_and_the_merchant_side_is_still_written(env, capsys):
    env.pay("s1", 10, "2026-11-01 10:00:00")                     # not yet credited

    code, line, _ = _run(capsys, "--batch", "cli3", *WINDOW)

    assert code == cli.EXIT_PENDING
    assert line["sides"]["payment"]["outcome"] == "PENDING_CREDITS"
    assert line["sides"]["payment"]["pending_credits"]["count"] == 1
    assert line["sides"]["merchant"]["outcome"] == "EXPORTED"


@pytest.mark.parametrize("argv", [
    ("--batch", "bad/name", *WINDOW),
    ("--batch", "x", "--from", "2026-11-02 00:00:00", "--to", "2026-11-01 00:00:00"),
    ("--batch", "x", "--from", "yesterday", "--to", "2026-11-01 00:00:00"),
])
def test_bad_arguments_exit_2_and_write_nothing(env, capsys, argv):
    code, line, err = _run(capsys, *argv)
    assert code == cli.EXIT_BAD_ARGUMENTS and line is None and "export refused" in err
    assert env.keys() == []


def test_a_failed_side_exits_3(env, capsys, monkeypatch):
    monkeypatch.delenv("LEDGER_TABLE")
    code, line, _ = _run(capsys, "--batch", "cli4", *WINDOW)
    assert code == cli.EXIT_EXPORT_FAILED
    assert line["sides"]["payment"]["outcome"] == "FAILED"
    assert "LEDGER_TABLE" in line["sides"]["payment"]["detail"]


def test_without_a_bucket_exits_3(env, capsys, monkeypatch):
    monkeypatch.delenv("EXPORT_BUCKET")
    code, line, err = _run(capsys, "--batch", "cli5", *WINDOW)
    assert code == cli.EXIT_EXPORT_FAILED and line is None and "EXPORT_BUCKET" in err


def test_the_tenant_names_whose_batch_and_a_bad_one_writes_nothing(env, capsys):
    env.pay("s1", 10, "2026-11-01 10:00:00")
    env.aggregate("2026-11-01 10:01:00")
    code, line, _ = _run(capsys, "--batch", "cli9", *WINDOW, "--side", "payment", tenant="nobody")
    assert code == cli.EXIT_EXPORTED
    assert env.rows("cli9", "payment", "pay.csv", tenant="nobody") == []     # not default's orders
    code, line, err = _run(capsys, "--batch", "cli9", *WINDOW, tenant="a#b")
    assert code == cli.EXIT_BAD_ARGUMENTS and line is None and "tenant" in err
    with pytest.raises(SystemExit) as usage:
        _run(capsys, "--batch", "cli9", *WINDOW, tenant=None)          # --tenant is required
    assert usage.value.code == 2
    assert not [k for k in env.keys() if not k.startswith("incoming/nobody/")]
