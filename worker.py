"""The retail-sync worker: order, return, refund, intake, stock and catalogue workflows, and their activities."""
import logging

from temporalio.client import Client
from temporalio.worker import Worker

from activities.catalog import CatalogActivities
from activities.fulfilment import FulfilmentActivities
from activities.intake import IntakeActivities
from activities.orders import OrderActivities
from activities.refunds import RefundActivities
from activities.returns import ReturnActivities
from activities.stock import StockActivities
from activities.stores import StoreDirectory
from adapters.erp import Erp
from adapters.shipbob import ShipBobClient
from adapters.tryton import TrytonErp
from config import Settings
from starter.schedules import ensure_store_runs
from starter.temporal_client import connect
from workflows.catalog_sync import CatalogSyncWorkflow
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.refund import RefundWorkflow
from workflows.returns import ReturnWorkflow
from workflows.stock_reconcile import StockReconciliationWorkflow
from workflows.stock_sync import StockSyncWorkflow
from workflows.stock_watch import StockWatchWorkflow
from workflows.store_intake import StoreIntakeWorkflow

log = logging.getLogger("retail-sync.worker")

WORKFLOWS = [
    OrderToCashWorkflow,
    StoreIntakeWorkflow,
    RefundWorkflow,
    ReturnWorkflow,
    StockSyncWorkflow,
    StockWatchWorkflow,
    StockReconciliationWorkflow,
    CatalogSyncWorkflow,
]
"""Every workflow type this worker runs; the replay test checks a recorded history of each."""


def build_worker(
    client: Client, settings: Settings, stores: StoreDirectory, erp: Erp, threepl: ShipBobClient
) -> Worker:
    task_queue = settings.temporal.task_queue
    activities = (
        OrderActivities(stores, erp),
        FulfilmentActivities(threepl, stores, erp, settings.orders),
        IntakeActivities(stores, client, task_queue, settings.orders, settings.returns),
        RefundActivities(stores, erp, client),
        ReturnActivities(threepl, stores, erp),
        StockActivities(stores, erp, threepl, client),
        CatalogActivities(stores, erp, client),
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[activity for group in activities for activity in group.all()],
    )


async def run_worker(settings: Settings) -> None:
    client = await connect(settings.temporal)
    stores = StoreDirectory(settings.stores)
    erp = TrytonErp(settings.erp)
    threepl = ShipBobClient(settings.threepl)
    try:
        worker = build_worker(client, settings, stores, erp, threepl)
        await ensure_store_runs(client, settings)
        log.info("worker polling task queue %s on %s", settings.temporal.task_queue, settings.temporal.address)
        await worker.run()
    finally:
        await threepl.aclose()
        await erp.aclose()
        await stores.aclose()
