"""One refund, exactly once, in the store and the ERP.

Merchant's refund (made in WooCommerce): read its lines → post the matching ERP credit note.
Never create it in the store again; a refund we made ourselves echoes back through
`order.updated` and is left to the run that made it.

Ours (from an RMA or an operator): create the store refund with our key in its meta (the
activity looks for the key before every attempt, so a lost response never refunds twice)
→ post the ERP credit note. A gateway that refuses parks the run; an operator may retry,
also without the gateway (`retry` with `refund_payment=False`: recorded, money moved elsewhere).
"""
from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.steps import failure_reason, step_options

with workflow.unsafe.imports_passed_through():
    from activities.refunds import CreditNoteRequest, RefundActivities, StoreRefundRef
    from canonical.returns import Refund, RefundRequest
    from workflows import search_attributes as sa

class RefundRunInput(BaseModel):
    store_id: str
    order_id: str
    store_refund_id: str | None = None  # the merchant's refund, already in the store
    request: RefundRequest | None = None  # ours, to create


class RefundOutcome(BaseModel):
    refund_id: str = ""
    credit_note: str = ""
    note: str = ""


@workflow.defn
class RefundWorkflow:
    def __init__(self) -> None:
        self._stage = "starting"
        self._parked_reason = ""
        self._retry: bool | None = None  # the operator's answer: refund through the gateway or not
        self._gave_up = False

    @workflow.run
    async def run(self, run: RefundRunInput) -> RefundOutcome:
        workflow.upsert_search_attributes([sa.STORE_ID.value_set(sa.keyword(run.store_id)),
                                          sa.ORDER_ID.value_set(sa.keyword(run.order_id))])
        if run.request is not None:
            refund = await self._create_store_refund(run.request)
        else:
            refund = await self._step("reading_store_refund", lambda: workflow.execute_activity_method(
                RefundActivities.read_store_refund,
                StoreRefundRef(store_id=run.store_id, order_id=run.order_id, refund_id=run.store_refund_id or ""),
                **step_options("Read the merchant's refund"),
            ))  # fmt: skip
            if refund is None:
                return self._finish(RefundOutcome(note="given up by an operator"))
            if refund.key is not None:
                return self._finish(RefundOutcome(refund_id=refund.refund_id, note="made by retail-sync; "
                                                  "its own run posts the credit note"))  # fmt: skip
        if refund is None:
            return self._finish(RefundOutcome(note="given up by an operator"))
        workflow.upsert_search_attributes([sa.REFUND_AMOUNT.value_set(sa.amount(float(refund.amount.amount)))])
        credit = await self._step("posting_credit_note", lambda: workflow.execute_activity_method(
            RefundActivities.post_credit_note,
            CreditNoteRequest(store_id=run.store_id, order_id=run.order_id, refund=refund),
            **step_options("Post the ERP credit note"),
        ))  # fmt: skip
        note = "" if credit is not None else "credit note given up by an operator"
        return self._finish(RefundOutcome(refund_id=refund.refund_id, credit_note=credit.number if credit else "",
                                          note=note))  # fmt: skip

    async def _create_store_refund(self, request: RefundRequest) -> Refund | None:
        async def create():
            return await workflow.execute_activity_method(
                RefundActivities.create_store_refund, request, **step_options("Create the store refund")
            )

        while True:
            refund = await self._step("creating_store_refund", create, hand_back_retry=True)
            if refund is not None or self._retry is None:
                return refund
            request = request.model_copy(update={"refund_payment": self._retry})

    async def _step(self, stage: str, call, *, hand_back_retry: bool = False):
        """Run a step; on a business error park until an operator retries or gives up (then None).

        With `hand_back_retry` a retry returns None too, so the caller can apply the operator's choice."""
        while True:
            self._enter(stage)
            try:
                return await call()
            except ActivityError as err:
                self._parked_reason = failure_reason(err)
                self._retry, self._gave_up = None, False
                self._enter("parked")
                await workflow.wait_condition(lambda: self._retry is not None or self._gave_up)
                self._parked_reason = ""
                if self._gave_up or hand_back_retry:
                    return None

    @workflow.update
    def retry(self, refund_payment: bool = True) -> str:
        self._retry = refund_payment
        return "retrying" + ("" if refund_payment else " without the payment gateway")

    @retry.validator
    def _validate_retry(self, refund_payment: bool = True) -> None:
        if self._stage != "parked":
            raise ApplicationError(f"refund is not parked (stage: {self._stage})", type="NotParked")

    @workflow.update
    def cancel(self, reason: str) -> str:
        self._gave_up = True
        return f"giving up: {reason}"

    @cancel.validator
    def _validate_cancel(self, reason: str) -> None:
        if self._stage != "parked":
            raise ApplicationError(f"only a parked refund can be given up (stage: {self._stage})", type="NotParked")

    @workflow.query
    def stage(self) -> str:
        return self._stage

    @workflow.query
    def parked_reason(self) -> str:
        return self._parked_reason

    def _enter(self, stage: str) -> None:
        self._stage = stage
        parked = stage == "parked"
        workflow.upsert_search_attributes(
            [
                sa.ORDER_STAGE.value_set(f"refund_{stage}"),
                sa.NEEDS_ATTENTION.value_set(parked),
                sa.PARKED_REASON.value_set(sa.text(self._parked_reason)) if parked else sa.PARKED_REASON.value_unset(),
            ]
        )
        workflow.set_current_details(
            f"**Parked**: {self._parked_reason}\n\nFix it, then retry (update `retry`, `refund_payment` false to record "
            "the refund without the payment gateway) or give up (update `cancel`)."
            if parked else f"Refund: {stage.replace('_', ' ')}."
        )  # fmt: skip

    def _finish(self, outcome: RefundOutcome) -> RefundOutcome:
        self._enter("done")
        return outcome

