"""Publishing available-to-sell to one store, within seconds of the stock moving.

One long-running run per store (`stock-sync-<store>`), so a store that is down or slow only
holds up itself: it asks which SKUs moved since its watermark, coalesces them with SKUs other
parts of the system signalled, publishes what changed, and sleeps one poll interval. A publish
that cannot reach the store is retried without advancing the watermark, so it catches up after.
It continues as new every `cycles_per_run` polls, carrying the watermark and anything unpublished.
"""
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.stock import PublishRequest, StockActivities, StockChangesRequest, StockReport
    from workflows import search_attributes as sa

SYNC_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
"""No attempt limit: stock must eventually match; the run is visible as retrying in the Web UI meanwhile."""


class StockSyncInput(BaseModel):
    store_id: str
    poll_interval: timedelta
    cycles_per_run: int = 500
    cursor: str | None = None
    """The source's watermark; None publishes every SKU first (a new store, or a fresh start)."""
    pending: list[str] = []


@workflow.defn
class StockSyncWorkflow:
    def __init__(self) -> None:
        self._pending: set[str] = set()
        self._signalled = False
        self._last: StockReport | None = None

    @workflow.run
    async def run(self, sync: StockSyncInput) -> None:
        self._pending.update(sync.pending)
        cursor = sync.cursor
        workflow.upsert_search_attributes([sa.STORE_ID.value_set(sync.store_id)])
        for _ in range(sync.cycles_per_run):
            changes = await workflow.execute_activity_method(
                StockActivities.stock_changes,
                StockChangesRequest(store_id=sync.store_id, cursor=cursor),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=SYNC_RETRY,
                summary="Which SKUs moved",
            )
            self._pending.update(changes.skus)
            await self._publish(sync.store_id)
            cursor = changes.cursor
            workflow.upsert_search_attributes([sa.SYNC_WATERMARK.value_set(cursor)])
            await self._sleep(sync.poll_interval)
        workflow.continue_as_new(sync.model_copy(update={"cursor": cursor, "pending": sorted(self._pending)}))

    async def _publish(self, store_id: str) -> None:
        if not self._pending:
            return
        skus = sorted(self._pending)
        self._last = await workflow.execute_activity_method(
            StockActivities.publish_available_to_sell,
            PublishRequest(store_id=store_id, skus=skus),
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=SYNC_RETRY,
            summary=f"Publish available-to-sell of {len(skus)} SKU(s)",
        )
        self._pending.difference_update(skus)
        if self._last.failed:
            workflow.logger.warning("store %s refused %d stock update(s): %s", store_id, len(self._last.failed),
                                    ", ".join(f"{f.sku} ({f.message})" for f in self._last.failed[:10]))  # fmt: skip

    async def _sleep(self, interval: timedelta) -> None:
        self._signalled = False
        try:
            await workflow.wait_condition(lambda: self._signalled, timeout=interval)
        except TimeoutError:
            pass

    @workflow.signal
    def stock_changed(self, skus: list[str]) -> None:
        """Publish these SKUs now (e.g. after an order, a return or a hand edit), not at the next poll."""
        self._pending.update(skus)
        self._signalled = True

    @workflow.query
    def last_publish(self) -> StockReport | None:
        return self._last
