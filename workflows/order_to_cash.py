"""Order-to-cash for one store order.

paid store order → ERP customer → confirmed ERP sale → sale number on the store order →
3PL order(s) routed to fulfilment centres → each shipment marked in the ERP and noted on
the store order with its tracking → store order completed → ERP invoice posted and paid.

A business error parks the run until an operator retries (or reroutes a stuck shipment)
or cancels; a cancellation (store or operator) undoes what was done, newest first
(`workflows/steps.py`). 3PL webhooks only say which 3PL order to read again; units refunded
before they ship are taken off; a run waiting weeks for the 3PL continues as new.
"""
from datetime import datetime, timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ApplicationError

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
    from canonical.available_to_sell import units_taken_from_store
    from canonical.fulfilment import FulfilmentRequest, Shipment, ShipmentStatus
    from canonical.keys import fulfilment_reference
    from workflows import search_attributes as sa
    from workflows import versions
    from workflows.fulfilment_progress import FulfilmentProgress
    from workflows.order_messages import (
        OrderOutcome,
        OrderProgress,
        OrderRunInput,
        OrderRunState,
        OrderStage,
        ShipmentNews,
    )
    from workflows.records import MEMO_KEY, OrderRecord, order_record
    from workflows.steps import CANCEL, RETRY, Steps, Stop, erp_step_options, step_options

REROUTE = "reroute"
RESTING_STAGES = {OrderStage.AWAITING_PAYMENT, OrderStage.AWAITING_SHIPMENT, OrderStage.PARKED, OrderStage.COMPLETED,
                  OrderStage.CANCELLED, OrderStage.PAYMENT_EXPIRED}  # fmt: skip
STORE_CALL_TIMEOUT = timedelta(seconds=90)
THREEPL_CALL_TIMEOUT = timedelta(seconds=90)


@workflow.defn
class OrderToCashWorkflow:
    def __init__(self) -> None:
        self._run: OrderRunInput | None = None
        self._order: Order | None = None
        self._stage = OrderStage.AWAITING_PAYMENT
        self._steps = Steps(self._enter, OrderStage.PARKED)
        self._sale_number = ""
        self._invoice_number = ""
        self._published: OrderRecord | None = None  # what the memo says
        self._fulfilment: FulfilmentProgress | None = None
        self._shipment_news = False
        self._news_is_a_hint = False
        self._hinted: set[str] = set()  # 3PL orders a webhook said changed, to read from the 3PL
        self._refunds_stop_shipping = False
        self._refunds_read: set[str] = set()  # the store refunds `_refunded` counts
        self._refunded: dict[str, Decimal] = {}  # SKU → units the store refunded
        self._late = False

    @workflow.run
    async def run(self, run: OrderRunInput) -> OrderOutcome:
        self._run = run
        if run.resume is not None:
            self._resume(run.resume)
        await workflow.wait_condition(lambda: self._order is not None)
        self._publish_identity()
        try:
            if run.resume is None:
                if not await self._payment_received(run.payment_window):
                    self._enter(OrderStage.PAYMENT_EXPIRED)
                    return self._outcome(f"not paid within {run.payment_window}")
                await self._create_erp_sale()
                await self._send_to_fulfilment()
            await self._follow_shipments(run.resume.sla_due if run.resume else workflow.now() + run.fulfilment_sla)
            await self._close_the_sale()
        except Stop:
            note = await self._undo_completed_steps()
            self._enter(OrderStage.CANCELLED)
            return self._outcome(f"{self._steps.cancel_reason}{note}")
        return self._outcome("")

    # -- the business process -------------------------------------------------

    async def _payment_received(self, window: timedelta) -> bool:
        self._enter(OrderStage.AWAITING_PAYMENT)
        try:
            await workflow.wait_condition(
                lambda: self._current.is_paid or self._steps.cancelled,
                timeout=window,
                timeout_summary="payment window",
            )
        except TimeoutError:
            return False
        self._steps.stop_if_cancelled()
        return True

    async def _create_erp_sale(self) -> None:
        customer = await self._step(
            OrderStage.ENSURING_CUSTOMER,
            lambda: workflow.execute_activity_method(
                OrderActivities.ensure_customer, self._current, **_erp_call("Find or create the ERP customer")
            ),
        )
        self._steps.on_cancel("cancel_sales_order", self._cancel_sales_order, only_if_later_steps_undone=True)
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

    async def _send_to_fulfilment(self) -> None:
        """Route what is still owed to the warehouse(s) and ask each to ship its part."""
        self._news_is_a_hint = workflow.patched(versions.SHIPMENT_NEWS_IS_A_HINT)
        self._refunds_stop_shipping = workflow.patched(versions.REFUNDS_STOP_SHIPPING)
        to_ship = self._current
        if self._refunds_changed:
            await self._read_refunds()
            to_ship = to_ship.without(self._refunded)
        plan = await self._step(
            OrderStage.PLANNING_FULFILMENT,
            lambda: workflow.execute_activity_method(
                FulfilmentActivities.plan_fulfilment, to_ship, **_threepl_call("Route lines to centres")
            ),
        )
        self._fulfilment = FulfilmentProgress.for_lines([line for request in plan for line in request.lines])
        for request in plan:
            await self._send_to_warehouse(request)

    async def _follow_shipments(self, sla_due: datetime) -> None:
        """Record every shipment that leaves until all of them left; decide on the stuck ones."""
        while True:
            self._shipment_news = False  # news from here on wakes the wait below
            if self._refunds_changed:
                await self._take_refunded_units_off()
            await self._read_what_changed()
            await self._record_shipments()
            if self._fulfilment.everything_shipped and self._fulfilment.everything_recorded:
                return
            stuck = self._fulfilment.needing_decision()
            if self._fulfilment.implausible:
                await self._question_implausible()
            elif stuck:
                await self._decide_on(stuck[0])
            elif self._history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._input.model_copy(update={"resume": self._carried(sla_due)}))
            else:
                await self._await_shipment_news(sla_due)

    def _history_is_long(self) -> bool:
        """Weeks of hourly polls (a back-order) would grow the history past what replays quickly."""
        info = workflow.info()
        too_long = info.get_current_history_length() > self._input.continue_as_new_after_events
        return (too_long or info.is_continue_as_new_suggested()) and workflow.patched(
            versions.LONG_WAITS_CONTINUE_AS_NEW
        )

    def _carried(self, sla_due: datetime) -> OrderRunState:
        return OrderRunState(
            order=self._current, sale_number=self._sale_number, fulfilment=self._progress, sla_due=sla_due,
            late=self._late, steps_done=self._steps.done, news_is_a_hint=self._news_is_a_hint,
            hinted=sorted(self._hinted), refunds_stop_shipping=self._refunds_stop_shipping,
            refunds_read=sorted(self._refunds_read), refunded=self._refunded,
        )  # fmt: skip

    def _resume(self, state: OrderRunState) -> None:
        """Pick up where the previous run continued as new: its facts, and the undos of what it did."""
        self._order, self._sale_number, self._fulfilment = state.order, state.sale_number, state.fulfilment
        self._late, self._steps.done = state.late, list(state.steps_done)
        self._news_is_a_hint, self._hinted = state.news_is_a_hint, set(state.hinted)
        self._refunds_stop_shipping, self._refunds_read = state.refunds_stop_shipping, set(state.refunds_read)
        self._refunded = dict(state.refunded)
        self._steps.on_cancel("cancel_sales_order", self._cancel_sales_order, only_if_later_steps_undone=True)
        for reference in state.fulfilment.requests:
            self._steps.on_cancel(f"cancel_fulfilment_order {reference}",
                                  lambda reference=reference: self._cancel_at_3pl(reference))  # fmt: skip

    async def _send_to_warehouse(self, request: FulfilmentRequest) -> None:
        self._progress.requested(request)
        self._steps.on_cancel(f"cancel_fulfilment_order {request.reference}",
                              lambda: self._cancel_at_3pl(request.reference))  # fmt: skip
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
        if not workflow.patched(versions.NEWS_DURING_RECORDING_WAKES):
            self._shipment_news = False
        wait = self._input.shipment_poll_interval
        if not self._late and sla_due > workflow.now():
            wait = min(wait, sla_due - workflow.now())
        try:
            await workflow.wait_condition(
                lambda: self._shipment_news or self._steps.cancelled or self._refunds_changed,
                timeout=wait,
                timeout_summary="3PL poll",
            )
        except TimeoutError:
            await self._poll_3pl()
            if not self._late and workflow.now() >= sla_due and not self._progress.everything_shipped:
                self._late = True
                self._enter(OrderStage.AWAITING_SHIPMENT)
        self._steps.stop_if_cancelled()

    async def _poll_3pl(self, references: list[str] | None = None) -> None:
        for reference in list(self._progress.requests) if references is None else references:
            order = await self._step(
                OrderStage.AWAITING_SHIPMENT,
                lambda: workflow.execute_activity_method(
                    FulfilmentActivities.get_fulfilment_order, reference, **_threepl_call("Poll the 3PL order")
                ),
                name=f"poll {reference}",
                quiet=True,
            )
            self._progress.apply_order(order)

    async def _read_refunds(self) -> dict[str, Decimal]:
        """SKU → units refunded since the last read (the store's refunds are read, not the webhook's copy)."""
        self._refunds_read = self._refund_ids
        refunded = await self._step(
            OrderStage.PLANNING_FULFILMENT if self._fulfilment is None else OrderStage.AWAITING_SHIPMENT,
            lambda: workflow.execute_activity_method(
                OrderActivities.read_refunded_units, self._order_ref, **_store_call("Read the store's refunds")
            ),
            name="read refunds",
            quiet=True,
        )
        more = {sku: units - self._refunded.get(sku, Decimal(0)) for sku, units in refunded.items()}
        self._refunded = refunded
        return {sku: units for sku, units in more.items() if units > 0}

    async def _take_refunded_units_off(self) -> None:
        """Units refunded while their 3PL order still waits are taken off it: that 3PL order is cancelled and
        what else it held goes out again as a new part. Units already picked park for a person."""
        for reference, cut in self._progress.owe_less(await self._read_refunds()).items():
            request = self._progress.requests[reference]
            units = ", ".join(f"{quantity:g} × {sku}" for sku, quantity in sorted(cut.items()))
            await self._steps.run(
                OrderStage.REROUTING,
                lambda: self._cancel_at_3pl(reference),
                name=f"take refunded units off {reference}",
                why=lambda reason: f"{units} refunded in the store, but 3PL order {reference} cannot drop them: "
                f"{reason}. Stop them at the warehouse, then retry; or cancel the order",
            )
            left = {sku: quantity - cut.get(sku, Decimal(0)) for sku, quantity in
                    self._progress.waiting_at(reference).items()}  # fmt: skip
            self._progress.withdraw(reference)
            lines = tuple(line.model_copy(update={"quantity": left[line.sku]}) for line in request.lines
                          if left.get(line.sku, Decimal(0)) > 0)  # fmt: skip
            if lines:
                part = fulfilment_reference(self._store_id, self._order_id, len(self._progress.requests) + 1)
                await self._send_to_warehouse(request.model_copy(update={"reference": part, "lines": lines}))

    async def _read_what_changed(self) -> None:
        """Webhooks are hints: read the 3PL orders they named from the 3PL itself."""
        hinted, self._hinted = sorted(self._hinted), set()
        await self._poll_3pl(hinted)

    async def _question_implausible(self) -> None:
        """The 3PL reports shipping what was not asked for: a person checks with the 3PL, then retries
        (the 3PL is read again) or cancels the order."""
        shipment_id, reason = next(iter(sorted(self._progress.implausible.items())))
        decision = await self._steps.park(f"3PL shipment {shipment_id}", reason)
        if decision.kind == CANCEL:
            raise Stop()
        self._progress.implausible.pop(shipment_id, None)
        await self._poll_3pl()

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
        decision = await self._steps.park(f"fulfilment {reference}", reason)
        if decision.kind == CANCEL:
            raise Stop()
        if decision.kind == REROUTE:
            await self._reroute(stuck, decision.value)
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
        request = self._progress.requests[reference].model_copy(
            update={
                "reference": fulfilment_reference(self._store_id, self._order_id, len(self._progress.requests) + 1),
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
                self._order_ref,
                **_store_call("Mark the store order completed"),
            ),
        )
        if any(self._refunded.values()):
            await self._step(
                OrderStage.INVOICING,
                lambda: workflow.execute_activity_method(
                    FulfilmentActivities.release_unshipped_units, self._order_ref,
                    **_erp_call("Release what the ERP still holds for refunded units"),
                ),  # fmt: skip
            )
        invoice = await self._step(
            OrderStage.INVOICING,
            lambda: workflow.execute_activity_method(
                FulfilmentActivities.invoice_sales_order,
                InvoiceRequest(store_id=self._store_id, order_id=self._order_id, payment=order.payment,
                               amount=order.total),  # fmt: skip
                **_erp_call("Post the ERP invoice and record the store's payment"),
            ),
        )
        self._invoice_number = invoice.number
        self._enter(OrderStage.COMPLETED)

    # -- undoing --------------------------------------------------------------

    async def _cancel_sales_order(self) -> object:
        return await workflow.execute_activity_method(
            OrderActivities.cancel_sales_order,
            self._order_ref,
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
        left = await self._steps.undo(OrderStage.CANCELLING)
        await self._step(
            OrderStage.CANCELLING,
            lambda: workflow.execute_activity_method(
                OrderActivities.record_cancellation_on_store_order,
                CancellationOnStoreOrder(
                    store_id=self._store_id,
                    order_id=self._order_id,
                    reason=self._steps.cancel_reason,
                    sale_number="" if "cancel_sales_order" in left else self._sale_number,
                ),
                **_store_call("Note the cancellation on the store order"),
            ),
            name="record_cancellation_on_store_order",
        )
        return f"; left as they are by the operator: {', '.join(left)}" if left else ""

    def _step(self, stage: OrderStage, call, *, name: str = "", quiet: bool = False):
        return self._steps.run(stage, call, name=name, quiet=quiet)

    # -- messages from the store, the 3PL and operators -----------------------

    @workflow.signal
    def store_order_changed(self, order: Order) -> None:
        """A newer snapshot of the store order (webhook or intake). Older, out-of-order snapshots are ignored."""
        if self._order is not None:
            if workflow.patched(versions.SAME_SECOND_SNAPSHOTS_BY_PROGRESS):
                if order.is_older_than(self._order):
                    return
            elif order.modified_at < self._order.modified_at:
                return
        self._order = order
        if order.is_cancelled and not self._steps.cancelled:
            self._steps.cancel_reason = f"order {order.store_status} in the store"

    @workflow.signal
    def shipment_changed(self, news: ShipmentNews) -> None:
        """A 3PL webhook: which of our 3PL orders changed (duplicates and stale news change nothing)."""
        if self._fulfilment is None or news.reference not in self._fulfilment.requests:
            return
        if self._news_is_a_hint:
            self._hinted.add(news.reference)
            self._shipment_news = True
        elif self._fulfilment.apply(news.reference, news.shipment):
            self._shipment_news = True

    @workflow.update
    def retry(self) -> str:
        step = self._steps.parked.step if self._steps.parked else ""
        self._steps.decide(RETRY)
        return f"retrying {step}"

    @retry.validator
    def _validate_retry(self) -> None:
        self._must_be_parked()

    @workflow.update
    def reroute(self, centre: str) -> str:
        self._steps.decide(REROUTE, centre)
        return f"rerouting to centre {centre}"

    @reroute.validator
    def _validate_reroute(self, centre: str) -> None:
        self._must_be_parked()
        assert self._steps.parked is not None
        if not self._steps.parked.step.startswith("fulfilment ") or self._steps.undoing:
            raise ApplicationError("only a stuck 3PL shipment can be rerouted", type="NotReroutable")
        if not centre:
            raise ApplicationError("name the fulfilment centre to reroute to", type="NotReroutable")

    @workflow.update
    def cancel(self, reason: str) -> str:
        answer = self._steps.cancel(f"cancelled by operator: {reason}" if reason else "cancelled by operator")
        return f"{answer}; the ERP sale stays for what ships" if self._steps.undoing else answer

    @cancel.validator
    def _validate_cancel(self, reason: str) -> None:
        if self._stage in (OrderStage.CANCELLED, OrderStage.PAYMENT_EXPIRED, OrderStage.COMPLETED):
            raise ApplicationError(f"order run already finished ({self._stage.value})", type="AlreadyFinished")
        if self._fulfilment is not None and self._fulfilment.everything_shipped:
            raise ApplicationError("everything has shipped, so the order can no longer be cancelled: return or "
                                   "refund it instead", type="AlreadyShipped")  # fmt: skip
        self._steps.must_be_cancellable()

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
            parked=self._steps.parked,
            steps_done=list(self._steps.done),
            cancel_reason=self._steps.cancel_reason,
            fulfilment_late=self._late,
            attention=self._input.needs_attention_because,
            fulfilment=self._fulfilment,
        )

    @workflow.query
    def unacknowledged_units(self) -> dict[str, Decimal]:
        """SKU → units the store took off its stock for this order while the ERP has no sale for it yet.
        Available-to-sell subtracts them, so a stock push the ERP computed before it saw this order
        cannot re-inflate the store (the oversell race)."""
        if self._order is None or self._sale_number:
            return {}
        return units_taken_from_store(self._order)

    def _must_be_parked(self) -> None:
        self._steps.must_be_parked("order", self._stage.value)

    # -- state and visibility -------------------------------------------------

    @property
    def _input(self) -> OrderRunInput:
        assert self._run is not None
        return self._run

    @property
    def _order_ref(self) -> OrderRef:
        return OrderRef(store_id=self._store_id, order_id=self._order_id)

    @property
    def _refund_ids(self) -> set[str]:
        return {refund.refund_id for refund in self._order.refunds} if self._order else set()

    @property
    def _refunds_changed(self) -> bool:
        return self._refunds_stop_shipping and self._refund_ids != self._refunds_read

    @property
    def _flagged(self) -> bool:
        return self._late or bool(self._run and self._run.needs_attention_because)

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
        parked = self._steps.parked if stage == OrderStage.PARKED else None
        workflow.upsert_search_attributes(
            [
                sa.ORDER_STAGE.value_set(stage.value),
                sa.NEEDS_ATTENTION.value_set(bool(parked) or (self._flagged and stage != OrderStage.COMPLETED)),
                sa.PARKED_REASON.value_set(sa.text(parked.reason)) if parked else sa.PARKED_REASON.value_unset(),
                sa.FULFILMENT_LATE.value_set(self._late),
            ]
        )
        waits_for = self._waits_for()
        record = self._record(waits_for)
        workflow.set_current_details("\n\n".join(filter(None, (waits_for, record.markdown()))))
        if self._memo_is_behind(stage, record) and workflow.patched(versions.ORDER_RECORD_IN_MEMO):
            workflow.upsert_memo({MEMO_KEY: record})
            self._published = record

    def _memo_is_behind(self, stage: OrderStage, record: OrderRecord) -> bool:
        """A fact changed, or the run came to a stage it waits or ends in (the steps between them would
        only grow the history)."""
        if self._published is None:
            return True
        if stage in RESTING_STAGES:
            return record != self._published
        return record.model_copy(update={"waits_for": ""}) != self._published.model_copy(update={"waits_for": ""})

    def _record(self, waits_for: str) -> OrderRecord:
        return order_record(self._order, self._sale_number, self._invoice_number, self._fulfilment, waits_for)

    def _waits_for(self) -> str:
        ref = f"{self._store_id} {self._order_id}"
        order = f"Order #{self._order.number if self._order else self._order_id} ({self._store_id})"
        parked = self._steps.parked
        if self._stage == OrderStage.PARKED and parked:
            if self._steps.undoing:
                choices = f"or `retail-sync orders cancel {ref}` to leave it as it is (the ERP sale then stays)"
            elif parked.step.startswith("fulfilment "):
                choices = (f"`retail-sync orders reroute {ref} --center ID` to ship from another centre, "
                           f"or `retail-sync orders cancel {ref}`")  # fmt: skip
            else:
                choices = f"or `retail-sync orders cancel {ref}` to cancel the order"
            return (
                f"**Parked** at `{parked.step}`: {parked.reason}\n\n"
                f"Fix the data, then `retail-sync orders retry {ref}`; {choices}."
            )
        late = f"\n\n**Late**: not fully shipped within {self._input.fulfilment_sla}." if self._late else ""
        if self._input.needs_attention_because and self._stage != OrderStage.COMPLETED:
            late += f"\n\n**Needs attention**: {self._input.needs_attention_because}."
        texts = {
            OrderStage.AWAITING_PAYMENT: f"{order} waits for payment (store status "
            f"`{self._order.store_status if self._order else ''}`).",
            OrderStage.AWAITING_SHIPMENT: f"{order}: ERP sale **{self._sale_number}**. Waiting for the 3PL to ship "
            f"(webhooks, or a poll every {self._input.shipment_poll_interval}); a store cancellation cancels at "
            "the 3PL first, then the ERP sale.",
            OrderStage.CANCELLING: f"{order} is being cancelled: {self._steps.cancel_reason}",
            OrderStage.CANCELLED: f"{order} cancelled: {self._steps.cancel_reason}",
            OrderStage.PAYMENT_EXPIRED: f"{order} was not paid in time; closed.",
            OrderStage.COMPLETED: f"{order} shipped, completed in the store, invoiced and paid in the ERP.",
        }
        return texts.get(self._stage, f"{order}: {self._stage.value.replace('_', ' ')}.") + late

    def _outcome(self, note: str) -> OrderOutcome:
        return OrderOutcome(stage=self._stage, erp_sale_number=self._sale_number, note=note,
                            record=self._record(self._waits_for()))  # fmt: skip


def _erp_call(summary: str) -> dict:
    return erp_step_options(summary)


def _store_call(summary: str) -> dict:
    return step_options(summary, STORE_CALL_TIMEOUT)


def _threepl_call(summary: str) -> dict:
    return step_options(summary, THREEPL_CALL_TIMEOUT)
