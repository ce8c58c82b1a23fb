"""How the HTTP adapters retry inside one call: idempotent requests only, honouring the server's wait.

A wait longer than `MAX_INLINE_WAIT_S` is not slept here: the RetryableError carries it to the
caller (a Temporal activity retries later) instead of holding a worker slot.
"""
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_random_exponential

from adapters.errors import RetryableError

MAX_ATTEMPTS = 4
MAX_INLINE_WAIT_S = 30.0

_jitter = wait_random_exponential(multiplier=0.5, max=8)


def inline_retries(idempotent: bool) -> AsyncRetrying:
    return AsyncRetrying(
        stop=stop_after_attempt(MAX_ATTEMPTS if idempotent else 1),
        wait=_backoff,
        retry=retry_if_exception(_worth_waiting_for),
        reraise=True,
    )


def _worth_waiting_for(error: BaseException) -> bool:
    return isinstance(error, RetryableError) and (error.retry_after or 0) <= MAX_INLINE_WAIT_S


def _backoff(state: RetryCallState) -> float:
    """With a server-given wait the rate budget already holds every request; otherwise back off with jitter."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, RetryableError) and error.retry_after is not None:
        return 0.0
    return _jitter(state)
