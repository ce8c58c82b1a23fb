"""Webhook delivery as `WC_Webhook::deliver` via Action Scheduler does it.

Asynchronous after a delay; one pending job per (webhook, resource), so bursts coalesce; the payload is
the REST GET representation *at delivery time*; signed with the webhook secret over the exact bytes
sent; never retried; 200..302 is success; the 7th consecutive failure disables the webhook.
Only webhooks active when the event fires get a job, as in `WC_Webhook::should_deliver`.
"""
import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from datetime import datetime, timezone

import httpx

from sandbox.background import BackgroundTasks
from sandbox.woocommerce.order_view import order_view
from sandbox.woocommerce.products import product_view
from sandbox.woocommerce.state import Store, Webhook
from sandbox.woocommerce.wire import wp_json

USER_AGENT = "WooCommerce/7.9.0 Hookshot (WordPress/6.1.9)"
MAX_FAILURES = 5  # `woocommerce_max_webhook_delivery_failures`; disabled when the count is already above it


def signature(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(raw body, secret)), the secret HTML-decoded as `wp_specialchars_decode` does."""
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#039;", "'"), ("&amp;", "&")):
        secret = secret.replace(entity, char)
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def payload(store: Store, webhook: Webhook, resource_id: int) -> dict:
    """What an internal `GET /wc/v3/{resource}s/{id}` answers now; `deleted` events send only the id."""
    if webhook.event == "deleted":
        return {"id": resource_id}
    if webhook.resource == "order" and resource_id in store.orders:
        return order_view(store, store.orders[resource_id])
    if webhook.resource == "product" and resource_id in store.products:
        return product_view(store, store.products[resource_id])
    code = "shop_order" if webhook.resource == "order" else webhook.resource
    return {"code": f"woocommerce_rest_{code}_invalid_id", "message": "Invalid ID.", "data": {"status": 404}}


class WebhookDeliveries:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.delay_s = store.config.webhook_delay_s
        self.pending: set[tuple[int, int]] = set()
        self.log: list[dict] = []
        self._background = BackgroundTasks()
        self._salt = secrets.token_bytes(16)
        self._client: httpx.AsyncClient | None = None
        store.on_event = self.on_event

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=60.0, follow_redirects=False)

    async def close(self) -> None:
        await self._background.close()
        if self._client:
            await self._client.aclose()

    def on_event(self, topic: str, resource_id: int) -> None:
        for webhook in self.store.webhooks.values():
            job = (webhook.id, resource_id)
            if webhook.status == "active" and webhook.topic == topic and job not in self.pending:
                self.pending.add(job)
                self._background.spawn(self._deliver(webhook.id, resource_id))

    def ping(self, webhook: Webhook) -> None:
        self._background.spawn(self._ping(webhook.id, webhook.delivery_url))

    def _delivery_id(self, webhook_id: int) -> str:
        """`wp_hash(webhook_id . time())`: equal for two deliveries of one webhook within the same second."""
        return hmac.new(self._salt, f"{webhook_id}{int(time.time())}".encode(), hashlib.md5).hexdigest()

    async def _deliver(self, webhook_id: int, resource_id: int) -> None:
        await asyncio.sleep(self.delay_s)
        with self.store.lock:
            self.pending.discard((webhook_id, resource_id))
            webhook = self.store.webhooks.get(webhook_id)
            if webhook is None:
                return
            body = wp_json(payload(self.store, webhook, resource_id)).strip()
            headers = {
                "User-Agent": USER_AGENT, "Content-Type": "application/json", "Connection": "close",
                "X-WC-Webhook-Source": f"{self.store.home_url}/", "X-WC-Webhook-Topic": webhook.topic,
                "X-WC-Webhook-Resource": webhook.resource, "X-WC-Webhook-Event": webhook.event,
                "X-WC-Webhook-Signature": signature(body, webhook.secret), "X-WC-Webhook-ID": str(webhook.id),
                "X-WC-Webhook-Delivery-ID": self._delivery_id(webhook.id),
            }
            url, topic = webhook.delivery_url, webhook.topic
        status, error = await self._post(url, body, headers)
        with self.store.lock:
            webhook = self.store.webhooks.get(webhook_id)
            if webhook is not None:
                if status is not None and 200 <= status <= 302:
                    webhook.failure_count = 0
                elif webhook.failure_count > MAX_FAILURES:
                    webhook.status = "disabled"
                else:
                    webhook.failure_count += 1
            self._record("delivery", webhook_id, topic, resource_id, status, error, headers, webhook)

    async def _ping(self, webhook_id: int, url: str) -> None:
        """Form-encoded `webhook_id=N`, User-Agent only: no X-WC headers, no signature. Only 200 clears it."""
        body = f"webhook_id={webhook_id}".encode()
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"}
        status, error = await self._post(url, body, headers)
        with self.store.lock:
            webhook = self.store.webhooks.get(webhook_id)
            if webhook is not None and status == 200:
                webhook.pending_delivery = False
            self._record("ping", webhook_id, None, None, status, error, headers, webhook)

    async def _post(self, url: str, body: bytes, headers: dict) -> tuple[int | None, str | None]:
        try:
            response = await self._client.post(url, content=body, headers=headers)
            return response.status_code, None
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _record(self, kind, webhook_id, topic, resource_id, status, error, headers, webhook) -> None:
        self.log.append({
            "kind": kind, "webhook_id": webhook_id, "topic": topic, "resource_id": resource_id,
            "status_code": status, "error": error, "delivery_id": headers.get("X-WC-Webhook-Delivery-ID"),
            "delivered_at": datetime.now(timezone.utc).isoformat(),
            "failure_count": webhook.failure_count if webhook else None,
            "webhook_status": webhook.status if webhook else None,
        })
