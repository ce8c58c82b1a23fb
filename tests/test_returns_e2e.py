"""Returns and refunds end to end: store ↔ Temporal ↔ Tryton ↔ ShipBob sandbox, every refund exactly once."""
import asyncio
import json
from decimal import Decimal

import httpx
import pytest

from canonical.keys import refund_key, refund_workflow_id
from canonical.returns import RefundLine, RefundRequest, ReturnLine
from starter.returns import ReturnRefused, authorise_return
from starter.signatures import woocommerce_signature
from tests.factories import eur
from tests.plugins.stack import (
    RETURNS_PORTAL_TOKEN,
    STORE_ID,
    STORE_REQUEST_LIFETIME_S,
    WEBHOOK_SECRET,
    OrderStack,
    reach,
)
from tests.plugins.temporal import eventually
from tests.test_fulfilment_e2e import finished, shipments_of
from workflows.order_messages import OrderStage
from workflows.refund import RefundRunInput, RefundWorkflow
from workflows.returns import ReturnWorkflow

CENT = Decimal("0.01")


async def shipped_order(stack: OrderStack, lines: list[tuple[str, int]]) -> dict:
    """A paid order that shipped, completed and was invoiced: what returns and refunds start from."""
    order = await stack.shopper.place_order(lines, paid=True, customer="lukasz")
    await reach(stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    for shipment in await shipments_of(stack, order["id"]):
        await stack.warehouse.ship(shipment["id"])
    assert (await finished(stack, order["id"])).stage == OrderStage.COMPLETED
    return await stack.shopper.get_order(order["id"])


async def credit_notes(stack: OrderStack, order_id) -> list[dict]:
    """Posted credit notes booked for the order's refunds (their reference is the refund key)."""
    return await stack.erp.call(
        "account.invoice", "search_read",
        [("reference", "like", f"{STORE_ID}:{order_id}:refund:%"), ("state", "in", ["posted", "paid"])],
        0, None, None, ["state", "total_amount", "untaxed_amount", "tax_amount", "reference"],
    )  # fmt: skip


async def test_merchant_partial_refund_reaches_the_erp_once(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 2), ("BOOK-COFFEE", 1)])
    tee = next(line for line in order["line_items"] if line["sku"] == "TEE-CLASSIC")

    await order_stack.shopper.refund_line(order["id"], tee, 1)
    refunded = await order_stack.shopper.get_order(order["id"])
    body = json.dumps(refunded).encode()
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.updated",
               "X-WC-Webhook-Signature": woocommerce_signature(body, WEBHOOK_SECRET)}  # fmt: skip
    async with httpx.AsyncClient() as http:
        for _ in range(3):  # the same order.updated, delivered three times
            await http.post(f"{order_stack.starter_url}/webhooks/woocommerce/{STORE_ID}", content=body, headers=headers)

    (note,) = await eventually(lambda: credit_notes(order_stack, order["id"]), bool, 120)
    assert note["untaxed_amount"] == Decimal("-20.00") and note["tax_amount"] == Decimal("-4.00")
    await asyncio.sleep(2)
    assert len(await credit_notes(order_stack, order["id"])) == 1


async def test_refunding_the_whole_rest_in_the_store_credits_every_line_not_credited_before(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 2)])
    tee = next(line for line in order["line_items"] if line["sku"] == "TEE-CLASSIC")
    await order_stack.shopper.refund_line(order["id"], tee, 1)
    await eventually(lambda: credit_notes(order_stack, order["id"]), lambda notes: len(notes) == 1, 120)

    await order_stack.shopper.mark_refunded(order["id"])

    notes = await eventually(lambda: credit_notes(order_stack, order["id"]), lambda notes: len(notes) == 2, 120)
    assert sum(note["total_amount"] for note in notes) == -Decimal(order["total"])


async def test_rma_for_one_of_two_units_is_received_restocked_refunded_and_credited_once(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 2)])
    tee = next(line for line in order["line_items"] if line["sku"] == "TEE-CLASSIC")
    stock_before = await order_stack.shopper.product("TEE-CLASSIC")

    authorised = await authorise_return(order_stack.client, order_stack.settings, STORE_ID, str(order["id"]),
                                        [ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(1), reason="too small")])
    (expected,) = await eventually(lambda: order_stack.warehouse.returns(authorised.rma), bool, 60)
    await order_stack.warehouse.quirks(duplicate_deliveries=True)
    try:
        await order_stack.warehouse.receive_return(expected["id"], [("TEE-CLASSIC", 1, "Restock")])
        handle = order_stack.client.get_workflow_handle_for(ReturnWorkflow.run, authorised.workflow_id)
        outcome = await asyncio.wait_for(handle.result(), 180)
    finally:
        await order_stack.warehouse.quirks(duplicate_deliveries=False)

    assert outcome.stage == "completed" and outcome.refund and outcome.refund.refund_id
    refunds = await order_stack.store.list_refunds(order["id"])
    assert len(refunds) == 1
    (line,) = refunds[0].lines
    assert (line.line_id, line.quantity, line.amount) == (str(tee["id"]), Decimal(1), eur("20.00"))
    assert [(t.rate_id, t.amount) for t in line.taxes] == [(str(tee["taxes"][0]["id"]), eur("4.00"))]
    stock_after = await order_stack.shopper.product("TEE-CLASSIC")
    assert stock_after["stock_quantity"] == stock_before["stock_quantity"] + 1
    assert len(await credit_notes(order_stack, order["id"])) == 1


async def test_an_rma_refund_gives_back_only_what_the_merchant_did_not_refund_of_the_line(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 2)])
    tee = next(line for line in order["line_items"] if line["sku"] == "TEE-CLASSIC")
    await order_stack.shopper.refund_line(order["id"], tee, 1)  # the merchant's goodwill: one tee refunded, kept
    await eventually(lambda: credit_notes(order_stack, order["id"]), lambda notes: len(notes) == 1, 120)

    authorised = await authorise_return(order_stack.client, order_stack.settings, STORE_ID, str(order["id"]),
                                        [ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(2))])  # fmt: skip
    (expected,) = await eventually(lambda: order_stack.warehouse.returns(authorised.rma), bool, 60)
    await order_stack.warehouse.receive_return(expected["id"], [("TEE-CLASSIC", 2, "Restock")])
    handle = order_stack.client.get_workflow_handle_for(ReturnWorkflow.run, authorised.workflow_id)
    outcome = await asyncio.wait_for(handle.result(), 180)

    assert outcome.stage == "completed" and outcome.refund and outcome.refund.refund_id
    ours = next(r for r in await order_stack.store.list_refunds(order["id"]) if r.refund_id == outcome.refund.refund_id)
    (line,) = ours.lines
    assert (line.quantity, line.amount, [t.amount for t in line.taxes]) == (Decimal(1), eur("20.00"), [eur("4.00")])
    notes = await credit_notes(order_stack, order["id"])
    assert sorted(note["total_amount"] for note in notes) == [Decimal("-24.00"), Decimal("-24.00")]


async def test_over_return_is_refused_before_anything_exists(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("MUG-CERAMIC", 1)])
    with pytest.raises(ReturnRefused, match="MUG-CERAMIC: 2 asked, 1 shipped and not yet returned"):
        await authorise_return(order_stack.client, order_stack.settings, STORE_ID, str(order["id"]),
                               [ReturnLine(sku="MUG-CERAMIC", quantity=Decimal(2))])  # fmt: skip


async def portal_return(stack: OrderStack, order: dict, sku: str, quantity: str) -> httpx.Response:
    """What a returns portal sends to `POST /returns`."""
    body = {"store_id": STORE_ID, "order_id": str(order["id"]), "lines": [{"sku": sku, "quantity": quantity}]}
    async with httpx.AsyncClient() as http:
        return await http.post(f"{stack.starter_url}/returns", json=body,
                               headers={"Authorization": f"Bearer {RETURNS_PORTAL_TOKEN}"})  # fmt: skip


async def test_a_returns_portal_creates_an_rma_over_http(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("MUG-CERAMIC", 2)])

    answer = await portal_return(order_stack, order, "MUG-CERAMIC", "1")

    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["rma"] == f"RMA-{STORE_ID}-{order['id']}-1"
    handle = order_stack.client.get_workflow_handle_for(ReturnWorkflow.run, created["workflow_id"])
    assert [(line.sku, line.quantity) for line in await handle.query(ReturnWorkflow.returned_lines)] == [
        ("MUG-CERAMIC", Decimal(1))]
    (expected,) = await eventually(lambda: order_stack.warehouse.returns(created["rma"]), bool, 60)
    assert [item["quantity"] for item in expected["inventory"]] == [1]


async def test_racing_returns_for_the_last_unit_create_one_rma(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("MUG-CERAMIC", 1)])
    asked = [ReturnLine(sku="MUG-CERAMIC", quantity=Decimal(1))]

    outcomes = await asyncio.gather(
        *(authorise_return(order_stack.client, order_stack.settings, STORE_ID, str(order["id"]), asked)
          for _ in range(3)), return_exceptions=True)  # fmt: skip

    created = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, ReturnRefused)]
    assert [authorised.rma for authorised in created] == [f"RMA-{STORE_ID}-{order['id']}-1"]
    assert len(refused) == 2 and all("0 shipped and not yet returned" in str(error) for error in refused)


async def operator_refund(stack: OrderStack, order: dict, refund_of: str, *, gateway: bool) -> RefundRequest:
    """An operator refunds one Classic Tee: its unit price and its taxes, as the store charged them."""
    line = next(line for line in (await stack.store.get_order(order["id"])).lines if line.sku == "TEE-CLASSIC")
    per_unit = Decimal(1) / line.quantity
    refund_line = RefundLine(
        line_id=line.line_id, sku=line.sku, quantity=Decimal(1),
        amount=eur(str((line.total.amount * per_unit).quantize(CENT))),
        taxes=tuple(tax.model_copy(update={"amount": eur(str((tax.amount.amount * per_unit).quantize(CENT)))})
                    for tax in line.taxes),
    )  # fmt: skip
    total = refund_line.amount.amount + sum((tax.amount.amount for tax in refund_line.taxes), Decimal(0))
    return RefundRequest(key=refund_key(STORE_ID, str(order["id"]), refund_of), store_id=STORE_ID,
                         order_id=str(order["id"]), reason="goodwill", lines=(refund_line,), amount=eur(str(total)),
                         refund_payment=gateway, restock=False)  # fmt: skip


async def start_refund(stack: OrderStack, request: RefundRequest, refund_of: str):
    return await stack.client.start_workflow(
        RefundWorkflow.run, RefundRunInput(store_id=STORE_ID, order_id=request.order_id, request=request),
        id=refund_workflow_id(STORE_ID, request.order_id, refund_of), task_queue=stack.settings.temporal.task_queue,
    )  # fmt: skip


async def test_a_lost_refund_response_never_refunds_twice(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 1)])
    dropped = await order_stack.store_control.post("faults", json={
        "drop_response_after_commit": True, "path_prefix": f"/wp-json/wc/v3/orders/{order['id']}/refunds",
        "method": "POST", "count": 1})  # fmt: skip
    assert dropped.is_success
    handle = await start_refund(order_stack, await operator_refund(order_stack, order, "op-1", gateway=True),
                                "op-1")  # fmt: skip
    outcome = await asyncio.wait_for(handle.result(), 120)
    assert outcome.credit_note
    assert len(await order_stack.store.list_refunds(order["id"])) == 1
    (note,) = await credit_notes(order_stack, order["id"])
    assert note["state"] == "paid"  # the gateway paid it back: settled against that payout


async def test_gateway_refusal_parks_and_an_operator_records_it_without_the_gateway(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 1)])
    refusing = await order_stack.store_control.post("gateway", json={"method": "stripe",
                                                                    "refuse": "Card issuer declined the refund"})
    assert refusing.is_success
    try:
        handle = await start_refund(order_stack, await operator_refund(order_stack, order, "op-2", gateway=True), "op-2")  # fmt: skip
        await eventually(lambda: handle.query(RefundWorkflow.stage), lambda stage: stage == "parked", 60)
        assert "Card issuer declined the refund" in await handle.query(RefundWorkflow.parked_reason)
        assert await order_stack.store.list_refunds(order["id"]) == []
        await handle.execute_update(RefundWorkflow.retry, False)
        outcome = await asyncio.wait_for(handle.result(), 120)
    finally:
        await order_stack.store_control.delete("gateway")
    (refund,) = await order_stack.store.list_refunds(order["id"])
    assert refund.refunded_payment is False and outcome.credit_note
    (note,) = await credit_notes(order_stack, order["id"])
    assert note["state"] == "posted"  # the money moves elsewhere: the bookkeeper settles it


async def test_over_refund_is_refused_before_anything_is_written(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 1)])
    request = (await operator_refund(order_stack, order, "op-3", gateway=False)).model_copy(
        update={"amount": eur("500.00"), "lines": ()})  # with lines, what is left of them is refunded
    handle = await start_refund(order_stack, request, "op-3")
    await eventually(lambda: handle.query(RefundWorkflow.stage), lambda stage: stage == "parked", 60)
    total = (await order_stack.shopper.get_order(order["id"]))["total"]
    assert f"more than the {total} EUR still refundable" in await handle.query(RefundWorkflow.parked_reason)
    assert await order_stack.store.list_refunds(order["id"]) == []
    await handle.execute_update(RefundWorkflow.cancel, "typo")


async def gateway_refunds(stack: OrderStack, order: dict) -> list[dict]:
    """What the payment gateway was asked to refund for the order, refused or not."""
    calls = (await stack.store_control.get("gateway-refunds")).json()
    return [call for call in calls if call["order_id"] == order["id"]]


async def refunds_path_fault(stack: OrderStack, order: dict, **fault) -> None:
    added = await stack.store_control.post("faults", json={
        "path_prefix": f"/wp-json/wc/v3/orders/{order['id']}/refunds", "method": "POST", "count": 1, **fault})
    assert added.is_success, added.text


async def echo_outcome(stack: OrderStack, order: dict, refund_id: str):
    """The merchant-refund run `order.updated` started for a refund that is ours."""
    handle = stack.client.get_workflow_handle_for(RefundWorkflow.run,
                                                  refund_workflow_id(STORE_ID, str(order["id"]), f"wc{refund_id}"))
    await eventually(lambda: handle.describe(), bool, 60)
    return await asyncio.wait_for(handle.result(), 60)


async def test_a_refund_whose_answer_and_meta_were_lost_is_found_by_its_reason_and_made_once(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 2)])
    await refunds_path_fault(order_stack, order, die_before="refund_meta")  # PHP dies after the gateway paid

    handle = await start_refund(order_stack, await operator_refund(order_stack, order, "op-4", gateway=True), "op-4")
    outcome = await asyncio.wait_for(handle.result(), 120)

    (refund,) = await order_stack.store.list_refunds(order["id"])
    assert refund.refund_id == outcome.refund_id and refund.key == refund_key(STORE_ID, str(order["id"]), "op-4")
    assert len(await gateway_refunds(order_stack, order)) == 1
    echo = await echo_outcome(order_stack, order, refund.refund_id)  # order.updated fired before the meta save
    assert "made by retail-sync" in echo.note and not echo.credit_note
    (note,) = await credit_notes(order_stack, order["id"])
    assert note["state"] == "paid" and note["total_amount"] == -refund.amount.amount


async def test_a_refund_the_host_turned_away_with_429_is_sent_again_and_made_once(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 1)])
    await refunds_path_fault(order_stack, order, status=429, retry_after="1")  # refused before WordPress ran

    handle = await start_refund(order_stack, await operator_refund(order_stack, order, "op-8", gateway=True), "op-8")
    outcome = await asyncio.wait_for(handle.result(), 60)  # not parked: nothing could have reached the store

    (refund,) = await order_stack.store.list_refunds(order["id"])
    assert refund.refund_id == outcome.refund_id and len(await gateway_refunds(order_stack, order)) == 1


async def slow_gateway(stack: OrderStack, delay_s: float, refuse: str | None = None) -> None:
    """The card gateway takes `delay_s` to answer a refund, longer than nginx waits for PHP (a bare 504)."""
    slowed = await stack.store_control.post("gateway", json={"method": "stripe", "delay_s": delay_s, "refuse": refuse})
    assert slowed.is_success, slowed.text


async def test_a_refund_at_a_slow_gateway_behind_a_504_is_made_and_booked_once(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 2)])
    await slow_gateway(order_stack, 3.0)
    await refunds_path_fault(order_stack, order, host_timeout_s=0.5)
    try:
        handle = await start_refund(order_stack, await operator_refund(order_stack, order, "op-5", gateway=True),
                                    "op-5")  # fmt: skip
        outcome = await asyncio.wait_for(handle.result(), 120)  # a parked run would wait for an operator
    finally:
        await order_stack.store_control.delete("gateway")

    (refund,) = await order_stack.store.list_refunds(order["id"])
    assert refund.refund_id == outcome.refund_id and refund.refunded_payment
    assert [call["refused"] for call in await gateway_refunds(order_stack, order)] == [None]
    (note,) = await credit_notes(order_stack, order["id"])
    assert note["state"] == "paid"  # booked once the gateway had paid, not while it was still working


async def test_a_gateway_refusal_whose_answer_was_lost_is_never_asked_again(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 2)])
    await slow_gateway(order_stack, 3.0, refuse="Card expired")
    await refunds_path_fault(order_stack, order, host_timeout_s=0.5)
    try:
        handle = await start_refund(order_stack, await operator_refund(order_stack, order, "op-6", gateway=True),
                                    "op-6")  # fmt: skip
        await eventually(lambda: handle.query(RefundWorkflow.stage), lambda stage: stage == "parked", 60)
    finally:
        await order_stack.store_control.delete("gateway")

    reason = await handle.query(RefundWorkflow.parked_reason)
    assert "its outcome is unknown: check the order's refunds and the gateway" in reason
    assert [call["refused"] for call in await gateway_refunds(order_stack, order)] == ["Card expired"]
    assert await order_stack.store.list_refunds(order["id"]) == []
    assert await credit_notes(order_stack, order["id"]) == []
    await handle.execute_update(RefundWorkflow.cancel, "the customer's card expired: paid by bank transfer")


async def test_a_refund_still_at_the_gateway_parks_only_until_the_store_can_tell(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("TEE-CLASSIC", 2)])
    await slow_gateway(order_stack, STORE_REQUEST_LIFETIME_S + 4)
    await refunds_path_fault(order_stack, order, host_timeout_s=0.5)
    try:
        handle = await start_refund(order_stack, await operator_refund(order_stack, order, "op-7", gateway=True),
                                    "op-7")  # fmt: skip
        await eventually(lambda: handle.query(RefundWorkflow.stage), lambda stage: stage == "parked", 60)
        assert "has not said whether the gateway paid" in await handle.query(RefundWorkflow.parked_reason)
        assert await credit_notes(order_stack, order["id"]) == []
        await eventually(lambda: order_stack.store.list_refunds(order["id"]),
                         lambda refunds: [r.refunded_payment for r in refunds] == [True], 30)  # fmt: skip
        await handle.execute_update(RefundWorkflow.retry, True)
        outcome = await asyncio.wait_for(handle.result(), 120)
    finally:
        await order_stack.store_control.delete("gateway")

    (refund,) = await order_stack.store.list_refunds(order["id"])
    assert refund.refund_id == outcome.refund_id
    assert len(await gateway_refunds(order_stack, order)) == 1
    (note,) = await credit_notes(order_stack, order["id"])
    assert note["state"] == "paid"
