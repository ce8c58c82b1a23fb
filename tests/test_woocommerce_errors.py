"""Error classification, retries and request shapes of WooCommerceClient, on canned responses.

The sandbox tests cover the real protocol; these pin the cases a sandbox rarely produces
(refund-style 500s with a code, proxy HTML pages, dropped connections, HTTP-date Retry-After).
"""
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

import adapters.retrying as retrying
import adapters.woocommerce as woocommerce
from adapters.errors import NonRetryableError, RetryableError
from adapters.rate_budget import RateBudget
from adapters.woocommerce import WooCommerceClient, retry_after
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


async def test_an_unreadable_order_names_it(fake_time):
    broken = dict(ORDER, total="n/a")
    page = httpx.Response(200, json=[broken], headers={"X-WP-Total": "1", "X-WP-TotalPages": "1"})
    woo, _ = client([page], fake_time)

    with pytest.raises(NonRetryableError) as caught:
        await woo.list_orders(datetime(2024, 1, 1, tzinfo=UTC), page=1)

    assert caught.value.code == "invalid_response"
    assert "order 727: total: expected a decimal number, got 'n/a'" in str(caught.value)


async def test_a_proxy_page_with_200_is_not_json(fake_time):
    woo, _ = client([httpx.Response(200, text="<html>Checking your browser…</html>")], fake_time)

    with pytest.raises(NonRetryableError, match="body is not JSON"):
        await woo.get_order(727)


async def test_ids_must_be_digits(fake_time):
    woo, sent = client([], fake_time)

    with pytest.raises(NonRetryableError, match="not a WooCommerce id"):
        await woo.get_order("../customers/1")

    assert sent == []
