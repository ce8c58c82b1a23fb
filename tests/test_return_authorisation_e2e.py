"""Authorising returns from durable facts: what shipped and each RMA are kept on the store order, so the rules
and the RMA numbers hold whatever Temporal still keeps of the order's closed runs."""
import asyncio
from decimal import Decimal

import pytest
from temporalio.service import RPCError

from activities.returns import ReturnActivities, ReturnOutcomeRecord
from activities.stores import StoreDirectory
from adapters.tryton import TrytonErp
from canonical.keys import order_workflow_id, refund_workflow_id, return_workflow_id
from canonical.returns import ReturnLine
from starter.returns import AuthorisedReturn, ReturnRefused, authorise_return
from tests.plugins.stack import STORE_ID, OrderStack
from tests.plugins.temporal import delete_closed_runs, eventually
from tests.test_returns_e2e import portal_return, shipped_order
from workflows.returns import ReturnRunInput, ReturnWorkflow


async def authorise(stack: OrderStack, order: dict, *lines: tuple[str, str]) -> AuthorisedReturn:
    return await authorise_return(stack.client, stack.settings, STORE_ID, str(order["id"]),
                                  [ReturnLine(sku=sku, quantity=Decimal(quantity)) for sku, quantity in lines])


async def stop(stack: OrderStack, authorised: AuthorisedReturn) -> None:
    """A return run the test is done with would poll the 3PL for its parcel for the rest of the session."""
    await stack.client.get_workflow_handle(authorised.workflow_id).terminate("test over")


async def test_returns_stay_counted_and_numbered_after_the_closed_runs_are_deleted(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("MUG-CERAMIC", 2)])
    first = await authorise(order_stack, order, ("MUG-CERAMIC", "1"))
    (expected,) = await eventually(lambda: order_stack.warehouse.returns(first.rma), bool, 60)
    await order_stack.warehouse.receive_return(expected["id"], [("MUG-CERAMIC", 1, "Restock")])
    handle = order_stack.client.get_workflow_handle_for(ReturnWorkflow.run, first.workflow_id)
    assert (await asyncio.wait_for(handle.result(), 180)).stage == "completed"

    await delete_closed_runs(order_stack.client, first.workflow_id, refund_workflow_id(STORE_ID, str(order["id"]), first.rma),
                      order_workflow_id(STORE_ID, str(order["id"])))

    with pytest.raises(ReturnRefused, match="MUG-CERAMIC: 2 asked, 1 shipped and not yet returned"):
        await authorise(order_stack, order, ("MUG-CERAMIC", "2"))
    second = await authorise(order_stack, order, ("MUG-CERAMIC", "1"))
    assert second.rma == f"RMA-{STORE_ID}-{order['id']}-2"
    with pytest.raises(ReturnRefused, match="MUG-CERAMIC: 1 asked, 0 shipped and not yet returned"):
        await authorise(order_stack, order, ("MUG-CERAMIC", "1"))
    await stop(order_stack, second)


async def test_lines_of_one_sku_are_summed_before_they_are_checked_against_what_shipped(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("MUG-CERAMIC", 1)])

    with pytest.raises(ReturnRefused, match="MUG-CERAMIC: 2 asked, 1 shipped and not yet returned"):
        await authorise(order_stack, order, ("MUG-CERAMIC", "1"), ("MUG-CERAMIC", "1"))


async def test_a_return_of_part_of_a_unit_is_refused_with_a_readable_422(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("MUG-CERAMIC", 1)])

    answer = await portal_return(order_stack, order, "MUG-CERAMIC", "0.5")

    assert answer.status_code == 422, answer.text
    assert "MUG-CERAMIC: 0.5 is not a whole number of units" in answer.text
    with pytest.raises(RPCError):  # nothing was started
        await order_stack.client.get_workflow_handle(return_workflow_id(f"RMA-{STORE_ID}-{order['id']}-1")).describe()


async def test_an_rma_that_ended_without_taking_anything_back_frees_its_units(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("MUG-CERAMIC", 1)])
    first = await authorise(order_stack, order, ("MUG-CERAMIC", "1"))
    await order_stack.client.get_workflow_handle(first.workflow_id).terminate("the customer kept the mug")
    stores, erp = StoreDirectory(order_stack.settings.stores), TrytonErp(order_stack.settings.erp)
    try:  # what the run does as it closes, here after an operator stopped it
        await ReturnActivities(order_stack.threepl, stores, erp).record_return_outcome(ReturnOutcomeRecord(
            store_id=STORE_ID, order_id=str(order["id"]), rma=first.rma, stage="cancelled"))
    finally:
        await stores.aclose()
        await erp.aclose()

    second = await authorise(order_stack, order, ("MUG-CERAMIC", "1"))
    assert second.rma == f"RMA-{STORE_ID}-{order['id']}-2"
    await stop(order_stack, second)


async def test_an_rma_whose_authoriser_died_before_recording_it_still_counts(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("MUG-CERAMIC", 1)])
    rma = f"RMA-{STORE_ID}-{order['id']}-1"
    await order_stack.client.start_workflow(  # started, then the process died before the store took its record
        ReturnWorkflow.run, ReturnRunInput(order=await order_stack.store.get_order(order["id"]), rma=rma,
                                           lines=[ReturnLine(sku="MUG-CERAMIC", quantity=Decimal(1))],
                                           center_id="1", needs_approval=True),
        id=return_workflow_id(rma), task_queue=order_stack.settings.temporal.task_queue)  # fmt: skip

    with pytest.raises(ReturnRefused, match="MUG-CERAMIC: 1 asked, 0 shipped and not yet returned"):
        await authorise(order_stack, order, ("MUG-CERAMIC", "1"))
    await order_stack.client.get_workflow_handle(return_workflow_id(rma)).terminate("test over")
