from __future__ import annotations

import pytest

from crm_reconciliation.push.limiter import RollingWindowLimiter


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_never_more_than_the_limit_in_any_window():
    clock = FakeClock()
    limiter = RollingWindowLimiter(190, 10.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(1000):
        limiter.acquire()
        starts.append(clock.now)
    for index, start in enumerate(starts):
        in_window = [other for other in starts[index:] if other < start + 10.0]
        assert len(in_window) <= 190
    # and as fast as the limit allows: 1000 requests need 5 full windows beyond the first
    assert starts[-1] == pytest.approx(50.0)


def test_a_pause_holds_every_request():
    clock = FakeClock()
    limiter = RollingWindowLimiter(100, 10.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.pause(2.5)
    assert limiter.acquire() == pytest.approx(2.5)


def test_nonsense_limits_are_refused():
    with pytest.raises(ValueError, match="at least one request"):
        RollingWindowLimiter(0, 10)
