"""Error classification, retries and request shapes of WooCommerceClient, on canned responses.

The sandbox tests cover the real protocol; these pin the cases a sandbox rarely produces
(refund-style 500s with a code, proxy HTML pages, dropped connections, HTTP-date Retry-After).
"""
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

import adapters.retrying as retrying
import adapters.woocommerce as woocommerce
from adapters.errors import BusinessError, NonRetryableError, RetryableError
from adapters.rate_budget import RateBudget
from adapters.woocommerce import WooCommerceClient, retry_after
from canonical import Money, TaxAmount
from canonical.returns import RefundLine, RefundRequest
from config import StoreSettings

SECRET = "cs_2b8e4f6a0c9d13e7f5a2b6c8d0e4f1a3b7c9d2e5"
ORDER = json.loads((Path(__file__).parent / "data" / "woocommerce" / "order_variation_coupon.json").read_text())


def store(url: str = "https://shop.example") -> StoreSettings:
    return StoreSettings(
        id="shop1",
        url=url,
        consumer_key="ck_7d1f0a5e9c3b48f2a6d4e8b1c0f9a7e3d5b2c4a6",
        consumer_secret=SECRET,
        webhook_secret="whsec",
        timeout_s=5,
    )


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def no_jitter(monkeypatch):
    monkeypatch.setattr(retrying, "_jitter", lambda state: 0.0)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def client(responses, fake_time: FakeTime, url: str = "https://shop.example") -> tuple[WooCommerceClient, list]:
    """A client whose transport answers from `responses` (callables or Responses) in turn."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        answer = responses[min(len(sent), len(responses)) - 1]
        return answer(request) if callable(answer) else answer

    budget = RateBudget(100, 10, clock=fake_time.clock, sleep=fake_time.sleep)
    return WooCommerceClient(store(url), budget=budget, transport=httpx.MockTransport(handler)), sent


def woo_error(status: int, code: str, message: str, data: object = None, **headers: str) -> httpx.Response:
    body = {"code": code, "message": message, "data": {"status": status} if data is None else data}
    return httpx.Response(status, json=body, headers=headers)


async def test_unknown_order_is_not_retryable_and_says_why(fake_time):
    woo, sent = client([woo_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")], fake_time)

    with pytest.raises(NonRetryableError) as caught:
        await woo.get_order("999")

    error = caught.value
    assert (error.code, error.status, error.system) == ("woocommerce_rest_shop_order_invalid_id", 404, "woocommerce")
    assert str(error) == (
        "woocommerce: store shop1: GET orders/999 → HTTP 404 woocommerce_rest_shop_order_invalid_id: Invalid ID."
    )
    assert len(sent) == 1


async def test_refund_style_500_with_a_code_is_a_refusal_not_an_outage(fake_time):
    refusal = woo_error(
        500, "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", data=500
    )
    woo, sent = client([refusal], fake_time)

    with pytest.raises(NonRetryableError) as caught:
        await woo.get_order(727)

    assert caught.value.code == "woocommerce_rest_cannot_create_order_refund"
    assert caught.value.status == 500
    assert len(sent) == 1


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504, 500])
async def test_transient_statuses_are_retried_then_succeed(fake_time, status):
    page = httpx.Response(status, text="<html><body>Bad Gateway</body></html>")
    woo, sent = client([page, page, httpx.Response(200, json=ORDER)], fake_time)

    order = await woo.get_order(727)

    assert order.order_id == "727"
    assert len(sent) == 3


async def test_gives_up_after_a_few_attempts_with_a_retryable_error(fake_time):
    woo, sent = client([httpx.Response(502, text="<html>Bad Gateway</html>")], fake_time)

    with pytest.raises(RetryableError) as caught:
        await woo.get_order(727)

    assert caught.value.status == 502 and caught.value.code == ""
    assert str(caught.value) == "woocommerce: store shop1: GET orders/727 → HTTP 502: Bad Gateway"
    assert len(sent) == retrying.MAX_ATTEMPTS


async def test_posts_are_never_retried(fake_time):
    woo, sent = client([httpx.Response(503), httpx.Response(201, json={})], fake_time)

    with pytest.raises(RetryableError):
        await woo.add_order_note(727, "Shipped with DHL 123", customer_visible=True)

    assert len(sent) == 1


async def test_retry_after_pauses_the_store_then_succeeds(fake_time):
    limited = woo_error(429, "too_many_requests", "Slow down", **{"Retry-After": "3"})
    woo, sent = client([limited, httpx.Response(200, json=ORDER)], fake_time)

    await woo.get_order(727)

    assert len(sent) == 2
    assert 3.0 in fake_time.sleeps, "the budget held the retry for Retry-After"


async def test_a_long_retry_after_goes_back_to_the_caller_without_blocking(fake_time):
    limited = httpx.Response(503, headers={"Retry-After": "600"}, text="Service Unavailable")
    woo, sent = client([limited], fake_time)

    with pytest.raises(RetryableError) as first:
        await woo.get_order(727)
    with pytest.raises(RetryableError) as second:
        await woo.list_order_notes(727)

    assert first.value.retry_after == 600
    assert second.value.retry_after == pytest.approx(600)
    assert len(sent) == 1, "the second call did not even reach the paused store"
    assert fake_time.sleeps == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "120"},
        {"Retry-After": format_datetime(datetime(2026, 1, 1, 12, 2, tzinfo=UTC), usegmt=True)},
        {"RateLimit-Retry-After": "120"},
    ],
)
def test_retry_after_formats(headers):
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    assert retry_after(httpx.Headers(headers), now) == 120


def test_retry_after_absent_or_garbage():
    assert retry_after(httpx.Headers({})) is None
    assert retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after(httpx.Headers({"Retry-After": "-5"})) is None
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=5), usegmt=True)
    assert retry_after(httpx.Headers({"Retry-After": past})) == 0


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "rest_invalid_param"),
        (401, "woocommerce_rest_authentication_error"),
        (403, "woocommerce_rest_cannot_edit"),
        (410, "woocommerce_rest_already_trashed"),
        (413, "woocommerce_rest_request_entity_too_large"),
    ],
)
async def test_refusals_are_not_retried(fake_time, status, code):
    woo, sent = client([woo_error(status, code, "Refused.")], fake_time)

    with pytest.raises(NonRetryableError) as caught:
        await woo.update_order_status(727, "completed")

    assert (caught.value.status, caught.value.code) == (status, code)
    assert len(sent) == 1


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("[Errno 111] Connection refused"), httpx.ReadTimeout("timed out")]
)
async def test_network_failures_are_retryable_and_name_no_url(fake_time, failure):
    def broken(request):
        raise failure

    woo, sent = client([broken], fake_time, url="http://127.0.0.1:9")

    with pytest.raises(RetryableError) as caught:
        await woo.get_order(727)

    assert len(sent) == retrying.MAX_ATTEMPTS
    assert "oauth" not in str(caught.value) and "127.0.0.1" not in str(caught.value)
    assert caught.value.__cause__ is None


async def test_https_store_uses_basic_auth(fake_time):
    woo, sent = client([httpx.Response(200, json=ORDER)], fake_time)

    await woo.get_order(727)

    (request,) = sent
    assert str(request.url) == "https://shop.example/wp-json/wc/v3/orders/727"
    assert request.headers["Authorization"].startswith("Basic ")


async def test_http_store_signs_with_oauth_in_the_query(fake_time):
    woo, sent = client([httpx.Response(200, json=ORDER)], fake_time, url="http://shop.example")

    await woo.get_order(727)

    (request,) = sent
    assert "Authorization" not in request.headers
    assert request.url.params["oauth_signature_method"] == "HMAC-SHA256"
    assert SECRET not in str(request.url)


async def test_list_orders_builds_the_polling_query_and_reads_totals(fake_time):
    page = httpx.Response(
        200,
        json=[ORDER],
        headers={
            "X-WP-Total": "101",
            "X-WP-TotalPages": "2",
            "Link": '<https://shop.example/wp-json/wc/v3/orders?page=2&consumer_secret=cs_leak>; rel="next"',
        },
    )
    woo, sent = client([page], fake_time)
    paris = datetime(2024, 3, 14, 11, 0, tzinfo=UTC).astimezone(tz=None)

    result = await woo.list_orders(paris, page=1, statuses=["processing", "on-hold"])

    assert dict(sent[0].url.params) == {
        "modified_after": "2024-03-14T11:00:00",
        "dates_are_gmt": "true",
        "orderby": "id",
        "order": "asc",
        "page": "1",
        "per_page": "100",
        "status": "processing,on-hold",
    }
    assert [o.order_id for o in result.items] == ["727"]
    assert (result.total, result.total_pages, result.has_next) == (101, 2, True)


async def test_list_orders_needs_an_aware_datetime(fake_time):
    woo, _ = client([], fake_time)

    with pytest.raises(ValueError, match="timezone-aware"):
        await woo.list_orders(datetime(2024, 3, 14), page=1)


async def test_an_unreadable_order_is_named_and_the_rest_of_its_page_still_read(fake_time):
    broken, fine = dict(ORDER, total="n/a"), dict(ORDER, id=728)
    page = httpx.Response(200, json=[broken, fine, "?"], headers={"X-WP-Total": "3", "X-WP-TotalPages": "1"})
    woo, _ = client([page], fake_time)

    listed = await woo.list_orders(datetime(2024, 1, 1, tzinfo=UTC), page=1)

    assert [order.order_id for order in listed.items] == ["728"]
    assert listed.unreadable == {"727": "total: expected a decimal number, got 'n/a'",
                                 "order 3 of page 1": "expected a JSON object, got str"}  # fmt: skip


async def test_a_proxy_page_with_200_is_not_json(fake_time):
    woo, _ = client([httpx.Response(200, text="<html>Checking your browser…</html>")], fake_time)

    with pytest.raises(NonRetryableError, match="body is not JSON"):
        await woo.get_order(727)


async def test_ids_must_be_digits(fake_time):
    woo, sent = client([], fake_time)

    with pytest.raises(NonRetryableError, match="not a WooCommerce id"):
        await woo.get_order("../customers/1")

    assert sent == []


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def _refund_request() -> RefundRequest:
    return RefundRequest(
        key="shop1:727:refund:RMA-17", store_id="shop1", order_id="727", reason="RMA-17",
        lines=(RefundLine(line_id="311", sku="HOODIE-M", quantity=Decimal(1), amount=eur("40.50"),
                          taxes=(TaxAmount(rate_id="1", amount=eur("8.10")),)),
               RefundLine(line_id="315", amount=eur("5.00"), taxes=(TaxAmount(rate_id="1", amount=eur("1.00")),))),
        amount=eur("54.60"), refund_payment=True, restock=False,
    )


async def test_create_refund_sends_item_and_rate_ids_and_our_key(fake_time):
    created = {"id": 801, "amount": "54.60", "reason": "RMA-17", "refunded_payment": True,
               "date_created_gmt": "2024-03-15T09:00:00", "meta_data": [
                   {"id": 9, "key": "_retail_sync_refund_key", "value": "shop1:727:refund:RMA-17"}],
               "line_items": [{"id": 802, "quantity": -1, "total": "-40.50", "sku": "HOODIE-M",
                               "taxes": [{"id": 1, "total": "-8.1", "subtotal": "-8.1"}],
                               "meta_data": [{"id": 10, "key": "_refunded_item_id", "value": "311"}]}],
               "shipping_lines": [{"id": 803, "total": "-5.00", "taxes": [{"id": 1, "total": "-1", "subtotal": ""}],
                                   "meta_data": [{"id": 11, "key": "_refunded_item_id", "value": "315"}]}],
               "fee_lines": [], "tax_lines": []}
    woo, sent = client([httpx.Response(201, json=created)], fake_time)

    refund = await woo.create_refund(_refund_request())

    (request,) = sent
    assert (request.method, request.url.path) == ("POST", "/wp-json/wc/v3/orders/727/refunds")
    assert json.loads(request.content) == {
        "amount": "54.60", "reason": "RMA-17 [retail-sync:shop1:727:refund:RMA-17]", "api_refund": True,
        "api_restock": False,
        "line_items": [
            {"id": 311, "quantity": 1, "refund_total": "40.50", "refund_tax": [{"id": 1, "refund_total": "8.10"}]},
            {"id": 315, "quantity": 0, "refund_total": "5.00", "refund_tax": [{"id": 1, "refund_total": "1.00"}]},
        ],
        "meta_data": [{"key": "_retail_sync_refund_key", "value": "shop1:727:refund:RMA-17"}],
    }
    assert (refund.refund_id, refund.key, str(refund.amount.amount)) == ("801", "shop1:727:refund:RMA-17", "54.60")
    assert [(line.line_id, line.quantity, str(line.amount.amount)) for line in refund.lines] == [
        ("311", 1, "40.50"), ("315", 0, "5.00")]


@pytest.mark.parametrize("message", ["Invalid refund amount.", "Card issuer declined the refund"])
async def test_refund_refusals_are_business_errors_sent_once(fake_time, message):
    refusal = woo_error(500, "woocommerce_rest_cannot_create_order_refund", message, data=500)
    woo, sent = client([refusal], fake_time)

    with pytest.raises(BusinessError) as caught:
        await woo.create_refund(_refund_request())

    assert message in caught.value.message and caught.value.code == "woocommerce_rest_cannot_create_order_refund"
    assert len(sent) == 1


@pytest.mark.parametrize("code,data", [("woocommerce_rest_invalid_order_id", 404),
                                       ("woocommerce_rest_invalid_order_refund", 400)])
async def test_invalid_order_or_refund_is_not_retryable_nor_a_business_error(fake_time, code, data):
    woo, sent = client([woo_error(500, code, "Invalid.", data=data)], fake_time)

    with pytest.raises(NonRetryableError) as caught:
        await woo.create_refund(_refund_request())

    assert not isinstance(caught.value, BusinessError) and caught.value.code == code
    assert len(sent) == 1


@pytest.mark.parametrize(("failure", "may_have_been_made"), [
    (httpx.Response(500, text="<html>Fatal error</html>"), True),
    (httpx.Response(504, text="<html>504 Gateway Time-out</html>"), True),
    (httpx.ReadTimeout("timed out"), True),
    (httpx.RemoteProtocolError("peer closed"), True),
    (httpx.Response(429, text="Too Many Requests"), False),
    (httpx.ConnectError("[Errno 111] Connection refused"), False),
    (httpx.ConnectTimeout("timed out"), False),
])
async def test_an_unanswered_refund_is_retryable_not_retried_here_and_says_if_it_may_have_been_made(
        fake_time, failure, may_have_been_made):
    def answer(request):
        if isinstance(failure, Exception):
            raise failure
        return failure

    woo, sent = client([answer], fake_time)

    with pytest.raises(RetryableError) as caught:
        await woo.create_refund(_refund_request())

    assert len(sent) == 1 and caught.value.sent is may_have_been_made


async def test_a_refund_for_another_store_is_refused_before_sending(fake_time):
    woo, sent = client([], fake_time)

    with pytest.raises(NonRetryableError, match="is for store other"):
        await woo.create_refund(_refund_request().model_copy(update={"store_id": "other"}))

    assert sent == []
