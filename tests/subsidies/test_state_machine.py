"""Random sequences of create, return, retry, fault and sweep (hypothesis), against moto and the
real simulator; at the end of each sequence every open request is driven to a final state, and
the channel's money (`GET /_control/orders/{transaction_id}`) must equal the center's records."""
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule,
                                 run_state_machine_as_test)

from chalicelib.channel.http_adapter import HttpChannel
from chalicelib.errors import ErrorCode
from chalicelib.subsidies import service, sweeper, transactions
from chalicelib.subsidies.answers import SubsidyError
from chalicelib.subsidies.messages import TransactionNotification
from infra.channel import ChannelSimulator
from tests.subsidies.conftest import return_request, subsidy_request
from tests.subsidies.support import MCH_ID, SUB_MCHID, Channel, Clock, context, next_id, return_body
from tests.unit.support import aws_stack

FAULTS = ["timeout_before_commit", "timeout_after_commit", "system_error", "http_500", "reject",
          "slow"]
OPERATIONS = ["subsidies.create", "subsidies.return"]
READ_TIMEOUT = 0.25
HOLD_MS = 350


class SubsidyMachine(RuleBasedStateMachine):
    ctx = None           # set by the test: one moto stack and one simulator for all examples
    channel = None

    def __init__(self):
        super().__init__()
        self.orders = []               # (payment_order_id, transaction_id)
        self.creates = []              # SubsidyRequest sent at least once
        self.returns = []              # SubsidyReturnRequest sent at least once
        self.answers = {}              # bizSubsidiesId -> data of a successful create

    # -- rules ---------------------------------------------------------------------------
    @rule()
    def pay(self):
        payment_order_id = next_id("13262164")
        answer = self.channel.order(payment_order_id, amount=10000, subsidy_limit=3000)
        transactions.record(self.ctx, TransactionNotification(
            payment_order_id=payment_order_id, biz_order_id="b1", mch_id=MCH_ID,
            sub_mchid=SUB_MCHID, transaction_id=answer["transaction_id"], openid=answer["openid"],
            amount=10000, success_time="2026-11-22T14:00:00+08:00"))
        self.orders.append((payment_order_id, answer["transaction_id"]))

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), amount=st.integers(1, 3500))
    def subsidise(self, data, amount):
        payment_order_id, _ = data.draw(st.sampled_from(self.orders))
        request = subsidy_request(payment_order_id, amount=amount)
        self.creates.append(request)
        self._create(request)

    @precondition(lambda self: self.answers)
    @rule(data=st.data(), amount=st.integers(1, 2000))
    def give_back(self, data, amount):
        created = data.draw(st.sampled_from(sorted(self.answers.values(), key=str)))
        request = return_request(return_body(created, amount=amount))
        self.returns.append(request)
        self._return(request)

    @precondition(lambda self: self.creates or self.returns)
    @rule(data=st.data())
    def retry(self, data):
        request = data.draw(st.sampled_from(self.creates + self.returns))
        if request in self.creates:
            self._create(request)
        else:
            self._return(request)

    @rule(operation=st.sampled_from(OPERATIONS), fault=st.sampled_from(FAULTS))
    def fault(self, operation, fault):
        # slow: sometimes within our read timeout (an answer), sometimes beyond it (UNKNOWN).
        self.channel.fault(operation, fault, delay_ms=HOLD_MS if fault != "slow" else
                           (100 if len(self.creates) % 2 else HOLD_MS))

    @rule()
    def sweep(self):
        sweeper.run(self.ctx)

    # -- calls ---------------------------------------------------------------------------
    def _create(self, request):
        try:
            self.answers[request.bizSubsidiesId] = service.create(self.ctx, request)
        except SubsidyError as error:
            assert error.code in (ErrorCode.CHANNEL_REJECTED, ErrorCode.OUTCOME_UNKNOWN), error

    def _return(self, request):
        try:
            service.return_subsidy(self.ctx, request)
        except SubsidyError as error:
            assert error.code in (ErrorCode.CHANNEL_REJECTED, ErrorCode.OUTCOME_UNKNOWN,
                                  ErrorCode.RETURN_EXCEEDS_SUBSIDY), error

    # -- checks --------------------------------------------------------------------------
    def _views(self):
        return {r.bizSubsidiesId: service.view(self.ctx, r.bizSubsidiesId)
                for r in self.creates if _exists(self.ctx, r.bizSubsidiesId)}

    @invariant()
    def amounts_add_up(self):
        for view in self._views().values():
            assert view["returned_amount"] + view["returning_amount"] + view["returnable_amount"] \
                == view["total_amount"]
            assert min(view["returned_amount"], view["returning_amount"], view["returnable_amount"]) >= 0

    def teardown(self):
        # Drive everything to a final state: faults are finite, every re-send consumes one.
        for _ in range(40):
            open_ = [v for v in self._views().values() if v["state"] not in ("SUCCEEDED", "FAILED")]
            open_returns = [r for v in self._views().values() for r in v["returns"] if r["state"] != 1
                            and r["state_name"] not in ("SUCCEEDED", "FAILED")]
            if not open_ and not open_returns:
                break
            for request in self.creates + self.returns:
                (self._create if request in self.creates else self._return)(request)
        views = self._views()
        by_transaction = {}
        for request in self.creates:
            view = views.get(request.bizSubsidiesId)
            if view is not None:
                by_transaction.setdefault(view["transactionId"], []).append(view)
        for _, transaction_id in self.orders:
            money = self.channel.view(transaction_id)
            mine = by_transaction.get(transaction_id, [])
            assert all(v["state"] in ("SUCCEEDED", "FAILED") for v in mine), mine
            succeeded = [v for v in mine if v["state"] == "SUCCEEDED"]
            assert len(succeeded) <= 1
            if not succeeded:
                assert money["subsidy"] is None
                continue
            [view] = succeeded
            assert money["subsidy"]["out_subsidy_no"] == view["paymentSubsidiesId"]
            assert money["subsidy"]["amount"] == view["total_amount"]
            assert money["subsidy"]["subsidy_id"] == view["proxyChannelSubsidiesId"]
            assert money["returned_amount"] == view["returned_amount"]
            assert view["returning_amount"] == 0
            center_returns = {r["payment_return_subsidies_id"]: r["amount"] for r in view["returns"]
                              if r["state_name"] == "SUCCEEDED"}
            assert center_returns == {r["out_order_no"]: r["amount"] for r in money["returns"]}
        applied = [c["outbound_no"] for c in self.channel.calls() if c["outcome"] == "APPLIED"]
        assert len(applied) == len(set(applied))       # no outbound number moved money twice


def _exists(ctx, biz_subsidies_id) -> bool:
    try:
        service.view(ctx, biz_subsidies_id)
        return True
    except SubsidyError:
        return False


@pytest.fixture
def machine_world():
    with aws_stack("machine") as stack, ChannelSimulator() as simulator:
        ctx = context(stack.dynamodb, stack.environment["SUBSIDIES_TABLE"], simulator.url, Clock(),
                      wait_seconds=0.2, sweeper_max_tries=100)
        ctx.channel = HttpChannel(simulator.url, 0.5, READ_TIMEOUT)
        yield ctx, Channel(simulator.url)


def test_the_channels_money_equals_the_centers_records(machine_world):
    SubsidyMachine.ctx, SubsidyMachine.channel = machine_world
    run_state_machine_as_test(SubsidyMachine, settings=settings(
        max_examples=15, stateful_step_count=14, deadline=None,
        suppress_health_check=list(HealthCheck)))
