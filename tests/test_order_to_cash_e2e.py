"""End to end on the dev server: sandbox store → signed webhook → starter → workflow → real Tryton → store."""
import asyncio
import json
import uuid
from decimal import Decimal

import httpx

from activities.orders import ERP_SALE_NUMBER_META_KEY
from canonical.keys import order_workflow_id
from starter.cli import main as cli
from starter.signatures import woocommerce_signature
from tests.plugins.stack import (
    SETTLE_S,
    STORE_ID,
    WEBHOOK_SECRET,
    OrderStack,
    add_erp_product,
    progress,
    reach,
    sale_lines,
    sales_for,
    write_cli_config,
)
from tests.plugins.temporal import eventually
from workflows.order_messages import OrderStage
from workflows.order_to_cash import OrderToCashWorkflow

async def test_paid_order_becomes_exactly_one_confirmed_erp_sale(order_stack: OrderStack):
    order = await order_stack.shopper.place_order([("TEE-CLASSIC", 2), ("BOOK-COFFEE", 1)], paid=True,
                                                  customer="lukasz")  # fmt: skip
    done = await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)

    (sale,) = await sales_for(order_stack, order["id"])
    assert sale["number"] == done.erp_sale_number
    assert sale["state"] == "processing" and len(sale["shipments"]) == 1
    assert sale["reference"] == order["number"]
    assert sale["party."]["name"] == "Łukasz Wiśniewski"
    assert sale["shipment_address."]["street"].startswith("ul. Piotrkowska 104")
    assert sale["shipment_address."]["city"] == "Łódź"
    assert sale["shipment_address."]["country."]["code"] == "PL"
    assert await sale_lines(order_stack, sale["lines"]) == [
        ("BOOK-COFFEE", Decimal(1), Decimal("30"), [Decimal("5.5")]),
        ("SHIPPING", Decimal(1), Decimal("4.9"), [Decimal("20")]),
        ("TEE-CLASSIC", Decimal(2), Decimal("20"), [Decimal("20")]),
    ]
    assert sale["untaxed_amount"] == Decimal(order["total"]) - Decimal(order["total_tax"])
    assert sale["tax_amount"] == Decimal(order["total_tax"])
    assert sale["total_amount"] == Decimal(order["total"])

    assert await order_stack.store.get_order_meta(order["id"], ERP_SALE_NUMBER_META_KEY) == sale["number"]
    notes = [n for n in await order_stack.store.list_order_notes(order["id"]) if "ERP sale" in n.text]
    assert [n.text.split(" created")[0] for n in notes] == [f"ERP sale {sale['number']}"]
    assert not notes[0].customer_visible


async def test_duplicate_concurrent_webhooks_still_give_one_sale(order_stack: OrderStack):
    order = await order_stack.shopper.place_order([("MUG-CERAMIC", 3)], paid=True)
    body = json.dumps(await order_stack.shopper.get_order(order["id"])).encode()
    url = f"{order_stack.starter_url}/webhooks/woocommerce/{STORE_ID}"

    def signed(topic: str) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Signature": woocommerce_signature(body, WEBHOOK_SECRET)}  # fmt: skip

    async with httpx.AsyncClient() as http:
        answers = await asyncio.gather(*[http.post(url, content=body, headers=signed("order.created"))
                                         for _ in range(5)], http.post(url, content=body,
                                                                      headers=signed("order.updated")))  # fmt: skip
    assert all(a.status_code in (200, 202) for a in answers), [a.text for a in answers]
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)

    assert len(await sales_for(order_stack, order["id"])) == 1
    history = await order_stack.client.get_workflow_handle(order_workflow_id(STORE_ID, str(order["id"]))).fetch_history()
    created = [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
               and e.activity_task_scheduled_event_attributes.activity_type.name == "create_sales_order"]  # fmt: skip
    assert len(created) == 1


async def test_bad_signature_is_refused_and_starts_no_run(order_stack: OrderStack):
    order = await order_stack.shopper.place_order([("MUG-CERAMIC", 1)], paid=False)
    forged = json.dumps({**await order_stack.shopper.get_order(order["id"]), "id": 999_999}).encode()
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{order_stack.starter_url}/webhooks/woocommerce/{STORE_ID}", content=forged,
                                 headers={"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
                                          "X-WC-Webhook-Signature": woocommerce_signature(forged, "guess")})  # fmt: skip
    assert answer.status_code == 401
    assert await progress(order_stack, 999_999) is None


async def test_unknown_sku_parks_and_completes_after_the_product_is_added_and_retried(order_stack: OrderStack,
                                                                                      monkeypatch, capsys, tmp_path):  # fmt: skip
    sku = f"POSTER-{uuid.uuid4().hex[:6].upper()}"
    await order_stack.shopper.add_product(sku, "Limited Poster", Decimal("15.00"))
    order = await order_stack.shopper.place_order([(sku, 1), ("TEE-CLASSIC", 1)], paid=True)

    parked = await reach(order_stack, order["id"], OrderStage.PARKED)
    assert parked.parked is not None and parked.parked.step == "creating_sales_order"
    assert sku in parked.parked.reason
    assert await sales_for(order_stack, order["id"]) == []

    monkeypatch.setenv("RETAIL_SYNC_CONFIG", str(write_cli_config(order_stack, tmp_path / "retail-sync.toml")))

    async def parked_listing() -> str:
        await asyncio.to_thread(cli, ["orders", "list", "--parked", "--store", STORE_ID])
        return capsys.readouterr().out

    listing = await eventually(parked_listing, lambda out: f" {order['id']} " in out, 30)
    assert sku in listing

    await add_erp_product(order_stack, sku, "Limited Poster", Decimal("15.00"))
    await order_stack.warehouse.restock(1, sku, 5)  # and the 3PL received some, so it can ship
    assert await asyncio.to_thread(cli, ["orders", "retry", STORE_ID, str(order["id"])]) == 0
    done = await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)

    (sale,) = await sales_for(order_stack, order["id"])
    assert sale["number"] == done.erp_sale_number
    assert [line[0] for line in await sale_lines(order_stack, sale["lines"])] == sorted([sku, "SHIPPING", "TEE-CLASSIC"])


async def test_cancellation_in_the_store_cancels_the_erp_sale(order_stack: OrderStack):
    order = await order_stack.shopper.place_order([("HOODIE-S", 1)], paid=True)
    await reach(order_stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    (before,) = await sales_for(order_stack, order["id"])

    await order_stack.shopper.cancel(order["id"])
    handle = order_stack.client.get_workflow_handle_for(
        OrderToCashWorkflow.run, order_workflow_id(STORE_ID, str(order["id"]))
    )
    outcome = await asyncio.wait_for(handle.result(), SETTLE_S)

    assert outcome.stage == OrderStage.CANCELLED
    assert outcome.note == "order cancelled in the store"
    (after,) = await sales_for(order_stack, order["id"])
    shipments = await order_stack.erp.call("stock.shipment.out", "read", before["shipments"], ["state"])
    assert [s["state"] for s in shipments] == ["cancelled"]
    assert after["state"] in ("cancelled", "done")
    notes = [n.text for n in await order_stack.store.list_order_notes(order["id"]) if "stopped processing" in n.text]
    assert len(notes) == 1 and before["number"] in notes[0]
