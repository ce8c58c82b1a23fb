"""Fulfilment: N orders through the whole cycle, checkout to paid invoice, with real Tryton and both sandboxes.

Half the orders split across two fulfilment centres. A warehouse loop ships every shipment
that appears at the 3PL (with its own token, so the 3PL's count of our requests is ours
alone). Our 3PL client's requests are timed to find the busiest 60-second window, which
must stay within the configured budget.

    .venv/bin/python -m bench.fulfilment [--orders 20] [--budget 60]
"""
import argparse
import asyncio
import base64
import gc
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.stores import StoreDirectory
from adapters.shipbob import ShipBobClient
from adapters.tryton import TrytonErp
from bench.stats import write_result
from canonical.keys import order_workflow_id
from config import OrderPolicy, Settings, StoreSettings, TemporalSettings, ThreePLSettings
from embedded.asgi import serve
from embedded.processes import free_port
from embedded.temporal import TemporalDevServer
from embedded.tryton import TrytonServer
from sandbox.shipbob.config import DEMO_CHANNEL_ID, DEMO_TOKEN, ApiToken, ShipBobConfig
from sandbox.shipbob.server import run_shipbob_sandbox
from sandbox.shipbob.warehouse import Warehouse
from sandbox.woocommerce.config import DEMO_KEY, SandboxConfig
from sandbox.woocommerce.server import run_woocommerce_sandbox
from sandbox.woocommerce.shopper import Shopper
from starter.webhooks import create_app
from worker import build_worker
from workflows.order_messages import OrderStage
from workflows.order_to_cash import OrderToCashWorkflow

STORE = "bench"
STORE_SECRET = "bench-webhook-secret"
THREEPL_SECRET = "whsec_" + base64.b64encode(b"bench 3PL webhook secret 000000").decode()
WAREHOUSE_TOKEN = ApiToken(token="pat_sandbox_bench_warehouse_floor_0001")
TIMEOUT_S = 900


class CountingTransport(httpx.AsyncHTTPTransport):
    """Notes when each of our 3PL requests is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(time.monotonic())
        return await super().handle_async_request(request)

    def busiest_minute(self) -> int:
        times, busiest, start = sorted(self.sent), 0, 0
        for end, sent_at in enumerate(times):
            while sent_at - times[start] >= 60:
                start += 1
            busiest = max(busiest, end - start + 1)
        return busiest


async def main(orders: int, budget: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-fulfilment-") as tmp:
        server = TemporalDevServer(Path(tmp) / "temporal", port=free_port(), ui_port=free_port())
        tryton = TrytonServer(Path(tmp) / "tryton")
        server.start()
        tryton.start()
        try:
            return await _measure(server.address, tryton, orders, budget)
        finally:
            tryton.stop()
            server.stop()


async def _measure(address: str, tryton: TrytonServer, orders: int, budget: int) -> dict:
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
                                    requests_per_minute=budget),
            orders=OrderPolicy(route_by_stock=True, shipment_poll_interval=timedelta(seconds=30)),
        )  # fmt: skip
        counting = CountingTransport()
        stores, erp = StoreDirectory(settings.stores), TrytonErp(settings.erp)
        threepl = ShipBobClient(settings.threepl, transport=counting)
        shopper = Shopper(store_sandbox.url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
        warehouse = Warehouse(threepl_sandbox.url, WAREHOUSE_TOKEN.token, DEMO_CHANNEL_ID)
        try:
            async with build_worker(client, settings, stores, erp, threepl), serve(create_app(settings, client)) as url:
                for topic in ("order.created", "order.updated"):
                    await stores.client(STORE).create_webhook(topic, topic, f"{url}/webhooks/woocommerce/{STORE}",
                                                              STORE_SECRET)  # fmt: skip
                await warehouse.subscribe(f"{url}/webhooks/shipbob", THREEPL_SECRET)
                started = time.monotonic()
                placed = [await _place(shopper, n) for n in range(orders)]
                floor = asyncio.create_task(_ship_everything(warehouse))
                completed = await _wait_until_completed(client, placed, floor)
                elapsed = time.monotonic() - started
                floor.cancel()
                references = Counter(o["reference_id"] for o in await warehouse.orders(f"{STORE}:"))
        finally:
            for resource in (shopper, warehouse, erp, threepl, stores):
                await resource.aclose()
    return {
        "orders": orders,
        "completed": completed,
        "lost": orders - completed,
        "duplicate_3pl_orders": sum(count - 1 for count in references.values()),
        "threepl_orders": sum(references.values()),
        "orders_per_min": round(completed / (elapsed / 60), 2),
        "elapsed_s": round(elapsed, 1),
        "max_3pl_requests_per_min": counting.busiest_minute(),
        "threepl_budget_per_min": budget,
        "persistence": "dev server sqlite file with WAL; Tryton on SQLite; sandboxes in memory",
    }


async def _place(shopper: Shopper, n: int) -> str:
    lines = [("MUG-CERAMIC", 1), ("BOOK-COFFEE", 1)] if n % 2 == 0 else [("TEE-CLASSIC", 1 + n % 3)]
    return str((await shopper.place_order(lines, paid=True, customer="zoe" if n % 3 else "lukasz"))["id"])


async def _ship_everything(warehouse: Warehouse) -> None:
    """The warehouse floor: every shipment waiting at the 3PL is shipped a moment later.

    It shares the 3PL's 150/min limit with nobody (own token), but must respect it too.
    """
    shipped: set[int] = set()
    while True:
        try:
            for shipment in await warehouse.shipments(f"{STORE}:"):
                if shipment["id"] not in shipped and shipment["status"] == "Processing":
                    await warehouse.ship(shipment["id"])
                    shipped.add(shipment["id"])
        except httpx.HTTPStatusError as refused:
            if refused.response.status_code != 429:
                raise
            await asyncio.sleep(float(refused.response.headers.get("x-retry-after", "5")))
        await asyncio.sleep(2)


async def _wait_until_completed(client: Client, placed: list[str], floor: asyncio.Task) -> int:
    deadline = time.monotonic() + TIMEOUT_S
    done: set[str] = set()
    while time.monotonic() < deadline and len(done) < len(placed):
        if floor.done():
            floor.result()  # the warehouse loop died: say why instead of waiting for nothing
        for order_id in set(placed) - done:
            handle = client.get_workflow_handle_for(OrderToCashWorkflow.run, order_workflow_id(STORE, order_id))
            try:
                description = await handle.describe()
            except Exception:  # not started yet: its webhook is still on its way
                continue
            if description.status == WorkflowExecutionStatus.COMPLETED:
                if (await handle.result()).stage == OrderStage.COMPLETED:
                    done.add(order_id)
        await asyncio.sleep(1)
    return len(done)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--budget", type=int, default=60, help="3PL requests per minute the client may make")
    args = parser.parse_args()
    write_result("fulfilment.json", asyncio.run(main(args.orders, args.budget)))
    gc.collect()
