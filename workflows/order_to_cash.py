"""Order-to-cash for one store order.

paid store order → ERP customer → confirmed ERP sale → sale number on the store order →
3PL order(s) routed to fulfilment centres → each shipment marked in the ERP and noted on
the store order with its tracking → store order completed → ERP invoice posted and paid.

A business error parks the run until an operator retries (or reroutes a stuck shipment)
or cancels; a cancellation (store or operator) undoes what was done, newest first.
"""
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.steps import failure_reason, step_options

with workflow.unsafe.imports_passed_through():
    from activities.fulfilment import FulfilmentActivities, InvoiceRequest, ShipmentOfOrder
    from activities.orders import (
        CancellationOnStoreOrder,
        OrderActivities,
        OrderRef,
        SaleOnStoreOrder,
        SalesOrderRequest,
    )
    from canonical import Order
    from canonical.fulfilment import FulfilmentLine, FulfilmentRequest, Shipment, ShipmentStatus
    from canonical.keys import fulfilment_reference
    from workflows import search_attributes as sa
    from workflows.fulfilment_progress import FulfilmentProgress
    from workflows.order_messages import (
        OrderOutcome,
        OrderProgress,
        OrderRunInput,
        OrderStage,
        ParkedStep,
        ShipmentNews,
    )

T = TypeVar("T")

STORE_CALL_TIMEOUT = timedelta(seconds=90)
ERP_CALL_TIMEOUT = timedelta(minutes=3)
THREEPL_CALL_TIMEOUT = timedelta(seconds=90)


class _Decision(Enum):
    RETRY = "retry"
    STOP = "stop"
    SKIP = "skip"
    REROUTE = "reroute"


class _StopProcessing(Exception):
    """A cancellation arrived: stop going forward and undo what was done."""


@workflow.defn
class OrderToCashWorkflow:
    def __init__(self) -> None:
        self._run: OrderRunInput | None = None
        self._order: Order | None = None
        self._stage = OrderStage.AWAITING_PAYMENT
        self._parked: ParkedStep | None = None
        self._retry_requested = False
        self._skip_requested = False
        self._reroute_to = ""
        self._compensating = False
        self._cancel_reason = ""
        self._steps_done: list[str] = []
        self._sale_number = ""
        self._compensations: list[tuple[str, Callable[[], Awaitable[object]], bool]] = []
        self._fulfilment: FulfilmentProgress | None = None
        self._shipment_news = False
        self._late = False

    @workflow.run
    async def run(self, run: OrderRunInput) -> OrderOutcome:
        self._run = run
        await workflow.wait_condition(lambda: self._order is not None)
        self._publish_identity()
        try:
            if not await self._payment_received(run.payment_window):
                self._enter(OrderStage.PAYMENT_EXPIRED)
                return self._outcome(f"not paid within {run.payment_window}")
            await self._create_erp_sale()
            await self._fulfil()
            await self._close_the_sale()
        except _StopProcessing:
            note = await self._undo_completed_steps()
            self._enter(OrderStage.CANCELLED)
            return self._outcome(f"{self._cancel_reason}{note}")
        return self._outcome("")

    # -- the business process -------------------------------------------------

    async def _payment_received(self, window: timedelta) -> bool:
        self._enter(OrderStage.AWAITING_PAYMENT)
        try:
            await workflow.wait_condition(
                lambda: self._current.is_paid or bool(self._cancel_reason),
                timeout=window,
                timeout_summary="payment window",
            )
        except TimeoutError:
            return False
        self._stop_if_cancelled()
        return True

    async def _create_erp_sale(self) -> None:
        customer = await self._step(
            OrderStage.ENSURING_CUSTOMER,
            lambda: workflow.execute_activity_method(
                OrderActivities.ensure_customer, self._current, **_erp_call("Find or create the ERP customer")
            ),
        )
        self._on_cancel("cancel_sales_order", self._cancel_sales_order, only_if_later_steps_undone=True)
        sale = await self._step(
            OrderStage.CREATING_SALES_ORDER,
            lambda: workflow.execute_activity_method(
                OrderActivities.create_sales_order,
                SalesOrderRequest(order=self._current, customer=customer),
                **_erp_call("Create and confirm the ERP sale"),
            ),
        )
        self._sale_number = sale.number
        workflow.upsert_search_attributes([sa.ERP_SALE_NUMBER.value_set(sa.keyword(sale.number))])
        await self._step(
            OrderStage.RECORDING_SALE_ON_STORE,
            lambda: workflow.execute_activity_method(
                OrderActivities.record_sale_on_store_order,
                SaleOnStoreOrder(store_id=self._store_id, order_id=self._order_id, sale_number=sale.number),
                **_store_call("Write the ERP sale number on the store order"),
            ),
        )

    async def _fulfil(self) -> None:
        """Send the lines to the warehouse(s), then follow every shipment until all of them left."""
        plan = await self._step(
            OrderStage.PLANNING_FULFILMENT,
            lambda: workflow.execute_activity_method(
                FulfilmentActivities.plan_fulfilment, self._current, **_threepl_call("Route lines to centres")
            ),
        )
        self._fulfilment = FulfilmentProgress.for_lines(
            [FulfilmentLine(sku=line.sku or "", quantity=line.quantity) for line in self._current.lines]
        )
        for request in plan:
            await self._send_to_warehouse(request)
        sla_due = workflow.now() + self._input.fulfilment_sla
        while True:
            await self._record_shipments()
            if self._fulfilment.everything_shipped and self._fulfilment.everything_recorded:
                return
            stuck = self._fulfilment.needing_decision()
            if stuck:
                await self._decide_on(stuck[0])
            else:
                await self._await_shipment_news(sla_due)

    async def _send_to_warehouse(self, request: FulfilmentRequest) -> None:
        self._progress.requested(request)
        self._on_cancel(f"cancel_fulfilment_order {request.reference}", lambda: self._cancel_at_3pl(request.reference))
        order = await self._step(
            OrderStage.CREATING_FULFILMENT_ORDER,
            lambda: workflow.execute_activity_method(
                FulfilmentActivities.create_fulfilment_order,
                request,
                **_threepl_call(f"Ask centre {request.center_id or '(3PL choice)'} to ship"),
            ),
        )
        self._progress.apply_order(order)

    async def _await_shipment_news(self, sla_due) -> None:
        """Wait for a webhook; if none comes within the poll interval, ask the 3PL (a webhook may be lost)."""
        self._enter(OrderStage.AWAITING_SHIPMENT)
        self._shipment_news = False
        wait = self._input.shipment_poll_interval
        if not self._late and sla_due > workflow.now():
            wait = min(wait, sla_due - workflow.now())
        try:
            await workflow.wait_condition(
                lambda: self._shipment_news or bool(self._cancel_reason), timeout=wait, timeout_summary="3PL poll"
            )
        except TimeoutError:
            await self._poll_3pl()
            if not self._late and workflow.now() >= sla_due and not self._progress.everything_shipped:
                self._late = True
                self._enter(OrderStage.AWAITING_SHIPMENT)
        self._stop_if_cancelled()

    async def _poll_3pl(self) -> None:
        for reference in list(self._progress.requests):
            order = await self._step(
                OrderStage.AWAITING_SHIPMENT,
                lambda: workflow.execute_activity_method(
                    FulfilmentActivities.get_fulfilment_order, reference, **_threepl_call("Poll the 3PL order")
                ),
                name=f"poll {reference}",
                quiet=True,
            )
            self._progress.apply_order(order)

    async def _record_shipments(self) -> None:
        """Each shipment that left: its quantities in the ERP, then a tracking note the customer sees."""
        for shipment in self._progress.to_record_in_erp():
            await self._step(
                OrderStage.RECORDING_SHIPMENT,
                lambda: workflow.execute_activity_method(
                    FulfilmentActivities.record_shipment_in_erp,
                    self._shipment_of_order(shipment),
                    **_erp_call(f"Mark shipment {shipment.shipment_id} shipped in the ERP"),
                ),
                name=f"record shipment {shipment.shipment_id} in ERP",
            )
            self._progress.recorded_in_erp.append(shipment.shipment_id)
        for shipment in self._progress.to_note_on_store():
            await self._step(
                OrderStage.RECORDING_SHIPMENT,
                lambda: workflow.execute_activity_method(
                    FulfilmentActivities.record_shipment_on_store_order,
                    self._shipment_of_order(shipment),
                    **_store_call(f"Tell the customer: shipment {shipment.shipment_id} tracking"),
                ),
                name=f"note shipment {shipment.shipment_id} on store order",
            )
            self._progress.noted_on_store.append(shipment.shipment_id)

    async def _decide_on(self, stuck: Shipment) -> None:
        """A shipment the 3PL cannot ship (stock, address): an operator retries, reroutes or cancels."""
        reference = self._progress.shipment_reference[stuck.shipment_id]
        centre = stuck.center_name or stuck.center_id
        detail = f" ({stuck.status_detail})" if stuck.status_detail else ""
        reason = f"3PL shipment {stuck.shipment_id} at {centre} is {stuck.status.value}{detail}"
        decision = await self._park(f"fulfilment {reference}", reason)
        if decision is _Decision.STOP:
            raise _StopProcessing()
        if decision is _Decision.REROUTE:
            await self._reroute(stuck, self._reroute_to)
        else:
            await self._poll_3pl()

    async def _reroute(self, stuck: Shipment, centre: str) -> None:
        lines = self._progress.lines_to_reroute(stuck)
        await self._step(
            OrderStage.REROUTING,
            lambda: workflow.execute_activity_method(
                FulfilmentActivities.cancel_fulfilment_shipment,
                stuck.shipment_id,
                **_threepl_call(f"Cancel stuck shipment {stuck.shipment_id}"),
            ),
        )
        reference = self._progress.shipment_reference[stuck.shipment_id]
        self._progress.apply(reference, stuck.model_copy(update={"status": ShipmentStatus.CANCELLED}))
        attempt = sum(1 for ref in self._progress.requests if ref.startswith(f"{reference}>"))
        request = self._progress.requests[reference].model_copy(
            update={
                "reference": fulfilment_reference(self._store_id, self._order_id, f"{centre}>{attempt + 1}"),
                "center_id": centre,
                "lines": tuple(lines),
            }
        )
        await self._send_to_warehouse(request)

    async def _close_the_sale(self) -> None:
        order = self._current
        await self._step(
            OrderStage.COMPLETING_STORE_ORDER,
            lambda: workflow.execute_activity_method(
                FulfilmentActivities.complete_store_order,
                OrderRef(store_id=self._store_id, order_id=self._order_id),
                **_store_call("Mark the store order completed"),
            ),
        )
        await self._step(
            OrderStage.INVOICING,
            lambda: workflow.execute_activity_method(
                FulfilmentActivities.invoice_sales_order,
                InvoiceRequest(store_id=self._store_id, order_id=self._order_id, payment=order.payment,
                               amount=order.total),  # fmt: skip
                **_erp_call("Post the ERP invoice and record the store's payment"),
            ),
        )
        self._enter(OrderStage.COMPLETED)

    # -- undoing --------------------------------------------------------------

    async def _cancel_sales_order(self) -> object:
        return await workflow.execute_activity_method(
            OrderActivities.cancel_sales_order,
            OrderRef(store_id=self._store_id, order_id=self._order_id),
            **_erp_call("Cancel the ERP sale"),
        )

    async def _cancel_at_3pl(self, reference: str) -> object:
        return await workflow.execute_activity_method(
            FulfilmentActivities.cancel_fulfilment_order, reference, **_threepl_call(f"Cancel 3PL order {reference}")
        )

    async def _undo_completed_steps(self) -> str:
        """Newest first. An operator may give up on an undo step the other system refuses (goods already
        picked); then a step that needs it undone stays too: goods that ship keep their ERP sale.
        Returns a note on what was left as it is."""
        self._compensating = True
        left: list[str] = []
        for name, undo, only_if_later_steps_undone in reversed(self._compensations):
            if (only_if_later_steps_undone and left) or await self._step(
                OrderStage.CANCELLING, undo, name=name
            ) is _SKIPPED:
                left.append(name)
        await self._step(
            OrderStage.CANCELLING,
            lambda: workflow.execute_activity_method(
                OrderActivities.record_cancellation_on_store_order,
                CancellationOnStoreOrder(
                    store_id=self._store_id,
                    order_id=self._order_id,
                    reason=self._cancel_reason,
                    sale_number="" if "cancel_sales_order" in left else self._sale_number,
                ),
                **_store_call("Note the cancellation on the store order"),
            ),
            name="record_cancellation_on_store_order",
        )
        return f"; left as they are by the operator: {', '.join(left)}" if left else ""

    # -- steps, parking and compensation --------------------------------------

    def _on_cancel(
        self, name: str, undo: Callable[[], Awaitable[object]], *, only_if_later_steps_undone: bool = False
    ) -> None:
        """Register an undo before the step it undoes: its outcome may be unknown after a lost response."""
        self._compensations.append((name, undo, only_if_later_steps_undone))

    async def _step(
        self, stage: OrderStage, call: Callable[[], Awaitable[T]], *, name: str = "", quiet: bool = False
    ) -> T:
        """Run one step; on failure park until an operator retries, or a cancellation stops the run.

        While undoing, an operator may instead give up on the step: it then returns `_SKIPPED`.
        """
        name = name or stage.value
        while True:
            if not self._compensating:
                self._stop_if_cancelled()
            if not quiet:
                self._enter(stage)
            try:
                result = await call()
            except ActivityError as err:
                decision = await self._park(name, failure_reason(err))
                if decision is _Decision.STOP:
                    raise _StopProcessing() from None
                if decision is _Decision.SKIP:
                    self._steps_done.append(f"{name} (left by operator)")
                    return _SKIPPED  # type: ignore[return-value]
                continue
            if not quiet:
                self._steps_done.append(name)
            return result

    async def _park(self, step: str, reason: str) -> _Decision:
        self._parked = ParkedStep(step=step, reason=reason)
        self._retry_requested = self._skip_requested = False
        self._reroute_to = ""
        self._enter(OrderStage.PARKED)
        workflow.logger.warning("Order %s/%s parked at %s: %s", self._store_id, self._order_id, step, reason)
        await workflow.wait_condition(
            lambda: self._retry_requested
            or self._skip_requested
            or bool(self._reroute_to)
            or (bool(self._cancel_reason) and not self._compensating)
        )
        self._parked = None
        if self._retry_requested:
            return _Decision.RETRY
        if self._reroute_to:
            return _Decision.REROUTE
        return _Decision.SKIP if self._skip_requested else _Decision.STOP

    def _stop_if_cancelled(self) -> None:
        if self._cancel_reason:
            raise _StopProcessing()

    # -- messages from the store, the 3PL and operators -----------------------

    @workflow.signal
    def store_order_changed(self, order: Order) -> None:
        """A newer snapshot of the store order (webhook or intake). Older, out-of-order snapshots are ignored."""
        if self._order is not None and order.modified_at < self._order.modified_at:
            return
        self._order = order
        if order.is_cancelled and not self._cancel_reason:
            self._cancel_reason = f"order {order.store_status} in the store"

    @workflow.signal
    def shipment_changed(self, news: ShipmentNews) -> None:
        """A 3PL webhook; duplicates and stale news change nothing."""
        if self._fulfilment is not None and self._fulfilment.apply(news.reference, news.shipment):
            self._shipment_news = True

    @workflow.update
    def retry(self) -> str:
        self._retry_requested = True
        return f"retrying {self._parked.step if self._parked else ''}"

    @retry.validator
    def _validate_retry(self) -> None:
        self._must_be_parked()

    @workflow.update
    def reroute(self, centre: str) -> str:
        self._reroute_to = centre
        return f"rerouting to centre {centre}"

    @reroute.validator
    def _validate_reroute(self, centre: str) -> None:
        self._must_be_parked()
        assert self._parked is not None
        if not self._parked.step.startswith("fulfilment ") or self._compensating:
            raise ApplicationError("only a stuck 3PL shipment can be rerouted", type="NotReroutable")
        if not centre:
            raise ApplicationError("name the fulfilment centre to reroute to", type="NotReroutable")

    @workflow.update
    def cancel(self, reason: str) -> str:
        if self._compensating:
            self._skip_requested = True
            return f"leaving {self._parked.step if self._parked else ''} as it is; the ERP sale stays for what ships"
        self._cancel_reason = f"cancelled by operator: {reason}" if reason else "cancelled by operator"
        return "cancelling: completed steps will be undone"

    @cancel.validator
    def _validate_cancel(self, reason: str) -> None:
        if self._stage in (OrderStage.CANCELLED, OrderStage.PAYMENT_EXPIRED, OrderStage.COMPLETED):
            raise ApplicationError(f"order run already finished ({self._stage.value})", type="AlreadyFinished")
        if self._compensating and self._stage != OrderStage.PARKED:
            raise ApplicationError("order is already being cancelled", type="AlreadyCancelling")

    @workflow.query
    def progress(self) -> OrderProgress:
        order = self._order
        return OrderProgress(
            store_id=self._store_id,
            order_id=self._order_id,
            order_number=order.number if order else "",
            store_status=order.store_status if order else "",
            stage=self._stage,
            erp_sale_number=self._sale_number,
            parked=self._parked,
            steps_done=list(self._steps_done),
            cancel_reason=self._cancel_reason,
            fulfilment_late=self._late,
            fulfilment=self._fulfilment,
        )

    @workflow.query
    def unacknowledged_units(self) -> dict[str, Decimal]:
        """SKU → units the store took off its stock for this order while the ERP has no sale for it yet.
        Available-to-sell subtracts them, so a stock push the ERP computed before it saw this order
        cannot re-inflate the store (the oversell race)."""
        order = self._order
        units: dict[str, Decimal] = {}
        if order is None or self._sale_number or not order.holds_stock:
            return units
        for line in order.lines:
            if line.sku:
                units[line.sku] = units.get(line.sku, Decimal(0)) + line.quantity
        return units

    def _must_be_parked(self) -> None:
        if self._stage != OrderStage.PARKED:
            raise ApplicationError(f"order is not parked (stage: {self._stage.value})", type="NotParked")

    # -- state and visibility -------------------------------------------------

    @property
    def _input(self) -> OrderRunInput:
        assert self._run is not None
        return self._run

    @property
    def _store_id(self) -> str:
        return self._input.store_id

    @property
    def _order_id(self) -> str:
        return self._input.order_id

    @property
    def _current(self) -> Order:
        assert self._order is not None
        return self._order

    @property
    def _progress(self) -> FulfilmentProgress:
        assert self._fulfilment is not None
        return self._fulfilment

    def _shipment_of_order(self, shipment: Shipment) -> ShipmentOfOrder:
        return ShipmentOfOrder(store_id=self._store_id, order_id=self._order_id, shipment=shipment)

    def _publish_identity(self) -> None:
        workflow.upsert_search_attributes(
            [
                sa.STORE_ID.value_set(sa.keyword(self._store_id)),
                sa.ORDER_ID.value_set(sa.keyword(self._order_id)),
                sa.ORDER_NUMBER.value_set(sa.keyword(self._current.number)),
            ]
        )

    def _enter(self, stage: OrderStage) -> None:
        self._stage = stage
        parked = stage == OrderStage.PARKED and self._parked is not None
        workflow.upsert_search_attributes(
            [
                sa.ORDER_STAGE.value_set(stage.value),
                sa.NEEDS_ATTENTION.value_set(parked or (self._late and stage != OrderStage.COMPLETED)),
                sa.PARKED_REASON.value_set(sa.text(self._parked.reason)) if parked else sa.PARKED_REASON.value_unset(),
                sa.FULFILMENT_LATE.value_set(self._late),
            ]
        )
        workflow.set_current_details(self._details())

    def _details(self) -> str:
        ref = f"{self._store_id} {self._order_id}"
        order = f"Order #{self._order.number if self._order else self._order_id} ({self._store_id})"
        if self._stage == OrderStage.PARKED and self._parked:
            if self._compensating:
                choices = f"or `retail-sync orders cancel {ref}` to leave it as it is (the ERP sale then stays)"
            elif self._parked.step.startswith("fulfilment "):
                choices = (f"`retail-sync orders reroute {ref} --center ID` to ship from another centre, "
                           f"or `retail-sync orders cancel {ref}`")  # fmt: skip
            else:
                choices = f"or `retail-sync orders cancel {ref}` to cancel the order"
            return (
                f"**Parked** at `{self._parked.step}`: {self._parked.reason}\n\n"
                f"Fix the data, then `retail-sync orders retry {ref}`; {choices}."
            )
        late = f"\n\n**Late**: not fully shipped within {self._input.fulfilment_sla}." if self._late else ""
        texts = {
            OrderStage.AWAITING_PAYMENT: f"{order} waits for payment (store status "
            f"`{self._order.store_status if self._order else ''}`).",
            OrderStage.AWAITING_SHIPMENT: f"{order}: ERP sale **{self._sale_number}**. Waiting for the 3PL to ship "
            f"(webhooks, or a poll every {self._input.shipment_poll_interval}); a store cancellation cancels at "
            "the 3PL first, then the ERP sale.",
            OrderStage.CANCELLING: f"{order} is being cancelled: {self._cancel_reason}",
            OrderStage.CANCELLED: f"{order} cancelled: {self._cancel_reason}",
            OrderStage.PAYMENT_EXPIRED: f"{order} was not paid in time; closed.",
            OrderStage.COMPLETED: f"{order} shipped, completed in the store, invoiced and paid in the ERP.",
        }
        return texts.get(self._stage, f"{order}: {self._stage.value.replace('_', ' ')}.") + late

    def _outcome(self, note: str) -> OrderOutcome:
        return OrderOutcome(stage=self._stage, erp_sale_number=self._sale_number, note=note)


_SKIPPED = object()


def _erp_call(summary: str) -> dict:
    return step_options(summary, ERP_CALL_TIMEOUT)


def _store_call(summary: str) -> dict:
    return step_options(summary, STORE_CALL_TIMEOUT)


def _threepl_call(summary: str) -> dict:
    return step_options(summary, THREEPL_CALL_TIMEOUT)
