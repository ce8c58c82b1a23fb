"""Fulfilment: N orders through the whole cycle, checkout to paid invoice, with real Tryton and both sandboxes.

Half the orders split across two fulfilment centres. A warehouse loop ships every shipment
that appears at the 3PL (with its own token, so the 3PL's count of our requests is ours
alone). Our 3PL client's requests are timed to find the busiest 60-second window, which
must stay within the configured budget.

    .venv/bin/python -m bench.fulfilment [--orders 20] [--budget 60]
"""
import argparse
import asyncio
import gc
import time
from collections import Counter

import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from bench.stack import STORE, bench_stack
from bench.stats import write_result
from canonical.keys import order_workflow_id
from sandbox.shipbob.warehouse import Warehouse
from sandbox.woocommerce.shopper import Shopper
from workflows.order_messages import OrderStage
from workflows.order_to_cash import OrderToCashWorkflow

TIMEOUT_S = 900


async def main(orders: int, budget: int) -> dict:
    async with bench_stack(budget) as stack:
        started = time.monotonic()
        placed = [await place_order(stack.shopper, n) for n in range(orders)]
        floor = asyncio.create_task(ship_everything(stack.warehouse))
        completed = await wait_until_completed(stack.client, placed, floor)
        elapsed = time.monotonic() - started
        floor.cancel()
        references = Counter(o["reference_id"] for o in await stack.warehouse.orders(f"{STORE}:"))
    return {
        "orders": orders,
        "completed": completed,
        "lost": orders - completed,
        "duplicate_3pl_orders": sum(count - 1 for count in references.values()),
        "threepl_orders": sum(references.values()),
        "orders_per_min": round(completed / (elapsed / 60), 2),
        "elapsed_s": round(elapsed, 1),
        "max_3pl_requests_per_min": stack.threepl_requests.busiest_minute(),
        "threepl_budget_per_min": budget,
        "persistence": "dev server sqlite file with WAL; Tryton on SQLite; sandboxes in memory",
    }


async def place_order(shopper: Shopper, n: int) -> str:
    lines = [("MUG-CERAMIC", 1), ("BOOK-COFFEE", 1)] if n % 2 == 0 else [("TEE-CLASSIC", 1 + n % 3)]
    return str((await shopper.place_order(lines, paid=True, customer="zoe" if n % 3 else "lukasz"))["id"])


async def ship_everything(warehouse: Warehouse) -> None:
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


async def wait_until_completed(client: Client, placed: list[str], floor: asyncio.Task) -> int:
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
