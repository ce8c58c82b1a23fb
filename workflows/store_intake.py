"""The intake backstop for one store, run by a Temporal Schedule.

WooCommerce never redelivers a failed webhook and disables one after seven failures, so
every few minutes this lists the store's orders changed since the last watermark (minus
an overlap), hands every paid order to its run, and re-enables any disabled webhook.
The watermark is the previous successful run's result: a failed run never advances it.
"""
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.intake import IntakeActivities, OrdersPageRequest

INTAKE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=1))


class IntakeInput(BaseModel):
    store_id: str
    overlap: timedelta = timedelta(minutes=10)
    first_lookback: timedelta = timedelta(days=1)


class IntakeResult(BaseModel):
    store_id: str
    watermark: datetime
    orders_seen: int = 0
    runs_started: int = 0
    skipped: dict[str, str] = {}
    """Order id → why the order could not be handed to a run (unreadable, too large): for a person to look at."""
    webhooks_reenabled: list[str] = []


@workflow.defn
class StoreIntakeWorkflow:
    @workflow.run
    async def run(self, intake: IntakeInput) -> IntakeResult:
        previous = workflow.get_last_completion_result(IntakeResult)
        started_at = workflow.now()
        since = (previous.watermark if previous else started_at - intake.first_lookback) - intake.overlap
        result = IntakeResult(store_id=intake.store_id, watermark=started_at)
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
