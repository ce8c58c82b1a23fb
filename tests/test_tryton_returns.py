"""Returns (RMA) and refunds in a real trytond: every assertion reads the outcome back from Tryton."""
import asyncio
from decimal import Decimal

import pytest

from adapters.errors import BusinessError, NotReadyYet
from adapters.tryton import TrytonErp
from canonical import FeeLine, Payment, ShippingLine
from canonical.returns import Disposition, LineKind, ProcessedItem, RefundLine, ReturnLine
from tests.test_tryton_erp import REDUCED, STANDARD, STRICT, customer_for, eur, key_of, make_order, product_line, taxes
from tests.test_tryton_fulfilment import shipped, stock

RETURN_FIELDS = ["state", "origin", "lines.product.code", "lines.quantity", "shipment_returns", "invoices"]
NOTE_FIELDS = ["state", "type", "reference", "untaxed_amount", "tax_amount", "total_amount", "lines", "taxes"]


async def delivered_and_invoiced(erp, *lines, shipping=(), fees=()):
    """A store order whose sale is shipped in full by the 3PL and whose invoice is posted and paid."""
    order = make_order(lines, shipping=shipping, fees=fees)
    key = key_of(order)
    await erp.create_sales_order(key, order, await customer_for(erp, order), STRICT)
    await erp.ship_sales_order(key, f"S-{order.order_id}", [shipped(line.sku, int(line.quantity)) for line in lines])
    await erp.invoice_sales_order(key, Payment(transaction_id=f"ch_{order.order_id}"), order.total)
    return order


async def returns_of(tryton, rma: str) -> list[dict]:
    return await tryton.call("sale.sale", "search_read", [("reference", "=", rma)], 0, None, None, RETURN_FIELDS)


async def return_shipments(tryton, sale: dict) -> list[tuple]:
    """(state, {sku: quantity expected}) of each return shipment of a return sale."""
    fields = ["state", "incoming_moves.product.code", "incoming_moves.quantity"]
    shipments = await tryton.call("stock.shipment.out.return", "read", sorted(sale["shipment_returns"]), fields)
    return [(s["state"], {m["product."]["code"]: m["quantity"] for m in s["incoming_moves."]}) for s in shipments]


async def on_hand(tryton, sku: str, location: int) -> float:
    context = {"locations": [location]}
    (product,) = await tryton.call(
        "product.product", "search_read", [("code", "=", sku)], 0, 1, None, ["quantity"], context=context
    )
    return product["quantity"]


async def note(tryton, note_id: int) -> dict:
    (stored,) = await tryton.call("account.invoice", "read", [note_id], NOTE_FIELDS)
    return stored


async def note_taxes(tryton, stored: dict) -> list[tuple]:
    taxes = await tryton.call("account.invoice.tax", "read", stored["taxes"], ["tax.rate", "base", "amount"])
    return sorted((t["tax."]["rate"], t["base"], t["amount"]) for t in taxes)


def tee_refund(line_id="1", quantity=1, amount="20.00"):
    total = Decimal(amount)
    return RefundLine(
        line_id=line_id, sku="TEE-CLASSIC", quantity=Decimal(quantity), amount=eur(amount), taxes=taxes(total, STANDARD)
    )


def shipping_refund(amount="5.00"):
    return RefundLine(line_id="s1", kind=LineKind.SHIPPING, amount=eur(amount), taxes=taxes(Decimal(amount), STANDARD))


async def test_rma_return_receipt_and_credit_notes(tryton_erp, tryton):
    shipping = ShippingLine(
        line_id="s1", method_id="flat_rate", method_title="Flat rate", total=eur("5.00"),
        taxes=taxes(Decimal("5.00"), STANDARD),
    )  # fmt: skip
    order = await delivered_and_invoiced(
        tryton_erp,
        product_line(1, "TEE-CLASSIC", 2, "40.00", "40.00"),
        product_line(2, "BOOK-COFFEE", 1, "30.00", "30.00", rate=REDUCED),
        shipping=[shipping],
    )
    key = key_of(order)
    sale_id = int((await tryton_erp.get_sales_order(key)).erp_ref)

    opened = await tryton_erp.create_return(key, "RMA-1", [ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(1))])

    (stored,) = await returns_of(tryton, "RMA-1")
    assert (opened.erp_ref, opened.reference, opened.received) == (str(stored["id"]), "RMA-1", ())
    assert (stored["state"], stored["origin"]) == ("processing", f"sale.sale,{sale_id}")
    assert [(line["product."]["code"], line["quantity"]) for line in stored["lines."]] == [("TEE-CLASSIC", -1.0)]
    assert await return_shipments(tryton, stored) == [("draft", {"TEE-CLASSIC": 1.0})]
    (draft_note,) = stored["invoices"]
    assert (await note(tryton, draft_note))["state"] == "draft"

    assert await tryton_erp.create_return(key, "RMA-1", [ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(1))]) == opened
    assert len(await returns_of(tryton, "RMA-1")) == 1
    with pytest.raises(BusinessError, match=r"more than the sale allows: 2 × TEE-CLASSIC \(1 shipped and not yet"):
        await tryton_erp.create_return(key, "RMA-2", [ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(2))])
    with pytest.raises(BusinessError, match="returns MUG-CERAMIC, which the sale does not have"):
        await tryton_erp.create_return(key, "RMA-2", [ReturnLine(sku="MUG-CERAMIC", quantity=Decimal(1))])
    assert await returns_of(tryton, "RMA-2") == []

    storage = await storage_location(tryton)
    before = await on_hand(tryton, "TEE-CLASSIC", storage)
    restocked = [ProcessedItem(sku="TEE-CLASSIC", quantity=Decimal(1), disposition=Disposition.RESTOCK)]

    received = await tryton_erp.receive_return("RMA-1", restocked)

    assert received.received == tuple(restocked)
    assert await return_shipments(tryton, stored) == [("done", {"TEE-CLASSIC": 1.0})]
    assert await on_hand(tryton, "TEE-CLASSIC", storage) == before + 1
    assert await tryton_erp.receive_return("RMA-1", restocked) == received
    assert await on_hand(tryton, "TEE-CLASSIC", storage) == before + 1

    credit = await tryton_erp.post_credit_note(key, "refund-1", [tee_refund()], "Returned: too small")

    assert credit.erp_ref == str(draft_note)  # the RMA's own draft, not a second credit note
    assert (credit.untaxed_amount, credit.tax_amount, credit.total_amount) == (eur("20.00"), eur("4.00"), eur("24.00"))
    posted = await note(tryton, draft_note)
    assert (posted["state"], posted["type"], posted["reference"]) == ("posted", "out", "refund-1")
    assert posted["total_amount"] == Decimal("-24.00") and credit.number
    assert await note_taxes(tryton, posted) == [(Decimal("0.2"), Decimal("-20.00"), Decimal("-4.00"))]
    assert await tryton_erp.post_credit_note(key, "refund-1", [tee_refund()], "Returned: too small") == credit

    shipping_credit = await tryton_erp.post_credit_note(key, "refund-2", [shipping_refund()], "Late delivery")

    assert shipping_credit.erp_ref != credit.erp_ref
    assert (shipping_credit.tax_amount, shipping_credit.total_amount) == (eur("1.00"), eur("6.00"))
    second = await note(tryton, int(shipping_credit.erp_ref))
    assert (second["state"], second["reference"], second["total_amount"]) == ("posted", "refund-2", Decimal("-6.00"))
    assert await note_taxes(tryton, second) == [(Decimal("0.2"), Decimal("-5.00"), Decimal("-1.00"))]
    (line,) = await tryton.call("account.invoice.line", "read", second["lines"], ["product.code", "quantity", "origin"])
    assert (line["product."]["code"], line["quantity"]) == ("SHIPPING", -1.0)
    assert line["origin"].startswith("account.invoice.line,")  # credits the sale's invoice line

    with pytest.raises(BusinessError, match=r"credits more than is left .*: 0.01 on Flat rate \(0.00 left\)"):
        await tryton_erp.post_credit_note(key, "refund-3", [shipping_refund("0.01")], "Again")
    with pytest.raises(BusinessError, match=r"credits more than is left .*: 40.00 on Item 1 \(20.00 left\)"):
        await tryton_erp.post_credit_note(key, "refund-3", [tee_refund(quantity=2, amount="40.00")], "Both")
    refunds = await tryton.call("account.invoice", "search", [("reference", "=", "refund-3")], 0, None, None)
    assert refunds == []


async def test_partial_receipt_puts_units_where_the_warehouse_did(tryton_erp, tryton):
    order = await delivered_and_invoiced(tryton_erp, product_line(1, "MUG-CERAMIC", 4, "50.00", "50.00"))
    await tryton_erp.create_return(key_of(order), f"RMA-{order.order_id}", [ReturnLine(sku="MUG-CERAMIC", quantity=4)])
    storage, scrap, quarantine = await storage_location(tryton), *await waste_locations(tryton)
    before = [await on_hand(tryton, "MUG-CERAMIC", location) for location in (storage, scrap, quarantine)]
    forecast_before = (await stock(tryton, "MUG-CERAMIC"))["MUG-CERAMIC"][1]
    processed = [
        ProcessedItem(sku="MUG-CERAMIC", quantity=Decimal(1), disposition=Disposition.RESTOCK),
        ProcessedItem(sku="MUG-CERAMIC", quantity=Decimal(1), disposition=Disposition.DISPOSE),
        ProcessedItem(sku="MUG-CERAMIC", quantity=Decimal(1), disposition=Disposition.QUARANTINE),
    ]  # the fourth mug never arrived

    received = await tryton_erp.receive_return(f"RMA-{order.order_id}", processed)

    assert received.received == (
        ProcessedItem(sku="MUG-CERAMIC", quantity=Decimal(1), disposition=Disposition.DISPOSE),
        ProcessedItem(sku="MUG-CERAMIC", quantity=Decimal(1), disposition=Disposition.QUARANTINE),
        ProcessedItem(sku="MUG-CERAMIC", quantity=Decimal(1), disposition=Disposition.RESTOCK),
    )
    after = [await on_hand(tryton, "MUG-CERAMIC", location) for location in (storage, scrap, quarantine)]
    assert after == [before[0] + 1, before[1] + 1, before[2] + 1]
    # four mugs were expected back; one is sellable again and the missing one is no longer awaited
    assert (await stock(tryton, "MUG-CERAMIC"))["MUG-CERAMIC"][1] == forecast_before - 3
    (stored,) = await returns_of(tryton, f"RMA-{order.order_id}")
    assert await return_shipments(tryton, stored) == [
        ("done", {"MUG-CERAMIC": 3.0}),
        ("cancelled", {"MUG-CERAMIC": 1.0}),  # the back-order for the missing mug
    ]
    (sale,) = await tryton.call("sale.sale", "read", [stored["id"]], ["shipment_state"])
    assert sale["shipment_state"] == "sent"  # Tryton's word for a complete return too
    assert await tryton_erp.receive_return(f"RMA-{order.order_id}", processed) == received


async def storage_location(tryton) -> int:
    (found,) = await tryton.call("stock.location", "search", [("code", "=", "STO")], 0, 1, None)
    return found


async def waste_locations(tryton) -> tuple[int, int]:
    (warehouse,) = await tryton.call(
        "stock.location", "search_read", [("type", "=", "warehouse")], 0, 1, None, ["lost_found_location"]
    )
    (quarantine,) = await tryton.call("stock.location", "search", [("code", "=", "QUA")], 0, 1, None)
    return warehouse["lost_found_location"], quarantine


async def test_a_crash_left_copy_is_reused_and_an_empty_box_closes_the_return(tryton_erp, tryton):
    fee = FeeLine(line_id="f1", name="Gift wrap", total=eur("2.00"), taxes=taxes(Decimal("2.00"), STANDARD))
    shipping = ShippingLine(line_id="s1", method_id="flat_rate", method_title="Flat rate", total=eur("5.00"))
    order = await delivered_and_invoiced(
        tryton_erp, product_line(1, "TEE-CLASSIC", 2, "40.00", "40.00"), shipping=[shipping], fees=[fee]
    )
    key, rma = key_of(order), f"RMA-{order.order_id}"
    sale_id = int((await tryton_erp.get_sales_order(key)).erp_ref)
    await tryton.run_wizard("sale.return_sale", "return_", {}, model="sale.sale", ids=[sale_id])  # then a crash

    await tryton_erp.create_return(key, rma, [ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(1))])

    copies = await tryton.call("sale.sale", "search_read", [("origin", "=", f"sale.sale,{sale_id}")], 0, None, None,
                               ["reference", "state"])  # fmt: skip
    assert [(c["reference"], c["state"]) for c in copies] == [(rma, "processing")]

    nothing = await tryton_erp.receive_return(rma, [])

    assert nothing.received == ()
    (stored,) = await returns_of(tryton, rma)
    assert await return_shipments(tryton, stored) == [("cancelled", {"TEE-CLASSIC": 1.0})]
    (states,) = await tryton.call("sale.sale", "read", [stored["id"]], ["shipment_state"])
    assert states["shipment_state"] == "none"  # nothing left to wait for
    assert await tryton_erp.receive_return(rma, []) == nothing
    with pytest.raises(BusinessError, match="No return for RMA RMA-unknown"):
        await tryton_erp.receive_return("RMA-unknown", [])

    skuless = RefundLine(line_id="9", amount=eur("1.00"))
    with pytest.raises(BusinessError, match="credits product line 9 without a SKU, which sale .* does not have"):
        await tryton_erp.post_credit_note(key, f"refund-{order.order_id}", [skuless], "Unknown")
    gift_wrap = RefundLine(line_id="f1", kind=LineKind.FEE, amount=eur("2.00"), taxes=taxes(Decimal("2.00"), STANDARD))
    fee_credit = await tryton_erp.post_credit_note(key, f"fee-{order.order_id}", [gift_wrap], "Gift wrap")
    assert (fee_credit.tax_amount, fee_credit.total_amount) == (eur("0.40"), eur("2.40"))
    fee_note = await note(tryton, int(fee_credit.erp_ref))
    (credited,) = await tryton.call("account.invoice.line", "read", fee_note["lines"], ["product.code", "amount"])
    assert (credited["product."]["code"], credited["amount"]) == ("FEE", Decimal("-2.00"))
    untaxed = RefundLine(line_id="1", sku="TEE-CLASSIC", quantity=Decimal(1), amount=eur("20.00"))
    credit = await tryton_erp.post_credit_note(key, f"refund-{order.order_id}", [untaxed], "Goodwill")
    assert (credit.tax_amount, credit.total_amount) == (eur("0.00"), eur("20.00"))
    assert (await note(tryton, int(credit.erp_ref)))["taxes"] == []


async def test_two_refunds_of_one_order_at_once_make_two_credit_notes(tryton_server, tryton_erp, tryton):
    """Two refund runs of one order post at the same moment: each gets its own note, none fills the other's draft.

    One of them may take the RMA's draft (it credits the same unit); the other credits the invoice."""
    order = await delivered_and_invoiced(tryton_erp, product_line(1, "TEE-CLASSIC", 3, "60.00", "60.00"))
    key = key_of(order)
    await tryton_erp.create_return(key, f"RMA-{order.order_id}", [ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(1))])
    other = TrytonErp(tryton_server.settings)
    refunds = [f"refund-{order.order_id}-{n}" for n in (1, 2, 3)]
    try:
        credits = await asyncio.gather(
            tryton_erp.post_credit_note(key, refunds[0], [tee_refund()], "One"),
            other.post_credit_note(key, refunds[1], [tee_refund()], "Two"),
            tryton_erp.post_credit_note(key, refunds[2], [tee_refund()], "Three"),
        )
    finally:
        await other.aclose()

    assert len({c.erp_ref for c in credits}) == 3
    for credit, refund in zip(credits, refunds):
        stored = await note(tryton, int(credit.erp_ref))
        assert (stored["state"], stored["reference"], stored["total_amount"]) == ("posted", refund, Decimal("-24.00"))
        (line,) = await tryton.call("account.invoice.line", "read", stored["lines"], ["quantity"])
        assert line["quantity"] == -1.0
    with pytest.raises(BusinessError, match=r"credits more than is left .*: 20.00 on Item 1 \(0.00 left\)"):
        await tryton_erp.post_credit_note(key, f"refund-{order.order_id}-4", [tee_refund()], "Four")


async def test_a_credit_note_waits_for_the_invoice_then_posts(tryton_erp, tryton):
    """A merchant's refund before the sale is invoiced is "not ready yet", not a person's job; then it goes on."""
    order = make_order([product_line(1, "TEE-CLASSIC", 2, "40.00", "40.00")])
    key, refund = key_of(order), f"refund-{order.order_id}"
    await tryton_erp.create_sales_order(key, order, await customer_for(tryton_erp, order), STRICT)

    with pytest.raises(NotReadyYet, match=r"Sale .* has no posted invoice to credit yet: refund .* waits for it"):
        await tryton_erp.post_credit_note(key, refund, [tee_refund()], "Early")
    assert await tryton.call("account.invoice", "search", [("reference", "=", refund)], 0, None, None) == []

    await tryton_erp.invoice_sales_order(key, Payment(transaction_id=f"ch_{order.order_id}"), order.total)
    credit = await tryton_erp.post_credit_note(key, refund, [tee_refund()], "Early")

    assert credit.total_amount == eur("24.00")
    assert (await note(tryton, int(credit.erp_ref)))["state"] == "posted"
