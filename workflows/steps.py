"""How every business step runs: its own attempt timeout, a day of retries with backoff, then it parks.

Shared by the order, refund and return workflows, so a transient outage is handled alike everywhere.
"""
from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)
STEP_DEADLINE = timedelta(hours=24)


def step_options(summary: str, attempt_timeout: timedelta = timedelta(minutes=3)) -> dict:
    """Options for `execute_activity_method`; `summary` labels the step in the Web UI's history."""
    return dict(
        start_to_close_timeout=attempt_timeout,
        schedule_to_close_timeout=STEP_DEADLINE,
        retry_policy=STEP_RETRY,
        summary=summary,
    )


def failure_reason(err: ActivityError) -> str:
    """The adapter's own words (e.g. "Unknown SKU 'X' on line 2"), not Temporal's wrapper text."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or err)
