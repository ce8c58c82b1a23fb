"""`/webhook`: subscriptions (OpenAPI `Webhooks.V2`): create answers 200 with the signing `secret`,
delete answers 204. The docs require an https URL; plain http is accepted for loopback receivers only.
"""
import base64
import binascii
import secrets
from urllib.parse import urlsplit

from starlette.responses import Response

from sandbox.shipbob.auth import Call, Gate
from sandbox.shipbob.delivery import secret_key
from sandbox.shipbob.state import Subscription
from sandbox.shipbob.wire import ApiError, ShipBobJSON, invalid, iso, now

TOPICS = ("order.shipped", "order.shipment.delivered", "order.shipment.exception", "order.shipment.on_hold",
          "order.shipment.cancelled", "return.created", "return.updated", "return.completed",
          "billing.charge.created", "billing.refund.created", "billing.credit.created")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def subscription_view(subscription: Subscription, with_secret: bool = False) -> dict:
    view = {"id": subscription.id, "created_at": iso(subscription.created), "description": subscription.description,
            "topics": subscription.topics, "url": subscription.url}
    return {**view, "secret": subscription.secret} if with_secret else view


def _secret(given) -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 24..64 random bytes."""
    if given is None:
        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    try:
        key = secret_key(str(given))
    except (binascii.Error, ValueError):
        raise invalid("secret", "The secret must be base64 (optionally prefixed whsec_).") from None
    if not 24 <= len(key) <= 64:
        raise invalid("secret", "The secret must decode to between 24 and 64 bytes.")
    return str(given)


def create_subscription(call: Call) -> Response:
    body = call.json()
    topics, url = body.get("topics"), str(body.get("url") or "")
    if not isinstance(topics, list) or not topics or any(t not in TOPICS for t in topics):
        raise invalid("topics", f"Topics must be a non-empty list of: {', '.join(TOPICS)}.")
    parts = urlsplit(url)
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)):
        raise invalid("url", "The URL must use HTTPS.")
    store = call.store
    subscription = Subscription(store.next_subscription_id(), url, list(dict.fromkeys(topics)),
                                _secret(body.get("secret")), body.get("description"), now())
    store.subscriptions[subscription.id] = subscription
    return ShipBobJSON(subscription_view(subscription, with_secret=True))


def list_subscriptions(call: Call) -> Response:
    items = [subscription_view(s) for s in call.store.subscriptions.values()]
    return ShipBobJSON({"items": items, "next": None, "prev": None})


def delete_subscription(call: Call) -> Response:
    if call.store.subscriptions.pop(call.path["id"], None) is None:
        raise ApiError(404)
    return Response(status_code=204)


def webhook_routes(gate: Gate) -> list:
    return [
        gate.route("POST", "/2026-01/webhook", "webhooks_write", create_subscription),
        gate.route("GET", "/2026-01/webhook", "webhooks_read", list_subscriptions),
        gate.route("DELETE", "/2026-01/webhook/{id}", "webhooks_write", delete_subscription),
    ]
