"""An ERP step inside an activity attempt: alive to Temporal while it runs, and never outliving the attempt.

A step is one Tryton call that may take seconds (Tryton aborts it at 45 s). Heartbeats while it
runs let the workflow's heartbeat timeout notice a dead worker within seconds instead of at the
end of the attempt, and each call gets at most the time the attempt has left, so no call is still
waiting when Temporal starts the next attempt. Tryton serialises and deduplicates the steps, which
makes an overlap harmless; these bounds keep it rare.
"""
import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from temporalio import activity

from activities.errors import as_temporal_errors
from adapters.deadlines import answer_by

HEARTBEAT_EVERY_S = 5.0
"""The SDK sends at most one heartbeat per 80 % of the heartbeat timeout; this only has to be more often."""
MARGIN_S = 1.0
"""Time kept at the end of an attempt to report its outcome."""


@asynccontextmanager
async def erp_step() -> AsyncIterator[None]:
    """Heartbeat until the block ends; ERP calls inside end before the attempt does; errors as retry decisions."""
    heartbeats = asyncio.create_task(_heartbeat())
    try:
        with as_temporal_errors(), answer_by(_attempt_deadline()):
            yield
    finally:
        heartbeats.cancel()


async def _heartbeat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_EVERY_S)


def _attempt_deadline() -> float | None:
    info = activity.info()
    if info.start_to_close_timeout is None:
        return None
    ends = info.started_time + info.start_to_close_timeout
    return time.monotonic() + (ends - datetime.now(timezone.utc)).total_seconds() - MARGIN_S
