"""The engine against a plain-Python reference on random batches (hypothesis)."""
import csv
import io
import re
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.recon.support import read_csv

KEYS = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "20190829171525000001", "00000000000000000007"]
SALERS = ["s0", "s1", "s2"]
BAD_AMOUNTS = ["", "x", "-1", "1.5", "+3", "1e2", "\u0663", "0x1", "1_0"]
AMOUNT = re.compile(r"[0-9]{1,18}")
BALANCE = re.compile(r"-?[0-9]{1,18}")

# Mostly usable rows on a few keys and salers, so that every diff type, duplicates and
# both kinds of unusable rows all turn up in most examples.
amounts = st.sampled_from([str(n) for n in range(4)] * 6 + [" 2 ", "30"] + BAD_AMOUNTS)
order_row = st.tuples(st.text("qxyz", min_size=0, max_size=3), st.sampled_from(KEYS * 4 + [""]),
                      st.sampled_from(SALERS * 4 + [""]), amounts,
                      st.sampled_from(["ok"] * 12 + ["short", "long"]))
order_rows = st.lists(order_row, max_size=12)
# (saler_id, balance, opening_balance, shape); the opening_balance column is present or not.
balance_rows = st.lists(st.tuples(st.sampled_from(SALERS * 3 + ["s9", ""]),
                                  st.sampled_from([str(n) for n in range(-2, 12)] + ["x", ""]),
                                  st.sampled_from([str(n) for n in range(-1, 6)] * 3 + ["x", "", "1.5"]),
                                  st.sampled_from(["ok"] * 8 + ["short"])), max_size=5)


def _merchant_net(pays, withdraws):
    """The merchant's pays minus withdraws per saler, over the usable rows (as the audit sums them)."""
    net = defaultdict(int)
    for rows, sign in ((pays, 1), (withdraws, -1)):
        for _, key, saler, amount, shape in rows:
            if shape == "ok" and key and saler and AMOUNT.fullmatch(amount.strip(" ")):
                net[saler] += sign * int(amount.strip(" "))
    return net


@st.composite
def balances_for(draw, pays, withdraws):
    """Balance rows, often matching the merchant's net (as a balance, or as balance - opening),
    so that SUCCESS and the opening balance's part in it are exercised, beside random ones."""
    net = _merchant_net(pays, withdraws)
    rows = []
    for saler, balance, opening, shape in draw(balance_rows):
        choice = draw(st.sampled_from(["random", "movement", "balance"]))
        if choice != "random" and BALANCE.fullmatch(opening):
            balance = str(net.get(saler, 0) + (int(opening) if choice == "movement" else 0))
        rows.append((saler, balance, opening, shape))
    return rows


@st.composite
def paired_rows(draw):
    """A merchant file and a payment file that mostly agree: each merchant row is copied to
    the payment side as it is, one fen more or less, with another request_id or saler_id, or not
    at all; plus rows of the payment's own."""
    merchant = draw(order_rows)
    copies = []
    for request, key, saler, amount, shape in merchant:
        choice = draw(st.sampled_from(["same", "same", "same", "more", "less", "drop",
                                       "other_request", "other_saler"]))
        if choice == "drop":
            continue
        if choice == "other_request":
            request = draw(st.sampled_from(["", "q", "qq"]))
        elif choice == "other_saler":
            saler = draw(st.sampled_from(SALERS))
        elif choice != "same" and amount.strip(" ").isdigit():
            amount = str(max(int(amount) + (1 if choice == "more" else -1), 0))
        copies.append((request, key, saler, amount, "ok"))
    payment = draw(st.permutations(copies + draw(st.lists(order_row, max_size=4))))
    return merchant, payment


styles = st.fixed_dictionaries({"order": st.permutations(range(4)), "extra": st.booleans(),
                                "quote_all": st.booleans(), "crlf": st.booleans(), "bom": st.booleans(),
                                "blank_lines": st.booleans()})


def _write(columns, rows, style) -> bytes:
    """rows: (values in `columns` order, shape); the style shuffles columns and formatting."""
    order = list(style["order"]) if len(columns) == 4 else list(range(len(columns)))
    header = [columns[i] for i in order] + (["memo"] if style["extra"] else [])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if style["crlf"] else "\n",
                        quoting=csv.QUOTE_ALL if style["quote_all"] else csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for values, shape in rows:
        row = [values[i] for i in order] + (["m,emo"] if style["extra"] else [])
        if shape == "short":
            row = row[:-1]
        elif shape == "long":
            row = row + ["surplus"]
        writer.writerow(row)
        if style["blank_lines"] and len(values[0]) == 2:
            buffer.write("\r\n" if style["crlf"] else "\n")
    return (b"\xef\xbb\xbf" if style["bom"] else b"") + buffer.getvalue().encode()


# ---- the reference: plain Python, no DuckDB, no code of the engine -------------------------

def _records(data: bytes):
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader)]
    line = 1
    for row in reader:
        line += 1
        if row:
            yield line, header, row


def reference_orders(label, data, amount_column):
    valid, errors = [], []
    for line, header, row in _records(data):
        if len(row) != len(header):
            errors.append((label, line, "MISSING_COLUMNS" if len(row) < len(header) else "TOO_MANY_COLUMNS"))
            continue
        field = {name: row[header.index(name)].strip(" ") for name in
                 ("request_id", "response_id", "saler_id", amount_column)}
        bad = []
        if not field["response_id"]:
            bad.append("MISSING_RESPONSE_ID")
        if not field["saler_id"]:
            bad.append("MISSING_SALER_ID")
        if not AMOUNT.fullmatch(field[amount_column]):
            bad.append("INVALID_AMOUNT")
        if bad:
            errors.extend((label, line, error) for error in bad)
        else:
            valid.append((field["response_id"], field["request_id"], field["saler_id"],
                          int(field[amount_column])))
    return valid, errors


def reference_recon(merchant, payment):
    """Multiset of (response_id, diff_type, merchant amount, payment amount) and contributions."""
    m_count, p_count = Counter(r[0] for r in merchant), Counter(r[0] for r in payment)
    duplicated = {k for k, n in (m_count + p_count).items() if m_count[k] > 1 or p_count[k] > 1}
    records = []
    m_by, p_by = {r[0]: r for r in merchant}, {r[0]: r for r in payment}
    for r in merchant:
        if r[0] in duplicated:
            records.append((r[0], "DUPLICATE", r[3], None, r[2], None))
    for r in payment:
        if r[0] in duplicated:
            records.append((r[0], "DUPLICATE", None, r[3], None, r[2]))
    for key in (set(m_by) | set(p_by)) - duplicated:
        m, p = m_by.get(key), p_by.get(key)
        if m is None:
            records.append((key, "F113", None, p[3], None, p[2]))
        elif p is None:
            records.append((key, "F114", m[3], None, m[2], None))
        else:
            records.append((key, "F000" if m[3] == p[3] else "F115", m[3], p[3], m[2], p[2]))
    return records


def reference_duplicate_lines(kind, merchant, payment):
    """A duplicated id's lines: one per side that has it, with the side's rows and amount sum,
    its saler_id when all its rows name one: (response_id, diff_type, merchant amount,
    payment amount, saler_id, request_id, note, rows)."""
    m_count, p_count = Counter(r[0] for r in merchant), Counter(r[0] for r in payment)
    duplicated = {k for k in m_count | p_count if m_count[k] > 1 or p_count[k] > 1}
    lines = []
    for side, rows in (("merchant", merchant), ("payment", payment)):
        for key in duplicated:
            mine = [r for r in rows if r[0] == key]
            if not mine:
                continue
            total, salers = sum(r[3] for r in mine), {r[2] for r in mine}
            note = f"{len(mine)} {'row' if len(mine) == 1 else 'rows'} on the {side} side"
            note += f" over {len(salers)} saler_ids" if len(salers) > 1 else ""
            note += f"; rows shown in {kind}_duplicates.csv"
            lines.append((key, "DUPLICATE", str(total) if side == "merchant" else "",
                          str(total) if side == "payment" else "",
                          next(iter(salers)) if len(salers) == 1 else "", "", note, str(len(mine))))
    return lines, duplicated


def reference_lines(kind, merchant, payment):
    """Multiset of the recon file's (response_id, diff_type, amounts, saler_id, request_id, note,
    rows): a duplicated id once per side; a record found on both sides with the payment
    side's saler_id and request_id, and the merchant's where they differ in the note."""
    lines, duplicated = reference_duplicate_lines(kind, merchant, payment)
    m_by, p_by = {r[0]: r for r in merchant}, {r[0]: r for r in payment}
    for key in (set(m_by) | set(p_by)) - duplicated:
        m, p = m_by.get(key), p_by.get(key)
        if m is None:
            lines.append((key, "F113", "", str(p[3]), p[2], p[1], "", ""))
        elif p is None:
            lines.append((key, "F114", str(m[3]), "", m[2], m[1], "", ""))
        else:
            notes = []
            if m[2] != p[2]:
                notes.append(f"saler_id differs (merchant {m[2]})")
            if m[1] != p[1]:
                notes.append(f"request_id differs (merchant {m[1]})" if m[1]
                             else "request_id differs (merchant has none)")
            lines.append((key, "F000" if m[3] == p[3] else "F115", str(m[3]), str(p[3]), p[2], p[1],
                          "; ".join(notes), ""))
    return Counter(lines)


def reference_audit(pay_records, withdraw_records, merchant_pay, merchant_withdraw, balance_rows):
    net = defaultdict(int)
    for r in merchant_pay:
        net[r[2]] += r[3]
    for r in merchant_withdraw:
        net[r[2]] -= r[3]
    explained = defaultdict(lambda: defaultdict(int))
    for records, sign in ((pay_records, 1), (withdraw_records, -1)):
        for key, diff, m_amount, p_amount, m_saler, p_saler in records:
            if diff == "F000" and m_saler == p_saler:
                continue
            category = "MISMATCH" if diff == "F000" else diff
            if p_amount is not None:
                explained[p_saler][category] += sign * p_amount
            if m_amount is not None:
                explained[m_saler][category] -= sign * m_amount
    balances = defaultdict(list)
    for saler, balance, opening in balance_rows:
        balances[saler].append((balance, opening))
    rows = {}
    for saler in set(net) | set(balances) | set(explained):
        listed = balances.get(saler, [])
        balance, opening = listed[0] if len(listed) == 1 else ((0, 0) if not listed else (None, None))
        change = None if balance is None else balance - opening
        e = explained[saler]
        parts = [e["F113"], e["F114"], e["F115"], e["DUPLICATE"], e["MISMATCH"]]
        audit = net.get(saler, 0)
        rows[saler] = (
            _opt(balance), _opt(opening), _opt(change),
            "SUCCESS" if change is not None and change == audit else "FAIL",
            str(audit), "" if change is None else str(change - audit),
            *map(str, parts), "" if change is None else str(change - audit - sum(parts)))
    return rows


def reference_balances(data):
    valid, errors = [], []
    for line, header, row in _records(data):
        if len(row) != len(header):
            errors.append(("payment/balances.csv", line,
                           "MISSING_COLUMNS" if len(row) < len(header) else "TOO_MANY_COLUMNS"))
            continue
        saler, balance = (row[header.index(n)].strip(" ") for n in ("saler_id", "balance"))
        # Without the column every account opens at 0.
        opening = row[header.index("opening_balance")].strip(" ") if "opening_balance" in header else "0"
        if not saler:
            errors.append(("payment/balances.csv", line, "MISSING_SALER_ID"))
        for value in (balance, opening):
            if not BALANCE.fullmatch(value):
                errors.append(("payment/balances.csv", line, "INVALID_AMOUNT"))
        if saler and BALANCE.fullmatch(balance) and BALANCE.fullmatch(opening):
            valid.append((saler, int(balance), int(opening)))
    return valid, errors


def _order_file(amount_column, rows, style):
    columns = ["request_id", "response_id", "saler_id", amount_column]
    return _write(columns, [((q, k, s, a), shape) for q, k, s, a, shape in rows], style)


def _opt(value):
    return "" if value is None else str(value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@pytest.mark.parametrize("options", [None, 120], indirect=True, ids=["one_join", "buckets"])
@given(pays=paired_rows(), withdraws=paired_rows(), with_opening=st.booleans(),
       style_a=styles, style_b=styles, data=st.data())
def test_engine_agrees_with_the_reference(reconcile, options, pays, withdraws, with_opening, style_a,
                                          style_b, data):
    (mp, pp), (mw, pw) = pays, withdraws
    bal = data.draw(balances_for(mp, mw))
    data = {"merchant": {"pay.csv": _order_file("total_fee", mp, style_a),
                         "withdraw.csv": _order_file("withdraw_money", mw, style_b)},
            "payment": {"pay.csv": _order_file("total_fee", pp, style_b),
                        "withdraw.csv": _order_file("withdraw_money", pw, style_a),
                        "balances.csv": _write(["saler_id", "balance", "opening_balance"],
                                               [((s, b, o), shape) for s, b, o, shape in bal],
                                               style_a)
                        if with_opening else _write(["saler_id", "balance"],
                                                    [((s, b), shape) for s, b, o, shape in bal],
                                                    dict(style_a, order=[0, 1]))}}
    outcome, out = reconcile(data)
    assert outcome.status == "DONE"
    if options.bucket_bytes:
        assert outcome.document["buckets"]["pay"] > 1 or len(data["merchant"]["pay.csv"]) + len(data["payment"]["pay.csv"]) <= 120

    errors, valid = [], {}
    for side in ("merchant", "payment"):
        for kind, amount in (("pay", "total_fee"), ("withdraw", "withdraw_money")):
            valid[side, kind], found = reference_orders(f"{side}/{kind}.csv", data[side][f"{kind}.csv"], amount)
            errors.extend(found)
    balances, found = reference_balances(data["payment"]["balances.csv"])
    errors.extend(found)

    records = {}
    for kind, amount in (("pay", "total_fee"), ("withdraw", "withdraw_money")):
        records[kind] = reference_recon(valid["merchant", kind], valid["payment", kind])
        dup_lines, _ = reference_duplicate_lines(kind, valid["merchant", kind], valid["payment", kind])
        expected = Counter([(k, d, _opt(m), _opt(p)) for k, d, m, p, _, _ in records[kind] if d != "DUPLICATE"]
                           + [line[:4] for line in dup_lines])
        got = Counter((r["response_id"], r["diff_type"], r[f"merchant_{amount}"], r[f"payment_{amount}"])
                      for r in read_csv(out / f"{kind}_recon.csv"))
        assert got == expected, kind
        lines = Counter((r["response_id"], r["diff_type"], r[f"merchant_{amount}"], r[f"payment_{amount}"],
                         r["saler_id"], r["request_id"], r["note"], r["rows"])
                        for r in read_csv(out / f"{kind}_recon.csv"))
        assert lines == reference_lines(kind, valid["merchant", kind], valid["payment", kind]), kind

    expected_audit = reference_audit(records["pay"], records["withdraw"], valid["merchant", "pay"],
                                     valid["merchant", "withdraw"], balances)
    got_audit = {r["saler_id"]: (r["balance"], r["opening_balance"], r["balance_change"],
                                 r["result"], r["audit_amount"], r["difference"],
                                 r["f113_amount"], r["f114_amount"], r["f115_amount"],
                                 r["duplicate_amount"], r["saler_mismatch_amount"], r["unexplained_amount"])
                 for r in read_csv(out / "audit.csv")}
    assert got_audit == expected_audit

    got_errors = sorted((e["file"], int(e["line"]), e["error"]) for e in read_csv(out / "errors.csv")) \
        if (out / "errors.csv").exists() else []
    assert got_errors == sorted(errors)
