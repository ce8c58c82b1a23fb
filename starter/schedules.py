"""What runs for each configured store without being asked, created when a worker starts.

Per store: the intake backstop, the stock reconciliation and the catalogue sync as Temporal
Schedules, and the long-running stock sync run; one ERP stock watch for all of them. Existing ones
are kept as they are.
"""
import logging
from datetime import timedelta

from pydantic import BaseModel
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.common import WorkflowIDConflictPolicy

from canonical.keys import (
    STOCK_WATCH_WORKFLOW_ID,
    catalog_schedule_id,
    reconcile_schedule_id,
    stock_sync_workflow_id,
)
from config import Settings, StockSource, StoreSettings
from workflows.catalog_sync import CatalogSyncInput, CatalogSyncWorkflow
from workflows.stock_reconcile import ReconcileInput, StockReconciliationWorkflow
from workflows.stock_sync import StockSyncInput, StockSyncWorkflow
from workflows.stock_watch import StockWatchInput, StockWatchWorkflow
from workflows.store_intake import IntakeInput, StoreIntakeWorkflow

log = logging.getLogger(__name__)


def intake_schedule_id(store_id: str) -> str:
    return f"intake-{store_id}"


async def ensure_store_runs(client: Client, settings: Settings) -> None:
    for store in settings.stores:
        await ensure_intake_schedule(client, settings, store)
        await ensure_inventory_runs(client, settings, store)
    await ensure_stock_watch(client, settings)


async def ensure_intake_schedule(client: Client, settings: Settings, store: StoreSettings) -> None:
    await _ensure_schedule(client, settings, intake_schedule_id(store.id), StoreIntakeWorkflow.run,
                           IntakeInput(store_id=store.id), settings.orders.intake_every,
                           f"Intake backstop for store {store.id}")  # fmt: skip


async def ensure_inventory_runs(client: Client, settings: Settings, store: StoreSettings) -> None:
    every = settings.inventory
    await _ensure_schedule(client, settings, reconcile_schedule_id(store.id), StockReconciliationWorkflow.run,
                           ReconcileInput(store_id=store.id), every.reconcile_every,
                           f"Stock reconciliation for store {store.id}")  # fmt: skip
    await _ensure_schedule(client, settings, catalog_schedule_id(store.id), CatalogSyncWorkflow.run,
                           CatalogSyncInput(store_id=store.id), every.catalog_every,
                           f"Catalogue and prices for store {store.id}")  # fmt: skip
    await ensure_stock_sync(client, settings, store)


async def ensure_stock_sync(client: Client, settings: Settings, store: StoreSettings) -> None:
    threepl_poll = settings.inventory.threepl_poll_interval if store.stock.source == StockSource.THREEPL else None
    await client.start_workflow(
        StockSyncWorkflow.run,
        StockSyncInput(store_id=store.id, threepl_poll=threepl_poll),
        id=stock_sync_workflow_id(store.id),
        task_queue=settings.temporal.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"Stock sync for store {store.id}",
    )


async def ensure_stock_watch(client: Client, settings: Settings) -> None:
    """One ERP stock watch for every store selling the ERP's stock; a running one learns today's stores."""
    store_ids = [store.id for store in settings.stores if store.stock.source == StockSource.ERP]
    watch = await client.start_workflow(
        StockWatchWorkflow.run,
        StockWatchInput(store_ids=store_ids, poll_interval=settings.inventory.poll_interval,
                        polls_per_run=settings.inventory.cycles_per_run),
        id=STOCK_WATCH_WORKFLOW_ID,
        task_queue=settings.temporal.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary="ERP stock watch for every store",
    )  # fmt: skip
    await watch.signal(StockWatchWorkflow.serve_stores, store_ids)


async def _ensure_schedule(
    client: Client, settings: Settings, schedule_id: str, run, argument: BaseModel, every: timedelta, summary: str
) -> None:
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            run, argument, id=schedule_id, task_queue=settings.temporal.task_queue, static_summary=summary
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("%s: every %s", summary, every)
    except ScheduleAlreadyRunningError:
        pass
