"""Building batch folders for the reconciliation tests."""
import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

ORDER_HEADER = ("request_time", "request_id", "response_time", "response_id", "saler_id")


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence], *, bom: bool = False,
              crlf: bool = False, quote_all: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n",
                        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


def orders(amount_column: str, rows: Iterable[tuple], **style) -> bytes:
    """Order rows (request_id, response_id, saler_id, amount) in the message fields' layout."""
    header = ORDER_HEADER + (amount_column,)
    return csv_bytes(header, [("2019-08-29 17:15:20", req, "2019-08-29 17:15:25", resp, saler, amount)
                              for req, resp, saler, amount in rows], **style)


def manifest_for(files: Dict[str, bytes]) -> bytes:
    entries = [{"name": name, "rows": max(data.count(b"\n") + (0 if data.endswith(b"\n") else 1) - 1, 0),
                "sha256": hashlib.sha256(data).hexdigest()} for name, data in sorted(files.items())]
    return json.dumps({"files": entries}).encode()


def empty_orders(amount_column: str) -> bytes:
    return orders(amount_column, [])


def batch_files(merchant_pay: bytes = None, payment_pay: bytes = None,
                merchant_withdraw: bytes = None, payment_withdraw: bytes = None,
                balances: bytes = None) -> Dict[str, Dict[str, bytes]]:
    """{side: {name: bytes}} with manifests; absent files are empty (header only)."""
    merchant = {"pay.csv": merchant_pay if merchant_pay is not None else empty_orders("total_fee"),
                "withdraw.csv": merchant_withdraw if merchant_withdraw is not None
                else empty_orders("withdraw_money")}
    payment = {"pay.csv": payment_pay if payment_pay is not None else empty_orders("total_fee"),
               "withdraw.csv": payment_withdraw if payment_withdraw is not None
               else empty_orders("withdraw_money"),
               "balances.csv": balances if balances is not None else csv_bytes(("saler_id", "balance"), [])}
    return {"merchant": dict(merchant, _manifest=None), "payment": dict(payment, _manifest=None)}


def write_batch(folder: Path, files: Dict[str, Dict[str, bytes]],
                manifests: Optional[Dict[str, bytes]] = None) -> Path:
    """Write {side: {name: bytes}} and each side's manifest (computed unless given)."""
    for side, named in files.items():
        (folder / side).mkdir(parents=True, exist_ok=True)
        data = {n: b for n, b in named.items() if n != "_manifest" and b is not None}
        for name, content in data.items():
            (folder / side / name).write_bytes(content)
        manifest = (manifests or {}).get(side, manifest_for(data))
        if manifest is not None:
            (folder / side / "_manifest.json").write_bytes(manifest)
    return folder


def read_csv(path: Path) -> List[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def worked_recon_files() -> Dict[str, Dict[str, bytes]]:
    """The contract's 对账示例: merchant 1,2,3 (10, 20, 3); payment 1,3,4 (10, 4, 40)."""
    return batch_files(
        merchant_pay=orders("total_fee", [("request_id_1", "response_id_1", "saler1", "10"),
                                          ("request_id_2", "response_id_2", "saler1", "20"),
                                          ("request_id_3", "response_id_3", "saler2", "3")]),
        payment_pay=orders("total_fee", [("request_id_1", "response_id_1", "saler1", "10"),
                                         ("request_id_3", "response_id_3", "saler2", "4"),
                                         ("request_id_4", "response_id_4", "saler2", "40")]))


def worked_audit_files() -> Dict[str, Dict[str, bytes]]:
    """The contract's 稽核示例: both sides' order files hold the same orders; balances 60 and 100."""
    pays = [("20190829171520000001", "20190829171525000001", "saler1", "10"),
            ("20190829171520000002", "20190829171525000002", "saler2", "100"),
            ("20190829171520000003", "20190829171525000003", "saler1", "40"),
            ("20190829171520000004", "20190829171525000004", "saler1", "20")]
    withdraws = [("20190829171620000001", "20190829171630000001", "saler1", "10"),
                 ("20190829171620000002", "20190829171630000002", "saler2", "10"),
                 ("20190829171620000003", "20190829171630000003", "saler2", "5"),
                 ("20190829171620000004", "20190829171630000004", "saler2", "5")]
    return batch_files(
        merchant_pay=orders("total_fee", pays), payment_pay=orders("total_fee", pays),
        merchant_withdraw=orders("withdraw_money", withdraws),
        payment_withdraw=orders("withdraw_money", withdraws),
        balances=csv_bytes(("saler_id", "balance"), [("saler1", "60"), ("saler2", "100")]))
