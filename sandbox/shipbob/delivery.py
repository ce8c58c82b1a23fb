"""Webhook delivery as ShipBob (a Standard Webhooks sender) does it, written from the spec on purpose.

The signature is HMAC-SHA256 over `"{webhook-id}.{webhook-timestamp}.{body}"` keyed with the
base64-decoded secret (without `whsec_`), sent as `v1,<base64>` (standard-webhooks spec v1.0.0 and
https://developer.shipbob.com/experimental/webhooks). The receiver verifies with the reference library,
so this independent signer is what makes the tests a compatibility check.

A message's body and `webhook-id` are fixed when the event happens; each attempt is re-timestamped and
re-signed. Only 2xx within the timeout is success (3xx fails). Retries follow ShipBob's schedule
(https://developer.shipbob.com/v1.0/webhooks), scaled by `webhook_retry_factor`. No ordering guarantee.
"""
import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import httpx

from sandbox.background import BackgroundTasks
from sandbox.shipbob.state import Store
from sandbox.shipbob.wire import dumps, iso, now

RETRY_SCHEDULE_S = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"), validate=True)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_key(secret), signed, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Message:
    id: str
    subscription_id: str
    topic: str
    resource_id: int
    body: bytes


class WebhookDeliveries:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.log: list[dict] = []
        self._held: list[Message] = []
        self._background = BackgroundTasks()
        self._client: httpx.AsyncClient | None = None
        store.on_event = self.on_event

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.store.config.webhook_timeout_s, follow_redirects=False)

    async def close(self) -> None:
        await self._background.close()
        if self._client:
            await self._client.aclose()

    def on_event(self, topic: str, resource_id: int, payload: dict) -> None:
        body = dumps(payload)
        for subscription in list(self.store.subscriptions.values()):
            if topic in subscription.topics:
                message_id = "msg_" + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")
                self._publish(Message(message_id, subscription.id, topic, resource_id, body))

    def _publish(self, message: Message) -> None:
        quirks = self.store.quirks
        if quirks.drop_webhooks:
            self._record(message, 0, None, None, "dropped")
        elif not quirks.out_of_order:
            self._send(message)
        elif self._held:
            earlier, self._held = self._held, []
            overtaken = self._send(message)
            for held in earlier:
                self._send(held, after=overtaken)
        else:
            self._held.append(message)
            self._background.spawn(self._release_later(message))

    async def _release_later(self, message: Message) -> None:
        """A held message nothing overtook goes out after the hold anyway."""
        await asyncio.sleep(self.store.config.out_of_order_hold_s)
        if message in self._held:
            self._held.remove(message)
            self._send(message)

    def _send(self, message: Message, after: asyncio.Event | None = None) -> asyncio.Event:
        """Start delivering; the event is set once the first attempt is over (`out_of_order` waits on it)."""
        first_attempt = asyncio.Event()
        for _ in range(2 if self.store.quirks.duplicate_deliveries else 1):
            self._background.spawn(self._deliver(message, after, first_attempt))
        return first_attempt

    async def _deliver(self, message: Message, after: asyncio.Event | None, first_attempt: asyncio.Event) -> None:
        if after is not None:
            await after.wait()
        try:
            for attempt, delay_s in enumerate(RETRY_SCHEDULE_S, 1):
                await asyncio.sleep(delay_s * self.store.config.webhook_retry_factor)
                subscription = self.store.subscriptions.get(message.subscription_id)
                if subscription is None:
                    self._record(message, attempt, None, "subscription deleted", "abandoned")
                    return
                timestamp = int(time.time())
                headers = {
                    "content-type": "application/json",
                    "webhook-id": message.id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": sign(subscription.secret, message.id, timestamp, message.body),
                    "x-webhook-topic": message.topic,
                }
                status, error = await self._post(subscription.url, message.body, headers)
                first_attempt.set()
                if status is not None and 200 <= status < 300:
                    self._record(message, attempt, status, error, "succeeded")
                    return
                last = attempt == len(RETRY_SCHEDULE_S)
                self._record(message, attempt, status, error, "exhausted" if last else "failed")
        finally:
            first_attempt.set()

    async def _post(self, url: str, body: bytes, headers: dict) -> tuple[int | None, str | None]:
        try:
            response = await self._client.post(url, content=body, headers=headers)
            return response.status_code, None
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _record(self, message: Message, attempt: int, status: int | None, error: str | None, outcome: str) -> None:
        self.log.append({
            "webhook_id": message.id, "subscription_id": message.subscription_id, "topic": message.topic,
            "resource_id": message.resource_id, "attempt": attempt, "status_code": status, "error": error,
            "outcome": outcome, "at": iso(now()),
        })
