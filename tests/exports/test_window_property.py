"""The window rule against a plain-Python reference: for random orders over three days and random
windows, each side's file holds exactly the successful orders with start <= response_time < end."""
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.dynamo import to_item
from chalicelib.exports.window import Window

FORMAT = "%Y-%m-%d %H:%M:%S"
ORIGIN = datetime(2026, 11, 1, 0, 0, 0)
SPAN = 3 * 86400
# Near midnight and the window's bounds is where off-by-one errors live: weight them.
offsets = st.one_of(st.integers(0, SPAN - 1),
                    st.sampled_from([0, 1, 86399, 86400, 86401, 172799, 172800, SPAN - 1]))
orders = st.lists(st.tuples(offsets, st.sampled_from(["PAY", "WITHDRAW"]),
                            st.sampled_from(["SUCCESS"] * 4 + ["FAIL", "UNKNOWN"])), max_size=12)


def _time(offset: int) -> str:
    return (ORIGIN + timedelta(seconds=offset)).strftime(FORMAT)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(new=orders, bounds=st.tuples(offsets, offsets).filter(lambda b: b[0] != b[1]))
def test_merchant_files_hold_exactly_the_successful_orders_of_the_window(world, new, bounds):
    written = getattr(world, "_written", [])
    for offset, kind, state in new:
        serial = len(written)
        moment = _time(offset)
        stamp = moment.replace("-", "").replace(" ", "").replace(":", "")
        item = {"request_id": f"{stamp}{serial:06d}", "kind": kind, "saler_id": "s", "amount": 1 + serial,
                "request_time": moment, "state": state, "response_id": f"{stamp}{serial:06d}",
                "response_time": moment, "response_code": state, "response_msg": "",
                "created_at": "x", "updated_at": "x", "attempts": 1}
        if state == "SUCCESS":
            item["success_day"] = f"{kind}#{stamp[:8]}"
        world.dynamodb.put_item(TableName=world.merchant_table, Item=to_item(item))
        written.append(item)
    world._written = written
    start, end = _time(min(bounds)), _time(max(bounds))
    batch = f"p{len(written)}-{min(bounds)}-{max(bounds)}"

    report = world.export(batch, start, end, sides=("merchant",), page_size=3)

    assert report.exported
    for kind, name in (("PAY", "pay.csv"), ("WITHDRAW", "withdraw.csv")):
        expected = sorted(i["response_id"] for i in written
                          if i["kind"] == kind and i["state"] == "SUCCESS" and start <= i["response_time"] < end)
        got = [r["response_id"] for r in world.rows(batch, "merchant", name)]
        assert sorted(got) == expected
        assert [r["response_time"] for r in world.rows(batch, "merchant", name)] == sorted(
            r["response_time"] for r in world.rows(batch, "merchant", name))
    assert Window.parse(start, end).days()[0] == start[:10].replace("-", "")
