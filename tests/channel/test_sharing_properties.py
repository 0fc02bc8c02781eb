"""Random sequences of profit sharing on the rules: the channel's money is always conserved.

Per transaction: what is shared (SUCCESS) plus what is pending never passes amount × ratio;
per receiver of a sharing order: what is returned (SUCCESS or PROCESSING) never passes what
it received; each settled receiver is notified exactly once; re-sends never move money twice."""
from datetime import datetime, timedelta, timezone

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,
                                 rule)

from infra.channel import ChannelBook
from infra.channel.rules import (APPLIED, REPLAYED, SHARING_ORDERS, SHARING_RETURN_ORDERS,
                                 SHARING_UNFREEZE)

SUB_MCHID = "1692608207"
ACCOUNTS = ("A", "B", "C", "D")
TRANSACTIONS = 3
RATIOS = ("0.1", "0.3", "0.35", "1")


class Clock:
    def __init__(self):
        self.moment = datetime(2026, 1, 15, 1, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.moment


class SharingMoney(RuleBasedStateMachine):

    @initialize(amounts=st.lists(st.integers(1000, 20000), min_size=TRANSACTIONS, max_size=TRANSACTIONS),
                ratios=st.lists(st.sampled_from(RATIOS), min_size=TRANSACTIONS, max_size=TRANSACTIONS),
                processing=st.lists(st.integers(0, 500), min_size=TRANSACTIONS, max_size=TRANSACTIONS))
    def pay(self, amounts, ratios, processing):
        self.clock = Clock()
        self.book = ChannelBook(now=self.clock)
        self.ids = [self.book.create_transaction({
            "payment_order_id": f"p{n}", "biz_order_id": f"b{n}", "mch_id": "m", "sub_mchid": SUB_MCHID,
            "amount": amounts[n], "subsidy_limit": 0, "max_sharing_ratio": ratios[n],
            "processing_ms": processing[n]}).transaction_id for n in range(TRANSACTIONS)]
        self.order_ids = {}          # out_order_no -> order_id of its one movement
        self.order_accounts = {}     # out_order_no -> its receivers' accounts
        self.return_ids = {}         # out_return_no -> return_id
        self.applied_sharing = {tid: 0 for tid in self.ids}   # fen asked by APPLIED orders
        self.notified = []           # (out_order_no, account) of every notice handed out

    @rule(tx=st.integers(0, TRANSACTIONS - 1), number=st.integers(0, 12),
          shares=st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(1, 1500)),
                          min_size=1, max_size=3, unique_by=lambda share: share[0]),
          unsplit=st.sampled_from([False] * 5 + [True]))
    def share(self, tx, number, shares, unsplit):
        receivers = [{"type": "MERCHANT_ID", "account": account, "amount": amount, "description": "分账"}
                     for account, amount in shares]
        body = {"sub_mchid": SUB_MCHID, "transaction_id": self.ids[tx], "out_order_no": f"s{number}",
                "receivers": receivers, "unfreeze_unsplit": unsplit}
        answer = self.book.call(SHARING_ORDERS, body)
        if answer.outcome == APPLIED:
            assert f"s{number}" not in self.order_ids
            self.order_ids[f"s{number}"] = answer.body["order_id"]
            self.order_accounts[f"s{number}"] = [account for account, _ in shares]
            self.applied_sharing[self.ids[tx]] += sum(amount for _, amount in shares)
        elif answer.outcome == REPLAYED:
            assert answer.body["order_id"] == self.order_ids[f"s{number}"]

    @precondition(lambda self: len(getattr(self, "order_ids", ())) >= 3)
    @rule(number=st.integers(0, 2))
    def unfreeze(self, number):
        """Only the last transaction, and only once some sharing happened: the others stay
        open to sharing for the whole run."""
        self.book.call(SHARING_UNFREEZE, {"sub_mchid": SUB_MCHID, "transaction_id": self.ids[-1],
                                          "out_order_no": f"u{number}", "description": "解冻"})

    @precondition(lambda self: getattr(self, "order_ids", None))
    @rule(order=st.integers(0, 100), account=st.integers(0, 100), amount=st.integers(1, 800),
          number=st.integers(0, 8))
    def give_back(self, order, account, amount, number):
        """Mostly from a receiver of an order that exists (sometimes from one that does not)."""
        known = sorted(self.order_ids)
        out_order_no = known[order % len(known)] if known and order < 90 else f"s{order % 7}"
        accounts = self.order_accounts.get(out_order_no)
        account = accounts[account % len(accounts)] if accounts and account < 90 else ACCOUNTS[account % 4]
        body = {"sub_mchid": SUB_MCHID, "out_order_no": out_order_no, "out_return_no": f"r{number}",
                "return_mchid": account, "amount": amount, "description": "退款"}
        answer = self.book.call(SHARING_RETURN_ORDERS, body)
        if answer.outcome == APPLIED:
            assert f"r{number}" not in self.return_ids
            self.return_ids[f"r{number}"] = answer.body["return_id"]
        elif answer.outcome == REPLAYED:
            assert answer.body["return_id"] == self.return_ids[f"r{number}"]

    @rule(account=st.sampled_from(ACCOUNTS),
          reason=st.sampled_from([None, "ACCOUNT_ABNORMAL", "NO_RELATION"]))
    def receiver_fails(self, account, reason):
        self.book.set_receiver_failure({"account": account, "fail_reason": reason})

    @rule(account=st.sampled_from(ACCOUNTS),
          setting=st.sampled_from([{"result": None},
                                   {"result": "FAILED", "fail_reason": "ACCOUNT_ABNORMAL"},
                                   {"result": "PROCESSING", "then": "SUCCESS"},
                                   {"result": "PROCESSING", "then": "FAILED", "fail_reason": "TIME_OUT_CLOSED"}]))
    def returns_go(self, account, setting):
        self.book.set_return_outcome({"return_mchid": account, **setting})

    @rule(milliseconds=st.integers(0, 600))
    def time_passes(self, milliseconds):
        self.clock.moment += timedelta(milliseconds=milliseconds)
        notices = self.book.settle_due()
        self.notified += [(n.out_order_no, n.account) for n in notices]
        final = {(order["out_order_no"], r["account"])
                 for tid in self.ids for order in self.book.transaction_view(tid)["sharing"]
                 for r in order["receivers"] if r["result"] != "PENDING"}
        assert len(self.notified) == len(set(self.notified)) and set(self.notified) == final

    @invariant()
    def money_is_conserved(self):
        if not hasattr(self, "book"):
            return
        for tid in self.ids:
            view = self.book.transaction_view(tid)
            assert view["shared_amount"] + view["sharing_pending_amount"] <= view["sharing_limit"]
            assert view["sharing_limit"] <= view["amount"]
            assert 0 <= view["sharing_returned_amount"] <= view["shared_amount"]
            closed = sum(r["amount"] for order in view["sharing"] for r in order["receivers"]
                         if r["result"] == "CLOSED")
            assert view["shared_amount"] + view["sharing_pending_amount"] + closed == self.applied_sharing[tid]
            for order in view["sharing"]:
                for r in order["receivers"]:
                    received = r["amount"] if r["result"] == "SUCCESS" else 0
                    taken = sum(item["amount"] for item in view["sharing_returns"]
                                if item["out_order_no"] == order["out_order_no"]
                                and item["return_mchid"] == r["account"]
                                and item["result"] in ("SUCCESS", "PROCESSING"))
                    assert taken <= received


TestSharingMoney = SharingMoney.TestCase
TestSharingMoney.settings = settings(max_examples=250, stateful_step_count=50, deadline=None)
