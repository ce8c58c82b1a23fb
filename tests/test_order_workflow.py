"""Order-to-cash decisions on the time-skipping server: payment wait, parking, cancellation.

The activities here are stand-ins registered under the real names, so these tests
check the workflow's decisions; the real activities are covered end to end.
"""
import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.orders import CancellationOnStoreOrder, OrderRef, SaleOnStoreOrder, SalesOrderRequest
from adapters.erp import ErpCustomer, SalesOrder, SalesOrderState
from canonical import Order, OrderStatus
from workflows.order_messages import OrderRunInput, OrderStage
from workflows.order_to_cash import OrderToCashWorkflow
from tests.factories import canonical_order, eur
from tests.plugins.temporal import eventually


class FakeSystems:
    """Records what the workflow asked of the store and the ERP."""

    def __init__(self, create_failures: int = 0) -> None:
        self.calls: list[str] = []
        self.create_failures = create_failures

    def activities(self):
        @activity.defn(name="ensure_customer")
        async def ensure_customer(order: Order) -> ErpCustomer:
            self.calls.append("ensure_customer")
            return ErpCustomer(key="c", customer_ref="1", invoice_address_ref="1", shipment_address_ref="1")

        @activity.defn(name="create_sales_order")
        async def create_sales_order(request: SalesOrderRequest) -> SalesOrder:
            self.calls.append("create_sales_order")
            if self.create_failures:
                self.create_failures -= 1
                raise ApplicationError("Unknown SKU 'POSTER-LTD' on line 1", type="BusinessError", non_retryable=True)
            return SalesOrder(key="k", erp_ref="9", number="SO-9", state=SalesOrderState.PROCESSING,
                              untaxed_amount=eur("40"), tax_amount=eur("0"), total_amount=eur("40"))  # fmt: skip

        @activity.defn(name="cancel_sales_order")
        async def cancel_sales_order(ref: OrderRef) -> SalesOrder | None:
            self.calls.append("cancel_sales_order")
            return None

        @activity.defn(name="record_sale_on_store_order")
        async def record_sale_on_store_order(sale: SaleOnStoreOrder) -> None:
            self.calls.append(f"record_sale_on_store_order:{sale.sale_number}")

        @activity.defn(name="record_cancellation_on_store_order")
        async def record_cancellation_on_store_order(note: CancellationOnStoreOrder) -> None:
            self.calls.append("record_cancellation_on_store_order")

        return [ensure_customer, create_sales_order, cancel_sales_order, record_sale_on_store_order,
                record_cancellation_on_store_order]  # fmt: skip


async def start_run(env, task_queue: str, order: Order, window: timedelta = timedelta(days=7)):
    return await env.client.start_workflow(
        OrderToCashWorkflow.run,
        OrderRunInput(store_id=order.store_id, order_id=order.order_id, payment_window=window),
        id=f"order-{uuid.uuid4()}",
        task_queue=task_queue,
        start_signal="store_order_changed",
        start_signal_args=[order],
    )


async def stage_of(handle) -> OrderStage:
    return (await handle.query(OrderToCashWorkflow.progress)).stage


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


async def test_unpaid_order_closes_after_the_payment_window(time_skipping, task_queue):
    systems = FakeSystems()
    async with Worker(time_skipping.client, task_queue=task_queue, workflows=[OrderToCashWorkflow],
                      activities=systems.activities()):  # fmt: skip
        handle = await start_run(time_skipping, task_queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT),
                                 window=timedelta(days=3))  # fmt: skip
        outcome = await handle.result()
    assert outcome.stage == OrderStage.PAYMENT_EXPIRED
    assert systems.calls == []


async def test_order_paid_later_proceeds_to_the_erp(time_skipping, task_queue):
    systems = FakeSystems()
    async with Worker(time_skipping.client, task_queue=task_queue, workflows=[OrderToCashWorkflow],
                      activities=systems.activities()):  # fmt: skip
        handle = await start_run(time_skipping, task_queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT))
        assert await stage_of(handle) == OrderStage.AWAITING_PAYMENT
        await time_skipping.sleep(timedelta(days=2))
        await handle.signal(OrderToCashWorkflow.store_order_changed, canonical_order(minutes_later=5))
        await eventually(lambda: stage_of(handle), lambda s: s == OrderStage.AWAITING_FULFILMENT)
        progress = await handle.query(OrderToCashWorkflow.progress)
    assert progress.erp_sale_number == "SO-9"
    assert progress.steps_done == ["ensuring_customer", "creating_sales_order", "recording_sale_on_store"]
    assert systems.calls == ["ensure_customer", "create_sales_order", "record_sale_on_store_order:SO-9"]


async def test_out_of_order_snapshot_does_not_undo_a_newer_one(time_skipping, task_queue):
    systems = FakeSystems()
    async with Worker(time_skipping.client, task_queue=task_queue, workflows=[OrderToCashWorkflow],
                      activities=systems.activities()):  # fmt: skip
        handle = await start_run(time_skipping, task_queue, canonical_order(minutes_later=10))
        await handle.signal(OrderToCashWorkflow.store_order_changed,
                            canonical_order(status=OrderStatus.CANCELLED, minutes_later=1))  # fmt: skip
        await eventually(lambda: stage_of(handle), lambda s: s == OrderStage.AWAITING_FULFILMENT)
    assert "cancel_sales_order" not in systems.calls


async def test_store_cancellation_before_fulfilment_cancels_the_erp_sale(time_skipping, task_queue):
    systems = FakeSystems()
    async with Worker(time_skipping.client, task_queue=task_queue, workflows=[OrderToCashWorkflow],
                      activities=systems.activities()):  # fmt: skip
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await eventually(lambda: stage_of(handle), lambda s: s == OrderStage.AWAITING_FULFILMENT)
        await handle.signal(OrderToCashWorkflow.store_order_changed,
                            canonical_order(status=OrderStatus.CANCELLED, minutes_later=30))  # fmt: skip
        outcome = await handle.result()
    assert outcome.stage == OrderStage.CANCELLED
    assert outcome.note == "order cancelled in the store"
    assert systems.calls[-2:] == ["cancel_sales_order", "record_cancellation_on_store_order"]


async def test_business_error_parks_until_an_operator_retries(time_skipping, task_queue):
    systems = FakeSystems(create_failures=1)
    async with Worker(time_skipping.client, task_queue=task_queue, workflows=[OrderToCashWorkflow],
                      activities=systems.activities()):  # fmt: skip
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await eventually(lambda: stage_of(handle), lambda s: s == OrderStage.PARKED)
        progress = await handle.query(OrderToCashWorkflow.progress)
        assert progress.parked is not None
        assert progress.parked.step == "creating_sales_order"
        assert progress.parked.reason == "Unknown SKU 'POSTER-LTD' on line 1"
        await time_skipping.sleep(timedelta(days=30))
        assert await stage_of(handle) == OrderStage.PARKED
        await handle.execute_update(OrderToCashWorkflow.retry)
        await eventually(lambda: stage_of(handle), lambda s: s == OrderStage.AWAITING_FULFILMENT)
    assert systems.calls.count("create_sales_order") == 2


async def test_parked_order_cancelled_by_an_operator_is_undone(time_skipping, task_queue):
    systems = FakeSystems(create_failures=1)
    async with Worker(time_skipping.client, task_queue=task_queue, workflows=[OrderToCashWorkflow],
                      activities=systems.activities()):  # fmt: skip
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await eventually(lambda: stage_of(handle), lambda s: s == OrderStage.PARKED)
        await handle.execute_update(OrderToCashWorkflow.cancel, "customer asked by phone")
        outcome = await handle.result()
    assert outcome.stage == OrderStage.CANCELLED
    assert outcome.note == "cancelled by operator: customer asked by phone"
    assert systems.calls[-2:] == ["cancel_sales_order", "record_cancellation_on_store_order"]


async def test_retry_is_refused_when_the_order_is_not_parked(time_skipping, task_queue):
    systems = FakeSystems()
    async with Worker(time_skipping.client, task_queue=task_queue, workflows=[OrderToCashWorkflow],
                      activities=systems.activities()):  # fmt: skip
        handle = await start_run(time_skipping, task_queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT))
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(OrderToCashWorkflow.retry)
    assert "not parked" in str(refused.value.cause)
