"""Token bucket and Retry-After pause, on a fake clock so nothing really sleeps."""
import asyncio

import pytest

from adapters.rate_budget import RateBudget


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        await asyncio.sleep(0)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def budget(fake_time: FakeTime, rate: float = 5.0, burst: int = 3) -> RateBudget:
    return RateBudget(rate, burst, clock=fake_time.clock, sleep=fake_time.sleep)


async def test_burst_goes_out_at_once_then_the_steady_rate(fake_time):
    bucket = budget(fake_time, rate=5.0, burst=3)

    for _ in range(5):
        await bucket.acquire()

    assert fake_time.sleeps == [0.2, 0.2]
    assert fake_time.now == pytest.approx(1000.4)


async def test_idle_time_refills_up_to_the_burst_only(fake_time):
    bucket = budget(fake_time, rate=5.0, burst=3)
    for _ in range(3):
        await bucket.acquire()

    fake_time.now += 60
    for _ in range(4):
        await bucket.acquire()

    assert fake_time.sleeps == [0.2]


async def test_pause_holds_every_request_then_resumes_gently(fake_time):
    bucket = budget(fake_time, rate=5.0, burst=3)
    await bucket.acquire()

    bucket.pause(2.0)
    assert bucket.paused_for() == pytest.approx(2.0)
    await bucket.acquire()
    await bucket.acquire()

    assert fake_time.sleeps == [2.0, 0.2], "one request when the pause ends, then the steady rate"
    assert bucket.paused_for() == 0


async def test_a_shorter_pause_never_shortens_a_longer_one(fake_time):
    bucket = budget(fake_time)

    bucket.pause(10)
    bucket.pause(1)

    assert bucket.paused_for() == pytest.approx(10)


async def test_pause_set_while_requests_wait_is_honoured(fake_time):
    bucket = budget(fake_time, rate=1.0, burst=1)
    await bucket.acquire()

    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    bucket.pause(5)
    await waiter

    assert fake_time.now == pytest.approx(1005.0)


async def test_concurrent_callers_are_spread_at_the_rate(fake_time):
    bucket = budget(fake_time, rate=10.0, burst=2)
    done: list[float] = []

    async def call() -> None:
        await bucket.acquire()
        done.append(fake_time.now)

    await asyncio.gather(*(call() for _ in range(6)))

    assert done == pytest.approx([1000.0, 1000.0, 1000.1, 1000.2, 1000.3, 1000.4])


async def test_real_clock_small_rate():
    bucket = RateBudget(requests_per_second=50, burst=1)
    loop = asyncio.get_running_loop()
    started = loop.time()

    for _ in range(3):
        await bucket.acquire()

    assert loop.time() - started >= 0.035


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_rejects_a_budget_that_could_never_send(rate, burst):
    with pytest.raises(ValueError):
        RateBudget(rate, burst)
