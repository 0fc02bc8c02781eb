"""What an export writes: the successful orders of the window, both sides, in the contract's layout."""
import hashlib
import json

import pytest

from chalicelib.exports import service as exports
from chalicelib.exports.window import Window
from tests.exports.support import order_row

START, END = "2026-11-01 00:00:00", "2026-11-02 00:00:00"
HEADER_PAY = "request_time,request_id,response_time,response_id,saler_id,total_fee"
HEADER_WITHDRAW = "request_time,request_id,response_time,response_id,saler_id,withdraw_money"


def _by_id(rows):
    return sorted(rows, key=lambda r: r["response_id"])


def test_both_sides_export_exactly_the_successful_orders_of_the_window(world):
    pays = [world.pay("s1", 100, "2026-11-01 08:00:00"), world.pay("s2", 250, "2026-11-01 09:30:00"),
            world.pay("s1", 40, "2026-11-01 12:00:01")]
    world.aggregate("2026-11-01 12:05:00")
    withdraws = [world.withdraw("s1", 30, "2026-11-01 13:00:00"), world.withdraw("s2", 50, "2026-11-01 14:00:00")]
    refused = world.withdraw("s2", 10_000, "2026-11-01 15:00:00")       # FAIL: over the balance
    assert refused.response_code == "FAIL"
    # The merchant also holds orders the payment side never answered with SUCCESS.
    unknown = world.pay("s3", 77, "2026-11-01 16:00:00", mirror=False)
    world.merchant_order(unknown, state="UNKNOWN")
    world.aggregate("2026-11-01 16:05:00")

    report = world.export("20261101", START, END)

    assert report.exported
    assert {side: o.outcome for side, o in report.sides.items()} == {"merchant": "EXPORTED", "payment": "EXPORTED"}
    for side in ("merchant", "payment"):
        assert _by_id(world.rows("20261101", side, "pay.csv")) == _by_id(
            [order_row(o) for o in pays] + ([order_row(unknown)] if side == "payment" else []))
        assert _by_id(world.rows("20261101", side, "withdraw.csv")) == _by_id([order_row(o) for o in withdraws])
    assert world.get("incoming/default/20261101/merchant/pay.csv").decode().splitlines()[0] == HEADER_PAY
    assert world.get("incoming/default/20261101/payment/withdraw.csv").decode().splitlines()[0] == HEADER_WITHDRAW
    assert world.keys() == sorted(
        [f"incoming/default/20261101/merchant/{n}" for n in ("_manifest.json", "pay.csv", "withdraw.csv")]
        + [f"incoming/default/20261101/payment/{n}" for n in ("_manifest.json", "balances.csv", "pay.csv", "withdraw.csv")])


def test_the_window_is_start_inclusive_end_exclusive_by_response_time(world):
    before = world.pay("s1", 1, "2026-11-01 23:59:58")
    first = world.pay("s1", 2, "2026-11-02 00:00:00")        # at start: in
    last = world.pay("s1", 3, "2026-11-02 11:59:59")         # at end - 1 s: in
    at_end = world.pay("s1", 4, "2026-11-02 12:00:00")       # at end: out
    world.aggregate("2026-11-02 12:00:30")
    w_in = world.withdraw("s1", 5, "2026-11-02 11:59:59")
    w_out = world.withdraw("s1", 1, "2026-11-02 12:00:00")

    report = world.export("noon", "2026-11-02 00:00:00", "2026-11-02 12:00:00")

    assert report.exported
    for side in ("merchant", "payment"):
        assert [r["response_id"] for r in world.rows("noon", side, "pay.csv")] == [
            first.response_id, last.response_id]
        assert [r["response_id"] for r in world.rows("noon", side, "withdraw.csv")] == [w_in.response_id]
    exported = {r["response_id"] for s in ("merchant", "payment") for n in ("pay.csv", "withdraw.csv")
                for r in world.rows("noon", s, n)}
    assert not exported & {before.response_id, at_end.response_id, w_out.response_id}


def test_a_window_spanning_two_days_reads_both_days(world):
    late = world.pay("s1", 10, "2026-11-01 23:59:59")
    early = world.pay("s2", 20, "2026-11-02 00:00:00")
    outside = world.pay("s2", 30, "2026-11-02 06:00:00")
    world.aggregate("2026-11-02 06:01:00")
    withdraw = world.withdraw("s1", 5, "2026-11-02 00:00:01")

    report = world.export("overnight", "2026-11-01 22:00:00", "2026-11-02 06:00:00")

    assert report.exported
    for side in ("merchant", "payment"):
        assert [r["response_id"] for r in world.rows("overnight", side, "pay.csv")] == [
            late.response_id, early.response_id]                    # by day, then time
        assert [r["response_id"] for r in world.rows("overnight", side, "withdraw.csv")] == [withdraw.response_id]
    assert outside.response_id not in {r["response_id"] for r in world.rows("overnight", "payment", "pay.csv")}


def test_a_window_without_orders_writes_header_only_files_and_the_manifests(world):
    world.pay("s1", 10, "2026-11-05 10:00:00")               # another day
    world.aggregate("2026-11-05 10:01:00")

    report = world.export("quiet", START, END)

    assert report.exported
    for side, names in (("merchant", ("pay.csv", "withdraw.csv")),
                        ("payment", ("pay.csv", "withdraw.csv", "balances.csv"))):
        manifest = world.manifest("quiet", side)
        assert [(f["name"], f["rows"]) for f in manifest["files"]] == [(n, 0) for n in names]
        for name in names:
            assert world.get(f"incoming/default/quiet/{side}/{name}").count(b"\n") == 1    # the header only
    assert world.get("incoming/default/quiet/payment/balances.csv") == b"saler_id,balance,opening_balance\n"


def test_manifests_list_every_file_with_the_uploaded_bytes_rows_and_sha256(world):
    for i in range(60):                                       # several pages of 25
        world.pay(f"s{i % 7}", 100 + i, f"2026-11-01 10:{i:02d}:00")
    world.aggregate("2026-11-01 11:00:00")
    for i in range(9):
        world.withdraw(f"s{i % 7}", 10 + i, f"2026-11-01 12:{i:02d}:00")

    report = world.export("20261101", START, END)

    for side, expected in (("merchant", {"pay.csv": 60, "withdraw.csv": 9}),
                           ("payment", {"pay.csv": 60, "withdraw.csv": 9, "balances.csv": 7})):
        manifest = world.manifest("20261101", side)
        assert set(manifest) == {"files"}
        assert {f["name"]: f["rows"] for f in manifest["files"]} == expected
        for entry in manifest["files"]:
            data = world.get(f"incoming/default/20261101/{side}/{entry['name']}")
            assert entry["sha256"] == hashlib.sha256(data).hexdigest()
            assert entry["rows"] == data.count(b"\n") - 1 and data.endswith(b"\n")
            assert set(entry) == {"name", "rows", "sha256"}
        assert [f.rows for f in report.sides[side].files] == list(expected.values())


def test_the_manifest_is_uploaded_last_on_each_side(world):
    world.pay("s1", 10, "2026-11-01 10:00:00")
    world.aggregate("2026-11-01 10:01:00")
    uploads = []

    class RecordingS3:
        def __init__(self, client):
            self._client = client

        def upload_file(self, filename, bucket, key, **kwargs):
            uploads.append(key)
            return self._client.upload_file(filename, bucket, key, **kwargs)

        def put_object(self, **kwargs):
            uploads.append(kwargs["Key"])
            return self._client.put_object(**kwargs)

    world.export("ordered", START, END, s3=RecordingS3(world.s3))

    for side in ("merchant", "payment"):
        mine = [k.rsplit("/", 1)[1] for k in uploads if k.startswith(f"incoming/default/ordered/{side}/")]
        assert mine[-1] == "_manifest.json" and mine.count("_manifest.json") == 1
        assert len(mine) == (3 if side == "merchant" else 4)


def test_a_side_whose_upload_fails_writes_no_manifest_and_the_other_side_still_exports(world):
    world.pay("s1", 10, "2026-11-01 10:00:00")
    world.aggregate("2026-11-01 10:01:00")

    class FailingForPayment:
        def __init__(self, client):
            self._client = client

        def upload_file(self, filename, bucket, key, **kwargs):
            if "/payment/withdraw.csv" in key:
                raise OSError("connection reset")
            return self._client.upload_file(filename, bucket, key, **kwargs)

        def put_object(self, **kwargs):
            return self._client.put_object(**kwargs)

    report = world.export("halfway", START, END, s3=FailingForPayment(world.s3))

    assert report.sides["merchant"].outcome == exports.EXPORTED
    assert report.sides["payment"].outcome == exports.FAILED
    assert "connection reset" in report.sides["payment"].detail
    assert "incoming/default/halfway/merchant/_manifest.json" in world.keys()
    assert "incoming/default/halfway/payment/_manifest.json" not in world.keys()


def test_a_window_that_ended_5_seconds_ago_is_exported(world):
    # world.exports()'s clock says 2026-12-01 00:00:00 China time.
    report = world.export("settled", "2026-11-30 00:00:00", "2026-11-30 23:59:55")
    assert report.exported


def test_one_side_only(world):
    world.pay("s1", 10, "2026-11-01 10:00:00")
    world.aggregate("2026-11-01 10:01:00")

    report = world.export("merchant-only", START, END, sides=("merchant",))

    assert list(report.sides) == ["merchant"]
    assert all(k.startswith("incoming/default/merchant-only/merchant/") for k in world.keys())


def test_a_side_without_its_table_fails_alone(world):
    world.pay("s1", 10, "2026-11-01 10:00:00")
    world.aggregate("2026-11-01 10:01:00")

    report = world.export("no-merchant", START, END, merchant_orders_table="")

    assert report.sides["merchant"].outcome == exports.FAILED
    assert "MERCHANT_ORDERS_TABLE" in report.sides["merchant"].detail
    assert report.sides["payment"].outcome == exports.EXPORTED


@pytest.mark.parametrize("batch, start, end, sides, message", [
    ("../x", START, END, ("merchant",), "batch"),
    ("ok", END, START, ("merchant",), "later than"),
    ("ok", "2026-11-01", END, ("merchant",), "from"),
    ("ok", START, "2026-13-01 00:00:00", ("merchant",), "to"),
    ("ok", START, END, ("bank",), "sides"),
    ("ok", "2026-11-30 00:00:00", "2026-12-01 00:00:01", ("merchant",), "future"),
    ("ok", "2026-11-30 00:00:00", "2026-11-30 23:59:56", ("merchant",), "less than 5 s ago"),
])
def test_bad_requests_are_refused_before_anything_is_written(world, batch, start, end, sides, message):
    with pytest.raises((exports.InvalidExport, ValueError), match=message):
        exports.export_batch(world.exports(), batch, Window.parse(start, end), sides)
    assert world.keys() == []


def test_a_value_with_a_line_break_fails_its_side(world):
    order = world.pay("s1", 10, "2026-11-01 10:00:00")
    world.aggregate("2026-11-01 10:01:00")
    record = world.merchant_order(order)
    record["request_time"] = "2026-11-01\n10:00:00"
    from chalicelib.dynamo import to_item
    world.dynamodb.put_item(TableName=world.merchant_table, Item=to_item(record))

    report = world.export("broken", START, END)

    assert report.sides["merchant"].outcome == exports.FAILED
    assert "line break" in report.sides["merchant"].detail
    assert report.sides["payment"].outcome == exports.EXPORTED


def test_the_report_is_one_json_document(world):
    world.pay("s1", 10, "2026-11-01 10:00:00")
    world.aggregate("2026-11-01 10:01:00")
    document = world.export("doc", START, END).as_dict()
    assert json.loads(json.dumps(document)) == document
    assert document["window"] == {"from": START, "to": END}
    assert document["sides"]["payment"]["manifest"] == "incoming/default/doc/payment/_manifest.json"
