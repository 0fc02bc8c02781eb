"""Exports stream: rows go from DynamoDB pages to the spool file and are never all in memory."""
import hashlib
import tracemalloc

from chalicelib.dynamo import to_item
from chalicelib.exports import sources
from chalicelib.exports.csvfile import CsvSpool, order_header
from chalicelib.exports.window import Window
from chalicelib.payments.models.orders import PaymentOrder
from chalicelib.payments.orders import Kind
from merchantlib.models import MerchantOrderItem
from tests.exports.support import TENANT

START, END = "2026-11-01 00:00:00", "2026-11-02 00:00:00"


def _merchant_pays(world, count: int, day: str = "2026-11-01") -> None:
    """`count` successful merchant pays answered on `day`, written 25 at a time."""
    items = []
    for i in range(count):
        seconds = i % 86400
        moment = f"{day} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        stamp = moment.replace("-", "").replace(" ", "").replace(":", "")
        items.append({"request_id": f"{stamp}{i:06d}", "kind": "PAY", "saler_id": f"saler{i % 50}",
                      "amount": 1 + i % 997, "request_time": moment, "state": "SUCCESS",
                      "response_id": f"{stamp}{i:06d}", "response_time": moment,
                      "response_code": "SUCCESS", "response_msg": "OK",
                      "created_at": "2026-11-01T00:00:00.000000Z",
                      "updated_at": "2026-11-01T00:00:00.000000Z", "attempts": 1,
                      "success_day": f"PAY#{day.replace('-', '')}"})
    for start in range(0, len(items), 25):
        world.dynamodb.batch_write_item(RequestItems={world.merchant_table: [
            {"PutRequest": {"Item": to_item(item)}} for item in items[start:start + 25]]})


class CountingModelQueries:
    """(Limit asked, items answered) of each Query the model's own client sends."""

    def __init__(self, model):
        self.pages = []
        self._limits = []
        self._events = model.low_level_client().meta.events

    def _asked(self, params, **_):
        self._limits.append(params.get("Limit"))

    def _answered(self, parsed, **_):
        self.pages.append((self._limits.pop(0), len(parsed.get("Items", []))))

    def __enter__(self):
        self._events.register("provide-client-params.dynamodb.Query", self._asked, unique_id="count-q1")
        self._events.register("after-call.dynamodb.Query", self._answered, unique_id="count-q2")
        return self

    def __exit__(self, *exc):
        self._events.unregister("provide-client-params.dynamodb.Query", unique_id="count-q1")
        self._events.unregister("after-call.dynamodb.Query", unique_id="count-q2")


def test_the_source_reads_one_page_at_a_time_as_rows_are_consumed(world):
    _merchant_pays(world, 95)
    with CountingModelQueries(MerchantOrderItem) as counting:
        rows = sources.merchant_orders(Kind.PAY, Window.parse(START, END), page_size=10)
        assert counting.pages == []                   # nothing read before the first row is asked for
        next(rows)
        assert counting.pages == [(10, 10)]           # one page of 10 read, not the whole day
        rest = list(rows)

    assert len(rest) == 94
    assert all(limit == 10 and found <= 10 for limit, found in counting.pages)
    assert len(counting.pages) in (10, 11)            # 95 rows in pages of 10 (plus an empty last page)


def _payment_pays(count: int, day: str = "2026-11-01") -> None:
    """`count` successful pays of the tenant answered on `day`, as the payment core keeps them."""
    with PaymentOrder.batch_write() as batch:
        for i in range(count):
            moment = f"{day} {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
            request_id = moment.replace("-", "").replace(" ", "").replace(":", "") + f"{i:06d}"
            batch.save(PaymentOrder(
                PaymentOrder.key(TENANT, Kind.PAY, request_id), kind="PAY", tenant=TENANT,
                request_id=request_id, request_time=moment, saler_id=f"saler{i % 50}",
                amount=1 + i % 997, response_id=request_id, response_time=moment,
                response_code="SUCCESS", response_msg="OK", created_at="2026-11-01T00:00:00.000000Z",
                success_day=PaymentOrder.successful_by_day.key(TENANT, Kind.PAY, day.replace("-", ""))))


def test_the_payment_side_reads_one_page_at_a_time_as_rows_are_consumed(world):
    _payment_pays(95)
    with CountingModelQueries(PaymentOrder) as counting:
        rows = sources.payment_orders(TENANT, Kind.PAY, Window.parse(START, END), page_size=10)
        assert counting.pages == []                   # nothing read before the first row is asked for
        first = next(rows)
        assert counting.pages == [(10, 10)]           # one page of 10 read, not the whole day
        rest = list(rows)

    assert isinstance(first.amount, int) and first.amount == 1
    assert len(rest) == 94
    assert [row.response_time for row in [first] + rest] == sorted(r.response_time for r in [first] + rest)
    assert all(limit == 10 and found <= 10 for limit, found in counting.pages)
    assert len(counting.pages) in (10, 11)            # 95 rows in pages of 10 (plus an empty last page)


def test_the_spool_keeps_memory_flat_for_many_rows(tmp_path):
    rows = 200_000

    def generated():
        for i in range(rows):
            yield ("2026-11-01 10:00:00", f"2026110110000{i:07d}", "2026-11-01 10:00:01",
                   f"2026110110000{i:07d}", f"saler{i % 100}", 1 + i)

    tracemalloc.start()
    try:
        with CsvSpool(str(tmp_path), order_header(Kind.PAY)) as spool:
            spool.write_all(generated())
            spooled = spool.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    data = spooled.path.read_bytes()
    assert spooled.rows == rows == data.count(b"\n") - 1
    assert spooled.sha256 == hashlib.sha256(data).hexdigest() and spooled.size == len(data)
    assert len(data) > 15_000_000
    assert peak < 2_000_000, f"peak {peak} bytes for a {len(data)}-byte file"


def test_a_whole_export_reads_its_orders_in_pages_of_the_configured_size(world):
    # (Memory is measured on the spool above: moto itself holds and copies whole partitions,
    # so tracemalloc around a moto query measures moto. Here: the export asks for pages.)
    _merchant_pays(world, 1234)
    ctx = world.exports(page_size=100)

    from chalicelib.exports import service
    with CountingModelQueries(MerchantOrderItem) as counting:
        report = service.export_batch(ctx, "big", Window.parse(START, END), sides=("merchant",))

    assert report.exported
    [pay, withdraw] = report.sides["merchant"].files
    assert (pay.rows, withdraw.rows) == (1234, 0)
    assert {limit for limit, _ in counting.pages} == {100}
    assert max(found for _, found in counting.pages) == 100
    assert sum(found for _, found in counting.pages) == 1234
