"""Ingestion: N signed order webhooks fired concurrently at the starter, against the dev server with WAL.

The starter runs as its own process, as in production. In the same run the benchmark
measures the bare `start_workflow` RPC with the same payload and concurrency, so the
starter's cost over Temporal itself is read from one machine state.

    .venv/bin/python -m bench.ingest [--webhooks 400] [--concurrency 16]
"""
import argparse
import asyncio
import gc
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from adapters.woocommerce_orders import order_from_woocommerce
from bench.stats import percentile, write_result
from canonical.keys import order_workflow_id
from embedded.processes import ChildProcess, free_port, venv_binary
from embedded.temporal import TemporalDevServer
from starter.signatures import woocommerce_signature
from workflows.order_messages import OrderRunInput
from workflows.order_to_cash import OrderToCashWorkflow

SAMPLE = Path(__file__).parents[1] / "tests" / "data" / "woocommerce" / "order_variation_coupon.json"
STORE = "bench"
SECRET = "bench-webhook-secret"


def order_body(order_id: int) -> bytes:
    payload = json.loads(SAMPLE.read_text())
    payload["id"], payload["number"] = order_id, str(order_id)
    return json.dumps(payload).encode()


async def fire_webhooks(url: str, ids: list[int], concurrency: int) -> tuple[list[float], int]:
    gate = asyncio.Semaphore(concurrency)
    samples: list[float] = []
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:

        async def one(order_id: int) -> bool:
            body = order_body(order_id)
            headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
                       "X-WC-Webhook-Signature": woocommerce_signature(body, SECRET)}  # fmt: skip
            async with gate:
                started = time.perf_counter()
                answer = await http.post(f"{url}/webhooks/woocommerce/{STORE}", content=body, headers=headers)
                samples.append((time.perf_counter() - started) * 1000)
            return answer.status_code == 202

        accepted = sum(await asyncio.gather(*(one(i) for i in ids)))
    return samples, accepted


async def start_directly(client: Client, task_queue: str, ids: list[int], concurrency: int) -> list[float]:
    gate = asyncio.Semaphore(concurrency)
    samples: list[float] = []

    async def one(order_id: int) -> bool:
        order = order_from_woocommerce("rpc", json.loads(order_body(order_id)))
        async with gate:
            started = time.perf_counter()
            await client.start_workflow(
                OrderToCashWorkflow.run,
                OrderRunInput(store_id="rpc", order_id=str(order_id), payment_window="P7D"),
                id=order_workflow_id("rpc", str(order_id)), task_queue=task_queue,
                start_signal="store_order_changed", start_signal_args=[order],
            )  # fmt: skip
            samples.append((time.perf_counter() - started) * 1000)
        return True

    await asyncio.gather(*(one(i) for i in ids))
    return samples


async def count_runs(client: Client, store: str, ids: list[int]) -> int:
    async def exists(order_id: int) -> bool:
        try:
            await client.get_workflow_handle(order_workflow_id(store, str(order_id))).describe()
        except Exception:  # a missing run is exactly what we count
            return False
        return True

    return sum(await asyncio.gather(*(exists(i) for i in ids)))


async def main(webhooks: int, concurrency: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        server = TemporalDevServer(work / "temporal", port=free_port(), ui_port=free_port())
        server.start()
        starter_port = free_port()
        task_queue = f"bench-{uuid.uuid4().hex[:8]}"
        (work / "retail-sync.toml").write_text(
            f'[temporal]\naddress = "{server.address}"\ntask_queue = "{task_queue}"\n'
            f'[starter]\nport = {starter_port}\n'
            f'[[stores]]\nid = "{STORE}"\nurl = "http://127.0.0.1:1"\nconsumer_key = "ck"\n'
            f'consumer_secret = "cs"\nwebhook_secret = "{SECRET}"\n'
        )
        starter = ChildProcess("starter", [venv_binary("retail-sync"), "starter"], work / "starter.log",
                               env={"RETAIL_SYNC_CONFIG": str(work / "retail-sync.toml")})  # fmt: skip
        starter.start()
        url = f"http://127.0.0.1:{starter_port}"
        try:
            starter.wait_until(lambda: _ready(url), 60, "/readyz")
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            warmup = list(range(1, 21))
            await fire_webhooks(url, warmup, concurrency)
            await start_directly(client, task_queue, warmup, concurrency)

            ids = list(range(1000, 1000 + webhooks))
            started = time.perf_counter()
            starter_ms, accepted = await fire_webhooks(url, ids, concurrency)
            elapsed = time.perf_counter() - started
            rpc_ms = await start_directly(client, task_queue, [i + 100_000 for i in ids], concurrency)
            runs = await count_runs(client, STORE, ids)
        finally:
            starter.stop()
            server.stop()
    result = {
        "webhooks": webhooks,
        "concurrency": concurrency,
        "persistence": "sqlite file, journal_mode=wal, synchronous=normal",
        "accepted": accepted,
        "accepted_per_s": round(accepted / elapsed, 1),
        "starter_p50_ms": round(percentile(starter_ms, 50), 2),
        "starter_p99_ms": round(percentile(starter_ms, 99), 2),
        "rpc_p50_ms": round(percentile(rpc_ms, 50), 2),
        "rpc_p99_ms": round(percentile(rpc_ms, 99), 2),
        "lost": webhooks - runs,
        "cpus": os.cpu_count(),
    }
    result["starter_over_rpc_p50"] = round(result["starter_p50_ms"] / result["rpc_p50_ms"], 2)
    return result


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--webhooks", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    write_result("ingest.json", asyncio.run(main(args.webhooks, args.concurrency)))
    gc.collect()
