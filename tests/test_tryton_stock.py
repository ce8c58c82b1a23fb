"""Stock and catalogue reads from a real trytond: the ERP back office changes things, the port reports them."""
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from adapters.errors import BusinessError
from adapters.tryton_changes import OVERLAP, Cursor, advance
from canonical.inventory import CatalogProduct, CatalogVariant, SourceStock
from embedded.erp_catalogue import ErpCatalogue
from embedded.tryton_bootstrap import WEB_PRICE_LIST
from tests.test_tryton_erp import STRICT, customer_for, key_of, make_order, product_line

WH = ["WH"]


@pytest.fixture(scope="module")
async def catalogue(tryton_server):
    driver = ErpCatalogue.connect(tryton_server.catalogue_manager)
    yield driver
    await driver.aclose()


def new_sku(prefix: str = "PROBE") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


async def available(erp, sku: str) -> Decimal:
    (stock,) = await erp.available_stock([sku], WH)
    return stock.quantity


async def goods_codes(tryton) -> set[str]:
    found = await tryton.call("product.product", "search_read", [("type", "=", "goods")], 0, None, None, ["code"])
    return {row["code"] for row in found}


async def test_received_goods_are_a_stock_change_reported_once_and_available(tryton_erp, catalogue):
    sku = new_sku()
    await catalogue.add_product(sku, "Stock probe", Decimal("9.00"))
    cursor = (await tryton_erp.stock_changes(None)).cursor
    assert await tryton_erp.available_stock([sku], WH) == [SourceStock(sku=sku, quantity=Decimal(0))]

    await catalogue.receive_stock({sku: 5})

    changes = await tryton_erp.stock_changes(cursor)
    assert sku in changes.skus  # (other tests' background workflows may move stock too)
    assert await available(tryton_erp, sku) == 5
    again = await tryton_erp.stock_changes(changes.cursor)
    assert sku not in again.skus
    await catalogue.receive_stock({sku: 1})
    assert sku in (await tryton_erp.stock_changes(again.cursor)).skus
    assert await available(tryton_erp, sku) == 6


async def test_a_confirmed_sale_lowers_available_stock_before_it_ships(tryton_erp, catalogue):
    sku = new_sku()
    await catalogue.add_product(sku, "Sold probe", Decimal("9.00"))
    await catalogue.receive_stock({sku: 5})
    cursor = (await tryton_erp.stock_changes(None)).cursor
    order = make_order([product_line(1, sku, 2, subtotal="18.00", total="18.00")])

    await tryton_erp.create_sales_order(key_of(order), order, await customer_for(tryton_erp, order), STRICT)

    assert await available(tryton_erp, sku) == 3
    assert sku in (await tryton_erp.stock_changes(cursor)).skus


async def test_stock_is_summed_over_warehouses_and_unknown_skus_are_left_out(tryton_erp):
    stock = await tryton_erp.available_stock(["NO-SUCH-SKU", "MUG-CERAMIC", "SHIPPING", "MUG-CERAMIC"], WH + WH)
    assert [s.sku for s in stock] == ["MUG-CERAMIC"]  # a service has no stock
    assert stock[0].quantity == await available(tryton_erp, "MUG-CERAMIC")
    with pytest.raises(BusinessError, match="Unknown warehouse NOWHERE"):
        await tryton_erp.available_stock(["MUG-CERAMIC"], ["NOWHERE"])


async def test_without_a_cursor_every_goods_sku_is_reported(tryton_erp, tryton):
    goods = await goods_codes(tryton)
    assert {"TEE-CLASSIC", "HOODIE-S", "HOODIE-M"} <= goods and "SHIPPING" not in goods

    changes = await tryton_erp.stock_changes(None)
    stock = await tryton_erp.available_stock(None, WH)

    assert set(changes.skus) == goods and len(changes.skus) == len(goods)
    assert {s.sku for s in stock} == goods
    assert {s.sku: s.quantity for s in stock}["TEE-CLASSIC"] == await available(tryton_erp, "TEE-CLASSIC")


async def test_a_new_variable_product_and_its_prices_are_a_catalogue_change(tryton_erp, catalogue):
    cursor = (await tryton_erp.catalog_changes(None, WEB_PRICE_LIST)).cursor
    shirt, plain = new_sku("SHIRT"), new_sku("PLAIN")
    sizes = [(f"{shirt}-S", {"Size": "S"}, Decimal("30.00")), (f"{shirt}-M", {"Size": "M"}, Decimal("32.00"))]
    await catalogue.add_product(shirt, "Test Shirt", Decimal("30.00"), sizes)
    await catalogue.add_product(plain, "Plain Probe", Decimal("10.00"))
    await catalogue.set_price_list_price(WEB_PRICE_LIST, f"{shirt}-M", Decimal("25.00"))
    await catalogue.set_price_list_price(WEB_PRICE_LIST, plain, Decimal("12.00"))  # dearer: no sale

    changes = await tryton_erp.catalog_changes(cursor, WEB_PRICE_LIST)

    assert changes.products == (
        CatalogProduct(sku=shirt, name="Test Shirt", regular_price=Decimal("30.00"), variants=(
            CatalogVariant(sku=f"{shirt}-S", name="Test Shirt - S", options={"Size": "S"},
                           regular_price=Decimal("30.00")),
            CatalogVariant(sku=f"{shirt}-M", name="Test Shirt - M", options={"Size": "M"},
                           regular_price=Decimal("32.00"), sale_price=Decimal("25.00")),
        )),
        CatalogProduct(sku=plain, name="Plain Probe", regular_price=Decimal("10.00")),
    )  # fmt: skip
    unchanged = await tryton_erp.catalog_changes(changes.cursor, WEB_PRICE_LIST)
    assert unchanged.products == ()

    await catalogue.set_list_price(plain, Decimal("11.50"))
    repriced = await tryton_erp.catalog_changes(unchanged.cursor, WEB_PRICE_LIST)
    assert repriced.products == (CatalogProduct(sku=plain, name="Plain Probe", regular_price=Decimal("11.50")),)

    await catalogue.set_price_list_price(WEB_PRICE_LIST, plain, Decimal("9.99"))
    await catalogue.deactivate(f"{shirt}-S")
    (shirt_now, plain_now) = (await tryton_erp.catalog_changes(repriced.cursor, WEB_PRICE_LIST)).products
    assert plain_now.sale_price == Decimal("9.99")
    assert shirt_now.active and [(v.sku, v.active) for v in shirt_now.variants] == [
        (f"{shirt}-S", False),
        (f"{shirt}-M", True),
    ]


async def test_without_a_price_list_there_is_no_sale_price(tryton_erp, catalogue):
    cursor = (await tryton_erp.catalog_changes(None, None)).cursor
    sku = new_sku()
    await catalogue.add_product(sku, "Unlisted Probe", Decimal("8.00"))
    await catalogue.set_price_list_price(WEB_PRICE_LIST, sku, Decimal("5.00"))
    await catalogue.deactivate(sku)

    (product,) = (await tryton_erp.catalog_changes(cursor, None)).products

    assert product == CatalogProduct(sku=sku, name="Unlisted Probe", regular_price=Decimal("8.00"), active=False)


async def test_the_whole_catalogue_on_sale_without_a_cursor(tryton_erp, tryton):
    products = {p.sku: p for p in (await tryton_erp.catalog_changes(None, WEB_PRICE_LIST)).products}

    assert {"TEE-CLASSIC", "MUG-CERAMIC", "BOOK-COFFEE", "HOODIE"} <= products.keys()
    assert "SHIPPING" not in products and "HOODIE-S" not in products
    assert products["TEE-CLASSIC"].variants == () and products["TEE-CLASSIC"].regular_price == Decimal("20.00")
    hoodie = products["HOODIE"]
    assert (hoodie.name, hoodie.regular_price) == ("Organic Hoodie", Decimal("45.00"))
    assert [(v.sku, v.name, v.options) for v in hoodie.variants] == [
        ("HOODIE-S", "Organic Hoodie - S", {"Size": "S"}),
        ("HOODIE-M", "Organic Hoodie - M", {"Size": "M"}),
    ]
    on_sale = await tryton.call("product.template", "search_count", [("type", "=", "goods"), ("salable", "=", True)])
    assert len(products) == on_sale


def test_a_late_commit_inside_the_overlap_is_still_reported_and_nothing_twice():
    t0 = dt.datetime(2026, 11, 22, 10, 0, 0)
    first, cursor = advance(Cursor(t0 - OVERLAP), {1: t0 - dt.timedelta(seconds=5), 2: t0})
    assert first == {1, 2} and cursor.since == t0 and cursor.seen == {1, 2}

    # Product 3 was stamped before t0 (its transaction started earlier) but committed after the first read.
    late, cursor = advance(Cursor.decode(cursor.encode()), {1: t0 - dt.timedelta(seconds=5), 2: t0, 3: t0})
    assert late == {3} and cursor.since == t0

    moved_again, cursor = advance(cursor, {2: t0 + dt.timedelta(seconds=1), 3: t0})
    assert moved_again == {2}


def test_a_cursor_stays_short_for_a_bulk_change():
    cursor = Cursor(dt.datetime(2026, 11, 22, 10, 0, 0, 123456), frozenset([*range(100, 10100), 7]))
    assert len(cursor.encode()) < 60
    assert Cursor.decode(cursor.encode()) == cursor
    with pytest.raises(ValueError, match="not a Tryton change cursor"):
        Cursor.decode("2026-11-22")
