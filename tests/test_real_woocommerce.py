"""The WooCommerce client against real stores: WooCommerce 10.0.2 with HPOS and 7.9.0 on posts storage.

Every public method of WooCommerceClient, as the suite uses it against the sandbox, and where the store
really kept what we wrote (HPOS tables or posts), read from its own database.
"""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from adapters.errors import BusinessError, NonRetryableError
from activities.store_notes import note_once
from adapters.woocommerce import WooCommerceClient
from canonical import Money, Order, OrderStatus
from canonical.inventory import Listing, ListingDraft, StockPush
from canonical.keys import refund_key
from canonical.returns import RefundLine, RefundRequest
from config import StoreSettings
from sandbox.real_woocommerce import RealStore, sql
from sandbox.woocommerce.shopper import Shopper


@pytest.fixture
async def client(real_store: RealStore):
    settings = StoreSettings(id=real_store.name.replace("_", "-"), url=real_store.url, consumer_key=SecretStr(real_store.consumer_key),
                             consumer_secret=SecretStr(real_store.consumer_secret),
                             webhook_secret=SecretStr("real-store-webhook-secret"), timeout_s=60)  # fmt: skip
    async with WooCommerceClient(settings) as store:
        yield store


@pytest.fixture
async def shopper(real_store: RealStore):
    shopper = Shopper(real_store.url, real_store.consumer_key, real_store.consumer_secret)
    yield shopper
    await shopper.aclose()


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


async def test_a_paid_order_reads_to_the_cent_with_its_variation_and_both_tax_rates(client, shopper):
    placed = await shopper.place_order([("TEE-CLASSIC", 2), ("HOODIE-M", 1), ("BOOK-COFFEE", 1)], paid=True)

    order = await client.get_order(placed["id"])

    assert order.status == OrderStatus.PAID and order.payment.paid_at is not None
    assert [(line.sku, line.quantity) for line in order.lines] == [("TEE-CLASSIC", 2), ("HOODIE-M", 1),
                                                                   ("BOOK-COFFEE", 1)]  # fmt: skip
    assert order.total == eur("139.53")  # 40 + 45 + 30 + 4.90 shipping, 20 % on all but the book's 5.5 %
    assert order.total_tax == eur("19.63")
    assert [sum(tax.amount.amount for tax in line.taxes) for line in order.lines] == [Decimal("8.00"), Decimal("9.00"),
                                                                                      Decimal("1.65")]  # fmt: skip


async def test_orders_are_listed_after_a_gmt_watermark_and_by_status(client, shopper):
    watermark = datetime.now(UTC) - timedelta(seconds=2)
    paid = await shopper.place_order([("MUG-CERAMIC", 1)], paid=True)
    unpaid = await shopper.place_order([("MUG-CERAMIC", 1)], paid=False)

    listed = await client.list_orders(watermark, page=1)
    processing = await client.list_orders(watermark, page=1, statuses=["processing"])

    assert {paid["id"], unpaid["id"]} <= {int(order.order_id) for order in listed.items}
    assert str(paid["id"]) in {order.order_id for order in processing.items}
    assert str(unpaid["id"]) not in {order.order_id for order in processing.items}
    assert (await client.list_orders(datetime.now(UTC) + timedelta(minutes=1), page=1)).items == []


async def test_status_notes_and_meta_land_where_the_store_keeps_orders(client, shopper, real_store):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)

    completed = await client.update_order_status(placed["id"], "completed")
    private = await client.add_order_note(placed["id"], "ERP sale S-1 [retail-sync:sale]", customer_visible=False)
    await client.add_order_note(placed["id"], "Shipped with DHL", customer_visible=True)
    await client.set_order_meta(placed["id"], "_retail_sync_sale", "S-1")
    await client.set_order_meta(placed["id"], "_retail_sync_sale", "S-2")  # an upsert by key
    await client.set_order_meta(placed["id"], "_retail_sync_tracking_1", '{"tracking_number": "TRK1"}')

    assert completed.status == OrderStatus.COMPLETED
    notes = {note.text: note.customer_visible for note in await client.list_order_notes(placed["id"])}
    assert notes["ERP sale S-1 [retail-sync:sale]"] is False and notes["Shipped with DHL"] is True
    assert private.note_id
    assert await client.get_order_meta(placed["id"], "_retail_sync_sale") == "S-2"
    assert await client.find_order_meta(placed["id"], "_retail_sync_") == {
        "_retail_sync_sale": "S-2", "_retail_sync_tracking_1": '{"tracking_number": "TRK1"}'}  # fmt: skip
    table = "wp_wc_orders_meta WHERE order_id" if real_store.hpos else "wp_postmeta WHERE post_id"
    assert sql(real_store, f"SELECT meta_value FROM {table} = {placed['id']} AND meta_key = '_retail_sync_sale'") == "S-2"
    if real_store.hpos:
        assert sql(real_store, f"SELECT status FROM wp_wc_orders WHERE id = {placed['id']}") == "wc-completed"
        assert sql(real_store, f"SELECT post_type FROM wp_posts WHERE ID = {placed['id']}") == "shop_order_placehold"


async def test_an_unknown_order_is_not_retryable(client):
    with pytest.raises(NonRetryableError) as refused:
        await client.get_order(999999)

    assert refused.value.status == 404


async def test_a_recorded_refund_carries_our_key_in_its_reason_and_is_found_by_it(client, shopper, real_store):
    placed = await shopper.place_order([("TEE-CLASSIC", 2), ("BOOK-COFFEE", 1)], paid=True)
    order = await client.get_order(placed["id"])
    key = refund_key(order.store_id, order.order_id, "rma-1")

    refund = await client.create_refund(refund_of_one_tee(order, key, refund_payment=False))

    assert refund.key == key and refund.amount == eur("24.00") and not refund.refunded_payment
    (line,) = refund.lines
    assert (line.sku, line.quantity, line.amount) == ("TEE-CLASSIC", 1, eur("20.00"))
    (listed,) = await client.list_refunds(order.order_id)
    assert (listed.refund_id, listed.key, listed.reason) == (refund.refund_id, key, f"RMA for {key}")
    if real_store.hpos:
        assert sql(real_store, f"SELECT type FROM wp_wc_orders WHERE id = {refund.refund_id}") == "shop_order_refund"


async def test_a_refund_through_a_gateway_the_store_lacks_is_a_business_error_and_leaves_no_refund(
    client, shopper, real_store
):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)  # "stripe": no such gateway here
    order = await client.get_order(placed["id"])

    with pytest.raises(BusinessError):
        await client.create_refund(refund_of_one_tee(order, refund_key(order.store_id, order.order_id, "rma-1"),
                                                     refund_payment=True))  # fmt: skip

    assert await client.list_refunds(order.order_id) == []


async def test_webhooks_are_created_listed_and_paused(client):
    created = await client.create_webhook("retail-sync test", "order.updated", "http://127.0.0.1:9/hooks/test",
                                          "s3cret&<value>")  # fmt: skip

    paused = await client.update_webhook(created.webhook_id, status="paused")

    assert created.status == "active" and created.topic == "order.updated"
    assert created.webhook_id in {hook.webhook_id for hook in await client.list_webhooks()}
    assert paused.status == "paused" and paused.delivery_url == "http://127.0.0.1:9/hooks/test"


async def test_listings_find_simple_products_and_options_with_their_parent(client):
    found = await client.find_listings(["TEE-CLASSIC", "HOODIE-M"])
    tee, hoodie_m = found["TEE-CLASSIC"], found["HOODIE-M"]

    listed = (await client.list_listings()).listings
    options = (await client.list_option_listings(hoodie_m.parent_id)).listings

    assert tee.parent_id is None and hoodie_m.parent_id is not None
    assert {"TEE-CLASSIC", "HOODIE"} <= {listing.sku for listing in listed}
    assert {"HOODIE-S", "HOODIE-M"} <= {option.sku for option in options}
    assert await client.find_listing("NO-SUCH-SKU") is None


async def test_stock_is_pushed_in_one_batch_per_parent(client, shopper):
    found = await client.find_listings(["TEE-CLASSIC", "MUG-CERAMIC", "HOODIE-S", "HOODIE-M"])

    top = await client.push_stock([push(found["TEE-CLASSIC"], 7),
                                   push(found["MUG-CERAMIC"], 0)])  # fmt: skip
    options = await client.push_stock([push(found["HOODIE-S"], 3),
                                       push(found["HOODIE-M"], 4)])  # fmt: skip

    assert [result.ok for result in top + options] == [True] * 4
    stock = {sku: (await shopper.listing(sku))["stock_quantity"] for sku in found}
    assert stock == {"TEE-CLASSIC": 7, "MUG-CERAMIC": 0, "HOODIE-S": 3, "HOODIE-M": 4}
    await client.push_stock([push(found["TEE-CLASSIC"], 100),
                             push(found["MUG-CERAMIC"], 100)])  # fmt: skip
    await client.push_stock([push(found["HOODIE-S"], 100),
                             push(found["HOODIE-M"], 100)])  # fmt: skip


async def test_the_catalogue_is_written_in_a_batch_and_a_price_updated(client, shopper, real_store):
    sku = f"CAT-{real_store.name}-{datetime.now(UTC):%H%M%S%f}"
    draft = ListingDraft(sku=sku, name="Catalogue test", regular_price=Decimal("9.90"))

    (created,) = await client.write_catalog(None, [draft], [])
    listing = await client.find_listing(sku)
    (updated,) = await client.write_catalog(None, [], [draft.model_copy(update={"regular_price": Decimal("11.00"),
                                                                               "listing_id": listing.listing_id})])  # fmt: skip

    assert created.ok and updated.ok and created.listing_id == listing.listing_id
    assert (await shopper.listing(sku))["regular_price"] == "11.00"
    await shopper.delete_product(sku)


async def test_an_option_is_written_through_its_own_parent_and_never_moved_through_another(client, shopper,
                                                                                            real_store):
    tag = f"{real_store.name[-2:]}{datetime.now(UTC):%H%M%S%f}"
    parent_draft = ListingDraft(sku=f"OPT-{tag}", name="Option test", variable=True, manages_stock=False,
                                option_values={"Size": ["S"]})
    other_draft = parent_draft.model_copy(update={"sku": f"OPX-{tag}"})
    parent, other = await client.write_catalog(None, [parent_draft, other_draft], [])
    option = ListingDraft(sku=f"OPT-{tag}-S", parent_id=parent.listing_id, options={"Size": "S"},
                          regular_price=Decimal("5.00"))
    (made,) = await client.write_catalog(parent.listing_id, [option], [])
    repriced = option.model_copy(update={"listing_id": made.listing_id, "regular_price": Decimal("6.00")})
    (own,) = await client.write_catalog(parent.listing_id, [], [repriced])
    (elsewhere,) = await client.write_catalog(other.listing_id, [], [repriced.model_copy(update={
        "parent_id": other.listing_id, "regular_price": Decimal("1.00")})])
    found = await client.find_listing(option.sku)

    assert own.ok and (elsewhere.ok, elsewhere.code) == (False, "option_of_another_listing")
    assert (found.parent_id, found.regular_price) == (parent.listing_id, Decimal("6.00"))
    for sku in (parent_draft.sku, other_draft.sku):
        await shopper.delete_product(sku)


def push(listing: Listing, quantity: int) -> StockPush:
    return StockPush(sku=listing.sku, listing_id=listing.listing_id, parent_id=listing.parent_id, quantity=quantity)


def refund_of_one_tee(order: Order, key: str, *, refund_payment: bool) -> RefundRequest:
    line = next(line for line in order.lines if line.sku == "TEE-CLASSIC")
    (tax,) = line.taxes
    one_tax = tax.model_copy(update={"amount": eur(str(tax.amount.amount / line.quantity))})
    return RefundRequest(
        key=key, store_id=order.store_id, order_id=order.order_id,
        reason=f"RMA for {key}", amount=eur("24.00"), refund_payment=refund_payment, restock=False,
        lines=(RefundLine(line_id=line.line_id, sku=line.sku, quantity=Decimal(1), amount=eur("20.00"),
                          taxes=(one_tax,)),),
    )  # fmt: skip


async def test_a_note_keeps_its_backslashes_so_its_marker_is_found_again(client, shopper):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    text = r"Return RMA-1: box\damaged \\ C:\orders\1 [retail-sync:note]"

    await note_once(client, str(placed["id"]), text, marker=text, customer_visible=True)
    await note_once(client, str(placed["id"]), text, marker=text, customer_visible=True)  # a retry

    assert [note.text for note in await client.list_order_notes(placed["id"])].count(text) == 1
