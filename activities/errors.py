"""The one place adapter errors become Temporal retry decisions."""
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from temporalio.exceptions import ApplicationError

from adapters.errors import AdapterError


@contextmanager
def as_temporal_errors() -> Iterator[None]:
    """Retryable adapter errors are retried (honouring Retry-After); the rest fail the attempt for good."""
    try:
        yield
    except AdapterError as err:
        delay = getattr(err, "retry_after", None)
        raise ApplicationError(
            str(err),
            type=type(err).__name__,
            non_retryable=not err.retryable,
            next_retry_delay=timedelta(seconds=delay) if delay else None,
        ) from err
