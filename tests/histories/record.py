"""Record the workflow histories the replay test checks; an existing one is never overwritten:

    .venv/bin/python -m tests.histories.record [orders|refund|stock|returns|scheduled|waiting|publish ...]
"""
import asyncio
import gc
import sys
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporalio import activity

from activities.catalog import CatalogReport, CatalogSyncRequest
from activities.intake import OrdersPageHanded, OrdersPageRequest
from activities.stock import PublishRequest, StockReport
from canonical import OrderStatus
from canonical.keys import refund_workflow_id
from canonical.returns import ReturnStatus
from canonical.fulfilment import ShipmentStatus
from canonical.keys import stock_sync_workflow_id
from embedded.processes import venv_binary
from tests.factories import canonical_order
from tests.plugins.temporal import register_search_attributes
from tests.test_order_workflow import (
    REFERENCE,
    FakeSystems,
    one_tee,
    refunded_snapshot,
    shipment,
    stage_of,
    start_run,
    tell,
)
from workflows.order_messages import OrderRunInput, OrderStage, ShipmentNews
from tests.test_refund_workflow import FakeRefunds, our_request
from tests.test_stock_sync_workflow import FakeStock, start_stock
from tests.test_return_workflow import RMA, FakeReturns, processed
from tests.test_return_workflow import run_input as return_input
from tests.test_return_workflow import worker as return_worker
from workflows.catalog_sync import CatalogSyncInput, CatalogSyncWorkflow
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.returns import ReturnWorkflow
from workflows.stock_reconcile import ReconcileInput, StockReconciliationWorkflow
from workflows.store_intake import IntakeInput, StoreIntakeWorkflow
from workflows.refund import RefundRunInput, RefundWorkflow
from workflows.stock_sync import StockSyncInput, StockSyncWorkflow
from workflows.stock_watch import StockWatchWorkflow

HERE = Path(__file__).parent


async def until_stage(handle, stage: OrderStage) -> None:
    while await stage_of(handle) != stage:
        await asyncio.sleep(0.1)


async def paid_later_shipped_invoiced(env, queue, systems):
    handle = await start_run(env, queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT))
    await handle.signal(OrderToCashWorkflow.store_order_changed, canonical_order(minutes_later=5))
    await until_stage(handle, OrderStage.AWAITING_SHIPMENT)
    shipped = ShipmentNews(reference=REFERENCE, shipment=shipment(ShipmentStatus.SHIPPED, tracking=False))
    await handle.signal(OrderToCashWorkflow.shipment_changed, shipped)
    await handle.signal(OrderToCashWorkflow.shipment_changed,
                        ShipmentNews(reference=REFERENCE, shipment=shipment(ShipmentStatus.SHIPPED)))  # fmt: skip
    return handle


async def rerouted_then_cancelled_in_store(env, queue, systems):
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


async def parked_retried_then_operator_cancel(env, queue, systems):
    handle = await start_run(env, queue, canonical_order())
    await until_stage(handle, OrderStage.PARKED)
    await handle.execute_update(OrderToCashWorkflow.retry)
    await until_stage(handle, OrderStage.PARKED)
    await handle.execute_update(OrderToCashWorkflow.cancel, "duplicate order")
    return handle


async def payment_expired(env, queue, systems):
    return await start_run(env, queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT), window=timedelta(days=1))


async def shipment_news_read_from_the_3pl(env, queue, systems):
    """Webhooks as hints: each one makes the run read the 3PL order; tracking arrives in a second event."""
    handle = await start_run(env, queue, canonical_order())
    await until_stage(handle, OrderStage.AWAITING_SHIPMENT)
    await tell(handle, systems, REFERENCE, shipment(ShipmentStatus.SHIPPED, tracking=False))
    await tell(handle, systems, REFERENCE, shipment(ShipmentStatus.SHIPPED))
    return handle


async def refund_taken_off_a_waiting_3pl_order(env, queue, systems):
    """A tee refunded while its 3PL order waits: that order is cancelled, one tee goes out as part 2."""
    handle = await start_run(env, queue, canonical_order())
    await until_stage(handle, OrderStage.AWAITING_SHIPMENT)
    systems.refunded = {"TEE-CLASSIC": Decimal(1)}
    await handle.signal(OrderToCashWorkflow.store_order_changed, refunded_snapshot())
    while len(systems.threepl) < 2:
        await asyncio.sleep(0.1)
    await until_stage(handle, OrderStage.AWAITING_SHIPMENT)
    second = list(systems.threepl.values())[-1]
    await tell(handle, systems, second.reference, one_tee(ShipmentStatus.SHIPPED, second.shipments[0].shipment_id))
    return handle


async def paid_and_unpaid_snapshot_of_one_second(env, queue, systems):
    """A checkout's unpaid and paid saves carry the same time; the unpaid one's webhook arrives last."""
    unpaid = canonical_order(status=OrderStatus.AWAITING_PAYMENT, minutes_later=1)
    handle = await start_run(env, queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT))
    await handle.signal(OrderToCashWorkflow.store_order_changed, canonical_order(minutes_later=1))
    await handle.signal(OrderToCashWorkflow.store_order_changed, unpaid)
    await until_stage(handle, OrderStage.AWAITING_SHIPMENT)
    await tell(handle, systems, REFERENCE, shipment(ShipmentStatus.SHIPPED))
    return handle


SCENARIOS = {
    "paid_later_shipped_invoiced": (paid_later_shipped_invoiced, 0),
    "rerouted_then_cancelled_in_store": (rerouted_then_cancelled_in_store, 0),
    "parked_retried_then_operator_cancel": (parked_retried_then_operator_cancel, 2),
    "payment_expired": (payment_expired, 0),
    "shipment_news_read_from_the_3pl": (shipment_news_read_from_the_3pl, 0),
    "refund_taken_off_a_waiting_3pl_order": (refund_taken_off_a_waiting_3pl_order, 0),
    "paid_and_unpaid_snapshot_of_one_second": (paid_and_unpaid_snapshot_of_one_second, 0),
    "refund_and_tracking_in_the_memo": (refund_taken_off_a_waiting_3pl_order, 0),  # its record in the memo
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
        write("refund_parked_then_recorded_without_gateway", history)


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
            write(name, history)


async def record_returns_and_refunds() -> None:
    """A return approved, received and refunded (with its refund child), one that expired, and a merchant's refund."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter
    ) as env:
        await register_search_attributes(env.client)
        returns, refunds = FakeReturns(), FakeRefunds()
        histories = {}
        async with return_worker(env, "returns", returns, refunds):
            handle = await env.client.start_workflow(ReturnWorkflow.run, return_input(needs_approval=True),
                                                     id=f"return-{RMA}", task_queue="returns")  # fmt: skip
            while await handle.query(ReturnWorkflow.stage) != "awaiting_approval":
                await asyncio.sleep(0.1)
            await handle.execute_update(ReturnWorkflow.approve)
            while await handle.query(ReturnWorkflow.stage) != "awaiting_parcel":
                await asyncio.sleep(0.1)
            returns.at_3pl = processed()
            await handle.signal(ReturnWorkflow.parcel_news)
            outcome = await handle.result()
            histories["return_approved_received_refunded"] = await handle.fetch_history()
            child = env.client.get_workflow_handle(refund_workflow_id("test-store", "1001", RMA))
            histories["refund_of_a_return"] = await child.fetch_history()
            assert outcome.stage == "completed", outcome
            returns.at_3pl = returns.at_3pl.model_copy(update={"status": ReturnStatus.AWAITING_ARRIVAL, "processed": ()})
            expired = await env.client.start_workflow(ReturnWorkflow.run, return_input(), id="return-expired",
                                                      task_queue="returns")  # fmt: skip
            await expired.result()
            histories["return_expired"] = await expired.fetch_history()
            cancelled = await env.client.start_workflow(ReturnWorkflow.run, return_input(), id="return-cancelled",
                                                        task_queue="returns")  # fmt: skip
            while await cancelled.query(ReturnWorkflow.stage) != "awaiting_parcel":
                await asyncio.sleep(0.1)
            await cancelled.execute_update(ReturnWorkflow.cancel, "customer kept it")
            await cancelled.result()
            histories["return_cancelled_while_awaiting_parcel"] = await cancelled.fetch_history()
            merchant = await env.client.start_workflow(
                RefundWorkflow.run, RefundRunInput(store_id="s", order_id="1001", store_refund_id="77"),
                id="refund-s-1001-wc77", task_queue="returns",
            )  # fmt: skip
            await merchant.result()
            histories["merchant_refund_credited"] = await merchant.fetch_history()
        for name, history in histories.items():
            write(name, history)


async def record_a_credit_note_that_waited_for_the_invoice() -> None:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter
    ) as env:
        await register_search_attributes(env.client)
        async with Worker(env.client, task_queue="refunds", workflows=[RefundWorkflow],
                          activities=FakeRefunds(invoice_missing=2).activities()):  # fmt: skip
            handle = await env.client.start_workflow(
                RefundWorkflow.run, RefundRunInput(store_id="s", order_id="1001", store_refund_id="77"),
                id="refund-s-1001-wc77", task_queue="refunds",
            )  # fmt: skip
            await handle.result()
            write("credit_note_waited_for_the_invoice", await handle.fetch_history())


async def record_a_stock_change_during_a_publish() -> None:
    """SKUs signalled while a publish runs go out in the next one."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter
    ) as env:
        await register_search_attributes(env.client)
        held, started, published = asyncio.Event(), asyncio.Event(), []

        @activity.defn(name="publish_available_to_sell")
        async def publish_available_to_sell(request: PublishRequest) -> StockReport:
            published.append(request.skus)
            if len(published) == 1:
                started.set()
                await held.wait()
            return StockReport(store_id=request.store_id, fixed=len(request.skus or []))

        async with Worker(env.client, task_queue="stock", workflows=[StockSyncWorkflow],
                          activities=[publish_available_to_sell]):  # fmt: skip
            run = await env.client.start_workflow(StockSyncWorkflow.run, StockSyncInput(store_id="north"),
                                                  id=stock_sync_workflow_id("north"), task_queue="stock")
            await run.signal(StockSyncWorkflow.stock_changed, ["TEE"])
            await started.wait()
            await run.signal(StockSyncWorkflow.stock_changed, ["TEE", "MUG"])
            held.set()
            while len(published) < 2:
                await asyncio.sleep(0.1)
            await run.terminate("recorded")
            write("stock_sync_kept_changes_during_a_publish", await run.fetch_history())


async def record_scheduled_runs() -> None:
    """The intake backstop over two pages, a reconciliation and a catalogue sync, each on stand-in activities."""
    @activity.defn(name="hand_changed_orders_to_runs")
    async def hand_changed_orders_to_runs(request: OrdersPageRequest) -> OrdersPageHanded:
        return OrdersPageHanded(orders_seen=100 if request.page == 1 else 3, runs_started=1, has_next=request.page == 1)

    @activity.defn(name="reenable_disabled_webhooks")
    async def reenable_disabled_webhooks(store_id: str) -> list[str]:
        return ["retail-sync order.updated (order.updated)"]

    @activity.defn(name="publish_available_to_sell")
    async def publish_available_to_sell(request: PublishRequest) -> StockReport:
        return StockReport(store_id=request.store_id, dry_run=request.dry_run, compared=10, unchanged=8, drifted=2)

    @activity.defn(name="sync_catalog")
    async def sync_catalog(request: CatalogSyncRequest) -> CatalogReport:
        return CatalogReport(store_id=request.store_id, cursor="2026-11-20T10:00:00", products_changed=2,
                             created=["MUG"], updated=["TEE"])  # fmt: skip

    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter
    ) as env:
        await register_search_attributes(env.client)
        runs = {
            "intake_two_pages_webhook_reenabled": (StoreIntakeWorkflow.run, IntakeInput(store_id="s")),
            "stock_reconciliation_dry_run": (StockReconciliationWorkflow.run, ReconcileInput(store_id="s",
                                                                                              dry_run=True)),
            "catalog_sync_from_the_start": (CatalogSyncWorkflow.run, CatalogSyncInput(store_id="s")),
        }  # fmt: skip
        activities = [hand_changed_orders_to_runs, reenable_disabled_webhooks, publish_available_to_sell, sync_catalog]
        async with Worker(env.client, task_queue="scheduled", activities=activities,
                          workflows=[StoreIntakeWorkflow, StockReconciliationWorkflow, CatalogSyncWorkflow]):  # fmt: skip
            for name, (run, argument) in runs.items():
                handle = await env.client.start_workflow(run, argument, id=name, task_queue="scheduled")
                await handle.result()
                write(name, await handle.fetch_history())


async def record_order_runs() -> None:
    for name, (scenario, create_failures) in SCENARIOS.items():
        if (HERE / f"{name}.json").exists():
            print(f"kept {name}: already recorded")
            continue
        async with await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter
        ) as env:
            await register_search_attributes(env.client)
            queue = f"tq-{uuid.uuid4()}"
            systems = FakeSystems(create_failures=create_failures)
            async with Worker(env.client, task_queue=queue, workflows=[OrderToCashWorkflow],
                              activities=systems.activities()):  # fmt: skip
                handle = await scenario(env, queue, systems)
                await handle.result()
                write(name, await handle.fetch_history())
    await record_an_order_that_waited_weeks()


async def record_an_order_that_waited_weeks() -> None:
    """A back-order: three weeks of hourly 3PL polls, continued as new, then shipped (first and last run)."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter
    ) as env:
        await register_search_attributes(env.client)
        systems = FakeSystems()
        async with Worker(env.client, task_queue="weeks", workflows=[OrderToCashWorkflow],
                          activities=systems.activities()):  # fmt: skip
            order = canonical_order()
            first = await env.client.start_workflow(
                OrderToCashWorkflow.run,
                OrderRunInput(store_id=order.store_id, order_id=order.order_id, payment_window=timedelta(days=7),
                              continue_as_new_after_events=300),
                id="order-waited-weeks", task_queue="weeks", start_signal="store_order_changed",
                start_signal_args=[order],
            )  # fmt: skip
            await until_stage(first, OrderStage.AWAITING_SHIPMENT)
            await env.sleep(timedelta(days=21))
            latest = env.client.get_workflow_handle_for(OrderToCashWorkflow.run, first.id)
            await tell(latest, systems, REFERENCE, shipment(ShipmentStatus.SHIPPED))
            await latest.result()
            write("waited_weeks_first_run_continued_as_new",
                  await env.client.get_workflow_handle(first.id, run_id=first.result_run_id).fetch_history())
            write("waited_weeks_last_run_shipped", await latest.fetch_history())


RECORDERS = {
    "orders": record_order_runs,
    "refund": record_refund_parked_then_recorded_without_gateway,
    "stock": record_stock_watch_and_a_store_that_was_down,
    "returns": record_returns_and_refunds,
    "scheduled": record_scheduled_runs,
    "waiting": record_a_credit_note_that_waited_for_the_invoice,
    "publish": record_a_stock_change_during_a_publish,
}


def write(name: str, history) -> None:
    """Histories are the proof that runs started on earlier code still replay: never overwrite one."""
    path = HERE / f"{name}.json"
    if path.exists():
        print(f"kept {name}: already recorded (record a new scenario instead of overwriting)")
        return
    path.write_text(history.to_json())
    print(f"recorded {name}: {len(history.events)} events")


if __name__ == "__main__":
    for group in sys.argv[1:] or RECORDERS:
        asyncio.run(RECORDERS[group]())
    gc.collect()
