"""WooCommerceClient against the real local WooCommerce sandbox over HTTP."""
import asyncio
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from adapters.errors import BusinessError, NonRetryableError, RetryableError
from adapters.rate_budget import RateBudget
from adapters.woocommerce import REFUND_KEY_META, WooCommerceClient
from canonical import Money, Order, OrderStatus, TaxAmount
from canonical.keys import refund_key
from canonical.returns import RefundLine, RefundRequest
from config import StoreSettings
from sandbox.woocommerce import SandboxConfig, run_woocommerce_sandbox
from sandbox.woocommerce.shopper import Shopper


def settings(url: str, key: str, secret: str, **overrides) -> StoreSettings:
    return StoreSettings(
        id="sandbox",
        url=url,
        consumer_key=SecretStr(key),
        consumer_secret=SecretStr(secret),
        webhook_secret=SecretStr("sandbox-webhook-secret"),
        **{"requests_per_second": 50, "burst": 10, "timeout_s": 10, **overrides},
    )


@pytest.fixture
async def store(woo_sandbox):
    async with WooCommerceClient(
        settings(woo_sandbox.home_url, woo_sandbox.consumer_key, woo_sandbox.consumer_secret)
    ) as client:
        yield client


@pytest.fixture
async def shopper(woo_sandbox):
    shopper = Shopper(woo_sandbox.home_url, woo_sandbox.consumer_key, woo_sandbox.consumer_secret)
    yield shopper
    await shopper.aclose()


@pytest.fixture
async def host_faults(woo_sandbox):
    """Add host faults (429, slow responses) in front of the store; cleared after the test."""
    async with httpx.AsyncClient(base_url=woo_sandbox.url) as control:

        async def add(**fault) -> None:
            (await control.post("/__sandbox/faults", json=fault)).raise_for_status()

        yield add
        await control.delete("/__sandbox/faults")


async def test_http_store_reads_an_order_with_oauth(store, shopper):
    placed = await shopper.place_order([("HOODIE-M", 2), ("TEE-CLASSIC", 1)], paid=True)

    order = await store.get_order(str(placed["id"]))

    assert order.store_id == "sandbox" and order.order_id == str(placed["id"])
    assert order.status is OrderStatus.PAID and order.store_status == "processing"
    hoodie, tee = order.lines
    assert (hoodie.sku, hoodie.quantity, hoodie.unit_price.amount) == ("HOODIE-M", 2, Decimal("45.00"))
    assert hoodie.variation_id is not None and tee.variation_id is None
    assert hoodie.taxes[0].rate_id == "1" and hoodie.taxes[0].amount.amount == Decimal("18")
    assert order.total.amount == Decimal(placed["total"]) and order.currency == "EUR"
    assert order.customer.store_customer_id is None and order.customer.first_name == "Zoë"
    assert order.payment.paid_at is not None and order.created_at.tzinfo is UTC


async def test_signed_urls_stay_out_of_logs(woo_sandbox, store, shopper, caplog):
    await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # the CLI quiets httpx; this test needs its request lines

    await store.get_order(placed["id"])
    await store.list_orders(datetime.now(UTC) - timedelta(minutes=5), page=1, per_page=1)

    assert f"/wp-json/wc/v3/orders/{placed['id']}" in caplog.text, "httpx still logs the request"
    assert "rel=\"next\"" in caplog.text, "httpcore traced the Link header"
    assert re.findall(r"oauth_signature=[^&\s'\">]*", caplog.text) == ["oauth_signature=[redacted]"] * 3
    assert woo_sandbox.consumer_secret not in caplog.text


async def test_https_home_url_uses_basic_auth():
    """The store believes it is https (TLS ends at a proxy in front); the socket here is plain http."""
    config = SandboxConfig(home_url="https://127.0.0.1:{port}")
    async with run_woocommerce_sandbox(config) as sandbox:
        seen: list[httpx.Request] = []

        class ProxyInFront(httpx.AsyncHTTPTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                seen.append(request)
                request.url = request.url.copy_with(scheme="http")
                return await super().handle_async_request(request)

        key = sandbox.config.api_keys[0]
        store_settings = settings(sandbox.home_url, key.consumer_key, key.consumer_secret)
        async with WooCommerceClient(store_settings, transport=ProxyInFront()) as client:
            page = await client.list_orders(datetime(2000, 1, 1, tzinfo=UTC), page=1)

        assert page.total == 0 and page.items == []
        assert seen[0].headers["Authorization"].startswith("Basic ")
        assert "oauth_signature" not in str(seen[0].url)


async def test_list_orders_pages_by_id_after_a_gmt_watermark(store, shopper):
    older = await shopper.place_order([("MUG-CERAMIC", 1)], paid=True)
    await asyncio.sleep(2.1)
    watermark = datetime.now(UTC) - timedelta(seconds=1)  # WooCommerce compares whole seconds, strictly after
    placed = [await shopper.place_order([("MUG-CERAMIC", 1)], paid=True) for _ in range(3)]

    first = await store.list_orders(watermark, page=1, per_page=2)
    pages = [first] + [await store.list_orders(watermark, page=p, per_page=2) for p in range(2, first.total_pages + 1)]

    listed = [o.order_id for page in pages for o in page.items]
    assert {str(o["id"]) for o in placed} <= set(listed)
    assert str(older["id"]) not in listed, "dates_are_gmt: the store's own timezone is not UTC"
    assert listed == sorted(listed, key=int)
    assert first.total == len(listed) and first.total_pages == -(-len(listed) // 2)
    assert first.has_next and not pages[-1].has_next
    beyond = await store.list_orders(watermark, page=first.total_pages + 1, per_page=2)
    assert beyond.items == [] and beyond.total == first.total


async def test_list_orders_by_status(store, shopper):
    watermark = datetime.now(UTC) - timedelta(seconds=1)
    unpaid = await shopper.place_order([("TEE-CLASSIC", 1)], paid=False)
    paid = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)

    page = await store.list_orders(watermark, page=1, statuses=["pending"])

    ids = {o.order_id for o in page.items}
    assert str(unpaid["id"]) in ids and str(paid["id"]) not in ids
    assert all(o.status is OrderStatus.AWAITING_PAYMENT for o in page.items)


async def test_update_status(store, shopper):
    placed = await shopper.place_order([("BOOK-COFFEE", 1)], paid=True)

    updated = await store.update_order_status(placed["id"], "completed")

    assert updated.status is OrderStatus.COMPLETED and updated.store_status == "completed"
    assert updated.modified_at >= datetime.fromisoformat(placed["date_modified_gmt"]).replace(tzinfo=UTC)
    assert (await store.get_order(placed["id"])).status is OrderStatus.COMPLETED


async def test_notes(store, shopper):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)

    note = await store.add_order_note(placed["id"], "Shipped: DHL 00340434161094042557", customer_visible=True)
    internal = await store.add_order_note(placed["id"], "[retail-sync:erp:sandbox:1] SO-17", customer_visible=False)
    notes = await store.list_order_notes(placed["id"])

    assert note.customer_visible and not internal.customer_visible
    assert note.created_at.tzinfo is UTC
    by_id = {n.note_id: n for n in notes}
    assert by_id[note.note_id].text == "Shipped: DHL 00340434161094042557"
    assert by_id[internal.note_id].customer_visible is False


async def test_meta_upsert_by_key(store, shopper):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)

    assert await store.get_order_meta(placed["id"], "_retail_sync_erp_ref") is None
    await store.set_order_meta(placed["id"], "_retail_sync_erp_ref", "SO-0001")
    await store.set_order_meta(placed["id"], "_retail_sync_erp_ref", "SO-0002")

    assert await store.get_order_meta(placed["id"], "_retail_sync_erp_ref") == "SO-0002"
    raw = await shopper.get_order(placed["id"])
    assert [m["value"] for m in raw["meta_data"] if m["key"] == "_retail_sync_erp_ref"] == ["SO-0002"]


async def test_unknown_order_is_not_retryable(store):
    with pytest.raises(NonRetryableError) as read:
        await store.get_order(987654)
    with pytest.raises(NonRetryableError) as write:
        await store.update_order_status(987654, "completed")

    assert (read.value.status, read.value.code) == (404, "woocommerce_rest_shop_order_invalid_id")
    assert (write.value.status, write.value.code) == (400, "woocommerce_rest_shop_order_invalid_id")
    assert "Invalid ID." in str(read.value)


async def test_read_only_key_cannot_write(woo_sandbox, shopper):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    read_only = settings(woo_sandbox.home_url, woo_sandbox.read_only_key, woo_sandbox.read_only_secret)

    async with WooCommerceClient(read_only) as client:
        assert (await client.get_order(placed["id"])).order_id == str(placed["id"])
        with pytest.raises(NonRetryableError) as caught:
            await client.update_order_status(placed["id"], "completed")

    error = caught.value
    assert (error.status, error.code) == (401, "woocommerce_rest_authentication_error")
    assert "does not have write permissions" in str(error)
    assert woo_sandbox.read_only_secret not in str(error) and "oauth" not in str(error)


async def test_wrong_secret_is_refused(woo_sandbox):
    wrong = settings(woo_sandbox.home_url, woo_sandbox.consumer_key, "cs_wrong")

    async with WooCommerceClient(wrong) as client:
        with pytest.raises(NonRetryableError) as caught:
            await client.list_order_notes(1)

    assert (caught.value.status, caught.value.code) == (401, "woocommerce_rest_authentication_error")
    assert "Invalid signature" in str(caught.value)


async def test_429_retry_after_is_waited_out_by_every_request_of_the_store(woo_sandbox, shopper, host_faults):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    budget = RateBudget(requests_per_second=50, burst=10)
    store_settings = settings(woo_sandbox.home_url, woo_sandbox.consumer_key, woo_sandbox.consumer_secret)
    await host_faults(status=429, retry_after="1", count=1, method="GET")

    async with WooCommerceClient(store_settings, budget=budget) as client:
        refused = asyncio.create_task(client.get_order(placed["id"]))
        while not budget.paused_for():
            await asyncio.sleep(0.005)
        paused_at = time.monotonic()
        notes = await client.list_order_notes(placed["id"])
        other_done = time.monotonic() - paused_at
        order = await refused

    assert order.order_id == str(placed["id"]) and notes
    assert other_done >= 0.9, "a request that was never refused still waited for the Retry-After"


async def test_long_retry_after_is_handed_back(woo_sandbox, host_faults):
    await host_faults(status=503, retry_after="120", count=1)

    async with WooCommerceClient(
        settings(woo_sandbox.home_url, woo_sandbox.consumer_key, woo_sandbox.consumer_secret)
    ) as client:
        with pytest.raises(RetryableError) as caught:
            await client.get_order(1)

    assert caught.value.status == 503 and caught.value.retry_after == 120


async def test_slow_store_times_out_as_retryable(woo_sandbox, host_faults):
    await host_faults(delay_s=1.0)
    slow = settings(woo_sandbox.home_url, woo_sandbox.consumer_key, woo_sandbox.consumer_secret, timeout_s=0.3)

    async with WooCommerceClient(slow) as client:
        with pytest.raises(RetryableError, match="timed out"):
            await client.list_order_notes(1)


async def test_post_is_not_retried_after_a_host_error(store, shopper, host_faults):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    await host_faults(status=502, count=1, method="POST")

    with pytest.raises(RetryableError):
        await store.add_order_note(placed["id"], "only once", customer_visible=False)

    assert "only once" not in [n.text for n in await store.list_order_notes(placed["id"])]


async def test_webhooks(store):
    created = await store.create_webhook(
        "retail-sync test", "order.updated", "http://127.0.0.1:9/hooks/test", "s3cret&<value>"
    )

    assert created.status == "active" and created.topic == "order.updated"
    assert created.webhook_id in {w.webhook_id for w in await store.list_webhooks()}
    paused = await store.update_webhook(created.webhook_id, status="paused")
    assert paused.status == "paused" and paused.delivery_url == "http://127.0.0.1:9/hooks/test"


# Refunds


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def refund_of_first_line(order: Order, key: str, *, quantity: int = 1, refund_payment: bool = True,
                         restock: bool = False, extra: str = "0") -> RefundRequest:
    """Give back `quantity` units of the order's first line with its tax, as an RMA would."""
    line = order.lines[0]
    share = Decimal(quantity) / line.quantity
    taxes = tuple(TaxAmount(rate_id=t.rate_id, amount=eur(str(t.amount.amount * share))) for t in line.taxes)
    amount = line.unit_price.amount * quantity
    total = amount + sum(t.amount.amount for t in taxes) + Decimal(extra)
    return RefundRequest(
        key=key, store_id="sandbox", order_id=order.order_id, reason=f"RMA for {key}",
        lines=(RefundLine(line_id=line.line_id, sku=line.sku, quantity=Decimal(quantity), amount=eur(str(amount)),
                          taxes=taxes),),
        amount=eur(str(total)), refund_payment=refund_payment, restock=restock,
    )


@pytest.fixture
async def gateway(woo_sandbox):
    """Make a payment gateway refuse refunds; every refusal is lifted after the test."""
    async with httpx.AsyncClient(base_url=woo_sandbox.url) as control:

        async def refuse(method: str, message: str) -> None:
            (await control.post("/__sandbox/gateway", json={"method": method, "refuse": message})).raise_for_status()

        yield refuse
        await control.delete("/__sandbox/gateway")


async def tee_stock(woo) -> int:
    return (await woo.get("/products", params={"sku": "TEE-CLASSIC"})).json()[0]["stock_quantity"]


async def test_create_refund_round_trip_names_order_lines_and_tax_rates(store, shopper, woo):
    placed = await shopper.place_order([("TEE-CLASSIC", 2), ("BOOK-COFFEE", 1)], paid=True)
    order = await store.get_order(placed["id"])
    stock_before = await tee_stock(woo)

    key = refund_key("sandbox", order.order_id, "rma-1")
    refund = await store.create_refund(refund_of_first_line(order, key))

    assert (refund.store_id, refund.order_id, refund.key) == ("sandbox", order.order_id, key)
    assert refund.amount == eur("24.00") and refund.refunded_payment and refund.reason == f"RMA for {key}"
    (line,) = refund.lines
    assert (line.line_id, line.sku, line.quantity, line.amount) == (order.lines[0].line_id, "TEE-CLASSIC", 1,
                                                                    eur("20.00"))
    assert line.taxes == (TaxAmount(rate_id="1", amount=eur("4")),)
    assert refund.created_at is not None and refund.created_at.tzinfo is UTC
    raw = (await woo.get(f"/orders/{placed['id']}/refunds/{refund.refund_id}", params={"context": "edit"})).json()
    assert [(i["id"], i["quantity"]) for i in raw["line_items"]] == [(raw["line_items"][0]["id"], -1)]
    assert [(m["key"], m["value"]) for m in raw["meta_data"]] == [(REFUND_KEY_META, key)]
    assert raw["reason"] == f"RMA for {key} [retail-sync:{key}]"  # saved before the gateway call, unlike the meta
    after = await store.get_order(placed["id"])
    assert [(s.refund_id, s.amount, s.reason) for s in after.refunds] == [
        (refund.refund_id, eur("24.00"), raw["reason"])]
    assert await tee_stock(woo) == stock_before  # restock=False is sent as api_restock: false


async def test_list_refunds_finds_our_key_next_to_the_merchants_refunds(store, shopper, woo):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    order = await store.get_order(placed["id"])
    stock_before = await tee_stock(woo)
    merchants = await woo.post(f"/orders/{placed['id']}/refunds", json={"amount": "1.00", "api_refund": False})
    assert merchants.status_code == 201
    ours = await store.create_refund(refund_of_first_line(order, "sandbox:rma-2", restock=True))

    refunds = await store.list_refunds(placed["id"])

    assert [r.refund_id for r in refunds] == [ours.refund_id, refunds[1].refund_id]
    assert [r.key for r in refunds] == ["sandbox:rma-2", None]
    assert refunds[0] == ours
    assert refunds[1].amount == eur("1.00") and not refunds[1].refunded_payment and refunds[1].lines == ()
    assert await tee_stock(woo) == stock_before + 1  # restock=True


async def test_gateway_refusal_is_a_business_error_with_the_gateways_words(store, shopper, gateway):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    order = await store.get_order(placed["id"])
    await gateway("stripe", "Card issuer declined the refund")

    with pytest.raises(BusinessError) as caught:
        await store.create_refund(refund_of_first_line(order, "sandbox:rma-3"))

    assert caught.value.code == "woocommerce_rest_cannot_create_order_refund" and caught.value.status == 500
    assert "Card issuer declined the refund" in caught.value.message and not caught.value.retryable
    assert await store.list_refunds(placed["id"]) == []


async def test_bank_transfer_cannot_refund_automatically_but_can_be_recorded(store, shopper):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=False)
    await shopper.pay(placed["id"])
    order = await store.get_order(placed["id"])

    with pytest.raises(BusinessError, match="does not support automatic refunds"):
        await store.create_refund(refund_of_first_line(order, "sandbox:rma-4"))
    recorded = await store.create_refund(refund_of_first_line(order, "sandbox:rma-4", refund_payment=False))

    assert not recorded.refunded_payment and recorded.key == "sandbox:rma-4"


async def test_refund_over_the_remaining_amount_is_a_business_error(store, shopper):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    order = await store.get_order(placed["id"])

    with pytest.raises(BusinessError, match="Invalid refund amount."):
        await store.create_refund(refund_of_first_line(order, "sandbox:rma-5", extra="100"))


async def test_refund_of_an_unknown_order_is_not_retryable_nor_a_business_error(store):
    request = RefundRequest(key="sandbox:x", store_id="sandbox", order_id="999999", reason="", lines=(),
                            amount=eur("1.00"), refund_payment=False, restock=False)

    with pytest.raises(NonRetryableError) as caught:
        await store.create_refund(request)

    assert not isinstance(caught.value, BusinessError)
    assert (caught.value.code, caught.value.status) == ("woocommerce_rest_invalid_order_id", 500)


async def test_lost_refund_response_is_retryable_and_the_key_shows_it_was_kept(store, shopper, host_faults):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    order = await store.get_order(placed["id"])
    await host_faults(drop_response_after_commit=True, method="POST", count=1,
                      path_prefix=f"/wp-json/wc/v3/orders/{placed['id']}/refunds")

    with pytest.raises(RetryableError):
        await store.create_refund(refund_of_first_line(order, "sandbox:rma-6"))

    (kept,) = await store.list_refunds(placed["id"])
    assert kept.key == "sandbox:rma-6" and kept.amount == eur("24.00")


async def test_a_refund_whose_meta_was_never_saved_is_still_ours_by_its_reason(store, shopper, host_faults):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True)
    order = await store.get_order(placed["id"])
    await host_faults(die_before="refund_meta", method="POST", count=1,
                      path_prefix=f"/wp-json/wc/v3/orders/{placed['id']}/refunds")
    key = refund_key("sandbox", order.order_id, "rma-8")

    with pytest.raises(RetryableError, match="HTTP 500"):
        await store.create_refund(refund_of_first_line(order, key))

    (kept,) = await store.list_refunds(placed["id"])
    assert (kept.key, kept.reason, kept.refunded_payment) == (key, f"RMA for {key}", True)


async def test_fully_refunded_order_reads_as_refunded(store, shopper):
    placed = await shopper.place_order([("TEE-CLASSIC", 1)], paid=True, shipping_total="0.00")
    order = await store.get_order(placed["id"])

    await store.create_refund(refund_of_first_line(order, "sandbox:rma-7"))

    after = await store.get_order(placed["id"])
    assert after.status is OrderStatus.REFUNDED and after.total == order.total
    assert sum((r.amount.amount for r in after.refunds), Decimal(0)) == order.total.amount
