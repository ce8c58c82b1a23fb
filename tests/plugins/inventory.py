"""Two stores selling one ERP's stock: their own sandboxes, a worker with the real activities, the
session's dev server and Tryton, and a stock sync run per store starting from the ERP's present."""
from dataclasses import dataclass
from datetime import timedelta

import pytest
from pydantic import SecretStr

from activities.stores import StoreDirectory
from adapters.shipbob import ShipBobClient
from adapters.tryton import TrytonErp
from canonical.keys import stock_sync_workflow_id
from config import InventoryPolicy, OrderPolicy, Settings, StoreSettings, TemporalSettings, ThreePLSettings
from embedded.erp_catalogue import ErpCatalogue
from embedded.tryton_bootstrap import WEB_PRICE_LIST
from sandbox.woocommerce import DEMO_KEY, SandboxConfig, run_woocommerce_sandbox
from sandbox.woocommerce.shopper import Shopper
from worker import build_worker
from workflows.stock_sync import StockSyncInput, StockSyncWorkflow

STORES = ("north", "south")
POLL = timedelta(milliseconds=500)


@dataclass
class InventoryStack:
    settings: Settings
    client: object
    erp: TrytonErp
    catalogue: ErpCatalogue
    stores: StoreDirectory
    shoppers: dict[str, Shopper]
    urls: dict[str, str]

    def store(self, store_id: str) -> StoreSettings:
        return self.stores.settings(store_id)


@pytest.fixture(scope="module")
async def inventory_stack(dev_server, tryton_server):
    async with (
        run_woocommerce_sandbox(SandboxConfig()) as north,
        run_woocommerce_sandbox(SandboxConfig()) as south,
    ):
        sandboxes = {"north": north, "south": south}
        settings = Settings(
            temporal=TemporalSettings(task_queue="e2e-inventory"),
            stores=[StoreSettings(id=store_id, url=sandbox.url, consumer_key=SecretStr(DEMO_KEY.consumer_key),
                                  consumer_secret=SecretStr(DEMO_KEY.consumer_secret),
                                  webhook_secret=SecretStr(f"{store_id}-secret"), requests_per_second=50, burst=20,
                                  price_list=WEB_PRICE_LIST)
                    for store_id, sandbox in sandboxes.items()],
            erp=tryton_server.settings,
            threepl=ThreePLSettings(url="http://127.0.0.1:9", token=SecretStr("unused")),
            orders=OrderPolicy(payment_window=timedelta(hours=1)),
            inventory=InventoryPolicy(poll_interval=POLL),
        )  # fmt: skip
        stores = StoreDirectory(settings.stores)
        erp = TrytonErp(settings.erp)
        threepl = ShipBobClient(settings.threepl)
        catalogue = ErpCatalogue.connect(tryton_server.catalogue_manager)
        shoppers = {store_id: Shopper(sandbox.url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
                    for store_id, sandbox in sandboxes.items()}  # fmt: skip
        client = dev_server.client
        try:
            async with build_worker(client, settings, stores, erp, threepl):
                present = (await erp.stock_changes(None)).cursor
                for store_id in STORES:
                    handle = client.get_workflow_handle(stock_sync_workflow_id(store_id))
                    await client.start_workflow(
                        StockSyncWorkflow.run, StockSyncInput(store_id=store_id, poll_interval=POLL, cursor=present),
                        id=handle.id, task_queue=settings.temporal.task_queue,
                    )  # fmt: skip
                urls = {store_id: sandbox.url for store_id, sandbox in sandboxes.items()}
                yield InventoryStack(settings, client, erp, catalogue, stores, shoppers, urls)
                for store_id in STORES:
                    await client.get_workflow_handle(stock_sync_workflow_id(store_id)).terminate("tests done")
        finally:
            for resource in (*shoppers.values(), catalogue, erp, threepl, stores):
                await resource.aclose()
