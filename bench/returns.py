"""Returns: N RMAs through the whole cycle (ERP return, 3PL return, receipt, refund, credit note).

N orders are shipped first; then one unit of each is returned. The warehouse receives every
parcel and restocks it, with the 3PL delivering each webhook twice, so any duplicate refund
would show. Latency is the return run's own duration (authorised → refunded and noted).

    .venv/bin/python -m bench.returns [--returns 10]
"""
import argparse
import asyncio
import gc
from decimal import Decimal

import httpx
from temporalio.client import WorkflowExecutionStatus

from bench.fulfilment import place_order, ship_everything, wait_until_completed
from bench.stack import STORE, bench_stack
from bench.stats import percentile, write_result
from canonical.returns import ReturnLine
from sandbox.shipbob.warehouse import Warehouse
from starter.returns import authorise_return
from workflows.returns import ReturnWorkflow

TIMEOUT_S = 900


async def main(count: int) -> dict:
    async with bench_stack() as stack:
        orders = [await place_order(stack.shopper, 1) for _ in range(count)]  # odd n: 2 Classic Tees each
        floor = asyncio.create_task(ship_everything(stack.warehouse))
        shipped = await wait_until_completed(stack.client, orders, floor)
        floor.cancel()
        await stack.warehouse.quirks(duplicate_deliveries=True)
        dock = asyncio.create_task(receive_every_parcel(stack.warehouse))
        rmas = []
        for order_id in orders:
            authorised = await authorise_return(stack.client, stack.settings, STORE, order_id,
                                                [ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(1))])  # fmt: skip
            rmas.append(authorised.workflow_id)
        durations = await wait_for_returns(stack.client, rmas, dock)
        dock.cancel()
        refunds = [len(await stack.store.list_refunds(order_id)) for order_id in orders]
    return {
        "returns": count,
        "orders_shipped_first": shipped,
        "completed": len(durations),
        "refunds_created": sum(refunds),
        "duplicate_refunds": sum(max(0, n - 1) for n in refunds),
        "p50_ms": round(percentile(durations, 50), 1),
        "p95_ms": round(percentile(durations, 95), 1),
        "threepl_webhooks": "each delivered twice",
        "persistence": "dev server sqlite file with WAL; Tryton on SQLite; sandboxes in memory",
    }


async def receive_every_parcel(warehouse: Warehouse) -> None:
    """The returns dock: every expected parcel arrives, one Classic Tee is restocked."""
    received: set[int] = set()
    while True:
        try:
            for parcel in await warehouse.returns(f"RMA-{STORE}-"):
                if parcel["id"] not in received and parcel["status"] == "AwaitingArrival":
                    await warehouse.receive_return(parcel["id"], [("TEE-CLASSIC", 1, "Restock")])
                    received.add(parcel["id"])
        except httpx.HTTPStatusError as refused:
            if refused.response.status_code != 429:
                raise
            await asyncio.sleep(float(refused.response.headers.get("x-retry-after", "5")))
        await asyncio.sleep(1)


async def wait_for_returns(client, workflow_ids: list[str], dock: asyncio.Task) -> list[float]:
    """Each completed return run's duration in ms, from the server's own start and close times."""
    durations: dict[str, float] = {}
    for _ in range(TIMEOUT_S):
        if dock.done():
            dock.result()
        for workflow_id in set(workflow_ids) - set(durations):
            description = await client.get_workflow_handle_for(ReturnWorkflow.run, workflow_id).describe()
            if description.status == WorkflowExecutionStatus.COMPLETED:
                durations[workflow_id] = (description.close_time - description.start_time).total_seconds() * 1000
        if len(durations) == len(workflow_ids):
            break
        await asyncio.sleep(1)
    return list(durations.values())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returns", type=int, default=10)
    args = parser.parse_args()
    write_result("returns.json", asyncio.run(main(args.returns)))
    gc.collect()
