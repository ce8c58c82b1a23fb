"""Signed orders that are absurd but well-formed: accepted (nothing accepted is lost), never terminated by the
server, parked with a reason a merchant can act on, and, when the order itself is wrong, before any ERP write.
An order the intake backstop cannot read is skipped and reported; the others on its page still get their runs.

The bodies are what a compromised or buggy store could sign; the sandbox store cannot hold such orders, so
they are posted to the starter directly, copied from a real sandbox order with a fresh id."""
import json
import random

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from canonical.keys import order_workflow_id
from starter.signatures import woocommerce_signature
from tests.plugins.stack import (
    STORE_ID,
    WEBHOOK_SECRET,
    OrderStack,
    progress,
    reach,
    run_intake_now,
    sales_for,
    webhooks_paused,
)
from tests.plugins.temporal import eventually
from workflows import search_attributes as sa
from workflows.order_messages import OrderStage


@pytest.fixture(scope="module")
async def store_order(order_stack: OrderStack) -> dict:
    """A real sandbox order, left unpaid (its own run just waits), as the template for the bodies below."""
    placed = await order_stack.shopper.place_order([("TEE-CLASSIC", 1)], paid=False)
    return await order_stack.shopper.get_order(placed["id"])


async def post_signed(stack: OrderStack, template: dict, **changes) -> dict:
    """The template as a fresh, paid order of a fresh customer, changed as asked; signed and sent."""
    order = json.loads(json.dumps(template))
    order["id"] = order["customer_id"] = random.randrange(70_000_000, 80_000_000)
    order.update({"number": str(order["id"]), "status": "processing", "date_paid_gmt": order["date_modified_gmt"],
                  **changes})
    body = json.dumps(order).encode()
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{stack.starter_url}/webhooks/woocommerce/{STORE_ID}", content=body,
                                 headers={"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created",
                                          "X-WC-Webhook-Signature": woocommerce_signature(body, WEBHOOK_SECRET)})  # fmt: skip
    assert answer.status_code == 202, answer.text
    return order


async def parties_of(stack: OrderStack, customer_id: int) -> list[int]:
    return await stack.erp.call("party.party", "search", [("code", "=", f"{STORE_ID}-C{customer_id}")], 0, None, None)


async def end(stack: OrderStack, order: dict) -> None:
    """A parked run holds its units out of available-to-sell: it must not outlive its test."""
    await stack.client.get_workflow_handle(order_workflow_id(STORE_ID, str(order["id"]))).terminate("test over")


def line(template: dict, **changes) -> dict:
    return {**template["line_items"][0], **changes}


@pytest.mark.parametrize(("changes", "reason"), [
    (lambda t: {"line_items": []}, "it has no product lines"),
    (lambda t: {"total": "1e999999"}, "its total is 1E+999999 EUR"),
    (lambda t: {"line_items": [line(t, quantity=1.5)]}, "line 1 (Classic Tee) is for 1.5 units"),
    (lambda t: {"line_items": [line(t, quantity=10**9, total="1.00")]}, "line 1 (Classic Tee) is for 1000000000 units"),
    (lambda t: {"line_items": [line(t, total="-20.00", subtotal="-20.00")]}, "line 1 (Classic Tee) has a negative"),
])  # fmt: skip
async def test_an_absurd_signed_order_parks_with_the_reason_before_any_erp_write(order_stack, store_order, changes,
                                                                                reason):  # fmt: skip
    order = await post_signed(order_stack, store_order, **changes(store_order))
    try:
        parked = await reach(order_stack, order["id"], OrderStage.PARKED)

        assert parked.parked is not None and parked.parked.step == "ensuring_customer"
        assert f"order #{order['number']} cannot go to the ERP: " in parked.parked.reason
        assert reason in parked.parked.reason
        assert await parties_of(order_stack, order["customer_id"]) == []
        assert await sales_for(order_stack, order["id"]) == []
    finally:
        await end(order_stack, order)


async def test_an_order_with_a_3000_character_number_and_sku_parks_and_is_not_terminated(order_stack, store_order):
    number, sku = "N" * 3000, "S" * 3000
    order = await post_signed(order_stack, store_order, number=number, line_items=[line(store_order, sku=sku)])
    try:
        parked = await reach(order_stack, order["id"], OrderStage.PARKED)
        assert parked.parked is not None and parked.parked.step == "creating_sales_order"
        assert f"Unknown SKU '{sku}'" in parked.parked.reason  # the full reason, where the operator reads it

        handle = order_stack.client.get_workflow_handle(order_workflow_id(STORE_ID, str(order["id"])))
        description = await handle.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        attributes = description.typed_search_attributes
        assert attributes.get(sa.ORDER_NUMBER) == "N" * 254 + "…"
        assert attributes.get(sa.ORDER_STAGE) == "parked" and attributes.get(sa.NEEDS_ATTENTION) is True
        shown_reason = attributes.get(sa.PARKED_REASON)
        assert shown_reason.endswith("…") and len(json.dumps(shown_reason)) <= sa.VALUE_MOST_BYTES
        found = await eventually(
            lambda: _ids(order_stack, f"{sa.ORDER_ID.name} = '{order['id']}' AND {sa.NEEDS_ATTENTION.name} = true"),
            lambda ids: ids == [handle.id],
        )
        assert found == [handle.id]  # support staff find it the usual way
    finally:
        await end(order_stack, order)


async def _ids(stack: OrderStack, query: str) -> list[str]:
    return [execution.id async for execution in stack.client.list_workflows(query)]


async def test_the_intake_skips_and_reports_an_order_it_cannot_read_and_hands_over_the_others(order_stack):
    async with webhooks_paused(order_stack):
        unreadable = await order_stack.shopper.place_order([("MUG-CERAMIC", 1)], paid=True)
        good = await order_stack.shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
        plugin = {"order_id": unreadable["id"], "fields": {"currency": "EURO"}}  # a plugin rewrites its REST view
        (await order_stack.store_control.post("order-view", json=plugin)).raise_for_status()
        try:
            result = await run_intake_now(order_stack)
        finally:
            await order_stack.store_control.delete("order-view")

    await reach(order_stack, good["id"], OrderStage.AWAITING_SHIPMENT)
    assert await progress(order_stack, unreadable["id"]) is None
    assert result.skipped[str(unreadable["id"])] == "currency: expected an ISO 4217 code, got 'EURO'"

