"""Record the workflow histories the replay test checks. Re-run only on a deliberate, patched change:

    .venv/bin/python -m tests.histories.record
"""
import asyncio
import gc
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from canonical import OrderStatus
from canonical.fulfilment import ShipmentStatus
from canonical.keys import stock_sync_workflow_id
from embedded.processes import venv_binary
from tests.factories import canonical_order
from tests.plugins.temporal import register_search_attributes
from tests.test_order_workflow import REFERENCE, FakeSystems, shipment, stage_of, start_run
from workflows.order_messages import OrderStage, ShipmentNews
from tests.test_refund_workflow import FakeRefunds, our_request
from tests.test_stock_sync_workflow import FakeStock, start_stock
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.refund import RefundRunInput, RefundWorkflow
from workflows.stock_sync import StockSyncWorkflow
from workflows.stock_watch import StockWatchWorkflow

HERE = Path(__file__).parent


async def until_stage(handle, stage: OrderStage) -> None:
    while await stage_of(handle) != stage:
        await asyncio.sleep(0.1)


async def paid_later_shipped_invoiced(env, queue):
    handle = await start_run(env, queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT))
    await handle.signal(OrderToCashWorkflow.store_order_changed, canonical_order(minutes_later=5))
    await until_stage(handle, OrderStage.AWAITING_SHIPMENT)
    shipped = ShipmentNews(reference=REFERENCE, shipment=shipment(ShipmentStatus.SHIPPED, tracking=False))
    await handle.signal(OrderToCashWorkflow.shipment_changed, shipped)
    await handle.signal(OrderToCashWorkflow.shipment_changed,
                        ShipmentNews(reference=REFERENCE, shipment=shipment(ShipmentStatus.SHIPPED)))  # fmt: skip
    return handle


async def rerouted_then_cancelled_in_store(env, queue):
    handle = await start_run(env, queue, canonical_order())
    await until_stage(handle, OrderStage.AWAITING_SHIPMENT)
    stuck = shipment(ShipmentStatus.ON_HOLD, tracking=False, detail="InvalidAddress")
    await handle.signal(OrderToCashWorkflow.shipment_changed, ShipmentNews(reference=REFERENCE, shipment=stuck))
    await until_stage(handle, OrderStage.PARKED)
    await handle.execute_update(OrderToCashWorkflow.reroute, "2")
    await until_stage(handle, OrderStage.AWAITING_SHIPMENT)
    await handle.signal(OrderToCashWorkflow.store_order_changed,
                        canonical_order(status=OrderStatus.CANCELLED, minutes_later=9))  # fmt: skip
    return handle


async def parked_retried_then_operator_cancel(env, queue):
    handle = await start_run(env, queue, canonical_order())
    await until_stage(handle, OrderStage.PARKED)
    await handle.execute_update(OrderToCashWorkflow.retry)
    await until_stage(handle, OrderStage.PARKED)
    await handle.execute_update(OrderToCashWorkflow.cancel, "duplicate order")
    return handle


async def payment_expired(env, queue):
    return await start_run(env, queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT), window=timedelta(days=1))


SCENARIOS = {
    "paid_later_shipped_invoiced": (paid_later_shipped_invoiced, 0),
    "rerouted_then_cancelled_in_store": (rerouted_then_cancelled_in_store, 0),
    "parked_retried_then_operator_cancel": (parked_retried_then_operator_cancel, 2),
    "payment_expired": (payment_expired, 0),
}


async def record_refund_parked_then_recorded_without_gateway() -> None:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter
    ) as env:
        await register_search_attributes(env.client)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(env.client, task_queue=queue, workflows=[RefundWorkflow],
                          activities=FakeRefunds(gateway_refusals=1).activities()):  # fmt: skip
            handle = await env.client.start_workflow(
                RefundWorkflow.run, RefundRunInput(store_id="s", order_id="1001", request=our_request()),
                id=f"refund-{uuid.uuid4()}", task_queue=queue,
            )  # fmt: skip
            while await handle.query(RefundWorkflow.stage) != "parked":
                await asyncio.sleep(0.1)
            await handle.execute_update(RefundWorkflow.retry, False)
            await handle.result()
            history = await handle.fetch_history()
        (HERE / "refund_parked_then_recorded_without_gateway.json").write_text(history.to_json())
        print(f"recorded refund: {len(history.events)} events")


async def record_stock_watch_and_a_store_that_was_down() -> None:
    """The ERP watch's first run (continued as new) and the sync run of a store that was down for a while."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter
    ) as env:
        await register_search_attributes(env.client)
        fake = FakeStock([["A"], ["B"], ["C"]], down="south", outages=3)
        async with Worker(env.client, task_queue="stock", workflows=[StockWatchWorkflow, StockSyncWorkflow],
                          activities=fake.activities()):  # fmt: skip
            watch = await start_stock(env, polls_per_run=2)
            while sum(map(len, fake.published["south"])) < 3:
                await env.sleep(timedelta(seconds=1))
            south = env.client.get_workflow_handle(stock_sync_workflow_id("south"))
            await south.terminate("recorded")
            histories = {
                "stock_watch_continued_as_new": await env.client.get_workflow_handle(
                    watch.id, run_id=watch.result_run_id).fetch_history(),
                "stock_sync_of_a_store_that_was_down": await south.fetch_history(),
            }  # fmt: skip
        for name, history in histories.items():
            (HERE / f"{name}.json").write_text(history.to_json())
            print(f"recorded {name}: {len(history.events)} events")


async def main() -> None:
    for name, (scenario, create_failures) in SCENARIOS.items():
        async with await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter
        ) as env:
            await register_search_attributes(env.client)
            queue = f"tq-{uuid.uuid4()}"
            systems = FakeSystems(create_failures=create_failures)
            async with Worker(env.client, task_queue=queue, workflows=[OrderToCashWorkflow],
                              activities=systems.activities()):  # fmt: skip
                handle = await scenario(env, queue)
                await handle.result()
                history = await handle.fetch_history()
            (HERE / f"{name}.json").write_text(history.to_json())
            print(f"recorded {name}: {len(history.events)} events")
    await record_refund_parked_then_recorded_without_gateway()
    await record_stock_watch_and_a_store_that_was_down()


if __name__ == "__main__":
    asyncio.run(main())
    gc.collect()
