"""The real WooCommerce stores of the session: 10.0.2 with HPOS and 7.9.0 on posts storage, on loopback.

Built once into the user's cache (about 10 s each, after Debian's packages: about 40 s once), started in
about 2 s after that. Stores this session started are stopped at its end; a store a person left running
(`retail-sync sandbox real-woocommerce`) stays running. The webhooks earlier sessions left behind point at
starters long gone, so they are deleted first. `real_stock_stack` runs the stock flow for the order stack's store.
"""
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from adapters.oauth1 import OAuth1QueryAuth
from canonical.keys import STOCK_WATCH_WORKFLOW_ID, stock_sync_workflow_id
from config import StoreSettings
from embedded.erp_catalogue import ErpCatalogue
from sandbox.real_woocommerce import RELEASES, RealStore, archives_available, running, start, stop
from sandbox.real_woocommerce.catalogue import SIZE, seed_demo_catalogue
from tests.plugins.stack import OrderStack, order_stack_for
from workflows.stock_sync import StockSyncInput, StockSyncWorkflow
from workflows.stock_watch import StockWatchInput, StockWatchWorkflow

STOCK_POLL = timedelta(milliseconds=500)


@pytest.fixture(scope="session")
async def real_stores() -> dict[str, RealStore]:
    if not archives_available():
        pytest.skip("no WordPress/WooCommerce release archives: set RETAIL_SYNC_VENDOR (see sandbox/real_woocommerce)")
    started = [release for release in RELEASES.values() if not running(release)]
    stores = {name: start(release) for name, release in RELEASES.items()}
    for store in stores.values():
        await seed_demo_catalogue(store)
        await _delete_webhooks(store)
    yield stores
    for release in started:
        stop(release)


@pytest.fixture(scope="session", params=list(RELEASES))
def real_store(request, real_stores) -> RealStore:
    return real_stores[request.param]


@pytest.fixture(scope="session")
async def real_order_stack(real_store: RealStore, dev_server, tryton_server):
    """The order-to-cash stack of the sandbox's end-to-end tests with the real store in the sandbox's place.
    No intake Schedule: the store keeps orders of earlier sessions that no run should pick up."""
    store = StoreSettings(id=f"real-{real_store.name.removeprefix('woocommerce_')}", url=real_store.url,
                          consumer_key=SecretStr(real_store.consumer_key),
                          consumer_secret=SecretStr(real_store.consumer_secret),
                          webhook_secret=SecretStr(f"{real_store.name}-webhook-secret"), timeout_s=60)  # fmt: skip
    async with order_stack_for(dev_server, tryton_server, store, f"{store.id}-orders") as stack:
        yield stack


@dataclass
class RealStockStack:
    """The real order stack with the stock flow of the sandbox's inventory tests running for its store."""

    orders: OrderStack
    catalogue: ErpCatalogue  # the merchant's ERP back office: products and goods received
    rest: httpx.AsyncClient  # the merchant's own REST access to the store, to read back what it shows
    listed: list[int] = field(default_factory=list)  # the store's products the test made, deleted after it

    @property
    def store_id(self) -> str:
        return self.orders.settings.stores[0].id

    async def list_product(self, sku: str, stock: int = 0) -> None:
        """The merchant lists a simple product, its stock managed, `stock` units typed in."""
        self.listed.append((await self.orders.shopper.add_product(sku, f"Product {sku}", Decimal("10.00"),
                                                                  stock=stock))["id"])  # fmt: skip

    async def list_option(self, parent_sku: str, size: str) -> str:
        """The merchant lists a variable product with one option (a size), its stock managed, none yet."""
        parent = await self._send("POST", "products", {
            "name": f"Product {parent_sku}", "sku": parent_sku, "type": "variable",
            "attributes": [{"name": SIZE, "options": [size], "variation": True, "visible": True}]})  # fmt: skip
        self.listed.append(parent["id"])
        sku = f"{parent_sku}-{size}"
        await self._send("POST", f"products/{parent['id']}/variations", {
            "sku": sku, "regular_price": "10.00", "manage_stock": True, "stock_quantity": 0,
            "attributes": [{"name": SIZE, "option": size}]})  # fmt: skip
        return sku

    async def shown(self, sku: str) -> int | None:
        """The stock the store shows for the product or option with exactly this SKU; None if it has none."""
        found = await self._send("GET", "products", params={"sku": sku, "status": "any"})
        return next((product["stock_quantity"] for product in found if product["sku"] == sku), None)

    async def _send(self, method: str, path: str, body: dict | None = None, params: dict | None = None):
        return (await self.rest.request(method, path, json=body, params=params)).raise_for_status().json()


@pytest.fixture
async def real_stock_stack(real_order_stack: OrderStack, real_store: RealStore, tryton_server, tryton_erp):
    """As `inventory_stack` runs it for the sandboxes: the store's stock sync run and the ERP stock watch from
    the present, on the order stack's worker. Per test, so the order tests see the store's stock left alone
    (demo SKUs the ERP sells too); the watch has an id of its own, as the sandboxes' watch has the usual one."""
    stack, store_id = real_order_stack, real_order_stack.settings.stores[0].id
    task_queue = stack.settings.temporal.task_queue
    async with AsyncExitStack() as cleanup:
        sync = await stack.client.start_workflow(StockSyncWorkflow.run, StockSyncInput(store_id=store_id),
                                                 id=stock_sync_workflow_id(store_id), task_queue=task_queue)  # fmt: skip
        cleanup.push_async_callback(sync.terminate, "test over")
        watch = await stack.client.start_workflow(
            StockWatchWorkflow.run,
            StockWatchInput(store_ids=[store_id], poll_interval=STOCK_POLL,
                            cursor=(await tryton_erp.stock_changes(None)).cursor),
            id=f"{STOCK_WATCH_WORKFLOW_ID}-{store_id}", task_queue=task_queue,
        )  # fmt: skip
        cleanup.push_async_callback(watch.terminate, "test over")
        catalogue = ErpCatalogue.connect(tryton_server.catalogue_manager)
        cleanup.push_async_callback(catalogue.aclose)
        http = await cleanup.enter_async_context(rest(real_store))
        stock = RealStockStack(stack, catalogue, http)
        try:
            yield stock
        finally:
            for product_id in stock.listed:
                (await http.delete(f"products/{product_id}", params={"force": "true"})).raise_for_status()


def rest(store: RealStore) -> httpx.AsyncClient:
    """The merchant's own REST access to the store, signed as WooCommerce wants it over http."""
    auth = OAuth1QueryAuth(store.url, store.consumer_key, store.consumer_secret)
    return httpx.AsyncClient(base_url=f"{store.url}/wp-json/wc/v3/", auth=auth, timeout=60)


async def _delete_webhooks(store: RealStore) -> None:
    async with rest(store) as http:
        for hook in (await http.get("webhooks", params={"per_page": 100})).raise_for_status().json():
            (await http.delete(f"webhooks/{hook['id']}", params={"force": "true"})).raise_for_status()
