"""Stores selling shared stock: north and south sell the ERP's, east the 3PL's at one centre. Each has its
own sandbox; a worker with the real activities, the session's dev server and Tryton, a ShipBob sandbox,
a stock sync run per store, and the ERP stock watch starting from the present."""
from dataclasses import dataclass
from datetime import timedelta

import pytest
from pydantic import SecretStr

from activities.stores import StoreDirectory
from adapters.shipbob import ShipBobClient
from adapters.tryton import TrytonErp
from canonical.keys import STOCK_WATCH_WORKFLOW_ID, stock_sync_workflow_id
from config import (
    InventoryPolicy,
    OrderPolicy,
    Settings,
    StockSource,
    StoreSettings,
    StoreStockPolicy,
    TemporalSettings,
    ThreePLSettings,
)
from embedded.erp_catalogue import ErpCatalogue
from embedded.tryton_bootstrap import WEB_PRICE_LIST
from sandbox.shipbob.config import DEMO_CHANNEL_ID, DEMO_TOKEN, ShipBobConfig
from sandbox.shipbob.server import run_shipbob_sandbox
from sandbox.shipbob.warehouse import Warehouse
from sandbox.woocommerce import DEMO_KEY, SandboxConfig, run_woocommerce_sandbox
from sandbox.woocommerce.shopper import Shopper
from worker import build_worker
from workflows.stock_sync import StockSyncInput, StockSyncWorkflow
from workflows.stock_watch import StockWatchInput, StockWatchWorkflow

STORES = ("north", "south")
THREEPL_STORE = "east"
EAST_CENTRE = 2
POLL = timedelta(milliseconds=500)


@dataclass
class InventoryStack:
    settings: Settings
    client: object
    catalogue: ErpCatalogue
    stores: StoreDirectory
    shoppers: dict[str, Shopper]
    urls: dict[str, str]
    warehouse: Warehouse


@pytest.fixture(scope="module")
async def inventory_stack(dev_server, tryton_server):
    async with (
        run_woocommerce_sandbox(SandboxConfig()) as north,
        run_woocommerce_sandbox(SandboxConfig()) as south,
        run_woocommerce_sandbox(SandboxConfig()) as east,
        run_shipbob_sandbox(ShipBobConfig(rate_limit=100_000)) as shipbob,
    ):
        sandboxes = {"north": north, "south": south, THREEPL_STORE: east}
        from_the_3pl = StoreStockPolicy(source=StockSource.THREEPL, fulfilment_centers=[str(EAST_CENTRE)])
        settings = Settings(
            temporal=TemporalSettings(task_queue="e2e-inventory"),
            stores=[StoreSettings(id=store_id, url=sandbox.url, consumer_key=SecretStr(DEMO_KEY.consumer_key),
                                  consumer_secret=SecretStr(DEMO_KEY.consumer_secret),
                                  webhook_secret=SecretStr(f"{store_id}-secret"), requests_per_second=50, burst=20,
                                  price_list=WEB_PRICE_LIST,
                                  stock=from_the_3pl if store_id == THREEPL_STORE else StoreStockPolicy())
                    for store_id, sandbox in sandboxes.items()],
            erp=tryton_server.settings,
            threepl=ThreePLSettings(url=shipbob.url, token=SecretStr(DEMO_TOKEN.token), channel_id=str(DEMO_CHANNEL_ID),
                                    requests_per_minute=100_000),
            orders=OrderPolicy(payment_window=timedelta(hours=1)),
            inventory=InventoryPolicy(poll_interval=POLL),
        )  # fmt: skip
        stores = StoreDirectory(settings.stores)
        erp = TrytonErp(settings.erp)
        threepl = ShipBobClient(settings.threepl)
        catalogue = ErpCatalogue.connect(tryton_server.catalogue_manager)
        shoppers = {store_id: Shopper(sandbox.url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
                    for store_id, sandbox in sandboxes.items()}  # fmt: skip
        warehouse = Warehouse(shipbob.url, DEMO_TOKEN.token, DEMO_CHANNEL_ID)
        client = dev_server.client
        try:
            async with build_worker(client, settings, stores, erp, threepl):
                for store_id in sandboxes:
                    await client.start_workflow(
                        StockSyncWorkflow.run,
                        StockSyncInput(store_id=store_id, threepl_poll=POLL if store_id == THREEPL_STORE else None),
                        id=stock_sync_workflow_id(store_id), task_queue=settings.temporal.task_queue,
                    )  # fmt: skip
                await client.start_workflow(
                    StockWatchWorkflow.run,
                    StockWatchInput(store_ids=list(STORES), poll_interval=POLL,
                                    cursor=(await erp.stock_changes(None)).cursor),
                    id=STOCK_WATCH_WORKFLOW_ID, task_queue=settings.temporal.task_queue,
                )  # fmt: skip
                urls = {store_id: sandbox.url for store_id, sandbox in sandboxes.items()}
                yield InventoryStack(settings, client, catalogue, stores, shoppers, urls, warehouse)
                for workflow_id in (STOCK_WATCH_WORKFLOW_ID, *map(stock_sync_workflow_id, sandboxes)):
                    await client.get_workflow_handle(workflow_id).terminate("tests done")
        finally:
            for resource in (*shoppers.values(), warehouse, catalogue, erp, threepl, stores):
                await resource.aclose()
