"""Random sequences of calls on the rules: the channel's money is always conserved."""
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from infra.channel import ChannelBook
from infra.channel.rules import (APPLIED, REPLAYED, SUBSIDY_CANCEL, SUBSIDY_CREATE,
                                 SUBSIDY_RETURN)

SUB_MCHID = "1692608207"
TRANSACTIONS = 3


class ChannelMoney(RuleBasedStateMachine):
    """Creates, returns, re-sends and cancels on a few transactions, numbers drawn from a
    small pool so that reentries, collisions and over-returns happen often."""

    @initialize(limits=st.lists(st.integers(0, 3000), min_size=TRANSACTIONS, max_size=TRANSACTIONS))
    def pay(self, limits):
        self.book = ChannelBook()
        self.ids = []
        for index, limit in enumerate(limits):
            self.ids.append(self.book.create_transaction({
                "payment_order_id": f"p{index}", "biz_order_id": f"b{index}", "mch_id": "m",
                "sub_mchid": SUB_MCHID, "amount": 10000, "subsidy_limit": limit}).transaction_id)
        self.sent = {}           # outbound number -> (body, first successful answer)
        self.applied_creates = {}
        self.applied_returns = {}

    def _remember(self, number, body, answer):
        if answer.outcome == APPLIED:
            assert number not in self.sent
            self.sent[number] = answer.body
        elif answer.outcome == REPLAYED:
            assert answer.body == self.sent[number]  # the original answer, ids and time

    @rule(tx=st.integers(0, TRANSACTIONS - 1), amount=st.integers(1, 3500), number=st.integers(0, 5))
    def create(self, tx, amount, number):
        body = {"sub_mchid": SUB_MCHID, "transaction_id": self.ids[tx], "amount": amount,
                "description": "补差", "out_subsidy_no": f"s{number}"}
        answer = self.book.call(SUBSIDY_CREATE, body)
        self._remember(f"s{number}", body, answer)
        if answer.outcome == APPLIED:
            self.applied_creates[self.ids[tx]] = self.applied_creates.get(self.ids[tx], 0) + 1

    @rule(tx=st.integers(0, TRANSACTIONS - 1), amount=st.integers(1, 2000),
          refund=st.integers(0, 5), number=st.integers(0, 5))
    def give_back(self, tx, amount, refund, number):
        body = {"sub_mchid": SUB_MCHID, "out_order_no": f"r{number}", "transaction_id": self.ids[tx],
                "refund_id": f"f{refund}", "amount": amount, "description": "回退"}
        answer = self.book.call(SUBSIDY_RETURN, body)
        self._remember(f"r{number}", body, answer)
        if answer.outcome == APPLIED:
            self.applied_returns[self.ids[tx]] = self.applied_returns.get(self.ids[tx], 0) + amount

    @rule(tx=st.integers(0, TRANSACTIONS - 1))
    def cancel(self, tx):
        self.book.call(SUBSIDY_CANCEL, {"sub_mchid": SUB_MCHID, "transaction_id": self.ids[tx],
                                        "description": "取消"})

    @invariant()
    def money_is_conserved(self):
        for transaction_id, money in self.book.money().items():
            assert 0 <= money["returned"] <= money["subsidy"] <= money["limit"]
            assert money["returned"] == self.applied_returns.get(transaction_id, 0)
            assert self.applied_creates.get(transaction_id, 0) == (1 if money["subsidy"] else 0)

    @invariant()
    def the_log_agrees_with_the_money(self):
        applied = [c for c in self.book.calls() if c["outcome"] == APPLIED
                   and c["operation"] == SUBSIDY_RETURN]
        assert sum(c["amount"] for c in applied) == sum(m["returned"] for m in self.book.money().values())


TestChannelMoney = ChannelMoney.TestCase
TestChannelMoney.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
