"""Changing a workflow while its runs are in flight: runs started on today's code finish on the changed code.

The change here is the kind a contributor makes next: a new step (thank the customer before completing
the store order), guarded by `workflow.patched` as the README's contributor section says. The same change
unguarded cannot replay the runs that already passed that point: the test shows that too.
"""
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from activities.orders import OrderRef
from canonical import OrderStatus
from canonical.fulfilment import ShipmentStatus
from tests.factories import canonical_order
from tests.test_order_workflow import REFERENCE, FakeSystems, reach, shipment, stage_of, start_run, tell
from workflows.order_messages import OrderOutcome, OrderRunInput, OrderStage
from workflows.order_to_cash import OrderToCashWorkflow

THANKED = "thank_the_customer"


@workflow.defn(name="OrderToCashWorkflow")
class ChangedOrderToCash(OrderToCashWorkflow):
    """Today's order run plus a new step before the close, versioned with a patch."""

    @workflow.run
    async def run(self, run: OrderRunInput) -> OrderOutcome:
        return await super().run(run)

    async def _close_the_sale(self) -> None:
        if workflow.patched("thank-the-customer"):
            await workflow.execute_activity(THANKED, self._order_ref, start_to_close_timeout=timedelta(seconds=30))
        await super()._close_the_sale()


@workflow.defn(name="OrderToCashWorkflow")
class UnversionedChange(OrderToCashWorkflow):
    """The same kind of change without a patch, early in the run: runs that passed that point cannot replay."""

    @workflow.run
    async def run(self, run: OrderRunInput) -> OrderOutcome:
        return await super().run(run)

    async def _create_erp_sale(self) -> None:
        await workflow.execute_activity(THANKED, self._order_ref, start_to_close_timeout=timedelta(seconds=30))
        await super()._create_erp_sale()


async def test_runs_started_on_todays_code_complete_on_a_changed_workflow(time_skipping):
    queue = f"tq-{uuid.uuid4()}"
    systems = FakeSystems(create_failures=1)
    # No cache on today's worker: the time-skipping server never hands a stopped worker's sticky tasks on.
    async with Worker(time_skipping.client, task_queue=queue, workflows=[OrderToCashWorkflow],
                      activities=systems.activities(), max_cached_workflows=0):  # fmt: skip
        parked = await start_run(time_skipping, queue, canonical_order("2001"))
        await reach(parked, OrderStage.PARKED)
        unpaid = await start_run(time_skipping, queue, canonical_order("2002", status=OrderStatus.AWAITING_PAYMENT))
        shipping = await start_run(time_skipping, queue, canonical_order("2003"))
        await reach(shipping, OrderStage.AWAITING_SHIPMENT)
        assert await stage_of(unpaid) == OrderStage.AWAITING_PAYMENT
    histories = [await run.fetch_history() for run in (parked, unpaid, shipping)]

    thanked: list[str] = []

    @activity.defn(name=THANKED)
    async def thank(ref: OrderRef) -> None:
        thanked.append(ref.order_id)

    async with Worker(time_skipping.client, task_queue=queue, workflows=[ChangedOrderToCash],
                      activities=[*systems.activities(), thank]):  # a new worker replays each run from its start
        await parked.execute_update(OrderToCashWorkflow.retry)
        await unpaid.signal(OrderToCashWorkflow.store_order_changed, canonical_order("2002", minutes_later=5))
        for run in (parked, unpaid, shipping):
            await reach(run, OrderStage.AWAITING_SHIPMENT)
        for run in (parked, unpaid, shipping):  # the fakes' 3PL has one order under the fake reference
            await tell(run, systems, REFERENCE, shipment(ShipmentStatus.SHIPPED))
        outcomes = [await run.result() for run in (parked, unpaid, shipping)]

    assert [outcome.stage for outcome in outcomes] == [OrderStage.COMPLETED] * 3
    assert sorted(thanked) == ["2001", "2002", "2003"]  # the new step ran where they had not been yet
    replayer = Replayer(workflows=[UnversionedChange], data_converter=pydantic_data_converter)
    for history in histories[::2]:  # the parked and the shipping run had passed the ERP sale
        with pytest.raises(Exception, match="[Nn]ondetermin"):
            await replayer.replay_workflow(history)

