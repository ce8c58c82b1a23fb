"""One return authorisation (RMA): the goods come back, are received in the ERP, and are refunded once.

approval (above a value) → ERP return → 3PL return (the warehouse expects the parcel) → wait
for the warehouse (webhooks, or a poll) → receive what it processed in the ERP → refund the
processed quantities (child refund run) → a note the customer sees. A return never received
within the window closes as expired, flagged for attention.

Until the warehouse has processed the parcel, `cancel` stops the return and undoes it, newest first:
the 3PL return (refused once the parcel arrived: the operator then leaves it), then the ERP return.
Once processed, the goods are back and the refund is owed: a cancel is refused.
"""
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.returns import ReturnActivities, ReturnNote, ReturnOfOrder, ReturnOutcomeRecord
    from canonical import Money, Order
    from canonical.keys import refund_key, refund_workflow_id
    from canonical.returns import Disposition, ProcessedItem, RefundLine, RefundRequest, ReturnLine, ReturnStatus
    from canonical.returns import ThreePLReturn
    from canonical.order import TaxAmount
    from workflows import search_attributes as sa
    from workflows.records import MEMO_KEY, ReturnRecord, return_lines
    from workflows.refund import RefundOutcome, RefundRunInput, RefundWorkflow
    from workflows import versions
    from workflows.steps import RETRY, Steps, Stop, erp_step_options, step_options

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
    record: ReturnRecord | None = None
    """Lines, state and refund as they stood when the run closed."""


@workflow.defn
class ReturnWorkflow:
    def __init__(self) -> None:
        self._stage = "starting"
        self._steps = Steps(self._enter, "parked")
        self._decision = ""  # approve | reject
        self._threepl: ThreePLReturn | None = None
        self._news = False  # the 3PL said something changed: read the return now
        self._refunded: RefundOutcome | None = None
        self._published: ReturnRecord | None = None  # what the memo says
        self._processed = False  # the warehouse processed the parcel: no way back

    @workflow.run
    async def run(self, run: ReturnRunInput) -> ReturnOutcome:
        self._run = run
        order = run.order
        workflow.upsert_search_attributes(
            [sa.STORE_ID.value_set(sa.keyword(order.store_id)), sa.ORDER_ID.value_set(sa.keyword(order.order_id)),
             sa.ORDER_NUMBER.value_set(sa.keyword(order.number)), sa.RMA_ID.value_set(sa.keyword(run.rma))]
        )  # fmt: skip
        try:
            if run.needs_approval and not await self._approved():
                return await self._finish("rejected", note="rejected by an operator")
            self._steps.on_cancel("cancel_erp_return", lambda: self._call(
                "cancelling", ReturnActivities.cancel_erp_return, self._of_order()), only_if_later_steps_undone=True)
            await self._step("opening_erp_return", ReturnActivities.open_erp_return, self._of_order())
            self._steps.on_cancel("cancel_3pl_return", lambda: self._call(
                "cancelling", ReturnActivities.cancel_3pl_return, run.rma))  # fmt: skip
            await self._step("expecting_parcel_at_3pl", ReturnActivities.expect_parcel_at_3pl, self._of_order())
            if not await self._parcel_processed():
                await self._step("noting_return_on_store", ReturnActivities.note_return_on_store_order,
                                 self._note(f"Return {run.rma} expired: the parcel did not arrive within "
                                            f"{run.receive_window.days} days."))  # fmt: skip
                return await self._finish("expired", note=f"not received within {run.receive_window}", attention=True)
        except Stop:
            return await self._cancelled()
        self._processed = True
        received = list(self._threepl.processed) if self._threepl else []
        await self._step("receiving_in_erp", ReturnActivities.receive_erp_return,
                         ReturnOfOrder(order=order, rma=run.rma, lines=run.lines, center_id=run.center_id,
                                       received=received))  # fmt: skip
        refund = await self._refund(received)
        await self._step("noting_return_on_store", ReturnActivities.note_return_on_store_order,
                         self._note(self._closing_note(received, refund)))
        return await self._finish("completed", received=received, refund=refund)

    # -- the steps ------------------------------------------------------------

    async def _approved(self) -> bool:
        self._enter("awaiting_approval", attention=True)
        self._decision = ""
        await workflow.wait_condition(lambda: self._decision in ("approve", "reject") or self._steps.cancelled)
        self._steps.stop_if_cancelled()
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
                await workflow.wait_condition(lambda: self._news or self._steps.cancelled,
                                              timeout=min(left, self._run.poll_interval),
                                              timeout_summary="3PL return poll")  # fmt: skip
            except TimeoutError:
                pass  # no webhook for a while: read it anyway (one may have been lost)
            polled = await self._step("awaiting_parcel", ReturnActivities.get_3pl_return, self._run.rma)
            if polled is not None:
                self._threepl = polled
        return True

    async def _refund(self, received: list[ProcessedItem]) -> RefundOutcome | None:
        request = refund_for(self._run, received)
        if request is None:
            return None
        self._enter("refunding")
        order = self._run.order
        self._refunded = await workflow.execute_child_workflow(
            RefundWorkflow.run,
            RefundRunInput(store_id=order.store_id, order_id=order.order_id, request=request),
            id=refund_workflow_id(order.store_id, order.order_id, self._run.rma),
            static_summary=f"Refund for return {self._run.rma} of order #{order.number} ({order.store_id})",
        )
        return self._refunded

    async def _cancelled(self) -> ReturnOutcome:
        """Undo newest first, then tell the customer; what the operator left stays flagged."""
        left = await self._steps.undo("cancelling")
        await self._step("noting_return_on_store", ReturnActivities.note_return_on_store_order,
                         self._note(f"Return {self._run.rma} was cancelled."))  # fmt: skip
        note = self._steps.cancel_reason + (f"; left as they are by the operator: {', '.join(left)}" if left else "")
        return await self._finish("cancelled", note=note, attention=bool(left))

    def _step(self, stage: str, activity, argument):
        return self._steps.run(stage, lambda: self._call(stage, activity, argument))

    def _call(self, stage: str, activity, argument):
        options = erp_step_options if activity in ERP_STEPS else step_options
        return workflow.execute_activity_method(activity, argument, **options(stage.replace("_", " ")))

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
        self._steps.decide(RETRY)
        return "retrying"

    @retry.validator
    def _validate_retry(self) -> None:
        self._steps.must_be_parked("return", self._stage)

    @workflow.update
    def cancel(self, reason: str) -> str:
        return self._steps.cancel(f"cancelled by an operator: {reason}" if reason else "cancelled by an operator")

    @cancel.validator
    def _validate_cancel(self, reason: str) -> None:
        if self._stage in FINISHED:
            raise ApplicationError(f"return already finished ({self._stage})", type="AlreadyFinished")
        if self._processed:
            raise ApplicationError("the warehouse processed the parcel: the goods are back and the refund is owed, "
                                   "so the return can no longer be cancelled", type="NotCancellable")  # fmt: skip
        self._steps.must_be_cancellable()

    @workflow.query
    def stage(self) -> str:
        return self._stage

    @workflow.query
    def parked_reason(self) -> str:
        return self._steps.parked.reason if self._steps.parked else ""

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

    def _note(self, text: str) -> ReturnNote:
        return ReturnNote(of=self._of_order(), text=text)

    def _enter(self, stage: str, *, attention: bool = False) -> None:
        self._stage = stage
        parked = self._steps.parked if stage == "parked" else None
        workflow.upsert_search_attributes(
            [
                sa.ORDER_STAGE.value_set(f"return_{stage}"),
                sa.NEEDS_ATTENTION.value_set(attention or bool(parked)),
                sa.PARKED_REASON.value_set(sa.text(parked.reason)) if parked else sa.PARKED_REASON.value_unset(),
            ]
        )
        record = self._record()
        workflow.set_current_details(
            f"**Parked**: {parked.reason}. Retry (update `retry`) or cancel (update `cancel`).\n\n{record.markdown()}"
            if parked
            else record.markdown()
        )
        if record != self._published and workflow.patched(versions.RUN_RECORD_IN_MEMO):
            workflow.upsert_memo({MEMO_KEY: record})
            self._published = record

    def _record(self) -> ReturnRecord:
        order = self._run.order
        return ReturnRecord(rma=self._run.rma, store_id=order.store_id, order_id=order.order_id,
                            order_number=order.number, lines=return_lines(self.returned_lines()),
                            state=self._stage.replace("_", " "),
                            refund=self._refunded.record if self._refunded else None)  # fmt: skip

    async def _finish(self, stage: str, *, received=(), refund=None, note: str = "", attention: bool = False):
        """Record on the store order what the RMA took back in the end (authorisations count it from there,
        not from this run, which Temporal forgets once retention passes), then close."""
        if workflow.patched(versions.RETURN_OUTCOME_RECORDED):
            order = self._run.order
            returned = [ReturnLine(sku=item.sku, quantity=item.quantity) for item in received]
            await self._step("recording_outcome", ReturnActivities.record_return_outcome, ReturnOutcomeRecord(
                store_id=order.store_id, order_id=order.order_id, rma=self._run.rma, stage=stage, returned=returned))
        self._enter(stage, attention=attention)
        return ReturnOutcome(stage=stage, received=list(received), refund=refund, note=note, record=self._record())

    def _closing_note(self, received: list[ProcessedItem], refund: RefundOutcome | None) -> str:
        items = ", ".join(f"{item.quantity:g} × {item.sku}" for item in received) or "nothing"
        refunded = f" Refund {refund.refund_id} issued." if refund and refund.refund_id else ""
        return f"Return {self._run.rma} received: {items}.{refunded}"


FINISHED = ("rejected", "cancelled", "expired", "completed")
ERP_STEPS = (ReturnActivities.open_erp_return, ReturnActivities.receive_erp_return, ReturnActivities.cancel_erp_return)


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
