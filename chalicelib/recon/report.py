"""report.html: one self-contained page a finance person reads (no scripts, no external files)."""
from html import escape
from typing import Iterable, List, Optional, Sequence

from .formats import DUPLICATE, F000, F113, F114, F115

DIFF_LABELS = {F000: "F000 equal", F113: "F113 only in the payment system",
               F114: "F114 only in the merchant system", F115: "F115 amounts differ",
               DUPLICATE: "DUPLICATE response_id"}
DIFF_COLOURS = {F000: "#4c9a2a", F113: "#d9822b", F114: "#c23030", F115: "#8f398f",
                DUPLICATE: "#5c7080"}
KIND_LABELS = {"pay": "Pay orders (total_fee)", "withdraw": "Withdraw orders (withdraw_money)"}


def yuan(fen: Optional[int]) -> str:
    """Fen as yuan with thousands separators: 123456 -> '1,234.56'."""
    if fen is None or fen == "":
        return ""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def _table(headers: Sequence[str], rows: Iterable[Sequence], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{escape(str(v))}</td>' if i in numeric
                        else f"<td>{escape('' if v is None else str(v))}</td>"
                        for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}" class="none">none</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _chart(recon: dict) -> str:
    """Horizontal bars: records per diff type, pay and withdraw side by side (log-free, scaled to
    the largest non-F000 count so the discrepancies stay visible; F000 is labelled with its count)."""
    kinds = list(recon)
    types = [F000, F113, F114, F115, DUPLICATE]
    biggest = max([recon[k][t]["count"] for k in kinds for t in types if t != F000] + [1])
    bar_height, gap, label_width, width = 16, 6, 250, 420
    rows = len(types) * len(kinds)
    height = rows * (bar_height + gap) + len(types) * 8 + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + width + 120}" '
             f'height="{height}" role="img" aria-label="records per diff type">']
    y = 10
    for diff in types:
        for kind in kinds:
            count = recon[kind][diff]["count"]
            scale = biggest if diff != F000 else max(count, 1)
            length = 0 if count == 0 else max(2, int(width * min(count, scale) / scale))
            label = f"{diff} {kind}"
            parts.append(f'<text x="{label_width - 8}" y="{y + bar_height - 4}" text-anchor="end" '
                         f'font-size="12">{escape(label)}</text>')
            opacity = "1" if kind == kinds[0] else "0.6"
            parts.append(f'<rect x="{label_width}" y="{y}" width="{length}" height="{bar_height}" '
                         f'fill="{DIFF_COLOURS[diff]}" fill-opacity="{opacity}"/>')
            parts.append(f'<text x="{label_width + length + 6}" y="{y + bar_height - 4}" '
                         f'font-size="12">{count:,}</text>')
            y += bar_height + gap
        y += 8
    parts.append(f'<text x="{label_width}" y="{height - 6}" font-size="11" fill="#555">'
                 f'bars scaled to the largest discrepancy count; F000 drawn full width</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(summary: dict, report: dict) -> str:
    batch = summary.get("batch", "")
    recon, audit = summary["recon"], summary["audit"]
    balanced = summary.get("balanced")
    verdict = ("Everything reconciles: no discrepancy, no row error, every account audited SUCCESS."
               if balanced else "Discrepancies found: see below.")
    sections: List[str] = []
    totals = []
    for kind in recon:
        for diff in (F000, F113, F114, F115, DUPLICATE):
            entry = recon[kind][diff]
            totals.append((kind, DIFF_LABELS[diff], f"{entry['count']:,}",
                           yuan(entry["merchant_amount"]), yuan(entry["payment_amount"]),
                           yuan(entry["payment_amount"] - entry["merchant_amount"])))
    sections.append("<h2>Totals per diff type</h2>" + _table(
        ("orders", "diff type", "records", "merchant amount (yuan)", "payment amount (yuan)",
         "payment − merchant (yuan)"), totals, numeric=(2, 3, 4, 5)))
    sections.append("<h2>Records per diff type</h2>" + _chart(recon))
    sections.append("<h2>Audit</h2>" + _table(
        ("accounts", "SUCCESS", "FAIL", "no balance row", "no merchant order"),
        [(audit["accounts"], audit["SUCCESS"], audit["FAIL"], audit["merchant_only"],
          audit["payment_only"])], numeric=(0, 1, 2, 3, 4)))
    failing = [(a["saler_id"], yuan(a["balance"]), yuan(a["opening_balance"]),
                yuan(a["balance_change"]), yuan(a["audit_amount"]), yuan(a["difference"]),
                yuan(a["f113_amount"]), yuan(a["f114_amount"]), yuan(a["f115_amount"]),
                yuan(a["duplicate_amount"]), yuan(a["saler_mismatch_amount"]),
                yuan(a["unexplained_amount"]), a["note"])
               for a in report["failing_accounts"]]
    with_opening = audit.get("basis") == "balance - opening_balance"
    basis = ("The payment side's balances.csv gives each account's balance at the window's end and "
             "its opening balance at the window's start: the audit compares the merchant's pays − "
             "withdraws of the batch with the change, balance − opening balance."
             if with_opening else
             "The payment side's balances.csv gives balances only (no opening_balance column): "
             "opening balances count as 0 and the audit compares the merchant's pays − withdraws "
             "with the balance itself.")
    sections.append(f"<p>{escape(basis)}</p>")
    sections.append(
        f"<h2>Failing accounts (largest first, at most {len(failing) if failing else 0} shown of "
        f"{audit['FAIL']:,})</h2><p>difference = change (balance − opening balance) − audit amount "
        "(merchant pays − withdraws). "
        "It is explained by the account's discrepancies (F113 adds what only the payment system has, "
        "F114 subtracts what only the merchant has, F115 the payment − merchant amount; withdrawals "
        "with the opposite sign); what remains is unexplained by the order files.</p>" + _table(
            ("saler_id", "balance", "opening balance", "change", "audit amount", "difference",
             "F113", "F114", "F115", "duplicates", "saler mismatch", "unexplained", "note"),
            failing, numeric=tuple(range(1, 12))))
    for kind, rows in report["discrepancies"].items():
        listed = [(r["diff_type"], r["response_id"], r["request_id"], r["saler_id"],
                   yuan(r["merchant_amount"]), yuan(r["payment_amount"])) for r in rows]
        count = sum(recon[kind][d]["count"] for d in (F113, F114, F115, DUPLICATE))
        sections.append(
            f"<h2>{escape(KIND_LABELS.get(kind, kind))}: discrepancies (largest first, "
            f"{len(listed)} shown of {count:,})</h2>" + _table(
                ("diff type", "response_id", "request_id", "saler_id", "merchant (yuan)",
                 "payment (yuan)"), listed, numeric=(4, 5)))
    files = [(name, f"{f['rows']:,}", f"{f['usable']:,}", f"{f['row_errors']:,}")
             for name, f in summary["files"].items()]
    sections.append("<h2>Input files</h2>" + _table(
        ("file", "rows", "reconciled", "row errors (errors.csv)"), files, numeric=(1, 2, 3)))
    style = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
             "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
             "th,td{border:1px solid #ccc;padding:3px 8px}th{background:#f3f3f3}"
             "td.num{text-align:right;font-variant-numeric:tabular-nums}td.none{color:#888}"
             ".verdict{font-size:1.2em;font-weight:600}")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Reconciliation {escape(batch)}</title><style>{style}</style></head><body>"
            f"<h1>Reconciliation and audit: batch {escape(batch)}</h1>"
            f"<p class=\"verdict\">{escape(verdict)}</p>"
            f"<p>Amounts in yuan (the files hold fen). Generated {escape(summary.get('generated_at', ''))}"
            f"{' by run ' + escape(summary['run_id']) if summary.get('run_id') else ''}.</p>"
            + "".join(sections) + "</body></html>\n")
