"""Catalogue and prices from the ERP to one store, run by a Temporal Schedule per store.

The watermark is the previous successful run's result (as the intake backstop does), so a failed
run never skips a change; `retail-sync catalog sync` runs one now. Only fields the ERP owns are
written (name, prices, status, stock management); descriptions and images stay the store's.
"""
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.catalog import CatalogActivities, CatalogReport, CatalogSyncRequest
    from workflows import search_attributes as sa
    from workflows.stock_sync import SYNC_RETRY


class CatalogSyncInput(BaseModel):
    store_id: str
    full: bool = False
    """Compare every product, not just those changed since the last run."""
    since: str | None = None
    """Start from this ERP watermark instead of the previous scheduled run's."""


@workflow.defn
class CatalogSyncWorkflow:
    @workflow.run
    async def run(self, sync: CatalogSyncInput) -> CatalogReport:
        previous = workflow.get_last_completion_result(CatalogReport)
        cursor = None if sync.full else sync.since or (previous.cursor if previous else None)
        workflow.upsert_search_attributes([sa.STORE_ID.value_set(sync.store_id)])
        report = await workflow.execute_activity_method(
            CatalogActivities.sync_catalog,
            CatalogSyncRequest(store_id=sync.store_id, cursor=cursor),
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=SYNC_RETRY,
            summary="Products and prices changed in the ERP" + ("" if cursor else " (all)"),
        )
        workflow.upsert_search_attributes([sa.SYNC_WATERMARK.value_set(report.cursor)])
        return report
