"""How fast one store may be called.

WooCommerce itself has no rate limit; the host or WAF in front of it answers 429/503 when
pushed (contract §8). A token bucket keeps us under a polite rate, and a shared "not
before" time set from a Retry-After makes every request to that store wait, not only
the one that was refused.
"""
import asyncio
import time
from collections.abc import Awaitable, Callable

_EPSILON = 1e-9  # float refill arithmetic must not turn a whole token into 0.9999999


class RateBudget:
    """Token bucket of `burst` tokens refilled at `requests_per_second`, plus a pause."""

    def __init__(
        self,
        requests_per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if requests_per_second <= 0 or burst < 1:
            raise ValueError("requests_per_second must be > 0 and burst >= 1")
        self._rate = requests_per_second
        self._burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._not_before = self._updated
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for a token; callers queue in arrival order."""
        async with self._lock:
            while (wait := self._wait_needed()) > 0:
                await self._sleep(wait)
            self._tokens -= 1

    def pause(self, seconds: float) -> None:
        """Hold every request until `seconds` from now (a Retry-After); never shortens a pause.

        After the pause the store gets one request, then the steady rate: a full burst
        straight after a 429 would likely earn another.
        """
        until = self._clock() + seconds
        if until > self._not_before:
            self._not_before = until
            self._tokens = 1.0
            self._updated = until

    def paused_for(self) -> float:
        """Seconds left of a Retry-After pause, so a caller can give up instead of waiting an hour."""
        return max(0.0, self._not_before - self._clock())

    def _wait_needed(self) -> float:
        now = self._clock()
        if now < self._not_before:
            return self._not_before - now
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        return 0.0 if self._tokens >= 1 - _EPSILON else (1 - self._tokens) / self._rate
