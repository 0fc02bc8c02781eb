"""The one retry policy: how often it tries, how long it waits, when it stops."""
import pytest

from chalicelib.retry import Backoff, RetriesExhausted


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def _policy(clock, **overrides):
    settings = dict(attempts=5, base_seconds=0.01, cap_seconds=0.05, sleep=clock.sleep,
                    clock=clock, random=lambda: 1.0)
    settings.update(overrides)
    return Backoff(**settings)


def test_delays_double_up_to_the_cap_and_nothing_is_slept_before_the_first_try():
    clock = FakeClock()
    outcomes = iter([ValueError("busy")] * 4 + ["done"])

    def operation():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert _policy(clock).call(operation, retry_on=lambda e: isinstance(e, ValueError)) == "done"
    assert clock.slept == pytest.approx([0.01, 0.02, 0.04, 0.05])


def test_jitter_scales_each_delay():
    clock = FakeClock()
    policy = _policy(clock, random=lambda: 0.5)
    assert [policy.delay(a) for a in range(4)] == pytest.approx([0.005, 0.01, 0.02, 0.025])


def test_an_error_not_retried_is_raised_at_once():
    clock = FakeClock()
    calls = []

    def operation():
        calls.append(1)
        raise KeyError("bad input")

    with pytest.raises(KeyError):
        _policy(clock).call(operation, retry_on=lambda e: isinstance(e, ValueError))
    assert len(calls) == 1 and clock.slept == []


def test_exhausted_tries_raise_with_the_last_error():
    clock = FakeClock()
    errors = [ValueError(str(n)) for n in range(5)]
    it = iter(errors)

    def operation():
        raise next(it)

    with pytest.raises(RetriesExhausted) as caught:
        _policy(clock).call(operation, retry_on=lambda e: True)
    assert caught.value.tries == 5 and caught.value.last is errors[-1]
    assert caught.value.__cause__ is errors[-1]


def test_the_deadline_stops_before_a_try_that_would_start_late():
    clock = FakeClock()
    policy = _policy(clock, attempts=100, deadline_seconds=0.1)
    tries = list(policy.tries())
    # 0.01 + 0.02 + 0.04 = 0.07 slept; the next pause (0.05) would end past 0.1.
    assert tries == [0, 1, 2, 3] and clock.now <= 0.1


def test_a_loop_body_may_stop_early():
    clock = FakeClock()
    seen = []
    for attempt in _policy(clock).tries():
        seen.append(attempt)
        if attempt == 1:
            break
    assert seen == [0, 1] and clock.slept == [0.01]


@pytest.mark.parametrize("bad", [dict(attempts=0), dict(base_seconds=-1)])
def test_nonsense_settings_are_refused(bad):
    with pytest.raises(ValueError):
        _policy(FakeClock(), **bad)


def test_pause_sleeps_after_each_failed_try_but_the_last():
    clock = FakeClock()
    policy = _policy(clock, attempts=3)
    for attempt in range(policy.attempts):
        policy.pause(attempt)
    assert clock.slept == pytest.approx([0.01, 0.02])


def test_using_binds_another_sleep_and_random_and_keeps_the_settings():
    clock = FakeClock()
    policy = _policy(FakeClock()).using(sleep=clock.sleep, random=lambda: 0.25)
    policy.pause(2)
    assert clock.slept == pytest.approx([0.01])
    assert (policy.attempts, policy.base_seconds, policy.cap_seconds) == (5, 0.01, 0.05)
