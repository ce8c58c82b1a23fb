"""Order-to-cash for one store order.

paid store order → ERP customer → confirmed ERP sale → sale number back on the store
order → await fulfilment. A business error parks the run until an operator retries or
cancels; a cancellation (store or operator) undoes what was done, newest first.
"""
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import Enum
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.orders import (
        CancellationOnStoreOrder,
        OrderActivities,
        OrderRef,
        SaleOnStoreOrder,
        SalesOrderRequest,
    )
    from canonical import Order
    from workflows import search_attributes as sa
    from workflows.order_messages import OrderOutcome, OrderProgress, OrderRunInput, OrderStage, ParkedStep

T = TypeVar("T")

# Transient outages are retried with backoff for up to a day; then the step parks for an operator.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)
STEP_DEADLINE = timedelta(hours=24)
STORE_CALL_TIMEOUT = timedelta(seconds=90)
ERP_CALL_TIMEOUT = timedelta(minutes=3)


class _Decision(Enum):
    RETRY = "retry"
    STOP = "stop"
    SKIP = "skip"


class _StopProcessing(Exception):
    """A cancellation arrived: stop going forward and undo what was done."""


@workflow.defn
class OrderToCashWorkflow:
    def __init__(self) -> None:
        self._store_id = ""
        self._order_id = ""
        self._order: Order | None = None
        self._stage = OrderStage.AWAITING_PAYMENT
        self._parked: ParkedStep | None = None
        self._retry_requested = False
        self._skip_requested = False
        self._compensating = False
        self._cancel_reason = ""
        self._steps_done: list[str] = []
        self._sale_number = ""
        self._compensations: list[tuple[str, Callable[[], Awaitable[object]]]] = []

    @workflow.run
    async def run(self, run: OrderRunInput) -> OrderOutcome:
        self._store_id, self._order_id = run.store_id, run.order_id
        await workflow.wait_condition(lambda: self._order is not None)
        self._publish_identity()
        try:
            if not await self._payment_received(run.payment_window):
                self._enter(OrderStage.PAYMENT_EXPIRED)
                return self._outcome(f"not paid within {run.payment_window}")
            await self._create_erp_sale()
            await self._await_fulfilment()
        except _StopProcessing:
            await self._undo_completed_steps()
            self._enter(OrderStage.CANCELLED)
            return self._outcome(self._cancel_reason)
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
                OrderActivities.ensure_customer,
                self._current,
                **_erp_call("Find or create the ERP customer"),
            ),
        )
        self._on_cancel("cancel_sales_order", self._cancel_sales_order)
        sale = await self._step(
            OrderStage.CREATING_SALES_ORDER,
            lambda: workflow.execute_activity_method(
                OrderActivities.create_sales_order,
                SalesOrderRequest(order=self._current, customer=customer),
                **_erp_call("Create and confirm the ERP sale"),
            ),
        )
        self._sale_number = sale.number
        workflow.upsert_search_attributes([sa.ERP_SALE_NUMBER.value_set(sale.number)])
        await self._step(
            OrderStage.RECORDING_SALE_ON_STORE,
            lambda: workflow.execute_activity_method(
                OrderActivities.record_sale_on_store_order,
                SaleOnStoreOrder(store_id=self._store_id, order_id=self._order_id, sale_number=sale.number),
                **_store_call("Write the ERP sale number on the store order"),
            ),
        )

    async def _await_fulfilment(self) -> None:
        """Fulfilment through the 3PL is the next capability; until then the run waits here for a cancellation."""
        self._enter(OrderStage.AWAITING_FULFILMENT)
        await workflow.wait_condition(lambda: bool(self._cancel_reason))
        self._stop_if_cancelled()

    async def _cancel_sales_order(self) -> object:
        return await workflow.execute_activity_method(
            OrderActivities.cancel_sales_order,
            OrderRef(store_id=self._store_id, order_id=self._order_id),
            **_erp_call("Cancel the ERP sale"),
        )

    async def _undo_completed_steps(self) -> None:
        self._compensating = True
        for name, undo in reversed(self._compensations):
            await self._step(OrderStage.CANCELLING, undo, name=name)
        await self._step(
            OrderStage.CANCELLING,
            lambda: workflow.execute_activity_method(
                OrderActivities.record_cancellation_on_store_order,
                CancellationOnStoreOrder(
                    store_id=self._store_id,
                    order_id=self._order_id,
                    reason=self._cancel_reason,
                    sale_number=self._sale_number,
                ),
                **_store_call("Note the cancellation on the store order"),
            ),
            name="record_cancellation_on_store_order",
        )

    # -- steps, parking and compensation --------------------------------------

    def _on_cancel(self, name: str, undo: Callable[[], Awaitable[object]]) -> None:
        """Register an undo before the step it undoes: its outcome may be unknown after a lost response."""
        self._compensations.append((name, undo))

    async def _step(self, stage: OrderStage, call: Callable[[], Awaitable[T]], *, name: str = "") -> T | None:
        """Run one step; on failure park until an operator retries, or a cancellation stops the run."""
        name = name or stage.value
        while True:
            if not self._compensating:
                self._stop_if_cancelled()
            self._enter(stage)
            try:
                result = await call()
            except ActivityError as err:
                decision = await self._park(name, _failure_reason(err))
                if decision is _Decision.STOP:
                    raise _StopProcessing() from None
                if decision is _Decision.SKIP:
                    self._steps_done.append(f"{name} (skipped by operator)")
                    return None
                continue
            self._steps_done.append(name)
            return result

    async def _park(self, step: str, reason: str) -> _Decision:
        self._parked = ParkedStep(step=step, reason=reason)
        self._retry_requested = self._skip_requested = False
        self._enter(OrderStage.PARKED)
        workflow.logger.warning("Order %s/%s parked at %s: %s", self._store_id, self._order_id, step, reason)
        await workflow.wait_condition(
            lambda: self._retry_requested
            or self._skip_requested
            or (bool(self._cancel_reason) and not self._compensating)
        )
        self._parked = None
        if self._retry_requested:
            return _Decision.RETRY
        return _Decision.SKIP if self._skip_requested else _Decision.STOP

    def _stop_if_cancelled(self) -> None:
        if self._cancel_reason:
            raise _StopProcessing()

    # -- messages from the store and operators --------------------------------

    @workflow.signal
    def store_order_changed(self, order: Order) -> None:
        """A newer snapshot of the store order (webhook or intake). Older, out-of-order snapshots are ignored."""
        if self._order is not None and order.modified_at < self._order.modified_at:
            return
        self._order = order
        if order.is_cancelled and not self._cancel_reason:
            self._cancel_reason = f"order {order.store_status} in the store"

    @workflow.update
    def retry(self) -> str:
        self._retry_requested = True
        return f"retrying step {self._parked.step if self._parked else ''}"

    @retry.validator
    def _validate_retry(self) -> None:
        if self._stage != OrderStage.PARKED:
            raise ApplicationError(f"order is not parked (stage: {self._stage.value})", type="NotParked")

    @workflow.update
    def cancel(self, reason: str) -> str:
        if self._compensating:
            self._skip_requested = True
            return f"skipping undo step {self._parked.step if self._parked else ''}"
        self._cancel_reason = f"cancelled by operator: {reason}" if reason else "cancelled by operator"
        return "cancelling: completed steps will be undone"

    @cancel.validator
    def _validate_cancel(self, reason: str) -> None:
        if self._stage in (OrderStage.CANCELLED, OrderStage.PAYMENT_EXPIRED):
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
        )

    # -- visibility -----------------------------------------------------------

    @property
    def _current(self) -> Order:
        assert self._order is not None
        return self._order

    def _publish_identity(self) -> None:
        workflow.upsert_search_attributes(
            [
                sa.STORE_ID.value_set(self._store_id),
                sa.ORDER_ID.value_set(self._order_id),
                sa.ORDER_NUMBER.value_set(self._current.number),
            ]
        )

    def _enter(self, stage: OrderStage) -> None:
        self._stage = stage
        parked = stage == OrderStage.PARKED and self._parked is not None
        workflow.upsert_search_attributes(
            [
                sa.ORDER_STAGE.value_set(stage.value),
                sa.NEEDS_ATTENTION.value_set(parked),
                sa.PARKED_REASON.value_set(self._parked.reason) if parked else sa.PARKED_REASON.value_unset(),
            ]
        )
        workflow.set_current_details(self._details())

    def _details(self) -> str:
        ref = f"{self._store_id} {self._order_id}"
        order = f"Order #{self._order.number if self._order else self._order_id} ({self._store_id})"
        if self._stage == OrderStage.PARKED and self._parked:
            action = "skip this undo step" if self._compensating else "cancel the order"
            return (
                f"**Parked** at `{self._parked.step}`: {self._parked.reason}\n\n"
                f"Fix the data, then `retail-sync orders retry {ref}`; "
                f"or `retail-sync orders cancel {ref}` to {action}."
            )
        texts = {
            OrderStage.AWAITING_PAYMENT: f"{order} waits for payment (store status "
            f"`{self._order.store_status if self._order else ''}`).",
            OrderStage.AWAITING_FULFILMENT: f"{order}: ERP sale **{self._sale_number}** confirmed. "
            "Waiting for fulfilment; a cancellation in the store cancels the ERP sale.",
            OrderStage.CANCELLING: f"{order} is being cancelled: {self._cancel_reason}",
            OrderStage.CANCELLED: f"{order} cancelled: {self._cancel_reason}",
            OrderStage.PAYMENT_EXPIRED: f"{order} was not paid in time; closed.",
        }
        return texts.get(self._stage, f"{order}: {self._stage.value.replace('_', ' ')}.")

    def _outcome(self, note: str) -> OrderOutcome:
        return OrderOutcome(stage=self._stage, erp_sale_number=self._sale_number, note=note)


def _erp_call(summary: str) -> dict:
    return _step_options(summary, ERP_CALL_TIMEOUT)


def _store_call(summary: str) -> dict:
    return _step_options(summary, STORE_CALL_TIMEOUT)


def _step_options(summary: str, attempt_timeout: timedelta) -> dict:
    """Each attempt has its own timeout; the step as a whole gets a day of retries before it parks."""
    return dict(
        start_to_close_timeout=attempt_timeout,
        schedule_to_close_timeout=STEP_DEADLINE,
        retry_policy=STEP_RETRY,
        summary=summary,
    )


def _failure_reason(err: ActivityError) -> str:
    """The adapter's own words (e.g. "Unknown SKU 'X' on line 2"), not Temporal's wrapper text."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or err)
