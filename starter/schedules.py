"""What runs for each configured store without being asked, created when a worker starts.

Per store: the intake backstop, the stock reconciliation and the catalogue sync as Temporal
Schedules, and the long-running stock sync run; one ERP stock watch for all of them. Existing ones
are kept as they are. A store's intake starts from the watermark it is connected with (`connect_intake`):
orders changed before it are left alone.
"""
import dataclasses
import logging
from datetime import datetime, timedelta, timezone

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
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

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


def connect_moment() -> datetime:
    """Now in whole seconds, as WooCommerce compares modification times."""
    return datetime.now(timezone.utc).replace(microsecond=0)


async def ensure_intake_schedule(client: Client, settings: Settings, store: StoreSettings) -> None:
    """A store not yet connected is connected now: its intake leaves alone what changed before."""
    await _create_intake(client, settings, IntakeInput(store_id=store.id, since=connect_moment()))


async def connected_intake(client: Client, store_id: str) -> IntakeInput | None:
    """The input of the store's intake Schedule (its `since`: the watermark it was connected with), if it has one."""
    try:
        description = await client.get_schedule_handle(intake_schedule_id(store_id)).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    (intake,) = await client.data_converter.decode(description.schedule.action.args, [IntakeInput])
    return intake


async def connect_intake(client: Client, settings: Settings, store: StoreSettings, since: datetime) -> bool:
    """Connect the store's intake from `since`, or move a connected store's watermark there (its next run starts
    from it: orders changed before are left alone). True when the store was not connected before."""
    intake = IntakeInput(store_id=store.id, since=since)
    if await _create_intake(client, settings, intake):
        return True
    action = _intake_action(settings, intake)

    def with_watermark(update: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=dataclasses.replace(update.description.schedule, action=action))

    await client.get_schedule_handle(intake_schedule_id(store.id)).update(with_watermark)
    return False


async def _create_intake(client: Client, settings: Settings, intake: IntakeInput) -> bool:
    return await _ensure_schedule(client, settings, intake_schedule_id(intake.store_id), StoreIntakeWorkflow.run,
                                  intake, settings.orders.intake_every, _intake_summary(intake))  # fmt: skip


def _intake_action(settings: Settings, intake: IntakeInput) -> ScheduleActionStartWorkflow:
    schedule_id = intake_schedule_id(intake.store_id)
    return _start_action(settings, schedule_id, StoreIntakeWorkflow.run, intake, _intake_summary(intake))


def _intake_summary(intake: IntakeInput) -> str:
    return f"Intake backstop for store {intake.store_id}"


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
) -> bool:
    """True when the Schedule was created; an existing one is kept as it is."""
    schedule = Schedule(
        action=_start_action(settings, schedule_id, run, argument, summary),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        return False
    log.info("%s: every %s", summary, every)
    return True


def _start_action(
    settings: Settings, schedule_id: str, run, argument: BaseModel, summary: str
) -> ScheduleActionStartWorkflow:
    return ScheduleActionStartWorkflow(
        run, argument, id=schedule_id, task_queue=settings.temporal.task_queue, static_summary=summary
    )
