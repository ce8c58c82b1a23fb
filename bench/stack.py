"""The whole embedded stack inside one benchmark process: dev server (WAL), Tryton, both sandboxes, starter, worker."""
import base64
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.stores import StoreDirectory
from adapters.shipbob import ShipBobClient
from adapters.tryton import TrytonErp
from adapters.tryton_rpc import TrytonRpc
from adapters.woocommerce import WooCommerceClient
from config import (
    OrderPolicy,
    ReturnPolicy,
    Settings,
    StarterSettings,
    StoreSettings,
    TemporalSettings,
    ThreePLSettings,
)
from embedded.asgi import serve
from embedded.processes import free_port
from embedded.temporal import TemporalDevServer
from embedded.tryton import TrytonServer
from sandbox.shipbob.config import DEMO_CHANNEL_ID, DEMO_TOKEN, ApiToken, ShipBobConfig
from sandbox.shipbob.server import run_shipbob_sandbox
from sandbox.shipbob.warehouse import ORDER_TOPICS, RETURN_TOPICS, Warehouse
from sandbox.woocommerce.config import DEMO_KEY, SandboxConfig
from sandbox.woocommerce.server import run_woocommerce_sandbox
from sandbox.woocommerce.shopper import Shopper
from starter.webhooks import create_app
from worker import build_worker

STORE = "bench"
STORE_SECRET = "bench-webhook-secret"
THREEPL_SECRET = "whsec_" + base64.b64encode(b"bench 3PL webhook secret 000000").decode()
WAREHOUSE_TOKEN = ApiToken(token="pat_sandbox_bench_warehouse_floor_0001")
RETURNS_TOKEN = "bench-returns-portal-token"
POLL_INTERVAL = timedelta(seconds=30)


class CountingTransport(httpx.AsyncHTTPTransport):
    """Notes when each of our requests (to the 3PL, or to a store) is sent."""

    def __init__(self, **transport_options) -> None:
        super().__init__(**transport_options)
        self.sent: list[float] = []
        self.requests: list[tuple[float, str, str, float]] = []
        """(monotonic send time, method, URL path, seconds until the response headers) of each answered request."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent_at = time.monotonic()
        self.sent.append(sent_at)
        response = await super().handle_async_request(request)
        self.requests.append((sent_at, request.method, request.url.path, time.monotonic() - sent_at))
        return response

    def busiest_minute(self) -> int:
        times, busiest, start = sorted(self.sent), 0, 0
        for end, sent_at in enumerate(times):
            while sent_at - times[start] >= 60:
                start += 1
            busiest = max(busiest, end - start + 1)
        return busiest

    def busiest_window(self, seconds: float, since: float = 0.0, until: float = float("inf")) -> int:
        """Most requests sent within any half-open window of `seconds`, counting those sent in [since, until)."""
        times, busiest, start = sorted(t for t in self.sent if since <= t < until), 0, 0
        for end, sent_at in enumerate(times):
            while sent_at - times[start] >= seconds:
                start += 1
            busiest = max(busiest, end - start + 1)
        return busiest


class CountingStoreDirectory(StoreDirectory):
    """The worker's store clients, each sending through its own CountingTransport.

    StoreDirectory builds its clients without a transport, so they are rebuilt here with one (the
    unused originals never opened a connection). A client given a transport loses its own pool
    limits, so the transport gets WooCommerceClient's (3 connections).
    """

    def __init__(self, stores: list[StoreSettings]) -> None:
        super().__init__(stores)
        self.transports = {store.id: CountingTransport(limits=httpx.Limits(max_connections=3)) for store in stores}
        self._clients = {store.id: WooCommerceClient(store, transport=self.transports[store.id]) for store in stores}


@asynccontextmanager
async def embedded_servers(directory: Path) -> AsyncIterator[tuple[TemporalDevServer, TrytonServer]]:
    """A dev server (SQLite with WAL) and a Tryton from the cached template, both under `directory`."""
    server = TemporalDevServer(directory / "temporal", port=free_port(), ui_port=free_port())
    tryton = TrytonServer(directory / "tryton")
    server.start()
    try:
        tryton.start()
        try:
            yield server, tryton
        finally:
            tryton.stop()
    finally:
        server.stop()


@dataclass
class BenchStack:
    client: Client
    settings: Settings
    shopper: Shopper
    warehouse: Warehouse  # with its own token: the 3PL counts our requests alone
    store: WooCommerceClient  # our WooCommerce client for the bench store
    threepl_requests: CountingTransport
    starter_url: str
    store_control: httpx.AsyncClient  # the sandbox store's /__sandbox/ controls (faults, gateways)
    tryton: TrytonServer  # to stop and start the ERP on its own data
    erp: TrytonRpc  # a raw session, to read what really happened in Tryton


@asynccontextmanager
async def bench_stack(
    threepl_budget: int = 150, *, credit_note_retry_every: timedelta = ReturnPolicy().credit_note_retry_every
) -> AsyncIterator[BenchStack]:
    """`credit_note_retry_every`: how often a refund made before the sale's invoice is posted asks the ERP again."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        async with embedded_servers(Path(tmp)) as (server, tryton):
            policies = (OrderPolicy(route_by_stock=True, shipment_poll_interval=POLL_INTERVAL),
                        ReturnPolicy(poll_interval=POLL_INTERVAL, credit_note_retry_every=credit_note_retry_every))
            async with _services(server.address, tryton, threepl_budget, *policies) as stack:
                yield stack


@asynccontextmanager
async def _services(address: str, tryton: TrytonServer, threepl_budget: int, orders: OrderPolicy,
                    returns: ReturnPolicy) -> AsyncIterator[BenchStack]:  # fmt: skip
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    threepl_config = ShipBobConfig(tokens=[DEMO_TOKEN, WAREHOUSE_TOKEN], simulation_minute_s=0.01)
    async with (
        run_woocommerce_sandbox(SandboxConfig(webhook_delay_s=0.05)) as store_sandbox,
        run_shipbob_sandbox(threepl_config) as threepl_sandbox,
    ):
        settings = Settings(
            temporal=TemporalSettings(address=address),
            stores=[StoreSettings(id=STORE, url=store_sandbox.url, consumer_key=SecretStr(DEMO_KEY.consumer_key),
                                  consumer_secret=SecretStr(DEMO_KEY.consumer_secret),
                                  webhook_secret=SecretStr(STORE_SECRET), requests_per_second=20, burst=20)],
            erp=tryton.settings,
            threepl=ThreePLSettings(url=threepl_sandbox.url, token=SecretStr(DEMO_TOKEN.token),
                                    channel_id=str(DEMO_CHANNEL_ID), webhook_secret=SecretStr(THREEPL_SECRET),
                                    requests_per_minute=threepl_budget),
            orders=orders,
            returns=returns,
            starter=StarterSettings(returns_api_token=SecretStr(RETURNS_TOKEN)),
        )  # fmt: skip
        counting = CountingTransport()
        stores, erp = StoreDirectory(settings.stores), TrytonErp(settings.erp)
        threepl = ShipBobClient(settings.threepl, transport=counting)
        shopper = Shopper(store_sandbox.url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
        warehouse = Warehouse(threepl_sandbox.url, WAREHOUSE_TOKEN.token, DEMO_CHANNEL_ID)
        store_control = httpx.AsyncClient(base_url=f"{store_sandbox.url}/__sandbox/", timeout=30)
        reader = TrytonRpc(settings.erp.url, settings.erp.database, settings.erp.user, settings.erp.password)
        try:
            async with build_worker(client, settings, stores, erp, threepl), serve(create_app(settings, client)) as url:
                for topic in ("order.created", "order.updated"):
                    await stores.client(STORE).create_webhook(topic, topic, f"{url}/webhooks/woocommerce/{STORE}",
                                                              STORE_SECRET)  # fmt: skip
                await warehouse.subscribe(f"{url}/webhooks/shipbob", THREEPL_SECRET, ORDER_TOPICS + RETURN_TOPICS)
                yield BenchStack(client, settings, shopper, warehouse, stores.client(STORE), counting, url,
                                 store_control, tryton, reader)  # fmt: skip
        finally:
            for resource in (shopper, warehouse, erp, threepl, stores, store_control, reader):
                await resource.aclose()
