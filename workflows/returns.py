"""One return authorisation (RMA): the goods come back, are received in the ERP, and are refunded once.

approval (above a value) → ERP return → 3PL return (the warehouse expects the parcel) → wait
for the warehouse (webhooks, or a poll) → receive what it processed in the ERP → refund the
processed quantities (child refund run) → a note the customer sees. A return never received
within the window closes as expired, flagged for attention.
"""
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.steps import failure_reason, step_options

with workflow.unsafe.imports_passed_through():
    from activities.returns import ReturnActivities, ReturnNote, ReturnOfOrder
    from canonical import Money, Order
    from canonical.keys import refund_key, refund_workflow_id
    from canonical.returns import Disposition, ProcessedItem, RefundLine, RefundRequest, ReturnLine, ReturnStatus
    from canonical.returns import ThreePLReturn
    from canonical.order import TaxAmount
    from workflows import search_attributes as sa
    from workflows.refund import RefundOutcome, RefundRunInput, RefundWorkflow

CENT = Decimal("0.01")


class ReturnRunInput(BaseModel):
    order: Order
    rma: str
    lines: list[ReturnLine]
    center_id: str
    original_shipment_id: str | None = None
    needs_approval: bool = False
    refund_payment: bool = True
    receive_window: timedelta = timedelta(days=30)
    poll_interval: timedelta = timedelta(hours=6)


class ReturnOutcome(BaseModel):
    stage: str
    received: list[ProcessedItem] = []
    refund: RefundOutcome | None = None
    note: str = ""


@workflow.defn
class ReturnWorkflow:
    def __init__(self) -> None:
        self._stage = "starting"
        self._parked_reason = ""
        self._decision = ""  # approve | reject | cancel | retry
        self._threepl: ThreePLReturn | None = None
        self._news = False  # the 3PL said something changed: read the return now

    @workflow.run
    async def run(self, run: ReturnRunInput) -> ReturnOutcome:
        self._run = run
        order = run.order
        workflow.upsert_search_attributes(
            [sa.STORE_ID.value_set(sa.keyword(order.store_id)), sa.ORDER_ID.value_set(sa.keyword(order.order_id)),
             sa.ORDER_NUMBER.value_set(sa.keyword(order.number)), sa.RMA_ID.value_set(sa.keyword(run.rma))]
        )  # fmt: skip
        if run.needs_approval and not await self._approved():
            return self._finish("rejected", note="rejected by an operator")
        if not await self._step("opening_erp_return", ReturnActivities.open_erp_return, self._of_order()):
            return self._finish("cancelled", note="cancelled by an operator")
        if not await self._step("expecting_parcel_at_3pl", ReturnActivities.expect_parcel_at_3pl, self._of_order()):
            return self._finish("cancelled", note="cancelled by an operator")
        if not await self._parcel_processed():
            await self._step("noting_return_on_store", ReturnActivities.note_return_on_store_order,
                             ReturnNote(of=self._of_order(), text=f"Return {run.rma} expired: the parcel did not "
                                        f"arrive within {run.receive_window.days} days."))  # fmt: skip
            return self._finish("expired", note=f"not received within {run.receive_window}", attention=True)
        received = list(self._threepl.processed) if self._threepl else []
        await self._step("receiving_in_erp", ReturnActivities.receive_erp_return,
                         ReturnOfOrder(order=order, rma=run.rma, lines=run.lines, center_id=run.center_id,
                                       received=received))  # fmt: skip
        refund = await self._refund(received)
        await self._step("noting_return_on_store", ReturnActivities.note_return_on_store_order,
                         ReturnNote(of=self._of_order(), text=self._closing_note(received, refund)))  # fmt: skip
        return self._finish("completed", received=received, refund=refund)

    # -- the steps ------------------------------------------------------------

    async def _approved(self) -> bool:
        self._enter("awaiting_approval", attention=True)
        self._decision = ""
        await workflow.wait_condition(lambda: self._decision in ("approve", "reject", "cancel"))
        return self._decision == "approve"

    async def _parcel_processed(self) -> bool:
        """Wait for the warehouse to finish processing; poll if no webhook comes. False once the window ends."""
        deadline = workflow.now() + self._run.receive_window
        while self._threepl is None or self._threepl.status != ReturnStatus.COMPLETED:
            self._enter("awaiting_parcel")
            self._news = False
            left = deadline - workflow.now()
            if left <= timedelta(0):
                arrived = self._threepl is not None and self._threepl.status != ReturnStatus.AWAITING_ARRIVAL
                if not arrived:
                    return False
                deadline += self._run.receive_window  # it arrived: processing takes what it takes
                continue
            try:
                await workflow.wait_condition(lambda: self._news, timeout=min(left, self._run.poll_interval),
                                              timeout_summary="3PL return poll")  # fmt: skip
            except TimeoutError:
                pass  # no webhook for a while: read it anyway (one may have been lost)
            polled = await self._step("awaiting_parcel", ReturnActivities.get_3pl_return, self._run.rma)
            if polled and polled is not True:
                self._threepl = polled
        return True

    async def _refund(self, received: list[ProcessedItem]) -> RefundOutcome | None:
        request = refund_for(self._run, received)
        if request is None:
            return None
        self._enter("refunding")
        order = self._run.order
        return await workflow.execute_child_workflow(
            RefundWorkflow.run,
            RefundRunInput(store_id=order.store_id, order_id=order.order_id, request=request),
            id=refund_workflow_id(order.store_id, order.order_id, self._run.rma),
        )

    async def _step(self, stage: str, activity, argument):
        """Run an activity; on a business error park until an operator retries (again) or cancels (then None)."""
        while True:
            self._enter(stage)
            try:
                result = await workflow.execute_activity_method(
                    activity, argument, **step_options(stage.replace("_", " "))
                )
                return result if result is not None else True
            except ActivityError as err:
                self._parked_reason = failure_reason(err)
                self._decision = ""
                self._enter("parked", attention=True)
                await workflow.wait_condition(lambda: self._decision in ("retry", "cancel"))
                self._parked_reason = ""
                if self._decision == "cancel":
                    return None

    # -- messages -------------------------------------------------------------

    @workflow.signal
    def parcel_news(self) -> None:
        """A 3PL return webhook. It is only a hint: the run reads the return itself, so duplicates and
        out-of-order deliveries cannot confuse it, and SKUs come from the adapter's own mapping."""
        self._news = True

    @workflow.update
    def approve(self) -> str:
        self._decision = "approve"
        return "approved"

    @workflow.update
    def reject(self, reason: str) -> str:
        self._decision = "reject"
        return f"rejected: {reason}"

    @approve.validator
    def _validate_approve(self) -> None:
        self._must_be("awaiting_approval")

    @reject.validator
    def _validate_reject(self, reason: str) -> None:
        self._must_be("awaiting_approval")

    @workflow.update
    def retry(self) -> str:
        self._decision = "retry"
        return "retrying"

    @retry.validator
    def _validate_retry(self) -> None:
        self._must_be("parked")

    @workflow.update
    def cancel(self, reason: str) -> str:
        self._decision = "cancel"
        return f"cancelled: {reason}"

    @cancel.validator
    def _validate_cancel(self, reason: str) -> None:
        if self._stage not in ("parked", "awaiting_approval"):
            raise ApplicationError(f"a return can be cancelled while it waits for approval or is parked, not "
                                   f"at {self._stage}", type="NotCancellable")  # fmt: skip

    @workflow.query
    def stage(self) -> str:
        return self._stage

    @workflow.query
    def parked_reason(self) -> str:
        return self._parked_reason

    @workflow.query
    def returned_lines(self) -> list[ReturnLine]:
        """What this RMA takes back: authorised lines, or what was received once processed; none if it
        was rejected, cancelled or expired."""
        if self._stage in ("rejected", "cancelled", "expired"):
            return []
        if self._threepl is not None and self._threepl.status == ReturnStatus.COMPLETED:
            return [ReturnLine(sku=item.sku, quantity=item.quantity) for item in self._threepl.processed]
        return list(self._run.lines)

    def _must_be(self, stage: str) -> None:
        if self._stage != stage:
            raise ApplicationError(f"return is not {stage.replace('_', ' ')} (stage: {self._stage})",
                                   type="WrongStage")  # fmt: skip

    # -- state and visibility -------------------------------------------------

    def _of_order(self) -> ReturnOfOrder:
        run = self._run
        return ReturnOfOrder(order=run.order, rma=run.rma, lines=run.lines, center_id=run.center_id,
                             original_shipment_id=run.original_shipment_id)  # fmt: skip

    def _enter(self, stage: str, *, attention: bool = False) -> None:
        self._stage = stage
        workflow.upsert_search_attributes(
            [
                sa.ORDER_STAGE.value_set(f"return_{stage}"),
                sa.NEEDS_ATTENTION.value_set(attention),
                sa.PARKED_REASON.value_set(sa.text(self._parked_reason)) if stage == "parked"
                else sa.PARKED_REASON.value_unset(),
            ]
        )
        workflow.set_current_details(
            f"**Parked**: {self._parked_reason}. Retry (update `retry`) or cancel (update `cancel`)."
            if stage == "parked"
            else f"Return {self._run.rma} of order #{self._run.order.number}: {stage.replace('_', ' ')}."
        )

    def _finish(self, stage: str, *, received=(), refund=None, note: str = "", attention: bool = False):
        self._enter(stage, attention=attention)
        return ReturnOutcome(stage=stage, received=list(received), refund=refund, note=note)

    def _closing_note(self, received: list[ProcessedItem], refund: RefundOutcome | None) -> str:
        items = ", ".join(f"{item.quantity:g} × {item.sku}" for item in received) or "nothing"
        refunded = f" Refund {refund.refund_id} issued." if refund and refund.refund_id else ""
        return f"Return {self._run.rma} received: {items}.{refunded}"


def refund_for(run: ReturnRunInput, received: list[ProcessedItem]) -> RefundRequest | None:
    """Refund the processed quantities at what the customer paid per unit, with the line's taxes pro rata."""
    order = run.order
    quantities: dict[str, Decimal] = {}
    for item in received:
        quantities[item.sku] = quantities.get(item.sku, Decimal(0)) + item.quantity
    lines = []
    for line in order.lines:
        quantity = min(quantities.pop(line.sku, Decimal(0)), line.quantity) if line.sku else Decimal(0)
        if quantity <= 0:
            continue
        share = quantity / line.quantity
        lines.append(RefundLine(
            line_id=line.line_id, sku=line.sku, quantity=quantity,
            amount=Money(amount=(line.total.amount * share).quantize(CENT, ROUND_HALF_UP), currency=order.currency),
            taxes=tuple(TaxAmount(rate_id=tax.rate_id, amount=Money(
                amount=(tax.amount.amount * share).quantize(CENT, ROUND_HALF_UP), currency=order.currency))
                for tax in line.taxes),
        ))  # fmt: skip
    if not lines:
        return None
    total = sum((l.amount.amount + sum((t.amount.amount for t in l.taxes), Decimal(0)) for l in lines), Decimal(0))
    restock = all(item.disposition == Disposition.RESTOCK for item in received)
    return RefundRequest(
        key=refund_key(order.store_id, order.order_id, run.rma), store_id=order.store_id, order_id=order.order_id,
        reason=f"Return {run.rma}", lines=tuple(lines), amount=Money(amount=total, currency=order.currency),
        refund_payment=run.refund_payment, restock=restock,
    )  # fmt: skip
