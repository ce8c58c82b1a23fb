"""Products and variations in batches: the sandbox's WooCommerce behaviour over real HTTP, then the
adapter's listings, stock pushes and catalogue writes against it (re-reading the store for the outcome)."""
import asyncio
import json
from decimal import Decimal
from uuid import uuid4

import pytest

from adapters.errors import BatchTooLarge, NonRetryableError, RetryableError
from adapters.woocommerce import WooCommerceClient
from adapters.woocommerce_catalog import draft_body, item_result
from canonical.inventory import Listing, ListingDraft, ListingStatus, PushResult, StockPush
from sandbox.woocommerce import SandboxConfig, run_woocommerce_sandbox
from tests.plugins.woocommerce import WooSandbox
from tests.test_woocommerce_adapter import host_faults, settings, shopper, store  # noqa: F401 (fixtures)

TOO_LARGE = "woocommerce_rest_request_entity_too_large"


@pytest.fixture(scope="module")
async def woo_sandbox():
    """This module's own store (`woo`, `store`, `shopper` and `host_faults` use it): it adds many products,
    which tests sharing the session's store do not expect on their first page."""
    async with run_woocommerce_sandbox(SandboxConfig()) as running:
        yield WooSandbox(running)


def _tag() -> str:
    return uuid4().hex[:8].upper()


async def _new_products(woo, count: int, **fields) -> list[dict]:
    """Simple products with their own stock of 5, created in one batch."""
    tag = _tag()
    creates = [{"name": f"Batch item {i}", "sku": f"B-{tag}-{i}", "regular_price": "10.00", "manage_stock": True,
                "stock_quantity": 5, **fields} for i in range(count)]  # fmt: skip
    answer = await woo.post("/products/batch", json={"create": creates})
    assert answer.status_code == 200, answer.text
    return answer.json()["create"]


async def _variable_product(woo) -> tuple[dict, list[dict]]:
    """A variable product with a managed option (4 units) and an unmanaged one on sale."""
    tag = _tag()
    parent = (await woo.post("/products", json={
        "name": f"Cap {tag}", "type": "variable", "sku": f"CAP-{tag}",
        "attributes": [{"name": "Colour", "options": ["Red", "Blue"], "variation": True, "visible": True}]})).json()
    answer = await woo.post(f"/products/{parent['id']}/variations/batch", json={"create": [
        {"sku": f"CAP-{tag}-RED", "regular_price": "15.00", "manage_stock": True, "stock_quantity": 4,
         "attributes": [{"name": "colour", "option": "Red"}]},
        {"sku": f"CAP-{tag}-BLUE", "regular_price": "14.00", "sale_price": "12.00",
         "attributes": [{"name": "Colour", "option": "Blue"}, {"name": "Size", "option": "L"}]},
    ]})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return parent, answer.json()["create"]


async def _stock(shopper, sku: str) -> int | None:
    return (await shopper.listing(sku))["stock_quantity"]


def _push(product: dict, quantity: int) -> StockPush:
    parent = product.get("parent_id") or None
    return StockPush(sku=product["sku"], listing_id=str(product["id"]), parent_id=parent and str(parent),
                     quantity=quantity)


# The sandbox: limits


async def test_limit_counts_creates_updates_and_deletes_together():
    async with run_woocommerce_sandbox(SandboxConfig(seed_catalogue=False)) as running:
        async with WooSandbox(running).client() as woo:
            creates = [{"name": f"P{i}", "sku": f"P-{i}", "regular_price": "1.00"} for i in range(101)]
            refused = await woo.post("/products/batch", json={"create": creates})
            nothing = await woo.get("/products")
            accepted = await woo.post("/products/batch", json={"create": creates[:100]})
            ids = [product["id"] for product in accepted.json()["create"]]
            mixed = {"create": creates[100:], "update": [{"id": i, "regular_price": "2.00"} for i in ids[:98]],
                     "delete": ids[98:]}  # 1 + 98 + 2
            mixed_refused = await woo.post("/products/batch", json=mixed)
            mixed["delete"] = ids[99:]  # 1 + 98 + 1
            mixed_accepted = await woo.post("/products/batch", json=mixed)
            after = await woo.get("/products", params={"per_page": 100, "orderby": "id", "order": "asc"})
            empty = await woo.post("/products/batch", json={})

    assert refused.status_code == 413
    assert refused.json() == {"code": TOO_LARGE, "message": "Unable to accept more than 100 items for this request.",
                              "data": {"status": 413}}
    assert nothing.headers["X-WP-Total"] == "0"  # refused as a whole: nothing created
    assert accepted.status_code == 200
    assert [p["sku"] for p in accepted.json()["create"]] == [f"P-{i}" for i in range(100)]
    assert mixed_refused.status_code == 413
    answer = mixed_accepted.json()
    assert mixed_accepted.status_code == 200 and list(answer) == ["create", "update", "delete"]
    assert answer["create"][0]["sku"] == "P-100" and {p["regular_price"] for p in answer["update"]} == {"2.00"}
    assert [p["id"] for p in answer["delete"]] == ids[99:]
    assert after.headers["X-WP-Total"] == "100" and ids[99] not in [p["id"] for p in after.json()]
    assert (empty.status_code, empty.json()) == (200, [])


async def test_a_lowered_limit_refuses_bigger_batches_and_the_adapter_says_how_many(woo, shopper, store):
    products = await _new_products(woo, 4)
    pushes = [_push(product, 40 + i) for i, product in enumerate(products)]
    await shopper.set_batch_limit(3)
    try:
        raw = await woo.post("/products/batch",
                             json={"update": [{"id": p["id"], "stock_quantity": 1} for p in products]})
        with pytest.raises(BatchTooLarge) as refused:
            await store.push_stock(pushes)
        three = await store.push_stock(pushes[:3])
    finally:
        await shopper.set_batch_limit(None)
    four = await store.push_stock([push.model_copy(update={"quantity": 50}) for push in pushes])

    assert (raw.status_code, raw.json()["message"]) == (413, "Unable to accept more than 3 items for this request.")
    error = refused.value
    assert isinstance(error, NonRetryableError) and not error.retryable
    assert (error.limit, error.status, error.code) == (3, 413, TOO_LARGE)
    assert [r.ok for r in three] == [True] * 3 and [r.ok for r in four] == [True] * 4
    assert [await _stock(shopper, p["sku"]) for p in products] == [50] * 4  # the 413s changed nothing in between


async def test_the_configured_limit_is_the_store_default():
    async with run_woocommerce_sandbox(SandboxConfig(seed_catalogue=False, batch_limit=2)) as running:
        async with WooSandbox(running).client() as woo:
            refused = await woo.post("/products/batch", json={"create": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})
    assert refused.json()["message"] == "Unable to accept more than 2 items for this request."


# The sandbox: per-item outcomes


async def test_an_unknown_id_fails_alone_and_the_other_items_are_applied(woo, shopper):
    first, second = await _new_products(woo, 2)
    variation = await shopper.listing("HOODIE-S")
    answer = await woo.post("/products/batch", json={"update": [
        {"id": first["id"], "stock_quantity": 7}, {"id": 999999, "stock_quantity": 1},
        {"id": second["id"], "stock_quantity": 8}, {"stock_quantity": 2}, {"id": variation["id"], "stock_quantity": 3},
    ]})  # fmt: skip

    assert answer.status_code == 200
    update = answer.json()["update"]
    assert update[1] == {"id": 999999, "error": {
        "code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.", "data": {"status": 400}}}
    assert update[3]["id"] is None and update[3]["error"]["code"] == "woocommerce_rest_product_invalid_id"
    assert update[4]["error"]["code"] == "woocommerce_rest_invalid_product_id"  # variations: only via their parent
    assert update[4]["error"]["data"] == {"status": 404}
    assert (update[0]["stock_quantity"], update[2]["stock_quantity"]) == (7, 8)
    assert (await _stock(shopper, first["sku"]), await _stock(shopper, second["sku"])) == (7, 8)
    assert await _stock(shopper, "HOODIE-S") == variation["stock_quantity"]


async def test_a_failed_create_has_id_0_and_batch_items_skip_validation(woo, shopper):
    (existing,) = await _new_products(woo, 1)
    answer = (await woo.post("/products/batch", json={
        "create": [{"name": "Copy", "sku": existing["sku"]},
                   {"name": "Fine", "sku": existing["sku"] + "-B", "manage_stock": True, "stock_quantity": "abc"}],
        "update": [{"id": existing["id"], "stock_quantity": "abc"}],
        "delete": [0, {"id": existing["id"]}],
    })).json()  # fmt: skip
    single = await woo.put(f"/products/{existing['id']}", json={"stock_quantity": "abc"})

    assert answer["create"][0] == {"id": 0, "error": {
        "code": "product_invalid_sku", "message": "Invalid or duplicated SKU.",
        "data": {"status": 400, "resource_id": existing["id"], "unique_sku": existing["sku"] + "-1"}}}
    assert (answer["create"][1]["stock_quantity"], answer["create"][1]["stock_status"]) == (0, "outofstock")
    assert answer["update"][0]["stock_quantity"] == 0  # "abc" inside a batch is saved as 0 (contract §11)
    assert (single.status_code, single.json()["code"]) == (400, "rest_invalid_param")  # but refused on its own
    # `delete` takes plain ids: 0 is skipped, an object reads as (int) 1
    assert answer["delete"] == [{"id": 1, "error": {"code": "woocommerce_rest_product_invalid_id",
                                                    "message": "Invalid ID.", "data": {"status": 404}}}]
    assert await _stock(shopper, existing["sku"]) == 0


async def test_variations_are_created_with_their_options_and_written_through_their_parent(woo, shopper):
    parent, (red, blue) = await _variable_product(woo)
    unknown = (await woo.post(f"/products/{parent['id']}/variations/batch",
                              json={"update": [{"id": 999999, "stock_quantity": 1}]})).json()
    single = await woo.post(f"/products/{parent['id']}/variations", json={
        "sku": parent["sku"] + "-GREEN", "regular_price": "9.00",
        "attributes": [{"name": "Colour", "option": "Green"}]})
    orphan = await woo.post("/products/999999/variations", json={"sku": "NOPE", "regular_price": "1.00"})
    reread = (await woo.get(f"/products/{parent['id']}")).json()

    assert (red["name"], red["parent_id"], red["type"]) == (f"{parent['name']} - Red", parent["id"], "variation")
    assert red["attributes"] == [{"id": 0, "name": "Colour", "slug": "colour", "option": "Red"}] and red["stock_quantity"] == 4
    assert blue["attributes"] == [{"id": 0, "name": "Colour", "slug": "colour", "option": "Blue"}]  # Size is not the parent's: dropped
    assert (blue["manage_stock"], blue["stock_quantity"], blue["price"]) == (False, None, "12.00")
    assert unknown == {"update": [{"id": 999999, "error": {
        "code": "woocommerce_rest_product_variation_invalid_id", "message": "Invalid ID.", "data": {"status": 400}}}]}
    assert single.status_code == 201 and single.headers["Location"].endswith(f"/variations/{single.json()['id']}")
    assert (orphan.status_code, orphan.json()["code"]) == (404, "woocommerce_rest_product_variation_invalid_parent")
    assert reread["variations"] == [red["id"], blue["id"], single.json()["id"]] and reread["price"] == "9.00"
    assert (await shopper.listing(red["sku"]))["parent_id"] == parent["id"]


async def test_batch_items_fire_product_webhooks_like_single_writes(woo, webhook_receiver):
    (existing,) = await _new_products(woo, 1)
    subscriptions = [{"name": topic, "topic": topic, "delivery_url": webhook_receiver.url, "secret": "s"}
                     for topic in ("product.created", "product.updated")]  # fmt: skip
    hooks = [(await woo.post("/webhooks", json=subscription)).json() for subscription in subscriptions]
    await webhook_receiver.wait_for(2)  # the pings
    answer = (await woo.post("/products/batch", json={
        "create": [{"name": "Hooked", "sku": f"HOOK-{_tag()}"}],
        "update": [{"id": existing["id"], "regular_price": "11.00"}, {"id": 999999, "regular_price": "1.00"}]})).json()
    await webhook_receiver.wait_for(4)
    await asyncio.sleep(0.3)
    for hook in hooks:
        await woo.delete(f"/webhooks/{hook['id']}", params={"force": "true"})

    events = sorted((d["headers"]["x-wc-webhook-topic"], json.loads(d["body"])["id"])
                    for d in webhook_receiver.received[2:])  # fmt: skip
    assert events == [("product.created", answer["create"][0]["id"]), ("product.updated", existing["id"])]


async def test_delete_trashes_unless_forced_and_only_a_deleted_sku_is_free_again(woo, shopper):
    (product,) = await _new_products(woo, 1)
    trashed = await woo.delete(f"/products/{product['id']}")
    status = (await woo.get(f"/products/{product['id']}")).json()["status"]
    listed = await shopper.listing(product["sku"])
    again = await woo.delete(f"/products/{product['id']}")
    held = await woo.post("/products", json={"name": "Reused", "sku": product["sku"]})
    await woo.delete(f"/products/{product['id']}", params={"force": "true"})
    reused = await woo.post("/products", json={"name": "Reused", "sku": product["sku"]})
    forced = await shopper.delete_product(product["sku"])
    gone = await woo.get(f"/products/{forced['id']}")
    parent, (red, blue) = await _variable_product(woo)
    await shopper.delete_product(blue["sku"])
    after_option = (await woo.get(f"/products/{parent['id']}")).json()["variations"]
    await woo.delete(f"/products/{parent['id']}", params={"force": "true"})

    assert trashed.status_code == 200 and trashed.json()["status"] == "publish" and status == "trash"
    assert listed is None  # `status=any` leaves the trash out
    assert (again.status_code, again.json()) == (410, {"code": "woocommerce_rest_already_trashed",
                                                       "message": "The product has already been deleted.",
                                                       "data": {"status": 410}})
    assert (held.status_code, held.json()["code"]) == (400, "woocommerce_rest_product_not_created")  # 10.x
    assert reused.status_code == 201 and forced["id"] == reused.json()["id"]
    assert (gone.status_code, gone.json()["code"]) == (404, "woocommerce_rest_product_invalid_id")
    assert after_option == [red["id"]]
    assert await shopper.listing(red["sku"]) is None  # a variable product goes with its variations


@pytest.mark.parametrize(("status", "reduces"), [("processing", True), ("on-hold", True), ("pending", False)])
async def test_creating_an_order_reduces_managed_stock_unless_pending(woo, shopper, status, reduces):
    (simple,) = await _new_products(woo, 1)
    parent, (red, _) = await _variable_product(woo)
    response = await woo.post("/orders", json={"status": status, "line_items": [
        {"product_id": simple["id"], "quantity": 2},
        {"product_id": parent["id"], "variation_id": red["id"], "quantity": 3}]})  # fmt: skip

    assert response.status_code == 201 and response.json()["status"] == status
    taken = (2, 3) if reduces else (0, 0)
    assert await _stock(shopper, simple["sku"]) == 5 - taken[0]
    assert await _stock(shopper, red["sku"]) == 4 - taken[1]


async def test_the_merchant_sets_stock_by_hand_on_products_and_variations(woo, shopper):
    parent, (_, blue) = await _variable_product(woo)
    (simple,) = await _new_products(woo, 1, manage_stock=False)
    await shopper.set_stock(blue["sku"], 6)
    await shopper.set_stock(simple["sku"], 2)
    assert await _stock(shopper, blue["sku"]) == 6 and await _stock(shopper, simple["sku"]) == 2


# The adapter


async def _all_listings(store: WooCommerceClient) -> dict[str, Listing]:
    found, page_number, has_next = {}, 1, True
    while has_next:
        page = await store.list_listings(page_number)
        found.update((listing.sku, listing) for listing in page.listings)
        page_number, has_next = page_number + 1, page.has_next
    return found


async def test_listings_map_simple_and_variable_products_and_their_options(woo, store):
    parent, (red, blue) = await _variable_product(woo)
    (simple,) = await _new_products(woo, 1, sale_price="8.50", backorders="notify")
    external = (await woo.post("/products", json={"name": "Elsewhere", "type": "external", "sku": f"EXT-{_tag()}"}))
    (trashed,) = await _new_products(woo, 1)
    await woo.delete(f"/products/{trashed['id']}")

    listings = await _all_listings(store)
    options = await store.list_option_listings(str(parent["id"]))

    assert listings[parent["sku"]] == Listing(sku=parent["sku"], listing_id=str(parent["id"]), variable=True,
                                              name=parent["name"])
    assert listings[simple["sku"]] == Listing(
        sku=simple["sku"], listing_id=str(simple["id"]), name=simple["name"], status=ListingStatus.PUBLISHED,
        regular_price=Decimal("10.00"), sale_price=Decimal("8.50"), manages_stock=True, quantity=5,
        backorders_allowed=True)
    assert external.json()["sku"] not in listings and trashed["sku"] not in listings
    assert red["sku"] not in listings  # options come from their parent
    assert not options.has_next and options.listings == [
        Listing(sku=red["sku"], listing_id=str(red["id"]), parent_id=str(parent["id"]), name=red["name"],
                regular_price=Decimal("15.00"), manages_stock=True, quantity=4),
        Listing(sku=blue["sku"], listing_id=str(blue["id"]), parent_id=str(parent["id"]), name=blue["name"],
                regular_price=Decimal("14.00"), sale_price=Decimal("12.00")),
    ]  # fmt: skip
    assert await store.find_listing(red["sku"]) == options.listings[0]
    assert await store.find_listing(simple["sku"]) == listings[simple["sku"]]
    assert await store.find_listing(f"NOPE-{_tag()}") is None


async def test_push_stock_sets_options_of_one_parent_and_takes_over_their_stock(woo, store, shopper):
    parent, (red, blue) = await _variable_product(woo)
    results = await store.push_stock([_push(red, 9), _push(blue, 0)])

    assert results == [PushResult(sku=red["sku"], ok=True, listing_id=str(red["id"])),
                       PushResult(sku=blue["sku"], ok=True, listing_id=str(blue["id"]))]
    blue_now = await shopper.listing(blue["sku"])
    assert await _stock(shopper, red["sku"]) == 9
    assert (blue_now["manage_stock"], blue_now["stock_quantity"], blue_now["stock_status"]) == (True, 0, "outofstock")


async def test_push_stock_reports_a_vanished_listing_alone(woo, store, shopper):
    kept, vanished = await _new_products(woo, 2)
    await shopper.delete_product(vanished["sku"])

    results = await store.push_stock([_push(kept, 11), _push(vanished, 12)])

    assert results == [
        PushResult(sku=kept["sku"], ok=True, listing_id=str(kept["id"])),
        PushResult(sku=vanished["sku"], ok=False, listing_id=str(vanished["id"]),
                   code="woocommerce_rest_product_invalid_id", message="Invalid ID.", retryable=False),
    ]  # fmt: skip
    assert await _stock(shopper, kept["sku"]) == 11


async def test_push_stock_refuses_mixed_parents_and_more_than_the_limit_before_sending(woo_sandbox, woo):
    parent, (red, _) = await _variable_product(woo)
    first, second, third = await _new_products(woo, 3)
    small = settings(woo_sandbox.home_url, woo_sandbox.consumer_key, woo_sandbox.consumer_secret, batch_limit=2)
    async with WooCommerceClient(small) as client:
        with pytest.raises(ValueError, match="one parent"):
            await client.push_stock([_push(first, 1), _push(red, 1)])
        with pytest.raises(ValueError, match="3 items"):
            await client.push_stock([_push(first, 1), _push(second, 1), _push(third, 1)])
        with pytest.raises(ValueError, match="not a WooCommerce id"):
            await client.push_stock([_push(first, 1).model_copy(update={"listing_id": "../orders"})])
        assert await client.push_stock([]) == []


async def test_429_on_a_batch_is_retryable_with_the_wait_and_not_resent(woo_sandbox, woo, shopper, host_faults):
    (product,) = await _new_products(woo, 1)
    await host_faults(status=429, retry_after="7", count=1, method="POST", path_prefix="/wp-json/wc/v3/products/batch")

    async with WooCommerceClient(
        settings(woo_sandbox.home_url, woo_sandbox.consumer_key, woo_sandbox.consumer_secret)
    ) as client:
        with pytest.raises(RetryableError) as caught:
            await client.push_stock([_push(product, 3)])

    assert (caught.value.status, caught.value.retry_after) == (429, 7)
    assert await _stock(shopper, product["sku"]) == 5  # the host answered; WordPress never saw the batch


async def test_a_slow_batch_gets_more_time_than_a_short_request_timeout(woo_sandbox, woo, shopper, host_faults):
    (product,) = await _new_products(woo, 1)
    await host_faults(delay_s=0.5, count=1, method="POST", path_prefix="/wp-json/wc/v3/products/batch")
    hasty = settings(woo_sandbox.home_url, woo_sandbox.consumer_key, woo_sandbox.consumer_secret, timeout_s=0.2)

    async with WooCommerceClient(hasty) as client:
        (result,) = await client.push_stock([_push(product, 4)])

    assert result.ok and await _stock(shopper, product["sku"]) == 4


async def test_write_catalog_creates_a_variable_listing_with_priced_options_then_updates_a_price(woo, store):
    tag = _tag()
    (taken,) = await _new_products(woo, 1)
    jacket = ListingDraft(sku=f"JKT-{tag}", name="Rain Jacket", variable=True, manages_stock=False,
                          option_values={"Size": ["S", "M"]}, regular_price=Decimal("99.00"))
    made, duplicate = await store.write_catalog(None, [jacket, ListingDraft(sku=taken["sku"], name="Dup")], [])
    drafts = [ListingDraft(sku=f"JKT-{tag}-S", parent_id=made.listing_id, options={"Size": "S"},
                           regular_price=Decimal("80.00")),
              ListingDraft(sku=f"JKT-{tag}-M", parent_id=made.listing_id, options={"Size": "M"},
                           regular_price=Decimal("85.00"), sale_price=Decimal("79.50"), status=ListingStatus.PRIVATE)]
    created = await store.write_catalog(made.listing_id, drafts, [])
    small, medium = (await store.list_option_listings(made.listing_id)).listings
    repriced = drafts[1].model_copy(update={"listing_id": medium.listing_id, "regular_price": Decimal("90.00"),
                                            "sale_price": None})
    updated = await store.write_catalog(made.listing_id, [], [repriced])
    stored_parent = (await woo.get(f"/products/{made.listing_id}")).json()

    assert made.ok and made.listing_id and not made.retryable
    assert (duplicate.ok, duplicate.listing_id, duplicate.code, duplicate.retryable) == (
        False, None, "product_invalid_sku", False)
    assert [r.ok for r in created] == [True, True] and [r.listing_id for r in created] == [
        small.listing_id, medium.listing_id]
    assert (small.sku, small.name, small.regular_price, small.sale_price, small.manages_stock, small.quantity) == (
        f"JKT-{tag}-S", "Rain Jacket - S", Decimal("80.00"), None, True, None)
    assert (medium.sale_price, medium.status) == (Decimal("79.50"), ListingStatus.PRIVATE)
    assert updated == [PushResult(sku=f"JKT-{tag}-M", ok=True, listing_id=medium.listing_id)]
    now = await store.find_listing(f"JKT-{tag}-M")
    assert (now.regular_price, now.sale_price, now.parent_id) == (Decimal("90.00"), None, made.listing_id)
    assert (stored_parent["type"], stored_parent["name"], stored_parent["regular_price"]) == (
        "variable", "Rain Jacket", "")
    assert stored_parent["attributes"][0] | {"id": 0} == {"id": 0, "name": "Size", "slug": "Size", "position": 0,
                                                         "visible": True, "variation": True, "options": ["S", "M"]}
    assert stored_parent["variations"] == [int(small.listing_id), int(medium.listing_id)]


async def test_write_catalog_refuses_mismatched_drafts_before_sending(store):
    with pytest.raises(ValueError, match="parent_id"):
        await store.write_catalog("12", [ListingDraft(sku="A", parent_id="13")], [])
    with pytest.raises(ValueError, match="listing_id"):
        await store.write_catalog(None, [], [ListingDraft(sku="A")])
    assert await store.write_catalog(None, [], []) == []


def test_item_errors_are_retryable_only_when_transient():
    def result(code: str, data) -> PushResult:
        return item_result("SKU", "7", {"id": 7, "error": {"code": code, "message": "m", "data": data}})

    assert result("db_update_error", {"status": 500}).retryable
    assert result("some_host_limit", {"status": 429}).retryable
    assert result("woocommerce_rest_cannot_delete", 503).retryable  # a bare int as data
    assert not result("woocommerce_rest_product_invalid_id", {"status": 400}).retryable
    assert not result("product_invalid_sku", {"status": 400, "resource_id": 3}).retryable


def test_a_catalogue_write_sends_a_description_only_when_the_draft_carries_one():
    store_owned = ListingDraft(sku="TEE", name="Tee", regular_price=Decimal("20"))
    from_erp = store_owned.model_copy(update={"description": "Organic cotton"})

    assert "description" not in draft_body(store_owned) and "images" not in draft_body(store_owned)
    assert draft_body(from_erp)["description"] == "Organic cotton"


async def test_write_catalog_never_sends_an_option_through_a_listing_that_is_not_its_parent():
    """WooCommerce 7.9 moves a variation written through another variable product to it, silently."""
    async with run_woocommerce_sandbox(SandboxConfig(generation=7)) as old_store:
        woo = WooSandbox(old_store)
        async with woo.client() as http, WooCommerceClient(
                settings(old_store.home_url, woo.consumer_key, woo.consumer_secret)) as store:  # fmt: skip
            parent, (red, blue) = await _variable_product(http)
            other, _ = await _variable_product(http)
            written = await store.write_catalog(str(other["id"]), [], [
                ListingDraft(sku=red["sku"], listing_id=str(red["id"]), parent_id=str(other["id"]),
                             regular_price=Decimal("1.00"))])
            reread = (await http.get(f"/products/{parent['id']}/variations/{red['id']}")).json()

    assert [(r.sku, r.ok, r.code, r.retryable) for r in written] == [
        (red["sku"], False, "option_of_another_listing", False)]
    assert (reread["id"], reread["regular_price"]) == (red["id"], red["regular_price"])  # still the parent's


async def test_write_catalog_names_the_trashed_product_holding_a_sku_and_writes_the_rest(woo, store):
    """WooCommerce 10 refuses to create a product whose SKU a product in its trash holds (7.9 frees it)."""
    trashed, _ = await _new_products(woo, 2)
    await woo.delete(f"/products/{trashed['id']}")
    parent, (red, _) = await _variable_product(woo)
    await woo.delete(f"/products/{parent['id']}")  # its options go to the trash with it
    fresh = f"FRESH-{_tag()}"

    held, made = await store.write_catalog(None, [ListingDraft(sku=trashed["sku"], name="Back again"),
                                                  ListingDraft(sku=fresh, name="New", variable=True,
                                                               option_values={"Colour": ["Red"]})], [])  # fmt: skip
    (option,) = await store.write_catalog(made.listing_id, [ListingDraft(
        sku=red["sku"], parent_id=made.listing_id, options={"Colour": "Red"}, regular_price=Decimal("5.00"))], [])

    assert (held.sku, held.ok, held.listing_id, held.code, held.retryable) == (
        trashed["sku"], False, str(trashed["id"]), "sku_in_trash", False)
    assert held.message == (f"SKU {trashed['sku']} is held by a product in the store's trash (id {trashed['id']}): "
                            "empty the trash or restore that product")
    assert made.ok and (await store.find_listing(fresh)).listing_id == made.listing_id
    assert (option.ok, option.listing_id, option.code) == (False, str(red["id"]), "sku_in_trash")
    assert option.message == (f"SKU {red['sku']} is held by an option (id {red['id']}) of product {parent['id']} "
                              f"in the store's trash: empty the trash or restore product {parent['id']}")
