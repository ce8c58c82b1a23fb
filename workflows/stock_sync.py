"""Publishing available-to-sell to one store, within seconds of the stock moving.

One long-running run per store (`stock-sync-<store>`), so a store that is down or slow only holds up
itself. SKUs to publish arrive as `stock_changed` signals (from the ERP stock watch, or anything that
knows stock moved); a store selling the 3PL's stock also asks the 3PL itself every `threepl_poll`,
as the 3PL has no change feed for stock. Pending SKUs are coalesced and published together; a
publish that cannot reach the store is retried and the SKUs stay pending, so it catches up after.
The run continues as new when Temporal suggests it, carrying anything unpublished.
"""
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.stock import PublishRequest, StockActivities, StockReport
    from workflows import search_attributes as sa
    from workflows import versions

SYNC_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
"""No attempt limit: stock must eventually match; the run is visible as retrying in the Web UI meanwhile."""


class StockSyncInput(BaseModel):
    store_id: str
    threepl_poll: timedelta | None = None
    """Set for a store selling the 3PL's stock: how often to read it."""
    publishes_per_run: int = 500
    pending: list[str] = []


@workflow.defn
class StockSyncWorkflow:
    def __init__(self) -> None:
        self._pending: set[str] = set()
        self._last: StockReport | None = None
        self._last_change: StockReport | None = None

    @workflow.run
    async def run(self, sync: StockSyncInput) -> None:
        self._pending.update(sync.pending)
        workflow.upsert_search_attributes([sa.STORE_ID.value_set(sync.store_id)])
        for _ in range(sync.publishes_per_run):
            await self._next_changes(sync.threepl_poll)
            if workflow.info().is_continue_as_new_suggested():
                break
            await self._publish(sync.store_id)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(sync.model_copy(update={"pending": sorted(self._pending)}))

    async def _next_changes(self, threepl_poll: timedelta | None) -> None:
        if threepl_poll is None:
            await workflow.wait_condition(lambda: bool(self._pending))
            return
        try:
            await workflow.wait_condition(lambda: bool(self._pending), timeout=threepl_poll)
        except TimeoutError:
            self._pending.update(await workflow.execute_activity_method(
                StockActivities.skus_held_by_3pl,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=SYNC_RETRY,
                summary="SKUs the 3PL holds",
            ))  # fmt: skip

    async def _publish(self, store_id: str) -> None:
        if not self._pending:
            return
        skus = sorted(self._pending)
        kept = workflow.patched(versions.STOCK_CHANGES_DURING_A_PUBLISH_KEPT)
        if kept:
            self._pending.clear()  # what is signalled from now on changed after this publish read the store
        self._last = await workflow.execute_activity_method(
            StockActivities.publish_available_to_sell,
            PublishRequest(store_id=store_id, skus=skus),
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=SYNC_RETRY,
            summary=f"Publish available-to-sell of {len(skus)} SKU(s)",
        )
        if not kept:
            self._pending.difference_update(skus)
        if self._last.fixed or self._last.failed:
            self._last_change = self._last
        if self._last.failed:
            workflow.logger.warning("store %s refused %d stock update(s): %s", store_id, len(self._last.failed),
                                    ", ".join(f"{f.sku} ({f.message})" for f in self._last.failed[:10]))  # fmt: skip

    @workflow.signal
    def stock_changed(self, skus: list[str]) -> None:
        """Publish these SKUs now (the ERP watch, an order, a return or a hand edit), not at the next poll."""
        self._pending.update(skus)

    @workflow.query
    def last_publish(self) -> StockReport | None:
        return self._last

    @workflow.query
    def last_change(self) -> StockReport | None:
        """The last publish that changed or was refused something in the store (most find nothing to do)."""
        return self._last_change
