"""A merchant's refund of units that have not shipped yet: the warehouse never ships them, the ERP stops
holding them (store ↔ Temporal ↔ Tryton ↔ ShipBob sandbox)."""
from decimal import Decimal

from tests.plugins.stack import STORE_ID, OrderStack, reach, sales_for
from tests.plugins.temporal import eventually
from tests.test_fulfilment_e2e import done_erp_shipments, finished
from tests.test_returns_e2e import credit_notes
from workflows.order_messages import OrderStage


def units(threepl_order: dict) -> list[tuple[str, int]]:
    return sorted((p["reference_id"], p["quantity"]) for p in threepl_order["products"])


async def test_a_tee_refunded_while_at_the_warehouse_is_never_shipped(order_stack: OrderStack):
    order = await order_stack.shopper.place_order([("TEE-CLASSIC", 2)], paid=True)
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    (sent,) = await order_stack.warehouse.orders(f"{STORE_ID}:{order['id']}:")
    tee = next(line for line in order["line_items"] if line["sku"] == "TEE-CLASSIC")

    await order_stack.shopper.refund_line(order["id"], tee, 1, reason="out of stock at the warehouse")

    orders = await eventually(lambda: order_stack.warehouse.orders(f"{STORE_ID}:{order['id']}:"),
                              lambda found: len(found) == 2, 60)  # fmt: skip
    again = next(o for o in orders if o["id"] != sent["id"])
    assert next(o for o in orders if o["id"] == sent["id"])["status"] == "Cancelled"
    assert units(again) == [("TEE-CLASSIC", 1)]
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    (shipment,) = [s for s in await order_stack.warehouse.shipments(f"{STORE_ID}:{order['id']}:")
                   if s["status"] != "Cancelled"]  # fmt: skip
    await order_stack.warehouse.ship(shipment["id"])

    assert (await finished(order_stack, order["id"])).stage == OrderStage.COMPLETED
    (sale,) = await sales_for(order_stack, order["id"])
    assert await done_erp_shipments(order_stack, sale) == [(str(shipment["id"]), [("TEE-CLASSIC", 1.0)])]
    (states,) = await order_stack.erp.call("sale.sale", "read", [sale["id"]], ["shipment_state"])
    assert states["shipment_state"] == "sent"
    (note,) = await eventually(lambda: credit_notes(order_stack, order["id"]), bool, 60)  # it waited for the invoice
    assert note["total_amount"] == -Decimal(tee["total"]) / 2 - Decimal(tee["total_tax"]) / 2
