"""Order to ERP: latency from a signed webhook to a confirmed Tryton sale, against the Tryton calls' own time.

Orders go one at a time, so every ERP call in an order's window belongs to that order.
The ERP adapter is wrapped to time its calls (ensure customer + create-and-confirm sale);
the rest of the end-to-end time is retail-sync and Temporal.

    .venv/bin/python -m bench.order_to_erp [--orders 30]
"""
import argparse
import asyncio
import gc
import json
import tempfile
import time
from pathlib import Path

import httpx
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.orders import OrderActivities
from activities.stores import StoreDirectory
from adapters.erp import Erp
from adapters.tryton import TrytonErp
from bench.stats import percentile, write_result
from config import Settings, StoreSettings, TemporalSettings
from embedded.asgi import serve
from embedded.processes import free_port
from embedded.temporal import TemporalDevServer
from embedded.tryton import TrytonServer
from sandbox.woocommerce.config import DEMO_KEY, SandboxConfig
from sandbox.woocommerce.server import run_woocommerce_sandbox
from sandbox.woocommerce.shopper import Shopper
from starter.signatures import woocommerce_signature
from starter.webhooks import create_app
from worker import build_worker

STORE = "bench"
SECRET = "bench-webhook-secret"


class TimedErp:
    """The real ERP adapter, with the time spent in it and the moment each sale was confirmed."""

    def __init__(self, erp: Erp) -> None:
        self._erp = erp
        self.spent_ms = 0.0
        self.confirmed: dict[str, float] = {}

    async def ensure_customer(self, *args):
        return await self._timed(self._erp.ensure_customer(*args))

    async def create_sales_order(self, key, order, customer, policy):
        sale = await self._timed(self._erp.create_sales_order(key, order, customer, policy))
        self.confirmed[key] = time.perf_counter()
        return sale

    async def cancel_sales_order(self, key):
        return await self._erp.cancel_sales_order(key)

    async def get_sales_order(self, key):
        return await self._erp.get_sales_order(key)

    async def _timed(self, call):
        started = time.perf_counter()
        try:
            return await call
        finally:
            self.spent_ms += (time.perf_counter() - started) * 1000


async def main(orders: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-o2e-") as tmp:
        server = TemporalDevServer(Path(tmp) / "temporal", port=free_port(), ui_port=free_port())
        tryton = TrytonServer(Path(tmp) / "tryton")
        server.start()
        tryton.start()
        try:
            return await _measure(server.address, tryton, orders)
        finally:
            tryton.stop()
            server.stop()


async def _measure(address: str, tryton: TrytonServer, orders: int) -> dict:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    async with run_woocommerce_sandbox(SandboxConfig()) as sandbox:
        store = StoreSettings(id=STORE, url=sandbox.url, consumer_key=SecretStr(DEMO_KEY.consumer_key),
                              consumer_secret=SecretStr(DEMO_KEY.consumer_secret), webhook_secret=SecretStr(SECRET),
                              requests_per_second=100, burst=50)  # fmt: skip
        settings = Settings(temporal=TemporalSettings(address=address), stores=[store], erp=tryton.settings)
        stores, erp = StoreDirectory(settings.stores), TrytonErp(settings.erp)
        timed = TimedErp(erp)
        shopper = Shopper(sandbox.url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
        worker = build_worker(client, settings.temporal.task_queue, OrderActivities(stores, timed))
        end_to_end, erp_time = [], []
        try:
            async with worker, serve(create_app(settings, client)) as starter_url, httpx.AsyncClient() as http:
                for n in range(orders + 3):  # the first three warm the caches and are not counted
                    placed = await shopper.place_order([("TEE-CLASSIC", 1 + n % 3), ("MUG-CERAMIC", 1)], paid=True)
                    body = json.dumps(await shopper.get_order(placed["id"])).encode()
                    key = f"{STORE}:{placed['id']}"
                    timed.spent_ms = 0.0
                    sent = time.perf_counter()
                    answer = await http.post(
                        f"{starter_url}/webhooks/woocommerce/{STORE}", content=body,
                        headers={"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
                                 "X-WC-Webhook-Signature": woocommerce_signature(body, SECRET)},
                    )  # fmt: skip
                    answer.raise_for_status()
                    while key not in timed.confirmed:
                        await asyncio.sleep(0.002)
                    if n >= 3:
                        end_to_end.append((timed.confirmed[key] - sent) * 1000)
                        erp_time.append(timed.spent_ms)
                    await asyncio.sleep(0.3)  # let the write-back to the store finish outside the window
        finally:
            await shopper.aclose()
            await erp.aclose()
            await stores.aclose()
    p50, erp_p50 = percentile(end_to_end, 50), percentile(erp_time, 50)
    ratios = [(total - spent) / spent for total, spent in zip(end_to_end, erp_time)]
    return {
        "orders": orders,
        "p50_ms": round(p50, 1),
        "p95_ms": round(percentile(end_to_end, 95), 1),
        "erp_time_p50_ms": round(erp_p50, 1),
        "overhead_ratio": round(percentile(ratios, 50), 3),
        "overhead_p50_ms": round(percentile([t - s for t, s in zip(end_to_end, erp_time)], 50), 1),
        "persistence": "sqlite file, journal_mode=wal, synchronous=normal; Tryton on SQLite",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=30)
    args = parser.parse_args()
    write_result("order_to_erp.json", asyncio.run(main(args.orders)))
    gc.collect()
