"""WooCommerce REST v3 client for one store: orders, notes, order meta, refunds, webhooks and listings
(products and variations: read, stock pushes and catalogue writes in batches).

Callers get canonical models and typed errors, never WooCommerce field names. Every
request waits for the store's rate budget; idempotent ones (GET, PUT of absolute values)
are retried here a few times, POSTs never, because WooCommerce has no idempotency keys
(batches included: their caller decides, knowing which items failed).
Share one client per store in a process so the budget covers all of that store's calls.
"""
import email.utils
import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from adapters.errors import AdapterError, BatchTooLarge, BusinessError, NonRetryableError, RetryableError
from adapters.json_values import positive_id
from adapters.oauth1 import OAuth1QueryAuth
from adapters.rate_budget import RateBudget
from adapters.retrying import MAX_INLINE_WAIT_S, inline_retries
from adapters.woocommerce_catalog import (
    NOT_CREATED_CODE,
    TOO_LARGE_CODE,
    ListingsPage,
    batch_path,
    catalog_batch,
    catalog_results,
    listings_with_skus,
    listings_page,
    shared_parent,
    sku_holders,
    stock_batch,
    stock_results,
    too_large_limit,
)
from adapters.woocommerce_orders import InvalidOrderPayload, order_from_woocommerce, refund_from_woocommerce
from canonical import Order
from canonical.catalog_plan import option_of_another_listing, sku_in_trash
from canonical.inventory import Listing, ListingDraft, PushResult, StockPush
from canonical.keys import reason_with_refund_key
from canonical.returns import Refund, RefundLine, RefundRequest
from config import StoreSettings

SYSTEM = "woocommerce"
RETRYABLE_STATUSES = frozenset({408, 429, 502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures before the request left: the store cannot have acted on it."""
REFUND_KEY_META = "_retail_sync_refund_key"
"""Refund meta entry holding our `RefundRequest.key`; the reason ends with it too (`reason_with_refund_key`)."""
REFUSAL_CODES = frozenset({"woocommerce_rest_cannot_create_order_refund"})
"""The store or its payment gateway said no (amount too high, gateway declined): a person must decide."""
BATCH_TIMEOUT_S = 60.0
"""A batch of 100 takes the store ~5 s on a quiet loopback (contract §11) and far longer on a busy host."""

logger = logging.getLogger(__name__)


class _RedactSignatures(logging.Filter):
    """Blank auth values in httpx's request-URL lines (INFO) and httpcore's raw header traces (DEBUG).

    Over http our query carries an OAuth signature, and WooCommerce echoes it (or, with query
    credentials, the consumer secret) into every `Link` header.
    """

    pattern = re.compile(r"(oauth_signature|consumer_secret)=[^&\s'\">]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.pattern.sub(r"\1=[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


for _name in ("httpx", "httpcore.http11", "httpcore.http2"):
    logging.getLogger(_name).addFilter(_RedactSignatures())


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class OrdersPage(_Model):
    items: list[Order]
    page: int
    total: int
    total_pages: int
    unreadable: dict[str, str] = {}
    """Order id (or its place on the page) → why it could not be read; the rest of the page is still usable."""

    @property
    def has_next(self) -> bool:
        return self.page < self.total_pages


class OrderNote(_Model):
    note_id: str
    text: str
    customer_visible: bool
    author: str
    created_at: datetime


class Webhook(_Model):
    webhook_id: str
    name: str
    status: str
    topic: str
    delivery_url: str


class WooCommerceClient:
    def __init__(
        self,
        store: StoreSettings,
        *,
        budget: RateBudget | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store_id = store.id
        self.batch_limit = store.batch_limit
        self._batch_timeout = httpx.Timeout(max(BATCH_TIMEOUT_S, store.timeout_s), connect=min(10.0, store.timeout_s))
        self._budget = budget or RateBudget(store.requests_per_second, store.burst)
        self._http = httpx.AsyncClient(
            base_url=store.url.rstrip("/") + "/wp-json/wc/v3/",
            auth=_auth(store),
            timeout=httpx.Timeout(store.timeout_s, connect=min(10.0, store.timeout_s)),
            limits=httpx.Limits(max_connections=3),
            headers={"Accept": "application/json", "User-Agent": "retail-sync"},
            transport=transport,
        )

    async def __aenter__(self) -> "WooCommerceClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_order(self, order_id: str | int) -> Order:
        path = f"orders/{_id(order_id)}"
        payload = await self._json("GET", path)
        with self._reading("GET", path):
            return order_from_woocommerce(self.store_id, payload)

    async def list_orders(
        self,
        modified_after: datetime,
        page: int,
        per_page: int = 100,
        statuses: Iterable[str] | None = None,
    ) -> OrdersPage:
        """One page of orders modified after an instant, oldest id first.

        WooCommerce compares whole seconds, strictly after: pollers keep an overlap (contract §4).

        Page URLs are built here, never taken from `Link`: WooCommerce echoes the
        caller's credentials into it (contract §11).
        """
        if modified_after.tzinfo is None:
            raise ValueError("modified_after must be timezone-aware")
        params: dict[str, Any] = {
            "modified_after": modified_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "dates_are_gmt": "true",
            "orderby": "id",
            "order": "asc",
            "page": page,
            "per_page": per_page,
        }
        if statuses:
            params["status"] = ",".join(statuses)
        response = await self._call("GET", "orders", params=params)
        payload = self._decode(response, "GET", "orders")
        with self._reading("GET", "orders"):
            items, unreadable = [], {}
            for place, item in enumerate(payload, start=1):
                try:
                    items.append(order_from_woocommerce(self.store_id, item))
                except InvalidOrderPayload as exc:
                    unreadable[_listed_id(item, place, page)] = str(exc)
            return OrdersPage(
                items=items,
                page=page,
                total=int(response.headers["X-WP-Total"]),
                total_pages=int(response.headers["X-WP-TotalPages"]),
                unreadable=unreadable,
            )

    async def update_order_status(self, order_id: str | int, status: str) -> Order:
        """Set the store's own status word (e.g. "completed", which e-mails the customer)."""
        path = f"orders/{_id(order_id)}"
        payload = await self._json("PUT", path, body={"status": status})
        with self._reading("PUT", path):
            return order_from_woocommerce(self.store_id, payload)

    async def add_order_note(self, order_id: str | int, note: str, customer_visible: bool) -> OrderNote:
        """Not retried: a lost response would duplicate the note (and a customer e-mail).

        WordPress strips one level of backslashes from a note as it saves it (it takes request data as
        slashed), so they are doubled here: the store keeps exactly `note`, and a marker in it is found again.
        """
        path = f"orders/{_id(order_id)}/notes"
        body = {"note": note.replace("\\", "\\\\"), "customer_note": customer_visible}
        payload = await self._json("POST", path, body=body)
        with self._reading("POST", path):
            return _note(payload)

    async def list_order_notes(self, order_id: str | int) -> list[OrderNote]:
        path = f"orders/{_id(order_id)}/notes"
        payload = await self._json("GET", path)
        with self._reading("GET", path):
            return [_note(item) for item in payload]

    async def set_order_meta(self, order_id: str | int, key: str, value: str) -> None:
        """Upsert one meta entry by key; WooCommerce leaves the other entries alone."""
        await self._json("PUT", f"orders/{_id(order_id)}", body={"meta_data": [{"key": key, "value": value}]})

    async def get_order_meta(self, order_id: str | int, key: str) -> str | None:
        return (await self.find_order_meta(order_id, key)).get(key)

    async def find_order_meta(self, order_id: str | int, prefix: str) -> dict[str, str]:
        """The order's meta entries whose key starts with `prefix`, key → value (the last entry of a key wins)."""
        path = f"orders/{_id(order_id)}"
        payload = await self._json("GET", path, params={"_fields": "meta_data"})
        with self._reading("GET", path):
            return {entry["key"]: entry["value"] if isinstance(entry["value"], str) else json.dumps(entry["value"])
                    for entry in payload["meta_data"] if entry["key"].startswith(prefix)}  # fmt: skip

    async def list_refunds(self, order_id: str | int) -> list[Refund]:
        """Every refund of the order, newest first, with our key where we made it (`context=edit`)."""
        order_path = f"orders/{_id(order_id)}"
        order = await self._json("GET", order_path, params={"_fields": "id,currency"})
        path = f"{order_path}/refunds"
        refunds: list[Refund] = []
        page, total_pages = 1, 1
        while page <= total_pages:
            response = await self._call("GET", path, params={"context": "edit", "page": page, "per_page": 100})
            payload = self._decode(response, "GET", path)
            with self._reading("GET", path):
                refunds += [self._refund(str(order_id), order["currency"], item) for item in payload]
                total_pages = int(response.headers["X-WP-TotalPages"])
            page += 1
        return refunds

    async def create_refund(self, request: RefundRequest) -> Refund:
        """Refund at the store, tagging the refund with `request.key`; sent once, never retried here.

        The key ends the reason, which the store saves before it asks the gateway, and is in the meta, which
        it saves last. A RetryableError (timeout, dropped connection, bare 5xx) does not say whether the store
        kept the refund: list the refunds and look for the key before asking again. A BusinessError carries the
        store's or gateway's reason (e.g. "Invalid refund amount.", a declined card) for a person to act on.
        """
        if request.store_id != self.store_id:
            raise NonRetryableError(SYSTEM, f"refund {request.key} is for store {request.store_id}, not "
                                            f"{self.store_id}", code="wrong_store")
        path = f"orders/{_id(request.order_id)}/refunds"
        body = {
            "amount": _decimal_text(request.amount.amount),
            "reason": reason_with_refund_key(request.reason, request.key),
            "api_refund": request.refund_payment,
            "api_restock": request.restock,
            "line_items": [_refund_line(line) for line in request.lines],
            "meta_data": [{"key": REFUND_KEY_META, "value": request.key}],
        }
        payload = await self._json("POST", path, body=body)
        with self._reading("POST", path):
            return self._refund(request.order_id, request.amount.currency, payload)

    def _refund(self, order_id: str, currency: str, payload: Any) -> Refund:
        return refund_from_woocommerce(self.store_id, order_id, currency, payload, REFUND_KEY_META)

    async def list_webhooks(self) -> list[Webhook]:
        webhooks: list[Webhook] = []
        page, total_pages = 1, 1
        while page <= total_pages:
            response = await self._call("GET", "webhooks", params={"page": page, "per_page": 100})
            payload = self._decode(response, "GET", "webhooks")
            with self._reading("GET", "webhooks"):
                webhooks += [_webhook(item) for item in payload]
                total_pages = int(response.headers["X-WP-TotalPages"])
            page += 1
        return webhooks

    async def create_webhook(self, name: str, topic: str, delivery_url: str, secret: str) -> Webhook:
        body = {"name": name, "topic": topic, "delivery_url": delivery_url, "secret": secret, "status": "active"}
        payload = await self._json("POST", "webhooks", body=body)
        with self._reading("POST", "webhooks"):
            return _webhook(payload)

    async def update_webhook(self, webhook_id: str | int, *, status: str) -> Webhook:
        """E.g. `status="active"` to re-enable a webhook WooCommerce disabled after failed deliveries."""
        path = f"webhooks/{_id(webhook_id)}"
        payload = await self._json("PUT", path, body={"status": status})
        with self._reading("PUT", path):
            return _webhook(payload)

    async def list_listings(self, page: int = 1) -> ListingsPage:
        """One page of the store's products, oldest first: simple ones and variable parents (`variable`), whose
        options `list_option_listings` reads. Trashed, grouped and external products are not listed."""
        return await self._listings("products", page, None)

    async def list_option_listings(self, parent_id: str, page: int = 1) -> ListingsPage:
        """One page of the options (variations) of a variable listing, each with `parent_id`."""
        return await self._listings(f"products/{_id(parent_id)}/variations", page, str(parent_id))

    async def _listings(self, path: str, page: int, parent_id: str | None) -> ListingsPage:
        params = {"page": page, "per_page": 100, "orderby": "id", "order": "asc", "status": "any"}
        response = await self._call("GET", path, params=params)
        payload = self._decode(response, "GET", path)
        with self._reading("GET", path):
            return listings_page(payload, page, int(response.headers["X-WP-TotalPages"]), parent_id)

    async def find_listing(self, sku: str) -> Listing | None:
        """The listing with exactly this SKU, an option with its `parent_id`; None when the store has none."""
        return (await self.find_listings([sku])).get(sku)

    async def find_listings(self, skus: list[str]) -> dict[str, Listing]:
        """SKU → listing for up to 100 SKUs in one call (`?sku=` takes a comma list, options included)."""
        if not skus or not all(skus) or any("," in sku for sku in skus) or len(skus) > 100:
            raise ValueError("1 to 100 non-empty SKUs without commas")
        return await self._products_with_skus(skus, "any", listings_with_skus)

    async def _products_with_skus(self, skus: list[str], status: str, read):
        """One `?sku=` read of up to 100 SKUs, its products read by `read(payload, skus)`."""
        payload = await self._json("GET", "products", params={"sku": ",".join(skus), "per_page": 100,
                                                              "status": status})  # fmt: skip
        with self._reading("GET", "products"):
            return read(payload, skus)

    async def push_stock(self, pushes: list[StockPush]) -> list[PushResult]:
        """Set absolute stock on listings of one parent (None: top-level products) in ONE batch call, sent once.

        Results come per push, in order: a listing the store no longer knows fails alone (not retryable), a
        transient item failure is `retryable`. Raises ValueError for mixed parents or more than `batch_limit`
        pushes, BatchTooLarge (with the store's limit) when the store refuses the size, RetryableError
        (with `retry_after`) when its host is busy: in both cases nothing was applied.
        """
        if not pushes:
            return []
        path = batch_path(shared_parent(pushes), len(pushes), self.batch_limit)
        payload = await self._batch(path, stock_batch(pushes), len(pushes))
        with self._reading("POST", path):
            return stock_results(pushes, payload)

    async def write_catalog(
        self, parent_id: str | None, creates: list[ListingDraft], updates: list[ListingDraft]
    ) -> list[PushResult]:
        """Create and update listings (parent None) or options of one variable listing in ONE batch call.

        Results: the creates' then the updates', each in the order given; a created listing's id is its
        result's `listing_id`. Stock is not written here (`push_stock` is). Errors as `push_stock`.
        An option update is sent only if the store lists it under `parent_id` (one read first): WooCommerce
        7.9 moves an option written through another variable product to that product, silently. A create
        WooCommerce 10 refuses because a product in its trash holds the SKU names that product (one read).
        """
        misplaced = await self._not_options_of(parent_id, updates) if parent_id is not None and updates else {}
        sent = [draft for draft in updates if draft.sku not in misplaced]
        body = catalog_batch(parent_id, creates, sent)
        results: list[PushResult] = []
        if body:
            path = batch_path(parent_id, len(creates) + len(sent), self.batch_limit)
            payload = await self._batch(path, body, len(creates) + len(sent))
            with self._reading("POST", path):
                results = catalog_results(creates, sent, payload)
        answered = iter(results[len(creates):])
        created = await self._held_by_trash(results[:len(creates)])
        return created + [misplaced.get(draft.sku) or next(answered) for draft in updates]

    async def _held_by_trash(self, created: list[PushResult]) -> list[PushResult]:
        """Creates refused as not created whose SKU a product in the trash holds: that product named."""
        refused = [result.sku for result in created if result.code == NOT_CREATED_CODE and "," not in result.sku]
        holders: dict[str, tuple[str, str | None]] = {}
        for start in range(0, len(refused), 100):
            holders |= await self._products_with_skus(refused[start : start + 100], "trash", sku_holders)
        return [sku_in_trash(result.sku, *holders[result.sku]) if result.code == NOT_CREATED_CODE
                and result.sku in holders else result for result in created]  # fmt: skip

    async def _not_options_of(self, parent_id: str, updates: list[ListingDraft]) -> dict[str, PushResult]:
        path = f"products/{_id(parent_id)}/variations"
        params = {"include": ",".join(str(_id(d.listing_id)) for d in updates), "per_page": 100, "status": "any"}
        payload = await self._json("GET", path, params=params)
        with self._reading("GET", path):
            options = {listing.listing_id for listing in listings_page(payload, 1, 1, parent_id).listings}
        return {draft.sku: option_of_another_listing(
                    draft.sku, draft.listing_id, f"the store does not list {draft.sku} (listing {draft.listing_id}) "
                    f"as an option of listing {parent_id}: not written, so it is not moved there")
                for draft in updates if draft.listing_id not in options}  # fmt: skip

    async def _batch(self, path: str, body: dict[str, Any], count: int) -> Any:
        try:
            return await self._json("POST", path, body=body, timeout=self._batch_timeout)
        except BatchTooLarge as refused:
            if refused.limit is None or refused.limit >= count:
                refused.limit = max(1, count // 2)  # the store did not say how many in a way we read
            raise

    async def _json(self, method: str, path: str, *, body: dict[str, Any] | None = None,
                    params: dict[str, Any] | None = None, timeout: httpx.Timeout | None = None) -> Any:
        response = await self._call(method, path, params=params, body=body, timeout=timeout)
        return self._decode(response, method, path)

    async def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                    body: dict[str, Any] | None = None, timeout: httpx.Timeout | None = None) -> httpx.Response:
        retrying = inline_retries(idempotent=method in ("GET", "PUT"))
        return await retrying(self._send, method, path, params, body, timeout)

    async def _send(self, method: str, path: str, params: dict[str, Any] | None, body: dict[str, Any] | None,
                    timeout: httpx.Timeout | None = None) -> httpx.Response:
        where = f"store {self.store_id}: {method} {path}"
        paused = self._budget.paused_for()
        if paused > MAX_INLINE_WAIT_S:
            raise RetryableError(SYSTEM, f"{where}: store asked us to wait {paused:.0f}s", retry_after=paused,
                                 sent=False)
        await self._budget.acquire()
        try:
            response = await self._http.request(
                method, path, params=params, json=body, timeout=timeout or httpx.USE_CLIENT_DEFAULT
            )
        except httpx.TimeoutException as exc:
            raise RetryableError(SYSTEM, f"{where}: timed out ({type(exc).__name__})",
                                 sent=not isinstance(exc, NOT_SENT)) from None
        except httpx.TransportError as exc:
            raise RetryableError(SYSTEM, f"{where}: {type(exc).__name__}: {exc}",
                                 sent=not isinstance(exc, NOT_SENT)) from None
        logger.debug("%s → HTTP %s", where, response.status_code)
        if response.is_success:
            return response
        error = classify(where, response)
        if isinstance(error, RetryableError) and error.retry_after is not None:
            self._budget.pause(error.retry_after)
        raise error

    def _decode(self, response: httpx.Response, method: str, path: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise NonRetryableError(
                SYSTEM,
                f"store {self.store_id}: {method} {path}: HTTP {response.status_code} body is not JSON",
                code="invalid_response",
                status=response.status_code,
            ) from None

    @contextmanager
    def _reading(self, method: str, path: str) -> Iterator[None]:
        """A response we cannot read will not read better on retry."""
        try:
            yield
        except (KeyError, TypeError, ValueError) as exc:
            raise NonRetryableError(
                SYSTEM, f"store {self.store_id}: {method} {path}: unreadable response: {exc}", code="invalid_response"
            ) from None


def classify(where: str, response: httpx.Response) -> AdapterError:
    """Contract §3: a WooCommerce `code` on a 5xx is a business refusal (refunds answer 500), not an outage."""
    code, message = _woocommerce_error(response)
    status = response.status_code
    text = f"{where} → HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if status in RETRYABLE_STATUSES or (status >= 500 and not code):
        return RetryableError(SYSTEM, text, code=code, status=status, retry_after=retry_after(response.headers),
                              sent=status != 429)
    if code in REFUSAL_CODES:
        return BusinessError(SYSTEM, text, code=code, status=status)
    if code == TOO_LARGE_CODE:
        return BatchTooLarge(SYSTEM, text, code=code, status=status, limit=too_large_limit(message))
    return NonRetryableError(SYSTEM, text, code=code, status=status)


def retry_after(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Seconds from `Retry-After` (delay or HTTP-date), else the Store API's `RateLimit-Retry-After`."""
    for name in ("Retry-After", "RateLimit-Retry-After"):
        value = headers.get(name, "").strip()
        if value.isascii() and value.isdigit():
            return float(value)
        if value:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            moment = when if when.tzinfo else when.replace(tzinfo=UTC)
            return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
    return None


def _woocommerce_error(response: httpx.Response) -> tuple[str, str]:
    """`{"code", "message", "data"}` from WordPress; a proxy's HTML page yields only the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        return "", response.reason_phrase
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        return "", response.reason_phrase
    return body["code"], str(body.get("message", ""))[:300]


def _auth(store: StoreSettings) -> httpx.Auth:
    """Basic over https; over http WooCommerce ignores Basic and only accepts OAuth 1.0a (contract §11)."""
    key, secret = store.consumer_key.get_secret_value(), store.consumer_secret.get_secret_value()
    if store.url.lower().startswith("https://"):
        return httpx.BasicAuth(key, secret)
    return OAuth1QueryAuth(store.url, key, secret)


def _listed_id(item: Any, place: int, page: int) -> str:
    """The id of an order we could not read, or where it was when even the id is unreadable."""
    order_id = positive_id(item.get("id")) if isinstance(item, dict) else None
    return str(order_id) if order_id is not None else f"order {place} of page {page}"


def _id(value: str | int) -> str:
    """Ids go into URL paths; refuse anything but digits rather than send a request elsewhere."""
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        raise NonRetryableError(SYSTEM, f"not a WooCommerce id: {text[:40]!r}", code="invalid_id")
    return text


def _refund_line(line: RefundLine) -> dict[str, Any]:
    """Order item id with its quantity, amount excluding tax, and tax per *rate* id (contract §5)."""
    if line.quantity != line.quantity.to_integral_value():
        raise NonRetryableError(SYSTEM, f"line {line.line_id}: WooCommerce refunds whole units, not {line.quantity}",
                                code="invalid_quantity")
    return {
        "id": int(_id(line.line_id)),
        "quantity": int(line.quantity),
        "refund_total": _decimal_text(line.amount.amount),
        "refund_tax": [{"id": int(_id(t.rate_id)), "refund_total": _decimal_text(t.amount.amount)} for t in line.taxes],
    }


def _decimal_text(amount: Decimal) -> str:
    return f"{amount:f}"


def _gmt(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _note(data: dict[str, Any]) -> OrderNote:
    return OrderNote(
        note_id=str(data["id"]),
        text=data["note"],
        customer_visible=bool(data["customer_note"]),
        author=data.get("author") or "",
        created_at=_gmt(data["date_created_gmt"]),
    )


def _webhook(data: dict[str, Any]) -> Webhook:
    return Webhook(
        webhook_id=str(data["id"]),
        name=data["name"],
        status=data["status"],
        topic=data["topic"],
        delivery_url=data["delivery_url"],
    )
