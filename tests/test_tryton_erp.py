"""TrytonErp against a real trytond: every assertion reads the outcome back from Tryton."""
import asyncio
import base64
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from pydantic import SecretStr

from adapters.erp import ErpCustomer, SalesOrderState
from adapters.errors import BusinessError, NonRetryableError, RetryableError
from adapters.tryton import TrytonErp
from adapters.tryton_rpc import TrytonRpc, TrytonUserError
from canonical import Address, Customer, FeeLine, Money, Order, OrderLine, OrderStatus, ShippingLine, TaxAmount, TaxRate
from canonical.keys import customer_key, sales_order_key
from canonical.sale_amounts import AmountsPolicy
from config import ErpSettings

STORE = "test-store"
STANDARD = TaxRate(rate_id="1", code="FR-VAT-20", label="VAT 20%", percent=Decimal("20.0000"))
REDUCED = TaxRate(rate_id="2", code="FR-VAT-5.5", label="VAT 5.5%", percent=Decimal("5.5000"))
CENT = Decimal("0.01")
STRICT = AmountsPolicy()
"""No tolerance: the ERP sale must equal the order to the cent."""


def eur(amount, currency: str = "EUR") -> Money:
    return Money(amount=Decimal(amount), currency=currency)


def taxes(total: Decimal, rate: TaxRate, currency: str = "EUR") -> tuple[TaxAmount, ...]:
    return (TaxAmount(rate_id=rate.rate_id, amount=eur((total * rate.percent / 100).quantize(CENT), currency)),)


def product_line(number: int, sku: str | None, quantity: int, subtotal: str, total: str, rate=STANDARD, currency="EUR"):
    total_amount = Decimal(total)
    return OrderLine(
        line_id=str(number),
        sku=sku,
        name=f"Item {number}",
        product_id=str(100 + number),
        quantity=Decimal(quantity),
        unit_price=eur(total_amount / quantity, currency),
        subtotal=eur(subtotal, currency),
        total=eur(total, currency),
        taxes=taxes(total_amount, rate, currency),
    )


def make_customer(**names) -> Customer:
    return Customer(store_customer_id=uuid.uuid4().hex[:10], email=f"{uuid.uuid4().hex[:8]}@example.com", **names)


def make_order(lines, *, shipping=(), fees=(), currency="EUR", customer=None, billing=None, shipping_address=None):
    lines = tuple(lines)
    amounts = [*(line.total for line in lines), *(s.total for s in shipping), *(f.total for f in fees)]
    tax_amounts = [t.amount for item in (*lines, *shipping, *fees) for t in item.taxes]
    untaxed = sum((m.amount for m in amounts), Decimal(0))
    tax = sum((m.amount for m in tax_amounts), Decimal(0))
    order_id = uuid.uuid4().hex[:12]
    now = dt.datetime.now(dt.UTC)
    return Order(
        store_id=STORE,
        order_id=order_id,
        number=f"N-{order_id}",
        status=OrderStatus.PAID,
        store_status="processing",
        currency=currency,
        created_at=now,
        modified_at=now,
        customer=customer or make_customer(first_name="Jane", last_name="Doe"),
        billing_address=billing or Address(street="1 Main Street", postal_code="75001", city="Paris", country="FR"),
        shipping_address=shipping_address or Address(),
        lines=lines,
        shipping_lines=tuple(shipping),
        fee_lines=tuple(fees),
        tax_rates=(STANDARD, REDUCED),
        total=eur(untaxed + tax, currency),
        total_tax=eur(tax, currency),
    )


async def customer_for(erp, order: Order) -> ErpCustomer:
    key = customer_key(order.store_id, order.customer)
    return await erp.ensure_customer(key, order.customer, order.billing_address, order.shipping_address)


def key_of(order: Order) -> str:
    return sales_order_key(order.store_id, order.order_id)


async def sales_for(tryton, key: str, fields=("state",)) -> list[dict]:
    return await tryton.call("sale.sale", "search_read", [("web_id", "=", key)], 0, None, None, list(fields))


async def forecast(tryton, sku: str) -> float:
    context = {"locations": [await warehouse(tryton)], "stock_date_end": dt.date.today(), "stock_assign": True}
    (product,) = await tryton.call(
        "product.product", "search_read", [("code", "=", sku)], 0, 1, None, ["forecast_quantity"], context=context
    )
    return product["forecast_quantity"]


async def warehouse(tryton) -> int:
    (found,) = await tryton.call("stock.location", "search", [("type", "=", "warehouse")], 0, 1, None)
    return found


async def test_confirmed_sale_mirrors_the_store_order(tryton_erp, tryton):
    shipping_to = Address(
        first_name="Sam", last_name="Doe", street="5 Dock Road", postal_code="69002", city="Lyon", country="FR"
    )
    order = make_order(
        [
            product_line(1, "TEE-CLASSIC", 2, subtotal="40.00", total="36.00"),  # 10 % coupon
            product_line(2, "BOOK-COFFEE", 1, subtotal="30.00", total="30.00", rate=REDUCED),
        ],
        shipping=[
            ShippingLine(
                line_id="s1",
                method_id="flat_rate",
                method_title="Flat rate",
                total=eur("5.00"),
                taxes=taxes(Decimal("5.00"), STANDARD),
            )
        ],
        fees=[FeeLine(line_id="f1", name="Gift wrap", total=eur("2.00"), taxes=taxes(Decimal("2.00"), STANDARD))],
        shipping_address=shipping_to,
    )
    customer = await customer_for(tryton_erp, order)

    sale = await tryton_erp.create_sales_order(key_of(order), order, customer, STRICT)

    assert sale.state == SalesOrderState.PROCESSING
    assert (sale.untaxed_amount, sale.tax_amount, sale.total_amount) == (eur("73.00"), eur("10.25"), eur("83.25"))
    (stored,) = await sales_for(
        tryton,
        key_of(order),
        [
            "number",
            "reference",
            "state",
            "party.code",
            "invoice_address",
            "shipment_address",
            "lines",
            "shipments.state",
            "invoices.state",
            "currency.code",
            "shipment_address.city",
        ],
    )
    assert stored["number"] == sale.number and stored["reference"] == order.number
    assert stored["party."]["code"] == customer_key(STORE, order.customer)
    assert (str(stored["invoice_address"]), str(stored["shipment_address"])) == (
        customer.invoice_address_ref,
        customer.shipment_address_ref,
    )
    assert stored["shipment_address."]["city"] == "Lyon"
    assert [s["state"] for s in stored["shipments."]] == ["waiting"]
    assert [i["state"] for i in stored["invoices."]] == ["draft"]
    lines = await tryton.call(
        "sale.line",
        "read",
        stored["lines"],
        ["product.code", "quantity", "unit_price", "amount", "taxes.rate", "description"],
    )
    assert sorted(
        (
            line["product."]["code"],
            line["quantity"],
            line["unit_price"],
            line["amount"],
            [t["rate"] for t in line["taxes."]],
            line["description"],
        )
        for line in lines
    ) == [
        ("BOOK-COFFEE", 1.0, Decimal("30.0000"), Decimal("30.00"), [Decimal("0.055")], "Item 2"),
        ("FEE", 1.0, Decimal("2.0000"), Decimal("2.00"), [Decimal("0.2")], "Gift wrap"),
        ("SHIPPING", 1.0, Decimal("5.0000"), Decimal("5.00"), [Decimal("0.2")], "Flat rate"),
        ("TEE-CLASSIC", 2.0, Decimal("18.0000"), Decimal("36.00"), [Decimal("0.2")], "Item 1"),
    ]
    assert await tryton_erp.get_sales_order(key_of(order)) == sale


async def test_creating_twice_keeps_one_sale(tryton_erp, tryton):
    order = make_order([product_line(1, "MUG-CERAMIC", 1, "12.50", "12.50")])
    customer = await customer_for(tryton_erp, order)

    first = await tryton_erp.create_sales_order(key_of(order), order, customer, STRICT)
    second = await tryton_erp.create_sales_order(key_of(order), order, customer, STRICT)

    assert second == first
    assert len(await sales_for(tryton, key_of(order))) == 1


async def test_concurrent_creates_make_one_sale(tryton_erp, tryton):
    order = make_order([product_line(1, "MUG-CERAMIC", 3, "37.50", "37.50")])
    customer = await customer_for(tryton_erp, order)

    first, second = await asyncio.gather(
        tryton_erp.create_sales_order(key_of(order), order, customer, STRICT),
        tryton_erp.create_sales_order(key_of(order), order, customer, STRICT),
    )

    # The loser may read the sale between its confirmation and the processing that follows it.
    assert first.erp_ref == second.erp_ref and first.number == second.number
    assert {first.state, second.state} <= {SalesOrderState.CONFIRMED, SalesOrderState.PROCESSING}
    assert [s["state"] for s in await sales_for(tryton, key_of(order))] == ["processing"]


async def test_a_draft_left_by_a_crash_is_confirmed_not_duplicated(tryton_erp, tryton):
    order = make_order([product_line(1, "MUG-CERAMIC", 1, "12.50", "12.50")])
    customer = await customer_for(tryton_erp, order)
    await create_draft(tryton, order, customer)

    sale = await tryton_erp.create_sales_order(key_of(order), order, customer, STRICT)

    assert sale.state == SalesOrderState.PROCESSING
    assert [s["state"] for s in await sales_for(tryton, key_of(order))] == ["processing"]


async def test_unknown_sku_names_the_line_and_creates_nothing(tryton_erp):
    order = make_order([product_line(1, "TEE-CLASSIC", 1, "20.00", "20.00"), product_line(2, "NOPE-123", 1, "5", "5")])
    customer = await customer_for(tryton_erp, order)

    with pytest.raises(BusinessError, match=r"Unknown SKU 'NOPE-123' on line 2 \(Item 2\)"):
        await tryton_erp.create_sales_order(key_of(order), order, customer, STRICT)

    assert await tryton_erp.get_sales_order(key_of(order)) is None


async def test_unknown_currency_is_a_business_error(tryton_erp):
    order = make_order([product_line(1, "TEE-CLASSIC", 1, "20.00", "20.00", currency="XYZ")], currency="XYZ")
    customer = await customer_for(tryton_erp, order)

    with pytest.raises(BusinessError, match="Unknown currency XYZ"):
        await tryton_erp.create_sales_order(key_of(order), order, customer, STRICT)
    assert await tryton_erp.get_sales_order(key_of(order)) is None


async def test_tax_rate_unknown_to_the_erp_is_a_business_error(tryton_erp):
    odd = TaxRate(rate_id="1", percent=Decimal("7.7"))
    order = make_order([product_line(1, "TEE-CLASSIC", 1, "20.00", "20.00", rate=odd)])
    order = order.model_copy(update={"tax_rates": (odd,)})
    customer = await customer_for(tryton_erp, order)

    with pytest.raises(BusinessError, match=r"No ERP tax at 7.7% for line 1"):
        await tryton_erp.create_sales_order(key_of(order), order, customer, STRICT)


async def test_cancel_releases_an_unshipped_sale_and_is_idempotent(tryton_erp, tryton):
    order = make_order([product_line(1, "HOODIE-M", 2, "90.00", "90.00")])
    customer = await customer_for(tryton_erp, order)
    before = await forecast(tryton, "HOODIE-M")
    created = await tryton_erp.create_sales_order(key_of(order), order, customer, STRICT)
    assert await forecast(tryton, "HOODIE-M") == before - 2

    cancelled = await tryton_erp.cancel_sales_order(key_of(order))
    again = await tryton_erp.cancel_sales_order(key_of(order))

    assert cancelled.state == SalesOrderState.CANCELLED and cancelled.erp_ref == created.erp_ref
    assert again == cancelled
    assert await tryton_erp.get_sales_order(key_of(order)) == cancelled
    (stored,) = await sales_for(
        tryton, key_of(order), ["state", "shipment_state", "invoice_state", "shipments.state", "invoices.state"]
    )
    assert (stored["state"], stored["shipment_state"], stored["invoice_state"]) == ("done", "none", "none")
    assert {s["state"] for s in stored["shipments."] + stored["invoices."]} == {"cancelled"}
    assert await forecast(tryton, "HOODIE-M") == before


async def test_cancel_of_a_draft_sale_cancels_it(tryton_erp, tryton):
    order = make_order([product_line(1, "MUG-CERAMIC", 1, "12.50", "12.50")])
    customer = await customer_for(tryton_erp, order)
    await create_draft(tryton, order, customer)

    sale = await tryton_erp.cancel_sales_order(key_of(order))

    assert sale.state == SalesOrderState.CANCELLED
    assert [s["state"] for s in await sales_for(tryton, key_of(order))] == ["cancelled"]
    assert await tryton_erp.cancel_sales_order("no-such-store:0") is None


async def test_a_shipped_sale_cannot_be_cancelled(tryton_erp, tryton):
    order = make_order([product_line(1, "TEE-CLASSIC", 1, "20.00", "20.00")])
    customer = await customer_for(tryton_erp, order)
    await tryton_erp.create_sales_order(key_of(order), order, customer, STRICT)
    (stored,) = await sales_for(tryton, key_of(order), ["shipments"])
    for transition in ("assign_try", "pick", "pack", "do"):
        await tryton.call("stock.shipment.out", transition, stored["shipments"])

    with pytest.raises(BusinessError, match="has shipped"):
        await tryton_erp.cancel_sales_order(key_of(order))


async def test_an_order_too_large_for_one_erp_call_parks_with_its_size(tryton_server, tryton_erp):
    small = TrytonErp(tryton_server.settings.model_copy(update={"max_sale_lines": 2}))
    order = make_order([product_line(n, "TEE-CLASSIC", 1, "10.00", "10.00") for n in range(1, 4)])
    try:
        with pytest.raises(BusinessError, match=r"has 3 lines; one ERP sale takes at most 2 \(erp.max_sale_lines\)"):
            await small.create_sales_order(key_of(order), order, await customer_for(small, order), STRICT)
    finally:
        await small.aclose()
    assert await tryton_erp.get_sales_order(key_of(order)) is None


async def test_guest_with_non_ascii_name_and_address(tryton_erp, tryton):
    guest = Customer(email=f"zoë.{uuid.uuid4().hex[:6]}@exemple.fr", first_name="Zoë", last_name="Łukasiewicz-Ångström")
    billing = Address(
        first_name="Zoë",
        street="12 rue de l'Église",
        street2="Bâtiment Ç",
        postal_code="91000",
        city="Évry-Courcouronnes",
        country="fr",
    )
    order = make_order(
        [product_line(1, "BOOK-COFFEE", 1, "30.00", "30.00", rate=REDUCED)], customer=guest, billing=billing
    )

    customer = await customer_for(tryton_erp, order)
    again = await customer_for(tryton_erp, order)
    sale = await tryton_erp.create_sales_order(key_of(order), order, customer, STRICT)

    assert again == customer
    assert customer.invoice_address_ref == customer.shipment_address_ref
    assert customer.key.startswith(f"{STORE}-G")
    (party,) = await tryton.call(
        "party.party", "read", [int(customer.customer_ref)], ["name", "code", "addresses", "contact_mechanisms.value"]
    )
    assert party["name"] == "Zoë Łukasiewicz-Ångström" and party["code"] == customer.key
    assert [c["value"] for c in party["contact_mechanisms."]] == [guest.email]
    (address,) = await tryton.call("party.address", "read", party["addresses"], ["street", "city", "country.code"])
    assert (address["street"], address["city"], address["country."]["code"]) == (
        "12 rue de l'Église\nBâtiment Ç",
        "Évry-Courcouronnes",
        "FR",
    )
    assert sale.total_amount == eur("31.65")


async def test_unknown_country_is_a_business_error(tryton_erp):
    order = make_order(
        [product_line(1, "TEE-CLASSIC", 1, "20.00", "20.00")],
        billing=Address(street="1 Nowhere", city="Atlantis", country="QQ"),
    )

    with pytest.raises(BusinessError, match="Unknown country QQ"):
        await customer_for(tryton_erp, order)


async def create_draft(tryton, order: Order, customer: ErpCustomer) -> None:
    """What a worker that crashed between `create` and `quote` leaves behind."""
    (shop,) = await tryton.call("web.shop", "search", [("name", "=", ErpSettings().web_shop)], 0, 1, None)
    (product,) = await tryton.call(
        "product.product", "search_read", [("code", "=", order.lines[0].sku)], 0, 1, None, ["default_uom"]
    )
    await tryton.call(
        "sale.sale",
        "create",
        [
            {
                "web_shop": shop,
                "web_id": key_of(order),
                "party": int(customer.customer_ref),
                "invoice_address": int(customer.invoice_address_ref),
                "shipment_address": int(customer.shipment_address_ref),
                "lines": [
                    [
                        "create",
                        [
                            {
                                "product": product["id"],
                                "unit": product["default_uom"],
                                "quantity": 1.0,
                                "unit_price": Decimal("12.5"),
                            }
                        ],
                    ]
                ],
            }
        ],
    )


async def test_an_expired_session_is_renewed_once(tryton_server):
    settings = tryton_server.settings
    rpc = TrytonRpc(settings.url, settings.database, settings.user, settings.password)
    await rpc.call("sale.sale", "search_count", [])
    rpc._http.headers["Authorization"] = "Session " + base64.b64encode(b"integration:2:expired").decode()

    assert await rpc.call("sale.sale", "search_count", []) >= 0
    await rpc.aclose()


async def test_refused_login_and_rejected_data_are_not_retryable(tryton_server, tryton):
    settings = tryton_server.settings
    intruder = TrytonRpc(settings.url, settings.database, settings.user, SecretStr("not-the-password"))
    with pytest.raises(NonRetryableError, match="login refused") as refused:
        await intruder.call("sale.sale", "search_count", [])
    assert "not-the-password" not in str(refused.value)
    await intruder.aclose()

    with pytest.raises(TrytonUserError) as rejected:
        await tryton.call("sale.sale", "read", [999999], ["state"])
    assert rejected.value.message == 'You are trying to read records "999999" of "Sale" that don\'t exist.'


async def test_an_unreachable_server_is_retryable():
    rpc = TrytonRpc("http://127.0.0.1:9", "retailsync", "integration", SecretStr("x"))  # nothing listens on discard
    with pytest.raises(RetryableError):
        await rpc.call("sale.sale", "search_count", [])
    await rpc.aclose()
