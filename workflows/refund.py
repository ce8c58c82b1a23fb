"""One refund, exactly once, in the store and the ERP.

Merchant's refund (made in WooCommerce): read its lines → post the matching ERP credit note.
Never create it in the store again; a refund we made ourselves echoes back through
`order.updated` and is left to the run that made it.

Ours (from an RMA or an operator): create the store refund with our key in its meta (the
activity looks for the key before every attempt, so a lost response never refunds twice)
→ post the ERP credit note. A gateway that refuses parks the run; an operator may retry,
also without the gateway (`retry` with `refund_payment=False`: recorded, money moved elsewhere).
"""
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.refunds import CreditNoteRequest, RefundActivities, StoreRefundRef
    from canonical.returns import Refund, RefundRequest
    from workflows import search_attributes as sa
    from workflows import versions
    from workflows.records import MEMO_KEY, RefundRecord, refund_record
    from workflows.steps import RETRY, Steps, Stop, erp_step_options, step_options

PARKED = "parked"


class RefundRunInput(BaseModel):
    store_id: str
    order_id: str
    store_refund_id: str | None = None  # the merchant's refund, already in the store
    request: RefundRequest | None = None  # ours, to create
    credit_note_retry_every: timedelta = timedelta(minutes=15)
    """How often a credit note that waits for the sale's invoice to be posted asks the ERP again."""


class RefundOutcome(BaseModel):
    refund_id: str = ""
    credit_note: str = ""
    note: str = ""
    record: RefundRecord | None = None
    """Amount, lines, credit note and state as they stood when the run closed."""


@workflow.defn
class RefundWorkflow:
    def __init__(self) -> None:
        self._stage = "starting"
        self._steps = Steps(self._enter, PARKED)
        self._refund_payment: bool | None = None  # the operator's answer: refund through the gateway or not
        self._run: RefundRunInput | None = None
        self._refund: Refund | None = None
        self._credit_note = ""
        self._published: RefundRecord | None = None  # what the memo says

    @workflow.run
    async def run(self, run: RefundRunInput) -> RefundOutcome:
        self._run = run
        self._steps.not_ready_retry = run.credit_note_retry_every
        workflow.upsert_search_attributes([sa.STORE_ID.value_set(sa.keyword(run.store_id)),
                                           sa.ORDER_ID.value_set(sa.keyword(run.order_id))])
        try:
            refund = await self._store_refund(run)
        except Stop:
            return self._finish(RefundOutcome(note="given up by an operator"))
        self._refund = refund
        if run.request is None and refund.key is not None:
            return self._finish(RefundOutcome(refund_id=refund.refund_id, note="made by retail-sync; "
                                              "its own run posts the credit note"))  # fmt: skip
        workflow.upsert_search_attributes([sa.REFUND_AMOUNT.value_set(sa.amount(float(refund.amount.amount)))])
        try:
            credit = await self._steps.run("posting_credit_note", lambda: workflow.execute_activity_method(
                RefundActivities.post_credit_note,
                CreditNoteRequest(store_id=run.store_id, order_id=run.order_id, refund=refund),
                **erp_step_options("Post the ERP credit note"),
            ))  # fmt: skip
        except Stop:
            return self._finish(RefundOutcome(refund_id=refund.refund_id, note="credit note given up by an operator"))
        self._credit_note = credit.number
        return self._finish(RefundOutcome(refund_id=refund.refund_id, credit_note=credit.number))

    async def _store_refund(self, run: RefundRunInput) -> Refund:
        """Ours is created (at most once); the merchant's is read."""
        if run.request is None:
            return await self._steps.run("reading_store_refund", lambda: workflow.execute_activity_method(
                RefundActivities.read_store_refund,
                StoreRefundRef(store_id=run.store_id, order_id=run.order_id, refund_id=run.store_refund_id or ""),
                **step_options("Read the merchant's refund"),
            ))  # fmt: skip
        request = run.request

        def as_decided() -> RefundRequest:
            if self._refund_payment is None:
                return request
            return request.model_copy(update={"refund_payment": self._refund_payment})

        return await self._steps.run("creating_store_refund", lambda: workflow.execute_activity_method(
            RefundActivities.create_store_refund, as_decided(), **step_options("Create the store refund")
        ))  # fmt: skip

    @workflow.update
    def retry(self, refund_payment: bool = True) -> str:
        self._refund_payment = refund_payment
        self._steps.decide(RETRY)
        return "retrying" + ("" if refund_payment else " without the payment gateway")

    @retry.validator
    def _validate_retry(self, refund_payment: bool = True) -> None:
        self._steps.must_be_parked("refund", self._stage)

    @workflow.update
    def cancel(self, reason: str) -> str:
        self._steps.cancel(reason)
        return f"giving up: {reason}"

    @cancel.validator
    def _validate_cancel(self, reason: str) -> None:
        if self._steps.parked is None and not self._steps.waiting:
            raise ApplicationError(f"only a parked or waiting refund can be given up (stage: {self._stage})",
                                   type="NotParked")  # fmt: skip

    @workflow.query
    def stage(self) -> str:
        return self._stage

    @workflow.query
    def parked_reason(self) -> str:
        return self._steps.parked.reason if self._steps.parked else ""

    def _enter(self, stage: str) -> None:
        self._stage = stage
        parked = self._steps.parked if stage == PARKED else None
        workflow.upsert_search_attributes(
            [
                sa.ORDER_STAGE.value_set(f"refund_{stage}"),
                sa.NEEDS_ATTENTION.value_set(bool(parked)),
                sa.PARKED_REASON.value_set(sa.text(parked.reason)) if parked else sa.PARKED_REASON.value_unset(),
            ]
        )
        record = self._record()
        workflow.set_current_details(
            f"**Parked**: {parked.reason}\n\nFix it, then retry (update `retry`, `refund_payment` false to record "
            f"the refund without the payment gateway) or give up (update `cancel`).\n\n{record.markdown()}"
            if parked else record.markdown()
            + (f" Waiting: {self._steps.waiting}; asked again every {self._steps.not_ready_retry}."
               if self._steps.waiting else "")
        )  # fmt: skip
        if record != self._published and self._run and workflow.patched(versions.RUN_RECORD_IN_MEMO):
            workflow.upsert_memo({MEMO_KEY: record})
            self._published = record

    def _record(self) -> RefundRecord:
        run = self._run
        return refund_record(run.store_id if run else "", run.order_id if run else "", self._refund,
                             self._credit_note, self._stage.replace("_", " "))  # fmt: skip

    def _finish(self, outcome: RefundOutcome) -> RefundOutcome:
        self._enter("done")
        return outcome.model_copy(update={"record": self._record()})
