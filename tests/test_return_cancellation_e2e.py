"""Cancelling a return end to end: the 3PL stops expecting the parcel, the ERP return is undone, the units
can be returned again, and nothing is refunded."""
import asyncio
from decimal import Decimal

from canonical.returns import ReturnLine
from starter.returns import authorise_return
from tests.plugins.stack import STORE_ID, OrderStack
from tests.plugins.temporal import eventually
from tests.test_returns_e2e import credit_notes, shipped_order
from workflows.returns import ReturnWorkflow


async def erp_returns(stack: OrderStack, rma: str) -> list[dict]:
    return await stack.erp.call("sale.sale", "search_read", [("reference", "=", rma)], 0, None, None,
                                ["state", "shipment_returns.state", "invoices.state"])  # fmt: skip


async def test_a_return_cancelled_while_its_parcel_is_awaited_is_undone_at_the_3pl_and_in_the_erp(
    order_stack: OrderStack,
):
    order = await shipped_order(order_stack, [("MUG-CERAMIC", 1)])
    mug = [ReturnLine(sku="MUG-CERAMIC", quantity=Decimal(1), reason="changed my mind")]
    authorised = await authorise_return(order_stack.client, order_stack.settings, STORE_ID, str(order["id"]), mug)
    (expected,) = await eventually(lambda: order_stack.warehouse.returns(authorised.rma), bool, 60)
    handle = order_stack.client.get_workflow_handle_for(ReturnWorkflow.run, authorised.workflow_id)
    await eventually(lambda: handle.query(ReturnWorkflow.stage), lambda stage: stage == "awaiting_parcel", 60)

    await handle.execute_update(ReturnWorkflow.cancel, "the customer kept the mug")
    outcome = await asyncio.wait_for(handle.result(), 120)

    assert outcome.stage == "cancelled" and outcome.refund is None
    (at_3pl,) = await order_stack.warehouse.returns(authorised.rma)
    assert at_3pl["status"] == "Cancelled"
    (erp_return,) = await erp_returns(order_stack, authorised.rma)
    assert [s["state"] for s in erp_return["shipment_returns."]] == ["cancelled"]
    assert all(invoice["state"] == "cancelled" for invoice in erp_return["invoices."])
    assert await order_stack.store.list_refunds(order["id"]) == []
    assert await credit_notes(order_stack, order["id"]) == []
    again = await authorise_return(order_stack.client, order_stack.settings, STORE_ID, str(order["id"]), mug)
    assert again.rma != authorised.rma
    await eventually(lambda: order_stack.warehouse.returns(again.rma), bool, 60)
    assert len(await erp_returns(order_stack, again.rma)) == 1
