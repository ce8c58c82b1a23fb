"""ShipBob API 2026-01 client: fulfilment orders, their shipments, cancellation, stock per centre, returns.

Callers get canonical models and typed errors, never ShipBob field names (mapping in
`adapters.shipbob_mapping`). Every request waits for the client's rate budget; GETs are
retried here a few times, POSTs never: a lost `POST /order` or `POST /return` is recovered by
the caller's retry hitting the 422 duplicate `reference_id`, which is our idempotency key
(contract §2.3, §2.7). Share one client per process: ShipBob's 150/min is per token, across all APIs.
"""
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from adapters.errors import AdapterError, BusinessError, NonRetryableError, RetryableError
from adapters.rate_budget import RateBudget
from adapters.retrying import MAX_INLINE_WAIT_S, inline_retries
from adapters.shipbob_mapping import (
    InvalidShipBobPayload,
    cancel_result,
    order_body,
    order_from_shipbob,
    return_body,
    return_from_shipbob,
    return_inventory_ids,
    shipment_from_shipbob,
    shipments_complete,
)
from canonical.fulfilment import (
    CancelOutcome,
    CancelResult,
    CenterStock,
    FulfilmentOrder,
    FulfilmentRequest,
    ShipmentStatus,
)
from canonical.returns import ReturnStatus, ThreePLReturn, ThreePLReturnRequest
from config import ThreePLSettings

SYSTEM = "shipbob"
BURST = 5
PAGE_SIZE = 250

logger = logging.getLogger(__name__)


class ShipBobClient:
    def __init__(
        self,
        settings: ThreePLSettings,
        *,
        budget: RateBudget | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = settings.token.get_secret_value()
        self._channel_id = settings.channel_id
        self._budget = budget or sliding_window_budget(settings.requests_per_minute)
        self._inventory_ids: dict[str, str] = {}
        self._skus: dict[str, str] = {}
        self._http = httpx.AsyncClient(
            base_url=f"{settings.url.rstrip('/')}/{settings.api_version}/",
            timeout=httpx.Timeout(settings.timeout_s, connect=min(10.0, settings.timeout_s)),
            limits=httpx.Limits(max_connections=5),
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/json",
                "User-Agent": "retail-sync",
            },
            transport=transport,
        )

    async def __aenter__(self) -> "ShipBobClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create_order(self, request: FulfilmentRequest) -> FulfilmentOrder:
        """Create the 3PL order for `request.reference`, or return the one already created for it."""
        try:
            body = order_body(request)
        except InvalidShipBobPayload as exc:
            raise BusinessError(SYSTEM, f"order {request.reference!r}: {exc}", code="invalid_request") from None
        return await self._create_once("order", body, request.reference, self.find_order, self._with_shipments)

    async def _create_once(self, kind: str, body: dict, reference: str, find, read):
        """POST once; ShipBob's 422 for a known reference means an earlier attempt got through: return that one.

        This is the idempotency of orders and returns: never create again, look the reference up.
        """
        try:
            payload = await self._json("POST", kind, body=body, headers=self._channel())
        except NonRetryableError as exc:
            if not _is_duplicate_reference(exc):
                raise
            existing = await find(reference)
            if existing is None:
                raise RetryableError(
                    SYSTEM, f"{kind} {reference!r} exists (422) but is not findable yet", code="duplicate"
                ) from None
            logger.info("ShipBob %s for %s already existed", kind, reference)
            return existing
        return await read(payload)

    async def find_order(self, reference: str) -> FulfilmentOrder | None:
        payload = await self._json("GET", "order", params={"ReferenceIds": reference})
        with _reading("GET order"):
            matches = [order for order in payload if order["reference_id"] == reference]
        return await self._with_shipments(matches[0]) if matches else None

    async def get_order(self, order_ref: str) -> FulfilmentOrder:
        return await self._with_shipments(await self._json("GET", f"order/{_id(order_ref)}"))

    async def cancel_order(self, order_ref: str) -> CancelResult:
        """Cancel every shipment still before Picked; not retried here (the caller re-reads, then decides)."""
        path = f"order/{_id(order_ref)}:cancel"
        payload = await self._json("POST", path)
        with _reading(f"POST {path}"):
            return cancel_result(payload)

    async def cancel_shipment(self, shipment_id: str) -> CancelResult:
        """Cancel one shipment (before rerouting it). ShipBob answers a refusal with 422; the shipment is then
        re-read, so a repeated cancel of an already cancelled shipment still reads as CANCELLED."""
        shipment_id = _id(shipment_id)
        try:
            await self._json("POST", f"shipment/{shipment_id}:cancel")
        except NonRetryableError as refusal:
            if refusal.status != 422:
                raise
            path = f"shipment/{shipment_id}"
            payload = await self._json("GET", path)
            with _reading(f"GET {path}"):
                if shipment_from_shipbob(payload).status is not ShipmentStatus.CANCELLED:
                    return CancelResult(
                        outcome=CancelOutcome.NOT_CANCELLABLE, refused_shipments=(shipment_id,), reason=refusal.message
                    )
        return CancelResult(outcome=CancelOutcome.CANCELLED, cancelled_shipments=(shipment_id,))

    async def inventory_id(self, sku: str) -> str:
        """ShipBob's inventory id for a SKU (returns need it), cached for the client's life: it never changes."""
        if sku not in self._inventory_ids:
            async for item in self._pages("inventory-level", {"SearchBy": sku, "PageSize": PAGE_SIZE}):
                if item["sku"] == sku:
                    self._remember(item)
                    break
            else:
                raise BusinessError(SYSTEM, f"no ShipBob inventory for SKU {sku!r}", code="unknown_sku")
        return self._inventory_ids[sku]

    async def create_return(self, request: ThreePLReturnRequest) -> ThreePLReturn:
        """Tell the warehouse to expect the return `request.reference` (the RMA), or get the one already expected."""
        inventory_ids = {sku: await self.inventory_id(sku) for sku in dict.fromkeys(line.sku for line in request.lines)}
        try:
            body = return_body(request, inventory_ids)
        except InvalidShipBobPayload as exc:
            raise BusinessError(SYSTEM, f"return {request.reference!r}: {exc}", code="invalid_request") from None
        return await self._create_once("return", body, request.reference, self.find_return, self.return_of)

    async def find_return(self, reference: str) -> ThreePLReturn | None:
        matches = [
            rma
            async for rma in self._pages("return", {"ReferenceIds": reference, "Limit": PAGE_SIZE})
            if rma.get("reference_id") == reference
        ]
        return await self.return_of(matches[0]) if matches else None

    async def get_return(self, return_ref: str) -> ThreePLReturn:
        return await self.return_of(await self._json("GET", f"return/{_id(return_ref)}"))

    async def cancel_return(self, return_ref: str) -> ThreePLReturn:
        """Cancel a return still awaiting arrival; cancelling it again is fine, one already received is refused."""
        return_ref = _id(return_ref)
        try:
            payload = await self._json("POST", f"return/{return_ref}:cancel", headers=self._channel())
        except NonRetryableError as refusal:
            if refusal.status != 422:
                raise
            current = await self.get_return(return_ref)
            if current.status is not ReturnStatus.CANCELLED:
                raise BusinessError(
                    SYSTEM, f"return {return_ref} is {current.status}: {refusal.message}", code="not_cancellable"
                ) from None
            return current
        return await self.return_of(payload)

    async def return_of(self, payload: Any) -> ThreePLReturn:
        """Map a return body (from the API or a `return.*` webhook), naming processed items by SKU."""
        with _reading("return"):
            unknown = return_inventory_ids(payload) - self._skus.keys()
        if unknown:
            params = {"InventoryIds": ",".join(sorted(unknown)), "PageSize": PAGE_SIZE}
            async for item in self._pages("inventory-level", params):
                self._remember(item)
        with _reading("return"):
            return return_from_shipbob(payload, self._skus)

    def _remember(self, item: dict[str, Any]) -> None:
        """Inventory ids never change: keep both directions for the client's life."""
        self._inventory_ids[item["sku"]] = str(item["inventory_id"])
        self._skus[str(item["inventory_id"])] = item["sku"]

    async def stock_by_center(self, skus: list[str] | None) -> list[CenterStock]:
        """Fulfillable units (on hand − committed) per SKU and centre; a SKU ShipBob doesn't hold is left out.
        `skus=None`: every SKU it holds."""
        wanted, stock = set(skus or ()), []
        async for item in self._pages("inventory-level/locations", {"PageSize": PAGE_SIZE}):
            if skus is not None and item["sku"] not in wanted:
                continue
            wanted.discard(item["sku"])
            stock += [
                CenterStock(
                    center_id=str(location["location_id"]),
                    center_name=location.get("name") or "",
                    sku=item["sku"],
                    fulfillable=location["fulfillable_quantity"],
                )
                for location in item["locations"]
            ]
            if skus is not None and not wanted:
                break
        return stock

    async def _with_shipments(self, payload: Any) -> FulfilmentOrder:
        """Fetch `GET /order/{id}/shipment` only when the order body lacks full shipments."""
        with _reading("order"):
            if shipments_complete(payload):
                return order_from_shipbob(payload)
            path = f"order/{_id(payload['id'])}/shipment"
        shipments = await self._json("GET", path)
        with _reading(f"GET {path}"):
            return order_from_shipbob(payload, shipments)

    async def _pages(self, path: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Items of a cursor-paged list, following `next` only within ShipBob's host (it carries our token)."""
        url: httpx.URL | str = path
        while True:
            payload = await self._json("GET", url, params=params)
            with _reading(f"GET {path}"):
                items, cursor = payload["items"], payload.get("next")
            for item in items:
                yield item
            if not cursor:
                return
            url, params = self._next_page(url, cursor), None

    def _next_page(self, current: httpx.URL | str, cursor: str) -> httpx.URL:
        base = self._http.base_url
        following = base.join(current).join(cursor)
        if (following.scheme, following.host, following.port) != (base.scheme, base.host, base.port):
            raise NonRetryableError(SYSTEM, f"refusing to follow a page link to {following.host}", code="bad_link")
        return following

    def _channel(self) -> dict[str, str]:
        if not self._channel_id:
            raise NonRetryableError(SYSTEM, "no channel id configured (threepl.channel_id)", code="config")
        return {"shipbob_channel_id": self._channel_id}

    async def _json(
        self,
        method: str,
        path: httpx.URL | str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        retrying = inline_retries(idempotent=method == "GET")
        response = await retrying(self._send, method, path, params, body, headers)
        try:
            return response.json()
        except ValueError:
            raise NonRetryableError(
                SYSTEM, f"{method} {_path(path)}: HTTP {response.status_code} body is not JSON", code="invalid_response"
            ) from None

    async def _send(
        self,
        method: str,
        path: httpx.URL | str,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        where = f"{method} {_path(path)}"
        paused = self._budget.paused_for()
        if paused > MAX_INLINE_WAIT_S:
            raise RetryableError(SYSTEM, f"{where}: ShipBob asked us to wait {paused:.0f}s", retry_after=paused)
        await self._budget.acquire()
        try:
            response = await self._http.request(method, path, params=params, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise RetryableError(SYSTEM, f"{where}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise RetryableError(SYSTEM, self._redact(f"{where}: {type(exc).__name__}: {exc}")) from None
        logger.debug("%s → HTTP %s", where, response.status_code)
        if response.is_success:
            return response
        error = classify(where, response, redact=self._redact)
        if isinstance(error, RetryableError) and error.retry_after is not None:
            self._budget.pause(error.retry_after)
        raise error

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "[redacted]") if self._token else text


def sliding_window_budget(requests_per_minute: int) -> RateBudget:
    """A bucket that never exceeds ShipBob's sliding 60 s window: burst + 60 s of refill = the limit."""
    burst = max(1, min(BURST, requests_per_minute // 10))
    return RateBudget((requests_per_minute - burst) / 60, burst)


def classify(where: str, response: httpx.Response, *, redact=lambda text: text) -> AdapterError:
    """429, 408 and 5xx are transient; every other refusal is about the request itself (contract §2.2)."""
    status = response.status_code
    message = redact(shipbob_message(response))
    text = f"{where} → HTTP {status}" + (f": {message}" if message else "")
    if status in (408, 429) or status >= 500:
        return RetryableError(SYSTEM, text, status=status, retry_after=retry_after(response.headers))
    return NonRetryableError(SYSTEM, text, code=f"http_{status}", status=status)


def retry_after(headers: httpx.Headers) -> float | None:
    """ShipBob's `x-retry-after` seconds; it does not send the standard `Retry-After`."""
    value = headers.get("x-retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def shipbob_message(response: httpx.Response) -> str:
    """Orders answer `{"field": ["msg"]}`; returns and inventory RFC 7807 `{title, detail}`; 429 `{message}`."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(body, dict) or not body:
        return response.reason_phrase
    if "title" in body or "detail" in body:
        parts = [str(body[key]) for key in ("title", "detail") if body.get(key)]
        return ": ".join(filter(None, [*parts, _field_messages(body.get("errors"))]))[:300]
    if isinstance(body.get("message"), str):
        return body["message"][:300]
    return _field_messages(body)[:300] or response.reason_phrase


def _field_messages(errors: object) -> str:
    if not isinstance(errors, dict):
        return ""
    return "; ".join(
        f"{field}: {message}" if field else str(message)
        for field, messages in errors.items()
        for message in (messages if isinstance(messages, list) else [messages])
    )


def _is_duplicate_reference(error: NonRetryableError) -> bool:
    """422 "Cannot insert order with existing ReferenceId" (seen live), "already created … same reference_id",
    or the sandbox's return "A return with reference_id … already exists" (undocumented for returns)."""
    text = error.message.lower()
    return error.status == 422 and "reference" in text and any(w in text for w in ("existing", "already", "duplicate"))


@contextmanager
def _reading(what: str) -> Iterator[None]:
    """A response we cannot map will not map better on retry (InvalidShipBobPayload is a ValueError)."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        raise NonRetryableError(SYSTEM, f"{what}: unreadable response: {exc}", code="invalid_response") from None


def _id(value: object) -> str:
    """Ids go into URL paths; refuse anything but digits rather than send a request elsewhere."""
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        raise NonRetryableError(SYSTEM, f"not a ShipBob id: {text[:40]!r}", code="invalid_id")
    return text


def _path(path: httpx.URL | str) -> str:
    return path.path if isinstance(path, httpx.URL) else path
