"""The WooCommerce sandbox over real HTTP: the behaviours of the contract note our adapter relies on."""
import asyncio
import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from sandbox.woocommerce import SandboxConfig, run_woocommerce_sandbox
from embedded.processes import free_port
from tests.plugins.woocommerce import WooOAuth


async def _product(woo, sku: str) -> dict:
    (product,) = (await woo.get("/products", params={"sku": sku})).json()
    return product


async def _new_order(woo, **extra) -> dict:
    tee = await _product(woo, "TEE-CLASSIC")
    response = await woo.post("/orders", json={"line_items": [{"product_id": tee["id"], "quantity": 1}], **extra})
    assert response.status_code == 201, response.text
    return response.json()


# Authentication


async def test_basic_auth_works_when_the_home_url_is_https():
    port = free_port()
    config = SandboxConfig(port=port, home_url="https://127.0.0.1:{port}")
    async with run_woocommerce_sandbox(config) as store:
        key, secret = config.api_keys[0].consumer_key, config.api_keys[0].consumer_secret
        async with httpx.AsyncClient(base_url=f"{store.url}/wp-json/wc/v3") as client:
            assert (await client.get("/orders", auth=(key, secret))).status_code == 200
            by_query = await client.get("/orders", params={"consumer_key": key, "consumer_secret": secret})
            assert by_query.status_code == 200
            wrong = await client.get("/orders", auth=(key, "cs_wrong"))
    assert wrong.status_code == 401
    assert wrong.json() == {"code": "woocommerce_rest_authentication_error", "message": "Consumer secret is invalid.",
                            "data": {"status": 401}}
    assert wrong.headers["WWW-Authenticate"].startswith('Basic realm="WooCommerce API.')


async def test_basic_and_query_credentials_are_ignored_over_http(woo_sandbox):
    async with httpx.AsyncClient(base_url=woo_sandbox.api_url) as client:
        basic = await client.get("/orders", auth=(woo_sandbox.consumer_key, woo_sandbox.consumer_secret))
        query = await client.get("/orders", params={"consumer_key": woo_sandbox.consumer_key,
                                                    "consumer_secret": woo_sandbox.consumer_secret})
    for response in (basic, query):
        assert response.status_code == 401
        assert response.json() == {"code": "woocommerce_rest_cannot_view",
                                   "message": "Sorry, you cannot list resources.", "data": {"status": 401}}
        assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("method,in_header", [("HMAC-SHA1", False), ("HMAC-SHA256", True)])
async def test_oauth_signed_against_the_home_url_is_accepted(woo_sandbox, method, in_header):
    async with woo_sandbox.client(method=method, in_header=in_header) as client:
        response = await client.get("/products", params={"per_page": 5, "status": "publish"})
    assert response.status_code == 200
    skus = {p["sku"] for p in response.json()}
    assert {"TEE-CLASSIC", "HOODIE"} <= skus and "HOODIE-S" not in skus  # variations are not listed


async def test_oauth_refusals_have_the_exact_woocommerce_bodies(woo_sandbox):
    other_host = WooOAuth(woo_sandbox.consumer_key, woo_sandbox.consumer_secret,
                          woo_sandbox.home_url.replace("127.0.0.1", "localhost"))
    replayed = woo_sandbox.auth(nonce="same-nonce-twice")
    async with httpx.AsyncClient(base_url=woo_sandbox.api_url) as client:
        bad_signature = await client.get("/orders", auth=other_host)
        first = await client.get("/orders", auth=replayed)
        replay = await client.get("/orders", auth=replayed)
        unknown = await client.get("/orders", auth=WooOAuth("ck_unknown", "cs", woo_sandbox.home_url))
        partial = await client.get("/orders", params={"oauth_consumer_key": woo_sandbox.consumer_key})

    def error(message):
        return {"code": "woocommerce_rest_authentication_error", "message": message, "data": {"status": 401}}

    assert (bad_signature.status_code, bad_signature.json()) == (
        401, error("Invalid signature - provided signature does not match."))
    assert first.status_code == 200
    assert (replay.status_code, replay.json()) == (401, error("Invalid nonce - nonce has already been used."))
    assert unknown.json() == error("Consumer key is invalid.")
    assert partial.json()["code"] == "woocommerce_rest_authentication_missing_parameter"
    assert partial.json()["message"] == ("Missing OAuth parameters oauth_timestamp, oauth_nonce, oauth_signature, "
                                         "oauth_signature_method")


async def test_a_read_only_key_cannot_write(woo_sandbox):
    auth = WooOAuth(woo_sandbox.read_only_key, woo_sandbox.read_only_secret, woo_sandbox.home_url)
    async with httpx.AsyncClient(base_url=woo_sandbox.api_url, auth=auth) as client:
        read = await client.get("/orders")
        write = await client.post("/orders", json={"status": "pending"})
    assert read.status_code == 200
    assert write.status_code == 401
    assert write.content == (b'{"code":"woocommerce_rest_authentication_error","message":"The API key provided does '
                             b'not have write permissions.","data":{"status":401}}')


# Orders: listing


async def test_pagination_headers_and_links_echo_the_callers_query(woo_sandbox, woo):
    for _ in range(3):
        await _new_order(woo)
    total = int((await woo.get("/orders")).headers["X-WP-Total"])
    first = await woo.get("/orders", params={"per_page": 2, "orderby": "id", "order": "asc"})
    assert first.headers["X-WP-Total"] == str(total)
    assert first.headers["X-WP-TotalPages"] == str(-(-total // 2))
    next_link = first.headers["Link"]
    assert next_link.startswith(f"<{woo_sandbox.home_url}/wp-json/wc/v3/orders?per_page=2&orderby=id&order=asc")
    assert 'rel="next"' in next_link and 'rel="prev"' not in next_link
    assert f"oauth_consumer_key={woo_sandbox.consumer_key}" in next_link and "oauth_signature=" in next_link
    second = await woo.get("/orders", params={"per_page": 2, "page": 2, "orderby": "id", "order": "asc"})
    assert 'rel="prev"' in second.headers["Link"]
    assert max(o["id"] for o in first.json()) < min(o["id"] for o in second.json())
    past_end = await woo.get("/orders", params={"per_page": 2, "page": 999})
    assert past_end.json() == [] and past_end.headers["X-WP-Total"] == str(total)


async def test_per_page_over_100_is_an_invalid_param(woo):
    response = await woo.get("/orders", params={"per_page": 101})
    assert response.status_code == 400
    assert response.json() == {"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page", "data": {
        "status": 400, "params": {"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"},
        "details": {"per_page": {"code": "rest_out_of_bounds", "data": None,
                                 "message": "per_page must be between 1 (inclusive) and 100 (inclusive)"}}}}


async def test_modified_after_without_gmt_flag_is_read_in_the_store_timezone(woo):
    order = await _new_order(woo)
    modified_gmt = datetime.fromisoformat(order["date_modified_gmt"])
    later_in_utc = (modified_gmt + timedelta(minutes=30)).isoformat()
    params = {"include": order["id"]}

    async def ids(**query):
        return [o["id"] for o in (await woo.get("/orders", params={**params, **query})).json()]

    assert await ids(modified_after=later_in_utc) == [order["id"]]  # Paris wall time is ahead of UTC: pitfall
    assert await ids(modified_after=later_in_utc, dates_are_gmt="true") == []
    assert await ids(modified_after=later_in_utc + "Z") == []
    bad = await woo.get("/orders", params={"modified_after": "yesterday"})
    assert bad.json()["data"]["params"] == {"modified_after": "Invalid date."}


# Orders: writing


async def test_unknown_order_is_404_on_get_and_400_on_put(woo):
    got = await woo.get("/orders/999999")
    put = await woo.put("/orders/999999", json={"status": "completed"})
    assert (got.status_code, got.json()["code"]) == (404, "woocommerce_rest_shop_order_invalid_id")
    assert put.status_code == 400
    assert put.json() == {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                          "data": {"status": 400}}


async def test_order_totals_with_variation_coupon_fee_shipping_and_two_tax_rates(woo):
    hoodie = await _product(woo, "HOODIE-M")
    response = await woo.post("/orders", json={
        "line_items": [{"product_id": hoodie["parent_id"], "variation_id": hoodie["id"], "quantity": 2},
                       {"sku": "BOOK-COFFEE", "quantity": 1}],
        "coupon_lines": [{"code": "WELCOME10"}],
        "fee_lines": [{"name": "Gift wrap", "total": "5.00"}],
        "shipping_lines": [{"method_id": "flat_rate", "method_title": "Flat rate", "total": "10.00"}],
        "billing": {"first_name": "Ada", "email": "ada@example.com"},
    })
    assert response.status_code == 201
    order = response.json()
    assert response.headers["Location"].endswith(f"/wp-json/wc/v3/orders/{order['id']}")
    hoodie_line, book_line = order["line_items"]
    assert (hoodie_line["product_id"], hoodie_line["variation_id"], hoodie_line["sku"]) == (
        hoodie["parent_id"], hoodie["id"], "HOODIE-M")
    assert (hoodie_line["subtotal"], hoodie_line["total"], hoodie_line["total_tax"]) == ("90.00", "81.00", "16.20")
    assert hoodie_line["price"] == 40.5 and isinstance(book_line["price"], int) and book_line["price"] == 27
    assert (book_line["total"], book_line["total_tax"], book_line["taxes"][0]["id"]) == ("27.00", "1.49", 2)
    assert {k: order[k] for k in ("discount_total", "discount_tax", "shipping_total", "shipping_tax", "cart_tax",
                                  "total_tax", "total")} == {
        "discount_total": "12.00", "discount_tax": "1.96", "shipping_total": "10.00", "shipping_tax": "2.00",
        "cart_tax": "18.69", "total_tax": "20.69", "total": "143.69"}
    assert [(t["rate_id"], t["rate_percent"], t["tax_total"], t["shipping_tax_total"]) for t in order["tax_lines"]] == [
        (1, 20.0, "17.20", "2.00"), (2, 5.5, "1.49", "0.00")]
    assert order["coupon_lines"][0]["code"] == "welcome10" and order["coupon_lines"][0]["discount"] == "12.00"
    assert order["status"] == "pending" and order["date_paid_gmt"] is None and order["customer_id"] == 0


async def test_paying_reduces_stock_with_a_note_and_cancelling_restores_it(woo):
    mug = await _product(woo, "MUG-CERAMIC")
    before = mug["stock_quantity"]
    order = await _new_order(woo, line_items=[{"product_id": mug["id"], "quantity": 3}])
    assert (await _product(woo, "MUG-CERAMIC"))["stock_quantity"] == before  # pending: untouched
    paid = (await woo.put(f"/orders/{order['id']}", json={"set_paid": True, "transaction_id": "pi_1"})).json()
    assert paid["status"] == "processing" and paid["date_paid_gmt"] and paid["transaction_id"] == "pi_1"
    assert {"key": "_reduced_stock", "value": "3"}.items() <= paid["line_items"][0]["meta_data"][0].items()
    assert paid["date_modified_gmt"] >= order["date_modified_gmt"]
    assert (await _product(woo, "MUG-CERAMIC"))["stock_quantity"] == before - 3
    notes = [n["note"] for n in (await woo.get(f"/orders/{order['id']}/notes", params={"type": "internal"})).json()]
    assert f"Stock levels reduced: Ceramic Mug (MUG-CERAMIC) {before}&rarr;{before - 3}" in notes
    await woo.put(f"/orders/{order['id']}", json={"status": "cancelled"})
    assert (await _product(woo, "MUG-CERAMIC"))["stock_quantity"] == before


async def test_unknown_product_line_is_accepted_empty(woo):
    order = await _new_order(woo, line_items=[{"product_id": 987654, "quantity": 2}])
    line = order["line_items"][0]
    assert (line["product_id"], line["name"], line["total"], line["sku"]) == (0, "", "0.00", None)


async def test_meta_data_upserts_by_key(woo):
    order = await _new_order(woo, meta_data=[{"key": "_retail_sync", "value": "a"}])
    updated = (await woo.put(f"/orders/{order['id']}", json={"meta_data": [{"key": "_retail_sync", "value": "b"}]}))
    meta = updated.json()["meta_data"]
    assert [(m["key"], m["value"]) for m in meta] == [("_retail_sync", "b")]
    assert meta[0]["id"] == order["meta_data"][0]["id"]


# Products


async def test_variation_is_found_by_sku_but_only_writable_through_its_parent(woo):
    variation = await _product(woo, "HOODIE-S")
    assert variation["type"] == "variation" and variation["parent_id"]
    direct = await woo.put(f"/products/{variation['id']}", json={"stock_quantity": 5})
    assert (direct.status_code, direct.json()["code"]) == (404, "woocommerce_rest_invalid_product_id")
    nested = await woo.put(f"/products/{variation['parent_id']}/variations/{variation['id']}",
                           json={"stock_quantity": "13"})
    assert nested.status_code == 200 and nested.json()["stock_quantity"] == 13
    duplicate = await woo.post("/products", json={"name": "Copy", "sku": "HOODIE-S"})
    assert duplicate.status_code == 400 and duplicate.json()["code"] == "product_invalid_sku"
    assert duplicate.json()["data"]["resource_id"] == variation["id"]


# Webhooks


async def _subscribe(woo, receiver, topic: str, secret: str = "s3cr3t&<x>") -> dict:
    response = await woo.post("/webhooks", json={"name": topic, "topic": topic, "delivery_url": receiver.url,
                                                 "secret": secret})
    assert response.status_code == 201
    assert "secret" not in response.json()
    return response.json()


async def test_ping_is_unsigned_form_and_deliveries_are_signed_on_raw_bytes(woo_sandbox, woo, webhook_receiver):
    secret = "s3cr3t&<x>"
    webhook = await _subscribe(woo, webhook_receiver, "order.created", secret)
    (ping,) = await webhook_receiver.wait_for(1)
    assert parse_qs(ping["body"].decode()) == {"webhook_id": [str(webhook["id"])]}
    assert ping["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert not [h for h in ping["headers"] if h.startswith("x-wc-")]

    order = await _new_order(woo)
    await woo.post(f"/orders/{order['id']}/notes", json={"note": "no webhook for me"})
    delivery = (await webhook_receiver.wait_for(2))[1]
    headers, body = delivery["headers"], delivery["body"]
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(headers["x-wc-webhook-signature"], expected)
    assert b"\\/" in body  # escaped slashes: only the raw bytes verify
    assert headers["x-wc-webhook-source"] == woo_sandbox.home_url + "/"
    assert (headers["x-wc-webhook-topic"], headers["x-wc-webhook-resource"], headers["x-wc-webhook-event"]) == (
        "order.created", "order", "created")
    assert headers["x-wc-webhook-id"] == str(webhook["id"]) and headers["x-wc-webhook-delivery-id"]
    assert headers["user-agent"].startswith("WooCommerce/") and "Hookshot (WordPress/" in headers["user-agent"]
    assert json.loads(body)["id"] == order["id"]
    await asyncio.sleep(0.4)
    assert len(webhook_receiver.received) == 2  # the note fired nothing
    await woo.delete(f"/webhooks/{webhook['id']}", params={"force": "true"})


async def test_payload_is_built_at_delivery_time_and_bursts_coalesce(woo, webhook_receiver):
    webhook = await _subscribe(woo, webhook_receiver, "order.updated")
    await webhook_receiver.wait_for(1)
    order = await _new_order(woo)
    await woo.put(f"/orders/{order['id']}", json={"status": "on-hold"})
    await woo.put(f"/orders/{order['id']}", json={"status": "completed"})
    await webhook_receiver.wait_for(2)
    await asyncio.sleep(0.4)
    deliveries = webhook_receiver.received[1:]
    assert len(deliveries) == 1  # create + two updates within the delay: one job for (webhook, order)
    assert json.loads(deliveries[0]["body"])["status"] == "completed"
    await woo.delete(f"/webhooks/{webhook['id']}", params={"force": "true"})


async def test_seventh_consecutive_failure_disables_the_webhook(woo_sandbox, woo, webhook_receiver):
    webhook_receiver.status = 500
    webhook = await _subscribe(woo, webhook_receiver, "order.created")
    await webhook_receiver.wait_for(1)
    for expected_deliveries in range(1, 8):
        await _new_order(woo)
        await webhook_receiver.wait_for(1 + expected_deliveries)
        await asyncio.sleep(0.05)
        status = (await woo.get(f"/webhooks/{webhook['id']}")).json()["status"]
        assert status == ("disabled" if expected_deliveries == 7 else "active")
    await _new_order(woo)
    await asyncio.sleep(0.4)
    assert len(webhook_receiver.received) == 8  # ping + 7 failures; nothing for a disabled webhook
    async with httpx.AsyncClient(base_url=woo_sandbox.url) as control:
        log = (await control.get("/__sandbox/webhook-deliveries")).json()
    last = [entry for entry in log if entry["webhook_id"] == webhook["id"]][-1]
    assert (last["status_code"], last["failure_count"], last["webhook_status"]) == (500, 6, "disabled")
    await woo.delete(f"/webhooks/{webhook['id']}", params={"force": "true"})


# Host behaviour


async def test_host_faults_answer_before_wordpress(woo_sandbox, woo):
    async with httpx.AsyncClient(base_url=woo_sandbox.url) as control:
        await control.post("/__sandbox/faults", json={"status": 429, "retry_after": "2", "count": 1,
                                                      "path_prefix": "/wp-json/wc/v3/orders"})
        limited = await woo.get("/orders")
        after = await woo.get("/orders")
        await control.delete("/__sandbox/faults")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    assert after.status_code == 200


async def test_store_keeps_its_orders_and_ids_across_a_restart(tmp_path):
    from sandbox.woocommerce.config import DEMO_KEY, SandboxConfig
    from sandbox.woocommerce.server import run_woocommerce_sandbox
    from sandbox.woocommerce.shopper import Shopper

    config = SandboxConfig(state_file=tmp_path / "store.pickle", webhook_delay_s=0)
    async with run_woocommerce_sandbox(config) as first:
        shopper = Shopper(first.url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
        placed = await shopper.place_order([("MUG-CERAMIC", 1)], paid=True)
        await shopper.aclose()
    async with run_woocommerce_sandbox(config) as second:
        shopper = Shopper(second.url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
        kept = await shopper.get_order(placed["id"])
        later = await shopper.place_order([("MUG-CERAMIC", 1)], paid=True)
        await shopper.aclose()
    assert kept["status"] == "processing" and kept["total"] == placed["total"]
    assert later["id"] > placed["id"]


# Refunds


async def _paid_order(woo, lines: list[tuple[str, int]], method: str = "stripe") -> dict:
    items = [{"product_id": (await _product(woo, sku))["id"], "quantity": quantity} for sku, quantity in lines]
    return await _new_order(woo, line_items=items, payment_method=method, set_paid=True, shipping_lines=[
        {"method_id": "flat_rate", "method_title": "Flat rate", "total": "10.00"}])


async def _refund(woo, order: dict, **body) -> httpx.Response:
    return await woo.post(f"/orders/{order['id']}/refunds", json=body)


def _one_tee(order: dict, quantity: int = 1, **extra) -> dict:
    line = order["line_items"][0]
    return {"id": line["id"], "quantity": quantity, "refund_total": "20.00",
            "refund_tax": [{"id": line["taxes"][0]["id"], "refund_total": "4.00"}], **extra}


async def _stock(woo, sku: str) -> int:
    return (await _product(woo, sku))["stock_quantity"]


async def test_partial_refund_names_items_and_tax_rates_and_shows_negatives(woo):
    order = await _paid_order(woo, [("TEE-CLASSIC", 2)])
    assert order["total"] == "60.00"
    shipping = order["shipping_lines"][0]

    response = await _refund(woo, order, reason="RMA-17", line_items=[
        _one_tee(order), {"id": shipping["id"], "refund_total": "10.00",
                          "refund_tax": [{"id": 1, "refund_total": "2.00"}]}],
        meta_data=[{"key": "_retail_sync_refund_key", "value": "shop:1:refund:RMA-17"}])

    assert response.status_code == 201, response.text
    refund = response.json()
    assert response.headers["Location"].endswith(f"/orders/{order['id']}/refunds/{refund['id']}")
    assert (refund["amount"], refund["reason"], refund["refunded_payment"], refund["refunded_by"]) == (
        "36.00", "RMA-17", True, 1)
    (line,) = refund["line_items"]
    assert (line["quantity"], line["total"], line["total_tax"], line["taxes"]) == (
        -1, "-20.00", "-4.00", [{"id": 1, "total": "-4", "subtotal": "-4"}])
    assert {"key": "_refunded_item_id", "value": str(order["line_items"][0]["id"])}.items() <= \
        line["meta_data"][0].items()
    assert refund["shipping_lines"][0]["total"] == "-10.00"
    assert [(t["rate_id"], t["tax_total"], t["shipping_tax_total"]) for t in refund["tax_lines"]] == [
        (1, "-4.00", "-2.00")]
    assert [(m["key"], m["value"]) for m in refund["meta_data"]] == [
        ("_retail_sync_refund_key", "shop:1:refund:RMA-17")]
    after = (await woo.get(f"/orders/{order['id']}")).json()
    assert after["status"] == "processing" and after["total"] == "60.00"
    assert after["refunds"] == [{"id": refund["id"], "reason": "RMA-17", "total": "-36.00"}]
    listed = (await woo.get(f"/orders/{order['id']}/refunds", params={"context": "edit"})).json()
    single = (await woo.get(f"/orders/{order['id']}/refunds/{refund['id']}")).json()
    assert listed == [refund] and single == refund


async def test_refund_errors_are_http_500_with_a_bare_int_as_data(woo):
    order = await _paid_order(woo, [("TEE-CLASSIC", 2)])
    assert (await _refund(woo, order, amount="24.00", line_items=[_one_tee(order)])).status_code == 201

    over = await _refund(woo, order, amount="36.01", api_refund=False)
    negative = await _refund(woo, order, amount="-1.00")
    unknown = await woo.post("/orders/999999/refunds", json={"amount": "1.00"})
    elsewhere = await woo.get(f"/orders/{order['id'] + 1000000}/refunds/1")

    assert over.status_code == 500 and over.json() == {
        "code": "woocommerce_rest_cannot_create_order_refund", "message": "Invalid refund amount.", "data": 500}
    assert negative.status_code == 500 and negative.json() == {
        "code": "woocommerce_rest_invalid_order_refund", "message": "Refund amount must be greater than zero.",
        "data": 400}
    assert unknown.status_code == 500 and unknown.json() == {
        "code": "woocommerce_rest_invalid_order_id", "message": "Invalid order ID.", "data": 404}
    assert elsewhere.status_code == 404
    assert len((await woo.get(f"/orders/{order['id']}")).json()["refunds"]) == 1
    exact = await _refund(woo, order, amount="36.00", api_refund=False)
    assert exact.status_code == 201


async def test_gateways_without_refunds_or_refusing_keep_no_refund(woo_sandbox, woo):
    bank = await _paid_order(woo, [("TEE-CLASSIC", 1)], method="bacs")
    refused = await _refund(woo, bank, amount="5.00")
    assert refused.status_code == 500 and refused.json() == {
        "code": "woocommerce_rest_cannot_create_order_refund",
        "message": "The payment gateway for this order does not support automatic refunds.", "data": 500}
    recorded = await _refund(woo, bank, amount="5.00", api_refund=False)
    assert recorded.status_code == 201 and recorded.json()["refunded_payment"] is False

    card = await _paid_order(woo, [("TEE-CLASSIC", 1)])
    async with httpx.AsyncClient(base_url=woo_sandbox.url) as control:
        await control.post("/__sandbox/gateway", json={"method": "stripe", "refuse": "Card issuer declined the refund"})
        try:
            declined = await _refund(woo, card, amount="5.00", line_items=[_one_tee(card)])
        finally:
            await control.delete("/__sandbox/gateway")
    assert declined.status_code == 500 and declined.json() == {
        "code": "woocommerce_rest_cannot_create_order_refund", "message": "Card issuer declined the refund",
        "data": 500}
    assert (await woo.get(f"/orders/{card['id']}/refunds")).json() == []
    assert (await woo.get(f"/orders/{card['id']}")).json()["refunds"] == []
    assert (await _refund(woo, card, amount="5.00")).status_code == 201


async def test_refunds_restock_reduced_lines_unless_api_restock_is_false(woo):
    before = await _stock(woo, "MUG-CERAMIC")
    order = await _paid_order(woo, [("MUG-CERAMIC", 3)])
    mug = order["line_items"][0]
    assert await _stock(woo, "MUG-CERAMIC") == before - 3

    line = {"id": mug["id"], "quantity": 1, "refund_total": "12.50"}
    assert (await _refund(woo, order, line_items=[line])).status_code == 201  # api_restock defaults to true
    assert await _stock(woo, "MUG-CERAMIC") == before - 2
    notes = [n["note"] for n in (await woo.get(f"/orders/{order['id']}/notes")).json()]
    assert f"Item #{mug['product_id']} stock increased from {before - 3} to {before - 2}." in notes
    assert (await _refund(woo, order, line_items=[line], api_restock=False)).status_code == 201
    assert await _stock(woo, "MUG-CERAMIC") == before - 2
    line_meta = (await woo.get(f"/orders/{order['id']}")).json()["line_items"][0]["meta_data"]
    meta = {m["key"]: m["value"] for m in line_meta}
    assert (meta["_reduced_stock"], meta["_restock_refunded_items"]) == ("2", "1")

    unpaid = await _new_order(woo, line_items=[{"product_id": mug["product_id"], "quantity": 1}])
    assert (await _refund(woo, unpaid, api_refund=False, line_items=[line | {"id": unpaid["line_items"][0]["id"]}])
            ).status_code == 201
    assert await _stock(woo, "MUG-CERAMIC") == before - 2  # never reduced, so nothing to put back


async def test_refunding_the_rest_marks_the_order_refunded_and_fires_order_updated(woo, webhook_receiver):
    webhook = await _subscribe(woo, webhook_receiver, "order.updated")
    await webhook_receiver.wait_for(1)
    order = await _paid_order(woo, [("TEE-CLASSIC", 1)])
    await webhook_receiver.wait_for(2)
    await asyncio.sleep(0.3)
    seen = len(webhook_receiver.received)

    assert (await _refund(woo, order, amount="10.00")).status_code == 201
    assert (await _refund(woo, order, amount="26.00")).status_code == 201

    after = (await woo.get(f"/orders/{order['id']}")).json()
    assert (after["status"], after["total"]) == ("refunded", "36.00")
    assert [r["total"] for r in after["refunds"]] == ["-26.00", "-10.00"]
    delivered = json.loads((await webhook_receiver.wait_for(seen + 1))[seen]["body"])
    assert delivered["id"] == order["id"] and delivered["status"] == "refunded"
    await woo.delete(f"/webhooks/{webhook['id']}", params={"force": "true"})


async def test_setting_status_refunded_records_a_refund_without_the_gateway(woo_sandbox, woo):
    order = await _paid_order(woo, [("TEE-CLASSIC", 1)])
    assert (await _refund(woo, order, amount="6.00")).status_code == 201
    async with httpx.AsyncClient(base_url=woo_sandbox.url) as control:
        await control.post("/__sandbox/gateway", json={"method": "stripe", "refuse": "would have been called"})
        try:
            updated = (await woo.put(f"/orders/{order['id']}", json={"status": "refunded"})).json()
        finally:
            await control.delete("/__sandbox/gateway")
    assert updated["status"] == "refunded"
    assert [(r["reason"], r["total"]) for r in updated["refunds"]] == [("Order fully refunded.", "-30.00"),
                                                                        ("", "-6.00")]
    newest = (await woo.get(f"/orders/{order['id']}/refunds")).json()[0]
    assert newest["refunded_payment"] is False and newest["line_items"] == []
    notes = [n["note"] for n in (await woo.get(f"/orders/{order['id']}/notes")).json()]
    assert any(n.startswith("Order status set to refunded. To return funds") for n in notes)


async def test_a_dropped_response_still_commits_the_refund(woo_sandbox, woo):
    order = await _paid_order(woo, [("TEE-CLASSIC", 1)])
    async with httpx.AsyncClient(base_url=woo_sandbox.url) as control:
        await control.post("/__sandbox/faults", json={
            "drop_response_after_commit": True, "path_prefix": f"/wp-json/wc/v3/orders/{order['id']}/refunds",
            "method": "POST", "count": 1})
        with pytest.raises(httpx.TransportError):
            await _refund(woo, order, amount="5.00", meta_data=[{"key": "_retail_sync_refund_key", "value": "k1"}])
        await control.delete("/__sandbox/faults")
    (kept,) = (await woo.get(f"/orders/{order['id']}/refunds", params={"context": "edit"})).json()
    assert kept["amount"] == "5.00" and kept["meta_data"][0]["value"] == "k1"


async def test_refunds_are_deleted_only_with_force(woo):
    order = await _paid_order(woo, [("TEE-CLASSIC", 1)])
    refund = (await _refund(woo, order, amount="5.00")).json()
    path = f"/orders/{order['id']}/refunds/{refund['id']}"
    trash = await woo.delete(path)
    assert (trash.status_code, trash.json()["code"]) == (501, "woocommerce_rest_trash_not_supported")
    assert (await woo.delete(path, params={"force": "true"})).json()["id"] == refund["id"]
    missing = await woo.get(path)
    assert (missing.status_code, missing.json()["code"]) == (404, "woocommerce_rest_shop_order_refund_invalid_id")
    assert (await woo.get(f"/orders/{order['id']}")).json()["refunds"] == []


@pytest.fixture
async def control(woo_sandbox):
    """The sandbox's controls; faults and gateway settings are lifted after the test."""
    async with httpx.AsyncClient(base_url=woo_sandbox.url) as client:
        yield client
        await client.delete("/__sandbox/faults")
        await client.delete("/__sandbox/gateway")


async def _refunds(woo, order: dict) -> list[dict]:
    return (await woo.get(f"/orders/{order['id']}/refunds", params={"context": "edit"})).json()


async def _gateway_calls(control, order: dict) -> list[dict]:
    return [call for call in (await control.get("/__sandbox/gateway-refunds")).json() if call["order_id"] == order["id"]]


KEY_META = [{"key": "_retail_sync_refund_key", "value": "k-slow"}]


async def test_a_refund_is_saved_with_its_reason_before_a_slow_gateway_and_gets_its_meta_after(woo, control):
    order = await _paid_order(woo, [("TEE-CLASSIC", 1)])
    await control.post("/__sandbox/gateway", json={"method": "stripe", "delay_s": 1.0})

    posting = asyncio.create_task(_refund(woo, order, reason="RMA-9", line_items=[_one_tee(order)],
                                          meta_data=KEY_META))
    (during,) = await _eventually_listed(woo, order)
    created = await posting

    assert (during["reason"], during["refunded_payment"], during["meta_data"]) == ("RMA-9", False, [])
    assert created.status_code == 201 and created.json()["refunded_payment"] is True
    (after,) = await _refunds(woo, order)
    assert [(m["key"], m["value"]) for m in after["meta_data"]] == [("_retail_sync_refund_key", "k-slow")]
    assert [(c["amount"], c["reason"], c["refused"]) for c in await _gateway_calls(control, order)] == [
        ("24.00", "RMA-9", None)]


async def _eventually_listed(woo, order: dict) -> list[dict]:
    for _ in range(100):
        if listed := await _refunds(woo, order):
            return listed
        await asyncio.sleep(0.02)
    raise AssertionError("the refund never showed while the gateway worked")


async def test_a_slow_gateway_that_refuses_leaves_no_refund(woo, control):
    order = await _paid_order(woo, [("TEE-CLASSIC", 1)])
    await control.post("/__sandbox/gateway", json={"method": "stripe", "delay_s": 0.5, "refuse": "Card expired"})

    posting = asyncio.create_task(_refund(woo, order, reason="RMA-10", amount="5.00"))
    await _eventually_listed(woo, order)
    refused = await posting

    assert (refused.status_code, refused.json()["message"]) == (500, "Card expired")
    assert await _refunds(woo, order) == []
    assert [c["refused"] for c in await _gateway_calls(control, order)] == ["Card expired"]


async def test_php_dying_before_the_meta_save_leaves_a_paid_refund_without_our_meta(woo, control, webhook_receiver):
    order = await _paid_order(woo, [("TEE-CLASSIC", 1)])
    webhook = (await woo.post("/webhooks", json={"name": "u", "topic": "order.updated",
                                                 "delivery_url": webhook_receiver.url, "secret": "s"})).json()
    await control.post("/__sandbox/faults", json={
        "die_before": "refund_meta", "method": "POST", "count": 1,
        "path_prefix": f"/wp-json/wc/v3/orders/{order['id']}/refunds"})  # fmt: skip
    stock = await _stock(woo, "TEE-CLASSIC")

    died = await _refund(woo, order, reason="RMA-11", line_items=[_one_tee(order)], meta_data=KEY_META)

    assert died.status_code == 500 and "critical error" in died.text
    (kept,) = await _refunds(woo, order)
    assert (kept["reason"], kept["refunded_payment"], kept["meta_data"]) == ("RMA-11", True, [])
    assert await _stock(woo, "TEE-CLASSIC") == stock + 1  # wc_create_refund finished: restocked
    assert len(await _gateway_calls(control, order)) == 1
    delivered = json.loads((await webhook_receiver.wait_for(2))[-1]["body"])  # the ping, then order.updated
    assert [r["id"] for r in delivered["refunds"]] == [kept["id"]]
    await woo.delete(f"/webhooks/{webhook['id']}", params={"force": "true"})


async def test_the_host_answers_504_while_php_goes_on_and_finishes_the_refund(woo, control):
    order = await _paid_order(woo, [("TEE-CLASSIC", 1)])
    await control.post("/__sandbox/gateway", json={"method": "stripe", "delay_s": 0.6})
    await control.post("/__sandbox/faults", json={
        "host_timeout_s": 0.1, "method": "POST", "count": 1,
        "path_prefix": f"/wp-json/wc/v3/orders/{order['id']}/refunds"})  # fmt: skip

    timed_out = await _refund(woo, order, reason="RMA-12", amount="5.00", meta_data=KEY_META)

    assert timed_out.status_code == 504
    (working,) = await _refunds(woo, order)
    assert (working["refunded_payment"], working["meta_data"]) == (False, [])
    await asyncio.sleep(0.8)
    (done,) = await _refunds(woo, order)
    assert done["refunded_payment"] is True and done["meta_data"][0]["value"] == "k-slow"
