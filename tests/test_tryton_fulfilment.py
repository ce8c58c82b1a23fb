"""Shipping and invoicing a sale in a real trytond: every assertion reads the outcome back from Tryton."""
import datetime as dt
from decimal import Decimal

import pytest

from adapters.erp import InvoiceState, SalesOrderState
from adapters.errors import BusinessError
from canonical import Payment
from canonical.fulfilment import FulfilmentLine
from tests.test_tryton_erp import REDUCED, STRICT, customer_for, eur, key_of, make_order, product_line, warehouse

SHIPMENT_FIELDS = ["state", "reference", "outgoing_moves.product.code", "outgoing_moves.quantity"]


def shipped(sku: str, quantity: int) -> FulfilmentLine:
    return FulfilmentLine(sku=sku, quantity=Decimal(quantity))


async def confirmed_sale(erp, *lines):
    order = make_order(lines)
    await erp.create_sales_order(key_of(order), order, await customer_for(erp, order), STRICT)
    return order


async def shipments_of(tryton, order) -> list[tuple]:
    """Each Tryton shipment of the sale as (state, reference, {sku: quantity}), oldest first."""
    (sale,) = await tryton.call("sale.sale", "search_read", [("web_id", "=", key_of(order))], 0, 1, None, ["shipments"])
    shipments = await tryton.call("stock.shipment.out", "read", sorted(sale["shipments"]), SHIPMENT_FIELDS)
    return [
        (s["state"], s["reference"], {m["product."]["code"]: m["quantity"] for m in s["outgoing_moves."]})
        for s in shipments
    ]


async def open_shipment(tryton, order) -> int:
    (sale,) = await tryton.call("sale.sale", "search_read", [("web_id", "=", key_of(order))], 0, 1, None, ["shipments"])
    domain = [("id", "in", sale["shipments"]), ("state", "not in", ["done", "cancelled"])]
    (shipment,) = await tryton.call("stock.shipment.out", "search", domain, 0, None, None)
    return shipment


async def sale_states(tryton, order) -> tuple[str, str, str]:
    fields = ["state", "shipment_state", "invoice_state"]
    (sale,) = await tryton.call("sale.sale", "search_read", [("web_id", "=", key_of(order))], 0, 1, None, fields)
    return sale["state"], sale["shipment_state"], sale["invoice_state"]


async def stock(tryton, *skus: str) -> dict[str, tuple[float, float]]:
    """(on hand, forecast) in the warehouse per SKU."""
    context = {"locations": [await warehouse(tryton)], "stock_date_end": dt.date.today(), "stock_assign": True}
    products = await tryton.call(
        "product.product", "search_read", [("code", "in", skus)], 0, None, None,
        ["code", "quantity", "forecast_quantity"], context=context,
    )  # fmt: skip
    return {p["code"]: (p["quantity"], p["forecast_quantity"]) for p in products}


async def test_partial_shipments_split_the_sale_and_are_idempotent(tryton_erp, tryton):
    order = await confirmed_sale(
        tryton_erp,
        product_line(1, "TEE-CLASSIC", 3, "60.00", "60.00"),
        product_line(2, "BOOK-COFFEE", 1, "30.00", "30.00", rate=REDUCED),
    )
    before = await stock(tryton, "TEE-CLASSIC", "BOOK-COFFEE")

    first = await tryton_erp.ship_sales_order(key_of(order), "S1", [shipped("TEE-CLASSIC", 2)])

    assert first.shipment_ref == "S1"
    assert [(line.sku, line.quantity) for line in first.lines] == [("TEE-CLASSIC", 2)]
    split = await shipments_of(tryton, order)
    assert split == [
        ("done", "S1", {"TEE-CLASSIC": 2.0}),
        ("waiting", None, {"TEE-CLASSIC": 1.0, "BOOK-COFFEE": 1.0}),
    ]
    assert await sale_states(tryton, order) == ("processing", "partially shipped", "pending")
    after_first = await stock(tryton, "TEE-CLASSIC", "BOOK-COFFEE")
    assert after_first["TEE-CLASSIC"] == (before["TEE-CLASSIC"][0] - 2, before["TEE-CLASSIC"][1])
    assert after_first["BOOK-COFFEE"] == before["BOOK-COFFEE"]

    assert await tryton_erp.ship_sales_order(key_of(order), "S1", [shipped("TEE-CLASSIC", 2)]) == first
    with pytest.raises(BusinessError, match=r"ships more than the sale still owes: 2 × TEE-CLASSIC \(1 open\)"):
        await tryton_erp.ship_sales_order(key_of(order), "S3", [shipped("TEE-CLASSIC", 2)])
    with pytest.raises(BusinessError, match="ships MUG-CERAMIC, which the sale does not have"):
        await tryton_erp.ship_sales_order(key_of(order), "S3", [shipped("MUG-CERAMIC", 1)])
    assert await shipments_of(tryton, order) == split

    second = await tryton_erp.ship_sales_order(
        key_of(order), "S2", [shipped("BOOK-COFFEE", 1), shipped("TEE-CLASSIC", 1)]
    )

    assert [(line.sku, line.quantity) for line in second.lines] == [("BOOK-COFFEE", 1), ("TEE-CLASSIC", 1)]
    assert await shipments_of(tryton, order) == [
        ("done", "S1", {"TEE-CLASSIC": 2.0}),
        ("done", "S2", {"TEE-CLASSIC": 1.0, "BOOK-COFFEE": 1.0}),
    ]
    assert await sale_states(tryton, order) == ("processing", "sent", "pending")
    assert await stock(tryton, "TEE-CLASSIC", "BOOK-COFFEE") == {
        "TEE-CLASSIC": (before["TEE-CLASSIC"][0] - 3, before["TEE-CLASSIC"][1]),
        "BOOK-COFFEE": (before["BOOK-COFFEE"][0] - 1, before["BOOK-COFFEE"][1]),
    }


async def test_a_shipment_the_erp_assigned_is_split_and_a_picked_one_is_not(tryton_erp, tryton):
    order = await confirmed_sale(tryton_erp, product_line(1, "MUG-CERAMIC", 4, "50.00", "50.00"))
    await tryton.call("stock.shipment.out", "assign_try", [await open_shipment(tryton, order)])

    await tryton_erp.ship_sales_order(key_of(order), "S1", [shipped("MUG-CERAMIC", 1)])

    assert await shipments_of(tryton, order) == [
        ("done", "S1", {"MUG-CERAMIC": 1.0}),
        ("waiting", None, {"MUG-CERAMIC": 3.0}),
    ]
    rest = await open_shipment(tryton, order)
    for transition in ("assign_try", "pick"):
        await tryton.call("stock.shipment.out", transition, [rest])
    with pytest.raises(BusinessError, match="is only part of an ERP shipment already picked"):
        await tryton_erp.ship_sales_order(key_of(order), "S2", [shipped("MUG-CERAMIC", 1)])

    await tryton_erp.ship_sales_order(key_of(order), "S2", [shipped("MUG-CERAMIC", 3)])
    assert await shipments_of(tryton, order) == [
        ("done", "S1", {"MUG-CERAMIC": 1.0}),
        ("done", "S2", {"MUG-CERAMIC": 3.0}),
    ]


async def test_a_shipment_tryton_lacks_stock_for_is_forced(tryton_erp, tryton):
    on_hand, forecast = (await stock(tryton, "HOODIE-S"))["HOODIE-S"]
    quantity = int(on_hand) + 5
    order = await confirmed_sale(tryton_erp, product_line(1, "HOODIE-S", quantity, "45.00", "45.00"))

    await tryton_erp.ship_sales_order(key_of(order), "S-FORCED", [shipped("HOODIE-S", quantity)])

    assert await shipments_of(tryton, order) == [("done", "S-FORCED", {"HOODIE-S": float(quantity)})]
    assert (await stock(tryton, "HOODIE-S"))["HOODIE-S"] == (-5.0, forecast - quantity)


async def test_invoice_is_posted_and_paid_with_the_transaction_id(tryton_erp, tryton):
    order = await confirmed_sale(tryton_erp, product_line(1, "MUG-CERAMIC", 2, "25.00", "25.00"))
    payment = Payment(method="stripe", transaction_id="ch_3PaidByCard", paid_at=dt.datetime.now(dt.UTC))

    invoice = await tryton_erp.invoice_sales_order(key_of(order), payment, eur("30.00"))

    assert invoice.state == InvoiceState.PAID and invoice.number
    assert (invoice.total_amount, invoice.amount_to_pay) == (eur("30.00"), eur("0.00"))
    (stored,) = await tryton.call("account.invoice", "read", [int(invoice.erp_ref)], ["state", "payment_lines"])
    assert stored["state"] == "paid"
    payments = await tryton.call(
        "account.move.line", "read", stored["payment_lines"], ["credit", "move.description", "move.journal.type"]
    )
    assert [(p["credit"], p["move."]["description"], p["move."]["journal."]["type"]) for p in payments] == [
        (Decimal("30.00"), "ch_3PaidByCard", "cash")
    ]
    assert await tryton_erp.invoice_sales_order(key_of(order), payment, eur("30.00")) == invoice

    await tryton_erp.ship_sales_order(key_of(order), "S-ALL", [shipped("MUG-CERAMIC", 2)])
    assert await sale_states(tryton, order) == ("done", "sent", "paid")
    assert (await tryton_erp.get_sales_order(key_of(order))).state == SalesOrderState.DONE


async def test_a_payment_that_does_not_match_the_invoice_is_refused(tryton_erp, tryton):
    order = await confirmed_sale(tryton_erp, product_line(1, "MUG-CERAMIC", 1, "12.50", "12.50"))

    with pytest.raises(BusinessError, match=r"The store took 14.99 EUR but invoice .* asks 15.00"):
        await tryton_erp.invoice_sales_order(key_of(order), Payment(transaction_id="ch_short"), eur("14.99"))

    # posting and paying are one step: refused, the invoice is not posted either
    assert await sale_states(tryton, order) == ("processing", "waiting", "pending")
    (sale,) = await tryton.call("sale.sale", "search_read", [("web_id", "=", key_of(order))], 0, 1, None, ["invoices"])
    assert [i["state"] for i in await tryton.call("account.invoice", "read", sale["invoices"], ["state"])] == ["draft"]


async def test_an_unknown_order_is_a_business_error(tryton_erp):
    with pytest.raises(BusinessError, match="No sale for order no-such-store:0"):
        await tryton_erp.ship_sales_order("no-such-store:0", "S1", [shipped("TEE-CLASSIC", 1)])
