"""The whole order-to-cash stack for end-to-end tests: its own sandbox store, the starter on a real port,
a worker with the real activities, the session's dev server and Tryton."""
from dataclasses import dataclass
from datetime import timedelta

import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client

from activities.orders import OrderActivities
from activities.stores import StoreDirectory
from adapters.tryton import TrytonErp
from adapters.tryton_rpc import TrytonRpc
from adapters.woocommerce import WooCommerceClient
from config import ErpSettings, OrderPolicy, Settings, StoreSettings, TemporalSettings
from sandbox.woocommerce.config import DEMO_KEY, SandboxConfig
from sandbox.woocommerce.server import run_woocommerce_sandbox
from sandbox.woocommerce.shopper import Shopper
from starter.webhooks import create_app
from embedded.asgi import serve
from worker import build_worker

STORE_ID = "e2e"
WEBHOOK_SECRET = "e2e-webhook-secret"


@dataclass
class OrderStack:
    settings: Settings
    client: Client
    starter_url: str
    store: WooCommerceClient
    shopper: Shopper
    erp: TrytonRpc  # to read what really happened in Tryton
    erp_catalogue: TrytonRpc  # the merchant's catalogue manager, who adds products


@pytest_asyncio.fixture(scope="session")
async def order_stack(dev_server, tryton_server):
    async with run_woocommerce_sandbox(SandboxConfig(webhook_delay_s=0.05)) as sandbox:
        store = StoreSettings(id=STORE_ID, url=sandbox.url, consumer_key=SecretStr(DEMO_KEY.consumer_key),
                              consumer_secret=SecretStr(DEMO_KEY.consumer_secret),
                              webhook_secret=SecretStr(WEBHOOK_SECRET), requests_per_second=50, burst=20)  # fmt: skip
        settings = Settings(
            temporal=TemporalSettings(task_queue="e2e-orders"),
            stores=[store],
            erp=tryton_server.settings,
            orders=OrderPolicy(payment_window=timedelta(hours=1)),
        )
        stores = StoreDirectory(settings.stores)
        erp = TrytonErp(settings.erp)
        reader = _rpc(settings.erp)
        catalogue = _rpc(tryton_server.catalogue_manager)
        shopper = Shopper(sandbox.url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
        worker = build_worker(dev_server.client, settings.temporal.task_queue, OrderActivities(stores, erp))
        try:
            async with worker, serve(create_app(settings, dev_server.client)) as starter_url:
                woo = stores.client(STORE_ID)
                for topic in ("order.created", "order.updated"):
                    await woo.create_webhook(f"retail-sync {topic}", topic,
                                             f"{starter_url}/webhooks/woocommerce/{STORE_ID}", WEBHOOK_SECRET)  # fmt: skip
                yield OrderStack(settings, dev_server.client, starter_url, woo, shopper, reader, catalogue)
        finally:
            await shopper.aclose()
            await reader.aclose()
            await catalogue.aclose()
            await erp.aclose()
            await stores.aclose()


def _rpc(erp: ErpSettings) -> TrytonRpc:
    return TrytonRpc(erp.url, erp.database, erp.user, erp.password)
