"""The retail-sync worker: order-to-cash workflows and the activities that reach the store and the ERP."""
import logging

from temporalio.client import Client
from temporalio.worker import Worker

from activities.orders import OrderActivities
from activities.stores import StoreDirectory
from adapters.tryton import TrytonErp
from config import Settings
from starter.temporal_client import connect
from workflows.order_to_cash import OrderToCashWorkflow

log = logging.getLogger("retail-sync.worker")


def build_worker(client: Client, task_queue: str, activities: OrderActivities) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[OrderToCashWorkflow],
        activities=[
            activities.ensure_customer,
            activities.create_sales_order,
            activities.cancel_sales_order,
            activities.record_sale_on_store_order,
            activities.record_cancellation_on_store_order,
        ],
    )


async def run_worker(settings: Settings) -> None:
    client = await connect(settings.temporal)
    stores = StoreDirectory(settings.stores)
    erp = TrytonErp(settings.erp)
    try:
        worker = build_worker(client, settings.temporal.task_queue, OrderActivities(stores, erp))
        log.info("worker polling task queue %s on %s", settings.temporal.task_queue, settings.temporal.address)
        await worker.run()
    finally:
        await erp.aclose()
        await stores.aclose()
