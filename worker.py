"""The retail-sync worker: order-to-cash and store intake workflows, and the activities that reach the systems."""
import logging

from temporalio.client import Client
from temporalio.worker import Worker

from activities.fulfilment import FulfilmentActivities
from activities.intake import IntakeActivities
from activities.orders import OrderActivities
from activities.refunds import RefundActivities
from activities.returns import ReturnActivities
from activities.stores import StoreDirectory
from adapters.erp import Erp
from adapters.shipbob import ShipBobClient
from adapters.tryton import TrytonErp
from config import Settings
from starter.schedules import ensure_intake_schedules
from starter.temporal_client import connect
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.refund import RefundWorkflow
from workflows.returns import ReturnWorkflow
from workflows.store_intake import StoreIntakeWorkflow

log = logging.getLogger("retail-sync.worker")


def build_worker(
    client: Client, settings: Settings, stores: StoreDirectory, erp: Erp, threepl: ShipBobClient
) -> Worker:
    task_queue = settings.temporal.task_queue
    activities = (
        OrderActivities(stores, erp),
        FulfilmentActivities(threepl, stores, erp, settings.orders),
        IntakeActivities(stores, client, task_queue, settings.orders),
        RefundActivities(stores, erp),
        ReturnActivities(threepl, stores, erp),
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[OrderToCashWorkflow, StoreIntakeWorkflow, RefundWorkflow, ReturnWorkflow],
        activities=[activity for group in activities for activity in group.all()],
    )


async def run_worker(settings: Settings) -> None:
    client = await connect(settings.temporal)
    stores = StoreDirectory(settings.stores)
    erp = TrytonErp(settings.erp)
    threepl = ShipBobClient(settings.threepl)
    try:
        worker = build_worker(client, settings, stores, erp, threepl)
        await ensure_intake_schedules(client, settings)
        log.info("worker polling task queue %s on %s", settings.temporal.task_queue, settings.temporal.address)
        await worker.run()
    finally:
        await threepl.aclose()
        await erp.aclose()
        await stores.aclose()
