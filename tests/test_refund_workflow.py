"""Refund decisions on the time-skipping server: merchant's refunds, ours, gateway refusals, giving up.

Stand-in activities under the real names; the real ones run end to end against the sandbox and Tryton.
"""
import uuid
from decimal import Decimal

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.refunds import CreditNoteRequest, StoreRefundRef
from adapters.erp import ErpCreditNote
from canonical.returns import Refund, RefundLine, RefundRequest
from tests.factories import eur
from tests.plugins.temporal import eventually
from workflows import search_attributes as sa
from workflows.refund import RefundRunInput, RefundWorkflow

LINE = RefundLine(line_id="11", sku="TEE-CLASSIC", quantity=Decimal(1), amount=eur("20.00"))


def refund(key: str | None = None) -> Refund:
    return Refund(refund_id="77", store_id="s", order_id="1001", amount=eur("24.00"), lines=(LINE,), key=key)


class FakeRefunds:
    def __init__(self, gateway_refusals: int = 0, invoice_missing: int = 0) -> None:
        self.calls: list[str] = []
        self.gateway_refusals = gateway_refusals
        self.invoice_missing = invoice_missing  # credit notes asked before the sale's invoice was posted

    def activities(self):
        @activity.defn(name="create_store_refund")
        async def create_store_refund(request: RefundRequest) -> Refund:
            self.calls.append(f"create_store_refund:gateway={request.refund_payment}")
            if self.gateway_refusals and request.refund_payment:
                self.gateway_refusals -= 1
                raise ApplicationError("woocommerce: Card issuer declined the refund", type="BusinessError",
                                       non_retryable=True)  # fmt: skip
            return refund(key=request.key)

        @activity.defn(name="read_store_refund")
        async def read_store_refund(ref: StoreRefundRef) -> Refund:
            self.calls.append("read_store_refund")
            return refund(key="s:1001:refund:rma-1" if ref.refund_id == "ours" else None)

        @activity.defn(name="post_credit_note")
        async def post_credit_note(request: CreditNoteRequest) -> ErpCreditNote:
            self.calls.append(f"post_credit_note:{request.refund.refund_id}")
            if self.invoice_missing:
                self.invoice_missing -= 1
                raise ApplicationError("tryton: Sale SO-9 has no posted invoice to credit yet", type="NotReadyYet",
                                       non_retryable=True)  # fmt: skip
            return ErpCreditNote(erp_ref="5", number="CN-5", refund_key="k", untaxed_amount=eur("20"),
                                 tax_amount=eur("4"), total_amount=eur("24"))  # fmt: skip

        return [create_store_refund, read_store_refund, post_credit_note]


def our_request() -> RefundRequest:
    return RefundRequest(key="s:1001:refund:rma-1", store_id="s", order_id="1001", reason="RMA-1", lines=(LINE,),
                         amount=eur("24.00"), refund_payment=True, restock=False)  # fmt: skip


async def start(env, queue: str, run: RefundRunInput):
    return await env.client.start_workflow(RefundWorkflow.run, run, id=f"refund-{uuid.uuid4()}", task_queue=queue)


@pytest.fixture
def queue() -> str:
    return f"tq-{uuid.uuid4()}"


async def test_merchant_refund_gets_its_credit_note(time_skipping, queue):
    fakes = FakeRefunds()
    async with Worker(time_skipping.client, task_queue=queue, workflows=[RefundWorkflow], activities=fakes.activities()):
        outcome = await (await start(time_skipping, queue, RefundRunInput(store_id="s", order_id="1001",
                                                                          store_refund_id="77"))).result()  # fmt: skip
    assert outcome.credit_note == "CN-5"
    assert fakes.calls == ["read_store_refund", "post_credit_note:77"]


async def test_our_own_refund_echoed_back_is_not_credited_twice(time_skipping, queue):
    fakes = FakeRefunds()
    async with Worker(time_skipping.client, task_queue=queue, workflows=[RefundWorkflow], activities=fakes.activities()):
        outcome = await (await start(time_skipping, queue, RefundRunInput(store_id="s", order_id="1001",
                                                                          store_refund_id="ours"))).result()  # fmt: skip
    assert outcome.credit_note == "" and "made by retail-sync" in outcome.note
    assert fakes.calls == ["read_store_refund"]


async def test_gateway_refusal_parks_and_a_retry_without_the_gateway_records_it_once(time_skipping, queue):
    fakes = FakeRefunds(gateway_refusals=1)
    async with Worker(time_skipping.client, task_queue=queue, workflows=[RefundWorkflow], activities=fakes.activities()):
        handle = await start(time_skipping, queue, RefundRunInput(store_id="s", order_id="1001", request=our_request()))
        await eventually(lambda: handle.query(RefundWorkflow.stage), lambda stage: stage == "parked")
        assert await handle.query(RefundWorkflow.parked_reason) == "woocommerce: Card issuer declined the refund"
        await handle.execute_update(RefundWorkflow.retry, False)
        outcome = await handle.result()
    assert outcome.credit_note == "CN-5"
    assert fakes.calls == ["create_store_refund:gateway=True", "create_store_refund:gateway=False",
                           "post_credit_note:77"]  # fmt: skip


async def test_a_refund_an_operator_gives_up_writes_nothing_more(time_skipping, queue):
    fakes = FakeRefunds(gateway_refusals=5)
    async with Worker(time_skipping.client, task_queue=queue, workflows=[RefundWorkflow], activities=fakes.activities()):
        handle = await start(time_skipping, queue, RefundRunInput(store_id="s", order_id="1001", request=our_request()))
        await eventually(lambda: handle.query(RefundWorkflow.stage), lambda stage: stage == "parked")
        await handle.execute_update(RefundWorkflow.cancel, "customer got store credit instead")
        outcome = await handle.result()
    assert outcome.note == "given up by an operator"
    assert fakes.calls == ["create_store_refund:gateway=True"]


async def test_a_credit_note_that_must_wait_for_the_invoice_goes_on_once_it_is_posted(time_skipping, queue):
    fakes = FakeRefunds(invoice_missing=3)
    async with Worker(time_skipping.client, task_queue=queue, workflows=[RefundWorkflow], activities=fakes.activities()):
        handle = await start(time_skipping, queue, RefundRunInput(store_id="s", order_id="1001", store_refund_id="77"))
        await eventually(lambda: handle.query(RefundWorkflow.stage), lambda stage: stage == "posting_credit_note")
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(sa.NEEDS_ATTENTION) is False
        outcome = await handle.result()
    assert outcome.credit_note == "CN-5"
    assert fakes.calls == ["read_store_refund", *["post_credit_note:77"] * 4]


def test_the_rest_of_an_order_is_every_line_not_refunded_before_taxes_included():
    from activities.refunds import remaining_lines
    from canonical import FeeLine, ShippingLine, TaxAmount
    from canonical.returns import LineKind
    from tests.factories import canonical_order

    order = canonical_order()
    tee = order.lines[0].model_copy(update={"taxes": (TaxAmount(rate_id="1", amount=eur("8.00")),)})
    shipping = ShippingLine(line_id="31", method_id="flat_rate", method_title="Flat rate", total=eur("4.90"),
                            taxes=(TaxAmount(rate_id="1", amount=eur("0.98")),))  # fmt: skip
    fee = FeeLine(line_id="41", name="Gift wrap", total=eur("2.00"))
    order = order.model_copy(update={"lines": (tee,), "shipping_lines": (shipping,), "fee_lines": (fee,)})
    earlier = RefundLine(line_id="11", sku="TEE-CLASSIC", quantity=Decimal(1), amount=eur("20.00"),
                         taxes=(TaxAmount(rate_id="1", amount=eur("4.00")),))  # fmt: skip

    rest = remaining_lines(order, [earlier])

    assert [(l.line_id, l.kind, l.quantity, l.amount, [t.amount for t in l.taxes]) for l in rest] == [
        ("11", LineKind.PRODUCT, Decimal(1), eur("20.00"), [eur("4.00")]),
        ("31", LineKind.SHIPPING, Decimal(0), eur("4.90"), [eur("0.98")]),
        ("41", LineKind.FEE, Decimal(0), eur("2.00"), []),
    ]
