"""Order-to-cash decisions on the time-skipping server: payment, parking, fulfilment, SLA, cancellation.

The activities here are stand-ins registered under the real names, so these tests check
the workflow's decisions; the real activities are covered end to end.
"""
import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.fulfilment import InvoiceRequest, ShipmentOfOrder
from activities.orders import CancellationOnStoreOrder, OrderRef, SaleOnStoreOrder, SalesOrderRequest
from adapters.erp import ErpCustomer, ErpInvoice, InvoiceState, SalesOrder, SalesOrderState
from canonical import Order, OrderStatus, RefundSummary
from canonical.fulfilment import (
    CancelOutcome,
    CancelResult,
    FulfilmentLine,
    FulfilmentOrder,
    FulfilmentOrderStatus,
    FulfilmentRequest,
    Shipment,
    ShipmentStatus,
    Tracking,
)
from workflows import search_attributes as sa
from workflows.order_messages import OrderRunInput, OrderStage, ShipmentNews
from workflows.order_to_cash import OrderToCashWorkflow
from tests.factories import canonical_order, eur
from tests.plugins.temporal import eventually

REFERENCE = "test-store:1001:any"
POLL = timedelta(hours=1)
SLA = timedelta(days=3)


def shipment(status: ShipmentStatus, *, tracking: bool = True, shipment_id: str = "S1", centre: str = "1",
             detail: str = "") -> Shipment:  # fmt: skip
    return Shipment(
        shipment_id=shipment_id, center_id=centre, center_name=f"Centre {centre}", status=status, status_detail=detail,
        lines=(FulfilmentLine(sku="TEE-CLASSIC", name="Classic Tee", quantity=Decimal(2)),),
        tracking=Tracking(carrier="UPS", number=f"1Z{shipment_id}", url="https://t.example/1Z") if tracking else None,
    )  # fmt: skip


class FakeSystems:
    """Records what the workflow asked of the store, the ERP and the 3PL; `threepl` is the 3PL's truth."""

    def __init__(self, create_failures: int = 0, cancellable: bool = True, invoice_failures: int = 0) -> None:
        self.calls: list[str] = []
        self.refunded: dict[str, Decimal] = {}  # SKU → units the store refunded
        self.create_failures = create_failures
        self.invoice_failures = invoice_failures
        self.cancellable = cancellable
        self.threepl: dict[str, FulfilmentOrder] = {}
        self.recording_held: asyncio.Event | None = None  # set: recording shipments in the ERP may go on

    def ship(self, reference: str, state: Shipment) -> None:
        order = self.threepl[reference]
        others = tuple(s for s in order.shipments if s.shipment_id != state.shipment_id)
        self.threepl[reference] = order.model_copy(update={"shipments": (*others, state)})

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
            self.calls.append(f"record_cancellation_on_store_order:{note.sale_number}")

        @activity.defn(name="plan_fulfilment")
        async def plan_fulfilment(order: Order) -> list[FulfilmentRequest]:
            self.calls.append("plan_fulfilment")
            return [FulfilmentRequest(reference=REFERENCE, order_number=order.number, recipient_name="Zoë Müller",
                                      address=order.shipping_address,
                                      lines=tuple(FulfilmentLine(sku=line.sku, quantity=line.quantity)
                                                  for line in order.lines))]  # fmt: skip

        @activity.defn(name="create_fulfilment_order")
        async def create_fulfilment_order(request: FulfilmentRequest) -> FulfilmentOrder:
            self.calls.append(f"create_fulfilment_order:{request.reference}:{request.center_id}")
            number = len(self.threepl) + 1
            waiting = shipment(ShipmentStatus.PROCESSING, tracking=False, shipment_id=f"S{number}",
                               centre=request.center_id or "1").model_copy(update={"lines": request.lines})
            self.threepl[request.reference] = FulfilmentOrder(
                order_ref=str(500 + number), reference=request.reference, status=FulfilmentOrderStatus.PROCESSING,
                shipments=(waiting,),
            )  # fmt: skip
            return self.threepl[request.reference]

        @activity.defn(name="get_fulfilment_order")
        async def get_fulfilment_order(reference: str) -> FulfilmentOrder:
            self.calls.append("get_fulfilment_order")
            return self.threepl[reference]

        @activity.defn(name="read_refunded_units")
        async def read_refunded_units(ref: OrderRef) -> dict[str, Decimal]:
            self.calls.append("read_refunded_units")
            return dict(self.refunded)

        @activity.defn(name="release_unshipped_units")
        async def release_unshipped_units(ref: OrderRef) -> None:
            self.calls.append("release_unshipped_units")

        @activity.defn(name="cancel_fulfilment_order")
        async def cancel_fulfilment_order(reference: str) -> CancelResult:
            self.calls.append("cancel_fulfilment_order")
            if not self.cancellable:
                raise ApplicationError("3PL order can no longer be fully cancelled (shipments S1 are picked)",
                                       type="BusinessError", non_retryable=True)  # fmt: skip
            order = self.threepl[reference]
            self.threepl[reference] = order.model_copy(update={"status": FulfilmentOrderStatus.CANCELLED, "shipments": tuple(
                s.model_copy(update={"status": ShipmentStatus.CANCELLED}) for s in order.shipments)})  # fmt: skip
            return CancelResult(outcome=CancelOutcome.CANCELLED)

        @activity.defn(name="cancel_fulfilment_shipment")
        async def cancel_fulfilment_shipment(shipment_id: str) -> CancelResult:
            self.calls.append(f"cancel_fulfilment_shipment:{shipment_id}")
            return CancelResult(outcome=CancelOutcome.CANCELLED, cancelled_shipments=(shipment_id,))

        @activity.defn(name="record_shipment_in_erp")
        async def record_shipment_in_erp(news: ShipmentOfOrder) -> None:
            self.calls.append(f"record_shipment_in_erp:{news.shipment.shipment_id}")
            if self.recording_held is not None:
                await self.recording_held.wait()

        @activity.defn(name="record_shipment_on_store_order")
        async def record_shipment_on_store_order(news: ShipmentOfOrder) -> None:
            self.calls.append(f"record_shipment_on_store_order:{news.shipment.tracking.number}")

        @activity.defn(name="complete_store_order")
        async def complete_store_order(ref: OrderRef) -> None:
            self.calls.append("complete_store_order")

        @activity.defn(name="invoice_sales_order")
        async def invoice_sales_order(request: InvoiceRequest) -> ErpInvoice:
            self.calls.append(f"invoice_sales_order:{request.amount.amount}:{request.payment.transaction_id}")
            if self.invoice_failures:
                self.invoice_failures -= 1
                raise ApplicationError("Invoice INV-3 could not be paid in full", type="BusinessError",
                                       non_retryable=True)  # fmt: skip
            return ErpInvoice(erp_ref="3", number="INV-3", state=InvoiceState.PAID, total_amount=request.amount,
                              amount_to_pay=eur("0"))  # fmt: skip

        return [ensure_customer, create_sales_order, cancel_sales_order, record_sale_on_store_order,
                record_cancellation_on_store_order, plan_fulfilment, create_fulfilment_order, get_fulfilment_order,
                cancel_fulfilment_order, cancel_fulfilment_shipment, record_shipment_in_erp, read_refunded_units,
                release_unshipped_units,
                record_shipment_on_store_order, complete_store_order, invoice_sales_order]  # fmt: skip


async def tell(handle, systems: FakeSystems, reference: str, state: Shipment) -> None:
    """The 3PL's shipment changes, and its webhook says so."""
    systems.ship(reference, state)
    await handle.signal(OrderToCashWorkflow.shipment_changed, ShipmentNews(reference=reference, shipment=state))


async def start_run(env, task_queue: str, order: Order, window: timedelta = timedelta(days=7)):
    return await env.client.start_workflow(
        OrderToCashWorkflow.run,
        OrderRunInput(store_id=order.store_id, order_id=order.order_id, payment_window=window,
                      fulfilment_sla=SLA, shipment_poll_interval=POLL),  # fmt: skip
        id=f"order-{uuid.uuid4()}",
        task_queue=task_queue,
        start_signal="store_order_changed",
        start_signal_args=[order],
    )


async def stage_of(handle) -> OrderStage:
    return (await handle.query(OrderToCashWorkflow.progress)).stage


async def reach(handle, stage: OrderStage) -> None:
    await eventually(lambda: stage_of(handle), lambda s: s == stage)


def worker(env, task_queue: str, systems: FakeSystems) -> Worker:
    return Worker(env.client, task_queue=task_queue, workflows=[OrderToCashWorkflow], activities=systems.activities())


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


async def test_unpaid_order_closes_after_the_payment_window(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT),
                                 window=timedelta(days=3))  # fmt: skip
        outcome = await handle.result()
    assert outcome.stage == OrderStage.PAYMENT_EXPIRED
    assert systems.calls == []


async def test_order_paid_later_proceeds_to_the_erp_and_the_warehouse(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT))
        assert await stage_of(handle) == OrderStage.AWAITING_PAYMENT
        await time_skipping.sleep(timedelta(days=2))
        await handle.signal(OrderToCashWorkflow.store_order_changed, canonical_order(minutes_later=5))
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        progress = await handle.query(OrderToCashWorkflow.progress)
    assert progress.erp_sale_number == "SO-9"
    assert progress.steps_done == ["ensuring_customer", "creating_sales_order", "recording_sale_on_store",
                                   "planning_fulfilment", "creating_fulfilment_order"]  # fmt: skip
    assert systems.calls == ["ensure_customer", "create_sales_order", "record_sale_on_store_order:SO-9",
                             "plan_fulfilment", f"create_fulfilment_order:{REFERENCE}:None"]  # fmt: skip


async def test_shipped_order_is_recorded_completed_and_invoiced(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        for _ in range(3):  # the 3PL's retries deliver the same event again
            await tell(handle, systems, REFERENCE, shipment(ShipmentStatus.SHIPPED))
        outcome = await handle.result()
    assert outcome.stage == OrderStage.COMPLETED
    assert systems.calls[-4:] == ["record_shipment_in_erp:S1", "record_shipment_on_store_order:1ZS1",
                                  "complete_store_order", "invoice_sales_order:40.00:ch_1"]  # fmt: skip


async def test_shipped_without_tracking_waits_for_the_poll_to_tell_the_customer(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        await tell(handle, systems, REFERENCE, shipment(ShipmentStatus.SHIPPED, tracking=False))
        await eventually(lambda: handle.query(OrderToCashWorkflow.progress),
                         lambda p: p.fulfilment.recorded_in_erp == ["S1"] and p.stage == OrderStage.AWAITING_SHIPMENT)
        assert "complete_store_order" not in systems.calls
        systems.ship(REFERENCE, shipment(ShipmentStatus.SHIPPED))  # tracking appears on the 3PL's order
        outcome = await handle.result()  # time skips to the poll
    assert outcome.stage == OrderStage.COMPLETED
    assert systems.calls.count("record_shipment_in_erp:S1") == 1
    assert "record_shipment_on_store_order:1ZS1" in systems.calls


async def test_a_lost_webhook_is_caught_by_the_poll_backstop(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        systems.ship(REFERENCE, shipment(ShipmentStatus.DELIVERED))  # nobody tells the run
        outcome = await handle.result()
    assert outcome.stage == OrderStage.COMPLETED
    assert "get_fulfilment_order" in systems.calls


async def test_order_not_shipped_within_the_sla_is_flagged_without_failing(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        await time_skipping.sleep(SLA + POLL)
        progress = await eventually(lambda: handle.query(OrderToCashWorkflow.progress), lambda p: p.fulfilment_late)
        attributes = (await handle.describe()).typed_search_attributes
        assert progress.stage == OrderStage.AWAITING_SHIPMENT
        assert attributes.get(sa.FULFILMENT_LATE) is True and attributes.get(sa.NEEDS_ATTENTION) is True
        systems.ship(REFERENCE, shipment(ShipmentStatus.SHIPPED))
        outcome = await handle.result()
    assert outcome.stage == OrderStage.COMPLETED


async def test_3pl_exception_parks_and_a_reroute_ships_from_another_centre(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        await tell(handle, systems, REFERENCE, shipment(ShipmentStatus.EXCEPTION, tracking=False, detail="OutOfStock"))
        await reach(handle, OrderStage.PARKED)
        progress = await handle.query(OrderToCashWorkflow.progress)
        assert progress.parked.reason == "3PL shipment S1 at Centre 1 is exception (OutOfStock)"
        await handle.execute_update(OrderToCashWorkflow.reroute, "2")
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        rerouted = "test-store:1001:p2"
        assert systems.calls[-2:] == ["cancel_fulfilment_shipment:S1", f"create_fulfilment_order:{rerouted}:2"]
        await tell(handle, systems, rerouted, shipment(ShipmentStatus.SHIPPED, shipment_id="S2", centre="2"))
        outcome = await handle.result()
    assert outcome.stage == OrderStage.COMPLETED
    assert "record_shipment_in_erp:S2" in systems.calls and "record_shipment_in_erp:S1" not in systems.calls


async def test_store_cancellation_cancels_at_the_3pl_first_then_the_erp_sale(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        await handle.signal(OrderToCashWorkflow.store_order_changed,
                            canonical_order(status=OrderStatus.CANCELLED, minutes_later=30))  # fmt: skip
        outcome = await handle.result()
    assert outcome.stage == OrderStage.CANCELLED
    assert outcome.note == "order cancelled in the store"
    assert systems.calls[-3:] == ["cancel_fulfilment_order", "cancel_sales_order",
                                  "record_cancellation_on_store_order:SO-9"]  # fmt: skip


async def test_cancel_the_3pl_cannot_stop_parks_and_keeps_the_erp_sale(time_skipping, task_queue):
    systems = FakeSystems(cancellable=False)
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        await handle.execute_update(OrderToCashWorkflow.cancel, "customer changed their mind")
        await reach(handle, OrderStage.PARKED)
        progress = await handle.query(OrderToCashWorkflow.progress)
        assert "no longer be fully cancelled" in progress.parked.reason
        await handle.execute_update(OrderToCashWorkflow.cancel, "goods ship; return later")
        outcome = await handle.result()
    assert outcome.stage == OrderStage.CANCELLED
    assert "left as they are by the operator: cancel_fulfilment_order" in outcome.note
    assert "cancel_sales_order" not in systems.calls
    assert systems.calls[-1] == "record_cancellation_on_store_order:"


async def test_out_of_order_snapshot_does_not_undo_a_newer_one(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order(minutes_later=10))
        await handle.signal(OrderToCashWorkflow.store_order_changed,
                            canonical_order(status=OrderStatus.CANCELLED, minutes_later=1))  # fmt: skip
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
    assert "cancel_sales_order" not in systems.calls


async def test_a_paid_snapshot_is_not_undone_by_an_unpaid_one_of_the_same_second(time_skipping, task_queue):
    """WooCommerce's date_modified counts whole seconds: a checkout's unpaid and paid saves can carry the same
    time, and their webhooks may arrive in either order, both before the run next wakes."""
    systems = FakeSystems()
    unpaid = canonical_order(status=OrderStatus.AWAITING_PAYMENT, minutes_later=1)
    handle = await start_run(time_skipping, task_queue, unpaid)
    await handle.signal(OrderToCashWorkflow.store_order_changed, canonical_order(minutes_later=1))
    await handle.signal(OrderToCashWorkflow.store_order_changed, unpaid)
    async with worker(time_skipping, task_queue, systems):
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        progress = await handle.query(OrderToCashWorkflow.progress)
    assert progress.store_status == "processing"
    assert systems.calls[:2] == ["ensure_customer", "create_sales_order"]


async def test_business_error_parks_until_an_operator_retries(time_skipping, task_queue):
    systems = FakeSystems(create_failures=1)
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.PARKED)
        progress = await handle.query(OrderToCashWorkflow.progress)
        assert progress.parked is not None
        assert progress.parked.step == "creating_sales_order"
        assert progress.parked.reason == "Unknown SKU 'POSTER-LTD' on line 1"
        await time_skipping.sleep(timedelta(days=30))
        assert await stage_of(handle) == OrderStage.PARKED
        await handle.execute_update(OrderToCashWorkflow.retry)
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
    assert systems.calls.count("create_sales_order") == 2


async def test_parked_order_cancelled_by_an_operator_is_undone(time_skipping, task_queue):
    systems = FakeSystems(create_failures=1)
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.PARKED)
        await handle.execute_update(OrderToCashWorkflow.cancel, "customer asked by phone")
        outcome = await handle.result()
    assert outcome.stage == OrderStage.CANCELLED
    assert outcome.note == "cancelled by operator: customer asked by phone"
    assert systems.calls[-2:] == ["cancel_sales_order", "record_cancellation_on_store_order:"]


async def test_retry_and_reroute_are_refused_when_the_order_is_not_parked(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT))
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(OrderToCashWorkflow.retry)
        with pytest.raises(WorkflowUpdateFailedError) as not_reroutable:
            await handle.execute_update(OrderToCashWorkflow.reroute, "2")
    assert "not parked" in str(refused.value.cause)
    assert "not parked" in str(not_reroutable.value.cause)


async def test_a_failed_payment_keeps_the_run_waiting_and_a_later_payment_goes_to_the_erp(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order(status=OrderStatus.AWAITING_PAYMENT))
        declined = canonical_order(status=OrderStatus.FAILED, minutes_later=1)
        await handle.signal(OrderToCashWorkflow.store_order_changed, declined)
        await time_skipping.sleep(timedelta(days=1))
        assert await stage_of(handle) == OrderStage.AWAITING_PAYMENT
        await handle.signal(OrderToCashWorkflow.store_order_changed, canonical_order(minutes_later=60))
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
    assert systems.calls[:2] == ["ensure_customer", "create_sales_order"]


async def test_news_that_arrives_while_a_shipment_is_recorded_is_not_left_for_the_next_poll(time_skipping, task_queue):
    systems = FakeSystems()
    second = FulfilmentLine(sku="MUG-CERAMIC", quantity=Decimal(1))
    order = canonical_order()
    order = order.model_copy(update={"lines": (*order.lines, order.lines[0].model_copy(
        update={"line_id": "12", "sku": "MUG-CERAMIC", "quantity": Decimal(1)}))})  # fmt: skip
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, order)
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        started = await time_skipping.get_current_time()
        tee = shipment(ShipmentStatus.SHIPPED)
        mug = shipment(ShipmentStatus.SHIPPED, shipment_id="S9").model_copy(update={"lines": (second,)})
        systems.ship(REFERENCE, tee)
        systems.recording_held = asyncio.Event()
        await handle.signal(OrderToCashWorkflow.shipment_changed, ShipmentNews(reference=REFERENCE, shipment=tee))
        await eventually(lambda: asyncio.sleep(0, systems.calls), lambda calls: "record_shipment_in_erp:S1" in calls)
        systems.ship(REFERENCE, mug)
        await handle.signal(OrderToCashWorkflow.shipment_changed, ShipmentNews(reference=REFERENCE, shipment=mug))
        systems.recording_held.set()
        outcome = await handle.result()
        finished = (await handle.describe()).close_time
    assert outcome.stage == OrderStage.COMPLETED
    assert systems.calls.count("record_shipment_in_erp:S9") == 1
    assert finished - started < POLL, "the mug's news waited for the hourly poll"


async def test_a_cancel_is_refused_once_everything_shipped_and_the_order_is_being_completed(time_skipping,
                                                                                          task_queue):
    systems = FakeSystems(invoice_failures=1)
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        systems.ship(REFERENCE, shipment(ShipmentStatus.SHIPPED))
        await handle.signal(OrderToCashWorkflow.shipment_changed,
                            ShipmentNews(reference=REFERENCE, shipment=shipment(ShipmentStatus.SHIPPED)))  # fmt: skip
        await reach(handle, OrderStage.PARKED)
        assert (await handle.query(OrderToCashWorkflow.progress)).parked.step == "invoicing"
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(OrderToCashWorkflow.cancel, "too late")
        await handle.execute_update(OrderToCashWorkflow.retry)
        outcome = await handle.result()
    assert "shipped" in str(refused.value.cause)
    assert outcome.stage == OrderStage.COMPLETED
    assert "cancel_sales_order" not in systems.calls


@pytest.mark.parametrize("centres", [["2", "2"], ["2", "1", "2"]])
async def test_a_reroute_never_reuses_a_3pl_reference(time_skipping, task_queue, centres):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        reference = REFERENCE
        for centre in centres:
            (stuck,) = systems.threepl[reference].shipments
            stuck = stuck.model_copy(update={"status": ShipmentStatus.EXCEPTION, "status_detail": "OutOfStock"})
            systems.ship(reference, stuck)
            await handle.signal(OrderToCashWorkflow.shipment_changed, ShipmentNews(reference=reference, shipment=stuck))
            await reach(handle, OrderStage.PARKED)
            await handle.execute_update(OrderToCashWorkflow.reroute, centre)
            await reach(handle, OrderStage.AWAITING_SHIPMENT)
            reference = list(systems.threepl)[-1]
    created = [call.split(":")[1:-1] for call in systems.calls if call.startswith("create_fulfilment_order:")]
    references = [":".join(parts) for parts in created]
    assert len(references) == len(centres) + 1 and len(set(references)) == len(references), references
    assert [call.rsplit(":", 1)[1] for call in systems.calls if call.startswith("create_fulfilment_order:")][1:] == centres


async def test_a_signed_event_about_a_shipment_the_3pl_does_not_have_never_reaches_the_erp(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        forged = ShipmentNews(reference=REFERENCE, shipment=shipment(ShipmentStatus.SHIPPED, shipment_id="S666"))
        await handle.signal(OrderToCashWorkflow.shipment_changed, forged)
        await eventually(lambda: asyncio.sleep(0, systems.calls), lambda calls: "get_fulfilment_order" in calls)
        progress = await handle.query(OrderToCashWorkflow.progress)
        assert progress.stage == OrderStage.AWAITING_SHIPMENT and "S666" not in progress.fulfilment.shipments
        await tell(handle, systems, REFERENCE, shipment(ShipmentStatus.SHIPPED, shipment_id="S1"))
        outcome = await handle.result()
    assert outcome.stage == OrderStage.COMPLETED
    assert [call for call in systems.calls if call.startswith("record_shipment_in_erp")] == ["record_shipment_in_erp:S1"]


@pytest.mark.parametrize("lines, reason", [
    ((FulfilmentLine(sku="NOT-ORDERED", quantity=Decimal(1)),), "NOT-ORDERED"),
    ((FulfilmentLine(sku="TEE-CLASSIC", quantity=Decimal(2000)),), "2000 × TEE-CLASSIC"),
])  # fmt: skip
async def test_a_3pl_shipment_of_what_was_not_asked_for_parks_before_the_erp(time_skipping, task_queue, lines, reason):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        odd = shipment(ShipmentStatus.SHIPPED).model_copy(update={"lines": lines})
        await tell(handle, systems, REFERENCE, odd)
        await reach(handle, OrderStage.PARKED)
        parked = (await handle.query(OrderToCashWorkflow.progress)).parked
    assert reason in parked.reason and "test-store:1001:any" in parked.reason
    assert not [call for call in systems.calls if call.startswith("record_shipment_in_erp")]


def refunded_snapshot(minutes_later: int = 20) -> Order:
    """The store order after the merchant refunded one tee (WooCommerce lists the refund on the order)."""
    return canonical_order(minutes_later=minutes_later).model_copy(
        update={"refunds": (RefundSummary(refund_id="501", amount=eur("20.00")),)})


def one_tee(status: ShipmentStatus, shipment_id: str) -> Shipment:
    return shipment(status, shipment_id=shipment_id).model_copy(
        update={"lines": (FulfilmentLine(sku="TEE-CLASSIC", name="Classic Tee", quantity=Decimal(1)),)})


async def test_a_unit_refunded_before_the_warehouse_is_asked_is_never_sent_to_it(time_skipping, task_queue):
    systems = FakeSystems()
    systems.refunded = {"TEE-CLASSIC": Decimal(1)}
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, refunded_snapshot())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        (sent,) = systems.threepl.values()
        assert [(line.sku, line.quantity) for line in sent.shipments[0].lines] == [("TEE-CLASSIC", Decimal(1))]
        await tell(handle, systems, REFERENCE, one_tee(ShipmentStatus.SHIPPED, "S1"))
        outcome = await handle.result()
    assert outcome.stage == OrderStage.COMPLETED
    assert systems.calls[-3:] == ["complete_store_order", "release_unshipped_units", "invoice_sales_order:40.00:ch_1"]


async def test_a_unit_refunded_while_at_the_warehouse_is_taken_off_its_3pl_order(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        systems.refunded = {"TEE-CLASSIC": Decimal(1)}
        await handle.signal(OrderToCashWorkflow.store_order_changed, refunded_snapshot())
        await eventually(lambda: asyncio.sleep(0, list(systems.threepl)), lambda refs: len(refs) == 2)
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        first, second = systems.threepl.values()
        assert first.status == FulfilmentOrderStatus.CANCELLED
        assert [(line.sku, line.quantity) for line in second.shipments[0].lines] == [("TEE-CLASSIC", Decimal(1))]
        await tell(handle, systems, second.reference, one_tee(ShipmentStatus.SHIPPED, second.shipments[0].shipment_id))
        outcome = await handle.result()
    assert outcome.stage == OrderStage.COMPLETED
    assert "cancel_sales_order" not in systems.calls and "release_unshipped_units" in systems.calls


async def test_a_unit_refunded_after_it_was_picked_parks_for_a_person(time_skipping, task_queue):
    systems = FakeSystems(cancellable=False)
    async with worker(time_skipping, task_queue, systems):
        handle = await start_run(time_skipping, task_queue, canonical_order())
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        systems.refunded = {"TEE-CLASSIC": Decimal(1)}
        await handle.signal(OrderToCashWorkflow.store_order_changed, refunded_snapshot())
        await reach(handle, OrderStage.PARKED)
        parked = (await handle.query(OrderToCashWorkflow.progress)).parked
    assert "refunded" in parked.reason and "1 × TEE-CLASSIC" in parked.reason
    assert len(systems.threepl) == 1


async def test_an_order_waiting_weeks_for_the_3pl_continues_as_new_and_still_ships_once(time_skipping, task_queue):
    systems = FakeSystems()
    async with worker(time_skipping, task_queue, systems):
        order = canonical_order()
        handle = await time_skipping.client.start_workflow(
            OrderToCashWorkflow.run,
            OrderRunInput(store_id=order.store_id, order_id=order.order_id, payment_window=timedelta(days=7),
                          fulfilment_sla=SLA, shipment_poll_interval=POLL, continue_as_new_after_events=200),
            id=f"order-{uuid.uuid4()}", task_queue=task_queue, start_signal="store_order_changed",
            start_signal_args=[order],
        )  # fmt: skip
        await reach(handle, OrderStage.AWAITING_SHIPMENT)
        await time_skipping.sleep(timedelta(days=21))  # a back-order: three weeks of hourly polls
        latest = time_skipping.client.get_workflow_handle_for(OrderToCashWorkflow.run, handle.id)
        assert (await latest.describe()).run_id != handle.result_run_id
        progress = await latest.query(OrderToCashWorkflow.progress)
        assert progress.stage == OrderStage.AWAITING_SHIPMENT and progress.fulfilment_late
        assert progress.erp_sale_number == "SO-9"
        await tell(latest, systems, REFERENCE, shipment(ShipmentStatus.SHIPPED))
        outcome = await latest.result()
        lengths = await history_lengths(time_skipping.client, handle.id, handle.result_run_id)
    assert outcome.stage == OrderStage.COMPLETED and outcome.erp_sale_number == "SO-9"
    assert len(lengths) > 3 and max(lengths) < 400, lengths
    assert systems.calls.count("create_sales_order") == 1 and systems.calls.count("create_fulfilment_order:"
                                                                                  f"{REFERENCE}:None") == 1
    assert systems.calls.count("record_shipment_in_erp:S1") == 1 and systems.calls[-1] == "invoice_sales_order:40.00:ch_1"


async def history_lengths(client, workflow_id: str, run_id: str) -> list[int]:
    """Events per run, following the chain of continue-as-new from the first run."""
    lengths = []
    while run_id:
        events = (await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()).events
        lengths.append(len(events))
        last = events[-1]
        run_id = (last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                  if last.HasField("workflow_execution_continued_as_new_event_attributes") else "")  # fmt: skip
    return lengths
