"""Watching the ERP's stock for every store at once: one poll, however many stores sell its stock.

Every `poll_interval` (at a fixed rate: the time a poll takes is not added to the wait) it asks which
SKUs moved since its watermark and signals them to the stock sync run of each store selling the
ERP's stock. Signals are durable, so a store that is down loses nothing: its run publishes them when
it can, while the watermark moves on for the others. Continues as new every `polls_per_run`.
"""
import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.stock import StockActivities
    from canonical.keys import stock_sync_workflow_id
    from workflows import search_attributes as sa
    from workflows.stock_sync import SYNC_RETRY, StockSyncWorkflow


SHORTEST_WAIT = timedelta(seconds=1)
"""Temporal fires a shorter timer after about a second anyway (measured on the dev server): a poll that
left less than this of its interval is followed by the next at once, so slow polls do not stretch it."""


class StockWatchInput(BaseModel):
    store_ids: list[str]
    """Stores selling the ERP's stock; each has a stock sync run."""
    poll_interval: timedelta
    polls_per_run: int = 500
    cursor: str | None = None
    """The ERP's watermark; None: every SKU first (a fresh start publishes everything)."""


@workflow.defn
class StockWatchWorkflow:
    def __init__(self) -> None:
        self._store_ids: list[str] = []

    @workflow.run
    async def run(self, watch: StockWatchInput) -> None:
        self._store_ids = self._store_ids or list(watch.store_ids)
        cursor = watch.cursor
        for _ in range(watch.polls_per_run):
            started = workflow.now()
            changes = await workflow.execute_activity_method(
                StockActivities.stock_moved_in_erp,
                cursor,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=SYNC_RETRY,
                summary="Which SKUs moved in the ERP",
            )
            if changes.skus:
                await self._tell_stores(list(changes.skus))
            if changes.cursor != cursor:
                cursor = changes.cursor
                workflow.upsert_search_attributes([sa.SYNC_WATERMARK.value_set(cursor)])
            left = watch.poll_interval - (workflow.now() - started)
            if left >= SHORTEST_WAIT:
                await workflow.sleep(left)
        workflow.continue_as_new(watch.model_copy(update={"cursor": cursor, "store_ids": self._store_ids}))

    @workflow.signal
    def serve_stores(self, store_ids: list[str]) -> None:
        """The stores selling the ERP's stock, as the worker's configuration now says."""
        self._store_ids = list(store_ids)

    async def _tell_stores(self, skus: list[str]) -> None:
        await asyncio.gather(*(self._tell(store_id, skus) for store_id in self._store_ids))

    async def _tell(self, store_id: str, skus: list[str]) -> None:
        run = workflow.get_external_workflow_handle_for(StockSyncWorkflow.run, stock_sync_workflow_id(store_id))
        try:
            await run.signal(StockSyncWorkflow.stock_changed, skus)
        except FailureError as error:  # no run for that store: its reconciliation will catch up
            workflow.logger.warning("store %s: no stock sync run to tell (%s); %d SKU(s) left to its "
                                    "reconciliation", store_id, error, len(skus))  # fmt: skip
