"""Return (RMA) decisions on the time-skipping server: approval, the warehouse's news, expiry, refund once.

Stand-in activities under the real names; the refund child runs the real refund workflow on stand-ins too.
"""
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.returns import ReturnNote, ReturnOfOrder, ReturnOutcomeRecord
from adapters.erp import ErpReturn
from canonical import Money, TaxAmount
from canonical.returns import Disposition, ProcessedItem, ReturnLine, ReturnStatus, ThreePLReturn
from tests.factories import canonical_order, eur
from tests.plugins.temporal import eventually
from tests.test_refund_workflow import FakeRefunds
from workflows.refund import RefundWorkflow
from workflows.returns import ReturnRunInput, ReturnWorkflow, refund_for

RMA = "RMA-test-store-1001-1"
WINDOW = timedelta(days=30)


def taxed_order():
    order = canonical_order()
    line = order.lines[0].model_copy(update={"taxes": (TaxAmount(rate_id="1", amount=eur("8.00")),)})
    return order.model_copy(update={"lines": (line,)})


def processed(quantity: int = 1, disposition: Disposition = Disposition.RESTOCK) -> ThreePLReturn:
    return ThreePLReturn(return_ref="9", reference=RMA, status=ReturnStatus.COMPLETED,
                         processed=(ProcessedItem(sku="TEE-CLASSIC", quantity=Decimal(quantity),
                                                  disposition=disposition),))  # fmt: skip


class FakeReturns:
    """`failures` names activities that fail with a business error that many times."""

    def __init__(self, **failures: int) -> None:
        self.calls: list[str] = []
        self.at_3pl = ThreePLReturn(return_ref="9", reference=RMA, status=ReturnStatus.AWAITING_ARRIVAL)
        self.failures = failures
        self.outcomes: list[tuple[str, list]] = []  # what each run recorded on the store order as it ended

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.failures.get(name):
            self.failures[name] -= 1
            raise ApplicationError(f"{name} refused", type="BusinessError", non_retryable=True)

    def activities(self):
        @activity.defn(name="open_erp_return")
        async def open_erp_return(ret: ReturnOfOrder) -> ErpReturn:
            self._call("open_erp_return")
            return ErpReturn(erp_ref="4", reference=ret.rma)

        @activity.defn(name="expect_parcel_at_3pl")
        async def expect_parcel_at_3pl(ret: ReturnOfOrder) -> ThreePLReturn:
            self._call("expect_parcel_at_3pl")
            return self.at_3pl

        @activity.defn(name="cancel_3pl_return")
        async def cancel_3pl_return(rma: str) -> None:
            self._call("cancel_3pl_return")
            if self.at_3pl.status != ReturnStatus.AWAITING_ARRIVAL:
                raise ApplicationError(f"the parcel of {rma} is {self.at_3pl.status.value}", type="BusinessError",
                                       non_retryable=True)  # fmt: skip

        @activity.defn(name="cancel_erp_return")
        async def cancel_erp_return(ret: ReturnOfOrder) -> None:
            self._call("cancel_erp_return")

        @activity.defn(name="record_return_outcome")
        async def record_return_outcome(outcome: ReturnOutcomeRecord) -> None:
            self.outcomes.append((outcome.stage, [(line.sku, line.quantity) for line in outcome.returned]))

        @activity.defn(name="get_3pl_return")
        async def get_3pl_return(rma: str) -> ThreePLReturn:
            self.calls.append("get_3pl_return")
            return self.at_3pl

        @activity.defn(name="receive_erp_return")
        async def receive_erp_return(ret: ReturnOfOrder) -> ErpReturn:
            self._call(f"receive_erp_return:{sum(i.quantity for i in ret.received)}")
            return ErpReturn(erp_ref="4", reference=ret.rma, received=tuple(ret.received))

        @activity.defn(name="note_return_on_store_order")
        async def note_return_on_store_order(note: ReturnNote) -> None:
            self.calls.append(f"note:{note.text}")

        return [open_erp_return, expect_parcel_at_3pl, cancel_3pl_return, cancel_erp_return, get_3pl_return,
                receive_erp_return, note_return_on_store_order, record_return_outcome]  # fmt: skip


def run_input(needs_approval: bool = False) -> ReturnRunInput:
    return ReturnRunInput(order=taxed_order(), rma=RMA, lines=[ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(1))],
                          center_id="1", needs_approval=needs_approval, receive_window=WINDOW,
                          poll_interval=timedelta(hours=6))  # fmt: skip


@pytest.fixture
def queue() -> str:
    return f"tq-{uuid.uuid4()}"


def worker(env, queue, returns: FakeReturns, refunds: FakeRefunds) -> Worker:
    return Worker(env.client, task_queue=queue, workflows=[ReturnWorkflow, RefundWorkflow],
                  activities=[*returns.activities(), *refunds.activities()])  # fmt: skip


async def start(env, queue, run: ReturnRunInput):
    return await env.client.start_workflow(ReturnWorkflow.run, run, id=f"return-{uuid.uuid4()}", task_queue=queue)


async def test_processed_units_are_received_refunded_once_and_noted(time_skipping, queue):
    returns, refunds = FakeReturns(), FakeRefunds()
    async with worker(time_skipping, queue, returns, refunds):
        handle = await start(time_skipping, queue, run_input())
        await eventually(lambda: handle.query(ReturnWorkflow.stage), lambda s: s == "awaiting_parcel")
        returns.at_3pl = processed()
        for _ in range(3):  # the 3PL's webhook, delivered three times
            await handle.signal(ReturnWorkflow.parcel_news)
        outcome = await handle.result()
    assert outcome.stage == "completed" and outcome.refund.credit_note == "CN-5"
    assert returns.outcomes == [("completed", [("TEE-CLASSIC", Decimal(1))])]
    steps = [call for call in returns.calls if call != "get_3pl_return"]
    assert steps[:3] == ["open_erp_return", "expect_parcel_at_3pl", "receive_erp_return:1"]
    assert refunds.calls == ["create_store_refund:gateway=True", "post_credit_note:77"]
    assert returns.calls[-1].startswith(f"note:Return {RMA} received: 1 × TEE-CLASSIC.")


async def test_a_return_above_the_approval_value_waits_and_a_rejection_writes_nothing(time_skipping, queue):
    returns, refunds = FakeReturns(), FakeRefunds()
    async with worker(time_skipping, queue, returns, refunds):
        handle = await start(time_skipping, queue, run_input(needs_approval=True))
        await eventually(lambda: handle.query(ReturnWorkflow.stage), lambda s: s == "awaiting_approval")
        await handle.execute_update(ReturnWorkflow.reject, "outside policy")
        outcome = await handle.result()
    assert outcome.stage == "rejected" and returns.outcomes == [("rejected", [])]
    assert returns.calls == [] and refunds.calls == []


async def test_a_parcel_that_never_arrives_expires_with_a_note(time_skipping, queue):
    returns, refunds = FakeReturns(), FakeRefunds()
    async with worker(time_skipping, queue, returns, refunds):
        outcome = await (await start(time_skipping, queue, run_input())).result()
    assert outcome.stage == "expired" and returns.outcomes == [("expired", [])]
    assert returns.calls[-1] == f"note:Return {RMA} expired: the parcel did not arrive within 30 days."
    assert refunds.calls == []


async def test_a_lost_return_webhook_is_caught_by_the_poll(time_skipping, queue):
    returns, refunds = FakeReturns(), FakeRefunds()
    async with worker(time_skipping, queue, returns, refunds):
        handle = await start(time_skipping, queue, run_input())
        await eventually(lambda: handle.query(ReturnWorkflow.stage), lambda s: s == "awaiting_parcel")
        returns.at_3pl = processed(disposition=Disposition.DISPOSE)
        outcome = await handle.result()
    assert outcome.stage == "completed"
    assert "get_3pl_return" in returns.calls


CANCELLED_NOTE = f"note:Return {RMA} was cancelled."


async def stage(handle) -> str:
    return await handle.query(ReturnWorkflow.stage)


async def test_a_return_cancelled_while_awaiting_approval_writes_nothing_and_says_cancelled(time_skipping, queue):
    returns, refunds = FakeReturns(), FakeRefunds()
    async with worker(time_skipping, queue, returns, refunds):
        handle = await start(time_skipping, queue, run_input(needs_approval=True))
        await eventually(lambda: stage(handle), lambda s: s == "awaiting_approval")
        await handle.execute_update(ReturnWorkflow.cancel, "customer kept it")
        outcome = await handle.result()
    assert outcome.stage == "cancelled"
    assert returns.calls == [CANCELLED_NOTE] and refunds.calls == []


@pytest.mark.parametrize("parked_at, undone", [
    ("open_erp_return", ["cancel_erp_return"]),
    ("expect_parcel_at_3pl", ["cancel_3pl_return", "cancel_erp_return"]),
])  # fmt: skip
async def test_a_return_cancelled_while_parked_undoes_what_it_did_newest_first(time_skipping, queue, parked_at, undone):
    returns, refunds = FakeReturns(**{parked_at: 1}), FakeRefunds()
    async with worker(time_skipping, queue, returns, refunds):
        handle = await start(time_skipping, queue, run_input())
        await eventually(lambda: stage(handle), lambda s: s == "parked")
        await handle.execute_update(ReturnWorkflow.cancel, "wrong item authorised")
        outcome = await handle.result()
    assert outcome.stage == "cancelled" and outcome.refund is None
    assert returns.calls[returns.calls.index(parked_at) + 1:] == [*undone, CANCELLED_NOTE]
    assert refunds.calls == []


async def test_a_return_cancelled_while_waiting_for_the_parcel_is_undone_at_the_3pl_and_in_the_erp(time_skipping,
                                                                                                    queue):
    returns, refunds = FakeReturns(), FakeRefunds()
    async with worker(time_skipping, queue, returns, refunds):
        handle = await start(time_skipping, queue, run_input())
        await eventually(lambda: stage(handle), lambda s: s == "awaiting_parcel")
        await handle.execute_update(ReturnWorkflow.cancel, "customer kept it")
        outcome = await handle.result()
        assert await handle.query(ReturnWorkflow.returned_lines) == []
    assert outcome.stage == "cancelled" and returns.outcomes == [("cancelled", [])]
    steps = [call for call in returns.calls if call != "get_3pl_return"]
    assert steps == ["open_erp_return", "expect_parcel_at_3pl", "cancel_3pl_return", "cancel_erp_return",
                     CANCELLED_NOTE]  # fmt: skip
    assert refunds.calls == []


async def test_a_parcel_that_arrived_is_left_at_the_3pl_by_the_operator_and_the_erp_return_stays(time_skipping,
                                                                                                 queue):
    returns, refunds = FakeReturns(), FakeRefunds()
    async with worker(time_skipping, queue, returns, refunds):
        handle = await start(time_skipping, queue, run_input())
        await eventually(lambda: stage(handle), lambda s: s == "awaiting_parcel")
        returns.at_3pl = returns.at_3pl.model_copy(update={"status": ReturnStatus.ARRIVED})
        await handle.execute_update(ReturnWorkflow.cancel, "customer asked")
        await eventually(lambda: stage(handle), lambda s: s == "parked")
        assert "arrived" in await handle.query(ReturnWorkflow.parked_reason)
        await handle.execute_update(ReturnWorkflow.cancel, "the warehouse keeps it")
        outcome = await handle.result()
    assert outcome.stage == "cancelled"
    assert "cancel_erp_return" not in returns.calls
    assert "left as they are by the operator: cancel_3pl_return, cancel_erp_return" in outcome.note
    assert refunds.calls == []


async def test_a_return_is_not_cancellable_once_the_warehouse_processed_the_parcel(time_skipping, queue):
    returns, refunds = FakeReturns(**{"receive_erp_return:1": 1}), FakeRefunds()
    async with worker(time_skipping, queue, returns, refunds):
        handle = await start(time_skipping, queue, run_input())
        await eventually(lambda: stage(handle), lambda s: s == "awaiting_parcel")
        returns.at_3pl = processed()
        await handle.signal(ReturnWorkflow.parcel_news)
        await eventually(lambda: stage(handle), lambda s: s == "parked")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ReturnWorkflow.cancel, "too late")
        await handle.execute_update(ReturnWorkflow.retry)
        outcome = await handle.result()
    assert "processed" in str(refused.value.cause)
    assert outcome.stage == "completed" and outcome.refund.credit_note == "CN-5"
    assert "cancel_3pl_return" not in returns.calls and "cancel_erp_return" not in returns.calls


def test_refund_covers_the_processed_quantity_with_the_line_tax_pro_rata():
    request = refund_for(run_input(), list(processed().processed))
    (line,) = request.lines
    assert (line.line_id, line.quantity, line.amount) == ("11", Decimal(1), eur("20.00"))
    assert line.taxes == (TaxAmount(rate_id="1", amount=eur("4.00")),)
    assert request.amount == Money(amount=Decimal("24.00"), currency="EUR") and request.restock
