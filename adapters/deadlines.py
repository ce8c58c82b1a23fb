"""How long the caller still waits for an answer, so that no call an adapter makes outlives its caller.

A Temporal activity attempt ends at its start-to-close timeout whatever its HTTP calls are doing; the
activity sets its deadline here and each call is given at most the time that is left.
"""
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


@contextmanager
def answer_by(deadline: float | None) -> Iterator[None]:
    """Calls made inside end by `deadline` (a `time.monotonic()` value; None: no deadline)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left(longest: float) -> float:
    """The timeout of a call starting now: `longest`, or less when the caller's deadline is nearer."""
    deadline = _deadline.get()
    return longest if deadline is None else min(longest, deadline - time.monotonic())
