"""Support reads an order's ERP sale, shipments with tracking, invoice and refunds from its run at every stage
and after it closed: the memo and the result come from history alone, with no worker answering."""
from decimal import Decimal

from canonical.keys import order_workflow_id, sales_order_key
from tests.plugins.stack import STORE_ID, OrderStack, reach
from tests.plugins.temporal import eventually
from tests.test_fulfilment_e2e import finished
from workflows.order_messages import OrderStage
from workflows.order_record import MEMO_KEY, OrderRecord


async def open_shipments(stack: OrderStack, order_id) -> list[dict]:
    return [s for s in await stack.warehouse.shipments(f"{STORE_ID}:{order_id}:") if s["status"] != "Cancelled"]


async def test_a_closed_order_run_keeps_its_sale_tracking_invoice_and_refunds_in_memo_and_result(
    order_stack: OrderStack,
):
    stack = order_stack
    order = await stack.shopper.place_order([("TEE-CLASSIC", 2)], paid=True)
    waiting = await reach(stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    handle = stack.client.get_workflow_handle(order_workflow_id(STORE_ID, str(order["id"])))
    before = OrderRecord.model_validate((await (await handle.describe()).memo())[MEMO_KEY])
    assert (before.erp_sale_number, before.order_number) == (waiting.erp_sale_number, order["number"])
    (tee,) = (await stack.shopper.get_order(order["id"]))["line_items"]
    refund = await stack.shopper.refund_line(order["id"], tee, 1, reason="late delivery")
    await eventually(lambda: stack.warehouse.orders(f"{STORE_ID}:{order['id']}:"), lambda o: len(o) == 2, 60)
    await reach(stack, order["id"], OrderStage.AWAITING_SHIPMENT)  # the tee left goes out again

    (parcel,) = await open_shipments(stack, order["id"])
    await stack.warehouse.ship(parcel["id"])
    outcome = await finished(stack, order["id"])

    (sale,) = await stack.erp.call("sale.sale", "search_read", [("web_id", "=", sales_order_key(STORE_ID,
                                   str(order["id"])))], 0, None, None, ["number", "invoices.number"])  # fmt: skip
    (parcel,) = await open_shipments(stack, order["id"])
    memo = OrderRecord.model_validate((await (await handle.describe()).memo())[MEMO_KEY])
    assert memo == outcome.record
    assert (memo.erp_sale_number, memo.invoice_number) == (sale["number"], sale["invoices."][0]["number"])
    shipped = next(s for s in memo.shipments if s.shipment_id == str(parcel["id"]))
    assert (shipped.shipment_id, shipped.status) == (str(parcel["id"]), "delivered" if parcel["status"] ==
                                                     "Delivered" else "shipped")  # fmt: skip
    assert (shipped.carrier, shipped.tracking_number, shipped.tracking_url) == (
        parcel["tracking"]["carrier"], parcel["tracking"]["tracking_number"], parcel["tracking"]["tracking_url"])
    assert [(r.refund_id, r.amount.amount, r.amount.currency, r.reason) for r in memo.refunds] == [
        (str(refund["id"]), Decimal(refund["amount"]), order["currency"], "late delivery")]
    assert memo.waits_for.endswith("shipped, completed in the store, invoiced and paid in the ERP.")
