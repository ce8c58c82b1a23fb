"""Proving a store matches the ERP: read every listing the store has, compare, fix drift in batches.

Run by a Temporal Schedule per store and by `retail-sync stock reconcile`. Hand edits in the store,
missed events and restocks by WooCommerce itself all show up here as drift. The run's result is
the drift report; `DriftCount` lets support staff find stores that needed fixing.
"""
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.stock import PublishRequest, StockActivities, StockReport
    from workflows import search_attributes as sa
    from workflows.stock_sync import SYNC_RETRY


class ReconcileInput(BaseModel):
    store_id: str
    dry_run: bool = False


@workflow.defn
class StockReconciliationWorkflow:
    @workflow.run
    async def run(self, reconcile: ReconcileInput) -> StockReport:
        workflow.upsert_search_attributes([sa.STORE_ID.value_set(reconcile.store_id)])
        report = await workflow.execute_activity_method(
            StockActivities.publish_available_to_sell,
            PublishRequest(store_id=reconcile.store_id, dry_run=reconcile.dry_run),
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=SYNC_RETRY,
            summary="Compare every listing with available-to-sell" + (" (dry run)" if reconcile.dry_run else ""),
        )
        workflow.upsert_search_attributes([sa.DRIFT_COUNT.value_set(report.drifted)])
        return report
