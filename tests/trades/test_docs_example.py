"""The trade-settlement page's worked example, its requests read from the page, through the API."""
import json
import re

from tests.unit.support import ROOT, body_of

PAGE = ROOT / "docs" / "trade-settlement.md"
POST = re.compile(r"^post (\S+) '(.*?)'$", re.S | re.M)


def page_requests():
    return [(path, json.loads(body)) for path, body in POST.findall(PAGE.read_text(encoding="utf-8"))]


def balances(api, *accounts):
    found = {}
    for account in accounts:
        view = body_of(api.get(f"/accounts/{account}"))
        for sub in view.get("sub_accounts", [{"sub_account": 1, "balance": view.get("balance", 0)}]):
            found[(account, sub["sub_account"])] = sub["balance"]
    return found


def test_the_worked_example_moves_what_the_page_says(stack, api):
    requests = page_requests()
    assert [path for path, _ in requests] == ["/accounts"] * 6 + [
        "/pay", "/trades", "/trades/20240301100500000001/pay",
        "/trades", "/trades/20240301100600000001/pay"]
    answers = {}
    for path, body in requests[:7]:
        assert api.post(path, body).status_code == 200, path
    api.invoke("aggregator")
    accounts = ("buyer1", "seller1", "wallet", "buyerfees", "agent1", "agent2")
    assert balances(api, "buyer1")[("buyer1", 1)] == 100_000
    for path, body in requests[7:9]:
        answers[path] = body_of(api.post(path, body))
    settled = answers["/trades/20240301100500000001/pay"]["data"]
    assert settled["state"] == "SETTLED" and len(settled["postings"]) == 9
    assert sum(p["amount"] for p in settled["postings"]) == 0
    after_first = balances(api, *accounts)
    assert {k: v for k, v in after_first.items() if v} == {
        ("buyer1", 1): 89_950, ("seller1", 1): 9_600, ("wallet", 1): 120, ("buyerfees", 3): 50,
        ("agent1", 1): 200, ("agent2", 1): 80}
    path, body = requests[8]
    assert body_of(api.post(path, body)) == answers[path]              # the same pay: the same answer
    assert body_of(api.post(path, {}))["code"] == 1030
    assert balances(api, *accounts) == after_first

    for path, body in requests[9:]:
        answers[path] = body_of(api.post(path, body))
    trade = body_of(api.get("/trades/20240301100600000001"))["data"]
    assert (trade["state"], trade["pending_phases"]) == ("SETTLING", ["ASYNC_TRADE", "ASYNC_FEE"])
    right_after = balances(api, *accounts)
    assert right_after[("buyer1", 1)] == 79_950
    assert {k: right_after[k] - after_first[k] for k in right_after
            if right_after[k] != after_first[k]} == {("buyer1", 1): -10_000}
    api.invoke("trade_applier")
    assert body_of(api.get("/trades/20240301100600000001"))["data"]["state"] == "SETTLED"
    final = balances(api, *accounts)
    assert {k: final[k] - after_first[k] for k in final if final[k] != after_first[k]} == {
        ("buyer1", 1): -10_000, ("seller1", 3): 9_700, ("wallet", 3): 200, ("agent1", 3): 100}
    journal = body_of(api.get("/accounts/seller1/journal?sub_account=3"))["entries"]
    assert [(e["entry"], e["amount"]) for e in journal] == [
        ("TRADE#20240301100600000001#TRADE", 10_000), ("TRADE#20240301100600000001#FEE", -300)]
