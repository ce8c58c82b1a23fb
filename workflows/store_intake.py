"""The intake backstop for one store, run by a Temporal Schedule.

WooCommerce never redelivers a failed webhook and disables one after seven failures, so
every few minutes this lists the store's orders changed since the last watermark (minus
an overlap), hands every paid order to its run, and re-enables any disabled webhook.
The watermark is the previous successful run's result: a failed run never advances it. The first
run starts from the watermark the store was connected with (`retail-sync stores connect --since`):
orders changed before it are left alone.
"""
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.intake import IntakeActivities, OrdersPageRequest
    from canonical.intake import changed_after

INTAKE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=1))


class IntakeInput(BaseModel):
    store_id: str
    since: AwareDatetime | None = None
    """Orders changed before this are left alone: the watermark chosen when the store was connected (the
    moment it was, unless the operator chose another). None in schedules made before there was a choice."""
    overlap: timedelta = timedelta(minutes=10)


class IntakeResult(BaseModel):
    store_id: str
    watermark: datetime
    orders_seen: int = 0
    runs_started: int = 0
    skipped: dict[str, str] = {}
    """Order id → why the order could not be handed to a run (unreadable, too large): for a person to look at."""
    webhooks_reenabled: list[str] = []
    since: datetime | None = None
    """The input's `since` this run honoured: another one in the next run's input means the operator moved it."""


@workflow.defn
class StoreIntakeWorkflow:
    @workflow.run
    async def run(self, intake: IntakeInput) -> IntakeResult:
        previous = workflow.get_last_completion_result(IntakeResult)
        started_at = workflow.now()
        last_run = (previous.since, previous.watermark) if previous else None
        since = changed_after(intake.since, last_run, intake.overlap, started_at)
        result = IntakeResult(store_id=intake.store_id, watermark=started_at, since=intake.since)
        page = 1
        while True:
            handed = await workflow.execute_activity_method(
                IntakeActivities.hand_changed_orders_to_runs,
                OrdersPageRequest(store_id=intake.store_id, modified_after=since, page=page),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=INTAKE_RETRY,
                summary=f"Orders changed since {since:%Y-%m-%d %H:%M:%S} UTC, page {page}",
            )
            result.orders_seen += handed.orders_seen
            result.runs_started += handed.runs_started
            result.skipped |= handed.skipped
            if not handed.has_next:
                break
            page += 1
        result.webhooks_reenabled = await workflow.execute_activity_method(
            IntakeActivities.reenable_disabled_webhooks,
            intake.store_id,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=INTAKE_RETRY,
            summary="Re-enable webhooks WooCommerce disabled",
        )
        if result.skipped:
            workflow.logger.warning("store %s: %d order(s) skipped: %s", intake.store_id, len(result.skipped),
                                    "; ".join(f"{order_id}: {why}" for order_id, why in sorted(result.skipped.items())))
        if result.webhooks_reenabled:
            workflow.logger.warning(
                "store %s: re-enabled webhooks WooCommerce had disabled: %s",
                intake.store_id,
                ", ".join(result.webhooks_reenabled),
            )
        return result
