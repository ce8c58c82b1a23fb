"""Fulfilment end to end: store → Temporal → Tryton → ShipBob sandbox → shipments back to Tryton and the store."""
import asyncio
import json
from decimal import Decimal

import pytest

from canonical.keys import order_workflow_id
from tests.plugins.stack import STORE_ID, OrderStack, progress, reach, run_intake_now, sales_for, webhooks_paused
from tests.plugins.temporal import eventually
from workflows.order_messages import OrderStage
from workflows.order_to_cash import OrderToCashWorkflow

SHIPPED_NOTE = "tracking number"


@pytest.fixture
async def warehouse_quirks(order_stack: OrderStack):
    """Switch field-reported 3PL quirks on for one test; everything is back to normal afterwards."""
    yield order_stack.warehouse.quirks
    await order_stack.warehouse.quirks(shipped_without_tracking=False, no_delivered_event=False,
                                       duplicate_deliveries=False, out_of_order=False, drop_webhooks=False)  # fmt: skip
    await order_stack.warehouse.clear_refusals()


async def shipments_of(stack: OrderStack, order_id) -> list[dict]:
    return await eventually(lambda: stack.warehouse.shipments(f"{STORE_ID}:{order_id}:"), bool)


async def finished(stack: OrderStack, order_id):
    handle = stack.client.get_workflow_handle_for(OrderToCashWorkflow.run, order_workflow_id(STORE_ID, str(order_id)))
    return await asyncio.wait_for(handle.result(), 180)


async def done_erp_shipments(stack: OrderStack, sale: dict) -> list[tuple[str, list[tuple[str, float]]]]:
    shipments = await stack.erp.call("stock.shipment.out", "read", sale["shipments"], ["state", "reference",
                                                                                         "outgoing_moves"])  # fmt: skip
    done = []
    for shipment in shipments:
        if shipment["state"] == "done":
            moves = await stack.erp.call("stock.move", "read", shipment["outgoing_moves"], ["product.code", "quantity"])
            done.append((shipment["reference"], sorted((m["product."]["code"], m["quantity"]) for m in moves)))
    return sorted(done)


async def tracking_notes(stack: OrderStack, order_id) -> list[str]:
    return [n.text for n in await stack.store.list_order_notes(order_id) if SHIPPED_NOTE in n.text and n.customer_visible]


async def test_order_split_across_two_centres_is_shipped_completed_invoiced_and_paid(order_stack: OrderStack):
    order = await order_stack.shopper.place_order([("MUG-CERAMIC", 2), ("BOOK-COFFEE", 1)], paid=True)
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    shipments = await shipments_of(order_stack, order["id"])
    assert sorted(s["location"]["id"] for s in shipments) == [1, 2]  # the mug is only in 1, the book only in 2
    for shipment in shipments:
        await order_stack.warehouse.ship(shipment["id"])

    outcome = await finished(order_stack, order["id"])

    assert outcome.stage == OrderStage.COMPLETED
    (sale,) = await sales_for(order_stack, order["id"])
    assert await done_erp_shipments(order_stack, sale) == sorted(
        [(str(s["id"]), [(p["reference_id"], float(sum(i["quantity"] for i in p["inventory_items"])))
                         for p in s["products"]]) for s in shipments]
    )  # fmt: skip
    notes = await tracking_notes(order_stack, order["id"])
    assert len(notes) == 2
    tracked = await order_stack.warehouse.shipments(f"{STORE_ID}:{order['id']}:")
    assert sorted(s["tracking"]["tracking_number"] for s in tracked) == sorted(
        n.split(f"{SHIPPED_NOTE} ")[1].split(".")[0] for n in notes
    )
    store_order = await order_stack.shopper.get_order(order["id"])
    assert store_order["status"] == "completed"
    meta = {m["key"]: m["value"] for m in store_order["meta_data"]}
    assert {json.loads(meta[f"_retail_sync_tracking_{s['id']}"])["tracking_number"] for s in tracked} == {
        s["tracking"]["tracking_number"] for s in tracked
    }
    (invoice,) = await order_stack.erp.call("account.invoice", "search_read", [("sales.id", "=", sale["id"])], 0,
                                            None, None, ["state", "total_amount", "amount_to_pay"])  # fmt: skip
    assert invoice["state"] == "paid" and invoice["total_amount"] == Decimal(store_order["total"])


async def test_duplicate_late_and_untracked_3pl_events_still_give_one_record_each(order_stack: OrderStack,
                                                                                   warehouse_quirks):  # fmt: skip
    await warehouse_quirks(duplicate_deliveries=True, out_of_order=True, shipped_without_tracking=True)
    order = await order_stack.shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    (shipment,) = await shipments_of(order_stack, order["id"])
    await order_stack.warehouse.ship(shipment["id"], deliver=True)

    outcome = await finished(order_stack, order["id"])

    assert outcome.stage == OrderStage.COMPLETED
    (sale,) = await sales_for(order_stack, order["id"])
    assert await done_erp_shipments(order_stack, sale) == [(str(shipment["id"]), [("TEE-CLASSIC", 1.0)])]
    assert len(await tracking_notes(order_stack, order["id"])) == 1


async def test_dropped_webhooks_are_caught_by_the_poll_backstop(order_stack: OrderStack, warehouse_quirks):
    await warehouse_quirks(drop_webhooks=True)
    order = await order_stack.shopper.place_order([("HOODIE-S", 1)], paid=True)
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    (shipment,) = await shipments_of(order_stack, order["id"])
    await order_stack.warehouse.ship(shipment["id"])

    outcome = await finished(order_stack, order["id"])

    assert outcome.stage == OrderStage.COMPLETED
    assert len(await tracking_notes(order_stack, order["id"])) == 1


async def test_3pl_rate_limit_is_honoured_and_nothing_is_lost(order_stack: OrderStack, warehouse_quirks):
    await order_stack.warehouse.refuse_requests(count=3, retry_after=1)
    order = await order_stack.shopper.place_order([("TEE-CLASSIC", 2)], paid=True)
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    (shipment,) = await shipments_of(order_stack, order["id"])
    await order_stack.warehouse.ship(shipment["id"])

    outcome = await finished(order_stack, order["id"])

    assert outcome.stage == OrderStage.COMPLETED
    assert len(await order_stack.warehouse.orders(f"{STORE_ID}:{order['id']}:")) == 1


async def test_cancel_before_pick_is_undone_in_3pl_erp_and_store(order_stack: OrderStack):
    order = await order_stack.shopper.place_order([("MUG-CERAMIC", 1)], paid=True)
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)

    await order_stack.shopper.cancel(order["id"])
    outcome = await finished(order_stack, order["id"])

    assert outcome.stage == OrderStage.CANCELLED
    (threepl_order,) = await order_stack.warehouse.orders(f"{STORE_ID}:{order['id']}:")
    assert threepl_order["status"] == "Cancelled"
    (sale,) = await sales_for(order_stack, order["id"])
    shipments = await order_stack.erp.call("stock.shipment.out", "read", sale["shipments"], ["state"])
    assert {s["state"] for s in shipments} == {"cancelled"}
    notes = [n.text for n in await order_stack.store.list_order_notes(order["id"]) if "stopped processing" in n.text]
    assert len(notes) == 1 and f"ERP sale {sale['number']} cancelled" in notes[0]


async def test_cancel_after_pick_parks_with_the_reason_and_keeps_the_erp_sale(order_stack: OrderStack):
    order = await order_stack.shopper.place_order([("HOODIE-S", 1)], paid=True)
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    (shipment,) = await shipments_of(order_stack, order["id"])
    await order_stack.warehouse.pick(shipment["id"])

    await order_stack.shopper.cancel(order["id"])
    parked = await reach(order_stack, order["id"], OrderStage.PARKED)

    assert "can no longer be fully cancelled" in parked.parked.reason
    (sale,) = await sales_for(order_stack, order["id"])
    shipments = await order_stack.erp.call("stock.shipment.out", "read", sale["shipments"], ["state"])
    assert "cancelled" not in {s["state"] for s in shipments}
    assert (await progress(order_stack, order["id"])).cancel_reason == "order cancelled in the store"


async def test_partial_cancel_is_reported_line_by_line_and_what_ships_keeps_its_erp_sale(order_stack: OrderStack):
    order = await order_stack.shopper.place_order([("MUG-CERAMIC", 1), ("BOOK-COFFEE", 1)], paid=True)
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    shipments = await shipments_of(order_stack, order["id"])
    picked = next(s for s in shipments if s["products"][0]["reference_id"] == "BOOK-COFFEE")
    await order_stack.warehouse.pick(picked["id"])

    await order_stack.shopper.cancel(order["id"])
    parked = await reach(order_stack, order["id"], OrderStage.PARKED)

    assert "still shipping 1 × BOOK-COFFEE; cancelled nothing" in parked.parked.reason
    handle = order_stack.client.get_workflow_handle_for(OrderToCashWorkflow.run,
                                                        order_workflow_id(STORE_ID, str(order["id"])))  # fmt: skip
    await handle.execute_update(OrderToCashWorkflow.cancel, "book ships; refund it when it comes back")
    outcome = await finished(order_stack, order["id"])

    assert outcome.stage == OrderStage.CANCELLED
    assert outcome.note.endswith(f"left as they are by the operator: cancel_fulfilment_order {STORE_ID}:"
                                 f"{order['id']}:p2, cancel_sales_order")  # fmt: skip
    shipped_from = {s["products"][0]["reference_id"]: s["status"]
                    for s in await order_stack.warehouse.shipments(f"{STORE_ID}:{order['id']}:")}  # fmt: skip
    assert shipped_from == {"MUG-CERAMIC": "Cancelled", "BOOK-COFFEE": "Processing"}  # line by line
    (sale,) = await sales_for(order_stack, order["id"])
    assert sale["state"] == "processing"


async def test_intake_schedule_starts_runs_for_orders_whose_webhooks_were_lost(order_stack: OrderStack):
    async with webhooks_paused(order_stack):
        order = await order_stack.shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
        await asyncio.sleep(0.5)
        assert await progress(order_stack, order["id"]) is None  # no webhook, no run

        result = await run_intake_now(order_stack)

        assert result.runs_started >= 1
        await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
        assert result.webhooks_reenabled == []


async def test_intake_re_enables_and_reports_a_webhook_woocommerce_disabled(order_stack: OrderStack):
    hook = next(h for h in await order_stack.store.list_webhooks() if h.topic == "order.updated")
    await order_stack.shopper.edit_webhook(hook.webhook_id, delivery_url=f"{order_stack.starter_url}/moved-away")
    try:
        for _ in range(7):  # each order change is one failed delivery; WooCommerce disables it at the 7th
            order = await order_stack.shopper.place_order([("TEE-CLASSIC", 1)], paid=False)
            await order_stack.shopper.pay(order["id"])
        await eventually(order_stack.store.list_webhooks,
                         lambda hooks: {h.webhook_id: h.status for h in hooks}[hook.webhook_id] == "disabled", 30)
    finally:
        await order_stack.shopper.edit_webhook(hook.webhook_id, delivery_url=hook.delivery_url)

    result = await run_intake_now(order_stack)

    assert result.webhooks_reenabled == [f"{hook.name} (order.updated)"]
    assert {h.webhook_id: h.status for h in await order_stack.store.list_webhooks()}[hook.webhook_id] == "active"
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)  # its payment reached the run anyway
